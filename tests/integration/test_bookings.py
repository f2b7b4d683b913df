"""Bookings and clients (API.md "Bookings", "Clients"): create, read with the
admin key or the manage token, list with filters and cursor paging, cancel,
reschedule, history, client find-or-create."""
import datetime as dt
import zoneinfo

import pytest

from conftest import (assert_error, parse_instant, standard_catalog,
                      today_in, utc_now)

DAY = dt.timedelta(days=1)
BOOKING_FIELDS = {
    "uid", "event_type", "host", "client", "attendee", "start", "end",
    "attendee_timezone", "status", "payment_status", "source", "location",
    "meeting_url", "notes", "cancellation_reason", "rescheduled_from",
    "created_at", "updated_at", "links"}


def day_slots(d, slug="intro", offset_days=2):
    day = today_in("Europe/Berlin") + offset_days * DAY
    j = d.slots(slug, day, day)
    return [s["start"] for s in j["slots"][str(day)]]


def z(text):
    """An RFC 3339 instant as the API renders stored instants (UTC, Z)."""
    return parse_instant(text).astimezone(dt.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def without_token(b):
    return {k: v for k, v in b.items()
            if k not in ("manage_token", "manage_url")}


def public(b):
    """A booking as a visitor or a manage token sees it: no client, no
    answers (test_questions.py), no flag (test_calendar_reconcile.py)."""
    return {**{k: v for k, v in without_token(b).items()
               if k not in ("answers", "flag")},
            "client": None}


def client_of(d, b):
    """The stored client of booking b, through the admin API (a public
    answer has none: docs/api.md "Clients and attendees")."""
    return d.get(f"/api/v1/bookings/{b['uid']}", admin=True).json["client"]


# ---- create ------------------------------------------------------------------

def test_create_booking(app):
    start = day_slots(app)[4]
    t0 = utc_now().replace(microsecond=0)
    r = app.book("intro", start, email="ada@example.com", name="Ada Lovelace",
                 timezone="Europe/London", notes="Hello\nthere")
    b = r.json
    assert BOOKING_FIELDS <= set(b), set(b) ^ BOOKING_FIELDS
    assert isinstance(b["uid"], str) and len(b["uid"]) >= 16
    assert b["event_type"] == "intro" and b["host"] == "coach"
    assert b["event_type_title"] == "Intro call"  # docs/api.md
    assert b["start"] == z(start)
    assert parse_instant(b["end"]) - parse_instant(b["start"]) == \
        dt.timedelta(minutes=30)
    assert b["status"] == "confirmed"
    assert b["payment_status"] == "none"
    assert b["source"] == "web"
    assert b["attendee_timezone"] == "Europe/London"
    assert b["notes"] == "Hello\nthere"
    assert b["cancellation_reason"] is None
    assert b["rescheduled_from"] is None
    assert b["links"] == []
    assert b["client"] is None  # a visitor's answer shows no client
    assert b["attendee"] == {"name": "Ada Lovelace",
                             "email": "ada@example.com"}
    assert parse_instant(b["created_at"]) >= t0
    assert b["created_at"] == b["updated_at"]
    assert isinstance(b["manage_token"], str) and len(b["manage_token"]) >= 32
    assert b["uid"] in b["manage_url"] and b["manage_token"] in b["manage_url"]
    assert r.header("Content-Type").startswith("application/json")

    # it is in the list and readable by the admin
    lst = app.get("/api/v1/bookings", admin=True).json
    assert [x["uid"] for x in lst["data"]] == [b["uid"]]
    assert public(lst["data"][0]) == public(b)
    got = app.get(f"/api/v1/bookings/{b['uid']}", admin=True)
    assert got.status == 200 and public(got.json) == public(b)
    c = got.json["client"]
    assert c["email"] == "ada@example.com" and c["name"] == "Ada Lovelace"
    assert c["id"]


def test_new_client_is_a_prospect(app):
    b = app.book("intro", day_slots(app)[0], email="Grace@Example.org",
                 name="Grace Hopper", timezone="America/New_York").json
    r = app.get("/api/v1/clients", admin=True)
    assert r.status == 200
    assert len(r.json["data"]) == 1
    c = r.json["data"][0]
    assert c["id"] == client_of(app, b)["id"]
    assert c["email"] == "Grace@Example.org"
    assert c["name"] == "Grace Hopper"
    assert c["status"] == "prospect"
    assert c["timezone"] == "America/New_York"
    assert app.get(f"/api/v1/clients/{c['id']}", admin=True).json == c


def test_client_email_is_case_insensitive(app):
    s = day_slots(app)
    b1 = app.book("intro", s[0], email="ada@example.com").json
    b2 = app.book("intro", s[1], email="ADA@Example.COM", name="A. L.").json
    b3 = app.book("intro", s[2], email="Ada@EXAMPLE.com").json
    b1, b2, b3 = (app.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
                  for b in (b1, b2, b3))
    assert b1["client"]["id"] == b2["client"]["id"] == b3["client"]["id"]
    assert b2["attendee"] == {"name": "A. L.", "email": "ADA@Example.COM"}
    assert b2["client"]["name"] == "Ada Lovelace"  # not renamed
    clients = app.list_all("/api/v1/clients")
    assert len(clients) == 1
    assert clients[0]["email"] == "ada@example.com"  # as first given
    for q in ["ada@example.com", "ADA@EXAMPLE.COM"]:
        r = app.get("/api/v1/clients", query={"email": q}, admin=True)
        assert [c["id"] for c in r.json["data"]] == [b1["client"]["id"]]
    other = app.book("intro", s[3], email="bob@example.com").json
    assert client_of(app, other)["id"] != b1["client"]["id"]
    assert len(app.list_all("/api/v1/clients")) == 2


def test_admin_created_booking_has_source_api(app):
    b = app.book("intro", day_slots(app)[0], admin=True).json
    assert b["source"] == "api"
    assert b["status"] == "confirmed" and b["payment_status"] == "none"


def test_same_instant_in_any_offset(app):
    start = parse_instant(day_slots(app)[6])
    india = start.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    b = app.book("intro", india.isoformat()).json
    assert b["start"] == z(start.isoformat())
    # the same instant written in UTC is now taken
    r = app.book("intro", z(start.isoformat()), email="x@example.com",
                 expect=None)
    assert_error(r, 409, "slot_unavailable")


def test_booking_rendered_in_a_zone(app):
    b = app.book("intro", day_slots(app)[0]).json
    r = app.get(f"/api/v1/bookings/{b['uid']}",
                query={"timezone": "Asia/Kolkata"}, admin=True)
    assert r.status == 200
    assert r.json["start"].endswith("+05:30")
    assert parse_instant(r.json["start"]) == parse_instant(b["start"])
    assert_error(app.get(f"/api/v1/bookings/{b['uid']}",
                         query={"timezone": "Nowhere/Land"}, admin=True),
                 400, "invalid_query", "timezone")


# ---- refusals ----------------------------------------------------------------

def test_taken_slot_is_409(app):
    s = day_slots(app)[3]
    app.book("intro", s)
    before = app.snapshot()
    r = app.book("intro", s, email="late@example.com", expect=None)
    assert_error(r, 409, "slot_unavailable")
    assert app.snapshot() == before


@pytest.mark.parametrize("shift_min", [1, 7, 15, 29, -1])
def test_off_grid_start_is_422(app, shift_min):
    s = parse_instant(day_slots(app)[3]) + dt.timedelta(minutes=shift_min)
    before = app.snapshot()
    r = app.book("intro", s.isoformat(), expect=None)
    assert_error(r, 422, "invalid_field", "start")
    assert app.snapshot() == before


def test_start_with_seconds_is_off_grid(app):
    s = parse_instant(day_slots(app)[3]) + dt.timedelta(seconds=30)
    r = app.book("intro", s.isoformat(), expect=None)
    assert_error(r, 422, "invalid_field", "start")


def test_start_outside_the_schedule_is_422(app):
    d = today_in("Europe/Berlin") + 3 * DAY
    for hh in [3, 7, 20, 23]:
        t = dt.datetime.combine(d, dt.time(hh),
                                zoneinfo.ZoneInfo("Europe/Berlin"))
        r = app.book("intro", t.isoformat(), expect=None)
        assert_error(r, 422, "invalid_field", "start")
    assert app.counts()["bookings"] == 0


@pytest.mark.parametrize("ago", [dt.timedelta(days=1), dt.timedelta(days=400),
                                 dt.timedelta(minutes=30)])
def test_start_in_the_past_is_422(app, ago):
    t = (utc_now() - ago).replace(minute=0, second=0, microsecond=0)
    r = app.book("intro", t.isoformat(), expect=None)
    assert_error(r, 422, "invalid_field", "start")
    assert app.counts()["bookings"] == 0


def test_start_long_ago_is_422(app):
    r = app.book("intro", "1970-01-01T00:00:00Z", expect=None)
    assert_error(r, 422, "invalid_field", "start")
    r = app.book("intro", "0001-01-01T00:00:00Z", expect=None)
    assert_error(r, 422, "invalid_field", "start")


def test_start_far_in_the_future_is_422(app):
    for t in ["2999-01-01T10:00:00Z", "9999-12-31T12:00:00Z"]:
        r = app.book("intro", t, expect=None)
        assert_error(r, 422, "invalid_field", "start")
    assert app.counts()["bookings"] == 0


def test_unknown_event_type_is_422(app):
    r = app.book("nope", day_slots(app)[0], expect=None)
    assert_error(r, 422, "invalid_field", "event_type")
    assert app.counts()["bookings"] == 0


def test_refused_bookings_create_no_client(app):
    s = day_slots(app)[3]
    app.book("intro", s)
    n = app.counts()
    for start in [s, (parse_instant(s) + dt.timedelta(minutes=5))
                  .isoformat(), "2000-01-01T10:00:00Z"]:
        r = app.book("intro", start, email=f"new{len(start)}@example.com",
                     expect=None)
        assert r.status in (409, 422), r
    assert app.counts() == n


# ---- manage token and admin key -----------------------------------------------

def test_manage_token_authorizes_its_booking_only(app):
    s = day_slots(app)
    a = app.book("intro", s[0], email="a@example.com").json
    b = app.book("intro", s[1], email="b@example.com").json
    assert a["manage_token"] != b["manage_token"]
    ua, ta = a["uid"], a["manage_token"]
    ub, tb = b["uid"], b["manage_token"]

    r = app.get(f"/api/v1/bookings/{ua}", query={"token": ta})
    assert r.status == 200, r
    assert r.json["uid"] == ua and r.json["start"] == a["start"]
    assert app.get(f"/api/v1/bookings/{ub}", query={"token": tb}).status \
        == 200
    assert_error(app.get(f"/api/v1/bookings/{ub}", query={"token": ta}), 401)

    before = app.snapshot()
    wrong = [tb, "", "x", ta[:-1], ta + "A", ta.upper(), ta[::-1],
             ta[:-1] + ("A" if ta[-1] != "A" else "B"), "A" * len(ta),
             ta + "=", " " + ta, "t" * 5000]
    for tok in wrong:
        r = app.get(f"/api/v1/bookings/{ua}", query={"token": tok})
        assert_error(r, 401, "unauthorized")
        r = app.post(f"/api/v1/bookings/{ua}/cancel", {"reason": "x"},
                     query={"token": tok})
        assert_error(r, 401, "unauthorized")
        r = app.post(f"/api/v1/bookings/{ua}/reschedule", {"start": s[5]},
                     query={"token": tok})
        assert_error(r, 401, "unauthorized")
    # no token at all
    assert_error(app.get(f"/api/v1/bookings/{ua}"), 401, "unauthorized")
    assert_error(app.post(f"/api/v1/bookings/{ua}/cancel", {}), 401)
    # the token is not the admin key, and the history stays admin-only
    assert_error(app.get("/api/v1/bookings", admin=ta), 401)
    assert_error(app.get(f"/api/v1/bookings/{ua}/history",
                         query={"token": ta}), 401)
    # a token does not open an unknown booking either
    assert_error(app.get("/api/v1/bookings/AAAAAAAAAAAAAAAAAAAA",
                         query={"token": ta}), 401)
    assert app.snapshot() == before


def test_manage_token_cancels(app):
    b = app.book("intro", day_slots(app)[0]).json
    r = app.post(f"/api/v1/bookings/{b['uid']}/cancel",
                 {"reason": "Cannot make it"},
                 query={"token": b["manage_token"]})
    assert r.status == 200, r
    assert r.json["status"] == "cancelled"
    assert r.json["cancellation_reason"] == "Cannot make it"
    assert "manage_token" not in r.json
    h = app.get(f"/api/v1/bookings/{b['uid']}/history", admin=True).json
    assert h["data"][-1]["action"] == "cancelled"
    assert h["data"][-1]["actor"] == "attendee"
    assert h["data"][-1]["note"] == "Cannot make it"


def test_manage_token_reschedules(app):
    s = day_slots(app)
    b = app.book("intro", s[0]).json
    r = app.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[8]},
                 query={"token": b["manage_token"]})
    assert r.status == 200, r
    assert r.json["start"] == z(s[8])
    h = app.get(f"/api/v1/bookings/{b['uid']}/history", admin=True).json
    assert h["data"][-1]["actor"] == "attendee"


