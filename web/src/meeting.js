// One meeting: the XMPP login, the room, the bridge session and, for 1:1 meetings, the
// peer-to-peer session, and which of them feeds each participant's tile.
import { $iq } from 'strophe.js';
import { BridgeSession } from './bridge-session.js';
import { NS as JNS, parseJingle } from './jingle.js';
import { LocalMedia } from './local-media.js';
import { FOCUS_NICK, Room } from './muc.js';
import { P2PSession } from './p2p-session.js';
import { Xmpp } from './xmpp.js';

const NS_MUTE_AUDIO = 'http://jitsi.org/jitmeet/audio';
const NS_EXTDISCO = 'urn:xmpp:extdisco:2';

export class Meeting {
    constructor({ config, roomName, e2ee, rtcConfig, log }) {
        Object.assign(this, { config, roomName, e2ee, rtcConfig, log });
        this.roomJid = `${roomName}@${config.muc_domain}`;
        this.local = new LocalMedia({ videoHeight: config.video_height || 360 });
        this.tracks = new Map();   // id -> { path: 'bridge'|'p2p', nick, kind, screen, track }
        this.mode = 'bridge';
        this.p2p = null;
        this.xmpp = null;
        this.room = null;
        this.bridge = null;
        this.password = null;
        // Callbacks to the page.
        this.onchange = () => {};      // tiles, occupants, mode, moderator rights changed
        this.onmessage = () => {};     // (nick, display, body)
        this.onremoved = () => {};     // ({ codes, destroyed }) or ({ reason })
        this.onsecurity = () => {};    // password or recording changed
        this.onnotice = () => {};      // (text)
    }

    /** Logs in and connects; `login` is { user, password } or null for a guest. */
    async connect(login) {
        await this.local.start();
        this.local.onchange = (kind) => this.localTrackChanged(kind);
        this.xmpp = new Xmpp(this.config.websocketUrl);
        const jid = login ? `${login.user}@${this.config.domain}` : this.config.guest_domain;
        await this.xmpp.connect(jid, login ? login.password : null);
        this.xmpp.ondisconnect = () => this.onremoved({ reason: 'connection-lost' });
        this.rtcConfig = { ...this.rtcConfig, iceServers: await this.iceServers() };
        this.room = new Room(this.xmpp, this.roomJid);
        this.bridge = new BridgeSession({
            xmpp: this.xmpp, room: this.room, local: this.local, e2ee: this.e2ee,
            rtcConfig: this.rtcConfig, log: this.log,
            ontrack: ({ entry, track }) => this.addTrack(`b:${entry.mid}`, { path: 'bridge',
                nick: entry.nick, kind: entry.media, screen: entry.screen, track }),
            ontrackgone: (entry) => this.removeTrack(`b:${entry.mid}`),
            onstate: () => this.onchange(),
        });
        this.xmpp.on((iq) => this.onJingle(iq), JNS.jingle, 'iq', 'set');
        this.xmpp.on((iq) => this.onMuteRequest(iq), NS_MUTE_AUDIO, 'iq', 'set');
        this.wireRoom();
        await this.room.conference();
    }

    /**
     * STUN and TURN servers from the focus (XEP-0215, docs/clients.md), for networks that
     * block UDP to the bridge; none when the focus hands out none.
     */
    async iceServers() {
        let res;
        try {
            res = await this.xmpp.iq($iq({ type: 'get', to: this.config.muc_domain })
                .c('services', { xmlns: NS_EXTDISCO }), 5000);
        } catch {
            return [];
        }
        const servers = [];
        for (const s of res.getElementsByTagName('service')) {
            const type = s.getAttribute('type');
            const host = s.getAttribute('host');
            const port = s.getAttribute('port');
            const transport = s.getAttribute('transport') || 'udp';
            if (!host || !['stun', 'turn', 'turns'].includes(type)) continue;
            const hostPort = host.includes(':') ? `[${host}]` : host;
            if (type === 'stun') {
                if (transport === 'udp') servers.push({ urls: `stun:${hostPort}${port ? `:${port}` : ''}` });
                continue;
            }
            servers.push({ urls: `${type}:${hostPort}${port ? `:${port}` : ''}?transport=${transport}`,
                username: s.getAttribute('username') || undefined,
                credential: s.getAttribute('password') || undefined });
        }
        return servers;
    }

    /** Joins (again, after a refusal) with `nick` and an optional room password. */
    async join(nick, display, password) {
        this.password = password || null;
        this.room.media.display = display;
        await this.room.join(nick, password);
        this.onchange();
        this.evaluateP2P();
        this.refreshPassword();
    }

