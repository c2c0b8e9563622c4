#!/usr/bin/python3
"""A recorded conference end to end (docs/recording.md, schemas/jibri.md): a real Prosody,
the focus, a bridge that records, and test peers that log in over c2s and speak Jingle.

A participant's Jibri IQ is refused (auth/forbidden); the moderator's starts the recording:
every occupant gets status 170, media clients see the focus's presence say recording 'on',
and a participant who joins during the recording sees 170 in its own presence and the
status in the focus's. Everyone sends; the moderator stops: everyone gets 171. The bridge
wrote one file, mode 0600, that `conclavectl recording verify` accepts and `decrypt` turns
into one pcap per stream: every RTP packet each participant sent, byte for byte, each
stream named by its owner's occupant id, never a nickname; and the file holds none of the
media in clear."""

import glob
import json
import os
import signal
import unittest

from conclave_harness import procs, tap
from conclave_harness.prosody import Prosody
from conclave_harness.tempdir import make_tempdir
from conclave_daemons import BINARIES, Daemon
from conclave_media import XmppPeer, parse_metrics
from conclave_recording import CODECS, PAYLOAD_OFFSET, peer_packet, read_pcap, run

FOCUS = 'conference.localhost'
BRIDGE = 'bridge1.localhost'
ROOM = f'review@{FOCUS}'
NS_JIBRI = 'http://jitsi.org/protocol/jibri'
CTL = BINARIES['ctl']
SEND_SECONDS = 1.5

# name: (audio, video, rtx)
SSRCS = {
    'alice': (1201, 2201, 3201),
    'bob': (1202, 2202, 3202),
    'carol': (1203, 2203, 3203),
    'dave': (1204, 2204, 3204),
}


def jibri(action):
    return (f"<iq type='set' to='{ROOM}/focus'><jibri xmlns='{NS_JIBRI}' action='{action}' "
            f"recording_mode='file'/></iq>")


