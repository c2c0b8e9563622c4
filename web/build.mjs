// Builds the client into dist/: app.js (the page's code, bundled with strophe.js and
// sdp-transform), e2ee-worker.js (the end-to-end encryption worker), index.html, style.css
// and room-words.txt (the syllable list `conclavectl room-name` uses). Nothing in dist/
// refers to another origin.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');

// The E2EE module lives in src/e2ee/ (its own owner); a checkout without it still builds,
// with a stand-in that reports end-to-end encryption as unavailable.
const e2eeIndex = join(src, 'e2ee', 'index.js');
const e2eeWorker = join(src, 'e2ee', 'worker.js');
const e2eeFallback = {
    name: 'e2ee-fallback',
    setup(build) {
        build.onResolve({ filter: /^\.\/e2ee\/index\.js$/ }, (args) => {
            if (existsSync(e2eeIndex)) return undefined;
            return { path: join(src, 'e2ee-unavailable.js') };
        });
    },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const common = {
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'firefox115', 'safari16'],
    sourcemap: 'linked',
    legalComments: 'linked',
    logLevel: 'info',
};

const builds = [
    { ...common, entryPoints: [join(src, 'app.js')], outfile: join(dist, 'app.js'),
      plugins: [e2eeFallback] },
];
if (existsSync(e2eeWorker)) {
    builds.push({ ...common, entryPoints: [e2eeWorker], outfile: join(dist, 'e2ee-worker.js') });
} else {
    writeFileSync(join(dist, 'e2ee-worker.js'),
        '// End-to-end encryption is not part of this build.\n' +
        'self.onmessage = () => self.postMessage({ error: "e2ee unavailable" });\n');
}

for (const f of ['index.html', 'style.css']) copyFileSync(join(src, f), join(dist, f));
copyFileSync(join(here, '..', 'schemas', 'room-name-syllables.txt'), join(dist, 'room-words.txt'));

for (const b of builds) await esbuild.build(b);
