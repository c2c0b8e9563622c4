#!/usr/bin/python3
"""A conference end to end: a real Prosody (test_conference_ejabberd.py: ejabberd), the focus,
two bridges, and test peers that log in over c2s, join a room and speak Jingle to the focus
while sending and checking real media. Three participants hear and see each other; a fourth
joins and everyone gets it (source-add); a screen share reaches everyone; a participant
leaves and the others get source-remove while the bridge expires its endpoint; hostile and
out-of-order Jingle is refused with the right errors and changes nothing for the others; a
text-only occupant gets no Jingle and sees normal MUC traffic; when the bridge carrying the
conference is killed (kill -9), every participant is on the other bridge with media flowing
within 15 s, in a room that did not change; a kick ends the kicked one's session (session-
terminate) and the others get source-remove; a client that reports its transport failed gets
a new session."""

import signal
import time
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.xmpp_client import Callback, MatchXPath, _StanzaQueue
from conclave_daemons import Daemon
from conclave_media import XmppPeer, carrying_bridge, parse_metrics, wait_intact
from muc_client import MucUser, kind

FOCUS = 'conference.localhost'
B1, B2 = 'bridge1.localhost', 'bridge2.localhost'
ROOM = f'standup@{FOCUS}'
NS_JINGLE = 'urn:xmpp:jingle:1'
NS_RTP = 'urn:xmpp:jingle:apps:rtp:1'
NS_SSMA = 'urn:xmpp:jingle:apps:rtp:ssma:0'
FAILOVER_LIMIT_S = 15.0

# name: (audio, video, rtx)
SSRCS = {
    'alice': (1101, 2101, 3101),
    'bob': (1102, 2102, 3102),
    'carol': (1103, 2103, 3103),
    'dave': (1104, 2104, 3104),
}
SCREEN = 5102  # bob's screen share


def metric(daemon, name, labels=''):
    return parse_metrics(daemon.metrics()).get(name + labels)


