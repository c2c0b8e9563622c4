#!/usr/bin/python3
"""An unmodified lib-jitsi-meet in headless Chromium against Conclave: a real Prosody with XMPP
over WebSocket and an anonymous domain, the focus, two bridges, and browser pages
(tests/jitsi/: the published lib-jitsi-meet bundle, a small page that watches it, and a
playwright-core driver) that log in anonymously, send the `conference` request to the
focus, join a room and take the focus's Jingle as Jitsi Meet would. Each page sends
Chromium's fake camera (180p, no simulcast) and microphone (a beep).

Checked, one TAP point each: three participants get each other's audio and video through
the bridge (getStats: inbound bytes and decoded frames rise); dominant speaker changes
arrive over the bridge channel; an endpoint message reaches the others over it; the
room's owner records the conference with lib-jitsi-meet's own recording API (the Jibri IQ
to the focus; a participant's attempt is refused), every page sees the recorder turn 'on'
and, after the owner's stop, 'off', and the bridge (both record) wrote one file that
`conclavectl recording verify` accepts, with each participant's Opus and VP8 owned by its
occupant id; a participant who leaves takes its tracks away for the others; when the
bridge carrying the conference is killed (kill -9) the browsers are moved to the other one
and media flows again; a 1:1 with P2P enabled goes browser to browser with nothing
forwarded by the bridge, and a third participant turns it back into a bridged conference.
Every selected ICE path is checked to be 127.0.0.1 at both ends.

The whole test runs in a private network namespace with only loopback: every ICE candidate,
the bridges' and the browsers' (peer-to-peer included), is on 127.0.0.1, and nothing can
leave the machine. tests/jitsi/setup.sh (npm ci, and the lib-jitsi-meet bundle checked
against a pinned hash) runs first, outside it, and needs the npm registry only the first
time. The browsers' console, XMPP frames and bridge-channel frames are kept in the test's
folder and quoted when a check fails."""

import os
import shutil
import signal
import subprocess
import sys

from conclave_harness import netns
import time

HERE = os.path.dirname(os.path.abspath(__file__))
JITSI = os.path.join(os.environ.get('CONCLAVE_SOURCE_ROOT', os.path.join(HERE, '..', '..')),
                     'tests', 'jitsi')


def _fetch_client():
    """Outside the namespace: the client side's files (network for the first run only)."""
    return netns.run_setup([os.path.join(JITSI, 'setup.sh')], 'tests/jitsi/setup.sh')


if __name__ == '__main__':
    netns.enter(__file__, prepare=_fetch_client)

import json  # noqa: E402
import queue  # noqa: E402
import threading  # noqa: E402
import unittest  # noqa: E402

from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from conclave_daemons import BINARIES, Daemon  # noqa: E402
from conclave_media import parse_metrics  # noqa: E402
from conclave_recording import run  # noqa: E402

FOCUS = 'conference.localhost'
GUEST = 'guest.localhost'  # Prosody's anonymous domain, allowed to create rooms here
B1, B2 = 'bridge1.localhost', 'bridge2.localhost'
ROOM, P2P_ROOM = 'browsers', 'browsers-p2p'

JOIN_TIMEOUT = 40.0  # page opened -> every participant's audio and video tracks
MEDIA_TIMEOUT = 25.0  # tracks there -> bytes and frames rising
FAILOVER_LIMIT = 30.0  # kill -9 -> media rising again on the other bridge
RECORD_PACKETS = 150  # RTP and RTCP packets recorded before the recording stops
WINDOW = 2.0  # seconds over which counters must rise
MIN_BYTES = {'audio': 800, 'video': 4000}
MIN_FRAMES = 8  # decoded video frames per window (the fake camera sends 15 per second)

# What a page's console shows about how far it got, in order.
MILESTONES = (
    ('conference request answered', 'Focus jid set to'),
    ('MUC joined', '(TIME) MUC joined'),
    ('session-initiate received', 'received session-initiate'),
    ('session-initiate REFUSED', 'Rejecting session-initiate from non-focus'),
    ('session-accept sent', 'Sending session-accept'),
    ('ICE connected (bridge)', '(TIME) ICE connected JVB'),
    ('ICE connected (p2p)', '(TIME) ICE connected P2P'),
    ('bridge channel opened', 'websocket channel opened'),
)


