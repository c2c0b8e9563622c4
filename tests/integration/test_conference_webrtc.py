#!/usr/bin/python3
"""An independent WebRTC stack in a conference, through the real focus and Jingle: a real
Prosody, the focus, one bridge (full ICE), test peers in XMPP mode that replay real VP8
(encoded by GStreamer beforehand), and a GStreamer webrtcbin participant. The latter is a
slixmpp client that advertises Jingle RTP, joins the room, turns the focus's
session-initiate into an SDP offer for webrtcbin and webrtcbin's answer into a
session-accept, and acknowledges the focus's later Jingle, turning source-add and
source-remove into a new offer for webrtcbin. webrtcbin decodes the peer's VP8 sent through
the bridge; the peer, told of webrtcbin's sources by the focus's source-add, receives
webrtcbin's VP8 and Opus intact; when the peer leaves, webrtcbin gets a source-remove for
its sources; a second peer who joins later reaches webrtcbin through source-add, with media
both ways, and the bridge never had to drop anything webrtcbin sent; a third peer's video in
payload types webrtcbin's answer left out reaches the second peer but is withheld from
webrtcbin by the bridge, which the focus told what webrtcbin accepted."""

import os
import queue
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from conclave_harness.xmpp_client import Client  # noqa: E402
from conclave_daemons import Daemon  # noqa: E402
from conclave_media import NS_DTLS, NS_ICE, NS_SSMA, XmppPeer, parse_metrics  # noqa: E402
from conclave_webrtcbin import loopback_ice  # noqa: E402
from test_webrtc_interop import VIDEO_CAPS, encode_vp8_file  # noqa: E402

FOCUS = 'conference.localhost'
BRIDGE = 'bridge1.localhost'
ROOM = f'webrtc@{FOCUS}'
NS_JINGLE = 'urn:xmpp:jingle:1'
NS_RTP = 'urn:xmpp:jingle:apps:rtp:1'
NS_RTCP_FB = 'urn:xmpp:jingle:apps:rtp:rtcp-fb:0'
NS_HDREXT = 'urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'
NS_GROUP = 'urn:xmpp:jingle:apps:grouping:0'
NS_JITMEET = 'http://jitsi.org/jitmeet'
NS_MUC = 'http://jabber.org/protocol/muc'
NS_MUC_USER = 'http://jabber.org/protocol/muc#user'

PEER_SSRCS = (1101, 2101, 3101)  # the test peer: audio, video, rtx
GST_AUDIO, GST_VIDEO = 9101, 9201  # what webrtcbin sends
OPUS_PT, VP8_PT = 111, 100  # as the focus offers them (docs/conference.md)
MIN_FRAMES = 60


def q(ns, tag):
    return f'{{{ns}}}{tag}'


# -- Jingle -> SDP -----------------------------------------------------------------------

def parse_offer(jingle):
    """The focus's session-initiate (a <jingle> element) as plain data."""
    contents = []
    for c in jingle.findall(q(NS_JINGLE, 'content')):
        desc = c.find(q(NS_RTP, 'description'))
        ice = c.find(q(NS_ICE, 'transport'))
        fp = ice.find(q(NS_DTLS, 'fingerprint'))
        pts = [{'id': int(p.get('id')), 'name': p.get('name'),
                'clockrate': p.get('clockrate'), 'channels': p.get('channels'),
                'params': [(x.get('name'), x.get('value'))
                           for x in p.findall(q(NS_RTP, 'parameter'))],
                'fb': [(x.get('type'), x.get('subtype'))
                       for x in p.findall(q(NS_RTCP_FB, 'rtcp-fb'))]}
               for p in desc.findall(q(NS_RTP, 'payload-type'))]
        contents.append({
            'name': c.get('name'), 'media': desc.get('media'), 'pts': pts,
            'hdrexts': [(int(h.get('id')), h.get('uri'))
                        for h in desc.findall(q(NS_HDREXT, 'rtp-hdrext'))],
            'rtcp_mux': desc.find(q(NS_RTP, 'rtcp-mux')) is not None,
            'ice': {'ufrag': ice.get('ufrag'), 'pwd': ice.get('pwd'),
                    'hash': fp.get('hash'), 'fingerprint': fp.text.strip(),
                    'setup': fp.get('setup'),
                    'candidates': [dict(x.attrib) for x in ice.findall(q(NS_ICE, 'candidate'))]},
        })
    group = jingle.find(q(NS_GROUP, 'group'))
    bundle = ([x.get('name') for x in group.findall(q(NS_GROUP, 'content'))]
              if group is not None and group.get('semantics') == 'BUNDLE' else [])
    return {'sid': jingle.get('sid'), 'contents': contents, 'bundle': bundle}


