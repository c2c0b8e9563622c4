#!/usr/bin/python3
"""An independent WebRTC stack through the bridge: a GStreamer webrtcbin participant,
driven with an SDP offer built from the bridge's Colibri2 answer, receives a test peer's
VP8 stream (real VP8, encoded by GStreamer beforehand and replayed by the peer) and decodes
at least 60 frames; and it sends a VP8 stream that the test peer receives. The bridge runs
in ICE lite mode here, which makes webrtcbin the controlling agent."""

import os
import sys
import struct
import threading
import unittest

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
gi.require_version('Nice', '0.1')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from conclave_harness.xmpp_client import Client  # noqa: E402
from conclave_daemons import Daemon  # noqa: E402
from conclave_media import Peer, modify_xml, parse_answer, transport_xml  # noqa: E402

BRIDGE = 'bridge1.localhost'
PEER_VIDEO = 8001
GST_VIDEO = 9001
VIDEO_CAPS = 'video/x-raw,width=320,height=240,framerate=30/1'


def encode_vp8_file(path, frames=150):
    """Encodes `frames` frames of a test pattern to VP8 RTP payloads, one record per packet:
    16-bit length, marker byte, 32-bit timestamp offset, payload."""
    pipe = Gst.parse_launch(
        f'videotestsrc num-buffers={frames} pattern=ball ! {VIDEO_CAPS} ! '
        'vp8enc deadline=1 keyframe-max-dist=15 ! rtpvp8pay pt=96 mtu=1100 ! '
        'appsink name=sink sync=false')
    sink = pipe.get_by_name('sink')
    pipe.set_state(Gst.State.PLAYING)
    records, ts0 = [], None
    while True:
        sample = sink.emit('try-pull-sample', 5 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        data = buf.extract_dup(0, buf.get_size())
        cc = data[0] & 0x0f
        off = 12 + 4 * cc
        if data[0] & 0x10:
            off += 4 + 4 * struct.unpack('!H', data[off + 2:off + 4])[0]
        ts = struct.unpack('!I', data[4:8])[0]
        ts0 = ts if ts0 is None else ts0
        records.append(struct.pack('!HBI', len(data) - off, data[1] >> 7,
                                   (ts - ts0) & 0xffffffff) + data[off:])
    pipe.set_state(Gst.State.NULL)
    with open(path, 'wb') as f:
        f.write(b''.join(records))
    return len(records)


def offer_sdp(answer):
    """The bridge's side as an SDP offer: one bundled sendrecv video m-line carrying the
    test peer's SSRC, ICE lite, our candidates, DTLS actpass."""
    lines = [
        'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0',
        'a=ice-lite', 'a=msid-semantic: WMS *',
        'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0',
        f"a=ice-ufrag:{answer['ufrag']}", f"a=ice-pwd:{answer['pwd']}",
        f"a=fingerprint:sha-256 {answer['fingerprint']}", 'a=setup:actpass', 'a=mid:0',
        'a=sendrecv', 'a=rtcp-mux', 'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack',
        'a=rtcp-fb:96 nack pli', 'a=rtcp-fb:96 ccm fir',
        f'a=ssrc:{PEER_VIDEO} cname:peer', f'a=ssrc:{PEER_VIDEO} msid:peer peer-v0',
    ]
    for i, c in enumerate(answer['candidates']):
        lines.append(f"a=candidate:{c['foundation']} 1 udp {c['priority']} {c['ip']} "
                     f"{c['port']} typ {c['type']}")
    lines.append('a=end-of-candidates')
    return '\r\n'.join(lines) + '\r\n'


class WebrtcbinParticipant:
    """webrtcbin on its own GLib main loop thread: sends a live VP8 test pattern with SSRC
    GST_VIDEO, decodes what it receives and counts decoded frames."""

    def __init__(self):
        self.pipe = Gst.parse_launch(
            f'webrtcbin name=w bundle-policy=max-bundle '
            f'videotestsrc is-live=true pattern=smpte ! {VIDEO_CAPS} ! '
            f'vp8enc deadline=1 keyframe-max-dist=30 ! '
            f'rtpvp8pay pt=96 ssrc={GST_VIDEO} mtu=1100 ! '
            f'application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000 ! '
            f'queue ! w.')
        self.webrtc = self.pipe.get_by_name('w')
        self.ice = self.webrtc.get_property('ice-agent')  # keep a reference
        agent = self.ice.get_property('agent')
        agent.set_property('upnp', False)
        addr = Nice.Address()
        addr.set_from_string('127.0.0.1')
        agent.add_local_address(addr)
        self.candidates = []
        self.gathered = threading.Event()
        self.answer = None
        self.answered = threading.Event()
        self.decoded = 0
        self.lock = threading.Lock()
        self.webrtc.connect('on-ice-candidate', self._on_candidate)
        self.webrtc.connect('notify::ice-gathering-state', self._on_gathering)
        self.webrtc.connect('pad-added', self._on_pad)
        self.loop = GLib.MainLoop()
        self.thread = threading.Thread(target=self.loop.run, daemon=True)
        self.thread.start()
        self.pipe.set_state(Gst.State.PLAYING)

    def _on_candidate(self, _w, _mline, candidate):
        if candidate:
            self.candidates.append(candidate)

    def _on_gathering(self, w, _pspec):
        if w.get_property('ice-gathering-state') == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.gathered.set()

    def _on_pad(self, _w, pad):
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        branch = Gst.parse_bin_from_description(
            'queue ! rtpvp8depay ! vp8dec name=dec ! fakesink sync=false', True)
        self.pipe.add(branch)
        branch.sync_state_with_parent()
        pad.link(branch.get_static_pad('sink'))
        dec = branch.get_by_name('dec')
        dec.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER, self._on_frame)

    def _on_frame(self, _pad, _info):
        with self.lock:
            self.decoded += 1
        return Gst.PadProbeReturn.OK

    def frames(self):
        with self.lock:
            return self.decoded

    def negotiate(self, offer_text):
        _, msg = GstSdp.SDPMessage.new_from_text(offer_text)
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, msg)

        def on_answer(promise, _data):
            reply = promise.get_reply()
            answer = reply.get_value('answer')
            self.answer = answer.sdp.as_text()  # copy inside the callback
            self.webrtc.emit('set-local-description', answer, Gst.Promise.new())
            self.answered.set()

        def on_remote_set(_promise, _data):
            self.webrtc.emit('create-answer', None,
                             Gst.Promise.new_with_change_func(on_answer, None))

        self.webrtc.emit('set-remote-description', offer,
                         Gst.Promise.new_with_change_func(on_remote_set, None))
        if not self.answered.wait(15):
            raise TimeoutError('webrtcbin produced no answer')
        if not self.gathered.wait(15):
            raise TimeoutError('webrtcbin did not finish gathering')
        return self.answer

    def stop(self):
        self.pipe.set_state(Gst.State.NULL)
        self.loop.quit()
        self.thread.join(5)


