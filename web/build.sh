#!/usr/bin/env bash
# Builds the browser client into web/dist/: `npm ci` first when package-lock.json changed
# since the last install (a stamp in node_modules), then web/build.mjs (esbuild).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
for tool in node npm; do
    command -v "$tool" >/dev/null || {
        echo "web build: '$tool' not found (deploy/install-deps.sh installs it)" >&2
        exit 1
    }
done

lock_hash=$(node -e '
    const data = require("fs").readFileSync("package-lock.json");
    process.stdout.write("sha512-" + require("crypto").createHash("sha512")
        .update(data).digest("base64"));')
stamp=node_modules/.conclave-lock
if [[ ! -f $stamp || "$(cat "$stamp")" != "$lock_hash" ]]; then
    echo "web build: npm ci" >&2
    npm ci --ignore-scripts --no-audit --no-fund >&2
    # esbuild's binary comes from its platform package; --ignore-scripts skips only the check.
    printf '%s' "$lock_hash" >"$stamp"
fi
exec node build.mjs "$@"
