// End-to-end encryption of media frames for the browser client: the page-side API. The
// frames are encrypted and decrypted in a worker (worker.js) with keys derived there from a
// passphrase shared out of band; README.md describes the keys and the frame format.
//
//   const e2ee = new E2EE({ workerUrl: '/e2ee-worker.js' });
//   await e2ee.setPassphrase(passphrase, roomName);
//   e2ee.enable(true);
//   e2ee.attachSender(sender, 'video'); e2ee.attachReceiver(receiver, 'video', nick);

const ZERO_COUNTERS = () => ({
    framesEncrypted: 0,
    framesDecrypted: 0,
    decryptFailures: 0,
    failuresByNick: {},
    failuresByReason: {},
    framesUnsent: 0,
    framesPassed: 0,
    byKind: {
        audio: { encrypted: 0, decrypted: 0, failed: 0 },
        video: { encrypted: 0, decrypted: 0, failed: 0 },
    },
});
const COUNTERS_SHOWN = ['framesEncrypted', 'framesDecrypted', 'decryptFailures'];

const SENDER_CHECK_INTERVAL_MS = 2000;

function hasScriptTransform() {
    return typeof globalThis.RTCRtpScriptTransform === 'function';
}

function hasEncodedStreams() {
    return typeof globalThis.RTCRtpSender?.prototype?.createEncodedStreams === 'function';
}

export class E2EE {
    // Whether this browser can encrypt frames at all.
    static isSupported() {
        return (hasScriptTransform() || hasEncodedStreams()) && Boolean(globalThis.crypto?.subtle)
            && typeof globalThis.Worker === 'function';
    }

    // What the RTCConfiguration needs: the legacy API must be asked for when the peer
    // connection is created, and then every sender and receiver must be attached.
    static peerConnectionConfig() {
        return !hasScriptTransform() && hasEncodedStreams() ? { encodedInsertableStreams: true } : {};
    }

    constructor({ workerUrl } = {}) {
        if (!workerUrl) throw new TypeError('E2EE: workerUrl is required');
        if (!E2EE.isSupported()) {
            throw new Error('E2EE: this browser cannot encrypt media frames (no encoded transforms, '
                + 'or no WebCrypto: the page must be served over HTTPS or from localhost)');
        }
        this.onchange = null;
        this._scriptTransform = hasScriptTransform();
        this._worker = new Worker(workerUrl, { type: 'module', name: 'conclave-e2ee' });
        this._worker.onmessage = (event) => this._onMessage(event.data);
        this._worker.onerror = (event) => console.error('E2EE worker error:', event.message);
        this._enabled = false;
        this._keyId = null;
        this._counters = ZERO_COUNTERS();
        this._endpoints = []; // { id, endpoint, role, kind, nick }, each with its transform
        this._pending = new Map();
        this._nextId = 1;
        this._nextEndpointId = 1;
        this._unprotectedSenders = 0;
        this._watch = setInterval(() => this._checkSenders(), SENDER_CHECK_INTERVAL_MS);
    }

    _request(msg) {
        const id = this._nextId++;
        return new Promise((resolve, reject) => {
            this._pending.set(id, { resolve, reject });
            this._worker.postMessage({ ...msg, id });
        });
    }

    _onMessage(msg) {
        if (msg.type === 'reply') {
            const p = this._pending.get(msg.id);
            this._pending.delete(msg.id);
            if (p) (msg.ok ? p.resolve(msg.result) : p.reject(new Error(msg.error)));
        } else if (msg.type === 'stats') {
            for (const e of this._endpoints) if (msg.active.includes(e.id)) e.active = true;
            const before = this._counters;
            this._counters = msg.counters;
            const caughtUp = msg.keyId !== null && msg.keyId !== this._keyId && this._keyId !== null;
            if (caughtUp) this._keyId = msg.keyId; // the worker moved forward to the others' key
            if (caughtUp || COUNTERS_SHOWN.some((k) => before[k] !== msg.counters[k])) this._changed();
        }
    }

    _changed() {
        if (typeof this.onchange === 'function') {
            try {
                this.onchange();
            } catch (e) {
                console.error('E2EE onchange:', e);
            }
        }
    }

    // Derives key id 0 from the passphrase and the room name (slow on purpose: PBKDF2).
    async setPassphrase(passphrase, roomName) {
        if (typeof passphrase !== 'string' || passphrase.length === 0) {
            throw new Error('E2EE: the passphrase is empty');
        }
        if (typeof roomName !== 'string' || roomName.trim().length === 0) {
            throw new Error('E2EE: the room name is empty');
        }
        const keyId = await this._request({ type: 'passphrase', passphrase, room: roomName });
        if (keyId !== null) {
            this._keyId = keyId;
            this._changed();
        }
    }

    // Moves everyone to the next key id: each holder of the passphrase calls it (e.g. when
    // someone leaves). The previous key still decrypts for a few seconds.
    async rotate() {
        const keyId = await this._request({ type: 'rotate' });
        if (keyId !== null) {
            this._keyId = keyId;
            this._changed();
        }
        return keyId;
    }