def test_manage_token_survives_a_restart(app):
    b = app.book("intro", day_slots(app)[0]).json
    app.restart()
    r = app.get(f"/api/v1/bookings/{b['uid']}",
                query={"token": b["manage_token"]})
    assert r.status == 200, r


def test_wrong_admin_key_with_a_right_token_is_401(app):
    b = app.book("intro", day_slots(app)[0]).json
    r = app.get(f"/api/v1/bookings/{b['uid']}",
                query={"token": b["manage_token"]},
                admin="wrong-key-0123456789abcdef")
    assert_error(r, 401, "unauthorized")


def test_wrong_admin_key_on_create_is_401(app):
    r = app.book("intro", day_slots(app)[0], admin="wrong-key-0123456789ab",
                 expect=None)
    assert_error(r, 401, "unauthorized")
    assert app.counts()["bookings"] == 0


def test_admin_endpoints_need_the_key(app):
    b = app.book("intro", day_slots(app)[0]).json
    b["client"] = client_of(app, b)
    for path in ["/api/v1/bookings", f"/api/v1/bookings/{b['uid']}",
                 f"/api/v1/bookings/{b['uid']}/history", "/api/v1/clients",
                 f"/api/v1/clients/{b['client']['id']}"]:
        assert_error(app.get(path), 401, "unauthorized")
        assert_error(app.get(path, admin="nope-nope-nope-nope-nope"), 401)
    assert_error(app.patch(f"/api/v1/clients/{b['client']['id']}",
                           {"status": "active"}), 401)


