#!/usr/bin/python3
"""The systemd units the project ships (deploy/systemd/): `systemd-analyze verify` finds
nothing to say about them, their `systemd-analyze security` exposure is 2.0 or lower, and
the daemons speak the notification protocol the units rely on (Type=notify, WatchdogSec):
READY=1 once serving, STATUS= with the /health reason, WATCHDOG=1 at half the interval,
STOPPING=1 at SIGTERM. The daemons are started by the units' own ExecStartPre/ExecStart
command lines, with the build's binaries and a private configuration in place of the
installed paths (systemd need not be the init system where this runs)."""

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from conclave_daemons import BINARIES, Daemon

SOURCE = os.environ.get('CONCLAVE_SOURCE_ROOT', '.')
UNITS = os.path.join(SOURCE, 'deploy', 'systemd')
FOCUS_UNIT = 'conclave-focus.service'
BRIDGE_UNIT = 'conclave-bridge@.service'
MAX_EXPOSURE = 2.0
FOCUS, BRIDGE = 'conference.localhost', 'bridge1.localhost'
INSTALLED = {'focus': '/usr/bin/conclave-focus', 'bridge': '/usr/bin/conclave-bridge'}


def unit_root():
    """A root folder for systemd-analyze --root: the host's own unit library, the
    project's units, and the daemons where the units expect them."""
    root = make_tempdir(prefix='conclave-units-')
    os.makedirs(os.path.join(root, 'usr/bin'))
    os.makedirs(os.path.join(root, 'lib/systemd'))
    shutil.copytree('/lib/systemd/system', os.path.join(root, 'lib/systemd/system'),
                    symlinks=True)
    for kind, path in INSTALLED.items():
        shutil.copy(BINARIES[kind], os.path.join(root, path.lstrip('/')))
    shutil.copytree(UNITS, os.path.join(root, 'etc/systemd/system'))
    return root


def analyze(*args):
    return subprocess.run(['systemd-analyze', *args], capture_output=True, text=True,
                          timeout=60)


def exec_lines(unit, key):
    """The command lines of `key` (ExecStart, ExecStartPre) in a unit file."""
    with open(os.path.join(UNITS, unit)) as f:
        return [shlex.split(line.split('=', 1)[1]) for line in f
                if line.startswith(key + '=')]


