#!/usr/bin/python3
"""End-to-end encryption of media frames in the browser client (web/src/e2ee/), in headless
Chromium: senders and receivers are pairs of RTCPeerConnections inside one page
(tests/web/e2ee/: the page, and a playwright-core driver that bundles the page and the
worker with esbuild and serves them on 127.0.0.1), connected over loopback with no server.
The senders send Chromium's fake camera (180p) and microphone (a beep).

  alice (E2EE, passphrase P) -> bob (P), carol (another passphrase), dave (P, never rotates)
  erin (E2EE off)            -> frank (E2EE on, P), gina (E2EE off)
  alice, attached after negotiation -> hank (P)

Checked, one TAP point each: with the same passphrase video decodes and audio plays, the
frame counters rise and a sent frame differs from the encoder's output after its clear
codec header; with another passphrase nothing is decoded and the failures name the
sender; a receiver with E2EE on drops a sender's clear frames; after rotate() on alice and
bob video keeps decoding with key id 1 and no failure, while dave, who did not rotate
(it joined late or missed a departure), fails once alice switches keys, until a frame under
the next key authenticates and it catches up to key 1; with E2EE off on both ends media flows untouched and every
counter stays at zero; a frame with any byte changed, or cut short, fails, and keys depend
on the room name; E2EE turned on during the call (erin, gina) takes effect; senders
attached after negotiation (which Chromium lets send around the transform) are found and
stopped. Every checked ICE path is on 127.0.0.1 at both ends.

The test runs in a private network namespace with only loopback. The web client's
node_modules (esbuild, playwright-core) are installed by web/build.sh first, outside it,
when they are missing (the npm registry is needed only then)."""

import os
import shutil
import subprocess

from conclave_harness import netns

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT', os.path.join(HERE, '..', '..'))
WEB = os.path.join(ROOT, 'web')
DRIVER = os.path.join(ROOT, 'tests', 'web', 'e2ee', 'driver.mjs')


def _modules_present():
    return all(os.path.isfile(os.path.join(WEB, 'node_modules', m, 'package.json'))
               for m in ('esbuild', 'playwright-core'))


def _install_modules():
    """Outside the namespace: the web client's npm packages, if missing."""
    if _modules_present():
        return None
    return netns.run_setup([os.path.join(WEB, 'build.sh')], 'web/build.sh')


if __name__ == '__main__':
    netns.enter(__file__, prepare=_install_modules)

import json  # noqa: E402
import queue  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402

PASSPHRASE = 'correct horse battery staple'
OTHER_PASSPHRASE = 'incorrect horse battery staple'
MEDIA_TIMEOUT = 30.0  # connections made -> decoded frames and audio rising (slow when loaded)
WINDOW = 2.0  # seconds over which counters must rise (or stay still)
MIN_FRAMES = 6  # decoded video frames per window (the fake camera sends 15 per second)
POLL = 0.5
CLEAR_LENGTHS = {('video', 'key'): 10, ('video', 'delta'): 3, ('audio', None): 1}
TRAILER = 12 + 3  # IV, clear length, key id, version
TAG = 16
SWITCH_DELAY = 1.0  # web/src/e2ee/keys.js: SEND_SWITCH_DELAY_MS
GRACE = 5.0  # web/src/e2ee/keys.js: PREVIOUS_KEY_GRACE_MS


class DriverError(RuntimeError):
    pass