class RecordedConference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = make_tempdir('recorded-conference')
        cls.rec_dir = os.path.join(cls.dir, 'recordings')
        os.mkdir(cls.rec_dir, 0o700)
        cls.priv = os.path.join(cls.dir, 'operator.key')
        cls.pub = os.path.join(cls.dir, 'operator.pub')
        r = run(CTL, 'recording', 'keygen', cls.priv, cls.pub)
        assert r.returncode == 0, r.stderr
        cls.server = Prosody(components={FOCUS: 'f', BRIDGE: 'b1'})
        cls.server.start()
        for user in SSRCS:
            cls.server.register(user, f'{user}-pw')
        cls.focus = Daemon(
            'focus', FOCUS, 'f', cls.server.component_port_for(FOCUS),
            extra=f'[focus]\nbridges = {BRIDGE}\n'
                  '[security]\nauthenticated_domains = localhost\n').start()
        port = 30000 + procs.free_port() % 20000
        cls.bridge = Daemon(
            'bridge', BRIDGE, 'b1', cls.server.component_port_for(BRIDGE),
            extra=f'[media]\naddresses = 127.0.0.1\nport_min = {port}\nport_max = {port + 40}\n'
                  f'workers = 1\n[colibri]\ntrusted = {FOCUS}\n'
                  f'[recording]\ndir = {cls.rec_dir}\npublic_key = {cls.pub}\n').start()
        cls.bridge.wait_health(200, timeout=15)
        cls.focus.wait_health(200)
        procs.wait_until(lambda: cls.metric('conclave_focus_bridges_available') == 1,
                         timeout=15, message='bridge never available')
        cls.peers = {}

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers.values():
            p.kill()
        for d in (cls.focus, cls.bridge):
            if d.proc is not None and d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        cls.server.stop()

    @classmethod
    def metric(cls, name):
        return parse_metrics(cls.focus.metrics()).get(name)

    def join(self, name):
        audio, video, rtx = SSRCS[name]
        p = XmppPeer(name, f'{name}@localhost/{name}', f'{name}-pw', self.server.c2s_port,
                     audio=audio, video=video, rtx=rtx)
        self.peers[name] = p
        joined = p.join(ROOM, name)
        p.wait_session()
        p.wait_connected()
        return p, joined

    # Events may come before the IQ answer a helper waited for: look at all seen so far.
    def wait_seen(self, peer, event, match, what):
        procs.wait_until(lambda: peer.seen(event, match), timeout=10,
                         message=f'{peer.name}: no {what}')

    def wait_status_message(self, peer, code):
        self.wait_seen(peer, 'message',
                       lambda e: e['from'] == ROOM and code in e.get('codes', []),
                       f'message with status {code}')

    def wait_focus_recording(self, peer, status):
        self.wait_seen(peer, 'presence',
                       lambda e: e['from'] == f'{ROOM}/focus' and e.get('recording') == status,
                       f"focus presence with recording '{status}'")

    def test_recorded_conference(self):
        for name in ('alice', 'bob', 'carol'):
            self.join(name)
        alice, bob, carol = (self.peers[n] for n in ('alice', 'bob', 'carol'))

        # A participant may not record; the owner (a moderator) may.
        reply = bob.raw(jibri('start'))
        self.assertEqual((reply['type'], reply['condition']), ('error', 'forbidden'), reply)
        self.assertEqual(self.metric('conclave_focus_recordings'), 0)
        reply = alice.raw(jibri('start'))
        self.assertEqual(reply['type'], 'result', reply)
        for p in (alice, bob, carol):
            self.wait_status_message(p, 170)
            self.wait_focus_recording(p, 'on')
        self.assertEqual(self.metric('conclave_focus_recordings'), 1)

        # A joiner during the recording is told at once.
        dave, joined = self.join('dave')
        self.assertIn(170, joined['codes'])
        self.wait_focus_recording(dave, 'on')

        peers = [alice, bob, carol, dave]
        for p in peers:
            p.send(cmd='send', seconds=SEND_SECONDS)
        sent = {p.name: p.wait('sent', timeout=SEND_SECONDS + 10) for p in peers}
        # Everything sent has reached the others, so the bridge has recorded it.
        for receiver in peers:
            wanted = {x for p in peers if p is not receiver for x in SSRCS[p.name]}

            def all_there(receiver=receiver, wanted=wanted):
                streams = {s['ssrc']: s for s in receiver.report()['streams']}
                return all(streams.get(x, {}).get('unique', 0) ==
                           sent[self.owner_name(x)][self.kind_of(x)] for x in wanted)
            procs.wait_until(all_there, timeout=10,
                             message=f'{receiver.name} did not get everything')

        reply = alice.raw(jibri('stop'))
        self.assertEqual(reply['type'], 'result', reply)
        for p in peers:
            self.wait_status_message(p, 171)
            self.wait_focus_recording(p, 'off')
        self.assertEqual(self.metric('conclave_focus_recordings'), 0)

        files = glob.glob(os.path.join(self.rec_dir, '*.ccrec'))
        self.assertEqual(len(files), 1, os.listdir(self.rec_dir))
        path = files[0]
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertNotIn('review', os.path.basename(path))
        r = run(CTL, 'recording', 'verify', '--key', self.priv, path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        out = os.path.join(self.dir, 'decrypted')
        r = run(CTL, 'recording', 'decrypt', '--key', self.priv, path, '--out', out)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(out, 'index.json')) as f:
            index = json.load(f)
        self.assertIs(index['complete'], True)
        self.assertEqual(index['damaged'], [])
        payloads = self.check_streams(out, index, sent)
        with open(path, 'rb') as f:
            data = f.read()
        self.assertEqual([p for p in payloads if p in data], [], 'media in clear in the file')
        procs.log('recorded %d streams, %d packets, %d bytes', len(index['streams']),
                  index['packets'], len(data))

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def owner_name(ssrc):
        return next(n for n, x in SSRCS.items() if ssrc in x)

    @staticmethod
    def kind_of(ssrc):
        return ('audio', 'video', 'rtx')[SSRCS[RecordedConference.owner_name(ssrc)].index(ssrc)]

    def check_streams(self, out, index, sent):
        """Each participant's streams hold every packet it sent, byte for byte; each is owned
        by the same occupant id, one per participant, none a nickname."""
        rtp = {(s['ssrc'], s['payload_type']): s for s in index['streams'] if s['codec'] != 'rtcp'}
        owners, payloads = {}, []
        for name, ssrcs in SSRCS.items():
            for kind, ssrc, pt in zip(('audio', 'video', 'rtx'), ssrcs, (111, 96, 97)):
                s = rtp.pop((ssrc, pt))
                self.assertEqual(s['codec'], CODECS[pt])
                owners.setdefault(name, s['owner'])
                self.assertEqual(s['owner'], owners[name])
                got = [d for _, d in read_pcap(os.path.join(out, s['pcap']))]
                want = [peer_packet(kind, ssrc, k) for k in range(sent[name][kind])]
                self.assertEqual(len(got), len(want), (name, kind))
                self.assertTrue(got == want, f'{name} {kind} differs')
                payloads += [d[PAYLOAD_OFFSET:PAYLOAD_OFFSET + 32] for d in want]
        self.assertEqual(rtp, {}, 'no other stream')
        self.assertEqual(len(set(owners.values())), len(SSRCS), owners)
        for name, owner in owners.items():
            self.assertTrue(owner and name not in owner, owners)
        return payloads


if __name__ == '__main__':
    tap.main(RecordedConference)
