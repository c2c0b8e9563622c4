#!/usr/bin/python3
"""The production XMPP server configurations the project ships, run for real:
deploy/prosody/conclave.cfg.lua with Prosody 0.12 and deploy/ejabberd/ejabberd.yml with
ejabberd 23.01.

Each file is copied into a private folder with as little rewritten as possible, so that what
runs is the shipped file:
- "example.org" becomes "localhost" everywhere (localhost, guest.localhost,
  conference.localhost, bridge1.localhost);
- the values of its SITE VALUES block (Prosody: the `local` lines; ejabberd: the
  `define_macro` entries) become free loopback ports, private folders, a self-signed
  certificate made here with `openssl req -x509`, and known component secrets.
Nothing else is touched: modules, authentication, encryption, rate limits, listeners and
hosts are the shipped ones.

Checked against each server: Prosody's own `prosodyctl check config` passes; before STARTTLS
nothing lets a client log in (STARTTLS is required, PLAIN is refused); after it only SCRAM is
offered and a real client (slixmpp) logs in with it; a guest logs in anonymously; the
WebSocket endpoint upgrades; the real conclave-focus and conclave-bridge connect as
components and see each other; a user and a guest join a room on the focus."""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import unittest
import xml.etree.ElementTree as ET

from conclave_harness import procs, tap
from conclave_harness.ejabberd import Ejabberd
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from conclave_harness.xmpp_client import Client
from conclave_daemons import Daemon
from conclave_media import parse_metrics
from muc_client import MucUser, codes

SOURCE = os.environ.get('CONCLAVE_SOURCE_ROOT',
                        os.path.join(os.path.dirname(__file__), '..', '..'))
DOMAIN, GUEST = 'localhost', 'guest.localhost'
FOCUS, BRIDGE = 'conference.localhost', 'bridge1.localhost'
SECRETS = {FOCUS: 'focus-secret', BRIDGE: 'bridge-secret'}
ROOM = f'deploy@{FOCUS}'
NS_STREAM = 'http://etherx.jabber.org/streams'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'


def shipped(path):
    with open(os.path.join(SOURCE, path)) as f:
        return f.read().replace('example.org', DOMAIN)


def replace_once(text, pattern, repl, what):
    new, n = re.subn(pattern, lambda m: repl, text, flags=re.M)
    if n != 1:
        raise AssertionError(f'{what}: expected once in the shipped file, found {n} times')
    return new


def set_lua_local(text, name, value):
    """`local NAME = ...` (in the SITE VALUES block) gets a Lua value."""
    if isinstance(value, list):
        lua = '{ %s }' % ', '.join(json.dumps(v) for v in value)
    else:
        lua = json.dumps(value)  # a JSON string or number is a Lua literal too
    return replace_once(text, r'^local %s = .*$' % re.escape(name), f'local {name} = {lua}',
                        f'local {name}')


def set_macro(text, name, value):
    """`'NAME': ...` (one line, or a block list) in define_macro gets a YAML (JSON) value."""
    return replace_once(text, r"^  '%s':.*\n(?:    - .*\n)*" % re.escape(name),
                        f"  '{name}': {json.dumps(value)}\n", f'macro {name}')


def make_certificate(folder, owner):
    """A self-signed certificate for every test domain: (certificate, key) paths, readable by
    the server's user only."""
    crt, key = os.path.join(folder, 'test.crt'), os.path.join(folder, 'test.key')
    names = ','.join(f'DNS:{d}' for d in (DOMAIN, GUEST, FOCUS, BRIDGE))
    procs.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
               '-subj', f'/CN={DOMAIN}', '-addext', f'subjectAltName={names}',
               '-keyout', key, '-out', crt])
    shutil.chown(key, owner)
    os.chmod(key, 0o400)
    return crt, key


# -- raw protocol probes ---------------------------------------------------------------------

def _read_until(sock, marker, limit=65536):
    data = b''
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            break
    return data.decode(errors='replace')


