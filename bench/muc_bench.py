#!/usr/bin/python3
"""MUC load benchmark: a private Prosody, a conclave-focus as its MUC component, and
muc-load's N clients joining M rooms and chatting (see README.md in this folder).

Measures, besides what muc-load reports (joins/s, join latency, deliveries): the RSS of
the focus idle, with every occupant joined, at its peak and after everyone left; the RSS
of Prosody; and the CPU time (utime + stime) of the focus, Prosody and muc-load in each
phase, so that the bottleneck shows. Prints a short report, then one JSON object.

Everything runs on 127.0.0.1 and everything started here stops when this script ends, on
success, failure or SIGINT/SIGTERM (the integration harness sees to it).
"""

import argparse
import json
import os
import re
import resource
import shutil
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

from conclave_harness import procs  # noqa: E402  (installs the clean-up handlers)
from conclave_harness.prosody import Prosody  # noqa: E402
from conclave_harness.tempdir import make_tempdir  # noqa: E402

BENCH_DOMAIN = 'bench.localhost'     # SASL ANONYMOUS host; "authenticated" for the focus
SERVICE = 'conference.localhost'
SECRET = 'bench-component-secret'
CLK_TCK = os.sysconf('SC_CLK_TCK')
MAX_CLIENTS = 1000   # muc-load: FD_SETSIZE - 24
PHASES = ('login', 'join', 'settle', 'joined', 'messages', 'leave', 'done')


def log(msg, *args):
    sys.stderr.write('[bench] ' + (msg % args if args else msg) + '\n')
    sys.stderr.flush()


# -- /proc sampling ------------------------------------------------------------------

def proc_status(pid):
    """VmRSS and VmHWM in KiB (None if the process is gone)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            fields = dict(line.split(':', 1) for line in f if ':' in line)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return {k: int(fields[k].split()[0]) for k in ('VmRSS', 'VmHWM') if k in fields}


def cpu_seconds(pid):
    """utime + stime in seconds (None if the process is gone)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            rest = f.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    # After the command name: state is field 3, utime 14 and stime 15 (1-based).
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def snapshot(pids):
    snap = {'t': time.monotonic()}
    for name, pid in pids.items():
        status = proc_status(pid) if pid else None
        snap[name] = {'rss_kib': status.get('VmRSS') if status else None,
                      'hwm_kib': status.get('VmHWM') if status else None,
                      'cpu_s': cpu_seconds(pid) if pid else None}
    return snap


# -- the focus -----------------------------------------------------------------------

