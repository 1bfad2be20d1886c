#!/usr/bin/env bash
# Sanitizer and memory checks of the core (and the module).
#   scripts/sanitize.sh build        clang ASan+UBSan build in ./build-asan (unit tests, module,
#                                    libFuzzer targets: the core is also built with
#                                    -fsanitize=fuzzer-no-link so scripts/fuzz.sh reuses it)
#   scripts/sanitize.sh unit         the Check unit tests under ASan+UBSan
#   scripts/sanitize.sh valgrind     the unit tests (regular ./build) under valgrind memcheck
#   scripts/sanitize.sh integration  a subset of the integration tests with the ASan module
#                                    (httpd gets clang's ASan runtime by LD_PRELOAD)
#   scripts/sanitize.sh all          build, unit, valgrind, integration
# Exits non-zero on any sanitizer or valgrind report. Integration needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

ASAN_DIR=build-asan
SAN_CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
# halt on the first report; leaks checked in the unit tests (they free what they allocate)
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export LSAN_OPTIONS="suppressions=$top/scripts/lsan.supp:print_suppressions=0"

# The integration tests run with the module under ASan (see docs/testing.md): issuance
# (account, order, http-01 answers, activation by graceful restart), the http-01 responder,
# the status pages; with ACME_LONG=1 also renewal.
ASAN_INTEGRATION_TESTS=(test/integration/test_issuance.py test/integration/test_challenge.py
                        test/integration/test_status.py)
if [ -n "${ACME_LONG:-}" ]; then
    ASAN_INTEGRATION_TESTS+=(test/integration/test_lifecycle_renewal.py)
fi

asan_runtime() {
    clang -print-file-name=libclang_rt.asan-x86_64.so
}

do_build() {
    [ -x configure ] || autoreconf -fi >/dev/null 2>&1
    mkdir -p "$ASAN_DIR"
    if [ ! -f "$ASAN_DIR/Makefile" ]; then
        (cd "$ASAN_DIR" && CC=clang CFLAGS="$SAN_CFLAGS -fsanitize=fuzzer-no-link" \
            LDFLAGS="-fsanitize=address,undefined" ../configure --quiet)
    fi
    # one goal at a time: "all" recurses, so parallel goals would build the core twice
    make -C "$ASAN_DIR" -j2 all
    make -C "$ASAN_DIR" -j2 test/unit/test_core fuzz-targets
    echo "sanitize.sh: built $top/$ASAN_DIR (ASan+UBSan, clang)"
}

do_unit() {
    [ -x "$ASAN_DIR/test/unit/test_core" ] || do_build
    # fork mode: each test in its own process, as in make check
    if ! timeout --kill-after=30 600 "$ASAN_DIR/test/unit/test_core" > "$ASAN_DIR/unit-asan.log" 2>&1; then
        cat "$ASAN_DIR/unit-asan.log"
        echo "sanitize.sh: unit tests under ASan+UBSan FAILED" >&2
        return 1
    fi
    if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$ASAN_DIR/unit-asan.log"; then
        cat "$ASAN_DIR/unit-asan.log"
        echo "sanitize.sh: sanitizer report in the unit tests" >&2
        return 1
    fi
    grep -h "Checks:" "$ASAN_DIR/unit-asan.log" || true
    echo "sanitize.sh: unit tests under ASan+UBSan clean"
}

do_valgrind() {
    if [ ! -x build/test/unit/test_core ]; then
        bash scripts/build.sh --enable-werror > /dev/null
        make -C build test/unit/test_core > /dev/null
    fi
    # CK_FORK=no: one process, so memcheck sees every test (and one leak summary)
    if ! CK_FORK=no timeout --kill-after=30 900 valgrind --tool=memcheck --error-exitcode=1 \
            --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --suppressions=scripts/valgrind.supp --num-callers=30 \
            build/test/unit/test_core > build/unit-valgrind.log 2>&1; then
        tail -n 80 build/unit-valgrind.log
        echo "sanitize.sh: unit tests under valgrind FAILED" >&2
        return 1
    fi
    grep -h "Checks:\|ERROR SUMMARY\|definitely lost\|indirectly lost" build/unit-valgrind.log || true
    echo "sanitize.sh: unit tests under valgrind clean"
    # the fleet database layer against a real PostgreSQL (skips as make check does: exit 77)
    make -C build test/unit/test_fleet_pg > /dev/null
    FLEET_PG_TEST_BIN=build/test/unit/test_fleet_pg ACME_PGTEST_VALGRIND=$PWD/build/fleet-pg-valgrind.log \
        timeout --kill-after=30 600 bash test/unit/pgsql-test.sh > build/fleet-pg-valgrind.out 2>&1
    case $? in
        0) echo "sanitize.sh: fleet database tests under valgrind clean" ;;
        77) echo "sanitize.sh: fleet database tests under valgrind skipped (no PostgreSQL)" ;;
        *) tail -n 80 build/fleet-pg-valgrind.out build/fleet-pg-valgrind.log
           echo "sanitize.sh: fleet database tests under valgrind FAILED" >&2
           return 1 ;;
    esac
}

do_integration() {
    local rt
    [ -f "$ASAN_DIR/.libs/mod_acme.so" ] || do_build
    rt=$(asan_runtime)
    [ -f "$rt" ] || { echo "sanitize.sh: clang's ASan runtime not found ($rt)" >&2; return 1; }
    # The harness starts httpd with ACME_HTTPD_ENV added to its environment and ASan/UBSan
    # writing reports to ACME_SANITIZER_DIR/<server root>/; a server that left one fails its
    # test when it is stopped, and this function fails if any report exists at the end.
    local reports rc=0
    reports=$(mktemp -d /tmp/acme-sanitizer-XXXXXX)
    chmod 755 "$reports"
    ACME_MODULE="$top/$ASAN_DIR/.libs/mod_acme.so" \
    ACME_HTTPD_ENV="LD_PRELOAD=$rt" \
    ACME_SANITIZER_DIR="$reports" \
        timeout --signal=INT --kill-after=60 1500 \
        /usr/bin/python3 -m pytest -v -p no:cacheprovider "${ASAN_INTEGRATION_TESTS[@]}" "$@" \
        || rc=1
    if [ -n "$(find "$reports" -type f -name 'asan.*' -o -type f -name 'ubsan.*')" ]; then
        find "$reports" -type f -exec sh -c 'echo "--- $1"; head -n 60 "$1"' _ {} \;
        echo "sanitize.sh: sanitizer reports from httpd (kept in $reports)" >&2
        return 1
    fi
    rm -rf "$reports"
    [ $rc -eq 0 ] || { echo "sanitize.sh: integration tests under ASan FAILED" >&2; return 1; }
    echo "sanitize.sh: integration tests under ASan clean: ${ASAN_INTEGRATION_TESTS[*]}"
}

mode=${1:-all}
shift || true
case "$mode" in
    build) do_build ;;
    unit) do_unit ;;
    valgrind) do_valgrind ;;
    integration) do_integration "$@" ;;
    all)
        rc=0
        do_build
        do_unit || rc=1
        do_valgrind || rc=1
        do_integration "$@" || rc=1
        exit $rc ;;
    *) echo "usage: $0 build|unit|valgrind|integration|all" >&2; exit 2 ;;
esac
