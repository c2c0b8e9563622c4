#!/usr/bin/python3
"""The test peer's XMPP mode against a real Prosody, the real focus (as MUC) and a real
bridge: the peer logs in, joins a room, advertises XEP-0115 caps whose ver matches the
disco#info it answers (with and without the node), answers pings and refuses other IQs;
a text-only peer (--no-jingle) advertises no Jingle and refuses it. Jingle from outside the
room is refused. For Jingle itself a slixmpp client plays the focus (the peers accept
Jingle from it with --jingle-from-anyone): it allocates endpoints on a real bridge over
Colibri2, offers them in session-initiate, forwards the peers' session-accept to the bridge,
and media flows between two peers; source-add from a peer reaches the focus, source-add from
the focus makes the peer expect the stream; a second session-initiate (bridge failover)
replaces the session and media flows again; unknown sessions, out-of-order and malformed
Jingle get the right errors; terminate sends session-terminate."""

import base64
import hashlib
import os
import types
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.xmpp_client import Client
from conclave_daemons import Daemon
from conclave_media import (NS_DTLS, NS_ICE, NS_SSMA, XmppPeer, modify_xml, parse_answer,
                            sources_xml, transport_xml)
from muc_client import MucUser, codes

FOCUS = 'conference.localhost'
BRIDGE = 'bridge1.localhost'
NS_CAPS = 'http://jabber.org/protocol/caps'
NS_DISCO = 'http://jabber.org/protocol/disco#info'
NS_JINGLE = 'urn:xmpp:jingle:1'
NS_RTP = 'urn:xmpp:jingle:apps:rtp:1'
NS_JINGLE_ERRORS = 'urn:xmpp:jingle:errors:1'
NS_JITMEET = 'http://jitsi.org/jitmeet'
CAPS_NODE = 'https://conclave.invalid/test-peer'
JINGLE_FEATURES = {
    NS_DISCO, NS_JINGLE, NS_RTP, 'urn:xmpp:jingle:apps:rtp:audio',
    'urn:xmpp:jingle:apps:rtp:video', NS_ICE, NS_DTLS, 'urn:xmpp:jingle:apps:grouping:0',
    'urn:xmpp:jingle:apps:rtp:rtcp-fb:0', 'urn:xmpp:jingle:apps:rtp:rtp-hdrext:0', NS_SSMA,
}
FOCUS_CONFIG = '[security]\nauthenticated_domains = localhost\nguest_domains = guest.localhost\n'


def caps_ver(identities, features):
    """XEP-0115 section 5.1 (no extended forms)."""
    s = ''.join(f'{c}/{t}/{lang or ""}/{name or ""}<' for c, t, lang, name in
                sorted(identities))
    s += ''.join(f'{f}<' for f in sorted(features))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


def error_of(reply):
    """(type, condition, jingle condition) of an error reply."""
    err = reply.xml.find('{jabber:client}error')
    if err is None:
        return None
    cond = jingle = None
    for child in err:
        ns, tag = child.tag[1:].split('}')
        if ns == 'urn:ietf:params:xml:ns:xmpp-stanzas' and tag != 'text':
            cond = tag
        elif ns == NS_JINGLE_ERRORS:
            jingle = tag
    return err.get('type'), cond, jingle


