#!/bin/sh
# The hardware kit: virtkfd on a host with an AMD GPU and /dev/kfd, nothing emulated.
#
#   sh tests/hw/run.sh [--size 1G] [BUILD_DIR]      (default BUILD_DIR: ci-out/hw)
#
# Builds virtkfd in BUILD_DIR, then runs on the real GPU: the checks of the ROCm
# context (tests/hw/hw_checks.c), the test suites that need no KFD emulator (core, mem,
# abi, api), the main job (the vtest server and the guest-like client) and the userptr
# benchmark. Prints a report to paste into a bug report (GPU, kernel, libhsakmt,
# fixed-address mode, each check, the benchmark's ratios) and keeps it in
# BUILD_DIR/report.txt. Exits 0 when everything passed, 1 when something failed, and
# 2, saying why, when it refuses to run: without a real /dev/kfd, or with the KFD
# emulator anywhere in sight. Needs meson, ninja, a C compiler, pkg-config and the
# development files of libhsakmt, libdrm and cmocka; no root.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
size=1G
out=""
while [ $# -gt 0 ]; do
   case "$1" in
   --size) size=$2; shift 2 ;;
   -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
   *) out=$1; shift ;;
   esac
done
out=${out:-$top/ci-out/hw}

refuse() {
   echo >&2
   echo "=====================================================================" >&2
   echo "tests/hw/run.sh REFUSES TO RUN: $*" >&2
   echo "=====================================================================" >&2
   exit 2
}

# --- real hardware only ----------------------------------------------------------
[ -e /dev/kfd ] || refuse "there is no /dev/kfd: this kit is for a host with an AMD GPU" \
   "and the amdgpu driver. Without one, run the test command (sh ci/test.sh), which" \
   "uses the KFD emulator."
[ -c /dev/kfd ] || refuse "/dev/kfd is not a character device: that is not the kernel's KFD"
case "${LD_PRELOAD-}" in
*kfdsim*) refuse "LD_PRELOAD names the KFD emulator ($LD_PRELOAD): unset it" ;;
esac
if env | grep -q '^KFDSIM_'; then
   refuse "KFDSIM_* variables are set ($(env | grep '^KFDSIM_' | cut -d= -f1 | tr '\n' ' '))" \
      "- they steer the KFD emulator, which this kit never uses: unset them"
