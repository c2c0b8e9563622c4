// The XMPP connection: strophe.js over WebSocket, SASL (SCRAM for users, ANONYMOUS for
// guests), promise-returning IQs, and the answers every client owes (disco#info with the
// Jingle features the focus looks for, ping).
import { $iq, Strophe } from 'strophe.js';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_PING = 'urn:xmpp:ping';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

// What this client supports; the focus starts Jingle only for clients listing the RTP app.
export const FEATURES = [
    NS_DISCO_INFO, NS_PING, 'http://jabber.org/protocol/muc',
    'urn:xmpp:jingle:1', 'urn:xmpp:jingle:apps:rtp:1', 'urn:xmpp:jingle:apps:rtp:audio',
    'urn:xmpp:jingle:apps:rtp:video', 'urn:xmpp:jingle:transports:ice-udp:1',
    'urn:xmpp:jingle:apps:dtls:0', 'urn:ietf:rfc:5761', 'urn:ietf:rfc:5888',
    'http://jitsi.org/protocol/source-info',
];

/** An error stanza's type, condition and text (or nulls). */
export function stanzaError(el) {
    const err = el && Array.from(el.children).find((c) => c.localName === 'error');
    if (!err) return { type: null, condition: null, text: null };
    let condition = null, text = null;
    for (const c of err.children) {
        if (c.namespaceURI !== NS_STANZAS) continue;
        if (c.localName === 'text') text = c.textContent;
        else condition = c.localName;
    }
    return { type: err.getAttribute('type'), condition, text };
}

export class XmppError extends Error {
    constructor(reason, detail) {
        super(reason);
        this.reason = reason;
        this.detail = detail;
    }
}

export class Xmpp {
    constructor(websocketUrl) {
        this.conn = new Strophe.Connection(websocketUrl, { protocol: 'ws' });
        this.ondisconnect = null;
        this.connected = false;
    }

    get jid() { return this.conn.jid; }

    /** Logs in: `user@domain` with a password (SCRAM), or a bare domain for ANONYMOUS. */
    connect(jid, password) {
        return new Promise((resolve, reject) => {
            let settled = false;
            this.conn.connect(jid, password ?? null, (status, condition) => {
                const S = Strophe.Status;
                if (status === S.CONNECTED) {
                    this.connected = true;
                    this.installAnswers();
                    settled = true;
                    resolve();
                } else if (status === S.AUTHFAIL || status === S.SASL_FAILED) {
                    settled = true;
                    reject(new XmppError('login-failed', condition));
                } else if (status === S.CONNFAIL || status === S.ERROR) {
                    if (!settled) { settled = true; reject(new XmppError('connection-lost', condition)); }
                } else if (status === S.DISCONNECTED) {
                    const was = this.connected;
                    this.connected = false;
                    if (!settled) { settled = true; reject(new XmppError('connection-lost', condition)); }
                    else if (was && this.ondisconnect) this.ondisconnect(condition);
                }
            });
        });
    }

    disconnect() {
        this.connected = false;
        this.ondisconnect = null;
        try { this.conn.disconnect('leaving'); } catch { /* already gone */ }
    }

    send(stanza) { this.conn.send(stanza.tree ? stanza.tree() : stanza); }

    /** Sends an IQ; resolves with the result, rejects with an XmppError carrying the error. */
    iq(stanza, timeoutMs = 15000) {
        return new Promise((resolve, reject) => {
            this.conn.sendIQ(stanza.tree ? stanza.tree() : stanza, resolve, (el) => {
                if (!el) { reject(new XmppError('timeout', { condition: 'timeout' })); return; }
                reject(new XmppError('error', stanzaError(el)));
            }, timeoutMs);
        });
    }

    /** Calls fn(stanza) for every matching stanza until it returns false. */
    on(fn, ns, name, type, from) {
        return this.conn.addHandler((el) => fn(el) !== false, ns ?? null, name ?? null,
            type ?? null, null, from ?? null);
    }

    off(ref) { this.conn.deleteHandler(ref); }

    result(iq) {
        return $iq({ type: 'result', to: iq.getAttribute('from'), id: iq.getAttribute('id') });
    }

    error(iq, type, condition, text) {
        const b = $iq({ type: 'error', to: iq.getAttribute('from'), id: iq.getAttribute('id') })
            .c('error', { type }).c(condition, { xmlns: NS_STANZAS }).up();
        if (text) b.c('text', { xmlns: NS_STANZAS }).t(text).up();
        return b;
    }

    installAnswers() {
        this.on((iq) => {
            const b = this.result(iq).c('query', { xmlns: NS_DISCO_INFO })
                .c('identity', { category: 'client', type: 'web', name: 'Conclave' }).up();
            for (const f of FEATURES) b.c('feature', { var: f }).up();
            this.send(b);
        }, NS_DISCO_INFO, 'iq', 'get');
        this.on((iq) => { this.send(this.result(iq)); }, NS_PING, 'iq', 'get');
    }
}
