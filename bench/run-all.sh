#!/usr/bin/env bash
# Every table of docs/PERFORMANCE.md in one go (as root, with a built module: make -C build).
# N = 10, 100 and 1,000 with 3 runs (mod_md: one run at 1,000), then N = 10,000 once
# (mod_md not run there: extrapolated from its growth), the minimal client's floor included.
# About 25 minutes on a 2-core machine once issuance is fast; bounded by startup.py's
# per-run limits. Output: bench/results/<date>/ (tables in summary.md, raw runs in runs.jsonl).
#
#   sudo bash bench/run-all.sh                 # everything
#   sudo bash bench/run-all.sh --tiny          # 2 vhosts, 1 run, acme+static+client (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
out=${ACME_BENCH_OUT:-bench/results/$(date -u +%Y%m%d-%H%M)}
mkdir -p "$out"
rc=0
if [ "${1:-}" = "--tiny" ]; then
    # must not judge speed: only that every script runs to the end
    timeout --signal=TERM --kill-after=30 240 $PY bench/startup.py --n 2 --runs 1 \
        --modules acme,static,floor --json "$out/runs.jsonl" | tee "$out/summary.md" || rc=1
    timeout --signal=TERM --kill-after=30 120 $PY bench/pebble_floor.py --n 2 --runs 1 \
        | tee -a "$out/summary.md" || rc=1
    exit $rc
fi
timeout --signal=TERM --kill-after=60 3600 $PY bench/startup.py --n 10,100,1000 --runs 3 \
    --md-single-run-from 1000 --json "$out/runs.jsonl" "$@" | tee "$out/summary.md" || rc=1
timeout --signal=TERM --kill-after=60 3600 $PY bench/startup.py --n 10000 --runs 1 \
    --modules acme,static,floor --json "$out/runs-10000.jsonl" \
    --extrapolate-from "$out/runs.jsonl" "$@" \
    | tee "$out/summary-10000.md" || rc=1
echo "run-all.sh: results in $out (exit $rc)"
exit $rc
