#!/usr/bin/python3
"""The focus on a real PostgreSQL policy store (schemas/policy-store.md), with a real Prosody
and slixmpp clients: reserved rooms (Argon2id password, owners, members-only), roles (admin,
host, member) and the domain rules beneath them, lockouts that outlive the attacker's
session, audit rows for each, the outage (PostgreSQL stopped and restarted under a running
focus), indistinguishable refusals (same stanza, same time) and privacy (no room name,
nickname or password in the database dump, the focus's log or its metrics).

The schema is made with psql from schemas/sql/0001_policy.sql plus the bookkeeping table, and
policy rows are written with psql: HMACs computed here with hmac/hashlib, Argon2id hashes
with python3-argon2 — nothing of conclavectl is used."""

import hashlib
import hmac
import os
import re
import secrets
import statistics
import subprocess
import time
import unittest

import argon2
import jwt

from conclave_daemons import BINARIES, Daemon, write_private
from conclave_harness import procs, tap
from conclave_harness.postgres import Postgres
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from muc_client import NS_ADMIN, MucError, MucUser, codes, config_form, item, xml_of

SERVICE = 'conference.localhost'
OTHER = 'other.localhost'
USERS = ['alice', 'bob', 'carol', 'dave', 'eve', 'frank']
ROUNDS = 30
NS_JWT = 'urn:conclave:jwt:0'
JWT_SECRET = secrets.token_hex(32)
SOURCE_ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT', '.')

SECRETS = set()  # room names, nicknames, passwords: never in a dump, a log or metrics


def name(prefix):
    value = f'{prefix}{secrets.token_hex(6)}'
    SECRETS.add(value)
    return value


def room_jid(local):
    return f'{local}@{SERVICE}'


class Env:
    server = pg = focus = key = None

    @classmethod
    def start(cls):
        cls.dir = make_tempdir(prefix='conclave-policy-')
        cls.pg = Postgres()
        cls.pg.start()
        cls.pg.psql('CREATE DATABASE conclave')
        with open(os.path.join(SOURCE_ROOT, 'schemas', 'sql', '0001_policy.sql')) as f:
            schema = f.read()
        cls.pg.psql(schema + """
            CREATE TABLE conclave_migrations (version integer PRIMARY KEY, name text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO conclave_migrations (version, name) VALUES (1, 'policy');""",
                    dbname='conclave')
        cls.key = secrets.token_bytes(32)
        key_path = os.path.join(cls.dir, 'room.key')
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, cls.key)
        os.close(fd)
        jwt_key = write_private(os.path.join(cls.dir, 'jwt.secret'), JWT_SECRET + '\n')
        conninfo = write_private(os.path.join(cls.dir, 'conninfo'),
                                 cls.pg.conninfo_for('conclave') + '\n')
        cls.server = Prosody(components={SERVICE: 'focus-secret'}, extra_domains=[OTHER])
        cls.server.start()
        for u in USERS:
            cls.server.register(u, f'{u}-pw')
        for u in ('hank', 'ivan'):
            cls.server.register(u, f'{u}-pw', domain=OTHER)
        cls.focus = Daemon('focus', SERVICE, 'focus-secret', cls.server.component_port_for(SERVICE),
                           extra=f"""
[security]
authenticated_domains = localhost
guest_domains = guest.localhost, {OTHER}
room_key_file = {key_path}
jwt_algorithm = HS256
jwt_key_file = {jwt_key}
password_failures_per_jid = 4
password_failures_per_room = 500
failure_window_s = 300
lockout_s = 60
lockout_max_s = 120
[muc]
max_stanzas_per_second = 500
[database]
conninfo_file = {conninfo}
lookup_timeout_ms = 2000
audit_retention_days = 30
""").start()
        cls.focus.wait_health(200)
        procs.wait_until(lambda: metric(cls.focus, 'conclave_focus_store_up') == 1, timeout=10,
                         message='the store never came up')

    @classmethod
    def stop(cls):
        """Stops everything; the focus must exit cleanly, with no sanitizer report (leaks
        are reported at exit)."""
        code = cls.focus.stop() if cls.focus is not None else 0
        if cls.server is not None:
            cls.server.stop()
        if cls.pg is not None:
            cls.pg.stop()
        reports = cls.focus.sanitizer_reports() if cls.focus is not None else []
        if code != 0 or reports:
            raise AssertionError(f'focus exit status {code}, sanitizer reports {reports}:\n'
                                 + cls.focus.log_text()[-4000:])


# --- the policy store, written independently of the focus ----------------------------------

