#!/usr/bin/python3
"""JSON Web Tokens at conclave-focus (schemas/jwt.md) against a real Prosody: three focus
daemons, one per algorithm (HS256 with a secret file, RS256 and ES256 with keys made by
openssl here), tokens minted by PyJWT (an implementation independent of ours) or crafted by
hand for the attacks PyJWT refuses to make. Checks what a valid token grants (and only
that), every kind of invalid token, the token of the Jitsi `conference` IQ, the warning and
removal when a token expires in a meeting, and that no token ever reaches the log."""

import base64
import hashlib
import hmac
import itertools
import json
import os
import subprocess
import time
import unittest

import jwt

from conclave_daemons import BINARIES, Daemon, write_private
from conclave_harness import tap
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from muc_client import MucError, MucUser, codes, iq_error, item, kind

HS = 'conference.localhost'
RS = 'rs.localhost'
ES = 'es.localhost'
OTHER_DOMAIN = 'other.localhost'
ISSUER = 'conclave-test'
AUDIENCE = 'conclave'
NS_JWT = 'urn:conclave:jwt:0'
NS_FOCUS = 'http://jitsi.org/protocol/focus'
SECRET = b'an HS256 secret of at least thirty-two bytes, for tests'

_counter = itertools.count(1)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode()


def raw_token(header, payload, secret=None, signature=None):
    """A token built by hand: HS256-signed with `secret`, or with `signature` as given."""
    signing_input = (b64url(json.dumps(header).encode()) + '.' +
                     b64url(json.dumps(payload).encode()))
    if signature is None:
        signature = b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    return signing_input + '.' + signature


def signed_raw(signing_input, secret):
    """`signing_input` (anything, even malformed) with a valid HS256 signature."""
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + '.' + b64url(mac)


def openssl(*args):
    subprocess.run(['openssl', *args], check=True, capture_output=True)


