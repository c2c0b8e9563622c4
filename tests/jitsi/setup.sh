#!/usr/bin/env bash
# Prepares the client side of the browser test (tests/integration/test_jitsi_client.py):
#   1. the npm packages of package-lock.json (playwright-core, jquery), with `npm ci`;
#   2. lib-jitsi-meet's browser bundle. The only usable build in the npm registry is
#      @lyno/lib-jitsi-meet 2.6726.2 (the upstream bundle of December 2021, unified plan,
#      republished). Its package.json names dependencies hosted outside the registry, so it
#      cannot be installed; `npm pack` fetches its tarball, whose sha512 must equal the one
#      pinned below, and lib-jitsi-meet.min.js (with its source map and licence) is taken
#      out of it into .cache/.
# Idempotent: when both are in place and match, it touches nothing and needs no network.
set -euo pipefail

LJM_PACKAGE=@lyno/lib-jitsi-meet
LJM_VERSION=2.6726.2
# `npm view @lyno/lib-jitsi-meet@2.6726.2 dist.integrity`
LJM_INTEGRITY='sha512-cTrKBgy4ZHD6vyFTOAOx5ylyzjWs3ft6MLhmchu9zRq7uLr8omD4lE2fmSfoyoSqMjFc/3sU9XLYXiJ21hqQuw=='

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
for tool in node npm; do
    command -v "$tool" >/dev/null || {
        echo "jitsi setup: '$tool' not found (deploy/install-deps.sh --tests installs it)" >&2
        exit 1
    }
done

# sha512 of a file in npm's integrity notation.
integrity_of() {
    node -e '
        const data = require("fs").readFileSync(process.argv[1]);
        process.stdout.write("sha512-" + require("crypto").createHash("sha512")
            .update(data).digest("base64"));' "$1"
}

# 1. npm packages: `npm ci` again only when the lock file changed since the last one.
lock_hash=$(integrity_of package-lock.json)
stamp=node_modules/.conclave-lock
if [[ ! -f $stamp || "$(cat "$stamp")" != "$lock_hash" ]]; then
    echo "jitsi setup: npm ci" >&2
    npm ci --ignore-scripts --no-audit --no-fund >&2
    printf '%s' "$lock_hash" > "$stamp"
fi

# 2. lib-jitsi-meet, checked against the pinned integrity.
cache=$here/.cache
bundle=$cache/lib-jitsi-meet.min.js
ljm_stamp=$cache/lib-jitsi-meet.integrity
if [[ -f $bundle && -f $ljm_stamp && "$(cat "$ljm_stamp")" == "$LJM_INTEGRITY" ]]; then
    exit 0
fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/pack.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball=$cache/lyno-lib-jitsi-meet-$LJM_VERSION.tgz
if [[ ! -f $tarball || "$(integrity_of "$tarball")" != "$LJM_INTEGRITY" ]]; then
    echo "jitsi setup: npm pack $LJM_PACKAGE@$LJM_VERSION" >&2
    (cd "$work" && npm pack --silent "$LJM_PACKAGE@$LJM_VERSION" >/dev/null)
    got=$(integrity_of "$work/lyno-lib-jitsi-meet-$LJM_VERSION.tgz")
    if [[ "$got" != "$LJM_INTEGRITY" ]]; then
        echo "jitsi setup: $LJM_PACKAGE@$LJM_VERSION has integrity $got," \
            "expected $LJM_INTEGRITY: refusing it" >&2
        exit 1
    fi
    mv "$work/lyno-lib-jitsi-meet-$LJM_VERSION.tgz" "$tarball"
fi
tar -xzf "$tarball" -C "$work" package/lib-jitsi-meet.min.js package/lib-jitsi-meet.min.map \
    package/LICENSE
for f in lib-jitsi-meet.min.js lib-jitsi-meet.min.map; do
    mv "$work/package/$f" "$cache/$f"
done
mv "$work/package/LICENSE" "$cache/lib-jitsi-meet.LICENSE"
printf '%s' "$LJM_INTEGRITY" > "$ljm_stamp"
echo "jitsi setup: lib-jitsi-meet $LJM_VERSION ready in $cache" >&2
