#!/usr/bin/python3
"""Conference join benchmark: K rooms x P participants join with media through a private
Prosody, conclave-focus and one or two conclave-bridges (see README.md in this folder).

Every participant is a test peer in XMPP mode (tests/peer): it logs in with its own
account, joins its room, gets a Jingle session from the focus, connects ICE/DTLS to the
bridge and sends audio and video for --send-seconds once DTLS is up. Measured per
participant, from the moment its join was sent (the monotonic clock, which the peers'
event timestamps share): session-initiate received, DTLS connected, first media packet
received. Measured on the servers: the RSS of the focus and of each bridge before any
join and with everyone joined, and the CPU time of every process during the join phase.
Prints a short report, then the whole result as one line of JSON.

Everything runs on 127.0.0.1 and everything started here stops when this script ends, on
success, failure, timeout or SIGINT/SIGTERM.
"""

import argparse
import collections
import ctypes
import json
import math
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

FOCUS_DOMAIN = 'conference.localhost'
FOCUS_SECRET = 'bench-focus-secret'
USER_DOMAIN = 'localhost'
CLK_TCK = os.sysconf('SC_CLK_TCK')
# The peer's failure events: after one of these the join is over.
FATAL_EVENTS = ('xmpp-error', 'ice-failed', 'dtls-failed', 'exit')


def log(msg, *args):
    sys.stderr.write('[bench] ' + (msg % args if args else msg) + '\n')
    sys.stderr.flush()


def now_us():
    """The monotonic clock in microseconds: CLOCK_MONOTONIC, as the peers' t_us."""
    return time.monotonic_ns() // 1000


def check_clocks():
    """Python's time.monotonic() and GLib's g_get_monotonic_time() (the peers' t_us) must
    read the same clock: both are CLOCK_MONOTONIC on Linux. Checked directly when GLib can
    be loaded here: a GLib reading must fall between two Python readings."""
    info = time.get_clock_info('monotonic')
    result = {'python': info.implementation, 'glib_between_python_readings': None}
    try:
        glib = ctypes.CDLL('libglib-2.0.so.0')
        glib.g_get_monotonic_time.restype = ctypes.c_int64
    except OSError:
        return result
    ok = True
    for _ in range(5):
        a = now_us()
        g = glib.g_get_monotonic_time()
        b = now_us()
        ok = ok and a <= g <= b + 1
    result['glib_between_python_readings'] = ok
    return result


# -- /proc sampling ------------------------------------------------------------------

