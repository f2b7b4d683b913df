"""Calendar connections over CalDAV against a real Radicale (Debian's
`radicale`, run by /usr/bin/python3 -m radicale with a temporary storage
folder and plain htpasswd auth), read back with python3-caldav and
python3-icalendar (third-party clients, not bookingd's code): discovery,
a wrong password, bookings pushed as events (create, reschedule with the
same UID, cancel), an event edited in the calendar meanwhile (412), a
calendar down for a while; hostile input (URLs, private addresses without
the switch, no secret key, fake servers answering malformed, oversized and
hostile XML or redirecting elsewhere). Credentials never come back.
"""
import base64
import http.server
import os
import pathlib
import secrets
import socket
import subprocess
import threading
import time

import caldav
import icalendar
import pytest

import calcom_helpers as H
from conftest import assert_error, free_port, ledger_query, standard_catalog

USER, PASSWORD = "coach", "s3cret-" + secrets.token_hex(8)
KEY = base64.b64encode(secrets.token_bytes(32)).decode()
ENV = {"BOOKINGD_SECRET_KEY": KEY,
       "BOOKINGD_CALENDAR_ALLOW_PRIVATE": "1",
       "BOOKINGD_CALENDAR_TIMEOUT_MS": "5000",
       "BOOKINGD_CALENDAR_MAX_RESPONSE": str(4 << 20),
       "BOOKINGD_JOB_RETRY_BASE_MS": "100",
       "BOOKINGD_JOB_RETRY_MAX_MS": "500",
       "BOOKINGD_JOB_MAX_ATTEMPTS": "100",
       "BOOKINGD_JOB_IDLE_POLL_MS": "50"}


class Radicale:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        (self.root / "users").write_text(f"{USER}:{PASSWORD}\n")
        (self.root / "config").write_text(f"""
[server]
hosts = 127.0.0.1:{self.port}
[auth]
type = htpasswd
htpasswd_filename = {self.root / 'users'}
htpasswd_encryption = plain
[rights]
type = owner_only
[storage]
filesystem_folder = {self.root / 'collections'}
# Tokens and history are aged by file times: under libfaketime (make
# check-dates) the clock moves and they do not; a 30-day age would drop
# them at once.
max_sync_token_age = 315360000
[logging]
level = warning
""")
        self.proc = None
        self.url = f"http://127.0.0.1:{self.port}/"

    def start(self):
        self.log = open(self.root / "radicale.log", "ab")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", "-m", "radicale", "--config",
             str(self.root / "config")], stdout=self.log, stderr=self.log)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return True
            except OSError:
                assert self.proc.poll() is None, "radicale exited"
                return False
        H.wait_until(up, 30, "radicale listening")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def client(self):
        return caldav.DAVClient(self.url, username=USER, password=PASSWORD)


@pytest.fixture
def radicale(tmp_path):
    r = Radicale(tmp_path / "radicale")
    r.start()
    principal = r.client().principal()
    r.work = principal.make_calendar(name="Work", cal_id="work")
    r.personal = principal.make_calendar(name="Personal", cal_id="personal")
    principal.make_calendar(name="Tasks", cal_id="tasks",
                            supported_calendar_component_set=["VTODO"])
    yield r
    r.stop()


def text(r):
    return r.body.decode("utf-8", "replace")


def connect(d, url, user=USER, password=PASSWORD, **extra):
    body = {"kind": "caldav", "url": url, "username": user,
            "password": password}
    body.update(extra)
    return d.post("/api/v1/hosts/coach/calendars", body, admin=True)


def start(make_daemon, **env):
    d = make_daemon(env={**ENV, **env})
    d.apply(standard_catalog())
    return d


def events_of(cal):
    """{UID: VEVENT} of a calendar, read with python3-caldav."""
    out = {}
    for ev in cal.events():
        vcal = icalendar.Calendar.from_ical(ev.data)
        for comp in vcal.walk("VEVENT"):
            out[str(comp["UID"])] = comp
    return out


