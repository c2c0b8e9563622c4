// The layout of an end-to-end encrypted media frame (see README.md, "Frame format"):
//
//   | clear codec header | AES-GCM ciphertext + tag (16) | IV (12) | clear length | key id | version |
//
// The codec header stays in clear because the packetizer, the bridge (key frame detection)
// and the receiver's depacketizer read it; it is authenticated as additional data together
// with the three trailer bytes, so changing any of them makes the frame fail.

export const FORMAT_VERSION = 1;
export const IV_LENGTH = 12;
export const TAG_LENGTH = 16;
export const TRAILER_LENGTH = IV_LENGTH + 3;

// How many leading bytes of a frame the codec needs in clear.
// VP8 (RFC 6386 9.1): the 3-byte frame tag (key frame bit, version, partition size), plus on
// key frames the start code and dimensions (7 bytes). Opus (RFC 6716 3.1): the TOC byte.
// VP9 and AV1 packetizers take what they need from the encoder's metadata, not the payload,
// so they get no clear bytes. H.264's packetizer splits the payload at NAL start codes and
// cannot carry an encrypted payload: README.md says to negotiate VP8 or VP9 with E2EE.
export function clearLength(kind, frameType, mimeType) {
    const codec = (mimeType || (kind === 'audio' ? 'audio/opus' : 'video/vp8')).toLowerCase();
    if (codec === 'audio/opus') return 1;
    if (codec === 'video/vp8') return frameType === 'key' ? 10 : 3;
    return 0;
}

// 96-bit IV: SSRC | per-sender random salt | per-sender frame counter. Every participant
// holding the passphrase shares each epoch's key, so the IV must be unique across senders:
// two senders collide only with the same SSRC and the same 32-bit salt, and one sender
// never repeats a counter value under one salt (the salt is redrawn when the counter wraps).
export class IvSource {
    constructor() {
        this.salt = randomUint32();
        this.counter = 0;
    }

    next(ssrc) {
        if (this.counter > 0xffffffff) {
            this.salt = randomUint32();
            this.counter = 0;
        }
        const iv = new Uint8Array(IV_LENGTH);
        const view = new DataView(iv.buffer);
        view.setUint32(0, ssrc >>> 0);
        view.setUint32(4, this.salt);
        view.setUint32(8, this.counter++);
        return iv;
    }
}

function randomUint32() {
    return crypto.getRandomValues(new Uint32Array(1))[0];
}

function additionalData(header, trailerTail) {
    const aad = new Uint8Array(header.length + trailerTail.length);
    aad.set(header, 0);
    aad.set(trailerTail, header.length);
    return aad;
}

// Encrypts `data` (ArrayBuffer) with `key` (AES-GCM CryptoKey) under wire key id `keyId`.
export async function sealFrame(data, clear, key, keyId, iv) {
    const bytes = new Uint8Array(data);
    const n = Math.min(clear, bytes.length);
    const header = bytes.subarray(0, n);
    const tail = Uint8Array.of(n, keyId & 0xff, FORMAT_VERSION);
    const sealed = new Uint8Array(await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: additionalData(header, tail), tagLength: 128 },
        key, bytes.subarray(n)));
    const out = new Uint8Array(n + sealed.length + TRAILER_LENGTH);
    out.set(header, 0);
    out.set(sealed, n);
    out.set(iv, n + sealed.length);
    out.set(tail, n + sealed.length + IV_LENGTH);
    return out.buffer;
}

export class FrameError extends Error {
    constructor(reason) {
        super(reason);
        this.reason = reason; // one of: too-short, not-encrypted, unknown-key, authentication
    }
}

// Reads the trailer without decrypting: { clear, keyId, iv, header, ciphertext, tail }.
export function parseFrame(data) {
    const bytes = new Uint8Array(data);
    if (bytes.length < TAG_LENGTH + TRAILER_LENGTH) throw new FrameError('too-short');
    const tail = bytes.subarray(bytes.length - 3);
    const [clear, keyId, version] = tail;
    if (version !== FORMAT_VERSION) throw new FrameError('not-encrypted');
    const end = bytes.length - TRAILER_LENGTH;
    if (clear + TAG_LENGTH > end) throw new FrameError('too-short');
    return {
        clear,
        keyId,
        tail,
        iv: bytes.subarray(end, end + IV_LENGTH),
        header: bytes.subarray(0, clear),
        ciphertext: bytes.subarray(clear, end),
    };
}

// Decrypts a parsed frame with `key`; throws FrameError('authentication') when the tag does
// not verify (wrong key, or anything in the frame changed).
export async function openFrame(parsed, key) {
    let plain;
    try {
        plain = new Uint8Array(await crypto.subtle.decrypt(
            { name: 'AES-GCM', iv: parsed.iv, additionalData: additionalData(parsed.header, parsed.tail),
              tagLength: 128 },
            key, parsed.ciphertext));
    } catch {
        throw new FrameError('authentication');
    }
    const out = new Uint8Array(parsed.clear + plain.length);
    out.set(parsed.header, 0);
    out.set(plain, parsed.clear);
    return out.buffer;
}
