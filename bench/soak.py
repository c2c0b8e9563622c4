#!/usr/bin/python3
"""Soak: a whole stack under constant churn for a given time, watched for growth.

A private Prosody, conclave-focus and two conclave-bridges (the integration harness's, on
127.0.0.1), and conclave-test-peer participants in XMPP mode that join and leave a few
rooms all the time: every `--churn-interval` seconds one room gains a participant (who
sends audio and video from its session's start) or loses one (half leave cleanly, half
are killed, which the server turns into an unavailable presence). Joins and leaves are
source changes for everyone else in the room (source-add, source-remove). Every
`--bridge-restart` seconds the bridge carrying the most conferences is restarted
(SIGTERM, then started again); its conferences move to the other one.

Every `--sample` seconds it records, for the focus and each bridge: RSS (KiB), open file
descriptors, CPU seconds (utime + stime); and the stack's counts (rooms, occupants,
conferences). At the end: a table over time, the growth of the focus from the end of the
warm-up (the first `--warmup` seconds) to the end of the run, the same for each bridge
process over its own life after warm-up, joins that failed, and sanitizer reports or
crashes. `--csv FILE` keeps the samples. Exit status 0 when nothing crashed and every
participant that joined got a session.

    bench/soak.py --minutes 20
    bench/soak.py --minutes 2 --bridge-restart 40    # a short look
    bench/soak.py --build build-asan --minutes 20   # the sanitizer build
"""

import argparse
import csv
import os
import random
import re
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
# The binaries: --build DIR (default build), read before the harness is imported.
BUILD = os.path.join(ROOT, 'build')
for i, a in enumerate(sys.argv):
    if a == '--build' and i + 1 < len(sys.argv):
        BUILD = os.path.abspath(sys.argv[i + 1])
    elif a.startswith('--build='):
        BUILD = os.path.abspath(a.split('=', 1)[1])
os.environ.setdefault('CONCLAVE_FOCUS', os.path.join(BUILD, 'focus', 'conclave-focus'))
os.environ.setdefault('CONCLAVE_BRIDGE', os.path.join(BUILD, 'bridge', 'conclave-bridge'))
os.environ.setdefault('CONCLAVE_TEST_PEER',
                      os.path.join(BUILD, 'tests', 'peer', 'conclave-test-peer'))

from conclave_harness import procs  # noqa: E402  (installs the clean-up handlers)
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_daemons import Daemon  # noqa: E402
from conclave_media import XmppPeer, parse_metrics  # noqa: E402

FOCUS = 'conference.localhost'
BRIDGES = {'bridge1.localhost': 'b1-secret', 'bridge2.localhost': 'b2-secret'}
CLK_TCK = os.sysconf('SC_CLK_TCK')
USERS = 16


def log(msg, *args):
    sys.stderr.write('[soak] ' + (msg % args if args else msg) + '\n')
    sys.stderr.flush()


def proc_sample(pid):
    """(RSS KiB, open fds, CPU s) of a live process, or None."""
    try:
        with open(f'/proc/{pid}/status') as f:
            rss = int(re.search(r'^VmRSS:\s+(\d+)', f.read(), re.M).group(1))
        fds = len(os.listdir(f'/proc/{pid}/fd'))
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        return rss, fds, cpu
    except (OSError, AttributeError, IndexError, ValueError):
        return None


class Stack:
    def __init__(self, args):
        self.args = args
        self.prosody = Prosody(components={FOCUS: 'focus-secret', **BRIDGES})
        self.prosody.start()
        for i in range(USERS):
            self.prosody.register(f'soak{i}', 'soak-pw')
        self.focus = Daemon('focus', FOCUS, 'focus-secret', self.prosody.component_port,
                            extra=f"[focus]\nbridges = {', '.join(BRIDGES)}\n"
                                  'bridge_check_interval_s = 2\nbridge_timeout_ms = 1500\n'
                                  '[security]\nauthenticated_domains = localhost\n').start()
        self.bridges = {}
        for domain, secret in BRIDGES.items():
            port = 30000 + procs.free_port() % 20000
            self.bridges[domain] = Daemon(
                'bridge', domain, secret, self.prosody.component_port,
                extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                      f'port_max = {port + 200}\nworkers = 2\nmedia_timeout = 10\n'
                      f'empty_conference_grace = 10\n[colibri]\ntrusted = {FOCUS}\n').start()
        self.focus.wait_health(200, timeout=20)
        for b in self.bridges.values():
            b.wait_health(200, timeout=20)
        self.rooms = {f'soakroom{i}@{FOCUS}': [] for i in range(args.rooms)}
        self.counter = 0
        self.joined = self.failed = self.left = self.killed = self.restarts = 0
        self.dead = []  # (name, exit status) of daemons that died on their own

    def add_peer(self, room):
        self.counter += 1
        n = self.counter
        name = f'p{n}'
        base = 20000 + 10 * n
        try:
            p = XmppPeer(name, f'soak{n % USERS}@localhost/{name}', 'soak-pw',
                         self.prosody.c2s_port, audio=base, video=base + 1, rtx=base + 2,
                         send_on_connect=3600)
            self.rooms[room].append(p)
            p.join(room, name)
            p.wait_session(timeout=20)
            p.wait_connected(timeout=20)
            self.joined += 1
        except (AssertionError, TimeoutError) as e:
            self.failed += 1
            log('%s could not join with media: %s', name, e)

    def remove_peer(self, room):
        p = self.rooms[room].pop(random.randrange(len(self.rooms[room])))
        if random.random() < 0.5:
            p.leave()
            time.sleep(0.2)
            self.left += 1
        else:
            self.killed += 1
        p.kill()

    def churn(self):
        room = random.choice(list(self.rooms))
        if len(self.rooms[room]) < self.args.max_per_room and (
                not self.rooms[room] or random.random() < 0.55):
            self.add_peer(room)
        elif self.rooms[room]:
            self.remove_peer(room)

    def restart_busiest_bridge(self):
        def conferences(d):
            m = parse_metrics(d.metrics())
            return sum(v for k, v in m.items() if k.startswith('conclave_bridge_worker_conferences'))
        domain = max(self.bridges, key=lambda b: conferences(self.bridges[b]))
        d = self.bridges[domain]
        status = d.stop()
        if status != 0:
            self.dead.append((domain, f'exit status {status} on SIGTERM'))
        d.start()
        d.wait_health(200, timeout=20)
        self.restarts += 1
        log('restarted %s (exit %s)', domain, status)

    def counts(self):
        m = parse_metrics(self.focus.metrics())
        return (int(m.get('conclave_muc_rooms', 0)), int(m.get('conclave_muc_occupants', 0)),
                sum(len(v) for v in self.rooms.values()))

    def check_alive(self):
        for name, d in [('focus', self.focus)] + list(self.bridges.items()):
            if d.proc.poll() is not None:
                self.dead.append((name, f'died with status {d.proc.returncode}'))
                raise RuntimeError(f'{name} died')

    def stop(self):
        for peers in self.rooms.values():
            for p in peers:
                p.kill()
        statuses = {'focus': self.focus.stop()}
        for domain, d in self.bridges.items():
            statuses[domain] = d.stop()
        reports = {name: d.sanitizer_reports()
                   for name, d in [('focus', self.focus)] + list(self.bridges.items())}
        self.prosody.stop()
        return statuses, reports