    wireRoom() {
        const room = this.room;
        room.onoccupant = (o, joined) => {
            if (joined) this.onnotice(`${o.display} joined`);
            this.onchange();
            this.evaluateP2P();
        };
        room.onleave = (o) => {
            for (const [id, t] of this.tracks) if (t.nick === o.nick) this.tracks.delete(id);
            this.onnotice(`${o.display} left`);
            if (this.e2ee && this.e2ee.stats().enabled) this.e2ee.rotate().catch((e) => this.log('rotate', e));
            this.onchange();
            this.evaluateP2P();
        };
        room.onmessage = (nick, body) => {
            const o = room.occupants.get(nick);
            const display = nick === room.nick ? room.media.display : (o?.display || nick);
            this.onmessage(nick, display, body);
        };
        room.onremoved = (info) => this.onremoved(info);
        room.onrecording = () => this.onsecurity();
        room.onconfig = () => this.refreshPassword();
        room.onself = () => this.onchange();
    }

    async refreshPassword() {
        try {
            this.passwordOn = await this.room.passwordProtected();
        } catch {
            return;
        }
        this.onsecurity();
    }

    // --- Jingle ------------------------------------------------------------------------

    onJingle(iq) {
        const j = parseJingle(iq);
        const from = iq.getAttribute('from') || '';
        if (!j || !this.room) return;
        this.log(`jingle ${j.action} from ${from.slice(from.indexOf('/') + 1)} sid ${j.sid}`,
            j.contents.map((c) => `${c.name}:${c.sources.length}`).join(' '));
        if (from === this.room.occupantJid(FOCUS_NICK)) {
            this.bridge.handle(iq, j);
            return;
        }
        if (!from.startsWith(`${this.roomJid}/`)) {
            this.xmpp.send(this.xmpp.error(iq, 'cancel', 'service-unavailable'));
            return;
        }
        this.onPeerJingle(iq, j, from.slice(this.roomJid.length + 1));
    }

    onPeerJingle(iq, j, nick) {
        const p2p = this.p2p;
        const ours = p2p && p2p.peerNick === nick && p2p.sid === j.sid;
        if (j.action !== 'session-initiate' && !ours) {
            this.xmpp.send(this.xmpp.error(iq, 'cancel', 'item-not-found'));
            return;
        }
        this.xmpp.send(this.xmpp.result(iq));
        // A failure ends the session it happened in, not a newer one.
        const failOf = (session) => (e) => {
            if (session.closed) return;
            this.log('p2p:', e);
            if (this.p2p === session) this.endP2P(true);
        };
        switch (j.action) {
        case 'session-initiate': {
            const peer = this.p2pPeer();
            // Only the peer of a 1:1 meeting, and only when we are not the initiator.
            if (!peer || peer.nick !== nick || this.room.nick < nick) {
                const s = new P2PSession({ xmpp: this.xmpp, room: this.room, local: this.local, peerNick: nick,
                    log: this.log });
                s.sid = j.sid;
                s.close(true, 'decline');
                return;
            }
            if (this.p2p) this.endP2P(true);
            this.p2p = this.newP2P(nick);
            this.p2p.accept(j).catch(failOf(this.p2p));
            break;
        }
        case 'session-accept': p2p.accepted(j).catch(failOf(p2p)); break;
        case 'transport-info': p2p.remoteCandidates(j).catch(failOf(p2p)); break;
        case 'session-terminate': this.endP2P(false); break;
        default: break;
        }
    }

    /** The other participant when the meeting is a 1:1 between two web clients. */
    p2pPeer() {
        if (this.config.p2p === false || !this.room?.joined) return null;
        const others = Array.from(this.room.occupants.values());
        return others.length === 1 && others[0].webClient ? others[0] : null;
    }

    newP2P(nick) {
        const s = new P2PSession({
            xmpp: this.xmpp, room: this.room, local: this.local, e2ee: this.e2ee,
            rtcConfig: this.rtcConfig, peerNick: nick, log: this.log,
            ontrack: ({ kind, track }) => this.addTrack(`p:${kind}`, { path: 'p2p', nick,
                kind: kind === 'audio' ? 'audio' : 'video', screen: kind === 'screen', track }),
            onstate: (state) => {
                if (s !== this.p2p) return;
                if (state === 'connected' && this.mode !== 'p2p') {
                    this.mode = 'p2p';
                    this.bridge.setPaused(true);
                    this.onchange();
                } else if (state === 'failed') {
                    this.endP2P(true);
                }
            },
        });
        return s;
    }

    /** Starts or ends peer-to-peer as the room changes. The lower nick initiates. */
    evaluateP2P() {
        const peer = this.p2pPeer();
        if (this.p2p && (!peer || peer.nick !== this.p2p.peerNick)) this.endP2P(true);
        if (!peer || this.p2p || this.room.nick > peer.nick) return;
        const session = this.newP2P(peer.nick);
        this.p2p = session;
        session.start().catch((e) => {
            if (session.closed) return;
            this.log('p2p start:', e);
            if (this.p2p === session) this.endP2P(true);
        });
    }

    endP2P(tellPeer) {
        const s = this.p2p;
        if (!s) return;
        this.p2p = null;
        s.close(tellPeer);
        for (const id of Array.from(this.tracks.keys())) if (id.startsWith('p:')) this.tracks.delete(id);
        if (this.mode === 'p2p') {
            this.mode = 'bridge';
            this.bridge.setPaused(false);
        }
        this.onchange();
    }

