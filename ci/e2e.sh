#!/bin/sh
# The end-to-end test: a real VMM and a real guest kernel drive virtkfd.
#
# On Debian 12 as root: installs what it needs with apt-get, builds QEMU 10.0 from
# Debian trixie's source package with contrib/qemu's capset-8 patch (cached in
# ci-out/e2e/qemu), builds virtkfd (ci-out/plain), builds a guest from Debian 12's own
# kernel, busybox and the static virtkfd_guest_client, and boots it in QEMU with
# virtkfd as its libvirglrenderer.so.1 on the KFD emulator. The guest prints each of
# its steps with its time. Exits 0 when every guest step passed, QEMU powered off
# cleanly, the host's KFD objects were back at the guest's baseline and the guest
# kernel saw no failed command but the known fbdev scanout (noted); 77 (skipped, with
# the reason) when Debian's archive does not serve a package; 1 otherwise.
#
# VIRTKFD_E2E_ACCEL=kvm|tcg forces the accelerator; by default KVM is used when a
# kernel boots under it, TCG otherwise.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${VIRTKFD_CI_OUT:-$top/ci-out}
e2e=$out/e2e
cd "$top"
SKIPPED=77

start=$(date +%s)
phase() { echo "ci/e2e.sh: [$(($(date +%s) - start)) s] $*"; }
skip() {
   echo "ci/e2e.sh: SKIPPED: $*"
   exit $SKIPPED
}

sh ci/setup.sh >/dev/null || exit 1
# QEMU's build (glib, pixman, epoxy, gbm, fdt), its GL display at run time (Mesa's
# software EGL), and the tools that unpack Debian's packages
packages="
   libglib2.0-dev libpixman-1-dev libepoxy-dev libgbm-dev libfdt-dev python3-venv
   libegl1 libegl-mesa0 libgl1-mesa-dri
   binutils xz-utils patch gzip
"
missing=""
for p in $packages; do
   dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing="$missing $p"
done
if [ -n "$missing" ]; then
   if [ "$(id -u)" -ne 0 ]; then
      echo "ci/e2e.sh: missing packages:$missing (run as root to install them)"
      exit 1
   fi
   phase "installing$missing"
   export DEBIAN_FRONTEND=noninteractive
   apt-get update -qq >/dev/null 2>&1
   # shellcheck disable=SC2086
   if ! apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
      skip "Debian's archive did not serve:$missing"
   fi
fi

# virtkfd, staged where QEMU's build finds its virglrenderer.pc and QEMU loads it
phase "building virtkfd in $out/plain"
sh ci/build.sh "$out/plain" >/dev/null || exit 1
stage=$e2e/stage
rm -rf "$stage"
meson install -C "$out/plain" --destdir "$stage" --no-rebuild --quiet >/dev/null || exit 1
libdir=$stage/usr/local/lib/$(gcc -print-multiarch)

phase "QEMU (Debian trixie's source package + contrib/qemu)"
qemu=$(sh ci/qemu-build.sh "$e2e/qemu" "$stage")
case $? in
0) ;;
2) skip "Debian trixie's archive did not serve QEMU's sources or meson" ;;
*) exit 1 ;;
esac
phase "the guest (Debian 12's kernel, busybox, virtkfd_guest_client)"
kernel_pkg=$(sh ci/e2e-guest.sh "$e2e/debs" "$out/plain" "$e2e/guest")
case $? in
0) ;;
2) skip "Debian's archive did not serve a package of the guest" ;;
*) exit 1 ;;
esac
guest=$e2e/guest
kfdsim=$out/plain/tests/kfdsim/libkfdsim.so
probe=$out/plain/tests/e2e/libvirtkfd_e2e_probe.so

loaded=$(LD_LIBRARY_PATH=$libdir ldd "$qemu" |
   sed -n 's/^\s*libvirglrenderer.so.1 => \(\S*\).*/\1/p')
