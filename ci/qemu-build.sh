#!/bin/sh
# usage: ci/qemu-build.sh CACHE_DIR STAGE_DIR
#
# Builds qemu-system-x86_64 from Debian trixie's QEMU 10.0 source package (Debian's
# own patch series, then contrib/qemu's capset-8 patch) against virtkfd's
# virglrenderer.pc, installed under STAGE_DIR (meson install --destdir). Only that one
# binary is built, with the few features a virtio-gpu-gl guest needs. The result is
# kept in CACHE_DIR and reused while the sources, the patches and the configure
# options are unchanged; QEMU links libvirglrenderer.so.1 by its SONAME, so a rebuilt
# virtkfd needs no new QEMU. Prints the binary's path on stdout; everything else goes to
# stderr and CACHE_DIR/*.log. Exits 2 when trixie's archive does not serve a file
# (the caller may skip), 1 on any other failure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=$1
stage=$2
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
patch_rocm=$top/contrib/qemu/0001-virtio-gpu-virgl-list-the-ROCm-capset-8.patch

log() { echo "ci/qemu-build.sh: $*" >&2; }

# QEMU 10 needs meson >= 1.5 (Debian 12 has 1.0.1): trixie's arch-all meson .deb,
# unpacked, runs on Debian 12's python3.
if ! files=$(sh "$top/ci/trixie-fetch.sh" "$cache/trixie" source qemu .orig.tar.xz \
   .debian.tar.xz) || ! meson_deb=$(sh "$top/ci/trixie-fetch.sh" "$cache/trixie" \
   binary meson); then
   log "Debian trixie's archive did not serve QEMU's sources or meson"
   exit 2
fi
orig=$(echo "$files" | sed -n 1p)
debian=$(echo "$files" | sed -n 2p)

# The firmware is stripped from the +ds tarball (Debian 12's seabios and
# qemu-system-data provide it at run time: -L).
options="--python=/usr/bin/python3 --target-list=x86_64-softmmu --without-default-features
   --enable-kvm --enable-tcg --enable-virglrenderer --enable-opengl --enable-pixman
   --enable-fdt=system --disable-docs --disable-install-blobs --disable-debug-info"
# what the binary is made of; a rebuilt virtkfd needs no new QEMU
key=$( (
   basename "$orig"
   basename "$debian"
   basename "$meson_deb"
   echo "$options"
   cat "$patch_rocm"
) | sha256sum | cut -d' ' -f1)
binary=$cache/bin/qemu-system-x86_64
if [ -x "$binary" ] && [ "$(cat "$cache/bin/key" 2>/dev/null)" = "$key" ]; then
   log "cached: $binary"
   echo "$binary"
   exit 0
fi

rm -rf "$cache/src" "$cache/build" "$cache/meson" "$cache/bin"
mkdir -p "$cache/src" "$cache/meson" "$cache/bin"
dpkg-deb -x "$meson_deb" "$cache/meson"
tar -C "$cache/src" -xf "$orig" --strip-components=1
tar -C "$cache/src" -xf "$debian"
(
   cd "$cache/src"
   while read -r p; do
      case "$p" in '' | '#'*) continue ;; esac
      patch -p1 -s <"debian/patches/$p"
   done <debian/patches/series
   patch -p1 -s <"$patch_rocm"
) >"$cache/patch.log" 2>&1 || {
   log "a patch did not apply (see $cache/patch.log)"
   exit 1
}
log "applied $(grep -cv '^#' "$cache/src/debian/patches/series") Debian patches and" \
   "$(basename "$patch_rocm")"

# virtkfd's .pc, with its prefix moved to where it was staged
staged_pc=$stage/usr/local/lib/$(gcc -print-multiarch)/pkgconfig/virglrenderer.pc
if [ ! -f "$staged_pc" ]; then
   log "no $staged_pc (install virtkfd there first)"
   exit 1
fi
pcdir=$cache/pkgconfig
mkdir -p "$pcdir"
sed "s|^prefix=.*|prefix=$(cd "$stage" && pwd)/usr/local|" "$staged_pc" \
   >"$pcdir/virglrenderer.pc"
mkdir -p "$cache/build"
# shellcheck disable=SC2086
if ! (cd "$cache/build" &&
   PYTHONPATH="$cache/meson/usr/lib/python3/dist-packages" PKG_CONFIG_PATH="$pcdir" \
      ../src/configure $options) >"$cache/configure.log" 2>&1; then
   log "configure failed (see $cache/configure.log)"
   exit 1
fi
if ! grep -q 'VirGL support *: *YES 1.3.0' "$cache/configure.log"; then
   log "configure did not find virtkfd's virglrenderer 1.3.0 (see $cache/configure.log)"
   exit 1
fi

log "building qemu-system-x86_64 (3 to 7 minutes at ninja -j2, nice 15)"
start=$(date +%s)
if ! PYTHONPATH="$cache/meson/usr/lib/python3/dist-packages" \
   nice -n 15 ninja -C "$cache/build" -j2 qemu-system-x86_64 \
      >"$cache/build.log" 2>&1; then
   log "the build failed (see $cache/build.log)"
   tail -n 20 "$cache/build.log" >&2
   exit 1
fi
log "built in $(($(date +%s) - start)) s"
cp "$cache/build/qemu-system-x86_64" "$binary"
echo "$key" >"$cache/bin/key"
# the sources and objects are not needed again
rm -rf "$cache/src" "$cache/build"
echo "$binary"
