#!/usr/bin/python3
"""Conclave's own browser client (web/) in headless Chromium against the real stack: a real
Prosody serving the built client (deploy/prosody/mod_conclave_web.lua) on the same origin as
its XMPP WebSocket, with an authenticated domain and an anonymous guest domain, the focus and
one bridge. The pages are driven through the user interface only (tests/web/driver.mjs:
clicks and typing, then what the DOM shows and what the client's `window.conclave.stats()`
test hook reads from getStats). Each page's camera is a 320x180 picture at 15 frames a second
and its microphone a 440 Hz tone.

Checked, one TAP point each, in this order (later checks reuse the pages of earlier ones, and
join again whoever an earlier failure left out):
 1. the owner logs in from the start page (a random room name), sets a room password with
    the moderator controls, and two guests join through the password prompt;
 2. while the owner and the first guest are alone, the 1:1 goes peer to peer with the bridge
    forwarding nothing; the third participant moves everyone to the bridge;
 3. everyone decodes everyone's video and receives their audio;
 4. a wrong password shows its human message, no XMPP condition;
 5. a chat message reaches all;
 6. a screen share appears for the others as its own tile, its frames decoding;
 7. screenshots of the three-participant room;
 8. end-to-end encryption with one passphrase: video still decodes for everyone;
 9. a participant with another passphrase decodes nothing and the others nothing of it,
    failures counted in the page, while the bridge forwards its packets; the bridge's drops
    and warnings in the E2EE run are of kinds it already had in the clear run;
10. that participant leaves and the others' tiles and tracks follow;
11. no page ever requested another origin (documents, scripts, workers, WebSockets, fetches;
    ICE servers too);
12. the daemons exit cleanly.

The whole test runs in a private network namespace with only loopback, so every ICE candidate
is on 127.0.0.1 and nothing can leave the machine. web/build.sh (npm ci when its lock file
changed, then the build) runs first, outside it. Screenshots go to $CONCLAVE_WEB_SCREENSHOTS,
else meson-logs/web-client/ of the build folder; the browsers' console, XMPP frames and
requests are kept in $CONCLAVE_WEB_LOG_DIR when it is set, and quoted when a check fails."""

import os
import shutil
import sys

from conclave_harness import netns

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT', os.path.join(HERE, '..', '..'))


def _build_client():
    """Outside the namespace: the client (the registry is needed for the first npm ci only)."""
    return netns.run_setup([os.path.join(ROOT, 'web', 'build.sh')], 'web/build.sh')


if __name__ == '__main__':
    netns.enter(__file__, prepare=_build_client)

sys.path.insert(0, os.path.join(ROOT, 'tests', 'web'))

import json  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402
import urllib.request  # noqa: E402

from browsers import Browsers, DriverError  # noqa: E402
from conclave_daemons import Daemon  # noqa: E402
from conclave_harness import procs, tap  # noqa: E402
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402
from test_jitsi_client import metric_sum  # noqa: E402
from web_room import WebRoom  # noqa: E402

DOMAIN, GUEST = 'localhost', 'guest.localhost'
FOCUS, BRIDGE = 'conference.localhost', 'bridge1.localhost'
OWNER_PASSWORD = 'alice-has-a-long-password'
ROOM_PASSWORD, WRONG_PASSWORD = 'correct horse battery', 'wrong horse battery'
PASSPHRASE, OTHER_PASSPHRASE = 'our shared e2ee secret', 'someone else entirely'
# Raw XMPP error conditions a user must never see (RFC 6120 and XEP-0045 names).
XMPP_CONDITIONS = ('not-authorized', 'forbidden', 'not-allowed', 'registration-required',
                   'service-unavailable', 'conflict', 'item-not-found', 'not-acceptable',
                   'jid-malformed', 'resource-constraint', 'urn:ietf')


def screenshot_dir():
    chosen = os.environ.get('CONCLAVE_WEB_SCREENSHOTS')
    if not chosen:  # meson runs tests from the build folder
        chosen = os.path.join(os.getcwd(), 'meson-logs', 'web-client') \
            if os.path.isdir('meson-logs') else make_tempdir(prefix='conclave-web-shots-')
    os.makedirs(chosen, exist_ok=True)
    return os.path.realpath(chosen)


