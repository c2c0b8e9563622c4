#!/usr/bin/python3
"""bench/janus_compare: conclave-bridge and Janus's VideoRoom under the same load.

The same test peers (tests/peer, one process per PeerConnection, timestamped SRTP packets
in bench mode) publish and subscribe through either server:

- conclave-bridge: a conference created over Colibri2 from a Prosody c2s client, as
  bench/forward.py does;
- Janus 1.1.2 (Debian's package, installed with apt-get when missing): a VideoRoom room
  created over the HTTP API, publishers joining with an SDP offer written from the peer's
  transport and SSRC (bench/janus_sdp.py), subscribers joining with every feed in one
  multistream PeerConnection and answering Janus's offer.

Scenarios (counts and rates are options):
  webinar  1 video publisher -> 50 subscribers, 200 packets/s, 1100-byte payloads
  meeting  10 video publishers x 10 subscribers (each receives all 10), 100 packets/s each
  audio    100 audio publishers x 10 subscribers (each receives all 100), 10 packets/s
           each, 160-byte payloads (50 a second, as Opus sends, needs more than 2 cores
           for the peers alone)

Each (server, scenario, SRTP profile) run starts a fresh server, connects the peers, checks
that every subscriber receives every stream (a short warm-up send), then measures one
window of --seconds: forwarded packets (the unique packets the subscribers received) per
CPU-second of the server process (user+sys of all its threads, from
/proc/PID/task/*/schedstat, from the start of the send to the end of its drain), p50/p99
latency (receive minus send time, from the peers' reports), loss, and the server's VmRSS
at the end of the window and VmHWM. Rounds are interleaved (round i: bridge(s) then Janus,
round i+1: Janus then bridge(s)); the summary is the median per cell and the ratio
bridge/Janus of forwarded packets per CPU-second (above 1: the bridge needs less CPU per
packet).

Janus skips loopback interfaces when it gathers ICE candidates, so the whole benchmark
(Prosody, both servers, every peer) runs in a private network namespace (unshare --net)
where a veth carries 127.0.1.1/32: every media address is 127.0.1.1, for both servers.

Run from the source root after a build, as root:
    /usr/bin/python3 bench/janus_compare.py --markdown results.md > results.json
    /usr/bin/python3 bench/janus_compare.py --bridge before=/tmp/old/conclave-bridge \\
        --bridge after=build/bridge/conclave-bridge --rounds 3
"""

import argparse
import concurrent.futures
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import janus_server  # noqa: E402
from forward import cpu_seconds  # noqa: E402

