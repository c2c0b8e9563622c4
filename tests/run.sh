#!/usr/bin/env bash
# Installs what the tests need, builds (normal and AddressSanitizer + UBSan builds), runs
# every suite, and ends with the line "N passed, N failed" counting test cases.
# Services the tests need (Prosody, PostgreSQL) are started by the tests themselves on
# free ports in private folders, and stopped afterwards.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

./deploy/install-deps.sh --tests || { echo "0 passed, 1 failed"; exit 1; }

# Every test's private folders live under one root that is removed, with anything still
# running from it, whatever happens.
export CONCLAVE_TEST_TMP
CONCLAVE_TEST_TMP=$(mktemp -d /tmp/conclave-tests.XXXXXX)
chmod 755 "$CONCLAVE_TEST_TMP"
cleanup() {
    pkill -KILL -f -- "$CONCLAVE_TEST_TMP" 2>/dev/null || true
    rm -rf -- "$CONCLAVE_TEST_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() { # DIR [meson options...] [-- ninja targets...] (no targets: everything)
    local dir=$1 options=() targets=()
    shift
    while (($#)) && [[ $1 != -- ]]; do options+=("$1"); shift; done
    (($#)) && shift && targets=("$@")
    set -- -Dwerror=true "${options[@]}" # warnings are errors here, whatever the default
    if [[ -f $dir/build.ninja ]]; then
        meson setup --reconfigure "$dir" "$@" >"$CONCLAVE_TEST_TMP/setup-${dir}.log" 2>&1
    else
        meson setup "$dir" "$@" >"$CONCLAVE_TEST_TMP/setup-${dir}.log" 2>&1
    fi || { cat "$CONCLAVE_TEST_TMP/setup-${dir}.log"; return 1; }
    ninja -C "$dir" "${targets[@]}"
}

logs=()
run_suites() { # DIR LABEL SUITES... (a suite written !NAME is left out)
    local dir=$1 label=$2
    shift 2
    local args=()
    for s in "$@"; do
        if [[ $s == !* ]]; then args+=(--no-suite "${s#!}"); else args+=(--suite "$s"); fi
    done
    rm -f "$dir/meson-logs/testlog.json"
    meson test -C "$dir" --no-rebuild --print-errorlogs "${args[@]}"
    logs+=("$label=$dir/meson-logs/testlog.json")
}

status=0
if build build; then
    run_suites build normal unit fuzz integration deploy style || status=1
else
    logs+=("normal=build/missing-because-build-failed")
fi
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false; then
    run_suites build-asan sanitizers unit fuzz integration '!once' || status=1
else
    logs+=("sanitizers=build-asan/missing-because-build-failed")
fi
# ThreadSanitizer: the code that runs on several threads (the bridge's worker pool, recorder,
# metrics): its unit tests and the media test's cases that drive two workers. Only what
# those need is built. Debian's GLib is not built with TSan: tests/data/tsan.supp and
# common/tsan.h say how that is handled.
tsan_cases=BridgeMedia.test_three_peers_receive_everything_intact_and_in_order
tsan_cases+=,BridgeMedia.test_nack_is_answered_and_pli_reaches_the_sender
tsan_cases+=,BridgeMedia.test_silent_and_vanished_endpoints_expire
tsan_cases+=,BridgeMedia.test_zz_sigterm_drains_then_exits_cleanly
tsan_targets=(bridge/conclave-bridge tests/peer/conclave-test-peer)
for t in worker poller recorder metrics rtp rtcp dtls-srtp speaker channel-message; do
    tsan_targets+=("tests/unit/test-$t")
done
if build build-tsan -Db_sanitize=thread -Db_lundef=false -- "${tsan_targets[@]}"; then
    CONCLAVE_TEST_ONLY=$tsan_cases run_suites build-tsan threads tsan || status=1
else
    logs+=("threads=build-tsan/missing-because-build-failed")
fi
# libFuzzer needs clang: a third build runs each fuzz target for a bounded time.
if CC=clang build build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false; then
    run_suites build-fuzz fuzzing fuzzing || status=1
else
    logs+=("fuzzing=build-fuzz/missing-because-build-failed")
fi

/usr/bin/python3 tests/summary.py "${logs[@]}" || status=1
exit $status
