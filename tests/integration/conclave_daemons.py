"""Runs Conclave's own daemons for integration tests: a private config in a private
folder, the binary the build produced (paths come from meson's test environment), health
over HTTP, and a stop that reports the exit status and any sanitizer report in the log."""

import os
import signal
import urllib.error
import urllib.request

from conclave_harness import procs
from conclave_harness.tempdir import make_tempdir

BINARIES = {
    'focus': os.environ.get('CONCLAVE_FOCUS', 'build/focus/conclave-focus'),
    'bridge': os.environ.get('CONCLAVE_BRIDGE', 'build/bridge/conclave-bridge'),
    'ctl': os.environ.get('CONCLAVE_CTL', 'build/tools/conclavectl'),
}

SANITIZER_MARKS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                   'WARNING: ThreadSanitizer',
                   'SUMMARY: UndefinedBehaviorSanitizer')


def write_private(path, text):
    """A file only its owner may read, as secrets must be."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    return path


class Daemon:
    """One conclave-focus or conclave-bridge connected to a test Prosody."""

    def __init__(self, kind, domain, secret, xmpp_port, extra=''):
        self.kind = kind
        self.domain = domain
        self.dir = make_tempdir(prefix=f'conclave-{kind}-')
        self.http_port = procs.free_port()
        self.log_path = os.path.join(self.dir, f'{kind}.log')
        secret_path = write_private(os.path.join(self.dir, 'secret'), secret + '\n')
        self.config_path = os.path.join(self.dir, f'{kind}.conf')
        with open(self.config_path, 'w') as f:
            f.write(f'[xmpp]\nserver = 127.0.0.1\nport = {xmpp_port}\ndomain = {domain}\n'
                    f'secret_file = {secret_path}\nreconnect_max_ms = 1000\n'
                    f'[http]\nlisten = 127.0.0.1:{self.http_port}\n'
                    f'[log]\nlevel = info\n{extra}')
        self.proc = None

    def command(self):
        return [BINARIES[self.kind], '--config', self.config_path, '-v']

    def start(self, command=None, env=None):
        """Starts the daemon: by default the build's binary with the private config;
        `command` replaces that command line (a unit's ExecStart, say), `env` the
        environment."""
        self.proc = procs.start(command or self.command(), name=f'conclave-{self.kind}',
                                log_path=self.log_path, env=env)
        return self

    def health(self):
        """(status, body) of GET /health; (None, reason) if nothing answers."""
        try:
            with urllib.request.urlopen(f'http://127.0.0.1:{self.http_port}/health',
                                        timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError as e:
            return None, str(e)

    def metrics(self):
        with urllib.request.urlopen(f'http://127.0.0.1:{self.http_port}/metrics',
                                    timeout=2) as r:
            return r.read().decode()

    def wait_health(self, status, timeout=10.0):
        procs.wait_until(lambda: self.health()[0] == status, timeout=timeout,
                         message=f'{self.kind} health never became {status} '
                                 f'(last: {self.health()})')

    def log_text(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def sanitizer_reports(self):
        text = self.log_text()
        return [m for m in SANITIZER_MARKS if m in text]

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends `sig` and returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except Exception:
            procs.stop(self.proc, 0)
            return None
        finally:
            procs.stop(self.proc, 0)
