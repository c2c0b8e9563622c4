#!/usr/bin/python3
"""The README's first command: deploy/local/up.sh starts Prosody, PostgreSQL, the focus and
a bridge, prints where to connect, and `up.sh stop` leaves nothing running. Run twice to
show it is idempotent. Uses the binaries this build made (no rebuild) and private ports."""

import os
import re
import subprocess
import types
import unittest
import urllib.request

from conclave_harness import procs, tap
from conclave_harness.tempdir import make_tempdir
from conclave_harness.xmpp_client import Client
from conclave_daemons import BINARIES
from muc_client import MucUser, codes, item

def websocket_stream_features(url):
    """Opens an XMPP stream over WebSocket (RFC 7395) and says whether the server offered
    SASL mechanisms: what a browser client needs first."""
    import asyncio
    import websockets

    async def talk():
        async with websockets.connect(url, subprotocols=['xmpp'], open_timeout=5) as ws:
            await ws.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' "
                          "version='1.0'/>")
            seen = ''
            while 'mechanisms' not in seen:
                seen += await asyncio.wait_for(ws.recv(), 5)
            return 'PLAIN' in seen or 'SCRAM' in seen
    return asyncio.run(talk())


SOURCE_ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT', os.getcwd())
UP = os.path.join(SOURCE_ROOT, 'deploy', 'local', 'up.sh')
SERVICES = ('postgres', 'prosody', 'bridge', 'focus')


class LocalStack(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.state = make_tempdir(prefix='conclave-local-')
        ports = {name: procs.free_port() for name in
                 ('C2S', 'COMPONENT', 'PG', 'FOCUS_HTTP', 'BRIDGE_HTTP', 'XMPP_HTTP')}
        cls.ports = ports
        cls.env = dict(os.environ, CONCLAVE_STATE_DIR=cls.state, CONCLAVE_SKIP_BUILD='1',
                       CONCLAVE_BUILD_DIR=os.path.dirname(os.path.dirname(BINARIES['focus'])),
                       **{f'CONCLAVE_{k}_PORT': str(v) for k, v in ports.items()})
        procs.add_cleanup(lambda: cls.up('stop', check=False))

    @classmethod
    def up(cls, *args, check=True, timeout=120):
        r = subprocess.run([UP, *args], env=cls.env, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f'up.sh {" ".join(args)} exited {r.returncode}:\n'
                                 f'{r.stdout}\n{r.stderr}')
        return r

    def pids(self):
        pids = {}
        for s in SERVICES:
            with open(os.path.join(self.state, 'run', f'{s}.pid')) as f:
                pids[s] = int(f.read())
        return pids

    def check_running_stack(self, out):
        self.assertIn(f'127.0.0.1:{self.ports["C2S"]}', out)
        self.assertIn(f'http://127.0.0.1:{self.ports["FOCUS_HTTP"]}/health', out)
        ws = f'ws://127.0.0.1:{self.ports["XMPP_HTTP"]}/xmpp-websocket'
        self.assertIn(ws, out)
        self.assertEqual(websocket_stream_features(ws), True)
        users = re.findall(r'(\w+)@localhost\s+password (\S+)', out)
        self.assertEqual([u for u, _ in users], ['alice', 'bob'])
        # A real client logs in with what was printed, reaches both components, and can
        # start a meeting that a guest then joins.
        client = Client(f'{users[0][0]}@localhost', users[0][1], port=self.ports['C2S'])
        client.connect()
        try:
            self.assertLess(client.ping('conference.localhost'), 5)
            self.assertLess(client.ping('bridge1.localhost'), 5)
            server = types.SimpleNamespace(c2s_port=self.ports['C2S'], domain='localhost')
            host = MucUser(server, users[0][0], users[0][1])
            _, own, _ = host.join('standup@conference.localhost', 'host')
            self.assertIn(201, codes(own))
            guest = MucUser(server, None, anonymous=True, domain='guest.localhost')
            others, _, _ = guest.join('standup@conference.localhost', 'guest')
            self.assertEqual(len(others), 1)
            host.close()
            guest.close()
        finally:
            client.disconnect()
        # The focus sees its bridge.
        def bridge_available():
            url = f'http://127.0.0.1:{self.ports["FOCUS_HTTP"]}/metrics'
            with urllib.request.urlopen(url, timeout=2) as r:
                return 'conclave_focus_bridges_available 1\n' in r.read().decode()
        procs.wait_until(bridge_available, timeout=15, message='focus never saw its bridge')

        # ...and its policy store, where the printed example room is reserved: its owner
        # starts it without a password, anyone else needs the one up.sh kept.
        def store_up():
            url = f'http://127.0.0.1:{self.ports["FOCUS_HTTP"]}/metrics'
            with urllib.request.urlopen(url, timeout=2) as r:
                return 'conclave_focus_store_up 1\n' in r.read().decode()
        procs.wait_until(store_up, timeout=15, message='focus never reached its database')
        reserved = re.search(r'reserved room\s+(\S+)@conference\.localhost', out)
        self.assertIsNotNone(reserved, out)
        owner = MucUser(server, users[0][0], users[0][1])
        _, own, _ = owner.join(f'{reserved.group(1)}@conference.localhost', 'owner')
        self.assertEqual(item(own)['affiliation'], 'owner')
        owner.close()
        # PostgreSQL answers on its private socket.
        pgbin = open(os.path.join(self.state, 'run', 'pgbin')).read().strip()
        r = subprocess.run([os.path.join(pgbin, 'psql'), '-h',
                            os.path.join(self.state, 'pg-socket'), '-p', str(self.ports['PG']),
                            '-U', 'postgres', '-Atc', 'SELECT 40 + 2'],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout.strip(), '42', r.stderr)
        self.assertEqual(self.up('status').returncode, 0)
        return users

    def test_up_stop_twice(self):
        first = self.up('--detach')
        users = self.check_running_stack(first.stdout)
        self.check_secrets_are_private()
        pids = self.pids()
        self.up('stop')
        for name, pid in pids.items():
            self.assertFalse(procs.pid_alive(pid), f'{name} still runs after stop')
        self.assertEqual(self.up('status', check=False).returncode, 3)

        # Again: same folder, same users and passwords, everything back.
        second = self.up('--detach')
        self.assertEqual(self.check_running_stack(second.stdout), users)
        pids = self.pids()
        # A second start while running is refused, and changes nothing.
        again = self.up('--detach', check=False)
        self.assertNotEqual(again.returncode, 0)
        self.assertIn('already running', again.stderr)
        self.assertEqual(self.pids(), pids)
        self.up('stop')
        for name, pid in pids.items():
            self.assertFalse(procs.pid_alive(pid), f'{name} still runs after stop')
        for log in ('focus.log', 'bridge.log'):
            with open(os.path.join(self.state, 'log', log)) as f:
                text = f.read()
            self.assertNotIn('Sanitizer', text)
            self.assertNotIn('runtime error', text)

    def check_secrets_are_private(self):
        for name in ('focus.secret', 'bridge.secret', 'users.txt', 'focus.conf',
                     'bridge.conf', 'room.key'):
            mode = os.stat(os.path.join(self.state, name)).st_mode
            self.assertEqual(mode & 0o077, 0, f'{name} is readable by others')


if __name__ == '__main__':
    tap.main(LocalStack)
