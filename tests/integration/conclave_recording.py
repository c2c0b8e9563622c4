"""What the recording tests share: the packets the project's test peer sends (rebuilt here,
as tests/peer/streams.c makes them), reading the pcaps `conclavectl recording decrypt`
writes, and running a tool with sanitizer reports failing the test."""

import struct
import subprocess

from conclave_daemons import SANITIZER_MARKS

M32 = 0xffffffff
CODECS = {111: 'opus', 100: 'VP8', 101: 'VP9', 107: 'H264', 96: 'rtx', 97: 'rtx', 99: 'rtx'}


def _mix(a, b):
    h = ((a * 0x9E3779B1) ^ (b + 0x7F4A7C15 + (a << 6) + (a >> 2))) & M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    return h ^ (h >> 16)


def peer_packet(kind, ssrc, k):
    """The k-th RTP packet of a test peer's stream, as peer_stream_build() makes it."""
    k &= 0xffff
    h = _mix(ssrc, k)
    seq = ((_mix(ssrc, 1) & 0x3fff) + k) & 0xffff
    ts0 = _mix(ssrc, 2)
    if kind == 'audio':
        pt, marker, ts, n = 111, k == 0, ts0 + k * 960, 60 + h % 100
    elif kind == 'video':
        pt, marker, ts, n = 96, k % 3 == 2, ts0 + (k // 3) * 3000, 900 + h % 250
    else:
        pt, marker, ts, n = 97, False, ts0 + k * 3000, 200 + h % 200
    head = struct.pack('!BBHII', 0x90, (0x80 if marker else 0) | pt, seq, ts & M32, ssrc)
    ext = bytes([0xBE, 0xDE, 0, 1, 0x11, h & 0xff, (h >> 8) & 0xff, 0])
    payload = bytearray(n)
    x = h | 1
    for i in range(n):
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        payload[i] = x & 0xff
    if kind == 'rtx':
        payload[0], payload[1] = k >> 8, k & 0xff
    return head + ext + bytes(payload)


PAYLOAD_OFFSET = 20  # 12-byte header + 8-byte extension block


# -- reading what conclavectl wrote -------------------------------------------------------

def read_pcap(path):
    """[(udp dst port, payload)] of a classic pcap of Ethernet/IPv4/UDP frames."""
    with open(path, 'rb') as f:
        data = f.read()
    assert struct.unpack('<I', data[:4])[0] == 0xa1b2c3d4
    out, at = [], 24
    while at < len(data):
        incl = struct.unpack('<I', data[at + 8:at + 12])[0]
        frame = data[at + 16:at + 16 + incl]
        out.append((struct.unpack('!H', frame[36:38])[0], frame[42:]))
        at += 16 + incl
    return out


def run(*args, timeout=60):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    for mark in SANITIZER_MARKS:
        assert mark not in r.stderr, r.stderr
    return r
