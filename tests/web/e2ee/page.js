// Test page for the E2EE module (web/src/e2ee/): senders and receivers as pairs of
// RTCPeerConnections inside this one page, connected over loopback without any server. The
// driver (driver.mjs) calls window.e2eeTest.* and returns the results to the Python test.
import { E2EE } from '../../../web/src/e2ee/index.js';
import { IvSource, openFrame, parseFrame, sealFrame } from '../../../web/src/e2ee/frame-format.js';
import { deriveEpochZero, ratchet } from '../../../web/src/e2ee/keys.js';

const ROOM = 'e2ee-test-room';
const WORKER_URL = '/e2ee-worker.js';
const senders = {}; // name -> { stream, e2ee }
const links = {}; // receiver name -> { from, pcSend, pcRecv, e2ee }
const modules = {}; // name -> E2EE (senders' and receivers')

async function makeModule(name, passphrase) {
    const e2ee = new E2EE({ workerUrl: WORKER_URL });
    if (passphrase) {
        await e2ee.setPassphrase(passphrase, ROOM);
        e2ee.enable(true);
    }
    modules[name] = e2ee;
    return e2ee;
}

// A sender: the fake camera (180p) and microphone; with a passphrase, E2EE on.
async function addSender(name, { passphrase = null } = {}) {
    const stream = await navigator.mediaDevices.getUserMedia({
        audio: true, video: { width: 320, height: 180, frameRate: 15 } });
    senders[name] = { stream, e2ee: await makeModule(name, passphrase) };
    return { api: senders[name].e2ee.details().api, config: E2EE.peerConnectionConfig() };
}

function loopbackOnly(candidate) {
    return candidate.candidate === '' || / 127\.0\.0\.1 /.test(candidate.candidate);
}

// Connects sender `from` to a new receiver `name`. module: false = no E2EE module at all
// (sees what the network carries), true = a module, enabled when `passphrase` is given.
// videoCodec: the only video codec offered. lateAttach: the sender's tracks are attached to
// its module only after negotiation (a client mistake the module must catch).
async function addReceiver(name, from, { module = true, passphrase = null, videoCodec = null,
                                         lateAttach = false } = {}) {
    const config = { bundlePolicy: 'max-bundle', ...E2EE.peerConnectionConfig() };
    const pcSend = new RTCPeerConnection(config);
    const pcRecv = new RTCPeerConnection(config);
    const e2ee = module ? await makeModule(name, passphrase) : null;
    const sender = senders[from];
    const attach = () => pcSend.getSenders().forEach((s) => sender.e2ee.attachSender(s, s.track.kind));
    for (const track of sender.stream.getTracks()) pcSend.addTrack(track, sender.stream);
    if (!lateAttach) attach();
    if (videoCodec) {
        // Offers only this video codec (with its retransmission format).
        const codecs = RTCRtpSender.getCapabilities('video').codecs.filter(
            (c) => c.mimeType.toLowerCase() === videoCodec.toLowerCase() || c.mimeType === 'video/rtx');
        for (const t of pcSend.getTransceivers()) if (t.sender.track?.kind === 'video') t.setCodecPreferences(codecs);
    }
    pcRecv.ontrack = (event) => {
        if (e2ee) e2ee.attachReceiver(event.receiver, event.track.kind, from);
        // Chromium decodes and counts received audio only while it is played out.
        const element = document.createElement(event.track.kind);
        element.autoplay = true;
        element.srcObject = new MediaStream([event.track]);
        element.dataset.receiver = name;
        document.body.append(element);
    };
    pcSend.onicecandidate = (e) => e.candidate && loopbackOnly(e.candidate) && pcRecv.addIceCandidate(e.candidate);
    pcRecv.onicecandidate = (e) => e.candidate && loopbackOnly(e.candidate) && pcSend.addIceCandidate(e.candidate);
    await pcSend.setLocalDescription();
    await pcRecv.setRemoteDescription(pcSend.localDescription);
    await pcRecv.setLocalDescription();
    await pcSend.setRemoteDescription(pcRecv.localDescription);
    if (lateAttach) attach();
    links[name] = { from, pcSend, pcRecv, e2ee };
    return true;
}

// The local address of the selected candidate pair in a getStats() report.
function localAddress(report) {
    for (const s of report.values()) {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
        return report.get(report.get(s.selectedCandidatePairId)?.localCandidateId)?.address ?? null;
    }
    return null;
}