def iso(v):
    return v.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_discover_push_reschedule_cancel(make_daemon, radicale):
    d = start(make_daemon)
    r = connect(d, radicale.url)
    assert r.status == 201, r
    conn = r.json
    assert PASSWORD not in text(r), text(r)
    assert conn["id"].startswith("cal_") and conn["kind"] == "caldav", conn
    assert conn["status"] == "active" and conn["last_error"] is None, conn
    names = sorted(c["name"] for c in conn["calendars"])
    assert names == ["Personal", "Work"], conn  # the VTODO one left out
    assert sum(c["write"] for c in conn["calendars"]) == 1, conn
    work = next(c for c in conn["calendars"] if c["name"] == "Work")
    # Choose Work for writing, both as busy.
    r = d.patch(f"/api/v1/calendars/{conn['id']}",
                {"write_calendar": work["href"],
                 "busy_calendars": [c["href"] for c in conn["calendars"]]},
                admin=True)
    assert r.status == 200, r
    assert [c["name"] for c in r.json["calendars"] if c["write"]] == ["Work"]
    assert all(c["busy"] for c in r.json["calendars"])
    listed = d.get("/api/v1/hosts/coach/calendars", admin=True)
    assert listed.status == 200 and len(listed.json["data"]) == 1, listed
    for t in (text(listed), text(d.get(f"/api/v1/calendars/{conn['id']}",
                                       admin=True))):
        assert PASSWORD not in t and "credential" not in t, t
    # At rest: sealed, not the password.
    (cred,), = ledger_query(d, "SELECT credential FROM calendar_connections")
    assert cred.startswith("bk1:") and PASSWORD not in cred, cred

    s = d.slot_starts("intro")
    b = d.book("intro", s[0], notes="Bring the draft").json
    uid, token = b["uid"], b["manage_token"]
    H.wait_until(lambda: uid in events_of(radicale.work), 30,
                 "the event in Radicale")
    ev = events_of(radicale.work)[uid]
    assert iso(ev["DTSTART"]) == b["start"].replace(".000", ""), (ev, b)
    assert str(ev["SUMMARY"]) == "Intro call with Ada Lovelace" or \
        "Ada Lovelace" in str(ev["SUMMARY"]), ev["SUMMARY"]
    assert "Bring the draft" in str(ev["DESCRIPTION"])
    assert events_of(radicale.personal) == {}
    H.wait_outbox_idle(d)
    links = d.get(f"/api/v1/bookings/{uid}", admin=True).json["links"]
    ours = [l for l in links if l["provider"] == "caldav"]
    assert len(ours) == 1 and ours[0]["external_id"].startswith(
        work["href"]), links

    r = d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s[3]},
               query={"token": token})
    assert r.status == 200, r
    H.wait_until(lambda: iso(events_of(radicale.work)[uid]["DTSTART"]) ==
                 r.json["start"].replace(".000", ""), 30, "the event moved")
    assert list(events_of(radicale.work)) == [uid]  # the same event

    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "x"},
               query={"token": token})
    assert r.status == 200, r
    H.wait_until(lambda: uid not in events_of(radicale.work), 30,
                 "the event deleted")
    H.wait_outbox_idle(d)
    assert d.get(f"/api/v1/calendars/{conn['id']}",
                 admin=True).json["status"] == "active"
    assert PASSWORD not in d.stdout() + d.stderr()

    r = d.delete(f"/api/v1/calendars/{conn['id']}", admin=True)
    assert r.status == 204, r
    assert d.get(f"/api/v1/calendars/{conn['id']}", admin=True).status == 404


def test_edited_in_calendar_then_rescheduled(make_daemon, radicale):
    """The host edits the event (its ETag changes); a reschedule's PUT with
    the old ETag gets 412: bookingd reads it back and writes the booking's
    state over it, once."""
    d = start(make_daemon)
    assert connect(d, radicale.url + f"{USER}/work/").status == 201
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    uid = b["uid"]
    H.wait_until(lambda: uid in events_of(radicale.work), 30, "the event")
    H.wait_outbox_idle(d)
    ev = next(e for e in radicale.work.events() if uid in e.data)
    ev.data = ev.data.replace("SUMMARY:", "SUMMARY:Edited ")
    ev.save()
    r = d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s[2]},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    H.wait_until(lambda: iso(events_of(radicale.work)[uid]["DTSTART"]) ==
                 r.json["start"].replace(".000", ""), 30, "the event moved")
    assert len(events_of(radicale.work)) == 1


