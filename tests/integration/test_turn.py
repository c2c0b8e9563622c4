#!/usr/bin/python3
"""STUN/TURN for clients: the focus hands out coturn REST credentials through XEP-0215
(urn:xmpp:extdisco:2), and a real coturn, sharing the secret, accepts them.

A private coturn (turnserver in the foreground, its config, pid, database and log in a
private folder, listening only on 127.0.0.1, use-auth-secret with a random secret, no TLS, no
CLI, loopback peers allowed for the test only) checks the credentials with a real allocation
by turnutils_uclient: the ones the focus gave work, a tampered password and an expired
username are refused. The focus answers users of authenticated and guest domains, refuses
others, and says service-unavailable when [turn] is off. The TURN username never holds the
JID, and the focus's log never holds a password or the secret."""

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
import unittest
import xml.etree.ElementTree as ET

from conclave_daemons import Daemon, write_private
from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from muc_client import MucUser, iq_error

SERVICE = 'conference.localhost'
OFF_SERVICE = 'noturn.localhost'
OTHER_DOMAIN = 'other.localhost'
NS = 'urn:xmpp:extdisco:2'
NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
TTL = 600


def rest_password(secret, username):
    """coturn's REST scheme, computed independently of the focus."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(),
                                     hashlib.sha1).digest()).decode()


class Coturn:
    """A private turnserver on 127.0.0.1 (UDP and TCP on one free port)."""

    def __init__(self, secret):
        self.dir = make_tempdir(prefix='conclave-coturn-')
        self.port = procs.free_port()
        relay = 20000 + procs.free_port() % 20000
        self.log_path = os.path.join(self.dir, 'turnserver.log')
        self.config_path = write_private(os.path.join(self.dir, 'turnserver.conf'), '\n'.join([
            'listening-ip=127.0.0.1',
            'relay-ip=127.0.0.1',
            f'listening-port={self.port}',
            f'min-port={relay}',
            f'max-port={relay + 99}',
            'use-auth-secret',
            f'static-auth-secret={secret}',
            'realm=conclave.test',
            'fingerprint',
            'no-cli',
            'no-tls',
            'no-dtls',
            'no-multicast-peers',
            # The test's peers are on loopback; production keeps no-loopback-peers.
            'allow-loopback-peers',
            'no-software-attribute',
            f'pidfile={os.path.join(self.dir, "turnserver.pid")}',
            f'userdb={os.path.join(self.dir, "turndb")}',
            'log-file=stdout',
            'simple-log',
            '']))
        self.proc = None

    def start(self):
        self.proc = procs.start(['turnserver', '-c', self.config_path], name='turnserver',
                                log_path=self.log_path)
        procs.wait_port('127.0.0.1', self.port, timeout=10)
        return self

    def allocate(self, username, password, transport='udp'):
        """(allocated, refused, output) of a client-to-client allocation by turnutils_uclient;
        `refused`: the server answered the Allocate request with an error."""
        args = ['turnutils_uclient', '-p', self.port, '-u', username, '-w', password,
                '-y', '-n', '1', '-c']
        if transport == 'tcp':
            args.append('-t')
        r = procs.run(args + ['127.0.0.1'], check=False, timeout=30)
        out = r.stdout + r.stderr
        received = [int(n) for n in re.findall(r'tot_recv_msgs=(\d+)', out)]
        refused = 'Cannot complete Allocation' in out
        ok = r.returncode == 0 and not refused and bool(received) and max(received) > 0
        return ok, refused, out

    def log_text(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()


class Env:
    server = coturn = focus = off = secret = None

    @classmethod
    def get(cls):
        if cls.server is None:
            cls.secret = secrets.token_urlsafe(32)
            cls.coturn = Coturn(cls.secret).start()
            secret_path = write_private(os.path.join(make_tempdir(prefix='conclave-turnkey-'),
                                                     'turn-secret'), cls.secret + '\n')
            cls.server = Prosody(components={SERVICE: 'focus-secret', OFF_SERVICE: 'off-secret'},
                                 extra_domains=[OTHER_DOMAIN])
            cls.server.start()
            cls.server.register('alice', 'alice-pw')
            cls.server.register('bob', 'bob-pw')
            cls.server.register('mallory', 'mallory-pw', domain=OTHER_DOMAIN)
            security = ('[security]\nauthenticated_domains = localhost\n'
                        'guest_domains = guest.localhost\n')
            cls.focus = Daemon('focus', SERVICE, 'focus-secret',
                               cls.server.component_port_for(SERVICE),
                               extra=security + f'[turn]\nhost = 127.0.0.1\n'
                                     f'port = {cls.coturn.port}\ntransports = udp, tcp\n'
                                     f'secret_file = {secret_path}\nttl_s = {TTL}\n').start()
            cls.off = Daemon('focus', OFF_SERVICE, 'off-secret',
                             cls.server.component_port_for(OFF_SERVICE),
                             extra=security).start()
            cls.focus.wait_health(200)
            cls.off.wait_health(200)
        return cls


def services(reply):
    """[attributes of each <service/>] in a result."""
    if reply['type'] != 'result':
        raise AssertionError(f'expected a result, got {reply}')
    el = reply.xml.find('{%s}services' % NS)
    if el is None:
        el = reply.xml.find('{%s}credentials' % NS)
    return [dict(s.attrib) for s in el.findall('{%s}service' % NS)]


class Base(unittest.TestCase):
    users = []

    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()

    @classmethod
    def tearDownClass(cls):
        for u in cls.users:
            u.close()
        cls.users.clear()

    def user(self, name, domain=None):
        u = MucUser(self.env.server, name, f'{name}-pw', domain=domain)
        self.users.append(u)
        return u

    def guest(self):
        u = MucUser(self.env.server, None, anonymous=True, domain=self.env.server.guest_domain)
        self.users.append(u)
        return u

    def ask(self, u, to=SERVICE, attrs=''):
        return u.iq(f"<iq type='get' to='{to}'><services xmlns='{NS}'{attrs}/></iq>")

    def turn_entry(self, u, transport='udp'):
        for s in services(self.ask(u)):
            if s['type'] == 'turn' and s['transport'] == transport:
                return s
        raise AssertionError('no turn service listed')


class Services(Base):
    def test_lists_stun_and_turn_with_rest_credentials(self):
        alice = self.user('alice')
        before = int(time.time())
        listed = services(self.ask(alice))
        after = int(time.time())
        port = str(self.env.coturn.port)
        kinds = sorted((s['type'], s['transport']) for s in listed)
        self.assertEqual(kinds, [('stun', 'tcp'), ('stun', 'udp'), ('turn', 'tcp'),
                                 ('turn', 'udp')])
        for s in listed:
            self.assertEqual((s['host'], s['port']), ('127.0.0.1', port))
            if s['type'] == 'stun':
                self.assertNotIn('username', s)
                self.assertNotIn('password', s)
                continue
            self.assertEqual(s['restricted'], '1')
            expiry, user_id = s['username'].split(':')
            self.assertTrue(before + TTL <= int(expiry) <= after + TTL, s['username'])
            self.assertEqual(s['expires'], time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                                         time.gmtime(int(expiry))))
            self.assertEqual(s['password'], rest_password(self.env.secret, s['username']))
            # A pseudonym: neither the JID nor any part of it.
            self.assertNotIn('alice', user_id.lower())
            self.assertNotIn('localhost', user_id.lower())
            self.assertRegex(user_id, r'^[A-Za-z0-9_-]{16}$')

    def test_user_id_is_stable_per_user_and_differs_between_users(self):
        alice, bob = self.user('alice'), self.user('bob')
        a1 = self.turn_entry(alice)['username'].split(':')[1]
        a2 = self.turn_entry(alice)['username'].split(':')[1]
        b = self.turn_entry(bob)['username'].split(':')[1]
        self.assertEqual(a1, a2)
        self.assertNotEqual(a1, b)

    def test_type_filter(self):
        alice = self.user('alice')
        only_turn = services(self.ask(alice, attrs=" type='turn'"))
        self.assertEqual({s['type'] for s in only_turn}, {'turn'})
        only_stun = services(self.ask(alice, attrs=" type='stun'"))
        self.assertEqual({s['type'] for s in only_stun}, {'stun'})
        self.assertEqual(services(self.ask(alice, attrs=" type='turns'")), [])

    def test_credentials_request(self):
        alice = self.user('alice')
        port = self.env.coturn.port
        reply = alice.iq(f"<iq type='get' to='{SERVICE}'><credentials xmlns='{NS}'>"
                         f"<service host='127.0.0.1' type='turn' port='{port}' "
                         f"transport='tcp'/></credentials></iq>")
        (s,) = services(reply)
        self.assertEqual((s['type'], s['transport']), ('turn', 'tcp'))
        self.assertEqual(s['password'], rest_password(self.env.secret, s['username']))
        reply = alice.iq(f"<iq type='get' to='{SERVICE}'><credentials xmlns='{NS}'>"
                         f"<service host='turn.elsewhere.example' type='turn'/></credentials></iq>")
        e = iq_error(reply)
        self.assertEqual((e.type, e.condition), ('cancel', 'item-not-found'))
        reply = alice.iq(f"<iq type='get' to='{SERVICE}'><credentials xmlns='{NS}'/></iq>")
        e = iq_error(reply)
        self.assertEqual((e.type, e.condition), ('modify', 'bad-request'))

    def test_disco_feature_only_when_configured(self):
        alice = self.user('alice')
        for to, present in ((SERVICE, True), (OFF_SERVICE, False)):
            reply = alice.iq(f"<iq type='get' to='{to}'><query xmlns='{NS_DISCO_INFO}'/></iq>")
            features = {f.get('var') for f in
                        reply.xml.iter('{%s}feature' % NS_DISCO_INFO)}
            self.assertEqual(NS in features, present, to)


class Access(Base):
    def test_guest_gets_working_credentials(self):
        guest = self.guest()
        s = self.turn_entry(guest)
        ok, _, out = self.env.coturn.allocate(s['username'], s['password'])
        self.assertTrue(ok, out)

    def test_refused_domain_is_forbidden(self):
        mallory = self.user('mallory', domain=OTHER_DOMAIN)
        e = iq_error(self.ask(mallory))
        self.assertEqual((e.type, e.condition), ('auth', 'forbidden'))

    def test_turn_off_is_service_unavailable(self):
        alice = self.user('alice')
        e = iq_error(self.ask(alice, to=OFF_SERVICE))
        self.assertEqual((e.type, e.condition), ('cancel', 'service-unavailable'))


class Allocation(Base):
    """The credentials against the real TURN server."""

    def test_credentials_allocate_on_udp_and_tcp(self):
        alice = self.user('alice')
        for transport in ('udp', 'tcp'):
            s = self.turn_entry(alice, transport)
            ok, _, out = self.env.coturn.allocate(s['username'], s['password'], transport)
            self.assertTrue(ok, f'{transport}: {out}')

    def test_tampered_password_is_refused(self):
        s = self.turn_entry(self.user('alice'))
        wrong = rest_password(self.env.secret + 'x', s['username'])
        ok, refused, out = self.env.coturn.allocate(s['username'], wrong)
        self.assertTrue(not ok and refused, out)
        # Another user's pseudonym with alice's password: refused too.
        expiry, _ = s['username'].split(':')
        ok, refused, out = self.env.coturn.allocate(f'{expiry}:AAAAAAAAAAAAAAAA', s['password'])
        self.assertTrue(not ok and refused, out)

    def test_expired_credentials_are_refused(self):
        s = self.turn_entry(self.user('alice'))
        user_id = s['username'].split(':')[1]
        expired = f'{int(time.time()) - 60}:{user_id}'
        ok, refused, out = self.env.coturn.allocate(expired,
                                                    rest_password(self.env.secret, expired))
        self.assertTrue(not ok and refused, out)


class Privacy(Base):
    """Last: what the focus and coturn wrote after everything above."""

    def test_no_secret_password_or_jid_in_logs_and_metrics(self):
        s = self.turn_entry(self.user('alice'))
        time.sleep(0.2)
        log = self.env.focus.log_text()
        self.assertTrue(log)
        self.assertNotIn(s['password'], log)
        self.assertNotIn(s['username'], log)
        self.assertNotIn(self.env.secret, log)
        self.assertNotIn('alice@localhost', log)
        metrics = self.env.focus.metrics()
        granted = [int(v) for v in re.findall(
            r'^conclave_turn_requests_total\{result="granted"\} (\d+)$', metrics, re.M)]
        forbidden = [int(v) for v in re.findall(
            r'^conclave_turn_requests_total\{result="forbidden"\} (\d+)$', metrics, re.M)]
        self.assertTrue(granted and granted[0] >= 10, granted)
        self.assertTrue(forbidden and forbidden[0] >= 1, forbidden)
        self.assertNotIn('alice', metrics)
        self.assertNotIn('mallory', metrics)
        # coturn logs usernames: only pseudonyms reach it.
        turn_log = self.env.coturn.log_text()
        self.assertNotIn('alice', turn_log)

    def test_zz_clean_stop(self):
        """Last of all: both foci stop cleanly, with no sanitizer report (leaks show at exit)."""
        for daemon in (self.env.focus, self.env.off):
            self.assertEqual(daemon.stop(), 0)
            self.assertEqual(daemon.sanitizer_reports(), [], daemon.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(Services, Access, Allocation, Privacy)
