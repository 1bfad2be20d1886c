#!/usr/bin/env bash
# The fleet database layer (acme_fleet_db.c) against a real PostgreSQL 15: starts a
# throwaway server (initdb in a temp dir, as the postgres user, 127.0.0.1 and a free high
# port, unix socket in the temp dir), runs test/unit/test_fleet_pg against it, and stops it
# on every exit path. Run by `make check`.
# Without PostgreSQL (or not as root) it skips (exit 77), except in CI (CI=true), where it
# fails: CI installs postgresql-15 (scripts/deps.sh) and must run these tests.
# Environment: FLEET_PG_TEST_BIN (the test binary; make check sets it), PG_BIN (default
# /usr/lib/postgresql/15/bin), ACME_PGTEST_VALGRIND=LOGFILE (run it under valgrind memcheck,
# as scripts/sanitize.sh valgrind does).
set -u

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BIN=${FLEET_PG_TEST_BIN:-$(dirname "$0")/test_fleet_pg}

skip() {
    if [ "${CI:-}" = true ]; then
        echo "pgsql-test.sh: FAIL (CI=true, so no skipping): $*" >&2
        exit 1
    fi
    echo "pgsql-test.sh: SKIP: $*" >&2
    exit 77
}

[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] || skip "no PostgreSQL 15 in $PG_BIN (install postgresql-15)"
[ "$(id -u)" -eq 0 ] || skip "not root (the test server runs as the postgres user)"
id postgres >/dev/null 2>&1 || skip "no postgres user"
[ -x "$BIN" ] || { echo "pgsql-test.sh: no test binary $BIN" >&2; exit 1; }

tmp=$(mktemp -d /tmp/acme-pgtest.XXXXXX)
chown postgres: "$tmp"
chmod 0700 "$tmp"
data=$tmp/data
as_pg() { runuser -u postgres -- "$@"; }

stop_pg() {
    if [ -f "$data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 20 stop >/dev/null 2>&1 || {
            pid=$(head -1 "$data/postmaster.pid" 2>/dev/null)
            [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
        }
    fi
}
cleanup() {
    stop_pg
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
[ -n "$port" ] || skip "no free port"

if ! as_pg "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --no-sync >"$tmp/initdb.log" 2>&1; then
    cat "$tmp/initdb.log" >&2
    skip "initdb failed"
fi

OPTS="-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c max_connections=40"
START="runuser -u postgres -- $PG_BIN/pg_ctl -D $data -l $tmp/server.log -w -t 30 -o '$OPTS' start"
STOP="runuser -u postgres -- $PG_BIN/pg_ctl -D $data -m fast -w -t 30 stop"
if ! sh -c "$START" >/dev/null 2>&1; then
    cat "$tmp/server.log" >&2
    skip "postgres did not start"
fi

PSQL="runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -h $tmp -p $port"
password="s3cret-'pw\\x"
for db in acme acme_conc acme_new acme_seq; do
    $PSQL -d postgres -c "CREATE DATABASE $db" >/dev/null || skip "createdb $db failed"
done
$PSQL -d postgres -c "CREATE USER acme PASSWORD 's3cret-''pw\\x'" >/dev/null || skip "create user failed"
for db in acme acme_conc acme_new acme_seq; do
    $PSQL -d postgres -c "ALTER DATABASE $db OWNER TO acme" >/dev/null
    $PSQL -d "$db" -c "GRANT ALL ON SCHEMA public TO acme" >/dev/null
done
# acme_ro: may connect, may not create tables (PostgreSQL 15's default for public)
$PSQL -d postgres -c "CREATE DATABASE acme_ro" >/dev/null || skip "createdb acme_ro failed"

export ACME_PGTEST_CONNINFO="host=127.0.0.1 port=$port user=acme dbname=acme"
export ACME_PGTEST_PASSWORD="$password"
export ACME_PGTEST_PORT="$port"
export ACME_PGTEST_PSQL="$PSQL"
export ACME_PGTEST_START="$START"
export ACME_PGTEST_STOP="$STOP"
if [ -n "${ACME_PGTEST_VALGRIND:-}" ]; then
    # one process (CK_FORK=no) under memcheck: reconnects and threads leak nothing
    CK_FORK=no valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --child-silent-after-fork=yes \
        --suppressions="$(dirname "$0")/../../scripts/valgrind.supp" --num-callers=30 \
        --log-file="$ACME_PGTEST_VALGRIND" "$BIN"
    rc=$?
    grep -h "ERROR SUMMARY\|definitely lost\|indirectly lost" "$ACME_PGTEST_VALGRIND"
else
    "$BIN"
    rc=$?
fi
if [ "$rc" -ne 0 ]; then
    echo "pgsql-test.sh: tests failed (rc $rc); server log:" >&2
    tail -30 "$tmp/server.log" >&2
fi
exit "$rc"