def _features(text):
    """The <stream:features/> element in what the server sent after a stream header."""
    m = re.search(r'<(?:stream:)?features[\s>].*?</(?:stream:)?features>'
                  r'|<(?:stream:)?features[^>]*/>', text, re.S)
    if not m:
        raise AssertionError(f'no stream features in {text!r}')
    xml = m.group(0).replace('<stream:features', f'<features xmlns="{NS_STREAM}"', 1)
    return ET.fromstring(xml.replace('</stream:features>', '</features>'))


def _mechanisms(features):
    return {m.text for m in features.iter(f'{{{NS_SASL}}}mechanism')}


def _header(domain):
    return (f"<?xml version='1.0'?><stream:stream to='{domain}' version='1.0' "
            f"xmlns='jabber:client' xmlns:stream='{NS_STREAM}'>").encode()


def probe_c2s(port, domain):
    """What a client sees on the c2s port: (features before TLS, reply to a plaintext PLAIN
    <auth/> there, features after STARTTLS)."""
    with socket.create_connection(('127.0.0.1', port), timeout=10) as s:
        s.sendall(_header(domain))
        before = _features(_read_until(s, b'features>'))
        plain = base64.b64encode(b'\0alice\0alice-pw').decode()
        s.sendall(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{plain}</auth>".encode())
        refused = _read_until(s, b'>', limit=4096)
        try:
            refused += _read_until(s, b'</stream:stream>', limit=4096)
        except OSError:
            pass
    with socket.create_connection(('127.0.0.1', port), timeout=10) as s:
        s.sendall(_header(domain))
        _read_until(s, b'features>')
        s.sendall(f"<starttls xmlns='{NS_TLS}'/>".encode())
        proceed = _read_until(s, b'/>')
        if 'proceed' not in proceed:
            raise AssertionError(f'STARTTLS refused: {proceed!r}')
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with ctx.wrap_socket(s, server_hostname=domain) as t:
            t.sendall(_header(domain))
            after = _features(_read_until(t, b'features>'))
            version = t.version()
    return before, refused, after, version


def websocket_upgrade(port, path, host):
    """(status line, headers) of an RFC 6455 upgrade request for the `xmpp` subprotocol."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(('127.0.0.1', port), timeout=10) as s:
        s.sendall((f'GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n'
                   f'Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n'
                   f'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: xmpp\r\n'
                   f'Origin: https://{host}\r\n\r\n').encode())
        head = _read_until(s, b'\r\n\r\n')
    lines = head.split('\r\n')
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(':') for line in lines[1:] if ':' in line)}
    accept = base64.b64encode(hashlib.sha1(
        (key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').encode()).digest()).decode()
    return lines[0], headers, accept


# -- the checks, shared by both servers --------------------------------------------------------

class ServerConfig:
    """Mixed into a TestCase per server; setUpClass starts `cls.server` from the shipped file
    and registers alice."""

    http_path = None

    @classmethod
    def start_daemons(cls):
        cls.focus = cls.bridge = None
        port = 30000 + procs.free_port() % 20000
        cls.bridge = Daemon('bridge', BRIDGE, SECRETS[BRIDGE],
                            cls.server.component_port_for(BRIDGE),
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                                  f'port_max = {port + 10}\nworkers = 1\n'
                                  f'[colibri]\ntrusted = {FOCUS}\n').start()
        cls.focus = Daemon('focus', FOCUS, SECRETS[FOCUS], cls.server.component_port_for(FOCUS),
                           extra=f'[focus]\nbridges = {BRIDGE}\n[security]\n'
                                 f'authenticated_domains = {DOMAIN}\n'
                                 f'guest_domains = {GUEST}\n').start()

    @classmethod
    def tearDownClass(cls):
        for d in (getattr(cls, 'focus', None), getattr(cls, 'bridge', None)):
            if d is not None and d.proc is not None and d.proc.poll() is None:
                d.stop()
        cls.server.stop()

    def test_2_only_scram_and_only_after_starttls(self):
        before, refused, after, version = probe_c2s(self.server.c2s_port, DOMAIN)
        starttls = before.find(f'{{{NS_TLS}}}starttls')
        self.assertIsNotNone(starttls, ET.tostring(before))
        self.assertIsNotNone(starttls.find(f'{{{NS_TLS}}}required'), ET.tostring(before))
        self.assertNotIn('PLAIN', _mechanisms(before))
        # A PLAIN login on the unencrypted stream is refused, not accepted.
        self.assertNotIn('<success', refused)
        self.assertRegex(refused, r'failure|stream:error', refused)
        mechanisms = _mechanisms(after)
        self.assertIn('SCRAM-SHA-1', mechanisms)
        self.assertEqual({m for m in mechanisms if not m.startswith('SCRAM-')}, set(), mechanisms)
        self.assertIn(version, ('TLSv1.2', 'TLSv1.3'))

    def test_3_scram_login_over_starttls(self):
        c = Client(f'alice@{DOMAIN}', 'alice-pw', port=self.server.c2s_port, tls=True).connect()
        try:
            self.assertEqual(c.jid.split('/')[0], f'alice@{DOMAIN}')
            mech = c.call(lambda: c.xmpp['feature_mechanisms'].mech.name)
            self.assertTrue(mech.startswith('SCRAM-'), mech)
            tls = c.call(lambda: c.xmpp.transport.get_extra_info('ssl_object'))
            self.assertIsNotNone(tls)
        finally:
            c.disconnect()
        # The wrong password is refused.
        with self.assertRaises((ConnectionError, TimeoutError)):
            Client(f'alice@{DOMAIN}', 'wrong', port=self.server.c2s_port, tls=True).connect()
        # A client that will not encrypt cannot log in at all.
        with self.assertRaises((ConnectionError, TimeoutError)):
            # (slixmpp finds no mechanism it may use and waits: a short timeout is enough.)
            Client(f'alice@{DOMAIN}', 'alice-pw', port=self.server.c2s_port).connect(timeout=3)

    def test_4_guest_logs_in_anonymously(self):
        c = Client.anonymous(GUEST, port=self.server.c2s_port, tls=True).connect()
        try:
            local, _, domain = c.jid.split('/')[0].partition('@')
            self.assertEqual(domain, GUEST)
            self.assertTrue(local)
        finally:
            c.disconnect()

    def test_5_websocket_upgrade(self):
        status, headers, accept = websocket_upgrade(self.http_port, self.http_path, DOMAIN)
        self.assertRegex(status, r'^HTTP/1\.1 101\b', (status, headers))
        self.assertEqual(headers.get('upgrade', '').lower(), 'websocket', headers)
        self.assertEqual(headers.get('sec-websocket-accept'), accept, headers)
        self.assertEqual(headers.get('sec-websocket-protocol'), 'xmpp', headers)

    def test_6_focus_and_bridge_components_and_a_room(self):
        self.start_daemons()
        self.focus.wait_health(200, timeout=15)
        self.bridge.wait_health(200, timeout=15)
        # The focus reached the bridge through the server (component to component).
        procs.wait_until(lambda: parse_metrics(self.focus.metrics()).get(
            'conclave_focus_bridges_available') == 1, timeout=15,
            message='the focus never saw the bridge')
        alice = MucUser(self.server, 'alice', 'alice-pw', tls=True)
        guest = MucUser(self.server, None, domain=GUEST, anonymous=True, tls=True)
        try:
            _, own, _ = alice.join(ROOM, 'alice')
            self.assertIn(110, codes(own))
            self.assertIn(201, codes(own))  # alice (authenticated) created the room
            others, own, _ = guest.join(ROOM, 'guest')
            self.assertIn(110, codes(own))
            self.assertEqual([p['from'].resource for p in others], ['alice'])
        finally:
            alice.close()
            guest.close()
        self.assertEqual(self.focus.stop(), 0)
        self.assertEqual(self.focus.sanitizer_reports(), [])
        self.assertEqual(self.bridge.stop(), 0)


class ProsodyConfig(ServerConfig, unittest.TestCase):
    http_path = '/xmpp-websocket'

    @classmethod
    def setUpClass(cls):
        certs = make_tempdir('conclave-prosody-certs-', owner='prosody')
        crt, key = make_certificate(certs, 'prosody')
        # Prosody finds a host's certificate by name in its `certificates` folder.
        for host in (DOMAIN, GUEST):
            os.symlink(crt, os.path.join(certs, f'{host}.crt'))
            os.symlink(key, os.path.join(certs, f'{host}.key'))

        def config(p):
            text = shipped('deploy/prosody/conclave.cfg.lua')
            for name, value in (('listen', ['127.0.0.1']), ('c2s_port', p.c2s_port),
                                ('component_port', p.component_port),
                                ('http_port', p.http_port),
                                ('data_dir', os.path.join(p.dir, 'data')),
                                ('log_dir', p.dir),  # the harness reads <dir>/prosody.log
                                ('pid_file', os.path.join(p.dir, 'prosody.pid')),
                                ('cert_dir', certs),
                                ('focus_secret', SECRETS[FOCUS]),
                                ('bridge1_secret', SECRETS[BRIDGE])):
                text = set_lua_local(text, name, value)
            return text
        cls.server = Prosody(components=SECRETS, websocket=True, config=config)
        cls.server.start()
        cls.http_port = cls.server.http_port
        cls.server.register('alice', 'alice-pw')

    def test_1_prosodyctl_check_config(self):
        r = self.server.prosodyctl('check', 'config')  # raises unless it exits with 0
        self.assertIn('All checks passed', r.stdout, r.stdout + r.stderr)
        self.assertIn(self.server.config_path, r.stdout)


class EjabberdConfig(ServerConfig, unittest.TestCase):
    http_path = '/ws'

    @classmethod
    def setUpClass(cls):
        certs = make_tempdir('conclave-ejabberd-certs-', owner='ejabberd')
        crt, key = make_certificate(certs, 'ejabberd')
        pem = os.path.join(certs, 'test.pem')
        with open(pem, 'w') as out:
            for path in (crt, key):
                with open(path) as f:
                    out.write(f.read())
        shutil.chown(pem, 'ejabberd')
        os.chmod(pem, 0o400)
        cls.http_port = procs.free_port()

        def config(e):
            text = shipped('deploy/ejabberd/ejabberd.yml')
            for name, value in (('C2S_IP', '127.0.0.1'), ('C2S_PORT', e.c2s_port),
                                ('COMPONENT_IP', '127.0.0.1'),
                                ('FOCUS_PORT', e.component_port_for(FOCUS)),
                                ('BRIDGE1_PORT', e.component_port_for(BRIDGE)),
                                ('HTTP_IP', '127.0.0.1'), ('HTTP_PORT', cls.http_port),
                                ('CERTFILES', [pem]),
                                ('FOCUS_SECRET', SECRETS[FOCUS]),
                                ('BRIDGE1_SECRET', SECRETS[BRIDGE])):
                text = set_macro(text, name, value)
            return text
        cls.server = Ejabberd(components=SECRETS, config=config)
        cls.server.start()
        procs.wait_port('127.0.0.1', cls.http_port)
        cls.server.register('alice', 'alice-pw')

    def test_1_ejabberd_runs_the_shipped_file(self):
        with open(self.server.config_path) as f:
            text = f.read()
        # Only the site values and the domain differ from the shipped file.
        self.assertEqual(len(text.splitlines()),
                         len(shipped('deploy/ejabberd/ejabberd.yml').splitlines()) - 1)
        self.assertNotRegex(self.server.log_text(), r'(?i)invalid value|unknown option|'
                                                    r'ignoring option')
        self.assertEqual(self.server.ejabberdctl('registered_vhosts').stdout.split(),
                         [DOMAIN, GUEST])


if __name__ == '__main__':
    tap.main(ProsodyConfig, EjabberdConfig)
