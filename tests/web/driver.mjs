// Drives headless Chromium through Conclave's browser client (web/) for
// tests/integration/test_web_client.py: it clicks and types like a user, reads the page's
// state, and records everything each page asks of the network.
//
//   node driver.mjs --log-dir DIR [--chromium PATH]
//
// One Chromium; each participant is a page in its own browser context (own cookies and
// storage, like separate browsers). Reads one JSON command per line on stdin and answers each
// with one JSON line on stdout carrying the same "id":
//   {"id":1,"cmd":"open","page":"alice","url":"http://127.0.0.1:5280/"}
//   {"id":2,"cmd":"click","page":"alice","selector":"#start"}
//   {"id":3,"cmd":"fill","page":"alice","selector":"#room-name","value":"x"}
//   {"id":4,"cmd":"check","page":"alice","selector":"#e2ee-enable","checked":true}
//   {"id":5,"cmd":"wait","page":"alice","selector":"#tiles .tile","state":"visible"}
//   {"id":6,"cmd":"state","page":"alice"}       what the page shows (see pageState below;
//                                               "text":true adds the visible text)
//   {"id":7,"cmd":"stats","page":"alice"}       await window.conclave.stats()
//   {"id":8,"cmd":"ice","page":"alice"}         every RTCPeerConnection the page made: its
//                                               configuration's ICE servers, its candidates
//                                               and its selected candidate pair
//   {"id":9,"cmd":"screenshot","page":"alice","path":"/x/alice.png"}
//   {"id":9,"cmd":"eval","page":"alice","expression":"document.title"}  (diagnostics)
//   {"id":10,"cmd":"requests"}                  every request of every page, closed ones too
//   {"id":11,"cmd":"close","page":"alice"}      closes the page (a tab closed)
//   {"id":12,"cmd":"quit"}
// Answers: {"id":N,"ok":true,"result":...} or {"id":N,"ok":false,"error":"..."}.
// The first line is {"event":"ready","version":"..."}.
//
// In DIR: console.log (console, page errors, failed requests of every page, one line each
// prefixed by the page's name), xmpp.log (every WebSocket frame both ways) and requests.log.
// The driver exits when stdin closes.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// playwright-core is one of the client's development packages (web/package-lock.json).
const { chromium } = await import(
    path.join(here, '..', '..', 'web', 'node_modules', 'playwright-core', 'index.mjs'));

const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    // The test runs in a network namespace with loopback only: Chromium skips loopback
    // when it gathers ICE candidates unless told otherwise.
    '--allow-loopback-in-peer-connection'
];
const VIEWPORT = { width: 1280, height: 800 };

