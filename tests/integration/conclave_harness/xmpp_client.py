"""Synchronous XMPP client facade over slixmpp, for tests.

All slixmpp objects live on one asyncio loop running in a daemon thread;
each public method submits a coroutine to it and waits with a timeout, so a
test can never hang on the network.  At interpreter exit, clients are
disconnected and the loop thread is joined.

Incoming messages and presences are queued; ``wait_message`` /
``wait_presence`` take the first queued stanza matching an optional
predicate and leave the others queued.  Stanzas returned are slixmpp stanza
objects: ``st['type']``, ``st['from']``, ``st['error']['condition']``,
``st.xml`` (ElementTree element), ``str(st)`` (XML text).
"""

import asyncio
import atexit
import concurrent.futures
import logging
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections import namedtuple

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from slixmpp.xmlstream.matcher.base import MatcherBase

__all__ = ['Client', 'XmppError', 'DiscoInfo', 'parse_xml', 'shutdown']

log = logging.getLogger('conclave_harness.xmpp')

CLIENT_NS = 'jabber:client'
# Extra seconds the calling thread waits beyond a coroutine's own timeout,
# so the coroutine's precise error wins over the generic one.
_GRACE = 2.0

DiscoInfo = namedtuple('DiscoInfo', 'identities features stanza')
DiscoInfo.__doc__ = """identities: set of (category, type, lang, name);
features: set of feature vars; stanza: the result Iq."""


class XmppError(Exception):
    """An error stanza was received where a result was expected."""

    def __init__(self, stanza, what=''):
        self.stanza = stanza
        err = stanza['error']
        self.condition = err['condition']
        self.type = err['type']
        self.text = err['text']
        super().__init__('%s%s/%s%s' % (what + ': ' if what else '',
                                        self.type, self.condition,
                                        ' (%s)' % self.text if self.text
                                        else ''))


# -- the shared event loop ----------------------------------------------

