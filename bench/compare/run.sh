#!/usr/bin/env bash
# bench/compare/run.sh [BOOKINGD] — bookingd side by side with its anchors,
# in one run, and each figure next to its aim (issue 12, "Speed";
# bench/README.md, "bench/compare"). Prints figures, asserts nothing.
#
# Anchors: nginx (Debian's, started here on 127.0.0.1 with a temporary
# configuration: a trivial 200 and the same slot JSON as a static file) and
# SQLite's own durable-commit rate (the sqlite3 CLI, WAL, synchronous=FULL,
# on the same file system as the daemon's database). Loads run in ROUNDS
# interleaved rounds (bookingd then nginx, nginx then bookingd, ...), each
# load DURATION seconds under timeout(1); then the apply rate, memory and
# whole-process times (hyperfine). Loopback only; the daemon, nginx and the
# temporary files are removed whatever happens.
#
#   BOOKINGD     the binary (default build/release/bookingd; a Release or
#                RelWithDebInfo build without sanitizers)
#   ROUNDS       interleaved rounds (default 3)
#   DURATION     seconds of each load (default 5)
#   CONNECTIONS  wrk connections (default 64), THREADS wrk threads (default 2)
#   COUNT        pre-signed Cal.com deliveries per round (default 40000)
#   DRAIN        seconds allowed for applying the deliveries (default 60)
#   SQLITE_COMMITS  single-row durable commits timed (default 2000)
set -euo pipefail

BENCH_NAME=compare
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

BENCH_BIN=${1:-$bench_root/build/release/bookingd}
rounds=${ROUNDS:-3}
duration=${DURATION:-5}
connections=${CONNECTIONS:-64}
threads=${THREADS:-2}
count=${COUNT:-40000}
drain=${DRAIN:-60}
sqlite_commits=${SQLITE_COMMITS:-2000}

[ -x "$BENCH_BIN" ] || die "no executable $BENCH_BIN (build it: cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release && cmake --build build/release --target bookingd)"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || die "nginx is missing (scripts/install-deps.sh bench)"
for tool in wrk hyperfine python3 sqlite3 curl timeout; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh bench)"
done
case "$rounds$duration$connections$threads$count$drain$sqlite_commits" in
*[!0-9]*) die "ROUNDS, DURATION, CONNECTIONS, THREADS, COUNT, DRAIN and SQLITE_COMMITS are whole numbers" ;;
esac

nginx_pid=
nginx_stop() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$nginx_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$nginx_pid" 2>/dev/null || true
    fi
    [ -n "$nginx_pid" ] && { wait "$nginx_pid" 2>/dev/null || true; }
    nginx_pid=
}
bench_init
trap 'nginx_stop; bench_cleanup' EXIT
tmp=$BENCH_TMP
chmod 0755 "$tmp" # nginx's workers run as nobody when started by root
secret=bench-$(token)

echo "bench/compare: $BENCH_BIN ($("$BENCH_BIN" version 2>&1 | head -1))"
echo "bench/compare: $rounds rounds of ${duration}s loads, wrk -t$threads -c$connections; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- bookingd, with a catalog and the slot answer ---------------------------
bench_database sqlite compare
cat >"$tmp/catalog.json" <<'EOF'
{"hosts": [{"slug": "coach", "name": "Coach", "email": "coach@example.com",
            "timezone": "Europe/Berlin",
            "schedule": {"timezone": "Europe/Berlin", "weekly": [
              {"day": "mon", "start": "09:00", "end": "17:00"},
              {"day": "tue", "start": "09:00", "end": "17:00"},
              {"day": "wed", "start": "09:00", "end": "17:00"},
              {"day": "thu", "start": "09:00", "end": "17:00"},
              {"day": "fri", "start": "09:00", "end": "17:00"}]}}],
 "event_types": [{"slug": "intro", "title": "Intro call", "host": "coach",
                  "duration_minutes": 30}]}
EOF
BOOKINGD_DATABASE="$BENCH_DB" timeout 60 "$BENCH_BIN" apply "$tmp/catalog.json" >/dev/null ||
    die "bookingd apply of the catalog failed"
bench_daemon_start CALCOM_WEBHOOK_SECRET="$secret"
pid=$bench_pid
# Seven days from tomorrow (UTC): 16 slots a weekday, about 5 KB of JSON.
from=$(date -u -d tomorrow +%F)
to=$(date -u -d '+8 days' +%F)
slots_path="/api/v1/event-types/intro/slots?from=$from&to=$to"
mkdir -p "$tmp/nginx/html"
curl -fsS --max-time 10 "$BENCH_URL$slots_path" >"$tmp/nginx/html/slots.json" ||
    die "the slot query failed"
