"""Hosts, schedules and event types (API.md "Hosts and schedules", "Event
types"): CRUD, schedules with overrides, public and admin views, defaults,
conflicts."""
import datetime as dt

import re

import pytest

from conftest import (assert_error, standard_catalog, today_in, today_utc,
                      weekly_all_days)

HOST = {"slug": "ada", "name": "Ada Byron", "email": "ada@example.com",
        "timezone": "Europe/Berlin"}


def make_host(d, **over):
    body = dict(HOST, **over)
    r = d.post("/api/v1/hosts", body, admin=True)
    assert r.status == 201, r
    return r.json


def make_event_type(d, **over):
    body = {"slug": "intro", "title": "Intro", "host": "ada",
            "duration_minutes": 30}
    body.update(over)
    r = d.post("/api/v1/event-types", body, admin=True)
    assert r.status == 201, r
    return r.json


def put_schedule(d, host="ada", **body):
    body.setdefault("timezone", "Europe/Berlin")
    body.setdefault("weekly", weekly_all_days())
    r = d.put(f"/api/v1/hosts/{host}/schedule", body, admin=True)
    assert r.status == 200, r
    return r.json


# ---- hosts -------------------------------------------------------------------

def test_host_crud(daemon):
    h = make_host(daemon)
    assert {k: h[k] for k in HOST} == HOST
    assert h["created_at"].endswith("Z") and h["updated_at"].endswith("Z")

    r = daemon.get("/api/v1/hosts/ada", admin=True)
    assert r.status == 200 and r.json == h

    r = daemon.get("/api/v1/hosts", admin=True)
    assert r.status == 200
    assert r.json == {"data": [h], "next_cursor": None}

    r = daemon.patch("/api/v1/hosts/ada", {"name": "Ada Lovelace",
                                          "timezone": "Europe/London"},
                     admin=True)
    assert r.status == 200, r
    assert r.json["name"] == "Ada Lovelace"
    assert r.json["timezone"] == "Europe/London"
    assert r.json["email"] == HOST["email"]
    assert r.json["created_at"] == h["created_at"]
    assert daemon.get("/api/v1/hosts/ada", admin=True).json == r.json

    r = daemon.delete("/api/v1/hosts/ada", admin=True)
    assert r.status == 204, r
    assert r.body == b""
    assert_error(daemon.get("/api/v1/hosts/ada", admin=True), 404, "not_found")
    assert daemon.get("/api/v1/hosts", admin=True).json["data"] == []
    assert_error(daemon.delete("/api/v1/hosts/ada", admin=True), 404)
    assert_error(daemon.patch("/api/v1/hosts/ada", {"name": "x"}, admin=True),
                 404)


def test_an_answer_that_cannot_be_rendered_is_500_and_rolled_back(
        make_daemon):
    """The fault point api.render (test builds) makes the answer of a write
    route fail to render: the client gets a 500 `internal` error with its
    body and request id, never a 200 or 201 with an empty body; the server
    log names the request; the write is rolled back."""
    d = make_daemon(env={"BOOKINGD_FAULTS": "api.render=1"})
    r = d.post("/api/v1/hosts", HOST, admin=True)
    e = assert_error(r, 500, "internal")
    rid = e["details"]["request_id"]
    assert rid and r.header("X-Request-Id") == rid, r
    assert r.body, r
    assert_error(d.get("/api/v1/hosts/ada", admin=True), 404, "not_found")
    assert rid in d.stderr() and "could not be rendered" in d.stderr()
    make_host(d)  # the fault fired once; the write now goes through


def test_hosts_need_the_admin_key(daemon):
    make_host(daemon)
    for method, path, body in [
            ("GET", "/api/v1/hosts", None),
            ("POST", "/api/v1/hosts", dict(HOST, slug="eve")),
            ("GET", "/api/v1/hosts/ada", None),
            ("PATCH", "/api/v1/hosts/ada", {"name": "Eve"}),
            ("DELETE", "/api/v1/hosts/ada", None),
            ("GET", "/api/v1/hosts/ada/schedule", None),
            ("PUT", "/api/v1/hosts/ada/schedule",
             {"timezone": "UTC", "weekly": []})]:
        for admin in [False, "wrong-key-0123456789abcdef",
                      daemon.admin_key + "x", daemon.admin_key[:-1]]:
            kw = {} if body is None else {"body": body}
            r = daemon.request(method, path, admin=admin, **kw)
            assert_error(r, 401, "unauthorized")
            # RFC 9110 §11.6.1: a 401 carries a challenge
            assert r.header("WWW-Authenticate") == "Bearer", r.headers
    # nothing changed
    assert daemon.get("/api/v1/hosts", admin=True).json["data"][0]["name"] \
        == HOST["name"]
    assert daemon.counts()["hosts"] == 1


