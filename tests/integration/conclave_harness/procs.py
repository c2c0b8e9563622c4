"""Child process management for the integration test harness.

Every process started through :func:`start` is recorded in a global
registry and is stopped when the harness exits (normally, through
``sys.exit``/an exception, or on SIGTERM/SIGINT).  Children additionally get
``PR_SET_PDEATHSIG`` so that they die even if the harness is SIGKILLed.

Extra clean-up steps (e.g. removing temp folders) can be queued with
:func:`add_cleanup`; they run after all processes have been stopped, so a
service never sees its data folder vanish under its feet.
"""

import atexit
import ctypes
import errno
import grp
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time

__all__ = [
    'start', 'stop', 'stop_all', 'is_running', 'run', 'add_cleanup',
    'cleanup_all', 'free_port', 'wait_port', 'wait_until', 'pid_alive', 'log',
]

_PR_SET_PDEATHSIG = 1

# Resolved once at import: the preexec_fn runs between fork and exec, where
# loading libraries (dlopen takes locks another thread may hold) is unsafe.
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                   ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int

_lock = threading.RLock()
_procs = []          # started, not yet stopped Popen objects (start order)
_cleanups = []       # callables run after every process is stopped
_cleaned_up = False


def log(msg, *args):
    """Harness diagnostics go to stderr: stdout is reserved for TAP."""
    if args:
        msg = msg % args
    sys.stderr.write('[harness] %s\n' % msg)
    sys.stderr.flush()


def _make_preexec(pdeathsig):
    parent = os.getpid()

    def preexec():
        # Runs after Popen's setuid/setgid (credential changes clear the
        # parent-death signal, so it must be set afterwards).  Note: the
        # "parent" is the *thread* that forked, so start services from the
        # main thread.
        _prctl(_PR_SET_PDEATHSIG, int(pdeathsig), 0, 0, 0)
        # The harness may have died between fork and prctl.
        if os.getppid() != parent:
            os.kill(os.getpid(), int(pdeathsig))
    return preexec


def _user_kwargs(user, group, env):
    """Popen keyword arguments to drop privileges to `user`/`group`."""
    if user is None and group is None:
        return {}, env
    kwargs = {}
    pw = pwd.getpwnam(user) if isinstance(user, str) else \
        pwd.getpwuid(user) if user is not None else None
    if pw is not None and pw.pw_uid == os.geteuid():
        pw = None  # already that user: nothing to switch
    if pw is not None:
        kwargs['user'] = pw.pw_uid
        kwargs['group'] = pw.pw_gid
        # Drop root's supplementary groups.
        kwargs['extra_groups'] = []
        env = dict(os.environ if env is None else env)
        env.update(USER=pw.pw_name, LOGNAME=pw.pw_name)
        env.setdefault('HOME', pw.pw_dir)
    if group is not None:
        kwargs['group'] = (grp.getgrnam(group).gr_gid
                           if isinstance(group, str) else group)
    return kwargs, env


def start(cmd, *, name=None, log_path=None, user=None, group=None, env=None,
          cwd=None, stop_signal=signal.SIGTERM, pdeathsig=signal.SIGTERM):
    """Start `cmd` (a list) in a new session and register it for clean-up.

    stdout and stderr go to `log_path` (appended) or /dev/null.  `user` and
    `group` (names or ids) switch credentials; the process' environment gets
    USER/LOGNAME (and HOME if `env` lacks it) for that user.  `stop_signal` is
    what :func:`stop` sends first (e.g. SIGINT for a PostgreSQL fast
    shutdown); `pdeathsig` is delivered if the harness dies.

    Returns the Popen object, with extra attributes `name`, `log_path`,
    `stop_signal`.
    """
    cmd = [str(c) for c in cmd]
    kwargs, env = _user_kwargs(user, group, env)
    out = open(log_path, 'ab') if log_path else subprocess.DEVNULL
    try:
        with _lock:
            if _cleaned_up:
                raise RuntimeError('harness is shutting down')
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, cwd=cwd, env=env,
                start_new_session=True, preexec_fn=_make_preexec(pdeathsig),
                **kwargs)
            proc.name = name or os.path.basename(cmd[0])
            proc.log_path = log_path
            proc.stop_signal = stop_signal
            _procs.append(proc)
    finally:
        if out is not subprocess.DEVNULL:
            out.close()
    log('started %s (pid %d): %s', proc.name, proc.pid, ' '.join(cmd))
    return proc


def _killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError as e:
        if e.errno != errno.ESRCH:
            raise