function arg(name, fallback) {
    const i = process.argv.indexOf(name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

if (!arg('--log-dir', null)) {
    process.stderr.write('usage: node driver.mjs --log-dir DIR [--chromium PATH]\n');
    process.exit(2);
}
const logDir = path.resolve(arg('--log-dir'));
const executablePath = arg('--chromium', '/usr/bin/chromium');
fs.mkdirSync(logDir, { recursive: true });
const logs = {};
for (const name of [ 'console', 'xmpp', 'requests' ]) {
    logs[name] = fs.createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
}
const stamp = () => new Date().toISOString().slice(11, 23);
const oneLine = text => String(text).replace(/\s*\n\s*/g, ' ');
function write(log, who, text) {
    logs[log].write(`${stamp()} [${who}] ${oneLine(text)}\n`);
}

// The microphone: a continuous 440 Hz tone (2 s, looped), about -10 dBFS, so that audio
// levels and the speaking indicator have something to show (Chromium's own fake microphone
// beeps for 20 ms every half second).
function toneWav(seconds = 2, rate = 48000) {
    const samples = seconds * rate;
    const wav = Buffer.alloc(44 + 2 * samples);
    wav.write('RIFF', 0);
    wav.writeUInt32LE(36 + 2 * samples, 4);
    wav.write('WAVEfmt ', 8);
    wav.writeUInt32LE(16, 16); // PCM header size
    wav.writeUInt16LE(1, 20); // PCM
    wav.writeUInt16LE(1, 22); // mono
    wav.writeUInt32LE(rate, 24);
    wav.writeUInt32LE(2 * rate, 28);
    wav.writeUInt16LE(2, 32);
    wav.writeUInt16LE(16, 34);
    wav.write('data', 36);
    wav.writeUInt32LE(2 * samples, 40);
    for (let i = 0; i < samples; i++) {
        wav.writeInt16LE(Math.round(0.3 * 32767 * Math.sin(2 * Math.PI * 440 * i / rate)),
            44 + 2 * i);
    }
    return wav;
}
const tone = path.join(logDir, 'tone.wav');
fs.writeFileSync(tone, toneWav());

// The camera: 320x180 at 15 frames a second (a Y4M file Chromium loops), so that several
// participants fit on two cores whatever resolution the client asks for (a file is never
// scaled up). A soft disc drifts over a slate background: frames differ, as a face would.
function cameraY4m(width = 320, height = 180, fps = 15, seconds = 2) {
    const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
    const frameHeader = Buffer.from('FRAME\n');
    const ySize = width * height;
    const cSize = (width / 2) * (height / 2);
    const frames = [];
    for (let f = 0; f < fps * seconds; f++) {
        const frame = Buffer.alloc(ySize + 2 * cSize);
        const phase = 2 * Math.PI * f / (fps * seconds);
        const cx = width / 2 + width / 4 * Math.cos(phase);
        const cy = height / 2 + height / 6 * Math.sin(2 * phase);
        const r = height / 4;
        for (let y = 0; y < height; y++) {
            for (let x = 0; x < width; x++) {
                const d = Math.hypot(x - cx, y - cy) / r;
                const inside = Math.max(0, Math.min(1, 1.5 - d)); // soft edge
                frame[y * width + x] = Math.round(60 + 20 * y / height + inside * 130);
            }
        }
        for (let y = 0; y < height / 2; y++) {
            for (let x = 0; x < width / 2; x++) {
                const d = Math.hypot(2 * x - cx, 2 * y - cy) / r;
                const inside = Math.max(0, Math.min(1, 1.5 - d));
                frame[ySize + y * width / 2 + x] = Math.round(140 - inside * 60); // U
                frame[ySize + cSize + y * width / 2 + x] = Math.round(118 + inside * 40); // V
            }
        }
        frames.push(frameHeader, frame);
    }
    return Buffer.concat([ header, ...frames ]);
}
// Chromium names the camera after the file's path as given: run from the log folder and
// give it a bare name, so that the device list shows "camera.y4m", not a test folder.
process.chdir(logDir);
const camera = 'camera.y4m';
fs.writeFileSync(camera, cameraY4m());

const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [ ...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${tone}`,
        `--use-file-for-fake-video-capture=${camera}` ]
});

// Keeps every RTCPeerConnection the page creates (and the configuration it was given), so
// that the test can check ICE servers and the selected candidate pairs without relying on
// the client under test to report them.
function recordPeerConnections() {
    const Original = window.RTCPeerConnection;
    if (!Original) {
        return;
    }
    const made = [];
    class Recorded extends Original {
        constructor(config, ...rest) {
            super(config, ...rest);
            made.push({ pc: this, config: config || {} });
        }
    }
    Object.defineProperty(window, '__testPeerConnections', { value: made });
    window.RTCPeerConnection = Recorded;
}

const pages = new Map(); // name -> { page, context }
const requests = []; // { page, kind, url, t }

function record(name, kind, url) {
    requests.push({ page: name, kind, url, t: Date.now() });
    write('requests', name, `${kind} ${url}`);
}

function watch(name, page, context) {
    context.on('request', req => record(name, req.resourceType(), req.url()));
    page.on('websocket', ws => {
        record(name, 'websocket', ws.url());
        write('xmpp', name, `open ${ws.url()}`);
        ws.on('framesent', f => write('xmpp', name, `> ${f.payload}`));
        ws.on('framereceived', f => write('xmpp', name, `< ${f.payload}`));
        ws.on('socketerror', e => write('xmpp', name, `error ${e}`));
        ws.on('close', () => write('xmpp', name, `closed ${ws.url()}`));
    });
    page.on('worker', worker => {
        record(name, 'worker', worker.url());
        write('console', name, `worker started: ${worker.url()}`);
    });
    page.on('console', msg => write('console', name, `${msg.type()}: ${msg.text()}`));
    page.on('pageerror', err => write('console', name, `pageerror: ${err.stack || err}`));
    page.on('requestfailed', req => write('console', name,
        `requestfailed: ${req.url()} ${req.failure() && req.failure().errorText}`));
    page.on('response', res => {
        if (res.status() >= 400) {
            write('console', name, `http ${res.status()}: ${res.url()}`);
        }
    });
    page.on('crash', () => write('console', name, 'crash: the page crashed'));
}

// What a page shows, read from the DOM the contract names (docs in the web client).
function pageState(withText) {
    const ids = [
        'room-name', 'random-name', 'start', 'display-name', 'login-user', 'login-password',
        'login-button', 'guest-button', 'e2ee-passphrase', 'e2ee-enable', 'room-password',
        'room-password-submit', 'message', 'tiles', 'mute-audio', 'mute-video',
        'select-camera', 'select-microphone', 'screen-share', 'leave', 'chat-input',
        'chat-send', 'chat-log', 'moderation', 'set-room-password', 'apply-room-password',
        'security', 'connection-mode'
    ];
    const visible = el => Boolean(el) && el.checkVisibility({ visibilityProperty: true }) &&
        el.getClientRects().length > 0;
    const shown = {};
    for (const id of ids) {
        shown[id] = visible(document.getElementById(id));
    }
    const attr = (id, name) => {
        const el = document.getElementById(id);
        return el ? el.getAttribute(name) : null;
    };
    const text = id => {
        const el = document.getElementById(id);
        return el ? el.textContent.trim() : null;
    };
    const tiles = [ ...document.querySelectorAll('#tiles .tile') ].map(tile => {
        const video = tile.querySelector('video');
        const name = tile.querySelector('.tile-name');
        return {
            nick: tile.getAttribute('data-nick'),
            occupantId: tile.getAttribute('data-occupant-id'),
            local: tile.getAttribute('data-local') === 'true',
            screen: tile.getAttribute('data-screen') === 'true',
            speaking: tile.getAttribute('data-speaking'),
            name: name ? name.textContent.trim() : null,
            visible: visible(tile),
            video: video ? {
                width: video.videoWidth, height: video.videoHeight,
                readyState: video.readyState, paused: video.paused,
                hasStream: Boolean(video.srcObject)
            } : null,
            buttons: [ ...tile.querySelectorAll('button') ].map(b => b.className)
        };
    });
    return {
        url: location.href,
        title: document.title,
        shown,
        message: { reason: attr('message', 'data-reason'), text: text('message') },
        security: {
            media: attr('security', 'data-media'), password: attr('security', 'data-password'),
            recording: attr('security', 'data-recording'),
            failures: attr('security', 'data-e2ee-failures'), text: text('security')
        },
        mode: attr('connection-mode', 'data-mode'),
        e2eeChecked: document.getElementById('e2ee-enable')?.checked ?? null,
        roomName: document.getElementById('room-name')?.value ?? null,
        tiles,
        chat: [ ...document.querySelectorAll('#chat-log .chat-message') ].map(m => ({
            from: m.getAttribute('data-from'), text: m.textContent.trim()
        })),
        audioElements: document.querySelectorAll('audio').length,
        hook: typeof window.conclave?.stats === 'function',
        // What a user reads (innerText leaves hidden elements out); costs a layout.
        bodyText: withText && document.body ? document.body.innerText.slice(0, 4000) : null
    };
}

async function iceState() {
    const made = window.__testPeerConnections || [];
    return Promise.all(made.map(async ({ pc, config }) => {
        const out = {
            connectionState: pc.connectionState,
            iceServers: (config.iceServers || []).flatMap(s => [].concat(s.urls || s.url || [])),
            localCandidates: [], remoteCandidates: [], selected: null
        };
        if (pc.connectionState === 'closed') {
            return out;
        }
        const report = await pc.getStats();
        const byId = new Map();
        report.forEach(r => byId.set(r.id, r));
        const where = c => (c ? `${c.address || c.ip}:${c.port}` : null);
        report.forEach(r => {
            if (r.type === 'local-candidate') {
                out.localCandidates.push(`${r.protocol} ${where(r)} ${r.candidateType}`);
            } else if (r.type === 'remote-candidate') {
                out.remoteCandidates.push(`${r.protocol} ${where(r)} ${r.candidateType}`);
            } else if (r.type === 'transport' && r.selectedCandidatePairId) {
                const pair = byId.get(r.selectedCandidatePairId);
                if (pair) {
                    out.selected = {
                        local: where(byId.get(pair.localCandidateId)),
                        remote: where(byId.get(pair.remoteCandidateId)),
                        state: pair.state
                    };
                }
            }
        });
        return out;
    }));
}

function withTimeout(promise, seconds, what) {
    let timer;
    return Promise.race([
        promise,
        new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`${what}: no answer within ${seconds} s`)),
                seconds * 1000);
        })
    ]).finally(() => clearTimeout(timer));
}

function pageOf(name) {
    const entry = pages.get(name);
    if (!entry) {
        throw new Error(`no page named ${name}`);
    }
    return entry.page;
}

const actionTimeout = req => Math.max(1000, ((req.timeout || 20) - 1) * 1000);

const commands = {
    async open(req) {
        const name = req.page;
        if (pages.has(name)) {
            throw new Error(`page ${name} is open already`);
        }
        const context = await browser.newContext({ viewport: VIEWPORT });
        await context.addInitScript(recordPeerConnections);
        const page = await context.newPage();
        pages.set(name, { page, context });
        watch(name, page, context);
        write('console', name, `open ${req.url}`);
        try {
            await page.goto(req.url, { timeout: actionTimeout(req), waitUntil: 'domcontentloaded' });
        } catch (e) {
            // A page that did not open is no page: the name may be used again.
            pages.delete(name);
            await context.close().catch(() => {});
            throw e;
        }
        return { url: page.url() };
    },

    async goto(req) {
        const page = pageOf(req.page);
        write('console', req.page, `goto ${req.url}`);
        await page.goto(req.url, { timeout: actionTimeout(req), waitUntil: 'domcontentloaded' });
        return { url: page.url() };
    },

    async click(req) {
        const page = pageOf(req.page);
        await page.click(req.selector, { timeout: actionTimeout(req) });
        return { url: page.url() };
    },

    async fill(req) {
        await pageOf(req.page).fill(req.selector, req.value, { timeout: actionTimeout(req) });
        return true;
    },

    async check(req) {
        await pageOf(req.page).setChecked(req.selector, Boolean(req.checked),
            { timeout: actionTimeout(req) });
        return true;
    },

    async wait(req) {
        await pageOf(req.page).waitForSelector(req.selector,
            { state: req.state || 'visible', timeout: actionTimeout(req) });
        return true;
    },

    async state(req) {
        return pageOf(req.page).evaluate(pageState, Boolean(req.text));
    },

    async stats(req) {
        return pageOf(req.page).evaluate(() => (typeof window.conclave?.stats === 'function'
            ? window.conclave.stats() : null));
    },

    async ice(req) {
        return pageOf(req.page).evaluate(iceState);
    },

    async eval(req) {
        return pageOf(req.page).evaluate(req.expression);
    },

    async screenshot(req) {
        await pageOf(req.page).screenshot({ path: req.path, timeout: actionTimeout(req) });
        return { path: req.path };
    },

    async requests() {
        return requests;
    },

    async close(req) {
        const entry = pages.get(req.page);
        if (!entry) {
            throw new Error(`no page named ${req.page}`);
        }
        pages.delete(req.page);
        write('console', req.page, 'closing the page');
        await entry.context.close();
        return true;
    },

    async quit() {
        await shutdown(0);
    }
};

async function shutdown(code) {
    try {
        await withTimeout(browser.close(), 10, 'closing the browser');
    } catch (e) {
        process.stderr.write(`driver: ${e.message}\n`);
    }
    for (const log of Object.values(logs)) {
        log.end();
    }
    process.exit(code);
}

function reply(obj) {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
}

reply({ event: 'ready', version: browser.version(), logDir });

const input = readline.createInterface({ input: process.stdin });
input.on('line', async line => {
    let req;
    try {
        req = JSON.parse(line);
    } catch (e) {
        reply({ ok: false, error: `bad command: ${e.message}` });
        return;
    }
    const handler = commands[req.cmd];
    if (!handler) {
        reply({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
        return;
    }
    try {
        const result = await withTimeout(handler(req), req.timeout || 20, req.cmd);
        reply({ id: req.id, ok: true, result: result === undefined ? null : result });
    } catch (e) {
        reply({ id: req.id, ok: false, error: oneLine(e.message || String(e)) });
    }
});
input.on('close', () => shutdown(0));
process.on('SIGTERM', () => shutdown(143));
