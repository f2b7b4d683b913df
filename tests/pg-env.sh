#!/usr/bin/env bash
# Runs a command against a fresh database of the test PostgreSQL server.
#   tests/pg-env.sh URL_FILE COMMAND [ARGS...]
# URL_FILE holds the server's admin URL (written by scripts/pg-test.sh
# start, the ctest fixture "pg"). Creates a new database, runs COMMAND with
# BOOKINGD_TEST_DATABASE_URL set to it, drops the database afterwards and
# exits with COMMAND's status. A COMMAND that passes without ever running a
# transaction in the database fails: it did not test PostgreSQL.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: tests/pg-env.sh URL_FILE COMMAND..." >&2; exit 2; }
url_file=$1
shift
[ -s "$url_file" ] || {
    echo "pg-env: no $url_file: the test PostgreSQL server is not running" \
         "(ctest fixture pg: scripts/pg-test.sh start)" >&2
    exit 1
}
admin_url=$(cat "$url_file")
base=${admin_url%/*}
db="t_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

psql_admin() {
    psql -X -q -v ON_ERROR_STOP=1 -d "$admin_url" -c "$1"
}

psql_admin "CREATE DATABASE $db TEMPLATE template0 ENCODING 'UTF8' STRATEGY FILE_COPY" >/dev/null
drop() {
    psql_admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
}
trap drop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

rc=0
BOOKINGD_TEST_DATABASE_URL="$base/$db" "$@" || rc=$?
[ $rc -eq 0 ] || exit $rc

# A backend reports its statistics when it exits, which may be just after
# the client went: poll (bounded) for a transaction counted in the database.
used() {
    local n
    n=$(psql -X -At -d "$admin_url" -c "SELECT coalesce(sum(xact_commit + \
            xact_rollback), 0) FROM pg_stat_database WHERE datname = '$db'")
    [ "${n:-0}" -gt 0 ]
}
deadline=$((SECONDS + 10))
until used; do
    if [ $SECONDS -ge $deadline ]; then
        echo "pg-env: $1 passed without one transaction in" \
             "BOOKINGD_TEST_DATABASE_URL=$base/$db: it did not run on" \
             "PostgreSQL" >&2
        exit 1
    fi
    sleep 0.1
done
exit 0
