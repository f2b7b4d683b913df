"""A paid booking cancelled elsewhere is refunded by its event type's
refund policy exactly as when its attendee cancels (docs/payments.md
"Refund policy", issue 9 §4): the host deletes its event in their calendar
(CalDAV, a real Radicale) and the next sync cancels the booking with
"deleted in calendar"; the refund goes to Stripe (the contract fake) once,
under the payment's idempotency key, and the invoice follows."""
import urllib.parse

import pytest

import calcom_helpers as H
from stripe_helpers import StripeFake, new_webhook_secret, wait_for
from test_calendars import ENV, USER, Radicale, connect, events_of, sync
from test_payments import (book, booking, session_of, slot, start,
                           wait_state)


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


@pytest.fixture
def radicale(tmp_path):
    r = Radicale(tmp_path / "radicale")
    r.start()
    r.work = r.client().principal().make_calendar(name="Work", cal_id="work")
    yield r
    r.stop()


def test_deleted_in_calendar_refunds_by_policy(make_daemon, fake, radicale):
    d = start(make_daemon, fake, **ENV)
    r = connect(d, radicale.url + f"{USER}/work/")
    assert r.status == 201, r
    # Two paid bookings, about two days ahead: the default policy (24 h)
    # refunds all of one deleted now.
    paid = []
    for n, email in enumerate(["ada@example.com", "bob@example.com"]):
        b = book(d, slot(d, n), email=email).json
        fake.complete(session_of(fake, b["uid"])["id"])
        wait_state(d, b["uid"], ("confirmed", "paid"))
        paid.append(b)
    uid = paid[0]["uid"]
    H.wait_until(lambda: all(b["uid"] in events_of(radicale.work)
                             for b in paid), 60, "the events pushed")
    H.wait_outbox_idle(d)
    first = sync(d)
    assert first["errors"] == [], first

    radicale.work.event_by_uid(uid).delete()
    got = sync(d)
    assert got["updated"] >= 1, got
    wait_state(d, uid, ("cancelled", "refunded"), 90)
    b = booking(d, uid)
    assert b["cancellation_reason"] == "deleted in calendar", b
    sess = session_of(fake, uid)
    pi = fake.session(sess["id"])["payment_intent"]
    reqs = fake.requests("/v1/refunds", "POST")
    assert [r["idempotency_key"] for r in reqs] == [f"bookingd-refund-{pi}"]
    form = dict(urllib.parse.parse_qsl(reqs[0]["body"]))
    assert form == {"payment_intent": pi, "metadata[booking_uid]": uid}, form
    # The invoice follows the refund; the other booking is untouched.
    wait_for("the invoice refunded", lambda: [
        i for i in d.get("/api/v1/invoices", admin=True).json["data"]
        if i["booking"] == uid and i["status"] == "refunded"] or None, 90)
    assert booking(d, paid[1]["uid"])["payment_status"] == "paid"
    # Another sync changes nothing more: refunded once.
    sync(d)
    H.wait_outbox_idle(d)
    assert len(fake.requests("/v1/refunds", "POST")) == 1
