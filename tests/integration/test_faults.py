#!/usr/bin/python3
"""Faults of the media plane's control, with real daemons and test peers (sending media):

1. The focus is killed (-9) and started again. Its rooms are gone; the bridges are not
   restarted. The clients join again and get media on a new conference; the bridge that
   carried the old one expires it on its own (its endpoints stop getting media, then the
   conference stays empty for `[media] empty_conference_grace`, schemas/colibri2.md).
2. The bridge carrying the conference hangs (SIGSTOP) instead of dying: its health checks
   time out, it is taken out and the conference moves, as for a crash. When it resumes it
   drops the old conference (the focus's expiry, queued for it, or its own timeouts), sends
   the moved participants nothing more, and does not disturb the focus: the participants
   keep their sessions on the other bridge.
3. The XMPP server is restarted mid-conference. Media goes on through the bridge while it is
   down (clients keep their sessions, as browsers do); the focus and the bridges reconnect
   by themselves; the focus asks every occupant's client whether its session survived and
   removes the ones the restart ended (status 333); what clients must do is reconnect and
   join again, with the same nickname, and they get media on new sessions.

Media timeout 2 s, empty-conference grace 1 s, health checks every second with 800 ms
timeout: the whole file runs in about 20 s."""

import re
import signal
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_daemons import Daemon
from conclave_media import XmppPeer, carrying_bridge, parse_metrics, wait_intact

FOCUS = 'conference.localhost'
B1, B2 = 'bridge1.localhost', 'bridge2.localhost'
ROOM = f'faults@{FOCUS}'
SSRCS = {'alice': (1101, 2101, 3101), 'bob': (1102, 2102, 3102)}
# Detection (1 s checks, 800 ms timeout) plus new sessions: well under this.
FAILOVER_LIMIT_S = 10


def metric(daemon, name, labels=''):
    return parse_metrics(daemon.metrics()).get(name + labels)


