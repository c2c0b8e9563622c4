"""A private ejabberd (23.01, Debian 12) instance for integration tests.

Same interface as :class:`conclave_harness.prosody.Prosody`, so a scenario
can run against either server: plaintext c2s and component (XEP-0114)
listeners on free loopback ports, an anonymous guest host, no s2s, no HTTP,
no TLS, no MUC; all state (config, Mnesia spool, logs, Erlang cookie) in a
private folder owned by the `ejabberd` user.

How it differs from a packaged ejabberd, and why:

* The Erlang VM is started directly (``erl ... -s ejabberd``, what
  ``ejabberdctl foreground-quiet`` runs), not through ``ejabberdctl``:
  that bash script runs erl as a *child* instead of exec'ing it, so the
  harness' stop signal and PR_SET_PDEATHSIG would hit bash and orphan the
  VM.  Started this way the VM is the registered process: SIGTERM makes it
  shut down cleanly (OTP's SIGTERM handler calls init:stop/0) and it gets
  the parent-death signal.
* Erlang distribution runs without epmd: ``-erl_epmd_port DIST
  -start_epmd false`` makes the node listen on 127.0.0.1:DIST itself, and
  ``ejabberdctl`` (status, register) reaches it there thanks to
  ``ERL_DIST_PORT`` in the private ejabberdctl.cfg.  So no epmd is started,
  nothing listens on the default port 4369, and a system epmd or ejabberd
  neither matters nor is touched.
* The node name is unique per instance (and kept across restarts: Mnesia
  ties its schema to it); the cookie is $HOME/.erlang.cookie with HOME in
  the private folder.
* The VM's helper processes (erl_child_setup, eimp, inet_gethost) put
  themselves in process groups of their own, so procs' group sweep misses
  them.  They exit once the VM is gone; stop() and the harness clean-up
  wait for that and SIGKILL stragglers, found by a marker variable in
  their environment (:meth:`instance_pids`).
"""

import glob
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import time

from . import procs
from .tempdir import make_tempdir

__all__ = ['Ejabberd', 'EjabberdError', 'instance_pids', 'start_epmd']

HOST = '127.0.0.1'
DEFAULT_COMPONENTS = {'conference.localhost': 'secret1'}
# Environment marker inherited by every process of an instance.
_MARKER = 'CONCLAVE_EJABBERD_INSTANCE'
# ejabberd and erl are Debian packages: never take them (or an Erlang
# environment) from the caller's PATH / environment.
_PATH = '/usr/sbin:/usr/bin:/sbin:/bin'
_counter = 0


class EjabberdError(RuntimeError):
    pass


def _yaml_str(value):
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value))


def _erl_libs(ctl):
    """ERL_LIBS as ejabberdctl sets it: Debian installs ejabberd outside the
    Erlang root (/usr/lib/<triplet>/ejabberd-<vsn>)."""
    try:
        with open(ctl, errors='replace') as f:
            m = re.search(r'''^ERL_LIBS=['"]?([^'"\n]+)''', f.read(), re.M)
        if m and os.path.isdir(m.group(1)):
            return m.group(1)
    except OSError:
        pass
    apps = glob.glob('/usr/lib/*/ejabberd-*/ebin/ejabberd.app')
    return os.path.dirname(os.path.dirname(os.path.dirname(apps[0]))) \
        if apps else None


def instance_pids(folder):
    """Live processes (VM, helpers, ejabberdctl runs) of the instance whose
    private folder is `folder`, found by the marker in their environment.
    Needs root, as the harness is, to read other users'
    /proc/PID/environ."""
    needle = ('%s=%s' % (_MARKER, folder)).encode()
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/environ' % name, 'rb') as f:
                env = f.read().split(b'\0')
        except OSError:
            continue
        if needle in env and procs.pid_alive(int(name)):
            found.append(int(name))
    return found


