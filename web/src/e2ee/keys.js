// Key schedule of the end-to-end encryption (see README.md, "Keys"):
//
//   base secret  = PBKDF2-SHA-256(passphrase, "conclave-e2ee/v1/room/" + room, 600000) -> 256 bits
//   epoch 0      = HKDF-SHA-256(base secret, info "conclave-e2ee/v1/epoch-0")
//   epoch n+1    = HKDF-SHA-256(epoch n, info "conclave-e2ee/v1/ratchet")
//   AES key of n = HKDF-SHA-256(epoch n, info "conclave-e2ee/v1/aes-gcm") -> AES-256-GCM
//
// Everyone holding the passphrase derives every epoch without a message; the ratchet is
// one-way, so an epoch's secret does not reveal earlier ones.

export const PBKDF2_ITERATIONS = 600000; // OWASP's 2023 figure for PBKDF2-HMAC-SHA-256
export const SEND_SWITCH_DELAY_MS = 1000; // a sender keeps the old key this long after rotate()
export const PREVIOUS_KEY_GRACE_MS = 5000; // a receiver keeps the old key this long after rotate()
// A frame under an epoch at most this many steps ahead of ours may mean others rotated while
// we did not (we joined after a rotation, switched encryption on late, or missed a
// departure): we derive that epoch and adopt it once a frame under it authenticates (a key id
// alone is not trusted). Epochs behind ours are never taken back.
export const CATCH_UP_MAX_STEPS = 16;

const enc = new TextEncoder();
const ZERO_SALT = new Uint8Array(32);

async function hkdfBits(secret, info) {
    return crypto.subtle.deriveBits(
        { name: 'HKDF', hash: 'SHA-256', salt: ZERO_SALT, info: enc.encode(info) }, secret, 256);
}

function importSecret(bits) {
    return crypto.subtle.importKey('raw', bits, 'HKDF', false, ['deriveBits', 'deriveKey']);
}

async function makeEpoch(id, secret) {
    const aesKey = await crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: ZERO_SALT, info: enc.encode('conclave-e2ee/v1/aes-gcm') },
        secret, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    return { id, secret, aesKey };
}

// Room names are MUC localparts, which compare case-insensitively; passphrases are compared
// as Unicode text whatever the keyboard produced (NFC).
export function normaliseRoom(room) {
    return String(room).normalize('NFC').trim().toLowerCase();
}

export async function deriveEpochZero(passphrase, room) {
    if (typeof passphrase !== 'string' || passphrase.length === 0) {
        throw new Error('E2EE: the passphrase is empty');
    }
    const roomName = normaliseRoom(room ?? '');
    if (roomName.length === 0) throw new Error('E2EE: the room name is empty');
    if (!globalThis.crypto?.subtle) {
        throw new Error('E2EE: WebCrypto is unavailable '
            + '(the page must be served over HTTPS or from localhost)');
    }
    const material = await crypto.subtle.importKey(
        'raw', enc.encode(passphrase.normalize('NFC')), 'PBKDF2', false, ['deriveBits']);
    const base = await crypto.subtle.deriveBits(
        { name: 'PBKDF2', hash: 'SHA-256', salt: enc.encode('conclave-e2ee/v1/room/' + roomName),
          iterations: PBKDF2_ITERATIONS }, material, 256);
    const epoch0 = await hkdfBits(await importSecret(base), 'conclave-e2ee/v1/epoch-0');
    return makeEpoch(0, await importSecret(epoch0));
}

export async function ratchet(epoch) {
    const next = await hkdfBits(epoch.secret, 'conclave-e2ee/v1/ratchet');
    return makeEpoch(epoch.id + 1, await importSecret(next));
}

// The keys one worker holds: the newest epoch (receivers accept it at once), the epoch
// senders use (the newest, SEND_SWITCH_DELAY_MS after rotate()), and the previous epoch until
// PREVIOUS_KEY_GRACE_MS after rotate(), for frames in flight and for peers that rotate late.
export class KeyRing {
    constructor(now = () => performance.now()) {
        this.now = now;
        this.clear();
    }

    clear() {
        this.generation = (this.generation ?? 0) + 1; // a rotate() racing a new passphrase loses
        this.chain = Promise.resolve(); // rotations, one after another
        this.catchingUp = false;
        this.candidate = null; // an epoch ahead of ours, derived, not yet adopted
        this.newest = null;
        this.sending = null;
        this.switchAt = 0;
        this.previous = null;
        this.previousUntil = 0;
    }

    async setPassphrase(passphrase, room) {
        const generation = ++this.generation;
        const epoch = await deriveEpochZero(passphrase, room);
        if (generation !== this.generation) return null;
        this.newest = this.sending = epoch;
        this.previous = null;
        this.candidate = null;
        return epoch.id;
    }

    // One step forward. Two departures handled at once must make two steps, so steps queue.
    rotate() {
        if (!this.newest) return Promise.reject(new Error('E2EE: rotate() before setPassphrase()'));
        const step = this.chain.then(() => this.step());
        this.chain = step.catch(() => {});
        return step;
    }

    // Derives, in the background, the epoch whose wire id is `wireId` when it is a few steps
    // ahead of ours, as a candidate; frames under it fail (and are counted) until then.
    catchUp(wireId) {
        if (!this.newest || this.catchingUp) return;
        const steps = (wireId - this.newest.id) & 0xff;
        if (steps < 1 || steps > CATCH_UP_MAX_STEPS) return;
        if (this.candidate && (this.candidate.id & 0xff) === wireId) return;
        this.catchingUp = true;
        const generation = this.generation;
        const from = this.newest;
        (async () => {
            let epoch = from;
            for (let i = 0; i < steps; i++) epoch = await ratchet(epoch);
            if (generation === this.generation && this.newest === from) this.candidate = epoch;
        })().catch(() => {}).finally(() => {
            this.catchingUp = false;
        });
    }

    // A frame under the candidate authenticated: the others are there, so are we now.
    adopt(epoch) {
        if (epoch !== this.candidate) return;
        const now = this.now();
        this.sending = this.newest;
        this.previous = this.newest;
        this.previousUntil = now + PREVIOUS_KEY_GRACE_MS;
        this.newest = epoch;
        this.switchAt = now + SEND_SWITCH_DELAY_MS;
        this.candidate = null;
    }

    async step() {
        const generation = this.generation;
        const next = await ratchet(this.newest);
        if (generation !== this.generation) return null;
        const now = this.now();
        this.sending = this.newest; // the epoch every receiver still holds during the switch delay
        this.previous = this.newest;
        this.previousUntil = now + PREVIOUS_KEY_GRACE_MS;
        this.newest = next;
        this.switchAt = now + SEND_SWITCH_DELAY_MS;
        if (this.candidate && this.candidate.id <= next.id) this.candidate = null;
        return next.id;
    }

    promoteSending(now) {
        if (this.newest && this.sending !== this.newest && now >= this.switchAt) {
            this.sending = this.newest;
        }
    }

    // The epoch to encrypt with now, or null without a passphrase.
    sendEpoch() {
        this.promoteSending(this.now());
        return this.sending;
    }

    // The epoch whose wire id (id mod 256) is `wireId`, or null.
    receiveEpoch(wireId) {
        if (this.newest && (this.newest.id & 0xff) === wireId) return this.newest;
        const p = this.previous;
        if (p && (p.id & 0xff) === wireId && this.now() < this.previousUntil) return p;
        const c = this.candidate;
        if (c && (c.id & 0xff) === wireId) return c;
        return null;
    }
}
