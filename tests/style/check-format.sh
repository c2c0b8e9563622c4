#!/usr/bin/env bash
# The formatting check: every C source and header must already be as clang-format
# (configured by .clang-format at the root) would write it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mapfile -t files < <(find common focus bridge tools tests bench -name '*.[ch]' 2>/dev/null | sort)
echo "1..1"
if out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1); then
    echo "ok 1 - ${#files[@]} C files formatted"
else
    echo "not ok 1 - files not formatted (run clang-format -i on them)"
    printf '%s\n' "$out" | grep -E '^[^ ]+:[0-9]+:[0-9]+: ' | cut -d: -f1 | sort -u | sed 's/^/# /'
    exit 1
fi