def growth(rows, who, warmup_end):
    """(RSS KiB, fds) growth from the first sample after warm-up to the last, per process
    life of `who` (a bridge's pid changes when it restarts)."""
    lives = {}
    for r in rows:
        if r['who'] == who and r['t'] >= warmup_end:
            lives.setdefault(r['pid'], []).append(r)
    out = []
    for pid, life in lives.items():
        if len(life) >= 2:
            out.append((pid, life[0]['t'], life[-1]['t'], life[-1]['rss'] - life[0]['rss'],
                        life[-1]['fds'] - life[0]['fds'], life[0]['rss'], life[-1]['rss']))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--minutes', type=float, default=20)
    ap.add_argument('--rooms', type=int, default=4)
    ap.add_argument('--max-per-room', type=int, default=3)
    ap.add_argument('--churn-interval', type=float, default=2.0)
    ap.add_argument('--bridge-restart', type=float, default=180)
    ap.add_argument('--sample', type=float, default=10)
    ap.add_argument('--warmup', type=float, default=180)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--csv')
    ap.add_argument('--build', help='the build folder with the binaries (build)')
    args = ap.parse_args()
    random.seed(args.seed)
    stack = Stack(args)
    rows = []
    start = time.monotonic()
    end = start + args.minutes * 60
    next_sample = start
    next_restart = start + args.bridge_restart
    ok = True
    try:
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_sample:
                rooms, occupants, peers = stack.counts()
                for who, d in [('focus', stack.focus)] + list(stack.bridges.items()):
                    s = proc_sample(d.proc.pid)
                    if s:
                        rows.append({'t': round(now - start, 1), 'who': who, 'pid': d.proc.pid,
                                     'rss': s[0], 'fds': s[1], 'cpu': round(s[2], 2),
                                     'rooms': rooms, 'occupants': occupants, 'peers': peers})
                log('t=%4.0fs rooms %d occupants %d peers %d | focus %s | %s', now - start,
                    rooms, occupants, peers, rows[-3]['rss'] if len(rows) >= 3 else '-',
                    ' '.join(f"{r['who']}:{r['rss']}KiB/{r['fds']}fd" for r in rows[-3:]))
                next_sample += args.sample
            if now >= next_restart:
                stack.restart_busiest_bridge()
                next_restart += args.bridge_restart
            stack.churn()
            stack.check_alive()
            time.sleep(max(0.0, args.churn_interval - (time.monotonic() - now)))
    except RuntimeError as e:
        log('stopped early: %s', e)
        ok = False
    statuses, reports = stack.stop()
    if args.csv:
        with open(args.csv, 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    warmup_end = args.warmup
    print(f'soak: {args.minutes:g} min, {stack.joined} joins with media, {stack.failed} failed, '
          f'{stack.left} clean leaves, {stack.killed} killed, {stack.restarts} bridge restarts')
    for who in ['focus'] + list(BRIDGES):
        for pid, t0, t1, drss, dfds, rss0, rss1 in growth(rows, who, warmup_end):
            print(f'  {who} pid {pid}: t={t0:.0f}..{t1:.0f}s RSS {rss0} -> {rss1} KiB '
                  f'({drss:+d}), fds {dfds:+d}')
    cpu = {r['who']: r['cpu'] for r in rows}
    print(f"  CPU seconds at the end: {cpu}")
    print(f'  exit statuses: {statuses}; sanitizer reports: {reports}; died: {stack.dead}')
    if stack.failed or stack.dead or any(v != 0 for v in statuses.values()) or \
            any(reports.values()):
        ok = False
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
