#!/usr/bin/env bash
# libFuzzer run of every target in fuzz/: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# (default 60 s each, all targets). Builds ./build-asan with clang (scripts/sanitize.sh build),
# replays the seed corpus fuzz/corpus/<target>/ first (it holds the regression inputs of
# every crash found so far), then fuzzes each target for the given time with
# ASan+UBSan. New inputs go to build-asan/fuzz-corpus/<target>/ (the repository's corpus
# is not modified); a crash leaves build-asan/fuzz-artifacts/<target>-crash-* and makes the
# script fail. Prints the number of executions per target.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -ne 0 ] || targets=(fuzz_acme fuzz_problem fuzz_headers fuzz_pem fuzz_config)

mkdir -p build-asan
bash scripts/sanitize.sh build > build-asan/build.log 2>&1 || { tail -n 60 build-asan/build.log; exit 1; }
export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$top/scripts/lsan.supp:print_suppressions=0"

out=build-asan
# fuzz_acme's per-input stores: on tmpfs when there is one (the store fsyncs), removed at the
# end even when an input crashed mid-run
FUZZ_TMPDIR=$(mktemp -d "$( [ -w /dev/shm ] && echo /dev/shm || echo /tmp )/acme-fuzz-run-XXXXXX")
export FUZZ_TMPDIR
trap 'rm -rf "$FUZZ_TMPDIR"' EXIT
mkdir -p "$out/fuzz-artifacts" "$out/fuzz-logs"
failed=()
summary=()
for t in "${targets[@]}"; do
    bin="$out/fuzz/$t"
    seeds="fuzz/corpus/$t"
    work="$out/fuzz-corpus/$t"
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    [ -f "fuzz/$t.dict" ] || { [ -f fuzz/acme.dict ] && dict=(-dict=fuzz/acme.dict); }
    mkdir -p "$work"
    echo "=== $t: replay $(ls "$seeds" | wc -l) seed inputs"
    if ! timeout --kill-after=10 300 "$bin" -runs=0 "${dict[@]}" "$seeds" \
            > "$out/fuzz-logs/$t-replay.log" 2>&1; then
        tail -n 60 "$out/fuzz-logs/$t-replay.log"
        failed+=("$t (corpus replay)")
        continue
    fi
    echo "=== $t: fuzz for ${seconds}s"
    # -timeout: one input taking over 10 s counts as a hang (reported like a crash)
    if ! timeout --kill-after=30 $((seconds + 120)) "$bin" -max_total_time="$seconds" \
            -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
            -artifact_prefix="$out/fuzz-artifacts/$t-" "${dict[@]}" "$work" "$seeds" \
            > "$out/fuzz-logs/$t.log" 2>&1; then
        tail -n 60 "$out/fuzz-logs/$t.log"
        failed+=("$t")
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz-logs/$t.log" | tail -1)
    summary+=("$t: ${execs:-?} executions in ${seconds}s")
done

echo "=== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
    echo "fuzz.sh: FAILED: ${failed[*]} (inputs in $out/fuzz-artifacts/)" >&2
    exit 1
fi
echo "fuzz.sh: no crash"
