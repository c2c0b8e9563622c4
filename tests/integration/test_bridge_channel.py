#!/usr/bin/python3
"""The bridge channel (schemas/bridge-channel.md) with real things: a real Prosody, the
bridge driven over Colibri2, real WebSocket clients (Debian's python3-websockets) on the
URL from the bridge's answer, and test peers sending audio with RFC 6464 audio levels.
A wrong or missing password and an unknown endpoint are refused before the upgrade; a
channel opens with ServerHello; endpoint messages reach one endpoint or all the others
with the bridge's `from`; what a client must not send is dropped and counted; a second
connection replaces the first; expiry closes the channel; and the loudest peer becomes the
dominant speaker, announced to every channel."""

import asyncio
import json
import os
import queue
import re
import subprocess
import threading
import time
import unittest
import urllib.parse

import websockets

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.xmpp_client import Client
from conclave_daemons import BINARIES, Daemon
from conclave_media import (Counters, NS, NS_ICE, Peer, modify_xml, parse_answer,
                            sources_xml, transport_xml)

BRIDGE = 'bridge1.localhost'
NS_COLIBRI = 'http://jitsi.org/protocol/colibri'
AUDIO_LEVEL = ("<media type='audio'><rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' "
               "id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/></media>")


def channel_metric(name, label, value):
    return f'conclave_bridge_channel_{name}{{{label}="{value}"}}'


