#!/usr/bin/env bash
# Fetch Debian unstable's pebble (2.10: profiles, ARI, EAB, IP identifiers, dns-persist-01)
# into a local cache directory, without changing the machine's apt sources: a private apt
# configuration (its own sources list, lists and cache) that names the same Debian mirror
# the machine already uses, with the suite "sid". Its binary needs only libc, so it runs on
# Debian 12. Prints the path of the pebble binary. Keep Debian 12's pebble-challtestsrv
# (the newer one renamed -dns01).
#
# Usage: scripts/pebble-sid.sh [CACHE_DIR]   (default: $ACME_PEBBLE_CACHE or
#        /var/cache/mod_acme-test/pebble-sid). Run as root or with a writable CACHE_DIR.
set -euo pipefail

cache=${1:-${ACME_PEBBLE_CACHE:-/var/cache/mod_acme-test/pebble-sid}}
bin="$cache/root/usr/bin/pebble"
if [ -x "$bin" ] && [ -n "$(find "$bin" -mtime -7 2>/dev/null)" ]; then
    echo "$bin"
    exit 0
fi

# The mirror this machine's apt already uses for Debian's main archive (not -security).
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    mirror=$(awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm([ \n]|$)/ && !/security/ {
                 if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH);
                   sub(/URIs:[ \t]*/, "", s); print s; exit } }' "$f")
    [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++)
                 if ($i ~ /^(https?|file):/) { print $i; exit } }' /etc/apt/sources.list)
fi
if [ -z "$mirror" ]; then
    echo "pebble-sid.sh: no Debian mirror found in /etc/apt/sources.list(.d)" >&2
    exit 1
fi

mkdir -p "$cache/lists/partial" "$cache/cache/archives/partial" "$cache/etc" "$cache/deb"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" \
    > "$cache/etc/sources.list"
apt_opts=(-q -o "Dir::Etc::sourcelist=$cache/etc/sources.list" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$cache/lists" -o "Dir::Cache=$cache/cache"
          -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update >&2
(cd "$cache/deb" && rm -f pebble_*.deb && apt-get "${apt_opts[@]}" download pebble >&2)
rm -rf "$cache/root"
dpkg-deb -x "$cache"/deb/pebble_*.deb "$cache/root"
touch "$bin"
echo "$bin"
