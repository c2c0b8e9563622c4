#!/usr/bin/python3
"""A client that stops reading: it logs in, joins a room of three and then never reads its
socket again (a small receive buffer, so its TCP window closes after a few kilobytes and
everything else for it piles up in the XMPP server). The other two chat as fast as the
focus's per-session rate allows, with 2 KiB messages, while a fourth user joins another
room now and then. Checked: every message reaches the reading participant, 95 % of them
within 1 s of being sent; the joins of the other room answer within 1 s; the focus stays
healthy and refuses nothing. The focus writes to the XMPP server, never to the client, so
a client that stalls can only slow its own server-side queue; this test holds the focus
to that."""

import base64
import fcntl
import re
import socket
import statistics
import struct
import termios
import threading
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_daemons import Daemon
from muc_client import MucUser

SERVICE = 'conference.localhost'
ROOM = f'slowroom@{SERVICE}'
MESSAGES = 150
BODY = 'x' * 2048
RATE = 40  # per second, under the focus's default of 50 per session


def raw_session(port, user, password, room, nick, rcvbuf=None):
    """Logs in over plaintext c2s with raw XML (slixmpp parses too slowly to time a fast
    room: its pure-Python stringprep caps a reader at a few dozen stanzas a second), joins
    `room`, and returns the socket."""
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)

    def until(marker):
        data = b''
        while marker not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError(f'closed before {marker!r}: {data[-300:]!r}')
            data += chunk
        return data

    def stream():
        s.sendall(b"<?xml version='1.0'?><stream:stream to='localhost' version='1.0' "
                  b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        until(b'</stream:features>')

    stream()
    token = base64.b64encode(f'\0{user}\0{password}'.encode()).decode()
    s.sendall(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}"
              "</auth>".encode())
    until(b'<success')
    stream()
    s.sendall(b"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
              b"<resource>raw</resource></bind></iq>")
    until(b'</iq>')
    s.sendall(f"<presence to='{room}/{nick}'><x xmlns='http://jabber.org/protocol/muc'/>"
              "</presence>".encode())
    until(b"'110'")  # the self-presence's status code (Prosody quotes with ')
    return s


class Arrivals(threading.Thread):
    """Reads a raw session and notes when each message id of the test first arrives."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.times, self.done = sock, {}, threading.Event()

    def run(self):
        tail = b''
        while not self.done.is_set():
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            now = time.monotonic()
            data = tail + chunk  # an id may straddle two reads
            for m in re.finditer(rb"id=['\"](slow\d+)['\"]", data):
                self.times.setdefault(m.group(1).decode(), now)
            tail = data[-64:]


class SlowReader(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Prosody(components={SERVICE: 'focus-secret'})
        cls.server.start()
        for u in ('talker', 'listener', 'stalled', 'joiner'):
            cls.server.register(u, f'{u}-pw')
        cls.focus = Daemon('focus', SERVICE, 'focus-secret', cls.server.component_port,
                           extra='[security]\nauthenticated_domains = localhost\n').start()
        cls.focus.wait_health(200)
        cls.stalled = None

    @classmethod
    def tearDownClass(cls):
        if cls.stalled is not None:
            cls.stalled.close()
        cls.focus.stop()
        cls.server.stop()

    def test_a_stalled_client_slows_nobody_else(self):
        talker = MucUser(self.server, 'talker', 'talker-pw')
        joiner = MucUser(self.server, 'joiner', 'joiner-pw')
        reader = None
        try:
            talker.join(ROOM, 'talker')
            type(self).stalled = raw_session(self.server.c2s_port, 'stalled', 'stalled-pw',
                                             ROOM, 'stalled', rcvbuf=4096)  # never read again
            reader = Arrivals(raw_session(self.server.c2s_port, 'listener', 'listener-pw',
                                          ROOM, 'listener'))
            reader.start()
            sent = {}
            join_times = []

            def join_others():
                for i in range(4):
                    t = time.monotonic()
                    joiner.join(f'other{i}@{SERVICE}', 'joiner')
                    join_times.append(time.monotonic() - t)
                    time.sleep(0.5)

            joins = threading.Thread(target=join_others)
            joins.start()
            start = time.monotonic()
            for i in range(MESSAGES):
                due = start + i / RATE
                time.sleep(max(0.0, due - time.monotonic()))
                sent[f'slow{i}'] = time.monotonic()
                talker.say(ROOM, f'{i} {BODY}', msg_id=f'slow{i}')
            procs.wait_until(lambda: len(reader.times) >= MESSAGES, timeout=30,
                             message=f'the listener got {len(reader.times)} of {MESSAGES}')
            latencies = [reader.times[i] - t for i, t in sent.items()]
            joins.join(30)
            p95 = statistics.quantiles(latencies, n=20)[-1]
            procs.log('stalled client in the room: %d messages, delivery p50 %.0f ms, p95 '
                      '%.0f ms; joins of other rooms %s ms', MESSAGES,
                      1000 * statistics.median(latencies), 1000 * p95,
                      [round(1000 * t) for t in join_times])
            self.assertLess(p95, 1.0)
            # The stalled client really stalled: its receive queue is full of the room.
            unread = struct.unpack('i', fcntl.ioctl(self.stalled, termios.FIONREAD,
                                                    b'\0\0\0\0'))[0]
            self.assertGreater(unread, 2048)
            self.assertEqual(len(join_times), 4)
            self.assertLess(max(join_times), 1.0)
            self.focus.wait_health(200, timeout=2)
            refused = sum(int(float(line.rsplit(' ', 1)[1]))
                          for line in self.focus.metrics().splitlines()
                          if line.startswith('conclave_muc_refusals_total'))
            self.assertEqual(refused, 0)
        finally:
            if reader is not None:
                reader.done.set()
                reader.sock.close()
            for u in (talker, joiner):
                u.close()


if __name__ == '__main__':
    tap.main(SlowReader)
