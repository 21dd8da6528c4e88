#!/bin/sh
# /init of the end-to-end test's guest (ci/e2e.sh): Debian 12's own kernel, busybox
# and the static virtkfd_guest_client in an initramfs. It loads the virtio-gpu
# modules, runs the client (console: ttyS0; the host probe: ttyS1), prints
# "E2E-GUEST PASS" or "E2E-GUEST FAIL" and powers the machine off.
export PATH=/bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
mount -t sysfs sys /sys
echo "e2e-guest: init running on $(uname -r)"

status=0
modules=/lib/modules/$(uname -r)
for m in $(cat "$modules/load-order"); do
   insmod "$modules/$m" || { echo "e2e-guest: insmod $m failed"; status=1; }
done
i=0
while [ ! -e /dev/dri/renderD128 ] && [ $i -lt 100 ]; do
   sleep 0.1
   i=$((i + 1))
done

# the console's scanout is a classic 2D resource, which the host's virglrenderer
# serves behind virtkfd (forwarding): the framebuffer must exist and take a write
if [ -e /sys/class/graphics/fb0/name ] &&
   dd if=/dev/zero of=/dev/fb0 bs=4096 count=16 2>/dev/null; then
   echo "e2e-guest: scanout ok: fb0 ($(cat /sys/class/graphics/fb0/name)) took a write"
else
   echo "e2e-guest: scanout missing: no framebuffer on the virtio-gpu device"
fi

client() {
   echo
   virtkfd_guest_client --probe /dev/ttyS1 "$@" || status=1
}
# the host's KFD objects before any context, then the flows, then the two-process
# lifetime scenario, then the host must be back where it started
client baseline
client flow
client lifetime
client settle

echo
if [ $status -eq 0 ]; then
   echo "E2E-GUEST PASS"
else
   echo "E2E-GUEST FAIL"
fi
sync
poweroff -f
