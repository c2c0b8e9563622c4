#!/usr/bin/python3
"""Self-test of the private ejabberd fixture (conclave_harness.ejabberd):
the same scenario as the Prosody one in test_harness.py, plus what is
specific to ejabberd (epmd-less Erlang node, helper processes, behaviour
when the harness is killed)."""

import atexit
import hashlib
import json
import os
import pwd
import re
import select
import signal
import socket
import sys
import threading
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.ejabberd import Ejabberd, instance_pids
from conclave_harness.tempdir import make_tempdir
from conclave_harness.xmpp_client import Client

# Folders, pids and node names seen during the run, checked once everything
# is torn down (CleanupTest and _check_cleanup at the bottom).
_dirs = []
_pids = []
_nodes = []


def _track(e):
    _dirs.append(e.dir)
    _nodes.append(e.node)
    _pids.extend(e.instance_pids())


def _listening(pids):
    """{(ip, port)} of the TCP sockets that `pids` listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir('/proc/%d/fd' % pid):
                link = os.readlink('/proc/%d/fd/%s' % (pid, fd))
                if link.startswith('socket:['):
                    inodes.add(link[8:-1])
        except OSError:
            pass
    found = set()
    for path, v6 in (('/proc/net/tcp', False), ('/proc/net/tcp6', True)):
        with open(path) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] != '0A' or fields[9] not in inodes:
                    continue          # not LISTEN, or not ours
                addr, port = fields[1].split(':')
                ip = ('[%s]' % addr) if v6 else \
                    socket.inet_ntoa(bytes.fromhex(addr)[::-1])
                found.add((ip, int(port, 16)))
    return found


def _processes_matching(text):
    """Live pids whose command line contains `text`."""
    found = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/cmdline' % name, 'rb') as f:
                    cmd = f.read()
            except OSError:
                continue
            if text.encode() in cmd and procs.pid_alive(int(name)):
                found.append(int(name))
    return found


def _component_connect(host, port, domain, secret):
    """XEP-0114 handshake by hand; returns (socket, reply to handshake)."""
    s = socket.create_connection((host, port), 5)
    s.settimeout(5)
    s.sendall(b"<stream:stream xmlns='jabber:component:accept' "
              b"xmlns:stream='http://etherx.jabber.org/streams' "
              b"to='%s'>" % domain.encode())
    buf = b''
    while b' id=' not in buf or not buf.rstrip().endswith(b'>'):
        data = s.recv(4096)
        if not data:
            raise ConnectionError('component stream closed: %r' % buf)
        buf += data
    sid = re.search(rb" id=['\"]([^'\"]+)", buf).group(1)
    digest = hashlib.sha1(sid + secret.encode()).hexdigest()
    s.sendall(b'<handshake>%s</handshake>' % digest.encode())
    return s, _recv_until(s, (b'<handshake', b'</stream:stream>'))


def _recv_until(s, needles, timeout=5.0):
    buf = b''
    deadline = time.monotonic() + timeout
    while not any(n in buf for n in needles):
        if time.monotonic() > deadline:
            raise TimeoutError('component socket: none of %r in %r'
                               % (needles, buf))
        data = s.recv(4096)
        if not data:
            break
        buf += data
    return buf


class EjabberdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.e = Ejabberd(components={'conference.localhost': 'secret1'})
        t0 = time.monotonic()
        cls.e.start()
        cls.start_seconds = time.monotonic() - t0
        procs.log('ejabberd start took %.2fs', cls.start_seconds)
        _track(cls.e)
        cls.e.register('alice', 'alice-pw')
        cls.e.register('bob', 'bob-pw')

    @classmethod
    def tearDownClass(cls):
        pid = cls.e.pid
        code = cls.e.stop()
        assert code == 0, 'ejabberd exit code %s' % code
        assert not procs.pid_alive(pid), 'ejabberd %d still alive' % pid
        left = cls.e.instance_pids()
        assert not left, 'ejabberd processes left: %s' % left

    def client(self, user, password):
        c = Client('%s@localhost' % user, password, self.e.host,
                   self.e.c2s_port)
        self.addCleanup(c.disconnect)
        return c.connect()

    def test_01_config(self):
        e = self.e
        self.assertEqual(len({e.c2s_port, e.component_port, e.dist_port}), 3)
        self.assertTrue(e.log_path.startswith(e.dir))
        self.assertTrue(e.running)
        self.assertIn('Start accepting TCP connections at 127.0.0.1:%d for '
                      'ejabberd_c2s' % e.c2s_port, e.log_text())
        # Only our three ports, on loopback: no s2s, no HTTP, no epmd
        # (4369), nothing on a wildcard address.
        self.assertEqual(_listening(e.instance_pids()), {
            ('127.0.0.1', e.c2s_port), ('127.0.0.1', e.component_port),
            ('127.0.0.1', e.dist_port)})
        # The VM is the process procs registered (so it gets the stop
        # signal and PDEATHSIG), and it runs as ejabberd.
        with open('/proc/%d/comm' % e.pid) as f:
            self.assertEqual(f.read().strip(), 'beam.smp')
        self.assertEqual(os.stat('/proc/%d' % e.pid).st_uid,
                         pwd.getpwnam('ejabberd').pw_uid)
        self.assertIn('is running in that node',
                      e.ejabberdctl('status').stdout)
        self.assertLess(self.start_seconds, 20)

    def test_02_message_between_users(self):
        alice = self.client('alice', 'alice-pw')
        bob = self.client('bob', 'bob-pw')
        self.assertTrue(alice.jid.startswith('alice@localhost/'))
        alice.send_message('bob@localhost', 'hello bob')
        msg = bob.wait_message(5, lambda m: m['body'] == 'hello bob')
        self.assertEqual(msg['from'].bare, 'alice@localhost')
        self.assertEqual(msg['type'], 'chat')

    def test_03_wrong_password(self):
        c = Client('alice@localhost', 'nope', self.e.host, self.e.c2s_port)
        self.addCleanup(c.disconnect)
        with self.assertRaises(ConnectionError):
            c.connect(timeout=10)

    def test_04_anonymous_guest(self):
        g = Client.anonymous('guest.localhost', self.e.host,
                             self.e.c2s_port)
        self.addCleanup(g.disconnect)
        g.connect()
        self.assertTrue(g.jid.split('/')[0].endswith('@guest.localhost'))
        self.assertGreaterEqual(g.ping(), 0)

    def test_05_register_existing_user_resets_password(self):
        self.e.register('carol', 'old-pw')
        self.e.register('carol', 'new-pw')
        c = self.client('carol', 'new-pw')
        self.assertGreaterEqual(c.ping(), 0)

    def test_06_disco_and_iq(self):
        alice = self.client('alice', 'alice-pw')
        info = alice.disco_info('localhost')
        self.assertIn(('server', 'im', None, 'ejabberd'), info.identities)
        self.assertIn('urn:xmpp:ping', info.features)
        reply = alice.send_iq_raw(
            "<iq type='get' to='localhost'><query xmlns='urn:x-nope'/></iq>")
        self.assertEqual(reply['type'], 'error')
        self.assertEqual(reply['error']['condition'], 'service-unavailable')
        reply = alice.send_iq_raw(
            "<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual(reply['type'], 'result')
        # Unlike Prosody (wait/remote-server-timeout), ejabberd has no
        # route for a configured but unconnected component: the stanza
        # falls through to s2s, which is denied (s2s_access: none), so it
        # bounces at once with auth/forbidden.
        reply = alice.send_iq_raw("<iq type='get' to='conference.localhost'>"
                                  "<ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual((reply['error']['type'],
                          reply['error']['condition']),
                         self.e.component_down_error)

    def test_07_component_handshake(self):
        # XEP-0114 by hand, as the Conclave server will do it.
        s, reply = _component_connect(self.e.host, self.e.component_port,
                                      'conference.localhost', 'secret1')
        with s:
            self.assertIn(b'<handshake', reply)
            alice = self.client('alice', 'alice-pw')
            # Routed both ways while it is connected...
            alice.send_message('room@conference.localhost', 'to the room',
                               mtype='groupchat')
            got = _recv_until(s, (b'</message>',))
            self.assertIn(b'to the room', got)
            self.assertEqual(re.search(rb" from=['\"]([^'\"]+)", got)
                             .group(1).decode(), alice.jid)
            s.sendall(b"<message from='room@conference.localhost/bot' "
                      b"to='%s' type='groupchat'><body>from the room</body>"
                      b"</message>" % alice.jid.encode())
            msg = alice.wait_message(5, lambda m: m['body'] ==
                                     'from the room')
            self.assertEqual(str(msg['from']),
                             'room@conference.localhost/bot')
            # ...and listed by the server's disco#items meanwhile.
            items = [j for j, _, _ in alice.disco_items('localhost')]
            self.assertIn('conference.localhost', items)
        # Once it is gone again, ejabberd bounces stanzas for it.  Not
        # before its route is removed though: a stanza routed while the
        # component session is going away is dropped without any error.
        procs.wait_until(lambda: 'conference.localhost' not in [
            j for j, _, _ in alice.disco_items('localhost')], 5)
        reply = alice.send_iq_raw("<iq type='get' to='conference.localhost'>"
                                  "<ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual((reply['error']['type'],
                          reply['error']['condition']),
                         self.e.component_down_error)

    def test_08_component_wrong_secret(self):
        s, reply = _component_connect(self.e.host, self.e.component_port,
                                      'conference.localhost', 'wrong')
        with s:
            self.assertIn(b'not-authorized', reply)

    def test_08b_component_connected_twice(self):
        # Unlike Prosody (stream error conflict for the second one), ejabberd
        # accepts any number of connections for one component domain and
        # spreads stanzas over them (by destination JID).
        socks = []
        for _ in range(2):
            s, reply = _component_connect(self.e.host, self.e.component_port,
                                          'conference.localhost', 'secret1')
            socks.append(s)
            self.addCleanup(s.close)
            self.assertIn(b'<handshake', reply)
        alice = self.client('alice', 'alice-pw')
        for i in range(20):
            alice.send_message('room%d@conference.localhost' % i, 'm%d' % i,
                               mtype='groupchat')
        got = [b'', b'']
        deadline = time.monotonic() + 5
        while sum(g.count(b'</message>') for g in got) < 20 and \
                time.monotonic() < deadline:
            ready, _, _ = select.select(socks, [], [], 0.2)
            for s in ready:
                got[socks.index(s)] += s.recv(65536)
        counts = [g.count(b'</message>') for g in got]
        self.assertEqual(sum(counts), 20, counts)
        self.assertTrue(all(counts), counts)

    def test_09_restart_same_ports(self):
        e = self.e
        ports = (e.c2s_port, e.component_port, e.dist_port)
        old_pids = e.instance_pids()
        alice = self.client('alice', 'alice-pw')
        t0 = time.monotonic()
        e.restart()
        procs.log('ejabberd restart took %.2fs', time.monotonic() - t0)
        _pids.extend(e.instance_pids())
        for pid in old_pids:
            self.assertFalse(procs.pid_alive(pid), pid)
        self.assertEqual(ports, (e.c2s_port, e.component_port, e.dist_port))
        procs.wait_until(lambda: not alice.connected, 5)
        # Accounts survive (Mnesia on disk, same node name); a fresh login
        # works, and so does reconnecting the old client object.
        bob = self.client('bob', 'bob-pw')
        self.assertGreaterEqual(bob.ping(), 0)
        alice.connect()
        alice.send_message(bob.jid, 'after restart')
        self.assertEqual(bob.wait_message(5)['body'], 'after restart')
        # The component can connect again too.
        s, reply = _component_connect(e.host, e.component_port,
                                      'conference.localhost', 'secret1')
        s.close()
        self.assertIn(b'<handshake', reply)

    def test_10_second_instance(self):
        # Two instances at once: own node, ports, cookie, spool.
        other = Ejabberd(components={}, guest_domain=None)
        other.start()
        _track(other)
        c = Client('alice@localhost', 'other-pw', other.host, other.c2s_port)
        try:
            self.assertNotEqual(other.node, self.e.node)
            self.assertIsNone(other.component_port)
            self.assertEqual(_listening(other.instance_pids()), {
                ('127.0.0.1', other.c2s_port),
                ('127.0.0.1', other.dist_port)})
            other.register('alice', 'other-pw')
            c.connect()
            self.assertGreaterEqual(c.ping(), 0)
            self.assertGreaterEqual(self.client('alice', 'alice-pw').ping(),
                                    0)
            with open(os.path.join(self.e.dir, '.erlang.cookie')) as f1, \
                    open(os.path.join(other.dir, '.erlang.cookie')) as f2:
                self.assertNotEqual(f1.read(), f2.read())
        finally:
            c.disconnect()
            other.stop()
        self.assertEqual(other.instance_pids(), [])
        self.assertTrue(self.e.running)


class KillTest(unittest.TestCase):
    """A harness process running ejabberd is killed: nothing may survive."""

    def _run_child(self, sig):
        folder = make_tempdir('conclave-ejabberd-kill-')
        os.chmod(folder, 0o755)
        info_path = os.path.join(folder, 'info.json')
        env = dict(os.environ, CONCLAVE_TEST_TMP=folder,
                   PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        child = procs.start([sys.executable, os.path.abspath(__file__),
                             '--child', info_path], name='child-harness',
                            log_path=os.path.join(folder, 'child.log'),
                            env=env)
        try:
            procs.wait_until(lambda: os.path.exists(info_path) or
                             not procs.is_running(child), 40)
            with open(os.path.join(folder, 'child.log')) as f:
                log = f.read()
            self.assertTrue(os.path.exists(info_path), log)
            with open(info_path) as f:
                info = json.load(f)
            _pids.extend(info['pids'])
            _nodes.append(info['node'])
            _dirs.append(info['dir'])
            self.assertTrue(all(procs.pid_alive(p) for p in info['pids']))
            os.kill(child.pid, sig)
            procs.wait_until(lambda: not procs.is_running(child), 15)
            procs.wait_until(
                lambda: not any(procs.pid_alive(p) for p in info['pids']) and
                not _processes_matching(info['node']) and
                not instance_pids(info['dir']), 15,
                message='ejabberd processes survived %s of the harness'
                % signal.Signals(sig).name)
            return info
        finally:
            procs.stop(child)

    def test_sigterm(self):
        info = self._run_child(signal.SIGTERM)
        # The child's clean-up ran: its folder is gone.
        self.assertFalse(os.path.exists(info['dir']))

    def test_sigkill(self):
        # No clean-up can run: the VM gets its PDEATHSIG (SIGTERM) and
        # shuts down by itself, its helpers follow.  The folder stays (our
        # make_tempdir removes it with its parent).
        self._run_child(signal.SIGKILL)


class CleanupTest(unittest.TestCase):
    def test_processes_gone(self):
        self.assertTrue(_pids)
        for pid in _pids:
            self.assertFalse(procs.pid_alive(pid), 'pid %d alive' % pid)
        for node in _nodes:
            self.assertEqual(_processes_matching(node), [], node)
        for folder in _dirs:
            self.assertEqual(instance_pids(folder), [], folder)

    def test_no_leftover_threads(self):
        names = sorted(t.name for t in threading.enumerate())
        self.assertLessEqual(set(names), {'MainThread', 'xmpp-loop'}, names)


def _check_cleanup():
    # Runs after the harness stopped everything and removed its folders
    # (see the atexit juggling below): reports through the exit status.
    left = [d for d in _dirs if d and os.path.exists(d)]
    alive = [p for p in _pids if procs.pid_alive(p)]
    alive += [p for n in _nodes for p in _processes_matching(n)]
    alive += [p for d in _dirs for p in instance_pids(d)]
    threads = [t.name for t in threading.enumerate()
               if t is not threading.main_thread() and t.is_alive()]
    if left or alive or threads:
        sys.stderr.write('LEAK: dirs %s pids %s threads %s\n'
                         % (left, alive, threads))
        sys.stderr.flush()
        os._exit(1)


def _child(info_path):
    """--child mode: start ejabberd, report, then wait to be killed."""
    e = Ejabberd()
    e.start()
    tmp = info_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump({'dir': e.dir, 'node': e.node, 'pids': e.instance_pids()},
                  f)
    os.rename(tmp, info_path)
    time.sleep(120)


if __name__ == '__main__':
    if sys.argv[1:2] == ['--child']:
        _child(sys.argv[2])
        sys.exit(1)
    # atexit is LIFO and procs registered its clean-up at import: move it
    # after ours so that _check_cleanup runs once processes and folders are
    # gone.
    atexit.unregister(procs.cleanup_all)
    atexit.register(_check_cleanup)
    atexit.register(procs.cleanup_all)
    tap.main(EjabberdTest, KillTest, CleanupTest)
