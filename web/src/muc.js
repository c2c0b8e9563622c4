// One Multi-User Chat room on the focus (docs/muc.md): joining with a nick and password,
// the occupants (role, affiliation, occupant-id, what they send), chat, the recording
// status, and the moderator requests (muc#admin kick and moderator, muc#owner password).
import { $iq, $msg, $pres } from 'strophe.js';
import { NS_DISCO_INFO, XmppError, stanzaError } from './xmpp.js';

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const NS_DATA = 'jabber:x:data';
const NS_OCCUPANT_ID = 'urn:xmpp:occupant-id:0';
const NS_JIBRI = 'http://jitsi.org/protocol/jibri';
const NS_FOCUS = 'http://jitsi.org/protocol/focus';
// What a Conclave web client shows the others in its presence: its display name and what
// it sends (screen share on or off, muted or not).
export const NS_CONCLAVE = 'urn:conclave:web:0';
export const FOCUS_NICK = 'focus';

const child = (el, name, ns) =>
    Array.from(el.children).find((c) => c.localName === name && (!ns || c.namespaceURI === ns)) || null;

export class Room {
    constructor(xmpp, roomJid) {
        this.xmpp = xmpp;
        this.jid = roomJid;
        this.nick = null;
        this.occupants = new Map(); // nick -> occupant (focus excluded)
        this.self = null;
        this.recording = false;
        this.joined = false;
        this.media = { display: '', screen: false, audioMuted: false, videoMuted: false };
        this.handlers = [];
        // Event callbacks.
        this.onoccupant = () => {};   // (occupant, joined: bool) — also on changes
        this.onleave = () => {};      // (occupant)
        this.onmessage = () => {};    // (nick, body, stanza)
        this.onremoved = () => {};    // ({ codes, destroyed })
        this.onrecording = () => {};  // (on)
        this.onconfig = () => {};     // () room configuration changed
        this.onself = () => {};       // (self occupant) role/affiliation changes
    }

    occupantJid(nick) { return `${this.jid}/${nick}`; }

    /** Asks the focus to prepare the conference (Jitsi's `conference` request). */
    async conference() {
        await this.xmpp.iq($iq({ type: 'set', to: this.jid.split('@')[1] })
            .c('conference', { xmlns: NS_FOCUS, room: this.jid, 'machine-uid': 'conclave-web' }));
    }

    mediaElement(b) {
        const m = this.media;
        return b.c('conclave', { xmlns: NS_CONCLAVE, display: m.display,
            screen: String(m.screen), 'audio-muted': String(m.audioMuted),
            'video-muted': String(m.videoMuted) }).up();
    }

    /** Joins as `nick`; resolves with our occupant, rejects with the stanza error. */
    join(nick, password) {
        this.nick = nick;
        this.install();
        return new Promise((resolve, reject) => {
            this.pendingJoin = { resolve, reject };
            const b = $pres({ to: this.occupantJid(nick) }).c('x', { xmlns: NS_MUC });
            if (password) b.c('password').t(password).up();
            b.c('history', { maxstanzas: '0' }).up().up();
            this.mediaElement(b);
            this.xmpp.send(b);
        });
    }

    /** Presence again with our current media state. */
    updatePresence() {
        if (!this.joined) return;
        this.xmpp.send(this.mediaElement($pres({ to: this.occupantJid(this.nick) })));
    }

    leave() {
        if (this.joined) this.xmpp.send($pres({ to: this.occupantJid(this.nick), type: 'unavailable' }));
        this.joined = false;
        for (const h of this.handlers) this.xmpp.off(h);
        this.handlers = [];
    }

    install() {
        if (this.handlers.length) return;
        const from = (el) => (el.getAttribute('from') || '');
        const mine = (el) => from(el) === this.jid || from(el).startsWith(`${this.jid}/`);
        this.handlers.push(this.xmpp.on((p) => { if (mine(p)) this.onPresence(p); }, null, 'presence'));
        this.handlers.push(this.xmpp.on((m) => { if (mine(m)) this.onMessage(m); }, null, 'message'));
    }