def test_calendar_down_then_back(make_daemon, radicale):
    d = start(make_daemon)
    assert connect(d, radicale.url).status == 201
    radicale.stop()
    s = d.slot_starts("intro")
    uids = [d.book("intro", s[i], email=f"p{i}@example.com").json["uid"]
            for i in (0, 2)]
    H.wait_until(lambda: ledger_query(
        d, "SELECT id FROM jobs WHERE kind = 'calendars.push' "
           "AND attempts >= 2"), 30, "failed attempts")
    conn = d.get("/api/v1/hosts/coach/calendars", admin=True).json["data"][0]
    assert conn["status"] == "error" and conn["last_error"], conn
    radicale.start()
    H.wait_outbox_idle(d, 60)
    got = events_of(radicale.work)
    assert sorted(got) == sorted(uids), got
    conn = d.get("/api/v1/hosts/coach/calendars", admin=True).json["data"][0]
    assert conn["status"] == "active" and conn["last_error"] is None, conn


def test_wrong_password_stores_nothing(make_daemon, radicale):
    d = start(make_daemon)
    bad = "wrong-" + secrets.token_hex(6)
    r = connect(d, radicale.url, password=bad)
    assert_error(r, 422, "calendar_auth_failed", "password")
    assert "401" in r.json["error"]["message"], r.json
    assert bad not in text(r) and PASSWORD not in text(r)
    assert d.get("/api/v1/hosts/coach/calendars",
                 admin=True).json["data"] == []
    assert ledger_query(d, "SELECT id FROM calendar_connections") == []
    r = connect(d, radicale.url + "nobody/nothing/")
    assert r.status == 422, r
    assert bad not in d.stdout() + d.stderr()


class Fake:
    """A CalDAV server that answers every request with answer(path)."""

    def __init__(self, answer):
        outer = self
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def handle_one(self):
                n = int(self.headers.get("Content-Length", "0") or 0)
                self.rfile.read(n)
                outer.requests.append((self.command, self.path))
                status, headers, body = answer(self.path)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            do_PROPFIND = do_GET = do_PUT = do_REPORT = handle_one

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


MS = "application/xml; charset=utf-8"


def test_hostile_input(make_daemon):
    d = start(make_daemon)
    for url in ("not a url", "ftp://example.com/", "https:///x",
                "https://user:pw@example.com/", "x" * 3000):
        r = connect(d, url)
        assert_error(r, 422, None, "url")
    r = connect(d, "https://example.com/", kind="google")
    assert r.status == 422, r
    r = connect(d, "https://example.com/", extra="x")
    assert r.status in (400, 422), r
    r = connect(d, "https://example.com/", password="p" * 5000)
    assert r.status == 422, r
    r = d.post("/api/v1/hosts/nobody/calendars",
               {"kind": "caldav", "url": "https://example.com/",
                "username": "u", "password": "p"}, admin=True)
    assert r.status in (404, 422), r
    r = d.post("/api/v1/hosts/coach/calendars",
               {"kind": "caldav", "url": "https://example.com/",
                "username": "u", "password": "p"})
    assert r.status == 401, r

    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            b'<d:multistatus xmlns:d="DAV:">&lol2;</d:multistatus>')
    answers = {
        "malformed": (207, {"Content-Type": MS}, b"<d:multistatus xmlns:d="),
        "not-xml": (207, {"Content-Type": MS}, b"\x00\xff" * 100),
        "bomb": (207, {"Content-Type": MS}, bomb),
        "huge": (207, {"Content-Type": MS},
                 b'<d:multistatus xmlns:d="DAV:">' + b" " * (6 << 20) +
                 b"</d:multistatus>"),
        "elsewhere": (301, {"Location": "http://169.254.169.254/latest/"},
                      b""),
        "loop": (301, {"Location": "/loop"}, b""),
        "html": (200, {"Content-Type": "text/html"}, b"<html>hi</html>"),
    }
    for name, answer in answers.items():
        fake = Fake(lambda path, a=answer: a)
        try:
            # A path, so the well-known URI is not tried first.
            r = connect(d, fake.url + "dav/")
            assert r.status == 422, (name, r)
            assert PASSWORD not in text(r), (name, text(r))
            if name == "elsewhere":
                assert all(p != "/latest/" for _, p in fake.requests)
            if name == "loop":
                assert len(fake.requests) <= 6, fake.requests
        finally:
            fake.close()
    assert ledger_query(d, "SELECT id FROM calendar_connections") == []
    assert d.get("/readyz").status == 200


