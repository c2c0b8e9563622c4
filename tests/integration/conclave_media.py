"""Media-plane helpers for integration tests: the C test peer as a subprocess driven over
JSON lines, Colibri2 request builders and answer parsers (the shapes of
schemas/colibri2.md), and a reader for the bridge's Prometheus counters."""

import json
import os
import queue
import random
import subprocess
import threading
import time

from conclave_harness import procs
from conclave_harness.tempdir import make_tempdir

PEER = os.environ.get('CONCLAVE_TEST_PEER', 'build/tests/peer/conclave-test-peer')
NS = 'jitsi:colibri2'
NS_ICE = 'urn:xmpp:jingle:transports:ice-udp:1'
NS_DTLS = 'urn:xmpp:jingle:apps:dtls:0'
NS_SSMA = 'urn:xmpp:jingle:apps:rtp:ssma:0'


class _PeerProcess:
    """A conclave-test-peer subprocess: JSON commands in, JSON events out."""

    def _start(self, name, cmd):
        self.name = name
        self.dir = make_tempdir(prefix=f'conclave-peer-{name}-')
        self.log_path = os.path.join(self.dir, 'peer.log')
        self.log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, start_new_session=True, text=True,
                                     errors='replace')
        procs.add_cleanup(self.kill)
        self.events = queue.Queue()
        self.history = []  # every event, in order, including those wait() skipped
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {'event': 'garbage', 'line': line}
            self.history.append(ev)
            self.events.put(ev)
        self.events.put({'event': 'exit'})

    def send(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + '\n')
        self.proc.stdin.flush()

    def wait(self, event, timeout=15.0, fail_on=(), match=None):
        """The next event named `event` (for which `match(ev)` is true, if given), skipping
        others; raises on timeout or on an event in `fail_on`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'peer {self.name}: no {event} within {timeout}s')
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if ev.get('event') == event and (match is None or match(ev)):
                return ev
            if ev.get('event') in fail_on or ev.get('event') == 'exit':
                raise AssertionError(f'peer {self.name}: got {ev} while waiting for {event}')

    def seen(self, event, match=None):
        """Every event named `event` (and matching) received so far, waited for or not."""
        return [ev for ev in list(self.history)
                if ev.get('event') == event and (match is None or match(ev))]

    def sources(self):
        out = []
        if self.audio:
            out.append({'ssrc': self.audio, 'kind': 'audio'})
        if self.video:
            out.append({'ssrc': self.video, 'kind': 'video'})
        if self.rtx:
            out.append({'ssrc': self.rtx, 'kind': 'rtx'})
        return out

    def report(self):
        self.send(cmd='report')
        return self.wait('report')

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.send(cmd='quit')
                self.proc.wait(5)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def _media_args(audio, video, rtx, drop_every, profiles, video_file, bench_rate, dtls_server):
    cmd = [PEER, '--audio-ssrc', str(audio), '--video-ssrc', str(video),
           '--rtx-ssrc', str(rtx), '--drop-every', str(drop_every)]
    if profiles:
        cmd += ['--profiles', profiles]
    if video_file:
        cmd += ['--video-file', video_file]
    if bench_rate:
        cmd += ['--bench-rate', str(bench_rate)]
    if dtls_server:
        cmd += ['--dtls-server']
    return cmd


class Peer(_PeerProcess):
    """One conclave-test-peer process. Events are the JSON objects it prints."""

    def __init__(self, name, audio=0, video=0, rtx=0, drop_every=0, profiles=None,
                 video_file=None, bench_rate=0, dtls_server=False, extra_audio=0):
        self.audio, self.video, self.rtx = audio, video, rtx
        # Signalled but never sent by the streams: the peer's hostile packets use it.
        self.extra_audio = extra_audio
        self.setup = 'passive' if dtls_server else 'active'
        self._start(name, _media_args(audio, video, rtx, drop_every, profiles, video_file,
                                      bench_rate, dtls_server))
        self.transport = self.wait('transport')

    def connect(self, bridge_transport):
        self.send(cmd='connect', **bridge_transport)


class XmppPeer(_PeerProcess):
    """A conclave-test-peer in XMPP mode: logs in (plain c2s) as `jid` (a full JID; the
    resource defaults to the name), joins rooms, and speaks Jingle to the focus, which
    creates one ICE/DTLS/SRTP session per session-initiate.

    The constructor waits for 'xmpp-connected' (raising on 'xmpp-error') unless
    `wait_connected` is false."""

    def __init__(self, name, jid, password, port, host='127.0.0.1', audio=0, video=0, rtx=0,
                 drop_every=0, profiles=None, video_file=None, bench_rate=0, dtls_server=False,
                 send_on_connect=None, no_jingle=False, jingle_from_anyone=False,
                 wait_connected=True, xmpp_debug=False, keep_media=False):
        self.audio, self.video, self.rtx = audio, video, rtx
        self.setup = 'passive' if dtls_server else 'active'
        if '/' not in jid:
            jid = f'{jid}/{name}'
        cmd = _media_args(audio, video, rtx, drop_every, profiles, video_file, bench_rate,
                          dtls_server)
        cmd += ['--xmpp-jid', jid, '--xmpp-password', password, '--xmpp-host', host,
                '--xmpp-port', str(port)]
        if send_on_connect:
            cmd += ['--send-on-connect', str(send_on_connect)]
        if no_jingle:
            cmd += ['--no-jingle']
        if jingle_from_anyone:
            cmd += ['--jingle-from-anyone']
        if xmpp_debug:
            cmd += ['--xmpp-debug']
        if keep_media:
            cmd += ['--keep-media']
        self.room = None
        self.occupant = None
        self._start(name, cmd)
        self.jid = None
        if wait_connected:
            self.jid = self.wait('xmpp-connected', fail_on=('xmpp-error',))['jid']

    def join(self, room, nick=None, timeout=15.0):
        """Joins `room` and returns the 'joined' event (our self-presence)."""
        self.room = room
        self.send(cmd='join', room=room, nick=nick or self.name)
        ev = self.wait('joined', timeout=timeout, fail_on=('xmpp-error',))
        self.occupant = ev['jid']
        return ev

    def leave(self):
        self.send(cmd='leave')

    def wait_session(self, timeout=20.0):
        """The next 'session' event (a session-initiate processed): {sid, focus}."""
        return self.wait('session', timeout=timeout)

    def wait_connected(self, timeout=20.0):
        return self.wait('connected', timeout=timeout, fail_on=('dtls-failed', 'ice-failed'))

    def raw(self, xml, timeout=10.0):
        """Sends a raw stanza; for an IQ get/set returns its 'iq-reply' event."""
        self.send(cmd='raw', xml=xml)
        sent = self.wait('raw-sent', timeout=timeout)
        if not sent.get('tracked'):
            return sent
        return self.wait('iq-reply', timeout=timeout, match=lambda ev: ev['id'] == sent['id'])

    def reset_rx(self):
        self.send(cmd='reset-rx')
        return self.wait('rx-reset')


# -- Colibri2 ------------------------------------------------------------------------------

def transport_xml(t, setup='active'):
    cands = ''.join(
        f"<candidate foundation='{c['foundation']}' component='1' protocol='udp' "
        f"priority='{c['priority']}' ip='{c['ip']}' port='{c['port']}' type='host' "
        f"generation='0' id='c{i}'/>" for i, c in enumerate(t['candidates']))
    return (f"<transport><transport xmlns='{NS_ICE}' ufrag='{t['ufrag']}' pwd='{t['pwd']}'>"
            f"<fingerprint xmlns='{NS_DTLS}' hash='sha-256' setup='{setup}'>"
            f"{t['fingerprint']}</fingerprint><rtcp-mux/>{cands}</transport></transport>")


def sources_xml(peer, name):
    parts = []
    if peer.audio:
        parts.append(f"<media-source type='audio' id='{name}-a0'>"
                     f"<source xmlns='{NS_SSMA}' ssrc='{peer.audio}'/></media-source>")
    if peer.extra_audio:
        parts.append(f"<media-source type='audio' id='{name}-a1'>"
                     f"<source xmlns='{NS_SSMA}' ssrc='{peer.extra_audio}'/></media-source>")
    if peer.video:
        group = ''
        rtx = ''
        if peer.rtx:
            rtx = f"<source xmlns='{NS_SSMA}' ssrc='{peer.rtx}'/>"
            group = (f"<ssrc-group xmlns='{NS_SSMA}' semantics='FID'>"
                     f"<source ssrc='{peer.video}'/><source ssrc='{peer.rtx}'/></ssrc-group>")
        parts.append(f"<media-source type='video' id='{name}-v0'>"
                     f"<source xmlns='{NS_SSMA}' ssrc='{peer.video}'/>{rtx}{group}"
                     f"</media-source>")
    return '<sources>' + ''.join(parts) + '</sources>'


def modify_xml(bridge, meeting, endpoints, create=False, expire=False):
    attrs = f" meeting-id='{meeting}'"
    if create:
        attrs += " create='true'"
    if expire:
        attrs += " expire='true'"
    return (f"<iq type='set' to='{bridge}'><conference-modify xmlns='{NS}'{attrs}>"
            + ''.join(endpoints) + '</conference-modify></iq>')


def parse_answer(reply):
    """{endpoint id: transport dict} from a conference-modified result."""
    out = {}
    mod = reply.xml.find(f'{{{NS}}}conference-modified')
    if mod is None:
        raise AssertionError('no conference-modified in ' + str(reply))
    for ep in mod.findall(f'{{{NS}}}endpoint'):
        ice = ep.find(f'{{{NS}}}transport/{{{NS_ICE}}}transport')
        if ice is None:
            continue
        fp = ice.find(f'{{{NS_DTLS}}}fingerprint')
        out[ep.get('id')] = {
            'ufrag': ice.get('ufrag'), 'pwd': ice.get('pwd'),
            'fingerprint': fp.text, 'setup': fp.get('setup'),
            'candidates': [{'foundation': c.get('foundation'), 'ip': c.get('ip'),
                            'port': int(c.get('port')), 'priority': int(c.get('priority')),
                            'type': c.get('type')}
                           for c in ice.findall(f'{{{NS_ICE}}}candidate')],
        }
    return out


def colibri_reason(reply):
    err = reply.xml.find('{jabber:client}error')
    if err is None:
        return None
    r = err.find(f'{{{NS}}}error')
    return r.get('reason') if r is not None else None


def random_fingerprint():
    return ':'.join('%02X' % random.randrange(256) for _ in range(32))


# -- metrics -------------------------------------------------------------------------------

def parse_metrics(text):
    values = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        key, _, value = line.rpartition(' ')
        values[key] = float(value)
    return values


def wait_intact(receiver, wanted, timeout=10.0):
    """Waits until the test peer `receiver` got packets on every SSRC in `wanted`, checks
    that nothing it got was damaged (payload mismatches, SRTP errors) and returns its
    report."""
    report = None

    def all_there():
        nonlocal report
        report = receiver.report()
        streams = {s['ssrc']: s for s in report['streams']}
        return all(streams.get(x, {}).get('unique', 0) > 0 for x in wanted)
    procs.wait_until(all_there, timeout=timeout,
                     message=f'{receiver.name} did not get all of {sorted(wanted)}')
    damaged = [s for s in report['streams'] if s['mismatches'] != 0]
    if damaged or report['srtp_errors'] != 0:
        raise AssertionError(f'{receiver.name} got damaged media: {report}')
    return report


def carrying_bridge(focus, bridges):
    """The one bridge of `bridges` on which the focus placed a conference."""
    metrics = parse_metrics(focus.metrics())
    placed = [b for b in bridges
              if metrics.get(f'conclave_focus_bridge_conferences{{bridge="{b}"}}') == 1]
    if len(placed) != 1:
        raise AssertionError(f'not exactly one carrying bridge: {placed}')
    return placed[0]


class Counters:
    """Deltas of the bridge's counters since construction."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.before = parse_metrics(daemon.metrics())

    def delta(self, key):
        return self.deltas()(key)

    def deltas(self):
        """One reading of the metrics page: a function from a key to its delta."""
        now = parse_metrics(self.daemon.metrics())
        return lambda key: now.get(key, 0) - self.before.get(key, 0)

    @staticmethod
    def drop(reason):
        return f'conclave_bridge_dropped_packets_total{{reason="{reason}"}}'