fi
gpu_ids=$(cat /sys/class/kfd/kfd/topology/nodes/*/gpu_id 2>/dev/null | grep -vx 0)
[ -n "$gpu_ids" ] || refuse "KFD reports no GPU node in /sys/class/kfd/kfd/topology"
[ -r /dev/kfd ] && [ -w /dev/kfd ] ||
   refuse "no read-write access to /dev/kfd: add yourself to the render and video groups"

for tool in meson ninja pkg-config cc; do
   command -v $tool >/dev/null 2>&1 || refuse "$tool is missing (Debian: apt install" \
      "meson ninja-build pkg-config gcc libhsakmt-dev libdrm-dev libcmocka-dev)"
done
for pc in libhsakmt libdrm libdrm_amdgpu cmocka; do
   pkg-config --exists $pc || refuse "pkg-config does not find $pc (Debian:" \
      "apt install libhsakmt-dev libdrm-dev libcmocka-dev; with ROCm, add its lib/pkgconfig" \
      "to PKG_CONFIG_PATH)"
done

# --- build -------------------------------------------------------------------------
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
log="$out/hw-build.log"
echo "tests/hw/run.sh: building in $out (log: $log)"
if [ ! -f "$out/build.ninja" ]; then
   meson setup "$out" "$top" --buildtype=debugoptimized >"$log" 2>&1 ||
      { tail -20 "$log"; echo "the meson setup failed" >&2; exit 1; }
fi
ninja -C "$out" >>"$log" 2>&1 || { tail -20 "$log"; echo "the build failed" >&2; exit 1; }

# what runs here must not carry the emulator (it would stand aside, but loudly)
for exe in tests/hw/virtkfd-hw-checks bench/bench_userptr_hw server/virtkfd_test_server \
   tools/vtest-client/virtkfd_vtest_client; do
   if readelf -d "$out/$exe" 2>/dev/null | grep -q kfdsim; then
      refuse "$exe is linked with the KFD emulator"
   fi
done

report="$out/report.txt"
: >"$report"
say() {
   echo "$*" | tee -a "$report"
}
pass=0
fail=0
skip=0
count() {
   case "$1" in
   PASS) pass=$((pass + 1)) ;;
   FAIL) fail=$((fail + 1)) ;;
   *) skip=$((skip + 1)) ;;
   esac
}

# --- facts -------------------------------------------------------------------------
lib_name=${VIRTKFD_HSAKMT_LIBRARY:-libhsakmt.so.1}
lib_path=$(ldconfig -p 2>/dev/null | awk -v n="$lib_name" '$1 == n { print $NF; exit }')
[ -n "$lib_path" ] || lib_path=$lib_name
lib_real=$(readlink -f "$lib_path" 2>/dev/null || echo "$lib_path")
lib_pkg=""
if command -v dpkg >/dev/null 2>&1; then
   pkg=$(dpkg -S "$lib_real" 2>/dev/null | head -n1 | cut -d: -f1)
   [ -n "$pkg" ] && lib_pkg="$pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)"
elif command -v rpm >/dev/null 2>&1; then
   lib_pkg=$(rpm -qf "$lib_real" 2>/dev/null)
fi
[ -f /opt/rocm/.info/version ] && lib_pkg="$lib_pkg (ROCm $(cat /opt/rocm/.info/version))"

say "virtkfd hardware report ($(date -u '+%Y-%m-%d %H:%M UTC'))"
say "virtkfd:   $(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)"
say "host:      $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(uname -m)," \
   "$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
say "kernel:    $(uname -r)"
say "libhsakmt: $lib_real${lib_pkg:+ ($lib_pkg)}"
for node in /sys/class/kfd/kfd/topology/nodes/*; do
   id=$(cat "$node/gpu_id" 2>/dev/null)
   [ -n "$id" ] && [ "$id" != 0 ] || continue
   props="$node/properties"
   say "KFD node:  $(basename "$node"): $(cat "$node/name" 2>/dev/null)," \
      "gfx_target_version $(awk '$1 == "gfx_target_version" { print $2 }' "$props")," \
      "device_id $(awk '$1 == "device_id" { printf "0x%04x", $2 }' "$props")," \
      "drm_render_minor $(awk '$1 == "drm_render_minor" { print $2 }' "$props")"
done

# --- the ROCm context on the GPU ---------------------------------------------------
say ""
say "== checks of the ROCm context (tests/hw/hw_checks.c)"
checks_out="$out/hw-checks.log"
"$out/tests/hw/virtkfd-hw-checks" >"$checks_out" 2>&1
checks_rc=$?
sed -n 's/^fact \([^:]*\): /\1: /p' "$checks_out" | while read -r line; do say "  $line"; done
while read -r line; do
   case "$line" in
   "check "*)
      say "  $line"
      count "$(echo "$line" | sed 's/^check [^:]*: \([A-Z]*\).*/\1/')"
      ;;
   esac
done <"$checks_out"
if [ $checks_rc -ne 0 ] && ! grep -q '^check .*FAIL' "$checks_out"; then
   say "  check program: FAIL - it ended with status $checks_rc (see $checks_out)"
   fail=$((fail + 1))
fi

# --- test suites that need no emulator ---------------------------------------------
say ""
say "== test suites core, mem, abi, api (meson test)"
meson test -C "$out" --suite core --suite mem --suite abi --suite api --num-processes 2 \
   --logbase hw-suites >"$out/hw-suites.log" 2>&1
grep -E '^ *[0-9]+/[0-9]+ ' "$out/hw-suites.log" | while read -r line; do
   say "  $line"
done
suite_pass=$(grep -cE '^ *[0-9]+/[0-9]+ .* OK ' "$out/hw-suites.log")
suite_fail=$(grep -cE '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$out/hw-suites.log")
suite_skip=$(grep -cE '^ *[0-9]+/[0-9]+ .* SKIP ' "$out/hw-suites.log")
pass=$((pass + suite_pass))
fail=$((fail + suite_fail))
skip=$((skip + suite_skip))

# --- the main job --------------------------------------------------------------------
say ""
say "== main job: virtkfd_test_server and the guest-like client"
dir=$(mktemp -d)
"$out/server/virtkfd_test_server" --socket-path "$dir/vtest.sock" --debug-commands \
   >"$out/hw-server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
   [ -S "$dir/vtest.sock" ] && break
   sleep 0.05
done
"$out/tools/vtest-client/virtkfd_vtest_client" --socket-path "$dir/vtest.sock" \
   >"$out/hw-client.log" 2>&1
client_rc=$?
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
rm -rf "$dir"
sed 's/^/  /' "$out/hw-client.log" | tee -a "$report"
if [ $client_rc -eq 0 ]; then
   say "  check main-job: PASS"
   count PASS
else
   say "  check main-job: FAIL - the client ended with status $client_rc" \
      "(server log: $out/hw-server.log)"
   count FAIL
fi

# --- the userptr benchmark -----------------------------------------------------------
say ""
say "== userptr benchmark, $size (bench_userptr_hw: per-step times, ratios vs memcpy)"
if "$out/bench/bench_userptr_hw" --size "$size" --reps 3 >"$out/hw-bench.log" 2>&1; then
   sed -n '/^summary/,$p' "$out/hw-bench.log" | sed 's/^/  /' | tee -a "$report"
else
   say "  check benchmark: FAIL - see $out/hw-bench.log:"
   tail -5 "$out/hw-bench.log" | sed 's/^/    /' | tee -a "$report"
   count FAIL
fi

say ""
say "result: $pass passed, $fail failed, $skip skipped"
echo
echo "The report is in $report: paste it into the bug report, with the logs next to it"
echo "($out/hw-*.log) if something failed."
[ $fail -eq 0 ]
