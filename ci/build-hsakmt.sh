#!/bin/sh
# usage: ci/build-hsakmt.sh DIR
#
# Builds the libhsakmt of Debian trixie (source package roct-thunk-interface, ROCm
# 6.x) from its upstream tarball, with symbols, for the test phase that runs virtkfd on
# a current libhsakmt beside Debian 12's 5.2.3. Its binary package needs glibc 2.38;
# the source builds on Debian 12 with cmake, libnuma-dev and libdrm-dev.
#
# DIR keeps the download (DIR/trixie), the sources and the build, so a second run does
# neither again. Prints the path of the built libhsakmt.so.1 on stdout and writes the
# upstream version to DIR/version. Exits 1 with the reason on stderr when the archive
# does not serve the tarball or the build fails; nothing of the system changes.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 1 ]; then
   echo "usage: $0 DIR" >&2
   exit 2
fi
mkdir -p "$1" || exit 1
dir=$(cd "$1" && pwd)
lib="$dir/build/libhsakmt.so.1"

if [ -f "$dir/build/.built" ] && [ -e "$lib" ] && [ -s "$dir/version" ]; then
   echo "$lib"
   exit 0
fi

tarball=$(sh "$top/ci/trixie-fetch.sh" "$dir/trixie" source roct-thunk-interface \
   .orig.tar.xz) || exit 1
# roct-thunk-interface_6.2.4+ds.orig.tar.xz -> 6.2.4
version=$(basename "$tarball" | sed -n 's/^roct-thunk-interface_\([0-9.]*\).*/\1/p')
if [ -z "$version" ]; then
   echo "$0: cannot tell the version of $tarball" >&2
   exit 1
fi

rm -rf "$dir/src" "$dir/build"
mkdir -p "$dir/src" "$dir/build"
if ! tar -xJf "$tarball" -C "$dir/src" --strip-components=1; then
   echo "$0: cannot unpack $tarball" >&2
   exit 1
fi
# RelWithDebInfo: optimised like a distribution build, with the symbols that let
# LeakSanitizer suppressions name libhsakmt's own functions
if ! cmake -S "$dir/src" -B "$dir/build" -G Ninja -DBUILD_SHARED_LIBS=ON \
   -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$dir/cmake.log" 2>&1; then
   echo "$0: cmake failed (see $dir/cmake.log)" >&2
   exit 1
fi
if ! ninja -C "$dir/build" -j"$(nproc)" hsakmt >"$dir/build.log" 2>&1; then
   echo "$0: the build of libhsakmt $version failed (see $dir/build.log)" >&2
   exit 1
fi
if [ ! -e "$lib" ]; then
   echo "$0: the build made no $lib" >&2
   exit 1
fi
echo "$version" >"$dir/version"
touch "$dir/build/.built"
echo "$lib"
