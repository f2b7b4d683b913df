#!/usr/bin/env bash
# bench/ingest/run.sh [BOOKINGD] — throughput of POST /webhooks/calcom:
# verify, store durably (group commit), acknowledge (bench/README.md,
# "bench/ingest"). Prints figures, asserts nothing. Every step is bounded
# in time; the daemon is always stopped.
#
#   BOOKINGD     the binary (default build/release/bookingd; build it
#                without sanitizers to measure)
#   DURATION     seconds of load (default 10)
#   COUNT        distinct pre-signed deliveries (default 60000); when wrk
#                sends more than that, the rest are replays ("duplicate")
#   CONNECTIONS  wrk connections (default 64), THREADS wrk threads (default 2)
#   DRAIN        seconds to wait afterwards for the workers to apply what
#                was stored (default 120; 0 skips)
#   WORKERS      BOOKINGD_WORKERS of the daemon (default: the daemon's, 2)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-$root/build/release/bookingd}
duration=${DURATION:-10}
count=${COUNT:-60000}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
drain=${DRAIN:-120}

die() { echo "bench/ingest: $*" >&2; exit 2; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
[ -x "$bin" ] || die "no executable $bin (build it: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build/release --target bookingd)"
for tool in wrk python3 sqlite3 curl timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh bench)"
done
case "$duration$count$connections$threads$drain" in
*[!0-9]*) die "DURATION, COUNT, CONNECTIONS, THREADS and DRAIN are whole numbers" ;;
esac
python=/usr/bin/python3
[ -x "$python" ] || python=python3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bookingd-ingest.XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "bench/ingest: the daemon ignored SIGTERM for 10 s; SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db=$tmp/bookingd.db
secret=bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

echo "bench/ingest: $bin, ${duration}s, $connections connections, $threads threads, $count distinct deliveries"
echo "bench/ingest: signing $count Cal.com BOOKING_CREATED bodies ..."
t0=$(date +%s.%N)
timeout 600 "$python" "$here/sign.py" --secret "$secret" --count "$count" \
    --out "$tmp/bodies.tsv"
t1=$(date +%s.%N)
printf 'bench/ingest: signed in %s s (%s bytes)\n' \
    "$(calc '%.1f' "$t1 - $t0")" "$(stat -c %s "$tmp/bodies.tsv")"

env_workers=()
[ -n "${WORKERS:-}" ] && env_workers=(BOOKINGD_WORKERS="$WORKERS")
admin_key=bench-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts the daemon on $port; returns 1 when the port turns out to be
# another process's too (bookingd listens with SO_REUSEPORT, so a second
# listener on the same port starts and shares the connections).
start_daemon() {
    env -u BOOKINGD_FAULTS \
        BOOKINGD_DATABASE="sqlite:$db" BOOKINGD_LISTEN="127.0.0.1:$port" \
        BOOKINGD_ADMIN_KEY="$admin_key" BOOKINGD_LOG_LEVEL=warn \
        CALCOM_WEBHOOK_SECRET="$secret" "${env_workers[@]}" \
        "$bin" serve >"$tmp/serve.out" 2>"$tmp/serve.err" &
    pid=$!
    local ready=
    for _ in $(seq 300); do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$tmp/serve.err" >&2
            die "the daemon exited at start"
        fi
        if curl -fsS --max-time 1 "$url/healthz" >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.1
    done
    [ -n "$ready" ] || die "the daemon did not answer /healthz within 30 s"
    for _ in $(seq 8); do
        code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 \
            -H "Authorization: Bearer $admin_key" "$url/api/v1/hosts?limit=1" || true)
        [ "$code" = 200 ] || return 1
    done
}

started=
for _ in 1 2 3 4 5; do
    port=$(free_port)
    url=http://127.0.0.1:$port
    if start_daemon; then
        started=1
        break
    fi
    echo "bench/ingest: port $port is shared with another listener; another port" >&2
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
    rm -f "$db" "$db-wal" "$db-shm"
done
[ -n "$started" ] || die "found no port of its own in 5 tries"

q() { sqlite3 -readonly "file:$db?mode=ro" "$1"; }

echo "bench/ingest: wrk -t$threads -c$connections -d${duration}s --latency $url/webhooks/calcom"
timeout $((duration + 60)) wrk -t"$threads" -c"$connections" -d"${duration}s" \
    --timeout 10s --latency -s "$here/replay.lua" "$url/webhooks/calcom" \
    -- "$tmp/bodies.tsv" "$threads" | tee "$tmp/wrk.out"
t_end=$(date +%s.%N)

figure() { awk -v k="$1" '$1 == "INGEST" && $2 == k { print $3 }' "$tmp/wrk.out"; }
stored=$(q "SELECT count(*) FROM inbox")
received=$(q "SELECT count(*) FROM inbox WHERE status = 0")
# The daemon's own count of inbox transactions (GET /metrics).
batches=$(curl -sS --max-time 5 -H "Authorization: Bearer $admin_key" \
    "$url/metrics" | awk '$1 == "bookingd_inbox_batches_total" { print $2 }')
[ -n "$batches" ] || batches=0
span_ms=$(q "SELECT coalesce(max(received_ms) - min(received_ms), 0) FROM inbox")
ok=$(figure answered_2xx)
dup=$(figure duplicates)
secs=$(figure seconds)

echo
echo "== bench/ingest: Cal.com deliveries (POST /webhooks/calcom) =="
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
printf '%-40s %s of %s\n' "applied during the load" \
    "$(q "SELECT count(*) FROM inbox WHERE status = 1")" "$stored"
if [ "${dup:-0}" -gt 0 ]; then
    echo "note: wrk sent more than COUNT=$count bodies; the rest were replays"
fi

if [ "$drain" -gt 0 ] && [ "$received" -gt 0 ]; then
    deadline=$(( $(date +%s) + drain ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        left=$(q "SELECT count(*) FROM inbox WHERE status = 0")
        [ "$left" -eq 0 ] && break
        sleep 0.5
    done
    t_drained=$(date +%s.%N)
    left=$(q "SELECT count(*) FROM inbox WHERE status = 0")
    applied=$(q "SELECT count(*) FROM inbox WHERE status = 1")
    printf '%-40s %s applied, %s still pending, %s s after the load\n' \
        "applying (BOOKINGD_WORKERS)" "$applied" "$left" \
        "$(calc '%.1f' "$t_drained - $t_end")"
    printf '%-40s %s\n' "bookings in the ledger" \
        "$(q "SELECT count(*) FROM bookings")"
fi
printf '%-40s %s ms of receipt times over %s s of load\n' "inbox span" \
    "$span_ms" "$secs"
if grep -q -i -E "error|fatal" "$tmp/serve.err"; then
    echo "daemon errors (first 5):"
    grep -i -E "error|fatal" "$tmp/serve.err" | head -5
fi
