#!/usr/bin/python3
"""Both daemons as XEP-0114 components of a real Prosody: a slixmpp client gets their
disco#info and ping answers, wrong requests get the right stanza errors, health and
metrics follow the connection, they come back within 10 s after Prosody restarts, and they
exit 0 on SIGTERM with no sanitizer report."""

import signal
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.xmpp_client import Client, XmppError
from conclave_daemons import Daemon

FOCUS = 'conference.localhost'
BRIDGE = 'bridge1.localhost'
NS_PING = 'urn:xmpp:ping'
NS_DISCO = 'http://jabber.org/protocol/disco#info'


class Components(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody(components={FOCUS: 'focus-secret', BRIDGE: 'bridge-secret'})
        cls.prosody.start()
        cls.prosody.register('alice', 'alice-password')
        cls.focus = Daemon('focus', FOCUS, 'focus-secret', cls.prosody.component_port).start()
        cls.bridge = Daemon('bridge', BRIDGE, 'bridge-secret',
                            cls.prosody.component_port).start()
        cls.focus.wait_health(200)
        cls.bridge.wait_health(200)
        cls.client = Client('alice@localhost', 'alice-password', port=cls.prosody.c2s_port)
        cls.client.connect()

    @classmethod
    def tearDownClass(cls):
        cls.client.disconnect()
        for d in (cls.focus, cls.bridge):
            if d.proc is not None and d.proc.poll() is None:
                d.stop()
        cls.prosody.stop()

    def error_of(self, reply):
        self.assertEqual(reply['type'], 'error')
        return reply['error']['type'], reply['error']['condition']

    def test_disco_info(self):
        info = self.client.disco_info(FOCUS)
        self.assertIn(('conference', 'text', None, 'Conclave conferences'), info.identities)
        info = self.client.disco_info(BRIDGE)
        self.assertIn(('component', 'generic', None, 'Conclave media bridge'),
                      info.identities)
        for jid in (FOCUS, BRIDGE):
            features = self.client.disco_info(jid).features
            self.assertIn(NS_DISCO, features)
            self.assertIn(NS_PING, features)

    def test_disco_items_is_empty(self):
        self.assertEqual(self.client.disco_items(FOCUS), [])

    def test_ping(self):
        for jid in (FOCUS, BRIDGE):
            self.assertLess(self.client.ping(jid), 5.0)

    def test_unknown_iq_is_service_unavailable(self):
        for jid in (FOCUS, BRIDGE):
            reply = self.client.send_iq_raw(
                f"<iq type='get' to='{jid}'><query xmlns='urn:example:nothing'/></iq>")
            self.assertEqual(self.error_of(reply), ('cancel', 'service-unavailable'))

    def test_bridge_trusts_nobody_by_default(self):
        """Without [colibri] trusted, nobody may drive the bridge: any XMPP user can reach it."""
        reply = self.client.send_iq_raw(
            f"<iq type='set' to='{BRIDGE}'><conference-modify xmlns='jitsi:colibri2' "
            f"meeting-id='m1' create='true'/></iq>")
        self.assertEqual(self.error_of(reply), ('auth', 'forbidden'))
        self.assertIn('[colibri] trusted is empty', self.bridge.log_text())

    def test_iq_without_payload_is_bad_request(self):
        reply = self.client.send_iq_raw(f"<iq type='get' to='{FOCUS}'/>")
        self.assertEqual(self.error_of(reply), ('modify', 'bad-request'))

    def test_disco_of_unknown_address_is_item_not_found(self):
        with self.assertRaises(XmppError) as ctx:
            self.client.disco_info(f'someroom@{FOCUS}')
        self.assertEqual(ctx.exception.condition, 'item-not-found')
        with self.assertRaises(XmppError) as ctx:
            self.client.disco_info(FOCUS, node='http://example.org#node')
        self.assertEqual(ctx.exception.condition, 'item-not-found')

    def test_set_ping_is_refused(self):
        reply = self.client.send_iq_raw(
            f"<iq type='set' to='{FOCUS}'><ping xmlns='{NS_PING}'/></iq>")
        self.assertEqual(self.error_of(reply), ('cancel', 'service-unavailable'))

    def test_message_to_component_gets_an_error(self):
        self.client.send_message(BRIDGE, 'hello bridge')
        error = self.client.wait_message(
            timeout=5, predicate=lambda m: m['type'] == 'error' and m['from'] == BRIDGE)
        self.assertEqual(error['error']['condition'], 'service-unavailable')

    def test_metrics(self):
        text = self.focus.metrics()
        self.assertIn('conclave_xmpp_connected 1\n', text)
        self.assertIn('# TYPE conclave_xmpp_stanzas_received_total counter', text)
        self.client.ping(FOCUS)
        received = [line for line in self.focus.metrics().splitlines()
                    if line.startswith('conclave_xmpp_stanzas_received_total ')]
        self.assertEqual(len(received), 1)
        self.assertGreater(int(received[0].split()[1]), 0)

    def test_prosody_restart(self):
        """Both components notice the loss (503) and are back (200) within 10 s."""
        self.prosody.stop()
        self.focus.wait_health(503, timeout=10)
        self.bridge.wait_health(503, timeout=10)
        self.assertIn('not connected', self.focus.health()[1])
        self.prosody.start()
        started = time.monotonic()
        self.focus.wait_health(200, timeout=10)
        self.bridge.wait_health(200, timeout=10)
        elapsed = time.monotonic() - started
        procs.log('components reconnected %.2f s after Prosody restarted', elapsed)
        self.assertLess(elapsed, 10)
        # The stream really works again: a fresh client gets answers.
        client = Client('alice@localhost', 'alice-password', port=self.prosody.c2s_port)
        client.connect()
        try:
            self.assertLess(client.ping(FOCUS), 5)
            self.assertIn(NS_PING, client.disco_info(BRIDGE).features)
        finally:
            client.disconnect()
        type(self).client.disconnect()
        type(self).client = Client('alice@localhost', 'alice-password',
                                   port=self.prosody.c2s_port)
        type(self).client.connect()
        metrics = self.focus.metrics()
        self.assertRegex(metrics, r'conclave_xmpp_connects_total [2-9]')

    def test_zz_sigterm_exits_cleanly(self):
        """Runs last (alphabetically): SIGTERM and SIGINT end them with status 0."""
        self.assertEqual(self.focus.stop(signal.SIGTERM), 0)
        self.assertEqual(self.bridge.stop(signal.SIGINT), 0)
        for d in (self.focus, self.bridge):
            self.assertIn('stopped', d.log_text())
            self.assertEqual(d.sanitizer_reports(), [], d.log_text()[-3000:])


class WrongSecret(unittest.TestCase):
    def test_wrong_secret_stays_unhealthy(self):
        prosody = Prosody(components={FOCUS: 'right-secret'})
        prosody.start()
        try:
            focus = Daemon('focus', FOCUS, 'wrong-secret', prosody.component_port).start()
            time.sleep(2)
            status, body = focus.health()
            self.assertEqual(status, 503)
            self.assertIn('not connected', body)
            self.assertIsNone(focus.proc.poll(), 'the daemon must keep retrying, not die')
            self.assertEqual(focus.stop(), 0)
            self.assertEqual(focus.sanitizer_reports(), [])
        finally:
            prosody.stop()

    def test_server_absent_at_start(self):
        """Started before the XMPP server exists, it connects once the server comes."""
        port = procs.free_port()
        prosody = Prosody(components={BRIDGE: 'b'})
        # Ports fixed in advance so that the daemon can aim at a server not yet there.
        prosody._c2s_port, prosody._component_port = procs.free_port(), port
        bridge = Daemon('bridge', BRIDGE, 'b', port).start()
        try:
            bridge.wait_health(503, timeout=5)
            prosody.start()
            bridge.wait_health(200, timeout=10)
            self.assertEqual(bridge.stop(), 0)
        finally:
            prosody.stop()


if __name__ == '__main__':
    tap.main(Components, WrongSecret)