def test_admin_key_needs_the_bearer_scheme(daemon):
    for value in [daemon.admin_key, f"Basic {daemon.admin_key}", "Bearer ",
                  "Bearer", "", f"Bearer {daemon.admin_key} x",
                  f"Bearer{daemon.admin_key}", f"Token {daemon.admin_key}"]:
        r = daemon.get("/api/v1/hosts",
                       headers={"Authorization": value})
        assert_error(r, 401, "unauthorized")
    r = daemon.get("/api/v1/hosts",
                   headers={"Authorization": f"bearer {daemon.admin_key}"})
    assert r.status == 200, r  # the scheme is case-insensitive (RFC 9110)


def test_duplicate_host_slug_is_409(daemon):
    h = make_host(daemon)
    r = daemon.post("/api/v1/hosts", dict(HOST, name="Other"), admin=True)
    assert_error(r, 409, "duplicate")
    assert daemon.get("/api/v1/hosts/ada", admin=True).json == h


# ---- the host card (photo_url, bio, /profile) --------------------------------

def test_host_card_fields_and_public_profile(daemon):
    h = make_host(daemon)
    assert h["photo_url"] is None and h["bio"] is None
    r = daemon.get("/api/v1/hosts/ada/profile")
    assert r.status == 200, r
    assert r.json == {"slug": "ada", "name": "Ada Byron", "photo_url": None,
                      "bio": None}

    bio = "Mathematician.\nWrites notes on engines. \u00e9\u6f22"
    r = daemon.patch("/api/v1/hosts/ada",
                     {"photo_url": "https://img.example.com:8443/a/b.jpg?s=1",
                      "bio": bio}, admin=True)
    assert r.status == 200, r
    assert r.json["photo_url"] == "https://img.example.com:8443/a/b.jpg?s=1"
    assert r.json["bio"] == bio
    r = daemon.get("/api/v1/hosts/ada/profile")
    assert r.status == 200, r
    # A visitor sees the card, never the email or the time zone.
    assert r.json == {"slug": "ada", "name": "Ada Byron",
                      "photo_url": "https://img.example.com:8443/a/b.jpg?s=1",
                      "bio": bio}
    assert "ada@example.com" not in r.body.decode()

    # A patch without them keeps them; "" and null clear them.
    r = daemon.patch("/api/v1/hosts/ada", {"name": "Ada L"}, admin=True)
    assert r.json["bio"] == bio
    r = daemon.patch("/api/v1/hosts/ada", {"photo_url": "", "bio": None},
                     admin=True)
    assert r.status == 200, r
    assert r.json["photo_url"] is None and r.json["bio"] is None
    assert daemon.get("/api/v1/hosts/ada", admin=True).json == r.json

    assert_error(daemon.get("/api/v1/hosts/nobody/profile"), 404, "not_found")
    assert_error(daemon.get("/api/v1/hosts/%2e%2e/profile"), 404)


@pytest.mark.parametrize("url", [
    "http://example.com/a.jpg", "javascript:alert(1)", "data:image/png;base64,AA",
    "https://", "https:///x", "https://exa mple.com/", "https://a.com/\"x",
    "https://a.com/<script>", "https://a.com/'x", "https://a.com/\\x",
    "//example.com/a.jpg", "HTTPS://EXAMPLE.COM/", "https://a.com/\u00e9",
    "https://user@a.com/", "https://a.com/" + "x" * 2048, 12, ["https://a.com"],
    {"u": 1}, True,
])
def test_host_photo_url_refuses_hostile_values(daemon, url):
    make_host(daemon)
    r = daemon.patch("/api/v1/hosts/ada", {"photo_url": url}, admin=True)
    assert_error(r, 422, field="photo_url")
    r = daemon.post("/api/v1/hosts", dict(HOST, slug="bee", photo_url=url),
                    admin=True)
    assert_error(r, 422, field="photo_url")
    assert daemon.get("/api/v1/hosts/ada", admin=True).json["photo_url"] is None


@pytest.mark.parametrize("bio", ["x" * 1001, "bell\u0007", "esc\u001b[2J", 5,
                                 ["bio"], {"b": 1}])
def test_host_bio_refuses_bad_values(daemon, bio):
    make_host(daemon)
    assert_error(daemon.patch("/api/v1/hosts/ada", {"bio": bio}, admin=True),
                 422, field="bio")
    # A NUL never gets as far as the field: the JSON parser refuses it.
    assert_error(daemon.patch("/api/v1/hosts/ada", {"bio": "a\u0000b"},
                              admin=True), 400, "invalid_json")