def test_unknown_booking_is_404_for_the_admin(app):
    for path in ["/api/v1/bookings/AAAAAAAAAAAAAAAAAAAA",
                 "/api/v1/bookings/AAAAAAAAAAAAAAAAAAAA/history"]:
        assert_error(app.get(path, admin=True), 404, "not_found")
    for action, body in [("cancel", {}),
                         ("reschedule", {"start": day_slots(app)[0]})]:
        r = app.post(f"/api/v1/bookings/AAAAAAAAAAAAAAAAAAAA/{action}", body,
                     admin=True)
        assert_error(r, 404, "not_found")


# ---- cancel ------------------------------------------------------------------

def test_cancel_frees_the_slot(app):
    s = day_slots(app)[2]
    b = app.book("intro", s).json
    r = app.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "ill"},
                 admin=True)
    assert r.status == 200, r
    c = r.json
    assert c["status"] == "cancelled" and c["cancellation_reason"] == "ill"
    assert c["start"] == b["start"]
    assert parse_instant(c["updated_at"]) >= parse_instant(b["updated_at"])
    listed = app.get("/api/v1/bookings", admin=True).json["data"]
    assert [(x["uid"], x["status"]) for x in listed] == \
        [(b["uid"], "cancelled")]
    b2 = app.book("intro", s, email="next@example.com").json
    assert b2["status"] == "confirmed"