def start_epmd(user='ejabberd'):
    """A private epmd on a free loopback port, stopped at harness exit;
    returns its port, for Ejabberd(epmd_port=...).  Nodes that share it
    find each other's distribution ports by name, as on a normal host, but
    the system's epmd (port 4369) is neither used nor touched."""
    epmd = shutil.which('epmd', path=_PATH)
    if epmd is None:
        raise EjabberdError('no epmd in %s (erlang-base)' % _PATH)
    for attempt in range(5):
        port = procs.free_port()
        proc = procs.start([epmd, '-port', port, '-address', HOST],
                           name='epmd', user=user,
                           env={'PATH': _PATH, 'LANG': 'C.UTF-8'})
        try:
            procs.wait_until(lambda: _can_connect(port) or
                             not procs.is_running(proc), 5.0)
        except TimeoutError:
            pass
        if procs.is_running(proc) and _can_connect(port):
            return port
        procs.stop(proc)
    raise EjabberdError('could not start a private epmd')


def _can_connect(port):
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


class Ejabberd:
    """Usage (as for Prosody)::

        e = Ejabberd(); e.start(); e.register('alice', 'pw')
        ... connect to (e.host, e.c2s_port) ...
        e.stop()

    `components` maps component domain -> secret (default
    {'conference.localhost': 'secret1'}; pass {} for none).  `modules` adds
    ejabberd modules: names ('mod_x' or 'x') or a dict name -> options,
    either a dict (written as JSON, so its strings are YAML double-quoted:
    ejabberd's string() type) or YAML flow text such as '{access: all}'
    (unquoted words are ejabberd's atom() type).  `extra_config` is YAML text
    appended at top level (must not repeat a key written here: hosts,
    listen, modules, host_config, ...).  Unlike Prosody, register() needs
    the server running.

    `config`, a function of this instance returning YAML text, replaces
    the generated ejabberd.yml (to run a shipped configuration); it is
    called once the private folder and the ports (c2s_port,
    component_port_for) are known, and must listen on 127.0.0.1 at those
    ports.  `cookie` sets the Erlang cookie (nodes of one cluster share
    it).  `epmd_port`: register the node with a private epmd on that port
    (see :func:`start_epmd`) instead of running distribution without epmd,
    so that several nodes on this host can reach each other (with
    ``-erl_epmd_port`` every node must listen on the one port it names).
    """

    # (type, condition) of the error bounced for a stanza to a configured
    # component that is not connected: ejabberd only has a route while it
    # is, so the stanza falls through to s2s, denied here (Prosody:
    # ('wait', 'remote-server-timeout')).
    component_down_error = ('auth', 'forbidden')

    def __init__(self, domain='localhost', guest_domain='guest.localhost',
                 components=None, modules=(), extra_config='',
                 log_level='info', user='ejabberd', extra_domains=(),
                 config=None, cookie=None, epmd_port=None):
        global _counter
        self._custom_config = config
        self._cookie = cookie
        self.epmd_port = epmd_port
        self.domain = domain
        self.guest_domain = guest_domain
        # More password-authenticated hosts (e.g. a domain the service must refuse).
        self.extra_domains = list(extra_domains)
        self.components = dict(DEFAULT_COMPONENTS if components is None
                               else components)
        self.modules = dict(modules) if isinstance(modules, dict) else \
            {m: {} for m in modules}
        self.extra_config = extra_config
        # Readiness detection parses 'info' lines, so never log less.
        self.log_level = 'debug' if log_level == 'debug' else 'info'
        self.user = user
        self.host = HOST
        self.dir = None
        _counter += 1
        # Unique per instance, fixed for its lifetime (Mnesia's schema is
        # bound to the node name, so a restart must reuse it).
        self.node = 'conclave%d_%d_%s@localhost' % (
            os.getpid(), _counter, secrets.token_hex(3))
        self._ctl = shutil.which('ejabberdctl', path=_PATH)
        self._erl = shutil.which('erl', path=_PATH)
        self._c2s_port = None
        self._component_port = None
        self._component_ports = {}  # one ejabberd_service listener per component
        self._dist_port = None
        self._proc = None

    # -- properties ---------------------------------------------------

    @property
    def c2s_port(self):
        return self._c2s_port

    @property
    def component_port(self):
        """The first component's port; None when no component is configured."""
        return self._component_port

    def component_port_for(self, domain):
        """Each component has its own ejabberd_service listener: with several hosts in
        one listener, ejabberd routes all of them to whichever component connects."""
        return self._component_ports[domain]

    @property
    def dist_port(self):
        """Erlang distribution port (127.0.0.1), used by ejabberdctl."""
        return self._dist_port

    @property
    def log_path(self):
        return os.path.join(self.dir, 'logs', 'ejabberd.log') \
            if self.dir else None

    @property
    def config_path(self):
        return os.path.join(self.dir, 'ejabberd.yml') if self.dir else None

    @property
    def spool_dir(self):
        return os.path.join(self.dir, 'spool') if self.dir else None

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    @property
    def running(self):
        return self._proc is not None and procs.is_running(self._proc)

    # -- configuration ------------------------------------------------

    def _config(self):
        q = _yaml_str
        hosts = [self.domain] + self.extra_domains + ([self.guest_domain] if self.guest_domain
                                 else [])
        lines = [
            '# Generated by conclave_harness; private test instance.',
            'hosts:',
        ] + ['  - %s' % q(h) for h in hosts] + [
            'loglevel: %s' % self.log_level,
            'log_rotate_count: 0',
            'log_rotate_size: infinity',
            'hide_sensitive_log_data: false',
            'default_db: mnesia',
            'auth_method: [mnesia]',
            'auth_password_format: scram',
            # No s2s listener, and never an outgoing s2s connection.
            's2s_access: none',
            # No certificate requests (ACME is on by default).
            'acme:',
            '  auto: false',
            'listen:',
            '  -',
            '    port: %d' % self._c2s_port,
            '    ip: %s' % q(HOST),
            '    module: ejabberd_c2s',
            # No certificates: no STARTTLS at all; SASL PLAIN/SCRAM are
            # then offered in plaintext (ejabberd has no equivalent of
            # Prosody's allow_unencrypted_plain_auth to set).
            '    starttls: false',
            '    starttls_required: false',
        ]
        for comp, secret in self.components.items():
            lines += [
                '  -',
                '    port: %d' % self._component_ports[comp],
                '    ip: %s' % q(HOST),
                '    module: ejabberd_service',
                '    hosts:',
                '      %s:' % q(comp),
                '        password: %s' % q(secret),
            ]
        if self.guest_domain:
            lines += [
                'host_config:',
                '  %s:' % q(self.guest_domain),
                '    auth_method: [anonymous]',
                # sasl_anon = SASL ANONYMOUS, what Prosody's anonymous
                # authentication offers (login_anon instead accepts any
                # user name and password).
                '    anonymous_protocol: sasl_anon',
            ]
        modules = {'mod_disco': {}, 'mod_ping': {}, 'mod_roster': {},
                   # change_password, for register() of an existing user
                   'mod_admin_extra': {}}
        for name, opts in self.modules.items():
            modules[name if name.startswith('mod_') else 'mod_' + name] = \
                opts or {}
        lines.append('modules:')
        for name, opts in modules.items():
            lines.append('  %s: %s' % (name, opts if isinstance(opts, str)
                                       else json.dumps(opts)))
        lines += [self.extra_config, '']
        return '\n'.join(lines)

    def _ctl_config(self):
        # Sourced by ejabberdctl (bash): node name and epmd-less
        # distribution port for the commands it runs against the node.
        if self.epmd_port:  # ERL_EPMD_PORT comes from the environment
            return ('# Generated by conclave_harness.\n'
                    'ERLANG_NODE=%s\nEJABBERD_BYPASS_WARNINGS=true\n'
                    % self.node)
        return ('# Generated by conclave_harness.\n'
                'ERLANG_NODE=%s\nERL_DIST_PORT=%d\n'
                'EJABBERD_BYPASS_WARNINGS=true\n'
                % (self.node, self._dist_port))

    def _write(self, name, text, mode=0o640):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text)
        pw = pwd.getpwnam(self.user)
        os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, mode)
        return path

    def _prepare(self):
        if self._ctl is None or self._erl is None:
            raise EjabberdError('ejabberd is not installed (apt-get install '
                                'ejabberd): no ejabberdctl/erl in %s' % _PATH)
        if self.dir is None:
            self.dir = make_tempdir('conclave-ejabberd-', owner=self.user)
            pw = pwd.getpwnam(self.user)
            for sub in ('spool', 'logs'):
                os.mkdir(os.path.join(self.dir, sub), 0o750)
                os.chown(os.path.join(self.dir, sub), pw.pw_uid, pw.pw_gid)
            # The instance's own cookie (Erlang wants it owner-only).
            self._write('.erlang.cookie',
                        self._cookie or secrets.token_hex(20), 0o400)
            # Name resolution for the VM and ejabberdctl: "localhost" from
            # here, no DNS (the missing default file is an error report).
            self._write('inetrc', '{lookup,["file","native"]}.\n'
                        '{host,{127,0,0,1},["localhost"]}.\n')
            procs.add_cleanup(self._sweep)
            # Fail clearly if the folder is out of the user's reach (e.g.
            # $CONCLAVE_TEST_TMP made by a bare `mktemp -d`, mode 0700):
            # the VM would die with an obscure eacces on the cookie.
            if procs.run(['test', '-w', self.spool_dir], user=self.user,
                         env={'PATH': _PATH}, check=False).returncode:
                raise EjabberdError(
                    'user %s cannot write to %s: make every parent folder '
                    'searchable (e.g. chmod 755 $CONCLAVE_TEST_TMP)'
                    % (self.user, self.spool_dir))
        self._write('ejabberd.yml', self._custom_config(self)
                    if self._custom_config else self._config())
        self._write('ejabberdctl.cfg', self._ctl_config())

    def _env(self):
        """A clean environment: nothing the caller has (ERL_*, EJABBERD_*,
        ejabberdctl's CONFIG_DIR/SPOOL_DIR/VMARGS..., NOTIFY_SOCKET, which
        ejabberd would use for systemd notifications) leaks in."""
        env = {
            'PATH': _PATH, 'HOME': self.dir, 'LANG': 'C.UTF-8',
            'ERL_INETRC': os.path.join(self.dir, 'inetrc'),
            'ERL_CRASH_DUMP_BYTES': '0',
            _MARKER: self.dir,
        }
        if self.epmd_port:
            env.update(ERL_EPMD_PORT=str(self.epmd_port),
                       ERL_EPMD_ADDRESS=HOST)
        return env

    def _server_env(self):
        env = self._env()
        env.update({
            'EJABBERD_CONFIG_PATH': self.config_path,
            'EJABBERD_LOG_PATH': self.log_path,
            'ERL_CRASH_DUMP': os.path.join(self.dir, 'logs',
                                           'erl_crash.dump'),
            'ERL_MAX_PORTS': '32000',
            'ERL_MAX_ETS_TABLES': '1400',
            'SCRIPT_DIR': os.path.dirname(os.path.realpath(self._ctl)),
        })
        libs = _erl_libs(self._ctl)
        if libs:
            env['ERL_LIBS'] = libs
        return env

    def _server_cmd(self):
        spool = self.spool_dir.replace('\\', '\\\\').replace('"', '\\"')
        if self.epmd_port:  # a private epmd (ERL_EPMD_PORT), a fixed port
            dist = ['-kernel', 'inet_dist_listen_min', str(self._dist_port),
                    'inet_dist_listen_max', str(self._dist_port)]
        else:
            dist = ['-erl_epmd_port', str(self._dist_port)]
        return [self._erl, '-sname', self.node] + dist + [
                '-start_epmd', 'false',
                '-kernel', 'inet_dist_use_interface', '{127,0,0,1}',
                '-mnesia', 'dir', '"%s"' % spool,
                '-ejabberd', 'log_rotate_size', 'infinity',
                '-ejabberd', 'log_rotate_count', '0',
                # Console (stdout.log): critical messages only; the rest
                # goes to log_path.
                '-ejabberd', 'quiet', 'true',
                '-s', 'ejabberd', '-noinput']

    # -- logs -----------------------------------------------------------

    def _stdout_path(self):
        return os.path.join(self.dir, 'stdout.log')

    def _log_sizes(self):
        """Current sizes of (log_path, stdout.log), for _log_tail."""
        sizes = []
        for path in (self.log_path, self._stdout_path()):
            try:
                sizes.append(os.path.getsize(path))
            except FileNotFoundError:
                sizes.append(0)
        return tuple(sizes)

    def _log_tail(self, offsets=(0, 0), limit=4000):
        """ejabberd's log, then the VM's stdout/stderr (early boot errors
        and critical messages), each from its offset."""
        texts = []
        for path, offset in zip((self.log_path, self._stdout_path()),
                                offsets):
            try:
                with open(path, 'rb') as f:
                    f.seek(offset)
                    texts.append(f.read().decode(errors='replace'))
            except FileNotFoundError:
                texts.append('')
        text = texts[0]
        if texts[1].strip():
            text += '\n--- stdout/stderr ---\n' + texts[1]
        return text[-limit:]

    def log_text(self):
        return self._log_tail(limit=10 ** 9) if self.dir else ''

    def wait_log(self, pattern, timeout=10.0):
        """Wait until the ejabberd log matches regex `pattern`; returns the
        match."""
        rx = re.compile(pattern)
        return procs.wait_until(lambda: rx.search(self.log_text()), timeout,
                                0.05, 'ejabberd log never matched %r'
                                % pattern)

    # -- processes ------------------------------------------------------

    def instance_pids(self):
        """Live processes of this instance: see :func:`instance_pids`."""
        return instance_pids(self.dir) if self.dir else []

    def _sweep(self, timeout=2.0):
        """Wait for the instance's processes to exit; SIGKILL stragglers."""
        try:
            procs.wait_until(lambda: not self.instance_pids(), timeout, 0.05)
            return
        except TimeoutError:
            pass
        for pid in self.instance_pids():
            procs.log('ejabberd: killing leftover pid %d', pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            procs.wait_until(lambda: not self.instance_pids(), 2.0, 0.05)
        except TimeoutError:
            procs.log('ejabberd: processes %s survived SIGKILL',
                      self.instance_pids())

    # -- lifecycle ----------------------------------------------------

    def _ports(self):
        ports = [('ejabberd_c2s', self._c2s_port)]
        ports += [('ejabberd_service', p) for p in self._component_ports.values()]
        return ports

    def _launch(self, timeout):
        """Start the VM and wait until both listeners accept connections
        and the node answers `ejabberdctl status`.  Returns None when up,
        or 'port-conflict' if a port was taken."""
        offset = self._log_sizes()
        deadline = time.monotonic() + timeout
        self._proc = procs.start(
            self._server_cmd(), name='ejabberd',
            log_path=self._stdout_path(), user=self.user,
            cwd=self.spool_dir, env=self._server_env())
        ports = self._ports()
        up = [re.compile(r'Start accepting TCP connections at '
                         r'127\.0\.0\.1:%d for %s\b' % (p, m))
              for m, p in ports]
        conflict = re.compile(r'eaddrinuse')
        while True:
            # Whether it still runs is checked before reading the logs: what
            # it wrote before exiting is then read too.
            running = procs.is_running(self._proc)
            text = self._log_tail(offset, limit=10 ** 7)
            m = conflict.search(text)
            if m:
                line = text[text.rfind('\n', 0, m.start()) + 1:
                            text.find('\n', m.end())]
                procs.log('ejabberd: port conflict: %s', line.strip()[:300])
                self.stop()
                return 'port-conflict'
            if all(rx.search(text) for rx in up) and \
                    all(_can_connect(p) for _, p in ports):
                break
            if not running:
                code = self.stop()
                raise EjabberdError('ejabberd exited with %s during start-up'
                                    ':\n%s' % (code, self._log_tail(offset)))
            if time.monotonic() > deadline:
                self.stop()
                raise EjabberdError('ejabberd not listening after %.1fs:\n%s'
                                    % (timeout, self._log_tail(offset)))
            time.sleep(0.05)
        while True:
            remaining = deadline - time.monotonic()
            try:
                r = self.ejabberdctl('status', check=False,
                                     timeout=max(1.0, remaining))
                if r.returncode == 0:
                    return None
                why = r.stdout + r.stderr
            except TimeoutError as e:
                why = str(e)
            if time.monotonic() > deadline or not self.running:
                self.stop()
                raise EjabberdError('ejabberd node %s not answering '
                                    '`ejabberdctl status` after %.1fs: %s\n'
                                    '%s' % (self.node, timeout, why.strip(),
                                            self._log_tail(offset)))
            time.sleep(0.2)

    def start(self, timeout=30.0):
        """Start (first time: pick ports, write config).  Retries with new
        ports if another process grabbed one in the meantime."""
        if self.running:
            return
        if self._c2s_port is not None:  # restart: ports must stay the same
            self._prepare()
            if self._launch(timeout):
                raise EjabberdError(
                    'a port is taken, cannot restart on c2s %d / component '
                    '%s / distribution %d' % (self._c2s_port,
                                              self._component_port,
                                              self._dist_port))
            return
        for attempt in range(5):
            n = 2 + len(self.components)
            ports = [procs.free_port() for _ in range(n)]
            if len(set(ports)) < n:
                continue
            self._c2s_port, self._dist_port = ports[:2]
            self._component_ports = dict(zip(self.components, ports[2:]))
            self._component_port = ports[2] if self.components else None
            self._prepare()
            if not self._launch(timeout):
                procs.log('ejabberd up: c2s %d, component %s, node %s '
                          '(distribution port %d), dir %s', self._c2s_port,
                          self._component_port, self.node, self._dist_port,
                          self.dir)
                return
            procs.log('ejabberd: port conflict, retrying with other ports')
        raise EjabberdError('could not find free ports for ejabberd')

    def stop(self, timeout=5.0):
        """Stop ejabberd (SIGTERM: clean shutdown, Mnesia closed), wait for
        every process of the instance; returns the VM's exit code (None if
        it was not running)."""
        if self._proc is None:
            if self.dir:
                self._sweep(0)
            return None
        proc, self._proc = self._proc, None
        code = procs.stop(proc, timeout)
        self._sweep()
        return code

    def restart(self, timeout=30.0):
        self.stop()
        self.start(timeout)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- helpers ------------------------------------------------------

    def ejabberdctl(self, *args, timeout=30.0, check=True):
        """Run `ejabberdctl args...` against this node, as the ejabberd
        user (each call boots a small Erlang node: ~0.3 s)."""
        if self.dir is None:
            raise EjabberdError('ejabberd was never started')
        return procs.run(
            [self._ctl, '--config-dir', self.dir,
             '--config', self.config_path, '--spool', self.spool_dir,
             '--logs', os.path.join(self.dir, 'logs'), '--node', self.node]
            + list(args), user=self.user, cwd=self.spool_dir,
            env=self._env(), timeout=timeout, check=check)

    def register(self, user, password, domain=None):
        """Create (or reset the password of) user@domain.  Unlike
        Prosody.register, ejabberd must be running."""
        if not self.running:
            raise EjabberdError('register(): ejabberd is not running')
        domain = domain or self.domain
        r = self.ejabberdctl('register', user, domain, password, check=False)
        if r.returncode == 0:
            return
        if 'already registered' in r.stdout + r.stderr:
            self.ejabberdctl('change_password', user, domain, password)
            return
        raise EjabberdError('ejabberdctl register %s %s failed (%d): %s'
                            % (user, domain, r.returncode,
                               (r.stdout + r.stderr).strip()))

    def __repr__(self):
        return '<Ejabberd %s c2s=%s component=%s node=%s pid=%s>' % (
            self.domain, self._c2s_port, self._component_port, self.node,
            self.pid)