chmod -R a+rX "$tmp/nginx"
slot_bytes=$(stat -c %s "$tmp/nginx/html/slots.json")
slot_count=$(grep -o '"start"' "$tmp/nginx/html/slots.json" | wc -l)

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Idle: started, answered a slot query and a few /healthz, then left alone.
for _ in 1 2 3; do curl -fsS --max-time 5 "$BENCH_URL/healthz" >/dev/null; done
sleep 1
rss_idle=$(rss_kb "$pid" VmRSS)

# ---- nginx -------------------------------------------------------------------
nginx_port=$(bench_free_port)
nginx_url=http://127.0.0.1:$nginx_port
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port;
        root $tmp/nginx/html;
        location = /healthz { default_type text/plain; return 200 "ok\n"; }
        location = /slots.json { default_type application/json; }
        location = /webhooks/calcom {
            default_type application/json;
            client_max_body_size 1m;
            return 200 '{"status":"received"}';
        }
    }
}
EOF
"$nginx_bin" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" \
    >"$tmp/nginx/out" 2>&1 &
nginx_pid=$!
for _ in $(seq 100); do
    curl -fsS --max-time 1 "$nginx_url/healthz" >/dev/null 2>&1 && break
    kill -0 "$nginx_pid" 2>/dev/null || { cat "$tmp/nginx/out" "$tmp/nginx/error.log" >&2; die "nginx exited at start"; }
    sleep 0.1
done
cmp -s <(curl -fsS --max-time 5 "$nginx_url/slots.json") "$tmp/nginx/html/slots.json" ||
    die "nginx does not serve the slot JSON"
echo "bench/compare: bookingd on $BENCH_URL (pid $pid), $("$nginx_bin" -v 2>&1 | sed 's/.*: //') on $nginx_url;" \
    "slot answer $slot_bytes bytes, $slot_count slots"

# ---- the deliveries, signed beforehand ---------------------------------------
echo "bench/compare: signing $rounds x $count Cal.com deliveries ..."
for r in $(seq "$rounds"); do
    timeout 600 "$bench_python" "$bench_root/bench/ingest/sign.py" --secret "$secret" \
        --count "$count" --out "$tmp/bodies-$r.tsv"
done

# ---- loads -------------------------------------------------------------------
# load NAME URL SCRIPT [script args...]: one wrk run; its STAT or INGEST
# lines go to $tmp/res/NAME.R (R: the round).
mkdir -p "$tmp/res"
round=0
load() {
    local name=$1 url=$2 script=$3
    shift 3
    timeout $((duration + 60)) wrk -t"$threads" -c"$connections" -d"${duration}s" \
        --timeout 10s --latency -s "$script" "$url" -- "$@" >"$tmp/res/$name.$round.out" 2>&1 ||
        echo "bench/compare: wrk for $name failed (round $round)" >&2
    grep -E '^(STAT|INGEST) ' "$tmp/res/$name.$round.out" >"$tmp/res/$name.$round" || true
}
# During the intake, the daemon's resident memory every 0.2 s.
rss_sampler() {
    local max=0 v
    while kill -0 "$pid" 2>/dev/null && [ ! -e "$tmp/res/stop-sampler" ]; do
        v=$(rss_kb "$pid" VmRSS)
        [ "${v:-0}" -gt "$max" ] && max=$v
        echo "$max" >"$tmp/res/rss-intake"
        sleep 0.2
    done
}
bookingd_loads() {
    load healthz "$BENCH_URL/healthz" "$here/stats.lua"
    load slots "$BENCH_URL$slots_path" "$here/stats.lua"
    rm -f "$tmp/res/stop-sampler"
    rss_sampler &
    local sampler=$! a0 a1 t0 t1
    a0=$(sql "SELECT count(*) FROM inbox WHERE status <> 0")
    t0=$(date +%s.%N)
    load intake "$BENCH_URL/webhooks/calcom" "$bench_root/bench/ingest/replay.lua" \
        "$tmp/bodies-$round.tsv" "$threads"
    a1=$(sql "SELECT count(*) FROM inbox WHERE status <> 0")
    t1=$(date +%s.%N)
    # Applied while the intake ran (the workers share the writer with it).
    echo "APPLY during_per_s $(calc '%.0f' "($a1 - $a0) / ($t1 - $t0)")" >>"$tmp/res/intake.$round"
    touch "$tmp/res/stop-sampler"
    wait "$sampler" 2>/dev/null || true
    cat "$tmp/res/rss-intake" >>"$tmp/res/rss-intake.all" 2>/dev/null || true
}
nginx_loads() {
    load nginx_healthz "$nginx_url/healthz" "$here/stats.lua"
    load nginx_static "$nginx_url/slots.json" "$here/stats.lua"
    load nginx_intake "$nginx_url/webhooks/calcom" "$bench_root/bench/ingest/replay.lua" \
        "$tmp/bodies-$round.tsv" "$threads"
}
for round in $(seq "$rounds"); do
    echo "bench/compare: round $round of $rounds (load average $(cut -d' ' -f1 /proc/loadavg))"
    if [ $((round % 2)) -eq 1 ]; then
        bookingd_loads
        nginx_loads
    else
        nginx_loads
        bookingd_loads
    fi
