"""The MUC service of conclave-focus against a real XMPP server, with slixmpp clients.
The same scenarios run against Prosody (test_muc_prosody.py) and ejabberd
(test_muc_ejabberd.py): `build(server_class, label)` returns the TestCase classes.

Every room name and nickname used is recorded; the last class checks that none of them, nor
any user's JID, appears in the focus's log or metrics."""

import itertools
import re
import time
import unittest

from conclave_daemons import Daemon
from muc_client import (NS_ADMIN, NS_OWNER, MucError, MucUser, codes, config_form,
                        form_values, iq_error, item, kind, occupant_id)

SERVICE = 'conference.localhost'
LIMITED = 'limited.localhost'
OTHER_DOMAIN = 'other.localhost'
USERS = ['alice', 'bob', 'carol', 'dave', 'eve', 'frank']
FOCUS_CONFIG = """
[security]
authenticated_domains = localhost
guest_domains = guest.localhost
password_failures_per_jid = 3
password_failures_per_room = 6
failure_window_s = 120
lockout_s = 30
lockout_max_s = 120
[muc]
max_stanzas_per_second = 500
"""
LIMITED_CONFIG = """
[security]
authenticated_domains = localhost
guest_domains = guest.localhost
[muc]
max_rooms = 2
max_occupants = 3
max_nick_length = 8
max_room_name_length = 20
max_stanzas_per_second = 5
"""

_counter = itertools.count(1)


class Env:
    """One server, two focus daemons (normal and tightly limited), registered users."""
    server = None
    focus = None
    limited = None
    names = set()   # room names and nicks that must never reach logs or metrics

    @classmethod
    def get(cls, server_class):
        if cls.server is None:
            cls.server = server_class(components={SERVICE: 'focus-secret',
                                                  LIMITED: 'limited-secret'},
                                      extra_domains=[OTHER_DOMAIN])
            cls.server.start()
            for u in USERS:
                cls.server.register(u, f'{u}-pw')
            cls.server.register('mallory', 'mallory-pw', domain=OTHER_DOMAIN)
            cls.focus = Daemon('focus', SERVICE, 'focus-secret',
                               cls.server.component_port_for(SERVICE),
                               extra=FOCUS_CONFIG).start()
            cls.limited = Daemon('focus', LIMITED, 'limited-secret',
                                 cls.server.component_port_for(LIMITED),
                                 extra=LIMITED_CONFIG).start()
            cls.focus.wait_health(200)
            cls.limited.wait_health(200)
        return cls


def room(label, service=SERVICE):
    name = f'secretroom{next(_counter)}{label}'
    Env.names.add(name)
    return f'{name}@{service}'


def nick(base):
    n = f'{base}_{next(_counter)}_nk'
    Env.names.add(n)
    return n


def metric(daemon, name):
    total = 0
    for line in daemon.metrics().splitlines():
        if line.startswith(name + ' ') or line.startswith(name + '{'):
            total += int(line.rsplit(' ', 1)[1])
    return total


