#!/usr/bin/env bash
# Install what is missing, build with -Werror, run the unit tests (Check), the integration
# tests (pytest; extra arguments are passed to it) and the demo as a smoke test.
# Exits non-zero if anything fails. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/build.sh --enable-werror

failed=()

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
if ! timeout --signal=INT --kill-after=60 1800 \
        /usr/bin/python3 -m pytest -v -p no:cacheprovider -n "${ACME_TEST_JOBS:-4}" \
        --dist loadfile --durations=20 test/integration "$@"; then
    failed+=("integration tests")
fi

echo "=== demo (smoke test)"
if ! timeout --signal=INT --kill-after=30 150 /usr/bin/python3 test/integration/harness.py demo; then
    failed+=("demo")
fi

if [ "${#failed[@]}" -ne 0 ]; then
    echo "test.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all passed"