def proc_status(pid):
    """VmRSS and VmHWM in KiB ({} if the process is gone)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            fields = dict(line.split(':', 1) for line in f if ':' in line)
    except (FileNotFoundError, ProcessLookupError):
        return {}
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


def udp_counters():
    """The machine's UDP counters (/proc/net/snmp): datagrams dropped because a socket's
    receive buffer was full show as RcvbufErrors. Machine-wide, so other work counts too."""
    try:
        with open('/proc/net/snmp') as f:
            rows = [line.split() for line in f if line.startswith('Udp:')]
        return dict(zip(rows[0][1:], map(int, rows[1][1:])))
    except (OSError, IndexError, ValueError):
        return {}


def udp_socket_drops(bridge_ports):
    """Datagrams each open UDP socket dropped (/proc/net/udp), summed for the bridges'
    media ports and for every other socket (the peers' and anything else on the machine).
    A socket closed before this reading is not counted."""
    out = {'bridges': 0, 'others': 0}
    try:
        with open('/proc/net/udp') as f:
            next(f)
            for line in f:
                cols = line.split()
                port = int(cols[1].rsplit(':', 1)[1], 16)
                drops = int(cols[12])
                mine = any(lo <= port <= hi for lo, hi in bridge_ports)
                out['bridges' if mine else 'others'] += drops
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    return out


def snapshot(servers, peers):
    """RSS and CPU of each server process; the peers' CPU summed; UDP counters."""
    snap = {'t': time.monotonic(), 'udp': udp_counters()}
    for name, pid in servers.items():
        status = proc_status(pid) if pid else {}
        snap[name] = {'rss_kib': status.get('VmRSS'), 'hwm_kib': status.get('VmHWM'),
                      'cpu_s': cpu_seconds(pid) if pid else None}
    snap['peers'] = {'cpu_s': sum(cpu_seconds(p.proc.pid) or 0 for p in peers)}
    usage = os.times()
    snap['bench'] = {'cpu_s': usage.user + usage.system}
    return snap


def cpu_delta(a, b, who):
    x, y = (a.get(who) or {}).get('cpu_s'), (b.get(who) or {}).get('cpu_s')
    return None if x is None or y is None else round(y - x, 3)


# -- statistics ----------------------------------------------------------------------

def percentile(values, q):
    """Nearest rank; None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def summary_ms(values_us):
    ms = [v / 1000 for v in values_us]
    r = lambda v: None if v is None else round(v, 1)  # noqa: E731
    return {'n': len(ms), 'p50_ms': r(percentile(ms, 0.5)), 'p99_ms': r(percentile(ms, 0.99)),
            'max_ms': r(max(ms) if ms else None), 'min_ms': r(min(ms) if ms else None)}


def metric_values(text):
    values = {}
    for line in (text or '').splitlines():
        if not line or line.startswith('#'):
            continue
        key, _, value = line.rpartition(' ')
        try:
            values[key] = float(value)
        except ValueError:
            pass
    return values


def metrics_of(daemon):
    try:
        return metric_values(daemon.metrics())
    except (OSError, urllib.error.URLError):
        return {}


def metric_sum(values, name):
    """Sum over every label set of `name` (None if absent)."""
    found = [v for k, v in values.items() if k == name or k.startswith(name + '{')]
    return sum(found) if found else None


# -- the participants ----------------------------------------------------------------

class Participant:
    """One XmppPeer, its room and its place in it, and what its events said."""

    def __init__(self, room, index, number):
        self.room = room            # room number
        self.index = index          # order of joining within the room (0 creates it)
        self.number = number        # global number: SSRCs and accounts
        self.name = f'r{room}p{index}'
        self.password = f'{self.name}-bench-pw'
        base = 100000 + 10 * number
        self.ssrcs = (base + 1, base + 2, base + 3)   # audio, video, rtx: unique per run
        self.peer = None
        self.t_join = None          # microseconds, the clock of the peers' t_us
        self.outcome = None         # 'connected', or why the join failed
        self._scan = 0

    def first(self, event, match=None, since=None):
        """The t_us of the first `event` (matching, at or after `since`), or None."""
        since = self.t_join if since is None else since
        for ev in list(self.peer.history):
            if ev.get('event') == event and (match is None or match(ev)):
                t = ev.get('t_us')
                if t is not None and (since is None or t >= since):
                    return t
        return None

    def poll(self):
        """Looks at the events since the last call: sets `outcome` once the join is over."""
        history = self.peer.history
        while self._scan < len(history) and self.outcome is None:
            ev = history[self._scan]
            self._scan += 1
            name = ev.get('event')
            if name == 'connected':
                self.outcome = 'connected'
            elif name in FATAL_EVENTS:
                self.outcome = name
            elif name == 'presence' and ev.get('type') == 'error':
                self.outcome = 'join refused: ' + str(ev.get('condition'))
        return self.outcome

    def errors(self):
        return [ev for ev in list(self.peer.history)
                if ev.get('event') in FATAL_EVENTS + ('error',) and ev.get('event') != 'exit'
                or (ev.get('event') == 'presence' and ev.get('type') == 'error')
                or (ev.get('event') == 'jingle' and ev.get('error'))]


def room_jid(r):
    return f'bench{r}@{FOCUS_DOMAIN}'


# -- the run -------------------------------------------------------------------------

class Overrun(Exception):
    pass


def on_alarm(signum, frame):
    raise Overrun('the run took longer than --timeout')


def run(args, report):
    from conclave_harness import procs
    from conclave_harness.prosody import Prosody
    from conclave_daemons import Daemon
    from conclave_media import XmppPeer

    class BenchDaemon(Daemon):
        """A Daemon as the integration tests start it, but without -v (debug logging) unless
        --debug-logs: the log level stays 'info'."""

        def start(self):
            cmd = [os.environ['CONCLAVE_' + self.kind.upper()], '--config', self.config_path]
            if args.debug_logs:
                cmd.append('-v')
            self.proc = procs.start(cmd, name=f'conclave-{self.kind}', log_path=self.log_path)
            return self

    deadline = time.monotonic() + args.timeout

    def left(cap):
        return max(0.1, min(cap, deadline - time.monotonic()))

    bridges = [f'bridge{i + 1}.localhost' for i in range(args.bridges)]
    components = {FOCUS_DOMAIN: FOCUS_SECRET}
    components.update({b: f'bench-{b.split(".")[0]}-secret' for b in bridges})
    parts = [Participant(r, i, i * args.rooms + r)
             for i in range(args.participants) for r in range(args.rooms)]
    state = report['_state'] = {'prosody': None, 'focus': None, 'bridges': {}, 'parts': parts}

    # -- the stack, as tests/integration/test_conference.py starts it
    prosody = Prosody(components=components, log_level='info',
                      extra_global=args.prosody_global)
    state['prosody'] = prosody
    prosody.start(timeout=left(20))
    t = time.monotonic()
    for p in parts:
        prosody.register(p.name, p.password)
    log('%d accounts registered in %.1f s', len(parts), time.monotonic() - t)
    focus = BenchDaemon(
        'focus', FOCUS_DOMAIN, FOCUS_SECRET, prosody.component_port,
        extra=f'[focus]\nbridges = {", ".join(bridges)}\nbridge_check_interval_s = 2\n'
              f'[security]\nauthenticated_domains = {USER_DOMAIN}\n').start()
    state['focus'] = focus
    ports = args.rooms * args.participants + 20
    state['bridge_ports'] = []
    for b in bridges:
        port = 30000 + procs.free_port() % 20000
        state['bridge_ports'].append((port, port + ports))
        d = BenchDaemon('bridge', b, components[b], prosody.component_port,
                        extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                              f'port_max = {port + ports}\nworkers = {args.workers}\n'
                              f'ice_lite = {"true" if args.ice_lite else "false"}\n'
                              f'[colibri]\ntrusted = {FOCUS_DOMAIN}\n').start()
        state['bridges'][b] = d
    focus.wait_health(200, timeout=left(15))
    for d in state['bridges'].values():
        d.wait_health(200, timeout=left(15))
    procs.wait_until(
        lambda: metrics_of(focus).get('conclave_focus_bridges_available') == len(bridges),
        timeout=left(15), interval=0.1, message='the focus never saw every bridge available')

    # -- log in: every peer process at once, each waits for nothing but its login
    t = time.monotonic()
    for p in parts:
        p.peer = XmppPeer(p.name, f'{p.name}@{USER_DOMAIN}/{p.name}', p.password,
                          prosody.c2s_port, audio=p.ssrcs[0], video=p.ssrcs[1],
                          rtx=p.ssrcs[2], send_on_connect=args.send_seconds,
                          wait_connected=False)
    if args.peer_nice:
        for p in parts:   # every thread of the peer
            for tid in os.listdir(f'/proc/{p.peer.proc.pid}/task'):
                os.setpriority(os.PRIO_PROCESS, int(tid), args.peer_nice)
    for p in parts:
        p.peer.wait('xmpp-connected', timeout=left(30), fail_on=('xmpp-error',))
    report['login_s'] = round(time.monotonic() - t, 2)
    log('%d peers logged in in %.1f s', len(parts), report['login_s'])

    servers = {'focus': focus.proc.pid, 'prosody': prosody.pid}
    servers.update({b: d.proc.pid for b, d in state['bridges'].items()})
    peers = [p.peer for p in parts]
    time.sleep(0.5)   # let the servers settle before the idle sample
    before = snapshot(servers, peers)
    load_before = os.getloadavg()

    # -- joins: in participant order across rooms (room r is created by its participant 0),
    # at most --concurrency in flight (a join is in flight until DTLS connects or fails),
    # started at most --rate per second
    pending = collections.deque(parts)
    inflight = []
    next_start = time.monotonic()
    t_first_join = None
    while pending or inflight:
        now = time.monotonic()
        for p in list(inflight):
            if p.poll() is None and now_us() - p.t_join > args.join_timeout * 1e6:
                p.outcome = 'timeout'
            if p.outcome is not None:
                inflight.remove(p)
        while pending and (args.concurrency <= 0 or len(inflight) < args.concurrency) \
                and (args.rate <= 0 or now >= next_start):
            p = pending.popleft()
            p.t_join = now_us()
            p.peer.room = room_jid(p.room)
            p.peer.send(cmd='join', room=room_jid(p.room), nick=p.name)
            t_first_join = t_first_join or p.t_join
            inflight.append(p)
            if args.rate > 0:
                next_start = max(next_start + 1.0 / args.rate, now - 1.0 / args.rate)
        if time.monotonic() > deadline - args.drain:
            log('the join phase hit the deadline: %d not started, %d in flight',
                len(pending), len(inflight))
            for p in inflight:
                p.outcome = 'timeout'
            for p in pending:
                p.outcome = 'not started'
            break
        time.sleep(0.005)
    joins_done = time.monotonic()
    all_joined = snapshot(servers, peers)
    drops_joined = udp_socket_drops(state['bridge_ports'])
    focus_metrics_joined = metrics_of(focus)
    connected = [p for p in parts if p.outcome == 'connected']
    log('join phase: %d of %d connected in %.2f s', len(connected), len(parts),
        joins_done - before['t'])

    # -- media: wait (bounded) until everyone who is not alone in a room got a packet
    by_room = collections.defaultdict(list)
    for p in connected:
        by_room[p.room].append(p)
    want_media = [p for p in connected if len(by_room[p.room]) > 1]
    last_connect = max((p.first('connected') for p in connected), default=None)
    media_limit = time.monotonic() + 15
    while time.monotonic() < min(media_limit, deadline - args.drain):
        if all(p.first('first-media') is not None for p in want_media):
            break
        time.sleep(0.05)
    t_first_media_done = time.monotonic()

    def reports(who):
        """Every peer's 'report' event (None for a peer that did not answer)."""
        out = {}
        for p in who:
            p.peer.send(cmd='report')
        for p in who:
            try:
                out[p.name] = p.peer.wait('report', timeout=left(5))
            except (TimeoutError, AssertionError) as e:
                out[p.name] = None
                log('no report from %s: %s', p.name, e)
        return out

    # ... then, once the last one has been connected for a second, what everyone received
    # so far, and a steady-state check: in a --check-seconds window, does every participant
    # receive the audio and video of every other one in its room that is still sending?
    if last_connect is not None:
        procs.wait_until(lambda: now_us() > last_connect + 1e6 or
                         time.monotonic() > deadline - args.drain, timeout=left(5),
                         interval=0.02)
    cumulative = reports(connected)
    for p in connected:
        p.peer.send(cmd='reset-rx')
    for p in connected:
        try:
            p.peer.wait('rx-reset', timeout=left(5))
        except (TimeoutError, AssertionError):
            pass
    window = (now_us(), now_us() + int(args.check_seconds * 1e6))
    time.sleep(min(args.check_seconds, max(0, deadline - args.drain - time.monotonic())))
    in_window = reports(connected)
    after_media = snapshot(servers, peers)
    drops_media = udp_socket_drops(state['bridge_ports'])
    focus_metrics = metrics_of(focus)
    bridge_metrics = {b: metrics_of(d) for b, d in state['bridges'].items()}
    load_after = os.getloadavg()

    # -- figures
    def lat(event, who, match=None):
        out = []
        for p in who:
            t = p.first(event, match)
            if t is not None and p.t_join is not None:
                out.append(t - p.t_join)
        return out

    si = lambda ev: ev.get('action') == 'session-initiate'  # noqa: E731
    later = [p for p in want_media if p.index > 0]
    creators = [p for p in want_media if p.index == 0]
    report['latency'] = {
        'join_to_joined': summary_ms(lat('joined', connected)),
        'join_to_session_initiate': summary_ms(lat('jingle', connected, si)),
        'join_to_session_initiate_room_creators': summary_ms(
            lat('jingle', [p for p in connected if p.index == 0], si)),
        'join_to_ice_connected': summary_ms(lat('ice-connected', connected)),
        'join_to_dtls_connected': summary_ms(lat('connected', connected)),
        'join_to_first_media': summary_ms(lat('first-media', later)),
        'join_to_first_media_room_creators': summary_ms(lat('first-media', creators)),
    }
    # Where the time goes: each step of a join, from one event of the peer to the next.
    steps = [('join', None), ('joined', None), ('session-initiate', ('jingle', si)),
             ('accept-sent', None),
             ('accept-result', ('iq-reply', lambda ev: ev.get('what') == 'session-accept')),
             ('ice-connected', None), ('connected', None)]

    def t_of(p, step):
        if step == 'join':
            return p.t_join
        event, match = dict(steps)[step] or (step, None)
        return p.first(event, match)

    report['steps'] = {}
    for a, b in [('join', 'joined'), ('joined', 'session-initiate'),
                 ('session-initiate', 'accept-sent'), ('accept-sent', 'accept-result'),
                 ('accept-sent', 'ice-connected'), ('ice-connected', 'connected'),
                 ('accept-result', 'connected')]:
        spans = []
        for p in connected:
            ta, tb = t_of(p, a), t_of(p, b)
            if ta is not None and tb is not None:
                spans.append(tb - ta)
        report['steps'][f'{a} -> {b}'] = summary_ms(spans)
    no_media = []
    for p in want_media:
        if p.first('first-media') is not None:
            continue
        t_conn = p.first('connected')
        # Was anyone else in the room sending when p connected (or did anyone connect
        # after p, and so send to it)? If not, the run was too short, not the stack slow.
        others = [q.first('connected') for q in by_room[p.room] if q is not p]
        sending = [t for t in others if t is not None and
                   t <= t_conn < t + args.send_seconds * 1e6]
        after = [t for t in others if t is not None and t >= t_conn]
        no_media.append({'participant': p.name, 'others_sending_at_connect': len(sending),
                         'others_connected_later': len(after)})
    def media_check(received, covers):
        """Streams received, for every (receiver, sender) pair of a room for which
        covers(sender connected at) says the sender was sending."""
        out = {'expected': 0, 'received': 0, 'missing': [], 'not_sending': 0,
               'mismatches': 0, 'srtp_errors': 0, 'unexpected': 0, 'no_report': [],
               'silent_receivers': []}
        for p in connected:
            rep = received.get(p.name)
            if rep is None:
                out['no_report'].append(p.name)
                continue
            got = {s['ssrc']: s for s in rep['streams']}
            heard = 0
            for q in by_room[p.room]:
                if q is p:
                    continue
                if not covers(q.first('connected'), p.first('connected')):
                    out['not_sending'] += 2
                    continue
                for ssrc in q.ssrcs[:2]:   # audio and video (RTX only goes out now and then)
                    out['expected'] += 1
                    if got.get(ssrc, {}).get('unique', 0) > 0:
                        out['received'] += 1
                        heard += 1
                    else:
                        out['missing'].append(f'{p.name} <- {q.name}:{ssrc}')
            if heard == 0 and len(by_room[p.room]) > 1:
                out['silent_receivers'].append(p.name)
            out['mismatches'] += sum(s['mismatches'] for s in rep['streams'])
            out['srtp_errors'] += rep['srtp_errors']
            out['unexpected'] += rep['unexpected']
            if rep['unexpected']:
                out.setdefault('unexpected_by_peer', {})[p.name] = rep['unexpected']
        return out

    send_us = args.send_seconds * 1e6
    # Everything received since joining: a sender counts when its sending overlapped the
    # receiver's connection by at least a second.
    streams = media_check(cumulative, lambda q_conn, p_conn: q_conn + send_us > p_conn + 1e6)
    # The window: a sender counts when it was sending all through it.
    streams['window'] = media_check(
        in_window, lambda q_conn, p_conn: q_conn <= window[0] and
        q_conn + send_us >= window[1] + 0.2e6)
    report['media'] = streams
    bridge_confs = {b: focus_metrics.get(f'conclave_focus_bridge_conferences{{bridge="{b}"}}')
                    for b in bridges}
    report['counts'] = {
        'participants': len(parts),
        'joins_started': sum(1 for p in parts if p.t_join is not None),
        'joined_room': sum(1 for p in parts if p.first('joined') is not None),
        'session_initiate': sum(1 for p in parts if p.first('jingle', si) is not None),
        'dtls_connected': len(connected),
        'failed': {p.name: p.outcome for p in parts if p.outcome != 'connected'},
        'first_media_expected': len(later),
        'first_media_received': sum(1 for p in later if p.first('first-media') is not None),
        'room_creators_first_media': sum(1 for p in creators
                                         if p.first('first-media') is not None),
        'without_first_media': no_media,
        'peer_errors': {p.name: p.errors() for p in parts if p.errors()},
        'focus_sessions_all_joined': focus_metrics_joined.get('conclave_focus_sessions'),
        'focus_sessions': focus_metrics.get('conclave_focus_sessions'),
        'focus_jingle_errors': metric_sum(focus_metrics, 'conclave_focus_jingle_errors_total'),
        'focus_colibri_errors': focus_metrics.get('conclave_focus_colibri_errors_total'),
        'focus_reinvites': focus_metrics.get('conclave_focus_reinvites_total'),
        'focus_iq_timeouts': focus_metrics.get('conclave_xmpp_iq_timeouts_total'),
        'conferences_per_bridge': bridge_confs,
        'bridge_endpoints_created': {b: m.get('conclave_bridge_endpoints_created_total')
                                     for b, m in bridge_metrics.items()},
        'bridge_ice_failures': {b: m.get('conclave_bridge_ice_failures_total')
                                for b, m in bridge_metrics.items()},
        'bridge_endpoints_expired': {b: {k.split('{', 1)[1].rstrip('}'): v
                                         for k, v in m.items() if v and k.startswith(
                                             'conclave_bridge_endpoints_expired_total{')}
                                     for b, m in bridge_metrics.items()},
        'bridge_rtp_forwarded': {b: m.get('conclave_bridge_rtp_forwarded_total')
                                 for b, m in bridge_metrics.items()},
        'bridge_dropped_packets': {b: metric_sum(m, 'conclave_bridge_dropped_packets_total')
                                   for b, m in bridge_metrics.items()},
    }
    n = len(connected)

    def rss(snap, who, key='rss_kib'):
        return (snap.get(who) or {}).get(key)

    def per_participant(b, a):
        return None if not n or a is None or b is None else round((a - b) / n, 1)

    report['focus'] = {
        'rss_before_kib': rss(before, 'focus'),
        'rss_all_joined_kib': rss(all_joined, 'focus'),
        'rss_after_media_kib': rss(after_media, 'focus'),
        'rss_peak_kib': rss(after_media, 'focus', 'hwm_kib'),
        'rss_per_participant_kib': per_participant(rss(before, 'focus'),
                                                   rss(all_joined, 'focus')),
        'cpu_s_join_phase': cpu_delta(before, all_joined, 'focus'),
    }
    report['bridges'] = {}
    for b in bridges:
        report['bridges'][b] = {
            'conferences': bridge_confs[b],
            'rss_before_kib': rss(before, b),
            'rss_all_joined_kib': rss(all_joined, b),
            'rss_after_media_kib': rss(after_media, b),
            'rss_peak_kib': rss(after_media, b, 'hwm_kib'),
            'cpu_s_join_phase': cpu_delta(before, all_joined, b),
            'cpu_s_media_phase': cpu_delta(all_joined, after_media, b),
        }
    sum_b = lambda snap: sum(rss(snap, b) or 0 for b in bridges)  # noqa: E731
    report['bridges_total'] = {
        'rss_before_kib': sum_b(before), 'rss_all_joined_kib': sum_b(all_joined),
        'rss_after_media_kib': sum_b(after_media),
        'rss_per_participant_kib': per_participant(sum_b(before), sum_b(all_joined)),
        'rss_per_participant_after_media_kib': per_participant(sum_b(before),
                                                               sum_b(after_media)),
    }
    wall = round(joins_done - before['t'], 3)
    first_to_last = None
    if t_first_join is not None and connected:
        first_to_last = round((max(p.first('connected') for p in connected) - t_first_join)
                              / 1e6, 3)
    report['join_phase'] = {
        'wall_s': wall,
        'first_join_to_last_connected_s': first_to_last,
        'cpu_s': {who: cpu_delta(before, all_joined, who)
                  for who in ['focus', 'prosody'] + bridges + ['peers', 'bench']},
    }
    report['join_phase']['cpu_share'] = {
        who: (None if v is None or not wall else round(v / wall, 2))
        for who, v in report['join_phase']['cpu_s'].items()}
    report['media_phase'] = {
        'wall_s': round(after_media['t'] - all_joined['t'], 3),
        'first_media_wait_s': round(t_first_media_done - all_joined['t'], 3),
        'cpu_s': {who: cpu_delta(all_joined, after_media, who)
                  for who in ['focus', 'prosody'] + bridges + ['peers', 'bench']},
    }
    def udp_delta(a, b, key):
        x, y = a['udp'].get(key), b['udp'].get(key)
        return None if x is None or y is None else y - x

    report['udp'] = {phase: {key: udp_delta(a, b, key)
                             for key in ('InDatagrams', 'RcvbufErrors', 'SndbufErrors')}
                     for phase, a, b in (('join_phase', before, all_joined),
                                         ('media_phase', all_joined, after_media))}
    report['udp']['socket_drops_all_joined'] = drops_joined
    report['udp']['socket_drops_after_media'] = drops_media
    report['machine']['loadavg_before_joins'] = [round(x, 2) for x in load_before]
    report['machine']['loadavg_after_media'] = [round(x, 2) for x in load_after]
    if last_connect is not None:
        report['media_phase']['last_connected_to_end_s'] = round(
            (now_us() - last_connect) / 1e6, 2)


def stop_everything(report, args):
    """Stops the peers, the daemons (recording exit status and sanitizer reports) and
    Prosody; whatever happened before. Bounded: a few seconds per process at most."""
    state = report.pop('_state', None)
    if not state:
        return
    from conclave_harness import procs
    peers = [p.peer for p in state['parts'] if p.peer is not None]
    for peer in peers:
        try:
            if peer.proc.poll() is None:
                peer.send(cmd='quit')
        except OSError:
            pass
    limit = time.monotonic() + 5
    for peer in peers:
        try:
            peer.proc.wait(max(0.1, limit - time.monotonic()))
        except Exception:
            peer.proc.kill()
            peer.proc.wait(5)
    report['peer_exit_codes'] = dict(collections.Counter(
        str(p.proc.returncode) for p in peers))
    daemons = ([('focus', state['focus'])] if state['focus'] else []) + \
        list(state['bridges'].items())
    report['exit'] = {}
    for name, d in daemons:
        if d.proc is None:
            continue
        code = d.stop(timeout=10)
        report['exit'][name] = {'code': code, 'sanitizer_reports': d.sanitizer_reports(),
                                'warnings': [line for line in d.log_text().splitlines()
                                             if 'WARNING' in line or 'CRITICAL' in line
                                             or 'ERROR' in line][:10]}
    if args.keep_logs:
        os.makedirs(args.keep_logs, exist_ok=True)
        for name, d in daemons:
            if os.path.exists(d.log_path):
                shutil.copy(d.log_path, os.path.join(args.keep_logs, name + '.log'))
        for p in state['parts']:
            if p.peer is not None:
                with open(os.path.join(args.keep_logs, p.name + '.events'), 'w') as f:
                    for ev in p.peer.history:
                        f.write(json.dumps(ev) + '\n')
                if os.path.exists(p.peer.log_path):
                    shutil.copy(p.peer.log_path, os.path.join(args.keep_logs,
                                                              p.name + '.stderr'))
        if state['prosody'] and state['prosody'].log_path and \
                os.path.exists(state['prosody'].log_path):
            shutil.copy(state['prosody'].log_path, args.keep_logs)
    if state['prosody']:
        state['prosody'].stop()
    procs.cleanup_all()


# -- report --------------------------------------------------------------------------

def fmt(s):
    return (f"p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms "
            f"(n={s['n']})") if s['n'] else 'none'


def human(report):
    a = report['args']
    lines = [f"Conference joins: {a['rooms']} rooms x {a['participants']} participants, "
             f"{a['bridges']} bridge(s), {a['concurrency']} joins in flight"
             + (f", {a['rate']}/s" if a['rate'] else '') + f", media {a['send_seconds']} s"]
    if report.get('error'):
        lines.append(f"  error: {report['error']}")
    c = report.get('counts')
    if c:
        lat = report['latency']
        lines += [
            f"  joined {c['joined_room']}, session-initiate {c['session_initiate']}, "
            f"DTLS connected {c['dtls_connected']} of {c['participants']}; "
            f"focus sessions {c['focus_sessions_all_joined']}",
            f"  join -> session-initiate  {fmt(lat['join_to_session_initiate'])}",
            f"  join -> DTLS connected    {fmt(lat['join_to_dtls_connected'])}",
            f"  join -> first media       {fmt(lat['join_to_first_media'])}; "
            f"{c['first_media_received']} of {c['first_media_expected']} got media "
            f"(room creators: {c['room_creators_first_media']})",
            f"  (join -> own presence     {fmt(lat['join_to_joined'])})",
            f"  join phase {report['join_phase']['wall_s']} s; CPU s "
            + ', '.join(f"{k} {v}" for k, v in report['join_phase']['cpu_s'].items()),
        ]
        lines.append('  steps (p50 / p99 ms): ' + ', '.join(
            f"{k} {v['p50_ms']} / {v['p99_ms']}" for k, v in report['steps'].items()))
        f = report['focus']
        lines.append(f"  focus RSS {f['rss_before_kib']} -> {f['rss_all_joined_kib']} KiB "
                     f"({f['rss_per_participant_kib']} KiB per participant), peak "
                     f"{f['rss_peak_kib']} KiB")
        for b, x in report['bridges'].items():
            lines.append(f"  {b} RSS {x['rss_before_kib']} -> {x['rss_all_joined_kib']} KiB "
                         f"joined, {x['rss_after_media_kib']} KiB after media; "
                         f"{x['conferences']} conferences")
        lines.append(f"  bridges: {report['bridges_total']['rss_per_participant_kib']} KiB "
                     "per participant (joined - before)")
        m = report['media']
        w = m['window']
        lines.append(f"  media since joining: {m['received']} of {m['expected']} streams "
                     f"received (mismatches {m['mismatches']}, SRTP errors "
                     f"{m['srtp_errors']}, packets of not yet signalled SSRCs "
                     f"{m['unexpected']})"
                     + (f"; missing {m['missing'][:6]}" if m['missing'] else ''))
        lines.append(f"  media in a {report['args']['check_seconds']} s window with everyone "
                     f"joined: {w['received']} of {w['expected']} streams"
                     + (f" ({w['not_sending']} not counted: sender no longer sending)"
                        if w['not_sending'] else '')
                     + (f"; missing {w['missing'][:6]}" if w['missing'] else '')
                     + (f"; receivers hearing nobody: {w['silent_receivers']}"
                        if w['silent_receivers'] else ''))
        u = report['udp']
        lines.append(f"  UDP receive-buffer drops (machine-wide): join phase "
                     f"{u['join_phase']['RcvbufErrors']}, media phase "
                     f"{u['media_phase']['RcvbufErrors']} (of "
                     f"{u['media_phase']['InDatagrams']} datagrams received); by open "
                     f"sockets: {u['socket_drops_all_joined']} when all had joined, "
                     f"{u['socket_drops_after_media']} after the media")
        if c['failed']:
            lines.append(f"  failed: {c['failed']}")
        if c['without_first_media']:
            lines.append(f"  no first media: {c['without_first_media']}")
        if c['peer_errors']:
            lines.append(f"  peer errors: {json.dumps(c['peer_errors'])[:600]}")
        expired = {b: e for b, e in c['bridge_endpoints_expired'].items() if e}
        if expired:
            lines.append(f"  bridge endpoints expired during the run: {expired}")
        errs = {k: c[k] for k in ('focus_jingle_errors', 'focus_colibri_errors',
                                  'focus_reinvites', 'focus_iq_timeouts') if c[k]}
        if errs:
            lines.append(f"  focus counters: {errs}")
    for name, e in (report.get('exit') or {}).items():
        if e['code'] != 0 or e['sanitizer_reports'] or e['warnings']:
            lines.append(f"  {name}: exit {e['code']}, {e['sanitizer_reports']}, "
                         f"warnings {e['warnings'][:3]}")
    m = report['machine']
    lines.append(f"  machine: {m['cpus']} CPUs, load average {m.get('loadavg_start')} at "
                 f"start, {m.get('loadavg_after_media')} after the media")
    lines.append(f"  verdict: {'complete' if report.get('complete') else 'INCOMPLETE'}")
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rooms', type=int, default=5, help='K rooms (5)')
    ap.add_argument('--participants', type=int, default=4, help='P per room (4)')
    ap.add_argument('--bridges', type=int, default=1, choices=(1, 2),
                    help='1 or 2 (1); the focus places each room on one of them')
    ap.add_argument('--send-seconds', type=float, default=20,
                    help='each peer sends audio and video this long once DTLS is up (20); '
                         'the media checks expect only streams still being sent')
    ap.add_argument('--check-seconds', type=float, default=1.0,
                    help='the steady-state media check window, once everyone joined (1)')
    ap.add_argument('--concurrency', type=int, default=8,
                    help='joins in flight, until DTLS connects (8; 0: no bound)')
    ap.add_argument('--rate', type=float, default=0,
                    help='start at most this many joins per second (0: no bound)')
    ap.add_argument('--join-timeout', type=float, default=30,
                    help='a join that has not reached DTLS connected by then failed (30 s)')
    ap.add_argument('--timeout', type=float, default=110,
                    help='the whole run, start-up and shut-down included (110 s)')
    ap.add_argument('--workers', type=int, default=1, help="each bridge's media workers (1)")
    ap.add_argument('--ice-lite', action='store_true',
                    help='run the bridges as ICE lite agents ([media] ice_lite)')
    ap.add_argument('--peer-nice', type=int, default=0, metavar='N',
                    help='run the peers at this nice level (a diagnosis aid: the servers '
                         'get the CPU first)')
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'), help='meson build folder')
    ap.add_argument('--prosody-global', metavar='LUA', default='',
                    help='extra global Prosody configuration, e.g. '
                         '\'network_settings = { nagle = false }\'')
    ap.add_argument('--debug-logs', action='store_true',
                    help='run the focus and bridges with -v, as the integration tests do')
    ap.add_argument('--json', metavar='FILE', help='also write the JSON report to FILE')
    ap.add_argument('--keep-logs', metavar='DIR',
                    help='copy the daemon logs and every peer\'s events into DIR')
    args = ap.parse_args()
    if args.rooms < 1 or args.participants < 1 or args.send_seconds <= 0:
        ap.error('need rooms >= 1, participants >= 1, send-seconds > 0')
    if args.rooms * args.participants > 200:
        ap.error('at most 200 peer processes')
    args.drain = 15.0   # kept out of --timeout for stopping everything
    if args.timeout < 30:
        ap.error('--timeout must leave time to start and stop the stack (>= 30 s)')
    if os.geteuid() != 0:
        ap.error('run as root: Prosody runs as the prosody user, as in the integration tests')
    build = os.path.abspath(args.build)
    binaries = {'CONCLAVE_FOCUS': os.path.join(build, 'focus', 'conclave-focus'),
                'CONCLAVE_BRIDGE': os.path.join(build, 'bridge', 'conclave-bridge'),
                'CONCLAVE_TEST_PEER': os.path.join(build, 'tests', 'peer',
                                                   'conclave-test-peer')}
    for var, path in binaries.items():
        os.environ.setdefault(var, path)
        if not os.access(os.environ[var], os.X_OK):
            ap.error(f'{os.environ[var]} not found: build first '
                     '(meson setup build && ninja -C build)')

    report = {
        'args': {k: getattr(args, k) for k in (
            'rooms', 'participants', 'bridges', 'send_seconds', 'check_seconds',
            'concurrency', 'rate', 'join_timeout', 'timeout', 'workers', 'ice_lite',
            'peer_nice', 'debug_logs', 'prosody_global')},
        'machine': {'cpus': os.cpu_count(),
                    'loadavg_start': [round(x, 2) for x in os.getloadavg()],
                    'clocks': check_clocks()},
    }
    if report['machine']['clocks']['glib_between_python_readings'] is False:
        log('warning: GLib\'s monotonic clock is not Python\'s: latencies are meaningless')
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.timeout) + 1)
    t0 = time.monotonic()
    try:
        run(args, report)
    except Exception as e:   # the report says what failed; everything is still stopped
        report['error'] = f'{type(e).__name__}: {e}'
        log('run failed: %s', report['error'])
    finally:
        signal.alarm(int(args.drain) + 15)
        try:
            stop_everything(report, args)
        finally:
            signal.alarm(0)
    report['wall_s'] = round(time.monotonic() - t0, 1)
    c = report.get('counts') or {}
    report['complete'] = bool(
        not report.get('error') and c and not c['failed']
        and c['first_media_received'] == c['first_media_expected']
        and not c['peer_errors']
        and report['media']['received'] == report['media']['expected']
        and report['media']['window']['received'] == report['media']['window']['expected']
        and all(e['code'] == 0 and not e['sanitizer_reports']
                for e in report.get('exit', {}).values()))
    print(human(report))
    line = json.dumps(report, sort_keys=True)
    print(line)
    sys.stdout.flush()
    if args.json:
        with open(args.json, 'w') as f:
            f.write(line + '\n')
    return 0 if report['complete'] else 1


if __name__ == '__main__':
    sys.exit(main())
