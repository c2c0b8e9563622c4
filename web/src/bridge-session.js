// The Jingle session with the focus, media through the bridge (docs/conference.md). The
// focus offers in Jingle; this client builds the matching SDP offer itself: three m-lines
// for what it sends (microphone, camera, screen) and one receive m-line per remote source
// (unified plan), all bundled on the bridge's transport. Every source-add or source-remove
// from the focus renegotiates from the current source set; our own screen share is
// announced with source-add and withdrawn with source-remove.
import { buildJingleIq } from './jingle.js';
import { buildOffer, candidateFromLine, candidateLine, codecsFromMedia, parseSdp,
    sourcesOfMedia, transportFromSdp } from './sdp.js';
import { addSendTransceivers, detachAll, gatherCandidates, randomTag, setSenderTrack, sourceOwnerNick } from './webrtc-util.js';

const LOCAL_MIDS = [
    { mid: 'a0', media: 'audio', kind: 'audio' },
    { mid: 'v0', media: 'video', kind: 'video' },
    { mid: 'v1', media: 'video', kind: 'screen' },
];

export class BridgeSession {
    constructor({ xmpp, room, local, e2ee, rtcConfig, ontrack, ontrackgone, onstate, log }) {
        Object.assign(this, { xmpp, room, local, e2ee, rtcConfig, log });
        this.ontrack = ontrack;          // ({ entry, track, receiver })
        this.ontrackgone = ontrackgone;  // (entry)
        this.onstate = onstate || (() => {});
        this.tag = randomTag();          // names our sources: <tag>-a0, -v0, -v1
        this.reset();
        this.paused = false;             // peer-to-peer: send nothing to the bridge
    }

    reset() {
        this.sid = null;
        this.pc = null;
        this.accepted = false;
        this.layout = [];
        this.version = 1;
        this.nextMid = 1;
        this.chain = Promise.resolve();
        this.sentCandidates = new Set();
        this.senders = [];
        this.screenSources = null;       // what we announced for the screen share
        this.contentNames = { audio: 'audio', video: 'video' };
    }

    get active() { return !!this.pc; }

    queue(fn) {
        this.chain = this.chain.then(fn).catch((e) => this.log('bridge session:', e));
        return this.chain;
    }

    /** A Jingle request from the focus: acknowledged at once, then applied in order. */
    handle(iq, j) {
        // The session a request belongs to is decided on arrival: requests that follow a
        // session-initiate in the same batch must not wait for it to be applied.
        if (j.action === 'session-initiate') {
            this.signalledSid = j.sid;
        } else if (j.sid !== this.signalledSid) {
            this.xmpp.send(this.xmpp.error(iq, 'cancel', 'item-not-found'));
            return;
        }
        if (j.action === 'session-terminate') this.signalledSid = null;
        this.xmpp.send(this.xmpp.result(iq));
        switch (j.action) {
        case 'session-initiate': this.queue(() => this.initiate(j)); break;
        case 'source-add': this.queue(() => this.addSources(j)); break;
        case 'source-remove': this.queue(() => this.removeSources(j)); break;
        case 'transport-info': this.queue(() => this.addRemoteCandidates(j)); break;
        case 'session-terminate': this.queue(() => (j.sid === this.sid ? this.close() : null)); break;
        default: break;
        }
    }

