#!/usr/bin/python3
"""A participant whose endpoint the bridge expires on its own gets a new session: the bridge
tells the focus (`endpoint-expired`, schemas/colibri2.md), the focus ends the dead session
(session-terminate, connectivity-error) and starts a new one on the same bridge; the others
are told its sources went and came back. Restarts are bounded: a participant whose sessions
keep dying is left without media after three a minute. Here the bridge's media timeout is
2 s: alice sends all the time, bob sends nothing, so only bob's endpoint expires."""

import signal
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_daemons import Daemon
from conclave_media import XmppPeer, parse_metrics

FOCUS = 'conference.localhost'
BRIDGE = 'bridge1.localhost'
ROOM = f'recovery@{FOCUS}'


def metric(daemon, name, labels=''):
    return parse_metrics(daemon.metrics()).get(name + labels)


class Recovery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody(components={FOCUS: 'f', BRIDGE: 'b'})
        cls.prosody.start()
        for user in ('alice', 'bob'):
            cls.prosody.register(user, f'{user}-pw')
        cls.focus = Daemon('focus', FOCUS, 'f', cls.prosody.component_port,
                           extra=f'[focus]\nbridges = {BRIDGE}\nbridge_check_interval_s = 1\n'
                                 '[security]\nauthenticated_domains = localhost\n').start()
        port = 30000 + procs.free_port() % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'b', cls.prosody.component_port,
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                                  f'port_max = {port + 20}\nworkers = 1\nmedia_timeout = 2\n'
                                  f'[colibri]\ntrusted = {FOCUS}\n').start()
        cls.bridge.wait_health(200, timeout=15)
        cls.focus.wait_health(200)
        procs.wait_until(lambda: metric(cls.focus, 'conclave_focus_bridges_available') == 1,
                         timeout=10, message='bridge never available')
        cls.peers = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.kill()
        for d in (cls.focus, cls.bridge):
            if d.proc is not None and d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        cls.prosody.stop()

    def peer(self, name, base, **kwargs):
        p = XmppPeer(name, f'{name}@localhost/{name}', f'{name}-pw', self.prosody.c2s_port,
                     audio=1000 + base, video=2000 + base, rtx=3000 + base, **kwargs)
        self.peers.append(p)
        p.join(ROOM, name)
        p.wait_session()
        p.wait_connected()
        return p

    def test_1_a_lost_endpoint_gets_a_new_session(self):
        alice = self.peer('alice', 1, send_on_connect=120)
        bob = self.peer('bob', 2)
        first = bob.seen('session')[-1]['sid']
        # bob sends nothing: the bridge expires him after 2 s and tells the focus.
        ended = bob.wait('session-ended', timeout=10, match=lambda e: e['sid'] == first)
        self.assertEqual((ended['reason'], ended['by']), ('connectivity-error', 'remote'))
        second = bob.wait('session', timeout=10)
        self.assertNotEqual(second['sid'], first)
        bob.wait_connected()
        self.assertGreaterEqual(
            metric(self.bridge, 'conclave_bridge_endpoints_expired_total',
                   '{reason="media_timeout"}'), 1)
        self.assertGreaterEqual(metric(self.focus, 'conclave_focus_session_restarts_total'), 1)
        # alice was told bob's sources went, then came back.
        alice.wait('jingle', match=lambda e: e['action'] == 'source-remove' and
                   1002 in {s['ssrc'] for s in e['sources']})
        alice.wait('jingle', match=lambda e: e['action'] == 'source-add' and
                   1002 in {s['ssrc'] for s in e['sources']})
        # alice kept her session all along.
        self.assertEqual(len(alice.seen('session')), 1)

    def test_2_restarts_are_bounded(self):
        # bob keeps sending nothing: after three restarts in a minute he is left without
        # media, and stays in the room.
        procs.wait_until(lambda: 'sessions keep failing' in self.focus.log_text(),
                         timeout=30, message='bob was restarted without end')
        self.assertEqual(metric(self.focus, 'conclave_focus_session_restarts_total'), 3,
                         self.focus.log_text()[-4000:])
        self.assertEqual(metric(self.focus, 'conclave_focus_sessions'), 1)
        self.assertEqual(metric(self.focus, 'conclave_muc_occupants'), 2)
        bob = self.peers[1]
        last = bob.seen('session')[-1]['sid']
        bob.wait('session-ended', timeout=5, match=lambda e: e['sid'] == last)

    def test_3_clean_exit(self):
        self.assertEqual(self.focus.stop(), 0)
        self.assertEqual(self.bridge.stop(), 0)
        self.assertEqual(self.focus.sanitizer_reports(), [], self.focus.log_text()[-3000:])
        self.assertEqual(self.bridge.sanitizer_reports(), [], self.bridge.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(Recovery)
