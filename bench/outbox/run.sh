#!/usr/bin/env bash
# bench/outbox/run.sh [--database sqlite|postgres|both] [BOOKINGD] — the
# outbox (bench/README.md, "bench/outbox"): emails/s to a local SMTP sink,
# webhooks/s to a local receiver with many endpoints, and the booking
# latency with and without them (outbox.py). Prints figures, asserts
# nothing; bounded in time; the daemons and PostgreSQL always stopped.
#
#   BOOKINGS   bookings of each run (default 400)
#   CLIENTS    parallel clients (default 8)
#   ENDPOINTS  webhook endpoints of the "on" run (default 20)
set -euo pipefail

BENCH_NAME=outbox
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
[ -x "$BENCH_BIN" ] || die "no executable $BENCH_BIN (build it: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build/release --target bookingd)"
"$bench_python" -c 'import aiosmtpd' 2>/dev/null ||
    die "python3-aiosmtpd is missing (scripts/install-deps.sh bench)"
case "${BOOKINGS:-400}${CLIENTS:-8}${ENDPOINTS:-20}" in
*[!0-9]*) die "BOOKINGS, CLIENTS and ENDPOINTS are whole numbers" ;;
esac

bench_init
echo "bench/outbox: $BENCH_BIN on: $backends"
for backend in $backends; do
    bench_database "$backend" bench_outbox_off
    off=$BENCH_DB
    bench_database "$backend" bench_outbox_on
    on=$BENCH_DB
    bench_database "$backend" bench_outbox_mail
    mail=$BENCH_DB
    timeout 900 "$bench_python" "$here/outbox.py" --bin "$BENCH_BIN" \
        --backend "$backend" --db-off "$off" --db-on "$on" --db-mail "$mail" \
        --bookings "${BOOKINGS:-400}" --clients "${CLIENTS:-8}" \
        --endpoints "${ENDPOINTS:-20}" --tmp "$BENCH_TMP"
done