class DriverError(RuntimeError):
    pass


class Browsers:
    """tests/jitsi/driver.mjs: one Chromium, one page per participant, driven over JSON
    lines. Its logs (console.log, xmpp.log, channel.log) are in `dir`."""

    def __init__(self):
        kept = os.environ.get('CONCLAVE_JITSI_LOG_DIR')
        if kept:  # logs to keep after the test (the temporary folder goes)
            os.makedirs(kept, exist_ok=True)
            self.dir = os.path.realpath(kept)
        else:
            self.dir = make_tempdir(prefix='conclave-jitsi-browsers-')
        node = shutil.which('node')
        if node is None:
            raise DriverError('node not found on PATH (deploy/install-deps.sh --tests)')
        self.stderr = open(os.path.join(self.dir, 'driver.stderr'), 'ab')
        self.proc = subprocess.Popen(
            [node, os.path.join(JITSI, 'driver.mjs'), '--log-dir', self.dir],
            cwd=JITSI, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            text=True, start_new_session=True)
        procs.add_cleanup(self.kill)
        self.replies = {}
        self.cond = threading.Condition()
        self.next_id = 1
        self.ready = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            hello = self.ready.get(timeout=60)
        except queue.Empty:
            raise DriverError(f'the driver did not start: {self.stderr_text()}') from None
        if hello is None:
            raise DriverError(f'the driver exited: {self.stderr_text()}')
        procs.log('browsers: Chromium %s, page on %s, logs in %s', hello.get('version'),
                  hello.get('url'), self.dir)
        self.pages = {}  # name -> query

    def _read(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get('event') == 'ready':
                self.ready.put(msg)
                continue
            with self.cond:
                self.replies[msg.get('id')] = msg
                self.cond.notify_all()
        self.ready.put(None)
        with self.cond:
            self.replies[None] = {'ok': False, 'error': 'the driver exited'}
            self.cond.notify_all()

    def stderr_text(self):
        with open(os.path.join(self.dir, 'driver.stderr'), errors='replace') as f:
            return f.read()[-3000:]

    def request(self, cmd, timeout=20.0, **kw):
        with self.cond:
            rid = self.next_id
            self.next_id += 1
        self.proc.stdin.write(json.dumps(dict(kw, id=rid, cmd=cmd, timeout=timeout)) + '\n')
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout + 5
        with self.cond:
            while rid not in self.replies and None not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DriverError(f'{cmd}: the driver did not answer in {timeout + 5} s')
                self.cond.wait(left)
            reply = self.replies.pop(rid, None) or self.replies[None]
        if not reply.get('ok'):
            raise DriverError(f'{cmd} {kw}: {reply.get("error")}')
        return reply.get('result')

    def open(self, name, **query):
        self.request('open', page=name, query=query)
        self.pages[name] = query

    def call(self, name, fn, *args, timeout=15.0):
        return self.request('call', page=name, fn=fn, args=list(args), timeout=timeout)

    def snapshot(self, name):
        return self.call(name, 'snapshot')

    def close(self, name):
        self.pages.pop(name, None)
        return self.request('close', page=name)

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({'id': 0, 'cmd': 'quit'}) + '\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(15)
            except Exception:  # noqa: BLE001 - killed below
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._sweep()
        self.stderr.close()

    def _sweep(self):
        """Chromium runs in its own process group: any process still using our profile
        (under self.dir) is one we started."""
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmdline = f.read()
            except OSError:
                continue
            if self.dir.encode() in cmdline:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass

    # -- what the pages saw -------------------------------------------------------------

    def console(self, name=None, contains=None):
        try:
            with open(os.path.join(self.dir, 'console.log'), errors='replace') as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [x for x in lines
                if (name is None or f'[{name}]' in x) and (contains is None or contains in x)]

    def milestones(self, name):
        lines = self.console(name)
        return [label for label, marker in MILESTONES if any(marker in x for x in lines)]

    def explain(self, names, tail=25):
        """How far each page got, its errors, and the end of its console."""
        out = []
        for name in names:
            out.append(f'== {name}: reached {self.milestones(name)}')
            if name in self.pages:
                try:
                    snap = self.snapshot(name)
                    out.append(f'   state: {summary(snap)}')
                except DriverError as e:
                    out.append(f'   no snapshot: {e}')
            worrying = [x for x in self.console(name)
                        if ': error:' in x or ': warning:' in x or 'pageerror' in x
                        or 'requestfailed' in x]
            out += ['   ' + x[:400] for x in worrying[-tail:]]
            out.append('   -- last console lines:')
            out += ['   ' + x[:400] for x in self.console(name)[-tail:]]
        return '\n'.join(out)


def summary(snap):
    stats = {}
    for pc in ('jvb', 'p2p'):
        s = (snap.get('stats') or {}).get(pc)
        if s:
            stats[pc] = {'ice': s.get('state'), 'total': s.get('total'),
                         'from': {k: {kind: (v['bytes'], v['frames']) for kind, v in x.items()}
                                  for k, x in s.get('participants', {}).items()}}
    return json.dumps({
        'phase': snap.get('phase'), 'id': snap.get('myId'), 'errors': snap.get('errors'),
        'participants': snap.get('participants'), 'p2p': snap.get('p2pActive'),
        'jvbSession': snap.get('jvbSession'), 'channel': snap.get('bridgeChannelOpen'),
        'stats': stats, 'dominant': snap.get('dominant', [])[-3:],
        'messages': len(snap.get('messages', []))})


def metric_sum(daemon, name, labels=None):
    """Sum of a counter over all its labels (or those with `labels` in the key); None if
    the daemon does not answer."""
    try:
        values = parse_metrics(daemon.metrics())
    except OSError:
        return None
    return sum(v for k, v in values.items()
               if (k == name or k.startswith(name + '{')) and (labels is None or labels in k))


class JitsiClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.browsers = None
        cls.daemons = []
        problem = netns.problem()
        if problem:
            raise RuntimeError(problem)
        # Both bridges record (the conference may be on either), each into its own folder,
        # to one operator key.
        cls.rec_root = make_tempdir(prefix='conclave-jitsi-recordings-')
        cls.rec_key = os.path.join(cls.rec_root, 'operator.key')
        rec_pub = os.path.join(cls.rec_root, 'operator.pub')
        r = run(BINARIES['ctl'], 'recording', 'keygen', cls.rec_key, rec_pub)
        if r.returncode != 0:
            raise RuntimeError(f'conclavectl recording keygen: {r.stdout}{r.stderr}')
        cls.rec_dirs = {}
        for domain in (B1, B2):
            cls.rec_dirs[domain] = os.path.join(cls.rec_root, domain)
            os.mkdir(cls.rec_dirs[domain], 0o700)
        cls.prosody = Prosody(components={FOCUS: 'f', B1: 'b1', B2: 'b2'}, guest_domain=GUEST,
                              websocket=True)
        cls.prosody.start()
        cls.focus = Daemon(
            'focus', FOCUS, 'f', cls.prosody.component_port,
            # Jitsi clients ignore occupants whose presence has no real JID (docs/clients.md).
            extra=f'[focus]\nbridges = {B1}, {B2}\nbridge_check_interval_s = 1\n'
                  f'[security]\nauthenticated_domains = {GUEST}\n'
                  '[muc]\ndefault_whois = anyone\n').start()
        cls.daemons.append(cls.focus)
        base = 30000 + procs.free_port() % 20000
        cls.bridges = {}
        for i, (domain, secret) in enumerate(((B1, 'b1'), (B2, 'b2'))):
            port = base + 100 * i
            d = Daemon('bridge', domain, secret, cls.prosody.component_port,
                       extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                             f'port_max = {port + 60}\nworkers = 1\n'
                             f'[colibri]\ntrusted = {FOCUS}\n'
                             f'[recording]\ndir = {cls.rec_dirs[domain]}\n'
                             f'public_key = {rec_pub}\n').start()
            cls.daemons.append(d)
            cls.bridges[domain] = d
        for d in cls.bridges.values():
            d.wait_health(200, timeout=20)
        cls.focus.wait_health(200, timeout=20)
        procs.wait_until(
            lambda: metric_sum(cls.focus, 'conclave_focus_bridges_available') == 2,
            timeout=20, message='the focus never had both bridges available')
        cls.browsers = Browsers()
        cls.t0 = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        if cls.browsers is not None:
            cls.browsers.kill()
            procs.log('browsers: logs were in %s', cls.browsers.dir)
        for d in cls.daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        cls.prosody.stop()

    def tearDown(self):
        if self.browsers is not None:
            procs.log('%s: %.1f s into the test', self.id().rsplit('.', 1)[-1],
                      time.monotonic() - self.t0)

    # -- helpers ------------------------------------------------------------------------

    def open(self, name, room=ROOM, p2p=False):
        self.browsers.open(name, ws=self.prosody.websocket_url, domain=GUEST, muc=FOCUS,
                           focus=FOCUS, room=room, p2p='1' if p2p else '0')

    def fail_with(self, message, names):
        """Fails with `message` and how far each page got; the pages' states and console
        ends, and the end of the focus's log, go to stderr."""
        print(f'{message}\n{self.browsers.explain(names)}', file=sys.stderr)
        focus_log = self.focus.log_text().splitlines()
        print('-- focus log (end):\n' + '\n'.join(focus_log[-40:]), file=sys.stderr)
        reached = '\n'.join(f'{n} reached {self.browsers.milestones(n)}' for n in names)
        self.fail(f'{message}\n{reached}')

    def wait_joined(self, names, timeout=JOIN_TIMEOUT):
        """Every page is in the room and has the audio and video tracks of every other;
        returns {name: participant id}."""
        deadline = time.monotonic() + timeout
        problems = ['nothing checked yet']
        while time.monotonic() < deadline:
            snaps = {n: self.browsers.snapshot(n) for n in names}
            ids = {n: s['myId'] for n, s in snaps.items()}
            problems = []
            for n, s in snaps.items():
                if s['phase'] == 'failed':
                    errors = list(dict.fromkeys(e['text'] for e in s['errors']))
                    self.fail_with(f'{n} failed: {errors}', names)
                if s['phase'] != 'joined':
                    problems.append(f'{n} is {s["phase"]} (errors: {s["errors"]})')
                    continue
                for m in names:
                    if m == n:
                        continue
                    tracks = (s['participants'].get(ids[m]) or {}).get('tracks')
                    if tracks is None:
                        problems.append(f'{n} does not see {m} in the room')
                    elif sorted(tracks) != ['audio', 'video']:
                        problems.append(f'{n} has tracks {tracks} of {m}')
            if not problems:
                return ids
            time.sleep(0.5)
        self.fail_with(f'not everyone is in with tracks after {timeout:.0f} s: {problems}', names)

    def media(self, snap, pc, sender_id, kind):
        s = (snap.get('stats') or {}).get(pc) or {}
        return (s.get('participants') or {}).get(sender_id, {}).get(kind)

    def wait_media(self, names, pc='jvb', timeout=MEDIA_TIMEOUT, what='media'):
        """Every page receives every other's audio and video on its `pc` peer connection
        ('jvb' or 'p2p'): inbound bytes, and decoded frames for video, rise over WINDOW
        seconds. Returns the time it took."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        problems = ['nothing checked yet']
        while time.monotonic() < deadline:
            before = {n: self.browsers.snapshot(n) for n in names}
            time.sleep(WINDOW)
            after = {n: self.browsers.snapshot(n) for n in names}
            ids = {n: s['myId'] for n, s in after.items()}
            problems, rates = [], []
            for n in names:
                for m in names:
                    if m == n:
                        continue
                    for kind in ('audio', 'video'):
                        a = self.media(before[n], pc, ids[m], kind)
                        b = self.media(after[n], pc, ids[m], kind)
                        if b is None:
                            problems.append(f'{n} has no {kind} stream of {m} on {pc}')
                            continue
                        if a is None or a['trackId'] != b['trackId']:
                            problems.append(f'{n}: {kind} of {m} is a new stream')
                            continue
                        got, frames = b['bytes'] - a['bytes'], b['frames'] - a['frames']
                        rates.append(f'{n}<-{m} {kind} {got / WINDOW / 1000:.1f} kB/s'
                                     + (f' {frames / WINDOW:.0f} fps' if kind == 'video'
                                        else ''))
                        if got < MIN_BYTES[kind]:
                            problems.append(f'{n} got {got} bytes of {m}\'s {kind} in '
                                            f'{WINDOW} s')
                        elif kind == 'video' and frames < MIN_FRAMES:
                            problems.append(f'{n} decoded {frames} frames of {m}\'s video in '
                                            f'{WINDOW} s')
            if not problems:
                procs.log('%s: %s', what, ', '.join(rates))
                return time.monotonic() - t0
        self.fail_with(f'{what}: not flowing after {timeout:.0f} s: {problems}', names)

    def ensure(self, names, room=ROOM, p2p=False):
        """Pages `names` in `room`, opened if need be (a case may run after one that failed);
        returns their ids."""
        for n in names:
            if n not in self.browsers.pages:
                self.open(n, room=room, p2p=p2p)
        return self.wait_joined(names)

    def wait_channels(self, names, opened, timeout=15.0):
        """Each page has opened its bridge channel `opened[name]` times (or `opened` times)."""
        want = opened if isinstance(opened, dict) else {n: opened for n in names}
        deadline = time.monotonic() + timeout
        while True:
            have = {n: self.browsers.snapshot(n)['bridgeChannelOpen'] for n in names}
            if all(have[n] >= want[n] for n in names):
                return
            if time.monotonic() > deadline:
                self.fail_with(f'bridge channels opened {have}, expected {want}', names)
            time.sleep(0.3)

    def assertLoopback(self, stats, name):
        """The peer connection's selected ICE pair is on 127.0.0.1 at both ends."""
        path = stats.get('path') or {}
        for end in ('local', 'remote'):
            self.assertTrue((path.get(end) or '').startswith('127.0.0.1:'),
                            f'{name}: ICE path {path}')

    def carrying_bridge(self):
        """The bridge that has the conference, from the bridges' own metrics."""
        found = [b for b, d in self.bridges.items() if d.proc.poll() is None and
                 (metric_sum(d, 'conclave_bridge_worker_conferences') or 0) > 0]
        return found

    def forwarded(self):
        return sum(metric_sum(d, 'conclave_bridge_rtp_forwarded_total') or 0
                   for d in self.bridges.values() if d.proc.poll() is None)

    # -- the cases ----------------------------------------------------------------------

    def test_1_three_participants_get_each_others_media(self):
        for n in ('alice', 'bob', 'carol'):
            self.open(n)
        t0 = time.monotonic()
        ids = self.wait_joined(['alice', 'bob', 'carol'])
        procs.log('three browsers in with every track %.1f s after opening (ids %s)',
                  time.monotonic() - t0, ids)
        took = self.wait_media(['alice', 'bob', 'carol'], what='three participants')
        procs.log('three participants: media rising %.1f s after the tracks came', took)
        for n in ('alice', 'bob', 'carol'):
            snap = self.browsers.snapshot(n)
            self.assertFalse(snap['p2pActive'], n)
            self.assertEqual(snap['errors'], [], n)
            self.assertLoopback(snap['stats']['jvb'], n)
        self.assertEqual(len(self.carrying_bridge()), 1, 'one bridge carries the conference')

    def test_2_dominant_speaker_changes_arrive_over_the_bridge_channel(self):
        names = ['alice', 'bob', 'carol']
        ids = self.ensure(names)
        # Only one microphone beeps at a time, and each time it is one that is not the
        # dominant speaker yet: two changes.
        events = self.browsers.snapshot('carol')['dominant']
        current = events[-1]['id'] if events else None
        first = next(n for n in ('alice', 'bob', 'carol') if ids[n] != current)
        second = next(n for n in ('alice', 'bob', 'carol') if n != first and ids[n] != current)
        procs.log('dominant speaker: %s at first, then %s should be, then %s', current,
                  first, second)
        try:
            for speaker in (first, second):
                t0 = time.monotonic()
                for n in names:
                    self.browsers.call(n, 'setAudioMuted', n != speaker)
                self.wait_dominant(names, speaker, ids)
                procs.log('dominant speaker: %s for everyone %.1f s after the others muted',
                          speaker, time.monotonic() - t0)
        finally:
            for n in names:
                self.browsers.call(n, 'setAudioMuted', False)
        seen = [d['id'] for d in self.browsers.snapshot('carol')['dominant']]
        procs.log('carol saw dominant speakers %s', seen)
        self.assertIn(ids[second], seen[seen.index(ids[first]):])

    def wait_dominant(self, names, speaker, ids, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            events = {n: self.browsers.snapshot(n)['dominant'] for n in names}
            last = {n: (e[-1]['id'] if e else None) for n, e in events.items()}
            if all(v == ids[speaker] for v in last.values()):
                return
            if time.monotonic() > deadline:
                changes = sum(metric_sum(d, 'conclave_bridge_dominant_speaker_changes_total')
                              or 0 for d in self.bridges.values() if d.proc.poll() is None)
                self.fail_with(
                    f'the dominant speaker should be {speaker} ({ids[speaker]}) after '
                    f'{timeout:.0f} s; ids {ids}; events per page {events}; the bridges '
                    f'counted {changes} changes', names)
            time.sleep(0.5)

    def test_3_endpoint_messages_reach_the_others(self):
        names = ['alice', 'bob', 'carol']
        ids = self.ensure(names)
        self.wait_channels(names, 1)
        for sender in ('alice', 'bob'):
            payload = {'type': 'conclave-test', 'from': sender, 'nonce': os.urandom(6).hex()}
            self.browsers.call(sender, 'sendMessage', payload)
            deadline = time.monotonic() + 10
            while True:
                got = {n: [m for m in self.browsers.snapshot(n)['messages']
                           if m['payload'] == payload] for n in names if n != sender}
                if all(got.values()):
                    break
                if time.monotonic() > deadline:
                    self.fail_with(f'{sender}\'s endpoint message did not reach everyone: '
                                   f'{got}', names)
                time.sleep(0.3)
            for n, msgs in got.items():
                self.assertEqual([m['from'] for m in msgs], [ids[sender]], n)
            # Not echoed to the sender.
            self.assertEqual([m for m in self.browsers.snapshot(sender)['messages']
                              if m['payload'] == payload], [])

    def test_4_the_moderator_records_the_conference(self):
        names = ['alice', 'bob', 'carol']
        ids = self.ensure(names)
        snaps = {n: self.browsers.snapshot(n) for n in names}
        moderators = [n for n in names if snaps[n]['moderator']]
        # The first to join created the room and owns it; the others are participants.
        self.assertEqual(len(moderators), 1, {n: snaps[n]['moderator'] for n in names})
        mod = moderators[0]
        other = next(n for n in names if n != mod)
        carrying = self.carrying_bridge()
        self.assertEqual(len(carrying), 1, f'bridges carrying the conference: {carrying}')
        seen = {n: len(snaps[n]['recorder']) for n in names}  # events before this case
        bridge = self.bridges[carrying[0]]
        recorded = metric_sum(bridge, 'conclave_bridge_recording_packets_total') or 0
        t0 = time.monotonic()

        # lib-jitsi-meet lets anyone try (Jitsi Meet only hides the button): refused.
        got = self.browsers.call(other, 'startRecording', 'file')
        self.assertFalse(got['ok'], f'{other} (not a moderator) started a recording: {got}')
        self.assertEqual((got['error']['type'], got['error']['condition']),
                         ('auth', 'forbidden'), got)
        got = self.browsers.call(mod, 'startRecording', 'file')
        self.assertTrue(got['ok'], f'{mod} (moderator) could not start the recording: {got}')
        sid = got['sessionId']
        self.assertTrue(sid, got)
        self.wait_recorder(names, sid, 'on', seen)
        procs.log('recording: %s started %s, every page saw it on %.1f s later', mod, sid,
                  time.monotonic() - t0)
        # Some media into the file: the three send about 200 packets a second, 15 video
        # frames each (the counter rises as the writer takes packets, every 100 ms).
        procs.wait_until(
            lambda: (metric_sum(bridge, 'conclave_bridge_recording_packets_total') or 0)
            >= recorded + RECORD_PACKETS,
            timeout=10, message=f'the bridge recorded fewer than {RECORD_PACKETS} packets')
        got = self.browsers.call(mod, 'stopRecording', sid)
        self.assertTrue(got['ok'], f'{mod} could not stop the recording: {got}')
        self.wait_recorder(names, sid, 'off', seen)
        procs.log('recording: on and off seen by every page, %.1f s in all',
                  time.monotonic() - t0)
        # What each page was told: the session on then off, both by the moderator; the
        # refused page also had its own failed attempt (no session, the IQ's condition).
        for n in names:
            events = self.browsers.snapshot(n)['recorder'][seen[n]:]
            mine = [(e['status'], e['sessionId'], e['by']) for e in events
                    if e['sessionId'] == sid]
            self.assertEqual(mine, [('on', sid, ids[mod]), ('off', sid, ids[mod])],
                             f'{n}: {events}')
            others = [e for e in events if e['sessionId'] != sid]
            if n == other:
                self.assertEqual([(e['sessionId'], e['error']) for e in others],
                                 [(None, 'forbidden')], f'{n}: {events}')
            else:
                self.assertEqual(others, [], f'{n}: {events}')
        # The room's 170/171 messages (schemas/jibri.md) reach Jitsi clients as chat.
        procs.log('recording: %s got chat messages %s', other,
                  [(m['from'], m['text']) for m in self.browsers.snapshot(other)['chat']])
        self.check_recording(carrying[0], [ids[n] for n in names])

    def wait_recorder(self, names, sid, status, seen, timeout=10.0):
        """Every page got RECORDER_STATE_CHANGED with session `sid` in `status`."""
        def everyone():
            return all(any(e['sessionId'] == sid and e['status'] == status
                           for e in self.browsers.snapshot(n)['recorder'][seen[n]:])
                       for n in names)
        try:
            procs.wait_until(everyone, timeout=timeout, interval=0.1)
        except TimeoutError:
            events = {n: self.browsers.snapshot(n)['recorder'][seen[n]:] for n in names}
            self.fail_with(f'not every page saw recording {sid} {status} within {timeout:.0f} '
                           f's: {events}', names)

    def check_recording(self, carrying, nicks):
        """The carrying bridge wrote one recording, the other none; it verifies, and
        decrypts to streams each owned by a non-empty occupant id (not a nickname): each of
        the three participants' Opus and VP8."""
        files = {b: sorted(os.listdir(d)) for b, d in self.rec_dirs.items()}
        self.assertEqual(len(files[carrying]), 1, files)
        self.assertEqual([f for b, f in files.items() if b != carrying and f], [], files)
        path = os.path.join(self.rec_dirs[carrying], files[carrying][0])
        self.assertTrue(path.endswith('.ccrec'), path)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600, path)
        r = run(BINARIES['ctl'], 'recording', 'verify', '--key', self.rec_key, path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = os.path.join(self.rec_root, 'decrypted')
        r = run(BINARIES['ctl'], 'recording', 'decrypt', '--key', self.rec_key, path,
                '--out', out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(out, 'index.json')) as f:
            index = json.load(f)
        self.assertIs(index['complete'], True, index)
        self.assertEqual(index['damaged'], [], index)
        streams = [(s['kind'], s['codec'], s['owner'], s['rtp_packets'])
                   for s in index['streams']]
        procs.log('recording: %d bytes, %d streams (kind, codec, owner, RTP packets): %s',
                  os.stat(path).st_size, len(streams), streams)
        self.assertEqual([s for s in streams if not s[2] or s[2] in nicks], [],
                         f'streams without an occupant id (participant ids {nicks})')
        vp8 = {s[2] for s in streams if s[:2] == ('video', 'VP8') and s[3] > 0}
        opus = {s[2] for s in streams if s[:2] == ('audio', 'opus') and s[3] > 0}
        self.assertEqual(len(vp8), len(nicks), f'VP8 from each participant: {streams}')
        self.assertEqual(opus, vp8, f'Opus and VP8 from each participant: {streams}')

    def test_5_a_participant_leaving_takes_its_tracks_away(self):
        names = ['alice', 'bob', 'carol']
        ids = self.ensure(names)
        self.browsers.close('carol')
        deadline = time.monotonic() + 15
        while True:
            snaps = {n: self.browsers.snapshot(n) for n in ('alice', 'bob')}
            ok = all(
                ids['carol'] not in s['participants'] and
                any(x['id'] == ids['carol'] for x in s['left']) and
                {x['kind'] for x in s['trackRemoved'] if x['id'] == ids['carol']} ==
                {'audio', 'video'} and
                not [t for t in s['tracks'] if t['id'] == ids['carol']] and
                len(s['tracks']) == 2
                for s in snaps.values())
            if ok:
                break
            if time.monotonic() > deadline:
                self.fail_with('carol left, but alice and bob still have her (or lost more)',
                               ['alice', 'bob'])
            time.sleep(0.3)
        self.wait_media(['alice', 'bob'], what='after carol left')

    def test_6_failover_when_the_bridge_is_killed(self):
        names = ['alice', 'bob']
        self.ensure(names)
        carrying = self.carrying_bridge()
        self.assertEqual(len(carrying), 1, f'bridges carrying the conference: {carrying}')
        dead = carrying[0]
        before = {n: self.browsers.snapshot(n) for n in names}
        sessions = {n: s['mediaSessions'] for n, s in before.items()}
        channels = {n: s['bridgeChannelOpen'] + 1 for n, s in before.items()}
        t0 = time.monotonic()
        self.bridges[dead].stop(signal.SIGKILL)
        procs.log('failover: killed %s (-9)', dead)
        # A new Jingle session each, on the other bridge, and media through it.
        deadline = t0 + FAILOVER_LIMIT
        while not all(self.browsers.snapshot(n)['mediaSessions'] > sessions[n] for n in names):
            if time.monotonic() > deadline:
                self.fail_with(f'no new session within {FAILOVER_LIMIT:.0f} s of kill -9', names)
            time.sleep(0.3)
        self.wait_media(names, timeout=max(5.0, deadline - time.monotonic()),
                        what='after failover')
        elapsed = time.monotonic() - t0
        procs.log('failover: media rising again %.1f s after kill -9', elapsed)
        # The bridge channel too: to the new bridge, from the new session's transport.
        self.wait_channels(names, channels, timeout=max(2.0, deadline - time.monotonic()))
        other = B2 if dead == B1 else B1
        self.assertEqual(self.carrying_bridge(), [other])
        for n in names:
            self.browsers.close(n)

    def test_7_p2p_between_two_browsers(self):
        for n in list(self.browsers.pages):
            self.browsers.close(n)
        names = ['dave', 'erin']
        for n in names:
            self.open(n, room=P2P_ROOM, p2p=True)
        self.wait_joined(names)
        deadline = time.monotonic() + 30
        while not all(self.browsers.snapshot(n)['p2pActive'] for n in names):
            if time.monotonic() > deadline:
                self.fail_with('the 1:1 never went peer-to-peer', names)
            time.sleep(0.5)
        self.wait_media(names, pc='p2p', what='p2p')
        # Browser to browser, on loopback; the bridge forwards nothing for them.
        time.sleep(1.0)
        before = self.forwarded()
        time.sleep(3.0)
        after = self.forwarded()
        for n in names:
            snap = self.browsers.snapshot(n)
            self.assertTrue(snap['p2pActive'], n)
            p2p = snap['stats']['p2p']
            self.assertIn(p2p['state'], ('connected', 'completed'), p2p)
            self.assertLoopback(p2p, n)
        procs.log('p2p: the bridges forwarded %d RTP packets in 3 s', after - before)
        self.assertEqual(after - before, 0, 'the bridge forwarded RTP during the P2P call')

    def test_8_a_third_participant_brings_the_bridge_back(self):
        names = ['dave', 'erin']
        self.ensure(names, room=P2P_ROOM, p2p=True)
        self.open('frank', room=P2P_ROOM, p2p=True)
        names.append('frank')
        self.wait_joined(names)
        deadline = time.monotonic() + 20
        while any(self.browsers.snapshot(n)['p2pActive'] for n in names):
            if time.monotonic() > deadline:
                self.fail_with('still peer-to-peer with three participants', names)
            time.sleep(0.5)
        before = self.forwarded()
        self.wait_media(names, pc='jvb', what='three after p2p')
        self.assertGreater(self.forwarded(), before)

    def test_9_clean_exit(self):
        for n in list(self.browsers.pages):
            self.browsers.close(n)
        for d in self.daemons:
            if d.proc.poll() is None:
                self.assertEqual(d.stop(), 0, d.kind)
            self.assertEqual(d.sanitizer_reports(), [], d.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(JitsiClient)
