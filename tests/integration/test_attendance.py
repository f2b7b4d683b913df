"""Attendance marked by the host (docs/api.md "Completed and no-show"):
POST /api/v1/bookings/{uid}/complete and /no-show, admin only, the
lifecycle's transitions only (409 otherwise, the database unchanged), from
the booking's start on, history and activity as Zoom's attendance writes,
a prospect client made active by a completed booking. The daemon's wall
clock is stepped forward (clockshift.c) so that a booking made for a
coming slot has started."""
import datetime as dt

from urllib.parse import quote

import pytest

import calcom_helpers as H
from conftest import assert_error, ledger_query, standard_catalog, today_in
from test_clock import shifted_env

DAY = dt.timedelta(days=1)


def day_slots(d, offset_days=2):
    day = today_in("Europe/Berlin") + offset_days * DAY
    got = d.slots("intro", day, day)["slots"]
    return [s["start"] for s in got.get(str(day), [])]


@pytest.fixture
def shifted(make_daemon, tmp_path):
    """A daemon with the standard catalog and a function that moves its
    wall clock `days` ahead, returning when the daemon shows it."""
    offset = tmp_path / "clock-offset-ms"
    d = make_daemon(env=shifted_env(offset))
    d.apply(standard_catalog())

    def step(days):
        """Moves the clock `days` (>= 3) ahead; returns once the daemon
        offers no more times on the day after tomorrow (its past now)."""
        offset.write_text(f"{int(days * 86400 * 1000)}\n")
        H.wait_until(lambda: not day_slots(d), 30,
                     "the daemon's clock stepped")
    return d, step


def mark(d, uid, what, body=None, **kw):
    kw.setdefault("admin", True)
    if body is None:
        return d.request("POST", f"/api/v1/bookings/{uid}/{what}", **kw)
    return d.post(f"/api/v1/bookings/{uid}/{what}", body, **kw)


def client_status(d, b):
    got = d.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    return d.get(f"/api/v1/clients/{got['client']['id']}",
                 admin=True).json["status"]


def activity(d, uid):
    return [r[0] for r in ledger_query(
        d, "SELECT a.kind FROM activity a JOIN bookings b ON "
           "b.id = a.booking_id WHERE b.uid = ? ORDER BY a.id", (uid,))]


@pytest.mark.timeout(120)
def test_marks_follow_the_lifecycle(shifted):
    d, step = shifted
    s = day_slots(d)
    b = d.book("intro", s[0], email="ada@example.com").json
    other = d.book("intro", s[2], email="bob@example.com").json
    gone = d.book("intro", s[4], email="cy@example.com").json
    assert d.post(f"/api/v1/bookings/{gone['uid']}/cancel", {},
                  admin=True).status == 200
    # Not started yet: refused, nothing written.
    before = d.snapshot()
    for what in ("complete", "no-show"):
        r = mark(d, b["uid"], what)
        assert_error(r, 409, "illegal_transition")
        assert "not started" in r.json["error"]["message"], r
    assert d.snapshot() == before
    assert client_status(d, b) == "prospect"

    step(3)
    # no-show: the client stays a prospect.
    r = mark(d, b["uid"], "no-show", {"note": "did not join"})
    assert r.status == 200, r
    assert r.json["status"] == "no_show" and r.json["uid"] == b["uid"]
    assert client_status(d, b) == "prospect"
    # no_show -> completed (the attendee came after all): active client.
    r = mark(d, b["uid"], "complete")
    assert r.status == 200 and r.json["status"] == "completed", r
    assert client_status(d, b) == "active"
    # completed -> completed is not a transition.
    before = d.snapshot()
    assert_error(mark(d, b["uid"], "complete", {}), 409,
                 "illegal_transition")
    assert d.snapshot() == before
    # completed -> no_show is (a correction).
    r = mark(d, b["uid"], "no-show", {})
    assert r.status == 200 and r.json["status"] == "no_show", r
    before = d.snapshot()
    assert_error(mark(d, b["uid"], "no-show"), 409, "illegal_transition")
    # A cancelled booking can be neither.
    for what in ("complete", "no-show"):
        assert_error(mark(d, gone["uid"], what), 409, "illegal_transition")
    assert d.snapshot() == before

    h = d.get(f"/api/v1/bookings/{b['uid']}/history", admin=True).json
    tail = [(e["action"], e["actor"], e["changes"].get("status"), e["note"])
            for e in h["data"]][1:]
    assert tail == [
        ("no_show", "admin", ["confirmed", "no_show"], "did not join"),
        ("completed", "admin", ["no_show", "completed"], None),
        ("no_show", "admin", ["completed", "no_show"], None)], tail
    kinds = activity(d, b["uid"])
    assert kinds.count("BOOKING_NO_SHOW") == 2, kinds
    assert kinds.count("BOOKING_COMPLETED") == 1, kinds
    assert kinds.count("CLIENT_ACTIVATED") == 1, kinds
    # The other booking: confirmed -> completed directly.
    r = mark(d, other["uid"], "complete", {"note": "good session"})
    assert r.status == 200 and r.json["status"] == "completed", r
    assert client_status(d, other) == "active"
    # The metrics count them.
    m = d.get("/api/v1/metrics/summary", admin=True,
              query={"to": str(today_in("UTC") + 5 * DAY)}).json
    assert m["bookings"]["completed"] == 1 and m["bookings"]["no_show"] == 1
    assert m["no_show_rate"] == 0.5


