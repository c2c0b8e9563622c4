#!/usr/bin/python3
"""Self-test of the integration harness: Prosody, XMPP clients, PostgreSQL,
process and temp-folder clean-up."""

import atexit
import hashlib
import os
import re
import socket
import sys
import threading
import unittest

from conclave_harness import Postgres, Prosody, procs, tap
from conclave_harness.xmpp_client import Client, XmppError

# Folders and pids seen during the run, checked once everything is torn
# down (see _check_cleanup at the bottom).
_dirs = []
_pids = []


class ProsodyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody()
        cls.prosody.start()
        _dirs.append(cls.prosody.dir)
        _pids.append(cls.prosody.pid)
        cls.prosody.register('alice', 'alice-pw')
        cls.prosody.register('bob', 'bob-pw')

    @classmethod
    def tearDownClass(cls):
        pid = cls.prosody.pid
        cls.prosody.stop()
        assert not procs.pid_alive(pid), 'prosody %d still alive' % pid

    def client(self, user, password):
        c = Client('%s@localhost' % user, password, self.prosody.host,
                   self.prosody.c2s_port)
        self.addCleanup(c.disconnect)
        return c.connect()

    def test_01_config(self):
        p = self.prosody
        self.assertNotEqual(p.c2s_port, p.component_port)
        self.assertTrue(p.log_path.startswith(p.dir))
        self.assertIn('Activated service', p.log_text())
        # No s2s/http listener: only our two ports belong to this pid.
        self.assertNotIn("Activated service 's2s' on [", p.log_text())
        self.assertNotIn("Activated service 'http", p.log_text())

    def test_02_message_between_users(self):
        alice = self.client('alice', 'alice-pw')
        bob = self.client('bob', 'bob-pw')
        self.assertTrue(alice.jid.startswith('alice@localhost/'))
        alice.send_message('bob@localhost', 'hello bob')
        msg = bob.wait_message(5, lambda m: m['body'] == 'hello bob')
        self.assertEqual(msg['from'].bare, 'alice@localhost')
        self.assertEqual(msg['type'], 'chat')

    def test_03_wrong_password(self):
        c = Client('alice@localhost', 'nope', self.prosody.host,
                   self.prosody.c2s_port)
        self.addCleanup(c.disconnect)
        with self.assertRaises(ConnectionError):
            c.connect(timeout=10)

    def test_04_anonymous_guest(self):
        g = Client.anonymous('guest.localhost', self.prosody.host,
                             self.prosody.c2s_port)
        self.addCleanup(g.disconnect)
        g.connect()
        self.assertTrue(g.jid.split('/')[0].endswith('@guest.localhost'))
        self.assertGreaterEqual(g.ping(), 0)

    def test_05_disco_and_iq(self):
        alice = self.client('alice', 'alice-pw')
        info = alice.disco_info('localhost')
        self.assertIn(('server', 'im', None, 'Prosody'), info.identities)
        self.assertIn('urn:xmpp:ping', info.features)
        # Errors come back as stanzas from send_iq_raw...
        reply = alice.send_iq_raw(
            "<iq type='get' to='localhost'><query xmlns='urn:x-nope'/></iq>")
        self.assertEqual(reply['type'], 'error')
        self.assertEqual(reply['error']['condition'], 'service-unavailable')
        reply = alice.send_iq_raw(
            "<iq type='get' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        self.assertEqual(reply['type'], 'result')
        # ...and as XmppError from the typed helpers.  Prosody bounces
        # stanzas for a configured but unconnected component with
        # wait/remote-server-timeout.
        with self.assertRaises(XmppError) as cm:
            alice.disco_info('conference.localhost', timeout=5)
        self.assertEqual(cm.exception.condition, 'remote-server-timeout')
        self.assertEqual(cm.exception.type, 'wait')

    def test_06_restart_same_ports(self):
        ports = (self.prosody.c2s_port, self.prosody.component_port)
        old_pid = self.prosody.pid
        alice = self.client('alice', 'alice-pw')
        self.prosody.restart()
        _pids.append(self.prosody.pid)
        self.assertFalse(procs.pid_alive(old_pid))
        self.assertEqual(ports, (self.prosody.c2s_port,
                                 self.prosody.component_port))
        procs.wait_until(lambda: not alice.connected, 5)
        # Accounts survive (data_path is on disk); a fresh login works, and
        # so does reconnecting the old client object.
        bob = self.client('bob', 'bob-pw')
        self.assertGreaterEqual(bob.ping(), 0)
        alice.connect()
        alice.send_message(bob.jid, 'after restart')
        self.assertEqual(bob.wait_message(5)['body'], 'after restart')


    def test_07_component_handshake(self):
        # XEP-0114 by hand, as the Conclave server will do it.
        with socket.create_connection(
                (self.prosody.host, self.prosody.component_port), 5) as s:
            s.sendall(b"<stream:stream xmlns='jabber:component:accept' "
                      b"xmlns:stream='http://etherx.jabber.org/streams' "
                      b"to='conference.localhost'>")
            buf = b''
            while b' id=' not in buf or not buf.rstrip().endswith(b'>'):
                buf += s.recv(4096)
            sid = re.search(rb" id=['\"]([^'\"]+)", buf).group(1)
            digest = hashlib.sha1(sid + b'secret1').hexdigest()
            s.sendall(b'<handshake>%s</handshake>' % digest.encode())
            reply = s.recv(4096)
            self.assertIn(b'<handshake', reply)
        alice = self.client('alice', 'alice-pw')
        # Once it is gone again, prosody bounces stanzas for it.
        procs.wait_until(lambda: 'remote-server-timeout' in str(
            alice.send_iq_raw("<iq type='get' to='conference.localhost'>"
                              "<ping xmlns='urn:xmpp:ping'/></iq>")), 5)


class PostgresTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = Postgres()
        cls.pg.start()
        _dirs.append(cls.pg.dir)
        _pids.append(cls.pg.pid)

    @classmethod
    def tearDownClass(cls):
        pid = cls.pg.pid
        code = cls.pg.stop()
        assert code == 0, 'postgres exit code %s' % code
        assert not procs.pid_alive(pid), 'postgres %d still alive' % pid

    def test_01_select(self):
        self.assertEqual(self.pg.psql('SELECT 1'), '1')
        self.assertIn('host=%s ' % self.pg.socket_dir, self.pg.conninfo)
        self.assertIn('port=%d ' % self.pg.port, self.pg.conninfo)

    def test_02_table(self):
        out = self.pg.psql("""
            CREATE TABLE t (id int PRIMARY KEY, name text);
            INSERT INTO t VALUES (1, 'one'), (2, 'two');
            SELECT id, name FROM t ORDER BY id;
        """)
        self.assertEqual(out.splitlines(), ['1|one', '2|two'])

    def test_03_no_tcp(self):
        self.assertEqual(self.pg.psql('SHOW listen_addresses'), '')


class CleanupTest(unittest.TestCase):
    def test_processes_gone(self):
        self.assertTrue(_pids)
        for pid in _pids:
            self.assertFalse(procs.pid_alive(pid), 'pid %d alive' % pid)

    def test_no_leftover_threads(self):
        # Only the main thread and the XMPP loop thread may exist.
        names = sorted(t.name for t in threading.enumerate())
        self.assertLessEqual(set(names), {'MainThread', 'xmpp-loop'}, names)


def _check_cleanup():
    # atexit handlers run last-registered-first: this one runs after the
    # harness removed its temp folders.  Too late for TAP, so it reports
    # through the exit status.
    left = [d for d in _dirs if d and os.path.exists(d)]
    alive = [p for p in _pids if procs.pid_alive(p)]
    threads = [t.name for t in threading.enumerate()
               if t is not threading.main_thread() and t.is_alive()]
    if left or alive or threads:
        sys.stderr.write('LEAK: dirs %s pids %s threads %s\n'
                         % (left, alive, threads))
        sys.stderr.flush()
        os._exit(1)


# atexit is LIFO and procs registered its clean-up at import: move it after
# ours so that _check_cleanup runs once processes and folders are gone (the
# XMPP loop registers its shutdown later, so it still runs first).
atexit.unregister(procs.cleanup_all)
atexit.register(_check_cleanup)
atexit.register(procs.cleanup_all)

if __name__ == '__main__':
    tap.main(ProsodyTest, PostgresTest, CleanupTest)
