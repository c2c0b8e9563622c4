#!/usr/bin/python3
"""The Debian package, built from a copy of the source tree with dpkg-buildpackage and
installed for real with apt-get (this test runs as root on a throwaway machine, and always
purges what it installed). The .deb holds the three programs, the sample configurations
as conffiles, the systemd units and the docs, and lintian finds no error or warning beyond
the ones overridden with a reason; installing creates the conclave system user and makes
/etc/conclave readable by that user's group only; the shipped samples fail
--check-config naming the secret file they lack, and pass once it exists; the installed
daemons, started with their units' ExecStart command lines as the units' user, serve a
conference of three participants with media against a real Prosody; purging removes
the programs, the configuration and the state, but keeps a recording and says so."""

import os
import pwd
import grp
import re
import shlex
import shutil
import stat
import subprocess
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from conclave_media import XmppPeer, parse_metrics

SOURCE = os.environ.get('CONCLAVE_SOURCE_ROOT', os.path.join(os.path.dirname(__file__),
                                                               '..', '..'))
PACKAGE = 'conclave'
PROGRAMS = ('/usr/bin/conclave-focus', '/usr/bin/conclave-bridge', '/usr/bin/conclavectl')
CONFIGS = ('/etc/conclave/focus.conf', '/etc/conclave/bridge.conf')
UNIT_DIR = '/lib/systemd/system'
# The units the package installs from deploy/systemd/.
UNITS = ('conclave-focus.service', 'conclave-bridge@.service')
BRIDGE_INSTANCE = 'bridge'  # conclave-bridge@bridge.service reads the shipped bridge.conf
FOCUS, BRIDGE = 'conference.localhost', 'bridge1.localhost'
ROOM = f'standup@{FOCUS}'
SSRCS = {'alice': (1101, 2101, 3101), 'bob': (1102, 2102, 3102), 'carol': (1103, 2103, 3103)}
# Debian's tools run with the system's PATH, whatever python or compiler comes first here.
SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
BUILD_ENV = {'PATH': SYSTEM_PATH, 'HOME': '/root', 'LANG': 'C.UTF-8'}
APT_ENV = dict(BUILD_ENV, DEBIAN_FRONTEND='noninteractive')
# Files the test adds under /var/lib/conclave before purging it.
STATE_FILE = '/var/lib/conclave/some-state'
RECORDING = '/var/lib/conclave/recordings/20260101T000000Z-m-r.ccrec'


def run(cmd, **kw):
    kw.setdefault('timeout', 120)
    kw.setdefault('check', False)
    kw.setdefault('cwd', '/')
    return procs.run(cmd, **kw)


