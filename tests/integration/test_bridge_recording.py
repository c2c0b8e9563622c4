#!/usr/bin/python3
"""Encrypted recordings written by the bridge (docs/recording.md), driven over Colibri2
through a real Prosody, with the project's test peers and GStreamer's webrtcbin:

- three peers are recorded: `conclavectl recording decrypt` gives one pcap per stream
  whose RTP packets are, byte for byte and in order, every packet each peer sent; streams
  carry the codec of their payload type and their owner's occupant id; each endpoint's
  RTCP has its own stream; the file (mode 0600, named by time, meeting and recording id)
  holds none of the payload bytes in clear; the metrics count what was written;
- a webrtcbin participant's VP8 is recorded and the pcap decodes with GStreamer;
- --check-config refuses a private key, a missing or read-only folder, half a [recording]
  group, naming the file, the group and the key;
- Colibri2 refusals: a second start, a stop of an unknown id, a recording on a bridge
  without [recording], a start in an expiring request, a file that cannot be created;
  expiring the conference closes its recording;
- a full disk (a tmpfs mounted for the test) stops the recording cleanly, the focus gets
  `<recording-status state='failed' reason='disk_full'/>`, the conference goes on;
- a queue too small for the stream overflows: packets are dropped and counted, never
  forwarding, the file says how many, and the focus is told it is damaged, not once per
  packet."""

import glob
import json
import os
import re
import subprocess
import sys
import time
import unittest

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstApp', '1.0')
from gi.repository import Gst, GstApp  # noqa: E402,F401

from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from conclave_harness.xmpp_client import Client  # noqa: E402
from conclave_daemons import BINARIES, Daemon  # noqa: E402
from conclave_media import (Counters, Peer, colibri_reason, modify_xml,  # noqa: E402
                            parse_answer, sources_xml, transport_xml)
from conclave_webrtcbin import WebrtcbinParticipant, offer_sdp  # noqa: E402
from conclave_recording import (CODECS, PAYLOAD_OFFSET, peer_packet,  # noqa: E402
                                read_pcap, run)

BRIDGE = 'bridge1.localhost'   # records
PLAIN = 'bridge2.localhost'    # no [recording]
FULL = 'bridge3.localhost'     # records onto a tiny tmpfs
SMALLQ = 'bridge4.localhost'   # records through the smallest queue
NS_REC = 'urn:conclave:recording:0'
CTL = BINARIES['ctl']
SEND_SECONDS = 3.0
GST_VIDEO = 9001


# -- reading a recorded VP8 stream ------------------------------------------------------

def decode_vp8(pcap):
    """Frames GStreamer decodes out of a recorded VP8 stream's pcap."""
    pipe = Gst.parse_launch(
        f'filesrc location="{pcap}" ! pcapparse dst-port=5004 ! '
        'application/x-rtp,media=video,encoding-name=VP8,clock-rate=90000,payload=100 ! '
        'rtpjitterbuffer ! rtpvp8depay ! vp8dec ! appsink name=sink sync=false')
    sink = pipe.get_by_name('sink')
    pipe.set_state(Gst.State.PLAYING)
    frames = 0
    while sink.try_pull_sample(10 * Gst.SECOND) is not None:
        frames += 1
    err = pipe.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if err is not None:
        raise AssertionError(f'GStreamer error: {err.parse_error()}')
    return frames


# -- the tests ----------------------------------------------------------------------------

