#!/bin/sh
# scripts/fuzz-run.sh — the long fuzz campaign of `make fuzz`: every libFuzzer
# target of tests/fuzz, built in BUILD_DIR (clang, -DBK_FUZZ=ON), one after
# the other for FUZZ_SECONDS each (600 by default), on a corpus kept in
# BUILD_DIR/corpus/<target> (seeded from tests/fuzz/seeds/<target>, grown by
# every run). Crashing inputs go to BUILD_DIR/crashes/. At the end, a table of
# executions per target (libFuzzer's -print_final_stats=1); exits 1 when a
# target found a crash, a leak or a time-out.
#
#   scripts/fuzz-run.sh BUILD_DIR            FUZZ_SECONDS=N  FUZZ_TARGETS="fuzz_a fuzz_b"
set -u

build=${1:?usage: scripts/fuzz-run.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-600}
case "$seconds" in
'' | *[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a number of seconds, not '$seconds'" >&2; exit 2 ;;
esac
# Every target tests/fuzz/CMakeLists.txt defines (some share a harness:
# fuzz_calendly, fuzz_zoom and fuzz_notion are fuzz_webhook.c).
targets=${FUZZ_TARGETS:-$(sed -n 's/^bk_fuzz\(_from\)\{0,1\}(\(fuzz_[a-z_]*\) .*/\2/p' "$root/tests/fuzz/CMakeLists.txt")}
build=$(cd "$build" && pwd)
logs=$build/logs
mkdir -p "$logs" "$build/crashes"
report=$logs/report.txt
: >"$report"
failed=0
total=$(echo $targets | wc -w)
echo "fuzz: $total targets, ${seconds} s each (FUZZ_SECONDS), corpora in $build/corpus"
for t in $targets; do
    bin=$build/tests/fuzz/$t
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (build the fuzz_all target)" >&2
        exit 2
    fi
    corpus=$build/corpus/$t
    mkdir -p "$corpus"
    if [ -d "$root/tests/fuzz/seeds/$t" ]; then
        cp -n "$root/tests/fuzz/seeds/$t"/* "$corpus"/ 2>/dev/null || true
    fi
    before=$(ls "$corpus" | wc -l)
    echo "fuzz: $t for $seconds s ($before inputs in its corpus)"
    # -max_total_time bounds the fuzzing; timeout(1) the whole process
    # (loading the corpus, a hang libFuzzer's own -timeout misses).
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        LSAN_OPTIONS=suppressions=$root/tests/lsan.supp \
        timeout -k 10 $((seconds + 300)) "$bin" -max_total_time="$seconds" \
        -print_final_stats=1 -max_len=8192 -timeout=5 -rss_limit_mb=1024 \
        -artifact_prefix="$build/crashes/$t-" "$corpus" >"$logs/$t.log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log" | tail -1)
    added=$(sed -n 's/^stat::new_units_added: *//p' "$logs/$t.log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$logs/$t.log" | tail -1)
    after=$(ls "$corpus" | wc -l)
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc, see $logs/$t.log)"
        failed=1
    fi
    printf '%-14s %12s %9s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
        "${added:-?}" "$after" "${rss:-?}" "$result" >>"$report"
done
echo
echo "fuzz: executions per target (${seconds} s each)"
printf '%-14s %12s %9s %8s %8s %8s  %s\n' target execs execs/s "new" corpus "rss MB" result
cat "$report"
if [ "$failed" -ne 0 ]; then
    echo "fuzz: a target failed; its input is under $build/crashes" >&2
    exit 1
fi