class _LoopThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name='xmpp-loop',
                                       daemon=True)
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            # Stopped: cancel whatever slixmpp left behind, then close.
            tasks = asyncio.all_tasks(self.loop)
            for t in tasks:
                t.cancel()
            self.loop.run_until_complete(
                asyncio.gather(*tasks, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(
                self.loop.shutdown_default_executor())
        finally:
            self.loop.close()

    def run(self, coro, timeout):
        """Run `coro` on the loop; wait at most `timeout` s for it."""
        if threading.current_thread() is self.thread:
            raise RuntimeError('blocking Client call from the XMPP loop '
                               'thread (e.g. in a callback) would deadlock')
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError('XMPP operation timed out after %.1fs'
                               % timeout) from None

    def stop(self, timeout=5.0):
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)


_loop_lock = threading.Lock()
_loop = None
_clients = []


def _get_loop():
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = _LoopThread()
            atexit.register(shutdown)
        return _loop


def shutdown(timeout=5.0):
    """Disconnect every client and stop the loop thread (runs at exit)."""
    global _loop
    with _loop_lock:
        loop, _loop = _loop, None
    if loop is None:
        return
    for c in list(_clients):
        try:
            c._disconnect_on(loop, 1.0)
        except Exception as e:
            log.debug('disconnect at exit failed: %s', e)
    loop.stop(timeout)


# -- helpers ---------------------------------------------------------------

def parse_xml(xml):
    """Parse one stanza's XML text.  Elements without a namespace get
    jabber:client, as they would inside a client stream."""
    wrapper = ET.fromstring('<wrapper xmlns="%s">%s</wrapper>'
                            % (CLIENT_NS, xml))
    children = list(wrapper)
    if len(children) != 1:
        raise ValueError('expected exactly one element, got %d'
                         % len(children))
    return children[0]


class _StanzaQueue:
    """Thread-safe FIFO where a consumer can pick the first matching item."""

    def __init__(self):
        self._items = []
        self._cond = threading.Condition()

    def put(self, item):
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def get(self, timeout, predicate=None, what='stanza'):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, item in enumerate(self._items):
                    if predicate is None or predicate(item):
                        return self._items.pop(i)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError('no matching %s within %.1fs (%d other '
                                       'queued)' % (what, timeout,
                                                    len(self._items)))
                self._cond.wait(remaining)

    def clear(self):
        with self._cond:
            items, self._items = self._items, []
            return items


class _MatchRequestIq(MatcherBase):
    def __init__(self):
        super().__init__(None)

    def match(self, stanza):
        return (stanza.tag == '{%s}iq' % CLIENT_NS
                and stanza['type'] in ('get', 'set'))


async def _cancel_filters(x):
    # slixmpp starts an endless output-filter task per connect() and never
    # stops it; left alone it is garbage-collected while pending, which
    # asyncio reports as an error.
    task = getattr(x, '_run_out_filters', None)
    if task is not None and not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class _Xmpp(slixmpp.ClientXMPP):
    async def get_dns_records(self, domain, port=None):
        # We always connect to an explicit address: skip DNS entirely (it
        # would also start executor threads for getaddrinfo).
        return [(self.address[0], self.address[0], self.address[1])]


# -- the client --------------------------------------------------------

class Client:
    """A test XMPP client (plaintext c2s, no TLS; with `tls`, STARTTLS is
    required, without certificate verification: for servers with a
    self-signed certificate).

    `capture_iqs`: queue incoming get/set iqs for :meth:`wait_iq` instead of
    letting slixmpp answer unknown ones with an error; the test must then
    reply itself (e.g. with :meth:`send_raw`).
    """

    def __init__(self, jid, password, host='127.0.0.1', port=5222, *,
                 capture_iqs=False, plugins=('xep_0030', 'xep_0199'),
                 tls=False):
        self.host = host
        self.tls = tls
        self.port = int(port)
        self.messages = _StanzaQueue()
        self.presences = _StanzaQueue()
        self.iqs = _StanzaQueue()
        self._session = False
        self._loop = _get_loop()
        self.xmpp = self._loop.run(
            self._create(jid, password, capture_iqs, plugins), 10.0)
        _clients.append(self)

    @classmethod
    def anonymous(cls, domain, host='127.0.0.1', port=5222, **kwargs):
        """A client that logs in with SASL ANONYMOUS to `domain`."""
        return cls(domain, '', host, port, **kwargs)

    async def _create(self, jid, password, capture_iqs, plugins):
        # Created on the loop thread: slixmpp binds to the running loop.
        x = _Xmpp(jid, password)
        x.use_ipv6 = False
        x.add_event_handler('session_start',
                            lambda _: setattr(self, '_session', True))
        x.add_event_handler('disconnected',
                            lambda _: setattr(self, '_session', False))
        for p in plugins:
            x.register_plugin(p)
        x.register_handler(Callback(
            'harness message', MatchXPath('{%s}message' % CLIENT_NS),
            self.messages.put))
        x.register_handler(Callback(
            'harness presence', MatchXPath('{%s}presence' % CLIENT_NS),
            self.presences.put))
        if capture_iqs:
            x.register_handler(Callback('harness iq', _MatchRequestIq(),
                                        self.iqs.put))
        return x

    def _run(self, coro, timeout):
        return self._loop.run(coro, timeout + _GRACE)

    def _check_session(self):
        # slixmpp silently queues stanzas while disconnected (and its iq
        # timeouts do not fire then): fail fast instead.
        if not self._session:
            raise ConnectionError('%s is not connected' % self.xmpp.boundjid)

    # -- connection ----------------------------------------------------

    @property
    def jid(self):
        """Full JID bound by the server (after connect)."""
        return str(self.xmpp.boundjid)

    @property
    def connected(self):
        """True between a successful connect and the stream's end."""
        return self._session

    def connect(self, timeout=10.0, presence=True):
        """Connect, authenticate, bind; then (if `presence`) send initial
        presence and wait until the server has processed it, so messages to
        the bare JID are delivered to us from now on.  Raises
        ConnectionError or TimeoutError."""
        self._run(self._connect(timeout, presence), timeout)
        return self

    async def _connect(self, timeout, presence):
        x = self.xmpp
        deadline = time.monotonic() + timeout
        done = asyncio.get_running_loop().create_future()

        def ok(_event=None):
            if not done.done():
                done.set_result(None)

        def failed(why):
            def handler(event=None):
                if not done.done():
                    done.set_exception(ConnectionError(
                        '%s: %s' % (why, event) if event is not None
                        else why))
            return handler

        handlers = [('session_start', ok),
                    ('failed_all_auth', failed('authentication failed')),
                    ('stream_error', failed('stream error')),
                    ('connection_failed', failed('connection failed')),
                    ('disconnected', failed('disconnected'))]
        for name, fn in handlers:
            x.add_event_handler(name, fn)
        try:
            if self.tls:
                x.ssl_context.check_hostname = False
                x.ssl_context.verify_mode = ssl.CERT_NONE
            x.connect((self.host, self.port), use_ssl=False,
                      force_starttls=self.tls, disable_starttls=not self.tls)
            await asyncio.wait_for(done, timeout)
        except BaseException:
            x.cancel_connection_attempt()
            x.abort()
            await _cancel_filters(x)
            raise
        finally:
            for name, fn in handlers:
                x.del_event_handler(name, fn)
        if presence:
            x.send_presence()
            # One round trip: the server handles a stream's stanzas in
            # order, so our presence is processed once this ping returns.
            await x['xep_0199'].send_ping(
                x.boundjid.domain,
                timeout=max(0.1, deadline - time.monotonic()))

    def disconnect(self, timeout=5.0):
        """Close the stream (waits for the server's close, then aborts)."""
        self._disconnect_on(self._loop, timeout)
        if self in _clients:
            _clients.remove(self)

    def _disconnect_on(self, loop, timeout):
        async def go():
            x = self.xmpp
            if x.transport is not None:
                gone = x.disconnected
                x.disconnect(wait=timeout)
                try:
                    await asyncio.wait_for(asyncio.shield(gone), timeout)
                except asyncio.TimeoutError:
                    x.abort()
            else:
                x.cancel_connection_attempt()
            await _cancel_filters(x)
        loop.run(go(), timeout + _GRACE)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()

    # -- queries ---------------------------------------------------------

    def disco_info(self, jid=None, node=None, timeout=5.0):
        """disco#info of `jid` (default: our server).  Raises XmppError on an
        error reply, TimeoutError on no reply."""
        self._check_session()
        async def go():
            target = jid or self.xmpp.boundjid.domain
            try:
                iq = await self.xmpp['xep_0030'].get_info(
                    jid=target, node=node, local=False, timeout=timeout)
            except IqError as e:
                raise XmppError(e.iq, 'disco#info %s' % target) from None
            except IqTimeout:
                raise TimeoutError('disco#info %s: no reply' % target) \
                    from None
            info = iq['disco_info']
            return DiscoInfo(set(info['identities']), set(info['features']),
                             iq)
        return self._run(go(), timeout)

    def disco_items(self, jid=None, node=None, timeout=5.0):
        """disco#items of `jid` as a list of (jid, node, name)."""
        self._check_session()
        async def go():
            target = jid or self.xmpp.boundjid.domain
            try:
                iq = await self.xmpp['xep_0030'].get_items(
                    jid=target, node=node, local=False, timeout=timeout)
            except IqError as e:
                raise XmppError(e.iq, 'disco#items %s' % target) from None
            except IqTimeout:
                raise TimeoutError('disco#items %s: no reply' % target) \
                    from None
            return [(str(j), n, name) for j, n, name in
                    iq['disco_items']['items']]
        return self._run(go(), timeout)

    def ping(self, jid=None, timeout=5.0):
        """XEP-0199 ping `jid` (default: our server); returns the round-trip
        time in seconds.  Raises XmppError / TimeoutError."""
        self._check_session()
        async def go():
            target = jid or self.xmpp.boundjid.domain
            start = time.monotonic()
            try:
                await self.xmpp['xep_0199'].send_ping(target, timeout=timeout)
            except IqError as e:
                raise XmppError(e.iq, 'ping %s' % target) from None
            except IqTimeout:
                raise TimeoutError('ping %s: no reply' % target) from None
            return time.monotonic() - start
        return self._run(go(), timeout)

    def send_iq_raw(self, xml, timeout=5.0):
        """Send an <iq type='get'|'set'> given as XML text (an id is added
        if missing) and return the reply Iq, whether 'result' or 'error'.
        Raises TimeoutError if no reply comes."""
        self._check_session()
        elem = parse_xml(xml) if isinstance(xml, str) else xml

        async def go():
            iq = self.xmpp.Iq(xml=elem)
            try:
                return await iq.send(timeout=timeout)
            except IqError as e:
                return e.iq
            except IqTimeout:
                raise TimeoutError('no reply to iq %s within %.1fs'
                                   % (iq['id'], timeout)) from None
        return self._run(go(), timeout)

    # -- sending / receiving ---------------------------------------------

    def _call(self, fn, *args, timeout=5.0):
        async def go():
            return fn(*args)
        return self._run(go(), timeout)

    def call(self, fn, *args, timeout=5.0):
        """Run fn(*args) on the loop thread (for direct slixmpp access)."""
        return self._call(fn, *args, timeout=timeout)

    def run(self, coro_fn, *args, timeout=10.0):
        """Run coroutine function coro_fn(*args) on the loop thread."""
        return self._run(coro_fn(*args), timeout)

    def send_raw(self, xml):
        """Send XML text as is (unqualified elements are jabber:client)."""
        self._check_session()
        self._call(self.xmpp.send_raw, xml)

    def send_message(self, to, body, mtype='chat', subject=None):
        self._check_session()
        def go():
            self.xmpp.send_message(mto=to, mbody=body, mtype=mtype,
                                   msubject=subject)
        self._call(go)

    def send_presence(self, to=None, ptype=None, status=None, priority=None):
        self._check_session()
        def go():
            self.xmpp.send_presence(pto=to, ptype=ptype, pstatus=status,
                                    ppriority=priority)
        self._call(go)

    def wait_message(self, timeout=5.0, predicate=None):
        """First queued/incoming <message> (any type, errors included)
        for which `predicate(msg)` is true."""
        return self.messages.get(timeout, predicate, 'message')

    def wait_presence(self, timeout=5.0, predicate=None):
        return self.presences.get(timeout, predicate, 'presence')

    def wait_iq(self, timeout=5.0, predicate=None):
        """Incoming get/set iq (only with capture_iqs=True)."""
        return self.iqs.get(timeout, predicate, 'iq')

    def __repr__(self):
        return '<Client %s %s:%d>' % (self.xmpp.boundjid, self.host,
                                      self.port)