def test_private_address_needs_the_switch(make_daemon, radicale):
    d = start(make_daemon, BOOKINGD_CALENDAR_ALLOW_PRIVATE="0")
    r = connect(d, radicale.url)
    assert_error(r, 422, None, "url")
    assert "BOOKINGD_CALENDAR_ALLOW_PRIVATE" in r.json["error"]["message"]


def test_no_secret_key_refuses_credentials(make_daemon, radicale):
    d = start(make_daemon, BOOKINGD_SECRET_KEY=None)
    r = connect(d, radicale.url)
    assert_error(r, 503, "secret_key_missing")
    assert "BOOKINGD_SECRET_KEY" in r.json["error"]["message"]
    assert ledger_query(d, "SELECT id FROM calendar_connections") == []


@pytest.mark.parametrize("key", ["short", "A" * 42, base64.b64encode(
    b"x" * 31).decode(), "not base64 at all!!!!!!!!!!!!!!!!!!!!!!!!!!"])
def test_malformed_secret_key_stops_start(tmp_path, key):
    from conftest import Daemon
    d = Daemon(tmp_path / "d", env={"BOOKINGD_SECRET_KEY": key})
    p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2, p
    assert "BOOKINGD_SECRET_KEY" in p.stderr and key not in p.stderr, p.stderr


def parse_z(s):
    """An instant of the API (Z or an offset) as an aware UTC datetime."""
    import datetime as dt
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(
        dt.timezone.utc)


def instants(starts):
    return {parse_z(x) for x in starts}


def ics_event(uid, start, end, extra=""):
    f = "%Y%m%dT%H%M%SZ"
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART:{start.strftime(f)}\r\nDTEND:{end.strftime(f)}\r\n"
            f"SUMMARY:Dentist\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n")


def sync(d, body=None):
    r = d.post("/api/v1/sync", body if body is not None else {}, admin=True)
    assert r.status == 200, r
    assert set(r.json) == {"total", "created", "updated", "skipped",
                           "errors"}, r.json
    return r.json