class Conference(unittest.TestCase):
    server_class = Prosody  # test_conference_ejabberd.py runs the same story on ejabberd

    @classmethod
    def setUpClass(cls):
        cls.server = cls.server_class(components={FOCUS: 'f', B1: 'b1', B2: 'b2'})
        cls.server.start()
        for user in list(SSRCS) + ['tom']:
            cls.server.register(user, f'{user}-pw')
        cls.focus = Daemon(
            'focus', FOCUS, 'f', cls.server.component_port_for(FOCUS),
            # Health checks at the defaults (every 10 s, 5 s timeout): the failover limit
            # below holds with what operators get out of the box.
            extra=f'[focus]\nbridges = {B1}, {B2}\nmax_ssrcs_per_participant = 6\n'
                  '[security]\nauthenticated_domains = localhost\n').start()
        cls.bridges = {B1: cls.bridge(B1, 'b1'), B2: cls.bridge(B2, 'b2')}
        cls.focus.wait_health(200)
        procs.wait_until(lambda: metric(cls.focus, 'conclave_focus_bridges_available') == 2,
                         timeout=15, message='bridges never available')
        cls.peers = {}
        cls.tom = None

    @classmethod
    def bridge(cls, domain, secret):
        port = 30000 + procs.free_port() % 20000
        d = Daemon('bridge', domain, secret, cls.server.component_port_for(domain),
                   extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\n'
                         f'port_max = {port + 40}\nworkers = 1\n'
                         f'[colibri]\ntrusted = {FOCUS}\n').start()
        d.wait_health(200, timeout=15)
        return d

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers.values():
            p.kill()
        if cls.tom is not None:
            cls.tom.close()
        for d in [cls.focus] + list(cls.bridges.values()):
            if d.proc is not None and d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        cls.server.stop()

    # -- helpers -------------------------------------------------------------------------

    def join(self, name):
        audio, video, rtx = SSRCS[name]
        p = XmppPeer(name, f'{name}@localhost/{name}', f'{name}-pw', self.server.c2s_port,
                     audio=audio, video=video, rtx=rtx)
        self.peers[name] = p
        t0 = time.monotonic()
        p.join(ROOM, name)
        session = p.wait_session()
        self.assertEqual(session['focus'], f'{ROOM}/focus')
        p.wait_connected()
        procs.log('%s: join to DTLS connected in %.2f s', name, time.monotonic() - t0)
        return p

    def ssrcs_of(self, *names):
        return {x for n in names for x in SSRCS[n]}

    def assert_receives(self, receiver, senders, extra=(), seconds=1.5):
        """Every peer in `senders` sends; `receiver` gets each of their streams (and the
        SSRCs in `extra`) intact."""
        for s in senders:
            s.send(cmd='send', seconds=seconds)
        for s in senders:
            s.wait('sent', timeout=seconds + 10, match=lambda e: 'stopped' not in e)
        wanted = self.ssrcs_of(*[s.name for s in senders]) | set(extra)
        return wait_intact(receiver, wanted, timeout=8)

    def everyone_hears_everyone(self, names, extra=()):
        peers = [self.peers[n] for n in names]
        for p in peers:
            p.reset_rx()
        for p in peers:
            p.send(cmd='send', seconds=1.5)
        for receiver in peers:
            others = [q for q in peers if q is not receiver]
            wanted = self.ssrcs_of(*[q.name for q in others]) | {
                x for x in extra if receiver.name != 'bob'}
            wait_intact(receiver, wanted)
        for p in peers:
            p.wait('sent', timeout=15, match=lambda e: 'stopped' not in e)

    def carrying_bridge(self):
        return carrying_bridge(self.focus, self.bridges)

    def jingle_iq(self, peer, action, body, sid=None):
        sid = sid or peer.seen('session')[-1]['sid']
        return (f"<iq type='set' to='{ROOM}/focus'><jingle xmlns='{NS_JINGLE}' "
                f"action='{action}' sid='{sid}'>{body}</jingle></iq>")

    def video_sources(self, *ssrcs):
        srcs = ''.join(f"<source xmlns='{NS_SSMA}' ssrc='{s}'/>" for s in ssrcs)
        return (f"<content name='video'><description xmlns='{NS_RTP}' media='video'>{srcs}"
                f"</description></content>")

    def candidate(self, ufrag, pwd):
        return (f"<content name='audio'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' "
                f"ufrag='{ufrag}' pwd='{pwd}'><candidate foundation='9' component='1' "
                f"protocol='udp' priority='1000' ip='127.0.0.1' port='9' type='host' "
                f"generation='0' id='t1'/></transport></content>")

    def assert_refused(self, reply, condition, jingle_condition=None):
        self.assertEqual(reply['type'], 'error', reply)
        self.assertEqual(reply['condition'], condition, reply)
        self.assertEqual(reply.get('jingle_condition'), jingle_condition, reply)

    # -- the story -----------------------------------------------------------------------

    def test_1_three_participants_and_a_text_only_occupant(self):
        type(self).tom = tom = MucUser(self.server, 'tom', 'tom-pw')
        jingle_to_tom = _StanzaQueue()
        tom.client.call(lambda: tom.client.xmpp.register_handler(Callback(
            'jingle', MatchXPath('{jabber:client}iq/{%s}jingle' % NS_JINGLE),
            jingle_to_tom.put)))
        type(self).jingle_to_tom = jingle_to_tom
        self.join('alice')
        others, _, _ = tom.join(ROOM, 'tom')
        self.assertEqual([p['from'].resource for p in others], ['alice'])
        self.join('bob')
        self.join('carol')
        self.assertEqual(metric(self.focus, 'conclave_focus_sessions'), 3)
        # The focus asked alice what her client does; bob and carol use the same client
        # (the same XEP-0115 caps), so the verified answer was reused.
        asked = {n: len(self.peers[n].seen('disco-info', match=lambda e: e['from'] ==
                                           f'{ROOM}/focus')) for n in ('alice', 'bob', 'carol')}
        self.assertEqual(asked, {'alice': 1, 'bob': 0, 'carol': 0})
        self.everyone_hears_everyone(['alice', 'bob', 'carol'])
        # The sources others were told of carry their owner's occupant JID, and the msid
        # parameter their owner gave (Jitsi clients build their a=ssrc lines from it).
        relayed = [s for ev in self.peers['carol'].seen('jingle') for s in ev['sources']]
        self.assertEqual({s['owner'] for s in relayed}, {f'{ROOM}/alice', f'{ROOM}/bob'})
        for s in relayed:
            self.assertEqual(s['msid'].split(' ')[0], s['owner'].split('/')[1], s)
        # Every media participant saw the focus occupant (its JID in the item, the
        # conference's properties) before its session-initiate; the text-only one did not.
        for name in ('alice', 'bob', 'carol'):
            history = self.peers[name].history
            focus_at = [i for i, ev in enumerate(history) if ev.get('event') == 'presence'
                        and ev.get('from') == f'{ROOM}/focus']
            session_at = [i for i, ev in enumerate(history) if ev.get('event') == 'session']
            self.assertTrue(focus_at and session_at, (name, history))
            self.assertLess(focus_at[0], session_at[0], name)
            last = history[focus_at[-1]]
            self.assertEqual(last['item_jid'], f'{FOCUS}/focus', last)
            self.assertEqual(last['properties'].get('bridge-count'), '1', last)
            self.assertEqual(last['properties'].get('support-terminate-restart'), 'true', last)
        # The text-only occupant saw the others join and hears the room, and got no Jingle.
        seen = {'alice'}
        while len(seen) < 3:
            s = tom.next(predicate=lambda s: kind(s) == 'presence' and s['type'] != 'unavailable')
            seen.add(s['from'].resource)
        self.assertEqual(seen, {'alice', 'bob', 'carol'})
        self.peers['alice'].raw(f"<message type='groupchat' to='{ROOM}'><body>hello</body>"
                                f"</message>")
        msg = tom.next(predicate=lambda s: kind(s) == 'message' and s['body'] == 'hello')
        self.assertEqual(msg['from'].resource, 'alice')
        self.assertEqual(len(jingle_to_tom.clear()), 0)
        tom.expect_none(lambda s: kind(s) == 'presence' and s['from'].resource == 'focus',
                        f'{ROOM}/tom')
        self.assertGreaterEqual(metric(self.focus, 'conclave_focus_text_only_total'), 1)

    def test_2_a_fourth_joins_and_everyone_gets_it(self):
        self.join('dave')
        for name in ('alice', 'bob', 'carol'):
            adds = self.peers[name].wait('jingle', match=lambda e: (
                e['action'] == 'source-add' and
                {s['ssrc'] for s in e['sources']} == set(SSRCS['dave'])))
            self.assertEqual({s['owner'] for s in adds['sources']}, {f'{ROOM}/dave'})
        self.everyone_hears_everyone(['alice', 'bob', 'carol', 'dave'])

    def test_3_screen_share_reaches_everyone(self):
        bob = self.peers['bob']
        bob.send(cmd='add-source', ssrc=SCREEN, kind='video', name='bob-screen')
        reply = bob.wait('iq-reply', match=lambda e: e['what'] == 'source-add')
        self.assertEqual(reply['type'], 'result', reply)
        for name in ('alice', 'carol', 'dave'):
            self.peers[name].wait('jingle', match=lambda e: (
                e['action'] == 'source-add' and
                {s['ssrc'] for s in e['sources']} == {SCREEN}))
        self.everyone_hears_everyone(['alice', 'bob', 'carol', 'dave'], extra=[SCREEN])

    def test_4_one_leaves_others_get_source_remove(self):
        bridge = self.bridges[self.carrying_bridge()]
        label = '{reason="signalled"}'
        expired = metric(bridge, 'conclave_bridge_endpoints_expired_total', label)
        self.peers['carol'].leave()
        self.peers['carol'].wait('left')
        for name in ('alice', 'bob', 'dave'):
            self.peers[name].wait('jingle', match=lambda e: (
                e['action'] == 'source-remove' and
                {s['ssrc'] for s in e['sources']} == set(SSRCS['carol'])))
        procs.wait_until(
            lambda: metric(bridge, 'conclave_bridge_endpoints_expired_total', label) == expired + 1,
            timeout=5, message='the bridge never expired the endpoint')
        self.assertEqual(metric(self.focus, 'conclave_focus_sessions'), 3)
        self.peers.pop('carol').kill()

    def test_5_hostile_jingle_changes_nothing(self):
        alice, bob = self.peers['alice'], self.peers['bob']
        # A session that does not exist.
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'source-add', self.video_sources(7001),
                                                     sid='not-a-session')),
                            'item-not-found', 'unknown-session')
        # Accepting a session that was never offered: the text-only occupant.
        reply = self.tom.iq(f"<iq type='set' to='{ROOM}/focus'><jingle xmlns='{NS_JINGLE}' "
                            f"action='session-accept' sid='guess'/></iq>")
        self.assertEqual(reply['error']['condition'], 'item-not-found')
        self.assertIsNotNone(reply.xml.find(
            '{jabber:client}error/{urn:xmpp:jingle:errors:1}unknown-session'))
        # Accepting twice.
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'session-accept', '')),
                            'unexpected-request', 'out-of-order')
        # Someone else's SSRC, and too many SSRCs.
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'source-add',
                                                     self.video_sources(SSRCS['bob'][1]))),
                            'not-acceptable')
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'source-add',
                                                     self.video_sources(7001, 7002, 7003, 7004))),
                            'policy-violation')
        # Removing someone else's, and a malformed request.
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'source-remove',
                                                     self.video_sources(SSRCS['bob'][0]))),
                            'not-acceptable')
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'source-add',
                                                     self.video_sources(0))), 'bad-request')
        # Trickled candidates go to the bridge; an ICE restart (new ufrag) is refused.
        sent = alice.seen('accept-sent')[-1]
        errors = metric(self.focus, 'conclave_focus_colibri_errors_total')
        trickle = self.candidate(sent['ufrag'], sent['pwd'])
        self.assertEqual(alice.raw(self.jingle_iq(alice, 'transport-info', trickle))['type'],
                         'result')
        # A browser's TCP candidate beside a UDP one: skipped and counted, the rest used.
        tcp = ("<candidate foundation='7' component='1' protocol='tcp' tcptype='active' "
               "priority='900' ip='127.0.0.1' port='9' type='host' generation='0' id='t2'/>")
        skipped = metric(self.focus, 'conclave_focus_ice_candidates_skipped_total')
        self.assertEqual(alice.raw(self.jingle_iq(alice, 'transport-info', trickle.replace(
            '</transport>', tcp + '</transport>')))['type'], 'result')
        self.assertEqual(metric(self.focus, 'conclave_focus_ice_candidates_skipped_total'),
                         skipped + 1)
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'transport-info', self.candidate(
            'zzzz', sent['pwd']))), 'bad-request')
        # The focus does not take sessions.
        self.assert_refused(alice.raw(self.jingle_iq(alice, 'session-initiate', '',
                                                     sid='mine')),
                            'feature-not-implemented', 'unsupported-info')
        # Nobody was told anything, and media still flows as before.
        for p in (bob, self.peers['dave']):
            self.assertEqual(p.seen('jingle', match=lambda e: any(
                s['ssrc'] in (7001, 7002, 7003, 7004) for s in e['sources'])), [])
        for error, n in (('not-acceptable', 2), ('unknown-session', 2), ('out-of-order', 1),
                         ('policy-violation', 1), ('bad-request', 2), ('unsupported-info', 1)):
            self.assertEqual(metric(self.focus, 'conclave_focus_jingle_errors_total',
                                    f'{{error="{error}"}}'), n, error)
        self.everyone_hears_everyone(['alice', 'bob', 'dave'], extra=[SCREEN])
        # The bridge took the trickled candidate (a refusal would count as a Colibri2 error).
        self.assertEqual(metric(self.focus, 'conclave_focus_colibri_errors_total'), errors)

    def test_6_failover_when_the_bridge_is_killed(self):
        names = ['alice', 'bob', 'dave']
        dead = self.carrying_bridge()
        other = B2 if dead == B1 else B1
        sessions = {n: self.peers[n].seen('session')[-1]['sid'] for n in names}
        occupants = metric(self.focus, 'conclave_muc_occupants')
        self.tom.drain()
        t0 = time.monotonic()
        self.bridges[dead].stop(signal.SIGKILL)
        for n in names:
            p = self.peers[n]
            p.wait('session', timeout=FAILOVER_LIMIT_S,
                   match=lambda e, old=sessions[n]: e['sid'] != old)
        for n in names:
            self.peers[n].wait_connected(timeout=max(1.0, FAILOVER_LIMIT_S -
                                                     (time.monotonic() - t0)))
        elapsed = time.monotonic() - t0
        procs.log('failover: every participant DTLS-connected to %s %.2f s after kill -9',
                  other, elapsed)
        self.assertLess(elapsed, FAILOVER_LIMIT_S)
        self.assertEqual(self.carrying_bridge(), other)
        for n in names:
            ended = self.peers[n].seen('session-ended', match=lambda e: e['sid'] == sessions[n])
            self.assertTrue(ended and ended[-1]['reason'] == 'connectivity-error', ended)
        self.everyone_hears_everyone(names, extra=[SCREEN])
        # The room did not change: same occupants, and nobody was seen leaving.
        self.assertEqual(metric(self.focus, 'conclave_muc_occupants'), occupants)
        self.tom.expect_none(lambda s: kind(s) == 'presence' and s['type'] == 'unavailable',
                             f'{ROOM}/tom')
        self.assertGreaterEqual(metric(self.focus, 'conclave_focus_reinvites_total'), 3)
        self.assertEqual(metric(self.focus, 'conclave_focus_conference_moves_total'), 1)
        self.assertEqual(len(self.jingle_to_tom.clear()), 0)

    def test_7_a_kick_ends_the_session(self):
        alice, dave = self.peers['alice'], self.peers['dave']
        reply = alice.raw(f"<iq type='set' to='{ROOM}'><query "
                          f"xmlns='http://jabber.org/protocol/muc#admin'><item nick='dave' "
                          f"role='none'/></query></iq>")
        self.assertEqual(reply['type'], 'result', reply)
        ended = dave.wait('jingle', match=lambda e: e['action'] == 'session-terminate')
        self.assertEqual(ended['reason'], 'gone')
        self.assertIn(307, dave.wait('left')['codes'])
        for name in ('alice', 'bob'):
            self.peers[name].wait('jingle', match=lambda e: (
                e['action'] == 'source-remove' and
                {s['ssrc'] for s in e['sources']} == set(SSRCS['dave'])))
        self.assertEqual(metric(self.focus, 'conclave_focus_sessions'), 2)
        self.everyone_hears_everyone(['alice', 'bob'], extra=[SCREEN])

    def test_8_a_client_whose_transport_failed_gets_a_new_session(self):
        bob = self.peers['bob']
        old = bob.seen('session')[-1]['sid']
        bob.send(cmd='terminate', reason='connectivity-error')
        reply = bob.wait('iq-reply', match=lambda e: e['what'] == 'session-terminate')
        self.assertEqual(reply['type'], 'result', reply)
        bob.wait('session', match=lambda e: e['sid'] != old)
        bob.wait_connected()
        self.assertEqual(metric(self.focus, 'conclave_focus_session_restarts_total'), 1)
        # alice was told bob's sources went, then came back with the new session.
        alice = self.peers['alice']
        alice.wait('jingle', match=lambda e: e['action'] == 'source-remove' and
                   SSRCS['bob'][0] in {s['ssrc'] for s in e['sources']})
        alice.wait('jingle', match=lambda e: e['action'] == 'source-add' and
                   SSRCS['bob'][0] in {s['ssrc'] for s in e['sources']})
        self.everyone_hears_everyone(['alice', 'bob'], extra=[SCREEN])

    def test_9_privacy_and_clean_exit(self):
        # Bridges never saw the room's name, a nickname or a user JID.
        for b in self.bridges.values():
            text = b.log_text()
            for secret in ('standup', 'alice', 'bob', 'carol', 'dave', 'tom'):
                self.assertNotIn(secret, text)
        # The focus ends cleanly with a conference in full swing (sessions, requests in
        # flight): exit status 0, and no leak or error report from the sanitizers.
        self.assertEqual(self.focus.stop(), 0)
        self.assertEqual(self.focus.sanitizer_reports(), [], self.focus.log_text()[-3000:])
        for b in self.bridges.values():
            if b.proc.poll() is None:
                self.assertEqual(b.stop(), 0)
            self.assertEqual(b.sanitizer_reports(), [], b.log_text()[-3000:])


if __name__ == '__main__':
    tap.main(Conference)