done
rss_peak=$(rss_kb "$pid" VmHWM)
rss_intake=$(sort -n "$tmp/res/rss-intake.all" 2>/dev/null | tail -1)

# ---- applying ------------------------------------------------------------
# What the intake stored and the workers have not applied yet, applied by a
# restarted daemon (the same two workers): deliveries applied per second.
stored=$(sql "SELECT count(*) FROM inbox")
bench_daemon_stop
pending=$(sql "SELECT count(*) FROM inbox WHERE status = 0")
t0=$(date +%s.%N) # the start-up counts: the workers begin at once
bench_daemon_try CALCOM_WEBHOOK_SECRET="$secret" || die "the daemon did not restart"
deadline=$(($(date +%s) + drain))
left=$pending
while [ "$left" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do
    sleep 0.2
    left=$(sql "SELECT count(*) FROM inbox WHERE status = 0")
done
t1=$(date +%s.%N)
applied=$((pending - left))
apply_rate=$(calc '%.0f' "$applied / ($t1 - $t0)")
apply_during=$(awk '$1 == "APPLY" { print $3 }' "$tmp"/res/intake.* | sort -n | tr '\n' ' ')
bench_daemon_errors
bench_daemon_stop

# ---- SQLite's own durable commits -------------------------------------------
sqlite_rate() { # ROWS_PER_COMMIT COMMITS: prints commits/s and rows/s
    local rows=$1 commits=$2 f=$tmp/anchor.db t0 t1
    rm -f "$f" "$f-wal" "$f-shm"
    {
        echo "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        echo "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);"
    } | sqlite3 "$f" >/dev/null
    awk -v rows="$rows" -v commits="$commits" 'BEGIN {
        print "PRAGMA synchronous=FULL;"
        for (c = 0; c < commits; c++) {
            print "BEGIN;"
            for (r = 0; r < rows; r++) print "INSERT INTO t(v) VALUES (randomblob(700));"
            print "COMMIT;"
        } }' >"$tmp/anchor.sql"
    t0=$(date +%s.%N)
    timeout 300 sqlite3 "$f" <"$tmp/anchor.sql" >/dev/null || echo "bench/compare: the sqlite3 loop failed" >&2
    t1=$(date +%s.%N)
    echo "$(calc '%.0f' "$commits / ($t1 - $t0)") $(calc '%.0f' "$commits * $rows / ($t1 - $t0)")"
}
read -r sqlite_commit_rate _ <<<"$(sqlite_rate 1 "$sqlite_commits")"
read -r _ sqlite_batch_rows <<<"$(sqlite_rate 64 $((sqlite_commits / 4)))"

# ---- whole-process times -----------------------------------------------------
timeout 300 hyperfine -N --warmup 5 --runs 100 --export-json "$tmp/hyperfine.json" \
    "$BENCH_BIN version" "$BENCH_BIN slots --input $bench_root/bench/availability-case.json" \
    "/bin/true" >"$tmp/hyperfine.out" 2>&1 || {
    cat "$tmp/hyperfine.out" >&2
    die "hyperfine failed"
}

# ---- report ------------------------------------------------------------------
"$bench_python" - "$tmp/res" "$rounds" "$tmp/hyperfine.json" "$BENCH_BIN" "$bench_root/" <<'EOF'
import json, statistics, sys
res, rounds, hf, binary, root = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def figs(name, key):
    out = []
    for r in range(1, rounds + 1):
        try:
            for line in open(f"{res}/{name}.{r}"):
                tag, k, v = line.split()[:3]
                if k == key:
                    out.append(float(v))
        except FileNotFoundError:
            pass
    return out

def show(vals, fmt="{:,.0f}"):
    if not vals:
        return "n/a"
    lo, hi, med = min(vals), max(vals), statistics.median(vals)
    s = fmt.format(med)
    return s if lo == hi else f"{s} ({fmt.format(lo)}-{fmt.format(hi)})"

def ratio(a, b):
    rs = [x / y for x, y in zip(a, b) if y]
    return rs

def mark(ok):
    return "met" if ok else "NOT met"

rows = []
def row(what, figure, anchor, aim, ok):
    rows.append((what, figure, anchor, aim, mark(ok) if ok is not None else ""))

h, nh = figs("healthz", "rate"), figs("nginx_healthz", "rate")
rh = ratio(h, nh)
row("/healthz requests/s", show(h), "nginx trivial " + show(nh),
    "(none) ratio " + show(rh, "{:.2f}x"), None)
