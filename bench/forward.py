#!/usr/bin/python3
"""bench/forward: N senders x M receivers through conclave-bridge on loopback.

Starts a private Prosody and one bridge (one media worker), creates a conference over
Colibri2, connects N+M test peers (tests/peer), has each sender send timestamped
1100-byte packets at --rate per second for --seconds, and reports:

- forwarded packets per bridge CPU-second (the bridge's utime+stime over the window,
  forwarded = conclave_bridge_rtp_forwarded_total);
- p50 / p99 added latency (receive time minus send time, between processes on this
  machine: includes both peers' SRTP work and two loopback hops);
- loss (packets a receiver never got, over packets sent times M);
- the floor on this machine (bench-floor: SRTP protect + UDP send per packet, same
  profile), and the bridge's figure as a percentage of it.

Run from the source root after a build:  /usr/bin/python3 bench/forward.py --profile gcm
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

PROFILES = {'gcm': 'SRTP_AEAD_AES_128_GCM', 'cm': 'SRTP_AES128_CM_SHA1_80'}


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--senders', type=int, default=2)
    ap.add_argument('--receivers', type=int, default=3)
    ap.add_argument('--rate', type=int, default=1000, help='packets per second per sender')
    ap.add_argument('--seconds', type=float, default=5.0)
    ap.add_argument('--profile', choices=PROFILES, default='gcm')
    args = ap.parse_args()
    if args.senders * args.rate * args.seconds > 5_000_000 or args.seconds > 60:
        ap.error('keep the run bounded: at most 5M packets sent and 60 s')
    os.environ.setdefault('CONCLAVE_BRIDGE', os.path.join(args.build, 'bridge', 'conclave-bridge'))
    os.environ.setdefault('CONCLAVE_TEST_PEER',
                          os.path.join(args.build, 'tests', 'peer', 'conclave-test-peer'))

    from conclave_harness import procs
    from conclave_harness.prosody import Prosody
    from conclave_harness.xmpp_client import Client
    from conclave_daemons import Daemon
    from conclave_media import (Counters, Peer, modify_xml, parse_answer, sources_xml,
                                transport_xml)

    bridge_jid = 'bridge1.localhost'
    prosody = Prosody(components={bridge_jid: 'bench-secret'})
    peers = []
    try:
        prosody.start()
        prosody.register('focus', 'focus-password')
        port_min = 40000 + procs.free_port() % 10000
        bridge = Daemon('bridge', bridge_jid, 'bench-secret', prosody.component_port,
                        extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port_min}\n'
                              f'port_max = {port_min + 100}\nworkers = 1\n'
                              f'[colibri]\ntrusted = focus@localhost\n')
        bridge.start()
        bridge.wait_health(200, timeout=15)
        client = Client('focus@localhost', 'focus-password', port=prosody.c2s_port)
        client.connect()
        names = [f's{i}' for i in range(args.senders)] + [f'r{i}' for i in range(args.receivers)]
        reply = client.send_iq_raw(modify_xml(
            bridge_jid, 'bench', [f"<endpoint id='{n}' create='true'/>" for n in names],
            create=True), timeout=20)
        answers = parse_answer(reply)
        profiles = PROFILES[args.profile]
        for i, n in enumerate(names):
            sender = n.startswith('s')
            peer = Peer(n, video=(10000 + i) if sender else 0,
                        audio=0 if sender else 20000 + i,
                        bench_rate=args.rate if sender else 0, profiles=profiles)
            peers.append(peer)
            update = f"<endpoint id='{n}'>{transport_xml(peer.transport)}"
            if sender:
                update += sources_xml(peer, n)
            client.send_iq_raw(modify_xml(bridge_jid, 'bench', [update + '</endpoint>']),
                               timeout=10)
            a = answers[n]
            peer.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        for peer in peers:
            ev = peer.wait('connected', timeout=30)
            assert ev['profile'] == profiles, ev
        senders = [p for p in peers if p.name.startswith('s')]
        receivers = [p for p in peers if p.name.startswith('r')]
        for r in receivers:
            r.send(cmd='expect', sources=[{'ssrc': s.video, 'kind': 'bench'} for s in senders])
        counters = Counters(bridge)
        cpu0 = cpu_seconds(bridge.proc.pid)
        for s in senders:
            s.send(cmd='send', seconds=args.seconds)
        sent = sum(s.wait('sent', timeout=args.seconds + 30)['bench'] for s in senders)
        time.sleep(0.5)
        cpu = cpu_seconds(bridge.proc.pid) - cpu0
        forwarded = counters.delta('conclave_bridge_rtp_forwarded_total')
        reports = [r.report() for r in receivers]
        received = sum(st['unique'] for rep in reports for st in rep['streams'])
        expected = sent * args.receivers
        p50 = sorted(rep['latency_us']['p50'] for rep in reports)[len(reports) // 2]
        p99 = max(rep['latency_us']['p99'] for rep in reports)
        floor = json.loads(subprocess.run(
            [os.path.join(args.build, 'bench', 'bench-floor'), args.profile, '3'],
            check=True, capture_output=True, text=True, timeout=60).stdout)
        per_cpu = forwarded / cpu if cpu > 0 else float('nan')
        result = {
            'profile': profiles, 'senders': args.senders, 'receivers': args.receivers,
            'rate_per_sender': args.rate, 'seconds': args.seconds, 'sent': sent,
            'forwarded': int(forwarded), 'bridge_cpu_seconds': round(cpu, 3),
            'forwarded_per_cpu_second': round(per_cpu),
            'floor_per_cpu_second': round(floor['packets_per_cpu_second']),
            'percent_of_floor': round(100 * per_cpu / floor['packets_per_cpu_second'], 1),
            'latency_p50_us': p50, 'latency_p99_us': p99,
            'loss_percent': round(100 * (1 - received / expected), 3) if expected else None,
        }
        print(json.dumps(result))
        bridge.stop()
        client.disconnect()
    finally:
        for p in peers:
            p.kill()
        prosody.stop()
        procs.cleanup_all()


if __name__ == '__main__':
    main()