ADDRESS = '127.0.1.1'
VETH = ('cbench0', 'cbench1')
PROFILES = {'gcm': 'SRTP_AEAD_AES_128_GCM', 'cm': 'SRTP_AES128_CM_SHA1_80'}
SCENARIOS = {
    'webinar': {'kind': 'video', 'publishers': 1, 'subscribers': 50, 'rate': 200},
    'meeting': {'kind': 'video', 'publishers': 10, 'subscribers': 10, 'rate': 100},
    'audio': {'kind': 'audio', 'publishers': 100, 'subscribers': 10, 'rate': 10},
}
SIZES = {'video': 1100, 'audio': 160}
RTCP_INTERVAL_MS = {'video': 1000, 'audio': 5000}
WARMUP_SECONDS = 1.0
DRAIN_SECONDS = 0.3
COLIBRI_CHUNK = 50  # endpoints per conference-modify (the schema allows 64)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--bridge', action='append', default=[], metavar='NAME=PATH',
                    help='a conclave-bridge binary to measure (repeatable; default: '
                         'bridge=BUILD/bridge/conclave-bridge)')
    ap.add_argument('--janus', default=janus_server.JANUS, metavar='PATH')
    ap.add_argument('--no-janus', action='store_true', help='measure only the bridge(s)')
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--seconds', type=float, default=5.0, help='length of a measured window')
    ap.add_argument('--scenarios', default=','.join(SCENARIOS))
    ap.add_argument('--profiles', default='gcm,cm')
    ap.add_argument('--workers', type=int, default=1, help="the bridge's media workers")
    ap.add_argument('--janus-event-loops', type=int, default=os.cpu_count() or 2,
                    help="Janus's event_loops (0: its default, a thread per handle)")
    ap.add_argument('--video-size', type=int, default=SIZES['video'],
                    help='payload bytes of a video packet')
    ap.add_argument('--audio-size', type=int, default=SIZES['audio'],
                    help='payload bytes of an audio packet')
    for name, sc in SCENARIOS.items():
        for key in ('publishers', 'subscribers', 'rate'):
            ap.add_argument(f'--{name}-{key}', type=int, default=sc[key],
                            help=f'{name}: {key}' + (' (packets/s per publisher)'
                                                     if key == 'rate' else ''))
    ap.add_argument('--markdown', metavar='FILE', help='the table there instead of stderr')
    ap.add_argument('--json', metavar='FILE', help='the JSON there instead of stdout')
    args = ap.parse_args()
    args.scenarios = [s for s in args.scenarios.split(',') if s]
    args.profiles = [p for p in args.profiles.split(',') if p]
    for s in args.scenarios:
        if s not in SCENARIOS:
            ap.error(f'unknown scenario {s!r} (known: {", ".join(SCENARIOS)})')
    for p in args.profiles:
        if p not in PROFILES:
            ap.error(f'unknown profile {p!r} (known: {", ".join(PROFILES)})')
    if not 1 <= args.rounds <= 20 or not 0.5 <= args.seconds <= 60:
        ap.error('keep runs bounded: 1..20 rounds of 0.5..60 s windows')
    for size in (args.video_size, args.audio_size):
        if not 8 <= size <= 1200:
            ap.error('payload sizes must be 8..1200 bytes')
    args.config = {}
    for name in args.scenarios:
        sc = dict(SCENARIOS[name])
        for key in ('publishers', 'subscribers', 'rate'):
            sc[key] = getattr(args, f'{name}_{key}')
        if sc['publishers'] < 1 or sc['subscribers'] < 1 or sc['rate'] < 1:
            ap.error(f'{name}: publishers, subscribers and rate must be at least 1')
        if sc['publishers'] > 120 or sc['publishers'] + sc['subscribers'] > 250:
            ap.error(f'{name}: at most 120 publishers and 250 peers (a receiver takes 128 '
                     'streams)')
        sc['size'] = args.video_size if sc['kind'] == 'video' else args.audio_size
        args.config[name] = sc
    if args.seconds * args.rounds * len(args.scenarios) * len(args.profiles) * \
            (len(args.bridge or [1]) + (0 if args.no_janus else 1)) > 3600:
        ap.error('keep the sitting bounded: at most an hour of measured windows')
    bridges = {}
    for spec in args.bridge or [f'bridge={os.path.join(args.build, "bridge", "conclave-bridge")}']:
        name, sep, path = spec.partition('=')
        if not sep or not name or not path:
            ap.error(f'--bridge wants NAME=PATH, not {spec!r}')
        if name in bridges or name == 'janus':
            ap.error(f'--bridge name {name!r} given twice or reserved')
        path = os.path.abspath(path)
        if not os.access(path, os.X_OK):
            ap.error(f'--bridge {name}: {path} is not an executable')
        bridges[name] = path
    args.bridges = bridges
    os.environ.setdefault('CONCLAVE_TEST_PEER',
                          os.path.join(args.build, 'tests', 'peer', 'conclave-test-peer'))
    if not os.access(os.environ['CONCLAVE_TEST_PEER'], os.X_OK):
        ap.error(f"no test peer at {os.environ['CONCLAVE_TEST_PEER']} (build first)")
    return args


# -- the namespace ---------------------------------------------------------------------------