class Page:
    """tests/web/e2ee/driver.mjs: one Chromium page, driven over JSON lines."""

    def __init__(self):
        self.dir = make_tempdir(prefix='conclave-web-e2ee-')
        node = shutil.which('node')
        if node is None:
            raise DriverError('node not found on PATH (deploy/install-deps.sh --tests)')
        self.stderr_path = os.path.join(self.dir, 'driver.stderr')
        self.proc = subprocess.Popen(
            [node, DRIVER], cwd=os.path.dirname(DRIVER), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=open(self.stderr_path, 'ab'), text=True,
            start_new_session=True)
        procs.add_cleanup(self.kill)
        self.lock = threading.Lock()
        self.next_id = 1
        self.lines = queue.Queue()  # the driver's stdout, one JSON message (or None at exit)
        threading.Thread(target=self._read_all, daemon=True).start()
        hello = self._next(60.0)
        if hello is None or hello.get('event') != 'ready':
            raise DriverError(f'the driver did not start: {hello} {self.stderr_text()}')
        if not hello.get('secure'):
            raise DriverError('the test page is not a secure context: no WebCrypto')
        procs.log('e2ee page: Chromium %s on %s', hello.get('version'), hello.get('url'))

    def _read_all(self):
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                continue
        self.lines.put(None)

    def _next(self, timeout):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def stderr_text(self):
        with open(self.stderr_path, errors='replace') as f:
            return f.read()[-3000:]

    def call(self, fn, *args, timeout=20.0):
        with self.lock:
            rid = self.next_id
            self.next_id += 1
            self.proc.stdin.write(json.dumps(
                {'id': rid, 'cmd': 'call', 'fn': fn, 'args': list(args), 'timeout': timeout})
                + '\n')
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout + 5
            reply = None
            while reply is None or reply.get('id') != rid:  # skips answers to earlier calls
                left = deadline - time.monotonic()
                reply = self._next(left) if left > 0 else None
                if reply is None:
                    raise DriverError(f'{fn}: no answer from the driver: {self.stderr_text()}')
        if not reply.get('ok'):
            raise DriverError(f'{fn}{list(args)}: {reply.get("error")}')
        return reply.get('result')

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, 9)
                self.proc.wait()


def video(snap, name, key):
    return (snap['receivers'][name]['video'] or {}).get(key, 0)


def audio(snap, name, key):
    return (snap['receivers'][name]['audio'] or {}).get(key, 0)


def module(snap, name):
    return snap['modules'][name]