def _exited(proc, timeout):
    """Wait up to `timeout` s for `proc` to exit *without reaping it*: while
    it is a zombie its pid, which is also its process group id, cannot be
    reused, so the group can still be signalled safely."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid,
                         os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
                return True
        except ChildProcessError:   # reaped already
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def is_running(proc):
    """True while `proc` has not exited (does not reap it, unlike
    Popen.poll(), so a later stop() can still sweep its group)."""
    return proc.returncode is None and not _exited(proc, 0)


def stop(proc, timeout=5.0):
    """Stop `proc`: its stop signal, wait up to `timeout` s, then SIGKILL.
    Any process left in its group (it was started in its own session) is
    SIGKILLed too.  Returns the exit code (negative = killed by that
    signal, as in Popen.returncode).  Safe to call more than once."""
    if proc.returncode is None:
        sig = getattr(proc, 'stop_signal', signal.SIGTERM)
        if not _exited(proc, 0):
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
            if not _exited(proc, timeout):
                if sig != signal.SIGKILL:
                    log('%s (pid %d) ignored %s for %.1fs: SIGKILL',
                        getattr(proc, 'name', '?'), proc.pid,
                        signal.Signals(sig).name, timeout)
                _killpg(proc.pid, signal.SIGKILL)
                _exited(proc, 10)
        # The leader is a zombie now (not reaped): sweep up stragglers,
        # e.g. helpers the service forked, then reap it.
        _killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with _lock:
        if proc in _procs:
            _procs.remove(proc)
    return proc.returncode


def stop_all(timeout=5.0):
    """Stop every registered process.  Stop signals go out to all at once,
    newest first (a server under test before the services it uses), so
    the total time stays within `timeout`: test runners such as meson only
    allow a short grace period after their SIGTERM."""
    with _lock:
        procs = list(reversed(_procs))
    for proc in procs:
        if proc.returncode is None:
            try:
                os.kill(proc.pid, getattr(proc, 'stop_signal',
                                          signal.SIGTERM))
            except OSError:
                pass
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            stop(proc, max(0.0, deadline - time.monotonic()))
        except Exception as e:  # keep going: others must still be stopped
            log('error stopping pid %d: %s', proc.pid, e)
            with _lock:
                if proc in _procs:
                    _procs.remove(proc)


def add_cleanup(fn):
    """Run `fn()` at harness exit, after all processes were stopped."""
    with _lock:
        _cleanups.append(fn)


def cleanup_all():
    """Stop all processes then run clean-ups (latest first).  Idempotent."""
    global _cleaned_up
    with _lock:
        if _cleaned_up:
            return
        _cleaned_up = True
    stop_all()
    while True:
        with _lock:
            if not _cleanups:
                break
            fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:
            log('clean-up %r failed: %s', fn, e)


def _on_signal(signum, frame):
    # Raising SystemExit here is not enough: unittest would record it as a
    # test error and carry on.  Clean up and leave right away instead.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    log('caught %s: cleaning up', signal.Signals(signum).name)
    try:
        cleanup_all()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(128 + signum)


atexit.register(cleanup_all)
if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def run(cmd, *, user=None, group=None, env=None, cwd=None, timeout=60.0,
        check=True, input=None):
    """Run a short command to completion (text mode, output captured).

    The command is registered like any started process, so a SIGTERM to the
    harness kills it (and its children) before temp folders are removed.
    Anything it leaves running in its process group is killed too, so do
    not use it for commands that daemonize.  Raises RuntimeError with the
    output if `check` and it fails, TimeoutError if it runs longer than
    `timeout` (it is then killed)."""
    cmd = [str(c) for c in cmd]
    kwargs, env = _user_kwargs(user, group, env)
    with _lock:
        if _cleaned_up:
            raise RuntimeError('harness is shutting down')
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE if input is not None else
            subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=cwd, env=env, start_new_session=True,
            preexec_fn=_make_preexec(signal.SIGKILL), **kwargs)
        proc.name = os.path.basename(cmd[0])
        proc.log_path = None
        proc.stop_signal = signal.SIGKILL
        _procs.append(proc)
    try:
        out, err = proc.communicate(input, timeout)
    except subprocess.TimeoutExpired:
        stop(proc, 0)
        raise TimeoutError('%s did not finish within %.1fs'
                           % (' '.join(cmd), timeout)) from None
    finally:
        stop(proc, 0)   # reaps, sweeps the group, unregisters
    if check and proc.returncode != 0:
        raise RuntimeError('%s exited with %d\nstdout: %s\nstderr: %s' % (
            ' '.join(cmd), proc.returncode, out, err))
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def pid_alive(pid):
    """True if `pid` exists and is not a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            # The state field follows the parenthesised command name.
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def free_port(host='127.0.0.1'):
    """A TCP port that was free a moment ago (the caller must cope with the
    small race until its server binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05, message=None):
    """Poll `predicate()` until it returns a truthy value, which is returned.
    Raises TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(message or 'condition not met within %.1fs: %r'
                               % (timeout, predicate))
        time.sleep(interval)


def wait_port(host, port, timeout=10.0):
    """Wait until a TCP connection to host:port succeeds."""
    def can_connect():
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False
    wait_until(can_connect, timeout, 0.05,
               '%s:%d not accepting connections after %.1fs'
               % (host, port, timeout))
