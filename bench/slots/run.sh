#!/usr/bin/env bash
# bench/slots/run.sh [BOOKINGD] — public slot queries through
# GET /api/v1/event-types/{slug}/slots with wrk (bench/README.md,
# "bench/slots"): a two-week query of 30-minute slots and a 62-day query of
# 15-minute slots, in Europe/Berlin over a DST switch. Prints the rate and
# the latency distribution; asserts nothing. SQLite only (the store's share
# of this query is small; the rendering is what this measures).
#
#   BOOKINGD     the binary (default build/release/bookingd)
#   CONNECTIONS  wrk connections (default 64)
#   DURATION     seconds of load per query (default 10)
set -euo pipefail

BENCH_NAME=slots
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

BENCH_BIN=${1:-$bench_root/build/release/bookingd}
connections=${CONNECTIONS:-64}
duration=${DURATION:-10}
[ -x "$BENCH_BIN" ] || die "no executable $BENCH_BIN (build it: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release && cmake --build build/release --target bookingd)"
for tool in wrk python3 curl timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh bench)"
done
case "$connections$duration" in
*[!0-9]*) die "CONNECTIONS and DURATION are whole numbers" ;;
esac

bench_init
"$bench_python" - "$BENCH_TMP/catalog.json" <<'PY'
import json, sys
wk = [{"day": d, "start": "08:00", "end": "20:00"}
      for d in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
json.dump({"hosts": [{"slug": "coach", "name": "Coach", "email":
                      "coach@example.com", "timezone": "Europe/Berlin",
                      "schedule": {"timezone": "Europe/Berlin",
                                   "weekly": wk}}],
           "event_types": [
               {"slug": "intro", "title": "Intro", "host": "coach",
                "duration_minutes": 30, "minimum_notice_minutes": 0,
                "horizon_days": 365},
               {"slug": "quarter", "title": "Quarter", "host": "coach",
                "duration_minutes": 15, "minimum_notice_minutes": 0,
                "horizon_days": 365}]}, open(sys.argv[1], "w"))
PY
bench_database sqlite bench_slots
env -u BOOKINGD_FAULTS BOOKINGD_DATABASE="$BENCH_DB" BOOKINGD_LOG_LEVEL=warn \
    timeout 60 "$BENCH_BIN" apply "$BENCH_TMP/catalog.json" \
    >"$BENCH_TMP/apply.out" 2>&1 || { cat "$BENCH_TMP/apply.out" >&2; die "apply failed"; }
bench_daemon_start

# Fixed dates around the spring-forward switch of the next year: the
# answers are the same from run to run (save the moving notice bound,
# which the dates stay clear of).
year=$(( $(date -u +%Y) + 1 ))
for q in "intro?from=$year-03-20&to=$year-04-02" \
         "quarter?from=$year-03-01&to=$year-05-01"; do
    url="$BENCH_URL/api/v1/event-types/${q%%\?*}/slots?${q#*\?}"
    bytes=$(curl -fsS --max-time 10 "$url" | wc -c)
    echo
    echo "== bench/slots: GET ${url#$BENCH_URL} ($bytes bytes), wrk -t2 -c$connections -d${duration}s =="
    timeout $((duration + 60)) wrk -t2 -c"$connections" -d"${duration}s" \
        --timeout 10s --latency "$url" >"$BENCH_TMP/wrk.out" || true
    grep -E 'Requests/sec|Transfer/sec|^ +(50|90|99)%|Non-2xx|Socket errors' \
        "$BENCH_TMP/wrk.out" || cat "$BENCH_TMP/wrk.out"
done
echo
ps -o rss= -p "$bench_pid" | awk '{ printf "daemon resident memory after the load: %.1f MB\n", $1 / 1024 }'
bench_daemon_errors
