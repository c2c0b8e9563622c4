#!/usr/bin/python3
"""bench/forward: N senders x M receivers through conclave-bridge on loopback.

Starts a private Prosody and one bridge (one media worker), creates a conference over
Colibri2, connects N+M test peers (tests/peer), has each sender send timestamped
1100-byte packets at --rate per second for --seconds, and reports:

- forwarded packets per bridge CPU-second (the CPU time of all the bridge's threads over
  the window, from /proc/PID/task/*/schedstat; forwarded = conclave_bridge_rtp_forwarded_total);
- p50 / p99 added latency (receive time minus send time, between processes on this
  machine: includes both peers' SRTP work and two loopback hops);
- loss (packets a receiver never got, over packets sent times M);
- the floor on this machine (bench-floor: SRTP protect + UDP send per packet, same
  profile), measured right after the window twice: with the bridge's own protect and with
  libsrtp2's; and the bridge's figure as a percentage of each;
- how much the sends were batched: packets per send system call, and the share of packets
  that left inside a UDP GSO message.

With --call N, the conference is a call of N participants instead: each one sends and
receives the N-1 others.

With --compare-recording, the bridge has [recording] configured (a fresh key pair, a
private folder) and the same conference is measured in --rounds pairs of windows, one
unrecorded and one recorded (started and stopped over Colibri2), alternating which goes
first; it reports the bridge's CPU per forwarded packet in each mode (the whole process,
its media worker thread and its recording writer thread apart) and the extra CPU that
recording costs per forwarded packet.

Run from the source root after a build:  /usr/bin/python3 bench/forward.py --profile gcm
                                          /usr/bin/python3 bench/forward.py --call 3 \\
                                              --compare-recording --rate 1000
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

PROFILES = {'gcm': 'SRTP_AEAD_AES_128_GCM', 'cm': 'SRTP_AES128_CM_SHA1_80'}


def cpu_seconds(pid, tid=None):
    """CPU time of a thread, or of all of a process's threads, in seconds, from the
    scheduler's nanosecond accounting (/proc/.../schedstat), not the 10 ms ticks of stat."""
    if tid is not None:
        with open(f'/proc/{pid}/task/{tid}/schedstat') as f:
            return int(f.read().split()[0]) / 1e9
    total = 0.0
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            total += cpu_seconds(pid, t)
        except FileNotFoundError:
            pass  # a thread that just ended (its time is lost, a few ms at most)
    return total


def threads(pid):
    """{thread name: [tid]} of a process."""
    out = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/comm') as f:
                out.setdefault(f.read().strip(), []).append(tid)
        except FileNotFoundError:
            pass
    return out


def thread_cpu(pid, name):
    """CPU seconds of the process's threads called `name` (0 if there is none)."""
    total = 0.0
    for tid in threads(pid).get(name, []):
        try:
            total += cpu_seconds(pid, tid)
        except FileNotFoundError:
            pass
    return total


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--senders', type=int, default=2)
    ap.add_argument('--receivers', type=int, default=3)
    ap.add_argument('--call', type=int, default=0,
                    help='N participants that all send and receive (instead of senders and '
                         'receivers)')
    ap.add_argument('--rate', type=int, default=1000, help='packets per second per sender')
    ap.add_argument('--seconds', type=float, default=5.0, help='length of a window')
    ap.add_argument('--profile', choices=PROFILES, default='gcm')
    ap.add_argument('--compare-recording', action='store_true',
                    help='unrecorded and recorded windows of the same conference')
    ap.add_argument('--rounds', type=int, default=3,
                    help='pairs of windows with --compare-recording')
    args = ap.parse_args()
    if args.call:
        args.senders, args.receivers = args.call, 0
    windows = 2 * args.rounds if args.compare_recording else 1
    if args.senders * args.rate * args.seconds * windows > 5_000_000 or \
            args.seconds * windows > 120:
        ap.error('keep the run bounded: at most 5M packets sent and 120 s of windows')
    os.environ.setdefault('CONCLAVE_BRIDGE', os.path.join(args.build, 'bridge', 'conclave-bridge'))
    os.environ.setdefault('CONCLAVE_TEST_PEER',
                          os.path.join(args.build, 'tests', 'peer', 'conclave-test-peer'))
    os.environ.setdefault('CONCLAVE_CTL', os.path.join(args.build, 'tools', 'conclavectl'))
    return args


