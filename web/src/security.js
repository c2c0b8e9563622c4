// The security indicator (#security), always visible: how media is protected, whether the
// meeting has a password, whether it is being recorded, and frames that failed decryption.
export function renderSecurity(el, { endToEnd, password, recording, failures, failing = [] }) {
    el.dataset.media = endToEnd ? 'end-to-end' : 'hop-by-hop';
    el.dataset.password = password ? 'on' : 'off';
    el.dataset.recording = recording ? 'on' : 'off';
    el.dataset.e2eeFailures = String(failures || 0);
    const parts = [endToEnd
        ? 'End-to-end encrypted: only the participants can see and hear the media'
        : 'Encrypted to the server (the media server can see and hear the media)'];
    parts.push(password ? 'Password on' : 'No password');
    if (recording) parts.push('This meeting is being recorded');
    if (failing.length > 0) {
        parts.push(`Media from ${failing.join(', ')} cannot be decrypted (a different passphrase?) and is not shown`);
    }
    if (failures > 0) {
        parts.push(`${failures} ${failures === 1 ? 'frame' : 'frames'} could not be decrypted and ${failures === 1 ? 'was' : 'were'} not shown`);
    }
    el.textContent = parts.join(' · ');
    el.title = el.textContent;
}

export function renderConnectionMode(el, mode) {
    el.dataset.mode = mode;
    el.textContent = mode === 'p2p' ? 'Direct connection (peer to peer)' : 'Via the media server';
}
