#!/usr/bin/env bash
# `make run`: start bookingd on the embedded SQLite database under ./var with
# the demo host, schedule and event types of examples/demo.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/release/bookingd}
mkdir -p var
export BOOKINGD_DATABASE=${BOOKINGD_DATABASE:-sqlite:./var/bookingd.db}
export BOOKINGD_LISTEN=${BOOKINGD_LISTEN:-127.0.0.1:8080}
# A development admin key, kept in var/ so that every `make run` can show it.
if [ -z "${BOOKINGD_ADMIN_KEY:-}" ]; then
    if [ ! -s var/admin-key ]; then
        (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > var/admin-key)
    fi
    BOOKINGD_ADMIN_KEY=$(cat var/admin-key)
    export BOOKINGD_ADMIN_KEY
fi
# A development key for credentials at rest (calendar passwords), kept in
# var/ like the admin key. Production sets its own (docs/calendars.md).
if [ -z "${BOOKINGD_SECRET_KEY:-}" ]; then
    if [ ! -s var/secret-key ]; then
        (umask 077; head -c 32 /dev/urandom | base64 > var/secret-key)
    fi
    BOOKINGD_SECRET_KEY=$(cat var/secret-key)
    export BOOKINGD_SECRET_KEY
fi
"$bin" apply examples/demo.json
url=${BOOKINGD_BASE_URL:-http://$BOOKINGD_LISTEN}
cat <<MSG

  bookingd is starting.
  Booking page:  $url/
  API:           $url/api/v1/   (admin key below)
  Admin key:     $BOOKINGD_ADMIN_KEY
  Try:           curl -H "Authorization: Bearer $BOOKINGD_ADMIN_KEY" $url/api/v1/bookings
  Stop with Ctrl-C.

MSG
exec "$bin" serve