class Env:
    server = None
    daemons = {}
    keys = {}
    tokens = []  # every token sent: none may reach the log

    @classmethod
    def get(cls):
        if cls.server is not None:
            return cls
        d = make_tempdir(prefix='conclave-jwt-')
        write_private(os.path.join(d, 'hs.secret'), SECRET.decode() + '\n')
        for alg, genargs in (('rs', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']),
                             ('es', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'])):
            priv, pub = os.path.join(d, f'{alg}.key'), os.path.join(d, f'{alg}.pub')
            openssl('genpkey', *genargs, '-out', priv)
            openssl('pkey', '-in', priv, '-pubout', '-out', pub)
            with open(priv, 'rb') as f:
                cls.keys[alg] = f.read()
            with open(pub, 'rb') as f:
                cls.keys[alg + '_pub'] = f.read()
        cls.server = Prosody(components={HS: 'hs-secret', RS: 'rs-secret', ES: 'es-secret'},
                             extra_domains=[OTHER_DOMAIN])
        cls.server.start()
        for u in ('alice', 'bob'):
            cls.server.register(u, f'{u}-pw')
        cls.server.register('mallory', 'mallory-pw', domain=OTHER_DOMAIN)
        common = ('[security]\nauthenticated_domains = localhost\n'
                  'guest_domains = guest.localhost\n'
                  f'jwt_issuer = {ISSUER}\njwt_audience = {AUDIENCE}\n')
        configs = {
            HS: common + (f'jwt_algorithm = HS256\njwt_key_file = {d}/hs.secret\n'
                          'jwt_leeway_s = 0\njwt_expiry_action = remove\n'),
            RS: common + f'jwt_algorithm = RS256\njwt_key_file = {d}/rs.pub\n',
            ES: common + f'jwt_algorithm = ES256\njwt_key_file = {d}/es.pub\n',
        }
        for domain, secret in ((HS, 'hs-secret'), (RS, 'rs-secret'), (ES, 'es-secret')):
            cls.daemons[domain] = Daemon('focus', domain, secret,
                                         cls.server.component_port_for(domain),
                                         extra=configs[domain] + '[muc]\n'
                                         'max_stanzas_per_second = 500\n').start()
        for daemon in cls.daemons.values():
            daemon.wait_health(200)
        return cls


def room(service=HS):
    return f'jwtroom{next(_counter)}@{service}'


def claims(r, moderator=None, lifetime=600, **extra):
    now = int(time.time())
    c = {'iss': ISSUER, 'aud': AUDIENCE, 'exp': now + lifetime, 'nbf': now - 10,
         'room': r.split('@')[0], 'sub': 'localhost'}
    if moderator is not None:
        c['context'] = {'user': {'moderator': moderator, 'name': 'Someone'}}
    c.update(extra)
    return c


def mint(payload, service=HS):
    if service == HS:
        token = jwt.encode(payload, SECRET, algorithm='HS256')
    elif service == RS:
        token = jwt.encode(payload, Env.keys['rs'], algorithm='RS256')
    else:
        token = jwt.encode(payload, Env.keys['es'], algorithm='ES256')
    Env.tokens.append(token)
    return token


def token_element(token):
    return f"<token xmlns='{NS_JWT}'>{token}</token>"


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.env = Env.get()
        cls.server = cls.env.server
        cls.clients = []

    @classmethod
    def tearDownClass(cls):
        for c in cls.clients:
            c.close()

    def user(self, name, domain=None):
        u = MucUser(self.server, name, f'{name}-pw', domain=domain)
        type(self).clients.append(u)
        return u

    def guest(self):
        u = MucUser(self.server, None, anonymous=True, domain=self.server.guest_domain)
        type(self).clients.append(u)
        return u

    def assertRefused(self, client, r, token, etype='auth', condition='not-authorized'):
        if token is not None:
            Env.tokens.append(token)
        extra = token_element(token) if token is not None else ''
        with self.assertRaises(MucError) as ctx:
            client.join(r, f'n{next(_counter)}', extra=extra)
        self.assertEqual((ctx.exception.type, ctx.exception.condition), (etype, condition))
        return ctx.exception

    def conference_iq(self, client, r, token=None, service=HS):
        attr = f" token='{token}'" if token is not None else ''
        return client.iq(f"<iq type='set' to='{service}'><conference xmlns='{NS_FOCUS}' "
                         f"room='{r}' machine-uid='m1'{attr}/></iq>")


class Grants(Base):
    def test_moderator_token_lets_a_guest_create_and_own(self):
        for service in (HS, RS, ES):
            with self.subTest(service=service):
                g, r = self.guest(), room(service)
                _, own, _ = g.join(r, 'host', extra=token_element(
                    mint(claims(r, moderator=True), service)))
                self.assertEqual(codes(own), {110, 201})
                self.assertEqual((item(own)['affiliation'], item(own)['role']),
                                 ('owner', 'moderator'))

    def test_participant_token_joins_never_moderates_never_creates(self):
        alice, g, mallory = self.guest(), self.guest(), self.user('mallory', OTHER_DOMAIN)
        r = room()
        # No token, and a moderator:false one: a guest cannot start the room.
        self.assertRefused(g, r, None, 'cancel', 'not-allowed')
        self.assertRefused(g, r, mint(claims(r, moderator=False)), 'cancel', 'not-allowed')
        alice.join(r, 'host', extra=token_element(mint(claims(r, moderator=True))))
        # No moderator claim at all, and a plain `moderator: false` from a refused domain
        # (which a token lets in): participants, affiliation none.
        for who, payload in ((g, claims(r)), (mallory, dict(claims(r), moderator=False))):
            n = f'p{next(_counter)}'
            _, own, _ = who.join(r, n, extra=token_element(mint(payload)))
            self.assertEqual(codes(own), {110})
            self.assertEqual((item(own)['affiliation'], item(own)['role']),
                             ('none', 'participant'))
            # The host sees the newcomer's presence without its token element.
            seen = alice.next(predicate=lambda s: kind(s) == 'presence' and
                              str(s['from']) == f'{r}/{n}')
            self.assertIsNone(seen.xml.find('{%s}token' % NS_JWT))
        # Without a token, mallory's domain is still refused.
        mallory2 = self.user('mallory', OTHER_DOMAIN)
        self.assertRefused(mallory2, r, None, 'auth', 'forbidden')

    def test_participant_token_never_lowers_an_authenticated_user(self):
        alice, r = self.user('alice'), room()
        _, own, _ = alice.join(r, 'a', extra=token_element(mint(claims(r, moderator=False))))
        self.assertEqual(codes(own), {110, 201})
        self.assertEqual(item(own)['affiliation'], 'owner')

    def test_password_still_applies(self):
        alice, g, r = self.user('alice'), self.guest(), room()
        alice.join(r, 'a')
        form = ("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>"
                "http://jabber.org/protocol/muc#roomconfig</value></field>"
                "<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field>"
                "<field var='muc#roomconfig_roomsecret'><value>pw</value></field></x>")
        alice.iq(f"<iq type='set' to='{r}'><query "
                 f"xmlns='http://jabber.org/protocol/muc#owner'>{form}</query></iq>")
        token = mint(claims(r, moderator=True))
        self.assertRefused(g, r, token, 'auth', 'not-authorized')
        _, own, _ = g.join(r, 'g', password='pw', extra=token_element(token))
        self.assertEqual(item(own)['affiliation'], 'owner')


class Invalid(Base):
    def test_invalid_tokens_are_not_authorized(self):
        g = self.guest()
        r = room()
        now = int(time.time())
        good = claims(r, moderator=True)
        header = {'alg': 'HS256', 'typ': 'JWT'}
        forged = mint(good)
        forged = forged[:-4] + ('AAAA' if not forged.endswith('AAAA') else 'BBBB')
        cases = {
            'expired': mint(dict(good, exp=now - 5)),
            'not yet valid': mint(dict(good, nbf=now + 120)),
            'forged signature': forged,
            'alg none': raw_token({'alg': 'none', 'typ': 'JWT'}, good, signature=''),
            'alg none with a signature': raw_token({'alg': 'none', 'typ': 'JWT'}, good,
                                                   signature='c2ln'),
            'wrong room': mint(dict(good, room='someotherroom')),
            'wrong audience': mint(dict(good, aud='another-service')),
            'wrong issuer': mint(dict(good, iss='someone-else')),
            'oversize': mint(dict(good, padding='x' * 9000)),
            'malformed base64url': raw_token(header, good, SECRET).replace('.', '.*', 1),
            'padding in base64url': raw_token(header, good, SECRET) + '==',
            'validly signed, payload not base64url': signed_raw(
                b64url(json.dumps(header).encode()) + '.e30*', SECRET),
            'empty': '',
            'RS256 token at an HS256 focus': mint(good, RS),
        }
        for name, token in cases.items():
            with self.subTest(name):
                err = self.assertRefused(g, r, token)
                self.assertEqual(err.text, 'Invalid token')
        self.assertGreater(len(cases['oversize']), 8192)
        # Still nothing: the room was never created.
        self.assertRefused(g, r, None, 'cancel', 'not-allowed')

    def test_algorithm_confusion(self):
        """An HS256 token keyed with the RS256 public key (which anyone may hold) must
        never pass at an RS256 focus."""
        g, r = self.guest(), room(RS)
        token = raw_token({'alg': 'HS256', 'typ': 'JWT'}, claims(r, moderator=True),
                          Env.keys['rs_pub'])
        self.assertRefused(g, r, token)
        # ...while a real RS256 token works there.
        _, own, _ = g.join(r, 'g', extra=token_element(mint(claims(r, moderator=True), RS)))
        self.assertEqual(item(own)['affiliation'], 'owner')


class ConferenceIq(Base):
    def test_token_in_the_iq_then_a_plain_join(self):
        g, r = self.guest(), room()
        err = iq_error(self.conference_iq(g, r))
        self.assertEqual((err.type, err.condition), ('cancel', 'not-allowed'))
        for bad in (mint(dict(claims(r, moderator=True), exp=int(time.time()) - 5)),
                    mint(claims(room(), moderator=True))):
            err = iq_error(self.conference_iq(g, r, bad))
            self.assertEqual((err.type, err.condition), ('auth', 'not-authorized'))
        ok = self.conference_iq(g, r, mint(claims(r, moderator=True)))
        conf = ok.xml.find('{%s}conference' % NS_FOCUS)
        self.assertEqual((conf.get('ready'), conf.get('focusjid')), ('true', HS))
        _, own, _ = g.join(r, 'host')
        self.assertEqual(codes(own), {110, 201})
        self.assertEqual(item(own)['affiliation'], 'owner')
        # Another client without any token still is a plain guest.
        other = self.guest()
        _, own2, _ = other.join(r, 'other')
        self.assertEqual(item(own2)['affiliation'], 'none')

    def test_element_wins_over_remembered(self):
        alice, g, r = self.user('alice'), self.guest(), room()
        alice.join(r, 'a')
        self.conference_iq(g, r, mint(claims(r, moderator=True)))
        _, own, _ = g.join(r, 'g', extra=token_element(mint(claims(r, moderator=False))))
        self.assertEqual((item(own)['affiliation'], item(own)['role']), ('none', 'participant'))


class Expiry(Base):
    def test_warning_then_removal(self):
        alice, g, r = self.user('alice'), self.guest(), room()
        alice.join(r, 'a')
        start = time.monotonic()
        g.join(r, 'short', extra=token_element(mint(claims(r, lifetime=3))))
        warning = g.next(predicate=lambda s: kind(s) == 'message' and s['body'])
        self.assertLess(time.monotonic() - start, 2.0)
        self.assertEqual(str(warning['from']), r)
        self.assertIn('access token expires', warning['body'])
        gone = g.next(timeout=8, predicate=lambda s: kind(s) == 'presence' and
                      s['type'] == 'unavailable')
        elapsed = time.monotonic() - start
        self.assertGreater(elapsed, 1.5)
        self.assertLess(elapsed, 6.0)
        self.assertEqual(codes(gone), {307, 110})
        reason = gone.xml.find('.//{http://jabber.org/protocol/muc#user}reason')
        self.assertEqual(reason.text, 'Your access token expired')
        seen = alice.next(predicate=lambda s: kind(s) == 'presence' and
                          str(s['from']) == f'{r}/short' and s['type'] == 'unavailable')
        self.assertEqual(codes(seen), {307})


class Config(unittest.TestCase):
    """--check-config loads the key as the daemon would, and names the file, group and key."""

    def check(self, security):
        d = make_tempdir(prefix='conclave-jwt-config-')
        secret = write_private(os.path.join(d, 'secret'), 'component-secret\n')
        path = os.path.join(d, 'focus.conf')
        with open(path, 'w') as f:
            f.write(f'[xmpp]\ndomain = {HS}\nsecret_file = {secret}\n[security]\n{security}')
        r = subprocess.run([BINARIES['focus'], '--config', path, '--check-config'],
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stderr

    def test_keys(self):
        Env.get()
        d = make_tempdir(prefix='conclave-jwt-keys-')
        hs = write_private(os.path.join(d, 'hs'), SECRET.decode())
        short = write_private(os.path.join(d, 'short'), 'too short')
        pem = os.path.join(d, 'rs.pub')
        with open(pem, 'wb') as f:
            f.write(Env.keys['rs_pub'])
        good = {
            'HS256': f'jwt_algorithm = HS256\njwt_key_file = {hs}\n',
            'RS256': f'jwt_algorithm = RS256\njwt_key_file = {pem}\njwt_leeway_s = 0\n'
                     'jwt_expiry_action = remove\njwt_issuer = i\njwt_audience = a\n',
            'none': '',
        }
        for name, text in good.items():
            with self.subTest(name):
                self.assertEqual(self.check(text), (0, ''))
        bad = {
            f'jwt_key_file = {hs}\n': 'jwt_key_file',
            'jwt_algorithm = HS512\n': 'jwt_algorithm',
            'jwt_algorithm = none\n': 'jwt_algorithm',
            'jwt_algorithm = HS256\n': 'jwt_key_file',
            f'jwt_algorithm = HS256\njwt_key_file = {short}\n': 'jwt_key_file',
            f'jwt_algorithm = HS256\njwt_key_file = {pem}\n': 'jwt_key_file',
            f'jwt_algorithm = ES256\njwt_key_file = {pem}\n': 'jwt_key_file',
            f'jwt_algorithm = RS256\njwt_key_file = {d}/missing\n': 'jwt_key_file',
            'jwt_leeway_s = 301\n': 'jwt_leeway_s',
            'jwt_expiry_action = kick\n': 'jwt_expiry_action',
        }
        for text, key in bad.items():
            with self.subTest(text):
                status, err = self.check(text)
                self.assertEqual(status, 2, err)
                self.assertIn(f'focus.conf: [security] {key}: ', err)


class ZLog(Base):
    def test_no_token_in_the_log(self):
        self.assertGreater(len(Env.tokens), 15)
        for daemon in Env.daemons.values():
            text = daemon.log_text()
            self.assertIn('token refused', ''.join(Env.daemons[HS].log_text()))
            for token in Env.tokens:
                for part in [p for p in [token] + token.split('.') if len(p) > 12]:
                    self.assertNotIn(part, text)
            self.assertNotIn('jwtroom', text)

    def test_zz_clean_exit(self):
        for daemon in Env.daemons.values():
            self.assertEqual(daemon.stop(), 0)
            self.assertEqual(daemon.sanitizer_reports(), [], daemon.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(Grants, Invalid, ConferenceIq, Expiry, Config, ZLog)
