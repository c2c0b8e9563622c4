"""A private Janus (Debian's package) for bench/janus_compare.py: installed with apt-get
when missing, configured in a temporary folder with only the VideoRoom plugin and the HTTP
transport, started and stopped by the benchmark.

Janus gathers ICE candidates on every interface except loopback ones, so it must run
inside a network namespace whose non-loopback interface (a veth) carries the benchmark's
address (see netns_setup in janus_compare.py)."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request

JANUS = '/usr/bin/janus'
PLUGINS = '/usr/lib/x86_64-linux-gnu/janus/plugins'
TRANSPORTS = '/usr/lib/x86_64-linux-gnu/janus/transports'
EVENTS = '/usr/lib/x86_64-linux-gnu/janus/events'
LOGGERS = '/usr/lib/x86_64-linux-gnu/janus/loggers'


def install_if_missing(binary=JANUS):
    """Debian's janus package, as deploy/install-deps.sh installs packages: only when
    missing, without recommends, with no system-wide service started."""
    if os.path.exists(binary):
        return
    if binary != JANUS:
        raise SystemExit(f'janus_compare: {binary} does not exist')
    if os.geteuid() != 0:
        raise SystemExit('janus_compare: Janus is not installed (apt-get install janus, as root)')
    print('janus_compare: installing janus', file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    policy = '/usr/sbin/policy-rc.d'
    created = False
    if not os.path.exists(policy):
        with open(policy, 'w') as f:
            f.write('#!/bin/sh\nexit 101\n')
        os.chmod(policy, 0o755)
        created = True
    try:
        subprocess.run(['apt-get', 'update', '-q'], check=True, env=env, stdout=sys.stderr)
        subprocess.run(['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'janus'],
                       check=True, env=env, stdout=sys.stderr)
    finally:
        if created:
            os.unlink(policy)
    if os.path.isdir('/run/systemd/system'):
        subprocess.run(['systemctl', 'disable', '--now', 'janus.service'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def version(binary):
    out = subprocess.run([binary, '--version'], capture_output=True, text=True, timeout=20)
    lines = [x for x in (out.stdout + out.stderr).splitlines() if x.strip()]
    return ' '.join(lines[:2]) if lines else 'unknown'


def _plugin_libs(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith('.so'))


def write_config(folder, address, http_port, rtp_min, rtp_max, event_loops):
    """janus.jcfg, the VideoRoom's and the HTTP transport's configuration in `folder`."""
    plugins = [p for p in _plugin_libs(PLUGINS) if p != 'libjanus_videoroom.so']
    transports = [t for t in _plugin_libs(TRANSPORTS) if t != 'libjanus_http.so']
    plugins, transports = ', '.join(plugins), ', '.join(transports)
    events, loggers = ', '.join(_plugin_libs(EVENTS)), ', '.join(_plugin_libs(LOGGERS))
    with open(os.path.join(folder, 'janus.jcfg'), 'w') as f:
        f.write(f'''general: {{
    configs_folder = "{folder}"
    plugins_folder = "{PLUGINS}"
    transports_folder = "{TRANSPORTS}"
    events_folder = "{EVENTS}"
    loggers_folder = "{LOGGERS}"
    debug_level = 3
    debug_timestamps = false
    admin_secret = "unused-{os.getpid()}"
    # Sessions live as long as the benchmark: it stops Janus itself.
    session_timeout = 0
    reclaim_session_timeout = 0
    protected_folders = ["/"]
    hide_dependencies = true
    exit_on_dl_error = false
    # A fixed pool of event loops shared by all handles, instead of a thread per handle
    # (the default): fewer threads and context switches for hundreds of PeerConnections.
    event_loops = {event_loops}
    allow_loop_indication = false
}}
certificates: {{
    dtls_accept_selfsigned = true
}}
media: {{
    ipv6 = false
    rtp_port_range = "{rtp_min}-{rtp_max}"
    dtls_mtu = 1200
    no_media_timer = 0
    slowlink_threshold = 0
    twcc_period = 200
    dtls_timeout = 500
}}
nat: {{
    nice_debug = false
    full_trickle = false
    ice_lite = false
    ice_tcp = false
    ignore_mdns = true
    ice_enforce_list = "{address}"
}}
plugins: {{
    disable = "{plugins}"
}}
transports: {{
    disable = "{transports}"
}}
loggers: {{
    disable = "{loggers}"
}}
events: {{
    broadcast = false
    disable = "{events}"
}}
''')
    with open(os.path.join(folder, 'janus.plugin.videoroom.jcfg'), 'w') as f:
        f.write('general: {\n    string_ids = false\n}\n')
    with open(os.path.join(folder, 'janus.transport.http.jcfg'), 'w') as f:
        f.write(f'''general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "{address}"
    https = false
}}
admin: {{
    admin_http = false
    admin_https = false
}}
cors: {{
}}
''')


class Janus:
    """A running Janus with its configuration in `folder`; its output goes to janus.log."""

    def __init__(self, binary, folder, address, http_port, rtp_min, rtp_max, event_loops):
        self.binary = binary
        self.folder = folder
        self.address = address
        self.url = f'http://{address}:{http_port}/janus'
        write_config(folder, address, http_port, rtp_min, rtp_max, event_loops)
        self.proc = None
        self.log_path = os.path.join(folder, 'janus.log')

    def start(self, timeout=20):
        # Through the harness: it stops Janus if the benchmark dies.
        from conclave_harness import procs
        self.proc = procs.start([self.binary, '-F', self.folder, '-C',
                                 os.path.join(self.folder, 'janus.jcfg')],
                                name='janus', log_path=self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f'janus exited ({self.proc.returncode}): {self.tail()}')
            try:
                with urllib.request.urlopen(self.url + '/info', timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f'janus did not answer on {self.url} within {timeout}s: '
                           f'{self.tail()}')

    def tail(self, n=4000):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read()[-n:].decode(errors='replace')
        except OSError:
            return ''

    def stop(self):
        if self.proc is None:
            return
        from conclave_harness import procs
        procs.stop(self.proc, timeout=10)
        self.proc = None


def remove(folder):
    shutil.rmtree(folder, ignore_errors=True)
