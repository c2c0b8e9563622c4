#!/usr/bin/python3
"""conclavectl recording keygen / verify / decrypt on a recording written by the bridge's
writer API (recording-write.c): key files and their modes, interop with openssl's X25519
keys, the summary, the pcaps as GStreamer's pcapparse reads them (byte for byte, and
through gst-launch-1.0 with an RTP depayloader), index.json, damage markers, and the
messages for a wrong key, a flipped byte, a cut file and appended bytes."""

import json
import os
import shutil
import stat
import struct
import subprocess
import unittest

import gi
gi.require_version('Gst', '1.0')
gi.require_version('GstApp', '1.0')
from gi.repository import Gst, GstApp  # noqa: E402,F401  (GstApp: appsink's pull_sample)

from conclave_harness import tap  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from conclave_daemons import BINARIES, SANITIZER_MARKS  # noqa: E402

WRITE = os.environ.get('CONCLAVE_RECORDING_WRITE', 'build/tests/integration/recording-write')
CTL = BINARIES['ctl']
HEADER_LEN = 120
FRAME_LEN = 5
TAG_LEN = 16

Gst.init(None)


def run(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=60)
    # In sanitizer builds, a report fails the test even where a failure was expected.
    for mark in SANITIZER_MARKS:
        assert mark not in r.stderr, r.stderr
    return r


def rtp(pt, seq, ts, ssrc, stream, payload_len):
    """The packets recording-write.c writes (see its header comment)."""
    head = struct.pack('>BBHII', 0x80, pt, seq & 0xffff, ts & 0xffffffff, ssrc)
    return head + bytes((64 * stream + seq + i) & 0xff for i in range(payload_len))


EXPECTED_AUDIO = [rtp(111, n, 960 * n, 0x11111111, 0, 80) for n in range(500)]
EXPECTED_VIDEO = [rtp(100, n, 3000 * n, 0x22222222, 1, 1000) for n in range(300)]


def chunk_offsets(data):
    """Where each chunk starts, and the end of the file."""
    offsets, at = [], HEADER_LEN
    while at < len(data):
        offsets.append(at)
        at += FRAME_LEN + struct.unpack('>I', data[at + 1:at + 5])[0] + TAG_LEN
    assert at == len(data)
    return offsets + [at]


def pcapparse(path, port, caps=None):
    """Every buffer GStreamer's pcapparse gets out of a pcap for one UDP port."""
    desc = f'filesrc location="{path}" ! pcapparse dst-port={port}'
    if caps:
        desc += f' ! {caps}'
    pipeline = Gst.parse_launch(desc + ' ! appsink name=sink sync=false')
    sink = pipeline.get_by_name('sink')
    pipeline.set_state(Gst.State.PLAYING)
    buffers = []
    while True:
        sample = sink.try_pull_sample(10 * Gst.SECOND)
        if sample is None:
            break
        buf = sample.get_buffer()
        buffers.append((buf.extract_dup(0, buf.get_size()), buf.dts))
    msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is not None:
        raise AssertionError(f'GStreamer error: {msg.parse_error()}')
    return buffers


