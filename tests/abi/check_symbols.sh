#!/bin/sh
# Checks the shared library's dynamic symbol table: exactly the 1.3.0 API, every
# symbol QEMU and crosvm call, the SONAME, and the pkg-config file.
# usage: check_symbols.sh LIBRARY EXPECTED_LIST VMM_LIST PC_FILE
set -eu
lib=$1 expected=$2 needed=$3 pc=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

nm -D --defined-only "$lib" | awk '{print $NF}' | sort >"$tmp/exported"
grep -v '^#' "$expected" | sort >"$tmp/expected"
if ! diff -u "$tmp/expected" "$tmp/exported"; then
   echo "FAIL: exported symbols differ from the 1.3.0 API (- missing, + extra)"
   fail=1
fi
count=$(wc -l <"$tmp/exported")
[ "$count" -eq 49 ] || { echo "FAIL: $count exported symbols, expected 49"; fail=1; }
nm -D --defined-only "$lib" | awk '$2 != "T" {print "FAIL: non-function export " $0}' \
   | tee "$tmp/nonfunc"
[ -s "$tmp/nonfunc" ] && fail=1

grep -v '^#' "$needed" | sort -u >"$tmp/needed"
missing=$(comm -23 "$tmp/needed" "$tmp/exported")
[ -z "$missing" ] || { echo "FAIL: symbols QEMU/crosvm need are missing: $missing"; fail=1; }

soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libvirglrenderer.so.1 ] || { echo "FAIL: SONAME '$soname'"; fail=1; }

grep -qx 'Version: 1.3.0' "$pc" || { echo "FAIL: $pc does not say Version: 1.3.0"; fail=1; }
grep -q '^Cflags:.*-I${includedir}/virgl' "$pc" || { echo "FAIL: Cflags lack -I.../virgl"; fail=1; }
grep -q '^Cflags:.*-DVIRGL_RENDERER_UNSTABLE_APIS=1' "$pc" ||
   { echo "FAIL: Cflags lack the unstable-API define crosvm looks for"; fail=1; }
grep -qx 'Name: virglrenderer' "$pc" || { echo "FAIL: pkg-config Name"; fail=1; }

[ $fail -eq 0 ] && echo "OK: $count symbols, SONAME $soname, $(grep Version "$pc")"
exit $fail
