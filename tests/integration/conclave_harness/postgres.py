"""A private, throw-away PostgreSQL cluster for integration tests.

Unix socket only (listen_addresses=''), trust authentication on that socket
(TCP connections are rejected), durability switched off for speed.
"""

import glob
import os
import pwd
import signal
import tempfile
import time

from . import procs
from .tempdir import make_tempdir

__all__ = ['Postgres', 'PostgresError', 'find_bindir']


class PostgresError(RuntimeError):
    pass


def find_bindir():
    """$CONCLAVE_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin (the
    Debian layout; /usr/bin/psql is a wrapper that needs a cluster list)."""
    env = os.environ.get('CONCLAVE_PG_BINDIR')
    if env:
        return env
    dirs = glob.glob('/usr/lib/postgresql/*/bin')
    dirs.sort(key=lambda d: int(d.split('/')[-2]) if
              d.split('/')[-2].isdigit() else 0)
    if not dirs:
        raise PostgresError('no PostgreSQL server found; set '
                            'CONCLAVE_PG_BINDIR')
    return dirs[-1]


# sun_path is 108 bytes on Linux, including the NUL.
_MAX_SOCKET_PATH = 107


class Postgres:
    """Usage::

        pg = Postgres(); pg.start()
        pg.psql('SELECT 1')       # -> '1'
        connect with pg.conninfo  # 'host=... port=... dbname=postgres ...'
        pg.stop()
    """

    def __init__(self, user='postgres', bindir=None):
        self.user = user
        self.bindir = bindir or find_bindir()
        self.dir = None
        self.port = None
        self.socket_dir = None
        self._proc = None

    @property
    def data_dir(self):
        return os.path.join(self.dir, 'data') if self.dir else None

    @property
    def log_path(self):
        return os.path.join(self.dir, 'postgres.log') if self.dir else None

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    @property
    def running(self):
        return self._proc is not None and procs.is_running(self._proc)

    def conninfo_for(self, dbname='postgres', user='postgres'):
        return 'host=%s port=%d dbname=%s user=%s' % (
            self.socket_dir, self.port, dbname, user)

    @property
    def conninfo(self):
        """libpq key/value connection string for the `postgres` database."""
        return self.conninfo_for()

    def _bin(self, name):
        return os.path.join(self.bindir, name)

    def _env(self):
        # No stray PG* settings from the caller's environment; C locale so
        # initdb does not depend on installed locales.
        env = {k: v for k, v in os.environ.items() if not k.startswith('PG')}
        env.update(LANG='C.UTF-8', LC_ALL='C.UTF-8', HOME=self.dir)
        return env

    def _init(self):
        self.dir = make_tempdir('conclave-pg-', owner=self.user)
        pw = pwd.getpwnam(self.user)
        self.socket_dir = os.path.join(self.dir, 'sock')
        self.port = procs.free_port()
        if len(self.socket_dir) + len('/.s.PGSQL.65535') > _MAX_SOCKET_PATH:
            # A deep $CONCLAVE_TEST_TMP would overflow sun_path.
            self.socket_dir = make_tempdir('conclave-pgsock-', owner=self.user,
                                           base=tempfile.gettempdir())
        else:
            os.mkdir(self.socket_dir, 0o755)
            os.chown(self.socket_dir, pw.pw_uid, pw.pw_gid)
        procs.log('initdb %s', self.data_dir)
        # --no-sync/fsync=off: a test cluster need not survive a crash.
        procs.run([self._bin('initdb'), '-D', self.data_dir, '-U', 'postgres',
                   '--auth-local=trust', '--auth-host=reject',
                   '-E', 'UTF8', '--locale=C', '--no-sync',
                   '--no-instructions'],
                  user=self.user, cwd=self.dir, env=self._env(), timeout=120)

    def start(self, timeout=30.0):
        if self.running:
            return
        if self.dir is None:
            self._init()
        self._proc = procs.start(
            [self._bin('postgres'), '-D', self.data_dir,
             '-k', self.socket_dir, '-p', self.port,
             '-c', "listen_addresses=", '-c', 'fsync=off',
             '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
             '-c', 'max_connections=50', '-c', 'shared_buffers=16MB',
             '-c', 'logging_collector=off',
             # Not /dev/shm: segments there would outlive a SIGKILLed server.
             '-c', 'dynamic_shared_memory_type=mmap'],
            name='postgres', log_path=self.log_path, user=self.user,
            cwd=self.dir, env=self._env(),
            # SIGINT = "fast" shutdown: does not wait for clients to leave.
            stop_signal=signal.SIGINT, pdeathsig=signal.SIGINT)
        deadline = time.monotonic() + timeout
        while True:
            res = procs.run([self._bin('pg_isready'), '-q', '-h',
                             self.socket_dir, '-p', self.port, '-d',
                             'postgres', '-U', 'postgres', '-t', '1'],
                            check=False, env=self._env(), timeout=10)
            if res.returncode == 0:
                break
            if not procs.is_running(self._proc):
                code = procs.stop(self._proc)
                self._proc = None
                raise PostgresError('postgres exited with %s:\n%s'
                                    % (code, self.log_text()[-4000:]))
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresError('postgres not ready after %.1fs:\n%s'
                                    % (timeout, self.log_text()[-4000:]))
            time.sleep(0.05)
        procs.log('postgres up: %s, dir %s', self.conninfo, self.dir)

    def stop(self, timeout=10.0):
        """Fast shutdown; returns the exit code (None if not running)."""
        if self._proc is None:
            return None
        proc, self._proc = self._proc, None
        return procs.stop(proc, timeout)

    def restart(self, timeout=30.0):
        self.stop()
        self.start(timeout)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def psql(self, sql, dbname='postgres', timeout=60.0):
        """Run SQL (several statements allowed) and return psql's unaligned,
        tuples-only output, stripped (rows separated by newlines, columns by
        '|').  Raises PostgresError on any SQL error."""
        res = procs.run([self._bin('psql'), '-X', '-q', '-A', '-t',
                         '-v', 'ON_ERROR_STOP=1', '-h', self.socket_dir,
                         '-p', self.port, '-U', 'postgres', '-d', dbname,
                         '-f', '-'],
                        input=sql, check=False, env=self._env(),
                        timeout=timeout)
        if res.returncode != 0:
            raise PostgresError('psql failed (%d): %s' % (
                res.returncode, res.stderr.strip()))
        return res.stdout.strip()

    def log_text(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except (TypeError, FileNotFoundError):
            return ''

    def __repr__(self):
        return '<Postgres %s pid=%s>' % (
            self.conninfo if self.port else 'unstarted', self.pid)
