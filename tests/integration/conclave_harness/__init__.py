"""Integration test harness for Conclave: TAP runner, process management,
private Prosody / ejabberd / PostgreSQL instances and a synchronous XMPP client
(``conclave_harness.xmpp_client``, imported separately: it pulls in
slixmpp)."""

# Importing procs installs the SIGTERM/SIGINT handlers and the atexit
# clean-up, so do it first.
from . import procs, tempdir, tap
from .procs import free_port, wait_port, wait_until
from .tempdir import make_tempdir
from .prosody import Prosody, ProsodyError
from .postgres import Postgres, PostgresError
from .ejabberd import Ejabberd, EjabberdError

__all__ = ['procs', 'tempdir', 'tap', 'free_port', 'wait_port', 'wait_until',
           'make_tempdir', 'Prosody', 'ProsodyError', 'Postgres',
           'PostgresError', 'Ejabberd', 'EjabberdError']
