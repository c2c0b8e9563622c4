#!/usr/bin/python3
"""Media over a lossy, jittery link: 5 % random loss and 10-60 ms of delay (50 ms of jitter,
which reorders packets) on every RTP and RTCP packet in both directions, between the bridge
and each of its two participants (conclave_impair.py). A test peer replays real VP8 (a key
frame every 15 frames) and answers NACKs with the packet again; GStreamer's webrtcbin
receives it through the bridge and decodes it, NACKing what it misses. The bridge answers
those NACKs from its retransmission buffer when the loss was on its own downlink, and asks
the sender when the packet never reached it. The impairment starts once the receiver decodes
(conclave_impair says why). Checked: fewer frames are lost than lost a packet on either leg
(without repair each of those is lost, with any frame that refers to it), and at least 85 %
of the frames sent are decoded (97-100 % in runs on a 2-core machine, 0-4 frames lost against
11-19 hit); NACKs were answered on both legs; no endpoint expired. The figures go to the
test's log."""

import os
import sys
import time
import unittest

import gi
gi.require_version('Gst', '1.0')
from gi.repository import Gst  # noqa: E402

from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from conclave_harness.xmpp_client import Client  # noqa: E402
from conclave_daemons import Daemon  # noqa: E402
from conclave_impair import ImpairedLink  # noqa: E402
from conclave_media import Peer, modify_xml, parse_answer, parse_metrics, transport_xml  # noqa: E402
from conclave_webrtcbin import WebrtcbinParticipant, offer_sdp  # noqa: E402
from test_webrtc_interop import encode_vp8_file  # noqa: E402

BRIDGE = 'bridge1.localhost'
PEER_VIDEO = 8101
GST_VIDEO = 9101
SEND_SECONDS = 6.0
MIN_DECODED = 0.85
# The receiver's jitter buffer: a NACK's round trip over the two impaired legs (up to
# 2 x 60 ms each way) must fit in it, as in a browser's adaptive buffer on such a link.
JITTER_BUFFER_MS = 500


def behind(transport, link):
    """A client's transport as the bridge is told it: only reachable through `link`."""
    return dict(transport, candidates=[link.client_candidate()])


