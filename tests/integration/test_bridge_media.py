#!/usr/bin/python3
"""The bridge's media plane over real sockets on loopback: test peers (libnice, OpenSSL
DTLS, libsrtp2) in conferences created over Colibri2 through a real Prosody. Three peers
receive each other's audio, video and RTX intact and in order, and the bridge's counters
match what was sent; NACKs are answered from the retransmission buffer; a PLI reaches the
sender; a wrong fingerprint, an unsignalled SSRC, malformed RTP/RTCP and UDP noise are
dropped, counted, and change nothing for the others; a silent endpoint expires; SIGTERM
drains (new conferences refused, running ones kept) and exits 0 once they are gone."""

import os
import signal
import socket
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.xmpp_client import Client
from conclave_daemons import Daemon
from conclave_media import (Counters, Peer, colibri_reason, modify_xml, parse_answer,
                            random_fingerprint, sources_xml, transport_xml)

BRIDGE = 'bridge1.localhost'
BRIDGE2 = 'bridge2.localhost'
SEND_SECONDS = 3.0


class BridgeMedia(unittest.TestCase):
    meetings = 0

    @classmethod
    def setUpClass(cls):
        cls.prosody = Prosody(components={BRIDGE: 'bridge-secret', BRIDGE2: 'bridge2-secret'})
        cls.prosody.start()
        cls.prosody.register('focus', 'focus-password')
        port = procs.free_port()
        cls.port_min = 20000 + port % 20000
        cls.bridge = Daemon('bridge', BRIDGE, 'bridge-secret', cls.prosody.component_port,
                            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {cls.port_min}\n'
                                  f'port_max = {cls.port_min + 300}\nworkers = 2\n'
                                  f'media_timeout = 10\ndrain_timeout = 20\n'
                                  f'[colibri]\ntrusted = localhost\n')
        cls.bridge.start()
        cls.bridge.wait_health(200, timeout=15)
        cls.client = Client('focus@localhost', 'focus-password', port=cls.prosody.c2s_port)
        cls.client.connect()
        cls.peers = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.kill()
        cls.client.disconnect()
        if cls.bridge.proc is not None and cls.bridge.proc.poll() is None:
            cls.bridge.stop()
        cls.prosody.stop()

    # -- helpers ------------------------------------------------------------------------

    def iq(self, xml, timeout=10.0):
        return self.client.send_iq_raw(xml, timeout=timeout)

    def new_meeting(self):
        BridgeMedia.meetings += 1
        return f'meeting-{os.getpid()}-{BridgeMedia.meetings}'

    def conference(self, specs, wrong_fingerprint=(), media=None):
        """Creates a conference with one endpoint per spec (name, Peer kwargs), connects
        every peer and returns {name: Peer}. `media` maps a name to the Colibri2 <media>
        elements (accepted payload types) of its endpoint."""
        media = media or {}
        meeting = self.new_meeting()
        reply = self.iq(modify_xml(BRIDGE, meeting,
                                   [f"<endpoint id='{n}' create='true'/>" for n, _ in specs],
                                   create=True))
        self.assertEqual(reply['type'], 'result', str(reply))
        answers = parse_answer(reply)
        peers = {}
        for name, kwargs in specs:
            peer = Peer(name, **kwargs)
            self.peers.append(peer)
            peers[name] = peer
            t = dict(peer.transport)
            if name in wrong_fingerprint:
                t['fingerprint'] = random_fingerprint()
            update = (f"<endpoint id='{name}'>{media.get(name, '')}"
                      f"{transport_xml(t, setup=peer.setup)}{sources_xml(peer, name)}</endpoint>")
            reply = self.iq(modify_xml(BRIDGE, meeting, [update]))
            self.assertEqual(reply['type'], 'result', str(reply))
        for name, peer in peers.items():
            a = answers[name]
            self.assertEqual(a['setup'], 'actpass')
            self.assertTrue(a['candidates'])
            peer.connect({k: a[k] for k in ('ufrag', 'pwd', 'fingerprint', 'candidates')})
        for name, peer in peers.items():
            if name not in wrong_fingerprint:
                peer.wait('connected', timeout=20, fail_on=('dtls-failed', 'ice-failed'))
        for name, peer in peers.items():
            others = [s for n, p in peers.items() if n != name for s in p.sources()]
            peer.send(cmd='expect', sources=others)
        return meeting, peers

    def send_all(self, peers, seconds=SEND_SECONDS):
        sent = {}
        for p in peers:
            p.send(cmd='send', seconds=seconds)
        for p in peers:
            sent[p.name] = p.wait('sent', timeout=seconds + 10)
        time.sleep(1.0)  # let the last packets and RTCP arrive
        return sent

    def expire(self, meeting):
        reply = self.iq(modify_xml(BRIDGE, meeting, [], expire=True))
        self.assertEqual(reply['type'], 'result', str(reply))

    def assert_received_all(self, receiver, senders, sent):
        report = receiver.report()
        streams = {s['ssrc']: s for s in report['streams']}
        for sender in senders:
            for kind, ssrc in (('audio', sender.audio), ('video', sender.video),
                               ('rtx', sender.rtx)):
                if not ssrc:
                    continue
                s = streams[ssrc]
                count = sent[sender.name][kind]
                self.assertGreater(count, 0)
                self.assertEqual(s['unique'], count,
                                 f'{receiver.name} got {s} of {count} {kind} from {sender.name}')
                self.assertEqual(s['mismatches'], 0, s)
                self.assertEqual(s['out_of_order'], 0, s)
        self.assertEqual(report['srtp_errors'], 0, report)
        self.assertEqual(report['unexpected'], 0, report)
        return report

    # -- tests --------------------------------------------------------------------------

    def test_three_peers_receive_everything_intact_and_in_order(self):
        counters = Counters(self.bridge)
        specs = [(f'p{i}', dict(audio=1000 + i, video=2000 + i, rtx=3000 + i))
                 for i in range(3)]
        meeting, peers = self.conference(specs)
        sent = self.send_all(peers.values())
        for name, receiver in peers.items():
            others = [p for n, p in peers.items() if n != name]
            report = self.assert_received_all(receiver, others, sent)
            self.assertGreater(report['srs'], 0, 'sender reports are forwarded')
            self.assertEqual(report['rrs'], 0, 'receiver reports are terminated')
        total = sum(s['audio'] + s['video'] + s['rtx'] for s in sent.values())
        self.assertEqual(counters.delta('conclave_bridge_rtp_accepted_total'), total)
        self.assertEqual(counters.delta('conclave_bridge_rtp_forwarded_total'), 2 * total)
        self.assertEqual(counters.delta('conclave_bridge_dtls_handshakes_total{result="ok"}'), 3)
        for reason in ('srtp', 'malformed_rtp', 'malformed_rtcp', 'unsignalled_ssrc'):
            self.assertEqual(counters.delta(Counters.drop(reason)), 0, reason)
        self.expire(meeting)

    def test_only_accepted_payload_types_are_forwarded(self):
        # 'picky' accepted Opus (111) only, as a client answering the focus's offer with
        # fewer codecs would: the sender's video (96) and RTX (97) are not sent to it, and
        # each withheld copy is counted; 'all' said nothing and gets everything.
        counters = Counters(self.bridge)
        picky = (f"<media type='audio'><payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' "
                 f"id='111' name='opus' clockrate='48000' channels='2'/></media>"
                 f"<media type='video'/>")
        meeting, peers = self.conference([
            ('snd', dict(audio=5001, video=5002, rtx=5003)),
            ('all', dict(audio=5101)),
            ('picky', dict(audio=5201)),
        ], media={'picky': picky})
        snd = peers['snd']
        sent = self.send_all([snd])
        self.assert_received_all(peers['all'], [snd], sent)
        streams = {s['ssrc']: s for s in peers['picky'].report()['streams']}
        self.assertEqual(streams[5001]['unique'], sent['snd']['audio'])
        self.assertEqual(streams[5001]['mismatches'], 0)
        self.assertEqual(streams[5002]['packets'], 0)
        self.assertEqual(streams[5003]['packets'], 0)
        self.assertEqual(counters.delta(Counters.drop('payload_type')),
                         sent['snd']['video'] + sent['snd']['rtx'])
        self.expire(meeting)

    def test_nack_is_answered_and_pli_reaches_the_sender(self):
        counters = Counters(self.bridge)
        meeting, peers = self.conference([
            ('snd', dict(audio=4001, video=4002, rtx=4003)),
            ('rcv', dict(audio=4101, drop_every=15)),
        ])
        snd, rcv = peers['snd'], peers['rcv']
        sent = self.send_all([snd, rcv], seconds=2.0)
        report = self.assert_received_all(rcv, [snd], sent)
        video = next(s for s in report['streams'] if s['ssrc'] == snd.video)
        self.assertGreater(report['dropped_for_nack'], 5)
        self.assertEqual(video['retransmitted'], report['dropped_for_nack'], report)
        self.assertEqual(counters.delta('conclave_bridge_nacks_answered_total'),
                         report['dropped_for_nack'])
        rcv.send(cmd='pli', ssrc=snd.video)
        procs.wait_until(lambda: snd.report()['plis'].get(str(snd.video), 0) >= 1, timeout=5,
                         message='the PLI never reached the sender')
        self.assertGreaterEqual(counters.delta('conclave_bridge_plis_sent_total'), 1)
        self.expire(meeting)

    def test_a_packet_the_bridge_never_got_is_asked_of_its_sender_once(self):
        counters = Counters(self.bridge)
        meeting, peers = self.conference([
            ('up', dict(audio=4201, video=4202)),
            ('down', dict(audio=4301)),
        ])
        up, down = peers['up'], peers['down']
        sent = self.send_all([up, down], seconds=0.5)
        self.assert_received_all(down, [up], sent)
        # The peers' sequence numbers start below 0x4000 and a second of media adds a few
        # hundred: 50000 and 60000 never reached the bridge. The first is NACKed twice in a
        # row (as two receivers of one lost packet would): the sender is asked once. The
        # second one arrives after it, so once the sender has been asked for it, the
        # duplicate has been dealt with.
        down.send(cmd='nack', ssrc=up.video, seq=50000, repeat=2)
        down.send(cmd='nack', ssrc=up.video, seq=60000)
        procs.wait_until(lambda: up.report()['nacked'].get(str(up.video), 0) >= 2, timeout=5,
                         message='the bridge did not ask the sender for what it never got')
        self.assertEqual(up.report()['nacked'], {str(up.video): 2})
        self.assertEqual(counters.delta('conclave_bridge_nacks_relayed_total'), 2)
        self.assertEqual(counters.delta('conclave_bridge_nacks_answered_total'), 0)
        self.expire(meeting)

    def test_bridge_as_dtls_client_when_the_peer_is_passive(self):
        meeting, peers = self.conference([
            ('act', dict(audio=5501, video=5502)),
            ('pas', dict(audio=5601, video=5602, dtls_server=True)),
        ])
        sent = self.send_all(peers.values(), seconds=1.5)
        self.assert_received_all(peers['pas'], [peers['act']], sent)
        self.assert_received_all(peers['act'], [peers['pas']], sent)
        self.expire(meeting)

    def test_wrong_fingerprint_gets_no_media_and_is_counted(self):
        counters = Counters(self.bridge)
        meeting, peers = self.conference([
            ('good', dict(audio=5001, video=5002)),
            ('evil', dict(audio=5101)),
        ], wrong_fingerprint=('evil',))
        evil = peers['evil']
        evil.wait('dtls-failed', timeout=20, fail_on=('connected',))
        procs.wait_until(
            lambda: counters.delta(
                'conclave_bridge_dtls_handshakes_total{result="fingerprint_mismatch"}') == 1,
            timeout=5, message='the mismatch was not counted')
        self.send_all([peers['good']], seconds=1.0)
        report = evil.report()
        self.assertTrue(all(s['packets'] == 0 for s in report['streams']), report)
        procs.wait_until(
            lambda: counters.delta(
                'conclave_bridge_endpoints_expired_total{reason="dtls_failed"}') == 1,
            timeout=5, message='the endpoint was not torn down')
        self.expire(meeting)

    def test_unsignalled_ssrc_malformed_packets_and_noise_are_dropped_and_counted(self):
        meeting, peers = self.conference([
            # The peer's malformed packets use audio + 2000: signalled, so that they reach
            # the parsers (unsignalled SSRCs are refused before decryption).
            ('a', dict(audio=6001, video=6002, extra_audio=8001)),
            ('b', dict(audio=6101, video=6102)),
        ])
        a, b = peers['a'], peers['b']
        counters = Counters(self.bridge)
        a.send(cmd='hostile', what='unsignalled', count=50)
        self.assertEqual(a.wait('hostile-sent')['count'], 50)
        a.send(cmd='hostile', what='malformed', count=40)
        self.assertEqual(a.wait('hostile-sent')['count'], 40)
        a.send(cmd='hostile', what='noise', count=60)
        self.assertEqual(a.wait('hostile-sent')['count'], 60)
        # Random UDP noise to every port of the media range, from a stranger: libnice
        # discards what does not come from a validated candidate pair.
        noise = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rng = __import__('random').Random(7)
        for port in range(self.port_min, self.port_min + 301):
            for first in (0x80, 0x16, 0x00, 0xff):
                noise.sendto(bytes([first]) + rng.randbytes(rng.randrange(1, 300)),
                             ('127.0.0.1', port))
        noise.close()
        sent = self.send_all([a, b], seconds=1.5)
        procs.wait_until(lambda: counters.delta(Counters.drop('unsignalled_ssrc')) >= 50,
                         timeout=5, message='unsignalled packets not counted')
        self.assertEqual(counters.delta(Counters.drop('malformed_rtp')), 20)
        self.assertEqual(counters.delta(Counters.drop('malformed_rtcp')), 20)
        # The 20 SRTP-looking noise packets fail either the SSRC check (done before
        # decryption, on the header in clear) or authentication.
        self.assertEqual(counters.delta(Counters.drop('srtp')) +
                         counters.delta(Counters.drop('unsignalled_ssrc')) - 50, 20)
        self.assertEqual(counters.delta(Counters.drop('unknown')), 20)
        self.assert_received_all(b, [a], sent)
        self.assert_received_all(a, [b], sent)
        self.assertEqual(self.bridge.proc.poll(), None, 'the bridge is still running')
        self.expire(meeting)

    def test_colibri_errors_carry_a_reason(self):
        reply = self.iq(modify_xml(BRIDGE, 'no-such-meeting', ["<endpoint id='x'/>"]))
        self.assertEqual(reply['type'], 'error')
        self.assertEqual(reply['error']['condition'], 'item-not-found')
        self.assertEqual(colibri_reason(reply), 'conference_not_found')
        meeting = self.new_meeting()
        reply = self.iq(modify_xml(BRIDGE, meeting, ["<endpoint id='x' create='true'/>"],
                                   create=True))
        self.assertEqual(reply['type'], 'result')
        reply = self.iq(modify_xml(BRIDGE, meeting, ["<endpoint id='y'/>"]))
        self.assertEqual(colibri_reason(reply), 'unknown_endpoint')
        reply = self.iq(modify_xml(BRIDGE, meeting, [], create=True))
        self.assertEqual(colibri_reason(reply), 'conference_already_exists')
        bad = ("<endpoint id='x'><transport><transport xmlns='urn:xmpp:jingle:transports:"
               "ice-udp:1' ufrag='abcd' pwd='short'/></transport></endpoint>")
        reply = self.iq(modify_xml(BRIDGE, meeting, [bad]))
        self.assertEqual(reply['error']['condition'], 'bad-request')
        self.assertEqual(colibri_reason(reply), 'bad_request')
        # Two endpoints of one request may not claim the same SSRC; nothing is applied.
        claim = ("<endpoint id='{}' create='true'><sources><media-source type='audio' "
                 "id='{}-a0'><source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='9999'/>"
                 "</media-source></sources></endpoint>")
        reply = self.iq(modify_xml(BRIDGE, meeting, [claim.format('p', 'p'),
                                                      claim.format('q', 'q')]))
        self.assertEqual(reply['error']['condition'], 'bad-request')
        reply = self.iq(modify_xml(BRIDGE, meeting, ["<endpoint id='p'/>"]))
        self.assertEqual(colibri_reason(reply), 'unknown_endpoint')
        self.expire(meeting)

    def test_healthcheck_reports_load(self):
        reply = self.iq(f"<iq type='get' to='{BRIDGE}'><healthcheck "
                        f"xmlns='http://jitsi.org/protocol/healthcheck'/></iq>")
        self.assertEqual(reply['type'], 'result')
        stats = reply.xml.find('{http://jitsi.org/protocol/colibri}stats')
        names = {s.get('name'): s.get('value') for s in stats}
        for key in ('stress_level', 'conferences', 'endpoints', 'packet_rate_download',
                    'packet_rate_upload', 'graceful_shutdown'):
            self.assertIn(key, names)
        self.assertEqual(names['graceful_shutdown'], 'false')
        float(names['stress_level'])

    def test_consent_holds_while_media_never_stops(self):
        # The bridge, a full ICE agent here, checks consent about every 5 s and gives up
        # after 30 s without an answer (RFC 7675). Media is read in batches beside libnice
        # (bridge/recv-batch.h), which must still get every answer: after 35 s of media
        # without a pause both endpoints are alive and nothing was lost.
        counters = Counters(self.bridge)
        specs = [('c1', dict(audio=7201, video=7301)), ('c2', dict(audio=7202, video=7302))]
        meeting, peers = self.conference(specs)
        sent = self.send_all(peers.values(), seconds=35)
        for name, receiver in peers.items():
            others = [p for n, p in peers.items() if n != name]
            self.assert_received_all(receiver, others, sent)
        d = counters.deltas()
        self.assertEqual(d('conclave_bridge_ice_failures_total'), 0)
        self.assertEqual(sum(d(f'conclave_bridge_endpoints_expired_total{{reason="{r}"}}')
                             for r in ('ice_failed', 'media_timeout', 'dtls_failed')), 0)
        # libnice got what was its own in the middle of the media...
        self.assertGreater(d('conclave_bridge_recv_yields_total'), 0)
        # ...and most of the media did not go through it.
        batched, total = (d('conclave_bridge_recv_batched_total'),
                          d('conclave_bridge_packets_in_total'))
        self.assertGreater(batched, 0.9 * total, f'{batched} of {total} read in batches, '
                           f'{d("conclave_bridge_recv_yields_total")} yields, '
                           f'{d("conclave_bridge_recv_calls_total")} calls')
        self.expire(meeting)

    def test_silent_and_vanished_endpoints_expire(self):
        counters = Counters(self.bridge)
        expired = 'conclave_bridge_endpoints_expired_total{reason="%s"}'
        meeting, peers = self.conference([('idle', dict(audio=7101)), ('gone', dict(audio=7102))])
        # 'idle' stays connected (it answers consent checks) but sends nothing;
        # 'gone' disappears: its consent lapses or its media stops, whichever comes first.
        peers['gone'].kill()
        procs.wait_until(
            lambda: counters.delta(expired % 'media_timeout') +
            counters.delta(expired % 'ice_failed') == 2,
            timeout=30, message='the endpoints were not expired')
        self.assertGreaterEqual(counters.delta(expired % 'media_timeout'), 1)
        self.assertEqual(counters.delta('conclave_bridge_worker_endpoints{worker="0"}') +
                         counters.delta('conclave_bridge_worker_endpoints{worker="1"}'), 0)
        self.expire(meeting)

    def test_public_address_and_trusted_senders(self):
        """A second bridge behind a (pretend) 1:1 NAT that only takes orders from the focus."""
        port = self.port_min + 400
        other = Daemon('bridge', BRIDGE2, 'bridge2-secret', self.prosody.component_port,
                       extra=f'[media]\naddresses = 127.0.0.1\npublic_address = 192.0.2.7\n'
                             f'port_min = {port}\nport_max = {port + 10}\nworkers = 1\n'
                             f'[colibri]\ntrusted = focus@localhost\n').start()
        try:
            other.wait_health(200, timeout=15)
            reply = self.iq(modify_xml(BRIDGE2, 'pub', ["<endpoint id='e' create='true'/>"],
                                       create=True))
            self.assertEqual(reply['type'], 'result', str(reply))
            cands = parse_answer(reply)['e']['candidates']
            host = [c for c in cands if c['type'] == 'host']
            srflx = [c for c in cands if c['type'] == 'srflx']
            self.assertEqual(len(host), 1, cands)
            self.assertTrue(port <= host[0]['port'] <= port + 10, cands)
            self.assertEqual([(c['ip'], c['port']) for c in srflx],
                             [('192.0.2.7', host[0]['port'])])
            self.prosody.register('mallory', 'mallory-password')
            mallory = Client('mallory@localhost', 'mallory-password',
                             port=self.prosody.c2s_port)
            mallory.connect()
            try:
                reply = mallory.send_iq_raw(modify_xml(BRIDGE2, 'evil', [], create=True))
                self.assertEqual(reply['error']['condition'], 'forbidden')
                self.assertEqual(colibri_reason(reply), 'forbidden')
            finally:
                mallory.disconnect()
            self.iq(modify_xml(BRIDGE2, 'pub', [], expire=True))
            self.assertEqual(other.stop(), 0)
            self.assertEqual(other.sanitizer_reports(), [])
        finally:
            if other.proc.poll() is None:
                other.stop()

    def test_batched_sending_with_a_stalled_receiver_a_vanishing_sender_and_a_removed_receiver(self):
        """Bursts of 10 packets per sender every 10 ms leave the bridge in batches (several
        packets per system call, runs to one receiver as one GSO message). Meanwhile one
        receiver stops reading (its socket fills), one sender is killed mid-burst and one
        receiver is removed over Colibri2 mid-stream: the others still get every packet,
        whole and in order, and nothing is counted as a failed send. (A receiver removed
        with packets still queued for it is covered by the send-batch unit test.)"""
        counters = Counters(self.bridge)
        senders = ['s1', 's2']
        receivers = ['r1', 'r2', 'stalled', 'removed']
        specs = [(n, dict(video=4100 + i, bench_rate=1000)) for i, n in enumerate(senders)]
        specs += [(n, dict(audio=4200 + i)) for i, n in enumerate(receivers)]
        meeting, peers = self.conference(specs)
        bench = [{'ssrc': peers[s].video, 'kind': 'bench'} for s in senders]
        for n in receivers:
            peers[n].send(cmd='expect', sources=bench)
        stalled = peers['stalled']
        os.kill(stalled.proc.pid, signal.SIGSTOP)
        try:
            for s in senders:
                peers[s].send(cmd='send', seconds=2.0)
            time.sleep(1.0)
            peers['s2'].proc.kill()  # vanishes mid-burst, without a word
            reply = self.iq(modify_xml(BRIDGE, meeting, ["<endpoint id='removed' expire='true'/>"]))
            self.assertEqual(reply['type'], 'result', str(reply))
            sent = peers['s1'].wait('sent', timeout=15)['bench']
            time.sleep(0.5)
        finally:
            os.kill(stalled.proc.pid, signal.SIGCONT)
        reports = {n: peers[n].report() for n in ('r1', 'r2')}
        got = {n: {s['ssrc']: s for s in r['streams']} for n, r in reports.items()}
        for n, streams in got.items():
            s1 = streams[peers['s1'].video]
            self.assertEqual(s1['unique'], sent, f'{n}: {s1} of {sent}')
            self.assertEqual(s1['out_of_order'], 0, s1)
            self.assertEqual(s1['mismatches'], 0, s1)
            self.assertEqual(reports[n]['srtp_errors'], 0, reports[n])
        # What the bridge got from s2 before it vanished reached both, the same packets.
        s2 = [got[n][peers['s2'].video]['unique'] for n in ('r1', 'r2')]
        self.assertGreater(s2[0], 0)
        self.assertEqual(s2[0], s2[1])
        self.assertEqual(counters.delta(Counters.drop('send_failed')), 0)
        out = counters.delta('conclave_bridge_packets_out_total')
        calls = counters.delta('conclave_bridge_send_calls_total')
        self.assertGreater(out / calls, 2, f'{out} packets in {calls} system calls')
        self.assertGreater(counters.delta('conclave_bridge_gso_packets_total'), 0)
        batched = counters.delta('conclave_bridge_recv_batched_total')
        reads = counters.delta('conclave_bridge_recv_calls_total')
        self.assertGreater(batched / reads, 2, f'{batched} packets in {reads} reads')
        # The stalled receiver lost what did not fit in its socket, nothing else: once it
        # reads again, everything reaches it.
        stalled.report()
        time.sleep(0.3)  # it drains its socket
        stalled.send(cmd='reset-rx')
        stalled.wait('rx-reset')
        peers['s1'].send(cmd='send', seconds=0.5)
        again = peers['s1'].wait('sent', timeout=10)['bench'] - sent  # the count is cumulative
        self.assertGreater(again, 0)
        procs.wait_until(
            lambda: {s['ssrc']: s for s in stalled.report()['streams']}
            [peers['s1'].video]['unique'] == again,
            timeout=5, message='the resumed receiver does not get every packet')
        self.expire(meeting)

    def load(self):
        reply = self.iq(f"<iq type='get' to='{BRIDGE}'><healthcheck "
                        f"xmlns='http://jitsi.org/protocol/healthcheck'/></iq>")
        stats = reply.xml.find('{http://jitsi.org/protocol/colibri}stats')
        return {s.get('name'): s.get('value') for s in stats}

    def test_zz_sigterm_drains_then_exits_cleanly(self):
        meeting, peers = self.conference([('q', dict(audio=7001))])
        self.bridge.proc.send_signal(signal.SIGTERM)
        procs.wait_until(lambda: self.load().get('graceful_shutdown') == 'true', timeout=5,
                         message='the bridge does not report draining')
        reply = self.iq(modify_xml(BRIDGE, self.new_meeting(), [], create=True))
        self.assertEqual(colibri_reason(reply), 'graceful_shutdown')
        time.sleep(0.5)
        self.assertIsNone(self.bridge.proc.poll(), 'the bridge waits for its conferences')
        self.expire(meeting)
        self.assertEqual(self.bridge.proc.wait(10), 0)
        self.assertEqual(self.bridge.sanitizer_reports(), [])


if __name__ == '__main__':
    tap.main(BridgeMedia)
