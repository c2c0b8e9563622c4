#!/usr/bin/python3
"""conclavectl against a real PostgreSQL: db migrate / status, room reserve / show /
unreserve, role grant / revoke / list, audit and audit purge, room-name. The rows must hold
only HMACs (recomputed here independently, byte for byte) and Argon2id strings: a pg_dump
shows no room name, JID or password. Every error path exits 2 (bad command line) or 1
(runtime failure) with a message."""

import hashlib
import hmac
import math
import os
import re
import subprocess
import unittest

import argon2

from conclave_harness import tap
from conclave_harness.postgres import Postgres
from conclave_harness.tempdir import make_tempdir
from conclave_daemons import BINARIES, SANITIZER_MARKS, write_private

SOURCE_ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT', os.getcwd())
CTL = BINARIES['ctl']
PG = None
DIR = None

ROOM = 'Board-Meeting-Ünïcode'
OWNERS = ['Alice@Example.ORG', 'carol@example.org']
MEMBERS = ['bob@example.org']
PASSWORD = 'correct horse battery staple 7'


def setUpModule():
    global PG, DIR
    DIR = make_tempdir(prefix='conclave-ctl-db-')
    PG = Postgres()
    PG.start()


def tearDownModule():
    if PG is not None:
        PG.stop()


def run(*args, expect=None):
    r = subprocess.run([CTL] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=60)
    for mark in SANITIZER_MARKS:
        assert mark not in r.stderr, r.stderr
    if expect is not None:
        assert r.returncode == expect, '%s: exit %d, expected %d\nstdout: %s\nstderr: %s' % (
            ' '.join(args), r.returncode, expect, r.stdout, r.stderr)
    return r


def write(name, text, private=True):
    path = os.path.join(DIR, name)
    if private:
        return write_private(path, text)
    with open(path, 'w') as f:
        f.write(text)
    return path


def new_database(name, migrate=True):
    """A fresh database, a room key and a conclavectl config for them."""
    PG.psql('DROP DATABASE IF EXISTS %s; CREATE DATABASE %s' % (name, name))
    key_path = os.path.join(DIR, name + '.key')
    if not os.path.exists(key_path):
        run('keygen', key_path, expect=0)
    conf = write(name + '.conf', '[database]\nconninfo = %s\n\n[security]\nroom_key_file = %s\n'
                 % (PG.conninfo_for(name), key_path))
    if migrate:
        run('db', 'migrate', '--config', conf, expect=0)
    with open(key_path, 'rb') as f:
        return conf, f.read()


def mac(key, text):
    return hmac.new(key, text.encode('utf-8'), hashlib.sha256).digest()


def room_mac(key, name):
    return mac(key, name.casefold())


def jid_mac(key, jid):
    return mac(key, 'jid:' + jid.casefold())


def hexrows(db, sql):
    return [tuple(r.split('|')) for r in PG.psql(sql, dbname=db).splitlines() if r]


class Migrations(unittest.TestCase):
    def test_migrate_status_idempotent(self):
        conf, _ = new_database('mig', migrate=False)
        r = run('db', 'status', '--config', conf, expect=1)
        self.assertIn('connection: OK', r.stdout)
        self.assertRegex(r.stdout, r'pending:\n  0001_policy')
        r = run('db', 'migrate', '--config', conf, expect=0)
        self.assertIn('applied 0001_policy', r.stdout)
        rows = PG.psql('SELECT version, name, applied_at FROM conclave_migrations', dbname='mig')
        tables = PG.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                         "WHERE schemaname = 'public'", dbname='mig')
        self.assertEqual(tables, 'audit,conclave_migrations,reserved_rooms,roles,'
                         'room_affiliations')
        r = run('db', 'migrate', '--config', conf, expect=0)
        self.assertIn('up to date', r.stdout)
        self.assertEqual(rows, PG.psql('SELECT version, name, applied_at FROM '
                                       'conclave_migrations', dbname='mig'))
        # The option may also come first (as deploy/local/up.sh writes it).
        r = run('--config', conf, 'db', 'status', expect=0)
        self.assertRegex(r.stdout, r'applied:\n  0001_policy  \d{4}-\d\d-\d\dT[\d:]{8}Z')
        self.assertIn('pending: none', r.stdout)

    def test_newer_database_is_refused(self):
        conf, _ = new_database('newer')
        PG.psql("INSERT INTO conclave_migrations (version, name) VALUES (9999, 'future')",
                dbname='newer')
        r = run('db', 'migrate', '--config', conf, expect=1)
        self.assertIn('schema version 9999', r.stderr)
        self.assertIn('newer conclavectl', r.stderr)
        r = run('db', 'status', '--config', conf, expect=1)
        self.assertIn('newer than this conclavectl', r.stdout)

    def test_unreachable_database(self):
        conf = write('down.conf', '[database]\nconninfo = host=%s port=1 dbname=x\n\n'
                     '[security]\nroom_key_file = /nonexistent\n' % DIR)
        for args in (['db', 'status'], ['db', 'migrate'], ['role', 'list']):
            r = run(*args, '--config', conf, expect=1)
            self.assertIn('cannot connect to the database', r.stderr)