class RemoteSources:
    """The sources the focus told us of, per content: session-initiate, then source-add and
    source-remove."""

    def __init__(self):
        self.sources = {}  # content name -> {ssrc: (name, owner)}
        self.groups = {}  # content name -> [(semantics, [ssrcs])]

    def apply(self, jingle, remove=False):
        """Adds (or removes) the sources of a <jingle>; returns the SSRCs concerned."""
        ssrcs = set()
        for c in jingle.findall(q(NS_JINGLE, 'content')):
            desc = c.find(q(NS_RTP, 'description'))
            if desc is None:
                continue
            name = c.get('name')
            have = self.sources.setdefault(name, {})
            groups = self.groups.setdefault(name, [])
            for s in desc.findall(q(NS_SSMA, 'source')):
                ssrc = int(s.get('ssrc'))
                ssrcs.add(ssrc)
                info = s.find(q(NS_JITMEET, 'ssrc-info'))
                if remove:
                    have.pop(ssrc, None)
                else:
                    have[ssrc] = (s.get('name'), info.get('owner') if info is not None else None)
            for g in desc.findall(q(NS_SSMA, 'ssrc-group')):
                entry = (g.get('semantics'),
                         [int(x.get('ssrc')) for x in g.findall(q(NS_SSMA, 'source'))])
                if remove:
                    if entry in groups:
                        groups.remove(entry)
                elif entry not in groups:
                    groups.append(entry)
            if remove:  # a group whose sources went goes too
                groups[:] = [g for g in groups if all(x in have for x in g[1])]
        return ssrcs

    def all(self):
        return {ssrc for have in self.sources.values() for ssrc in have}


def offer_sdp(offer, remote, version):
    """An SDP offer saying what the focus's Jingle says: one m-line per content, BUNDLE,
    the bridge's ICE and DTLS, the offered payload types and header extensions, and the
    remote sources with cname and msid (stream: the owner's nickname; track: the source's
    name)."""
    lines = ['v=0', f'o=- 1 {version} IN IP4 0.0.0.0', 's=-', 't=0 0']
    if offer['bundle']:
        lines.append('a=group:BUNDLE ' + ' '.join(offer['bundle']))
    lines.append('a=msid-semantic: WMS *')
    for c in offer['contents']:
        ice = c['ice']
        lines += [f"m={c['media']} 9 UDP/TLS/RTP/SAVPF " + ' '.join(str(p['id']) for p in c['pts']),
                  'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
                  f"a=ice-ufrag:{ice['ufrag']}", f"a=ice-pwd:{ice['pwd']}",
                  f"a=fingerprint:{ice['hash']} {ice['fingerprint']}",
                  f"a=setup:{ice['setup']}", f"a=mid:{c['name']}"]
        lines += [f'a=extmap:{i} {uri}' for i, uri in c['hdrexts']]
        lines.append('a=sendrecv')
        if c['rtcp_mux']:
            lines.append('a=rtcp-mux')
        for p in c['pts']:
            rtpmap = f"a=rtpmap:{p['id']} {p['name']}/{p['clockrate']}"
            if p['channels'] and p['channels'] != '1':
                rtpmap += f"/{p['channels']}"
            lines.append(rtpmap)
            if p['params']:
                lines.append(f"a=fmtp:{p['id']} " +
                             ';'.join(f'{n}={v}' for n, v in p['params']))
            lines += [f"a=rtcp-fb:{p['id']} {t}" + (f' {s}' if s else '') for t, s in p['fb']]
        for semantics, ssrcs in remote.groups.get(c['name'], []):
            lines.append(f'a=ssrc-group:{semantics} ' + ' '.join(map(str, ssrcs)))
        for ssrc, (name, owner) in remote.sources.get(c['name'], {}).items():
            nick = owner.split('/', 1)[1] if owner and '/' in owner else 'unknown'
            lines += [f'a=ssrc:{ssrc} cname:{nick}', f'a=ssrc:{ssrc} msid:{nick} {name}']
        for cand in ice['candidates']:
            lines.append(f"a=candidate:{cand['foundation']} {cand['component']} "
                         f"{cand['protocol']} {cand['priority']} {cand['ip']} {cand['port']} "
                         f"typ {cand['type']}")
        lines.append('a=end-of-candidates')
    return '\r\n'.join(lines) + '\r\n'


# -- SDP -> Jingle -----------------------------------------------------------------------