class WebE2EE(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        problem = netns.problem()
        if problem:
            raise RuntimeError(problem)
        cls.page = Page()
        started = time.monotonic()
        cls.api = cls.page.call('addSender', 'alice', {'passphrase': PASSPHRASE}, timeout=120.0)
        cls.page.call('addSender', 'erin', {})
        for name, sender, options in (
                ('bob', 'alice', {'passphrase': PASSPHRASE}),
                ('carol', 'alice', {'passphrase': OTHER_PASSPHRASE}),
                ('dave', 'alice', {'passphrase': PASSPHRASE}),
                ('frank', 'erin', {'passphrase': PASSPHRASE}),
                ('gina', 'erin', {}),
                ('hank', 'alice', {'passphrase': PASSPHRASE, 'lateAttach': True})):
            cls.page.call('addReceiver', name, sender, options, timeout=120.0)
        tap.diag(f'page set up in {time.monotonic() - started:.1f} s '
                 f'(PBKDF2 included), API {cls.api}')

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, 'page', None):
            cls.page.kill()

    def stats(self, with_paths=False):
        return self.page.call('stats', with_paths, timeout=30.0)

    def explain(self, snap, names):
        lines = []
        for name in names:
            if name in snap['receivers']:
                r = snap['receivers'][name]
                lines.append(f'{name}: video {r["video"]} audio {r["audio"]} paths {r["paths"]}')
            if name in snap['modules']:
                lines.append(f'{name} e2ee: {snap["modules"][name]}')
        lines.append('driver stderr: ' + self.page.stderr_text()[-1500:])
        return '\n'.join(lines)

    def wait_rising(self, name, checks, timeout=MEDIA_TIMEOUT, window=WINDOW, during=None):
        """Polls until every `checks` (label -> (fn(snap), minimum rise)) rose by its minimum
        within one window, calling `during(snap)` on every sample. Returns the last sample."""
        deadline = time.monotonic() + timeout
        start_snap, start_t = self.stats(), time.monotonic()
        while True:
            time.sleep(POLL)
            snap = self.stats()
            if during:
                during(snap)
            rises = {label: fn(snap) - fn(start_snap) for label, (fn, _) in checks.items()}
            if all(rises[label] >= need for label, (_, need) in checks.items()):
                return snap
            now = time.monotonic()
            if now > deadline:
                self.fail(f'{name}: not rising in {timeout} s: {rises}\n'
                          + self.explain(snap, [name]))
            if now - start_t >= window:
                start_snap, start_t = snap, now

    def assertLoopback(self, names):
        snap = self.stats(with_paths=True)
        for name in names:
            paths = snap['receivers'][name]['paths']
            self.assertEqual(paths, ['127.0.0.1', '127.0.0.1'],
                             f'{name}: selected ICE paths (sending, receiving ends)')

    def assertSealed(self, frame):
        """A captured sent frame: the clear codec header is kept, the rest is ciphertext."""
        kind, ftype = frame['kind'], frame['frameType'] if frame['kind'] == 'video' else None
        clear = CLEAR_LENGTHS[(kind, ftype)]
        self.assertEqual(frame['clear'], clear, f'clear bytes of a {kind} {ftype} frame')
        self.assertEqual(frame['lengthAfter'], frame['lengthBefore'] + TAG + TRAILER)
        before, after = bytes.fromhex(frame['before']), bytes.fromhex(frame['after'])
        self.assertEqual(after[:clear], before[:clear], 'the codec header stays in clear')
        body = min(len(before), len(after)) - clear
        self.assertGreaterEqual(body, 16, frame)
        same = sum(a == b for a, b in zip(before[clear:], after[clear:]))
        self.assertLess(same, body // 4, f'the payload after the header is not encrypted: {frame}')

    def test_1_same_passphrase_media_flows_encrypted(self):
        snap = self.wait_rising('bob', {
            'video frames decoded': (lambda s: video(s, 'bob', 'framesDecoded'), MIN_FRAMES),
            'audio energy': (lambda s: audio(s, 'bob', 'totalAudioEnergy'), 1e-4),
            'video decrypted': (lambda s: module(s, 'bob')['byKind']['video']['decrypted'],
                                MIN_FRAMES),
            'audio decrypted': (lambda s: module(s, 'bob')['byKind']['audio']['decrypted'], 20),
            'alice encrypted': (lambda s: module(s, 'alice')['framesEncrypted'], MIN_FRAMES),
        })
        tap.diag(f'bob: {video(snap, "bob", "framesDecoded")} video frames decoded, '
                 f'{module(snap, "bob")["framesDecrypted"]} frames decrypted')
        self.assertEqual(module(snap, 'bob')['decryptFailures'], 0, self.explain(snap, ['bob']))
        self.assertEqual(module(snap, 'alice')['api'], 'RTCRtpScriptTransform')
        for kind in ('video', 'audio'):
            frame = self.page.call('capture', 'alice', kind, 24)
            self.assertSealed(frame)
            self.assertEqual(frame['keyId'], 0)
        self.assertLoopback(['bob'])

    def test_2_other_passphrase_decodes_nothing(self):
        def never_decoded(snap):
            self.assertEqual(video(snap, 'carol', 'framesDecoded'), 0,
                             'carol decoded video without the passphrase\n'
                             + self.explain(snap, ['carol']))
            self.assertEqual(module(snap, 'carol')['framesDecrypted'], 0)

        snap = self.wait_rising('carol', {
            'video packets': (lambda s: video(s, 'carol', 'packetsReceived'), 10),
            'failures': (lambda s: module(s, 'carol')['decryptFailures'], MIN_FRAMES),
            'alice failures': (lambda s: module(s, 'carol')['failuresByNick'].get('alice', 0),
                               MIN_FRAMES),
        }, during=never_decoded)
        carol = module(snap, 'carol')
        self.assertEqual(list(carol['failuresByNick']), ['alice'])
        self.assertEqual(list(carol['failuresByReason']), ['authentication'])
        self.assertGreater(carol['byKind']['audio']['failed'], 0)
        self.assertLoopback(['carol'])

    def test_3_clear_frames_are_dropped_when_e2ee_is_on(self):
        def never_decoded(snap):
            self.assertEqual(video(snap, 'frank', 'framesDecoded'), 0,
                             'frank decoded a clear frame with E2EE on\n'
                             + self.explain(snap, ['frank']))
            self.assertEqual(module(snap, 'frank')['framesDecrypted'], 0)

        snap = self.wait_rising('frank', {
            'video packets': (lambda s: video(s, 'frank', 'packetsReceived'), 10),
            'erin failures': (lambda s: module(s, 'frank')['failuresByNick'].get('erin', 0),
                              MIN_FRAMES),
            'audio failures': (lambda s: module(s, 'frank')['byKind']['audio']['failed'], 20),
        }, during=never_decoded)
        frank = module(snap, 'frank')
        self.assertEqual(list(frank['failuresByNick']), ['erin'])
        # A clear frame whose last byte happens to be the format version reads as a frame
        # under an unknown key, or fails authentication: rare, but counted all the same.
        reasons = frank['failuresByReason']
        self.assertLessEqual(set(reasons), {'not-encrypted', 'too-short', 'unknown-key',
                                            'authentication'}, reasons)
        self.assertGreater(reasons.get('not-encrypted', 0), sum(reasons.values()) // 2, reasons)
        self.assertEqual(module(snap, 'erin')['framesEncrypted'], 0)

    def test_4_rotation_keeps_media_and_a_late_receiver_catches_up(self):
        before = self.wait_rising('bob', {
            'video frames decoded': (lambda s: video(s, 'bob', 'framesDecoded'), MIN_FRAMES)})
        bob_failures = module(before, 'bob')['decryptFailures']
        dave_failures = module(before, 'dave')['decryptFailures']
        self.assertEqual(dave_failures, 0, self.explain(before, ['dave']))
        # bob first: each side rotates on its own when it hears someone left; alice sends
        # with the old key for another second, bob accepts it for five.
        rotated_at = time.monotonic()
        key_ids = self.page.call('rotate', ['bob', 'alice'])
        self.assertEqual(key_ids, {'alice': 1, 'bob': 1})
        tap.diag(f'rotate() on both took {time.monotonic() - rotated_at:.2f} s')

        def bob_clean(snap):
            self.assertEqual(module(snap, 'bob')['decryptFailures'], bob_failures,
                             'bob failed to decrypt after rotating\n' + self.explain(snap, ['bob']))

        # dave still holds key 0 only: once alice switches to key 1, its frames fail (as
        # unknown-key) until it has derived key 1 and a frame under it authenticated; then it
        # is on key 1 too.
        deadline = time.monotonic() + MEDIA_TIMEOUT
        while True:
            snap = self.stats()
            bob_clean(snap)
            if module(snap, 'dave')['keyId'] == 1 or time.monotonic() > deadline:
                break
            time.sleep(POLL)
        self.assertEqual(module(snap, 'dave')['keyId'], 1, self.explain(snap, ['dave']))
        self.assertLessEqual(set(module(snap, 'dave')['failuresByReason']), {'unknown-key'})
        frame = self.page.call('capture', 'alice', 'video', 24)
        self.assertEqual(frame['keyId'], 1)
        self.assertSealed(frame)
        # Past the grace period bob holds key 1 only, and keeps decoding without a failure.
        while time.monotonic() < rotated_at + GRACE:
            bob_clean(self.stats())
            time.sleep(POLL)
        snap = self.wait_rising('bob', {
            'video frames decoded': (lambda s: video(s, 'bob', 'framesDecoded'), MIN_FRAMES),
            'audio decrypted': (lambda s: module(s, 'bob')['byKind']['audio']['decrypted'], 20),
        }, during=bob_clean)
        self.assertEqual(module(snap, 'bob')['keyId'], 1)
        snap = self.wait_rising('dave', {
            'video decrypted again': (lambda s: module(s, 'dave')['byKind']['video']['decrypted'],
                                      MIN_FRAMES)})
        self.assertEqual(module(snap, 'dave')['keyId'], 1, self.explain(snap, ['dave']))

    def test_6_damaged_frames_fail(self):
        # Three PBKDF2 derivations in the page: seconds on a loaded machine.
        checks = self.page.call('formatChecks', timeout=120.0)
        tap.diag(f'one key derivation (PBKDF2, 600,000 iterations): {checks["deriveMs"]} ms')
        self.assertEqual(checks['results'], {
            'intact': 'ok',  # and the room name compares case-insensitively
            'nextEpochKey': 'authentication',
            'otherRoomKey': 'authentication',
            'flipped clearHeader': 'authentication',
            'flipped ciphertext': 'authentication',
            'flipped tag': 'authentication',
            'flipped iv': 'authentication',
            'flipped clearLength': 'authentication',
            'flipped keyId': 'authentication',
            'flipped version': 'not-encrypted',
            'truncatedBelow31': 'too-short',
            'truncatedTail': 'not-encrypted',
            'distinctIvs': 1000,
        })

    def test_5_e2ee_off_on_both_ends_leaves_media_untouched(self):
        snap = self.wait_rising('gina', {
            'video frames decoded': (lambda s: video(s, 'gina', 'framesDecoded'), MIN_FRAMES),
            'audio energy': (lambda s: audio(s, 'gina', 'totalAudioEnergy'), 1e-4),
        })
        for name in ('erin', 'gina'):
            m = module(snap, name)
            self.assertFalse(m['enabled'])
            # A transform is in place (so E2EE can be turned on later) and lets frames by.
            self.assertGreater(m['framesPassed'], 0, name)
            for counter in ('framesEncrypted', 'framesDecrypted', 'decryptFailures'):
                self.assertEqual(m[counter], 0, f'{name}: {counter}')
            self.assertEqual(m['failuresByNick'], {})
        self.assertLoopback(['gina', 'frank'])

    def test_7_e2ee_turned_on_during_the_call(self):
        self.page.call('enable', 'gina', PASSPHRASE)
        self.page.call('enable', 'erin', PASSPHRASE)
        snap = self.stats()
        gina_failures = module(snap, 'gina')['decryptFailures']
        frank_failures = module(snap, 'frank')['decryptFailures']
        # erin sends audio and video to frank and gina; gina receives both.
        for name, transforms in (('erin', 4), ('gina', 2)):
            self.assertTrue(module(snap, name)['enabled'])
            self.assertEqual(module(snap, name)['transforms'], transforms, name)
        # Frames already on their way when the two switched may fail; after that, none.
        snap = self.wait_rising('gina', {
            'video frames decoded': (lambda s: video(s, 'gina', 'framesDecoded'), MIN_FRAMES),
            'video decrypted': (lambda s: module(s, 'gina')['byKind']['video']['decrypted'],
                                MIN_FRAMES),
            'frank decoded': (lambda s: video(s, 'frank', 'framesDecoded'), MIN_FRAMES),
            'audio energy': (lambda s: audio(s, 'frank', 'totalAudioEnergy'), 1e-4),
        })
        settled = {n: module(snap, n)['decryptFailures'] for n in ('gina', 'frank')}
        tap.diag(f'failures while switching on: gina {settled["gina"] - gina_failures}, '
                 f'frank {settled["frank"] - frank_failures}')

        def no_new_failures(s):
            for n, count in settled.items():
                self.assertEqual(module(s, n)['decryptFailures'], count, self.explain(s, [n]))

        self.wait_rising('gina', {
            'video frames decoded': (lambda s: video(s, 'gina', 'framesDecoded'), MIN_FRAMES),
            'frank decoded': (lambda s: video(s, 'frank', 'framesDecoded'), MIN_FRAMES),
        }, during=no_new_failures)
        self.assertGreater(module(self.stats(), 'erin')['framesEncrypted'], 0)

    def test_8_a_sender_attached_too_late_is_stopped(self):
        """Chromium sends frames around a transform set after negotiation: the module finds
        such senders (alice's to hank, checked every 2 s) and takes their tracks away rather
        than send clear media."""
        deadline = time.monotonic() + MEDIA_TIMEOUT
        snap = self.stats()
        while module(snap, 'alice')['unprotectedSenders'] < 2:
            if time.monotonic() > deadline:
                self.fail('the late senders were not found\n'
                          + self.explain(snap, ['alice', 'hank']))
            time.sleep(POLL)
            snap = self.stats()
        self.assertEqual(module(snap, 'alice')['unprotectedSenders'], 2)
        # What reached hank before the tracks were removed was clear, and dropped.
        hank = module(snap, 'hank')
        self.assertEqual(hank['framesDecrypted'], 0)
        self.assertEqual(video(snap, 'hank', 'framesDecoded'), 0)
        reasons = hank['failuresByReason']
        self.assertGreater(reasons.get('not-encrypted', 0), sum(reasons.values()) // 2, hank)
        stopped = False
        while not stopped and time.monotonic() < deadline + MEDIA_TIMEOUT:
            before = snap
            time.sleep(WINDOW)
            snap = self.stats()
            stopped = (video(snap, 'hank', 'packetsReceived')
                       == video(before, 'hank', 'packetsReceived'))
        self.assertTrue(stopped, 'alice still sends video to hank\n' + self.explain(snap, ['hank']))

if __name__ == '__main__':
    tap.main(WebE2EE)
