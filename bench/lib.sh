# bench/lib.sh — sourced by bench/*/run.sh: a throwaway database (a SQLite
# file, or a database on a throwaway PostgreSQL server from
# scripts/pg-test.sh), the daemon on a free port of 127.0.0.1, SQL reads of
# its ledger, and cleanup. Prints nothing it measures; the scripts do.
#
# Before sourcing, set BENCH_NAME (for messages). After sourcing, call
# bench_init, which makes BENCH_TMP and installs the EXIT trap that stops
# the daemon and the PostgreSQL server whatever happens.
#
# The PostgreSQL server is durable like the SQLite store (fsync on,
# synchronous_commit on: PG_TEST_DURABLE=1 for scripts/pg-test.sh) unless
# BENCH_PG_DURABLE=0, which keeps the test server's fsync=off.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_python=/usr/bin/python3
[ -x "$bench_python" ] || bench_python=python3

die() { echo "$BENCH_NAME: $*" >&2; exit 2; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
token() { od -An -N12 -tx1 /dev/urandom | tr -d ' \n'; }

bench_free_port() {
    "$bench_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_backends ARG: checks sqlite|postgres|both and prints the list.
bench_backends() {
    case "$1" in
    sqlite | postgres) echo "$1" ;;
    both) echo "sqlite postgres" ;;
    *) die "--database must be sqlite, postgres or both, not '$1'" ;;
    esac
}

bench_pid=
bench_pg_dir=
BENCH_TMP=

bench_daemon_stop() {
    if [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; then
        kill -TERM "$bench_pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$bench_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$bench_pid" 2>/dev/null; then
            echo "$BENCH_NAME: the daemon ignored SIGTERM for 10 s; SIGKILL" >&2
            kill -KILL "$bench_pid" 2>/dev/null || true
        fi
    fi
    [ -n "$bench_pid" ] && { wait "$bench_pid" 2>/dev/null || true; }
    bench_pid=
}

bench_cleanup() {
    bench_daemon_stop
    if [ -n "$bench_pg_dir" ]; then
        timeout 90 "$bench_root/scripts/pg-test.sh" stop "$bench_pg_dir" \
            >/dev/null 2>&1 || echo "$BENCH_NAME: could not stop PostgreSQL in $bench_pg_dir" >&2
    fi
    [ -n "$BENCH_TMP" ] && rm -rf "$BENCH_TMP"
}

bench_init() {
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bookingd-$BENCH_NAME.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# bench_pg_start: a throwaway PostgreSQL server (once per script).
bench_pg_url=
bench_pg_start() {
    [ -n "$bench_pg_url" ] && return 0
    command -v psql >/dev/null || die "psql is missing (scripts/install-deps.sh test)"
    # Its own directory, searchable by the server's unprivileged user.
    bench_pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/bookingd-$BENCH_NAME-pg.XXXXXX")
    chmod 0755 "$bench_pg_dir"
    PG_TEST_DURABLE=${BENCH_PG_DURABLE:-1} timeout 120 \
        "$bench_root/scripts/pg-test.sh" start "$bench_pg_dir/pg" >/dev/null ||
        die "PostgreSQL did not start"
    bench_pg_url=$(cat "$bench_pg_dir/pg/url")
    echo "$BENCH_NAME: PostgreSQL $(psql -X -At "$bench_pg_url" -c 'SHOW server_version') on 127.0.0.1," \
        "fsync=$(psql -X -At "$bench_pg_url" -c 'SHOW fsync')," \
        "synchronous_commit=$(psql -X -At "$bench_pg_url" -c 'SHOW synchronous_commit')"
}

# bench_database BACKEND NAME: a fresh, empty database; sets BENCH_BACKEND
# and BENCH_DB (the BOOKINGD_DATABASE value).
bench_database() {
    BENCH_BACKEND=$1
    case "$1" in
    sqlite)
        BENCH_DB="sqlite:$BENCH_TMP/$2.db"
        rm -f "$BENCH_TMP/$2.db" "$BENCH_TMP/$2.db-wal" "$BENCH_TMP/$2.db-shm"
        ;;
    postgres)
        bench_pg_start
        PGOPTIONS="-c client_min_messages=warning" \
            psql -X -q -v ON_ERROR_STOP=1 "$bench_pg_url" \
            -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2" ||
            die "cannot create the database $2"
        BENCH_DB="${bench_pg_url%/*}/$2"
        ;;
    esac
}

