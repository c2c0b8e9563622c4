"""A MUC test client on top of the harness's slixmpp Client: raw stanzas in, arrival
order kept across presences and messages, and small readers for the XEP-0045 details tests
assert on (status codes, items, occupant-ids, errors)."""

import itertools
import xml.etree.ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher.base import MatcherBase

from conclave_harness.xmpp_client import Client, _StanzaQueue

NS_MUC = 'http://jabber.org/protocol/muc'
NS_USER = 'http://jabber.org/protocol/muc#user'
NS_ADMIN = 'http://jabber.org/protocol/muc#admin'
NS_OWNER = 'http://jabber.org/protocol/muc#owner'
NS_OID = 'urn:xmpp:occupant-id:0'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_DATA = 'jabber:x:data'
C = '{jabber:client}'

_ids = itertools.count(1)


def esc(text):
    return (text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace("'", '&apos;').replace('"', '&quot;'))


class _MatchPresenceOrMessage(MatcherBase):
    def __init__(self):
        super().__init__(None)

    def match(self, stanza):
        return stanza.tag in (C + 'presence', C + 'message')


class MucError(Exception):
    def __init__(self, stanza):
        self.stanza = stanza
        err = stanza.xml.find(C + 'error')
        self.type = err.get('type') if err is not None else None
        self.condition = None
        self.text = None
        for child in (err if err is not None else []):
            tag = child.tag.split('}')[1]
            if child.tag.startswith('{%s}' % NS_STANZAS) and tag != 'text':
                self.condition = tag
            elif tag == 'text':
                self.text = child.text
        super().__init__(f'{self.type}/{self.condition} ({self.text})')


def codes(stanza):
    x = stanza.xml.find('{%s}x' % NS_USER)
    return set() if x is None else {int(s.get('code')) for s in x.findall('{%s}status' % NS_USER)}


def item(stanza):
    x = stanza.xml.find('{%s}x' % NS_USER)
    i = None if x is None else x.find('{%s}item' % NS_USER)
    return {} if i is None else dict(i.attrib)


def occupant_id(stanza):
    oids = stanza.xml.findall('{%s}occupant-id' % NS_OID)
    return oids[0].get('id') if len(oids) == 1 else (None if not oids else 'MULTIPLE')


def kind(stanza):
    return stanza.xml.tag.split('}')[1]


class MucUser:
    """One logged-in user who joins rooms at `service`."""

    def __init__(self, server, user, password=None, domain=None, anonymous=False, tls=False):
        domain = domain or server.domain
        if anonymous:
            self.client = Client.anonymous(domain, port=server.c2s_port, tls=tls)
        else:
            self.client = Client(f'{user}@{domain}', password, port=server.c2s_port, tls=tls)
        self.client.connect()
        self.jid = self.client.jid
        self.stanzas = _StanzaQueue()
        q = self.stanzas

        def install():
            self.client.xmpp.register_handler(
                Callback('muc ordered', _MatchPresenceOrMessage(), q.put))
        self.client.call(install)

    def close(self):
        self.client.disconnect()

    def send(self, xml):
        self.client.send_raw(xml)

    def next(self, timeout=5.0, predicate=None):
        return self.stanzas.get(timeout, predicate)

    def drain(self):
        return self.stanzas.clear()

    def expect_none(self, predicate, occupant):
        """Nothing matching `predicate` came from the room: a self-ping to `occupant` (our
        room/nick, XEP-0410) is answered from the room's address after everything the room
        sent us before, so once it is back, nothing more is on its way. No sleeping."""
        reply = self.iq(f"<iq type='get' to='{occupant}'><ping xmlns='urn:xmpp:ping'/></iq>")
        if reply['type'] != 'result':
            raise AssertionError(f'self-ping failed: {reply}')
        try:
            s = self.stanzas.get(0, predicate)
        except TimeoutError:
            return
        raise AssertionError(f'unexpected stanza: {s}')

    def join(self, room_jid, nick, password=None, extra=''):
        """Joins; returns (presences of others in order, self-presence, subject message).
        Raises MucError on an error presence."""
        pw = f'<password>{esc(password)}</password>' if password is not None else ''
        self.send(f"<presence to='{room_jid}/{esc(nick)}'><x xmlns='{NS_MUC}'>{pw}</x>"
                  f"{extra}</presence>")
        others = []
        while True:
            s = self.next(predicate=lambda s: s['from'].bare.lower() == room_jid.lower())
            if kind(s) == 'presence' and s['type'] == 'error':
                raise MucError(s)
            if kind(s) == 'presence' and 110 in codes(s):
                own = s
                break
            others.append(s)
        subject = self.next(predicate=lambda s: kind(s) == 'message' and
                            s.xml.find(C + 'subject') is not None)
        return others, own, subject

    def leave(self, room_jid, nick):
        self.send(f"<presence to='{room_jid}/{esc(nick)}' type='unavailable'/>")
        return self.next(predicate=lambda s: kind(s) == 'presence' and
                         s['from'].bare.lower() == room_jid.lower() and
                         s['type'] == 'unavailable' and 110 in codes(s))

    def iq(self, xml, timeout=5.0):
        """Sends an IQ (XML text) and returns the reply, result or error."""
        return self.client.send_iq_raw(xml, timeout=timeout)

    def say(self, room_jid, body, msg_id=None, extra=''):
        msg_id = msg_id or f'm{next(_ids)}'
        self.send(f"<message to='{room_jid}' type='groupchat' id='{msg_id}'>"
                  f"<body>{esc(body)}</body>{extra}</message>")
        return msg_id

    def wait_error(self, predicate=None, timeout=5.0):
        s = self.next(timeout, lambda s: s['type'] == 'error' and
                      (predicate is None or predicate(s)))
        return MucError(s)


def iq_error(reply):
    if reply['type'] != 'error':
        raise AssertionError(f'expected an error, got {reply}')
    return MucError(reply)


def config_form(fields):
    """A submitted muc#roomconfig form as XML text."""
    out = [f"<x xmlns='{NS_DATA}' type='submit'>",
           "<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value>"
           "</field>"]
    for var, value in fields.items():
        out.append(f"<field var='muc#roomconfig_{var}'><value>{esc(str(value))}</value></field>")
    out.append('</x>')
    return ''.join(out)


def form_values(reply):
    x = reply.xml.find('.//{%s}x' % NS_DATA)
    values = {}
    for f in x.findall('{%s}field' % NS_DATA):
        v = f.find('{%s}value' % NS_DATA)
        values[f.get('var')] = (v.text or '') if v is not None else ''
    return values


def xml_of(stanza):
    return ET.tostring(stanza.xml, encoding='unicode')
