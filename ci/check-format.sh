#!/bin/sh
# Fails when a tracked C file differs from what the repo's .clang-format produces.
set -eu
top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top"
if ! command -v clang-format >/dev/null 2>&1; then
   echo "clang-format not installed: format check skipped"
   exit 77
fi
if [ -d .git ] && command -v git >/dev/null 2>&1; then
   files=$(git ls-files '*.c' '*.h')
else
   files=$(find src include server tests tools bench -name '*.[ch]' 2>/dev/null || true)
fi
bad=0
for f in $files; do
   [ -f "$f" ] || continue
   if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
      echo "not formatted: $f (run: clang-format -i $f)"
      bad=1
   fi
done
[ $bad -eq 0 ] && echo "all C files match .clang-format"
exit $bad