def test_host_bio_at_the_cap_and_markup_kept_as_text(daemon):
    make_host(daemon)
    bio = ("<img src=x onerror=alert(1)>" * 40)[:1000]
    r = daemon.patch("/api/v1/hosts/ada", {"bio": bio}, admin=True)
    assert r.status == 200, r
    assert daemon.get("/api/v1/hosts/ada/profile").json["bio"] == bio


def test_host_slug_cannot_change(daemon):
    make_host(daemon)
    r = daemon.patch("/api/v1/hosts/ada", {"slug": "bob"}, admin=True)
    assert_error(r, 422, "invalid_field", "slug")
    assert_error(daemon.get("/api/v1/hosts/bob", admin=True), 404)
    # the same slug is no change
    r = daemon.patch("/api/v1/hosts/ada", {"slug": "ada", "name": "A"},
                     admin=True)
    assert r.status == 200 and r.json["name"] == "A", r


@pytest.mark.parametrize("body,field", [
    ({"slug": "Bad Slug"}, "slug"),
    ({"slug": ""}, "slug"),
    ({"slug": "a" * 65}, "slug"),
    ({"slug": "a/b"}, "slug"),
    ({"slug": 7}, "slug"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b"}, "email"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": None}, "name"),
    ({"color": "red"}, "color"),
])
def test_invalid_host_is_422(daemon, body, field):
    r = daemon.post("/api/v1/hosts", dict(HOST, **body), admin=True)
    assert_error(r, 422, "invalid_field", field)
    assert daemon.get("/api/v1/hosts", admin=True).json["data"] == []


@pytest.mark.parametrize("missing", ["slug", "name", "email", "timezone"])
def test_host_missing_field_is_422(daemon, missing):
    body = {k: v for k, v in HOST.items() if k != missing}
    r = daemon.post("/api/v1/hosts", body, admin=True)
    assert_error(r, 422, "invalid_field", missing)


def test_host_list_pages(daemon):
    slugs = [f"h{i:02d}" for i in range(7)]
    for s in slugs:
        make_host(daemon, slug=s, email=f"{s}@example.com")
    seen = []
    q = {"limit": "3"}
    for _ in range(10):
        r = daemon.get("/api/v1/hosts", query=q, admin=True)
        assert r.status == 200
        assert len(r.json["data"]) <= 3
        seen += [h["slug"] for h in r.json["data"]]
        if r.json["next_cursor"] is None:
            break
        q["cursor"] = r.json["next_cursor"]
    assert seen == slugs


# ---- schedules ---------------------------------------------------------------

def test_schedule_put_and_get(daemon):
    make_host(daemon)
    assert_error(daemon.get("/api/v1/hosts/ada/schedule", admin=True), 404)
    body = {
        "timezone": "Europe/Berlin",
        "weekly": [{"day": "mon", "start": "09:00", "end": "12:00"},
                   {"day": "mon", "start": "13:00", "end": "17:00"},
                   {"day": "fri", "start": "22:00", "end": "24:00"}],
        "overrides": [{"date": "2030-12-25", "unavailable": True},
                      {"date": "2030-12-24", "start": "09:00",
                       "end": "12:00"}],
    }
    s = put_schedule(daemon, **body)
    assert s["timezone"] == "Europe/Berlin"
    assert s["weekly"] == body["weekly"]
    # overrides come back sorted by date
    assert s["overrides"] == [body["overrides"][1], body["overrides"][0]]
    r = daemon.get("/api/v1/hosts/ada/schedule", admin=True)
    assert r.status == 200 and r.json == s

    # PUT replaces the whole schedule
    s2 = put_schedule(daemon, timezone="UTC",
                      weekly=[{"day": "tue", "start": "10:00",
                               "end": "11:00"}])
    assert s2 == {"timezone": "UTC",
                  "weekly": [{"day": "tue", "start": "10:00",
                              "end": "11:00"}],
                  "overrides": []}
    assert daemon.get("/api/v1/hosts/ada/schedule", admin=True).json == s2


def test_schedule_of_unknown_host_is_404(daemon):
    r = daemon.put("/api/v1/hosts/ghost/schedule",
                   {"timezone": "UTC", "weekly": []}, admin=True)
    assert_error(r, 404, "not_found")
    assert_error(daemon.get("/api/v1/hosts/ghost/schedule", admin=True), 404)