    // --- tracks --------------------------------------------------------------------------

    addTrack(id, t) {
        this.tracks.set(id, t);
        this.onchange();
    }

    removeTrack(id) {
        if (this.tracks.delete(id)) this.onchange();
    }

    /** The track that shows `nick`'s `kind` now: the current path's, else the other's. */
    trackOf(nick, kind, screen = false) {
        let other = null;
        const o = this.room.occupants.get(nick);
        // A web client's presence says when it shares its screen: the peer-to-peer screen
        // m-line always exists, and the focus holds back a partner's source-remove while a
        // peer-to-peer pair lasts (docs/conference.md).
        const sharing = !o?.webClient || o.screen;
        for (const t of this.tracks.values()) {
            if (t.nick !== nick || t.kind !== kind || t.screen !== screen) continue;
            if (screen && !sharing) continue;
            if (t.path === this.mode) return t.track;
            other = other || t.track;
        }
        return other;
    }

    localTrackChanged(kind) {
        this.bridge?.trackChanged(kind);
        const p2p = this.p2p;
        p2p?.trackChanged(kind).catch((e) => { if (!p2p.closed) this.log('p2p track:', e); });
        if (kind === 'screen') {
            this.room.media.screen = !!this.local.screenTrack;
            this.room.updatePresence();
        }
        this.onchange();
    }

    // --- controls ------------------------------------------------------------------------

    setAudioMuted(muted) {
        this.local.setAudioMuted(muted);
        this.room.media.audioMuted = muted;
        this.room.updatePresence();
    }

    setVideoMuted(muted) {
        this.local.setVideoMuted(muted);
        this.room.media.videoMuted = muted;
        this.room.updatePresence();
    }

    /** A moderator asked us to mute (Jitsi's audio mute IQ, routed by the room). */
    onMuteRequest(iq) {
        const from = iq.getAttribute('from') || '';
        const nick = from.startsWith(`${this.roomJid}/`) ? from.slice(this.roomJid.length + 1) : null;
        const o = nick && this.room?.occupants.get(nick);
        if (!o || o.role !== 'moderator') {
            this.xmpp.send(this.xmpp.error(iq, 'auth', 'forbidden'));
            return;
        }
        this.xmpp.send(this.xmpp.result(iq));
        this.setAudioMuted(true);
        this.onnotice(`${o.display} muted your microphone`);
        this.onchange();
    }

    askToMute(nick) {
        return this.xmpp.iq($iq({ type: 'set', to: this.room.occupantJid(nick) })
            .c('mute', { xmlns: NS_MUTE_AUDIO }).t('true'));
    }

    async leave() {
        this.endP2P(true);
        if (this.bridge) await this.bridge.terminate();
        this.room?.leave();
        this.xmpp?.disconnect();
        this.local.stop();
        this.tracks.clear();
    }

    // --- statistics ----------------------------------------------------------------------

    activePc() {
        return this.mode === 'p2p' && this.p2p ? this.p2p.pc : this.bridge?.pc;
    }

    /** getStats of the active connection, inbound RTP mapped to nicks. */
    async inbound(report) {
        const pc = this.activePc();
        if (!pc) return [];
        report = report || await pc.getStats();
        const out = [];
        report.forEach((r) => {
            if (r.type !== 'inbound-rtp') return;
            let nick = null, screen = false;
            if (this.mode === 'p2p' && this.p2p) {
                const idx = this.p2p.mids.indexOf(r.mid);
                if (idx < 0) return;
                nick = this.p2p.peerNick;
                screen = idx === 2;
                if (screen && !this.room.occupants.get(nick)?.screen) return;
            } else {
                const e = this.bridge.entryForSsrc(r.ssrc);
                if (!e) return;
                nick = e.nick;
                screen = e.screen;
            }
            out.push({ nick, kind: r.kind, screen, trackId: r.trackIdentifier,
                packetsReceived: r.packetsReceived || 0, bytesReceived: r.bytesReceived || 0,
                ...(r.kind === 'video' ? { framesDecoded: r.framesDecoded || 0 }
                    : { totalSamplesReceived: r.totalSamplesReceived || 0, audioLevel: r.audioLevel || 0 }) });
        });
        return out;
    }

    /** Audio levels (0..1) by nick, ours included, from one getStats of the active connection. */
    async audioLevels() {
        const pc = this.activePc();
        const levels = new Map();
        if (!pc) return levels;
        const report = await pc.getStats();
        for (const r of await this.inbound(report)) {
            if (r.kind === 'audio') levels.set(r.nick, Math.max(levels.get(r.nick) || 0, r.audioLevel));
        }
        let local = 0;
        report.forEach((r) => { if (r.type === 'media-source' && r.kind === 'audio') local = Math.max(local, r.audioLevel || 0); });
        levels.set(this.room.nick, this.local.audioMuted ? 0 : local);
        return levels;
    }
}

