// The page: `/` is the start page, `/<room>` a meeting. Reads /config.json (same origin)
// and drives a Meeting from the controls; window.conclave.stats() is the test hook.
import { E2EE } from './e2ee/index.js';
import { LocalMedia } from './local-media.js';
import { Meeting } from './meeting.js';
import { actionRefusal, joinRefusal, refusalText, removalReason } from './refusals.js';
import { parseSyllables, randomRoomName } from './room-name.js';
import { renderConnectionMode, renderSecurity } from './security.js';
import { Tiles } from './tiles.js';

// A participant whose frames failed decryption this recently is named in the indicator.
const FAILING_WINDOW_MS = 5000;

const $ = (id) => document.getElementById(id);
const ROOM_NAME = /^[a-z0-9][a-z0-9._-]{0,199}$/;
const log = (...args) => console.log('[conclave]', ...args);

function showMessage(text, reason) {
    const el = $('message');
    el.textContent = text;
    if (reason) el.dataset.reason = reason; else delete el.dataset.reason;
    el.hidden = !text;
}

function show(section) {
    for (const id of ['start-page', 'join-page', 'room-page']) $(id).hidden = id !== section;
    $('e2ee-panel').hidden = section === 'start-page';
    document.body.classList.toggle('in-room', section === 'room-page');
    if (section !== 'join-page') $('password-form').hidden = true;
}

async function loadConfig() {
    const res = await fetch('/config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
    const cfg = await res.json();
    for (const k of ['websocket', 'domain', 'muc_domain']) {
        if (typeof cfg[k] !== 'string' || !cfg[k]) throw new Error(`config.json: "${k}" is missing`);
    }
    // A path is resolved against the page's own origin, http(s) becoming ws(s).
    const url = new URL(cfg.websocket, window.location.href);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
    cfg.websocketUrl = url.href;
    return cfg;
}

// --- start page ------------------------------------------------------------------------

function startPage() {
    show('start-page');
    let syllables = null;
    $('random-name').addEventListener('click', async () => {
        try {
            if (!syllables) {
                const res = await fetch('/room-words.txt');
                if (!res.ok) throw new Error(`HTTP ${res.status}`);
                syllables = parseSyllables(await res.text());
            }
            $('room-name').value = randomRoomName(syllables);
            showMessage('');
        } catch (e) {
            showMessage(`Could not draw a random name (${e.message}).`, 'error');
        }
    });
    $('start-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        const name = $('room-name').value.trim().toLowerCase();
        if (!ROOM_NAME.test(name)) {
            showMessage('A meeting name has letters, digits, dots, dashes and underscores only.', 'error');
            return;
        }
        window.location.assign(`/${encodeURIComponent(name)}`);
    });
}

// --- meeting page ----------------------------------------------------------------------

function makeE2EE() {
    try {
        if (typeof E2EE.isSupported === 'function' && !E2EE.isSupported()) return null;
        if (E2EE.available === false) return null;
        return new E2EE({ workerUrl: '/e2ee-worker.js' });
    } catch (e) {
        log('end-to-end encryption unavailable:', e.message);
        return null;
    }
}

