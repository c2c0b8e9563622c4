#!/usr/bin/python3
"""Scale out on an existing engine: a two-node ejabberd cluster carrying one conference.

Node A and node B are two ejabberd 23.01 Erlang VMs on this machine, each in its own private
folder with its own node name and ports, sharing one Erlang cookie. Node B is joined to
node A with `ejabberdctl join_cluster`, so they share Mnesia: accounts, sessions and routes.
The focus connects as a component to node A only; both bridges connect as components to
node B only; participants log in to both nodes. Every Colibri2 request of the focus, every
Jingle exchange with a participant on the other node and every health check crosses the
cluster. Checked: the cluster has both nodes and accounts made on A log in on B; three
participants (two nodes) see and hear each other; when the bridge carrying the conference is
killed (kill -9), everyone is on the other bridge with media flowing within the limit
test_conference.py uses (15 s); the focus exits cleanly.

How the Erlang distribution is set up. The harness normally runs each node without epmd
(`-erl_epmd_port PORT`): a node then listens on PORT and assumes every node it connects to
listens on that same PORT, so two nodes on one host with different ports could never reach
each other (and cannot share one port). Here both nodes instead register with a *private*
epmd that the test starts on a free loopback port (conclave_harness.ejabberd.start_epmd):
ERL_EPMD_PORT and ERL_EPMD_ADDRESS point the nodes and every ejabberdctl run at it, and each
node listens for distribution on a fixed free port of its own (inet_dist_listen_min = max),
bound to 127.0.0.1. The system epmd (port 4369), if any, is neither used nor touched, and
nothing listens beyond loopback."""

import secrets
import signal
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.ejabberd import Ejabberd, start_epmd
from conclave_daemons import Daemon
from conclave_media import XmppPeer
from test_conference import B1, B2, FAILOVER_LIMIT_S, FOCUS, ROOM, SSRCS, Conference, metric

# Who logs in where: both nodes carry participants.
NODE_OF = {'alice': 'a', 'bob': 'b', 'carol': 'b'}


