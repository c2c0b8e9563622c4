// Drives headless Chromium pages running the test client (page/) for
// tests/integration/test_jitsi_client.py.
//
//   node driver.mjs --log-dir DIR
//
// Serves page/, jQuery and lib-jitsi-meet (prepared by setup.sh) on 127.0.0.1, starts
// Chromium with a fresh profile, then reads one JSON command per line on stdin and answers
// each with one JSON line on stdout carrying the same "id":
//   {"id":1,"cmd":"open","page":"alice","query":{"ws":"ws://...","room":"r",...}}
//        opens a page on the client with that query (see page/client.js)
//   {"id":2,"cmd":"call","page":"alice","fn":"snapshot","args":[],"timeout":10}
//        awaits window.conclave[fn](...args) in the page and answers its result
//   {"id":3,"cmd":"close","page":"alice"}   leaves the conference, closes the page
//   {"id":4,"cmd":"quit"}                   closes everything and exits
// Answers: {"id":N,"ok":true,"result":...} or {"id":N,"ok":false,"error":"..."}.
// The first line is {"event":"ready","url":"http://127.0.0.1:PORT/"}.
//
// In DIR: console.log (every page's console, page errors and failed requests, one line
// each, prefixed by the page's name), xmpp.log (every XMPP WebSocket frame both ways) and
// channel.log (bridge channel frames), so that a failing check can show what the client saw.
// The driver exits when stdin closes.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    // The test runs in a network namespace with loopback only: Chromium skips loopback
    // when it gathers ICE candidates unless told otherwise.
    '--allow-loopback-in-peer-connection'
];

function arg(name, fallback) {
    const i = process.argv.indexOf(name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const logDir = arg('--log-dir', fs.mkdtempSync('/tmp/conclave-jitsi-'));
const executablePath = arg('--chromium', '/usr/bin/chromium');
fs.mkdirSync(logDir, { recursive: true });
const logs = {};
for (const name of [ 'console', 'xmpp', 'channel' ]) {
    logs[name] = fs.createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
}
const stamp = () => new Date().toISOString().slice(11, 23);
const oneLine = text => String(text).replace(/\s*\n\s*/g, ' ');
function write(log, who, text) {
    logs[log].write(`${stamp()} [${who}] ${oneLine(text)}\n`);
}

// -- static files --------------------------------------------------------------------------

const FILES = {
    '/': [ 'page/index.html', 'text/html' ],
    '/index.html': [ 'page/index.html', 'text/html' ],
    '/client.js': [ 'page/client.js', 'text/javascript' ],
    '/jquery.min.js': [ 'node_modules/jquery/dist/jquery.min.js', 'text/javascript' ],
    '/lib-jitsi-meet.min.js': [ '.cache/lib-jitsi-meet.min.js', 'text/javascript' ],
    '/lib-jitsi-meet.min.map': [ '.cache/lib-jitsi-meet.min.map', 'application/json' ]
};

const server = http.createServer((req, res) => {
    const file = FILES[new URL(req.url, 'http://x').pathname];
    if (req.url === '/favicon.ico') {
        res.writeHead(204).end();
        return;
    }
    if (!file) {
        res.writeHead(404).end();
        return;
    }
    fs.readFile(path.join(here, file[0]), (err, data) => {
        if (err) {
            res.writeHead(500).end(String(err));
            return;
        }
        res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' }).end(data);
    });
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
const baseUrl = `http://127.0.0.1:${server.address().port}/`;

// -- the browser ---------------------------------------------------------------------------

// The microphone: a continuous 440 Hz tone (2 s, looped), about -10 dBFS. Chromium's own
// fake microphone beeps for 20 ms every half second, which averages out as silence to a
// speaker detector that smooths levels over a few hundred milliseconds.
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

const profile = fs.mkdtempSync(path.join(logDir, 'profile-'));
const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [ ...CHROMIUM_ARGS, `--use-file-for-fake-audio-capture=${tone}` ]
});
const pages = new Map();

function watch(name, page) {
    page.on('console', msg => write('console', name, `${msg.type()}: ${msg.text()}`));
    page.on('pageerror', err => write('console', name, `pageerror: ${err.stack || err}`));
    page.on('requestfailed', req => write('console', name,
        `requestfailed: ${req.url()} ${req.failure() && req.failure().errorText}`));
    page.on('crash', () => write('console', name, 'crash: the page crashed'));
    page.on('websocket', ws => {
        const log = ws.url().includes('xmpp-websocket') ? 'xmpp' : 'channel';
        write(log, name, `open ${ws.url()}`);
        ws.on('framesent', f => write(log, name, `> ${f.payload}`));
        ws.on('framereceived', f => write(log, name, `< ${f.payload}`));
        ws.on('socketerror', e => write(log, name, `error ${e}`));
        ws.on('close', () => write(log, name, `closed ${ws.url()}`));
    });
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
    const page = pages.get(name);
    if (!page) {
        throw new Error(`no page named ${name}`);
    }
    return page;
}

const commands = {
    async open({ page: name, query = {} }) {
        if (pages.has(name)) {
            throw new Error(`page ${name} is open already`);
        }
        const page = await context.newPage();
        pages.set(name, page);
        watch(name, page);
        const url = `${baseUrl}?${new URLSearchParams({ name, ...query })}`;
        write('console', name, `open ${url}`);
        await page.goto(url);
        await page.waitForFunction(() => window.conclave !== undefined, null, { timeout: 10000 });
        return { url };
    },

    async call({ page: name, fn, args = [] }) {
        return pageOf(name).evaluate(([f, a]) => window.conclave[f](...a), [ fn, args ]);
    },

    async close({ page: name }) {
        const page = pageOf(name);
        try {
            await withTimeout(page.evaluate(() => window.conclave.leave()), 5, 'leave');
        } catch (e) {
            write('console', name, `leave failed: ${e.message}`);
        }
        pages.delete(name);
        await page.close();
        return true;
    },

    async quit() {
        await shutdown(0);
    }
};

async function shutdown(code) {
    try {
        await withTimeout(context.close(), 10, 'closing the browser');
    } catch (e) {
        process.stderr.write(`driver: ${e.message}\n`);
    }
    server.close();
    for (const log of Object.values(logs)) {
        log.end();
    }
    process.exit(code);
}

function reply(obj) {
    process.stdout.write(`${JSON.stringify(obj)}\n`);
}

reply({ event: 'ready', url: baseUrl, logDir, version: context.browser()?.version() ?? null });

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
        reply({ id: req.id, ok: false, error: e.message || String(e) });
    }
});
input.on('close', () => shutdown(0));
process.on('SIGTERM', () => shutdown(143));
