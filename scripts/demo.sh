#!/usr/bin/env bash
# Install what is missing, build, and run mod_acme for real: a local pebble CA and its DNS
# (pebble-challtestsrv), httpd on 127.0.0.1 high ports with one https vhost
# (demo.mod-acme.test, ACME on). Waits (at most 90 s) until the vhost serves a certificate
# issued by pebble, prints it, stops everything. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/build.sh
exec /usr/bin/python3 test/integration/harness.py demo
