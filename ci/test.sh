#!/bin/sh
# The test command: installs dependencies, builds virtkfd plain, with UBSan and with
# AddressSanitizer + UndefinedBehaviorSanitizer, runs every test plain and under
# ASan+UBSan (the fixed-VA tests, which ASan cannot host, under valgrind and UBSan
# instead), runs the end-to-end test through QEMU (ci/e2e.sh), runs the libFuzzer
# harnesses (clang) for a bounded time under ASan+UBSan and the capset-8 one again
# under UBSan alone, and ends with one line
# "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${VIRTKFD_CI_OUT:-$top/ci-out}
cd "$top"

sh ci/setup.sh || exit 1

# Sanitizer reports must fail the test that triggers them.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export VIRTKFD_LOG_LEVEL="${VIRTKFD_LOG_LEVEL:-error}"

status=0
logs=""
failed_builds=""
phases=""
build() {
   if ! sh ci/build.sh "$@"; then
      echo "ci/test.sh: the build in $1 failed"
      failed_builds="$failed_builds --failed-build $1"
      status=1
      return 1
   fi
}
run_tests() {
   dir=$1
   name=$2
   shift 2
   # meson test prints every test; the total comes from ci/count-results.py
   meson test -C "$dir" --print-errorlogs --num-processes 2 --logbase "$name" "$@" ||
      status=1
   # with --wrap, meson appends the wrapper's name to the log base
   for log in "$dir/meson-logs/$name".json "$dir/meson-logs/$name"-*.json; do
      [ -f "$log" ] && logs="$logs $log"
   done
}

# 1. everything, plain
if build "$out/plain"; then
   run_tests "$out/plain" plain
   # 2. the fixed-VA tests cannot run under ASan (libhsakmt's reserved aperture lies
   #    below 2^40, in ASan's shadow): they run under valgrind and UBSan instead.
   #    The ROCm context and API suites run under valgrind too: its libhsakmt
   #    suppression only covers blocks libhsakmt allocated itself, where
   #    LeakSanitizer's covers anything allocated under a libhsakmt call.
   run_tests "$out/plain" valgrind --suite fixed-va --suite hsakmt --suite api \
      --suite core --wrap \
      "valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
       --suppressions=$top/tests/valgrind-libhsakmt.supp --quiet"
fi
if build "$out/ubsan" -Db_sanitize=undefined -Db_lundef=false -Dbench=false; then
   run_tests "$out/ubsan" ubsan --suite fixed-va
fi
# 3. everything else under AddressSanitizer + UndefinedBehaviorSanitizer; the format
#    check ran once already
if build "$out/sanitize" -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false; then
   run_tests "$out/sanitize" sanitize --no-suite style
fi

# the end-to-end test (ci/e2e.sh): QEMU, built from Debian trixie's sources and cached
# in ci-out/e2e, boots Debian 12's kernel, whose guest drives virtkfd; skipped (77)
# where Debian's archive cannot serve a package. It builds QEMU with gcc, so before CC
# changes below.
sh ci/e2e.sh
case $? in
0) phases="$phases --phase end-to-end pass" ;;
77) phases="$phases --phase end-to-end skip" ;;
*)
   phases="$phases --phase end-to-end fail"
   status=1
   ;;
esac

# 4. the libFuzzer harnesses, built with clang (meson reads CC when it configures;
#    this is the last build), over their seed corpus and then fuzzing for a bounded
#    time (tests/fuzz)
export CC=clang
if build "$out/fuzz" -Dfuzzer=true -Db_sanitize=address,undefined -Db_lundef=false \
   -Dbench=false; then
   run_tests "$out/fuzz" fuzz --suite fuzz
fi
# 5. under ASan there is no fixed-address window, so ALLOC and the HOST3D claim,
#    map and free paths are fuzzed once more with UBSan alone, where there is one
if build "$out/fuzz-ub" -Dfuzzer=true -Db_sanitize=undefined -Db_lundef=false \
   -Dbench=false; then
   run_tests "$out/fuzz-ub" fuzz-ub fuzz-hsakmt-ccmd
fi

echo
echo "ASan skips the fixed-VA tests (suite fixed-va); they ran plain, under valgrind"
echo "and under UBSan above."
# shellcheck disable=SC2086
python3 ci/count-results.py $failed_builds $phases $logs || status=1
exit $status
