"""A client's phone and notes (docs/api.md "Clients", migration 017):
PATCH /api/v1/clients/{id} sets and clears them, every admin answer shows
them, malformed, oversized and hostile values are 422 naming the field and
change nothing, and the client.updated event names what changed and
reaches an outbound webhook receiver with the new values."""
import json

import pytest

import calcom_helpers as H
from conftest import assert_error, ledger_query, standard_catalog
from test_outbound_webhooks import FAST, Receiver, add_endpoint


@pytest.fixture
def d(make_daemon):
    d = make_daemon(env=FAST)
    d.apply(standard_catalog())
    return d


def new_client(d, i=0, email="ada@example.com"):
    b = d.book("intro", d.slot_starts("intro")[i], email=email,
               name="Ada").json
    return d.get(f"/api/v1/bookings/{b['uid']}", admin=True).json["client"]


def test_phone_and_notes_are_set_shown_and_cleared(d):
    c = new_client(d)
    path = f"/api/v1/clients/{c['id']}"
    got = d.get(path, admin=True).json
    assert got["phone"] is None and got["notes"] is None, got
    notes = "Prefers mornings.\nAllergic to cats — bring the other room.\t✓"
    r = d.patch(path, {"phone": "+49 (30) 123-45.67", "notes": notes},
                admin=True)
    assert r.status == 200, r
    assert r.json["phone"] == "+49 (30) 123-45.67"
    assert r.json["notes"] == notes
    assert d.get(path, admin=True).json == r.json
    listed = d.get("/api/v1/clients", query={"email": "ada@example.com"},
                   admin=True).json["data"][0]
    assert listed["phone"] == r.json["phone"]
    assert listed["notes"] == notes
    # The longest accepted values.
    r = d.patch(path, {"phone": "+" + "1 " * 19 + "1",
                       "notes": "é" * 2500}, admin=True)
    assert r.status == 200, r
    assert len(r.json["notes"].encode()) == 5000
    # As a booking question's phone answer accepts it: a slash, two
    # spaces.
    r = d.patch(path, {"phone": "030/123  456"}, admin=True)
    assert r.status == 200 and r.json["phone"] == "030/123  456", r
    r = d.patch(path, {"phone": "+" + "1 " * 19 + "1"}, admin=True)
    assert r.status == 200, r
    # Only the fields sent change; null and "" clear.
    r = d.patch(path, {"name": "Ada L."}, admin=True)
    assert r.json["phone"] == "+" + "1 " * 19 + "1", r
    r = d.patch(path, {"phone": None, "notes": ""}, admin=True)
    assert r.status == 200, r
    assert r.json["phone"] is None and r.json["notes"] is None, r
    assert ledger_query(d, "SELECT phone, notes FROM clients") == [
        (None, None)]


BAD = [
    ({"phone": "call me"}, "phone"),
    ({"phone": "12"}, "phone"),                    # too few digits
    ({"phone": "1" * 21}, "phone"),                # too many digits
    ({"phone": "1" * 41}, "phone"),                # over 40 bytes
    ({"phone": "12+345"}, "phone"),                # '+' not first
    ({"phone": "030_123456"}, "phone"),
    ({"phone": "030\t123456"}, "phone"),
    ({"phone": "+1 555 0100 ext. 3"}, "phone"),
    ({"phone": "<script>alert(1)</script>"}, "phone"),
    ({"phone": "555'; DROP TABLE clients;--"}, "phone"),
    ({"phone": "555\n0100"}, "phone"),
    ({"phone": "\u0661\u0662\u0663\u0664"}, "phone"),  # Arabic-Indic digits
    ({"phone": "\u202e0100 555"}, "phone"),        # right-to-left override
    ({"phone": 5550100}, "phone"),
    ({"phone": ["555"]}, "phone"),
    ({"phone": {"n": "555"}}, "phone"),
    ({"phone": True}, "phone"),
    ({"notes": "x" * 5001}, "notes"),
    ({"notes": "é" * 2501}, "notes"),              # 5002 bytes
    ({"notes": "bell\u0007"}, "notes"),
    ({"notes": "esc\u001b[31m"}, "notes"),
    ({"notes": "del\u007f"}, "notes"),
    ({"notes": 42}, "notes"),
    ({"notes": {"text": "x"}}, "notes"),
    ({"notes": ["x"]}, "notes"),
    # a valid field does not carry an invalid one through
    ({"phone": "+1 555 0100", "notes": "x" * 6000}, "notes"),
    ({"notes": "fine", "phone": "nope"}, "phone"),
]


def test_bad_values_are_422_and_change_nothing(d):
    c = new_client(d)
    path = f"/api/v1/clients/{c['id']}"
    r = d.patch(path, {"phone": "+44 20 7946 0000", "notes": "kept"},
                admin=True)
    assert r.status == 200, r
    before = d.snapshot()
    for body, field in BAD:
        r = d.patch(path, body, admin=True)
        assert r.status == 422, (body, r)
        assert_error(r, 422, "invalid_field", field)
    assert d.snapshot() == before
    got = d.get(path, admin=True).json
    assert got["phone"] == "+44 20 7946 0000" and got["notes"] == "kept"


def test_hostile_bodies_change_nothing(d):
    c = new_client(d)
    path = f"/api/v1/clients/{c['id']}"
    before = d.snapshot()
    for raw in (b'{"phone": "123", "phone": "x"}', b'{"notes": "\\ud800"}',
                b'{"phone": "\\u0000123"}', b"[]", b'"phone"',
                b'{"notes": "' + b"a" * (2 * 1024 * 1024) + b'"}'):
        r = d.request("PATCH", path, raw=raw, admin=True,
                      headers={"Content-Type": "application/json"},
                      content_type=None)
        assert r.status in (400, 413, 422), (raw[:40], r)
    assert d.snapshot() == before


def test_the_update_event_names_the_change_and_reaches_webhooks(d):
    rx = Receiver()
    try:
        add_endpoint(d, rx.url, events=("client.updated",))
        c = new_client(d)
        r = d.patch(f"/api/v1/clients/{c['id']}",
                    {"phone": "+1 555 0100", "notes": "VIP"}, admin=True)
        assert r.status == 200, r
        rows = ledger_query(
            d, "SELECT detail, source FROM activity WHERE kind = "
               "'CLIENT_UPDATED' ORDER BY id")
        detail = json.loads(rows[-1][0])
        assert detail["client"] == c["id"], detail
        assert sorted(detail["changed"]) == ["notes", "phone"], detail
        got = H.wait_until(lambda: [json.loads(b) for _, b in rx.delivered()
                                    if json.loads(b)["type"] ==
                                    "client.updated"], 60,
                           "the client.updated message")
        data = got[-1]["data"]
        assert data["id"] == c["id"]
        assert data["phone"] == "+1 555 0100" and data["notes"] == "VIP"
        # A PATCH that changes one field names that one.
        r = d.patch(f"/api/v1/clients/{c['id']}", {"notes": "VIP, paid"},
                    admin=True)
        assert r.status == 200, r
        detail = json.loads(ledger_query(
            d, "SELECT detail FROM activity WHERE kind = 'CLIENT_UPDATED' "
               "ORDER BY id DESC LIMIT 1")[0][0])
        assert detail["changed"] == ["notes"], detail
    finally:
        rx.close()
