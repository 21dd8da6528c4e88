#!/usr/bin/env python3
"""Adds up test results from meson testlog.json files.

A cmocka executable counts each of its test cases (from its "[  PASSED  ] N" and
"[  FAILED  ] N" summary lines); any other test counts once. A test that failed
without a cmocka summary (a crash, a sanitizer report, a timeout) counts as one
failure on top of what it reported. A build that failed (its name given with
--failed-build) counts as one failure. A phase that is not a meson run
(--phase NAME pass|fail|skip: the end-to-end test, or a phase that could not run,
whose reason the test command prints) counts once. Prints per-run lines, the
skipped count, then the final line, exactly "N passed, N failed".
"""
import json
import re
import sys

PASSED = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
FAILED = re.compile(r"^\[  FAILED  \] (\d+) test\(s\), listed below", re.M)
SKIPPED = re.compile(r"^\[  SKIPPED \] (\d+) test\(s\)", re.M)


def count(path):
    passed = failed = skipped = 0
    failures = []
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            if not line.strip():
                continue
            entry = json.loads(line)
            result = entry.get("result")
            out = (entry.get("stdout") or "") + (entry.get("stderr") or "")
            p = sum(int(m) for m in PASSED.findall(out))
            f = sum(int(m) for m in FAILED.findall(out))
            s = sum(int(m) for m in SKIPPED.findall(out))
            if result == "SKIP":
                skipped += max(1, s)
                continue
            ok = result in ("OK", "EXPECTEDFAIL")
            if p or f:
                passed += p
                failed += f
                skipped += s
                if not ok and f == 0:
                    failed += 1
            elif ok:
                passed += 1
            else:
                failed += 1
            if not ok:
                failures.append(entry.get("name"))
    return passed, failed, skipped, failures


def main():
    total = [0, 0, 0]
    args = sys.argv[1:]
    paths = []
    while args:
        arg = args.pop(0)
        if arg == "--failed-build" and args:
            print(f"the build in {args.pop(0)} failed: counted as one failure")
            total[1] += 1
        elif arg == "--phase" and len(args) >= 2:
            name, result = args.pop(0), args.pop(0)
            index = {"pass": 0, "fail": 1, "skip": 2}.get(result, 1)
            print(f"{name}: {('passed', 'failed', 'skipped')[index]}")
            total[index] += 1
        else:
            paths.append(arg)
    if not paths and not total[1] and not total[2]:
        print("no test logs: the builds failed")
        total[1] += 1
    for path in paths:
        try:
            p, f, s, names = count(path)
        except (OSError, ValueError) as err:
            print(f"{path}: unreadable ({err}): counted as one failure")
            p, f, s, names = 0, 1, 0, [path]
        print(f"{path}: {p} passed, {f} failed, {s} skipped"
              + (f" (failing: {', '.join(names)})" if names else ""))
        total = [total[0] + p, total[1] + f, total[2] + s]
    print(f"{total[2]} skipped (not counted as passed)")
    print(f"{total[0]} passed, {total[1]} failed")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main())