class NotifySocket:
    """The service manager's end of sd_notify: a datagram socket that collects messages."""

    def __init__(self):
        self.path = os.path.join(make_tempdir(prefix='conclave-notify-'), 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.messages = []  # (monotonic time, text)

    def drain(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, BlockingIOError):
                return self.messages
            self.messages.append((time.monotonic(), data.decode()))

    def lines(self):
        return [line for _, text in self.drain() for line in text.split('\n')]

    def close(self):
        self.sock.close()


class SystemdUnits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = unit_root()
        cls.server = Prosody(components={FOCUS: 'f', BRIDGE: 'b1'})
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_1_verify_is_clean(self):
        for unit in (FOCUS_UNIT, 'conclave-bridge@bridge.service'):
            r = analyze('verify', f'--root={self.root}', unit)
            self.assertEqual(r.returncode, 0, f'{unit}: {r.stdout}{r.stderr}')
            self.assertEqual((r.stdout + r.stderr).strip(), '', f'{unit} is not clean')

    def test_2_verify_would_see_a_mistake(self):
        """The check above can fail: a misspelt key and a missing binary are reported."""
        with open(os.path.join(UNITS, FOCUS_UNIT)) as f:
            text = f.read()
        broken = os.path.join(self.root, 'etc/systemd/system/broken.service')
        with open(broken, 'w') as f:
            f.write(text.replace('NoNewPrivileges=', 'NoNewPrivilege=')
                    .replace('/usr/bin/conclave-focus', '/usr/bin/conclave-fcus'))
        try:
            r = analyze('verify', f'--root={self.root}', 'broken.service')
            out = r.stdout + r.stderr
            self.assertIn("Unknown key 'NoNewPrivilege'", out)
            self.assertIn('conclave-fcus is not executable', out)
        finally:
            os.unlink(broken)

    def test_3_security_exposure(self):
        for unit in (FOCUS_UNIT, 'conclave-bridge@bridge.service'):
            r = analyze('security', '--offline=true', f'--root={self.root}', unit)
            m = re.search(r'Overall exposure level for \S+: (\d+\.\d+)', r.stdout)
            self.assertIsNotNone(m, r.stdout + r.stderr)
            exposure = float(m.group(1))
            print(f'# {unit}: exposure {exposure}')
            self.assertLessEqual(exposure, MAX_EXPOSURE, f'{unit}: {exposure}')

    def test_4_units_ask_for_the_hardening(self):
        """What the operator is promised, line by line (verify accepts a unit without it)."""
        required = ['Type=notify', 'WatchdogSec=', 'Restart=on-failure', 'User=conclave',
                    'ProtectSystem=strict', 'NoNewPrivileges=yes', 'CapabilityBoundingSet=\n',
                    'RestrictAddressFamilies=', 'SystemCallFilter=@system-service',
                    'MemoryDenyWriteExecute=yes', 'PrivateTmp=yes', 'StateDirectory=conclave',
                    'LogsDirectory=conclave', 'LimitNOFILE=']
        for unit in (FOCUS_UNIT, BRIDGE_UNIT):
            with open(os.path.join(UNITS, unit)) as f:
                text = f.read()
            for line in required:
                self.assertIn(line, text, f'{unit} lacks {line.strip()}')

    def run_by_unit(self, kind, unit, domain, secret, extra='', watchdog_usec=400000,
                    watchdog_pid=None):
        """Starts a daemon by the unit's command lines; returns (daemon, notify socket)."""
        daemon = Daemon(kind, domain, secret, self.server.component_port_for(domain), extra)
        installed_conf = exec_lines(unit, 'ExecStart')[0][2]

        def local(argv):
            return [BINARIES[kind] if a == INSTALLED[kind] else
                    daemon.config_path if a == installed_conf else a for a in argv]
        for pre in exec_lines(unit, 'ExecStartPre'):
            r = subprocess.run(local(pre), capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        notify = NotifySocket()
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=str(watchdog_usec))
        if watchdog_pid is not None:
            env['WATCHDOG_PID'] = str(watchdog_pid)
        daemon.start(command=local(exec_lines(unit, 'ExecStart')[0]), env=env)
        return daemon, notify

    def check_notify_story(self, daemon, notify):
        procs.wait_until(lambda: 'READY=1' in notify.lines(), timeout=10,
                         message='no READY=1')
        procs.wait_until(lambda: 'STATUS=serving' in notify.lines(), timeout=15,
                         message=f'never serving: {notify.lines()}')
        lines = notify.lines()
        self.assertLess(lines.index('READY=1'), lines.index('STATUS=serving'))
        # WATCHDOG_USEC=400000: a ping every 200 ms.
        start = time.monotonic()
        procs.wait_until(lambda: sum(1 for t, m in notify.drain()
                                     if t >= start and m == 'WATCHDOG=1') >= 5,
                         timeout=5, message='fewer than 5 watchdog pings in 5 s')
        self.assertEqual(daemon.stop(signal.SIGTERM, timeout=15), 0)
        self.assertIn('STOPPING=1', notify.lines())
        self.assertEqual(daemon.sanitizer_reports(), [])
        notify.close()

    def test_5_focus_notifies(self):
        daemon, notify = self.run_by_unit('focus', FOCUS_UNIT, FOCUS, 'f',
                                          '[focus]\nbridges = \n')
        self.check_notify_story(daemon, notify)

    def test_6_bridge_notifies(self):
        port = 30000 + procs.free_port() % 20000
        daemon, notify = self.run_by_unit(
            'bridge', BRIDGE_UNIT, BRIDGE, 'b1',
            f'[media]\naddresses = 127.0.0.1\nport_min = {port}\nport_max = {port + 10}\n'
            f'workers = 1\n[colibri]\ntrusted = {FOCUS}\n')
        self.check_notify_story(daemon, notify)

    def test_7_watchdog_meant_for_another_process(self):
        """WATCHDOG_PID of another process: READY and STATUS, but no pings."""
        daemon, notify = self.run_by_unit('focus', FOCUS_UNIT, FOCUS, 'f',
                                          '[focus]\nbridges = \n', watchdog_pid=1)
        procs.wait_until(lambda: 'STATUS=serving' in notify.lines(), timeout=15,
                         message=f'never serving: {notify.lines()}')
        time.sleep(1.0)  # ten watchdog intervals: none may come
        self.assertNotIn('WATCHDOG=1', notify.lines())
        self.assertEqual(daemon.stop(signal.SIGTERM, timeout=15), 0)
        notify.close()


if __name__ == '__main__':
    tap.main(SystemdUnits)