def png_size(path):
    with open(path, 'rb') as f:
        head = f.read(24)
    if head[:8] != b'\x89PNG\r\n\x1a\n':
        raise AssertionError(f'{path} is not a PNG')
    return struct.unpack('>II', head[16:24])


def drops(bridge):
    """The bridge's drop and error counters: {reason: value}."""
    try:
        text = bridge.metrics()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        m = re.match(r'(conclave_bridge_(?:dropped_packets_total|ice_failures_total|'
                     r'dtls_handshakes_total)(\{[^}]*\})?) (\S+)$', line)
        if m and 'result="ok"' not in m.group(1):
            out[m.group(1)] = float(m.group(3))
    return out


def delta(after, before):
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def log_kinds(text):
    """The kinds of line in a stretch of the bridge's log: level and message, with the time,
    ids and numbers blanked out ("conclave-bridge-INFO: endpoint #: ICE connected")."""
    kinds = set()
    for line in text.splitlines():
        line = re.sub(r'\b\d\d:\d\d:\d\d\.\d+: ', '', line)  # the time stamp
        kinds.add(re.sub(r'[\w-]*\d[\w-]*', '#', line)[:200])
    return kinds


class WebClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.web = None
        cls.daemons = []
        cls.prosody = None
        problem = netns.problem()
        if problem:
            raise RuntimeError(problem)
        t0 = time.monotonic()
        dist = os.path.join(ROOT, 'web', 'dist')
        module = os.path.join(ROOT, 'deploy', 'prosody', 'mod_conclave_web.lua')
        for path in (os.path.join(dist, 'index.html'), module):
            if not os.path.exists(path):
                raise RuntimeError(f'{os.path.relpath(path, ROOT)} is missing')
        # The built client and the module, where the prosody user can read them.
        served = make_tempdir(prefix='conclave-web-served-', owner='prosody')
        shutil.copytree(dist, os.path.join(served, 'dist'))
        os.mkdir(os.path.join(served, 'plugins'))
        shutil.copy(module, os.path.join(served, 'plugins'))
        config = os.path.join(served, 'config.json')
        with open(config, 'w') as f:
            json.dump({'websocket': '/xmpp-websocket', 'domain': DOMAIN,
                       'guest_domain': GUEST, 'muc_domain': FOCUS}, f)
        for dirpath, dirnames, filenames in os.walk(served):
            for n in dirnames:
                os.chmod(os.path.join(dirpath, n), 0o755)
            for n in filenames:
                os.chmod(os.path.join(dirpath, n), 0o644)
        cls.prosody = Prosody(
            components={FOCUS: 'f', BRIDGE: 'b1'}, guest_domain=GUEST, websocket=True,
            modules=['conclave_web'],
            extra_global=f'plugin_paths = {{ "{served}/plugins" }}\n'
                         f'conclave_web_root = "{served}/dist"\n'
                         f'conclave_web_config = "{config}"\n')
        cls.prosody.start()
        cls.prosody.register('alice', OWNER_PASSWORD)
        cls.base = f'http://127.0.0.1:{cls.prosody.http_port}'
        cls.focus = Daemon(
            'focus', FOCUS, 'f', cls.prosody.component_port,
            extra=f'[focus]\nbridges = {BRIDGE}\nbridge_check_interval_s = 1\n'
                  f'[security]\nauthenticated_domains = {DOMAIN}\n'
                  f'guest_domains = {GUEST}\n').start()
        cls.daemons.append(cls.focus)
        port = 30000 + procs.free_port() % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'b1', cls.prosody.component_port,
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                                  f'port_max = {port + 60}\nworkers = 1\n'
                                  f'[colibri]\ntrusted = {FOCUS}\n').start()
        cls.daemons.append(cls.bridge)
        cls.bridge.wait_health(200, timeout=20)
        cls.focus.wait_health(200, timeout=20)
        procs.wait_until(
            lambda: metric_sum(cls.focus, 'conclave_focus_bridges_available') == 1,
            timeout=20, message='the focus never had its bridge available')
        with urllib.request.urlopen(cls.base + '/config.json', timeout=5) as r:
            procs.log('web: %s/config.json is %s', cls.base, r.read().decode())
        procs.log('setup: Prosody, the focus and the bridge up in %.1f s', time.monotonic() - t0)
        cls.web = Browsers(keep_dir=os.environ.get('CONCLAVE_WEB_LOG_DIR'))
        with open(os.path.join(ROOT, 'schemas', 'room-name-syllables.txt')) as f:
            syllables = [x.strip() for x in f if x.strip() and not x.startswith('#')]
        cls.room = WebRoom(cls.web, cls.base, syllables, diag=cls.daemon_logs)
        cls.shots = screenshot_dir()
        # Everyone's browser is open on the start page before the meeting (opening a page
        # costs most while the others' media already loads the machine).
        for name in ('alice', 'bob', 'carol', 'dave', 'erin'):
            cls.web.open(name, cls.base + '/')
        procs.log('setup: Chromium and its five pages ready in %.1f s', time.monotonic() - t0)
        # The bridge's counters and log are compared between the clear run (from here to
        # the E2EE checks) and the E2EE run.
        cls.clear_start = cls.bridge_mark()
        cls.clear = cls.e2ee_start = None
        cls.t0 = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        if cls.web is not None:
            cls.web.kill()
            procs.log('browsers: logs were in %s', cls.web.dir)
        for d in cls.daemons:
            if d.proc is not None and d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        if cls.prosody is not None:
            cls.prosody.stop()

    def setUp(self):
        self.failures_before = self.failure_count()
        self.room.explained = False

    def failure_count(self):
        result = self._outcome.result
        return len(result.failures) + len(result.errors)

    def tearDown(self):
        # A check that failed without saying what the pages showed (a driver error, a plain
        # assertion) gets every open page's state, console and last XMPP frames.
        if self.failure_count() > self.failures_before and not self.room.explained:
            print(self.web.explain(sorted(self.web.pages)), file=sys.stderr)
            print(self.daemon_logs(), file=sys.stderr)
        procs.log('%s: %.1f s into the test', self.id().rsplit('.', 1)[-1],
                  time.monotonic() - self.t0)

    @classmethod
    def daemon_logs(cls):
        """The ends of the focus's and the bridge's logs, quoted when a check fails."""
        return '\n'.join(f'-- {d.kind} log (end):\n' + '\n'.join(d.log_text().splitlines()[-30:])
                         for d in cls.daemons)

    @classmethod
    def bridge_mark(cls):
        return drops(cls.bridge), len(cls.bridge.log_text()), time.monotonic()

    @classmethod
    def bridge_since(cls, mark):
        """Drops (per reason), kinds of log line, and seconds since `mark`."""
        before, log_at, t0 = mark
        return (delta(drops(cls.bridge), before), log_kinds(cls.bridge.log_text()[log_at:]),
                time.monotonic() - t0)

    def forwarded(self):
        return metric_sum(self.bridge, 'conclave_bridge_rtp_forwarded_total') or 0

    # -- the checks -----------------------------------------------------------------------

    def test_01_three_join_a_password_protected_room_through_the_ui(self):
        room = self.room
        t0 = time.monotonic()
        room.start_meeting('alice', 'Alice', user='alice', password=OWNER_PASSWORD)
        room.set_room_password('alice', ROOM_PASSWORD)
        prompted = room.join('bob', 'Bob', room_password=ROOM_PASSWORD)
        self.assertTrue(prompted, 'bob joined without being asked for the password')
        self.watch_one_to_one()
        prompted = room.join('carol', 'Carol', room_password=ROOM_PASSWORD)
        self.assertTrue(prompted, 'carol joined without being asked for the password')
        room.wait_tiles(['alice', 'bob', 'carol'])
        for name in ('alice', 'bob', 'carol'):
            st = self.web.state(name)
            self.assertEqual(st['security']['password'], 'on', f'{name}: {st["security"]}')
            # The owner moderates; guests get no moderator controls.
            self.assertEqual(st['shown']['moderation'], name == 'alice', f'{name}: #moderation')
        procs.log('three in the room %.1f s after the start page opened',
                  time.monotonic() - t0)
        self.assertEqual(room.early_prompts, set(),
                         '#room-password was shown before the room asked for a password')

    def watch_one_to_one(self):
        """While alice and bob are alone: peer to peer, media flowing, the bridge idle. What
        is seen is kept for check 2 (a failure here is its failure, not check 1's)."""
        try:
            self.room.wait_mode(['alice', 'bob'], 'p2p')
            self.room.wait_media(['alice', 'bob'], what='peer to peer', timeout=15)
            for n in ('alice', 'bob'):
                self.assert_loopback(n)
            f0 = self.forwarded()
            time.sleep(1.5)  # a window over which the bridge must forward nothing
            type(self).one_to_one = ('ok', self.forwarded() - f0)
        except (AssertionError, DriverError) as e:
            type(self).one_to_one = ('failed', str(e))

    def assert_loopback(self, name):
        """Every connected peer connection of the page has its ICE path on 127.0.0.1."""
        for pc in self.web.ice(name):
            if pc['connectionState'] == 'connected':
                sel = pc['selected'] or {}
                for end in ('local', 'remote'):
                    self.assertTrue((sel.get(end) or '').startswith('127.0.0.1:'),
                                    f'{name}: ICE path {sel}')

    def test_02_a_one_to_one_goes_peer_to_peer_and_a_third_brings_the_bridge(self):
        seen = getattr(type(self), 'one_to_one', ('failed', 'check 1 never got to the 1:1'))
        self.assertEqual(seen[0], 'ok', f'the 1:1 of alice and bob: {seen[1]}')
        procs.log('1:1: peer to peer, the bridge forwarded %d RTP packets meanwhile', seen[1])
        self.assertEqual(seen[1], 0, 'the bridge forwarded RTP during the 1:1')
        names = self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD)
        self.room.wait_mode(names, 'bridge')
        f0 = self.forwarded()
        self.room.wait_tracks(names)
        procs.wait_until(lambda: self.forwarded() > f0, timeout=10,
                         message='the bridge forwards nothing for the three')

    def test_03_each_decodes_the_others_video_and_receives_their_audio(self):
        names = self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD)
        took = self.room.wait_media(names, what='three participants')
        procs.log('three participants: media flowing %.1f s after the check began', took)
        for n in names:
            self.assert_loopback(n)

    def test_04_a_wrong_password_shows_its_message(self):
        self.room.ensure(['alice'], ROOM_PASSWORD)
        room = self.room
        room.join('dave', 'Dave', room_password=WRONG_PASSWORD, expect_joined=False)
        st = room.wait_message('dave', 'wrong-password')
        text = st['message']['text']
        self.assertTrue(text and len(text) > 5, f'no human text: {st["message"]}')
        shown = st['bodyText'].lower()
        self.assertEqual([c for c in XMPP_CONDITIONS if c in shown], [],
                         f'an XMPP condition is visible: {st["bodyText"]!r}')
        self.assertTrue(st['shown']['room-password'], 'no password field after a wrong one')
        procs.log('wrong password: %r', text)
        self.web.close('dave')

    def test_05_a_chat_message_reaches_all(self):
        names = self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD)
        body = 'Hello everyone, can you see me?'  # the only message of the meeting
        self.web.fill('bob', '#chat-input', body)
        self.web.click('bob', '#chat-send')
        self.room.wait_chat(names, 'bob', body)

    def test_06_a_screen_share_appears_for_the_others(self):
        self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD)
        self.web.click('carol', '#screen-share')
        try:
            self.room.wait_screen(['alice', 'bob'], 'carol')
            path = os.path.join(self.shots, 'screen-share-alice.png')
            self.web.screenshot('alice', path)
        finally:
            self.web.click('carol', '#screen-share')
        self.room.wait_screen(['alice', 'bob'], 'carol', present=False)

    def test_07_screenshots_of_the_three_participant_room(self):
        names = self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD)
        self.room.wait_tiles(names)
        self.room.wait_pictures(names)
        for n in names:
            path = os.path.join(self.shots, f'{n}.png')
            self.web.screenshot(n, path)
            self.assertEqual(png_size(path), (1280, 800), path)
            self.assertGreater(os.path.getsize(path), 20000, f'{path} looks empty')
        procs.log('screenshots in %s', self.shots)

    def test_08_e2ee_with_one_passphrase_video_still_decodes(self):
        names = self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD)
        type(self).clear = self.bridge_since(self.clear_start)
        type(self).e2ee_start = self.bridge_mark()
        for n in names:
            self.room.enable_e2ee(n, PASSPHRASE)
        self.room.wait_security(names, 'end-to-end')
        took = self.room.wait_media(names, what='end-to-end encrypted', e2ee=True)
        procs.log('E2EE: video decoding for everyone %.1f s after all enabled it', took)
        self.web.screenshot('alice', os.path.join(self.shots, 'alice-e2ee.png'))

    def test_09_e2ee_a_wrong_passphrase_shows_no_picture_yet_the_bridge_forwards(self):
        names = self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD, e2ee=PASSPHRASE)
        if self.e2ee_start is None:  # check 8 did not run
            type(self).clear = self.bridge_since(self.clear_start)
            type(self).e2ee_start = self.bridge_mark()
        self.room.join('erin', 'Erin', room_password=ROOM_PASSWORD, e2ee=OTHER_PASSPHRASE)
        fwd0 = self.forwarded()
        got = self.room.wait_undecryptable('erin', names)
        fwd1 = self.forwarded()
        procs.log('wrong passphrase: erin received %s RTP packets, the bridge forwarded %d '
                  'in all meanwhile', got['packets'], fwd1 - fwd0)
        self.assertGreaterEqual(fwd1 - fwd0, got['packets'])
        # The bridge cannot tell: no drop reason and no kind of log line it did not already
        # have in the clear (at joins, `not_ready`: media before DTLS completed).
        clear_drops, clear_log, clear_s = self.clear
        e2ee_drops, e2ee_log, e2ee_s = self.bridge_since(self.e2ee_start)
        procs.log('bridge drops: clear run %s in %.0f s, E2EE run %s in %.0f s', clear_drops,
                  clear_s, e2ee_drops, e2ee_s)
        procs.log('bridge log: %d kinds of line in the clear run, %d in the E2EE run: %s',
                  len(clear_log), len(e2ee_log), sorted(e2ee_log))
        self.assertEqual({k: v for k, v in e2ee_drops.items()
                          if k not in clear_drops and 'not_ready' not in k}, {},
                         f'drops in the E2EE run only (clear run: {clear_drops})')
        self.assertEqual(e2ee_log - clear_log, set(), 'bridge log lines of the E2EE run only')
        # Everything Chromium sends the bridge parses, its padded transport-wide feedback too.
        self.assertEqual({k: v for k, v in {**clear_drops, **e2ee_drops}.items()
                          if 'malformed' in k and v > 0}, {}, 'browser packets taken as malformed')

    def test_10_one_leaves_and_the_others_tiles_update(self):
        names = self.room.ensure(['alice', 'bob', 'carol'], ROOM_PASSWORD, e2ee=PASSPHRASE)
        if 'erin' not in self.room.nicks:
            self.room.join('erin', 'Erin', room_password=ROOM_PASSWORD, e2ee=OTHER_PASSPHRASE)
            self.room.wait_tracks(names + ['erin'])
        self.web.click('erin', '#leave')
        self.room.wait_gone('erin', names)
        self.web.close('erin')
        self.room.forget('erin')

    def test_11_no_page_requests_another_origin(self):
        seen = self.web.requests()
        self.assertTrue(seen, 'no request recorded at all')
        origin = self.base
        ws_origin = 'ws://' + origin.split('://', 1)[1]
        foreign = [r for r in seen if not (
            r['url'].startswith(origin + '/') or r['url'].startswith(ws_origin + '/') or
            r['url'].startswith('blob:' + origin + '/') or r['url'].startswith('data:'))]
        kinds = sorted({r['kind'] for r in seen})
        procs.log('requests: %d from %d pages, kinds %s', len(seen),
                  len({r['page'] for r in seen}), kinds)
        self.assertEqual(foreign, [], 'requests to another origin')
        self.assertIn('websocket', kinds, 'the XMPP WebSocket was not seen')
        # No STUN or TURN server elsewhere either.
        for n in self.web.pages:
            for pc in self.web.ice(n):
                self.assertEqual([u for u in pc['iceServers'] if '127.0.0.1' not in u], [],
                                 f'{n}: ICE servers {pc["iceServers"]}')

    def test_12_clean_exit(self):
        for n in list(self.web.pages):
            self.web.close(n)
        for d in self.daemons:
            if d.proc.poll() is None:
                self.assertEqual(d.stop(), 0, d.kind)
            self.assertEqual(d.sanitizer_reports(), [], d.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(WebClient)