def test_cancel_without_body_or_reason(app):
    s = day_slots(app)
    b1 = app.book("intro", s[0]).json
    r = app.request("POST", f"/api/v1/bookings/{b1['uid']}/cancel",
                    admin=True)
    assert r.status == 200, r
    assert r.json["status"] == "cancelled"
    assert r.json["cancellation_reason"] is None
    b2 = app.book("intro", s[1]).json
    r = app.post(f"/api/v1/bookings/{b2['uid']}/cancel", {}, admin=True)
    assert r.status == 200 and r.json["cancellation_reason"] is None, r


def test_cancel_twice_is_409(app):
    b = app.book("intro", day_slots(app)[0]).json
    assert app.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "a"},
                    admin=True).status == 200
    before = app.snapshot()
    r = app.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "b"},
                 admin=True)
    assert_error(r, 409, "illegal_transition")
    r = app.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "b"},
                 query={"token": b["manage_token"]})
    assert_error(r, 409, "illegal_transition")
    assert app.snapshot() == before
    got = app.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert got["cancellation_reason"] == "a"


@pytest.mark.parametrize("body,field", [
    ({"reason": 5}, "reason"),
    ({"reason": "r" * 5001}, "reason"),
    ({"why": "x"}, "why"),
    ({"reason": "bell\u0007"}, "reason"),
])
def test_invalid_cancel_is_422(app, body, field):
    b = app.book("intro", day_slots(app)[0]).json
    before = app.snapshot()
    r = app.post(f"/api/v1/bookings/{b['uid']}/cancel", body, admin=True)
    assert_error(r, 422, "invalid_field", field)
    assert app.snapshot() == before


# ---- reschedule --------------------------------------------------------------

def test_reschedule_moves_and_records_history(app):
    s = day_slots(app)
    b = app.book("intro", s[2]).json
    r = app.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[10]},
                 admin=True)
    assert r.status == 200, r
    m = r.json
    assert m["uid"] == b["uid"]
    assert m["start"] == z(s[10])
    assert parse_instant(m["end"]) - parse_instant(m["start"]) == \
        dt.timedelta(minutes=30)
    assert m["rescheduled_from"] == z(s[2])
    assert m["status"] == "confirmed"
    # the old slot is free, the new one is taken
    left = day_slots(app)
    assert s[2] in left and s[10] not in left
    r2 = app.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[4]},
                  admin=True)
    assert r2.status == 200, r2
    app.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "done"},
             admin=True)

    h = app.get(f"/api/v1/bookings/{b['uid']}/history", admin=True)
    assert h.status == 200, h
    assert h.json["booking"] == b["uid"]
    rows = h.json["data"]
    assert [x["action"] for x in rows] == \
        ["created", "rescheduled", "rescheduled", "cancelled"]
    ats = [parse_instant(x["at"]) for x in rows]
    assert ats == sorted(ats)
    assert rows[0]["changes"]["status"] == [None, "confirmed"]
    assert rows[1]["changes"]["start"] == [z(s[2]), z(s[10])]
    assert rows[2]["changes"]["start"] == [z(s[10]), z(s[4])]
    assert rows[3]["changes"]["status"] == ["confirmed", "cancelled"]
    assert all(x["actor"] == "admin" for x in rows[1:])
    assert rows[0]["actor"] == "attendee"