# sql QUERY: one value (or rows, |-separated) from the current database.
sql() {
    case "$BENCH_BACKEND" in
    sqlite) sqlite3 -readonly "file:${BENCH_DB#sqlite:}?mode=ro" "$1" ;;
    postgres) psql -X -At -v ON_ERROR_STOP=1 "$BENCH_DB" -c "$1" ;;
    esac
}

# bench_daemon_start [VAR=VALUE]...: `bookingd serve` on BENCH_DB and a
# free port, with the given extra environment; sets BENCH_URL and
# BENCH_ADMIN_KEY. Needs BENCH_BIN.
bench_daemon_start() {
    local try
    BENCH_ADMIN_KEY=bench-admin-$(token)
    for try in 1 2 3 4 5; do
        BENCH_PORT=$(bench_free_port)
        BENCH_URL=http://127.0.0.1:$BENCH_PORT
        if bench_daemon_try "$@"; then
            return 0
        fi
        echo "$BENCH_NAME: port $BENCH_PORT is shared with another listener; another port" >&2
        bench_daemon_stop
    done
    die "found no port of its own in 5 tries"
}

# Returns 1 when the port turns out to be another process's too (bookingd
# listens with SO_REUSEPORT, so a second listener on the same port starts
# and shares the connections): a foreign listener does not know our key.
bench_daemon_try() {
    # The load comes from one address: the per-address rate limits of the
    # public endpoints are off (a caller's own values come later and win).
    env -u BOOKINGD_FAULTS \
        BOOKINGD_DATABASE="$BENCH_DB" BOOKINGD_LISTEN="127.0.0.1:$BENCH_PORT" \
        BOOKINGD_ADMIN_KEY="$BENCH_ADMIN_KEY" BOOKINGD_LOG_LEVEL=warn \
        BOOKINGD_RATE_LIMIT_BOOKINGS=0 BOOKINGD_RATE_LIMIT_SLOTS=0 \
        BOOKINGD_RATE_LIMIT_WEBHOOKS=0 BOOKINGD_RATE_LIMIT_MANAGE=0 "$@" \
        "$BENCH_BIN" serve >"$BENCH_TMP/serve.out" 2>"$BENCH_TMP/serve.err" &
    bench_pid=$!
    local ready= code
    for _ in $(seq 300); do
        if ! kill -0 "$bench_pid" 2>/dev/null; then
            cat "$BENCH_TMP/serve.err" >&2
            die "the daemon exited at start"
        fi
        if curl -fsS --max-time 1 "$BENCH_URL/healthz" >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.1
    done
    [ -n "$ready" ] || die "the daemon did not answer /healthz within 30 s"
    for _ in $(seq 8); do
        code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 \
            -H "Authorization: Bearer $BENCH_ADMIN_KEY" \
            "$BENCH_URL/api/v1/hosts?limit=1" || true)
        [ "$code" = 200 ] || return 1
    done
}

# bench_daemon_errors: the first lines of the daemon's log that say error.
bench_daemon_errors() {
    if grep -q -i -E "error|fatal" "$BENCH_TMP/serve.err"; then
        echo "daemon errors ($(grep -c -i -E "error|fatal" "$BENCH_TMP/serve.err") lines, first 5):"
        grep -i -E "error|fatal" "$BENCH_TMP/serve.err" | head -5
    fi
}