def build(server_class, label):
    class Base(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            cls.env = Env.get(server_class)
            cls.server = cls.env.server
            cls.users = []

        @classmethod
        def tearDownClass(cls):
            for u in cls.users:
                u.close()

        def user(self, name, domain=None):
            u = MucUser(self.server, name, f'{name}-pw', domain=domain)
            type(self).users.append(u)
            return u

        def guest(self):
            u = MucUser(self.server, None, anonymous=True, domain=self.server.guest_domain)
            type(self).users.append(u)
            return u

        def assertError(self, error, etype, condition):
            self.assertEqual((error.type, error.condition), (etype, condition), str(error))

    class Join(Base):
        def test_create_join_order_and_occupant_ids(self):
            alice, bob = self.user('alice'), self.user('bob')
            r, na, nb = room(label), nick('Alice'), nick('Bob')
            others, own, subject = alice.join(r, na)
            self.assertEqual(others, [])
            self.assertEqual(codes(own), {110, 201})
            self.assertEqual(item(own)['affiliation'], 'owner')
            self.assertEqual(item(own)['role'], 'moderator')
            self.assertIsNotNone(occupant_id(own))
            self.assertIsNone(subject.xml.find('{jabber:client}subject').text)
            others, own_b, subject = bob.join(r, nb)
            # Others first, in order, then self (110, no 201), then the subject.
            self.assertEqual([str(s['from']) for s in others], [f'{r}/{na}'])
            self.assertEqual(codes(own_b), {110})
            self.assertEqual(item(own_b)['affiliation'], 'none')
            self.assertEqual(item(own_b)['role'], 'participant')
            self.assertEqual(occupant_id(others[0]), occupant_id(own))
            self.assertNotEqual(occupant_id(own_b), occupant_id(own))
            # Semi-anonymous: bob does not see alice's real JID; alice (moderator) sees bob's.
            self.assertNotIn('jid', item(others[0]))
            seen = alice.next(predicate=lambda s: str(s['from']) == f'{r}/{nb}')
            self.assertEqual(codes(seen), set())
            self.assertEqual(item(seen)['jid'], str(bob.jid))
            self.assertEqual(occupant_id(seen), occupant_id(own_b))

        def test_presence_update_and_nick_change(self):
            alice, bob = self.user('alice'), self.user('bob')
            r, na, nb, nb2 = room(label), nick('A'), nick('B'), nick('B')
            alice.join(r, na)
            bob.join(r, nb)
            alice.drain()
            bob.send(f"<presence to='{r}/{nb}'><show>away</show><status>lunch</status></presence>")
            p = alice.next(predicate=lambda s: str(s['from']) == f'{r}/{nb}' and
                           s['status'] == 'lunch')
            self.assertEqual(p['show'], 'away')
            # Nick change: unavailable with 303 and the new nick, then available as new.
            bob.drain()
            bob.send(f"<presence to='{r}/{nb2}'/>")
            gone = alice.next(predicate=lambda s: str(s['from']) == f'{r}/{nb}' and
                              s['type'] == 'unavailable')
            self.assertEqual(gone['type'], 'unavailable')
            self.assertEqual(codes(gone), {303})
            self.assertEqual(item(gone)['nick'], nb2)
            back = alice.next(predicate=lambda s: str(s['from']) == f'{r}/{nb2}')
            self.assertEqual(back['type'], 'available')
            self.assertEqual(occupant_id(back), occupant_id(gone))
            own_gone = bob.next(predicate=lambda s: str(s['from']) == f'{r}/{nb}' and
                                s['type'] == 'unavailable')
            self.assertEqual(codes(own_gone), {303, 110})
            # Taken nick: conflict.
            bob.send(f"<presence to='{r}/{na}'/>")
            self.assertError(bob.wait_error(), 'cancel', 'conflict')

        def test_nick_conflict_on_join(self):
            alice, bob = self.user('alice'), self.user('bob')
            r, n = room(label), nick('Same')
            alice.join(r, n)
            with self.assertRaises(MucError) as ctx:
                bob.join(r, n)
            self.assertError(ctx.exception, 'cancel', 'conflict')

        def test_join_again_from_inside_gets_the_room_again(self):
            """A client that lost the room's state (it reconnected with the same full JID
            before the focus noticed, after an XMPP server restart) joins again: it gets the
            others' presences, its own with 110 and the subject again; the others see a
            presence update, not a leave and a join."""
            alice, bob = self.user('alice'), self.user('bob')
            r, na, nb = room(label), nick('A'), nick('B')
            alice.join(r, na)
            bob.join(r, nb)
            alice.drain()
            others, own, subject = bob.join(r, nb)
            self.assertEqual([s['from'].resource for s in others], [na])
            self.assertIn(110, codes(own))
            self.assertIsNotNone(subject)
            update = alice.next(predicate=lambda s: kind(s) == 'presence' and
                                s['from'].resource == nb)
            self.assertEqual(update['type'], 'available')
            self.assertNotIn(110, codes(update))
            alice.expect_none(lambda s: kind(s) == 'presence' and s['type'] == 'unavailable',
                              f'{r}/{na}')

        def test_ephemeral_recreation(self):
            alice = self.user('alice')
            r, n = room(label), nick('A')
            _, first, _ = alice.join(r, n)
            reply = alice.iq(f"<iq type='get' to='{r}'><query "
                             f"xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            meeting1 = form_values(reply)['muc#roominfo_meetingId']
            alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>" +
                     config_form({'passwordprotectedroom': 1, 'roomsecret': 'pw1',
                                  'roomname': 'Old'}) + "</query></iq>")
            alice.leave(r, n)
            # Gone: disco says so.
            reply = alice.iq(f"<iq type='get' to='{r}'><query "
                             f"xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            self.assertError(iq_error(reply), 'cancel', 'item-not-found')
            # Same name again: a new room (201), no password, new ids.
            _, second, _ = alice.join(r, n)
            self.assertIn(201, codes(second))
            self.assertNotEqual(occupant_id(second), occupant_id(first))
            reply = alice.iq(f"<iq type='get' to='{r}'><query "
                             f"xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            self.assertNotEqual(form_values(reply)['muc#roominfo_meetingId'], meeting1)
            features = {f.get('var') for f in reply.xml.iter(
                '{http://jabber.org/protocol/disco#info}feature')}
            self.assertIn('muc_unsecured', features)

        def test_self_ping(self):
            alice, bob = self.user('alice'), self.user('bob')
            r, n = room(label), nick('A')
            alice.join(r, n)
            ok = alice.iq(f"<iq type='get' to='{r}/{n}'><ping xmlns='urn:xmpp:ping'/></iq>")
            self.assertEqual(ok['type'], 'result')
            err = bob.iq(f"<iq type='get' to='{r}/{n}'><ping xmlns='urn:xmpp:ping'/></iq>")
            self.assertError(iq_error(err), 'cancel', 'not-acceptable')

    class Messages(Base):
        def test_groupchat_keeps_id_and_occupant_id(self):
            alice, bob = self.user('alice'), self.user('bob')
            r, na, nb = room(label), nick('A'), nick('B')
            alice.join(r, na)
            _, own_b, _ = bob.join(r, nb)
            alice.drain()
            bob.drain()
            bob.say(r, 'hello room', msg_id='stable-1',
                    extra="<occupant-id xmlns='urn:xmpp:occupant-id:0' id='forged'/>")
            for u in (alice, bob):
                m = u.next(predicate=lambda s: kind(s) == 'message' and s['body'] == 'hello room')
                self.assertEqual(m['type'], 'groupchat')
                self.assertEqual(m['id'], 'stable-1')
                self.assertEqual(str(m['from']), f'{r}/{nb}')
                self.assertEqual(occupant_id(m), occupant_id(own_b))

        def test_private_messages(self):
            alice, bob, carol = self.user('alice'), self.user('bob'), self.user('carol')
            r, na, nb = room(label), nick('A'), nick('B')
            alice.join(r, na)
            bob.join(r, nb)
            alice.send(f"<message to='{r}/{nb}' type='chat' id='pm1'><body>psst</body></message>")
            m = bob.next(predicate=lambda s: kind(s) == 'message' and s['body'] == 'psst')
            self.assertEqual(str(m['from']), f'{r}/{na}')
            self.assertEqual(m['id'], 'pm1')
            self.assertIsNotNone(m.xml.find('{http://jabber.org/protocol/muc#user}x'))
            alice.send(f"<message to='{r}/nobody-here' type='chat'><body>x</body></message>")
            self.assertError(alice.wait_error(), 'cancel', 'item-not-found')
            # Not in the room: not-acceptable, for groupchat and private alike.
            carol.say(r, 'let me in')
            self.assertError(carol.wait_error(), 'modify', 'not-acceptable')
            carol.send(f"<message to='{r}/{na}' type='chat'><body>hi</body></message>")
            self.assertError(carol.wait_error(), 'modify', 'not-acceptable')

        def test_private_iqs_are_routed(self):
            # XEP-0045 private IQs: to room/nick, delivered to that occupant's client as if
            # from the sender's occupant address; the answer comes back the same way.
            alice, bob, carol = self.user('alice'), self.user('bob'), self.user('carol')
            r, na, nb = room(label), nick('A'), nick('B')
            alice.join(r, na)
            bob.join(r, nb)
            reply = alice.iq(f"<iq type='get' to='{r}/{nb}' id='route1'>"
                             f"<ping xmlns='urn:xmpp:ping'/></iq>")
            self.assertEqual(reply['type'], 'result')
            self.assertEqual(str(reply['from']), f'{r}/{nb}')
            self.assertEqual(reply['id'], 'route1')
            reply = alice.iq(f"<iq type='get' to='{r}/{nb}'>"
                             f"<query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            self.assertEqual(reply['type'], 'result')
            self.assertEqual(str(reply['from']), f'{r}/{nb}')
            # The recipient's client answers what it does not know: the error comes back too.
            reply = alice.iq(f"<iq type='get' to='{r}/{nb}'><unknown xmlns='urn:example:x'/>"
                             f"</iq>")
            self.assertEqual(reply['type'], 'error')
            self.assertEqual(str(reply['from']), f'{r}/{nb}')
            self.assertError(iq_error(alice.iq(
                f"<iq type='get' to='{r}/nobody-here'><ping xmlns='urn:xmpp:ping'/></iq>")),
                'cancel', 'item-not-found')
            # Not in the room: refused, and nothing reaches the occupant.
            self.assertError(iq_error(carol.iq(
                f"<iq type='get' to='{r}/{na}'><ping xmlns='urn:xmpp:ping'/></iq>")),
                'cancel', 'not-acceptable')
            # The focus is the service's, never routed to a client.
            reply = alice.iq(f"<iq type='get' to='{r}/focus'><ping xmlns='urn:xmpp:ping'/></iq>")
            self.assertEqual(reply['type'], 'error')

        def test_subject(self):
            alice, bob, carol = self.user('alice'), self.user('bob'), self.user('carol')
            r, na, nb, nc = room(label), nick('A'), nick('B'), nick('C')
            alice.join(r, na)
            bob.join(r, nb)
            bob.send(f"<message to='{r}' type='groupchat'><subject>mine</subject></message>")
            self.assertError(bob.wait_error(), 'auth', 'forbidden')
            alice.send(f"<message to='{r}' type='groupchat'><subject>Agenda</subject></message>")
            m = bob.next(predicate=lambda s: kind(s) == 'message' and s['subject'] == 'Agenda')
            self.assertEqual(str(m['from']), f'{r}/{na}')
            _, _, subject = carol.join(r, nc)
            self.assertEqual(subject['subject'], 'Agenda')

    class Passwords(Base):
        def set_config(self, owner, r, fields):
            reply = owner.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                             + config_form(fields) + "</query></iq>")
            self.assertEqual(reply['type'], 'result', str(reply))

        def test_set_wrong_right_removed(self):
            alice, bob, carol = self.user('alice'), self.user('bob'), self.user('carol')
            r, na, nb, nc = room(label), nick('A'), nick('B'), nick('C')
            alice.join(r, na)
            carol.join(r, nc)
            carol.drain()
            self.set_config(alice, r, {'passwordprotectedroom': 1, 'roomsecret': 's3cret pw'})
            note = carol.next(predicate=lambda s: kind(s) == 'message' and 104 in codes(s))
            self.assertEqual(str(note['from']), r)
            for attempt in (None, 'wrong'):
                with self.assertRaises(MucError) as ctx:
                    bob.join(r, nb, password=attempt)
                self.assertError(ctx.exception, 'auth', 'not-authorized')
            bob.join(r, nb, password='s3cret pw')
            reply = bob.iq(f"<iq type='get' to='{r}'><query "
                           f"xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            features = {f.get('var') for f in reply.xml.iter(
                '{http://jabber.org/protocol/disco#info}feature')}
            self.assertIn('muc_passwordprotected', features)
            # The owner form shows the state; a non-owner may not read it.
            form = form_values(alice.iq(f"<iq type='get' to='{r}'><query xmlns='{NS_OWNER}'/></iq>"))
            self.assertEqual(form['muc#roomconfig_passwordprotectedroom'], '1')
            self.assertError(iq_error(bob.iq(
                f"<iq type='get' to='{r}'><query xmlns='{NS_OWNER}'/></iq>")), 'auth', 'forbidden')
            # Removed: 104 again, and anyone may join.
            carol.drain()
            self.set_config(alice, r, {'passwordprotectedroom': 0})
            carol.next(predicate=lambda s: kind(s) == 'message' and 104 in codes(s))
            self.user('dave').join(r, nick('D'))

        def test_password_needs_secret(self):
            alice = self.user('alice')
            r, na = room(label), nick('A')
            alice.join(r, na)
            reply = alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                             + config_form({'passwordprotectedroom': 1}) + "</query></iq>")
            self.assertError(iq_error(reply), 'modify', 'not-acceptable')
            reply = alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                             + config_form({'persistentroom': 1}) + "</query></iq>")
            self.assertError(iq_error(reply), 'modify', 'not-acceptable')

        def test_lockout_same_shape(self):
            alice, eve, frank = self.user('alice'), self.user('eve'), self.user('frank')
            r, na = room(label), nick('A')
            alice.join(r, na)
            self.set_config(alice, r, {'passwordprotectedroom': 1, 'roomsecret': 'right'})
            before = metric(Env.focus, 'conclave_muc_lockouts_total')
            shapes = set()
            for i in range(3):
                with self.assertRaises(MucError) as ctx:
                    eve.join(r, nick('E'), password=f'guess{i}')
                shapes.add((ctx.exception.type, ctx.exception.condition, ctx.exception.text))
            # Locked: the right password fails too, and so does any other room, existing
            # or not, protected or not, with the very same error.
            open_room, open_nick = room(label), nick('F')
            frank.join(open_room, open_nick)
            for target, pw in ((r, 'right'), (room(label), None), (open_room, None)):
                with self.assertRaises(MucError) as ctx:
                    eve.join(target, nick('E'), password=pw)
                shapes.add((ctx.exception.type, ctx.exception.condition, ctx.exception.text))
            self.assertEqual(shapes, {('auth', 'not-authorized', None)})
            self.assertEqual(metric(Env.focus, 'conclave_muc_lockouts_total'), before + 1)
            # Others are not locked out.
            frank.join(r, nick('F'), password='right')

        def test_room_lockout(self):
            """Guessing from many JIDs locks the room itself (per-room threshold 6)."""
            alice = self.user('alice')
            r, na = room(label), nick('A')
            alice.join(r, na)
            self.set_config(alice, r, {'passwordprotectedroom': 1, 'roomsecret': 'right'})
            guests = [self.guest() for _ in range(3)]
            for g in guests:
                for i in range(2):
                    with self.assertRaises(MucError):
                        g.join(r, nick('G'), password=f'no{i}')
            with self.assertRaises(MucError) as ctx:
                self.user('bob').join(r, nick('B'), password='right')
            self.assertError(ctx.exception, 'auth', 'not-authorized')

    class Moderation(Base):
        def setup_room(self):
            alice, bob, carol = self.user('alice'), self.user('bob'), self.user('carol')
            r, na, nb, nc = room(label), nick('A'), nick('B'), nick('C')
            alice.join(r, na)
            bob.join(r, nb)
            carol.join(r, nc)
            for u in (alice, bob, carol):
                u.drain()
            return r, (alice, na), (bob, nb), (carol, nc)

        def admin(self, actor, r, item_xml):
            return actor.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_ADMIN}'>{item_xml}"
                            f"</query></iq>")

        def test_kick(self):
            r, (alice, na), (bob, nb), (carol, nc) = self.setup_room()
            # A participant may not kick.
            err = iq_error(self.admin(carol, r, f"<item nick='{nb}' role='none'/>"))
            self.assertError(err, 'auth', 'forbidden')
            reply = self.admin(alice, r, f"<item nick='{nb}' role='none'><reason>spam</reason></item>")
            self.assertEqual(reply['type'], 'result')
            own = bob.next(predicate=lambda s: kind(s) == 'presence' and s['type'] == 'unavailable')
            self.assertEqual(codes(own), {307, 110})
            seen = carol.next(predicate=lambda s: str(s['from']) == f'{r}/{nb}' and
                              s['type'] == 'unavailable')
            self.assertEqual(codes(seen), {307})
            x_item = seen.xml.find('.//{http://jabber.org/protocol/muc#user}item')
            self.assertEqual(x_item.find('{http://jabber.org/protocol/muc#user}reason').text, 'spam')
            self.assertEqual(x_item.find('{http://jabber.org/protocol/muc#user}actor').get('nick'), na)
            # Unknown nick; kicking oneself.
            self.assertError(iq_error(self.admin(alice, r, "<item nick='ghost' role='none'/>")),
                             'cancel', 'item-not-found')
            self.assertError(iq_error(self.admin(alice, r, f"<item nick='{na}' role='none'/>")),
                             'cancel', 'conflict')

        def test_moderator_grant_and_limits(self):
            r, (alice, na), (bob, nb), (carol, nc) = self.setup_room()
            reply = self.admin(alice, r, f"<item nick='{nc}' role='moderator'/>")
            self.assertEqual(reply['type'], 'result')
            p = bob.next(predicate=lambda s: str(s['from']) == f'{r}/{nc}' and
                         item(s).get('role') == 'moderator')
            self.assertEqual(item(p)['affiliation'], 'none')
            # A moderator who is not an admin may not grant moderator, nor kick the owner.
            self.assertError(iq_error(self.admin(carol, r, f"<item nick='{nb}' role='moderator'/>")),
                             'auth', 'forbidden')
            self.assertError(iq_error(self.admin(carol, r, f"<item nick='{na}' role='none'/>")),
                             'cancel', 'not-allowed')
            # Revoke again.
            self.assertEqual(self.admin(alice, r, f"<item nick='{nc}' role='participant'/>")['type'],
                             'result')

        def test_voice_in_moderated_room(self):
            r, (alice, na), (bob, nb), (carol, nc) = self.setup_room()
            reply = alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                             + config_form({'moderatedroom': 1}) + "</query></iq>")
            self.assertEqual(reply['type'], 'result')
            self.assertEqual(self.admin(alice, r, f"<item nick='{nb}' role='visitor'/>")['type'],
                             'result')
            bob.drain()
            bob.say(r, 'can I talk?')
            self.assertError(bob.wait_error(), 'auth', 'forbidden')
            self.assertEqual(self.admin(alice, r, f"<item nick='{nb}' role='participant'/>")['type'],
                             'result')
            bob.say(r, 'now I can')
            carol.next(predicate=lambda s: kind(s) == 'message' and s['body'] == 'now I can')

        def test_ban_and_lists(self):
            r, (alice, na), (bob, nb), (carol, nc) = self.setup_room()
            bare_b = bob.jid.split('/')[0]
            self.assertError(iq_error(self.admin(carol, r, f"<item jid='{bare_b}' affiliation='outcast'/>")),
                             'auth', 'forbidden')
            reply = self.admin(alice, r, f"<item jid='{bare_b}' affiliation='outcast'/>")
            self.assertEqual(reply['type'], 'result')
            own = bob.next(predicate=lambda s: kind(s) == 'presence' and s['type'] == 'unavailable')
            self.assertEqual(codes(own), {301, 110})
            seen = carol.next(predicate=lambda s: str(s['from']) == f'{r}/{nb}' and
                              s['type'] == 'unavailable')
            self.assertEqual(codes(seen), {301})
            with self.assertRaises(MucError) as ctx:
                bob.join(r, nick('B'))
            self.assertError(ctx.exception, 'auth', 'forbidden')
            # The ban list: owners and admins only.
            lst = alice.iq(f"<iq type='get' to='{r}'><query xmlns='{NS_ADMIN}'>"
                           f"<item affiliation='outcast'/></query></iq>")
            jids = [i.get('jid') for i in lst.xml.iter('{%s}item' % NS_ADMIN)]
            self.assertEqual(jids, [bare_b.lower()])
            self.assertError(iq_error(carol.iq(f"<iq type='get' to='{r}'><query xmlns='{NS_ADMIN}'>"
                                               f"<item affiliation='member'/></query></iq>")),
                             'auth', 'forbidden')
            mods = alice.iq(f"<iq type='get' to='{r}'><query xmlns='{NS_ADMIN}'>"
                            f"<item role='moderator'/></query></iq>")
            self.assertEqual([i.get('nick') for i in mods.xml.iter('{%s}item' % NS_ADMIN)], [na])
            # The last owner cannot leave ownership.
            bare_a = alice.jid.split('/')[0]
            self.assertError(iq_error(self.admin(alice, r, f"<item jid='{bare_a}' affiliation='member'/>")),
                             'cancel', 'conflict')

        def test_members_only(self):
            r, (alice, na), (bob, nb), (carol, nc) = self.setup_room()
            reply = self.admin(alice, r, f"<item jid='{carol.jid.split('/')[0]}' affiliation='member'/>")
            self.assertEqual(reply['type'], 'result')
            reply = alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                             + config_form({'membersonly': 1}) + "</query></iq>")
            self.assertEqual(reply['type'], 'result')
            # bob (no affiliation) is removed with 322; carol (member) stays.
            own = bob.next(predicate=lambda s: kind(s) == 'presence' and s['type'] == 'unavailable')
            self.assertEqual(codes(own), {322, 110})
            with self.assertRaises(MucError) as ctx:
                bob.join(r, nick('B'))
            self.assertError(ctx.exception, 'auth', 'registration-required')
            self.user('dave')  # a fresh connection is not a member either
            reply = self.admin(alice, r, f"<item jid='{bob.jid.split('/')[0]}' affiliation='member'/>")
            self.assertEqual(reply['type'], 'result')
            bob.join(r, nick('B'))

        def test_destroy(self):
            r, (alice, na), (bob, nb), (carol, nc) = self.setup_room()
            err = iq_error(bob.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                                  f"<destroy/></query></iq>"))
            self.assertError(err, 'auth', 'forbidden')
            reply = alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                             f"<destroy jid='elsewhere@{SERVICE}'><reason>moving</reason>"
                             f"</destroy></query></iq>")
            self.assertEqual(reply['type'], 'result')
            for u in (alice, bob, carol):
                p = u.next(predicate=lambda s: kind(s) == 'presence' and s['type'] == 'unavailable'
                           and 110 in codes(s))
                d = p.xml.find('.//{http://jabber.org/protocol/muc#user}destroy')
                self.assertIsNotNone(d.find('{http://jabber.org/protocol/muc#user}reason'), str(p))
                self.assertEqual(d.get('jid'), f'elsewhere@{SERVICE}')
                self.assertEqual(d.find('{http://jabber.org/protocol/muc#user}reason').text, 'moving')
            err = iq_error(alice.iq(f"<iq type='get' to='{r}'><query "
                                    f"xmlns='http://jabber.org/protocol/disco#info'/></iq>"))
            self.assertError(err, 'cancel', 'item-not-found')

    class Access(Base):
        def test_guest_cannot_create(self):
            g = self.guest()
            r = room(label)
            with self.assertRaises(MucError) as ctx:
                g.join(r, nick('G'))
            self.assertError(ctx.exception, 'cancel', 'not-allowed')
            self.assertIn('host', ctx.exception.text)
            err = iq_error(g.iq(f"<iq type='set' to='{SERVICE}'><conference "
                                f"xmlns='http://jitsi.org/protocol/focus' room='{r}'/></iq>"))
            self.assertError(err, 'cancel', 'not-allowed')
            # Once a host is there, the guest gets in.
            alice = self.user('alice')
            ok = alice.iq(f"<iq type='set' to='{SERVICE}'><conference "
                          f"xmlns='http://jitsi.org/protocol/focus' room='{r}' machine-uid='m1'/></iq>")
            conf = ok.xml.find('{http://jitsi.org/protocol/focus}conference')
            self.assertEqual((conf.get('ready'), conf.get('focusjid')), ('true', SERVICE))
            alice.join(r, nick('A'))
            _, own, _ = g.join(r, nick('G'))
            self.assertEqual(item(own)['role'], 'participant')
            ok = g.iq(f"<iq type='set' to='{SERVICE}'><conference "
                      f"xmlns='http://jitsi.org/protocol/focus' room='{r}'/></iq>")
            self.assertEqual(ok['type'], 'result')

        def test_other_domains_refused(self):
            mallory = self.user('mallory', domain=OTHER_DOMAIN)
            alice = self.user('alice')
            r = room(label)
            alice.join(r, nick('A'))
            for target in (r, room(label)):
                with self.assertRaises(MucError) as ctx:
                    mallory.join(target, nick('M'))
                self.assertError(ctx.exception, 'auth', 'forbidden')

        def test_disco(self):
            alice = self.user('alice')
            info = alice.client.disco_info(SERVICE)
            self.assertIn(('conference', 'text', None, 'Conclave conferences'), info.identities)
            for f in ('http://jabber.org/protocol/muc', 'urn:xmpp:occupant-id:0',
                      'http://jabber.org/protocol/muc#stable_id', 'urn:xmpp:ping'):
                self.assertIn(f, info.features)
            r = room(label)
            alice.join(r, nick('A'))
            self.assertEqual(alice.client.disco_items(SERVICE), [])
            reply = alice.iq(f"<iq type='get' to='{r}'><query "
                             f"xmlns='http://jabber.org/protocol/disco#info'/></iq>")
            features = {f.get('var') for f in reply.xml.iter(
                '{http://jabber.org/protocol/disco#info}feature')}
            for f in ('muc_unsecured', 'muc_temporary', 'muc_open', 'muc_semianonymous',
                      'muc_unmoderated', 'urn:xmpp:occupant-id:0',
                      'http://jabber.org/protocol/muc#stable_id'):
                self.assertIn(f, features)
            self.assertEqual(form_values(reply)['muc#roominfo_occupants'], '1')
            err = iq_error(alice.iq(f"<iq type='get' to='{r}'><query xmlns='urn:example:x'/></iq>"))
            self.assertError(err, 'cancel', 'service-unavailable')

    class Malformed(Base):
        def test_malformed_input(self):
            alice = self.user('alice')
            r, na = room(label), nick('A')
            alice.join(r, na)
            alice.send(f"<presence to='{r}'/>")  # no nickname
            self.assertError(alice.wait_error(), 'modify', 'jid-malformed')
            alice.send(f"<presence to='{r}/{na}' type='subscribe'/>")
            self.assertError(alice.wait_error(), 'modify', 'bad-request')
            for body in ("", "<item/>", "<item nick='x' role='emperor'/>",
                         "<item jid='not a jid' affiliation='member'/>"):
                err = iq_error(alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_ADMIN}'>"
                                        f"{body}</query></iq>"))
                self.assertIn(err.condition, ('bad-request', 'jid-malformed'), body)
            err = iq_error(alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                                    f"<x xmlns='jabber:x:data' type='result'/></query></iq>"))
            self.assertError(err, 'modify', 'bad-request')
            err = iq_error(alice.iq(f"<iq type='set' to='{r}'><query xmlns='{NS_OWNER}'>"
                                    + config_form({'maxusers': 'lots'}) + "</query></iq>"))
            self.assertError(err, 'modify', 'not-acceptable')
            err = iq_error(alice.iq(f"<iq type='get' to='nowhere{next(_counter)}@{SERVICE}'>"
                                    f"<query xmlns='{NS_ADMIN}'><item affiliation='owner'/>"
                                    f"</query></iq>"))
            self.assertError(err, 'cancel', 'item-not-found')
            alice.send(f"<message to='{SERVICE}' type='chat'><body>hi</body></message>")
            self.assertError(alice.wait_error(), 'cancel', 'service-unavailable')
            # Still alive and well.
            self.assertLess(alice.client.ping(SERVICE), 5)
            alice.say(r, 'still here')
            alice.next(predicate=lambda s: kind(s) == 'message' and s['body'] == 'still here')

    class Limits(Base):
        def test_limits(self):
            alice, bob, carol, dave = (self.user(n) for n in ('alice', 'bob', 'carol', 'dave'))
            r1 = room('l', LIMITED)
            with self.assertRaises(MucError) as ctx:
                alice.join(r1, 'waytoolongnick')
            self.assertError(ctx.exception, 'modify', 'not-acceptable')
            with self.assertRaises(MucError) as ctx:
                alice.join(f'{"x" * 21}@{LIMITED}', 'a')
            self.assertError(ctx.exception, 'modify', 'not-acceptable')
            alice.join(r1, 'a1')
            bob.join(r1, 'b1')
            carol.join(r1, 'c1')
            with self.assertRaises(MucError) as ctx:
                dave.join(r1, 'd1')
            self.assertError(ctx.exception, 'wait', 'service-unavailable')
            r2, r3 = room('l', LIMITED), room('l', LIMITED)
            dave.join(r2, 'd1')
            with self.assertRaises(MucError) as ctx:
                dave.join(r3, 'd1')
            self.assertError(ctx.exception, 'wait', 'resource-constraint')
            # Rate: 5/s sustained, bursts of 10; 30 at once must meet refusals.
            alice.drain()
            for i in range(30):
                alice.say(r1, f'flood {i}')
            time.sleep(1.0)
            got = alice.drain()
            errors = [s for s in got if s['type'] == 'error']
            relayed = [s for s in got if kind(s) == 'message' and s['type'] == 'groupchat']
            self.assertGreater(len(errors), 0)
            self.assertGreater(len(relayed), 0)
            self.assertEqual(MucError(errors[0]).condition, 'resource-constraint')
            self.assertGreater(metric(Env.limited, 'conclave_muc_refusals_total{reason="rate_limited"}'), 0)
            self.assertEqual(metric(Env.limited, 'conclave_muc_rooms'), 2)

    class ZPrivacy(Base):
        """Runs last: nothing in the focus's log or metrics names a room, a nick or a user."""

        def test_no_names_in_logs_or_metrics(self):
            self.assertGreater(len(Env.names), 20)
            for daemon in (Env.focus, Env.limited):
                text = daemon.log_text() + daemon.metrics()
                self.assertIn('room r:', text)  # rooms are logged, by tag
                leaked = sorted(n for n in Env.names if n.lower() in text.lower())
                self.assertEqual(leaked, [])
                for u in USERS + ['mallory']:
                    self.assertNotRegex(text, re.compile(rf'\b{u}@', re.I))
                self.assertEqual(daemon.sanitizer_reports(), [])

        def test_zz_clean_exit(self):
            for daemon in (Env.focus, Env.limited):
                self.assertEqual(daemon.stop(), 0)
                self.assertEqual(daemon.sanitizer_reports(), [], daemon.log_text()[-3000:])

    return [Join, Messages, Passwords, Moderation, Access, Malformed, Limits, ZPrivacy]