def test_busy_events_block_slots(make_daemon, radicale):
    import datetime as dt
    d = start(make_daemon)
    r = connect(d, radicale.url + f"{USER}/work/")
    assert r.status == 201, r
    assert r.json["calendars"][0]["busy"] and r.json["calendars"][0]["write"]
    H.wait_until(lambda: d.get("/api/v1/hosts/coach/calendars", admin=True)
                 .json["data"][0]["last_sync_at"], 30, "the first sync")
    s = d.slot_starts("intro")
    busy_at, free_at, weekly_at = s[2], s[5], s[8]
    b0 = parse_z(busy_at)
    radicale.work.save_event(ics_event("dentist-1", b0,
                                       b0 + dt.timedelta(minutes=30)))
    f0 = parse_z(free_at)
    radicale.work.save_event(ics_event("transparent-1", f0,
                                       f0 + dt.timedelta(minutes=30),
                                       "TRANSP:TRANSPARENT\r\n"))
    w0 = parse_z(weekly_at)
    # Weekly, 3 times, the second week excluded.
    radicale.work.save_event(ics_event(
        "weekly-1", w0, w0 + dt.timedelta(minutes=30),
        "RRULE:FREQ=WEEKLY;COUNT=3\r\nEXDATE:" +
        (w0 + dt.timedelta(days=7)).strftime("%Y%m%dT%H%M%SZ") + "\r\n"))
    got = sync(d, {"provider": "caldav"})
    assert got["errors"] == [] and got["total"] >= 3, got
    assert got["created"] >= 2, got
    after = instants(d.slot_starts("intro", span=20))
    assert b0 not in after and w0 not in after, after
    assert f0 in after  # transparent: free
    w1, w2 = w0 + dt.timedelta(days=7), w0 + dt.timedelta(days=14)
    assert w1 in after and w2 not in after, (w1, w2)
    # A hostile event (10,000 hourly instances, a SUMMARY full of markup and
    # control characters) is an error of the connection; the rest of the
    # calendar still counts.
    radicale.work.save_event(ics_event(
        "storm-1", b0 + dt.timedelta(hours=1),
        b0 + dt.timedelta(hours=1, minutes=30),
        "RRULE:FREQ=HOURLY;COUNT=10000\r\n").replace(
            "SUMMARY:Dentist", "SUMMARY:<script>\\n" + "x" * 5000))
    got = sync(d)
    assert any("storm" in e["message"] or "instances" in e["message"]
               for e in got["errors"]), got
    assert b0 not in instants(d.slot_starts("intro", span=20))
    assert d.get("/readyz").status == 200
    radicale.work.event_by_uid("storm-1").delete()
    assert sync(d)["errors"] == []
    # The claim refuses it too.
    r = d.book("intro", busy_at, expect=None)
    assert r.status == 409, r
    # Nothing changed: the sync token says so.
    again = sync(d)
    assert again["created"] == 0 and again["updated"] == 0, again
    assert again["skipped"] >= 1 and again["errors"] == [], again
    # Deleted in the calendar: free again after a sync.
    radicale.work.event_by_uid("dentist-1").delete()
    got = sync(d, {"host": "coach"})
    # Incremental (RFC 6578): only the removed event is looked at.
    assert got["updated"] == 1 and got["total"] == 1, got
    assert b0 in instants(d.slot_starts("intro"))
    r = d.post("/api/v1/sync", {"connection": "cal_nope"}, admin=True)
    assert r.status == 404, r
    # A kind with no connection: nothing to do; an unknown one: 422.
    r = d.post("/api/v1/sync", {"provider": "google"}, admin=True)
    assert r.status == 200 and r.json["total"] == 0, r
    r = d.post("/api/v1/sync", {"provider": "outlook"}, admin=True)
    assert r.status == 422, r


def move_event(cal, uid, start, end):
    ev = cal.event_by_uid(uid)
    vcal = icalendar.Calendar.from_ical(ev.data)
    for comp in vcal.walk("VEVENT"):
        comp["DTSTART"] = icalendar.vDDDTypes(start)
        comp["DTEND"] = icalendar.vDDDTypes(end)
    ev.data = vcal.to_ical().decode()
    ev.save()


def test_moved_and_deleted_in_calendar(make_daemon, radicale):
    import datetime as dt
    d = start(make_daemon)
    assert connect(d, radicale.url + f"{USER}/work/").status == 201
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    other = d.book("intro", s[6], email="bo@example.com").json
    uid = b["uid"]
    H.wait_until(lambda: uid in events_of(radicale.work) and
                 other["uid"] in events_of(radicale.work), 30, "the events")
    H.wait_outbox_idle(d)
    first = sync(d)  # the pushed events, as the calendar has them now
    assert first["errors"] == [] and first["updated"] == 0, first
    # Moved by the host to a free time: the booking follows.
    to = parse_z(s[4])
    move_event(radicale.work, uid, to, to + dt.timedelta(minutes=30))
    got = sync(d)
    assert got["updated"] >= 1 and got["errors"] == [], got
    # Incremental: the moved event is read, not the other booking's.
    assert got["total"] == 1, got
    moved = d.get(f"/api/v1/bookings/{uid}", admin=True).json
    assert parse_z(moved["start"]) == to, moved
    H.wait_outbox_idle(d)
    assert events_of(radicale.work)[uid]["DTSTART"].dt == to
    # Moved onto another booking: refused, the event goes back.
    taken = parse_z(other["start"])
    move_event(radicale.work, uid, taken, taken + dt.timedelta(minutes=30))
    got = sync(d)
    assert any(uid in e["message"] for e in got["errors"]), got
    H.wait_until(lambda: events_of(radicale.work)[uid]["DTSTART"].dt == to,
                 30, "the event put back")
    assert parse_z(d.get(f"/api/v1/bookings/{uid}",
                         admin=True).json["start"]) == to
    H.wait_outbox_idle(d)
    # Deleted by the host: the booking is cancelled.
    radicale.work.event_by_uid(uid).delete()
    got = sync(d)
    assert got["updated"] >= 1, got
    gone = d.get(f"/api/v1/bookings/{uid}", admin=True).json
    assert gone["status"] == "cancelled", gone
    assert "deleted in calendar" in json_text(gone), gone
    assert d.get(f"/api/v1/bookings/{other['uid']}",
                 admin=True).json["status"] == "confirmed"