def initiate_xml(peer_jid, sid, initiator, t, others, action='session-initiate'):
    """A Jitsi-shaped session-initiate offering the bridge transport `t` and the sources
    of `others` (objects with audio, video, rtx and name)."""
    cands = ''.join(
        f"<candidate foundation='{c['foundation']}' component='1' protocol='udp' "
        f"priority='{c['priority']}' ip='{c['ip']}' port='{c['port']}' type='host' "
        f"generation='0' id='c{i}'/>" for i, c in enumerate(t['candidates']))
    transport = (f"<transport xmlns='{NS_ICE}' ufrag='{t['ufrag']}' pwd='{t['pwd']}'>"
                 f"<fingerprint xmlns='{NS_DTLS}' hash='sha-256' setup='actpass'>"
                 f"{t['fingerprint']}</fingerprint><rtcp-mux/>{cands}</transport>")

    def src(ssrc, name, owner):
        return (f"<source xmlns='{NS_SSMA}' ssrc='{ssrc}' name='{name}'>"
                f"<ssrc-info xmlns='{NS_JITMEET}' owner='{owner}'/></source>")
    audio = ''.join(src(o.audio, f'{o.name}-a0', o.owner) for o in others if o.audio)
    video = ''
    for o in others:
        if o.video:
            video += src(o.video, f'{o.name}-v0', o.owner)
        if o.video and o.rtx:
            video += (src(o.rtx, f'{o.name}-v0', o.owner) +
                      f"<ssrc-group xmlns='{NS_SSMA}' semantics='FID'><source ssrc='{o.video}'/>"
                      f"<source ssrc='{o.rtx}'/></ssrc-group>")
    return (
        f"<iq type='set' to='{peer_jid}'><jingle xmlns='{NS_JINGLE}' action='{action}' "
        f"sid='{sid}' initiator='{initiator}'>"
        f"<content name='audio' creator='initiator' senders='both'>"
        f"<description xmlns='{NS_RTP}' media='audio'>"
        f"<payload-type id='111' name='opus' clockrate='48000' channels='2'>"
        f"<parameter name='minptime' value='10'/></payload-type>"
        f"<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' "
        f"uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/><rtcp-mux/>{audio}"
        f"</description>{transport}</content>"
        f"<content name='video' creator='initiator' senders='both'>"
        f"<description xmlns='{NS_RTP}' media='video'>"
        f"<payload-type id='96' name='VP8' clockrate='90000'>"
        f"<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack' subtype='pli'/>"
        f"</payload-type><payload-type id='97' name='rtx' clockrate='90000'>"
        f"<parameter name='apt' value='96'/></payload-type><rtcp-mux/>{video}"
        f"</description>{transport}</content>"
        f"<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'>"
        f"<content name='audio'/><content name='video'/></group></jingle></iq>")


def parse_accept(iq):
    """The transport dict and the sources of a session-accept (or source-add) IQ."""
    j = iq.xml.find(f'{{{NS_JINGLE}}}jingle')
    out = {'action': j.get('action'), 'sid': j.get('sid'), 'sources': {}, 'groups': [],
           'transport': None, 'contents': [], 'bundle': False}
    for c in j.findall(f'{{{NS_JINGLE}}}content'):
        out['contents'].append(c.get('name'))
        d = c.find(f'{{{NS_RTP}}}description')
        if d is not None:
            for s in d.findall(f'{{{NS_SSMA}}}source'):
                info = s.find(f'{{{NS_JITMEET}}}ssrc-info')
                out['sources'][int(s.get('ssrc'))] = {
                    'media': d.get('media'), 'name': s.get('name'),
                    'owner': info.get('owner') if info is not None else None}
            for g in d.findall(f'{{{NS_SSMA}}}ssrc-group'):
                out['groups'].append((g.get('semantics'),
                                      [int(s.get('ssrc')) for s in g]))
            out.setdefault('pts', {})[d.get('media')] = [
                p.get('name') for p in d.findall(f'{{{NS_RTP}}}payload-type')]
        ice = c.find(f'{{{NS_ICE}}}transport')
        if ice is not None and out['transport'] is None:
            fp = ice.find(f'{{{NS_DTLS}}}fingerprint')
            out['transport'] = {
                'ufrag': ice.get('ufrag'), 'pwd': ice.get('pwd'), 'fingerprint': fp.text,
                'setup': fp.get('setup'),
                'candidates': [{'foundation': x.get('foundation'), 'ip': x.get('ip'),
                                'port': int(x.get('port')), 'priority': int(x.get('priority'))}
                               for x in ice.findall(f'{{{NS_ICE}}}candidate')]}
    out['bundle'] = j.find('{urn:xmpp:jingle:apps:grouping:0}group') is not None
    return out


