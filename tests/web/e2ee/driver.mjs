// Drives headless Chromium on the E2EE test page for tests/integration/test_web_e2ee.py.
//
//   node driver.mjs [--chromium PATH]
//
// Bundles the page (page.js with web/src/e2ee/index.js) and the worker (web/src/e2ee/worker.js,
// as web/build.mjs does: esbuild, ESM) in memory with esbuild from web/node_modules, serves
// them on 127.0.0.1 (a secure context, which WebCrypto needs), starts Chromium with a fresh
// profile and opens the page. Then it reads one JSON command per line on stdin and answers
// each with one JSON line on stdout carrying the same "id":
//   {"id":1,"cmd":"call","fn":"addSender","args":["alice",{"passphrase":"p"}],"timeout":20}
//        awaits window.e2eeTest[fn](...args) and answers its result
//   {"id":2,"cmd":"quit"}
// Answers: {"id":N,"ok":true,"result":...} or {"id":N,"ok":false,"error":"..."}.
// The first line is {"event":"ready","version":"...","url":"..."}. The page's console and
// errors go to stderr. The driver exits when stdin closes.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '..', '..', '..', 'web');
const require = createRequire(path.join(web, 'package.json'));
const esbuild = require('esbuild');
const { chromium } = require('playwright-core');

const CHROMIUM_ARGS = [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    // The test runs in a network namespace with loopback only.
    '--allow-loopback-in-peer-connection',
    // Received audio is decoded (and counted in getStats) only while an element plays it.
    '--autoplay-policy=no-user-gesture-required',
];

function arg(name, fallback) {
    const i = process.argv.indexOf(name);
    return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function send(msg) {
    process.stdout.write(JSON.stringify(msg) + '\n');
}

async function bundle(entry) {
    const out = await esbuild.build({ entryPoints: [entry], bundle: true, format: 'esm', write: false,
                                      target: ['chrome110'], logLevel: 'warning' });
    return out.outputFiles[0].text;
}

const files = {
    '/': ['text/html', fs.readFileSync(path.join(here, 'index.html'))],
    '/page.js': ['text/javascript', await bundle(path.join(here, 'page.js'))],
    '/e2ee-worker.js': ['text/javascript', await bundle(path.join(web, 'src', 'e2ee', 'worker.js'))],
};

const server = http.createServer((req, res) => {
    const file = files[new URL(req.url, 'http://x').pathname];
    if (req.url === '/favicon.ico') {
        res.writeHead(204).end();
        return;
    }
    if (!file) {
        res.writeHead(404).end();
        return;
    }
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-store' }).end(file[1]);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${server.address().port}/`;

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'conclave-e2ee-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
    executablePath: arg('--chromium', '/usr/bin/chromium'), headless: true, args: CHROMIUM_ARGS,
});
const page = context.pages()[0] ?? await context.newPage();
page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
page.on('pageerror', (e) => process.stderr.write(`[page error] ${e.message}\n`));
page.on('worker', (w) => w.on('console', (m) => process.stderr.write(`[worker ${m.type()}] ${m.text()}\n`)));
await page.goto(url);
await page.waitForFunction(() => window.e2eeTest?.ready === true, null, { timeout: 20000 });

let closing = false;
async function quit() {
    if (closing) return;
    closing = true;
    await context.close().catch(() => {});
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
    process.exit(0);
}

send({ event: 'ready', version: context.browser()?.version() ?? (await page.evaluate(() => navigator.userAgent)),
       url, secure: await page.evaluate(() => window.isSecureContext) });

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', async (line) => {
    let msg;
    try {
        msg = JSON.parse(line);
    } catch {
        return;
    }
    if (msg.cmd === 'quit') {
        send({ id: msg.id, ok: true, result: null });
        await quit();
        return;
    }
    try {
        if (msg.cmd !== 'call') throw new Error(`unknown command ${msg.cmd}`);
        const call = page.evaluate(([fn, args]) => window.e2eeTest[fn](...args), [msg.fn, msg.args ?? []]);
        const timeout = new Promise((_, reject) =>
            setTimeout(() => reject(new Error(`${msg.fn} did not finish in ${msg.timeout ?? 20} s`)),
                       (msg.timeout ?? 20) * 1000));
        send({ id: msg.id, ok: true, result: await Promise.race([call, timeout]) });
    } catch (e) {
        send({ id: msg.id, ok: false, error: String(e.message ?? e) });
    }
});
lines.on('close', quit);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, quit);