    async initiate(j) {
        if (this.pc) await this.close();
        this.sid = j.sid;
        this.focusJid = j.initiator || this.room.occupantJid('focus');
        const withTransport = j.contents.find((c) => c.transport);
        this.transport = withTransport.transport;
        this.codecs = {};
        for (const c of j.contents) {
            if (c.media === 'audio' || c.media === 'video') {
                if (!this.codecs[c.media] && c.payloads.length) this.codecs[c.media] = c;
                this.contentNames[c.media] = c.name;
            }
        }
        this.layout = LOCAL_MIDS.map((m) => ({ ...m, local: true, direction: 'recvonly', sources: [] }));
        this.addRemote(j.contents);
        this.pc = new RTCPeerConnection({ ...this.rtcConfig, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
        this.pc.ontrack = (ev) => this.onTrack(ev);
        this.pc.onicecandidate = (ev) => this.onCandidate(ev);
        this.pc.onconnectionstatechange = () => this.onstate(this.pc?.connectionState);
        this.senders = addSendTransceivers(this.pc, LOCAL_MIDS.map((m) => m.kind), this.e2ee, this.local.stream);
        await this.negotiate();
        const candidates = await gatherCandidates(this.pc, 2000);
        for (const c of candidates) this.sentCandidates.add(c);
        const answer = parseSdp(this.pc.localDescription.sdp);
        const transport = transportFromSdp(this.pc.localDescription.sdp);
        transport.candidates = candidates.map(candidateFromLine).filter(Boolean);
        const contents = ['audio', 'video'].map((media) => this.answerContent(answer, media, transport));
        await this.xmpp.iq(buildJingleIq(this.focusJid, {
            action: 'session-accept', sid: this.sid, responder: this.xmpp.jid, contents,
            bundle: contents.map((c) => c.name),
        }));
        this.accepted = true;
        if (this.local.screenTrack) await this.announceScreen();
    }

    /** Our answer's codecs, sources and transport for one Jingle content. */
    answerContent(answer, media, transport) {
        const first = answer.media.find((m) => String(m.mid) === (media === 'audio' ? 'a0' : 'v0'));
        const { sources, groups } = this.ourSources(answer, media === 'audio' ? ['a0'] : ['v0']);
        return { name: this.contentNames[media], creator: 'initiator', senders: 'both', media,
            ...codecsFromMedia(first), rtcpMux: true, sources, groups, transport };
    }

    ourSources(answer, mids) {
        const sources = [], groups = [];
        for (const m of answer.media) {
            if (!mids.includes(String(m.mid)) || !/send/.test(m.direction || '')) continue;
            const got = sourcesOfMedia(m);
            for (const s of got.sources) sources.push({ ...s, name: `${this.tag}-${m.mid}` });
            groups.push(...got.groups);
        }
        return { sources, groups };
    }

    /** Remote sources from Jingle contents, one receive m-line per group of SSRCs. */
    addRemote(contents) {
        const added = [];
        for (const c of contents) {
            if (c.media !== 'audio' && c.media !== 'video') continue;
            const sets = new Map();  // ssrc -> set
            for (const s of c.sources) sets.set(s.ssrc, { sources: [s], groups: [] });
            for (const g of c.groups) {
                const set = sets.get(g.ssrcs[0]);
                if (!set) continue;
                for (const ssrc of g.ssrcs.slice(1)) {
                    const other = sets.get(ssrc);
                    if (other && other !== set) {
                        set.sources.push(...other.sources);
                        sets.set(ssrc, set);
                    }
                }
                set.groups.push(g);
            }
            for (const set of new Set(sets.values())) {
                const first = set.sources[0];
                if (this.layout.some((e) => !e.local && e.sources.some((s) => s.ssrc === first.ssrc))) continue;
                const entry = {
                    mid: `r${this.nextMid++}`, media: c.media, kind: c.media, local: false,
                    direction: 'sendonly', sources: set.sources, groups: set.groups,
                    nick: sourceOwnerNick(first.owner),
                    screen: c.media === 'video' && (/-v1$/.test(first.name || '') || first.videoType === 'desktop'),
                };
                this.layout.push(entry);
                added.push(entry);
            }
        }
        return added;
    }

    async addSources(j) {
        if (!this.pc || j.sid !== this.sid) return;
        if (this.addRemote(j.contents).length) await this.negotiate();
    }

    async removeSources(j) {
        if (!this.pc || j.sid !== this.sid) return;
        const gone = new Set(j.contents.flatMap((c) => c.sources.map((s) => s.ssrc)));
        let changed = false;
        for (const e of this.layout) {
            if (e.local || e.direction === 'inactive') continue;
            if (!e.sources.some((s) => gone.has(s.ssrc))) continue;
            e.sources = [];
            e.groups = [];
            e.direction = 'inactive';
            changed = true;
            this.ontrackgone(e);
        }
        if (changed) await this.negotiate();
    }

    async addRemoteCandidates(j) {
        if (!this.pc || j.sid !== this.sid) return;
        for (const c of j.contents) {
            for (const cand of c.transport?.candidates || []) {
                if (cand.protocol !== 'udp') continue;
                await this.pc.addIceCandidate({ candidate: candidateLine(cand), sdpMid: 'a0', sdpMLineIndex: 0 });
            }
        }
    }

    /** Applies the current layout: our offer from the focus's view, then the answer. */
    async negotiate() {
        const sdp = buildOffer({ sessionId: '1', version: this.version++, transport: this.transport,
            codecs: this.codecs, layout: this.layout });
        await this.pc.setRemoteDescription({ type: 'offer', sdp });
        for (const { kind, transceiver } of this.senders) await this.prepareSender(transceiver, kind);
        const answer = await this.pc.createAnswer();
        await this.pc.setLocalDescription(answer);
    }

    /** Our track on one of our m-lines (none while paused for peer-to-peer). */
    async prepareSender(t, kind) {
        const wantSend = kind !== 'screen' || !!this.local.screenTrack;
        const dir = wantSend ? 'sendonly' : 'inactive';
        if (t.direction !== dir) t.direction = dir;
        await setSenderTrack(t.sender, this.paused ? null : this.trackFor(kind));
        if (kind === 'screen' && this.local.screenStream && t.sender.conclaveStream !== this.local.screenStream) {
            t.sender.setStreams(this.local.screenStream);
            t.sender.conclaveStream = this.local.screenStream;
        }
    }

    sender(kind) {
        return this.senders?.find((x) => x.kind === kind)?.transceiver.sender || null;
    }

    trackFor(kind) {
        if (kind === 'audio') return this.local.audioTrack;
        if (kind === 'video') return this.local.videoTrack;
        return this.local.screenTrack;
    }

    /** A local track changed (device switch, screen share on or off). */
    trackChanged(kind) {
        if (!this.pc) return Promise.resolve();
        return this.queue(async () => {
            if (!this.pc) return;
            if (kind === 'screen') {
                if (this.local.screenTrack) {
                    await this.negotiate();
                    if (this.accepted) await this.announceScreen();
                } else {
                    await this.withdrawScreen();
                    await this.negotiate();
                }
                return;
            }
            const sender = this.sender(kind);
            if (sender) await setSenderTrack(sender, this.paused ? null : this.trackFor(kind));
        });
    }

    async announceScreen() {
        const answer = parseSdp(this.pc.localDescription.sdp);
        const { sources, groups } = this.ourSources(answer, ['v1']);
        if (!sources.length) return;
        const key = sources.map((s) => s.ssrc).join(',');
        if (this.screenSources && this.screenSources.key === key) return;
        if (this.screenSources) await this.withdrawScreen();
        for (const s of sources) s.videoType = 'desktop';
        this.screenSources = { key, sources, groups };
        await this.xmpp.iq(buildJingleIq(this.focusJid, { action: 'source-add', sid: this.sid,
            contents: [{ name: this.contentNames.video, media: 'video', sources, groups }] },
        { sourcesOnly: true }));
    }

    async withdrawScreen() {
        if (!this.screenSources) return;
        const { sources, groups } = this.screenSources;
        this.screenSources = null;
        if (!this.accepted) return;
        await this.xmpp.iq(buildJingleIq(this.focusJid, { action: 'source-remove', sid: this.sid,
            contents: [{ name: this.contentNames.video, media: 'video', sources, groups }] },
        { sourcesOnly: true })).catch((e) => this.log('source-remove refused', e));
    }

    /** Peer-to-peer takes over (pause) or ends (resume): our tracks leave or come back. */
    setPaused(paused) {
        this.paused = paused;
        if (!this.pc) return Promise.resolve();
        return this.queue(async () => {
            for (const { kind, transceiver } of this.senders || []) {
                await setSenderTrack(transceiver.sender, paused ? null : this.trackFor(kind));
            }
        });
    }

    onTrack(ev) {
        const entry = this.layout.find((e) => e.mid === ev.transceiver.mid);
        if (!entry || entry.local) return;
        this.e2ee?.attachReceiver(ev.receiver, entry.media, entry.nick);
        this.ontrack({ entry, track: ev.track, receiver: ev.receiver });
    }

    onCandidate(ev) {
        if (!ev.candidate || !ev.candidate.candidate || !this.accepted) return;
        const line = ev.candidate.candidate;
        if (this.sentCandidates.has(line)) return;
        this.sentCandidates.add(line);
        const cand = candidateFromLine(line);
        if (!cand || cand.protocol !== 'udp') return;
        const transport = transportFromSdp(this.pc.localDescription.sdp);
        transport.candidates = [cand];
        this.xmpp.iq(buildJingleIq(this.focusJid, { action: 'transport-info', sid: this.sid,
            contents: [{ name: this.contentNames.audio, transport }] }, { transportOnly: true }))
            .catch((e) => this.log('transport-info refused', e));
    }

    /** The remote source (layout entry) an SSRC belongs to. */
    entryForSsrc(ssrc) {
        return this.layout.find((e) => !e.local && e.sources.some((s) => s.ssrc === ssrc)) || null;
    }

    async close() {
        const pc = this.pc;
        for (const e of this.layout) if (!e.local && e.direction !== 'inactive') this.ontrackgone(e);
        this.reset();
        detachAll(pc, this.e2ee);
        if (pc) pc.close();
        this.onstate('closed');
    }

    /** Ends our media session (leaving the room ends it anyway). */
    terminate() {
        if (this.sid && this.focusJid) {
            this.xmpp.send(buildJingleIq(this.focusJid, { action: 'session-terminate', sid: this.sid,
                reason: 'success' }));
        }
        return this.close();
    }
}