@pytest.mark.parametrize("body,field", [
    ({"timezone": "Nowhere/City"}, "timezone"),
    ({"weekly": [{"day": "monday", "start": "09:00", "end": "10:00"}]},
     "weekly[0].day"),
    ({"weekly": [{"day": "mon", "start": "9:00", "end": "10:00"}]},
     "weekly[0].start"),
    ({"weekly": [{"day": "mon", "start": "24:00", "end": "24:00"}]},
     "weekly[0].start"),
    ({"weekly": [{"day": "mon", "start": "09:00", "end": "24:01"}]},
     "weekly[0].end"),
    ({"weekly": [{"day": "mon", "start": "10:00", "end": "09:00"}]},
     "weekly[0].end"),
    ({"weekly": [{"day": "mon", "start": "09:60", "end": "10:00"}]},
     "weekly[0].start"),
    ({"weekly": [{"day": "mon", "start": "09:00", "end": "10:00",
                  "x": 1}]}, "weekly[0].x"),
    ({"weekly": ["mon"]}, "weekly[0]"),
    ({"weekly": {"day": "mon"}}, "weekly"),
    ({"overrides": [{"date": "2030-02-30", "unavailable": True}]},
     "overrides[0].date"),
    ({"overrides": [{"date": "2030-13-01", "unavailable": True}]},
     "overrides[0].date"),
    ({"overrides": [{"date": "30-01-01", "unavailable": True}]},
     "overrides[0].date"),
    ({"overrides": [{"date": "2030-01-01", "unavailable": "yes"}]},
     "overrides[0].unavailable"),
    ({"overrides": [{"date": "2030-01-01", "unavailable": True,
                     "start": "09:00", "end": "10:00"}]},
     "overrides[0].start"),
    ({"overrides": [{"date": "2030-01-01", "start": "09:00"}]},
     "overrides[0].end"),
    ({"holidays": []}, "holidays"),
])
def test_invalid_schedule_is_422(daemon, body, field):
    make_host(daemon)
    good = put_schedule(daemon)
    full = {"timezone": "Europe/Berlin", "weekly": weekly_all_days()}
    full.update(body)
    r = daemon.put("/api/v1/hosts/ada/schedule", full, admin=True)
    assert_error(r, 422, "invalid_field", field)
    assert daemon.get("/api/v1/hosts/ada/schedule", admin=True).json == good


def test_schedule_missing_timezone_is_422(daemon):
    make_host(daemon)
    r = daemon.put("/api/v1/hosts/ada/schedule",
                   {"weekly": weekly_all_days()}, admin=True)
    assert_error(r, 422, "invalid_field", "timezone")


def test_overrides_shape_the_slots(daemon):
    """An unavailable date offers nothing; a date with other hours offers
    only those."""
    make_host(daemon)
    make_event_type(daemon, duration_minutes=60)
    d1 = today_in("Europe/Berlin") + dt.timedelta(days=3)
    d2 = d1 + dt.timedelta(days=1)
    d3 = d2 + dt.timedelta(days=1)
    put_schedule(daemon, overrides=[
        {"date": str(d1), "unavailable": True},
        {"date": str(d2), "start": "10:00", "end": "12:00"}])
    j = daemon.slots("intro", d1, d3)
    assert j["timezone"] == "Europe/Berlin"
    assert str(d1) not in j["slots"]
    assert [s["start"][11:16] for s in j["slots"][str(d2)]] == \
        ["10:00", "11:00"]
    assert [s["start"][11:16] for s in j["slots"][str(d3)]] == \
        [f"{h:02d}:00" for h in range(8, 20)]


def test_host_without_schedule_offers_no_slots(daemon):
    make_host(daemon)
    make_event_type(daemon)
    frm = today_utc() + dt.timedelta(days=1)
    j = daemon.slots("intro", frm, frm + dt.timedelta(days=5))
    assert j["slots"] == {}


# ---- event types -------------------------------------------------------------

def test_event_type_defaults(daemon):
    make_host(daemon)
    et = make_event_type(daemon, duration_minutes=45)
    expected = {
        "slug": "intro", "title": "Intro", "description": None,
        "host": "ada", "duration_minutes": 45, "slot_interval_minutes": 45,
        "buffer_before_minutes": 0, "buffer_after_minutes": 0,
        "minimum_notice_minutes": 0, "horizon_days": 60, "max_per_day": None,
        "slot_alignment": "clock", "price": None, "location": None,
        "active": True,
    }
    assert {k: et.get(k, "MISSING") for k in expected} == expected
    assert daemon.get("/api/v1/event-types/intro", admin=True).json == et