@pytest.mark.parametrize("body,field", [
    ({"note": 5}, "note"),
    ({"note": "n" * 5001}, "note"),
    ({"note": "bell\u0007"}, "note"),
    ({"reason": "x"}, "reason"),
    ({"note": "x", "status": "completed"}, "status"),
])
def test_bad_bodies_are_422(app, body, field):
    b = app.book("intro", day_slots(app)[0]).json
    before = app.snapshot()
    for what in ("complete", "no-show"):
        assert_error(mark(app, b["uid"], what, body), 422, "invalid_field",
                     field)
    assert app.snapshot() == before


def test_refused_requests_change_nothing(app):
    b = app.book("intro", day_slots(app)[0]).json
    before = app.snapshot()
    for what in ("complete", "no-show"):
        path = f"/api/v1/bookings/{b['uid']}/{what}"
        # Not an admin: no key, a wrong key, the attendee's manage token.
        assert app.request("POST", path).status == 401
        assert app.request("POST", path, admin="wrong" * 8).status == 401
        assert app.request("POST", path,
                           query={"token": b["manage_token"]}).status == 401
        # Malformed JSON, not an object, another media type.
        r = app.request("POST", path, raw=b"{not json", admin=True)
        assert r.status == 400, r
        r = app.request("POST", path, raw=b"[1]", admin=True)
        assert r.status in (400, 422), r
        r = app.request("POST", path, raw=b"note=x", admin=True,
                        content_type="application/x-www-form-urlencoded")
        assert r.status == 415, r
        r = app.request("POST", path, raw=b"{\"note\":\"" + b"x" * 2_000_000
                        + b"\"}", admin=True)
        assert r.status in (413, 422), r
        # Unknown, hostile and oversized uids.
        for uid in ("nope", "../../etc/passwd", "%00", "u" * 300,
                    "'; DROP TABLE bookings; --"):
            r = mark(app, quote(uid, safe=""), what)
            assert r.status == 404, (uid, r)
        # Other methods.
        assert app.request("GET", path, admin=True).status == 405
    assert app.snapshot() == before
    got = app.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert got["status"] == "confirmed"


def test_metrics_count_the_days_of_the_zone_asked(make_daemon):
    """GET /api/v1/metrics/summary?timezone=: a session counts on its local
    date in that zone (23:30 UTC is the next morning in Tokyo, the same
    afternoon in Los Angeles); without one, on its UTC date. The answer
    names the zone; a zone the tz database lacks is a 400 that changes
    nothing."""
    from conftest import parse_instant, today_utc
    d = make_daemon()
    d.apply(standard_catalog(zone="UTC", start="00:00", end="24:00"))
    day = today_utc() + dt.timedelta(days=3)
    starts = [s["start"] for s in d.slots("intro", day, day,
                                          "UTC")["slots"][str(day)]]
    late = [s for s in starts if parse_instant(s).astimezone(
        dt.timezone.utc).strftime("%H:%M") == "23:30"]
    assert late, starts
    d.book("intro", late[0])
    nxt = day + dt.timedelta(days=1)

    def confirmed(frm, to, **q):
        r = d.get("/api/v1/metrics/summary", admin=True,
                  query={"from": str(frm), "to": str(to), **q})
        assert r.status == 200, r
        return r.json["bookings"]["confirmed"], r.json

    n, m = confirmed(day, day)
    assert n == 1 and m["timezone"] == "UTC", m
    n, m = confirmed(day, day, timezone="Asia/Tokyo")
    assert n == 0 and m["timezone"] == "Asia/Tokyo", m
    n, m = confirmed(nxt, nxt, timezone="Asia/Tokyo")
    assert n == 1, m
    n, m = confirmed(day, day, timezone="America/Los_Angeles")
    assert n == 1, m
    # The series too: per week in Tokyo, the booking is in the week that
    # holds the next day.
    n, m = confirmed(day - dt.timedelta(days=14), nxt + dt.timedelta(days=14),
                     timezone="Asia/Tokyo", interval="week")
    holding = [w for w in m["series"] if w["bookings"]["confirmed"]]
    assert len(holding) == 1 and \
        holding[0]["from"] <= str(nxt) <= holding[0]["to"], m["series"]
    # An alias answers with its zone's name.
    n, m = confirmed(day, day, timezone="US/Pacific")
    assert n == 1 and m["timezone"] == "America/Los_Angeles", m
    before = d.snapshot()
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", "A" * 300, "",
                "UTC\x00", "posix/Europe/Berlin", "Europe/Berlin "):
        assert_error(d.get("/api/v1/metrics/summary", admin=True,
                           query={"timezone": bad}), 400, "invalid_query")
    assert d.snapshot() == before
