#!/usr/bin/python3
"""One user floods a room of 20 with groupchat messages as fast as it can, through a real
Prosody (its rate limits off) into a real conclave-focus, once with the focus's per-session
stanza limit on and once with it off. Meanwhile another client joins fresh rooms at a steady
pace and times the answer. The flood must stay fair and bounded:

- every message is either delivered (counted at several receivers) or refused (counted by
  the focus's refusal metrics): sent == delivered + refused, nothing vanishes;
- refusals are themselves rate limited: the flooder hears a few errors, not one per message;
- joins of other rooms answer within 1 s (p95) during the flood;
- the focus's RSS grows by less than RSS_GROWTH_MAX_KIB, and nothing crashes.

Clients speak XMPP over raw sockets (SASL ANONYMOUS, no TLS) so that the test, not the
client library, is fast. The same code drives bench/flood_bench.py with 100,000 messages."""

import os
import re
import selectors
import socket
import statistics
import threading
import time
import unittest

from conclave_daemons import Daemon
from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody

SERVICE = 'conference.localhost'
FLOOD_DOMAIN = 'flood.localhost'   # SASL ANONYMOUS; an authenticated domain for the focus
SECRET = 'flood-component-secret'
NS_MUC = 'http://jabber.org/protocol/muc'
ROOM_SIZE = 20                      # the flooder and 19 others
CI_MESSAGES = 3000
JOIN_P95_MAX_S = 1.0
RSS_GROWTH_MAX_KIB = 48 * 1024      # well under 128 MiB
FOCUS_CONFIG = """
[security]
authenticated_domains = flood.localhost
[muc]
max_occupants = 100
max_stanzas_per_second = {limit}
"""


def sanitized():
    """AddressSanitizer keeps freed memory in quarantine (and shadow memory): RSS there says
    little about the focus's own queues, so the RSS bound is checked in the normal build
    only; everything else is checked in both."""
    with open(os.environ.get('CONCLAVE_FOCUS', 'build/focus/conclave-focus'), 'rb') as f:
        return b'__asan_init' in f.read()


class XmppError(Exception):
    pass


