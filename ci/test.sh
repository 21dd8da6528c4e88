#!/bin/sh
# The test command: installs dependencies, builds virtkfd twice (plain, and with
# AddressSanitizer + UndefinedBehaviorSanitizer), runs every test in both builds and
# ends with one line "N passed, N failed".
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
run_suite() {
   name=$1
   shift
   dir="$out/$name"
   if ! sh ci/build.sh "$dir" "$@"; then
      echo "ci/test.sh: the $name build failed"
      status=1
      return
   fi
   # meson test prints every test; the total comes from ci/count-results.py
   meson test -C "$dir" --print-errorlogs --num-processes 2 $extra_args || status=1
   logs="$logs $dir/meson-logs/testlog.json"
}

extra_args=""
run_suite plain
# the format check needs to run once only
extra_args="--no-suite style"
run_suite sanitize -Db_sanitize=address,undefined -Db_lundef=false

echo
python3 ci/count-results.py $logs || status=1
exit $status
