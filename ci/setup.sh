#!/bin/sh
# Installs everything virtkfd needs to build and test on Debian 12, as root.
# Safe to run again: apt-get skips what is installed.
set -eu

packages="
   gcc libc6-dev binutils pkg-config python3 xz-utils
   meson ninja-build
   libhsakmt-dev libdrm-dev
   cmake libnuma-dev
   libcmocka-dev
   clang-format
   clang libclang-rt-14-dev
   valgrind
   virgl-server libegl-dev
"

missing=""
for p in $packages; do
   dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing="$missing $p"
done

if [ -n "$missing" ]; then
   if [ "$(id -u)" -ne 0 ]; then
      echo "ci/setup.sh: missing packages:$missing (run as root to install them)" >&2
      exit 1
   fi
   echo "ci/setup.sh: installing$missing"
   export DEBIAN_FRONTEND=noninteractive
   apt-get update -qq
   # shellcheck disable=SC2086
   apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "ci/setup.sh: dependencies present"
