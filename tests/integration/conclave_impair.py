"""A lossy, jittery UDP link between one media client and the bridge, in user space (the
kernels these tests run on may lack `tc netem`). The client is given the relay's address
instead of the bridge's candidate; the relay forwards from a socket of its own, which the
bridge learns as a peer-reflexive candidate, and sends the bridge's answers back to wherever
the client last sent from. RTP and RTCP (first byte 128..191, RFC 7983) are dropped with
probability `loss` and delayed by `delay_ms` plus a uniform `jitter_ms`, which reorders
them, in both directions; STUN and DTLS pass unharmed, so that what is measured is media
recovery, not connection setup. With `active` false the link forwards everything untouched
(a test turns it on once media flows: a receiver's jitter buffer that starts on a reordered
packet drops the earlier ones as late, which measures its start-up, not repair). A seeded
random generator makes the loss pattern repeat."""

import heapq
import random
import select
import socket
import threading
import time


class ImpairedLink:
    def __init__(self, bridge_addr, loss=0.05, delay_ms=10, jitter_ms=50, seed=1, active=True):
        self.bridge_addr = bridge_addr
        self.active = active
        self.loss, self.delay, self.jitter = loss, delay_ms / 1000, jitter_ms / 1000
        self.rng = random.Random(seed)
        self.client_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.client_side.bind(('127.0.0.1', 0))
        self.bridge_side = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.bridge_side.bind(('127.0.0.1', 0))
        self.address = self.client_side.getsockname()
        self.client_addr = None
        self.counts = {'up': 0, 'down': 0, 'up_dropped': 0, 'down_dropped': 0, 'other': 0}
        # RTP (not RTCP) packets dropped the first time their sequence number went by:
        # {ssrc: {timestamp...}}, the frames that loss would cost without repair.
        self.first_drops = {}
        self._seen = set()  # (ssrc, seq) of RTP packets that went by
        self._queue = []  # (due, n, socket, data, address)
        self._n = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def candidate(self, c):
        """The bridge's candidate `c` (a dict of conclave_media's shape) moved to the relay:
        for the client."""
        return dict(c, ip=self.address[0], port=self.address[1])

    def client_candidate(self):
        """The client as the bridge must see it: the relay's own side, not the client's
        real address (else the bridge's consent checks would find a path around the
        relay)."""
        ip, port = self.bridge_side.getsockname()
        return {'foundation': '9', 'ip': ip, 'port': port, 'priority': 1, 'type': 'host'}

    def _forward(self, data, sock, address, direction):
        if not self.active:
            sock.sendto(data, address)
        elif 128 <= data[0] <= 191:
            self.counts[direction] += 1
            rtp = len(data) >= 12 and not 192 <= data[1] <= 223
            key = (int.from_bytes(data[8:12], 'big'), int.from_bytes(data[2:4], 'big'))
            first = rtp and key not in self._seen
            if rtp:
                self._seen.add(key)
            if self.rng.random() < self.loss:
                self.counts[direction + '_dropped'] += 1
                if first:
                    self.first_drops.setdefault(key[0], set()).add(
                        int.from_bytes(data[4:8], 'big'))
                return
            due = time.monotonic() + self.delay + self.rng.random() * self.jitter
            self._n += 1
            heapq.heappush(self._queue, (due, self._n, sock, data, address))
        else:
            self.counts['other'] += 1
            sock.sendto(data, address)

    def _run(self):
        while not self._stop.is_set():
            timeout = 0.05
            if self._queue:
                timeout = max(0.0, min(timeout, self._queue[0][0] - time.monotonic()))
            ready, _, _ = select.select([self.client_side, self.bridge_side], [], [], timeout)
            for sock in ready:
                try:
                    data, addr = sock.recvfrom(2048)
                except OSError:
                    continue
                if not data:
                    continue
                if sock is self.client_side:
                    self.client_addr = addr
                    self._forward(data, self.bridge_side, self.bridge_addr, 'up')
                elif self.client_addr is not None:
                    self._forward(data, self.client_side, self.client_addr, 'down')
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, sock, data, addr = heapq.heappop(self._queue)
                try:
                    sock.sendto(data, addr)
                except OSError:
                    pass

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.client_side.close()
        self.bridge_side.close()
