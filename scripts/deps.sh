#!/usr/bin/env bash
# Install the Debian packages needed to build and test mod_acme, when missing.
# apt-get update runs only when something must be installed.
set -euo pipefail

PKGS=(build-essential autoconf automake libtool pkg-config
      apache2 apache2-dev libssl-dev libcurl4-openssl-dev libjansson-dev check
      pebble python3 python3-pytest python3-pytest-xdist python3-requests openssl
      dpkg-dev debhelper dh-autoreconf git strace python3-cryptography
      clang libclang-rt-14-dev valgrind   # sanitizers, fuzzing, memcheck (docs/testing.md)
      libaprutil1-dbd-pgsql postgresql-15)   # fleet mode: apr_dbd's pgsql driver; its tests' server

missing=()
for p in "${PKGS[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps.sh: all ${#PKGS[@]} packages installed"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo)
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep package scripts from starting services (Debian's apache2 would start on port 80):
# a temporary policy-rc.d, unless the machine already has one.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
    "${SUDO[@]}" chmod 0755 "$policy"
    added_policy=1
fi
cleanup() {
    if [ "$added_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f "$policy"
    fi
}
trap cleanup EXIT

"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps.sh: done"