class Channel:
    """A WebSocket client of the bridge channel on its own asyncio loop: messages arrive in
    a queue, as parsed JSON (or {'closed': code} when the bridge closes it)."""

    def __init__(self, url):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.messages = queue.Queue()
        self.closed = None
        try:
            self.ws = self._run(self._connect(url))
        except BaseException:
            self._stop_loop()
            raise
        asyncio.run_coroutine_threadsafe(self._read(), self.loop)

    @staticmethod
    async def _connect(url):
        return await websockets.connect(url, open_timeout=5, compression=None)

    def _run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _stop_loop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _read(self):
        try:
            async for text in self.ws:
                self.messages.put(json.loads(text) if isinstance(text, str) else text)
        except websockets.ConnectionClosed:
            pass
        self.closed = self.ws.close_code
        self.messages.put({'closed': self.ws.close_code})

    def send(self, message):
        text = message if isinstance(message, (str, bytes)) else json.dumps(message)
        self._run(self.ws.send(text))

    def wait(self, klass, timeout=10.0, match=None):
        """The next message of `colibriClass` klass ('closed' for the close), skipping
        others."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'no {klass} within {timeout}s')
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if klass == 'closed' and 'closed' in m:
                return m
            if isinstance(m, dict) and m.get('colibriClass') == klass and (
                    match is None or match(m)):
                return m

    def drain(self, seconds=0.3):
        """Whatever arrives within `seconds`."""
        time.sleep(seconds)
        out = []
        while not self.messages.empty():
            out.append(self.messages.get())
        return out

    def close(self):
        try:
            if self.closed is None:
                self._run(self.ws.close())
        finally:
            self._stop_loop()


def refused_status(url):
    """The HTTP status that refuses a WebSocket upgrade on `url` (None if it opened)."""
    try:
        Channel(url).close()
        return None
    except websockets.InvalidStatusCode as e:
        return e.status_code


def with_password(url, pwd):
    parts = urllib.parse.urlsplit(url)
    query = '' if pwd is None else 'pwd=' + urllib.parse.quote(pwd)
    return urllib.parse.urlunsplit(parts._replace(query=query))


class BridgeChannel(unittest.TestCase):
    meetings = 0

    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody(components={BRIDGE: 'bridge-secret'})
        cls.prosody.start()
        cls.prosody.register('focus', 'focus-password')
        port = procs.free_port()
        cls.port_min = 20000 + port % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'bridge-secret', cls.prosody.component_port,
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {cls.port_min}\n'
                                  f'port_max = {cls.port_min + 100}\nworkers = 2\n'
                                  f'[colibri]\ntrusted = localhost\n')
        cls.bridge.start()
        cls.bridge.wait_health(200, timeout=15)
        cls.client = Client('focus@localhost', 'focus-password', port=cls.prosody.c2s_port)
        cls.client.connect()
        cls.channels = []
        cls.peers = []

    @classmethod
    def tearDownClass(cls):
        for c in cls.channels:
            c.close()
        for p in cls.peers:
            p.kill()
        cls.client.disconnect()
        status = cls.bridge.stop()
        reports = cls.bridge.sanitizer_reports()
        cls.prosody.stop()
        assert status == 0, f'the bridge exited with {status}'
        assert reports == [], reports

    # -- helpers ------------------------------------------------------------------------

    def iq(self, xml):
        reply = self.client.send_iq_raw(xml, timeout=10)
        self.assertEqual(reply['type'], 'result', str(reply))
        return reply

    def new_meeting(self):
        BridgeChannel.meetings += 1
        return f'chan-{os.getpid()}-{BridgeChannel.meetings}'

    def create(self, endpoints):
        """A conference with `endpoints` ({id: channel-id or None}); returns the meeting
        id, the answer's transports and {id: channel URL}."""
        meeting = self.new_meeting()
        elems = []
        for ep, cid in endpoints.items():
            attr = f" channel-id='{cid}'" if cid is not None else ''
            elems.append(f"<endpoint id='{ep}' create='true'{attr}/>")
        reply = self.iq(modify_xml(BRIDGE, meeting, elems, create=True))
        urls = {}
        mod = reply.xml.find(f'{{{NS}}}conference-modified')
        for e in mod.findall(f'{{{NS}}}endpoint'):
            ws = e.find(f'{{{NS}}}transport/{{{NS_ICE}}}transport/{{{NS_COLIBRI}}}web-socket')
            self.assertIsNotNone(ws, 'no web-socket in the answer')
            urls[e.get('id')] = ws.get('url')
        return meeting, parse_answer(reply), urls

    def open(self, url):
        c = Channel(url)
        self.channels.append(c)
        hello = c.wait('ServerHello')
        self.assertTrue(hello['version'].startswith('conclave-'), hello)
        return c

    def expire(self, meeting, endpoint=None):
        if endpoint is None:
            self.iq(modify_xml(BRIDGE, meeting, [], expire=True))
        else:
            self.iq(modify_xml(BRIDGE, meeting, [f"<endpoint id='{endpoint}' expire='true'/>"]))

    # -- tests --------------------------------------------------------------------------

    def test_url_and_refusals_before_the_upgrade(self):
        counters = Counters(self.bridge)
        meeting, _, urls = self.create({'a': 'Alice', 'b': None})
        base = f'ws://127.0.0.1:{self.bridge.http_port}/colibri-ws/{meeting}/'
        pwds = {}
        for ep, url in urls.items():
            m = re.fullmatch(re.escape(base + ep) + r'\?pwd=([A-Za-z0-9_-]{22})', url)
            self.assertIsNotNone(m, url)
            pwds[ep] = m.group(1)
        self.assertNotEqual(pwds['a'], pwds['b'])
        good = pwds['a']
        self.assertEqual(refused_status(with_password(urls['a'], 'x' * 22)), 403)
        self.assertEqual(refused_status(with_password(urls['a'], good[:-1])), 403)
        self.assertEqual(refused_status(with_password(urls['a'], None)), 403)
        # b's password does not open a's channel
        self.assertEqual(refused_status(with_password(urls['a'], pwds['b'])), 403)
        self.assertEqual(refused_status(urls['a'].replace(f'/{meeting}/a?', f'/{meeting}/zz?')),
                         404)
        self.assertEqual(refused_status(urls['a'].replace(f'/{meeting}/', '/no-such/')), 404)
        delta = counters.deltas()
        self.assertEqual(delta(channel_metric('refused_total', 'reason', 'bad_password')), 4)
        self.assertEqual(delta(channel_metric('refused_total', 'reason', 'unknown_endpoint')), 2)
        self.assertEqual(delta('conclave_bridge_channel_opened_total'), 0)
        c = self.open(urls['a'])
        self.assertEqual(counters.delta('conclave_bridge_channels_open'), 1)
        c.close()
        self.expire(meeting)

    def test_endpoint_messages_reach_one_or_all_with_the_bridges_from(self):
        counters = Counters(self.bridge)
        meeting, _, urls = self.create({'a': 'Alice ☺', 'b': None, 'c': 'Carol'})
        a, b, c = (self.open(urls[x]) for x in 'abc')
        payload = {'type': 'e2e-ping', 'nested': {'list': [1, 2.5, 'x', None, True]}}
        # broadcast (empty `to`); the client's own `from` is not believed
        a.send({'colibriClass': 'EndpointMessage', 'to': '', 'from': 'Mallory',
                'msgPayload': payload})
        for rcv in (b, c):
            m = rcv.wait('EndpointMessage')
            self.assertEqual(m['from'], 'Alice ☺')
            self.assertEqual(m['msgPayload'], payload)
        # to one endpoint, named by its channel id
        b.send({'colibriClass': 'EndpointMessage', 'to': 'Alice ☺', 'msgPayload': {'n': 1}})
        m = a.wait('EndpointMessage')
        self.assertEqual((m['from'], m['msgPayload']), ('b', {'n': 1}))
        c.send({'colibriClass': 'EndpointMessage', 'msgPayload': {'n': 2}})  # no `to`: all
        self.assertEqual(a.wait('EndpointMessage')['from'], 'Carol')
        self.assertEqual(b.wait('EndpointMessage')['from'], 'Carol')
        # EndpointStats go to every other endpoint too
        a.send({'colibriClass': 'EndpointStats', 'bitrate': {'upload': 1}})
        self.assertEqual(b.wait('EndpointStats')['from'], 'Alice ☺')
        self.assertEqual(c.wait('EndpointStats')['from'], 'Alice ☺')
        # nobody got its own messages back
        for ch in (a, b, c):
            mine = [m for m in ch.drain() if isinstance(m, dict) and m.get('colibriClass')]
            self.assertEqual(mine, [], 'a message came back to its sender')
        delta = counters.deltas()
        self.assertEqual(delta(
            'conclave_bridge_channel_messages_in_total{class="EndpointMessage"}'), 3)
        self.assertEqual(delta(
            'conclave_bridge_channel_messages_out_total{class="EndpointMessage"}'), 5)
        self.assertEqual(delta(
            'conclave_bridge_channel_messages_out_total{class="EndpointStats"}'), 2)
        self.assertEqual(delta(
            'conclave_bridge_channel_messages_out_total{class="ServerHello"}'), 3)
        self.expire(meeting)

    def test_what_clients_must_not_send_is_dropped_and_counted(self):
        counters = Counters(self.bridge)
        meeting, _, urls = self.create({'a': None, 'b': None})
        a, b = self.open(urls['a']), self.open(urls['b'])
        # what lib-jitsi-meet sends on its own: accepted, counted, not relayed
        for klass in ('ReceiverVideoConstraints', 'LastNChangedEvent',
                      'SourceVideoTypeMessage', 'SelectedEndpointsChangedEvent'):
            a.send({'colibriClass': klass, 'lastN': -1})
        drops = {
            'bad_json': ['{"colibriClass": "EndpointMessage"', '[1, 2]', 'null',
                         '[' * 100 + ']' * 100],
            'bad_message': [{'msgPayload': {}}, {'colibriClass': 7},
                            {'colibriClass': 'EndpointMessage', 'to': ['b']}],
            'unknown_class': [{'colibriClass': 'AnythingElse'}],
            'too_big': [{'colibriClass': 'EndpointMessage', 'msgPayload': 'x' * 17000}],
            'unknown_target': [{'colibriClass': 'EndpointMessage', 'to': 'nobody',
                                'msgPayload': {}}],
            'binary': [b'\x00\x01binary'],
        }
        for messages in drops.values():
            for m in messages:
                a.send(m)
        a.send({'colibriClass': 'EndpointMessage', 'to': 'b', 'msgPayload': {'still': 'ok'}})
        self.assertEqual(b.wait('EndpointMessage')['msgPayload'], {'still': 'ok'})
        delta = counters.deltas()
        for reason, messages in drops.items():
            self.assertEqual(delta(channel_metric('dropped_total', 'reason', reason)),
                             len(messages), reason)
        for klass in ('ReceiverVideoConstraints', 'LastNChangedEvent'):
            self.assertEqual(delta(
                f'conclave_bridge_channel_messages_in_total{{class="{klass}"}}'), 1)
        self.assertEqual([m for m in b.drain() if isinstance(m, dict) and
                          m.get('colibriClass') != 'EndpointMessage'], [])
        # a flood: beyond the burst (2 x 50), messages are dropped, and the channel lives on
        for i in range(400):
            a.send({'colibriClass': 'LastNChangedEvent', 'lastN': i})
        procs.wait_until(lambda: counters.delta(
            channel_metric('dropped_total', 'reason', 'rate_limited')) > 200, timeout=5,
            message='the flood was not limited')
        time.sleep(1.0)
        a.send({'colibriClass': 'EndpointMessage', 'to': 'b', 'msgPayload': {'after': 1}})
        self.assertEqual(b.wait('EndpointMessage')['msgPayload'], {'after': 1})
        self.assertIsNone(self.bridge.proc.poll())
        self.expire(meeting)

    def test_a_new_connection_replaces_the_old_and_expiry_closes(self):
        counters = Counters(self.bridge)
        meeting, _, urls = self.create({'a': None, 'b': None, 'c': None})
        first = self.open(urls['a'])
        second = self.open(urls['a'])
        first.wait('closed')
        b, c = self.open(urls['b']), self.open(urls['c'])
        b.send({'colibriClass': 'EndpointMessage', 'to': 'a', 'msgPayload': {}})
        second.wait('EndpointMessage')
        self.assertEqual(counters.delta('conclave_bridge_channel_replaced_total'), 1)
        self.assertEqual(counters.delta('conclave_bridge_channels_open'), 3)
        self.expire(meeting, 'a')
        self.assertEqual(second.wait('closed')['closed'], 1001)
        self.assertEqual(refused_status(urls['a']), 404)
        self.expire(meeting)
        self.assertEqual(b.wait('closed')['closed'], 1001)
        self.assertEqual(c.wait('closed')['closed'], 1001)
        self.assertEqual(refused_status(urls['b']), 404)
        procs.wait_until(lambda: counters.delta('conclave_bridge_channels_open') == 0,
                         timeout=5, message='channels still counted open')

    def test_bad_channel_keys_fail_check_config_naming_them(self):
        base = ('[xmpp]\ndomain = b.localhost\nsecret = x\n[http]\nlisten = 127.0.0.1:0\n')
        cases = {
            'channel_base_url = https://meet.example.org/colibri-ws': 'channel_base_url',
            'channel_base_url = wss://meet.example.org/colibri-ws/': 'channel_base_url',
            'channel_base_url = wss://meet.example.org/c?x=1': 'channel_base_url',
            'channel_max_messages_per_second = 0': 'channel_max_messages_per_second',
        }
        path = os.path.join(self.bridge.dir, 'check.conf')
        for line, key in cases.items():
            with open(path, 'w') as f:
                f.write(base + line + '\n')
            r = subprocess.run([BINARIES['bridge'], '--config', path, '--check-config'],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, line)
            self.assertIn(f'{path}: [http] {key}:', r.stderr, line)
        with open(path, 'w') as f:
            f.write('[xmpp]\ndomain = b.localhost\nsecret = x\n[http]\nlisten =\n'
                    'channel_base_url = wss://meet.example.org/colibri-ws\n')
        r = subprocess.run([BINARIES['bridge'], '--config', path, '--check-config'],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn('[http] channel_base_url:', r.stderr)
        with open(path, 'w') as f:
            f.write(base + 'channel_base_url = wss://meet.example.org/colibri-ws/b1\n')
        r = subprocess.run([BINARIES['bridge'], '--config', path, '--check-config'],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)

    def media_conference(self, specs):
        """Peers (name, channel-id, audio SSRC) with the audio level extension signalled,
        connected, with their channels open: ({name: Peer}, {name: Channel}, meeting)."""
        meeting, answers, urls = self.create({n: cid for n, cid, _ in specs})
        peers = {}
        for name, _, ssrc in specs:
            peer = Peer(name, audio=ssrc)
            self.peers.append(peer)
            peers[name] = peer
            update = (f"<endpoint id='{name}'>{AUDIO_LEVEL}"
                      f"{transport_xml(peer.transport)}{sources_xml(peer, name)}</endpoint>")
            self.iq(modify_xml(BRIDGE, meeting, [update]))
        for name, peer in peers.items():
            a = answers[name]
            peer.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        for name, peer in peers.items():
            peer.wait('connected', timeout=20, fail_on=('dtls-failed', 'ice-failed'))
            others = [s for n, p in peers.items() if n != name for s in p.sources()]
            peer.send(cmd='expect', sources=others)
        return peers, {n: self.open(urls[n]) for n in peers}, meeting, urls

    def test_the_loudest_peer_becomes_dominant_speaker(self):
        counters = Counters(self.bridge)
        peers, chans, meeting, urls = self.media_conference(
            [('s1', 'Speaker One', 9101), ('s2', 'Speaker Two', 9102), ('q', None, 9103)])
        for name, level in (('s1', 20), ('s2', 110), ('q', 127)):
            peers[name].send(cmd='audio-level', level=level)
        for p in peers.values():
            p.send(cmd='send', seconds=2.0)
        for ch in chans.values():
            m = ch.wait('DominantSpeakerEndpointChangeEvent')
            self.assertEqual(m['dominantSpeakerEndpoint'], 'Speaker One')
            self.assertEqual(m['previousSpeakers'], [])
        for p in peers.values():
            p.wait('sent', timeout=10)
        # the other one speaks up, the first goes quiet
        peers['s1'].send(cmd='audio-level', level=127)
        peers['s2'].send(cmd='audio-level', level=15)
        for p in peers.values():
            p.send(cmd='send', seconds=2.0)
        for ch in chans.values():
            m = ch.wait('DominantSpeakerEndpointChangeEvent')
            self.assertEqual(m['dominantSpeakerEndpoint'], 'Speaker Two')
            self.assertEqual(m['previousSpeakers'], ['Speaker One'])
        for p in peers.values():
            p.wait('sent', timeout=10)
        # audio with levels is still forwarded intact
        report = peers['q'].report()
        streams = {s['ssrc']: s for s in report['streams']}
        self.assertGreater(streams[9101]['unique'], 0)
        self.assertEqual(streams[9101]['mismatches'], 0, streams)
        self.assertEqual(counters.delta('conclave_bridge_dominant_speaker_changes_total'), 2)
        # a channel that opens later learns the current speaker at once
        late = self.open(urls['q'])
        m = late.wait('DominantSpeakerEndpointChangeEvent', timeout=2)
        self.assertEqual(m['dominantSpeakerEndpoint'], 'Speaker Two')
        self.expire(meeting)


if __name__ == '__main__':
    tap.main(BridgeChannel)