phase "QEMU loads libvirglrenderer.so.1 from $loaded"
case $loaded in
"$libdir"/*) ;;
*)
   echo "ci/e2e.sh: that is not virtkfd's ($libdir)"
   exit 1
   ;;
esac

dir=$(mktemp -d /tmp/virtkfd-e2e-XXXXXX)
qpid=""
cleanup() {
   if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
      kill -TERM "$qpid"
      wait "$qpid" 2>/dev/null
   fi
   rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# KVM only where a stock kernel boots under it: on some hosts /dev/kvm opens but the
# guest never leaves the kernel's decompressor. Its first message decides.
kvm_boots() {
   [ -w /dev/kvm ] || return 1
   "$qemu" -nodefaults -no-user-config -L "$guest/firmware" -machine q35,accel=kvm \
      -m 256M -display none -kernel "$guest/vmlinuz" -no-reboot \
      -append "console=ttyS0 earlyprintk=serial loglevel=0 panic=-1" \
      -serial "file:$dir/kvm-check.log" >/dev/null 2>&1 &
   pid=$!
   i=0
   while [ $i -lt 100 ] && ! grep -q "Linux version" "$dir/kvm-check.log" 2>/dev/null; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
      i=$((i + 1))
   done
   kill -TERM "$pid" 2>/dev/null
   wait "$pid" 2>/dev/null
   grep -q "Linux version" "$dir/kvm-check.log" 2>/dev/null
}
accel=${VIRTKFD_E2E_ACCEL:-}
if [ -z "$accel" ]; then
   if kvm_boots; then
      accel=kvm
      phase "accelerator: KVM"
   else
      accel=tcg
      phase "accelerator: TCG (under KVM this host's kernel did not boot within 10 s)"
   fi
else
   phase "accelerator: $accel (VIRTKFD_E2E_ACCEL)"
fi

# The KFD emulator and the probe are preloaded into QEMU itself (env execs it; the
# timeout around it must not load them): virtkfd runs inside the VMM process. Guest
# RAM is shared and fd-backed, as userptr needs. Debian 12's libhsakmt places KFD
# memory at fixed addresses only in its reserved SVM mode, which a VMM with threads
# must ask for in its own environment (README, "Using virtkfd with QEMU").
phase "booting $kernel_pkg in QEMU"
echo
timeout -k 5 300 env LD_LIBRARY_PATH="$libdir" LD_PRELOAD="$kfdsim $probe" \
   VIRTKFD_E2E_PROBE_SOCKET="$dir/probe.sock" \
   VIRTKFD_E2E_PROBE_REPORT="$dir/probe.report" \
   VIRTKFD_LOG_LEVEL="${VIRTKFD_LOG_LEVEL:-warning}" HSA_RESERVE_SVM=1 \
   "$qemu" -nodefaults -no-user-config -L "$guest/firmware" \
   -machine "q35,accel=$accel,memory-backend=mem" -smp 2 -m 2G \
   -object memory-backend-memfd,id=mem,size=2G,share=on \
   -device virtio-gpu-gl-pci,blob=true,hostmem=512M \
   -display egl-headless,rendernode=/dev/null \
   -kernel "$guest/vmlinuz" -initrd "$guest/initrd.gz" -no-reboot \
   -append "console=ttyS0 quiet panic=-1" \
   -serial "file:$dir/console.log" \
   -chardev "socket,id=probe,path=$dir/probe.sock" -serial chardev:probe \
   >"$dir/qemu.log" 2>&1 &
qpid=$!
boot=$(date +%s)
# A run takes 8 to 15 s under TCG. One that is still going after 240 s hangs: its
# threads' stacks are kept for the report before the timeout above ends it.
(
   sleep ${VIRTKFD_E2E_HANG_AFTER:-240}
   q=$(pgrep -P "$qpid" -f qemu-system-x86_64 2>/dev/null | head -n 1)
   if [ -n "$q" ] && command -v gdb >/dev/null 2>&1; then
      gdb -p "$q" -batch -ex "thread apply all bt" >"$dir/qemu-threads.txt" 2>&1
   fi
) &
watchdog=$!
# the guest's console, as it comes (without its carriage returns)
while [ ! -f "$dir/console.log" ] && kill -0 "$qpid" 2>/dev/null; do
   sleep 0.1
done
tail -n +1 -f --pid="$qpid" "$dir/console.log" 2>/dev/null | sed -u 's/\r$//; s/^/  | /'
wait "$qpid"
qemu_status=$?
qpid=""
kill "$watchdog" 2>/dev/null
wait "$watchdog" 2>/dev/null
echo
phase "QEMU exited with status $qemu_status after $(($(date +%s) - boot)) s"

status=0
if [ $qemu_status -ne 0 ]; then
   echo "ci/e2e.sh: FAIL: QEMU did not power off cleanly (status $qemu_status$(
      [ $qemu_status -eq 124 ] && echo ': timed out'))"
   if [ -s "$dir/qemu-threads.txt" ]; then
      echo "ci/e2e.sh: QEMU's threads when it hung:"
      grep -E "^Thread|^#" "$dir/qemu-threads.txt" | sed 's/^/  gdb| /'
   fi
   status=1
fi
if ! grep -q "E2E-GUEST PASS" "$dir/console.log"; then
   echo "ci/e2e.sh: FAIL: the guest did not report E2E-GUEST PASS"
   status=1
fi
report=$(cat "$dir/probe.report" 2>/dev/null)
echo "ci/e2e.sh: host probe at QEMU's exit:" \
   "${report:-no report (QEMU did not exit normally)}"
case $report in
AT-BASELINE*) ;;
*) status=1 ;;
esac
# The guest kernel logs every command the host failed. Its fbdev's scanout
# (RESOURCE_CREATE_2D, 0x103) is a classic resource: the system's virglrenderer serves
# it behind virtkfd, so it must work, unless forwarding was turned off.
scanout=$(grep -c "response 0x1203 (command 0x103)" "$dir/console.log")
if [ "${VIRTKFD_FORWARD_LIBRARY:-}" = none ]; then
   echo "ci/e2e.sh: note: forwarding is off: the guest's scanout fails" \
      "($scanout x 'response 0x1203 (command 0x103)')"
elif [ "$scanout" -gt 0 ] || ! grep -q "e2e-guest: scanout ok" "$dir/console.log"; then
   echo "ci/e2e.sh: FAIL: the guest's console has no working scanout" \
      "($scanout x 'response 0x1203 (command 0x103)'); forwarding to the system's" \
      "virglrenderer should serve it"
   status=1
else
   echo "ci/e2e.sh: the guest's console scanout works, served by the system's" \
      "virglrenderer behind virtkfd"
fi
failed=$(grep -o "ERROR\* response 0x[0-9a-f]* (command 0x[0-9a-f]*)" "$dir/console.log" |
   grep -v "response 0x1203 (command 0x103)" | sort | uniq -c)
if [ -n "$failed" ]; then
   echo "ci/e2e.sh: FAIL: the host failed commands of the guest kernel (count, response):"
   echo "$failed" | sed 's/ERROR\* //; s/^/  /'
   status=1
fi
if [ $status -ne 0 ]; then
   echo "ci/e2e.sh: QEMU's log:"
   sed 's/^/  qemu| /' "$dir/qemu.log" | grep -v "MESA-LOADER\|failed to get driver name"
fi
phase "end-to-end test $([ $status -eq 0 ] && echo PASSED || echo FAILED)"
exit $status