def test_sync_token_forgotten_by_the_server(make_daemon, radicale):
    """The server forgets the stored sync token (Radicale drops tokens
    unused for max_sync_token_age, 30 days by default, at the next write):
    it answers the sync-collection REPORT with 403 and the
    DAV:valid-sync-token precondition (RFC 6578 §3.2). That is not a wrong
    password: the sync reads the whole window instead, finds what changed
    meanwhile, stores the new token, and the connection stays active."""
    d = start(make_daemon)
    r = connect(d, radicale.url + f"{USER}/work/")
    assert r.status == 201, r
    cid = r.json["id"]
    s = d.slot_starts("intro")
    uid = d.book("intro", s[0]).json["uid"]
    H.wait_until(lambda: uid in events_of(radicale.work), 30, "the event")
    H.wait_outbox_idle(d)
    assert sync(d, {"connection": cid})["errors"] == []  # a token stored
    (calendars,), = ledger_query(
        d, "SELECT calendars FROM calendar_connections")
    assert "radicale.org/ns/sync/" in calendars, calendars
    # What Radicale does to a token past its age: its state file goes.
    tokens = pathlib.Path(radicale.root) / "collections" / \
        "collection-root" / USER / "work" / ".Radicale.cache" / "sync-token"
    gone = list(tokens.iterdir())
    assert gone, "radicale keeps its sync tokens there"
    for p in gone:
        p.unlink()
    radicale.work.event_by_uid(uid).delete()
    got = sync(d, {"connection": cid})
    assert got["errors"] == [], got
    assert got["updated"] >= 1, got
    b = d.get(f"/api/v1/bookings/{uid}", admin=True).json
    assert b["status"] == "cancelled", b
    c = d.get(f"/api/v1/calendars/{cid}", admin=True).json
    assert c["status"] == "active" and c["last_error"] is None, c
    # A new token is stored: the next sync is incremental again.
    (after,), = ledger_query(d, "SELECT calendars FROM calendar_connections")
    assert after != calendars and "radicale.org/ns/sync/" in after, after
    again = sync(d, {"connection": cid})
    assert again["errors"] == [] and again["total"] == 0, again


def test_sync_refused_at_every_read_is_an_auth_failure(make_daemon):
    """A server that answers 403 to the sync-collection REPORT and to the
    calendar-query that follows it refuses the account: needs_auth, with
    the server's status."""
    found = ('<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:'
             'caldav"><d:response><d:href>/dav/</d:href><d:propstat><d:prop>'
             '<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>'
             '<d:displayname>Work</d:displayname>'
             '<c:supported-calendar-component-set><c:comp name="VEVENT"/>'
             '</c:supported-calendar-component-set><d:current-user-principal>'
             '<d:href>/dav/</d:href></d:current-user-principal>'
             '<d:sync-token>http://fake.example/sync/1</d:sync-token>'
             '</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>'
             '</d:response></d:multistatus>').encode()
    state = {"answer": (207, {"Content-Type": MS}, found)}
    fake = Fake(lambda path: state["answer"])
    try:
        d = start(make_daemon)
        r = connect(d, fake.url + "dav/")
        assert r.status == 201, r
        cid = r.json["id"]
        H.wait_until(lambda: "fake.example/sync/1" in ledger_query(
            d, "SELECT calendars FROM calendar_connections")[0][0], 30,
            "the first sync's token")
        state["answer"] = (403, {"Content-Type": MS}, (
            '<d:error xmlns:d="DAV:"><d:valid-sync-token/></d:error>'
            ).encode())
        before = len(fake.requests)
        got = sync(d, {"connection": cid})
        assert len(got["errors"]) == 1 and "403" in \
            got["errors"][0]["message"], got
        reports = [m for m, _ in fake.requests[before:] if m == "REPORT"]
        assert len(reports) == 2, fake.requests[before:]  # sync, then query
        c = d.get(f"/api/v1/calendars/{cid}", admin=True).json
        assert c["status"] == "needs_auth" and "403" in c["last_error"], c
    finally:
        fake.close()