def parse_sdp(text):
    """(session attributes, [media sections]) of an SDP: each section has its m= line
    and its attributes as (name, value) pairs, in order."""
    session, media = [], []
    for line in text.splitlines():
        if line.startswith('m='):
            media.append({'m': line[2:].split(), 'attrs': []})
        elif line.startswith('a='):
            name, _, value = line[2:].partition(':')
            (media[-1]['attrs'] if media else session).append((name, value))
    return session, media


def attr(section, name, session=()):
    for n, v in list(section['attrs']) + list(session):
        if n == name:
            return v
    return None


def esc(text):
    return (text.replace('&', '&amp;').replace('<', '&lt;').replace("'", '&apos;')
            .replace('"', '&quot;'))


def answer_jingle(sdp, candidates, sid, offer):
    """webrtcbin's SDP answer as the <jingle action='session-accept'> the focus expects:
    per m-line the accepted payload types (rtpmap, fmtp, rtcp-fb) and header extensions,
    our sources (a=ssrc, a=ssrc-group), and the bundle transport (ufrag, pwd, fingerprint
    with the answer's setup, our gathered candidates). Returns (xml, {ssrc: media})."""
    session, media = parse_sdp(sdp)
    names = [c['name'] for c in offer['contents']]
    contents, ours = [], {}
    transport = None
    for i, m in enumerate(media):
        kind, port, fmts = m['m'][0], m['m'][1], m['m'][3:]
        mid = attr(m, 'mid') or names[i]
        rtpmap = {v.split()[0]: v.split()[1] for n, v in m['attrs'] if n == 'rtpmap'}
        fmtp = {v.split(' ', 1)[0]: v.split(' ', 1)[1] for n, v in m['attrs']
                if n == 'fmtp' and ' ' in v}
        fbs = [v.split(' ', 1) for n, v in m['attrs'] if n == 'rtcp-fb' and ' ' in v]
        pts = []
        for pt in fmts:
            if pt not in rtpmap:
                continue
            enc = rtpmap[pt].split('/')
            chans = f" channels='{enc[2]}'" if len(enc) > 2 else ''
            params = ''.join(
                f"<parameter name='{esc(k)}' value='{esc(v)}'/>"
                for k, _, v in (p.strip().partition('=')
                                for p in fmtp.get(pt, '').split(';') if p.strip()))
            feedback = ''.join(
                f"<rtcp-fb xmlns='{NS_RTCP_FB}' type='{esc(fb.split()[0])}'"
                + (f" subtype='{esc(fb.split()[1])}'" if len(fb.split()) > 1 else '') + '/>'
                for p, fb in fbs if p in (pt, '*'))
            pts.append(f"<payload-type id='{pt}' name='{esc(enc[0])}' clockrate='{enc[1]}'"
                       f"{chans}>{params}{feedback}</payload-type>")
        hdrexts = ''.join(
            f"<rtp-hdrext xmlns='{NS_HDREXT}' id='{v.split()[0].split('/')[0]}' "
            f"uri='{esc(v.split()[1])}'/>" for n, v in m['attrs'] if n == 'extmap')
        ssrc_attrs = {}
        for n, v in m['attrs']:
            if n == 'ssrc':
                ssrc, _, rest = v.partition(' ')
                key, _, value = rest.partition(':')
                ssrc_attrs.setdefault(int(ssrc), {})[key] = value
        sources = ''
        for ssrc, a in ssrc_attrs.items():
            ours[ssrc] = kind
            msid = a.get('msid')
            track = msid.split()[-1] if msid else f'{kind}-{ssrc}'
            sources += (f"<source xmlns='{NS_SSMA}' ssrc='{ssrc}' name='{esc(track)}'>"
                        + (f"<parameter name='msid' value='{esc(msid)}'/>" if msid else '')
                        + '</source>')
        for n, v in m['attrs']:
            if n == 'ssrc-group':
                semantics, *ssrcs = v.split()
                sources += (f"<ssrc-group xmlns='{NS_SSMA}' semantics='{esc(semantics)}'>"
                            + ''.join(f"<source ssrc='{s}'/>" for s in ssrcs)
                            + '</ssrc-group>')
        if transport is None:
            fingerprint = attr(m, 'fingerprint', session).split()
            cands = ''
            for k, cand in enumerate(candidates):
                f = cand.split()
                if len(f) < 8 or f[1] != '1' or f[2].lower() != 'udp':
                    continue
                cands += (f"<candidate foundation='{f[0].split(':')[-1]}' component='1' "
                          f"protocol='udp' priority='{f[3]}' ip='{f[4]}' port='{f[5]}' "
                          f"type='{f[7]}' generation='0' id='gst{k}'/>")
            ufrag, pwd = attr(m, 'ice-ufrag', session), attr(m, 'ice-pwd', session)
            transport = (f"<transport xmlns='{NS_ICE}' ufrag='{esc(ufrag)}' pwd='{esc(pwd)}'>"
                         f"<fingerprint xmlns='{NS_DTLS}' hash='{fingerprint[0]}' "
                         f"setup='{attr(m, 'setup', session)}'>{fingerprint[1]}</fingerprint>"
                         f"<rtcp-mux/>{cands}</transport>")
        if port == '0' and attr(m, 'bundle-only') is None:
            continue  # rejected
        contents.append(
            f"<content creator='initiator' name='{esc(mid)}' senders='both'>"
            f"<description xmlns='{NS_RTP}' media='{kind}'>{''.join(pts)}{hdrexts}"
            f"<rtcp-mux/>{sources}</description>{transport}</content>")
    group = ''
    bundle = next((v.split()[1:] for n, v in session if n == 'group' and v.startswith('BUNDLE')),
                  None)
    if bundle:
        group = (f"<group xmlns='{NS_GROUP}' semantics='BUNDLE'>"
                 + ''.join(f"<content name='{esc(x)}'/>" for x in bundle) + '</group>')
    return (f"<jingle xmlns='{NS_JINGLE}' action='session-accept' sid='{esc(sid)}'>"
            + ''.join(contents) + group + '</jingle>'), ours