    // On: sent frames are encrypted, received frames that do not decrypt are dropped and
    // counted. Off: frames pass through the worker untouched (no copy, no crypto).
    enable(on) {
        this._enabled = Boolean(on);
        this._worker.postMessage({ type: 'enable', on: this._enabled });
        this._changed();
    }

    attachSender(sender, kind) {
        this._add(sender, 'sender', kind, '');
    }

    attachReceiver(receiver, kind, nick) {
        this._add(receiver, 'receiver', kind, nick ?? '');
    }

    _add(endpoint, role, kind, nick) {
        if (!endpoint) {
            throw new TypeError(`E2EE: no RTCRtp${role === 'sender' ? 'Sender' : 'Receiver'} given`);
        }
        if (kind !== 'audio' && kind !== 'video') {
            throw new TypeError(`E2EE: kind must be 'audio' or 'video', not ${kind}`);
        }
        let entry = this._endpoints.find((e) => e.endpoint === endpoint);
        if (entry) {
            // A receiver reused for another participant keeps its transform (a new one would
            // come too late, see below): only the name its failures are counted under changes.
            entry.nick = nick;
            this._worker.postMessage({ type: 'nick', endpointId: entry.id, nick });
            return;
        }
        entry = { id: this._nextEndpointId++, endpoint, role, kind, nick };
        this._endpoints.push(entry);
        // Every sender and receiver gets its transform at once, E2EE on or off: Chromium
        // sends frames around a transform set after negotiation (so E2EE could not be turned
        // on during a call), and the legacy API requires every one of them to be piped.
        const options = { endpointId: entry.id, role, kind, nick };
        if (this._scriptTransform) {
            endpoint.transform = new RTCRtpScriptTransform(this._worker, options);
        } else {
            const { readable, writable } = endpoint.createEncodedStreams();
            this._worker.postMessage({ type: 'streams', readable, writable, options },
                                     [readable, writable]);
        }
    }

    // Chromium sends frames around a transform installed after negotiation: a sender
    // attached too late would send clear media with E2EE on. Such a sender (packets sent,
    // no frame seen by the worker, twice in a row) loses its track instead.
    async _checkSenders() {
        for (const e of this._endpoints) {
            if (e.role !== 'sender' || e.active || e.unprotected || !this._enabled) continue;
            let sent = 0;
            try {
                for (const s of (await e.endpoint.getStats()).values()) {
                    if (s.type === 'outbound-rtp') sent += s.packetsSent ?? 0;
                }
            } catch {
                continue; // the connection is closed
            }
            e.suspect = sent > (e.lastSent ?? 0) && !e.active ? (e.suspect ?? 0) + 1 : 0;
            e.lastSent = sent;
            if (e.suspect >= 2) {
                e.unprotected = true;
                this._unprotectedSenders++;
                console.error(`E2EE: a ${e.kind} sender was attached after negotiation and sent frames `
                    + 'around the encryption; its track is removed');
                e.endpoint.replaceTrack(null).catch(() => {});
                this._changed();
            }
        }
    }

    // Forgets a sender or receiver whose connection is closed.
    detach(endpoint) {
        const entry = this._endpoints.find((e) => e.endpoint === endpoint);
        if (!entry) return;
        this._endpoints = this._endpoints.filter((e) => e !== entry);
        this._worker.postMessage({ type: 'forget', endpointId: entry.id });
    }

    stats() {
        const c = this._counters;
        return {
            enabled: this._enabled,
            keyId: this._keyId ?? 0,
            framesEncrypted: c.framesEncrypted,
            framesDecrypted: c.framesDecrypted,
            decryptFailures: c.decryptFailures,
            failuresByNick: { ...c.failuresByNick },
        };
    }

    // More, for diagnostics: counts per kind and per failure reason, frames a sender dropped
    // because it had no key yet, frames let by while E2EE was off, senders stopped because
    // they were attached too late.
    details() {
        const c = this._counters;
        return {
            ...this.stats(),
            hasKey: this._keyId !== null,
            api: this._scriptTransform ? 'RTCRtpScriptTransform' : 'createEncodedStreams',
            transforms: this._endpoints.length,
            failuresByReason: { ...c.failuresByReason },
            framesUnsent: c.framesUnsent,
            framesPassed: c.framesPassed,
            unprotectedSenders: this._unprotectedSenders,
            byKind: structuredClone(c.byKind),
        };
    }

    // The first bytes of the next frame of `kind` (at least `minLength` bytes long) this page
    // sends, before and after encryption (hex), to show what leaves the browser. Resolves
    // once such a frame is sent.
    captureSentFrame(kind, minLength = 0) {
        return this._request({ type: 'capture', kind, minLength });
    }

    close() {
        clearInterval(this._watch);
        this._worker.terminate();
        for (const p of this._pending.values()) p.reject(new Error('E2EE: closed'));
        this._pending.clear();
    }
}
