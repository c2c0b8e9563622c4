#!/usr/bin/python3
"""The command line of conclave-focus, conclave-bridge and conclavectl: versions, help,
--check-config on good and bad files (errors name the file, the group and the key), and
key generation."""

import os
import re
import stat
import subprocess
import unittest

from conclave_harness import tap
from conclave_harness.tempdir import make_tempdir
from conclave_daemons import BINARIES, write_private

SOURCE_ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT', os.getcwd())


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=30)


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.dir = make_tempdir(prefix='conclave-cli-')
        self.secret = write_private(os.path.join(self.dir, 'secret'), 'hunter2\n')

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        return path

    def valid(self, extra=''):
        return (f'[xmpp]\ndomain = conference.example.org\nsecret_file = {self.secret}\n'
                f'{extra}')

    def check(self, kind, text):
        path = self.write(f'{kind}.conf', text)
        return path, run(BINARIES[kind], '--config', path, '--check-config')

    def test_good_config_passes(self):
        for kind in ('focus', 'bridge'):
            path, r = self.check(kind, self.valid())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f'{path}: configuration OK', r.stdout)

    def test_samples_are_valid(self):
        """The commented samples in deploy/ pass --check-config (with a real secret file)."""
        for kind in ('focus', 'bridge'):
            with open(os.path.join(SOURCE_ROOT, 'deploy', f'{kind}.conf')) as f:
                sample = f.read()
            sample = re.sub(r'(?m)^secret_file = .*$', f'secret_file = {self.secret}', sample)
            _, r = self.check(kind, sample)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_unknown_key_is_named(self):
        for kind in ('focus', 'bridge'):
            path, r = self.check(kind, self.valid('prot = 5347\n'))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(f'{path}: [xmpp] prot: unknown key', r.stderr)

    def test_unknown_group_is_named(self):
        path, r = self.check('focus', self.valid('[xmp]\nport = 1\n'))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f'{path}: [xmp]: unknown group', r.stderr)

    def test_bad_values_are_named(self):
        cases = [
            ('port = abc\n', "[xmpp] port: expected an integer, got 'abc'"),
            ('port = 0\n', '[xmpp] port: 0 is out of range 1..65535'),
            ('reconnect_max_ms = 5\n', '[xmpp] reconnect_max_ms: 5 is out of range'),
            ('[log]\nlevel = loud\n', "[log] level: 'loud' is not one of"),
            ('[http]\nlisten = localhost:80\n', '[http] listen: expected IP:PORT'),
        ]
        for extra, expected in cases:
            path, r = self.check('bridge', self.valid(extra))
            self.assertNotEqual(r.returncode, 0, extra)
            self.assertIn(f'{path}: {expected}', r.stderr)

    def test_semicolon_lists_are_refused(self):
        """GLib's list separator in a list key fails loudly, naming the key, for every list
        key of both daemons (it used to pass as one JID 'a;b' and stall every room)."""
        cases = [
            ('focus', '[focus]\nbridges = bridge1.example.org;bridge2.example.org\n',
             '[focus] bridges'),
            ('focus', '[security]\nauthenticated_domains = example.org;corp.example.org\n',
             '[security] authenticated_domains'),
            ('focus', '[security]\nguest_domains = guest.example.org;\n',
             '[security] guest_domains'),
            ('bridge', '[media]\naddresses = 10.0.0.1;10.0.0.2\n', '[media] addresses'),
            ('bridge', '[colibri]\ntrusted = conference.example.org;other.example.org\n',
             '[colibri] trusted'),
        ]
        for kind, extra, key in cases:
            path, r = self.check(kind, self.valid(extra))
            self.assertEqual(r.returncode, 2, extra)
            self.assertIn(f'{path}: {key}:', r.stderr)
            self.assertIn("contains ';': list items are separated by commas", r.stderr)
        path, r = self.check('focus', self.valid('[turn]\ntransports = udp;tcp\n'))
        self.assertIn(f'{path}: [turn] transports:', r.stderr)

    def test_list_items_are_validated_as_what_they_are(self):
        """Typos an operator plausibly makes in list keys fail at start, naming the key: a
        bridge that trusts nobody it means would refuse every request without a word."""
        cases = [
            ('bridge', '[colibri]\ntrusted = focus@\n', "[colibri] trusted: 'focus@' is not"),
            ('bridge', '[colibri]\ntrusted = conference example.org\n', '[colibri] trusted:'),
            ('bridge', '[colibri]\ntrusted = focus@example.org/laptop\n', '[colibri] trusted:'),
            ('bridge', '[media]\naddresses = localhost\n',
             "[media] addresses: 'localhost' is not an IP address"),
            ('focus', '[focus]\nbridges = bridge1.example.org bridge2.example.org\n',
             "[focus] bridges: 'bridge1.example.org bridge2.example.org' is not a bare JID"),
            ('focus', '[focus]\nbridges = https://bridge1.example.org\n', '[focus] bridges:'),
            ('focus', '[security]\nguest_domains = guest.example.org:5222\n',
             "[security] guest_domains: 'guest.example.org:5222' is not a domain"),
        ]
        for kind, extra, expected in cases:
            path, r = self.check(kind, self.valid(extra))
            self.assertEqual(r.returncode, 2, extra)
            self.assertIn(f'{path}: {expected}', r.stderr)
        path, r = self.check('bridge', self.valid(
            '[colibri]\ntrusted = focus@example.org, conference.example.org\n'))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_turn_values_are_named(self):
        turn = f'[turn]\nsecret_file = {self.secret}\n'
        cases = [
            (turn + 'host = turn example\n', "[turn] host: 'turn example' is not a host name"),
            (turn + 'host = -turn.example\n', "[turn] host: '-turn.example' is not a host"),
            (turn + 'host = turn.example:3478\n', '[turn] host:'),
            (turn + 'transports = udp, sctp\n', "[turn] transports: 'sctp' is not one of"),
            (turn + 'host = turn.example\ntransports =\n', '[turn] transports: needs udp'),
            (turn + 'ttl_s = 10\n', '[turn] ttl_s: 10 is out of range 300..604800'),
            (turn + 'port = 70000\n', '[turn] port: 70000 is out of range'),
            (turn + 'stun = yes\n', "[turn] stun: expected true or false, got 'yes'"),
            ('[turn]\nhost = turn.example\n', '[turn] secret: a host needs'),
            (turn + 'realm = x\n', '[turn] realm: unknown key'),
        ]
        for extra, expected in cases:
            path, r = self.check('focus', self.valid(extra))
            self.assertNotEqual(r.returncode, 0, extra)
            self.assertIn(f'{path}: {expected}', r.stderr)
        path, r = self.check('focus', self.valid(turn + 'host = turn.example\ntls_port = 5349\n'))
        self.assertEqual(r.returncode, 0, r.stderr)
        os.chmod(self.secret, 0o644)
        path, r = self.check('focus', self.valid().replace('secret_file', 'secret') +
                             turn + 'host = 192.0.2.7\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f'{path}: [turn] secret_file:', r.stderr)

    def test_bad_domain_is_named(self):
        text = self.valid().replace('conference.example.org', 'room@conference.example.org')
        path, r = self.check('focus', text)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f'{path}: [xmpp] domain:', r.stderr)

    def test_missing_required_key_is_named(self):
        path, r = self.check('focus', f'[xmpp]\nsecret_file = {self.secret}\n')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f'{path}: [xmpp] domain: missing required key', r.stderr)
        path, r = self.check('focus', '[xmpp]\ndomain = c.example\n')
        self.assertIn(f'{path}: [xmpp] secret: missing required key', r.stderr)

    def test_unsafe_secret_file_is_refused(self):
        os.chmod(self.secret, 0o644)
        path, r = self.check('focus', self.valid())
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f'{path}: [xmpp] secret_file:', r.stderr)
        self.assertIn('chmod 600', r.stderr)

    def test_missing_file_is_named(self):
        missing = os.path.join(self.dir, 'nope.conf')
        r = run(BINARIES['focus'], '--config', missing, '--check-config')
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(missing, r.stderr)

    def test_bad_config_at_startup_exits_nonzero(self):
        path = self.write('focus.conf', self.valid('bogus = 1\n'))
        r = run(BINARIES['focus'], '--config', path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('[xmpp] bogus: unknown key', r.stderr)


class Programs(unittest.TestCase):
    def test_versions(self):
        for kind, name in (('focus', 'conclave-focus'), ('bridge', 'conclave-bridge'),
                           ('ctl', 'conclavectl')):
            r = run(BINARIES[kind], '--version')
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, rf'^{name} \d+\.\d+\.\d+\n$')

    def test_help(self):
        for kind in ('focus', 'bridge'):
            r = run(BINARIES[kind], '--help')
            self.assertEqual(r.returncode, 0)
            for option in ('--config', '--check-config', '--version', '-v'):
                self.assertIn(option, r.stdout)
        r = run(BINARIES['ctl'], '--help')
        self.assertEqual(r.returncode, 0)
        self.assertIn('keygen FILE', r.stdout)
        for usage in ('recording keygen PRIV PUB', 'recording verify --key PRIV FILE',
                      'recording decrypt --key PRIV FILE --out DIR'):
            self.assertIn(usage, r.stdout)

    def test_bad_usage(self):
        r = run(BINARIES['focus'], '--no-such-option')
        self.assertEqual(r.returncode, 2)
        self.assertIn('--no-such-option', r.stderr)
        r = run(BINARIES['ctl'], 'frobnicate')
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = run(BINARIES['ctl'])
        self.assertEqual(r.returncode, 2)

    def test_keygen(self):
        d = make_tempdir(prefix='conclave-keygen-')
        path = os.path.join(d, 'room.key')
        r = run(BINARIES['ctl'], 'keygen', path)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_size, 32)
        with open(path, 'rb') as f:
            first = f.read()
        # Never overwrites an existing key.
        r = run(BINARIES['ctl'], 'keygen', path)
        self.assertEqual(r.returncode, 1)
        self.assertIn('exists', r.stderr)
        with open(path, 'rb') as f:
            self.assertEqual(f.read(), first)
        # Two keys differ.
        other = os.path.join(d, 'other.key')
        self.assertEqual(run(BINARIES['ctl'], 'keygen', other).returncode, 0)
        with open(other, 'rb') as f:
            self.assertNotEqual(f.read(), first)
        r = run(BINARIES['ctl'], 'keygen')
        self.assertEqual(r.returncode, 2)


class Documentation(unittest.TestCase):
    def test_every_sample_key_is_documented(self):
        with open(os.path.join(SOURCE_ROOT, 'docs', 'configuration.md')) as f:
            docs = f.read()
        for kind in ('focus', 'bridge'):
            group = None
            with open(os.path.join(SOURCE_ROOT, 'deploy', f'{kind}.conf')) as f:
                for line in f:
                    m = re.match(r'^\[(\w+)\]', line)
                    if m:
                        group = m.group(1)
                    m = re.match(r'^(\w+) =', line)
                    if m:
                        key = m.group(1)
                        # `secret_file` is the file form of the secret key `secret`.
                        key = 'secret' if key == 'secret_file' else key
                        self.assertTrue(f'`[{group}] {key}`' in docs,
                                        f'{kind}.conf key [{group}] {key} is not documented')


if __name__ == '__main__':
    tap.main(CheckConfig, Programs, Documentation)