def test_reschedule_into_its_own_time(daemon):
    daemon.apply(standard_catalog(event_types=[{
        "slug": "hour", "title": "Hour", "duration_minutes": 60,
        "slot_interval_minutes": 30}]))
    s = day_slots(daemon, "hour")
    b = daemon.book("hour", s[2]).json  # 09:00-10:00
    r = daemon.post(f"/api/v1/bookings/{b['uid']}/reschedule",
                    {"start": s[3]}, admin=True)  # 09:30, overlaps itself
    assert r.status == 200, r
    assert r.json["start"] == z(s[3])


def test_reschedule_to_the_same_start_changes_nothing(app):
    s = day_slots(app)
    b = app.book("intro", s[1]).json
    before = app.snapshot()
    r = app.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[1]},
                 admin=True)
    assert r.status == 200, r
    assert r.json["start"] == b["start"]
    assert app.snapshot() == before


def test_reschedule_refusals(app):
    s = day_slots(app)
    b = app.book("intro", s[0]).json
    app.book("intro", s[1], email="other@example.com")
    before = app.snapshot()
    uid = b["uid"]

    def resched(body):
        return app.post(f"/api/v1/bookings/{uid}/reschedule", body,
                        admin=True)

    assert_error(resched({"start": s[1]}), 409, "slot_unavailable")
    off = (parse_instant(s[5]) + dt.timedelta(minutes=10)).isoformat()
    assert_error(resched({"start": off}), 422, "invalid_field", "start")
    past = (utc_now() - DAY).replace(minute=0, second=0, microsecond=0)
    assert_error(resched({"start": past.isoformat()}), 422, "invalid_field",
                 "start")
    assert_error(resched({}), 422, "invalid_field", "start")
    assert_error(resched({"start": "tomorrow"}), 422, "invalid_field",
                 "start")
    assert_error(resched({"start": s[5], "host": "x"}), 422,
                 "invalid_field", "host")
    assert_error(resched({"start": 12}), 422, "invalid_field", "start")
    assert app.snapshot() == before


def test_reschedule_a_cancelled_booking_is_409(app):
    s = day_slots(app)
    b = app.book("intro", s[0]).json
    app.post(f"/api/v1/bookings/{b['uid']}/cancel", {}, admin=True)
    before = app.snapshot()
    r = app.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[6]},
                 admin=True)
    assert_error(r, 409, "illegal_transition")
    r = app.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[6]},
                 query={"token": b["manage_token"]})
    assert_error(r, 409, "illegal_transition")
    assert app.snapshot() == before
    assert s[6] in day_slots(app)


# ---- lists -------------------------------------------------------------------

@pytest.fixture
def varied(daemon):
    """Bookings of two event types, three clients, both sources, one
    cancelled, over two days."""
    daemon.apply(standard_catalog(event_types=[{
        "slug": "deep", "title": "Deep", "duration_minutes": 60}]))
    d1 = today_in("Europe/Berlin") + 2 * DAY
    d2 = d1 + DAY
    s1 = daemon.slots("intro", d1, d1)["slots"][str(d1)]
    s2 = daemon.slots("intro", d2, d2)["slots"][str(d2)]
    made = {}

    def book(key, slug, start, email, admin=False):
        made[key] = daemon.book(slug, start, email=email, admin=admin).json

    book("a1", "intro", s1[0]["start"], "a@example.com")
    book("b1", "intro", s1[1]["start"], "b@example.com", admin=True)
    book("a2", "deep", s1[4]["start"], "A@example.com")   # 10:00-11:00
    book("c1", "intro", s2[0]["start"], "c@example.com")
    book("b2", "deep", s2[4]["start"], "b@example.com", admin=True)
    book("a3", "intro", s2[10]["start"], "a@example.com")
    r = daemon.post(f"/api/v1/bookings/{made['c1']['uid']}/cancel", {},
                    admin=True)
    assert r.status == 200
    return daemon, made, d1, d2


def uids(d, query):
    return [b["uid"] for b in d.list_all("/api/v1/bookings", query)]


def test_list_is_ordered_by_start(varied):
    d, made, d1, d2 = varied
    order = ["a1", "b1", "a2", "c1", "b2", "a3"]
    assert uids(d, {}) == [made[k]["uid"] for k in order]
    r = d.get("/api/v1/bookings", admin=True)
    assert r.json["next_cursor"] is None


