#!/bin/sh
# usage: run-fuzzer.sh FUZZER SEED_CORPUS WORK_DIR [libFuzzer options...]
# Runs FUZZER over every seed, then fuzzes with the options given (bound them with
# -max_total_time). New inputs go to WORK_DIR/corpus, never into the seed corpus;
# a crashing, leaking or hanging input is kept in WORK_DIR/artifacts (emptied first).
# Exits 1 on any finding.
set -eu
fuzzer=$1
seeds=$2
work=$3
shift 3
rm -rf "$work/corpus" "$work/artifacts"
mkdir -p "$work/corpus" "$work/artifacts"
status=0
# libFuzzer's default error exit code, 77, would read as "skipped" to meson
"$fuzzer" -print_final_stats=1 -error_exitcode=1 -timeout_exitcode=1 \
   -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$seeds" || status=$?
rm -rf "$work/corpus"
if [ "$status" -ne 0 ]; then
   echo "run-fuzzer.sh: $(basename "$fuzzer") failed (status $status); inputs kept in:"
   ls -l "$work/artifacts/"
   exit 1
fi