class BridgeRecording(unittest.TestCase):
    meetings = 0

    @classmethod
    def setUpClass(cls):
        Gst.init(None)
        cls.dir = make_tempdir(prefix='conclave-bridge-recording-')
        cls.priv = os.path.join(cls.dir, 'recording.key')
        cls.pub = os.path.join(cls.dir, 'recording.pub')
        r = run(CTL, 'recording', 'keygen', cls.priv, cls.pub)
        assert r.returncode == 0, r.stderr
        cls.rec_dir = os.path.join(cls.dir, 'recordings')
        os.mkdir(cls.rec_dir, 0o700)
        cls.prosody = Prosody(components={BRIDGE: 'secret1', PLAIN: 'secret2', FULL: 'secret3',
                                          SMALLQ: 'secret4'})
        cls.prosody.start()
        cls.prosody.register('focus', 'focus-password')
        cls.port_min = 20000 + procs.free_port() % 20000
        cls.bridge = cls.start_bridge(BRIDGE, 'secret1', 0, cls.rec_dir)
        cls.client = Client('focus@localhost', 'focus-password', port=cls.prosody.c2s_port)
        cls.client.connect()
        cls.peers = []
        cls.gst = None

    @classmethod
    def start_bridge(cls, domain, secret, slot, rec_dir, extra=''):
        """A bridge (ICE lite, so that webrtcbin is the controlling agent) whose ports are
        the slot-th hundred of this run's range; recording into `rec_dir` if given."""
        port = cls.port_min + 100 * slot
        conf = (f'[media]\naddresses = 127.0.0.1\nport_min = {port}\nport_max = {port + 99}\n'
                f'workers = 2\nmedia_timeout = 10\nice_lite = true\n'
                f'[colibri]\ntrusted = localhost\n')
        if rec_dir:
            conf += f'[recording]\ndir = {rec_dir}\npublic_key = {cls.pub}\n{extra}'
        bridge = Daemon('bridge', domain, secret, cls.prosody.component_port, extra=conf)
        bridge.start()
        bridge.wait_health(200, timeout=15)
        return bridge

    @classmethod
    def tearDownClass(cls):
        if cls.gst is not None:
            cls.gst.stop()
        for p in cls.peers:
            p.kill()
        cls.client.disconnect()
        if cls.bridge.proc is not None and cls.bridge.proc.poll() is None:
            cls.bridge.stop()
        cls.prosody.stop()

    def stop_bridge(self, bridge):
        self.assertEqual(bridge.stop(), 0)
        self.assertEqual(bridge.sanitizer_reports(), [])

    # -- helpers ------------------------------------------------------------------------

    def iq(self, xml, timeout=10.0):
        return self.client.send_iq_raw(xml, timeout=timeout)

    def new_meeting(self):
        BridgeRecording.meetings += 1
        return f'meeting-{os.getpid()}-{BridgeRecording.meetings}'

    def conference(self, specs, bridge=BRIDGE):
        """A conference with one connected test peer per (name, Peer kwargs), each endpoint
        with occupant-id 'occ-NAME'. Returns (meeting, {name: Peer})."""
        meeting = self.new_meeting()
        reply = self.iq(modify_xml(bridge, meeting, [
            f"<endpoint id='{n}' create='true' occupant-id='occ-{n}'/>" for n, _ in specs],
            create=True))
        self.assertEqual(reply['type'], 'result', str(reply))
        answers = parse_answer(reply)
        peers = {}
        for name, kwargs in specs:
            peer = Peer(name, **kwargs)
            self.peers.append(peer)
            peers[name] = peer
            update = (f"<endpoint id='{name}'>{transport_xml(peer.transport, peer.setup)}"
                      f"{sources_xml(peer, name)}</endpoint>")
            reply = self.iq(modify_xml(bridge, meeting, [update]))
            self.assertEqual(reply['type'], 'result', str(reply))
        for name, peer in peers.items():
            a = answers[name]
            peer.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        for peer in peers.values():
            peer.wait('connected', timeout=20, fail_on=('dtls-failed', 'ice-failed'))
        for name, peer in peers.items():
            peer.send(cmd='expect', sources=[s for n, p in peers.items() if n != name
                                             for s in p.sources()])
        return meeting, peers

    def recording(self, meeting, action, rec_id, bridge=BRIDGE, extra_attrs=''):
        return self.iq(f"<iq type='set' to='{bridge}'><conference-modify xmlns='jitsi:colibri2' "
                       f"meeting-id='{meeting}'{extra_attrs}><recording xmlns='{NS_REC}' "
                       f"action='{action}' id='{rec_id}'/></conference-modify></iq>")

    def expire(self, meeting, bridge=BRIDGE):
        reply = self.iq(modify_xml(bridge, meeting, [], expire=True))
        self.assertEqual(reply['type'], 'result', str(reply))

    def send_all(self, peers, seconds=SEND_SECONDS):
        for p in peers:
            p.send(cmd='send', seconds=seconds)
        sent = {p.name: p.wait('sent', timeout=seconds + 10) for p in peers}
        time.sleep(1.0)  # the last packets and RTCP
        return sent

    def assert_received_all(self, receiver, senders, sent):
        streams = {s['ssrc']: s for s in receiver.report()['streams']}
        for sender in senders:
            for kind, ssrc in (('audio', sender.audio), ('video', sender.video),
                               ('rtx', sender.rtx)):
                if ssrc:
                    s = streams[ssrc]
                    self.assertEqual(s['unique'], sent[sender.name][kind], (receiver.name, s))
                    self.assertEqual(s['mismatches'], 0, s)

    def recording_file(self, rec_dir, meeting, rec_id):
        files = glob.glob(os.path.join(rec_dir, f'*-{meeting}-{rec_id}.ccrec'))
        self.assertEqual(len(files), 1, os.listdir(rec_dir))
        name = os.path.basename(files[0])
        self.assertRegex(name, rf'^\d{{8}}T\d{{6}}Z-{re.escape(meeting)}-{rec_id}\.ccrec$')
        self.assertEqual(os.stat(files[0]).st_mode & 0o777, 0o600)
        return files[0]

    def decrypt(self, path, complete=True):
        out = os.path.join(self.dir, 'out-' + os.path.basename(path))
        r = run(CTL, 'recording', 'decrypt', '--key', self.priv, path, '--out', out)
        self.assertEqual(r.returncode, 0 if complete else 1, r.stdout + r.stderr)
        with open(os.path.join(out, 'index.json')) as f:
            index = json.load(f)
        self.assertIs(index['complete'], complete, index.get('error'))
        return out, index

    def status_messages(self, meeting, timeout=0.0):
        """<recording-status/> messages about `meeting` the focus got so far (waiting up to
        `timeout` for a first one)."""
        got = []

        def about(m):
            st = m.xml.find(f'{{{NS_REC}}}recording-status')
            return st is not None and st.get('meeting-id') == meeting

        deadline = time.monotonic() + timeout
        while True:
            try:
                m = self.client.messages.get(max(0.0, deadline - time.monotonic()), about)
            except TimeoutError:
                return got
            st = m.xml.find(f'{{{NS_REC}}}recording-status')
            self.assertEqual(m['from'].bare, self.bridge_of(meeting))
            got.append(dict(st.attrib))
            deadline = time.monotonic()  # the rest only if already there

    def bridge_of(self, meeting):
        return getattr(self, 'bridges', {}).get(meeting, BRIDGE)

    def check_streams(self, out, index, peers, sent, owners):
        """Every RTP packet the peers sent is in its stream's pcap, in order, byte for
        byte; returns the payloads, for the search in the encrypted file."""
        by_key = {(s['ssrc'], s['payload_type']): s for s in index['streams']
                  if s['codec'] != 'rtcp'}
        payloads = []
        for p in peers:
            for kind, ssrc, pt in (('audio', p.audio, 111), ('video', p.video, 96),
                                   ('rtx', p.rtx, 97)):
                s = by_key.pop((ssrc, pt))
                self.assertEqual(s['codec'], CODECS[pt])
                self.assertEqual(s['kind'], 'audio' if kind == 'audio' else 'video')
                self.assertEqual(s['clock_rate'], 48000 if kind == 'audio' else 90000)
                self.assertEqual(s['owner'], owners[p.name])
                self.assertEqual(s['rtcp_packets'], 0)
                got = read_pcap(os.path.join(out, s['pcap']))
                want = [peer_packet(kind, ssrc, k) for k in range(sent[p.name][kind])]
                self.assertEqual(len(got), len(want), (p.name, kind))
                self.assertTrue(all(port == 5004 for port, _ in got))
                self.assertTrue([d for _, d in got] == want, f'{p.name} {kind} differs')
                payloads += [d[PAYLOAD_OFFSET:PAYLOAD_OFFSET + 32] for d in want]
        self.assertEqual(by_key, {}, 'no other stream')
        rtcp = [s for s in index['streams'] if s['codec'] == 'rtcp']
        self.assertEqual(sorted(s['owner'] for s in rtcp), sorted(owners[p.name] for p in peers))
        for s in rtcp:
            self.assertEqual(s['rtp_packets'], 0)
            self.assertGreater(s['rtcp_packets'], 0)
            got = read_pcap(os.path.join(out, s['pcap']))
            self.assertTrue(all(port == 5005 and d[1] == 200 for port, d in got), got[:2])
        return payloads

    # -- tests --------------------------------------------------------------------------

    def test_three_peers_are_recorded_byte_for_byte(self):
        counters = Counters(self.bridge)
        specs = [(f'p{i}', dict(audio=1000 + i, video=2000 + i, rtx=3000 + i)) for i in range(3)]
        meeting, peers = self.conference(specs)
        reply = self.recording(meeting, 'start', 'rec-three')
        self.assertEqual(reply['type'], 'result', str(reply))
        self.assertEqual(counters.delta('conclave_bridge_recordings_active'), 1)
        sent = self.send_all(peers.values())
        reply = self.recording(meeting, 'stop', 'rec-three')
        self.assertEqual(reply['type'], 'result', str(reply))
        d = counters.deltas()
        self.assertEqual(d('conclave_bridge_recordings_active'), 0)
        self.assertEqual(d('conclave_bridge_recordings_started_total'), 1)
        # Forwarding was not disturbed.
        for name, receiver in peers.items():
            self.assert_received_all(receiver, [p for n, p in peers.items() if n != name], sent)
        path = self.recording_file(self.rec_dir, meeting, 'rec-three')
        out, index = self.decrypt(path)
        self.assertEqual(index['damaged'], [])
        self.assertEqual(len(index['streams']), 12)  # 3 x (audio, video, rtx, RTCP)
        payloads = self.check_streams(out, index, peers.values(), sent,
                                      {n: f'occ-{n}' for n in peers})
        # The counters match the file.
        size = os.path.getsize(path)
        self.assertEqual(d('conclave_bridge_recording_bytes_total'), size)
        self.assertEqual(d('conclave_bridge_recording_chunks_total'), index['chunks'])
        self.assertEqual(d('conclave_bridge_recording_packets_total'), index['packets'])
        self.assertEqual(d('conclave_bridge_recording_dropped_packets_total'
                           '{reason="queue_overflow"}'), 0)
        self.assertGreater(size, sum(len(p) for p in payloads))
        # Nothing of the media is in clear in the file.
        with open(path, 'rb') as f:
            data = f.read()
        self.assertEqual([p for p in payloads if p in data], [])
        self.assertEqual(self.status_messages(meeting), [])
        self.expire(meeting)

    def test_webrtcbin_vp8_is_recorded_and_decodes(self):
        meeting = self.new_meeting()
        answers = parse_answer(self.iq(modify_xml(BRIDGE, meeting, [
            "<endpoint id='gst' create='true' occupant-id='occ-gst'/>",
            "<endpoint id='rcv' create='true'/>"], create=True)))
        reply = self.recording(meeting, 'start', 'rec-vp8')
        self.assertEqual(reply['type'], 'result', str(reply))
        rcv = Peer('rcv', audio=7001)
        self.peers.append(rcv)
        self.iq(modify_xml(BRIDGE, meeting, [
            f"<endpoint id='rcv'>{transport_xml(rcv.transport)}{sources_xml(rcv, 'rcv')}"
            "</endpoint>"]))
        a = answers['rcv']
        rcv.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        rcv.wait('connected', timeout=20, fail_on=('dtls-failed', 'ice-failed'))
        rcv.send(cmd='expect', sources=[{'ssrc': GST_VIDEO, 'kind': 'foreign'}])
        gst = WebrtcbinParticipant(GST_VIDEO, 100)
        BridgeRecording.gst = gst
        t = gst.negotiate(offer_sdp(answers['gst'], 100))
        self.assertTrue(t['candidates'], gst.candidates)
        src = ("<sources><media-source type='video' id='gst-v0'><source "
               f"xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='{GST_VIDEO}'/>"
               "</media-source></sources>")
        self.iq(modify_xml(BRIDGE, meeting, [
            f"<endpoint id='gst'>{transport_xml(t, setup=t['setup'])}{src}</endpoint>"]))

        def forwarded():
            s = [s for s in rcv.report()['streams'] if s['ssrc'] == GST_VIDEO]
            return s and s[0]['packets'] >= 150

        procs.wait_until(forwarded, timeout=30, interval=0.5,
                         message='the webrtcbin stream was not forwarded')
        reply = self.recording(meeting, 'stop', 'rec-vp8')
        self.assertEqual(reply['type'], 'result', str(reply))
        gst.stop()
        BridgeRecording.gst = None
        out, index = self.decrypt(self.recording_file(self.rec_dir, meeting, 'rec-vp8'))
        vp8 = [s for s in index['streams'] if s['codec'] == 'VP8']
        self.assertEqual(len(vp8), 1, index['streams'])
        self.assertEqual((vp8[0]['ssrc'], vp8[0]['payload_type'], vp8[0]['kind'],
                          vp8[0]['clock_rate'], vp8[0]['owner']),
                         (GST_VIDEO, 100, 'video', 90000, 'occ-gst'))
        self.assertGreaterEqual(vp8[0]['rtp_packets'], 150)
        frames = decode_vp8(os.path.join(out, vp8[0]['pcap']))
        print(f'# {vp8[0]["rtp_packets"]} VP8 packets recorded, {frames} frames decoded',
              file=sys.stderr)
        self.assertGreater(frames, 60)
        rtcp = [s for s in index['streams'] if s['codec'] == 'rtcp' and s['owner'] == 'occ-gst']
        self.assertEqual(len(rtcp), 1, index['streams'])
        self.expire(meeting)

    def test_colibri_refusals_and_expiry(self):
        counters = Counters(self.bridge)
        meeting, peers = self.conference([('a', dict(audio=4001, video=4002))])
        reply = self.recording('no-such-meeting', 'start', 'r1')
        self.assertEqual(colibri_reason(reply), 'conference_not_found')
        reply = self.recording(meeting, 'stop', 'r1')
        self.assertEqual(reply['error']['condition'], 'item-not-found')
        self.assertEqual(colibri_reason(reply), 'unknown_recording')
        reply = self.recording(meeting, 'start', 'r1', extra_attrs=" expire='true'")
        self.assertEqual(colibri_reason(reply), 'bad_request')
        self.assertEqual(self.recording(meeting, 'start', 'r1')['type'], 'result')
        reply = self.recording(meeting, 'start', 'r2')
        self.assertEqual(reply['error']['type'], 'cancel')
        self.assertEqual(reply['error']['condition'], 'conflict')
        self.assertEqual(colibri_reason(reply), 'recording_active')
        reply = self.recording(meeting, 'stop', 'r2')
        self.assertEqual(colibri_reason(reply), 'unknown_recording')
        self.send_all(peers.values(), seconds=1.0)
        # Expiring the conference stops and closes its recording.
        self.expire(meeting)
        self.assertEqual(counters.delta('conclave_bridge_recordings_active'), 0)
        path = self.recording_file(self.rec_dir, meeting, 'r1')
        r = run(CTL, 'recording', 'verify', '--key', self.priv, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('OK', r.stdout)
        # A bridge without [recording] refuses.
        plain = self.start_bridge(PLAIN, 'secret2', 1, None)
        try:
            other = self.new_meeting()
            reply = self.iq(modify_xml(PLAIN, other, [], create=True))
            self.assertEqual(reply['type'], 'result')
            reply = self.recording(other, 'start', 'r1', bridge=PLAIN)
            self.assertEqual(reply['error']['type'], 'cancel')
            self.assertEqual(reply['error']['condition'], 'feature-not-implemented')
            self.assertEqual(colibri_reason(reply), 'recording_disabled')
            self.iq(modify_xml(PLAIN, other, [], expire=True))
        finally:
            self.stop_bridge(plain)

    def test_full_disk_fails_the_recording_not_the_conference(self):
        full = os.path.join(self.dir, 'full')
        os.mkdir(full, 0o700)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'conclave-test',
                        full], check=True)
        procs.add_cleanup(lambda: subprocess.run(['umount', '-l', full], capture_output=True))
        bridge = None
        try:
            bridge = self.start_bridge(FULL, 'secret3', 2, full)
            counters = Counters(bridge)
            self.bridges = {}
            meeting, peers = self.conference([('a', dict(audio=5001, video=5002, rtx=5003)),
                                              ('b', dict(audio=5101, video=5102))],
                                             bridge=FULL)
            self.bridges[meeting] = FULL
            reply = self.recording(meeting, 'start', 'rec-full', bridge=FULL)
            self.assertEqual(reply['type'], 'result', str(reply))
            # ~220 kB/s of media: the 256 KiB disk is full within two seconds.
            sent = self.send_all(peers.values(), seconds=4.0)
            statuses = self.status_messages(meeting, timeout=5)
            self.assertEqual(statuses, [{'meeting-id': meeting, 'id': 'rec-full',
                                         'state': 'failed', 'reason': 'disk_full'}])
            d = counters.deltas()
            self.assertEqual(d('conclave_bridge_recording_failures_total{reason="disk_full"}'), 1)
            self.assertEqual(d('conclave_bridge_recordings_active'), 0)
            # Forwarding went on through the failure, and goes on after it.
            self.assert_received_all(peers['a'], [peers['b']], sent)
            self.assert_received_all(peers['b'], [peers['a']], sent)
            for p in peers.values():
                p.send(cmd='reset-rx')
                p.wait('rx-reset')
            total = self.send_all(peers.values(), seconds=1.0)  # the peers' totals so far
            sent = {n: {k: total[n][k] - sent[n][k] for k in ('audio', 'video', 'rtx')}
                    for n in total}
            self.assert_received_all(peers['a'], [peers['b']], sent)
            self.assert_received_all(peers['b'], [peers['a']], sent)
            # It is over: a stop finds nothing, and a new start finds the disk full.
            reply = self.recording(meeting, 'stop', 'rec-full', bridge=FULL)
            self.assertEqual(colibri_reason(reply), 'unknown_recording')
            reply = self.recording(meeting, 'start', 'rec-full2', bridge=FULL)
            self.assertEqual(colibri_reason(reply), 'recording_failed')
            self.assertEqual(os.listdir(full), [os.path.basename(
                self.recording_file(full, meeting, 'rec-full'))])
            # What was written before the disk filled up decrypts; the file is cut short.
            path = self.recording_file(full, meeting, 'rec-full')
            out, index = self.decrypt(path, complete=False)
            self.assertIn('truncated', index['error'])
            audio = [s for s in index['streams'] if s['ssrc'] == 5001][0]
            got = [d for _, d in read_pcap(os.path.join(out, audio['pcap']))]
            self.assertGreater(len(got), 10)
            self.assertEqual(got, [peer_packet('audio', 5001, k) for k in range(len(got))])
            self.expire(meeting, bridge=FULL)
            self.stop_bridge(bridge)
        finally:
            if bridge is not None and bridge.proc.poll() is None:
                bridge.stop()
            subprocess.run(['umount', full], capture_output=True)

    def test_queue_overflow_marks_damage_and_never_blocks_forwarding(self):
        rec_dir = os.path.join(self.dir, 'smallq')
        os.mkdir(rec_dir, 0o700)
        bridge = self.start_bridge(SMALLQ, 'secret4', 3, rec_dir, extra='queue_kib = 16\n')
        try:
            counters = Counters(bridge)
            self.bridges = {}
            meeting = self.new_meeting()
            self.bridges[meeting] = SMALLQ
            reply = self.iq(modify_xml(SMALLQ, meeting, [
                "<endpoint id='snd' create='true' occupant-id='occ-snd'/>",
                "<endpoint id='rcv' create='true'/>"], create=True))
            answers = parse_answer(reply)
            snd = Peer('snd', video=6001, bench_rate=2000)
            rcv = Peer('rcv', audio=6101)
            self.peers += [snd, rcv]
            for name, p in (('snd', snd), ('rcv', rcv)):
                self.iq(modify_xml(SMALLQ, meeting, [
                    f"<endpoint id='{name}'>{transport_xml(p.transport)}{sources_xml(p, name)}"
                    "</endpoint>"]))
                a = answers[name]
                p.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
            for p in (snd, rcv):
                p.wait('connected', timeout=20, fail_on=('dtls-failed', 'ice-failed'))
            rcv.send(cmd='expect', sources=[{'ssrc': 6001, 'kind': 'bench'}])
            reply = self.recording(meeting, 'start', 'rec-q', bridge=SMALLQ)
            self.assertEqual(reply['type'], 'result', str(reply))
            # 2000 packets of 1.1 kB a second, in bursts of 20 every 10 ms: 22 kB at once,
            # more than the 16 KiB queue holds.
            snd.send(cmd='send', seconds=3.0)
            sent = snd.wait('sent', timeout=15)['bench']
            time.sleep(1.5)
            statuses = self.status_messages(meeting, timeout=3)
            reply = self.recording(meeting, 'stop', 'rec-q', bridge=SMALLQ)
            self.assertEqual(reply['type'], 'result', str(reply))
            dropped = counters.delta('conclave_bridge_recording_dropped_packets_total'
                                     '{reason="queue_overflow"}')
            self.assertGreater(dropped, 0)
            # The focus heard of it, but not once per dropped packet (at most once a second).
            self.assertGreaterEqual(len(statuses), 1)
            self.assertLessEqual(len(statuses), 6)
            self.assertLess(len(statuses), dropped)
            for st in statuses:
                self.assertEqual(st, {'meeting-id': meeting, 'id': 'rec-q', 'state': 'damaged',
                                      'reason': 'queue_overflow'})
            # The receiver got every packet: the recording never held forwarding back.
            got = [s for s in rcv.report()['streams'] if s['ssrc'] == 6001][0]
            print(f'# sent {sent}, forwarded {got["unique"]}, dropped from the recording '
                  f'{int(dropped)}, status messages {len(statuses)}', file=sys.stderr)
            self.assertEqual(got['unique'], sent)
            # The file says what it lacks.
            _, index = self.decrypt(self.recording_file(rec_dir, meeting, 'rec-q'))
            self.assertTrue(index['damaged'])
            total = 0
            for mark in index['damaged']:
                m = re.fullmatch(r'queue overflow: (\d+) packets dropped', mark['reason'])
                self.assertIsNotNone(m, mark)
                total += int(m.group(1))
            self.assertEqual(total, dropped)
            # Recorded + dropped = what arrived, but the drops count RTCP compounds too.
            video = [s for s in index['streams'] if s['ssrc'] == 6001][0]
            self.assertLessEqual(video['rtp_packets'], sent)
            self.assertLessEqual(sent, video['rtp_packets'] + total)
            self.assertLessEqual(video['rtp_packets'] + total - sent, 30)
            # A file that cannot be created: recording_failed, and the conference goes on.
            os.rename(rec_dir, rec_dir + '.gone')
            try:
                reply = self.recording(meeting, 'start', 'rec-q2', bridge=SMALLQ)
            finally:
                os.rename(rec_dir + '.gone', rec_dir)
            self.assertEqual(reply['error']['type'], 'wait')
            self.assertEqual(reply['error']['condition'], 'internal-server-error')
            self.assertEqual(colibri_reason(reply), 'recording_failed')
            self.assertEqual(counters.delta('conclave_bridge_recording_failures_total'
                                            '{reason="create"}'), 1)
            self.assertEqual(self.recording(meeting, 'start', 'rec-q3', bridge=SMALLQ)['type'],
                             'result')
            self.expire(meeting, bridge=SMALLQ)
            self.stop_bridge(bridge)
        finally:
            if bridge.proc.poll() is None:
                bridge.stop()

    def test_check_config(self):
        """[recording] at --check-config: errors name the file, the group and the key."""
        from conclave_daemons import write_private
        d = make_tempdir(prefix='conclave-rec-config-')
        secret = write_private(os.path.join(d, 'secret'), 'hunter2\n')
        ro = os.path.join(d, 'ro')
        os.mkdir(ro)
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,ro', 'conclave-test', ro],
                       check=True)
        procs.add_cleanup(lambda: subprocess.run(['umount', '-l', ro], capture_output=True))

        def check(recording):
            path = os.path.join(d, 'bridge.conf')
            with open(path, 'w') as f:
                f.write(f'[xmpp]\ndomain = b.example.org\nsecret_file = {secret}\n'
                        f'[recording]\n{recording}')
            return path, run(BINARIES['bridge'], '--config', path, '--check-config')

        try:
            path, r = check(f'dir = {self.rec_dir}\npublic_key = {self.pub}\n')
            self.assertEqual(r.returncode, 0, r.stderr)
            path, r = check('')  # no recording: fine
            self.assertEqual(r.returncode, 0, r.stderr)
            cases = [
                (f'dir = {self.rec_dir}\npublic_key = {self.priv}\n',
                 f'[recording] public_key: {self.priv}: this is a private key; the server '
                 'needs only the public key'),
                (f'dir = {d}/missing\npublic_key = {self.pub}\n',
                 f"[recording] dir: '{d}/missing' is not a folder"),
                (f'dir = {ro}\npublic_key = {self.pub}\n',
                 f"[recording] dir: '{ro}' is not writable: Read-only file system"),
                (f'dir = {self.rec_dir}\n',
                 '[recording] public_key: recording needs both [recording] dir and public_key'),
                (f'public_key = {self.pub}\n',
                 '[recording] dir: recording needs both [recording] dir and public_key'),
                (f'dir = {self.rec_dir}\npublic_key = {secret}\n',
                 f'[recording] public_key: {secret}:'),
                ('queue_kib = 8\n', '[recording] queue_kib: 8 is out of range 16..1048576'),
            ]
            for recording, expected in cases:
                path, r = check(recording)
                self.assertEqual(r.returncode, 2, (recording, r.stderr))
                self.assertIn(f'{path}: {expected}', r.stderr)
        finally:
            subprocess.run(['umount', ro], capture_output=True)

    def test_zz_clean_exit(self):
        """A recording still running when the bridge stops is closed, complete."""
        meeting, peers = self.conference([('z', dict(audio=8001))])
        self.assertEqual(self.recording(meeting, 'start', 'rec-z')['type'], 'result')
        self.send_all(peers.values(), seconds=1.0)
        self.stop_bridge(self.bridge)
        self.decrypt(self.recording_file(self.rec_dir, meeting, 'rec-z'))


if __name__ == '__main__':
    tap.main(BridgeRecording)
