#!/bin/sh
# usage: ci/e2e-guest.sh CACHE_DIR BUILD_DIR OUT_DIR
#
# Builds what the end-to-end test boots: Debian 12's own kernel
# (linux-image-amd64's linux-image-6.1.0-*-amd64) and an initramfs holding Debian 12's
# busybox-static, the kernel modules virtio-gpu needs, the static guest client
# (BUILD_DIR/tools/guest-client/virtkfd_guest_client) and tests/e2e/guest-init.sh as
# /init; plus the firmware QEMU loads (seabios, qemu-system-data: stripped from the
# QEMU +ds tarball). The packages are downloaded with apt-get into CACHE_DIR, never
# installed. Writes OUT_DIR/vmlinuz, OUT_DIR/initrd.gz and OUT_DIR/firmware/; prints
# the kernel package's name. Exits 2 when Debian's archive does not serve a package
# (the caller may skip), 1 on any other failure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=$1
build=$2
out=$3
mkdir -p "$cache" "$out"
cache=$(cd "$cache" && pwd)
out=$(cd "$out" && pwd)

log() { echo "ci/e2e-guest.sh: $*" >&2; }

# the kernel that linux-image-amd64 points at today
kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
   sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
if [ -z "$kernel_pkg" ]; then
   apt-get update -qq >/dev/null 2>&1 || true
   kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
fi
if [ -z "$kernel_pkg" ]; then
   log "Debian's archive names no kernel for linux-image-amd64"
   exit 2
fi

deb() {
   ls "$cache/$1"_*.deb 2>/dev/null | head -n 1
}
for p in "$kernel_pkg" busybox-static seabios qemu-system-data; do
   [ -n "$(deb "$p")" ] && continue
   if ! (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$p") \
      >"$cache/download-$p.log" 2>&1; then
      # the lists may be stale: refresh them once
      apt-get update -qq >/dev/null 2>&1 || true
      if ! (cd "$cache" && apt-get download -q -o APT::Sandbox::User=root "$p") \
         >"$cache/download-$p.log" 2>&1; then
         log "Debian's archive did not serve $p (see $cache/download-$p.log)"
         exit 2
      fi
   fi
done

client=$build/tools/guest-client/virtkfd_guest_client
if [ ! -f "$client" ]; then
   log "no $client (build virtkfd first)"
   exit 1
fi
# the image is made again only when what goes into it changed
key=$( (
   for p in "$kernel_pkg" busybox-static seabios qemu-system-data; do
      basename "$(deb "$p")"
   done
   cat "$client" "$top/tests/e2e/guest-init.sh" "$0"
) | sha256sum | cut -d' ' -f1)
if [ -f "$out/initrd.gz" ] && [ "$(cat "$out/key" 2>/dev/null)" = "$key" ]; then
   log "cached: $out"
   echo "$kernel_pkg"
   exit 0
fi
rm -f "$out/key"

work=$(mktemp -d "$out/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
for p in "$kernel_pkg" busybox-static seabios qemu-system-data; do
   dpkg-deb -x "$(deb "$p")" "$work/pkg"
done

version=${kernel_pkg#linux-image-}
cp "$work/pkg/boot/vmlinuz-$version" "$out/vmlinuz"
rm -rf "$out/firmware"
mkdir -p "$out/firmware"
# seabios provides bios-256k.bin, qemu-system-data the option ROMs (linuxboot_dma.bin)
cp -L "$work/pkg/usr/share/qemu/"*.bin "$out/firmware/"
cp -L "$work/pkg/usr/share/seabios/"*.bin "$out/firmware/"

# The modules virtio-gpu needs, found from their .modinfo "depends=" (Debian 12's
# kernel ships them uncompressed and without modules.dep).
moddir=$work/pkg/lib/modules/$version
modinfo_depends() {
   objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null |
      tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}
module_path() {
   # module names use '_' where file names may use '-'
   find "$moddir/kernel" -name "$1.ko" -o -name "$(echo "$1" | tr _ -).ko" | head -n 1
}
root=$work/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" \
   "$root/lib/modules/$version"
pending="virtio_pci virtio_gpu"
loaded=""
order=""
while [ -n "$pending" ]; do
   set -- $pending
   name=$1
   shift
   pending="$*"
   case " $loaded " in *" $name "*) continue ;; esac
   path=$(module_path "$name")
   if [ -z "$path" ]; then
      log "the kernel package has no module $name"
      exit 1
   fi
   missing=""
   for dep in $(modinfo_depends "$path"); do
      case " $loaded " in *" $dep "*) ;; *) missing="$missing $dep" ;; esac
   done
   if [ -n "$missing" ]; then
      # load the dependencies first, then come back to this one
      pending="$missing $name $pending"
      continue
   fi
   cp "$path" "$root/lib/modules/$version/"
   loaded="$loaded $name"
   order="$order $(basename "$path")"
done
echo "$order" | tr ' ' '\n' | sed '/^$/d' >"$root/lib/modules/$version/load-order"

cp "$work/pkg/bin/busybox" "$root/bin/busybox"
for applet in sh mount umount insmod sleep cat echo poweroff mkdir ls grep sed dmesg \
   uname sync stty timeout tr wc head; do
   ln -s busybox "$root/bin/$applet"
done
if readelf -d "$client" | grep -q NEEDED; then
   log "$client is not statically linked"
   exit 1
fi
cp "$client" "$root/bin/virtkfd_guest_client"
cp "$top/tests/e2e/guest-init.sh" "$root/init"
chmod 755 "$root/init"
# busybox's own cpio: nothing more to install
(cd "$root" && find . | "$work/pkg/bin/busybox" cpio -o -H newc 2>/dev/null) |
   gzip -1 >"$out/initrd.gz"
echo "$key" >"$out/key"
log "$kernel_pkg, $(echo "$order" | wc -w) modules, busybox, virtkfd_guest_client:" \
   "$(du -k "$out/initrd.gz" | cut -f1) KiB initramfs"
echo "$kernel_pkg"
