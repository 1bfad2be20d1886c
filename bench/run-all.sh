#!/usr/bin/env bash
# Every table of docs/PERFORMANCE.md in one go (as root, with a built module: make -C build).
# N = 1, 10, 100 and 1,000 with 3 runs (mod_md: one run at 1,000), then N = 10,000 once
# (mod_md not run there: extrapolated from its growth), the minimal client's floor included.
# Bounded by startup.py's per-run limits and the timeouts below. Output: bench/results/<date>/: tables.md (every N, by measure), summary*.md
# (each invocation's output, by N), runs*.jsonl (every run).
#
#   sudo bash bench/run-all.sh                 # everything (~40 min, of it ~13 min mod_md at 1,000)
#   sudo bash bench/run-all.sh --quick         # mod_md at 1,000 extrapolated (~30 min)
#   sudo bash bench/run-all.sh --tiny          # 2 vhosts, 1 run, acme+static+client, served_probe (CI)
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
    timeout --signal=TERM --kill-after=30 180 $PY bench/served_probe.py --n 2 --runs 1 \
        | tee -a "$out/summary.md" || rc=1
    exit $rc
fi
md_max=1000
if [ "${1:-}" = "--quick" ]; then
    # mod_md's single run at 1,000 takes ~13 min by itself (it obtains ~2 certificates a
    # second): --quick extrapolates it from 10 and 100 instead
    md_max=100
    shift
fi
timeout --signal=TERM --kill-after=60 3600 $PY bench/startup.py --n 1,10,100,1000 --runs 3 \
    --md-single-run-from 1000 --md-max-n $md_max --restart-window 5 --json "$out/runs.jsonl" "$@" \
    | tee "$out/summary.md" || rc=1
timeout --signal=TERM --kill-after=60 3600 $PY bench/startup.py --n 10000 --runs 1 \
    --modules acme,static,floor --json "$out/runs-10000.jsonl" \
    --extrapolate-from "$out/runs.jsonl" "$@" \
    | tee "$out/summary-10000.md" || rc=1
# every N in one table per measure (what docs/PERFORMANCE.md shows)
$PY bench/startup.py --report "$out/runs.jsonl" "$out/runs-10000.jsonl" > "$out/tables.md" || rc=1
echo "run-all.sh: results in $out: tables.md (by measure), summary*.md (by N) (exit $rc)"
exit $rc