def mac(text):
    return hmac.new(Env.key, text.encode(), hashlib.sha256).hexdigest()


def room_hmac(local):
    return mac(local.casefold())


def jid_hmac(bare):
    return mac('jid:' + bare.casefold())


def domain_hmac(domain):
    return mac('domain:' + domain.casefold())


def argon2id(password):
    return argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1,
                                 type=argon2.Type.ID).hash(password)


def sql(text):
    return Env.pg.psql(text, dbname='conclave')


def reserve(local, password=None, members_only=False, owners=(), members=(), max_occupants=None,
            window=None):
    pw = f"'{argon2id(password)}'" if password else 'NULL'
    limit = max_occupants if max_occupants else 'NULL'
    frm, until = window if window else ('NULL', 'NULL')
    rows = [f"INSERT INTO reserved_rooms (room_hmac, password_hash, members_only, max_occupants,"
            f" valid_from, valid_until) VALUES ('\\x{room_hmac(local)}', {pw}, {members_only},"
            f" {limit}, {frm}, {until});"]
    for aff, who in [('owner', o) for o in owners] + [('member', m) for m in members]:
        rows.append(f"INSERT INTO room_affiliations VALUES ('\\x{room_hmac(local)}', "
                    f"'\\x{jid_hmac(who)}', '{aff}');")
    sql('\n'.join(rows))


def grant(subject, role, kind='jid'):
    h = jid_hmac(subject) if kind == 'jid' else domain_hmac(subject)
    sql(f"INSERT INTO roles (subject_hmac, subject_kind, role) VALUES ('\\x{h}', '{kind}', "
        f"'{role}')")


def audit_count(event, local=None, actor=None, detail=None, since=None):
    where = [f"event = '{event}'"]
    if local is not None:
        where.append(f"room_hmac = '\\x{room_hmac(local)}'")
    if actor is not None:
        where.append(f"actor_hmac = '\\x{jid_hmac(actor)}'")
    if detail is not None:
        where.append(f"detail = '{detail}'")
    if since is not None:
        where.append(f"at >= to_timestamp({since})")
    return int(sql('SELECT count(*) FROM audit WHERE ' + ' AND '.join(where)))


def token(local, moderator, lifetime, secret=None):
    """A JWT element for a join (PyJWT, HS256 with the focus's secret unless told)."""
    payload = {'room': local, 'exp': int(time.time()) + lifetime, 'moderator': moderator}
    return (f"<token xmlns='{NS_JWT}'>"
            f"{jwt.encode(payload, secret or JWT_SECRET, algorithm='HS256')}</token>")


def metric(daemon, metric_name, labels=None):
    total = 0
    for line in daemon.metrics().splitlines():
        if line.startswith(metric_name + ' ') or line.startswith(metric_name + '{'):
            if labels is None or labels in line:
                total += int(float(line.rsplit(' ', 1)[1]))
    return total


