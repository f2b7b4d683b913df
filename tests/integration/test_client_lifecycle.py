"""The client lifecycle (DESIGN.md "client", docs/payments.md "Client
lifecycle", issue 9 §5): prospect -> active on a paid booking -> inactive
after BOOKINGD_CLIENT_INACTIVE_DAYS without bookings, by the daily
"clients.lifecycle" job (one run per UTC day, one instance at a time), each
change a CLIENT_UPDATED activity published as client.updated; an inactive
client who books again is active again. Days pass by stepping the daemon's
wall clock (the LD_PRELOAD shim of test_clock.py)."""
import json
import subprocess

import pytest

from conftest import ledger_query
from stripe_helpers import StripeFake, new_webhook_secret, wait_for
from test_payments import (book, session_of, slot, start, step_clock,
                           wait_state)

DAY_S = 86400


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


def client(d, email):
    r = d.get("/api/v1/clients", admin=True, query={"email": email})
    assert r.status == 200, r
    [c] = r.json["data"]
    return c


def updates(d, email):
    rows = ledger_query(
        d, "SELECT a.detail FROM activity a JOIN clients c"
           " ON c.id = a.client_id WHERE c.email = ? AND"
           " a.kind = 'CLIENT_UPDATED' ORDER BY a.id", (email,))
    return [json.loads(r[0]) for r in rows]


def published(d):
    return [json.loads(r[0]) for r in ledger_query(
        d, "SELECT body FROM webhook_messages WHERE"
           " event_type = 'client.updated' ORDER BY id")]


def test_inactive_after_days_without_bookings_and_back(make_daemon, fake,
                                                       tmp_path):
    d = start(make_daemon, fake, tmp_path, shift=True,
              BOOKINGD_CLIENT_INACTIVE_DAYS=30,
              BOOKINGD_WEBHOOK_ALLOW_PRIVATE=1)
    r = d.post("/api/v1/webhook-endpoints", {
        "url": "http://127.0.0.1:9/hook", "events": ["client.updated"]},
        admin=True)
    assert r.status == 201, r
    # Ada pays (active), Bob only books a free session (a prospect), Cy
    # pays too but has a booking in 40 days (not without bookings).
    ada = book(d, slot(d, 0)).json
    fake.complete(session_of(fake, ada["uid"])["id"])
    wait_state(d, ada["uid"], ("confirmed", "paid"))
    d.book("intro", d.slot_starts("intro", days_ahead=2)[0],
           email="bob@example.com")
    cy = book(d, slot(d, 1), email="cy@example.com").json
    fake.complete(session_of(fake, cy["uid"])["id"])
    wait_state(d, cy["uid"], ("confirmed", "paid"))
    d.book("intro", d.slot_starts("intro", days_ahead=40)[0],
           email="cy@example.com", admin=True)
    assert client(d, "ada@example.com")["status"] == "active"
    assert client(d, "bob@example.com")["status"] == "prospect"
    assert client(d, "cy@example.com")["status"] == "active"
    # The first run (at start) found nobody.
    wait_for("the first run", lambda: ledger_query(
        d, "SELECT 1 FROM jobs WHERE kind = 'clients.lifecycle'"
           " AND status = 2") or None, 60)
    assert updates(d, "ada@example.com") == []

    # 34 days on: Ada's last booking started 32 days ago.
    step_clock(d, fake, 34 * DAY_S)
    wait_for("Ada inactive", lambda: client(
        d, "ada@example.com")["status"] == "inactive" or None, 90)
    assert updates(d, "ada@example.com") == [{
        "client": client(d, "ada@example.com")["id"], "status": "inactive",
        "from": "active", "reason": "no bookings for 30 days"}]
    assert client(d, "bob@example.com")["status"] == "prospect"
    assert client(d, "cy@example.com")["status"] == "active"
    wait_for("client.updated published", lambda: published(d) or None, 60)
    [msg] = published(d)
    assert msg["type"] == "client.updated", msg
    # One run per day: a later run of the same day changes nothing more,
    # and there is exactly one job row per period.
    keys = [k for (k,) in ledger_query(
        d, "SELECT dedupe_key FROM jobs WHERE kind = 'clients.lifecycle'")]
    assert len(keys) == len(set(keys)), keys

    # Ada books again: active again, told once more.
    d.book("intro", d.slot_starts("intro", days_ahead=36)[0],
           email="ada@example.com")
    assert client(d, "ada@example.com")["status"] == "active"
    assert [u["status"] for u in updates(d, "ada@example.com")] == \
        ["inactive", "active"]
    assert updates(d, "ada@example.com")[1]["reason"] == "booked again"
    wait_for("both published", lambda: len(published(d)) == 2 or None, 60)

    # 80 days on, Cy's booking of day 40 is 40 days past: Cy is inactive
    # too, and Ada (booked on day 36) as well; Bob stays a prospect.
    step_clock(d, fake, 80 * DAY_S)
    wait_for("Cy inactive", lambda: client(
        d, "cy@example.com")["status"] == "inactive" or None, 90)
    wait_for("Ada inactive again", lambda: client(
        d, "ada@example.com")["status"] == "inactive" or None, 90)
    assert client(d, "bob@example.com")["status"] == "prospect"


@pytest.mark.parametrize("bad", ["-1", "3651", "x", "90d"])
def test_inactive_days_configuration(tmp_path, bad):
    """Bad values stop the start with the variable named."""
    from conftest import Daemon
    d = Daemon(tmp_path / "d", env={"BOOKINGD_CLIENT_INACTIVE_DAYS": bad})
    try:
        p = subprocess.run([d.bin, "serve"], env=d.env(),
                           capture_output=True, text=True, timeout=60)
    finally:
        d.release()
    assert p.returncode == 2, p
    assert "BOOKINGD_CLIENT_INACTIVE_DAYS" in p.stderr, p.stderr
