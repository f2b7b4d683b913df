#!/usr/bin/env bash
# Installs the Debian packages bookingd needs; idempotent, quiet when all is present.
#   scripts/install-deps.sh [build|test|bench]...   (default: build)
# "test" adds what `make check` uses (cmocka, pytest, chromium, node modules
# for the browser test, a PostgreSQL server for the second run of the
# integration tests and psycopg2 to read it, faketime for make check-dates);
# "bench" adds wrk, hyperfine and what bench/*/run.sh use (python3, curl,
# sqlite3, a PostgreSQL server).
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential cmake pkg-config tzdata
            libmicrohttpd-dev libjansson-dev libsqlite3-dev libical-dev
            libssl-dev libpq-dev libcurl4-openssl-dev libxml2-dev
            libcairo2-dev libpango1.0-dev fonts-dejavu-core fonts-noto-core
            fonts-noto-cjk fonts-wqy-microhei)
test_pkgs=(libcmocka-dev python3 python3-pytest sqlite3 chromium clang clang-format
           libclang-rt-14-dev postgresql python3-psycopg2
           python3-aiosmtpd python3-icalendar python3-cryptography openssl
           radicale python3-caldav poppler-utils faketime)
bench_pkgs=(wrk hyperfine python3 python3-aiosmtpd curl sqlite3 postgresql nginx)

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)
want=()
for g in "${groups[@]}"; do
    case "$g" in
    build) want+=("${build_pkgs[@]}") ;;
    test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    *) echo "install-deps: unknown group '$g' (build, test, bench)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
# Node.js runs the browser test; the machine image ships it, Debian's
# package is the fallback.
if [[ " ${groups[*]} " == *" test "* ]] && ! command -v node >/dev/null; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/bookingd-apt.log 2>&1; then
        $SUDO apt-get update -qq >/tmp/bookingd-apt.log 2>&1
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/bookingd-apt.log 2>&1 || {
            tail -20 /tmp/bookingd-apt.log >&2
            exit 1
        }
    fi
fi

# The browser test drives Debian's chromium with playwright-core from npm;
# the outbound webhooks test verifies signatures with the official
# standardwebhooks package; the Stripe contract fake signs its events with
# the official stripe package; the Notion contract fake is checked with
# the official @notionhq/client.
npm_ci() { # dir module
    # Again when the lockfile changed since (npm ci writes
    # node_modules/.package-lock.json).
    if [[ " ${groups[*]} " == *" test "* ]] && [ -f "$1/package.json" ] &&
       { [ ! -d "$1/node_modules/$2" ] ||
         [ "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]; }; then
        echo "install-deps: npm ci ($1)"
        (cd "$1" && npm ci --no-audit --no-fund --loglevel=error >/tmp/bookingd-npm.log 2>&1) || {
            tail -20 /tmp/bookingd-npm.log >&2
            exit 1
        }
    fi
}
npm_ci tests/e2e playwright-core
npm_ci tests/webhooks-verify standardwebhooks
npm_ci tests/fakes/stripe stripe
npm_ci tests/notion-client @notionhq/client
exit 0