# -- the webrtcbin participant -----------------------------------------------------------

class Webrtcbin:
    """webrtcbin on its own GLib main loop thread, answering offers: sends a live VP8 test
    pattern (GST_VIDEO) and Opus (GST_AUDIO), decodes what it receives and counts decoded
    video frames and audio buffers per SSRC. Errors on the bus (a refused description, a
    failed element) are kept in `errors`."""

    def __init__(self):
        self.pipe = Gst.parse_launch(
            'webrtcbin name=w bundle-policy=max-bundle '
            f'videotestsrc is-live=true pattern=smpte ! {VIDEO_CAPS} ! '
            'vp8enc deadline=1 keyframe-max-dist=30 ! '
            f'rtpvp8pay pt={VP8_PT} ssrc={GST_VIDEO} mtu=1100 ! '
            f'application/x-rtp,media=video,encoding-name=VP8,payload={VP8_PT},'
            'clock-rate=90000 ! queue ! w. '
            'audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=1 ! '
            f'opusenc ! rtpopuspay pt={OPUS_PT} ssrc={GST_AUDIO} ! '
            f'application/x-rtp,media=audio,encoding-name=OPUS,payload={OPUS_PT},'
            'clock-rate=48000 ! queue ! w.')
        self.webrtc = self.pipe.get_by_name('w')
        self.ice = loopback_ice(self.webrtc)  # keep a reference
        self.candidates = []
        self.gathered = threading.Event()
        self.lock = threading.Lock()
        self.decoded = {}  # ssrc -> decoded video frames or audio buffers
        self.errors = []
        self.webrtc.connect('on-ice-candidate', self._on_candidate)
        self.webrtc.connect('notify::ice-gathering-state', self._on_gathering)
        self.webrtc.connect('pad-added', self._on_pad)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect('message::error', self._on_error)
        bus.connect('message::warning', self._on_error)
        self.caps_seen = {'video': threading.Event(), 'audio': threading.Event()}
        for pad in self.webrtc.sinkpads:
            pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self._on_sink_event)
        self.loop = GLib.MainLoop()
        self.thread = threading.Thread(target=self.loop.run, daemon=True)
        self.thread.start()
        self.pipe.set_state(Gst.State.PLAYING)

    def _on_sink_event(self, _pad, info):
        event = info.get_event()
        if event.type == Gst.EventType.CAPS:
            media = event.parse_caps().get_structure(0).get_string('media')
            if media in self.caps_seen:
                self.caps_seen[media].set()
        return Gst.PadProbeReturn.OK

    def _on_error(self, _bus, msg):
        err, debug = msg.parse_error() if msg.type == Gst.MessageType.ERROR else \
            msg.parse_warning()
        with self.lock:
            self.errors.append(f'{msg.src.get_name()}: {err.message} ({debug})')

    def _on_candidate(self, _w, _mline, candidate):
        if candidate:
            with self.lock:
                self.candidates.append(candidate)

    def _on_gathering(self, w, _pspec):
        if w.get_property('ice-gathering-state') == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.gathered.set()

    def _on_pad(self, _w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = (pad.get_current_caps() or pad.query_caps(None)).get_structure(0)
        media = caps.get_string('media')
        _, ssrc = caps.get_uint('ssrc')
        if media == 'video':
            chain = 'rtpvp8depay ! vp8dec name=dec'
        else:
            chain = 'rtpopusdepay ! opusdec name=dec'
        branch = Gst.parse_bin_from_description(
            f'queue ! {chain} ! fakesink sync=false async=false', True)
        self.pipe.add(branch)
        branch.sync_state_with_parent()
        pad.link(branch.get_static_pad('sink'))
        branch.get_by_name('dec').get_static_pad('src').add_probe(
            Gst.PadProbeType.BUFFER, self._on_decoded, ssrc)

    def _on_decoded(self, _pad, _info, ssrc):
        with self.lock:
            self.decoded[ssrc] = self.decoded.get(ssrc, 0) + 1
        return Gst.PadProbeReturn.OK

    def frames(self, ssrc):
        with self.lock:
            return self.decoded.get(ssrc, 0)

    def answer(self, offer_text, timeout=15.0):
        """Sets `offer_text` as the remote offer and returns webrtcbin's answer (set as the
        local description). Raises with webrtcbin's error if it refuses the offer."""
        ok, msg = GstSdp.SDPMessage.new_from_text(offer_text)
        if ok != GstSdp.SDPResult.OK:
            raise AssertionError(f'GstSdp cannot parse the offer: {ok}')
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, msg)
        result = queue.Queue()

        def failed(reply, what):
            if reply is not None and reply.has_field('error'):
                result.put(AssertionError(f'webrtcbin refused {what}: '
                                          f"{reply.get_value('error').message}"))
                return True
            return False

        def on_local_set(promise, _data):
            promise.wait()
            if not failed(promise.get_reply(), 'its own answer'):
                result.put(None)

        def on_answer(promise, _data):
            promise.wait()
            reply = promise.get_reply()
            if failed(reply, 'to answer') or reply is None:
                result.put(AssertionError('webrtcbin created no answer'))
                return
            answer = reply.get_value('answer')
            result.put(answer.sdp.as_text())  # copy inside the callback
            self.webrtc.emit('set-local-description', answer,
                             Gst.Promise.new_with_change_func(on_local_set, None))

        def on_remote_set(promise, _data):
            promise.wait()
            if failed(promise.get_reply(), 'the offer'):
                return
            self.webrtc.emit('create-answer', None,
                             Gst.Promise.new_with_change_func(on_answer, None))

        self.webrtc.emit('set-remote-description', offer,
                         Gst.Promise.new_with_change_func(on_remote_set, None))
        answer = result.get(timeout=timeout)
        if isinstance(answer, Exception):
            raise answer
        done = result.get(timeout=timeout)
        if isinstance(done, Exception):
            raise done
        return answer

    def stop(self):
        self.pipe.set_state(Gst.State.NULL)
        self.loop.quit()
        self.thread.join(5)


