"""A client's figures for the admin (docs/api.md "Clients"): GET
/api/v1/clients and /api/v1/clients/{id} carry `sessions` (completed
bookings) and `revenue` [{currency, amount}] (its paid invoices net of
refunds, from the ledger), on a real daemon with the Stripe fake."""
import pytest

from conftest import assert_error
from stripe_helpers import StripeFake, new_webhook_secret, wait_for
from test_payments import (activity, book, session_of, slot, start,
                           step_clock, wait_state)


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


def client_of(d, email):
    r = d.get("/api/v1/clients", query={"email": email}, admin=True)
    assert r.status == 200, r
    [c] = r.json["data"]
    return c


def paid(d, fake, n, email):
    b = book(d, slot(d, n), email=email).json
    fake.complete(session_of(fake, b["uid"])["id"])
    wait_state(d, b["uid"], ("confirmed", "paid"))
    return b


def test_client_figures(make_daemon, fake, tmp_path):
    d = start(make_daemon, fake, tmp_path, shift=True)
    # Before any booking: no clients, nothing to count.
    assert d.get("/api/v1/clients", admin=True).json["data"] == []
    a1 = paid(d, fake, 0, "ada@example.com")
    a2 = paid(d, fake, 1, "ada@example.com")
    b1 = paid(d, fake, 2, "bob@example.com")
    free = d.book("intro", d.slot_starts("intro", 2, 2)[0],
                  email="cy@example.com").json
    ada, bob, cy = (client_of(d, e) for e in
                    ("ada@example.com", "bob@example.com", "cy@example.com"))
    assert ada["revenue"] == [{"currency": "EUR", "amount": 9000}], ada
    assert bob["revenue"] == [{"currency": "EUR", "amount": 4500}], bob
    assert cy["revenue"] == [] and cy["sessions"] == 0, cy
    assert ada["sessions"] == 0 and bob["sessions"] == 0

    # A part refunded comes off; all of it refunded leaves nothing.
    r = d.post(f"/api/v1/bookings/{a1['uid']}/refund", {"amount": 1500},
               admin=True)
    assert r.status == 202, r
    wait_for("the partial refund", lambda: len(
        activity(d, a1["uid"], "REFUND_ISSUED")) == 1)
    r = d.post(f"/api/v1/bookings/{b1['uid']}/refund", {}, admin=True)
    assert r.status == 202, r
    wait_state(d, b1["uid"], ("confirmed", "refunded"))

    # Sessions are completed bookings: after their start, marked so.
    step_clock(d, fake, 8 * 86400)
    # The shim reads the step within 20 ms: the first mark waits for it
    # (a refusal before the start writes nothing).
    wait_for("the daemon's clock to step", lambda: d.post(
        f"/api/v1/bookings/{a2['uid']}/complete", {},
        admin=True).status == 200 or None, 30)
    r = d.post(f"/api/v1/bookings/{free['uid']}/complete", {}, admin=True)
    assert r.status == 200, r
    r = d.post(f"/api/v1/bookings/{a1['uid']}/no-show", {}, admin=True)
    assert r.status == 200, r

    ada = d.get(f"/api/v1/clients/{ada['id']}", admin=True).json
    assert ada["revenue"] == [{"currency": "EUR", "amount": 7500}], ada
    assert ada["sessions"] == 1, ada
    listed = {c["email"]: c for c in
              d.get("/api/v1/clients", admin=True).json["data"]}
    assert listed["ada@example.com"]["revenue"] == ada["revenue"]
    assert listed["ada@example.com"]["sessions"] == 1
    assert listed["bob@example.com"]["revenue"] == \
        [{"currency": "EUR", "amount": 0}], listed
    assert listed["bob@example.com"]["sessions"] == 0
    assert listed["cy@example.com"]["sessions"] == 1
    assert listed["cy@example.com"]["revenue"] == []
    # A page of one client counts that client only (the others' figures
    # are not mixed in by the id range).
    r = d.get("/api/v1/clients", query={"limit": 1}, admin=True)
    assert r.status == 200 and len(r.json["data"]) == 1, r
    one = r.json["data"][0]
    assert (one["sessions"], one["revenue"]) == (
        listed[one["email"]]["sessions"], listed[one["email"]]["revenue"])
    # A status filter that skips ids in the middle still matches each row.
    r = d.get("/api/v1/clients", query={"status": "active"}, admin=True)
    for c in r.json["data"]:
        assert (c["sessions"], c["revenue"]) == (
            listed[c["email"]]["sessions"], listed[c["email"]]["revenue"])
    # The PATCH answer carries them too.
    r = d.patch(f"/api/v1/clients/{ada['id']}", {"name": "Ada L."},
                admin=True)
    assert r.status == 200 and r.json["revenue"] == ada["revenue"], r

    # The admin's only; unknown and hostile ids are 404.
    assert_error(d.get("/api/v1/clients"), 401)
    assert_error(d.get(f"/api/v1/clients/{ada['id']}"), 401)
    for bad in ("cli_aaaaaaaaaaaaaaaa", "1", "cli_' OR 1=1 --",
                "x" * 5000):
        assert_error(d.get("/api/v1/clients/" + bad.replace(" ", "%20")
                           .replace("'", "%27"), admin=True), 404)
