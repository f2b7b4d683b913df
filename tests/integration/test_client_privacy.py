"""A visitor learns nothing stored about others (docs/api.md "Clients and
attendees"): a public booking with someone else's email, in any case,
answers with what the visitor sent and the booking's own fields, never the
stored client's id, name or zone; it keeps the attendee's name as given;
and an anonymous booking never changes a stored client. The manage page's
API (token) and the booking's .ics follow the same rule; the admin API
shows the client."""
import datetime as dt

import pytest

from conftest import assert_error, today_in

DAY = dt.timedelta(days=1)
VICTIM = {"email": "victim@example.com", "name": "Victoria Secretname",
          "timezone": "Asia/Tokyo"}


def day_slots(d, offset_days=2):
    day = today_in("Europe/Berlin") + offset_days * DAY
    j = d.slots("intro", day, day)
    return [s["start"] for s in j["slots"][str(day)]]


def stored_client(app, email):
    rows = app.get("/api/v1/clients", query={"email": email},
                   admin=True).json["data"]
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture
def victim(app):
    """A client the admin knows well: name, zone, status set by the admin
    API."""
    b = app.book("intro", day_slots(app, 3)[0], email=VICTIM["email"],
                 name="first", timezone=None, admin=True).json
    cid = b["client"]["id"]
    r = app.patch(f"/api/v1/clients/{cid}",
                  {"name": VICTIM["name"], "timezone": VICTIM["timezone"],
                   "status": "active"}, admin=True)
    assert r.status == 200, r
    return r.json


def assert_discloses_nothing(resp_text, victim):
    for secret in (victim["id"], victim["name"], "Secretname",
                   victim["timezone"]):
        assert secret not in resp_text, (secret, resp_text)


def public_view_ok(b, sent):
    """The public form of a booking: no client, the attendee as sent."""
    assert b["client"] is None, b
    assert b["attendee"] == {"name": sent["name"], "email": sent["email"]}


@pytest.mark.parametrize("email", [
    "victim@example.com", "VICTIM@EXAMPLE.COM", "Victim@Example.Com"])
def test_others_email_in_any_case_reveals_nothing(app, victim, email):
    sent = {"name": "Mallory", "email": email}
    before = stored_client(app, "victim@example.com")
    r = app.book("intro", day_slots(app)[0], email=email, name="Mallory",
                 timezone="Europe/London")
    b = r.json
    public_view_ok(b, sent)
    assert_discloses_nothing(r.body.decode(), victim)
    # the booking links to the client found by email, case-insensitively,
    # and the client is unchanged
    after = stored_client(app, "victim@example.com")
    assert after == before
    adm = app.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert adm["client"]["id"] == victim["id"]
    assert adm["client"]["name"] == VICTIM["name"]
    assert adm["attendee"] == sent  # the name as given is kept
    assert len(app.list_all("/api/v1/clients")) == 1

    # the manage page's API (manage token) shows the same public form
    tok = b["manage_token"]
    for method, path, body in [
            ("GET", f"/api/v1/bookings/{b['uid']}", None),
            ("POST", f"/api/v1/bookings/{b['uid']}/reschedule",
             {"start": day_slots(app)[2]}),
            ("POST", f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "x"})]:
        kw = {"query": {"token": tok}}
        if body is not None:
            kw["body"] = body
        r = app.request(method, path, **kw)
        assert r.status == 200, r
        public_view_ok(r.json, sent)
        assert_discloses_nothing(r.body.decode(), victim)
    # the invite download by token names the attendee as given
    r = app.get(f"/api/v1/bookings/{b['uid']}/ics", query={"token": tok})
    assert r.status == 200, r
    ics = r.body.decode().replace("\r\n ", "")  # unfolded (RFC 5545)
    assert_discloses_nothing(ics, victim)
    assert "Mallory" in ics
    assert stored_client(app, "victim@example.com") == before


def test_nameless_client_is_not_named_by_a_visitor(app):
    """A client stored without a name (a provider sent none, or the admin
    cleared it) keeps none after an anonymous booking."""
    b = app.book("intro", day_slots(app, 3)[0], email="quiet@example.com",
                 admin=True).json
    cid = b["client"]["id"]
    assert app.patch(f"/api/v1/clients/{cid}", {"name": None},
                     admin=True).status == 200
    before = stored_client(app, "quiet@example.com")
    r = app.book("intro", day_slots(app)[0], email="QUIET@example.com",
                 name="Impostor")
    public_view_ok(r.json, {"name": "Impostor",
                            "email": "QUIET@example.com"})
    assert stored_client(app, "quiet@example.com") == before
    assert before["name"] is None
    # the admin API may still name it
    b = app.book("intro", day_slots(app)[1], email="quiet@example.com",
                 name="Quiet One", admin=True).json
    assert b["client"]["name"] == "Quiet One"
    assert b["attendee"]["name"] == "Quiet One"


@pytest.mark.parametrize("email", [
    "victim@example.com\r\n", "victim@example.com\nBcc: x@example.com",
    "\r\nvictim@example.com", "victim@example.com\x00",
    "v" * 250 + "@example.com", "victim@" + "e" * 300 + ".com",
    " victim@example.com"])
def test_hostile_email_forms_are_refused(app, victim, email):
    before = app.snapshot()
    r = app.book("intro", day_slots(app)[0], email=email, name="Mallory",
                 expect=None)
    if "\x00" in email:  # JSON text with \u0000 is refused as a whole
        assert_error(r, 400, "invalid_json")
    else:
        assert_error(r, 422, "invalid_field", "attendee.email")
    assert_discloses_nothing(r.body.decode(), victim)
    assert app.snapshot() == before


@pytest.mark.parametrize("email,name", [
    ("VİCTİM@example.com", "Mällory ☃"),
    ("victim@EXAMPLE.com", "名前\u202eevil"),
    ("ｖｉｃｔｉｍ@example.com", "Zoë \U0001F600"),
    ("victim@example.com", "n" * 200)])
def test_unicode_and_long_names_are_kept_as_given(app, victim, email, name):
    before = stored_client(app, "victim@example.com")
    r = app.book("intro", day_slots(app)[0], email=email, name=name)
    public_view_ok(r.json, {"name": name, "email": email})
    assert_discloses_nothing(r.body.decode(), victim)
    assert stored_client(app, "victim@example.com") == before
    adm = app.get(f"/api/v1/bookings/{r.json['uid']}", admin=True).json
    assert adm["attendee"] == {"name": name, "email": email}


def test_admin_views_show_the_client(app, victim):
    b = app.book("intro", day_slots(app)[0], email="VICTIM@example.com",
                 name="Someone").json
    for row in app.list_all("/api/v1/bookings"):
        assert row["client"]["id"] == victim["id"]
        assert row["client"]["email"] == "victim@example.com"
    adm = app.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert adm["client"]["name"] == VICTIM["name"]
    assert adm["attendee"]["name"] == "Someone"