def json_text(v):
    import json
    return json.dumps(v)


def test_push_made_during_a_sync_is_not_taken_for_a_deletion(
        make_daemon, radicale, tmp_path):
    """A sync reads the calendar, then a booking is made and pushed before
    the sync acts on its read: the new event is missing from the read, but
    the booking is not cancelled as "deleted in calendar" (the read is
    checked against the calendar first). The connection's first sync is
    held between its read and what follows (base/fault.h hold point)."""
    hold = tmp_path / "hold-sync"
    hold.write_text("held\n")
    d = start(make_daemon, BOOKINGD_FAULTS="calendars.sync.read=1",
              BOOKINGD_FAULT_HOLD_FILE=str(hold))
    assert connect(d, radicale.url + f"{USER}/work/").status == 201
    # The first sync (run right after connecting) reaches the hold: a
    # running calendars.sync job.
    H.wait_until(lambda: ledger_query(
        d, "SELECT id FROM jobs WHERE kind = 'calendars.sync' "
           "AND status = 1"), 60, "the sync held after its read")
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    uid = b["uid"]
    H.wait_until(lambda: uid in events_of(radicale.work), 60,
                 "the event pushed while the sync is held")
    hold.unlink()
    H.wait_until(lambda: not ledger_query(
        d, "SELECT id FROM jobs WHERE kind = 'calendars.sync' "
           "AND status IN (0, 1) AND run_at_ms <= ?",
        (int(time.time() * 1000),)), 60, "the held sync done")
    got = d.get(f"/api/v1/bookings/{uid}", admin=True)
    assert got.status == 200, got
    assert got.json["status"] == "confirmed", got.json
    assert uid in events_of(radicale.work)


def test_sync_errors_of_a_hostile_server_are_reported(make_daemon):
    """A connected server that later answers garbage: each sync and
    reconcile reports it as an error of the connection (valid text in valid
    JSON, even from bytes that are not UTF-8), recorded on the connection;
    the daemon is unharmed."""
    one = ('<d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:'
           'caldav"><d:response><d:href>/dav/</d:href><d:propstat><d:prop>'
           '<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>'
           '<d:displayname>Work</d:displayname>'
           '<c:supported-calendar-component-set><c:comp name="VEVENT"/>'
           '</c:supported-calendar-component-set><d:current-user-principal>'
           '<d:href>/dav/</d:href></d:current-user-principal></d:prop>'
           '<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>'
           '</d:multistatus>').encode()
    state = {"answer": (207, {"Content-Type": MS}, one)}
    fake = Fake(lambda path: state["answer"])
    try:
        d = start(make_daemon)
        r = connect(d, fake.url + "dav/")
        assert r.status == 201, r
        cid = r.json["id"]
        for body in (b"\x00\xff\xfe<d:multistatus" * 50,
                     b"<d:multistatus xmlns:d=\"DAV:\"><d:response>\xc3"):
            state["answer"] = (207, {"Content-Type": MS}, body)
            for req in ({"connection": cid},
                        {"connection": cid, "reconcile": True}):
                got = sync(d, req)
                assert len(got["errors"]) == 1, got
                msg = got["errors"][0]["message"]
                assert msg.startswith("REPORT " + fake.url) or \
                    msg.startswith("PROPFIND " + fake.url), got
                assert "\ufffd" not in msg and msg.count(fake.url) == 1, got
            conn = d.get(f"/api/v1/calendars/{cid}", admin=True).json
            assert conn["status"] == "error" and conn["last_error"], conn
            assert conn["last_reconcile"]["errors"] == [msg], conn
        assert d.get("/readyz").status == 200
    finally:
        fake.close()