function meetingPage(config, roomName) {
    show('join-page');
    $('join-room').textContent = roomName;
    if (!config.guest_domain) $('guest-button').hidden = true;
    if (!navigator.mediaDevices?.getDisplayMedia) $('screen-share').hidden = true;
    document.title = `${roomName} · Conclave`;
    const e2ee = makeE2EE();
    const rtcConfig = { iceServers: [], ...(e2ee ? E2EE.peerConnectionConfig() : {}) };
    let meeting = null;
    let login = null;
    let failures = 0;
    let joined = false;
    const tiles = new Tiles($('tiles'), {
        kick: (nick) => meeting.room.kick(nick).catch((e) => showMessage(actionRefusal(e.detail), 'error')),
        grant: (nick) => meeting.room.grantModerator(nick).catch((e) => showMessage(actionRefusal(e.detail), 'error')),
        mute: (nick) => meeting.askToMute(nick).catch((e) => showMessage(actionRefusal(e.detail), 'error')),
    });

    // Who is failing decryption now (their count rose in the last few seconds), as opposed to
    // the frames lost while everyone switched encryption on, which stay in the total only.
    const lastRise = new Map(); // nick -> [count, time it last rose]
    const failingNow = (byNick) => {
        const now = Date.now();
        for (const [nick, count] of Object.entries(byNick || {})) {
            const seen = lastRise.get(nick);
            if (!seen || count > seen[0]) lastRise.set(nick, [count, now]);
        }
        return [...lastRise].filter(([, [, at]]) => now - at < FAILING_WINDOW_MS).map(([n]) => n);
    };
    const security = () => {
        const s = e2ee ? e2ee.stats() : { enabled: false, decryptFailures: 0 };
        renderSecurity($('security'), { endToEnd: !!s.enabled, password: !!meeting?.passwordOn,
            recording: !!meeting?.room?.recording, failures: s.decryptFailures || 0,
            failing: failingNow(s.failuresByNick) });
    };
    if (e2ee) e2ee.onchange = security;
    security();
    setInterval(security, FAILING_WINDOW_MS / 2); // so that a warning also goes away

    // End-to-end encryption: the passphrase and the switch work before and during the meeting.
    const applyE2EE = async () => {
        const on = $('e2ee-enable').checked;
        if (!e2ee) {
            if (on) {
                $('e2ee-enable').checked = false;
                showMessage('This browser cannot encrypt media end to end.', 'error');
            }
            return;
        }
        try {
            if (on) {
                const pass = $('e2ee-passphrase').value;
                if (!pass) {
                    $('e2ee-enable').checked = false;
                    showMessage('Enter the shared passphrase first, then switch end-to-end encryption on.', 'error');
                    return;
                }
                await e2ee.setPassphrase(pass, roomName);
            }
            e2ee.enable(on);
        } catch (e) {
            $('e2ee-enable').checked = false;
            showMessage(`End-to-end encryption could not start (${e.message}).`, 'error');
        }
        security();
    };
    $('e2ee-enable').addEventListener('change', applyE2EE);
    $('e2ee-passphrase').addEventListener('change', () => { if ($('e2ee-enable').checked) applyE2EE(); });

    const render = () => renderRoom(meeting, tiles);

    const removed = (info) => {
        const r = info.reason ? { reason: info.reason, text: refusalText(info.reason) } : removalReason(info.codes, info.destroyed);
        teardown();
        showMessage(r.text, r.reason);
    };

    const teardown = () => {
        if (!meeting) return;
        const m = meeting;
        meeting = null;
        joined = false;
        m.leave().catch(() => {});
        tiles.clear();
        $('chat-log').replaceChildren();
        show('join-page');
        renderConnectionMode($('connection-mode'), 'bridge');
        security();
    };

    const tryJoin = async (password) => {
        const display = $('display-name').value.trim();
        try {
            await meeting.join(display, display, password);
        } catch (e) {
            if (!meeting) return;
            if (password && e.detail?.condition === 'not-authorized') failures += 1;
            const r = joinRefusal(e.detail, { withPassword: !!password, failures });
            showMessage(r.text, r.reason);
            if (['password-required', 'wrong-password'].includes(r.reason)) {
                $('password-form').hidden = false;
                $('room-password').value = '';
                $('room-password').focus();
            } else if (r.reason !== 'locked-out') {
                teardown();
            }
            return;
        }
        joined = true;
        failures = 0;
        showMessage('');
        show('room-page');
        security();
        render();
        fillDevices();
        $('mute-audio').focus();
    };

    const start = async (asGuest) => {
        const display = $('display-name').value.trim();
        if (!display) {
            showMessage('Enter the name to show to the others.', 'error');
            $('display-name').focus();
            return;
        }
        if (!asGuest && !($('login-user').value.trim() && $('login-password').value)) {
            showMessage('Enter your user name and password, or join as a guest.', 'error');
            return;
        }
        if (meeting) teardown();
        login = asGuest ? null : { user: $('login-user').value.trim().toLowerCase(), password: $('login-password').value };
        meeting = new Meeting({ config, roomName, e2ee, rtcConfig, log });
        meeting.onchange = () => { if (joined) render(); };
        meeting.onremoved = removed;
        meeting.onsecurity = security;
        meeting.onmessage = (nick, display2, body) => addChat(nick, display2, body);
        meeting.onnotice = (text) => { if (joined) showMessage(text); };
        showMessage('Connecting…');
        try {
            await meeting.connect(login);
        } catch (e) {
            const r = e.reason === 'login-failed' || e.reason === 'connection-lost'
                ? { reason: e.reason, text: refusalText(e.reason) }
                : joinRefusal(e.detail, {});
            teardown();
            showMessage(r.text, r.reason);
            return;
        }
        await tryJoin(null);
    };
    $('login-button').addEventListener('click', () => start(false));
    $('guest-button').addEventListener('click', () => start(true));
    // Enter in the form: log in when a user name is typed, else join as a guest.
    $('join-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        start(!!config.guest_domain && !$('login-user').value.trim());
    });
    $('password-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        if (meeting) tryJoin($('room-password').value);
    });

    // In the meeting.
    const toggle = (button, on, onText, offText) => {
        button.setAttribute('aria-pressed', String(on));
        button.textContent = on ? onText : offText;
    };
    $('mute-audio').addEventListener('click', () => {
        const muted = $('mute-audio').getAttribute('aria-pressed') !== 'true';
        meeting.setAudioMuted(muted);
        render();
    });
    $('mute-video').addEventListener('click', () => {
        const muted = $('mute-video').getAttribute('aria-pressed') !== 'true';
        meeting.setVideoMuted(muted);
        render();
    });
    $('screen-share').addEventListener('click', async () => {
        try {
            if (meeting.local.screenTrack) meeting.local.stopScreen();
            else await meeting.local.startScreen();
        } catch (e) {
            showMessage(`Screen sharing did not start (${e.message}).`, 'error');
        }
        render();
    });
    $('select-camera').addEventListener('change', (ev) => meeting.local.useCamera(ev.target.value)
        .catch((e) => showMessage(`That camera cannot be used (${e.message}).`, 'error')));
    $('select-microphone').addEventListener('change', (ev) => meeting.local.useMicrophone(ev.target.value)
        .catch((e) => showMessage(`That microphone cannot be used (${e.message}).`, 'error')));
    $('leave').addEventListener('click', () => {
        teardown();
        showMessage('You left the meeting.');
    });
    $('chat-form').addEventListener('submit', (ev) => {
        ev.preventDefault();
        const text = $('chat-input').value.trim();
        if (!text || !meeting) return;
        meeting.room.sendChat(text);
        $('chat-input').value = '';
    });
    $('apply-room-password').addEventListener('click', async () => {
        try {
            await meeting.room.setPassword($('set-room-password').value);
            $('set-room-password').value = '';
            await meeting.refreshPassword();
            showMessage(meeting.passwordOn ? 'The meeting now has a password.' : 'The meeting has no password now.');
        } catch (e) {
            showMessage(actionRefusal(e.detail), 'error');
        }
    });

    function addChat(nick, display, body) {
        const li = document.createElement('li');
        li.className = 'chat-message';
        li.dataset.from = nick;
        const who = document.createElement('strong');
        who.textContent = `${display}: `;
        li.append(who, document.createTextNode(body));
        $('chat-log').append(li);
        li.scrollIntoView({ block: 'nearest' });
    }

    function renderRoom(m, t) {
        if (!m || !m.room) return;
        toggle($('mute-audio'), m.local.audioMuted, 'Unmute microphone', 'Mute microphone');
        toggle($('mute-video'), m.local.videoMuted, 'Start camera', 'Stop camera');
        toggle($('screen-share'), !!m.local.screenTrack, 'Stop sharing', 'Share screen');
        renderConnectionMode($('connection-mode'), m.mode);
        const self = m.room.self;
        const moderator = m.room.isModerator();
        $('moderation').hidden = !moderator;
        t.setModerator(moderator);
        // Ours.
        t.ensure(m.room.nick, { local: true, display: m.room.media.display, occupantId: self?.occupantId });
        t.setVideo(m.room.nick, m.local.videoTrack);
        if (m.local.screenTrack) {
            t.ensure(m.room.nick, { local: true, screen: true, display: m.room.media.display });
            t.setVideo(m.room.nick, m.local.screenTrack, true);
        } else {
            t.remove(m.room.nick, true);
        }
        // Theirs.
        const present = new Set([m.room.nick]);
        for (const o of m.room.occupants.values()) {
            present.add(o.nick);
            t.ensure(o.nick, { display: o.display, occupantId: o.occupantId });
            t.update(o.nick, { audioMuted: o.audioMuted, videoMuted: o.videoMuted });
            t.setVideo(o.nick, m.trackOf(o.nick, 'video'));
            t.setAudio(o.nick, m.trackOf(o.nick, 'audio'));
            const screen = m.trackOf(o.nick, 'video', true);
            if (screen) {
                t.ensure(o.nick, { screen: true, display: o.display });
                t.setVideo(o.nick, screen, true);
            } else {
                t.remove(o.nick, true);
            }
        }
        for (const nick of t.nicks()) if (!present.has(nick)) { t.remove(nick, false); t.remove(nick, true); }
    }

    // Speaking indicators from the audio levels of getStats (one call a tick: it is not cheap).
    setInterval(async () => {
        if (!meeting || !joined || document.hidden) return;
        try {
            const levels = await meeting.audioLevels();
            for (const nick of tiles.nicks()) tiles.setSpeaking(nick, (levels.get(nick) || 0) > 0.02);
        } catch { /* the connection is being replaced */ }
    }, 800);

    fillDevices();

    window.conclave = {
        // More end-to-end encryption counters, for diagnostics.
        e2eeDetails: () => (e2ee && typeof e2ee.details === 'function' ? e2ee.details() : null),
        async stats() {
            const m = meeting;
            const inbound = m && joined ? (await m.inbound()).map(({ audioLevel, ...r }) => r) : [];
            const s = e2ee ? e2ee.stats() : { enabled: false, keyId: 0, framesEncrypted: 0,
                framesDecrypted: 0, decryptFailures: 0, failuresByNick: {} };
            return {
                mode: m ? m.mode : 'bridge', joined: !!(m && joined), nick: m?.room?.nick || '',
                occupants: m?.room ? Array.from(m.room.occupants.keys()) : [],
                inbound,
                e2ee: { enabled: !!s.enabled, keyId: s.keyId ?? 0, framesEncrypted: s.framesEncrypted || 0,
                    framesDecrypted: s.framesDecrypted || 0, decryptFailures: s.decryptFailures || 0,
                    failuresByNick: { ...(s.failuresByNick || {}) } },
            };
        },
    };
}

