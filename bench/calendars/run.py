#!/usr/bin/python3
"""Calendar sync cost against a real Radicale (issue 8's benchmarks).

A calendar of N events (default 10,000: 30-minute events over the next 120
days, written straight into Radicale's storage), one host connected to it:

1. the full sync (the first one, right after connecting): requests made
   and wall time;
2. an incremental sync after 10 events changed in the calendar;
3. a sync with nothing changed;
4. the reconcile (calendar read whole, 20 bookings compared, one event
   deleted behind Radicale's back);
5. the slot query of one event type over 60 days with the calendar's busy
   blocks in the window (about 5,000), median of 20 runs.

Requests are counted from Radicale's access log. Figures are printed,
never asserted. Usage: bench/calendars/run.py [BOOKINGD_BIN] [N]
"""
import base64
import datetime as dt
import json
import os
import pathlib
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build/rel/bookingd")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
USER, PASSWORD = "coach", "bench-" + secrets.token_hex(4)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{what} exited"
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen")


def ics(uid, start, minutes=30):
    f = "%Y%m%dT%H%M%SZ"
    end = start + dt.timedelta(minutes=minutes)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start.strftime(f)}\r\nDTEND:{end.strftime(f)}\r\n"
            "SUMMARY:Busy\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench-cal-"))
    procs = []
    try:
        rport = free_port()
        (tmp / "users").write_text(f"{USER}:{PASSWORD}\n")
        (tmp / "config").write_text(f"""
[server]
hosts = 127.0.0.1:{rport}
[auth]
type = htpasswd
htpasswd_filename = {tmp / 'users'}
htpasswd_encryption = plain
[rights]
type = owner_only
[storage]
filesystem_folder = {tmp / 'collections'}
[logging]
level = info
""")
        rlog = open(tmp / "radicale.log", "wb")
        rad = subprocess.Popen(["/usr/bin/python3", "-m", "radicale",
                                "--config", str(tmp / "config")],
                               stdout=rlog, stderr=rlog)
        procs.append(rad)
        wait_port(rport, rad, "radicale")
        auth = "Basic " + base64.b64encode(
            f"{USER}:{PASSWORD}".encode()).decode()
        base = f"http://127.0.0.1:{rport}/{USER}/work/"
        req = urllib.request.Request(base, method="MKCALENDAR",
                                     headers={"Authorization": auth})
        urllib.request.urlopen(req).read()
        coll = tmp / "collections" / "collection-root" / USER / "work"
        rng = random.Random(42)
        now = dt.datetime.now(dt.timezone.utc).replace(
            minute=0, second=0, microsecond=0)
        t0 = time.monotonic()
        for i in range(N):
            start = now + dt.timedelta(days=1 + rng.randrange(120),
                                       hours=rng.randrange(24),
                                       minutes=rng.choice((0, 15, 30, 45)))
            (coll / f"e{i}.ics").write_text(ics(f"bench-{i}", start))
        print(f"calendar: {N} events written in "
              f"{time.monotonic() - t0:.1f} s")
        # Radicale parses and caches every item on its first listing: done
        # here, so that what follows measures the sync, not that.
        t0 = time.monotonic()
        req = urllib.request.Request(
            base, method="PROPFIND", headers={"Authorization": auth,
                                              "Depth": "1"},
            data=b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/>'
                 b'</d:prop></d:propfind>')
        urllib.request.urlopen(req, timeout=1800).read()
        print(f"radicale: cache warmed in {time.monotonic() - t0:.1f} s")

        port = free_port()
        admin = "bench-admin-" + secrets.token_hex(8)
        env = dict(os.environ,
                   # a benchmark floods from one address: no per-address limits
                   BOOKINGD_RATE_LIMIT_BOOKINGS="0", BOOKINGD_RATE_LIMIT_SLOTS="0",
                   BOOKINGD_RATE_LIMIT_WEBHOOKS="0", BOOKINGD_RATE_LIMIT_MANAGE="0",
                   BOOKINGD_DATABASE=f"sqlite:{tmp / 'b.db'}",
                   BOOKINGD_LISTEN=f"127.0.0.1:{port}",
                   BOOKINGD_ADMIN_KEY=admin,
                   BOOKINGD_SECRET_KEY=base64.b64encode(
                       secrets.token_bytes(32)).decode(),
                   BOOKINGD_CALENDAR_ALLOW_PRIVATE="1",
                   BOOKINGD_CALENDAR_TIMEOUT_MS="60000",
                   BOOKINGD_CALENDAR_MAX_RESPONSE="268435456",
                   BOOKINGD_JOB_LEASE_MS="600000",
                   BOOKINGD_LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL",
                                                     "warn"))
        cat = {"hosts": [{"slug": "coach", "name": "Coach",
                          "email": "coach@example.com", "timezone": "UTC",
                          "schedule": {"timezone": "UTC", "weekly": [
                              {"day": d, "start": "00:00", "end": "24:00"}
                              for d in ("mon", "tue", "wed",
                                        "thu", "fri", "sat",
                                        "sun")]}}],
               "event_types": [{"slug": "intro", "title": "Intro",
                                "host": "coach", "duration_minutes": 30,
                                "horizon_days": 365}]}
        (tmp / "cat.json").write_text(json.dumps(cat))
        subprocess.run([BIN, "apply", str(tmp / "cat.json")], env=env,
                       check=True, capture_output=True)
        dlog = open(tmp / "bookingd.log", "wb")
        d = subprocess.Popen([BIN, "serve"], env=env, stdout=dlog,
                             stderr=dlog)
        procs.append(d)
        wait_port(port, d, "bookingd")
        U = f"http://127.0.0.1:{port}"

        def call(method, path, body=None):
            data = json.dumps(body).encode() if body is not None else None
            r = urllib.request.Request(U + path, data=data, method=method,
                                       headers={
                                           "Authorization": f"Bearer {admin}",
                                           "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(r, timeout=600) as resp:
                    return json.loads(resp.read() or b"null")
            except urllib.error.HTTPError as e:
                raise SystemExit(f"{method} {path}: {e.code} {e.read()!r}")

        def requests_since(mark):
            text = (tmp / "radicale.log").read_text(errors="replace")[mark:]
            return sum(1 for line in text.splitlines()
                       if " request for " in line), len(
                (tmp / "radicale.log").read_text(errors="replace"))

        mark = len((tmp / "radicale.log").read_text(errors="replace"))
        t0 = time.monotonic()
        conn = call("POST", "/api/v1/hosts/coach/calendars",
                    {"kind": "caldav", "url": base, "username": USER,
                     "password": PASSWORD})
        t_connect = time.monotonic() - t0
        while not call("GET", f"/api/v1/calendars/{conn['id']}")[
                "last_sync_at"]:
            time.sleep(0.02)
            if time.monotonic() - t0 > 600:
                raise SystemExit("the first sync did not finish")
        t_full = time.monotonic() - t0 - t_connect
        nreq, mark = requests_since(mark)
        print(f"connect (discovery): {t_connect * 1000:.0f} ms")
        print(f"full sync ({N} events): {t_full * 1000:.0f} ms, "
              f"{nreq} requests to Radicale in all (discovery included)")

        # What Radicale alone takes for the requests the syncs make.
        def raw(method, depth, body):
            r = urllib.request.Request(base, method=method, data=body,
                                       headers={"Authorization": auth,
                                                "Depth": depth})
            t = time.monotonic()
            n = len(urllib.request.urlopen(r, timeout=1800).read())
            return time.monotonic() - t, n
        f = "%Y%m%dT%H%M%SZ"
        q = (b'<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:'
             b'xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>'
             b'<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter '
             b'name="VEVENT"><c:time-range start="' +
             (now - dt.timedelta(days=1)).strftime(f).encode() +
             b'" end="' + (now + dt.timedelta(days=365)).strftime(f).encode() +
             b'"/></c:comp-filter></c:comp-filter></c:filter>'
             b'</c:calendar-query>')
        tq, nq = raw("REPORT", "1", q)
        ts, _ = raw("REPORT", "0",
                    b'<d:sync-collection xmlns:d="DAV:"><d:sync-token/>'
                    b'<d:sync-level>1</d:sync-level><d:prop><d:getetag/>'
                    b'</d:prop></d:sync-collection>')
        print(f"radicale alone: calendar-query of the window {tq * 1000:.0f} "
              f"ms ({nq} bytes); a full sync-collection {ts * 1000:.0f} ms")
        _, mark = requests_since(mark)

        for i in rng.sample(range(N), 10):
            start = now + dt.timedelta(days=2 + rng.randrange(100),
                                       hours=rng.randrange(24))
            (coll / f"e{i}.ics").write_text(ics(f"bench-{i}", start))
        _, mark = requests_since(mark)
        t0 = time.monotonic()
        got = call("POST", "/api/v1/sync", {})
        t_inc = time.monotonic() - t0
        nreq, mark = requests_since(mark)
        print(f"incremental sync (10 of {N} changed): {t_inc * 1000:.0f} ms, "
              f"{nreq} requests; summary {got}")

        t0 = time.monotonic()
        got = call("POST", "/api/v1/sync", {})
        t_none = time.monotonic() - t0
        nreq, mark = requests_since(mark)
        print(f"sync with nothing changed: {t_none * 1000:.0f} ms, "
              f"{nreq} requests; summary {got}")

        # The reconcile (the daily job's work, run now): the calendar read
        # whole and every future booking compared with its event. 20
        # bookings pushed first, one of them then deleted from the storage
        # behind Radicale's back (the drift it repairs: cancelled).
        sl = call("GET", "/api/v1/event-types/intro/slots?from=" +
                  str((now + dt.timedelta(days=130)).date()) + "&to=" +
                  str((now + dt.timedelta(days=131)).date()))
        starts = [x["start"] for v in sl["slots"].values() for x in v][:20]
        uids = [call("POST", "/api/v1/bookings",
                     {"event_type": "intro", "start": st,
                      "attendee": {"name": f"B{i}",
                                   "email": f"b{i}@example.com"}})["uid"]
                for i, st in enumerate(starts)]
        t0 = time.monotonic()
        while len([u for u in uids
                   if (coll / f"bookingd-{u}.ics").exists()]) < len(uids):
            time.sleep(0.05)
            if time.monotonic() - t0 > 600:
                raise SystemExit("the bookings were not pushed")
        (coll / f"bookingd-{uids[0]}.ics").unlink()
        # The parser reads at most 10,000 responses (dav/xml.c): the 20
        # bookings' events replace 20 of the busy ones, so that the
        # calendar still holds N events when read whole.
        for i in range(N - len(uids), N):
            (coll / f"e{i}.ics").unlink(missing_ok=True)
        _, mark = requests_since(mark)
        t0 = time.monotonic()
        got = call("POST", "/api/v1/sync", {"reconcile": True})
        t_rec = time.monotonic() - t0
        nreq, mark = requests_since(mark)
        print(f"reconcile ({N} events, {len(uids)} bookings, 1 event "
              f"deleted): {t_rec * 1000:.0f} ms, {nreq} requests; "
              f"summary {got}; recorded "
              f"{call('GET', '/api/v1/calendars/' + conn['id'])['last_reconcile']}")

        frm = (now + dt.timedelta(days=1)).date()
        to = frm + dt.timedelta(days=59)
        rows = subprocess.run(
            ["sqlite3", str(tmp / "b.db"),
             f"SELECT count(*) FROM calendar_busy WHERE start_utc < "
             f"{int(dt.datetime.combine(to, dt.time(), dt.timezone.utc).timestamp()) + 86400}"
             f" AND end_utc > "
             f"{int(dt.datetime.combine(frm, dt.time(), dt.timezone.utc).timestamp())}"],
            capture_output=True, text=True).stdout.strip()
        times = []
        for _ in range(20):
            t0 = time.monotonic()
            r = call("GET", f"/api/v1/event-types/intro/slots?from={frm}"
                            f"&to={to}")
            times.append(time.monotonic() - t0)
        n_slots = sum(len(v) for v in r["slots"].values())
        print(f"slot query, 60 days, {rows} calendar busy blocks: median "
              f"{statistics.median(times) * 1000:.1f} ms over 20 runs "
              f"({n_slots} slots)")
    finally:
        if os.environ.get("BENCH_LOG_LEVEL"):
            print((tmp / "bookingd.log").read_text(errors="replace"))
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