def test_password_changed_in_place(make_daemon, radicale):
    """The password changes at the server: pushes fail (the connection
    says why); a wrong new password is refused with what the server said
    and changes nothing; the right one is checked, stored sealed, and the
    connection recovers (the push that failed arrives)."""
    d = start(make_daemon)
    r = connect(d, radicale.url + f"{USER}/work/")
    assert r.status == 201, r
    cid = r.json["id"]
    s = d.slot_starts("intro")
    first = d.book("intro", s[0], email="p0@example.com").json["uid"]
    H.wait_until(lambda: first in events_of(radicale.work), 30, "the event")
    H.wait_outbox_idle(d)

    new = "n3w-" + secrets.token_hex(8)
    (radicale.root / "users").write_text(f"{USER}:{new}\n")
    work = caldav.DAVClient(radicale.url, username=USER,
                            password=new).calendar(
                                url=radicale.url + f"{USER}/work/")
    second = d.book("intro", s[2], email="p2@example.com").json["uid"]

    def failing():
        c = d.get(f"/api/v1/calendars/{cid}", admin=True).json
        return c if c["status"] != "active" else None
    c = H.wait_until(failing, 60, "the connection's error")
    assert c["status"] in ("needs_auth", "error") and "401" in \
        c["last_error"], c
    (sealed,), = ledger_query(d, "SELECT credential FROM calendar_connections")

    # Wrong: the server's answer, nothing changed.
    bad = "wrong-" + secrets.token_hex(6)
    r = d.patch(f"/api/v1/calendars/{cid}", {"password": bad}, admin=True)
    assert_error(r, 422, "calendar_auth_failed", "password")
    assert "401" in r.json["error"]["message"], r.json
    assert ledger_query(d, "SELECT credential FROM calendar_connections") == \
        [(sealed,)]
    assert d.get(f"/api/v1/calendars/{cid}",
                 admin=True).json["status"] != "active"

    # Malformed and hostile bodies: 422 (or 404), nothing changed.
    for body in ({"password": ""}, {"password": 42}, {"password": None},
                 {"password": "x" * 1025}, {"username": USER},
                 {"username": "x" * 257, "password": new},
                 {"password": new, "credential": "bk1:x"},
                 {"password": "a\u0000b"}):
        r = d.patch(f"/api/v1/calendars/{cid}", body, admin=True)
        assert r.status in (400, 422), (body, r)  # 400: JSON with a NUL
        assert new not in text(r)
    r = d.patch("/api/v1/calendars/cal_nosuchconnection", {"password": new},
                admin=True)
    assert r.status == 404, r
    r = d.patch(f"/api/v1/calendars/{cid}", {"password": new})
    assert r.status == 401, r
    assert ledger_query(d, "SELECT credential FROM calendar_connections") == \
        [(sealed,)]

    # Right: stored sealed, active again, and the failed push goes through.
    r = d.patch(f"/api/v1/calendars/{cid}", {"username": USER,
                                             "password": new}, admin=True)
    assert r.status == 200, r
    assert r.json["status"] == "active" and r.json["last_error"] is None, r
    assert new not in text(r) and "credential" not in text(r)
    (now,), = ledger_query(d, "SELECT credential FROM calendar_connections")
    assert now.startswith("bk1:") and now != sealed and new not in now

    def seen():
        got = set()
        for ev in work.events():
            for comp in icalendar.Calendar.from_ical(ev.data).walk("VEVENT"):
                got.add(str(comp["UID"]))
        return second in got
    H.wait_until(seen, 60, "the failed push, after the new password")
    H.wait_outbox_idle(d, 60)
    c = d.get(f"/api/v1/calendars/{cid}", admin=True).json
    assert c["status"] == "active" and c["last_error"] is None, c
    assert new not in d.stdout() + d.stderr()
    assert bad not in d.stdout() + d.stderr()