def test_list_filters(varied):
    d, made, d1, d2 = varied

    def keys(query):
        got = uids(d, query)
        inv = {v["uid"]: k for k, v in made.items()}
        return [inv[u] for u in got]

    assert keys({"status": "cancelled"}) == ["c1"]
    assert keys({"status": "confirmed"}) == ["a1", "b1", "a2", "b2", "a3"]
    assert keys({"status": "pending"}) == []
    assert keys({"source": "api"}) == ["b1", "b2"]
    assert keys({"source": "web"}) == ["a1", "a2", "c1", "a3"]
    assert keys({"source": "calcom"}) == []
    assert keys({"event_type": "deep"}) == ["a2", "b2"]
    assert keys({"event_type": "ghost"}) == []
    cid = client_of(d, made["a1"])["id"]
    assert keys({"client": cid}) == ["a1", "a2", "a3"]
    assert keys({"client": "a@EXAMPLE.com"}) == ["a1", "a2", "a3"]
    assert keys({"client": "cli_doesnotexist"}) == []
    assert keys({"from": str(d2)}) == ["c1", "b2", "a3"]
    assert keys({"to": str(d1)}) == ["a1", "b1", "a2"]  # the whole UTC day
    start_a2 = made["a2"]["start"]
    assert keys({"from": start_a2}) == ["a2", "c1", "b2", "a3"]
    assert keys({"to": start_a2}) == ["a1", "b1"]  # start < to
    assert keys({"from": made["b1"]["start"],
                 "to": made["b2"]["start"]}) == ["b1", "a2", "c1"]
    assert keys({"status": "confirmed", "source": "web",
                 "event_type": "intro", "client": cid}) == ["a1", "a3"]
    assert keys({"from": str(d2 + 5 * DAY)}) == []


@pytest.mark.parametrize("query,field", [
    ({"status": "done"}, "status"),
    ({"status": ""}, "status"),
    ({"source": "phone"}, "source"),
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-02-30"}, "from"),
    ({"to": "2026-13-01T00:00:00Z"}, "to"),
    ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"limit": "1e2"}, "limit"),
    ({"limit": "99999999999999999999999"}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": ""}, "cursor"),
    ({"cursor": "YjoxOg"}, "cursor"),        # "b:1:"
    ({"cursor": "eDoxOjI"}, "cursor"),       # "x:1:2": another list's tag
    ({"cursor": "YjphYmM6MQ"}, "cursor"),    # "b:abc:1"
    ({"cursor": "Yjox" * 40}, "cursor"),
    ({"cursor": "%00%00"}, "cursor"),
    ({"timezone": "Moon/Crater"}, "timezone"),
])
def test_bad_list_queries_are_400(varied, query, field):
    d = varied[0]
    r = d.get("/api/v1/bookings", query=query, admin=True)
    assert_error(r, 400, "invalid_query", field)


@pytest.mark.parametrize("limit", [1, 2, 4, 5])
def test_cursor_paging_walks_every_row_once(daemon, limit):
    daemon.apply(standard_catalog())
    d = today_in("Europe/Berlin") + 2 * DAY
    j = daemon.slots("intro", d, d + DAY)
    starts = [s["start"] for day in sorted(j["slots"])
              for s in j["slots"][day]]
    # 13 bookings, interleaved so that ids and starts disagree
    picks = starts[14:1:-2] + starts[1:13:2]
    made = [daemon.book("intro", s, email=f"p{i}@example.com").json["uid"]
            for i, s in enumerate(picks)]
    assert len(set(made)) == 13
    full = uids(daemon, {})
    assert sorted(full) == sorted(made)
    seen, q = [], {"limit": str(limit)}
    for _ in range(40):
        r = daemon.get("/api/v1/bookings", query=q, admin=True)
        assert r.status == 200, r
        page = [b["uid"] for b in r.json["data"]]
        assert 1 <= len(page) <= limit
        seen += page
        if r.json["next_cursor"] is None:
            break
        assert isinstance(r.json["next_cursor"], str)
        q["cursor"] = r.json["next_cursor"]
    assert seen == full
    # a filter pages too
    seen, q = [], {"limit": str(limit), "status": "confirmed"}
    for _ in range(40):
        r = daemon.get("/api/v1/bookings", query=q, admin=True)
        seen += [b["uid"] for b in r.json["data"]]
        if r.json["next_cursor"] is None:
            break
        q["cursor"] = r.json["next_cursor"]
    assert seen == full