class PolicyStore(unittest.TestCase):
    users = []

    @classmethod
    def setUpClass(cls):
        Env.start()

    @classmethod
    def tearDownClass(cls):
        for u in cls.users:
            u.close()
        Env.stop()

    def user(self, who, domain=None):
        u = MucUser(Env.server, who, f'{who}-pw', domain=domain)
        self.users.append(u)
        return u

    def guest(self):
        u = MucUser(Env.server, None, anonymous=True, domain=Env.server.guest_domain)
        self.users.append(u)
        return u

    def refused(self, user, local, nick, password=None, extra=''):
        with self.assertRaises(MucError) as ctx:
            user.join(room_jid(local), nick, password, extra=extra)
        return ctx.exception

    def assertError(self, error, etype, condition):
        self.assertEqual((error.type, error.condition), (etype, condition), str(error))

    def assertAudit(self, *args, **kwargs):
        # Rows are written in the background; on a loaded machine a lookup may time out and
        # reset the link, and queued rows then wait for the reconnection.
        procs.wait_until(lambda: audit_count(*args, **kwargs) > 0, timeout=20,
                         message=f'no audit row {args} {kwargs}')

    def test_01_reserved_room_password_and_owners(self):
        r, pw = name('reserved'), name('pw')
        reserve(r, password=pw, owners=['alice@localhost'], max_occupants=10)
        alice, bob = self.user('alice'), self.user('bob')
        na, nb = name('Alice'), name('Bob')
        # A listed owner starts it without the password and owns it.
        _, own, _ = alice.join(room_jid(r), na)
        self.assertEqual((item(own)['affiliation'], item(own)['role']), ('owner', 'moderator'))
        # Anyone else needs the password, checked against the Argon2id hash.
        self.assertError(self.refused(bob, r, nb), 'auth', 'not-authorized')
        self.assertError(self.refused(bob, r, nb, name('wrong')), 'auth', 'not-authorized')
        _, own, _ = bob.join(room_jid(r), nb, pw)
        self.assertEqual(item(own)['affiliation'], 'none')
        bob.leave(room_jid(r), nb)
        alice.leave(room_jid(r), na)
        self.assertAudit('room_created', r, 'alice@localhost', 'reserved')
        self.assertAudit('join', r, 'alice@localhost', 'moderator')
        self.assertAudit('join', r, 'bob@localhost', 'participant')
        self.assertAudit('refusal', r, 'bob@localhost', 'password')
        self.assertAudit('room_destroyed', r, None, 'empty')
        Env.reserved = (r, pw)

    def test_02_lockout_across_reconnects(self):
        r, pw = Env.reserved
        eve = self.user('eve')
        for _ in range(4):
            self.assertError(self.refused(eve, r, name('Eve'), name('guess')), 'auth',
                             'not-authorized')
        eve.close()
        # A new session (new resource): still locked out, even with the right password.
        eve2 = self.user('eve')
        self.assertError(self.refused(eve2, r, name('Eve'), pw), 'auth', 'not-authorized')
        self.assertAudit('lockout', r, 'eve@localhost', 'user')
        self.assertAudit('refusal', r, 'eve@localhost', 'locked_out')

    def test_03_host_room(self):
        grant('hank@' + OTHER, 'host')
        r = name('hosted')
        hank, ivan = self.user('hank', OTHER), self.user('ivan', OTHER)
        # ivan's domain is a guest domain: he may not start a room...
        self.assertError(self.refused(ivan, r, name('Ivan')), 'auth', 'not-authorized')
        # ...hank, from the same domain, is a host: he starts it and owns it.
        _, own, _ = hank.join(room_jid(r), name('Hank'))
        self.assertEqual(item(own)['affiliation'], 'owner')
        ivan.join(room_jid(r), name('Ivan'))
        self.assertAudit('room_created', r, 'hank@' + OTHER, 'free')
        self.assertAudit('refusal', r, 'ivan@' + OTHER, 'not_allowed')
        self.assertAudit('join', r, 'ivan@' + OTHER, 'participant')

    def test_04_member_rules(self):
        r = name('members')
        reserve(r, members_only=True, owners=['alice@localhost'], members=['carol@localhost'])
        grant('dave@localhost', 'member')
        carol, dave, alice = self.user('carol'), self.user('dave'), self.user('alice')
        _, own, _ = carol.join(room_jid(r), name('Carol'))
        self.assertEqual(item(own)['affiliation'], 'member')
        # Not listed: refused as XEP-0045 says for members-only rooms.
        self.assertError(self.refused(dave, r, name('Dave')), 'auth', 'registration-required')
        # A member role never creates, even from an authenticated domain.
        self.assertError(self.refused(dave, name('free'), name('Dave')), 'auth',
                         'not-authorized')
        _, own, _ = alice.join(room_jid(r), name('Alice'))
        self.assertEqual(item(own)['affiliation'], 'owner')
        self.assertAudit('refusal', r, 'dave@localhost', 'members_only')
        self.assertAudit('join', r, 'carol@localhost', 'participant')

    def test_05_guest_rules(self):
        bob, guest = self.user('bob'), self.guest()
        r = name('open')
        bob.join(room_jid(r), name('Bob'))
        guest.join(room_jid(r), name('Guest'))  # a room that runs: guests may join
        self.assertError(self.refused(guest, name('nothere'), name('Guest')), 'auth',
                         'not-authorized')
        self.assertAudit('join', r, None, 'participant')

    def test_05b_tokens_with_the_database(self):
        """A token keeps its meaning on the database's path: a moderator token lets a guest
        start a free room and own it, and never skips a reserved room's password; a forged
        token is refused and audited; a token about to expire is warned, and audited."""
        guest = self.guest()
        r = name('tokenroom')
        _, own, _ = guest.join(room_jid(r), name('G'), extra=token(r, True, 600))
        self.assertEqual(item(own)['affiliation'], 'owner')
        self.assertIn(201, codes(own))
        reserved, pw = name('tokenreserved'), name('pw')
        reserve(reserved, password=pw, owners=['alice@localhost'])
        other = self.guest()
        good = token(reserved, True, 600)
        self.assertError(self.refused(other, reserved, name('G'), extra=good), 'auth',
                         'not-authorized')
        _, own, _ = other.join(room_jid(reserved), name('G'), password=pw, extra=good)
        self.assertEqual(item(own)['affiliation'], 'owner')
        dave, forged_room = self.user('dave'), name('forged')
        forged = token(forged_room, True, 600, secret=secrets.token_hex(32))
        self.assertError(self.refused(dave, forged_room, name('Dave'), extra=forged), 'auth',
                         'not-authorized')
        self.assertAudit('refusal', forged_room, 'dave@localhost', 'token')
        bob, short = self.user('bob'), name('short')
        bob.join(room_jid(short), name('Bob'), extra=token(short, False, 3))
        self.assertAudit('token_expired', short, 'bob@localhost', 'warned')

    def test_06_admin_powers(self):
        grant('frank@localhost', 'admin')
        bob, carol, frank = self.user('bob'), self.user('carol'), self.user('frank')
        r, nc = name('adminned'), name('Carol')
        bob.join(room_jid(r), name('Bob'))
        carol.join(room_jid(r), nc)
        _, own, _ = frank.join(room_jid(r), name('Frank'))
        self.assertEqual((item(own)['affiliation'], item(own)['role']), ('owner', 'moderator'))
        reply = frank.iq(f"<iq type='set' to='{room_jid(r)}'><query xmlns='{NS_ADMIN}'>"
                         f"<item jid='dave@localhost' affiliation='member'/></query></iq>")
        self.assertEqual(reply['type'], 'result', str(reply))
        reply = frank.iq(f"<iq type='set' to='{room_jid(r)}'><query xmlns='{NS_ADMIN}'>"
                         f"<item nick='{nc}' role='none'/></query></iq>")
        self.assertEqual(reply['type'], 'result', str(reply))
        self.assertAudit('affiliation_change', r, 'frank@localhost', 'member')
        self.assertAudit('role_change', r, 'frank@localhost', 'kicked')

    def test_07_indistinguishable(self):
        """A guest with a wrong password: (a) a running reserved room with a password, (b) a
        running free room with a password, (c) a room that does not exist."""
        alice, bob = self.user('alice'), self.user('bob')
        ra, rb, rc = name('casea'), name('caseb'), name('casec')
        reserve(ra, password=name('pw'))
        grant('alice@localhost', 'admin')  # alice starts (a) without its password
        alice.join(room_jid(ra), name('Alice'))
        bob.join(room_jid(rb), name('Bob'))
        reply = bob.iq(f"<iq type='set' to='{room_jid(rb)}'><query "
                       f"xmlns='http://jabber.org/protocol/muc#owner'>" +
                       config_form({'passwordprotectedroom': 1, 'roomsecret': name('pw')}) +
                       "</query></iq>")
        self.assertEqual(reply['type'], 'result', str(reply))
        wrong, nick = name('wrong'), name('Guest')
        times = {'a': [], 'b': [], 'c': []}
        stanzas = {}
        guest = None
        for i in range(ROUNDS):
            # A fresh guest per round: its three failures stay under the lockout.
            if guest is not None:
                guest.close()
            guest = MucUser(Env.server, None, anonymous=True, domain=Env.server.guest_domain)
            order = [('a', ra), ('b', rb), ('c', rc)]
            order = order[i % 3:] + order[:i % 3]
            for case, local in order:
                start = time.monotonic()
                error = self.refused(guest, local, nick, wrong)
                times[case].append(time.monotonic() - start)
                self.assertError(error, 'auth', 'not-authorized')
                stanzas.setdefault(case, xml_of(error.stanza))
        guest.close()

        def normal(text):
            return re.sub(r"""\s(id|from|to)=(["'])[^"']*\2""", '', text)

        self.assertEqual(normal(stanzas['a']), normal(stanzas['b']))
        self.assertEqual(normal(stanzas['a']), normal(stanzas['c']))
        medians = {}
        for case, label in (('a', 'reserved room'), ('b', 'free room'), ('c', 'no room')):
            ms = sorted(t * 1000 for t in times[case])
            medians[case] = statistics.median(ms)
            p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
            tap.diag(f'{label} ({case}): n={len(ms)} p50={medians[case]:.1f} ms '
                     f'p99={p99:.1f} ms')
        lo, hi = min(medians.values()), max(medians.values())
        self.assertLess(hi, 2 * lo, medians)

    def test_08_outage(self):
        bob, guest, alice = self.user('bob'), self.guest(), self.user('alice')
        free, later = name('survivor'), name('later')
        r, pw = name('outage'), name('pw')
        reserve(r, password=pw, owners=['alice@localhost'])
        bob.join(room_jid(free), name('Bob'))
        Env.pg.stop()
        procs.wait_until(lambda: 'degraded' in Env.focus.health()[1], timeout=10,
                         message='health never said degraded')
        self.assertEqual(Env.focus.health()[0], 200)
        self.assertEqual(metric(Env.focus, 'conclave_focus_store_up'), 0)
        # A room that runs keeps working; anything that needs a lookup fails closed.
        nick_g = name('Guest')
        guest.join(room_jid(free), nick_g)
        self.assertError(self.refused(alice, r, name('Alice')), 'wait', 'service-unavailable')
        self.assertError(self.refused(bob, later, name('Bob')), 'wait', 'service-unavailable')
        down_at = time.time()
        Env.pg.start()
        started = time.monotonic()
        procs.wait_until(lambda: metric(Env.focus, 'conclave_focus_store_up') == 1, timeout=15,
                         message='the focus never reconnected')
        tap.diag(f'reconnected {time.monotonic() - started:.1f} s after PostgreSQL came back')
        self.assertNotIn('degraded', Env.focus.health()[1])
        self.assertGreater(metric(Env.focus, 'conclave_focus_store_reconnects_total'), 0)
        after = time.time()
        alice.join(room_jid(r), name('Alice'))
        bob.join(room_jid(later), name('Bob'))
        self.assertAudit('room_created', r, 'alice@localhost', 'reserved', since=after)
        self.assertAudit('room_created', later, 'bob@localhost', 'free', since=after)
        # Rows of the outage waited in memory and were written once it was back.
        self.assertAudit('join', free, None, 'participant', since=down_at - 60)
        self.assertAudit('refusal', r, 'alice@localhost', 'unavailable')

    def test_08b_a_burst_of_joins(self):
        """Twenty rooms started at once: lookups and audit batches queue behind each other on
        the one connection, and every query still goes through (an audit batch built on the
        fly once outlived its text while it waited), every row is written."""
        errors = metric(Env.focus, 'conclave_focus_store_queries_total', 'result="error"')
        dropped = metric(Env.focus, 'conclave_focus_store_audit_dropped_total')
        bob = self.user('bob')
        rooms = [name('burst') for _ in range(20)]
        nick = name('Bob')
        for r in rooms:
            bob.send(f"<presence to='{room_jid(r)}/{nick}'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
        joined = set()
        while len(joined) < len(rooms):
            s = bob.next(timeout=15, predicate=lambda s: s['from'].bare in
                         {room_jid(r) for r in rooms} and 110 in codes(s))
            joined.add(s['from'].bare)
        for r in rooms:
            self.assertAudit('room_created', r, 'bob@localhost', 'free')
            self.assertAudit('join', r, 'bob@localhost', 'moderator')
        self.assertEqual(metric(Env.focus, 'conclave_focus_store_queries_total',
                                'result="error"'), errors, 'a query failed')
        self.assertEqual(metric(Env.focus, 'conclave_focus_store_audit_dropped_total'), dropped)
        for r in rooms:
            bob.leave(room_jid(r), nick)

    def test_09_check_config(self):
        d = make_tempdir(prefix='conclave-policy-check-')
        path = os.path.join(d, 'focus.conf')
        with open(path, 'w') as f:
            f.write('[xmpp]\nserver = 127.0.0.1\ndomain = x.localhost\nsecret = s\n'
                    '[database]\nconninfo = host=/nowhere dbname=x\n')
        res = subprocess.run([BINARIES['focus'], '--config', path, '--check-config'],
                             capture_output=True, text=True, timeout=20)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn('room_key_file', res.stderr + res.stdout)

    def test_10_privacy(self):
        dump = subprocess.run([os.path.join(Env.pg.bindir, 'pg_dump'), '-h', Env.pg.socket_dir,
                               '-p', str(Env.pg.port), '-U', 'postgres', 'conclave'],
                              capture_output=True, text=True, timeout=60, check=True).stdout
        self.assertIn('COPY public.audit', dump)
        texts = {'pg_dump': dump, 'focus log': Env.focus.log_text(),
                 'metrics': Env.focus.metrics()}
        for where, text in texts.items():
            folded = text.casefold()
            leaked = sorted(s for s in SECRETS if s.casefold() in folded)
            self.assertEqual(leaked, [], where)
        self.assertEqual(Env.focus.sanitizer_reports(), [])


if __name__ == '__main__':
    tap.main(PolicyStore)
