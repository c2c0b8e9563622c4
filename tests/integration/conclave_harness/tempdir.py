"""Private temporary folders, removed when the harness exits.

Folders live under ``$CONCLAVE_TEST_TMP`` if set, else /tmp.  Each service
gets its own folder, chowned to its service user, because that user must be
able to enter it (mkdtemp creates it 0700).
"""

import os
import pwd
import shutil
import stat
import tempfile

from . import procs

__all__ = ['base_dir', 'make_tempdir', 'remove_tempdir']

_dirs = []


def base_dir():
    return os.environ.get('CONCLAVE_TEST_TMP') or '/tmp'


def _check_reachable(path, uid):
    """Warn early if `uid` cannot traverse the parents of `path` (e.g.
    CONCLAVE_TEST_TMP under /root): the service would fail with an obscure
    permission error otherwise."""
    parent = os.path.dirname(os.path.abspath(path))
    while True:
        st = os.stat(parent)
        if st.st_uid != uid and not st.st_mode & stat.S_IXOTH:
            procs.log('warning: uid %d probably cannot enter %s (mode %o); '
                      'set CONCLAVE_TEST_TMP elsewhere', uid, parent,
                      stat.S_IMODE(st.st_mode))
            return
        if parent == '/':
            return
        parent = os.path.dirname(parent)


def make_tempdir(prefix='conclave-', owner=None, base=None):
    """Create a private (0700) folder and return its absolute path.

    `owner` (user name or uid) becomes the folder's owner, with that user's
    primary group.  The folder is deleted at harness exit, after every
    process was stopped."""
    base = base or base_dir()
    os.makedirs(base, exist_ok=True)
    path = os.path.realpath(tempfile.mkdtemp(prefix=prefix, dir=base))
    _dirs.append(path)
    if owner is not None:
        pw = pwd.getpwnam(owner) if isinstance(owner, str) else \
            pwd.getpwuid(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        _check_reachable(path, pw.pw_uid)
    return path


def remove_tempdir(path):
    """Remove a folder made by make_tempdir now (ignores missing ones)."""
    shutil.rmtree(path, ignore_errors=True)
    if path in _dirs:
        _dirs.remove(path)


def _remove_all():
    for path in list(_dirs):
        remove_tempdir(path)


procs.add_cleanup(_remove_all)
