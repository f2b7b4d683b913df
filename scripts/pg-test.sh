#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests (the ctest fixture "pg").
#   scripts/pg-test.sh start DIR   initdb in DIR, start on 127.0.0.1, write
#                                  the admin URL to DIR/url
#   scripts/pg-test.sh stop DIR    stop it and remove DIR
# The cluster trusts loopback connections (there is no other listener) and
# runs with fsync off: it holds nothing worth keeping. PostgreSQL refuses to
# run as root, so as root the server runs as the system user bookingd-test
# (created when missing). A DIR left by a killed run is stopped and removed
# first. Exits non-zero with the server log's tail when it cannot start.
# PG_TEST_DURABLE=1 runs it durable instead (fsync, synchronous_commit and
# full_page_writes on), as the benchmarks do to compare with SQLite's
# synchronous=FULL.
set -euo pipefail

PG_USER=bookingd-test
READY_TIMEOUT_S=60
PORT_TRIES=5

die() {
    echo "pg-test: $*" >&2
    exit 1
}

usage() {
    echo "usage: scripts/pg-test.sh start|stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
case "$dir" in
/*) ;;
*) dir="$PWD/$dir" ;;
esac

# The newest major version installed (by number: the glob puts 9.6 after 15).
bindir=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5n |
         while read -r b; do [ -x "$b/initdb" ] && echo "$b"; done | tail -1)
[ -n "$bindir" ] || die "no PostgreSQL server under /usr/lib/postgresql (scripts/install-deps.sh test installs it)"

# as_pg CMD...: runs CMD as the server's user (ourselves unless root).
if [ "$(id -u)" -eq 0 ]; then
    as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
    as_pg() { "$@"; }
fi

ensure_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! id -u "$PG_USER" >/dev/null 2>&1; then
        # Two concurrent starts may race here; the loser finds the user.
        useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$PG_USER" 2>/dev/null ||
            id -u "$PG_USER" >/dev/null 2>&1 ||
            die "cannot create the system user $PG_USER"
    fi
}

# stop_server DATA: stops a server (running or left by a killed run) on DATA.
stop_server() {
    local data=$1
    [ -f "$data/postmaster.pid" ] || return 0
    if ! as_pg "$bindir/pg_ctl" -D "$data" stop -m fast -w -t 30 \
            >/dev/null 2>&1; then
        as_pg "$bindir/pg_ctl" -D "$data" stop -m immediate -w -t 30 \
            >/dev/null 2>&1 || true
    fi
    # A postmaster that is still there (pg_ctl could not signal it) is
    # killed by its pid: the file is ours, the process its server's.
    if [ -f "$data/postmaster.pid" ]; then
        local pid
        pid=$(head -1 "$data/postmaster.pid" 2>/dev/null || true)
        if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
           [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$data" ]; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
}

remove_dir() {
    local d=$1
    [ -e "$d" ] || return 0
    # A socket directory outside DIR (DIR's path was too long for one).
    if [ -f "$d/sockdir" ]; then
        local s
        s=$(cat "$d/sockdir")
        case "$s" in /tmp/bookingd-pg.*) rm -rf "$s" ;; esac
    fi
    stop_server "$d/data"
    rm -rf "$d"
}

free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

log_tail() {
    if [ -f "$dir/server.log" ]; then
        echo "--- $dir/server.log (tail) ---" >&2
        tail -30 "$dir/server.log" >&2
    fi
}

# wait_ready PORT: polls pg_isready until the server accepts connections;
# returns 1 when the server process ended first, 2 on the time-out.
wait_ready() {
    local port=$1
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    while [ $SECONDS -lt $deadline ]; do
        if "$bindir/pg_isready" -q -h "$sock" -p "$port" -d postgres \
                -U postgres -t 2; then
            return 0
        fi
        # The server gave up: its pid file names a dead process, or it
        # logged a FATAL (or PANIC) before it wrote one.
        if [ -f "$dir/data/postmaster.pid" ]; then
            local pid
            pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null || true)
            if [[ "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
                return 1
            fi
        elif grep -qE "FATAL|PANIC" "$dir/server.log" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
    return 2
}

start() {
    remove_dir "$dir"
    ensure_user
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir"
    chmod 0755 "$dir"
    as_pg test -w "$dir" ||
        die "$PG_USER cannot write $dir (a parent directory is not searchable?)"

    # The socket path must fit sun_path (107 bytes with .s.PGSQL.NNNNN).
    sock="$dir/sock"
    if [ ${#sock} -gt 80 ]; then
        sock=$(mktemp -d /tmp/bookingd-pg.XXXXXX)
        echo "$sock" >"$dir/sockdir"
    else
        mkdir "$sock"
    fi
    [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$sock"

    if ! as_pg "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 \
            --locale=C.UTF-8 --auth=trust --no-sync >"$dir/initdb.log" 2>&1; then
        tail -30 "$dir/initdb.log" >&2
        die "initdb failed"
    fi
    # Trust on loopback only: the socket in DIR and 127.0.0.1.
    as_pg sh -c "cat >'$dir/data/pg_hba.conf'" <<'EOF'
local all all trust
host all all 127.0.0.1/32 trust
EOF

    local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${PG_TEST_DURABLE:-0}" = 1 ] &&
        durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
    local try port rc
    for try in $(seq 1 $PORT_TRIES); do
        port=$(free_port)
        : >"$dir/server.log"
        [ "$(id -u)" -eq 0 ] && chown "$PG_USER" "$dir/server.log"
        as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -W \
            -o "-p $port -k $sock -c listen_addresses=127.0.0.1 \
                -c max_connections=300 $durability \
                -c shared_buffers=64MB -c log_min_messages=warning" \
            start >/dev/null
        rc=0
        wait_ready "$port" || rc=$?
        if [ $rc -eq 0 ]; then
            local url="postgres://postgres@127.0.0.1:$port/postgres"
            echo "$url" >"$dir/url.tmp"
            mv "$dir/url.tmp" "$dir/url"
            echo "pg-test: PostgreSQL $("$bindir/postgres" --version |
                awk '{print $3}') at $url (data in $dir/data)"
            return 0
        fi
        if [ $rc -eq 1 ] && grep -q "could not bind\|Address already in use" \
                "$dir/server.log"; then
            echo "pg-test: port $port was taken; trying another" >&2
            stop_server "$dir/data"
            continue
        fi
        log_tail
        stop_server "$dir/data"
        if [ $rc -eq 2 ]; then
            die "the server was not ready within ${READY_TIMEOUT_S} s"
        fi
        die "the server did not start"
    done
    log_tail
    stop_server "$dir/data"
    die "no free port after $PORT_TRIES tries"
}

case "$cmd" in
start) start ;;
stop) remove_dir "$dir" ;;
*) usage ;;
esac
