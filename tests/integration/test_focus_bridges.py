#!/usr/bin/python3
"""The focus's bridge pool against real bridges: every bridge in `[focus] bridges` is
health-checked; one that dies (kill -9) is taken out, and rejoins once it answers again; one
that drains (SIGTERM with a drain timeout) stops being chosen; one never connected counts as
failed. Bridges answer load figures to the focus only."""

import re
import signal
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.xmpp_client import Client
from conclave_daemons import Daemon

FOCUS = 'conference.localhost'
B1, B2, B3 = 'bridge1.localhost', 'bridge2.localhost', 'bridge3.localhost'


def gauge(daemon, name, bridge=None):
    label = f'{{bridge="{bridge}"}}' if bridge else ''
    m = re.search(rf'^{re.escape(name + label)} (-?\d+)$', daemon.metrics(), re.M)
    return int(m.group(1)) if m else None


class BridgePool(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody(components={FOCUS: 'f', B1: 'b1', B2: 'b2', B3: 'b3'})
        cls.prosody.start()
        cls.prosody.register('alice', 'alice-pw')  # trusted by the bridges, like a focus
        cls.prosody.register('bob', 'bob-pw')
        cls.focus = Daemon('focus', FOCUS, 'f', cls.prosody.component_port,
                           extra=f'[focus]\nbridges = {B1}, {B2}, {B3}\n'
                                 'bridge_check_interval_s = 1\nbridge_timeout_ms = 800\n').start()
        cls.b1 = cls.bridge(B1, 'b1')
        cls.b2 = cls.bridge(B2, 'b2', drain=30)
        cls.focus.wait_health(200)

    @classmethod
    def bridge(cls, domain, secret, drain=0):
        port = 30000 + procs.free_port() % 20000
        d = Daemon('bridge', domain, secret, cls.prosody.component_port,
                   extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                         f'port_max = {port + 20}\nworkers = 1\ndrain_timeout = {drain}\n'
                         f'[colibri]\ntrusted = {FOCUS}, alice@localhost\n').start()
        d.wait_health(200, timeout=15)
        return d

    @classmethod
    def tearDownClass(cls):
        for d in (cls.focus, cls.b1, cls.b2):
            if d.proc is not None and d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        cls.prosody.stop()

    def wait_available(self, n, timeout=6):
        procs.wait_until(lambda: gauge(self.focus, 'conclave_focus_bridges_available') == n,
                         timeout=timeout, message=f'never {n} bridges available:\n'
                         + self.focus.metrics())

    def test_1_checks_every_bridge(self):
        self.wait_available(2)
        self.assertEqual(gauge(self.focus, 'conclave_focus_bridge_up', B1), 1)
        self.assertEqual(gauge(self.focus, 'conclave_focus_bridge_up', B2), 1)
        # Listed but never connected: counted as failing, never chosen.
        procs.wait_until(lambda: (gauge(self.focus, 'conclave_focus_bridge_failures_total', B3)
                                  or 0) >= 1, timeout=6)
        self.assertEqual(gauge(self.focus, 'conclave_focus_bridge_up', B3), 0)

    def test_2_dead_bridge_is_taken_out_and_rejoins(self):
        self.wait_available(2)
        self.b1.stop(signal.SIGKILL)
        self.wait_available(1)
        self.assertEqual(gauge(self.focus, 'conclave_focus_bridge_up', B1), 0)
        self.assertIn(f'bridge {B1} is not answering', self.focus.log_text())
        type(self).b1 = self.bridge(B1, 'b1')
        self.wait_available(2)
        self.assertEqual(gauge(self.focus, 'conclave_focus_bridge_up', B1), 1)

    def test_3_draining_bridge_is_not_chosen(self):
        self.wait_available(2)
        # A bridge with a running conference drains on SIGTERM instead of exiting.
        client = Client('alice@localhost', 'alice-pw', port=self.prosody.c2s_port)
        client.connect()
        try:
            reply = client.send_iq_raw(
                f"<iq type='set' to='{B2}'><conference-modify xmlns='jitsi:colibri2' "
                "meeting-id='drain-test' create='true'><endpoint id='e1' create='true'/>"
                "</conference-modify></iq>")
            self.assertEqual(reply['type'], 'result', str(reply))
            self.b2.proc.send_signal(signal.SIGTERM)
            self.wait_available(1)
            self.assertIn(f'bridge {B2} is draining', self.focus.log_text())
            self.assertEqual(gauge(self.focus, 'conclave_focus_bridge_up', B2), 0)
            self.assertIsNone(self.b2.proc.poll(), 'a draining bridge keeps serving')
            reply = client.send_iq_raw(
                f"<iq type='set' to='{B2}'><conference-modify xmlns='jitsi:colibri2' "
                "meeting-id='drain-test' expire='true'/></iq>")
            self.assertEqual(reply['type'], 'result', str(reply))
            self.assertEqual(self.b2.proc.wait(10), 0)
        finally:
            client.disconnect()

    def test_4_load_figures_are_for_the_focus_only(self):
        client = Client('bob@localhost', 'bob-pw', port=self.prosody.c2s_port)
        client.connect()
        try:
            reply = client.send_iq_raw(
                f"<iq type='get' to='{B1}'>"
                "<healthcheck xmlns='http://jitsi.org/protocol/healthcheck'/></iq>")
            self.assertEqual(reply['type'], 'error')
            self.assertEqual(reply['error']['condition'], 'forbidden')
        finally:
            client.disconnect()

    def test_5_clean_exit(self):
        self.assertEqual(self.focus.stop(), 0)
        self.assertEqual(self.focus.sanitizer_reports(), [])


if __name__ == '__main__':
    tap.main(BridgePool)
