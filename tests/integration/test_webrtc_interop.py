#!/usr/bin/python3
"""An independent WebRTC stack through the bridge: a GStreamer webrtcbin participant,
driven with an SDP offer built from the bridge's Colibri2 answer, receives a test peer's
VP8 stream (real VP8, encoded by GStreamer beforehand and replayed by the peer) and decodes
at least 60 frames; and it sends a VP8 stream that the test peer receives. The bridge runs
in ICE lite mode here, which makes webrtcbin the controlling agent."""

import os
import sys
import struct
import unittest

import gi
gi.require_version('Gst', '1.0')
from gi.repository import Gst  # noqa: E402

from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from conclave_harness.xmpp_client import Client  # noqa: E402
from conclave_daemons import Daemon  # noqa: E402
from conclave_media import Peer, modify_xml, parse_answer, transport_xml  # noqa: E402
from conclave_webrtcbin import VIDEO_CAPS, WebrtcbinParticipant, offer_sdp  # noqa: E402

BRIDGE = 'bridge1.localhost'
PEER_VIDEO = 8001
GST_VIDEO = 9001


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
        gst = WebrtcbinParticipant(GST_VIDEO, 96, pattern='smpte', decode=True)
        WebrtcInterop.gst = gst
        t = gst.negotiate(offer_sdp(answers['gst'], 96, ssrc=PEER_VIDEO))
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