def package_status():
    # subprocess, not procs.run: this also runs in the harness' clean-up at exit.
    r = subprocess.run(['dpkg-query', '-W', '-f=${db:Status-Status}', PACKAGE],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else 'not-installed'


def purge():
    """Purges the package if any trace of it is installed; returns apt-get's result."""
    if package_status() == 'not-installed':
        return None
    return subprocess.run(['apt-get', 'purge', '-y', PACKAGE], env=APT_ENV,
                          capture_output=True, text=True, timeout=300)


def project_version():
    with open(os.path.join(SOURCE, 'meson.build')) as f:
        return re.search(r"version\s*:\s*'([^']+)'", f.read()).group(1)


def read_key(path, group, key):
    """The value of `key` in `[group]` of a GLib key file ('' if unset)."""
    current = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('['):
                current = line.strip('[]')
            elif current == group and '=' in line and not line.startswith('#'):
                k, v = line.split('=', 1)
                if k.strip() == key:
                    return v.strip()
    return ''


def set_keys(text, values):
    """`text` (a GLib key file) with `values` {(group, key): value} set, in place where
    the key exists, else added at the end of its group (or in a new group)."""
    lines, current, done = [], None, set()

    def flush_group():
        for (g, k), v in values.items():
            if g == current and (g, k) not in done:
                lines.append(f'{k} = {v}')
                done.add((g, k))
    for line in text.splitlines():
        s = line.strip()
        if s.startswith('['):
            flush_group()
            current = s.strip('[]')
        elif current and '=' in s and not s.startswith('#'):
            k = s.split('=', 1)[0].strip()
            if (current, k) in values:
                line = f'{k} = {values[(current, k)]}'
                done.add((current, k))
        lines.append(line)
    flush_group()
    for (g, k), v in values.items():
        if (g, k) not in done:
            lines += [f'[{g}]', f'{k} = {v}']
    return '\n'.join(lines) + '\n'


def write_secret(path, text, user='conclave'):
    """A secret file as the daemons demand: owned by their user, mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text + '\n')
    pw = pwd.getpwnam(user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def unit_service(path, instance=None):
    """What systemd would run for a unit: {'argv', 'user', 'group', 'env', 'state',
    'logs'} from its [Service] section, with %i / %I / %% replaced."""
    svc, section = {'env': {}}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in '#;':
                continue
            if line.startswith('['):
                section = line
                continue
            if section != '[Service]' or '=' not in line:
                continue
            key, value = (x.strip() for x in line.split('=', 1))
            if instance is not None:
                value = value.replace('%i', instance).replace('%I', instance)
            value = value.replace('%%', '%')
            if key == 'ExecStart':
                value = value.lstrip('-@+!:')
                if '%' in value or '$' in value:
                    raise AssertionError(f'{path}: ExecStart the test cannot expand: {value}')
                svc['argv'] = shlex.split(value)
            elif key == 'User':
                svc['user'] = value
            elif key == 'Group':
                svc['group'] = value
            elif key == 'Environment':
                for item in shlex.split(value):
                    k, v = item.split('=', 1)
                    svc['env'][k] = v
            elif key == 'StateDirectory':
                svc['state'] = value.split()
            elif key == 'LogsDirectory':
                svc['logs'] = value.split()
    return svc


def config_of(argv):
    """The --config (or -c) argument of a daemon's command line."""
    for i, a in enumerate(argv):
        if a in ('--config', '-c') and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith('--config='):
            return a.split('=', 1)[1]
    raise AssertionError(f'no --config in {argv}')


def metrics(port):
    import urllib.request
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=2) as r:
        return parse_metrics(r.read().decode())


def health(port):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


class DebianPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        status = package_status()
        if status != 'not-installed':
            raise RuntimeError(f'a {PACKAGE} package is already on this machine (status '
                               f'"{status}"): this test installs and purges its own, so it '
                               f'refuses to run; purge it first (apt-get purge {PACKAGE})')
        cls.user_existed = True
        try:
            pwd.getpwnam('conclave')
        except KeyError:
            cls.user_existed = False
        cls.work = make_tempdir(prefix='conclave-deb-')
        cls.src = os.path.join(cls.work, f'{PACKAGE}-{project_version()}')
        os.makedirs(cls.src)
        # The files git knows of (tracked, or new and not ignored); never a build folder.
        files = run(['git', '-C', SOURCE, 'ls-files', '-z', '--cached', '--others',
                     '--exclude-standard'], check=True).stdout.split('\0')
        for name in filter(None, files):
            source = os.path.join(SOURCE, name)
            if not os.path.lexists(source):
                continue  # deleted in the work tree
            dest = os.path.join(cls.src, name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(source, dest, follow_symlinks=False)
        t = time.monotonic()
        cls.build = run(['dpkg-buildpackage', '-us', '-uc', '-b'], cwd=cls.src, timeout=900,
                        env=dict(BUILD_ENV, DEB_BUILD_OPTIONS=f'parallel={os.cpu_count()}'))
        procs.log('dpkg-buildpackage: exit %d in %.1f s', cls.build.returncode,
                  time.monotonic() - t)
        if cls.build.returncode != 0:
            raise RuntimeError('dpkg-buildpackage failed:\n' + cls.build.stdout[-6000:] +
                               cls.build.stderr[-6000:])
        arch = run(['dpkg-architecture', '-qDEB_HOST_ARCH'], check=True).stdout.strip()
        cls.version = f'{project_version()}-1'
        cls.deb = os.path.join(cls.work, f'{PACKAGE}_{cls.version}_{arch}.deb')
        cls.changes = os.path.join(cls.work, f'{PACKAGE}_{cls.version}_{arch}.changes')
        cls.installed = None
        cls.daemons = []
        cls.peers = []
        cls.server = None
        # Whatever happens from here on (even a SIGTERM from the test runner), the package
        # does not stay installed.
        procs.add_cleanup(purge)

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.kill()
        for d in cls.daemons:
            procs.stop(d, 5)
        if cls.server is not None:
            cls.server.stop()
        purge()
        shutil.rmtree(os.path.dirname(RECORDING), ignore_errors=True)
        try:
            os.rmdir('/var/lib/conclave')
        except OSError:
            pass
        if not cls.user_existed:
            run(['deluser', '--system', '--quiet', 'conclave'])
        procs.log('debian-package: %.1f s in all', time.monotonic() - cls.t0)

    def require_installed(self):
        if type(self).installed is not True:
            self.fail('the package is not installed (see test_3)')

    # -- the package ---------------------------------------------------------------------

    def test_1_contents(self):
        self.assertTrue(os.path.isfile(self.deb), os.listdir(self.work))
        info = run(['dpkg-deb', '-f', self.deb, 'Package', 'Version', 'Depends'],
                   check=True).stdout
        self.assertIn(f'Package: {PACKAGE}\n', info)
        self.assertIn(f'Version: {self.version}\n', info)
        # ${shlibs:Depends} was filled in, and adduser is there for postinst.
        for dep in ('adduser', 'libc6', 'libglib2.0-0', 'libstrophe0', 'libnice10',
                    'libsrtp2-1', 'libssl3', 'libgnutls30'):
            self.assertRegex(info, rf'Depends:.*\b{re.escape(dep)}\b', dep)
        listing = run(['dpkg-deb', '-c', self.deb], check=True).stdout
        entries = {}
        for line in listing.splitlines():
            fields = line.split()
            entries[fields[5].lstrip('.')] = (fields[0], fields[1])
        for p in PROGRAMS:
            self.assertEqual(entries.get(p), ('-rwxr-xr-x', 'root/root'), p)
        for p in CONFIGS + tuple(f'{UNIT_DIR}/{u}' for u in UNITS) + (
                '/usr/share/doc/conclave/copyright', '/usr/share/doc/conclave/README.md'):
            self.assertIn(p, entries)
        # Docs: all of docs/ (dh_compress compresses the larger ones; images/ is a folder).
        for doc in os.listdir(os.path.join(SOURCE, 'docs')):
            p = f'/usr/share/doc/conclave/docs/{doc}'
            self.assertTrue(p in entries or p + '.gz' in entries or p + '/' in entries, p)
        # Only the daemons and the tool: no benchmark, test program or library.
        self.assertEqual(sorted(p for p in entries if p.startswith('/usr/bin/') and
                                not p.endswith('/')), sorted(PROGRAMS))
        self.assertFalse([p for p in entries if '/lib/' in p and p.endswith(('.a', '.so'))])
        conffiles = run(['dpkg-deb', '-I', self.deb, 'conffiles'], check=True).stdout.split()
        self.assertEqual(sorted(conffiles), sorted(CONFIGS))
        # The files shipped are the project's samples and units, unchanged.
        root = os.path.join(self.work, 'unpacked')
        run(['dpkg-deb', '-x', self.deb, root], check=True)
        for shipped, source in [(c, f'deploy/{os.path.basename(c)}') for c in CONFIGS] + [
                (f'{UNIT_DIR}/{u}', f'deploy/systemd/{u}') for u in UNITS]:
            with open(root + shipped, 'rb') as a, open(os.path.join(SOURCE, source), 'rb') as b:
                self.assertEqual(a.read(), b.read(), shipped)
        # Nothing is enabled or started at installation, and the template is never touched.
        postinst = run(['dpkg-deb', '-I', self.deb, 'postinst'], check=True).stdout
        # (debhelper's "don't enable" variant only re-creates links an operator made.)
        self.assertIn("deb-systemd-helper debian-installed 'conclave-focus.service'", postinst)
        self.assertNotIn('new installations run enable', postinst)
        self.assertIsNone(re.search(r'deb-systemd-invoke (start|restart|\$_dh_action)',
                                    postinst))
        self.assertNotIn('conclave-bridge@.service', postinst)

    def test_2_lintian(self):
        r = run(['lintian', '--fail-on', 'error,warning', self.changes], env=BUILD_ENV,
                timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        procs.log('lintian:\n%s', r.stdout.strip() or '(no tag)')
        tags = [line for line in r.stdout.splitlines() if re.match(r'[EW]: ', line)]
        self.assertEqual(tags, [])

    def test_3_install(self):
        t = time.monotonic()
        type(self).installed = False
        r = run(['apt-get', 'install', '-y', './' + os.path.basename(self.deb)],
                cwd=self.work, env=APT_ENV, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(package_status(), 'installed')
        type(self).installed = True
        procs.log('apt-get install: %.1f s', time.monotonic() - t)
        for p in PROGRAMS:
            v = run([p, '--version'], check=True)
            self.assertIn(project_version(), v.stdout + v.stderr, p)

    def test_4_user_and_modes(self):
        self.require_installed()
        pw = pwd.getpwnam('conclave')
        self.assertLess(pw.pw_uid, 1000)  # a system user
        self.assertEqual(grp.getgrgid(pw.pw_gid).gr_name, 'conclave')
        self.assertEqual(pw.pw_dir, '/var/lib/conclave')
        self.assertEqual(pw.pw_shell, '/usr/sbin/nologin')
        gid = grp.getgrnam('conclave').gr_gid
        for path, mode in (('/etc/conclave', 0o750),) + tuple((c, 0o640) for c in CONFIGS):
            st = os.stat(path)
            self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (0, gid, mode),
                             path)
        overrides = run(['dpkg-statoverride', '--list'], check=True).stdout
        for path in ('/etc/conclave',) + CONFIGS:
            self.assertRegex(overrides, rf'root conclave \d+ {re.escape(path)}\n')
        for p in PROGRAMS:
            st = os.stat(p)
            self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o755), p)

    def test_4b_upgrade_keeps_edits_and_modes(self):
        """An upgrade (the same package repacked as version -2) keeps an operator's edit of
        a configuration, the modes and the user."""
        self.require_installed()
        root = os.path.join(self.work, 'next')
        run(['dpkg-deb', '-R', self.deb, root], check=True)
        control = os.path.join(root, 'DEBIAN', 'control')
        with open(control) as f:
            text = f.read()
        with open(control, 'w') as f:
            f.write(text.replace(f'Version: {self.version}\n',
                                 f'Version: {project_version()}-2\n'))
        deb = os.path.join(self.work, 'next.deb')
        run(['dpkg-deb', '--root-owner-group', '-b', root, deb], check=True)
        with open(CONFIGS[0], 'a') as f:
            f.write('# edited by the operator\n')
        uid = pwd.getpwnam('conclave').pw_uid
        r = run(['apt-get', 'install', '-y', './next.deb'], cwd=self.work, env=APT_ENV,
                timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(run(['dpkg-query', '-W', '-f=${Version}', PACKAGE]).stdout,
                         f'{project_version()}-2')
        with open(CONFIGS[0]) as f:
            self.assertTrue(f.read().endswith('# edited by the operator\n'))
        self.assertEqual(pwd.getpwnam('conclave').pw_uid, uid)
        self.test_4_user_and_modes()

    def test_5_samples_need_their_secrets(self):
        """The shipped samples, as installed: refused until the secret file they name
        exists (owned by conclave, 0600), then accepted, read by the conclave user; another
        user cannot even read them."""
        self.require_installed()
        for program, config in zip(PROGRAMS, CONFIGS):
            secret = read_key(config, 'xmpp', 'secret_file')
            self.assertTrue(secret.startswith('/etc/conclave/'), (config, secret))
            self.assertFalse(os.path.exists(secret))
            r = run([program, '--config', config, '--check-config'], user='conclave')
            self.assertEqual(r.returncode, 2, r)
            self.assertIn(f'{config}: [xmpp] secret_file: {secret}: No such file', r.stderr)
            write_secret(secret, 'a component secret')
            try:
                r = run([program, '--config', config, '--check-config'], user='conclave')
                self.assertEqual(r.returncode, 0, r)
                r = run([program, '--config', config, '--check-config'], user='nobody')
                self.assertEqual(r.returncode, 2, r)
                self.assertIn('Permission denied', r.stderr)
            finally:
                os.unlink(secret)

    def test_6_filled_copies_pass(self):
        """Copies of the samples with every *_file key they set pointing at a filled-in
        secret pass --check-config, as the daemons' user."""
        self.require_installed()
        folder = make_tempdir(prefix='conclave-deb-conf-', owner='conclave')
        for program, config in zip(PROGRAMS, CONFIGS):
            with open(config) as f:
                text = f.read()
            values = {}
            for group, key, value in re.findall(r'(?ms)^\[(\w+)\](?:(?!^\[).)*?^(\w+_file)'
                                                r'\s*=\s*(\S+)$', text):
                path = os.path.join(folder, os.path.basename(value))
                write_secret(path, 'filled in')
                values[(group, key)] = path
            self.assertIn(('xmpp', 'secret_file'), values)
            copy = os.path.join(folder, os.path.basename(config))
            with open(copy, 'w') as f:
                f.write(set_keys(text, values))
            os.chmod(copy, 0o644)
            r = run([program, '--config', copy, '--check-config'], user='conclave')
            self.assertEqual(r.returncode, 0, r)

    # -- a conference through the installed daemons -------------------------------------

    def start_unit(self, unit, instance, values, secret):
        """Writes the configuration the unit's ExecStart names (from the installed sample,
        with `values` set and its secret file filled in) and runs that command line as the
        unit's user, creating the state and logs folders as systemd would."""
        svc = unit_service(os.path.join(UNIT_DIR, unit), instance)
        self.assertIn(svc['argv'][0], PROGRAMS, svc)
        self.assertEqual(svc.get('user'), 'conclave', unit)
        config = config_of(svc['argv'])
        self.assertTrue(config.startswith('/etc/conclave/'), config)
        sample = CONFIGS[0] if 'focus' in unit else CONFIGS[1]
        with open(sample) as f:
            text = f.read()
        secret_path = read_key(sample, 'xmpp', 'secret_file')
        write_secret(secret_path, secret)
        with open(config + '.new', 'w') as f:
            f.write(set_keys(text, values))
        shutil.copymode(sample, config + '.new')
        st = os.stat(sample)
        os.chown(config + '.new', st.st_uid, st.st_gid)
        os.replace(config + '.new', config)
        pw = pwd.getpwnam(svc['user'])
        for base, names in (('/var/lib', svc.get('state', [])), ('/var/log', svc.get('logs', []))):
            for name in names:
                os.makedirs(os.path.join(base, name), exist_ok=True)
                os.chown(os.path.join(base, name), pw.pw_uid, pw.pw_gid)
        env = {'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
               'LANG': 'C.UTF-8', **svc['env']}
        log = os.path.join(self.work, unit.replace('@', '-') + '.log')
        proc = procs.start(svc['argv'], name=unit, log_path=log, user=svc['user'],
                           group=svc.get('group'), env=env, cwd='/')
        proc.log = log
        type(self).daemons.append(proc)
        return proc

    def log_of(self, proc):
        with open(proc.log, errors='replace') as f:
            return f.read()[-3000:]

    def test_7_conference_with_the_installed_daemons(self):
        self.require_installed()
        t = time.monotonic()
        server = type(self).server = Prosody(components={FOCUS: 'fs', BRIDGE: 'bs'})
        server.start()
        for user in SSRCS:
            server.register(user, f'{user}-pw')
        focus_http, bridge_http = procs.free_port(), procs.free_port()
        media = 30000 + procs.free_port() % 20000
        focus = self.start_unit(UNITS[0], None, {
            ('xmpp', 'port'): server.component_port_for(FOCUS), ('xmpp', 'domain'): FOCUS,
            ('focus', 'bridges'): BRIDGE, ('security', 'authenticated_domains'): 'localhost',
            ('security', 'guest_domains'): '', ('http', 'listen'): f'127.0.0.1:{focus_http}',
        }, 'fs')
        bridge = self.start_unit(UNITS[1], BRIDGE_INSTANCE, {
            ('xmpp', 'port'): server.component_port_for(BRIDGE), ('xmpp', 'domain'): BRIDGE,
            ('http', 'listen'): f'127.0.0.1:{bridge_http}', ('http', 'channel_base_url'): '',
            ('media', 'addresses'): '127.0.0.1', ('media', 'port_min'): media,
            ('media', 'port_max'): media + 20, ('media', 'workers'): 1,
            ('colibri', 'trusted'): FOCUS,
        }, 'bs')
        for proc, port in ((focus, focus_http), (bridge, bridge_http)):
            procs.wait_until(lambda port=port: health(port) == 200, timeout=15,
                             message=f'{proc.name} never healthy:\n{self.log_of(proc)}')
        procs.wait_until(lambda: metrics(focus_http).get('conclave_focus_bridges_available')
                         == 1, timeout=15, message='the bridge never available')
        for name, (audio, video, rtx) in SSRCS.items():
            p = XmppPeer(name, f'{name}@localhost/{name}', f'{name}-pw', server.c2s_port,
                         audio=audio, video=video, rtx=rtx)
            type(self).peers.append(p)
            p.join(ROOM, name)
            self.assertEqual(p.wait_session()['focus'], f'{ROOM}/focus')
            p.wait_connected()
        self.assertEqual(metrics(focus_http).get('conclave_focus_sessions'), 3)
        for p in self.peers:
            p.send(cmd='send', seconds=1.5)
        for receiver in self.peers:
            wanted = {x for n, s in SSRCS.items() if n != receiver.name for x in s}

            def all_there(receiver=receiver, wanted=wanted):
                streams = {s['ssrc']: s for s in receiver.report()['streams']}
                return all(streams.get(x, {}).get('unique', 0) > 0 for x in wanted)
            procs.wait_until(all_there, timeout=10,
                             message=f'{receiver.name} did not get all of {sorted(wanted)}')
            report = receiver.report()
            for s in report['streams']:
                self.assertEqual(s['mismatches'], 0, s)
            self.assertEqual(report['srtp_errors'], 0, report)
        # The daemons ran as the unit's user, from the installed programs.
        for proc in (focus, bridge):
            with open(f'/proc/{proc.pid}/status') as f:
                uid = re.search(r'^Uid:\s+(\d+)', f.read(), re.M).group(1)
            self.assertEqual(int(uid), pwd.getpwnam('conclave').pw_uid)
            self.assertIn(os.readlink(f'/proc/{proc.pid}/exe'), PROGRAMS)
        for p in self.peers:
            p.kill()
        type(self).peers = []
        # A clean stop, as systemctl stop does it (SIGTERM).
        for proc in (focus, bridge):
            proc.terminate()
            self.assertEqual(proc.wait(10), 0, self.log_of(proc))
        procs.log('conference through the installed daemons: %.1f s', time.monotonic() - t)

    # -- purge ---------------------------------------------------------------------------

    def test_8_purge(self):
        self.require_installed()
        # Some state, and a recording, where the daemons keep theirs.
        os.makedirs(os.path.dirname(RECORDING), exist_ok=True)
        for path in (STATE_FILE, RECORDING):
            with open(path, 'w') as f:
                f.write('x')
        # A secret the operator added (the conference test left its own too).
        write_secret('/etc/conclave/focus.secret', 'secret')
        r = purge()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        type(self).installed = False
        self.assertEqual(package_status(), 'not-installed')
        for path in PROGRAMS + tuple(f'{UNIT_DIR}/{u}' for u in UNITS) + (
                '/etc/conclave', STATE_FILE, '/var/log/conclave', '/usr/share/doc/conclave'):
            self.assertFalse(os.path.lexists(path), path)
        # The recording stays, and purge said so.
        self.assertTrue(os.path.isfile(RECORDING))
        self.assertIn(RECORDING, r.stdout + r.stderr)
        self.assertFalse(re.search(r'conclave', run(['dpkg-statoverride', '--list'],
                                                    check=True).stdout))
        # The system user stays (files elsewhere may still belong to it).
        self.assertEqual(pwd.getpwnam('conclave').pw_dir, '/var/lib/conclave')


if __name__ == '__main__':
    tap.main(DebianPackage)