def test_event_type_all_fields(daemon):
    make_host(daemon)
    body = {"slug": "deep-dive", "title": "Deep dive",
            "description": "Two hours.\nBring notes.", "host": "ada",
            "duration_minutes": 120, "slot_interval_minutes": 30,
            "buffer_before_minutes": 10, "buffer_after_minutes": 15,
            "minimum_notice_minutes": 1440, "horizon_days": 30,
            "max_per_day": 2, "slot_alignment": "range_start",
            "price": {"amount": 4500, "currency": "EUR"},
            "location": {"kind": "video", "value": "https://meet.example"},
            "active": True}
    r = daemon.post("/api/v1/event-types", body, admin=True)
    assert r.status == 201, r
    assert {k: r.json[k] for k in body} == body
    pub = daemon.get("/api/v1/event-types/deep-dive")
    assert pub.status == 200
    assert {k: pub.json[k] for k in body} == body


def test_duplicate_event_type_slug_is_409(daemon):
    make_host(daemon)
    et = make_event_type(daemon)
    r = daemon.post("/api/v1/event-types",
                    {"slug": "intro", "title": "Other", "host": "ada",
                     "duration_minutes": 15}, admin=True)
    assert_error(r, 409, "duplicate")
    assert daemon.get("/api/v1/event-types/intro", admin=True).json == et


def test_event_type_slug_cannot_change(daemon):
    make_host(daemon)
    make_event_type(daemon)
    r = daemon.patch("/api/v1/event-types/intro", {"slug": "outro"},
                     admin=True)
    assert_error(r, 422, "invalid_field", "slug")
    assert_error(daemon.get("/api/v1/event-types/outro", admin=True), 404)
    assert daemon.get("/api/v1/event-types/intro").status == 200


def test_event_type_patch(daemon):
    make_host(daemon)
    make_host(daemon, slug="bob", email="bob@example.com")
    et = make_event_type(daemon, price={"amount": 100, "currency": "USD"})
    r = daemon.patch("/api/v1/event-types/intro",
                     {"title": "Intro (new)", "duration_minutes": 60,
                      "host": "bob", "price": None, "max_per_day": 3},
                     admin=True)
    assert r.status == 200, r
    got = r.json
    assert got["title"] == "Intro (new)"
    assert got["duration_minutes"] == 60
    assert got["host"] == "bob"
    assert got["price"] is None
    assert got["max_per_day"] == 3
    # untouched fields stay
    for k in ["slug", "description", "buffer_before_minutes",
              "horizon_days", "slot_alignment", "active", "created_at"]:
        assert got[k] == et[k], k
    r = daemon.patch("/api/v1/event-types/intro", {"max_per_day": None},
                     admin=True)
    assert r.status == 200 and r.json["max_per_day"] is None, r
    r = daemon.patch("/api/v1/event-types/intro", {"host": "nobody"},
                     admin=True)
    assert_error(r, 422, "invalid_field", "host")
    assert daemon.get("/api/v1/event-types/intro").json["host"] == "bob"
    assert_error(daemon.patch("/api/v1/event-types/ghost", {"title": "x"},
                              admin=True), 404)


