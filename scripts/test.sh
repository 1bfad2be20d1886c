#!/usr/bin/env bash
# Install what is missing, build with -Werror, run the unit tests (Check), the integration
# tests (pytest; extra arguments are passed to it) against pebble 2.10 and their
# compatibility subset (-m compat) against Debian 12's pebble 2.4, and the demo as a smoke test.
# Exits non-zero if anything fails. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/build.sh --enable-werror

failed=()

# The suite's CA: Debian unstable's pebble 2.10 (ARI, profiles, EAB, alternate roots), fetched
# into a cache by scripts/pebble-sid.sh (private apt configuration, the machine's own mirror,
# its apt sources untouched). PEBBLE set by the caller wins. Without 2.10 the suite runs on
# Debian 12's pebble 2.4, skips the tests marked pebble210, and test.sh fails.
PEBBLE24=/usr/bin/pebble
if [ -z "${PEBBLE:-}" ]; then
    if PEBBLE=$(timeout --kill-after=30 600 bash scripts/pebble-sid.sh); then
        :
    else
        echo "test.sh: fetching pebble 2.10 failed: the suite runs on Debian 12's pebble 2.4" >&2
        failed+=("pebble 2.10 fetch")
        PEBBLE=$PEBBLE24
    fi
fi
export PEBBLE
echo "=== CA: pebble $PEBBLE (compatibility subset: $PEBBLE24)"

echo "=== unit tests (make check)"
if ! timeout --kill-after=30 300 make -C build check; then
    failed+=("unit tests")
    cat build/test-suite.log 2>/dev/null || true
fi
# Check's own summary line ("100%: Checks: N, Failures: 0, Errors: 0")
grep -h "Checks:" build/test/unit/test_core.log 2>/dev/null || true

echo "=== integration tests (pytest, ${ACME_TEST_JOBS:-4} files at a time)"
# Test files are independent (each starts its own pebble, challtestsrv and httpd on free
# loopback ports): pytest-xdist runs ACME_TEST_JOBS of them at once (most of their time is
# waiting for the CA and for restarts, so more jobs than cores pays off).
# SIGINT on timeout: pytest's finalizers stop every server it started.
mkdir -p build
if ! timeout --signal=INT --kill-after=60 1800 \
        /usr/bin/python3 -m pytest -v -p no:cacheprovider -n "${ACME_TEST_JOBS:-4}" \
        --dist loadfile --durations=20 test/integration "$@" 2>&1 | tee build/pytest-main.log
then
    failed+=("integration tests")
fi

echo "=== integration tests, compatibility subset on Debian 12's pebble 2.4 (-m compat)"
# Issuance, renewal without ARI, challenges: the default configuration keeps working with a
# CA without ARI and profiles.
if ! PEBBLE=$PEBBLE24 timeout --signal=INT --kill-after=60 900 \
        /usr/bin/python3 -m pytest -v -p no:cacheprovider -n "${ACME_TEST_JOBS:-4}" \
        --dist loadfile -m compat test/integration "$@" 2>&1 | tee build/pytest-compat.log
then
    failed+=("integration tests on pebble 2.4 (compat)")
fi
pytest_result() {
    grep -E '^=+ .*(passed|failed|error).* in ' "$1" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//'
}
echo "=== integration results"
echo "pebble $PEBBLE: $(pytest_result build/pytest-main.log)"
echo "pebble $PEBBLE24 (-m compat): $(pytest_result build/pytest-compat.log)"

echo "=== demo (smoke test)"
if ! timeout --signal=INT --kill-after=30 150 /usr/bin/python3 test/integration/harness.py demo; then
    failed+=("demo")
fi

echo "=== bench scripts at a tiny size (bench/run-all.sh --tiny: 2 vhosts, 1 run; speed not judged)"
# Only that bench/startup.py (mod_acme, static floor, minimal client), bench/pebble_floor.py and
# bench/served_probe.py run to the end, so they cannot rot; about a minute.
if ! ACME_BENCH_OUT=build/bench-tiny timeout --signal=TERM --kill-after=30 420 \
        bash bench/run-all.sh --tiny; then
    failed+=("bench scripts (tiny)")
fi

echo "=== sanitizers and fuzzing (scripts/sanitize.sh, scripts/fuzz.sh; docs/testing.md)"
# ASan+UBSan build with clang in build-asan/, the unit tests under it and under valgrind, the
# module under ASan in three integration test files, every fuzz target 10 s after replaying
# its corpus. ACME_LONG=1 (make check-long): renewal under ASan too, 300 s per fuzz target.
fuzz_seconds=10
[ -z "${ACME_LONG:-}" ] || fuzz_seconds=300
if ! timeout --kill-after=30 900 bash scripts/sanitize.sh build > build/sanitize-build.log 2>&1; then
    tail -n 40 build/sanitize-build.log
    failed+=("ASan build")
else
    timeout --kill-after=30 600 bash scripts/sanitize.sh unit || failed+=("unit tests under ASan+UBSan")
    timeout --kill-after=30 900 bash scripts/sanitize.sh valgrind || failed+=("unit tests under valgrind")
    timeout --signal=INT --kill-after=60 1800 bash scripts/sanitize.sh integration \
        || failed+=("integration tests under ASan")
    timeout --kill-after=60 $((fuzz_seconds * 5 + 600)) bash scripts/fuzz.sh "$fuzz_seconds" \
        || failed+=("fuzzing")
fi

if [ "${#failed[@]}" -ne 0 ]; then
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all passed"