async function fillDevices() {
    try {
        const { cameras, microphones } = await LocalMedia.devices();
        const fill = (select, devices, what) => {
            select.replaceChildren(...devices.map((d, i) => {
                const o = document.createElement('option');
                o.value = d.deviceId;
                o.textContent = d.label || `${what} ${i + 1}`;
                return o;
            }));
        };
        fill($('select-camera'), cameras, 'Camera');
        fill($('select-microphone'), microphones, 'Microphone');
    } catch (e) {
        log('devices:', e);
    }
}
navigator.mediaDevices?.addEventListener?.('devicechange', fillDevices);

async function main() {
    let config;
    try {
        config = await loadConfig();
    } catch (e) {
        showMessage(`This page is not set up right (${e.message}).`, 'error');
        return;
    }
    const path = decodeURIComponent(window.location.pathname.replace(/^\/+|\/+$/g, ''));
    if (!path) {
        startPage();
        return;
    }
    const roomName = path.toLowerCase();
    if (!ROOM_NAME.test(roomName)) {
        showMessage('That is not a meeting address: a meeting name has letters, digits, dots, dashes and underscores only.', 'error');
        startPage();
        return;
    }
    // `?p2p=off` keeps even a 1:1 meeting on the bridge (for trials and tests).
    if (new URLSearchParams(window.location.search).get('p2p') === 'off') config.p2p = false;
    meetingPage(config, roomName);
}

main();