class JingleParticipant:
    """The webrtcbin participant's signalling: a slixmpp client that says it does Jingle
    RTP (the focus asks with disco#info), joins the room, answers the focus's
    session-initiate with webrtcbin's answer, and acknowledges every later Jingle request,
    applying source-add and source-remove to webrtcbin as a new remote offer."""

    def __init__(self, prosody, user, password, nick):
        self.nick = nick
        self.client = Client(f'{user}@localhost', password, port=prosody.c2s_port,
                             capture_iqs=True)
        self.client.connect()
        # After connecting: slixmpp keeps disco features per JID, and binding names ours.
        self.client.call(lambda: self.client.xmpp['xep_0030'].add_feature(NS_RTP))
        self.gst = None
        self.offer = None
        self.remote = RemoteSources()
        self.version = 1
        self.initial = set()  # the SSRCs session-initiate told us of
        self.jingle = queue.Queue()  # (action, {ssrcs}) of every later Jingle request
        self.failures = []  # what went wrong in the background thread
        self.stopping = threading.Event()
        self.thread = None

    def join(self, room):
        self.client.send_raw(f"<presence to='{room}/{self.nick}'><x xmlns='{NS_MUC}'/>"
                             '</presence>')
        self.client.wait_presence(timeout=10, predicate=lambda p: (
            p['from'].resource == self.nick and
            p.xml.find(f"{q(NS_MUC_USER, 'x')}/{q(NS_MUC_USER, 'status')}[@code='110']")
            is not None))

    def ack(self, iq):
        self.client.send_raw(f"<iq type='result' to='{esc(str(iq['from']))}' "
                             f"id='{esc(iq['id'])}'/>")

    def wait_jingle(self, timeout):
        iq = self.client.wait_iq(timeout=timeout, predicate=lambda i: (
            i.xml.find(q(NS_JINGLE, 'jingle')) is not None))
        return iq, iq.xml.find(q(NS_JINGLE, 'jingle'))

    def accept(self, gst, timeout=20.0):
        """Waits for session-initiate, acknowledges it, and sends webrtcbin's answer as
        session-accept; returns (the SDP offer, the answer, the accept's reply, our
        sources). Later Jingle is handled on a thread from then on."""
        self.gst = gst
        iq, jingle = self.wait_jingle(timeout)
        if jingle.get('action') != 'session-initiate':
            raise AssertionError(f'expected session-initiate, got {ET.tostring(iq.xml)}')
        self.ack(iq)
        self.focus_jid = str(iq['from'])
        self.offer = parse_offer(jingle)
        self.initial = self.remote.apply(jingle)
        for media in ('audio', 'video'):  # a=ssrc lines need caps on the sink pads
            if not gst.caps_seen[media].wait(10):
                raise AssertionError(f'no {media} caps reached webrtcbin')
        sdp = offer_sdp(self.offer, self.remote, self.version)
        answer = gst.answer(sdp)
        if not gst.gathered.wait(15):
            raise AssertionError('webrtcbin did not finish gathering')
        with gst.lock:
            candidates = list(gst.candidates)
        body, ours = answer_jingle(answer, candidates, self.offer['sid'], self.offer)
        reply = self.client.send_iq_raw(f"<iq type='set' to='{esc(self.focus_jid)}'>{body}</iq>",
                                        timeout=10)
        self.thread = threading.Thread(target=self._later_jingle, daemon=True)
        self.thread.start()
        return sdp, answer, reply, ours

    def _later_jingle(self):
        while not self.stopping.is_set():
            try:
                iq, jingle = self.wait_jingle(0.2)
            except TimeoutError:
                continue
            action = jingle.get('action')
            try:
                self.ack(iq)
                if action in ('source-add', 'source-remove'):
                    # webrtcbin would decode a bundled SSRC it was never told of (it maps
                    # packets to m-lines by payload type), but a client applies what it is
                    # told: the new offer must be accepted too.
                    ssrcs = self.remote.apply(jingle, remove=action == 'source-remove')
                    self.version += 1
                    self.gst.answer(offer_sdp(self.offer, self.remote, self.version))
                else:
                    ssrcs = set()
                self.jingle.put((action, ssrcs))
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.failures.append(f'{action}: {e}')
                self.jingle.put((action, None))

    def wait_action(self, action, ssrcs, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            got = self.jingle.get(timeout=max(0.01, deadline - time.monotonic()))
            if got[1] is None:
                raise AssertionError(f'handling {got[0]} failed: {self.failures}')
            if got == (action, set(ssrcs)):
                return

    def close(self):
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(5)
        self.client.disconnect()


class ConferenceWebrtc(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        Gst.init(None)
        cls.gst = cls.me = None
        cls.peers = {}
        cls.dir = make_tempdir(prefix='conclave-conference-webrtc-')
        cls.vp8_path = os.path.join(cls.dir, 'ball.vp8rtp')
        cls.vp8_packets = encode_vp8_file(cls.vp8_path)
        cls.prosody = Prosody(components={FOCUS: 'f', BRIDGE: 'b1'})
        cls.prosody.start()
        for user in ('alice', 'bob', 'carol', 'gst'):
            cls.prosody.register(user, f'{user}-pw')
        cls.focus = Daemon(
            'focus', FOCUS, 'f', cls.prosody.component_port,
            extra=f'[focus]\nbridges = {BRIDGE}\nbridge_check_interval_s = 1\n'
                  '[security]\nauthenticated_domains = localhost\n').start()
        port = 30000 + procs.free_port() % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'b1', cls.prosody.component_port,
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                                  f'port_max = {port + 40}\nworkers = 1\n'
                                  f'[colibri]\ntrusted = {FOCUS}\n').start()
        cls.bridge.wait_health(200, timeout=15)
        cls.focus.wait_health(200)
        procs.wait_until(lambda: cls.metric('conclave_focus_bridges_available') == 1,
                         timeout=15, message='the bridge never became available')

    @classmethod
    def tearDownClass(cls):
        if cls.me is not None:
            cls.me.close()
        if cls.gst is not None:
            cls.gst.stop()
        for p in cls.peers.values():
            p.kill()
        for d in (cls.focus, cls.bridge):
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        cls.prosody.stop()

    @classmethod
    def metric(cls, name, labels=''):
        return parse_metrics(cls.focus.metrics()).get(name + labels)

    def join_peer(self, name, ssrcs):
        audio, video, rtx = ssrcs
        p = XmppPeer(name, f'{name}@localhost/{name}', f'{name}-pw', self.prosody.c2s_port,
                     audio=audio, video=video, rtx=rtx, video_file=self.vp8_path)
        self.peers[name] = p
        p.join(ROOM, name)
        p.wait_session()
        p.wait_connected()
        return p

    def peer_receives_webrtcbin(self, peer):
        """The peer, told of webrtcbin's sources by the focus, gets its VP8 and Opus
        intact (SRTP-authenticated, valid RTP) on those SSRCs."""
        def announces(e):
            return (e['action'] in ('session-initiate', 'source-add') and
                    {GST_AUDIO, GST_VIDEO} <= {s['ssrc'] for s in e['sources']})
        told = peer.seen('jingle', match=announces)
        adds = told[-1] if told else peer.wait('jingle', match=announces)
        owners = {s['owner'] for s in adds['sources'] if s['ssrc'] in (GST_AUDIO, GST_VIDEO)}
        self.assertEqual(owners, {f'{ROOM}/gst'})
        # webrtcbin's streams are real codecs, not the peer's synthetic pattern.
        peer.send(cmd='expect', sources=[{'ssrc': GST_AUDIO, 'kind': 'foreign'},
                                         {'ssrc': GST_VIDEO, 'kind': 'foreign'}])
        peer.reset_rx()
        report = None

        def enough():
            nonlocal report
            report = peer.report()
            streams = {s['ssrc']: s for s in report['streams']}
            return (streams.get(GST_VIDEO, {}).get('unique', 0) >= 150 and
                    streams.get(GST_AUDIO, {}).get('unique', 0) >= 100)
        procs.wait_until(enough, timeout=15,
                         message=f'{peer.name} did not get webrtcbin\'s streams: {report}')
        streams = {s['ssrc']: s for s in report['streams']}
        for ssrc in (GST_AUDIO, GST_VIDEO):
            self.assertEqual(streams[ssrc]['kind'], 'foreign', streams[ssrc])
            self.assertEqual(streams[ssrc]['mismatches'], 0, streams[ssrc])
            self.assertEqual(streams[ssrc]['owner'], f'{ROOM}/gst', streams[ssrc])
        self.assertEqual(report['srtp_errors'], 0, report)
        self.assertEqual(report['unexpected'], 0, report)
        return report

    def webrtcbin_decodes(self, peer):
        """The peer sends its VP8 file for 6 s; webrtcbin decodes MIN_FRAMES frames of it.
        Returns how many 'sent' events the peer had before."""
        sent = len(peer.seen('sent'))
        peer.send(cmd='send', seconds=6.0)
        procs.wait_until(lambda: self.gst.frames(peer.video) >= MIN_FRAMES, timeout=20,
                         message=f'webrtcbin decoded only {self.gst.frames(peer.video)} frames '
                                 f'of {peer.name}\'s video (errors: {self.gst.errors})')
        return sent

    def wait_sent(self, peer, before):
        procs.wait_until(lambda: len(peer.seen('sent')) > before, timeout=15,
                         message=f'{peer.name} never finished sending')
        self.assertNotIn('stopped', peer.seen('sent')[-1])

    def jingle_errors(self):
        return sum(v for k, v in parse_metrics(self.focus.metrics()).items()
                   if k.startswith('conclave_focus_jingle_errors_total'))

    def session(self):
        self.assertTrue(self.me is not None and self.me.thread is not None,
                        'webrtcbin has no session')
        return self.gst, self.me

    def test_1_webrtcbin_joins_and_media_flows_both_ways(self):
        self.assertGreaterEqual(self.vp8_packets, 150)
        alice = self.join_peer('alice', PEER_SSRCS)
        cls = type(self)
        cls.gst = gst = Webrtcbin()
        cls.me = me = JingleParticipant(self.prosody, 'gst', 'gst-pw', 'gst')
        t0 = time.monotonic()
        me.join(ROOM)
        sdp, answer, reply, ours = me.accept(gst)
        procs.log('webrtcbin: join to session-accept acknowledged in %.2f s',
                  time.monotonic() - t0)
        print(f'offer given to webrtcbin:\n{sdp}\nits answer:\n{answer}', file=sys.stderr)
        self.assertEqual(reply['type'], 'result', str(reply))
        self.assertEqual(ours, {GST_AUDIO: 'audio', GST_VIDEO: 'video'})
        self.assertEqual(gst.errors, [])
        procs.wait_until(lambda: self.metric('conclave_focus_sessions') == 2, timeout=10,
                         message='the focus does not count two sessions')
        # The peer's VP8, forwarded by the bridge, decoded by webrtcbin.
        sent = self.webrtcbin_decodes(alice)
        procs.log('webrtcbin: %d VP8 frames decoded %.2f s after joining',
                  gst.frames(alice.video), time.monotonic() - t0)
        self.assertTrue(set(PEER_SSRCS) <= me.remote.all(), me.remote.sources)
        procs.log('webrtcbin: the peer\'s sources came in %s',
                  'session-initiate' if set(PEER_SSRCS) <= me.initial else 'source-add')
        # webrtcbin's VP8 and Opus, forwarded to the peer.
        report = self.peer_receives_webrtcbin(alice)
        self.wait_sent(alice, sent)
        print(f'webrtcbin decoded {gst.frames(alice.video)} frames; the peer got '
              f'{report["streams"]}', file=sys.stderr)
        self.assertEqual(gst.errors, [])
        self.assertEqual(me.failures, [])
        self.assertEqual(self.jingle_errors(), 0)

    def test_2_source_remove_when_the_peer_leaves(self):
        gst, me = self.session()
        self.peers['alice'].leave()
        self.peers['alice'].wait('left')
        me.wait_action('source-remove', PEER_SSRCS)
        self.assertEqual(me.remote.all(), set())
        self.assertEqual(me.failures, [])
        self.assertEqual(gst.errors, [])
        self.peers.pop('alice').kill()

    def test_3_a_new_participant_reaches_webrtcbin_through_source_add(self):
        gst, me = self.session()
        bob = self.join_peer('bob', (1102, 2102, 3102))
        me.wait_action('source-add', (1102, 2102, 3102))
        sent = self.webrtcbin_decodes(bob)
        self.peer_receives_webrtcbin(bob)
        self.wait_sent(bob, sent)
        self.assertEqual(gst.errors, [])
        self.assertEqual(me.failures, [])
        self.assertEqual(self.jingle_errors(), 0)
        # webrtcbin sent nothing the bridge had to drop: no SSRC it did not announce, no
        # packet or RTCP the bridge could not authenticate or parse.
        drops = parse_metrics(self.bridge.metrics())
        for reason in ('unsignalled_ssrc', 'srtp', 'malformed_rtp', 'malformed_rtcp'):
            self.assertEqual(drops[f'conclave_bridge_dropped_packets_total{{reason="{reason}"}}'],
                             0, reason)

    def test_4_payload_types_webrtcbin_left_out_are_not_sent_to_it(self):
        # webrtcbin's answer kept Opus 111 and VP8 100 only. carol's synthetic video goes
        # out as payload types 96 and 97 (VP8's and VP9's RTX in the offer): bob, who
        # accepted the whole offer, gets it; the bridge withholds every packet of it from
        # webrtcbin and counts each one.
        gst, me = self.session()
        drop = 'conclave_bridge_dropped_packets_total{reason="payload_type"}'
        before = parse_metrics(self.bridge.metrics())[drop]
        carol = XmppPeer('carol', 'carol@localhost/carol', 'carol-pw', self.prosody.c2s_port,
                         video=2103, rtx=3103)
        self.peers['carol'] = carol
        carol.join(ROOM, 'carol')
        carol.wait_session()
        carol.wait_connected()
        me.wait_action('source-add', (2103, 3103))
        bob = self.peers['bob']
        bob.wait('jingle', match=lambda e: e['action'] == 'source-add' and
                 2103 in {s['ssrc'] for s in e['sources']})
        carol.send(cmd='send', seconds=2.0)
        sent = carol.wait('sent', timeout=15, match=lambda e: 'stopped' not in e)
        self.assertGreater(sent['video'], 0)
        procs.wait_until(
            lambda: {s['ssrc']: s for s in bob.report()['streams']}.get(2103, {}).get(
                'unique', 0) == sent['video'], timeout=10, message='bob did not get carol')
        procs.wait_until(
            lambda: parse_metrics(self.bridge.metrics())[drop] - before ==
            sent['video'] + sent['rtx'], timeout=5,
            message='the bridge did not withhold exactly carol\'s packets from webrtcbin')
        self.assertEqual(gst.frames(2103), 0)
        self.assertEqual(me.failures, [])


if __name__ == '__main__':
    tap.main(ConferenceWebrtc)
