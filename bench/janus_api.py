"""A small client of Janus's HTTP API (the janus.plugin.videoroom part bench/janus_compare.py
needs): one session, one handle per PeerConnection, synchronous requests answered in the
POST's response and asynchronous ones answered by events, read by one long-poll thread
and matched by transaction.

The session is kept alive by the long poll itself (every GET counts as a keepalive) and,
as a second guard, by a keepalive request every 25 s (Janus's default timeout is 60 s)."""

import itertools
import json
import queue
import threading
import time
import urllib.error
import urllib.request

VIDEOROOM = 'janus.plugin.videoroom'


class JanusError(RuntimeError):
    pass


class Session:
    def __init__(self, url, timeout=20.0):
        self.url = url
        self.timeout = timeout
        # Never through a proxy: the server is on this machine's private address.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.tx = itertools.count(1)
        self.waiting = {}  # transaction -> Queue of its events
        self.closed = threading.Event()
        reply = self._post(self.url, {'janus': 'create'})
        self.id = reply['data']['id']
        self.poller = threading.Thread(target=self._poll, daemon=True)
        self.poller.start()
        self.keeper = threading.Thread(target=self._keepalive, daemon=True)
        self.keeper.start()

    def _post(self, url, body):
        body = dict(body)
        body.setdefault('transaction', f't{next(self.tx)}')
        req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json'})
        try:
            with self.opener.open(req, timeout=self.timeout) as r:
                reply = json.loads(r.read())
        except urllib.error.URLError as e:
            raise JanusError(f'{body.get("janus")} to {url}: {e}') from e
        if reply.get('janus') == 'error':
            raise JanusError(f'{body}: {reply.get("error")}')
        return reply

    def _poll(self):
        while not self.closed.is_set():
            try:
                with self.opener.open(f'{self.url}/{self.id}?maxev=20', timeout=40) as r:
                    events = json.loads(r.read())
            except Exception:  # noqa: BLE001 (a dropped long poll is retried, whatever broke)
                if self.closed.wait(0.2):
                    return
                continue
            for ev in events if isinstance(events, list) else [events]:
                q = self.waiting.get(ev.get('transaction'))
                if q is not None:
                    q.put(ev)

    def _keepalive(self):
        while not self.closed.wait(25):
            try:
                self._post(f'{self.url}/{self.id}', {'janus': 'keepalive'})
            except JanusError:
                pass

    def attach(self, plugin=VIDEOROOM):
        reply = self._post(f'{self.url}/{self.id}', {'janus': 'attach', 'plugin': plugin})
        return Handle(self, reply['data']['id'])

    def destroy(self):
        self.closed.set()
        try:
            self._post(f'{self.url}/{self.id}', {'janus': 'destroy'})
        except JanusError:
            pass


class Handle:
    def __init__(self, session, handle_id):
        self.session = session
        self.id = handle_id
        self.url = f'{session.url}/{session.id}/{handle_id}'

    def request(self, body):
        """A synchronous plugin request (create, list, ...): its plugin data."""
        reply = self.session._post(self.url, {'janus': 'message', 'body': body})
        if reply.get('janus') != 'success':
            raise JanusError(f'{body.get("request")}: {reply}')
        data = reply['plugindata']['data']
        if 'error' in data:
            raise JanusError(f'{body.get("request")}: {data["error"]}')
        return data

    def message(self, body, jsep=None, timeout=20.0):
        """An asynchronous plugin request: (plugin data, jsep or None) of its event."""
        s = self.session
        tx = f't{next(s.tx)}'
        q = queue.Queue()
        s.waiting[tx] = q
        try:
            msg = {'janus': 'message', 'body': body, 'transaction': tx}
            if jsep is not None:
                msg['jsep'] = jsep
            reply = s._post(self.url, msg)
            if reply.get('janus') == 'success':  # answered at once after all
                return reply['plugindata']['data'], reply.get('jsep')
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise JanusError(f'{body.get("request")}: no event within {timeout}s')
                try:
                    ev = q.get(timeout=left)
                except queue.Empty:
                    continue
                if ev.get('janus') != 'event':
                    continue
                data = ev['plugindata']['data']
                if 'error' in data:
                    raise JanusError(f'{body.get("request")}: {data["error"]}')
                return data, ev.get('jsep')
        finally:
            s.waiting.pop(tx, None)

    def detach(self):
        try:
            self.session._post(self.url, {'janus': 'detach'})
        except JanusError:
            pass
