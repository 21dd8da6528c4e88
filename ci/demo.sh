#!/bin/sh
# The main job: installs dependencies, builds virtkfd, starts the vtest server
# (server/virtkfd_test_server) on the KFD emulator in a temporary socket directory,
# runs the guest-like client's full zero-copy userptr flow against it, prints its
# report, and stops the server. Exits non-zero when any step fails.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${VIRTKFD_CI_OUT:-$top/ci-out}
cd "$top"

sh ci/setup.sh
sh ci/build.sh "$out/plain" >/dev/null

build=$out/plain
server=$build/server/virtkfd_test_server
client=$build/tools/guest-client/virtkfd_vtest_client
kfdsim=$build/tests/kfdsim/libkfdsim.so

dir=$(mktemp -d /tmp/virtkfd-demo-XXXXXX)
pid=""
cleanup() {
   if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      wait "$pid" || true
   fi
   rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Without /dev/kfd the server re-runs itself on the emulator (--kfd-emulator); the
# test-only --debug-commands let the client read back the server's and the GPU's
# view of its memory.
echo "starting $server on $dir/vtest.sock"
"$server" --socket-path "$dir/vtest.sock" --kfd-emulator "$kfdsim" --debug-commands \
   2>"$dir/server.log" &
pid=$!
i=0
while [ ! -S "$dir/vtest.sock" ]; do
   i=$((i + 1))
   if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
      echo "the server did not start:"
      cat "$dir/server.log"
      exit 1
   fi
   sleep 0.05
done

echo
status=0
"$client" --socket-path "$dir/vtest.sock" || status=$?

kill -TERM "$pid"
wait "$pid" || status=$?
pid=""
echo
echo "server log:"
sed 's/^/  /' "$dir/server.log"
if [ -S "$dir/vtest.sock" ]; then
   echo "the server left its socket behind"
   status=1
fi
exit $status