class Bench:
    def __init__(self, args):
        from conclave_harness import procs
        from conclave_harness.prosody import Prosody
        from conclave_harness.tempdir import make_tempdir
        self.args = args
        self.procs = procs
        self.jid = 'bridge1.localhost'
        self.prosody = Prosody(components={self.jid: 'bench-secret'})
        self.peers = []
        self.dir = make_tempdir(prefix='conclave-bench-forward-')
        self.rec_dir = None

    def recording_config(self):
        """A key pair and a folder: the bridge's [recording] group."""
        from conclave_daemons import BINARIES
        pub = os.path.join(self.dir, 'rec.pub')
        subprocess.run([BINARIES['ctl'], 'recording', 'keygen', os.path.join(self.dir, 'rec.key'),
                        pub], check=True, capture_output=True)
        self.rec_dir = os.path.join(self.dir, 'recordings')
        os.mkdir(self.rec_dir, 0o700)
        return f'[recording]\ndir = {self.rec_dir}\npublic_key = {pub}\n'

    def start(self):
        from conclave_daemons import Daemon
        from conclave_harness.xmpp_client import Client
        from conclave_media import modify_xml, parse_answer, sources_xml, transport_xml
        from conclave_media import Peer
        args = self.args
        self.prosody.start()
        self.prosody.register('focus', 'focus-password')
        port_min = 40000 + self.procs.free_port() % 10000
        extra = self.recording_config() if args.compare_recording else ''
        self.bridge = Daemon('bridge', self.jid, 'bench-secret', self.prosody.component_port,
                             extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port_min}\n'
                                   f'port_max = {port_min + 100}\nworkers = 1\n'
                                   f'[colibri]\ntrusted = focus@localhost\n{extra}')
        self.bridge.start()
        self.bridge.wait_health(200, timeout=15)
        self.client = Client('focus@localhost', 'focus-password', port=self.prosody.c2s_port)
        self.client.connect()
        names = [f's{i}' for i in range(args.senders)] + [f'r{i}' for i in range(args.receivers)]
        reply = self.client.send_iq_raw(modify_xml(
            self.jid, 'bench', [f"<endpoint id='{n}' create='true' occupant-id='occ-{n}'/>"
                                for n in names], create=True), timeout=20)
        answers = parse_answer(reply)
        profiles = PROFILES[args.profile]
        for i, n in enumerate(names):
            sender = n.startswith('s')
            peer = Peer(n, video=(10000 + i) if sender else 0,
                        audio=0 if sender else 20000 + i,
                        bench_rate=args.rate if sender else 0, profiles=profiles)
            self.peers.append(peer)
            update = f"<endpoint id='{n}'>{transport_xml(peer.transport)}"
            if sender:
                update += sources_xml(peer, n)
            self.client.send_iq_raw(modify_xml(self.jid, 'bench', [update + '</endpoint>']),
                                    timeout=10)
            a = answers[n]
            peer.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        for peer in self.peers:
            ev = peer.wait('connected', timeout=30)
            assert ev['profile'] == profiles, ev
        self.senders = [p for p in self.peers if p.name.startswith('s')]
        # Receivers of every sender: the M receivers, or in a call the other participants.
        for p in self.peers:
            others = [s for s in self.senders if s is not p]
            p.send(cmd='expect', sources=[{'ssrc': s.video, 'kind': 'bench'} for s in others])
        self.receivers = [p for p in self.peers if p.name.startswith('r')] or self.senders

    def recording(self, action, rec_id):
        reply = self.client.send_iq_raw(
            f"<iq type='set' to='{self.jid}'><conference-modify xmlns='jitsi:colibri2' "
            f"meeting-id='bench'><recording xmlns='urn:conclave:recording:0' action='{action}' "
            f"id='{rec_id}'/></conference-modify></iq>", timeout=20)
        assert reply['type'] == 'result', str(reply)

    def sample(self):
        pid = self.bridge.proc.pid
        m = __import__('conclave_media').parse_metrics(self.bridge.metrics())
        return {'cpu': cpu_seconds(pid), 'worker_cpu': thread_cpu(pid, 'media-0'),
                'recording_cpu': thread_cpu(pid, 'recording'),
                'forwarded': m.get('conclave_bridge_rtp_forwarded_total', 0),
                'packets_out': m.get('conclave_bridge_packets_out_total', 0),
                'send_calls': m.get('conclave_bridge_send_calls_total', 0),
                'gso_packets': m.get('conclave_bridge_gso_packets_total', 0),
                'packets_in': m.get('conclave_bridge_packets_in_total', 0),
                'recv_calls': m.get('conclave_bridge_recv_calls_total', 0),
                'recv_batched': m.get('conclave_bridge_recv_batched_total', 0),
                'recorded_packets': m.get('conclave_bridge_recording_packets_total', 0),
                'recording_bytes': m.get('conclave_bridge_recording_bytes_total', 0),
                'recording_drops': m.get('conclave_bridge_recording_dropped_packets_total'
                                         '{reason="queue_overflow"}', 0)}

    def send(self, seconds, during):
        """Every sender sends for `seconds`; `during()` runs meanwhile. Returns what it
        returned, the packets sent, and the receivers' loss and latency."""
        for r in self.receivers:
            r.send(cmd='reset-rx')
        for r in self.receivers:
            r.wait('rx-reset')
        for s in self.senders:
            s.send(cmd='send', seconds=seconds)
        result = during()
        sent = sum(s.wait('sent', timeout=seconds + 30)['bench'] for s in self.senders)
        time.sleep(0.5)
        reports = [r.report() for r in self.receivers]
        received = sum(st['unique'] for rep in reports for st in rep['streams'])
        # Each packet reaches the M receivers, or in a call the N-1 others.
        expected = sent * (len(self.senders) - 1 if self.args.call else len(self.receivers))
        return result, {
            'sent': sent,
            'loss_percent': round(100 * (1 - received / expected), 3) if expected else None,
            'latency_p50_us': sorted(rep['latency_us']['p50']
                                     for rep in reports)[len(reports) // 2],
            'latency_p99_us': max(rep['latency_us']['p99'] for rep in reports),
        }

    def window(self, recorded, rec_id):
        """One measured window of --seconds while the senders send, recorded or not."""
        if recorded:
            self.recording('start', rec_id)
        a = self.sample()
        time.sleep(self.args.seconds)
        b = self.sample()
        if recorded:
            self.recording('stop', rec_id)
        out = {k: b[k] - a[k] for k in a}
        out['recorded'] = recorded
        return out

    def stop(self):
        for p in self.peers:
            p.kill()
        try:
            if getattr(self, 'bridge', None) is not None:
                self.bridge.stop()
            if getattr(self, 'client', None) is not None:
                self.client.disconnect()
        finally:
            self.prosody.stop()
            self.procs.cleanup_all()


def us_per_packet(cpu, forwarded):
    return round(1e6 * cpu / forwarded, 3) if forwarded else None


def compare(bench, args):
    def during():
        time.sleep(0.5)  # every stream flowing
        out = []
        for i in range(args.rounds):
            order = (False, True) if i % 2 == 0 else (True, False)
            for recorded in order:
                out.append(bench.window(recorded, f'bench-{i}'))
        return out

    # One long send, the windows back to back inside it (a peer sends one window only).
    windows, traffic = bench.send(2 * args.rounds * (args.seconds + 0.3) + 2.0, during)
    result = {'profile': PROFILES[args.profile], 'participants': args.senders,
              'rate_per_sender': args.rate, 'seconds_per_window': args.seconds,
              'rounds': args.rounds, 'traffic': traffic, 'windows': []}
    for w in windows:
        w['us_per_forwarded'] = us_per_packet(w['cpu'], w['forwarded'])
        w['worker_us_per_forwarded'] = us_per_packet(w['worker_cpu'], w['forwarded'])
        w['recording_us_per_forwarded'] = us_per_packet(w['recording_cpu'], w['forwarded'])
        for k in ('cpu', 'worker_cpu', 'recording_cpu'):
            w[k] = round(w[k], 3)
        result['windows'].append(w)
    for mode, recorded in (('unrecorded', False), ('recorded', True)):
        ws = [w for w in windows if w['recorded'] == recorded]
        result[mode] = {
            'us_per_forwarded': us_per_packet(sum(w['cpu'] for w in ws),
                                              sum(w['forwarded'] for w in ws)),
            'worker_us_per_forwarded': us_per_packet(sum(w['worker_cpu'] for w in ws),
                                                     sum(w['forwarded'] for w in ws)),
            'median_us_per_forwarded': statistics.median(w['us_per_forwarded'] for w in ws),
        }
    off, on = result['unrecorded'], result['recorded']
    result['extra_cpu_percent'] = round(
        100 * (on['us_per_forwarded'] - off['us_per_forwarded']) / off['us_per_forwarded'], 1)
    result['extra_worker_cpu_percent'] = round(
        100 * (on['worker_us_per_forwarded'] - off['worker_us_per_forwarded'])
        / off['worker_us_per_forwarded'], 1)
    pairs = [(windows[2 * i], windows[2 * i + 1]) for i in range(args.rounds)]
    result['extra_cpu_percent_per_round'] = [
        round(100 * (on_w['us_per_forwarded'] - off_w['us_per_forwarded'])
              / off_w['us_per_forwarded'], 1)
        for a, b in pairs for off_w, on_w in [(a, b) if not a['recorded'] else (b, a)]]
    return result


def single(bench, args):
    def during():
        a = bench.sample()
        time.sleep(args.seconds)
        return {k: v - a[k] for k, v in bench.sample().items()}

    w, traffic = bench.send(args.seconds + 1.0, during)
    # Both floors right after the window, so that the machine's drift hits all alike: with
    # the bridge's own SRTP protect, and with libsrtp2's (the yardstick before it had one).
    floor, floor_libsrtp = (json.loads(subprocess.run(
        [os.path.join(args.build, 'bench', 'bench-floor'), args.profile, '3', protect],
        check=True, capture_output=True, text=True, timeout=60).stdout)
        for protect in ('bridge', 'libsrtp'))
    per_cpu = w['forwarded'] / w['cpu'] if w['cpu'] > 0 else float('nan')
    return {
        'profile': PROFILES[args.profile], 'senders': args.senders,
        'receivers': args.receivers, 'rate_per_sender': args.rate, 'seconds': args.seconds,
        'sent': traffic['sent'], 'forwarded': int(w['forwarded']),
        'bridge_cpu_seconds': round(w['cpu'], 3),
        'forwarded_per_cpu_second': round(per_cpu),
        'floor_per_cpu_second': round(floor['packets_per_cpu_second']),
        'percent_of_floor': round(100 * per_cpu / floor['packets_per_cpu_second'], 1),
        'floor_libsrtp_per_cpu_second': round(floor_libsrtp['packets_per_cpu_second']),
        'percent_of_libsrtp_floor':
            round(100 * per_cpu / floor_libsrtp['packets_per_cpu_second'], 1),
        'latency_p50_us': traffic['latency_p50_us'], 'latency_p99_us': traffic['latency_p99_us'],
        'loss_percent': traffic['loss_percent'],
        # Batching (bridges before it have no such counters: null).
        'packets_per_send_call': round(w['packets_out'] / w['send_calls'], 2)
        if w['send_calls'] else None,
        'gso_share_percent': round(100 * w['gso_packets'] / w['packets_out'], 1)
        if w['packets_out'] else None,
        # Batched reading beside libnice (null before it): datagrams per recvmmsg() (peeks
        # and takes), and the share of received datagrams it took.
        'packets_per_recv_call': round(w['recv_batched'] / w['recv_calls'], 2)
        if w['recv_calls'] else None,
        'recv_batched_percent': round(100 * w['recv_batched'] / w['packets_in'], 1)
        if w['packets_in'] else None,
    }


def main():
    args = parse_args()
    bench = Bench(args)
    try:
        bench.start()
        result = compare(bench, args) if args.compare_recording else single(bench, args)
        print(json.dumps(result))
    finally:
        bench.stop()


if __name__ == '__main__':
    main()