class Focus:
    """conclave-focus with a private config (as tests/integration/conclave_daemons.py
    does), but logging at 'message' level: per-join info lines would cost time."""

    def __init__(self, binary, component_port, rooms_limit, occupants_limit, rate,
                 security='', extra=''):
        self.binary = binary
        self.dir = make_tempdir(prefix='conclave-bench-focus-')
        self.http_port = procs.free_port()
        self.log_path = os.path.join(self.dir, 'focus.log')
        secret = os.path.join(self.dir, 'secret')
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(SECRET + '\n')
        self.config_path = os.path.join(self.dir, 'focus.conf')
        with open(self.config_path, 'w') as f:
            f.write(f'[xmpp]\nserver = 127.0.0.1\nport = {component_port}\n'
                    f'domain = {SERVICE}\nsecret_file = {secret}\nreconnect_max_ms = 1000\n'
                    f'[security]\nauthenticated_domains = {BENCH_DOMAIN}\n{security}'
                    f'[muc]\nmax_rooms = {rooms_limit}\nmax_occupants = {occupants_limit}\n'
                    f'max_stanzas_per_second = {rate}\n'
                    f'[http]\nlisten = 127.0.0.1:{self.http_port}\n'
                    f'[log]\nlevel = message\n{extra}')
        self.proc = None

    def start(self):
        self.proc = procs.start([self.binary, '--config', self.config_path],
                                name='conclave-focus', log_path=self.log_path)
        procs.wait_until(lambda: self.health() == 200, timeout=20,
                         message='conclave-focus never became healthy:\n' + self.log_text())
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _get(self, path):
        with urllib.request.urlopen(f'http://127.0.0.1:{self.http_port}{path}',
                                    timeout=5) as r:
            return r.status, r.read().decode()

    def health(self):
        try:
            return self._get('/health')[0]
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def metrics(self):
        """{name{labels}: value} of the Prometheus text, {} if unreachable."""
        try:
            text = self._get('/metrics')[1]
        except OSError:
            return {}
        values = {}
        for line in text.splitlines():
            m = re.match(r'^([a-zA-Z_:][^ ]*) ([-+0-9.eE]+|NaN)$', line)
            if m:
                values[m.group(1)] = float(m.group(2))
        return values

    def log_text(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''


# -- muc-load ------------------------------------------------------------------------

def run_load(args, prosody, pids, log_path):
    """Runs muc-load; snapshots the processes at each of its phase lines. Returns
    (result dict or None, {phase: snapshot}, exit code, peak snapshot values)."""
    cmd = [args.muc_load, '--server', '127.0.0.1', '--port', str(prosody.c2s_port),
           '--domain', BENCH_DOMAIN, '--service', SERVICE,
           '--clients', str(args.clients), '--rooms', str(args.rooms),
           '--messages', str(args.messages), '--concurrency', str(args.concurrency),
           '--join-window', str(args.join_window), '--deadline', str(args.deadline),
           '--stall', str(args.stall), '--hold', '1']
    snaps = {'start': snapshot(pids)}
    proc = procs.start(cmd, name='muc-load', log_path=log_path)
    pids = dict(pids, load=proc.pid)
    peak = {'focus': 0, 'prosody': 0}
    offset, pending = 0, ''
    limit = time.monotonic() + args.deadline + 60
    while True:
        with open(log_path, errors='replace') as f:
            f.seek(offset)
            chunk = f.read()
            offset = f.tell()
        pending += chunk
        *lines, pending = pending.split('\n')
        for line in lines:
            m = re.match(r'^@phase (\S+) ([0-9.]+)$', line)
            if m:
                snaps[m.group(1)] = snapshot(pids)
                log('phase %-8s at %7.2f s', m.group(1), float(m.group(2)))
        for name in peak:
            status = proc_status(pids[name])
            if status and status.get('VmRSS'):
                peak[name] = max(peak[name], status['VmRSS'])
        if not procs.is_running(proc):
            break
        if time.monotonic() > limit:
            log('muc-load overran its deadline: stopping it')
            break
        time.sleep(0.02)
    code = procs.stop(proc, 5)
    with open(log_path, errors='replace') as f:
        text = f.read()
    m = re.search(r'^\{\n.*?^\}$', text, re.S | re.M)
    result = None
    if m:
        try:
            result = json.loads(m.group(0))
        except ValueError as e:
            log('cannot parse muc-load output: %s', e)
    if result is None or code != 0:
        log('muc-load exited with %s; its output (phase lines left out):\n%s', code,
            '\n'.join(line for line in text.splitlines()[-40:] if not line.startswith('@')))
    return result, snaps, code, peak


# -- report --------------------------------------------------------------------------

def delta(snaps, a, b, who, key='cpu_s'):
    try:
        x, y = snaps[a][who][key], snaps[b][who][key]
    except KeyError:
        return None
    return None if x is None or y is None else round(y - x, 3)


def phase_table(snaps):
    """Per phase: wall time and CPU seconds of each process."""
    order = ['start'] + [p for p in PHASES if p in snaps]
    rows = []
    spans = [('login', 'login', 'join'), ('join+settle', 'join', 'joined'),
             ('messages', 'messages', 'leave'), ('leave', 'leave', 'done')]
    for label, a, b in spans:
        if a in snaps and b in snaps:
            row = {'phase': label, 'wall_s': round(snaps[b]['t'] - snaps[a]['t'], 3)}
            for who in ('focus', 'prosody', 'load'):
                row[who + '_cpu_s'] = delta(snaps, a, b, who)
            rows.append(row)
    if 'done' in snaps:
        row = {'phase': 'total', 'wall_s': round(snaps['done']['t'] - snaps[order[0]]['t'], 3)}
        for who in ('focus', 'prosody'):
            row[who + '_cpu_s'] = delta(snaps, 'start', 'done', who)
        row['load_cpu_s'] = delta(snaps, 'login', 'done', 'load')
        rows.append(row)
    return rows


def bottleneck(rows):
    """The busiest process of each phase, as a share of the phase's wall time."""
    out = {}
    for row in rows:
        if not row['wall_s']:
            continue
        shares = {who: (row.get(who + '_cpu_s') or 0) / row['wall_s']
                  for who in ('focus', 'prosody', 'load')}
        who = max(shares, key=shares.get)
        out[row['phase']] = {'busiest': who,
                             'cpu_share': {k: round(v, 2) for k, v in shares.items()}}
    return out


def log_problems(text, patterns, limit=10):
    lines = [line for line in text.splitlines() if any(p in line for p in patterns)]
    return {'count': len(lines), 'first': lines[:limit]}


def human(report):
    r = report['load'] or {}
    f = report['focus']
    lines = [
        f"MUC load: {report['args']['clients']} clients in {report['args']['rooms']} rooms, "
        f"{report['args']['messages']} messages each",
        f"  logins    {r.get('logged_in')} ok, {r.get('login_failed')} failed, "
        f"{r.get('logins_per_s')}/s (p50 {r.get('login_p50_ms')} ms, "
        f"p99 {r.get('login_p99_ms')} ms)",
        f"  joins     {r.get('joins_sent')} sent, {r.get('joined')} ok, "
        f"{r.get('join_failed')} failed, "
        f"{r.get('join_unanswered')} unanswered; {r.get('joins_per_s')} joins/s over "
        f"{r.get('join_phase_s')} s",
        f"            latency p50 {r.get('join_p50_ms')} ms, p99 {r.get('join_p99_ms')} ms, "
        f"max {r.get('join_max_ms')} ms",
        f"  presences {r.get('presences_received')} of {r.get('presences_expected')} "
        f"(settled {r.get('settle_s')} s after the last join)",
        f"  messages  {r.get('messages_sent')} sent, {r.get('deliveries_received')} of "
        f"{r.get('deliveries_expected')} deliveries in {r.get('message_phase_s')} s "
        f"({r.get('deliveries_per_s')}/s; latency p50 {r.get('delivery_p50_ms')} ms, "
        f"p99 {r.get('delivery_p99_ms')} ms); clients short {r.get('clients_short')}, "
        f"over {r.get('clients_over')}, errors {r.get('message_errors')}",
        f"  focus RSS idle {f['rss_idle_kib']} KiB, all joined {f['rss_joined_kib']} KiB, "
        f"peak {f['rss_peak_kib']} KiB, after leaving {f['rss_after_leave_kib']} KiB",
        f"            => {f['rss_per_1000_occupants_kib']} KiB per 1,000 occupants "
        f"(joined - idle)",
        f"  Prosody RSS idle {report['prosody']['rss_idle_kib']} KiB, all joined "
        f"{report['prosody']['rss_joined_kib']} KiB",
        '  CPU seconds by phase (wall | focus | prosody | muc-load):',
    ]
    for row in report['phases']:
        lines.append(f"    {row['phase']:<12} {row['wall_s']:>8} | {row.get('focus_cpu_s')!s:>7} "
                     f"| {row.get('prosody_cpu_s')!s:>7} | {row.get('load_cpu_s')!s:>7}")
    for phase, b in report['bottleneck'].items():
        lines.append(f"    {phase:<12} busiest: {b['busiest']} {b['cpu_share']}")
    if report['focus']['exit_code'] != 0:
        lines.append(f"  focus exit status: {report['focus']['exit_code']}")
    if report['focus']['log_problems']['count']:
        lines.append(f"  focus log: {report['focus']['log_problems']['count']} warning lines, "
                     f"e.g. {report['focus']['log_problems']['first'][:3]}")
    verdict = 'complete' if report['complete'] else 'INCOMPLETE'
    if r.get('deadline_hit'):
        verdict += ' (deadline reached)'
    lines.append(f"  verdict: {verdict}")
    return '\n'.join(lines)


def kib_per_1000(joined_kib, idle_kib, occupants):
    if not occupants or joined_kib is None or idle_kib is None:
        return None
    return round((joined_kib - idle_kib) * 1000 / occupants, 1)


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--clients', type=int, default=1000)
    ap.add_argument('--rooms', type=int, default=50)
    ap.add_argument('--messages', type=int, default=5)
    ap.add_argument('--concurrency', type=int, default=50, help='logins in flight')
    ap.add_argument('--join-window', type=int, default=50, help='joins in flight')
    ap.add_argument('--deadline', type=float, default=600,
                    help='muc-load stops and reports after this many seconds')
    ap.add_argument('--stall', type=float, default=30,
                    help='a phase ends after this long without progress')
    ap.add_argument('--build', default='build', help='meson build folder')
    ap.add_argument('--focus', help='conclave-focus binary (default BUILD/focus/...)')
    ap.add_argument('--muc-load', help='muc-load binary (default BUILD/bench/muc-load)')
    ap.add_argument('--prosody-global', metavar='LUA', default='',
                    help='extra global Prosody configuration, e.g. '
                         '\'network_settings = { nagle = false }\'')
    ap.add_argument('--json', metavar='FILE', help='also write the JSON report to FILE')
    ap.add_argument('--compare-database', action='store_true',
                    help='run without and with the PostgreSQL policy store, interleaved, '
                         'and compare joins per second and join latency')
    ap.add_argument('--rounds', type=int, default=2,
                    help='with --compare-database: runs per side')
    ap.add_argument('--keep-logs', metavar='DIR',
                    help='copy the focus, Prosody and muc-load logs into DIR')
    args = ap.parse_args()
    if args.clients < 1 or args.rooms < 1 or args.rooms > args.clients or args.messages < 0:
        ap.error('need 1 <= rooms <= clients and messages >= 0')
    if args.clients > MAX_CLIENTS:
        ap.error(f'at most {MAX_CLIENTS} clients: libstrophe 0.12 watches sockets with '
                 'select(), so muc-load keeps every descriptor below FD_SETSIZE (1024)')
    args.focus = os.path.abspath(args.focus or os.path.join(args.build, 'focus',
                                                            'conclave-focus'))
    args.muc_load = os.path.abspath(args.muc_load or os.path.join(args.build, 'bench',
                                                                  'muc-load'))
    for binary in (args.focus, args.muc_load):
        if not os.access(binary, os.X_OK):
            ap.error(f'{binary} not found: build first (meson setup build && ninja -C build)')

    # Prosody and the focus inherit this; muc-load raises its own.
    nofile = raise_nofile(args.clients * 2 + 1024)
    log('open files limit for the servers: %d', nofile)

    prosody = Prosody(domain='localhost', guest_domain=BENCH_DOMAIN,
                      components={SERVICE: SECRET}, log_level='info',
                      extra_global=args.prosody_global)
    prosody.start()
    if not args.compare_database:
        report = run(args, prosody, database=None)
        prosody.stop()
        return 0 if report['complete'] else 1
    store = PolicyStore(args)
    reports = []
    for i in range(args.rounds):  # interleaved, so that drift hits both sides alike
        for database in (None, store):
            label = 'with database' if database else 'without database'
            log('round %d of %d, %s', i + 1, args.rounds, label)
            reports.append((label, run(args, prosody, database)))
    print(comparison(reports))
    sys.stdout.flush()
    prosody.stop()
    return 0 if all(r['complete'] for _, r in reports) else 1


class PolicyStore:
    """A private PostgreSQL with the policy schema (applied by conclavectl db migrate), and
    the focus configuration that uses it."""

    def __init__(self, args):
        from conclave_harness.postgres import Postgres
        self.pg = Postgres()
        self.pg.start()
        folder = make_tempdir(prefix='conclave-bench-store-')
        self.key = os.path.join(folder, 'room.key')
        ctl = os.path.abspath(os.path.join(args.build, 'tools', 'conclavectl'))
        procs.run([ctl, 'keygen', self.key], timeout=30)
        self.config = os.path.join(folder, 'ctl.conf')
        with open(self.config, 'w') as f:
            f.write(f'[database]\nconninfo = {self.pg.conninfo}\n'
                    f'[security]\nroom_key_file = {self.key}\n')
        procs.run([ctl, '--config', self.config, 'db', 'migrate'], timeout=60)

    def focus_security(self):
        return f'room_key_file = {self.key}\n'

    def focus_extra(self):
        return f'[database]\nconninfo = {self.pg.conninfo}\n'


def comparison(reports):
    """Joins per second and join latency, each run and the medians per side, and the
    ratio of the medians (with / without)."""
    import statistics
    keys = ('joins_per_s', 'join_p50_ms', 'join_p99_ms')
    lines = ['Joins with and without the policy store (runs interleaved):',
             f"  {'run':<20} {'joins/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'joined':>7}"]
    sides = {}
    for label, report in reports:
        load = report['load'] or {}
        lines.append(f"  {label:<20} {load.get('joins_per_s')!s:>9} "
                     f"{load.get('join_p50_ms')!s:>8} {load.get('join_p99_ms')!s:>8} "
                     f"{load.get('joined')!s:>7}")
        for k in keys:
            if load.get(k) is not None:
                sides.setdefault(label, {}).setdefault(k, []).append(float(load[k]))
    without, with_db = sides.get('without database', {}), sides.get('with database', {})
    for k in keys:
        if without.get(k) and with_db.get(k):
            a, b = statistics.median(without[k]), statistics.median(with_db[k])
            lines.append(f"  median {k}: without {a:g}, with {b:g}, ratio with/without "
                         f"{b / a:.3f}" if a else f"  median {k}: without {a:g}, with {b:g}")
    return '\n'.join(lines)


def run(args, prosody, database):
    """One MUC load run against a fresh focus (with the policy store when `database` is
    given); prints the report and returns it."""
    port = (prosody.component_port_for(SERVICE) if hasattr(prosody, 'component_port_for')
            else prosody.component_port)
    focus = Focus(args.focus, port, rooms_limit=max(10000, args.rooms),
                  occupants_limit=min(100000, max(500, args.clients)), rate=10000,
                  security=database.focus_security() if database else '',
                  extra=database.focus_extra() if database else '').start()
    time.sleep(1.0)   # let both settle before the idle sample
    pids = {'focus': focus.pid, 'prosody': prosody.pid}
    idle = snapshot(pids)

    load_dir = make_tempdir(prefix='conclave-bench-load-')
    load_log = os.path.join(load_dir, 'muc-load.log')
    result, snaps, code, peak = run_load(args, prosody, pids, load_log)

    # After everyone left: the rooms should be gone; give the focus a bounded moment.
    try:
        procs.wait_until(lambda: focus.metrics().get('conclave_muc_occupants') == 0,
                         timeout=30, interval=0.2)
    except TimeoutError:
        log('occupants still listed in the focus 30 s after the clients left')
    time.sleep(0.5)
    after = snapshot(pids)
    metrics = focus.metrics()
    # Stop the focus now, so that its exit status and any sanitizer report are in its log.
    focus_exit = procs.stop(focus.proc, 10)

    joined = (result or {}).get('joined', 0)
    js = snaps.get('joined', {})

    def rss(snap, who, key='rss_kib'):
        return (snap.get(who) or {}).get(key)

    report = {
        'args': {k: getattr(args, k) for k in ('clients', 'rooms', 'messages', 'concurrency',
                                               'join_window', 'deadline', 'stall',
                                               'prosody_global')},
        'machine': {'cpus': os.cpu_count(), 'loadavg_at_end': os.getloadavg()},
        'load': result,
        'load_exit_code': code,
        'focus': {
            'rss_idle_kib': rss(idle, 'focus'),
            'rss_joined_kib': rss(js, 'focus'),
            'rss_peak_kib': max(peak['focus'], rss(after, 'focus', 'hwm_kib') or 0),
            'rss_after_leave_kib': rss(after, 'focus'),
            'rss_per_1000_occupants_kib': kib_per_1000(rss(js, 'focus'), rss(idle, 'focus'),
                                                       joined),
            'cpu_s_total': delta({'a': idle, 'b': after}, 'a', 'b', 'focus'),
            'metrics': {k: v for k, v in metrics.items()
                        if k.startswith(('conclave_muc_', 'conclave_xmpp_', 'conclave_focus_store_'))
                        and (v or 'refusals' not in k)},
            'log_problems': log_problems(focus.log_text(), ('WARNING', 'CRITICAL', 'ERROR',
                                                            'warning', 'critical',
                                                            'Sanitizer', 'runtime error:')),
            'exit_code': focus_exit,
        },
        'prosody': {
            'rss_idle_kib': rss(idle, 'prosody'),
            'rss_joined_kib': rss(js, 'prosody'),
            'rss_peak_kib': max(peak['prosody'], rss(after, 'prosody', 'hwm_kib') or 0),
            'cpu_s_total': delta({'a': idle, 'b': after}, 'a', 'b', 'prosody'),
            'log_problems': log_problems(prosody.log_text(), ('\terror\t', '\twarn\t')),
        },
    }
    report['phases'] = phase_table(snaps)
    report['bottleneck'] = bottleneck(report['phases'])
    report['complete'] = bool(result) and code == 0 and focus_exit == 0
    if args.keep_logs:
        os.makedirs(args.keep_logs, exist_ok=True)
        for path in (focus.log_path, prosody.log_path, load_log, prosody.config_path,
                     focus.config_path):
            if path and os.path.exists(path):
                shutil.copy(path, args.keep_logs)
    print(human(report))
    print(json.dumps(report, indent=2, sort_keys=True))
    sys.stdout.flush()
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2, sort_keys=True)
    return report


if __name__ == '__main__':
    sys.exit(main())