class LossyLink(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        Gst.init(None)
        cls.links, cls.gst, cls.peer = [], None, None
        cls.dir = make_tempdir(prefix='conclave-lossy-')
        cls.vp8_path = os.path.join(cls.dir, 'ball.vp8rtp')
        encode_vp8_file(cls.vp8_path)
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

    @classmethod
    def tearDownClass(cls):
        if cls.gst is not None:
            cls.gst.stop()
        if cls.peer is not None:
            cls.peer.kill()
        for link in cls.links:
            link.close()
        cls.client.disconnect()
        if cls.bridge.proc is not None and cls.bridge.proc.poll() is None:
            cls.bridge.stop()
        cls.prosody.stop()

    def iq(self, xml):
        reply = self.client.send_iq_raw(xml, timeout=10)
        self.assertEqual(reply['type'], 'result', str(reply))
        return reply

    def metrics(self):
        return parse_metrics(self.bridge.metrics())

    def impaired(self, answer, seed):
        """The bridge's answer for one endpoint, its candidate moved behind a lossy link."""
        c = answer['candidates'][0]
        link = ImpairedLink((c['ip'], int(c['port'])), seed=seed, active=False)
        self.links.append(link)
        return dict(answer, candidates=[link.candidate(c)]), link

    def test_vp8_is_repaired_over_loss_and_jitter(self):
        before = self.metrics()
        meeting = f'lossy-{os.getpid()}'
        answers = parse_answer(self.iq(modify_xml(
            BRIDGE, meeting, ["<endpoint id='peer' create='true'/>",
                              "<endpoint id='gst' create='true'/>"], create=True)))
        peer_answer, up_link = self.impaired(answers['peer'], seed=7)
        gst_answer, down_link = self.impaired(answers['gst'], seed=11)

        peer = Peer('lossy', video=PEER_VIDEO, video_file=self.vp8_path)
        LossyLink.peer = peer
        src = ("<sources><media-source type='video' id='peer-v0'><source "
               f"xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{PEER_VIDEO}'/>"
               "</media-source></sources>")
        self.iq(modify_xml(BRIDGE, meeting, [
            f"<endpoint id='peer'>{transport_xml(behind(peer.transport, up_link))}{src}"
            "</endpoint>"]))
        peer.connect({k: peer_answer[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        peer.wait('connected', timeout=20, fail_on=('dtls-failed', 'ice-failed'))

        gst = WebrtcbinParticipant(GST_VIDEO, 96, pattern='smpte', decode=True, nack=True,
                                   latency_ms=JITTER_BUFFER_MS)
        LossyLink.gst = gst
        t = gst.negotiate(offer_sdp(gst_answer, 96, ssrc=PEER_VIDEO))
        self.iq(modify_xml(BRIDGE, meeting, [
            f"<endpoint id='gst'>{transport_xml(behind(t, down_link), setup=t['setup'])}"
            "</endpoint>"]))
        # webrtcbin is connected once the bridge forwards to it.
        procs.wait_until(lambda: self.metrics().get(
            'conclave_bridge_dtls_handshakes_total{result="ok"}', 0) -
            before.get('conclave_bridge_dtls_handshakes_total{result="ok"}', 0) >= 2,
            timeout=20, message='webrtcbin did not connect through the lossy link')

        peer.send(cmd='send', seconds=SEND_SECONDS)
        # Loss and jitter start once the receiver decodes: see conclave_impair.
        procs.wait_until(lambda: gst.frames() > 0, timeout=10,
                         message='webrtcbin decoded nothing before the link was impaired')
        for link in self.links:
            link.active = True
        sent = peer.wait('sent', timeout=SEND_SECONDS + 15)
        # What is still in flight or waiting for a retransmission lands within a second.
        last, settled = -1, time.monotonic()
        while time.monotonic() - settled < 1.0:
            n = gst.frames()
            if n != last:
                last, settled = n, time.monotonic()
            time.sleep(0.1)
        decoded = gst.frames()
        after = self.metrics()

        def delta(name):
            return after.get(name, 0) - before.get(name, 0)

        hit = len(up_link.first_drops.get(PEER_VIDEO, set()) |
                  down_link.first_drops.get(PEER_VIDEO, set()))
        figures = {
            'frames_sent': sent['frames'], 'frames_decoded': decoded,
            'frames_hit_by_loss': hit,
            'decoded_ratio': round(decoded / max(1, sent['frames']), 3),
            'uplink': up_link.counts, 'downlink': down_link.counts,
            'nacks_received': delta('conclave_bridge_nacks_received_total'),
            'nacks_answered': delta('conclave_bridge_nacks_answered_total'),
            'nacks_relayed': delta('conclave_bridge_nacks_relayed_total'),
            'peer_retransmitted': sent['retransmitted'],
        }
        print(f'lossy link: {figures}', file=sys.stderr)
        self.assertGreater(up_link.counts['up_dropped'], 0, figures)
        self.assertGreater(down_link.counts['down_dropped'], 0, figures)
        self.assertGreater(figures['nacks_answered'], 0, figures)   # downlink repaired
        self.assertGreater(figures['nacks_relayed'], 0, figures)    # uplink repaired
        self.assertGreater(sent['retransmitted'], 0, figures)
        self.assertGreater(hit, 0, figures)
        # Without repair every frame hit by loss is lost (and maybe more after it): fewer
        # lost frames than that means some were repaired.
        self.assertLess(sent['frames'] - decoded, hit, figures)
        self.assertGreaterEqual(decoded, MIN_DECODED * sent['frames'], figures)
        expired = sum(v for k, v in after.items()
                      if k.startswith('conclave_bridge_endpoints_expired_total')) - \
            sum(v for k, v in before.items()
                if k.startswith('conclave_bridge_endpoints_expired_total'))
        self.assertEqual(expired, 0, figures)
        self.iq(modify_xml(BRIDGE, meeting, [], expire=True))


if __name__ == '__main__':
    tap.main(LossyLink)