class PeerXmpp(unittest.TestCase):
    meetings = 0

    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody(components={FOCUS: 'focus-secret', BRIDGE: 'bridge-secret'})
        cls.prosody.start()
        for user in ('alice', 'bob', 'carol', 'dave', 'eve', 'jicofo'):
            cls.prosody.register(user, f'{user}-pw')
        cls.focus = Daemon('focus', FOCUS, 'focus-secret', cls.prosody.component_port,
                           extra=FOCUS_CONFIG).start()
        port = 20000 + procs.free_port() % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'bridge-secret', cls.prosody.component_port,
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                                  f'port_max = {port + 100}\nworkers = 1\n'
                                  f'[colibri]\ntrusted = localhost\n').start()
        cls.focus.wait_health(200)
        cls.bridge.wait_health(200, timeout=15)
        # plays the focus for Jingle: it talks Colibri2 to the bridge and Jingle to the peers
        cls.jicofo = Client('jicofo@localhost', 'jicofo-pw', port=cls.prosody.c2s_port,
                            capture_iqs=True)
        cls.jicofo.connect()
        cls.peers = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.kill()
        cls.jicofo.disconnect()
        for d in (cls.focus, cls.bridge):
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        cls.prosody.stop()

    def peer(self, name, user, **kwargs):
        p = XmppPeer(name, f'{user}@localhost/{name}', f'{user}-pw', self.prosody.c2s_port,
                     **kwargs)
        self.peers.append(p)
        return p

    def room(self, label):
        return f'{label}-{os.getpid()}@{FOCUS}'

    # -- login, MUC, disco --------------------------------------------------------------

    def test_login_join_caps_and_disco(self):
        room = self.room('caps')
        alice = self.peer('alice', 'alice')
        self.assertEqual(alice.jid, 'alice@localhost/alice')
        joined = alice.join(room, 'alice')
        self.assertEqual(joined['room'], room)
        self.assertEqual(joined['jid'], f'{room}/alice')
        self.assertIn(110, joined['codes'])
        self.assertIn('t_us', joined)

        bob = MucUser(self.prosody, 'bob', 'bob-pw')
        try:
            others, own, _ = bob.join(room, 'bob')
            pres = [s for s in others if str(s['from']) == f'{room}/alice']
            self.assertEqual(len(pres), 1, others)
            c = pres[0].xml.find(f'{{{NS_CAPS}}}c')
            self.assertIsNotNone(c, 'the caps element reaches the room')
            self.assertEqual((c.get('hash'), c.get('node')), ('sha-1', CAPS_NODE))
            ev = alice.wait('presence', match=lambda e: e['from'] == f'{room}/bob')
            self.assertEqual(ev['type'], 'available')

            info = bob.client.disco_info(alice.jid)
            self.assertEqual(info.features, JINGLE_FEATURES)
            self.assertEqual({(i[0], i[1]) for i in info.identities}, {('client', 'pc')})
            self.assertEqual(caps_ver(info.identities, info.features), c.get('ver'))
            node = f"{CAPS_NODE}#{c.get('ver')}"
            by_node = bob.client.disco_info(alice.jid, node=node)
            self.assertEqual(by_node.features, JINGLE_FEATURES)
            self.assertEqual(by_node.stanza['disco_info']['node'], node)
            wrong = bob.iq(f"<iq type='get' to='{alice.jid}'><query xmlns='{NS_DISCO}' "
                           f"node='{CAPS_NODE}#nope'/></iq>")
            self.assertEqual(error_of(wrong)[:2], ('cancel', 'item-not-found'))
            bob.client.ping(alice.jid)
            other = bob.iq(f"<iq type='get' to='{alice.jid}'>"
                           "<query xmlns='jabber:iq:version'/></iq>")
            self.assertEqual(error_of(other)[:2], ('cancel', 'service-unavailable'))

            bob.say(room, 'hello <alice> & "all"')
            msg = alice.wait('message', match=lambda e: e['from'] == f'{room}/bob')
            self.assertEqual((msg['type'], msg['body']), ('groupchat', 'hello <alice> & "all"'))

            # Jingle from outside the room is refused, and still reported
            reply = bob.iq(initiate_xml(alice.jid, 'x1', bob.jid, {
                'ufrag': 'u', 'pwd': 'p' * 22, 'fingerprint': ':'.join(['AB'] * 32),
                'candidates': []}, []))
            self.assertEqual(error_of(reply)[:2], ('auth', 'forbidden'))
            ev = alice.wait('jingle')
            self.assertEqual((ev['action'], ev['sid']), ('session-initiate', 'x1'))

            alice.leave()
            left = alice.wait('left')
            self.assertEqual(left['room'], room)
            gone = bob.next(predicate=lambda s: str(s['from']) == f'{room}/alice' and
                            s['type'] == 'unavailable')
            self.assertNotIn(110, codes(gone))
        finally:
            bob.close()

    def test_text_only_peer(self):
        room = self.room('text')
        dave = self.peer('dave', 'dave', no_jingle=True)
        dave.join(room, 'dave')
        bob = Client('bob@localhost', 'bob-pw', port=self.prosody.c2s_port)
        bob.connect()
        try:
            info = bob.disco_info(dave.jid)
            self.assertEqual(info.features, {NS_DISCO})
            reply = bob.send_iq_raw(f"<iq type='set' to='{dave.jid}'><jingle xmlns='{NS_JINGLE}'"
                                    " action='session-terminate' sid='s'/></iq>")
            self.assertEqual(error_of(reply)[:2], ('cancel', 'service-unavailable'))
        finally:
            bob.disconnect()

    def test_bad_login_is_reported(self):
        p = XmppPeer('mallory', 'eve@localhost/m', 'wrong', self.prosody.c2s_port,
                     wait_connected=False)
        self.peers.append(p)
        ev = p.wait('xmpp-error', fail_on=('xmpp-connected',))
        self.assertFalse(ev['connected'])

    # -- Jingle with a real bridge, the test client playing the focus ------------------

    def conference(self, peers):
        """One bridge endpoint per peer; returns (meeting, {peer name: bridge transport})."""
        PeerXmpp.meetings += 1
        meeting = f'peer-xmpp-{os.getpid()}-{PeerXmpp.meetings}'
        reply = self.jicofo.send_iq_raw(modify_xml(
            BRIDGE, meeting, [f"<endpoint id='{p.name}' create='true'/>" for p in peers],
            create=True), timeout=10)
        self.assertEqual(reply['type'], 'result', str(reply))
        return meeting, parse_answer(reply)

    def next_jingle(self, action, peer):
        iq = self.jicofo.wait_iq(timeout=15, predicate=lambda iq: (
            iq.xml.find(f'{{{NS_JINGLE}}}jingle') is not None and
            iq.xml.find(f'{{{NS_JINGLE}}}jingle').get('action') == action and
            str(iq['from']) == peer.jid))
        self.jicofo.send_raw(f"<iq type='result' to='{iq['from']}' id='{iq['id']}'/>")
        return iq

    def start_sessions(self, peers, sid_prefix):
        """session-initiate to every peer, each accept forwarded to the bridge; waits until
        every peer's DTLS is up. Returns {name: parsed session-accept}."""
        meeting, answers = self.conference(peers)
        accepts = {}
        for p in peers:
            others = [types.SimpleNamespace(name=o.name, audio=o.audio, video=o.video,
                                            rtx=o.rtx, owner=o.jid) for o in peers if o is not p]
            sid = f'{sid_prefix}-{p.name}'
            reply = self.jicofo.send_iq_raw(initiate_xml(p.jid, sid, self.jicofo.jid,
                                                         answers[p.name], others), timeout=10)
            self.assertEqual(reply['type'], 'result', str(reply))
            session = p.wait_session()
            self.assertEqual((session['sid'], session['focus']), (sid, self.jicofo.jid))
            accept = parse_accept(self.next_jingle('session-accept', p))
            self.assertEqual(accept['sid'], sid)
            accepts[p.name] = accept
            t = accept['transport']
            self.assertEqual(t['setup'], p.setup)
            self.assertTrue(t['candidates'])
            update = (f"<endpoint id='{p.name}'>{transport_xml(t, setup=t['setup'])}"
                      f"{sources_xml(types.SimpleNamespace(audio=p.audio, video=p.video, rtx=p.rtx, extra_audio=0), p.name)}"  # noqa: E501
                      f"</endpoint>")
            reply = self.jicofo.send_iq_raw(modify_xml(BRIDGE, meeting, [update]), timeout=10)
            self.assertEqual(reply['type'], 'result', str(reply))
        for p in peers:
            p.wait_connected()
        return meeting, accepts

    def assert_media_flows(self, receiver, senders, seconds=1.5):
        for s in senders:
            s.send(cmd='send', seconds=seconds)
        for s in senders:
            s.wait('sent', timeout=seconds + 10, match=lambda e: 'stopped' not in e)
        report = None

        def all_there():
            nonlocal report
            report = receiver.report()
            streams = {s['ssrc']: s for s in report['streams']}
            return all(streams.get(x, {}).get('unique', 0) > 0
                       for s in senders for x in (s.audio, s.video, s.rtx) if x)
        procs.wait_until(all_there, timeout=5, message=f'{receiver.name} got no media')
        for s in report['streams']:
            self.assertEqual(s['mismatches'], 0, s)
        self.assertEqual(report['srtp_errors'], 0, report)
        return report

    def test_jingle_session_media_source_add_failover_and_terminate(self):
        alice = self.peer('ja', 'alice', audio=1101, video=2101, rtx=3101,
                          jingle_from_anyone=True)
        carol = self.peer('jc', 'carol', audio=1201, video=2201, rtx=3201,
                          jingle_from_anyone=True, send_on_connect=1.5)
        meeting, accepts = self.start_sessions([alice, carol], 'first')
        a = accepts['ja']
        self.assertEqual(a['contents'], ['audio', 'video'])
        self.assertTrue(a['bundle'])
        self.assertEqual(a['pts'], {'audio': ['opus'], 'video': ['VP8', 'rtx']})
        # not in a room: named after the JID's local part, owned by the full JID
        self.assertEqual(a['sources'], {
            1101: {'media': 'audio', 'name': 'alice-a0', 'owner': alice.jid},
            2101: {'media': 'video', 'name': 'alice-v0', 'owner': alice.jid},
            3101: {'media': 'video', 'name': 'alice-v0', 'owner': alice.jid}})
        self.assertEqual(a['groups'], [('FID', [2101, 3101])])
        jingle = alice.seen('jingle')[-1]
        self.assertEqual(sorted((s['ssrc'], s['kind'], s['owner']) for s in jingle['sources']),
                         [(1201, 'audio', carol.jid), (2201, 'video', carol.jid),
                          (3201, 'rtx', carol.jid)])
        self.assert_media_flows(alice, [carol])
        self.assertEqual(len(alice.seen('first-media')), 1)

        # hostile Jingle: unknown sid, out of order, malformed
        reply = self.jicofo.send_iq_raw(
            f"<iq type='set' to='{alice.jid}'><jingle xmlns='{NS_JINGLE}' action='transport-info'"
            " sid='nope'/></iq>")
        self.assertEqual(error_of(reply), ('cancel', 'item-not-found', 'unknown-session'))
        reply = self.jicofo.send_iq_raw(
            f"<iq type='set' to='{alice.jid}'><jingle xmlns='{NS_JINGLE}' "
            "action='session-accept' sid='first-ja'/></iq>")
        self.assertEqual(error_of(reply), ('cancel', 'unexpected-request', 'out-of-order'))
        reply = self.jicofo.send_iq_raw(
            f"<iq type='set' to='{alice.jid}'><jingle xmlns='{NS_JINGLE}' action='dance' "
            "sid='first-ja'/></iq>")
        self.assertEqual(error_of(reply)[:2], ('modify', 'bad-request'))

        # screen share: source-add to the focus, and the focus's source-add makes the other
        # peer expect the stream
        alice.send(cmd='add-source', ssrc=4101, kind='video', name='ja-v1')
        add = parse_accept(self.next_jingle('source-add', alice))
        self.assertEqual(add['sources'], {4101: {'media': 'video', 'name': 'ja-v1',
                                                 'owner': alice.jid}})
        self.assertEqual(alice.wait('iq-reply', match=lambda e: e['what'] == 'source-add')
                         ['type'], 'result')
        reply = self.jicofo.send_iq_raw(
            f"<iq type='set' to='{carol.jid}'><jingle xmlns='{NS_JINGLE}' action='source-add' "
            f"sid='first-jc'><content name='video' creator='initiator'><description "
            f"xmlns='{NS_RTP}' media='video'><source xmlns='{NS_SSMA}' ssrc='4101' "
            f"name='ja-v1'><ssrc-info xmlns='{NS_JITMEET}' owner='{alice.jid}'/></source>"
            f"</description></content></jingle></iq>")
        self.assertEqual(reply['type'], 'result', str(reply))
        report = carol.report()
        self.assertIn(4101, {s['ssrc'] for s in report['streams']})
        alice.send(cmd='remove-source', ssrc=4101)
        remove = parse_accept(self.next_jingle('source-remove', alice))
        self.assertEqual(list(remove['sources']), [4101])
        reply = self.jicofo.send_iq_raw(
            f"<iq type='set' to='{carol.jid}'><jingle xmlns='{NS_JINGLE}' "
            f"action='source-remove' sid='first-jc'><content name='video' creator='initiator'>"
            f"<description xmlns='{NS_RTP}' media='video'><source xmlns='{NS_SSMA}' "
            f"ssrc='4101'/></description></content></jingle></iq>")
        self.assertEqual(reply['type'], 'result', str(reply))
        removed = {s['ssrc']: s for s in carol.report()['streams']}[4101]
        self.assertTrue(removed.get('removed'), removed)

        # failover: a new conference and a new session-initiate replace the session
        self.jicofo.send_iq_raw(modify_xml(BRIDGE, meeting, [], expire=True), timeout=10)
        self.start_sessions([alice, carol], 'second')
        ended = alice.seen('session-ended', match=lambda e: e['sid'] == 'first-ja')
        self.assertEqual([(e['reason'], e['by']) for e in ended], [('replaced', 'local')])
        alice.reset_rx()
        # carol sends by herself once the new session's DTLS is up (--send-on-connect)
        sent = carol.wait('sent', match=lambda e: 'stopped' not in e)
        self.assertGreater(sent['audio'], 0)
        procs.wait_until(lambda: all(
            s['unique'] > 0 for s in alice.report()['streams'] if s['ssrc'] in (1201, 2201)),
            timeout=5, message='no media after the failover')
        self.assert_media_flows(alice, [carol])

        # terminate from the peer, then from the focus
        alice.send(cmd='terminate')
        term = parse_accept(self.next_jingle('session-terminate', alice))
        self.assertEqual(term['sid'], 'second-ja')
        ended = alice.wait('session-ended', match=lambda e: e['sid'] == 'second-ja')
        self.assertEqual((ended['reason'], ended['by']), ('success', 'local'))
        reply = self.jicofo.send_iq_raw(
            f"<iq type='set' to='{carol.jid}'><jingle xmlns='{NS_JINGLE}' "
            "action='session-terminate' sid='second-jc'><reason><gone/></reason></jingle></iq>")
        self.assertEqual(reply['type'], 'result', str(reply))
        ended = carol.wait('session-ended', match=lambda e: e['sid'] == 'second-jc')
        self.assertEqual((ended['reason'], ended['by']), ('gone', 'remote'))
        reply = self.jicofo.send_iq_raw(
            f"<iq type='set' to='{carol.jid}'><jingle xmlns='{NS_JINGLE}' "
            "action='source-add' sid='second-jc'/></iq>")
        self.assertEqual(error_of(reply), ('cancel', 'item-not-found', 'unknown-session'))

    def test_raw_iq_reply_is_reported(self):
        eve = self.peer('eve', 'eve')
        ev = eve.raw(f"<iq type='get' to='{BRIDGE}'><nothing xmlns='urn:example'/></iq>")
        self.assertEqual(ev['what'], 'raw')
        self.assertEqual(ev['type'], 'error')
        self.assertEqual(ev['from'], BRIDGE)
        self.assertIn(ev['condition'], ('service-unavailable', 'feature-not-implemented',
                                        'forbidden'))


if __name__ == '__main__':
    tap.main(PeerXmpp)