s, ns = figs("slots", "rate"), figs("nginx_static", "rate")
sp99, nsp99 = figs("slots", "p99_ms"), figs("nginx_static", "p99_ms")
row("slot query requests/s", show(s), "nginx static " + show(ns),
    "(none) ratio " + show(ratio(s, ns), "{:.2f}x"), None)
row("slot query p99 (ms)", show(sp99, "{:.2f}"), "nginx static " + show(nsp99, "{:.2f}"),
    "< 2 ms", bool(sp99) and statistics.median(sp99) < 2)
i, ni = figs("intake", "new_per_s"), figs("nginx_intake", "answered_2xx")
nsec = figs("nginx_intake", "seconds")
ni = [a / b for a, b in zip(ni, nsec) if b]
ip99, nip99 = figs("intake", "latency_p99_ms"), figs("nginx_intake", "latency_p99_ms")
ri = ratio(i, ni)
row("Cal.com intake deliveries/s", show(i), "nginx trivial POST " + show(ni),
    ">= 1/4 nginx: " + show(ri, "{:.2f}x"), bool(ri) and statistics.median(ri) >= 0.25)
row("Cal.com intake p99 (ms)", show(ip99, "{:.2f}"), "nginx " + show(nip99, "{:.2f}"),
    "< 10 ms", bool(ip99) and statistics.median(ip99) < 10)
bad = sum(figs("intake", "not_2xx")) + sum(figs("intake", "socket_errors")) + \
    sum(figs("slots", "not_2xx")) + sum(figs("slots", "socket_errors")) + \
    sum(figs("healthz", "not_2xx")) + sum(figs("healthz", "socket_errors"))
with open(f"{res}/summary.json", "w") as f:
    json.dump(rows, f)
print()
print("== bench/compare: bookingd against its anchors (median of the rounds, range) ==")
w = [max(len(r[k]) for r in rows) for k in range(4)]
for r in rows:
    print(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:<{w[3]}}  {r[4]}")
print(f"bookingd answers not 2xx or failed sockets over every load: {bad:.0f}")
hj = json.load(open(hf))["results"]
for r in hj:
    r["cmd"] = r["command"].replace(binary, "bookingd").replace(root, "")
with open(f"{res}/hyperfine.txt", "w") as f:
    for r in hj:
        f.write(f"{r['mean']*1000:.2f} {r['median']*1000:.2f} {r['min']*1000:.2f} "
                f"{(r['user'] + r['system'])*1000:.2f} {r['cmd']}\n")
EOF
echo
while read -r mean median min cpu cmd; do
    aim="< 5 ms"
    case "$cmd" in /bin/true) aim="(the floor: a process that does nothing)" ;; esac
    ok=
    [ "$aim" = "< 5 ms" ] && ok=$(awk -v m="$median" 'BEGIN { print (m < 5) ? "met" : "NOT met" }')
    printf '%-52s median %6s ms (mean %s, min %s; CPU %s)  %s %s\n' "$cmd" "$median" "$mean" "$min" "$cpu" "$aim" "$ok"
done <"$tmp/res/hyperfine.txt"
# Applying: the backlog left by the intake, drained by a restarted daemon;
# when the workers kept up with the intake there is none, and what they
# applied while it ran is only a lower bound of their rate.
if [ "$pending" -ge 1000 ]; then
    printf '%-52s %s\n' "applying (2 workers, backlog after a restart)" \
        "$apply_rate/s ($applied of $pending pending, of $stored stored, in $(calc '%.1f' "$t1 - $t0") s)   aim >= 10,000/s $( [ "$apply_rate" -ge 10000 ] && echo met || echo 'NOT met')"
else
    printf '%-52s %s\n' "applying (2 workers)" \
        "no backlog to drain ($pending of $stored pending): the workers kept up with the intake"
fi
printf '%-52s %s\n' "  applied/s while the intake ran (each round)" "$apply_during"
printf '%-52s %s\n' "SQLite alone, WAL, synchronous=FULL" \
    "$sqlite_commit_rate durable commits/s (1 row); $sqlite_batch_rows rows/s in 64-row commits"
mb() { calc '%.1f' "$1 / 1024"; }
printf '%-52s %s MB   aim < 16 MB %s\n' "resident memory idle (VmRSS)" "$(mb "$rss_idle")" \
    "$( [ "$rss_idle" -lt 16384 ] && echo met || echo 'NOT met')"
printf '%-52s %s MB (peak of the run, VmHWM %s MB)   aim < 64 MB %s\n' \
    "resident memory under the intake (VmRSS)" "$(mb "${rss_intake:-0}")" "$(mb "$rss_peak")" \
    "$( [ "${rss_intake:-0}" -lt 65536 ] && echo met || echo 'NOT met')"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
