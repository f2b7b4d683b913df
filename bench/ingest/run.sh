#!/usr/bin/env bash
# bench/ingest/run.sh [--database sqlite|postgres|both] [BOOKINGD] —
# throughput of POST /webhooks/calcom: verify, store durably (group commit),
# acknowledge (bench/README.md, "bench/ingest"). Prints figures, asserts
# nothing. Every step is bounded in time; the daemon and the PostgreSQL
# server are always stopped.
#
#   --database   which store to measure (default both, SQLite first); each
#                run gets a fresh database (PostgreSQL: a throwaway server
#                from scripts/pg-test.sh, durable, see bench/lib.sh)
#   BOOKINGD     the binary (default build/release/bookingd; build it
#                without sanitizers to measure)
#   DURATION     seconds of load (default 10)
#   COUNT        distinct pre-signed deliveries (default 60000); when wrk
#                sends more than that, the rest are replays ("duplicate")
#   CONNECTIONS  wrk connections (default 64), THREADS wrk threads (default 2)
#   DRAIN        seconds to wait afterwards for the workers to apply what
#                was stored (default 120; 0 skips)
#   WORKERS      BOOKINGD_WORKERS of the daemon (default: the daemon's, 2)
#   BACKLOG      1: the deliveries' apply jobs are held during the load
#                (PostgreSQL: no workers; SQLite, where the daemon refuses
#                to run without: a trigger of the bench's own database
#                moves their due time an hour on), then the daemon
#                restarts with APPLY_WORKERS (default 2) and applies the
#                backlog alone: the apply rate without the intake
set -euo pipefail

BENCH_NAME=ingest
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

database=both
while [ $# -gt 0 ]; do
    case "$1" in
    --database) [ $# -ge 2 ] || die "--database needs a value"; database=$2; shift 2 ;;
    --database=*) database=${1#*=}; shift ;;
    -*) die "unknown option $1 (usage: run.sh [--database sqlite|postgres|both] [BOOKINGD])" ;;
    *) break ;;
    esac
done
backends=$(bench_backends "$database")
BENCH_BIN=${1:-$bench_root/build/release/bookingd}
duration=${DURATION:-10}
count=${COUNT:-60000}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
drain=${DRAIN:-120}
backlog=${BACKLOG:-0}
apply_workers=${APPLY_WORKERS:-2}

[ -x "$BENCH_BIN" ] || die "no executable $BENCH_BIN (build it: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build/release --target bookingd)"
for tool in wrk python3 sqlite3 curl timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh bench)"
done
case "$duration$count$connections$threads$drain" in
*[!0-9]*) die "DURATION, COUNT, CONNECTIONS, THREADS and DRAIN are whole numbers" ;;
esac

bench_init
tmp=$BENCH_TMP
secret=bench-$(token)

echo "bench/ingest: $BENCH_BIN, ${duration}s, $connections connections, $threads threads, $count distinct deliveries, on: $backends"
echo "bench/ingest: signing $count Cal.com BOOKING_CREATED bodies ..."
t0=$(date +%s.%N)
timeout 600 "$bench_python" "$here/sign.py" --secret "$secret" --count "$count" \
    --out "$tmp/bodies.tsv"
t1=$(date +%s.%N)
printf 'bench/ingest: signed in %s s (%s bytes)\n' \
    "$(calc '%.1f' "$t1 - $t0")" "$(stat -c %s "$tmp/bodies.tsv")"

env_workers=()
[ -n "${WORKERS:-}" ] && env_workers=(BOOKINGD_WORKERS="$WORKERS")

# sql_write STATEMENT: a change to the bench's own database (BACKLOG).
sql_write() {
    case "$BENCH_BACKEND" in
    sqlite) sqlite3 -cmd ".timeout 10000" "${BENCH_DB#sqlite:}" "$1" >/dev/null ;;
    postgres) psql -X -q -v ON_ERROR_STOP=1 "$BENCH_DB" -c "$1" >/dev/null ;;
    esac
}

