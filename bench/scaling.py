#!/usr/bin/python3
"""bench/scaling: forwarded packets per second and the bridge's CPU as conferences,
participants and media workers grow.

Each step starts a private Prosody and one conclave-bridge with --workers media workers,
creates --conferences conferences of --participants test peers each over Colibri2 (a call:
every participant sends and receives all the others), has every participant send
timestamped 1100-byte packets at --rate per second for --seconds, and reports:

- forwarded packets per second (the bridge's conclave_bridge_rtp_forwarded_total),
- the bridge's CPU (all threads, and each media worker thread apart) as a share of one core,
- forwarded packets per CPU-second,
- loss (packets a receiver never got, over packets sent times N-1) and p50/p99 latency.

--sweep runs the table of docs/performance.md; --largest finds the largest single
conference one worker carries without loss at --rate (default 170 packets a second per
participant: a 30 fps video of four packets a frame plus 50 audio packets, all 1100 bytes).

The test peers run on the same machine and compete with the bridge for CPU: the step at
which a run first loses packets is where the machine gave out, bridge and peers together;
the bridge's own CPU share says how much of that was the bridge.

Run from the source root after a build:  /usr/bin/python3 bench/scaling.py --sweep
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))

from forward import cpu_seconds, threads  # noqa: E402

PROFILES = {'gcm': 'SRTP_AEAD_AES_128_GCM', 'cm': 'SRTP_AES128_CM_SHA1_80'}
SWEEP = [  # (workers, conferences, participants)
    (1, 1, 4), (1, 1, 8), (1, 1, 16), (1, 4, 4), (1, 8, 4),
    (2, 1, 8), (2, 2, 8), (2, 4, 4), (2, 8, 4),
]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--workers', type=int, default=1)
    ap.add_argument('--conferences', type=int, default=1)
    ap.add_argument('--participants', type=int, default=4)
    ap.add_argument('--rate', type=int, default=170, help='packets per second per participant')
    ap.add_argument('--seconds', type=float, default=5.0)
    ap.add_argument('--profile', choices=PROFILES, default='gcm')
    ap.add_argument('--sweep', action='store_true', help='the table of docs/performance.md')
    ap.add_argument('--largest', action='store_true',
                    help='the largest conference one worker carries without loss')
    ap.add_argument('--start', type=int, default=4, help='--largest: the first size tried')
    ap.add_argument('--max-participants', type=int, default=40)
    args = ap.parse_args()
    peers = args.conferences * args.participants
    if peers > 120 or args.seconds > 30 or args.rate * peers * args.seconds > 2_000_000:
        ap.error('keep the run bounded: at most 120 peers, 30 s and 2M packets sent a step')
    os.environ.setdefault('CONCLAVE_BRIDGE', os.path.join(args.build, 'bridge', 'conclave-bridge'))
    os.environ.setdefault('CONCLAVE_TEST_PEER',
                          os.path.join(args.build, 'tests', 'peer', 'conclave-test-peer'))
    return args


def worker_cpu(pid):
    """{worker thread name: CPU seconds} of the bridge's media workers."""
    out = {}
    for name, tids in threads(pid).items():
        if name.startswith('media-'):
            total = 0.0
            for tid in tids:
                try:
                    total += cpu_seconds(pid, tid)
                except FileNotFoundError:
                    pass
            out[name] = total
    return out


