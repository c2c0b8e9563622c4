// The worker that encrypts and decrypts media frames (bundled to e2ee-worker.js). It holds the
// keys; the page (index.js) sends it the passphrase and the encoded frame streams, either
// through RTCRtpScriptTransform (the `rtctransform` event) or, on browsers without it,
// as streams from createEncodedStreams() in a message.
import { FrameError, IvSource, clearLength, openFrame, parseFrame, sealFrame } from './frame-format.js';
import { KeyRing } from './keys.js';

const STATS_INTERVAL_MS = 500; // the page hears about counter changes at most this often
const KEY_FRAME_REQUEST_INTERVAL_MS = 1000;
const CAPTURE_BYTES = 48;

const ring = new KeyRing();
let enabled = false;

const counters = {
    framesEncrypted: 0,
    framesDecrypted: 0,
    decryptFailures: 0,
    failuresByNick: {},
    failuresByReason: {},
    framesUnsent: 0, // a sender had no key yet: the frame was dropped, never sent in clear
    framesPassed: 0, // E2EE off: frames that went through untouched
    byKind: {
        audio: { encrypted: 0, decrypted: 0, failed: 0 },
        video: { encrypted: 0, decrypted: 0, failed: 0 },
    },
};
let statsTimer = null;
const endpoints = new Map(); // endpoint id (from the page) -> its context, to rename or forget it
// Pending { id, kind, minLength } requests for a before/after view of one sent frame.
const captures = [];

function changed() {
    if (statsTimer !== null) return;
    statsTimer = setTimeout(() => {
        statsTimer = null;
        // The senders and receivers whose frames reach this worker: the page checks that
        // none sends around its transform.
        const active = [...endpoints].filter(([, ctx]) => ctx.frames > 0).map(([id]) => id);
        self.postMessage({ type: 'stats', counters, active, keyId: ring.newest?.id ?? null });
    }, STATS_INTERVAL_MS);
}

function reply(id, result, error) {
    self.postMessage(error ? { type: 'reply', id, ok: false, error: String(error.message || error) }
                           : { type: 'reply', id, ok: true, result });
}

const hex = (buffer) => Array.from(new Uint8Array(buffer, 0, Math.min(CAPTURE_BYTES, buffer.byteLength)),
                                   (b) => b.toString(16).padStart(2, '0')).join('');

async function encrypt(frame, controller, ctx) {
    if (frame.data.byteLength === 0) {
        controller.enqueue(frame);
        return;
    }
    const epoch = ring.sendEpoch();
    if (!epoch) {
        counters.framesUnsent++;
        changed();
        return;
    }
    const meta = frame.getMetadata();
    const clear = clearLength(ctx.kind, frame.type, meta.mimeType);
    const before = frame.data;
    const iv = ctx.iv.next(meta.synchronizationSource ?? 0);
    frame.data = await sealFrame(before, clear, epoch.aesKey, epoch.id, iv);
    counters.framesEncrypted++;
    counters.byKind[ctx.kind].encrypted++;
    const i = captures.findIndex((c) => c.kind === ctx.kind && before.byteLength >= c.minLength);
    if (i >= 0) {
        const [c] = captures.splice(i, 1);
        reply(c.id, { kind: ctx.kind, frameType: frame.type ?? null, mimeType: meta.mimeType ?? null,
                      clear, keyId: epoch.id, lengthBefore: before.byteLength,
                      lengthAfter: frame.data.byteLength, before: hex(before), after: hex(frame.data) });
    }
    controller.enqueue(frame);
    changed();
}

function fail(ctx, reason) {
    counters.decryptFailures++;
    counters.byKind[ctx.kind].failed++;
    counters.failuresByNick[ctx.nick] = (counters.failuresByNick[ctx.nick] ?? 0) + 1;
    counters.failuresByReason[reason] = (counters.failuresByReason[reason] ?? 0) + 1;
    ctx.failing = true;
    changed();
}

async function decrypt(frame, controller, ctx) {
    if (frame.data.byteLength === 0) {
        controller.enqueue(frame);
        return;
    }
    try {
        const parsed = parseFrame(frame.data);
        const epoch = ring.receiveEpoch(parsed.keyId);
        if (!epoch) {
            ring.catchUp(parsed.keyId); // the others may have rotated without us
            throw new FrameError('unknown-key');
        }
        frame.data = await openFrame(parsed, epoch.aesKey);
        if (epoch === ring.candidate) {
            ring.adopt(epoch); // a candidate ahead of ours authenticated: the others are there
            changed();
        }
    } catch (e) {
        fail(ctx, e instanceof FrameError ? e.reason : 'error');
        return; // dropped: never handed to the decoder
    }
    counters.framesDecrypted++;
    counters.byKind[ctx.kind].decrypted++;
    if (ctx.failing) {
        // Frames were dropped: the decoder needs a key frame before it can show anything again.
        ctx.failing = false;
        const now = performance.now();
        if (ctx.kind === 'video' && ctx.requestKeyFrame
            && now - ctx.lastKeyFrameRequest > KEY_FRAME_REQUEST_INTERVAL_MS) {
            ctx.lastKeyFrameRequest = now;
            ctx.requestKeyFrame();
        }
    }
    controller.enqueue(frame);
    changed();
}

function pipe(readable, writable, options, requestKeyFrame) {
    const ctx = {
        role: options.role,
        kind: options.kind === 'audio' ? 'audio' : 'video',
        nick: String(options.nick ?? ''),
        iv: new IvSource(),
        frames: 0,
        failing: false,
        lastKeyFrameRequest: -Infinity,
        requestKeyFrame,
    };
    if (options.endpointId !== undefined) endpoints.set(options.endpointId, ctx);
    const work = ctx.role === 'sender' ? encrypt : decrypt;
    const transform = new TransformStream({
        async transform(frame, controller) {
            ctx.frames++;
            if (!enabled) {
                controller.enqueue(frame); // E2EE off: the frame passes untouched
                counters.framesPassed++;
                changed();
                return;
            }
            try {
                await work(frame, controller, ctx);
            } catch (e) {
                // An unexpected error must not end the stream; the frame is not sent or shown.
                if (ctx.role === 'sender') counters.framesUnsent++;
                else fail(ctx, 'error');
                changed();
            }
        },
    });
    readable.pipeThrough(transform).pipeTo(writable).catch(() => {}); // ends with the track
}

self.onrtctransform = (event) => {
    const t = event.transformer;
    const request = typeof t.sendKeyFrameRequest === 'function'
        ? () => t.sendKeyFrameRequest().catch(() => {}) : null;
    pipe(t.readable, t.writable, t.options ?? {}, request);
};

self.onmessage = async ({ data: msg }) => {
    try {
        switch (msg.type) {
        case 'passphrase':
            reply(msg.id, await ring.setPassphrase(msg.passphrase, msg.room));
            break;
        case 'rotate':
            reply(msg.id, await ring.rotate());
            break;
        case 'enable':
            enabled = Boolean(msg.on);
            break;
        case 'streams':
            pipe(msg.readable, msg.writable, msg.options ?? {}, null);
            break;
        case 'nick': {
            const ctx = endpoints.get(msg.endpointId);
            if (ctx) ctx.nick = String(msg.nick ?? '');
            break;
        }
        case 'forget':
            endpoints.delete(msg.endpointId);
            break;
        case 'capture':
            captures.push({ id: msg.id, kind: msg.kind, minLength: msg.minLength ?? 0 });
            break;
        default:
            throw new Error(`E2EE worker: unknown message ${msg.type}`);
        }
    } catch (e) {
        if (msg.id !== undefined) reply(msg.id, null, e);
    }
};
