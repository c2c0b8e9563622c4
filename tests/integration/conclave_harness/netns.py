"""Runs a test program in a private network namespace with only loopback, so that browsers
and their peers put every ICE candidate on 127.0.0.1 and nothing can leave the machine.

A test program calls `enter()` first thing when run as a program:

    if __name__ == '__main__':
        netns.enter(__file__, prepare=fetch_client_files)

Outside the namespace, `enter` runs `prepare()` (which may use the network, e.g. `npm ci`,
and returns a problem string or None), then executes the same program again under
`unshare --net`. Inside, it brings `lo` up. A problem on either side is handed over in the
environment and read with `problem()`, so that the program still reports every case (as
failed, with the reason) instead of dying before its TAP plan."""

import fcntl
import os
import shutil
import socket
import struct
import subprocess
import sys

INSIDE_ENV = 'CONCLAVE_NETNS'
PROBLEM_ENV = 'CONCLAVE_NETNS_PROBLEM'


def _loopback_up():
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack('16sH22x', b'lo', 0)
        flags = struct.unpack('16sH22x', fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack('16sH22x', b'lo', flags | iff_up))


def _add_problem(text):
    old = os.environ.get(PROBLEM_ENV)
    os.environ[PROBLEM_ENV] = f'{old}; {text}' if old else text


def enter(program, prepare=None):
    """See the module's text. Returns only inside the namespace (or when none can be made,
    with the problem recorded)."""
    if os.environ.get(INSIDE_ENV) == '1':
        try:
            _loopback_up()
        except OSError as e:
            _add_problem(f'cannot bring loopback up in the namespace: {e}')
        return
    if prepare is not None:
        problem = prepare()
        if problem:
            _add_problem(problem)
    os.environ[INSIDE_ENV] = '1'
    unshare = shutil.which('unshare')
    if unshare and subprocess.run([unshare, '--net', 'true'], stderr=sys.stderr).returncode == 0:
        sys.stderr.flush()
        os.execv(unshare, [unshare, '--net', '--', sys.executable, os.path.abspath(program)]
                 + sys.argv[1:])
    _add_problem('cannot create a network namespace (unshare --net; needs root): browsers '
                 'would put ICE candidates on the external interface')


def run_setup(command, what, timeout=240):
    """For `prepare`: runs a setup command; its failure as a problem string, else None."""
    try:
        subprocess.run(command, check=True, timeout=timeout, stdout=sys.stderr,
                       stderr=sys.stderr)
    except (OSError, subprocess.SubprocessError) as e:
        return f'{what} failed: {e}'
    return None


def problem():
    """What went wrong while preparing or entering the namespace, or None."""
    return os.environ.get(PROBLEM_ENV)
