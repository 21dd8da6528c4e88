#!/bin/sh
# The main job: installs dependencies, builds virtkfd and runs what exists of the
# guest-facing path. Until the vtest server is in place this is the API smoke program:
# a miniature VMM driving libvirglrenderer.so.1 through the public API.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${VIRTKFD_CI_OUT:-$top/ci-out}
cd "$top"

sh ci/setup.sh
sh ci/build.sh "$out/plain" >/dev/null

echo
echo "The vtest server (server/virtkfd_test_server) and its guest-like client are not"
echo "built yet; running the API smoke program against libvirglrenderer.so.1 instead."
echo
exec "$out/plain/tests/smoke/virtkfd-smoke"