class Recording(unittest.TestCase):
    def setUp(self):
        self.dir = make_tempdir(prefix='conclave-recording-')
        self.priv = os.path.join(self.dir, 'recording.key')
        self.pub = os.path.join(self.dir, 'recording.pub')
        r = run(CTL, 'recording', 'keygen', self.priv, self.pub)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.key_id = r.stdout.split('key id ')[1].strip()
        self.rec = self.write('conference.ccrec')

    def write(self, name, *extra):
        path = os.path.join(self.dir, name)
        r = run(WRITE, self.pub, path, *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return path

    def variant(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, 'wb') as f:
            f.write(data)
        return path

    def read(self, path):
        with open(path, 'rb') as f:
            return f.read()

    def test_keygen(self):
        self.assertRegex(self.key_id, r'^[0-9a-f]{32}$')
        self.assertEqual(stat.S_IMODE(os.stat(self.priv).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.pub).st_mode), 0o644)
        self.assertIn('BEGIN PRIVATE KEY', self.read(self.priv).decode())
        # The public file is what openssl derives from the private one.
        r = subprocess.run(['openssl', 'pkey', '-in', self.priv, '-pubout'],
                           capture_output=True, text=True, check=True)
        self.assertEqual(r.stdout, self.read(self.pub).decode())
        # Never overwrites either file.
        before = self.read(self.priv)
        r = run(CTL, 'recording', 'keygen', self.priv, os.path.join(self.dir, 'new.pub'))
        self.assertEqual(r.returncode, 1)
        self.assertIn('File exists', r.stderr)
        self.assertEqual(self.read(self.priv), before)
        self.assertFalse(os.path.exists(os.path.join(self.dir, 'new.pub')))
        self.assertEqual(run(CTL, 'recording', 'keygen', self.priv).returncode, 2)

    def test_openssl_key_works(self):
        """A key pair made by openssl alone is as good as keygen's."""
        priv = os.path.join(self.dir, 'openssl.key')
        pub = os.path.join(self.dir, 'openssl.pub')
        subprocess.run(['openssl', 'genpkey', '-algorithm', 'X25519', '-out', priv], check=True)
        os.chmod(priv, 0o600)
        subprocess.run(['openssl', 'pkey', '-in', priv, '-pubout', '-out', pub], check=True)
        rec = os.path.join(self.dir, 'openssl.ccrec')
        self.assertEqual(run(WRITE, pub, rec).returncode, 0)
        r = run(CTL, 'recording', 'verify', '--key', priv, rec)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_verify(self):
        r = run(CTL, 'recording', 'verify', '--key', self.priv, self.rec)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f'{self.rec}: OK, key id {self.key_id}', r.stdout)
        self.assertRegex(r.stdout, r'\d+ chunks, 2 streams, 810 packets \(800 RTP, 10 RTCP\)')
        self.assertNotIn('DAMAGED', r.stdout)

    def test_decrypt_for_gstreamer(self):
        out = os.path.join(self.dir, 'out')
        r = run(CTL, 'recording', 'decrypt', '--key', self.priv, self.rec, '--out', out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o700)
        self.assertEqual(sorted(os.listdir(out)),
                         ['index.json', 'stream-0-audio.pcap', 'stream-1-video.pcap'])
        for name in os.listdir(out):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(out, name)).st_mode), 0o600)
        audio = os.path.join(out, 'stream-0-audio.pcap')
        video = os.path.join(out, 'stream-1-video.pcap')
        # RTP, byte for byte and in order, with the arrival times as timestamps.
        got = pcapparse(audio, 5004)
        self.assertEqual([b for b, _ in got], EXPECTED_AUDIO)
        self.assertEqual([t // 1000 for _, t in got], [20000 * n for n in range(500)])
        self.assertEqual([b for b, _ in pcapparse(video, 5004)], EXPECTED_VIDEO)
        # RTCP on its own port: ten sender reports of the audio SSRC.
        rtcp = [b for b, _ in pcapparse(audio, 5005)]
        self.assertEqual(len(rtcp), 10)
        self.assertTrue(all(b[1] == 200 and b[4:8] == b'\x11\x11\x11\x11' for b in rtcp))
        self.assertEqual(pcapparse(video, 5005), [])
        # A depayloader accepts the stream as RTP.
        opus = pcapparse(audio, 5004, 'application/x-rtp,media=audio,encoding-name=OPUS,'
                         'clock-rate=48000,payload=111 ! rtpopusdepay')
        self.assertEqual([b for b, _ in opus], [p[12:] for p in EXPECTED_AUDIO])
        # And so does the command line an operator would type.
        r = run('gst-launch-1.0', '-q', 'filesrc', f'location={audio}', '!', 'pcapparse',
                'dst-port=5004', '!', 'application/x-rtp,media=audio,encoding-name=OPUS,'
                'clock-rate=48000,payload=111', '!', 'rtpopusdepay', '!', 'fakesink')
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        with open(os.path.join(out, 'index.json')) as f:
            index = json.load(f)
        self.assertEqual(index['format_version'], 1)
        self.assertEqual(index['key_id'], self.key_id)
        self.assertIs(index['complete'], True)
        self.assertIsNone(index['error'])
        self.assertEqual(index['packets'], 810)
        self.assertEqual(index['chunks'], len(chunk_offsets(self.read(self.rec))) - 1)
        self.assertEqual(index['damaged'], [])
        self.assertEqual(index['streams'], [
            {'id': 0, 'kind': 'audio', 'codec': 'opus', 'payload_type': 111,
             'clock_rate': 48000, 'owner': 'occupant-alice', 'ssrc': 0x11111111,
             'pcap': 'stream-0-audio.pcap', 'rtp_packets': 500, 'rtcp_packets': 10,
             'first_time_us': 0, 'last_time_us': 9980001},
            {'id': 1, 'kind': 'video', 'codec': 'VP8', 'payload_type': 100,
             'clock_rate': 90000, 'owner': 'occupant-bob', 'ssrc': 0x22222222,
             'pcap': 'stream-1-video.pcap', 'rtp_packets': 300, 'rtcp_packets': 0,
             'first_time_us': 0, 'last_time_us': 9966666},
        ])
        # Never overwrites an earlier output.
        r = run(CTL, 'recording', 'decrypt', '--key', self.priv, self.rec, '--out', out)
        self.assertEqual(r.returncode, 1)
        self.assertIn('File exists', r.stderr)

    def test_damaged(self):
        rec = self.write('damaged.ccrec', '--damaged')
        r = run(CTL, 'recording', 'verify', '--key', self.priv, rec)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('DAMAGED at 1.000 s: queue overflow: 5 packets dropped', r.stdout)
        out = os.path.join(self.dir, 'damaged-out')
        r = run(CTL, 'recording', 'decrypt', '--key', self.priv, rec, '--out', out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, 'index.json')) as f:
            index = json.load(f)
        self.assertEqual(index['damaged'],
                         [{'time_us': 1000000, 'reason': 'queue overflow: 5 packets dropped'}])

    def verify_fails(self, path, message, key=None):
        r = run(CTL, 'recording', 'verify', '--key', key or self.priv, path)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stderr, f'conclavectl recording verify: {path}: {message}\n')
        return r

    def test_wrong_key(self):
        other = os.path.join(self.dir, 'other.key')
        self.assertEqual(run(CTL, 'recording', 'keygen', other,
                             os.path.join(self.dir, 'other.pub')).returncode, 0)
        r = run(CTL, 'recording', 'verify', '--key', other, self.rec)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, rf'wrong key \(key id {self.key_id} does not match the '
                                   r"private key's [0-9a-f]{32}\)")

    def test_tampering(self):
        data = self.read(self.rec)
        offsets = chunk_offsets(data)
        self.assertGreaterEqual(len(offsets), 5)
        flipped = bytearray(data)
        flipped[offsets[2] + 1000] ^= 0x04
        self.verify_fails(self.variant('flipped.ccrec', flipped),
                          'chunk 2 failed authentication (tampered or reordered)')
        header = bytearray(data)
        header[100] ^= 0x80
        self.verify_fails(self.variant('header.ccrec', header),
                          'data key unwrap failed (header tampered)')
        self.verify_fails(self.variant('appended.ccrec', data + b'\0'),
                          'data after the final chunk (appended or corrupt)')
        self.verify_fails(self.variant('text.ccrec', b'hello, world\n' * 20),
                          'bad magic (not a Conclave recording)')

    def test_truncation(self):
        data = self.read(self.rec)
        offsets = chunk_offsets(data)
        final = len(offsets) - 2
        # Cut exactly where the final chunk starts: what is missing is the final chunk.
        self.verify_fails(self.variant('cut-boundary.ccrec', data[:offsets[final]]),
                          'file ends before its final chunk '
                          f'(truncated after chunk {final - 1})')
        self.verify_fails(self.variant('cut-middle.ccrec', data[:offsets[1] + 500]),
                          'file ends before its final chunk (truncated inside chunk 1)')
        self.verify_fails(self.variant('cut-header.ccrec', data[:64]),
                          'file ends inside its header (truncated)')
        # decrypt keeps what authenticated before the cut, and says it is incomplete.
        cut = self.variant('cut-decrypt.ccrec', data[:offsets[final]])
        out = os.path.join(self.dir, 'cut-out')
        r = run(CTL, 'recording', 'decrypt', '--key', self.priv, cut, '--out', out)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f'(truncated after chunk {final - 1})', r.stderr)
        self.assertIn('marked incomplete', r.stderr)
        with open(os.path.join(out, 'index.json')) as f:
            index = json.load(f)
        self.assertIs(index['complete'], False)
        self.assertIn('truncated', index['error'])
        got = [b for b, _ in pcapparse(os.path.join(out, 'stream-0-audio.pcap'), 5004)]
        self.assertGreater(len(got), 100)
        self.assertEqual(got, EXPECTED_AUDIO[:len(got)])

    def test_bad_usage_and_key_file(self):
        r = run(CTL, 'recording', 'verify', self.rec)
        self.assertEqual(r.returncode, 2)
        self.assertIn('expected --key PRIV FILE', r.stderr)
        r = run(CTL, 'recording', 'decrypt', '--key', self.priv, self.rec)
        self.assertEqual(r.returncode, 2)
        self.assertIn('--out DIR', r.stderr)
        r = run(CTL, 'recording', 'frobnicate')
        self.assertEqual(r.returncode, 2)
        self.assertIn('expected keygen, verify or decrypt', r.stderr)
        # The private key must be private; the public one is not a private key.
        shutil.copy(self.priv, os.path.join(self.dir, 'loose.key'))
        os.chmod(os.path.join(self.dir, 'loose.key'), 0o644)
        r = run(CTL, 'recording', 'verify', '--key', os.path.join(self.dir, 'loose.key'),
                self.rec)
        self.assertEqual(r.returncode, 1)
        self.assertIn('chmod 600', r.stderr)
        pub_copy = os.path.join(self.dir, 'public-as-private.key')
        shutil.copy(self.pub, pub_copy)
        os.chmod(pub_copy, 0o600)
        r = run(CTL, 'recording', 'verify', '--key', pub_copy, self.rec)
        self.assertEqual(r.returncode, 1)
        self.assertIn('not an unencrypted PEM private key', r.stderr)


if __name__ == '__main__':
    tap.main(Recording)
