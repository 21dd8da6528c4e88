#!/bin/sh
# The test command: installs dependencies, builds virtkfd plain, with UBSan and with
# AddressSanitizer + UndefinedBehaviorSanitizer, runs every test plain and under
# ASan+UBSan (the fixed-VA tests, which ASan cannot host, under valgrind and UBSan
# instead), runs the end-to-end test through QEMU (ci/e2e.sh), runs the libFuzzer
# harnesses (clang) for a bounded time under ASan+UBSan and the capset-8 one again
# under UBSan alone, all on Debian 12's libhsakmt 5.2.3; then runs the suites that load
# libhsakmt again on Debian trixie's libhsakmt 6.x, built from source
# (ci/build-hsakmt.sh). Ends with one line "N passed, N failed".
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
phase() {
   echo
   echo "=== phase: $* ==="
}
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
   phase "plain, libhsakmt 5.2.3 (Debian 12)"
   run_tests "$out/plain" plain
   # 2. the fixed-VA tests cannot run under ASan (libhsakmt's reserved aperture lies
   #    below 2^40, in ASan's shadow): they run under valgrind and UBSan instead.
   #    The ROCm context and API suites run under valgrind too: its libhsakmt
   #    suppression only covers blocks libhsakmt allocated itself, where
   #    LeakSanitizer's covers anything allocated under a libhsakmt call.
   phase "valgrind, libhsakmt 5.2.3"
   run_tests "$out/plain" valgrind --suite fixed-va --suite hsakmt --suite api \
      --suite core --wrap \
      "valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
       --suppressions=$top/tests/valgrind-libhsakmt.supp --quiet"
fi
if build "$out/ubsan" -Db_sanitize=undefined -Db_lundef=false -Dbench=false; then
   phase "UBSan, fixed-VA tests, libhsakmt 5.2.3"
   run_tests "$out/ubsan" ubsan --suite fixed-va
fi
# 3. everything else under AddressSanitizer + UndefinedBehaviorSanitizer; the format
#    check ran once already
if build "$out/sanitize" -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false; then
   phase "ASan+UBSan, libhsakmt 5.2.3"
   run_tests "$out/sanitize" sanitize --no-suite style
fi

# 4. the end-to-end test (ci/e2e.sh): QEMU, built from Debian trixie's sources and cached
# in ci-out/e2e, boots Debian 12's kernel, whose guest drives virtkfd; skipped (77)
# where Debian's archive cannot serve a package. It builds QEMU with gcc, so before CC
# changes below.
phase "end-to-end: QEMU and a guest kernel, libhsakmt 5.2.3"
sh ci/e2e.sh
case $? in
0) phases="$phases --phase end-to-end pass" ;;
77) phases="$phases --phase end-to-end skip" ;;
*)
   phases="$phases --phase end-to-end fail"
   status=1
   ;;
esac

# 5. a current libhsakmt: Debian trixie's (ROCm 6.x), built from its upstream tarball
#    into $out/hsakmt-trixie once. The suites that load libhsakmt (the emulator's
#    own included) run on it again, plain, under valgrind and under ASan+UBSan; its
#    native fixed-address mode works under ASan, so there the fixed-VA tests run too.
#    Tests whose expectation depends on the library check each library's own
#    behaviour.
hsakmt6_dir="$out/hsakmt-trixie"
mkdir -p "$out"
if hsakmt6=$(sh ci/build-hsakmt.sh "$hsakmt6_dir" 2>"$out/hsakmt-trixie.why"); then
   hsakmt6_name="libhsakmt $(cat "$hsakmt6_dir/version")"
   hsakmt6_suites="--suite core --suite api --suite hsakmt --suite server --suite kfdsim"
   # virtkfd loads it by name; the emulator's own tests link libhsakmt.so.1
   export VIRTKFD_HSAKMT_LIBRARY="$hsakmt6"
   saved_library_path=${LD_LIBRARY_PATH-unset}
   export LD_LIBRARY_PATH="$(dirname "$hsakmt6")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
   if [ -d "$out/plain" ]; then
      phase "plain, $hsakmt6_name (Debian trixie, built from source)"
      # shellcheck disable=SC2086
      run_tests "$out/plain" hsakmt6-plain $hsakmt6_suites
      phase "valgrind, $hsakmt6_name"
      run_tests "$out/plain" hsakmt6-valgrind --suite hsakmt --suite api --wrap \
         "valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
          --suppressions=$top/tests/valgrind-libhsakmt.supp --quiet"
   fi
   if [ -d "$out/sanitize" ]; then
      phase "ASan+UBSan, $hsakmt6_name"
      # shellcheck disable=SC2086
      run_tests "$out/sanitize" hsakmt6-sanitize $hsakmt6_suites
   fi
   unset VIRTKFD_HSAKMT_LIBRARY
   if [ "$saved_library_path" = unset ]; then
      unset LD_LIBRARY_PATH
   else
      export LD_LIBRARY_PATH="$saved_library_path"
   fi
else
   why=$(tr '\n' ' ' <"$out/hsakmt-trixie.why")
   phase "libhsakmt 6.x (Debian trixie): SKIPPED: $why"
   phases="$phases --phase libhsakmt-6.x skip"
fi

# 6. the libFuzzer harnesses, built with clang (meson reads CC when it configures;
#    this is the last build), over their seed corpus and then fuzzing for a bounded
#    time (tests/fuzz)
export CC=clang
if build "$out/fuzz" -Dfuzzer=true -Db_sanitize=address,undefined -Db_lundef=false \
   -Dbench=false; then
   phase "libFuzzer, ASan+UBSan, libhsakmt 5.2.3"
   run_tests "$out/fuzz" fuzz --suite fuzz
fi
# 7. under ASan there is no fixed-address window, so ALLOC and the HOST3D claim,
#    map and free paths are fuzzed once more with UBSan alone, where there is one
if build "$out/fuzz-ub" -Dfuzzer=true -Db_sanitize=undefined -Db_lundef=false \
   -Dbench=false; then
   phase "libFuzzer, UBSan, libhsakmt 5.2.3"
   run_tests "$out/fuzz-ub" fuzz-ub fuzz-hsakmt-ccmd
fi

echo
echo "ASan skips the fixed-VA tests (suite fixed-va); they ran plain, under valgrind"
echo "and under UBSan above."
# shellcheck disable=SC2086
python3 ci/count-results.py $failed_builds $phases $logs || status=1
exit $status