@pytest.mark.parametrize("over,field", [
    ({"host": "nobody"}, "host"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": 1441}, "duration_minutes"),
    ({"duration_minutes": "30"}, "duration_minutes"),
    ({"duration_minutes": 30.5}, "duration_minutes"),
    ({"duration_minutes": None}, "duration_minutes"),
    ({"slot_interval_minutes": 0}, "slot_interval_minutes"),
    ({"buffer_before_minutes": -1}, "buffer_before_minutes"),
    ({"buffer_after_minutes": 1441}, "buffer_after_minutes"),
    ({"minimum_notice_minutes": -5}, "minimum_notice_minutes"),
    ({"horizon_days": 0}, "horizon_days"),
    ({"max_per_day": 0}, "max_per_day"),
    ({"slot_alignment": "start"}, "slot_alignment"),
    ({"price": {"amount": -1, "currency": "EUR"}}, "price.amount"),
    ({"price": {"amount": 100, "currency": "eur"}}, "price.currency"),
    ({"price": {"amount": 100}}, "price.currency"),
    ({"price": 100}, "price"),
    ({"price": {"amount": 1, "currency": "EUR", "tax": 1}}, "price.tax"),
    ({"location": {"kind": "skype"}}, "location.kind"),
    ({"location": "video"}, "location"),
    ({"active": "yes"}, "active"),
    ({"title": ""}, "title"),
    ({"title": "t" * 201}, "title"),
    ({"description": "d" * 5001}, "description"),
    ({"slug": "UPPER"}, "slug"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_event_type_is_422(daemon, over, field):
    make_host(daemon)
    body = {"slug": "intro", "title": "Intro", "host": "ada",
            "duration_minutes": 30}
    body.update(over)
    r = daemon.post("/api/v1/event-types", body, admin=True)
    assert_error(r, 422, "invalid_field", field)
    assert daemon.get("/api/v1/event-types", admin=True).json["data"] == []


@pytest.mark.parametrize("missing", ["slug", "title", "host",
                                     "duration_minutes"])
def test_event_type_missing_field_is_422(daemon, missing):
    make_host(daemon)
    body = {"slug": "intro", "title": "Intro", "host": "ada",
            "duration_minutes": 30}
    del body[missing]
    r = daemon.post("/api/v1/event-types", body, admin=True)
    assert_error(r, 422, "invalid_field", missing)


def test_inactive_event_types_are_hidden_from_the_public(daemon):
    daemon.apply(standard_catalog(event_types=[
        {"slug": "secret", "title": "Secret", "duration_minutes": 30,
         "active": False}]))
    pub = daemon.get("/api/v1/event-types")
    assert pub.status == 200
    assert [e["slug"] for e in pub.json["data"]] == ["intro"]
    # the public view has no admin fields
    assert "created_at" not in pub.json["data"][0]
    assert "calcom_event_type_id" not in pub.json["data"][0]

    adm = daemon.get("/api/v1/event-types", admin=True).json["data"]
    assert sorted(e["slug"] for e in adm) == ["intro", "secret"]
    assert all("created_at" in e for e in adm)
    only = daemon.get("/api/v1/event-types", query={"active": "false"},
                      admin=True).json["data"]
    assert [e["slug"] for e in only] == ["secret"]
    only = daemon.get("/api/v1/event-types", query={"active": "true"},
                      admin=True).json["data"]
    assert [e["slug"] for e in only] == ["intro"]
    assert_error(daemon.get("/api/v1/event-types",
                            query={"active": "maybe"}, admin=True),
                 400, "invalid_query", "active")

    assert_error(daemon.get("/api/v1/event-types/secret"), 404, "not_found")
    assert daemon.get("/api/v1/event-types/secret", admin=True).status == 200
    assert_error(daemon.get("/api/v1/event-types/secret/slots"), 404)
    assert daemon.get("/api/v1/event-types/secret/slots",
                      admin=True).status == 200
    # and it cannot be booked
    start = daemon.slot_starts("intro")[0]
    r = daemon.book("secret", start, expect=None)
    assert_error(r, 422, "invalid_field", "event_type")
    assert daemon.counts()["bookings"] == 0

    # deactivating hides, activating shows
    r = daemon.patch("/api/v1/event-types/intro", {"active": False},
                     admin=True)
    assert r.status == 200 and r.json["active"] is False
    assert daemon.get("/api/v1/event-types").json["data"] == []
    daemon.patch("/api/v1/event-types/secret", {"active": True}, admin=True)
    assert [e["slug"] for e in daemon.get("/api/v1/event-types")
            .json["data"]] == ["secret"]


def test_public_reads_with_a_wrong_key_are_401(app):
    bad = "wrong-key-0123456789abcdef"
    assert_error(app.get("/api/v1/event-types", admin=bad), 401)
    assert_error(app.get("/api/v1/event-types/intro", admin=bad), 401)
    assert_error(app.get("/api/v1/event-types/intro/slots", admin=bad), 401)


def test_event_type_writes_need_the_admin_key(app):
    body = {"slug": "x", "title": "X", "host": "coach",
            "duration_minutes": 30}
    assert_error(app.post("/api/v1/event-types", body), 401)
    assert_error(app.patch("/api/v1/event-types/intro", {"title": "T"}), 401)
    assert_error(app.delete("/api/v1/event-types/intro"), 401)
    assert app.get("/api/v1/event-types/intro").json["title"] == "Intro call"


def test_unknown_event_type_is_404(daemon):
    for path in ["/api/v1/event-types/ghost",
                 "/api/v1/event-types/ghost/slots"]:
        assert_error(daemon.get(path), 404, "not_found")
        assert_error(daemon.get(path, admin=True), 404, "not_found")
    assert_error(daemon.delete("/api/v1/event-types/ghost", admin=True), 404)


def test_delete_conflicts_are_409(app):
    start = app.slot_starts("intro")[0]
    app.book("intro", start)
    # the host has an event type (and a booking)
    assert_error(app.delete("/api/v1/hosts/coach", admin=True), 409,
                 "conflict")
    # the event type has a booking
    assert_error(app.delete("/api/v1/event-types/intro", admin=True), 409,
                 "conflict")
    assert app.get("/api/v1/hosts/coach", admin=True).status == 200
    assert app.get("/api/v1/event-types/intro").status == 200


def test_delete_event_type_then_host(daemon):
    make_host(daemon)
    put_schedule(daemon)
    make_event_type(daemon)
    assert_error(daemon.delete("/api/v1/hosts/ada", admin=True), 409,
                 "conflict")
    assert daemon.delete("/api/v1/event-types/intro", admin=True).status == 204
    assert_error(daemon.get("/api/v1/event-types/intro", admin=True), 404)
    assert daemon.delete("/api/v1/hosts/ada", admin=True).status == 204
    assert_error(daemon.get("/api/v1/hosts/ada/schedule", admin=True), 404)
    # the slug is free again
    make_host(daemon)
    assert_error(daemon.get("/api/v1/hosts/ada/schedule", admin=True), 404)


def test_event_type_list_pages(daemon):
    make_host(daemon)
    slugs = [f"et-{i}" for i in range(6)]
    for i, s in enumerate(slugs):
        make_event_type(daemon, slug=s, active=(i % 2 == 0))
    got, q = [], {"limit": "2"}
    for _ in range(10):
        r = daemon.get("/api/v1/event-types", query=q, admin=True)
        assert r.status == 200 and len(r.json["data"]) <= 2
        got += [e["slug"] for e in r.json["data"]]
        if not r.json["next_cursor"]:
            break
        q["cursor"] = r.json["next_cursor"]
    assert got == slugs
    got, q = [], {"limit": "1"}
    for _ in range(10):
        r = daemon.get("/api/v1/event-types", query=q)
        got += [e["slug"] for e in r.json["data"]]
        if not r.json["next_cursor"]:
            break
        q["cursor"] = r.json["next_cursor"]
    assert got == slugs[0::2]


# ---- external ids -------------------------------------------------------------

CALENDLY_URI = "https://api.calendly.com/event_types/" + "A" * 16


def test_external_ids_round_trip(daemon):
    """An event type's ids at providers: strings (a Calendly URI fits),
    admin only, replaced as a whole by PATCH, removed with null; the
    deprecated calcom_event_type_id is external_ids.calcom as an integer,
    both ways."""
    daemon.apply(standard_catalog())
    r = daemon.post("/api/v1/event-types", {
        "slug": "mapped", "title": "Mapped", "host": "coach",
        "duration_minutes": 30,
        "external_ids": {"calendly": CALENDLY_URI, "calcom": "1234"}},
        admin=True)
    assert r.status == 201, r
    want = {"calcom": "1234", "calendly": CALENDLY_URI}
    assert r.json["external_ids"] == want
    assert r.json["calcom_event_type_id"] == 1234
    got = daemon.get("/api/v1/event-types/mapped", admin=True).json
    assert got["external_ids"] == want
    listed = {e["slug"]: e for e in
              daemon.get("/api/v1/event-types", admin=True).json["data"]}
    assert listed["mapped"]["external_ids"] == want
    assert listed["intro"]["external_ids"] == {}
    assert listed["intro"]["calcom_event_type_id"] is None
    pub = daemon.get("/api/v1/event-types/mapped").json
    assert "external_ids" not in pub and "calcom_event_type_id" not in pub

    # The alias writes external_ids.calcom alone.
    r = daemon.patch("/api/v1/event-types/mapped",
                     {"calcom_event_type_id": 99}, admin=True)
    assert r.json["external_ids"] == {"calcom": "99",
                                      "calendly": CALENDLY_URI}, r
    r = daemon.patch("/api/v1/event-types/mapped",
                     {"calcom_event_type_id": None}, admin=True)
    assert r.json["external_ids"] == {"calendly": CALENDLY_URI}, r
    # external_ids replaces the whole map; the alias may agree with it.
    r = daemon.patch("/api/v1/event-types/mapped",
                     {"external_ids": {"calcom": "7"},
                      "calcom_event_type_id": 7}, admin=True)
    assert r.status == 200 and r.json["external_ids"] == {"calcom": "7"}, r
    # A non-numeric Cal.com id is kept; the integer alias shows null.
    r = daemon.patch("/api/v1/event-types/mapped",
                     {"external_ids": {"calcom": "team/7"}}, admin=True)
    assert r.json["external_ids"] == {"calcom": "team/7"}
    assert r.json["calcom_event_type_id"] is None
    r = daemon.patch("/api/v1/event-types/mapped", {"external_ids": None},
                     admin=True)
    assert r.json["external_ids"] == {}, r
    # Other fields leave them alone.
    daemon.patch("/api/v1/event-types/mapped",
                 {"external_ids": {"zoom": "z-1"}}, admin=True)
    r = daemon.patch("/api/v1/event-types/mapped", {"title": "Renamed"},
                     admin=True)
    assert r.json["external_ids"] == {"zoom": "z-1"}, r


def test_external_id_of_another_event_type_is_409(daemon):
    daemon.apply(standard_catalog())
    r = daemon.patch("/api/v1/event-types/intro",
                     {"external_ids": {"calendly": CALENDLY_URI}}, admin=True)
    assert r.status == 200, r
    body = {"slug": "copy", "title": "Copy", "host": "coach",
            "duration_minutes": 30,
            "external_ids": {"calendly": CALENDLY_URI}}
    e = assert_error(daemon.post("/api/v1/event-types", body, admin=True),
                     409, "conflict", "external_ids")
    assert "intro" in e["message"] and "calendly" in e["message"], e
    assert daemon.get("/api/v1/event-types/copy", admin=True).status == 404
    daemon.post("/api/v1/event-types", dict(body, external_ids=None),
                admin=True)
    e = assert_error(daemon.patch("/api/v1/event-types/copy",
                                  {"external_ids": {"calendly":
                                                    CALENDLY_URI}},
                                  admin=True),
                     409, "conflict", "external_ids")
    assert daemon.get("/api/v1/event-types/copy", admin=True).json[
        "external_ids"] == {}
    # Once intro lets go, copy may take it; deleting frees it too.
    daemon.patch("/api/v1/event-types/intro", {"external_ids": None},
                 admin=True)
    r = daemon.patch("/api/v1/event-types/copy",
                     {"external_ids": {"calendly": CALENDLY_URI}}, admin=True)
    assert r.status == 200, r
    assert daemon.delete("/api/v1/event-types/copy", admin=True).status == 204
    r = daemon.patch("/api/v1/event-types/intro",
                     {"external_ids": {"calendly": CALENDLY_URI}}, admin=True)
    assert r.status == 200, r


# ---- /{host} and /{host}/{event-type} ----------------------------------------

def test_host_and_event_type_pages(daemon):
    make_host(daemon)
    make_host(daemon, slug="bee", email="bee@example.com")
    make_event_type(daemon)
    make_event_type(daemon, slug="bees", host="bee")
    make_event_type(daemon, slug="off", active=False)
    index = daemon.get("/")
    assert index.status == 200
    # The same page; only its first data (test_first_data.py) differs.
    first = re.compile(rb'<script type="application/json" '
                       rb'id="first-data">.*?</script>\n', re.S)
    for p in ("/ada", "/ada/intro", "/bee/bees", "/ada/"[:-1]):
        r = daemon.get(p)
        assert r.status == 200, (p, r)
        assert first.sub(b"", r.body) == first.sub(b"", index.body), p
        assert r.header("Content-Type").startswith("text/html")
        csp = r.header("Content-Security-Policy")
        assert "frame-ancestors 'none'" in csp and "unsafe" not in csp
    for p in ("/nobody", "/ada/bees", "/ada/off", "/ada/nothing",
              "/ADA", "/ada/intro/x", "/-ada", "/ada%00", "/ada/%2e%2e",
              "/" + "a" * 65, "/ada/" + "b" * 65, "/ada/intro%0d%0aX:%20y"):
        assert_error(daemon.get(p), 404, "not_found")
    # Fixed paths are never taken for a host.
    assert daemon.get("/healthz").status == 200
    assert daemon.get("/admin").status == 303
    assert daemon.get("/static/nothing.js").status == 404
    # Only GET (and HEAD) is a page.
    r = daemon.post("/ada", {})
    assert r.status == 405, r
    assert daemon.request("HEAD", "/ada").status == 200


# ---- BOOKINGD_EMBED_ORIGINS ---------------------------------------------------

def test_embed_origins_may_frame_the_booking_page_only(make_daemon):
    d = make_daemon(env={"BOOKINGD_EMBED_ORIGINS":
                         " https://www.example.com,http://localhost:8000 "})
    make_host(d)
    make_event_type(d)
    for p in ("/", "/ada", "/ada/intro"):
        csp = d.get(p).header("Content-Security-Policy")
        assert csp.endswith("frame-ancestors 'self' https://www.example.com"
                            " http://localhost:8000"), csp
        assert csp.count("frame-ancestors") == 1
    # The manage page, the admin pages and static files stay unframeable.
    for p in ("/manage/x", "/admin/login", "/static/app.css",
              "/static/embed.js"):
        csp = d.get(p).header("Content-Security-Policy")
        assert "frame-ancestors 'none'" in csp, (p, csp)
    js = d.get("/static/embed.js")
    assert js.status == 200
    assert js.header("Content-Type").startswith("text/javascript") or \
        js.header("Content-Type").startswith("application/javascript")
    assert b"bookingd:height" in js.body


def test_without_embed_origins_no_frames(daemon):
    csp = daemon.get("/").header("Content-Security-Policy")
    assert csp.endswith("frame-ancestors 'none'"), csp
