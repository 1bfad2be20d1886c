#!/usr/bin/env bash
# Build mod_acme out of tree in ./build; extra arguments go to configure
# (e.g. --enable-werror). The module ends up at build/.libs/mod_acme.so.
set -euo pipefail
cd "$(dirname "$0")/.."

autoreconf -fi
mkdir -p build
cd build
../configure "$@"
make -j"$(nproc)"
if [ ! -f .libs/mod_acme.so ]; then
    echo "build.sh: build/.libs/mod_acme.so was not built" >&2
    exit 1
fi
echo "build.sh: built $(pwd)/.libs/mod_acme.so"