# run BACKEND: one measurement on a fresh database of BACKEND.
run() {
    bench_database "$1" "bench_ingest"
    if [ "$backlog" = 1 ] && [ "$1" = postgres ]; then
        bench_daemon_start CALCOM_WEBHOOK_SECRET="$secret" BOOKINGD_WORKERS=0
    else
        bench_daemon_start CALCOM_WEBHOOK_SECRET="$secret" "${env_workers[@]}"
    fi
    if [ "$backlog" = 1 ] && [ "$1" = sqlite ]; then
        sql_write "CREATE TRIGGER bench_hold AFTER INSERT ON jobs
             WHEN NEW.kind = 'inbox.apply'
             BEGIN UPDATE jobs SET run_at_ms = NEW.run_at_ms + 3600000
                   WHERE id = NEW.id; END"
    fi
    local url=$BENCH_URL

    echo
    echo "bench/ingest [$1]: wrk -t$threads -c$connections -d${duration}s --latency $url/webhooks/calcom"
    timeout $((duration + 60)) wrk -t"$threads" -c"$connections" -d"${duration}s" \
        --timeout 10s --latency -s "$here/replay.lua" "$url/webhooks/calcom" \
        -- "$tmp/bodies.tsv" "$threads" >"$tmp/wrk.out"
    sed -n '/^Running/,/^Transfer/p' "$tmp/wrk.out"
    local t_end
    t_end=$(date +%s.%N)

    figure() { awk -v k="$1" '$1 == "INGEST" && $2 == k { print $3 }' "$tmp/wrk.out"; }
    local stored received batches span_ms ok dup secs applied_load
    stored=$(sql "SELECT count(*) FROM inbox")
    received=$(sql "SELECT count(*) FROM inbox WHERE status = 0")
    applied_load=$(sql "SELECT count(*) FROM inbox WHERE status = 1")
    # The daemon's own count of inbox transactions (GET /metrics).
    batches=$(curl -sS --max-time 5 -H "Authorization: Bearer $BENCH_ADMIN_KEY" \
        "$url/metrics" | awk '$1 == "bookingd_inbox_batches_total" { print $2 }')
    [ -n "$batches" ] || batches=0
    span_ms=$(sql "SELECT coalesce(max(received_ms) - min(received_ms), 0) FROM inbox")
    ok=$(figure answered_2xx)
    dup=$(figure duplicates)
    secs=$(figure seconds)

    echo
    echo "== bench/ingest [$1]: Cal.com deliveries (POST /webhooks/calcom) =="
    printf '%-40s %s\n' "deliveries acknowledged/s (2xx, new)" "$(figure new_per_s)"
    printf '%-40s %s\n' "requests/s (all 2xx)" "$(calc '%.0f' "$ok / $secs")"
    printf '%-40s %s / %s / %s / %s ms\n' "latency p50 / p90 / p99 / p99.9" \
        "$(figure latency_p50_ms)" "$(figure latency_p90_ms)" \
        "$(figure latency_p99_ms)" "$(figure latency_p99.9_ms)"
    printf '%-40s %s\n' "acknowledged (2xx)" "$ok"
    printf '%-40s %s\n' "  of which replays (\"duplicate\")" "$dup"
    printf '%-40s %s\n' "  new deliveries acknowledged" "$((ok - dup))"
    printf '%-40s %s\n' "stored in the inbox table" "$stored"
    printf '%-40s %s / %s (%s)\n' "not 2xx / socket errors" \
        "$(figure not_2xx)" "$(figure socket_errors)" \
        "$(figure socket_errors_detail)"
    if [ "$stored" -gt 0 ] && [ "$batches" -gt 0 ]; then
        printf '%-40s %s (%s deliveries per commit on average)\n' \
            "group-commit transactions" "$batches" \
            "$(calc '%.1f' "$stored / $batches")"
    fi
    printf '%-40s %s of %s\n' "applied during the load" "$applied_load" "$stored"
    if [ "${dup:-0}" -gt 0 ]; then
        echo "note: wrk sent more than COUNT=$count bodies; the rest were replays"
    fi

    if [ "$drain" -gt 0 ] && [ "$received" -gt 0 ]; then
        local deadline left applied t_drained
        if [ "$backlog" = 1 ]; then
            # The backlog alone: the start-up counts (the workers begin at
            # once).
            bench_daemon_stop
            if [ "$1" = sqlite ]; then
                sql_write "DROP TRIGGER bench_hold"
            fi
            sql_write "UPDATE jobs SET run_at_ms = 0
                 WHERE kind = 'inbox.apply' AND status = 0"
            t_end=$(date +%s.%N)
            bench_daemon_try CALCOM_WEBHOOK_SECRET="$secret" \
                BOOKINGD_WORKERS="$apply_workers" ||
                die "the daemon did not restart"
        fi
        deadline=$(($(date +%s) + drain))
        while [ "$(date +%s)" -lt "$deadline" ]; do
            left=$(sql "SELECT count(*) FROM inbox WHERE status = 0")
            [ "$left" -eq 0 ] && break
            sleep 0.5
        done
        t_drained=$(date +%s.%N)
        left=$(sql "SELECT count(*) FROM inbox WHERE status = 0")
        applied=$(sql "SELECT count(*) FROM inbox WHERE status = 1")
        printf '%-40s %s applied, %s still pending, %s s after the load (%s/s)\n' \
            "applying (BOOKINGD_WORKERS)" "$applied" "$left" \
            "$(calc '%.1f' "$t_drained - $t_end")" \
            "$(calc '%.0f' "($applied - $applied_load) / ($t_drained - $t_end)")"
        printf '%-40s %s\n' "bookings in the ledger" \
            "$(sql "SELECT count(*) FROM bookings")"
    fi
    printf '%-40s %s ms of receipt times over %s s of load\n' "inbox span" \
        "$span_ms" "$secs"
    bench_daemon_errors
    bench_daemon_stop
}

for backend in $backends; do
    run "$backend"
done
