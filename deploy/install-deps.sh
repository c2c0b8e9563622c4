#!/usr/bin/env bash
# Installs the Debian 12 packages Conclave needs, and only those missing.
#   deploy/install-deps.sh          build + run the local stack (and build the web client)
#   deploy/install-deps.sh --tests  also what the test suites need
# Idempotent: when everything is present it touches nothing and needs no network.
set -euo pipefail

packages=(
    # build
    gcc meson ninja-build pkg-config
    libglib2.0-dev libstrophe-dev libssl-dev libsoup-3.0-dev libjson-glib-dev
    libnice-dev libsrtp2-dev libgnutls28-dev libpq-dev libargon2-dev check
    # the local stack's services
    prosody postgresql
)
# node and npm build the browser client (web/build.sh) and drive the browser tests.
# Debian's are installed only where there is no node at all: a node from elsewhere (with
# its own npm) is never shadowed, and Debian's npm would pull Debian's nodejs over it.
if ! command -v node >/dev/null; then
    packages+=(nodejs)
    command -v npm >/dev/null || packages+=(npm)
elif ! command -v npm >/dev/null; then
    echo "install-deps: $(command -v node) has no npm next to it; install npm for" \
        "that node (Debian's npm package would replace it)" >&2
fi
if [[ "${1:-}" == "--tests" ]]; then
    packages+=(
        # XMPP test clients run on Debian's python, never the first python3 on PATH
        python3 python3-slixmpp
        # the bridge channel test's WebSocket client
        python3-websockets
        # the policy store's test checks conclavectl's Argon2id password hashes independently
        python3-argon2
        # the JWT test mints its tokens with PyJWT, an implementation independent of the
        # focus's own verifier
        python3-jwt
        # the second XMPP server the MUC suite runs against
        ejabberd
        # style check, and libFuzzer (clang with its runtime)
        clang-format clang libclang-rt-14-dev
        # an independent WebRTC stack for the bridge's interop test (GStreamer webrtcbin)
        gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
        gstreamer1.0-nice python3-gi python3-gst-1.0 gir1.2-gst-plugins-bad-1.0
        gir1.2-gst-plugins-base-1.0 gir1.2-nice-0.1
        # the recording tool's test: gst-launch-1.0 reads the decrypted pcaps (pcapparse is
        # in plugins-bad), openssl makes an X25519 key pair to show interop; the server
        # configurations' test makes its self-signed TLS certificate with openssl too
        gstreamer1.0-tools openssl
        # the ejabberd cluster test runs a private epmd (erlang-base, ejabberd pulls it in)
        erlang-base
        # headless Chromium for the lib-jitsi-meet client test (tests/jitsi/)
        chromium
        # the Debian package test (tests/deploy/test_debian_package.py) builds the package
        # from debian/ with dpkg-buildpackage, checks it with lintian and installs it
        debhelper dpkg-dev fakeroot lintian
        # the TURN test: a private coturn (turnserver) checks the credentials the focus hands
        # out, and its turnutils_uclient makes a real allocation with them
        coturn
        # the deployment suites: the AWS template is YAML with CloudFormation tags, and
        # promtool (shipped in Debian's prometheus package) checks the alert rules
        python3-yaml prometheus
    )
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# Debian starts system-wide prosody/postgresql/prometheus services on install where systemd
# runs; Conclave never uses them (it runs private instances), so keep them from starting.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > $policy
    chmod 755 $policy
    created_policy=1
fi
trap '[[ $created_policy -eq 1 ]] && rm -f $policy' EXIT
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
# Where systemd runs, keep the packages' system-wide services from starting at boot too:
# they would listen on every interface, and Conclave only ever runs private instances.
if [[ -d /run/systemd/system ]]; then
    systemctl disable --now prosody.service postgresql.service ejabberd.service \
        coturn.service prometheus.service epmd.socket epmd.service >/dev/null 2>&1 || true
fi