def step(workers, conferences, participants, rate, seconds, profile):
    """One run: a fresh Prosody and bridge, `conferences` calls of `participants`."""
    from conclave_daemons import Daemon
    from conclave_harness import procs
    from conclave_harness.prosody import Prosody
    from conclave_harness.xmpp_client import Client
    from conclave_media import Peer, modify_xml, parse_answer, parse_metrics, sources_xml
    from conclave_media import transport_xml
    jid = 'bridge1.localhost'
    prosody = Prosody(components={jid: 'bench-secret'})
    peers, bridge, client = [], None, None
    try:
        prosody.start()
        prosody.register('focus', 'focus-password')
        port_min = 40000 + procs.free_port() % 10000
        bridge = Daemon('bridge', jid, 'bench-secret', prosody.component_port,
                        extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port_min}\n'
                              f'port_max = {port_min + 400}\nworkers = {workers}\n'
                              f'[colibri]\ntrusted = focus@localhost\n')
        bridge.start()
        bridge.wait_health(200, timeout=15)
        client = Client('focus@localhost', 'focus-password', port=prosody.c2s_port)
        client.connect()
        calls = []
        for c in range(conferences):
            meeting = f'scale-{c}'
            names = [f'c{c}p{i}' for i in range(participants)]
            reply = client.send_iq_raw(modify_xml(
                jid, meeting, [f"<endpoint id='{n}' create='true'/>" for n in names],
                create=True), timeout=30)
            answers = parse_answer(reply)
            call = []
            for i, n in enumerate(names):
                peer = Peer(n, video=100000 * (c + 1) + i, bench_rate=rate,
                            profiles=PROFILES[profile])
                peers.append(peer)
                call.append(peer)
                client.send_iq_raw(modify_xml(jid, meeting, [
                    f"<endpoint id='{n}'>{transport_xml(peer.transport)}"
                    f"{sources_xml(peer, n)}</endpoint>"]), timeout=10)
                a = answers[n]
                peer.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
            calls.append(call)
        for p in peers:
            p.wait('connected', timeout=60)
        for call in calls:
            for p in call:
                p.send(cmd='expect', sources=[{'ssrc': o.video, 'kind': 'bench'}
                                              for o in call if o is not p])
        for p in peers:
            p.send(cmd='reset-rx')
        for p in peers:
            p.wait('rx-reset')
        pid = bridge.proc.pid
        for p in peers:
            p.send(cmd='send', seconds=seconds + 1.0)
        time.sleep(0.5)  # every stream flowing
        m0, c0, w0, t0 = parse_metrics(bridge.metrics()), cpu_seconds(pid), worker_cpu(pid), \
            time.monotonic()
        time.sleep(seconds)
        m1, c1, w1, t1 = parse_metrics(bridge.metrics()), cpu_seconds(pid), worker_cpu(pid), \
            time.monotonic()
        sent = sum(p.wait('sent', timeout=seconds + 30)['bench'] for p in peers)
        time.sleep(0.5)
        reports = [p.report() for p in peers]
        received = sum(st['unique'] for r in reports for st in r['streams'])
        wall = t1 - t0
        forwarded = m1.get('conclave_bridge_rtp_forwarded_total', 0) - \
            m0.get('conclave_bridge_rtp_forwarded_total', 0)
        cpu = c1 - c0
        return {
            'workers': workers, 'conferences': conferences, 'participants': participants,
            'rate_per_participant': rate, 'profile': PROFILES[profile],
            'forwarded_per_second': round(forwarded / wall),
            'bridge_cpu_share': round(cpu / wall, 3),
            'worker_cpu_share': {k: round((w1.get(k, 0) - w0.get(k, 0)) / wall, 3)
                                 for k in sorted(w1)},
            'forwarded_per_cpu_second': round(forwarded / cpu) if cpu > 0 else None,
            'loss_percent': round(100 * (1 - received / (sent * (participants - 1))), 3),
            'latency_p50_us': sorted(r['latency_us']['p50'] for r in reports)[len(reports) // 2],
            'latency_p99_us': max(r['latency_us']['p99'] for r in reports),
            'load_average': os.getloadavg()[0],
        }
    finally:
        for p in peers:
            p.kill()
        if client is not None:
            client.disconnect()
        if bridge is not None and bridge.proc is not None and bridge.proc.poll() is None:
            bridge.stop()
        prosody.stop()


def main():
    args = parse_args()
    try:
        run(args)
    finally:
        from conclave_harness import procs
        procs.cleanup_all()  # once: it closes the harness


def run(args):
    results = []
    if args.sweep:
        for workers, conferences, participants in SWEEP:
            results.append(step(workers, conferences, participants, args.rate, args.seconds,
                                args.profile))
            print(json.dumps(results[-1]), file=sys.stderr)
    elif args.largest:
        # Grows the call by 2 until a run loses packets; the answer is the last clean size.
        n, largest = args.start, None
        while n <= args.max_participants:
            r = step(1, 1, n, args.rate, args.seconds, args.profile)
            results.append(r)
            print(json.dumps(r), file=sys.stderr)
            if r['loss_percent'] > 0:
                break
            largest = n
            n += 2
        results.append({'largest_without_loss': largest})
    else:
        results.append(step(args.workers, args.conferences, args.participants, args.rate,
                            args.seconds, args.profile))
    print(json.dumps(results))


if __name__ == '__main__':
    main()