def transport_from_answer(sdp, candidates):
    attrs = {}
    for line in sdp.splitlines():
        if line.startswith('a=') and ':' in line:
            k, v = line[2:].split(':', 1)
            attrs.setdefault(k, v)
    cands = []
    for c in candidates:
        parts = c.split()
        if len(parts) >= 8 and parts[2].lower() == 'udp' and parts[1] == '1':
            cands.append({'foundation': parts[0].split(':')[-1], 'priority': int(parts[3]),
                          'ip': parts[4], 'port': int(parts[5]), 'type': parts[7]})
    return {'ufrag': attrs['ice-ufrag'], 'pwd': attrs['ice-pwd'],
            'fingerprint': attrs['fingerprint'].split()[1], 'candidates': cands,
            'setup': attrs.get('setup', 'active')}


class WebrtcInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        Gst.init(None)
        cls.dir = make_tempdir(prefix='conclave-interop-')
        cls.vp8_path = os.path.join(cls.dir, 'ball.vp8rtp')
        cls.vp8_packets = encode_vp8_file(cls.vp8_path)
        cls.prosody = Prosody(components={BRIDGE: 'bridge-secret'})
        cls.prosody.start()
        cls.prosody.register('focus', 'focus-password')
        port_min = 30000 + procs.free_port() % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'bridge-secret', cls.prosody.component_port,
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port_min}\n'
                                  f'port_max = {port_min + 50}\nworkers = 1\nice_lite = true\n'
                                  f'[colibri]\ntrusted = focus@localhost\n')
        cls.bridge.start()
        cls.bridge.wait_health(200, timeout=15)
        cls.client = Client('focus@localhost', 'focus-password', port=cls.prosody.c2s_port)
        cls.client.connect()
        cls.gst = None
        cls.peer = None

    @classmethod
    def tearDownClass(cls):
        if cls.gst is not None:
            cls.gst.stop()
        if cls.peer is not None:
            cls.peer.kill()
        cls.client.disconnect()
        if cls.bridge.proc is not None and cls.bridge.proc.poll() is None:
            cls.bridge.stop()
        cls.prosody.stop()

    def iq(self, xml):
        reply = self.client.send_iq_raw(xml, timeout=10)
        self.assertEqual(reply['type'], 'result', str(reply))
        return reply

    def test_vp8_both_ways_with_webrtcbin(self):
        self.assertGreaterEqual(self.vp8_packets, 150)
        meeting = f'interop-{os.getpid()}'
        answers = parse_answer(self.iq(modify_xml(
            BRIDGE, meeting, ["<endpoint id='peer' create='true'/>",
                              "<endpoint id='gst' create='true'/>"], create=True)))
        # The test peer: replays the VP8 file on its video SSRC.
        peer = Peer('vp8', video=PEER_VIDEO, video_file=self.vp8_path)
        WebrtcInterop.peer = peer
        src = ("<sources><media-source type='video' id='peer-v0'><source "
               f"xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{PEER_VIDEO}'/>"
               "</media-source></sources>")
        self.iq(modify_xml(BRIDGE, meeting, [
            f"<endpoint id='peer'>{transport_xml(peer.transport)}{src}</endpoint>"]))
        a = answers['peer']
        peer.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        peer.wait('connected', timeout=20, fail_on=('dtls-failed', 'ice-failed'))
        peer.send(cmd='expect', sources=[{'ssrc': GST_VIDEO, 'kind': 'foreign'}])
        # webrtcbin: offer from the bridge's answer, its answer back over Colibri2.
        gst = WebrtcbinParticipant()
        WebrtcInterop.gst = gst
        sdp = gst.negotiate(offer_sdp(answers['gst']))
        t = transport_from_answer(sdp, gst.candidates)
        self.assertTrue(t['candidates'], f'no candidates from webrtcbin: {gst.candidates}')
        gsrc = ("<sources><media-source type='video' id='gst-v0'><source "
                f"xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{GST_VIDEO}'/>"
                "</media-source></sources>")
        self.iq(modify_xml(BRIDGE, meeting, [
            f"<endpoint id='gst'>{transport_xml(t, setup=t['setup'])}{gsrc}</endpoint>"]))
        peer.send(cmd='send', seconds=5.0)
        procs.wait_until(lambda: gst.frames() >= 60, timeout=20,
                         message=f'webrtcbin decoded only {gst.frames()} frames')
        peer.wait('sent', timeout=15)
        report = peer.report()
        foreign = next(s for s in report['streams'] if s['ssrc'] == GST_VIDEO)
        print(f'webrtcbin decoded {gst.frames()} frames; the peer got {foreign}', file=sys.stderr)
        self.assertGreater(foreign['packets'], 60, report)
        self.assertEqual(foreign['mismatches'], 0, report)
        self.assertEqual(report['srtp_errors'], 0, report)


if __name__ == '__main__':
    tap.main(WebrtcInterop)