class RawClient:
    """An anonymous c2s session on a plain socket: just enough XMPP for floods."""

    def __init__(self, port, domain=FLOOD_DOMAIN, timeout=10.0):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''
        self.domain = domain
        self._open_stream()
        self._read_until(b'</stream:features>')
        self.sock.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                          b"mechanism='ANONYMOUS'/>")
        if b'<success' not in self._read_until((b'<success', b'<failure')):
            raise XmppError('anonymous login refused')
        self.buf = b''
        self._open_stream()
        self._read_until(b'</stream:features>')
        self.sock.sendall(b"<iq type='set' id='bind'><bind "
                          b"xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        reply = self._read_until(b'</iq>')
        m = re.search(rb'<jid>([^<]+)</jid>', reply)
        if m is None:
            raise XmppError('no bound JID')
        self.jid = m.group(1).decode()
        self.buf = b''

    def _open_stream(self):
        self.sock.sendall(f"<?xml version='1.0'?><stream:stream to='{self.domain}' "
                          "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                          "version='1.0'>".encode())

    def _read_until(self, marks, deadline=None):
        marks = (marks,) if isinstance(marks, bytes) else marks
        deadline = deadline or time.monotonic() + 10.0
        while not any(m in self.buf for m in marks):
            left = deadline - time.monotonic()
            if left <= 0:
                raise XmppError(f'timed out waiting for {marks!r}')
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise XmppError('stream closed')
            self.buf += data
        return self.buf

    def join(self, room, nick, timeout=10.0):
        """Joins and returns the seconds until the self-presence (status 110) came."""
        start = time.monotonic()
        self.buf = b''
        self.sock.sendall(f"<presence to='{room}/{nick}'><x xmlns='{NS_MUC}'/>"
                          "</presence>".encode())
        data = self._read_until((b"code='110'", b'code="110"', b"type='error'"),
                                start + timeout)
        if b'110' not in data:
            raise XmppError(f'join of {room} refused: {data[-400:]!r}')
        elapsed = time.monotonic() - start
        self.buf = b''
        return elapsed

    def leave(self, room, nick):
        self.sock.sendall(f"<presence to='{room}/{nick}' type='unavailable'/>".encode())

    def close(self):
        try:
            self.sock.sendall(b'</stream:stream>')
        except OSError:
            pass
        self.sock.close()


class Counter:
    """Counts a marker in a byte stream that arrives in arbitrary pieces."""

    def __init__(self, mark):
        self.mark = mark
        self.count = 0
        self.tail = b''

    def feed(self, data):
        data = self.tail + data
        self.count += data.count(self.mark)
        # What could be the start of a mark split across two reads (too short to hold a
        # whole one, so nothing is counted twice).
        self.tail = data[-(len(self.mark) - 1):]


def metric_sum(daemon, name, label=None):
    total = 0
    for line in daemon.metrics().splitlines():
        if not (line.startswith(name + ' ') or line.startswith(name + '{')):
            continue
        if label is not None and label not in line:
            continue
        total += float(line.rsplit(' ', 1)[1])
    return total


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        status = f.read()
    return (int(re.search(r'VmRSS:\s+(\d+)', status).group(1)),
            int(re.search(r'VmHWM:\s+(\d+)', status).group(1)))


def p95(values):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def refused_total(focus):
    return metric_sum(focus, 'conclave_muc_refusals_total')


def run_flood(server, focus, messages, room_size=ROOM_SIZE, probe_interval=0.25,
              timeout=120.0, log=lambda *a: None):
    """Floods one room with `messages` groupchat messages and returns what was measured."""
    service = focus.domain
    tag = f'{os.getpid()}x{int(time.monotonic() * 1000) % 100000}'
    room = f'flood{tag}@{service}'
    clients = [RawClient(server.c2s_port) for _ in range(room_size)]
    flooder, receivers = clients[0], clients[1:]
    for i, c in enumerate(clients):
        c.join(room, f'n{i}')
    prober = RawClient(server.c2s_port)
    # The same joins without a flood: what this machine gives at the moment, for the record.
    idle = []
    for n in range(5):
        idle.append(prober.join(f'idle{tag}n{n}@{service}', 'p'))
        prober.leave(f'idle{tag}n{n}@{service}', 'p')
    refused_before = refused_total(focus)
    errors_sent_before = metric_sum(focus, 'conclave_muc_errors_suppressed_total')
    rss_before, _ = rss_kib(focus.proc.pid)

    counters = {c: Counter(b'<body>flood ') for c in receivers}
    errors_heard = Counter(b'resource-constraint')
    selector = selectors.DefaultSelector()
    for c in clients:
        c.sock.setblocking(False)
        selector.register(c.sock, selectors.EVENT_READ, c)
    stop = threading.Event()
    joins, join_failures, rss_peak = [], [], [rss_before]

    def probe():
        n = 0
        while not stop.is_set():
            n += 1
            try:
                joins.append(prober.join(f'probe{tag}n{n}@{service}', 'p', timeout=30.0))
                prober.leave(f'probe{tag}n{n}@{service}', 'p')
            except (XmppError, OSError) as e:
                join_failures.append(str(e))
            stop.wait(probe_interval)

    def flood():
        batch = 200
        for start in range(0, messages, batch):
            chunk = ''.join(f"<message to='{room}' type='groupchat'><body>flood {i}</body>"
                            "</message>" for i in range(start, min(messages, start + batch)))
            flooder.sock.setblocking(True)
            flooder.sock.sendall(chunk.encode())
        flood_done.set()

    flood_done = threading.Event()
    prober_thread = threading.Thread(target=probe, daemon=True)
    flood_thread = threading.Thread(target=flood, daemon=True)
    started = time.monotonic()
    prober_thread.start()
    flood_thread.start()
    deadline = started + timeout
    settled = None
    next_check = 0.0
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.05):
            c = key.data
            try:
                data = c.sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                raise XmppError('a client stream closed during the flood')
            if c is flooder:
                errors_heard.feed(data)
            else:
                counters[c].feed(data)
        now = time.monotonic()
        if now >= next_check:
            next_check = now + 0.2
            rss_peak.append(rss_kib(focus.proc.pid)[0])
            if flood_done.is_set():
                delivered = min(k.count for k in counters.values())
                refused = refused_total(focus) - refused_before
                if delivered + refused >= messages:
                    settled = now
                    break
    elapsed = (settled or time.monotonic()) - started
    stop.set()
    prober_thread.join(35.0)
    flood_thread.join(5.0)
    # Let stragglers in, so that a miscount shows as a surplus rather than hides.
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        for key, _ in selector.select(timeout=0.05):
            c = key.data
            try:
                data = c.sock.recv(262144)
            except BlockingIOError:
                continue
            if data:
                (errors_heard if c is flooder else counters[c]).feed(data)
    selector.close()
    result = {
        'messages': messages,
        'room_size': room_size,
        'settled': settled is not None,
        'seconds': round(elapsed, 2),
        'delivered_min': min(k.count for k in counters.values()),
        'delivered_max': max(k.count for k in counters.values()),
        'refused': int(refused_total(focus) - refused_before),
        'errors_heard_by_flooder': errors_heard.count,
        'errors_suppressed': int(metric_sum(focus, 'conclave_muc_errors_suppressed_total') -
                                 errors_sent_before),
        'idle_join_p95_s': round(p95(idle), 3),
        'joins': len(joins),
        'join_failures': join_failures,
        'join_p50_s': round(statistics.median(joins), 3) if joins else None,
        'join_p95_s': round(p95(joins), 3) if joins else None,
        'join_max_s': round(max(joins), 3) if joins else None,
        'rss_before_kib': rss_before,
        'rss_peak_kib': max(rss_peak),
        'rss_growth_kib': max(rss_peak) - rss_before,
        'focus_alive': focus.proc.poll() is None,
    }
    for c in clients + [prober]:
        c.close()
    log('flood: %s', result)
    return result


def start_stack(limit, extra_focus=''):
    """A private Prosody (rate limits off) and a focus with `limit` stanzas/s per session."""
    server = Prosody(components={SERVICE: SECRET}, guest_domain=FLOOD_DOMAIN, log_level='info')
    server.start()
    focus = Daemon('focus', SERVICE, SECRET, server.component_port,
                   extra=FOCUS_CONFIG.format(limit=limit) + extra_focus).start()
    focus.wait_health(200)
    return server, focus


class Flood(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Prosody(components={SERVICE: SECRET, 'off.localhost': SECRET},
                             guest_domain=FLOOD_DOMAIN, log_level='info')
        cls.server.start()
        cls.focus = {}
        for name, domain, limit in (('on', SERVICE, 50), ('off', 'off.localhost', 0)):
            cls.focus[name] = Daemon('focus', domain, SECRET, cls.server.component_port,
                                     extra=FOCUS_CONFIG.format(limit=limit)).start()
        for f in cls.focus.values():
            f.wait_health(200)

    @classmethod
    def tearDownClass(cls):
        for f in cls.focus.values():
            status = f.stop()
            assert status == 0, f'focus exited with {status}'
            assert f.sanitizer_reports() == [], f.log_text()[-3000:]
        cls.server.stop()

    def flood(self, name):
        focus = self.focus[name]
        r = run_flood(self.server, focus, CI_MESSAGES, probe_interval=0.1,
                      log=lambda fmt, *a: tap.diag(fmt % a))
        self.assertTrue(r['focus_alive'])
        self.assertTrue(r['settled'], r)
        # Nothing vanishes, nothing is counted twice: each receiver got every accepted one.
        self.assertEqual(r['delivered_min'], r['delivered_max'], r)
        self.assertEqual(r['delivered_min'] + r['refused'], CI_MESSAGES, r)
        self.assertEqual(r['join_failures'], [], r)
        self.assertGreaterEqual(r['joins'], 3, r)
        self.assertLessEqual(r['join_p95_s'], JOIN_P95_MAX_S, r)
        if not sanitized():
            self.assertLess(r['rss_growth_kib'], RSS_GROWTH_MAX_KIB, r)
        # The focus's send queue is empty again.
        procs.wait_until(lambda: metric_sum(focus, 'conclave_xmpp_send_queue') == 0,
                         timeout=10.0, message='the send queue never emptied')
        return r

    def test_flood_with_rate_limit(self):
        r = self.flood('on')
        self.assertGreater(r['refused'], 0, r)
        # Refusals are rate limited too: the first per second per session goes back, the rest
        # are dropped and counted.
        self.assertLessEqual(r['errors_heard_by_flooder'], int(r['seconds']) + 2, r)
        self.assertEqual(r['errors_heard_by_flooder'] + r['errors_suppressed'], r['refused'], r)

    def test_flood_without_rate_limit(self):
        r = self.flood('off')
        self.assertGreater(r['delivered_min'], 0, r)
        self.assertEqual(r['errors_heard_by_flooder'] + r['errors_suppressed'], r['refused'], r)


if __name__ == '__main__':
    tap.main(Flood)
