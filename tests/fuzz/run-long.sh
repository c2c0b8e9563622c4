#!/usr/bin/env bash
# Fuzzes one target for longer than CI does, outside CI, and keeps what it learnt:
#   tests/fuzz/run-long.sh TARGET MINUTES [BUILD_DIR]
# TARGET is a name of tests/fuzz/corpus/ (jid, rtp, colibri2, ...); BUILD_DIR is a clang
# build with -Dfuzzing=true (default build-fuzz; it is set up and built when missing).
# New inputs are merged into the seed corpus only when they add coverage (libFuzzer's
# -merge=1), so the corpus grows by what matters; review and commit them. A crash, leak or
# timeout leaves its input in tests/fuzz/findings/TARGET/ and ends the run with status 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:?usage: run-long.sh TARGET MINUTES [BUILD_DIR]}
minutes=${2:?usage: run-long.sh TARGET MINUTES [BUILD_DIR]}
build=${3:-$root/build-fuzz}
corpus=$root/tests/fuzz/corpus/$target
[[ -d $corpus ]] || { echo "run-long.sh: no corpus tests/fuzz/corpus/$target" >&2; exit 2; }
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "run-long.sh: MINUTES must be a whole number" >&2; exit 2; }

if [[ ! -f $build/build.ninja ]]; then
    CC=clang meson setup "$build" "$root" -Dfuzzing=true -Db_sanitize=address,undefined \
        -Db_lundef=false >/dev/null
fi
ninja -C "$build" "tests/fuzz/fuzz-$target" >/dev/null
fuzzer=$build/tests/fuzz/fuzz-$target

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-long-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/new" "$work/artifacts"
before=$(find "$corpus" -type f | wc -l)
echo "fuzz-$target: $minutes min from $before seed inputs" >&2
status=0
"$fuzzer" -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/new" "$corpus" \
    >"$work/log" 2>&1 || status=$?
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)|Done [0-9]+ runs' \
    "$work/log" >&2 || true

if compgen -G "$work/artifacts/*" >/dev/null; then
    findings=$root/tests/fuzz/findings/$target
    mkdir -p "$findings"
    cp "$work"/artifacts/* "$findings/"
    tail -60 "$work/log" >&2
    echo "fuzz-$target: FINDING, inputs kept in tests/fuzz/findings/$target/" >&2
    exit 1
fi
if ((status != 0)); then
    tail -40 "$work/log" >&2
    echo "fuzz-$target: the fuzzer failed (status $status)" >&2
    exit 1
fi
# Keep only the new inputs that add coverage to the seed corpus.
"$fuzzer" -merge=1 "$corpus" "$work/new" >"$work/merge.log" 2>&1
after=$(find "$corpus" -type f | wc -l)
echo "fuzz-$target: no finding; corpus $before -> $after inputs" >&2