def enter_namespace(args):
    """Outside: installs Janus if needed and re-executes this program under unshare --net.
    Inside: a veth pair with ADDRESS on one end (a non-loopback interface Janus gathers on;
    packets between two local addresses still go through the kernel's loopback path, so
    neither route_localnet nor accept_local is needed)."""
    from conclave_harness import netns

    def prepare():
        if not args.no_janus:
            janus_server.install_if_missing(args.janus)
        return None
    netns.enter(__file__, prepare=prepare)
    if netns.problem():
        raise SystemExit(f'janus_compare: {netns.problem()}')
    a, b = VETH
    for cmd in (['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b],
                ['ip', 'addr', 'add', f'{ADDRESS}/32', 'dev', a],
                ['ip', 'link', 'set', a, 'up'], ['ip', 'link', 'set', b, 'up']):
        subprocess.run(cmd, check=True)


# -- peers -----------------------------------------------------------------------------------

def peer_class():
    from conclave_media import _PeerProcess, _media_args

    class BenchPeer(_PeerProcess):
        """A test peer on ADDRESS: a publisher sends `rate` timestamped packets per second
        of `size` payload bytes on its SSRC; a subscriber only receives."""

        def __init__(self, name, kind, ssrc, rate, size, profile, ice_controlled=False):
            self.audio = ssrc if kind == 'audio' else 0
            self.video = ssrc if kind == 'video' else 0
            self.rtx = self.extra_audio = 0
            self.kind = kind
            cmd = _media_args(self.audio, self.video, 0, 0, profile, None, rate, False)
            # RTCP as often as libwebrtc sends it: every 5 s for audio, every 1 s for video
            # (the peer's default, 500 ms, would dominate a room of 100 audio senders).
            cmd += ['--address', ADDRESS, '--bench-size', str(size), '--rtcp-interval',
                    str(RTCP_INTERVAL_MS[kind])]
            if ice_controlled:
                cmd.append('--ice-controlled')
            self._start(name, cmd)
            self.transport = None

        def wait_transport(self):
            self.transport = self.wait('transport')
            return self.transport

    return BenchPeer


def wait_connected(peers, profile, timeout=40.0):
    """Every peer's DTLS connected; the profiles they negotiated."""
    seen = set()
    deadline = time.monotonic() + timeout
    for p in peers:
        ev = p.wait('connected', timeout=max(1.0, deadline - time.monotonic()),
                    fail_on=('dtls-failed', 'ice-failed', 'error'))
        seen.add(ev['profile'])
    if seen != {profile}:
        raise RuntimeError(f'negotiated SRTP profiles {sorted(seen)}, not {profile}')
    return sorted(seen)


def udp_errors():
    """The namespace's UDP error counters (/proc/net/snmp): datagrams dropped because a
    socket's receive buffer was full (a peer or a server too slow to read) and so on."""
    with open('/proc/net/snmp') as f:
        rows = [line.split() for line in f if line.startswith('Udp:')]
    values = dict(zip(rows[0][1:], map(int, rows[1][1:])))
    return {k: values.get(k, 0) for k in ('InErrors', 'RcvbufErrors', 'SndbufErrors')}


def cpu_ticks():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open('/proc/stat') as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def proc_status(pid):
    out = {}
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            key, _, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM', 'Threads'):
                out[key] = int(value.split()[0])
    return out


class Run:
    """One server carrying one scenario with one profile, from start to stop."""

    def __init__(self, args, scenario, profile):
        self.args = args
        self.name = scenario
        self.sc = args.config[scenario]
        self.profile = PROFILES[profile]
        self.publishers, self.subscribers = [], []
        self.Peer = peer_class()

    def make_peers(self, subscriber_ice_controlled):
        sc = self.sc
        base = random.randrange(1 << 20, 1 << 30)
        for i in range(sc['publishers']):
            self.publishers.append(self.Peer(f'p{i}', sc['kind'], base + i, sc['rate'],
                                             sc['size'], self.profile))
        for i in range(sc['subscribers']):
            # An SSRC of its own for the RTCP it sends; it sends no media.
            self.subscribers.append(self.Peer(f's{i}', sc['kind'], base + 100000 + i, 0,
                                              sc['size'], self.profile,
                                              ice_controlled=subscriber_ice_controlled))
        for p in self.publishers + self.subscribers:
            p.wait_transport()

    def send(self, seconds):
        """Every publisher sends for `seconds`; returns the packets they sent."""
        before = {p.name: p.seen('sent') for p in self.publishers}
        for p in self.publishers:
            p.send(cmd='send', seconds=seconds)
        total = 0
        for p in self.publishers:
            ev = p.wait('sent', timeout=seconds + 30)
            prior = before[p.name][-1]['bench'] if before[p.name] else 0
            total += ev['bench'] - prior
        return total

    def reports(self):
        return [s.report() for s in self.subscribers]

    def warm_up(self):
        """A short send; then every subscriber must have got every stream."""
        self.send(WARMUP_SECONDS)
        time.sleep(DRAIN_SECONDS)
        missing = []
        for s, rep in zip(self.subscribers, self.reports()):
            got = {st['ssrc'] for st in rep['streams'] if st['unique'] > 0}
            lacking = [x for x in s.expected if x not in got]
            if lacking:
                missing.append(f'{s.name} lacks {len(lacking)} of {len(s.expected)}')
        if missing:
            raise RuntimeError('warm-up: ' + '; '.join(missing[:5])
                               + f' (server counters: {self.counters()})')

    def measure(self, pid):
        for s in self.subscribers:
            s.send(cmd='reset-rx')
        for s in self.subscribers:
            s.wait('rx-reset')
        udp0, counters0, ticks0 = udp_errors(), self.counters(), cpu_ticks()
        t0, cpu0 = time.monotonic(), cpu_seconds(pid)
        sent = self.send(self.args.seconds)
        time.sleep(DRAIN_SECONDS)
        cpu, elapsed = cpu_seconds(pid) - cpu0, time.monotonic() - t0
        udp1, counters1, ticks1 = udp_errors(), self.counters(), cpu_ticks()
        mem = proc_status(pid)
        reports = self.reports()
        received = sum(st['unique'] for rep in reports for st in rep['streams'])
        expected = sent * self.sc['subscribers']
        damaged = sum(rep['srtp_errors'] + sum(st['mismatches'] for st in rep['streams'])
                      for rep in reports)
        return {
            'sent': sent, 'forwarded': received, 'cpu_seconds': round(cpu, 4),
            'elapsed_seconds': round(elapsed, 3),
            'forwarded_per_cpu_second': round(received / cpu) if cpu > 0 else None,
            'cpu_us_per_forwarded': round(1e6 * cpu / received, 3) if received else None,
            'loss_percent': round(100 * (1 - received / expected), 3) if expected else None,
            'latency_p50_us': statistics.median(rep['latency_us']['p50'] for rep in reports),
            'latency_p99_us': max(rep['latency_us']['p99'] for rep in reports),
            'rss_kb': mem.get('VmRSS'), 'hwm_kb': mem.get('VmHWM'),
            'threads': mem.get('Threads'), 'damaged': damaged,
            'unexpected': sum(rep['unexpected'] for rep in reports),
            'udp_errors': {k: udp1[k] - udp0[k] for k in udp0},
            # The whole machine's CPU use over the window (peers included): near 100 %,
            # the peers and the server compete and the figures mean little.
            'machine_busy_percent': round(100 * (ticks1[0] - ticks0[0])
                                          / max(1, ticks1[1] - ticks0[1]), 1),
            'server_counters': {k: v - counters0.get(k, 0) for k, v in counters1.items()
                                if v != counters0.get(k, 0)},
        }

    def counters(self):
        """The server's own counters worth keeping (its drops), if it has any."""
        return {}

    def stop_peers(self):
        for p in self.publishers + self.subscribers:
            p.kill()


class BridgeRun(Run):
    server = 'bridge'

    def __init__(self, args, scenario, profile, binary, prosody, client):
        super().__init__(args, scenario, profile)
        self.binary, self.prosody, self.client = binary, prosody, client
        self.daemon = None

    def run(self):
        from conclave_daemons import Daemon
        from conclave_harness import procs
        from conclave_media import modify_xml, parse_answer, sources_xml, transport_xml
        args = self.args
        port_min = 20000 + procs.free_port() % 30000
        n_peers = self.sc['publishers'] + self.sc['subscribers']
        self.daemon = Daemon('bridge', 'bridge1.localhost', 'bench-secret',
                             self.prosody.component_port,
                             extra=f'[media]\naddresses = {ADDRESS}\nport_min = {port_min}\n'
                                   f'port_max = {port_min + n_peers + 50}\n'
                                   f'workers = {args.workers}\n'
                                   f'[colibri]\ntrusted = focus@localhost\n')
        # No -v: the packaged unit's log level, no more.
        self.daemon.start(command=[self.binary, '--config', self.daemon.config_path])
        self.daemon.wait_health(200, timeout=20)
        self.make_peers(subscriber_ice_controlled=False)
        meeting = f'bench-{random.randrange(1 << 30)}'
        jid = 'bridge1.localhost'
        peers = self.publishers + self.subscribers
        answers = {}
        for i in range(0, len(peers), COLIBRI_CHUNK):  # a request carries at most 64
            reply = self.client.send_iq_raw(modify_xml(
                jid, meeting, [f"<endpoint id='{p.name}' create='true' "
                               f"occupant-id='occ-{p.name}'/>"
                               for p in peers[i:i + COLIBRI_CHUNK]], create=i == 0), timeout=30)
            answers.update(parse_answer(reply))
        for p in peers:
            update = f"<endpoint id='{p.name}'>{transport_xml(p.transport)}"
            if p in self.publishers:
                # Empty <media>: no payload type accepted, so the bridge forwards nothing
                # to a publisher (in Janus a publisher's PeerConnection is send-only).
                update += "<media type='audio'/><media type='video'/>" + sources_xml(p, p.name)
            self.client.send_iq_raw(modify_xml(jid, meeting, [update + '</endpoint>']),
                                    timeout=20)
            a = answers[p.name]
            p.send(cmd='connect', **{k: a[k] for k in ('ufrag', 'pwd', 'fingerprint',
                                                         'candidates')})
        negotiated = wait_connected(peers, self.profile)
        wanted = [{'ssrc': p.audio or p.video, 'kind': 'bench'} for p in self.publishers]
        for s in self.subscribers:
            s.expected = [w['ssrc'] for w in wanted]
            s.send(cmd='expect', sources=wanted)
        self.warm_up()
        out = self.measure(self.daemon.proc.pid)
        out['negotiated_profiles'] = negotiated
        return out

    def counters(self):
        from conclave_media import parse_metrics
        return {k: v for k, v in parse_metrics(self.daemon.metrics()).items()
                if 'dropped' in k or 'forwarded' in k or 'terminated' in k}

    def stop(self):
        self.stop_peers()
        if self.daemon is not None and self.daemon.proc is not None:
            self.daemon.stop()


class JanusRun(Run):
    server = 'janus'

    def __init__(self, args, scenario, profile):
        super().__init__(args, scenario, profile)
        self.janus = None
        self.session = None
        from conclave_harness.tempdir import make_tempdir
        self.dir = make_tempdir(prefix='conclave-bench-janus-')

    def run(self):
        from conclave_harness import procs
        import janus_api
        import janus_sdp
        args = self.args
        rtp_min = 20000 + procs.free_port() % 30000
        self.janus = janus_server.Janus(args.janus, self.dir, ADDRESS, procs.free_port(ADDRESS),
                                        rtp_min, rtp_min + 600, args.janus_event_loops)
        self.janus.start()
        self.make_peers(subscriber_ice_controlled=True)
        self.session = janus_api.Session(self.janus.url)
        control = self.session.attach()
        room = random.randrange(1, 1 << 31)
        control.request({'request': 'create', 'room': room,
                         'publishers': max(120, self.sc['publishers'] + 5), 'bitrate': 0,
                         'videocodec': 'vp8', 'audiocodec': 'opus', 'record': False,
                         'notify_joining': False, 'permanent': False})
        kind = self.sc['kind']

        def publish(p):
            handle = self.session.attach()
            offer = janus_sdp.publisher_offer(p.transport, kind, p.audio or p.video, p.name)
            data, jsep = handle.message(
                {'request': 'joinandconfigure', 'ptype': 'publisher', 'room': room,
                 'display': p.name},
                jsep={'type': 'offer', 'sdp': offer, 'trickle': False})
            if jsep is None or jsep.get('type') != 'answer':
                raise RuntimeError(f'{p.name}: no SDP answer from Janus: {data}')
            p.send(cmd='connect', **janus_sdp.peer_transport(janus_sdp.parse(jsep['sdp'])))
            return data['id']

        def subscribe(s, feeds):
            handle = self.session.attach()
            data, jsep = handle.message({'request': 'join', 'ptype': 'subscriber', 'room': room,
                                         'streams': [{'feed': f} for f in feeds]})
            if jsep is None or jsep.get('type') != 'offer':
                raise RuntimeError(f'{s.name}: no SDP offer from Janus: {data}')
            parsed = janus_sdp.parse(jsep['sdp'])
            answer, ssrcs = janus_sdp.subscriber_answer(parsed, s.transport)
            if len(ssrcs) != len(feeds) or None in ssrcs:
                raise RuntimeError(f'{s.name}: Janus offered {len(ssrcs)} usable streams '
                                   f'for {len(feeds)} feeds')
            s.expected = ssrcs
            s.send(cmd='expect', sources=[{'ssrc': x, 'kind': 'bench'} for x in ssrcs])
            handle.message({'request': 'start'}, jsep={'type': 'answer', 'sdp': answer})
            s.send(cmd='connect', **janus_sdp.peer_transport(parsed))

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            feeds = list(pool.map(publish, self.publishers))
            negotiated = wait_connected(self.publishers, self.profile)
            list(pool.map(lambda s: subscribe(s, feeds), self.subscribers))
        negotiated = sorted(set(negotiated) | set(wait_connected(self.subscribers,
                                                                 self.profile)))
        self.warm_up()
        out = self.measure(self.janus.proc.pid)
        out['negotiated_profiles'] = negotiated
        return out

    def stop(self):
        self.stop_peers()
        if self.session is not None:
            self.session.closed.set()
        if self.janus is not None:
            self.janus.stop()
        janus_server.remove(self.dir)


# -- the sitting -----------------------------------------------------------------------------

def machine(args):
    with open('/proc/cpuinfo') as f:
        model = next((line.split(':', 1)[1].strip() for line in f
                      if line.startswith('model name')), 'unknown')

    def version_of(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError) as e:
            return f'unknown ({e})'

    def deb(pkg):
        return version_of(['dpkg-query', '-W', '-f=${Version}', pkg])
    return {
        'nproc': os.cpu_count(), 'cpu_model': model, 'kernel': platform.release(),
        'janus': None if args.no_janus else janus_server.version(args.janus),
        'bridges': {n: {'path': p, 'version': version_of([p, '--version'])}
                    for n, p in args.bridges.items()},
        'libsrtp2': deb('libsrtp2-1'), 'openssl': deb('libssl3'), 'libnice': deb('libnice10'),
        'janus_event_loops': args.janus_event_loops, 'bridge_workers': args.workers,
        'address': ADDRESS,
    }


def order_for_round(i, servers):
    """Round i: the bridges then Janus; round i+1: Janus then the bridges."""
    return servers if i % 2 == 0 else list(reversed(servers))


def run_all(args):
    from conclave_harness import procs
    from conclave_harness.prosody import Prosody
    from conclave_harness.xmpp_client import Client
    prosody = Prosody(components={'bridge1.localhost': 'bench-secret'})
    client = None
    runs = []
    servers = list(args.bridges) + ([] if args.no_janus else ['janus'])
    try:
        prosody.start()
        prosody.register('focus', 'focus-password')
        client = Client('focus@localhost', 'focus-password', port=prosody.c2s_port)
        client.connect()
        for i, scenario, profile in itertools.product(range(args.rounds), args.scenarios,
                                                      args.profiles):
            for server in order_for_round(i, servers):
                if server == 'janus':
                    run = JanusRun(args, scenario, profile)
                else:
                    run = BridgeRun(args, scenario, profile, args.bridges[server], prosody,
                                    client)
                record = {'round': i, 'server': server, 'scenario': scenario,
                          'profile': PROFILES[profile], **args.config[scenario]}
                started = time.monotonic()
                try:
                    record.update(run.run())
                except Exception as e:  # one failed cell must not lose the sitting
                    record['error'] = f'{type(e).__name__}: {e}'
                    if server == 'janus' and run.janus is not None:
                        record['janus_log_tail'] = run.janus.tail(1500)
                finally:
                    run.stop()
                record['run_seconds'] = round(time.monotonic() - started, 1)
                print(f'janus_compare: round {i} {scenario} {profile} {server}: '
                      + (record.get('error') or
                         f"{record['forwarded_per_cpu_second']} forwarded/CPU-s, "
                         f"loss {record['loss_percent']}%"), file=sys.stderr, flush=True)
                runs.append(record)
    finally:
        if client is not None:
            client.disconnect()
        prosody.stop()
        procs.cleanup_all()
    return runs


def summarize(args, runs):
    cells = []
    servers = list(args.bridges) + ([] if args.no_janus else ['janus'])
    keys = ('forwarded_per_cpu_second', 'cpu_us_per_forwarded', 'latency_p50_us',
            'latency_p99_us', 'loss_percent', 'rss_kb', 'hwm_kb', 'machine_busy_percent')
    for scenario, profile in itertools.product(args.scenarios, args.profiles):
        by_server = {}
        for server in servers:
            ok = [r for r in runs if r['server'] == server and r['scenario'] == scenario
                  and r['profile'] == PROFILES[profile] and 'error' not in r]
            cell = {'runs': len(ok), 'errors': sum(
                1 for r in runs if r['server'] == server and r['scenario'] == scenario
                and r['profile'] == PROFILES[profile] and 'error' in r)}
            for k in keys:
                values = [r[k] for r in ok if r.get(k) is not None]
                cell[k] = statistics.median(values) if values else None
            cell['negotiated_profiles'] = sorted({p for r in ok
                                                  for p in r.get('negotiated_profiles', [])})
            by_server[server] = cell
        janus = by_server.get('janus', {}).get('forwarded_per_cpu_second')
        for server, cell in by_server.items():
            mine = cell['forwarded_per_cpu_second']
            cell['ratio_to_janus'] = round(mine / janus, 3) if mine and janus and \
                server != 'janus' else None
        cells.append({'scenario': scenario, 'profile': PROFILES[profile],
                      'servers': by_server})
    return cells


def markdown(cells):
    lines = ['| scenario | profile | server | forwarded/CPU-s | CPU us/pkt | p50 us | p99 us '
             '| loss % | RSS MB | HWM MB | ×Janus | machine busy % | runs (errors) |',
             '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|']

    def fmt(v, scale=1, digits=0):
        return '–' if v is None else f'{v / scale:.{digits}f}'
    for c in cells:
        for server, s in c['servers'].items():
            lines.append(
                f"| {c['scenario']} | {c['profile']} | {server} | "
                f"{fmt(s['forwarded_per_cpu_second'])} | {fmt(s['cpu_us_per_forwarded'], 1, 2)} | "
                f"{fmt(s['latency_p50_us'])} | {fmt(s['latency_p99_us'])} | "
                f"{fmt(s['loss_percent'], 1, 2)} | {fmt(s['rss_kb'], 1024, 1)} | "
                f"{fmt(s['hwm_kb'], 1024, 1)} | {fmt(s['ratio_to_janus'], 1, 2)} | "
                f"{fmt(s['machine_busy_percent'])} | {s['runs']} ({s['errors']}) |")
    return '\n'.join(lines) + '\n'


def main():
    args = parse_args()
    enter_namespace(args)
    started = time.monotonic()
    runs = run_all(args)
    cells = summarize(args, runs)
    doc = {'machine': machine(args), 'rounds': args.rounds, 'seconds': args.seconds,
           'scenarios': args.config, 'sitting_seconds': round(time.monotonic() - started, 1),
           'cells': cells, 'runs': runs}
    text = json.dumps(doc, indent=1)
    if args.json:
        with open(args.json, 'w') as f:
            f.write(text + '\n')
    else:
        print(text)
    table = markdown(cells)
    if args.markdown:
        with open(args.markdown, 'w') as f:
            f.write(table)
    else:
        sys.stderr.write(table)
    failed = sum(1 for r in runs if 'error' in r)
    if failed:
        print(f'janus_compare: {failed} of {len(runs)} runs failed (see "error" in the JSON)',
              file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
