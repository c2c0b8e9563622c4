#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from its seed corpus (new inputs go to a
# temporary folder, never into the source tree) and reports the result as one TAP case.
# Usage: run-fuzzer.sh FUZZER CORPUS_DIR [SECONDS]
set -uo pipefail
fuzzer=$1 corpus=$2 seconds=${3:-15}
work=$(mktemp -d "${CONCLAVE_TEST_TMP:-/tmp}/fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "1..1"
if "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/" "$work" "$corpus" >"$work/log" 2>&1; then
    runs=$(grep -oE 'Done [0-9]+ runs' "$work/log" | tail -1)
    echo "ok 1 - $(basename "$fuzzer"): ${runs:-ran} in ${seconds} s, no crash"
else
    echo "not ok 1 - $(basename "$fuzzer") found a crash"
    sed 's/^/# /' "$work/log" | tail -40
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [[ -e $a ]] && echo "# input (base64): $(base64 -w0 "$a")"
    done
    exit 1
fi