async function receiverStats(link, withPaths) {
    const [report, sendReport] = await Promise.all([
        link.pcRecv.getStats(), withPaths ? link.pcSend.getStats() : null]);
    const out = { video: null, audio: null,
                  paths: withPaths ? [localAddress(sendReport), localAddress(report)] : null };
    for (const s of report.values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
            out.video = { packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived,
                          framesReceived: s.framesReceived ?? 0, framesDecoded: s.framesDecoded ?? 0,
                          keyFramesDecoded: s.keyFramesDecoded ?? 0, codec: report.get(s.codecId)?.mimeType ?? null };
        } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
            out.audio = { packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived,
                          totalSamplesReceived: s.totalSamplesReceived ?? 0, concealedSamples: s.concealedSamples ?? 0,
                          totalAudioEnergy: s.totalAudioEnergy ?? 0, codec: report.get(s.codecId)?.mimeType ?? null };
        }
    }
    return out;
}

// Receivers' inbound media (and with `withPaths`, the local addresses of both ends' selected
// ICE paths) and every module's counters.
async function stats(withPaths = false) {
    const result = { receivers: {}, modules: {} };
    const names = Object.keys(links);
    const all = await Promise.all(names.map((name) => receiverStats(links[name], withPaths)));
    names.forEach((name, i) => { result.receivers[name] = { from: links[name].from, ...all[i] }; });
    for (const [name, e2ee] of Object.entries(modules)) result.modules[name] = e2ee.details();
    return result;
}

async function rotate(names) {
    const keyIds = {};
    for (const name of names) keyIds[name] = await modules[name].rotate();
    return keyIds;
}

// Turns E2EE on (with a passphrase) or off for one sender's or receiver's module mid-call.
async function enable(name, passphrase) {
    if (passphrase) await modules[name].setPassphrase(passphrase, ROOM);
    modules[name].enable(Boolean(passphrase));
    return modules[name].details();
}

function capture(name, kind, minLength) {
    return modules[name].captureSentFrame(kind, minLength);
}

// Opens `bytes` as a receiver would: 'ok' with the plaintext, or the failure reason.
async function tryOpen(bytes, key) {
    try {
        return { outcome: 'ok', plain: new Uint8Array(await openFrame(parseFrame(bytes.slice().buffer), key)) };
    } catch (e) {
        return { outcome: e.reason ?? `unexpected: ${e}` };
    }
}

// The frame format and key schedule on their own: what each kind of damage to a frame gives.
async function formatChecks() {
    const results = {};
    const started = performance.now();
    const epoch = await deriveEpochZero('a passphrase', 'Some-Room');
    const deriveMs = Math.round(performance.now() - started);
    const sameRoom = await deriveEpochZero('a passphrase', 'some-room');
    const next = await ratchet(epoch);
    const plain = crypto.getRandomValues(new Uint8Array(200));
    const iv = new IvSource();
    const sealed = new Uint8Array(await sealFrame(plain.buffer, 10, epoch.aesKey, epoch.id, iv.next(0x1234)));
    const opened = await tryOpen(sealed, sameRoom.aesKey);
    results.intact = opened.outcome === 'ok' && opened.plain.every((b, i) => b === plain[i])
        && opened.plain.length === plain.length ? 'ok' : `wrong plaintext (${opened.outcome})`;
    results.nextEpochKey = (await tryOpen(sealed, next.aesKey)).outcome;
    const otherRoom = await deriveEpochZero('a passphrase', 'another-room');
    results.otherRoomKey = (await tryOpen(sealed, otherRoom.aesKey)).outcome;
    const end = sealed.length;
    const flips = { clearHeader: 0, ciphertext: 20, tag: end - 16, iv: end - 15 + 3,
                    clearLength: end - 3, keyId: end - 2, version: end - 1 };
    for (const [name, at] of Object.entries(flips)) {
        const damaged = sealed.slice();
        damaged[at] ^= 0x01;
        results[`flipped ${name}`] = (await tryOpen(damaged, epoch.aesKey)).outcome;
    }
    const short = new Set();
    for (let n = 0; n < 31; n++) short.add((await tryOpen(sealed.slice(0, n), epoch.aesKey)).outcome);
    results.truncatedBelow31 = [...short].join(',');
    results.truncatedTail = (await tryOpen(sealed.slice(0, end - 1), epoch.aesKey)).outcome;
    const ivs = new Set();
    for (let i = 0; i < 1000; i++) ivs.add(iv.next(0x1234).join(','));
    results.distinctIvs = ivs.size;
    return { results, deriveMs };
}

window.e2eeTest = { formatChecks, enable, addSender, addReceiver, stats, rotate, capture,
                    ready: true, secure: window.isSecureContext };
