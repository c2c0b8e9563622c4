// Small pieces shared by the bridge and peer-to-peer sessions.

/** Random lower-case hex of `bytes` bytes (names sources and peer-to-peer sessions). */
export function randomTag(bytes = 6) {
    return Array.from(crypto.getRandomValues(new Uint8Array(bytes)),
        (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The nick in a source's owner (`room@service/nick`), or null. */
export function sourceOwnerNick(owner) {
    if (!owner || !owner.includes('/')) return null;
    return owner.slice(owner.indexOf('/') + 1);
}

/**
 * The candidate lines of the local description once ICE gathering completes, or after
 * `timeoutMs` (later ones are trickled).
 */
export async function gatherCandidates(pc, timeoutMs) {
    if (pc.iceGatheringState !== 'complete') {
        await new Promise((resolve) => {
            const timer = setTimeout(done, timeoutMs);
            function done() {
                clearTimeout(timer);
                pc.removeEventListener('icegatheringstatechange', check);
                resolve();
            }
            function check() { if (pc.iceGatheringState === 'complete') done(); }
            pc.addEventListener('icegatheringstatechange', check);
        });
    }
    const sdp = pc.localDescription?.sdp || '';
    const lines = [];
    for (const line of sdp.split(/\r?\n/)) {
        if (line.startsWith('a=candidate:') && !lines.includes(line.slice(2))) lines.push(line.slice(2));
    }
    return lines;
}

/**
 * A silent or blank track that only stands in while a sender is set up: Chromium applies
 * an encoded transform (end-to-end encryption) only when it is on the sender before its
 * transceiver is negotiated, and a transceiver made for a remote offer must come from
 * addTrack for the offer's m-line to take it.
 */
export function placeholderTrack(kind) {
    if (kind === 'audio') {
        const ctx = new AudioContext();
        const track = ctx.createMediaStreamDestination().stream.getAudioTracks()[0];
        track.addEventListener('ended', () => ctx.close());
        return track;
    }
    const canvas = document.createElement('canvas');
    canvas.width = 16;
    canvas.height = 16;
    return canvas.captureStream(0).getVideoTracks()[0];
}

/**
 * Senders for microphone, camera and screen, made with addTrack before the first remote
 * offer, each with its transform on at once. Returns [{ kind, transceiver }].
 */
export function addSendTransceivers(pc, kinds, e2ee, stream, receiverNick) {
    return kinds.map((kind) => {
        const media = kind === 'audio' ? 'audio' : 'video';
        const placeholder = placeholderTrack(media);
        const sender = kind === 'screen' ? pc.addTrack(placeholder) : pc.addTrack(placeholder, stream);
        const transceiver = pc.getTransceivers().find((t) => t.sender === sender);
        e2ee?.attachSender(sender, media);
        if (receiverNick !== undefined) e2ee?.attachReceiver(transceiver.receiver, media, receiverNick);
        sender.conclavePlaceholder = placeholder;
        return { kind, transceiver };
    });
}

/** Puts `track` (or nothing) on a sender, dropping its placeholder. */
export async function setSenderTrack(sender, track) {
    if (sender.track !== track) await sender.replaceTrack(track);
    const placeholder = sender.conclavePlaceholder;
    if (placeholder) {
        sender.conclavePlaceholder = null;
        placeholder.stop();
    }
}

/** Lets the E2EE module forget the senders and receivers of a connection being closed. */
export function detachAll(pc, e2ee) {
    if (!pc || typeof e2ee?.detach !== 'function') return;
    for (const t of pc.getTransceivers()) {
        e2ee.detach(t.sender);
        e2ee.detach(t.receiver);
    }
}