    onPresence(p) {
        const full = p.getAttribute('from');
        const nick = full.includes('/') ? full.slice(full.indexOf('/') + 1) : '';
        const type = p.getAttribute('type');
        if (type === 'error') {
            if (this.pendingJoin && nick === this.nick) {
                const { reject } = this.pendingJoin;
                this.pendingJoin = null;
                reject(new XmppError('error', stanzaError(p)));
            }
            return;
        }
        const x = child(p, 'x', NS_MUC_USER);
        const codes = x ? Array.from(x.children).filter((c) => c.localName === 'status')
            .map((c) => c.getAttribute('code')) : [];
        const item = x && child(x, 'item');
        if (nick === FOCUS_NICK) {
            const rec = child(p, 'jibri-recording-status', NS_JIBRI);
            if (rec) this.setRecording(rec.getAttribute('status') === 'on');
            return;
        }
        const isSelf = codes.includes('110') || (nick === this.nick && this.joined);
        if (type === 'unavailable') {
            if (isSelf) {
                this.joined = false;
                this.onremoved({ codes, destroyed: !!(x && child(x, 'destroy')) });
                return;
            }
            const o = this.occupants.get(nick);
            if (o) { this.occupants.delete(nick); this.onleave(o); }
            return;
        }
        const conclave = child(p, 'conclave', NS_CONCLAVE);
        const occupantId = child(p, 'occupant-id', NS_OCCUPANT_ID);
        const o = {
            nick, jid: item?.getAttribute('jid') || null,
            role: item?.getAttribute('role') || 'participant',
            affiliation: item?.getAttribute('affiliation') || 'none',
            occupantId: occupantId?.getAttribute('id') || null,
            // The nick is what the room keeps unique; a display name that differs from it could
            // claim to be someone else, so it is not shown.
            display: nick,
            webClient: !!conclave,
            screen: conclave?.getAttribute('screen') === 'true',
            audioMuted: conclave?.getAttribute('audio-muted') === 'true',
            videoMuted: conclave?.getAttribute('video-muted') === 'true',
            self: isSelf,
        };
        if (isSelf) {
            this.self = o;
            if (codes.includes('170')) this.setRecording(true);
            if (this.pendingJoin) {
                const { resolve } = this.pendingJoin;
                this.pendingJoin = null;
                this.joined = true;
                resolve(o);
            }
            this.onself(o);
            return;
        }
        const known = this.occupants.has(nick);
        this.occupants.set(nick, o);
        this.onoccupant(o, !known);
    }

    onMessage(m) {
        const type = m.getAttribute('type');
        const x = child(m, 'x', NS_MUC_USER);
        const codes = x ? Array.from(x.children).filter((c) => c.localName === 'status')
            .map((c) => c.getAttribute('code')) : [];
        if (codes.includes('170')) this.setRecording(true);
        if (codes.includes('171')) this.setRecording(false);
        if (codes.some((c) => ['104', '172', '173', '174'].includes(c))) this.onconfig();
        if (type !== 'groupchat' || codes.length) return;
        const body = child(m, 'body');
        const from = m.getAttribute('from') || '';
        if (!body || !from.includes('/')) return;
        this.onmessage(from.slice(from.indexOf('/') + 1), body.textContent, m);
    }

    setRecording(on) {
        if (this.recording === on) return;
        this.recording = on;
        this.onrecording(on);
    }

    sendChat(body) {
        this.xmpp.send($msg({ to: this.jid, type: 'groupchat', id: crypto.randomUUID() })
            .c('body').t(body));
    }

    /** Whether the room asks for a password (its disco#info features). */
    async passwordProtected() {
        const res = await this.xmpp.iq($iq({ type: 'get', to: this.jid }).c('query', { xmlns: NS_DISCO_INFO }));
        return Array.from(res.getElementsByTagName('feature'))
            .some((f) => f.getAttribute('var') === 'muc_passwordprotected');
    }

    admin(items) {
        const b = $iq({ type: 'set', to: this.jid }).c('query', { xmlns: NS_MUC_ADMIN });
        for (const it of items) b.c('item', it).up();
        return this.xmpp.iq(b);
    }

    kick(nick) { return this.admin([{ nick, role: 'none' }]); }

    grantModerator(nick) { return this.admin([{ nick, role: 'moderator' }]); }

    /** Sets the room password (owners); an empty one removes it. */
    setPassword(password) {
        const b = $iq({ type: 'set', to: this.jid }).c('query', { xmlns: NS_MUC_OWNER })
            .c('x', { xmlns: NS_DATA, type: 'submit' });
        const field = (v, val) => b.c('field', { var: v }).c('value').t(val).up().up();
        field('FORM_TYPE', 'http://jabber.org/protocol/muc#roomconfig');
        field('muc#roomconfig_passwordprotectedroom', password ? '1' : '0');
        field('muc#roomconfig_roomsecret', password);
        return this.xmpp.iq(b);
    }

    isModerator() { return this.self?.role === 'moderator'; }

    isOwner() { return this.self?.affiliation === 'owner'; }
}