def test_cursor_continues_after_new_rows(app):
    s = day_slots(app)
    first = [app.book("intro", s[i], email=f"q{i}@example.com").json["uid"]
             for i in (0, 2, 4)]
    r = app.get("/api/v1/bookings", query={"limit": "2"}, admin=True)
    assert [b["uid"] for b in r.json["data"]] == first[:2]
    late = app.book("intro", s[6], email="late@example.com").json["uid"]
    early = app.book("intro", s[1], email="early@example.com").json["uid"]
    r = app.get("/api/v1/bookings",
                query={"limit": "10", "cursor": r.json["next_cursor"]},
                admin=True)
    # rows before the cursor stay behind it; rows after it are seen
    assert [b["uid"] for b in r.json["data"]] == [first[2], late]
    assert early not in [b["uid"] for b in r.json["data"]]


@pytest.mark.floods("55 bookings from one address in a row")
def test_default_limit_is_50(daemon):
    daemon.apply(standard_catalog(zone="UTC", start="00:00", end="24:00",
                                  event_types=[{"slug": "quick",
                                                "title": "Quick",
                                                "duration_minutes": 15}]))
    d = utc_now().date() + 2 * DAY
    ss = [s["start"] for s in daemon.slots("quick", d, d)["slots"][str(d)]]
    for i, s in enumerate(ss[:55]):
        daemon.book("quick", s, email=f"n{i}@example.com")
    r = daemon.get("/api/v1/bookings", admin=True)
    assert len(r.json["data"]) == 50 and r.json["next_cursor"]
    r = daemon.get("/api/v1/bookings", query={"limit": "500"}, admin=True)
    assert len(r.json["data"]) == 55 and r.json["next_cursor"] is None


# ---- clients -----------------------------------------------------------------

def test_client_patch_and_filters(app):
    s = day_slots(app)
    a = client_of(app, app.book("intro", s[0], email="a@example.com").json)
    b = client_of(app, app.book("intro", s[1], email="b@example.com").json)
    r = app.patch(f"/api/v1/clients/{a['id']}",
                  {"status": "active", "name": "Ada", "timezone": "UTC"},
                  admin=True)
    assert r.status == 200, r
    assert r.json["status"] == "active" and r.json["name"] == "Ada"
    assert r.json["timezone"] == "UTC"
    assert app.get(f"/api/v1/clients/{a['id']}", admin=True).json == r.json
    act = app.get("/api/v1/clients", query={"status": "active"}, admin=True)
    assert [c["id"] for c in act.json["data"]] == [a["id"]]
    pro = app.get("/api/v1/clients", query={"status": "prospect"},
                  admin=True)
    assert [c["id"] for c in pro.json["data"]] == [b["id"]]
    assert_error(app.get("/api/v1/clients", query={"status": "vip"},
                         admin=True), 400, "invalid_query", "status")
    # the booking shows the client's current name
    bk = app.get("/api/v1/bookings", query={"client": a["id"]},
                 admin=True).json["data"][0]
    assert bk["client"]["name"] == "Ada"


def test_client_patch_refusals(app):
    s = day_slots(app)
    a = client_of(app, app.book("intro", s[0], email="a@example.com").json)
    app.book("intro", s[1], email="b@example.com")
    before = app.snapshot()
    path = f"/api/v1/clients/{a['id']}"
    assert_error(app.patch(path, {"status": "vip"}, admin=True), 422,
                 "invalid_field", "status")
    assert_error(app.patch(path, {"email": "nope"}, admin=True), 422,
                 "invalid_field", "email")
    assert_error(app.patch(path, {"timezone": "Nowhere/x"}, admin=True),
                 422, "invalid_field", "timezone")
    assert_error(app.patch(path, {"id": "cli_x"}, admin=True), 422,
                 "invalid_field", "id")
    assert_error(app.patch(path, {"email": "B@EXAMPLE.COM"}, admin=True),
                 409, "duplicate")
    assert_error(app.patch("/api/v1/clients/cli_nobody", {"name": "x"},
                           admin=True), 404, "not_found")
    assert_error(app.get("/api/v1/clients/cli_nobody", admin=True), 404)
    assert app.snapshot() == before


def test_client_name_can_be_cleared(app):
    s = day_slots(app)
    c = client_of(app, app.book("intro", s[0], email="n@example.com").json)
    path = f"/api/v1/clients/{c['id']}"
    for cleared in (None, ""):
        r = app.patch(path, {"name": "Somebody"}, admin=True)
        assert r.status == 200 and r.json["name"] == "Somebody", r
        r = app.patch(path, {"name": cleared}, admin=True)
        assert r.status == 200, r
        assert r.json["name"] is None
        assert app.get(path, admin=True).json["name"] is None