class EjabberdCluster(unittest.TestCase):
    # The helpers of the conference story (media checks, which bridge carries the room).
    ssrcs_of = Conference.ssrcs_of
    everyone_hears_everyone = Conference.everyone_hears_everyone
    carrying_bridge = Conference.carrying_bridge

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        epmd = start_epmd()
        cookie = secrets.token_hex(20)
        cls.nodes = {
            'a': Ejabberd(components={FOCUS: 'f'}, cookie=cookie, epmd_port=epmd),
            'b': Ejabberd(components={B1: 'b1', B2: 'b2'}, cookie=cookie, epmd_port=epmd),
        }
        for node in cls.nodes.values():
            node.start()
        a, b = cls.nodes['a'], cls.nodes['b']
        # B drops its own (empty) database, takes A's, and restarts ejabberd inside its VM.
        b.ejabberdctl('join_cluster', a.node, timeout=60)
        procs.wait_until(lambda: all(cls.members(n) == {a.node, b.node}
                                     for n in cls.nodes.values()),
                         timeout=20, interval=0.3, message='the cluster never formed')
        for port in [b.c2s_port] + [b.component_port_for(d) for d in (B1, B2)]:
            procs.wait_port(b.host, port, timeout=20)
        for user in SSRCS:
            a.register(user, f'{user}-pw')
        cls.focus = Daemon(
            'focus', FOCUS, 'f', a.component_port_for(FOCUS),
            extra=f'[focus]\nbridges = {B1}, {B2}\nmax_ssrcs_per_participant = 6\n'
                  '[security]\nauthenticated_domains = localhost\n').start()
        cls.bridges = {}
        cls.peers = {}
        cls.server = b  # the bridges' server, for Conference.bridge
        for domain, secret in ((B1, 'b1'), (B2, 'b2')):
            cls.bridges[domain] = Conference.bridge.__func__(cls, domain, secret)
        cls.focus.wait_health(200)
        procs.wait_until(lambda: metric(cls.focus, 'conclave_focus_bridges_available') == 2,
                         timeout=15, message='bridges never available')
        procs.log('cluster, focus on A and two bridges on B ready in %.1f s',
                  time.monotonic() - cls.t0)

    @classmethod
    def members(cls, node):
        r = node.ejabberdctl('list_cluster', check=False)
        return set(r.stdout.split()) if r.returncode == 0 else set()

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers.values():
            p.kill()
        for d in [cls.focus] + list(cls.bridges.values()):
            if d.proc is not None and d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        for node in reversed(list(cls.nodes.values())):
            node.stop()
        procs.log('ejabberd cluster test: %.1f s in all', time.monotonic() - cls.t0)

    def join(self, name):
        node = self.nodes[NODE_OF[name]]
        audio, video, rtx = SSRCS[name]
        p = XmppPeer(name, f'{name}@localhost/{name}', f'{name}-pw', node.c2s_port,
                     audio=audio, video=video, rtx=rtx)
        self.peers[name] = p
        p.join(ROOM, name)
        self.assertEqual(p.wait_session()['focus'], f'{ROOM}/focus')
        p.wait_connected()
        return p

    def test_1_one_cluster_two_nodes(self):
        a, b = self.nodes['a'], self.nodes['b']
        for node in (a, b):
            self.assertEqual(self.members(node), {a.node, b.node})
        # An account made on A logs in on B (shared Mnesia): checked for real by the
        # participants below; here, B knows it.
        self.assertEqual(b.ejabberdctl('check_account', 'bob', 'localhost',
                                       check=False).returncode, 0)
        # The focus on A reached both bridges on B (health checks crossed the cluster).
        for domain in (B1, B2):
            self.assertEqual(metric(self.focus, 'conclave_focus_bridge_up',
                                    f'{{bridge="{domain}"}}'), 1)

    def test_2_three_participants_across_the_nodes(self):
        for name in ('alice', 'bob', 'carol'):
            self.join(name)
        self.assertEqual(metric(self.focus, 'conclave_focus_sessions'), 3)
        # carol (on B) was told of alice's (on A) and bob's (on B) sources.
        relayed = [s for ev in self.peers['carol'].seen('jingle') for s in ev['sources']]
        self.assertEqual({s['owner'] for s in relayed}, {f'{ROOM}/alice', f'{ROOM}/bob'})
        self.everyone_hears_everyone(['alice', 'bob', 'carol'])

    def test_3_failover_when_the_bridge_is_killed(self):
        names = ['alice', 'bob', 'carol']
        dead = self.carrying_bridge()
        other = B2 if dead == B1 else B1
        sessions = {n: self.peers[n].seen('session')[-1]['sid'] for n in names}
        t0 = time.monotonic()
        self.bridges[dead].stop(signal.SIGKILL)
        for n in names:
            self.peers[n].wait('session', timeout=FAILOVER_LIMIT_S,
                               match=lambda e, old=sessions[n]: e['sid'] != old)
        for n in names:
            self.peers[n].wait_connected(timeout=max(1.0, FAILOVER_LIMIT_S -
                                                     (time.monotonic() - t0)))
        elapsed = time.monotonic() - t0
        procs.log('cluster failover: every participant DTLS-connected to %s %.2f s after '
                  'kill -9', other, elapsed)
        self.assertLess(elapsed, FAILOVER_LIMIT_S)
        self.assertEqual(self.carrying_bridge(), other)
        self.everyone_hears_everyone(names)
        self.assertEqual(metric(self.focus, 'conclave_focus_conference_moves_total'), 1)

    def test_4_clean_exit(self):
        self.assertEqual(self.focus.stop(), 0)
        self.assertEqual(self.focus.sanitizer_reports(), [], self.focus.log_text()[-3000:])
        for b in self.bridges.values():
            if b.proc.poll() is None:
                self.assertEqual(b.stop(), 0)
            self.assertEqual(b.sanitizer_reports(), [], b.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(EjabberdCluster)
