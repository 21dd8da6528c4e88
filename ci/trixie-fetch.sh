#!/bin/sh
# Fetches files of Debian trixie's archive with a private apt configuration, so that
# nothing of the system's apt setup, lists or packages changes. apt checks every file
# against the signed index, as it would for an installed package.
#
#   sh ci/trixie-fetch.sh DIR source PACKAGE SUFFIX...   source files ending in SUFFIX
#   sh ci/trixie-fetch.sh DIR binary PACKAGE              the package's .deb (arch all
#                                                         or this machine's)
#
# DIR holds the private apt state and receives the files; what is there already is
# kept, so a second run does not download again. Prints the path of each file on
# stdout. Exits 0 when every requested file is present, 1 with a reason on stderr
# otherwise (the archive may refuse some files: it served orig tarballs but not every
# package's .dsc or .debian.tar.xz when this was written).
set -u

if [ $# -lt 3 ]; then
   echo "usage: $0 DIR source PACKAGE SUFFIX... | DIR binary PACKAGE" >&2
   exit 2
fi
dir=$1
kind=$2
package=$3
shift 3
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/files" || exit 1
dir=$(cd "$dir" && pwd)

cat >"$dir/trixie.sources" <<EOF
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

apt_private() {
   apt-get -q -o Dir::Etc::sourcelist="$dir/trixie.sources" -o Dir::Etc::sourceparts=- \
      -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" \
      -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

# the index is fetched once per cache directory
if ! ls "$dir/lists/"*_InRelease >/dev/null 2>&1; then
   if ! apt_private update >"$dir/update.log" 2>&1; then
      echo "$0: apt-get update of trixie failed (see $dir/update.log)" >&2
      exit 1
   fi
fi

find_file() {
   # newest matching file, if any
   ls -t "$dir/files/"$1 2>/dev/null | head -n 1
}

status=0
case "$kind" in
source)
   if [ $# -eq 0 ]; then
      echo "$0: name the source files wanted (e.g. .orig.tar.xz)" >&2
      exit 2
   fi
   missing=0
   for suffix in "$@"; do
      [ -n "$(find_file "${package}_*$suffix")" ] || missing=1
   done
   if [ $missing -eq 1 ]; then
      # apt fails as a whole when one file is refused; what it fetched is kept
      (cd "$dir/files" && apt_private source --download-only "$package") \
         >"$dir/source-$package.log" 2>&1
   fi
   for suffix in "$@"; do
      f=$(find_file "${package}_*$suffix")
      if [ -n "$f" ]; then
         echo "$f"
      else
         echo "$0: trixie's archive did not serve ${package}_*$suffix" \
            "(see $dir/source-$package.log)" >&2
         status=1
      fi
   done
   ;;
binary)
   f=$(find_file "${package}_*.deb")
   if [ -z "$f" ]; then
      (cd "$dir/files" && apt_private download "$package") \
         >"$dir/binary-$package.log" 2>&1
      f=$(find_file "${package}_*.deb")
   fi
   if [ -n "$f" ]; then
      echo "$f"
   else
      echo "$0: trixie's archive did not serve the package $package" \
         "(see $dir/binary-$package.log)" >&2
      status=1
   fi
   ;;
*)
   echo "$0: unknown kind '$kind' (source or binary)" >&2
   exit 2
   ;;
esac
exit $status
