// A peer-to-peer Jingle session between the two participants of a 1:1 meeting, sent to
// the other's occupant address (the focus routes such IQs, docs/muc.md). The initiator's
// SDP offer travels as one Jingle content per m-line (named by its mid), so both sides
// keep the same m-lines: microphone, camera and screen, each sending both ways; starting
// or stopping a screen share only swaps the track.
import { buildJingleIq } from './jingle.js';
import { candidateFromLine, candidateLine, contentsFromSdp, sdpFromContents,
    transportFromSdp } from './sdp.js';
import { addSendTransceivers, detachAll, gatherCandidates, randomTag, setSenderTrack } from './webrtc-util.js';

const KINDS = ['audio', 'video', 'screen']; // the m-lines, in order
const CONNECT_TIMEOUT_MS = 15000;

export class P2PSession {
    constructor({ xmpp, room, local, e2ee, rtcConfig, peerNick, ontrack, onstate, log }) {
        Object.assign(this, { xmpp, room, local, e2ee, rtcConfig, peerNick, log });
        this.ontrack = ontrack;   // ({ kind, track, receiver })
        this.onstate = onstate;   // (connectionState)
        this.peerJid = room.occupantJid(peerNick);
        this.sid = null;
        this.mids = [];
        this.sent = new Set();
        this.ready = false;
        this.closed = false;
    }

    createPc() {
        this.pc = new RTCPeerConnection({ ...this.rtcConfig, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
        this.pc.ontrack = (ev) => {
            const kind = KINDS[this.mids.indexOf(ev.transceiver.mid)];
            if (!kind) return;
            this.ontrack({ kind, track: ev.track, receiver: ev.receiver });
        };
        this.pc.onicecandidate = (ev) => this.onCandidate(ev);
        // Connected once ICE and DTLS are both up; the media may flow a moment earlier.
        const report = () => {
            if (this.closed) return;
            const ice = this.pc.iceConnectionState;
            const state = this.pc.connectionState === 'connected' || ice === 'connected' || ice === 'completed'
                ? 'connected' : this.pc.connectionState;
            if (state === 'connected') clearTimeout(this.watchdog);
            this.onstate(state);
        };
        this.pc.onconnectionstatechange = report;
        this.pc.oniceconnectionstatechange = report;
        // A direct path that does not come up in time is given up: the bridge stays.
        this.watchdog = setTimeout(() => { if (!this.closed) this.onstate('failed'); }, CONNECT_TIMEOUT_MS);
    }

    trackFor(kind) {
        if (kind === 'audio') return this.local.audioTrack;
        if (kind === 'video') return this.local.videoTrack;
        return this.local.screenTrack;
    }

    /** Our senders, made before any negotiation (their transforms must come first). */
    addSenders() {
        this.senders = addSendTransceivers(this.pc, KINDS, this.e2ee, this.local.stream, this.peerNick);
    }

    async attach(kind) {
        const sender = this.senders.find((x) => x.kind === kind)?.transceiver.sender;
        if (!sender) return;
        await setSenderTrack(sender, this.trackFor(kind));
        if (kind === 'screen' && this.local.screenStream) sender.setStreams(this.local.screenStream);
    }

    /** The initiator's side: offer, session-initiate, then wait for session-accept. */
    async start() {
        this.sid = randomTag(8);
        this.createPc();
        this.addSenders();
        for (const kind of KINDS) await this.attach(kind);
        const offer = await this.pc.createOffer();
        await this.pc.setLocalDescription(offer);
        this.mids = this.pc.getTransceivers().map((t) => t.mid);
        const contents = await this.localContents();
        await this.xmpp.iq(buildJingleIq(this.peerJid, { action: 'session-initiate', sid: this.sid,
            initiator: this.room.occupantJid(this.room.nick), contents, bundle: contents.map((c) => c.name) }));
    }

    async localContents() {
        const lines = await gatherCandidates(this.pc, 2000);
        for (const l of lines) this.sent.add(l);
        const contents = contentsFromSdp(this.pc.localDescription.sdp);
        contents[0].transport.candidates = lines.map(candidateFromLine).filter(Boolean)
            .filter((c) => c.protocol === 'udp');
        this.ready = true;
        return contents;
    }

    /** The responder's side: a session-initiate from the peer. */
    async accept(j) {
        this.sid = j.sid;
        this.createPc();
        this.mids = j.contents.map((c) => c.name);
        const transport = j.contents.find((c) => c.transport)?.transport;
        const sdp = sdpFromContents({ sessionId: '1', version: 1, contents: j.contents, transport });
        this.addSenders();
        await this.pc.setRemoteDescription({ type: 'offer', sdp });
        for (const kind of KINDS) await this.attach(kind);
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
        const contents = await this.localContents();
        await this.xmpp.iq(buildJingleIq(this.peerJid, { action: 'session-accept', sid: this.sid,
            initiator: j.initiator, responder: this.room.occupantJid(this.room.nick), contents,
            bundle: contents.map((c) => c.name) }));
    }

    /** The initiator's side: the peer accepted. */
    async accepted(j) {
        const transport = j.contents.find((c) => c.transport)?.transport;
        const sdp = sdpFromContents({ sessionId: '1', version: 1, contents: j.contents, transport });
        await this.pc.setRemoteDescription({ type: 'answer', sdp });
    }

    async remoteCandidates(j) {
        for (const c of j.contents) {
            for (const cand of c.transport?.candidates || []) {
                if (cand.protocol !== 'udp') continue;
                await this.pc.addIceCandidate({ candidate: candidateLine(cand), sdpMid: this.mids[0], sdpMLineIndex: 0 })
                    .catch((e) => this.log('p2p candidate refused', e));
            }
        }
    }

    onCandidate(ev) {
        if (!ev.candidate || !ev.candidate.candidate || !this.ready || this.closed) return;
        const line = ev.candidate.candidate;
        if (this.sent.has(line)) return;
        this.sent.add(line);
        const cand = candidateFromLine(line);
        if (!cand || cand.protocol !== 'udp') return;
        const transport = transportFromSdp(this.pc.localDescription.sdp);
        transport.candidates = [cand];
        this.xmpp.iq(buildJingleIq(this.peerJid, { action: 'transport-info', sid: this.sid,
            contents: [{ name: this.mids[0], transport }] }, { transportOnly: true }))
            .catch((e) => this.log('p2p transport-info refused', e));
    }

    /** A local track changed: the same m-line carries the new one. */
    async trackChanged(kind) {
        if (!this.pc || this.closed) return;
        await this.attach(kind);
    }

    /** Ends the session, telling the peer unless it told us. */
    close(tellPeer = true, reason = 'success') {
        if (this.closed) return;
        this.closed = true;
        clearTimeout(this.watchdog);
        if (tellPeer && this.sid) {
            this.xmpp.send(buildJingleIq(this.peerJid, { action: 'session-terminate', sid: this.sid, reason }));
        }
        detachAll(this.pc, this.e2ee);
        this.pc?.close();
    }

    /** Inbound statistics source. */
    getStats() { return this.pc ? this.pc.getStats() : Promise.resolve(new Map()); }
}

