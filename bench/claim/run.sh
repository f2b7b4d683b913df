#!/usr/bin/env bash
# bench/claim/run.sh [--database sqlite|postgres|both] [BOOKINGD] — booking
# claims through POST /api/v1/bookings (bench/README.md, "bench/claim"):
# (a) parallel clients booking distinct slots of one host (wrk), (b) all
# clients racing for one slot per round (race.py). Prints figures and what
# came back, asserts nothing. Every step is bounded in time; the daemon and
# the PostgreSQL server are always stopped.
#
#   --database   which store to measure (default both, SQLite first); each
#                backend gets a fresh database (PostgreSQL: a throwaway
#                server from scripts/pg-test.sh, durable, see bench/lib.sh)
#   BOOKINGD     the binary (default build/release/bookingd)
#   CLIENTS      client counts, each measured in (a) and (b) (default "8 32")
#   DURATION     seconds of load of each (a) run (default 8)
#   ROUNDS       rounds of each (b) run (default 200), at most
#   RACE_SECONDS seconds of each (b) run (default 15), at most
set -euo pipefail

BENCH_NAME=claim
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
clients=${CLIENTS:-8 32}
duration=${DURATION:-8}
rounds=${ROUNDS:-200}
race_seconds=${RACE_SECONDS:-15}

[ -x "$BENCH_BIN" ] || die "no executable $BENCH_BIN (build it: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build/release --target bookingd)"
for tool in wrk python3 sqlite3 curl timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh bench)"
done
case "$duration$rounds$race_seconds$(echo $clients | tr -d ' ')" in
*[!0-9]*) die "CLIENTS, DURATION, ROUNDS and RACE_SECONDS are whole numbers" ;;
esac
for c in $clients; do
    [ "$c" -ge 1 ] && [ "$c" -le 256 ] || die "a client count is 1 to 256"
done

bench_init

# One host per run, so that no run books next to another's bookings: open
# all week, 00:00-24:00 UTC, one 5-minute event type without notice and a
# year's horizon (105,120 slots). Host and event type "d<N>" for the
# distinct-slot run with N clients, "r<N>" for the race.
step=300
first=$(( ($(date +%s) / 86400 + 1) * 86400 ))   # tomorrow 00:00 UTC
"$bench_python" - "$BENCH_TMP/catalog.json" $clients <<'PY'
import json, sys
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
hosts, ets = [], []
for n in sys.argv[2:]:
    for kind in ("d", "r"):
        slug = f"{kind}{n}"
        hosts.append({"slug": slug, "name": f"Bench host {slug}",
                      "email": f"{slug}@example.com", "timezone": "UTC",
                      "schedule": {"timezone": "UTC", "weekly": [
                          {"day": d, "start": "00:00", "end": "24:00"}
                          for d in days]}})
        ets.append({"slug": slug, "title": f"Bench claim {slug}",
                    "host": slug, "duration_minutes": 5,
                    "minimum_notice_minutes": 0, "horizon_days": 365})
json.dump({"hosts": hosts, "event_types": ets},
          open(sys.argv[1], "w"), indent=1)
PY

echo "bench/claim: $BENCH_BIN, clients: $clients; (a) ${duration}s each, (b) $rounds rounds or ${race_seconds}s each; on: $backends"

# ledger SLUG: what the ledger holds for event type SLUG.
ledger() {
    local et="(SELECT id FROM event_types WHERE slug = '$1')"
    printf '%-40s %s\n' "bookings in the ledger" \
        "$(sql "SELECT count(*) FROM bookings WHERE event_type_id = $et")"
    printf '%-40s %s\n' "starts booked more than once" \
        "$(sql "SELECT count(*) FROM (SELECT start_utc FROM bookings
                WHERE event_type_id = $et AND status = 0
                GROUP BY start_utc HAVING count(*) > 1) AS twice")"
}

distinct() {
    local n=$1 t=$(( $1 < 2 ? 1 : 2 ))
    echo
    echo "bench/claim [$BENCH_BACKEND]: wrk -t$t -c$n -d${duration}s --latency (distinct slots of host d$n)"
    timeout $((duration + 60)) wrk -t"$t" -c"$n" -d"${duration}s" \
        --timeout 10s --latency -s "$here/distinct.lua" \
        "$BENCH_URL/api/v1/bookings" -- "d$n" "$first" "$step" "$t" \
        >"$BENCH_TMP/wrk.out"
    figure() { awk -v k="$1" '$1 == "CLAIM" && $2 == k { print $3 }' "$BENCH_TMP/wrk.out"; }
    echo "== bench/claim [$BENCH_BACKEND] (a): $n clients, distinct slots =="
    printf '%-40s %s\n' "bookings/s (201)" "$(figure per_s)"
    printf '%-40s %s / %s / %s / %s ms (max %s)\n' \
        "latency p50 / p90 / p99 / p99.9" \
        "$(figure latency_p50_ms)" "$(figure latency_p90_ms)" \
        "$(figure latency_p99_ms)" "$(figure latency_p99.9_ms)" \
        "$(figure latency_max_ms)"
    printf '%-40s 201: %s, 409: %s, other: %s, socket errors: %s\n' \
        "answers" "$(figure created)" "$(figure conflict)" \
        "$(figure other)" "$(figure socket_errors)"
    ledger "d$n"
}

race() {
    local n=$1
    echo
    echo "== bench/claim [$BENCH_BACKEND] (b): $n clients racing for one slot a round (host r$n) =="
    timeout $((race_seconds + 120)) "$bench_python" "$here/race.py" \
        --port "$BENCH_PORT" --event-type "r$n" --first "$first" \
        --step "$step" --clients "$n" --rounds "$rounds" \
        --seconds "$race_seconds" >"$BENCH_TMP/race.out" || true
    grep -v '^RACE ' "$BENCH_TMP/race.out"
    printf '%-40s %s\n' "rounds someone won (race.py)" \
        "$(awk '$1 == "RACE" && $2 == "won_rounds" { print $3 }' "$BENCH_TMP/race.out")"
    ledger "r$n"
}

for backend in $backends; do
    bench_database "$backend" bench_claim
    env -u BOOKINGD_FAULTS BOOKINGD_DATABASE="$BENCH_DB" BOOKINGD_LOG_LEVEL=warn \
        timeout 60 "$BENCH_BIN" apply "$BENCH_TMP/catalog.json" \
        >"$BENCH_TMP/apply.out" 2>&1 ||
        { cat "$BENCH_TMP/apply.out" >&2; die "bookingd apply failed"; }
    bench_daemon_start
    for n in $clients; do
        distinct "$n"
    done
    for n in $clients; do
        race "$n"
    done
    echo
    bench_daemon_errors
    bench_daemon_stop
done
