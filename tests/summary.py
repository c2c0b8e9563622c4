#!/usr/bin/python3
"""Counts test cases over meson test logs and prints the closing 'N passed, N failed' line.

Each test program reports its cases in TAP; a program that died before reporting all of
them (a crash, a sanitizer report, a timeout) counts its missing cases and itself as failed.
A skipped case is a failure here: nothing is counted as passing that did not run. A test
marked should_fail that failed as it must counts as one pass.
"""
import json
import re
import sys

OK = re.compile(r"^ok\b")
NOT_OK = re.compile(r"^not ok\b")
PLAN = re.compile(r"^1\.\.(\d+)")


def count(log_path, label):
    passed = failed = 0
    failures = []
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            entry = json.loads(line)
            name = f"{label}:{entry['name']}"
            if entry.get("result") == "EXPECTEDFAIL":
                passed += 1  # a check that must fail (should_fail) and did: its rows say why
                continue
            out = entry.get("stdout") or ""
            ok = bad = 0
            plan = None
            for row in out.splitlines():
                if NOT_OK.match(row) or (OK.match(row) and "# SKIP" in row.upper()):
                    bad += 1
                    failures.append(f"{name}: {row}")
                elif OK.match(row):
                    ok += 1
                elif PLAN.match(row):
                    plan = int(PLAN.match(row).group(1))
            if plan is not None and ok + bad < plan:
                missing = plan - ok - bad
                bad += missing
                failures.append(f"{name}: {missing} planned case(s) never reported")
            if entry.get("result") != "OK" and bad == 0:
                bad += 1
                failures.append(f"{name}: {entry.get('result')} (exit {entry.get('returncode')})")
            if ok + bad == 0:
                ok = 1  # a program without TAP that succeeded
            passed += ok
            failed += bad
    return passed, failed, failures


def main():
    total_passed = total_failed = 0
    all_failures = []
    for arg in sys.argv[1:]:
        label, path = arg.split("=", 1)
        try:
            p, f, failures = count(path, label)
        except FileNotFoundError:
            p, f, failures = 0, 1, [f"{label}: no test log (the build or the run failed)"]
        print(f"{label}: {p} passed, {f} failed")
        total_passed += p
        total_failed += f
        all_failures += failures
    for failure in all_failures:
        print(f"FAILED {failure}")
    print(f"{total_passed} passed, {total_failed} failed")
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())
