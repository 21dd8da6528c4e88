#!/bin/sh
# usage: ci/build.sh BUILD_DIR [meson options...]
# Configures (once) and builds virtkfd in BUILD_DIR with warnings as errors.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
if [ ! -f "$dir/build.ninja" ]; then
   meson setup "$dir" "$top" --buildtype=debugoptimized -Dwerror=true "$@"
fi
ninja -C "$dir" -j"$(nproc)"