class Rooms(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.conf, cls.key = new_database('rooms')
        cls.pwfile = write('password', PASSWORD + '\nsecond line ignored\n')

    def reserve(self, *extra, expect=0):
        args = ['room', 'reserve', ROOM, '--config', self.conf]
        for o in OWNERS:
            args += ['--owner', o]
        for m in MEMBERS:
            args += ['--member', m]
        return run(*args, *extra, expect=expect)

    def test_1_reserve_stores_only_hmacs(self):
        r = self.reserve('--password-file', self.pwfile, '--members-only', '--max-occupants',
                         '12', '--valid-from', '2030-01-01T10:00:00+01:00', '--valid-until',
                         '2030-01-02T09:00:00Z')
        rm = room_mac(self.key, ROOM)
        tag = 'r:' + rm.hex()[:12]
        self.assertIn(tag, r.stdout)
        self.assertIn('owners: 2, members: 1', r.stdout)
        rows = hexrows('rooms', "SELECT encode(room_hmac, 'hex'), password_hash, members_only, "
                       "max_occupants, valid_from AT TIME ZONE 'UTC', valid_until AT TIME ZONE "
                       "'UTC' FROM reserved_rooms")
        self.assertEqual(len(rows), 1)
        self.assertEqual(bytes.fromhex(rows[0][0]), rm)
        self.assertEqual(rows[0][2:], ('t', '12', '2030-01-01 09:00:00', '2030-01-02 09:00:00'))
        phc = rows[0][1]
        self.assertTrue(phc.startswith('$argon2id$'))
        self.assertTrue(argon2.PasswordHasher().verify(phc, PASSWORD))
        with self.assertRaises(argon2.exceptions.VerifyMismatchError):
            argon2.PasswordHasher().verify(phc, PASSWORD + '\nsecond line ignored')
        affs = hexrows('rooms', "SELECT encode(room_hmac, 'hex'), encode(subject_hmac, 'hex'), "
                       "affiliation FROM room_affiliations")
        expected = {(rm.hex(), jid_mac(self.key, j).hex(), 'owner') for j in OWNERS}
        expected |= {(rm.hex(), jid_mac(self.key, j).hex(), 'member') for j in MEMBERS}
        self.assertEqual(set(affs), expected)

    def test_2_dump_reveals_nothing(self):
        run('role', 'grant', 'dave@example.org', 'host', '--config', self.conf, expect=0)
        dump = subprocess.run([os.path.join(PG.bindir, 'pg_dump'), '-h', PG.socket_dir, '-p',
                               str(PG.port), '-U', 'postgres', 'rooms'], capture_output=True,
                              check=True, timeout=60).stdout
        self.assertIn(b'reserved_rooms', dump)
        for secret in [ROOM, ROOM.casefold(), PASSWORD, 'dave', 'example.org'] + OWNERS + \
                MEMBERS:
            for form in {secret, secret.casefold()}:
                self.assertNotIn(form.encode('utf-8'), dump, form)

    def test_3_show(self):
        r = run('room', 'show', ROOM.upper(), '--config', self.conf, expect=0)
        rm = room_mac(self.key, ROOM)
        self.assertIn('r:' + rm.hex()[:12], r.stdout)
        self.assertIn('password: set', r.stdout)
        self.assertNotIn('argon2', r.stdout)
        self.assertIn('members only: yes', r.stdout)
        self.assertIn('max occupants: 12', r.stdout)
        self.assertIn('from 2030-01-01T09:00:00Z until 2030-01-02T09:00:00Z', r.stdout)
        self.assertIn('owners: 2', r.stdout)
        self.assertIn('members: 1 u:' + jid_mac(self.key, MEMBERS[0]).hex()[:12], r.stdout)
        for o in OWNERS:
            self.assertIn('u:' + jid_mac(self.key, o).hex()[:12], r.stdout)

    def test_4_replace(self):
        r = self.reserve(expect=1)
        self.assertIn('already reserved', r.stderr)
        self.reserve('--replace', expect=0)
        r = run('room', 'show', ROOM, '--config', self.conf, expect=0)
        self.assertIn('password: none', r.stdout)
        self.assertIn('members only: no', r.stdout)
        self.assertIn('valid: from always until forever', r.stdout)

    def test_5_unreserve(self):
        run('room', 'unreserve', ROOM, '--config', self.conf, expect=0)
        self.assertEqual(PG.psql('SELECT count(*) FROM room_affiliations', dbname='rooms'), '0')
        r = run('room', 'show', ROOM, '--config', self.conf, expect=1)
        self.assertIn('not reserved', r.stderr)
        r = run('room', 'unreserve', ROOM, '--config', self.conf, expect=1)
        self.assertIn('not reserved', r.stderr)


class Roles(unittest.TestCase):
    def test_grant_revoke_list(self):
        conf, key = new_database('roles')
        r = run('role', 'list', '--config', conf, expect=0)
        self.assertIn('no roles', r.stdout)
        u = 'u:' + jid_mac(key, 'eve@example.org').hex()[:12]
        d = 'd:' + mac(key, 'domain:example.net').hex()[:12]
        self.assertIn(u, run('role', 'grant', 'Eve@Example.org', 'host', '--config', conf,
                             expect=0).stdout)
        self.assertIn(d, run('role', 'grant', 'EXAMPLE.net', 'member', '--config', conf,
                             expect=0).stdout)
        run('role', 'grant', 'eve@example.org', 'admin', '--config', conf, expect=0)
        rows = hexrows('roles', "SELECT encode(subject_hmac, 'hex'), subject_kind, role FROM "
                       "roles ORDER BY subject_kind")
        self.assertEqual(rows, [(mac(key, 'domain:example.net').hex(), 'domain', 'member'),
                                (jid_mac(key, 'eve@example.org').hex(), 'jid', 'admin')])
        out = run('role', 'list', '--config', conf, expect=0).stdout
        self.assertRegex(out, re.escape(u) + r'\s+jid\s+admin\s+\d{4}-\d\d-\d\dT')
        self.assertRegex(out, re.escape(d) + r'\s+domain\s+member\s+\d{4}-')
        run('role', 'revoke', 'eve@example.org', '--config', conf, expect=0)
        r = run('role', 'revoke', 'eve@example.org', '--config', conf, expect=1)
        self.assertIn('has no role', r.stderr)
        run('role', 'revoke', 'example.net', '--config', conf, expect=0)
        self.assertIn('no roles', run('role', 'list', '--config', conf, expect=0).stdout)

    def test_bad_arguments(self):
        conf, _ = new_database('roles_bad', migrate=False)
        self.assertIn('not a role', run('role', 'grant', 'a@b.org', 'king', '--config', conf,
                                        expect=2).stderr)
        self.assertIn('bare JID', run('role', 'grant', 'a@b.org/res', 'host', '--config', conf,
                                      expect=2).stderr)
        run('role', 'grant', 'a@@b', 'host', '--config', conf, expect=2)
        run('role', 'grant', 'a@b.org', '--config', conf, expect=2)
        run('role', 'frobnicate', expect=2)


class Audit(unittest.TestCase):
    def test_list_and_purge(self):
        conf, key = new_database('audit')
        rm, other = room_mac(key, 'standup'), room_mac(key, 'other')
        actor = jid_mac(key, 'alice@example.org')
        PG.psql("INSERT INTO audit (at, event, room_hmac, actor_hmac, detail) VALUES "
                "(now() - interval '200 days', 'join', '\\x%s', '\\x%s', 'participant'), "
                "(now() - interval '100 days', 'refusal', '\\x%s', NULL, 'password'), "
                "(now() - interval '10 days', 'join', '\\x%s', '\\x%s', 'moderator'), "
                "(now() - interval '1 hour', 'room_destroyed', '\\x%s', NULL, 'empty')"
                % (rm.hex(), actor.hex(), other.hex(), rm.hex(), actor.hex(), rm.hex()),
                dbname='audit')
        lines = run('audit', '--config', conf, expect=0).stdout.splitlines()
        self.assertEqual([l.split()[1] for l in lines],
                         ['room_destroyed', 'join', 'refusal', 'join'])
        self.assertEqual(lines[1].split()[2:], ['r:' + rm.hex()[:12],
                                                'u:' + actor.hex()[:12], 'moderator'])
        self.assertEqual(lines[2].split()[3:], ['-', 'password'])
        lines = run('audit', '--room', 'StandUp', '--config', conf, expect=0).stdout.splitlines()
        self.assertEqual(len(lines), 3)
        lines = run('audit', '--limit', '1', '--config', conf, expect=0).stdout.splitlines()
        self.assertEqual(len(lines), 1)
        r = run('audit', '--since', '2000-01-01T00:00:00Z', '--limit', '2', '--config', conf,
                expect=0)
        self.assertEqual(len(r.stdout.splitlines()), 2)
        r = run('audit', 'purge', '--config', conf, expect=0)
        self.assertIn('deleted 2 audit rows older than 90 days', r.stdout)
        r = run('audit', 'purge', '--older-than-days', '5', '--config', conf, expect=0)
        self.assertIn('deleted 1 audit rows', r.stdout)
        self.assertEqual(PG.psql('SELECT count(*) FROM audit', dbname='audit'), '1')
        keep = write('keep.conf', open(conf).read().replace(
            '[database]\n', '[database]\naudit_retention_days = 0\n'))
        self.assertIn('nothing deleted', run('audit', 'purge', '--config', keep,
                                             expect=0).stdout)
        run('audit', '--since', 'yesterday', '--config', conf, expect=2)
        run('audit', '--limit', '0', '--config', conf, expect=2)
        run('audit', 'purge', '--older-than-days', '0', '--config', conf, expect=2)


class Errors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.conf, _ = new_database('errors')

    def reserve(self, *args, expect):
        return run('room', 'reserve', *args, '--config', self.conf, expect=expect)

    def test_usage(self):
        self.assertIn("unknown command 'frob'", run('frob', expect=2).stderr)
        run('db', expect=2)
        run('db', 'upgrade', expect=2)
        run('room', expect=2)
        self.assertIn('--bogus', run('db', 'status', '--bogus', expect=2).stderr)
        self.assertIn('--bogus', self.reserve('r', '--owner', 'a@b.org', '--bogus',
                                              expect=2).stderr)

    def test_reserve_arguments(self):
        self.assertIn('--owner', self.reserve('room1', expect=2).stderr)
        r = self.reserve('room1', '--owner', 'not a jid@x', expect=2)
        self.assertIn('not a jid@x', r.stderr)
        self.reserve('room1', '--owner', 'example.org', expect=2)
        self.reserve('room1', '--owner', 'a@b.org/phone', expect=2)
        self.reserve('room1', '--owner', 'a@b.org', '--member', 'A@B.org', expect=2)
        for name in ['', 'a@b', 'a/b', 'a:b', 'a b', 'x' * 257, 'a\tb']:
            self.reserve(name, '--owner', 'a@b.org', expect=2)
        self.reserve('x' * 256, '--owner', 'a@b.org', expect=0)
        self.reserve('room1', '--owner', 'a@b.org', '--max-occupants', '0', expect=0)
        self.reserve('room2', '--owner', 'a@b.org', '--max-occupants', '100001', expect=2)
        self.reserve('room2', '--owner', 'a@b.org', '--max-occupants', 'many', expect=2)

    def test_password_never_on_command_line(self):
        for args in (['--password', 'hunter2'], ['--password=hunter2']):
            r = self.reserve('room3', '--owner', 'a@b.org', *args, expect=2)
            self.assertIn('--password-file', r.stderr)
            self.assertNotIn('hunter2', r.stderr)
        r = self.reserve('room3', '--owner', 'a@b.org', '--password-file',
                         os.path.join(DIR, 'missing'), expect=1)
        self.assertIn('missing', r.stderr)
        empty = write('empty-password', '\nsecond\n')
        self.assertIn('empty', self.reserve('room3', '--owner', 'a@b.org', '--password-file',
                                            empty, expect=1).stderr)
        self.assertEqual(PG.psql('SELECT count(*) FROM reserved_rooms WHERE room_hmac IS NOT '
                                 'NULL AND password_hash IS NOT NULL', dbname='errors'), '0')

    def test_times(self):
        for bad in ['2030-01-01T10:00:00', 'tomorrow', '2030-13-01T00:00:00Z']:
            r = self.reserve('room4', '--owner', 'a@b.org', '--valid-from', bad, expect=2)
            self.assertIn('--valid-from', r.stderr)
        r = self.reserve('room4', '--owner', 'a@b.org', '--valid-from', '2030-01-01T10:00:00Z',
                         '--valid-until', '2030-01-01T11:00:00+01:00', expect=2)
        self.assertIn('before', r.stderr)

    def test_config(self):
        missing = os.path.join(DIR, 'nope.conf')
        self.assertIn(missing, run('db', 'status', '--config', missing, expect=1).stderr)
        key = os.path.join(DIR, 'errors.key')
        cases = [
            ('[security]\nroom_key_file = %s\n' % key, '[database]: missing group'),
            ('[database]\n\n[security]\nroom_key_file = %s\n' % key,
             '[database] conninfo: missing key'),
            ('[database]\nconninfo = %s\n' % PG.conninfo_for('errors'),
             '[security]: missing group'),
            ('[database]\nconninfo = %s\n[security]\n' % PG.conninfo_for('errors'),
             '[security] room_key_file: missing key'),
            ('[database]\nconninfo_file = %s\n[security]\nroom_key_file = %s\n'
             % (os.path.join(DIR, 'absent'), key), '[database] conninfo_file'),
        ]
        for i, (text, message) in enumerate(cases):
            path = write('bad%d.conf' % i, text)
            r = run('room', 'reserve', 'room5', '--owner', 'a@b.org', '--config', path, expect=1)
            self.assertIn('%s: %s' % (path, message), r.stderr)
        secret = write('conninfo.secret', PG.conninfo_for('errors') + '\n')
        path = write('file.conf', '[database]\nconninfo_file = %s\n[security]\nroom_key_file = '
                     '%s\n' % (secret, key))
        run('room', 'reserve', 'room5', '--owner', 'a@b.org', '--config', path, expect=0)


class RoomName(unittest.TestCase):
    def test_names(self):
        with open(os.path.join(SOURCE_ROOT, 'schemas', 'room-name-syllables.txt')) as f:
            syllables = [l.strip() for l in f if l.strip() and not l.startswith('#')]
        per_word = 3
        words = math.ceil(80 / (per_word * math.log2(len(syllables))))
        bits = words * per_word * math.log2(len(syllables))
        self.assertGreaterEqual(bits, 80)
        syl = '(?:%s)' % '|'.join(syllables)
        pattern = re.compile(r'^%s{%d}(?:-%s{%d}){%d}$' % (syl, per_word, syl, per_word,
                                                           words - 1))
        names = run('room-name', '--count', '1000', expect=0).stdout.split()
        self.assertEqual(len(names), 1000)
        self.assertEqual(len(set(names)), 1000)
        for n in names:
            self.assertRegex(n, pattern)
        r = run('room-name', '--verbose', expect=0)
        self.assertRegex(r.stdout.splitlines()[0], pattern)
        self.assertIn('entropy: %.1f bits' % bits, r.stdout)
        run('room-name', 'extra', expect=2)
        run('room-name', '--count', '0', expect=2)


if __name__ == '__main__':
    tap.main(Migrations, Rooms, Roles, Audit, Errors, RoomName)