def test_client_list_pages(app):
    s = day_slots(app)
    ids = [client_of(app, app.book("intro", s[i], email=f"c{i}@example.com")
                     .json)["id"] for i in range(5)]
    seen, q = [], {"limit": "2"}
    for _ in range(10):
        r = app.get("/api/v1/clients", query=q, admin=True)
        seen += [c["id"] for c in r.json["data"]]
        if not r.json["next_cursor"]:
            break
        q["cursor"] = r.json["next_cursor"]
    assert seen == ids
    assert_error(app.get("/api/v1/clients", query={"cursor": "zzz"},
                         admin=True), 400, "invalid_query", "cursor")


# ---- body fields -------------------------------------------------------------

def good_body(start):
    return {"event_type": "intro", "start": start,
            "attendee": {"name": "Ada", "email": "ada@example.com",
                         "timezone": "Europe/London"}}


@pytest.mark.parametrize("mutate,field", [
    (lambda b: b.pop("event_type"), "event_type"),
    (lambda b: b.pop("start"), "start"),
    (lambda b: b.pop("attendee"), "attendee"),
    (lambda b: b["attendee"].pop("name"), "attendee.name"),
    (lambda b: b["attendee"].pop("email"), "attendee.email"),
    (lambda b: b.update(event_type=5), "event_type"),
    (lambda b: b.update(event_type=["intro"]), "event_type"),
    (lambda b: b.update(start=1764000000), "start"),
    (lambda b: b.update(start="2026-12-01 09:00"), "start"),
    (lambda b: b.update(start="2026-12-01T09:00:00"), "start"),
    (lambda b: b.update(start="2026-02-30T09:00:00Z"), "start"),
    (lambda b: b.update(start="2026-12-01T25:00:00Z"), "start"),
    (lambda b: b.update(start="2026-12-01T09:00:00+24:00"), "start"),
    (lambda b: b.update(start=""), "start"),
    (lambda b: b.update(attendee="ada@example.com"), "attendee"),
    (lambda b: b.update(attendee=None), "attendee"),
    (lambda b: b["attendee"].update(name=""), "attendee.name"),
    (lambda b: b["attendee"].update(name="n" * 201), "attendee.name"),
    (lambda b: b["attendee"].update(name="a\nb"), "attendee.name"),
    (lambda b: b["attendee"].update(name=["Ada"]), "attendee.name"),
    (lambda b: b["attendee"].update(email="ada"), "attendee.email"),
    (lambda b: b["attendee"].update(email="ada@example"), "attendee.email"),
    (lambda b: b["attendee"].update(email="a b@example.com"),
     "attendee.email"),
    (lambda b: b["attendee"].update(email="<ada@example.com>"),
     "attendee.email"),
    (lambda b: b["attendee"].update(email="a@@example.com"),
     "attendee.email"),
    (lambda b: b["attendee"].update(email="a" * 250 + "@example.com"),
     "attendee.email"),
    (lambda b: b["attendee"].update(timezone="Europe/Nowhere"),
     "attendee.timezone"),
    (lambda b: b["attendee"].update(timezone=1), "attendee.timezone"),
    (lambda b: b["attendee"].update(phone="+49"), "attendee.phone"),
    (lambda b: b.update(notes="n" * 5001), "notes"),
    (lambda b: b.update(notes=7), "notes"),
    (lambda b: b.update(status="paid"), "status"),
    (lambda b: b.update(payment_status="paid"), "payment_status"),
    (lambda b: b.update(source="calcom"), "source"),
])
def test_invalid_booking_body_is_422(app, mutate, field):
    body = good_body(day_slots(app)[0])
    mutate(body)
    before = app.snapshot()
    r = app.post("/api/v1/bookings", body)
    assert_error(r, 422, "invalid_field", field)
    assert app.snapshot() == before


def test_notes_at_the_cap_are_kept(app):
    body = good_body(day_slots(app)[0])
    body["notes"] = "n" * 4999 + "\n"
    r = app.post("/api/v1/bookings", body)
    assert r.status == 201, r
    assert r.json["notes"] == body["notes"]


def test_unicode_names_round_trip(app):
    body = good_body(day_slots(app)[0])
    body["attendee"]["name"] = "Zoë Ærøskøbing 李小龙 👩‍💻"
    body["notes"] = "Ünïcödé ✓"
    r = app.post("/api/v1/bookings", body)
    assert r.status == 201, r
    got = app.get(f"/api/v1/bookings/{r.json['uid']}", admin=True).json
    assert got["client"]["name"] == body["attendee"]["name"]
    assert got["attendee"]["name"] == body["attendee"]["name"]
    assert got["notes"] == body["notes"]


def test_zero_fraction_of_a_second_is_the_same_instant(app):
    s = day_slots(app)[2]
    r = app.book("intro", s.replace("+", ".000+"))
    assert r.json["start"] == z(s)


def test_start_with_a_fraction_of_a_second_is_off_grid(app):
    s = day_slots(app)[2]
    r = app.book("intro", s.replace("+", ".999+"), expect=None)
    assert_error(r, 422, "invalid_field", "start")
