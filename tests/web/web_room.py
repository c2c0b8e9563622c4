"""A meeting in Conclave's browser client as users live it, for the web client's test: pages
that start a meeting or join one through the user interface (start page, log in or guest,
room password, E2EE passphrase), and waits, each with a deadline, for what every page must
end up showing: tiles, decoded video and received audio (from the client's
`window.conclave.stats()` test hook), chat, screen shares, security and connection state.

A wait that runs out raises AssertionError with the reason; the pages' states, consoles and
last XMPP frames go to stderr first."""

import math
import re
import sys
import time
import urllib.parse

WINDOW = 1.5  # seconds over which counters must rise
MIN_FRAMES = 5  # decoded frames per window and remote video (the fake camera sends more)
JOIN_TIMEOUT = 30.0
MEDIA_TIMEOUT = 30.0
REFUSALS = ('wrong-password', 'locked-out', 'host-absent', 'room-full', 'kicked', 'banned',
            'not-allowed', 'login-failed', 'connection-lost', 'error')


class WebRoom:
    def __init__(self, web, base, syllables, diag=None):
        self.web = web
        self.base = base
        self.syllables = syllables  # the word list random room names are made of
        self.diag = diag  # more to print when a wait fails (e.g. the focus's log)
        self.url = None  # the meeting's URL, once a page started it
        self.nicks = {}  # page name -> its MUC nick, while in the room
        self.early_prompts = set()  # pages that showed #room-password before being asked
        self.explained = False  # whether a failure printed the pages' states already

    def fail(self, message, names):
        print(f'{message}\n{self.web.explain(names)}', file=sys.stderr)
        if self.diag:
            print(self.diag(), file=sys.stderr)
        self.explained = True
        raise AssertionError(message)

    def forget(self, name):
        self.nicks.pop(name, None)

    # -- getting in -----------------------------------------------------------------------

    def start_meeting(self, name, display, user, password):
        """From the start page: a random room name, then the room page, logged in."""
        self.web.visit(name, self.base + '/')
        self.web.wait(name, '#room-name')
        first = self._random_name(name)
        second = self._random_name(name, differs_from=first)
        self.web.click(name, '#start')
        path = self._poll(lambda: urllib.parse.urlsplit(self.web.state(name)['url']).path,
                          lambda p: p not in ('', '/'), 10, 'the start page never left /',
                          [name])
        self.url = self.base + path
        if urllib.parse.unquote(path.strip('/')) != second:
            self.fail(f'the room page is {path}, the name chosen was {second}', [name])
        self._before_join(name, display)
        self.web.fill(name, '#login-user', user)
        self.web.fill(name, '#login-password', password)
        self.web.click(name, '#login-button')
        self.wait_joined(name)

    def _random_name(self, name, differs_from=None):
        self.web.click(name, '#random-name')
        value = self._poll(lambda: self.web.state(name)['roomName'],
                           lambda v: v and v != differs_from, 5,
                           '#random-name did not fill #room-name with a new name', [name])
        bits = self.name_bits(value)
        if bits < 80:
            self.fail(f'random room name {value!r} has {bits:.0f} bits (< 80)', [name])
        return value

    def name_bits(self, value):
        """Entropy of a name made of the word list's syllables (separators aside)."""
        letters = re.sub(r'[^a-z]', '', value.lower())
        words = sorted(self.syllables, key=len, reverse=True)
        count, i = 0, 0
        while i < len(letters):
            word = next((w for w in words if letters.startswith(w, i)), None)
            if word is None:
                return 0.0  # not made of the list's syllables
            i += len(word)
            count += 1
        return count * math.log2(len(self.syllables))

    def _before_join(self, name, display, e2ee=None):
        self.web.wait(name, '#display-name', timeout=30)
        self.web.fill(name, '#display-name', display)
        if e2ee:
            self.enable_e2ee(name, e2ee)

    def join(self, name, display, room_password=None, e2ee=None, expect_joined=True):
        """Opens the meeting's URL and joins as a guest, giving `room_password` when asked
        (once). Returns whether the password prompt appeared. With expect_joined=False it
        returns right after the password went in."""
        if self.url is None:
            self.fail('no meeting to join: nobody started one', [name])
        self.web.visit(name, self.url)
        self._before_join(name, display, e2ee)
        if self.web.state(name)['shown']['room-password']:
            self.early_prompts.add(name)  # a contract breach the caller reports
        self.web.click(name, '#guest-button')
        prompted = False
        deadline = time.monotonic() + JOIN_TIMEOUT
        while True:
            st = self.web.state(name)
            reason = st['message']['reason']
            asked = reason in ('password-required', 'wrong-password')
            if asked and st['shown']['room-password'] and not prompted:
                prompted = True
                if room_password is None:
                    self.fail(f'{name} was asked for a room password', [name])
                self.submit_password(name, room_password)
                if not expect_joined:
                    return prompted
            elif reason in REFUSALS:
                self.fail(f'{name} was refused: {st["message"]}', [name])
            else:
                stats = self.web.stats(name)
                if stats and stats.get('joined'):
                    self.nicks[name] = stats['nick']
                    return prompted
            if time.monotonic() > deadline:
                self.fail(f'{name} not in the room after {JOIN_TIMEOUT:.0f} s', [name])
            time.sleep(0.3)

    def submit_password(self, name, password):
        self.web.fill(name, '#room-password', password)
        self.web.click(name, '#room-password-submit')

    def wait_joined(self, name, timeout=JOIN_TIMEOUT):
        stats = self._poll(lambda: self.web.stats(name), lambda s: s and s.get('joined'),
                           timeout, f'{name} not in the room', [name])
        self.nicks[name] = stats['nick']
        return stats

    def wait_message(self, name, reason, timeout=20.0):
        return self._poll(lambda: self.web.state(name, text=True),
                          lambda st: st['message']['reason'] == reason, timeout,
                          f'{name}: no #message[data-reason={reason}]', [name])

    def set_room_password(self, name, password):
        self.web.wait(name, '#moderation')
        self.web.fill(name, '#set-room-password', password)
        self.web.click(name, '#apply-room-password')
        self._poll(lambda: self.web.state(name)['security']['password'],
                   lambda v: v == 'on', 10, f'{name}: #security[data-password] never on',
                   [name])

    def ensure(self, names, room_password, e2ee=None, owner=('alice', 'Alice')):
        """`names` in the meeting, joined now if an earlier check failed before they did."""
        missing = [n for n in names if n not in self.nicks]
        if missing:
            print(f'joining {missing} again (an earlier check failed)', file=sys.stderr)
        for n in missing:
            if n in self.web.pages:
                self.web.close(n)
        if owner[0] in missing and self.url is None:
            self.fail('no meeting: its owner could not start it', names)
        for n in missing:
            self.join(n, n.capitalize(), room_password=room_password, e2ee=e2ee)
        return list(names)

    def enable_e2ee(self, name, passphrase):
        self.web.fill(name, '#e2ee-passphrase', passphrase)
        self.web.check(name, '#e2ee-enable', True)

    # -- what the pages show --------------------------------------------------------------

    def _poll(self, read, good, timeout, message, names, interval=0.3):
        deadline = time.monotonic() + timeout
        while True:
            value = read()
            if good(value):
                return value
            if time.monotonic() > deadline:
                self.fail(f'{message} after {timeout:.0f} s (last: {str(value)[:300]})', names)
            time.sleep(interval)

    def _until(self, names, problems_of, timeout, what):
        """Polls problems_of() (a list of what is still wrong) until it is empty."""
        deadline = time.monotonic() + timeout
        while True:
            problems = problems_of()
            if not problems:
                return
            if time.monotonic() > deadline:
                self.fail(f'{what} after {timeout:.0f} s: {problems[:12]}', names)
            time.sleep(0.3)

    def wait_tiles(self, names, timeout=15.0):
        """Each page has its own tile and one per other participant, by nick."""
        def problems():
            out = []
            for n in names:
                tiles = [t for t in self.web.state(n)['tiles'] if not t['screen']]
                if [t['nick'] for t in tiles if t['local']] != [self.nicks[n]]:
                    out.append(f'{n}: local tiles {[t for t in tiles if t["local"]]}')
                remote = sorted(t['nick'] for t in tiles if not t['local'])
                want = sorted(self.nicks[m] for m in names if m != n)
                if remote != want:
                    out.append(f'{n} has tiles {remote}, expected {want}')
            return out
        self._until(names, problems, timeout, 'tiles')

    @staticmethod
    def inbound_all(stats, nick, kind, screen=False):
        return [t for t in (stats or {}).get('inbound', [])
                if t['nick'] == nick and t['kind'] == kind and bool(t.get('screen')) == screen]

    @classmethod
    def inbound(cls, stats, nick, kind, screen=False):
        """The one inbound track of `nick` of that kind; None when there is none, or more
        than one (a stale track left in the stats is a fault too)."""
        found = cls.inbound_all(stats, nick, kind, screen)
        return found[0] if len(found) == 1 else None

    def wait_tracks(self, names, timeout=JOIN_TIMEOUT):
        """Each page receives an audio and a video track from every other."""
        def problems():
            out = []
            for n in names:
                stats = self.web.stats(n)
                for m in names:
                    for kind in ('audio', 'video'):
                        count = len(self.inbound_all(stats, self.nicks[m], kind))
                        if m != n and count != 1:
                            out.append(f'{n} has {count} {kind} tracks of {m}')
            return out
        self._until(names, problems, timeout, 'inbound tracks')

    def _windows(self, names, judge, timeout, what):
        """Reads every page's stats, waits WINDOW, reads again, and asks judge(before,
        after) for problems, until there are none. Returns the time it took."""
        t0 = time.monotonic()
        problems = ['nothing checked yet']
        while time.monotonic() < t0 + timeout:
            before = {n: self.web.stats(n) for n in names}
            time.sleep(WINDOW)
            after = {n: self.web.stats(n) for n in names}
            problems = judge(before, after)
            if not problems:
                return time.monotonic() - t0
        self.fail(f'{what}: not there after {timeout:.0f} s: {problems[:12]}', names)

    def wait_media(self, names, what='media', e2ee=False, timeout=MEDIA_TIMEOUT):
        """Every page decodes every other's video (framesDecoded rising) and receives its
        audio (packets and samples rising); with e2ee, frames are encrypted and decrypted
        and none fails."""
        def judge(before, after):
            out = []
            for n in names:
                for m in names:
                    if m == n:
                        continue
                    for kind, counter in (('video', 'framesDecoded'),
                                          ('audio', 'totalSamplesReceived')):
                        a = self.inbound(before[n], self.nicks[m], kind)
                        b = self.inbound(after[n], self.nicks[m], kind)
                        if a is None or b is None or a['trackId'] != b['trackId']:
                            count = len(self.inbound_all(after[n], self.nicks[m], kind))
                            out.append(f'{n}: no steady {kind} track of {m} ({count} now)')
                            continue
                        packets = b['packetsReceived'] - a['packetsReceived']
                        rise = (b.get(counter) or 0) - (a.get(counter) or 0)
                        if packets <= 0:
                            out.append(f'{n} got no {kind} packets from {m}')
                        elif rise < (MIN_FRAMES if kind == 'video' else 1):
                            out.append(f'{n}: {counter} of {m} rose by {rise}')
                if e2ee:
                    out += self._e2ee_problems(n, before[n], after[n])
            return out
        return self._windows(names, judge, timeout, what)

    @staticmethod
    def _e2ee_problems(n, before, after):
        a, b = before.get('e2ee') or {}, after.get('e2ee') or {}
        out = []
        if not b.get('enabled'):
            out.append(f'{n}: E2EE not enabled in stats')
        for counter in ('framesEncrypted', 'framesDecrypted'):
            if (b.get(counter) or 0) <= (a.get(counter) or 0):
                out.append(f'{n}: e2ee {counter} not rising')
        if (b.get('decryptFailures') or 0) != (a.get('decryptFailures') or 0):
            out.append(f'{n}: decryption failures rising: {b.get("failuresByNick")}')
        return out

    def wait_undecryptable(self, victim, others, timeout=MEDIA_TIMEOUT):
        """`victim` (another passphrase) and `others` get each other's video packets but
        never decode one frame of it, and count decryption failures per sender, in their
        stats and in #security. Returns the RTP packets `victim` received over the window."""
        got = {}

        def judge(before, after):
            out = []
            packets = 0
            for n, senders in [(victim, others)] + [(o, [victim]) for o in others]:
                failures = (after[n].get('e2ee') or {}).get('failuresByNick') or {}
                for m in senders:
                    a = self.inbound(before[n], self.nicks[m], 'video')
                    b = self.inbound(after[n], self.nicks[m], 'video')
                    if a is None or b is None:
                        out.append(f'{n} has no video track of {m}')
                        continue
                    if b['packetsReceived'] <= a['packetsReceived']:
                        out.append(f'{n} receives no video packets from {m}')
                    if n == victim:
                        packets += b['packetsReceived'] - a['packetsReceived']
                    if a.get('framesDecoded') or b.get('framesDecoded'):
                        self.fail(f'{n} decoded {b.get("framesDecoded")} frames of {m}, '
                                  'whose passphrase differs', [n, m])
                    if not failures.get(self.nicks[m]):
                        out.append(f'{n} counts no decryption failures for {m}: {failures}')
                shown = self.web.state(n)['security']
                if not re.fullmatch(r'[1-9]\d*', shown['failures'] or ''):
                    out.append(f'{n}: #security shows {shown}')
            got['packets'] = packets
            return out
        self._windows([victim] + others, judge, timeout, 'undecryptable video')
        return got

    def wait_security(self, names, media, timeout=10.0):
        self._until(names, lambda: [f'{n}: {s}' for n in names
                                    for s in [self.web.state(n)['security']]
                                    if s['media'] != media], timeout,
                    f'#security[data-media={media}]')

    def wait_gone(self, leaver, names, timeout=15.0):
        """`leaver` left: no tile, no inbound track, not an occupant, for every page."""
        nick = self.nicks[leaver]

        def problems():
            out = []
            for n in names:
                tiles = [t for t in self.web.state(n)['tiles'] if t['nick'] == nick]
                stats = self.web.stats(n) or {}
                tracks = [t for t in stats.get('inbound', []) if t['nick'] == nick]
                if tiles:
                    out.append(f'{n} still has {len(tiles)} tile(s) of {leaver}')
                if tracks:
                    out.append(f'{n} still has {len(tracks)} inbound track(s) of {leaver}')
                if nick in stats.get('occupants', []):
                    out.append(f'{n} still lists {leaver} as an occupant')
            return out
        self._until(names, problems, timeout, f'{leaver} left')

    def wait_chat(self, names, sender, body, timeout=10.0):
        nick = self.nicks[sender]
        self._until(names, lambda: [n for n in names if not any(
            m['from'] == nick and body in m['text'] for m in self.web.state(n)['chat'])],
            timeout, f'{sender}\'s chat message missing on these pages')

    def wait_screen(self, names, owner, present=True, timeout=20.0):
        """A screen tile of `owner` on every page, its frames decoding (or none left)."""
        nick = self.nicks[owner]

        def problems():
            out = []
            for n in names:
                tiles = [t for t in self.web.state(n)['tiles']
                         if t['screen'] and t['nick'] == nick]
                track = self.inbound(self.web.stats(n), nick, 'video', screen=True)
                if present and not (tiles and tiles[0]['visible']):
                    out.append(f'{n} shows no screen tile of {owner}')
                if not present and (tiles or track):
                    out.append(f'{n} still has the screen share of {owner}')
            return out
        self._until(names, problems, timeout, 'screen share tiles')
        if present:
            def judge(before, after):
                out = []
                for n in names:
                    a = self.inbound(before[n], nick, 'video', screen=True)
                    b = self.inbound(after[n], nick, 'video', screen=True)
                    if a is None or b is None:
                        out.append(f'{n} has no screen track of {owner}')
                    elif (b.get('framesDecoded') or 0) <= (a.get('framesDecoded') or 0):
                        out.append(f'{n} decodes no frame of {owner}\'s screen')
                return out
            self._windows(names, judge, timeout, 'screen share frames')

    def wait_pictures(self, names, timeout=10.0):
        """Every tile's video on every page has a picture (a size, playing)."""
        def problems():
            return [f'{n}: {t["nick"]} {t["video"]}' for n in names
                    for t in self.web.state(n)['tiles']
                    if not t['video'] or not t['video']['width'] or t['video']['paused']]
        self._until(names, problems, timeout, 'pictures in tiles')

    def wait_mode(self, names, mode, timeout=20.0):
        def problems():
            out = []
            for n in names:
                shown = self.web.state(n)['mode']
                stats = self.web.stats(n) or {}
                if shown != mode or stats.get('mode') != mode:
                    out.append(f'{n}: #connection-mode {shown}, stats {stats.get("mode")}')
            return out
        self._until(names, problems, timeout, f'connection mode {mode}')