def bridge_load(daemon):
    """(conferences, endpoints) the bridge holds now, over its workers."""
    text = daemon.metrics()
    total = {}
    for kind in ('conferences', 'endpoints'):
        total[kind] = sum(int(float(v)) for v in re.findall(
            rf'^conclave_bridge_worker_{kind}(?:{{[^}}]*}})? (\S+)$', text, re.M))
    return total['conferences'], total['endpoints']


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody(components={FOCUS: 'f', B1: 'b1', B2: 'b2'})
        cls.prosody.start()
        for user in SSRCS:
            cls.prosody.register(user, f'{user}-pw')
        cls.focus = Daemon('focus', FOCUS, 'f', cls.prosody.component_port,
                           extra=f'[focus]\nbridges = {B1}, {B2}\nbridge_check_interval_s = 1\n'
                                 'bridge_timeout_ms = 800\n'
                                 '[security]\nauthenticated_domains = localhost\n').start()
        cls.bridges = {B1: cls.bridge(B1, 'b1'), B2: cls.bridge(B2, 'b2')}
        cls.bridge_pids = {b: d.proc.pid for b, d in cls.bridges.items()}
        cls.wait_focus_ready()
        cls.peers = {}

    @classmethod
    def bridge(cls, domain, secret):
        port = 30000 + procs.free_port() % 20000
        d = Daemon('bridge', domain, secret, cls.prosody.component_port,
                   extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                         f'port_max = {port + 20}\nworkers = 1\nmedia_timeout = 2\n'
                         'empty_conference_grace = 1\n'
                         f'[colibri]\ntrusted = {FOCUS}\n').start()
        d.wait_health(200, timeout=15)
        return d

    @classmethod
    def wait_focus_ready(cls):
        cls.focus.wait_health(200, timeout=15)
        procs.wait_until(lambda: metric(cls.focus, 'conclave_focus_bridges_available') == 2,
                         timeout=10, message='bridges never available')

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers.values():
            p.kill()
        for d in [cls.focus] + list(cls.bridges.values()):
            if d.proc is not None and d.proc.poll() is None:
                d.proc.send_signal(signal.SIGCONT)
                d.stop(signal.SIGKILL)
        cls.prosody.stop()

    # -- steps the tests share ---------------------------------------------------------

    def join(self, name, keep_media=False):
        """`name` joins the room (a new peer the first time) and gets a connected session."""
        p = self.peers.get(name)
        if p is None:
            audio, video, rtx = SSRCS[name]
            p = XmppPeer(name, f'{name}@localhost/{name}', f'{name}-pw', self.prosody.c2s_port,
                         audio=audio, video=video, rtx=rtx, keep_media=keep_media)
            self.peers[name] = p
        before = len(p.seen('session'))
        p.join(ROOM, name)
        procs.wait_until(lambda: len(p.seen('session')) > before, timeout=15,
                         message=f'{name} got no session')
        p.wait_connected()
        return p

    def sid(self, name):
        return self.peers[name].seen('session')[-1]['sid']

    def everyone_hears_everyone(self):
        peers = list(self.peers.values())
        for p in peers:
            p.reset_rx()
            p.send(cmd='send', seconds=1.5)
        for receiver in peers:
            wait_intact(receiver, {x for q in peers if q is not receiver for x in SSRCS[q.name]})
        for p in peers:
            p.wait('sent', timeout=15, match=lambda e: 'stopped' not in e)

    def carrying_bridge(self):
        return carrying_bridge(self.focus, self.bridges)

    def wait_bridge_load(self, bridge, load, timeout=10):
        d = self.bridges[bridge]
        procs.wait_until(lambda: bridge_load(d) == load, timeout=timeout,
                         message=f'{bridge} never held {load} (conferences, endpoints): '
                                 f'{bridge_load(d)}')

    # -- the faults ----------------------------------------------------------------------

    def test_1_focus_killed_and_restarted(self):
        t0 = time.monotonic()
        self.join('alice')
        self.join('bob')
        self.everyone_hears_everyone()
        old = self.carrying_bridge()
        self.wait_bridge_load(old, (1, 2))

        self.focus.stop(signal.SIGKILL)
        self.focus.start()
        type(self).wait_focus_ready()
        # The bridges kept running: the old conference is still there, orphaned.
        self.assertEqual(bridge_load(self.bridges[old]), (1, 2))
        # The clients join again (the rooms died with the focus); their new session
        # replaces the old one, whose endpoints then get no media.
        self.join('alice')
        self.join('bob')
        self.everyone_hears_everyone()
        new = self.carrying_bridge()
        # The old conference's endpoints time out, then it stays empty for the grace
        # period and the bridge removes it: what remains is the new conference only.
        procs.wait_until(lambda: (metric(self.bridges[old],
                                         'conclave_bridge_conferences_expired_empty_total')
                                  or 0) >= 1,
                         timeout=10, message=f'{old} kept the orphaned conference')
        self.wait_bridge_load(new, (1, 2))
        if new != old:
            self.wait_bridge_load(old, (0, 0))
        self.assertGreaterEqual(
            metric(self.bridges[old], 'conclave_bridge_endpoints_expired_total',
                   '{reason="media_timeout"}'), 2)
        # Nothing else was restarted.
        for b, d in self.bridges.items():
            self.assertIsNone(d.proc.poll())
            self.assertEqual(d.proc.pid, self.bridge_pids[b])
        # The new focus ignored what the bridge said about conferences it never knew.
        self.assertEqual(metric(self.focus, 'conclave_focus_conferences_recreated_total'), 0)
        procs.log('focus restart: media again and the orphan expired in %.1f s',
                  time.monotonic() - t0)

    def test_2_hung_bridge_fails_over_and_stays_quiet_when_it_resumes(self):
        hung = self.carrying_bridge()
        other = B2 if hung == B1 else B1
        sessions = {n: self.sid(n) for n in self.peers}
        moves = metric(self.focus, 'conclave_focus_conference_moves_total') or 0
        t0 = time.monotonic()
        self.bridges[hung].proc.send_signal(signal.SIGSTOP)
        try:
            for n, p in self.peers.items():
                p.wait('session', timeout=FAILOVER_LIMIT_S,
                       match=lambda e, old=sessions[n]: e['sid'] != old)
            for p in self.peers.values():
                p.wait_connected(timeout=FAILOVER_LIMIT_S)
            elapsed = time.monotonic() - t0
            procs.log('hung bridge: every participant connected to %s %.2f s after SIGSTOP',
                      other, elapsed)
            self.assertLess(elapsed, FAILOVER_LIMIT_S)
            self.assertIn(f'bridge {hung} is not answering', self.focus.log_text())
            self.assertEqual(self.carrying_bridge(), other)
            self.everyone_hears_everyone()
        finally:
            self.bridges[hung].proc.send_signal(signal.SIGCONT)
        moved = {n: self.sid(n) for n in self.peers}
        # Resumed, it drops the old conference (the focus's expiry was waiting for it) and
        # answers health checks again; the focus, whose expiry had timed out, repeats it
        # until the bridge answers.
        self.wait_bridge_load(hung, (0, 0))
        procs.wait_until(lambda: metric(self.focus, 'conclave_focus_bridges_available') == 2,
                         timeout=10, message=f'{hung} never came back')
        procs.wait_until(lambda: f'bridge {hung}: a conference that moved away was expired '
                                 'there' in self.focus.log_text(),
                         timeout=10, message='the focus never repeated its expiry')
        out = metric(self.bridges[hung], 'conclave_bridge_packets_out_total')
        # The participants keep their sessions on the other bridge, and their media.
        self.everyone_hears_everyone()
        self.assertEqual({n: self.sid(n) for n in self.peers}, moved)
        self.assertEqual(metric(self.focus, 'conclave_focus_conference_moves_total'), moves + 1)
        self.assertEqual(metric(self.focus, 'conclave_focus_conferences_recreated_total'), 0)
        self.assertEqual(self.carrying_bridge(), other)
        # With no endpoint left, the resumed bridge sent nobody anything since.
        self.assertEqual(metric(self.bridges[hung], 'conclave_bridge_packets_out_total'), out)

    def new_peers(self, keep_media=False):
        for p in self.peers.values():
            p.kill()
        self.peers.clear()
        for name in SSRCS:
            self.join(name, keep_media=keep_media)

    def test_3_xmpp_server_restart(self):
        self.new_peers(keep_media=True)
        self.everyone_hears_everyone()
        peers = list(self.peers.values())
        for p in peers:
            p.send(cmd='send', seconds=8)
        self.prosody.stop()
        t0 = time.monotonic()
        try:
            # Media goes on: what each gets from now on comes while the server is down.
            for p in peers:
                p.reset_rx()
            for receiver in peers:
                wanted = {x for q in peers if q is not receiver for x in SSRCS[q.name][:2]}
                procs.wait_until(
                    lambda r=receiver, w=wanted: all(
                        s['unique'] > 10 for s in r.report()['streams'] if s['ssrc'] in w)
                    and w <= {s['ssrc'] for s in r.report()['streams']},
                    timeout=5, message=f'{receiver.name} got no media while XMPP was down')
            down_s = time.monotonic() - t0
        finally:
            self.prosody.start()
        procs.log('media flowed for %.1f s with the XMPP server down', down_s)
        # Signalling recovers by itself: the daemons reconnect, and the focus finds the
        # occupants whose sessions the restart ended and removes them.
        self.focus.wait_health(200, timeout=20)
        procs.wait_until(lambda: metric(self.focus, 'conclave_focus_bridges_available') == 2,
                         timeout=20, message='the bridges did not come back')
        procs.wait_until(lambda: metric(self.focus, 'conclave_muc_occupants') == 0,
                         timeout=10, message='the focus kept the occupants the restart ended')
        self.assertIn('asking 2 occupant(s) whether their sessions survived',
                      self.focus.log_text())
        recovered_s = time.monotonic() - t0
        # The clients reconnect and join again with their nicknames: media again.
        self.new_peers()
        self.everyone_hears_everyone()
        procs.log('XMPP server restart: signalling recovered %.1f s after the stop, media '
                  'again %.1f s after it', recovered_s, time.monotonic() - t0)

    def test_4_clean_exit(self):
        self.assertEqual(self.focus.stop(), 0)
        for d in self.bridges.values():
            self.assertEqual(d.stop(), 0)
        for d in [self.focus] + list(self.bridges.values()):
            self.assertEqual(d.sanitizer_reports(), [], d.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(Faults)
