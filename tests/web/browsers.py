"""The Python end of tests/web/driver.mjs: one headless Chromium whose pages run Conclave's
browser client, driven over JSON lines (click, type, read the page, getStats through the
client's test hook, screenshots, every request each page made). The driver's logs
(console.log, xmpp.log, requests.log) and Chromium's profile live in `dir`, so that a
failing check can quote what the pages saw and every stray process can be found."""

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time

from conclave_harness import procs
from conclave_harness.tempdir import make_tempdir

HERE = os.path.dirname(os.path.abspath(__file__))


class DriverError(RuntimeError):
    pass


class Browsers:
    def __init__(self, keep_dir=None):
        if keep_dir:  # logs to keep after the test (the temporary folder goes)
            os.makedirs(keep_dir, exist_ok=True)
            self.dir = os.path.realpath(keep_dir)
        else:
            self.dir = make_tempdir(prefix='conclave-web-browsers-')
        node = shutil.which('node')
        if node is None:
            raise DriverError('node not found on PATH (deploy/install-deps.sh --tests)')
        self.stderr = open(os.path.join(self.dir, 'driver.stderr'), 'ab')
        # Chromium's profile goes to TMPDIR: inside our folder, so _sweep finds it.
        self.proc = subprocess.Popen(
            [node, os.path.join(HERE, 'driver.mjs'), '--log-dir', self.dir],
            cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            text=True, start_new_session=True, env=dict(os.environ, TMPDIR=self.dir))
        procs.add_cleanup(self.kill)
        self.replies = {}
        self.cond = threading.Condition()
        self.next_id = 1
        self.ready = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            hello = self.ready.get(timeout=60)
        except queue.Empty:
            raise DriverError(f'the driver did not start: {self.stderr_text()}') from None
        if hello is None:
            raise DriverError(f'the driver exited: {self.stderr_text()}')
        self.version = hello.get('version')
        procs.log('browsers: Chromium %s, logs in %s', self.version, self.dir)
        self.pages = set()

    def _read(self):
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get('event') == 'ready':
                self.ready.put(msg)
                continue
            with self.cond:
                self.replies[msg.get('id')] = msg
                self.cond.notify_all()
        self.ready.put(None)
        with self.cond:
            self.replies[None] = {'ok': False, 'error': 'the driver exited'}
            self.cond.notify_all()

    def stderr_text(self):
        with open(os.path.join(self.dir, 'driver.stderr'), errors='replace') as f:
            return f.read()[-3000:]

    def request(self, cmd, timeout=20.0, **kw):
        with self.cond:
            rid = self.next_id
            self.next_id += 1
        try:
            self.proc.stdin.write(json.dumps(dict(kw, id=rid, cmd=cmd, timeout=timeout)) + '\n')
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise DriverError(f'{cmd}: the driver is gone: {self.stderr_text()}') from None
        t0 = time.monotonic()
        deadline = t0 + timeout + 5
        with self.cond:
            while rid not in self.replies and None not in self.replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DriverError(f'{cmd}: the driver did not answer in {timeout + 5} s')
                self.cond.wait(left)
            reply = self.replies.pop(rid, None) or self.replies[None]
        took = time.monotonic() - t0
        if took > 3:
            procs.log('browsers: %s %s took %.1f s', cmd, kw.get('page', ''), took)
        if not reply.get('ok'):
            raise DriverError(f'{cmd} {kw}: {reply.get("error")}')
        return reply.get('result')

    # -- what a user does -----------------------------------------------------------------

    def open(self, name, url, timeout=30.0):
        try:
            self.request('open', page=name, url=url, timeout=timeout)
        except DriverError:
            try:  # the page may exist, half open: the name must stay usable
                self.request('close', page=name)
            except DriverError:
                pass
            raise
        self.pages.add(name)

    def visit(self, name, url, timeout=30.0):
        """Goes to `url` in the page `name`, opened first if need be."""
        if name in self.pages:
            return self.goto(name, url, timeout)
        return self.open(name, url, timeout)

    def goto(self, name, url, timeout=30.0):
        return self.request('goto', page=name, url=url, timeout=timeout)

    def click(self, name, selector, timeout=20.0):
        return self.request('click', page=name, selector=selector, timeout=timeout)

    def fill(self, name, selector, value, timeout=20.0):
        return self.request('fill', page=name, selector=selector, value=value, timeout=timeout)

    def check(self, name, selector, checked=True, timeout=20.0):
        return self.request('check', page=name, selector=selector, checked=checked,
                            timeout=timeout)

    def wait(self, name, selector, state='visible', timeout=20.0):
        return self.request('wait', page=name, selector=selector, state=state, timeout=timeout)

    def close(self, name):
        self.pages.discard(name)
        return self.request('close', page=name)

    # -- what the pages show --------------------------------------------------------------

    def state(self, name, text=False):
        """What the page shows; with `text`, also its visible text (`bodyText`)."""
        return self.request('state', page=name, text=text)

    def stats(self, name):
        """window.conclave.stats() (the contract's test hook); None without the hook."""
        return self.request('stats', page=name, timeout=20.0)

    def ice(self, name):
        return self.request('ice', page=name)

    def eval(self, name, expression):
        return self.request('eval', page=name, expression=expression)

    def screenshot(self, name, path):
        return self.request('screenshot', page=name, path=path, timeout=20.0)

    def requests(self):
        return self.request('requests')

    # -- diagnostics ----------------------------------------------------------------------

    def _lines(self, log, name=None):
        try:
            with open(os.path.join(self.dir, log), errors='replace') as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        return [x for x in lines if name is None or f'[{name}]' in x]

    def console(self, name=None):
        return self._lines('console.log', name)

    def xmpp(self, name=None):
        return self._lines('xmpp.log', name)

    def explain(self, names, tail=20):
        """Each page's state, the end of its console and its last XMPP frames."""
        out = []
        for name in names:
            out.append(f'== {name}')
            if name in self.pages:
                try:
                    out.append('   state: ' + summary(self.state(name)))
                    out.append('   stats: ' + json.dumps(self.stats(name))[:3000])
                except DriverError as e:
                    out.append(f'   no state: {e}')
            out.append('   -- console (end):')
            out += ['   ' + x[:500] for x in self.console(name)[-tail:]]
            out.append('   -- XMPP frames (end):')
            out += ['   ' + x[:700] for x in self.xmpp(name)[-tail:]]
        return '\n'.join(out)

    # -- the end --------------------------------------------------------------------------

    def kill(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({'id': 0, 'cmd': 'quit'}) + '\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
                self.proc.wait(15)
            except Exception:  # noqa: BLE001 - killed below
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._sweep()
        self.stderr.close()

    def _sweep(self):
        """Chromium may outlive its driver: any process whose command line names our folder
        (its profile is inside) is one we started."""
        for pid in os.listdir('/proc'):
            if not pid.isdigit():
                continue
            try:
                with open(f'/proc/{pid}/cmdline', 'rb') as f:
                    cmdline = f.read()
            except OSError:
                continue
            if self.dir.encode() in cmdline:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass


def summary(state):
    """A page's state on one line, for failure messages."""
    shown = sorted(k for k, v in (state.get('shown') or {}).items() if v)
    tiles = [(t['nick'], 'local' if t['local'] else 'screen' if t['screen'] else 'remote',
              (t['video'] or {}).get('width')) for t in state.get('tiles', [])]
    return json.dumps({'url': state.get('url'), 'shown': shown, 'message': state.get('message'),
                       'security': state.get('security'), 'mode': state.get('mode'),
                       'tiles': tiles, 'chat': len(state.get('chat', [])),
                       'hook': state.get('hook')})
