"""Paid bookings through Stripe Checkout (docs/payments.md, issue 9 §1):
the real daemon against the Stripe contract fake (tests/fakes/stripe),
whose events are signed with the official `stripe` package and POSTed to
/webhooks/stripe. A priced booking is pending and holds its slot; a paid
session confirms it exactly once whatever the order and repetition of the
events; an abandoned one frees the slot; a payment after the hold ended
confirms when the slot is still free and is refunded when it is not; the
hold-expiry job settles holds whose webhooks never came; Stripe out of
reach leaves the booking pending until "retry payment" works. Bad
signatures change nothing.

Times after a hold's end are reached by stepping the daemon's wall clock
(the LD_PRELOAD shim of test_clock.py) while the fake keeps the real one;
the fake then signs its events with the daemon's time
(config timestamp_offset)."""
import datetime as dt
import json
import os
import subprocess
import urllib.parse

import pytest

from conftest import assert_error, ledger_query, preload, today_utc
from smtp_server import SmtpServer
from stripe_helpers import (FAKE_DIR, PRICE, StripeFake, new_webhook_secret,
                            paid_catalog, stripe_env, wait_for)

HOLD_S = 30 * 60


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


def shifted_env(offset_file, **env):
    lib = os.environ.get("BK_CLOCKSHIFT_LIB")
    assert lib and os.path.exists(lib), "BK_CLOCKSHIFT_LIB: the shim"
    offset_file.write_text("0\n")
    asan = os.environ.get("ASAN_OPTIONS", "")
    env.update(LD_PRELOAD=preload(lib), BK_CLOCKSHIFT_FILE=str(offset_file),
               ASAN_OPTIONS=(asan + ":" if asan else "")
               + "verify_asan_link_order=0")
    return env


def start(make_daemon, fake, tmp_path=None, shift=False, **extra):
    env = stripe_env(fake, **extra)
    if shift:
        env = shifted_env(tmp_path / "clock-offset", **env)
    d = make_daemon(env=env)
    d.clock_file = tmp_path / "clock-offset" if shift else None
    fake.point_at(d)
    d.apply(paid_catalog())
    return d


def step_clock(d, fake, seconds):
    """Moves the daemon's wall clock `seconds` ahead of the real one; the
    fake signs its events on the daemon's timeline from then on."""
    d.clock_file.write_text(f"{seconds * 1000}\n")
    fake.config(timestamp_offset=seconds)


def slot(d, n=0, slug="paid"):
    return d.slot_starts(slug, days_ahead=2, span=2)[n]


def book(d, start, email="ada@example.com", expect=201):
    return d.book("paid", start, email=email, expect=expect)


def booking(d, uid):
    r = d.get(f"/api/v1/bookings/{uid}", admin=True)
    assert r.status == 200, r
    return r.json


def state(d, uid):
    b = booking(d, uid)
    return b["status"], b["payment_status"]


def wait_state(d, uid, want, timeout=60):
    return wait_for(f"booking {uid} to be {want}",
                    lambda: state(d, uid) == want or None, timeout)


def activity(d, uid, kind):
    return ledger_query(
        d, "SELECT a.id FROM activity a JOIN bookings b ON b.id = a.booking_id"
           " WHERE b.uid = ? AND a.kind = ?", (uid, kind))


def history_actions(d, uid):
    r = d.get(f"/api/v1/bookings/{uid}/history", admin=True)
    assert r.status == 200, r
    return [h["action"] for h in r.json["data"]]


def free(d, start, slug="paid"):
    return start in d.slot_starts(slug, days_ahead=2, span=2)


def deliveries(d):
    return ledger_query(d, "SELECT delivery_key, status FROM inbox"
                           " WHERE provider = 'stripe' ORDER BY id")


def settled_deliveries(d):
    rows = deliveries(d)
    return rows if rows and all(s != 0 for _, s in rows) else None


def session_of(fake, uid):
    return next(s for s in fake.sessions()
                if s["client_reference_id"] == uid)


def messages(d, uid):
    return ledger_query(
        d, "SELECT m.kind FROM messages m JOIN bookings b"
           " ON b.id = m.booking_id WHERE b.uid = ? ORDER BY m.id", (uid,))


# ---- the fake itself -----------------------------------------------------------

def test_fake_agrees_with_the_official_client(fake):
    """The official stripe client creates, retrieves and expires a session
    on the fake and gets the errors it knows for what Stripe refuses."""
    r = subprocess.run(["node", str(FAKE_DIR / "client-check.mjs"),
                        str(fake.port)], cwd=FAKE_DIR, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_fake_is_strict(fake):
    auth = {"Authorization": "Bearer sk_test_x",
            "Content-Type": "application/x-www-form-urlencoded"}
    st, j = fake.call("POST", "/v1/checkout/sessions", raw=b"mode=payment",
                      headers={"Content-Type":
                               "application/x-www-form-urlencoded"})
    assert st == 401 and j["error"]["type"] == "invalid_request_error", j
    st, j = fake.call("POST", "/v1/checkout/sessions", raw=b'{"mode":1}',
                      headers={**auth, "Content-Type": "application/json"})
    assert st == 400, j
    st, j = fake.call("POST", "/v1/checkout/sessions", raw=b"mode=payment",
                      headers=auth)
    assert st == 400 and j["error"]["param"] == "line_items", j
    assert j["error"]["code"] == "parameter_missing", j


# ---- configuration -------------------------------------------------------------

def test_priced_booking_without_stripe_is_refused(make_daemon):
    """Without STRIPE_SECRET_KEY a priced event type is not booked for free
    on the public API (503 payments_not_configured, nothing written); an
    admin may still book it (paid elsewhere), confirmed, payment none."""
    d = make_daemon()
    d.apply(paid_catalog())
    s = slot(d)
    before = d.counts()
    r = book(d, s, expect=503)
    assert_error(r, 503, "payments_not_configured")
    assert d.counts()["bookings"] == before["bookings"]
    r = d.book("paid", s, admin=True)
    assert (r.json["status"], r.json["payment_status"]) == \
        ("confirmed", "none"), r.json
    assert "checkout_url" not in r.json
    # Free event types are unaffected.
    r = d.book("intro", d.slot_starts("intro", 2, 2)[0])
    assert r.json["status"] == "confirmed"


# ---- the happy path --------------------------------------------------------------

def test_pay_confirms_once(make_daemon, fake):
    d = start(make_daemon, fake, BOOKINGD_WEBHOOK_ALLOW_PRIVATE=1)
    r = d.post("/api/v1/webhook-endpoints", {
        "url": "http://127.0.0.1:9/hook", "events": [
            "booking.confirmed", "payment.succeeded"]}, admin=True)
    assert r.status == 201, r
    s = slot(d)
    r = book(d, s)
    b = r.json
    assert (b["status"], b["payment_status"]) == ("pending", "unpaid"), b
    assert b["payment"] == {"amount": 4500, "currency": "EUR",
                            "attempt": 1}, b
    hold = dt.datetime.fromisoformat(b["hold_expires_at"].replace("Z",
                                                                  "+00:00"))
    now = dt.datetime.now(dt.timezone.utc)
    assert HOLD_S - 60 < (hold - now).total_seconds() <= HOLD_S + 5, b
    assert b["checkout_url"].startswith(fake.base + "/pay/cs_test_"), b

    # What bookingd sent, exactly (PROVIDERS.md §1.4).
    [req] = fake.requests("/v1/checkout/sessions", "POST")
    assert req["content_type"] == "application/x-www-form-urlencoded", req
    assert req["idempotency_key"] == f"bookingd-checkout-{b['uid']}-1"
    form = dict(urllib.parse.parse_qsl(req["body"], strict_parsing=True))
    sess = session_of(fake, b["uid"])
    assert form.pop("success_url").startswith(
        f"http://127.0.0.1:{d.port}/manage/{b['uid']}?token=")
    assert form.pop("cancel_url").endswith("&checkout=cancel")
    assert int(form.pop("expires_at")) == sess["expires_at"]
    assert form == {
        "mode": "payment",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "4500",
        "line_items[0][price_data][product_data][name]": "Paid session",
        "line_items[0][quantity]": "1",
        "customer_email": "ada@example.com",
        "client_reference_id": b["uid"],
        "metadata[booking_uid]": b["uid"],
        "payment_intent_data[metadata][booking_uid]": b["uid"],
    }, form

    # The hold blocks the slot like a confirmed booking.
    assert not free(d, s)
    assert_error(book(d, s, email="bob@example.com", expect=409), 409,
                 "slot_unavailable")
    # Nothing is confirmed to the attendee before payment.
    assert messages(d, b["uid"]) == []

    fake.complete(sess["id"])
    wait_state(d, b["uid"], ("confirmed", "paid"))
    [ev] = fake.events("checkout.session.completed")
    # Stripe resends: a duplicate is 200 and changes nothing.
    for _ in range(2):
        res = fake.deliver(ev["id"])
        assert res["status"] == 200, res
    wait_for("deliveries applied", lambda: settled_deliveries(d))
    assert len(deliveries(d)) == 1
    assert history_actions(d, b["uid"]) == ["created", "confirmed"]
    assert len(activity(d, b["uid"], "PAYMENT_COMPLETED")) == 1
    assert len(activity(d, b["uid"], "CHECKOUT_INITIATED")) == 1
    g = booking(d, b["uid"])
    assert "checkout_url" not in g and "hold_expires_at" not in g, g
    assert {"provider": "stripe", "external_id": sess["id"]} in \
        [{k: x[k] for k in ("provider", "external_id")} for x in g["links"]]
    # The confirmation email goes out on the confirmation (attendee and
    # host, once each).
    wait_for("confirmation messages",
             lambda: sorted(messages(d, b["uid"])) ==
             [("attendee_confirmed",), ("host_new",)] or None)
    assert not free(d, s)
    # Published to outbound webhooks (docs/outbound-webhooks.md).
    wait_for("outbound messages", lambda: sorted(r[0] for r in ledger_query(
        d, "SELECT event_type FROM webhook_messages")) ==
        ["booking.confirmed", "payment.succeeded"] or None)
    # The attendee's view through the manage token.
    token = b["manage_token"]
    r = d.get(f"/api/v1/bookings/{b['uid']}", query={"token": token})
    assert r.json["payment_status"] == "paid", r.json


def test_out_of_order_and_duplicate_events(make_daemon, fake):
    """A refund's event that arrives before the payment's waits for it;
    then both apply, in the right order, once each."""
    d = start(make_daemon, fake)
    b = book(d, slot(d)).json
    sess = session_of(fake, b["uid"])
    fake.config(hold_events=True)
    fake.complete(sess["id"])
    pi = fake.session(sess["id"])["payment_intent"]
    st, refund = fake.call(
        "POST", "/v1/refunds", raw=f"payment_intent={pi}".encode(),
        headers={"Authorization": "Bearer sk_test_dashboard",
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200, refund
    completed = fake.events("checkout.session.completed")[0]
    refunded = fake.events("charge.refunded")[0]
    assert fake.deliver(refunded["id"])["status"] == 200
    # Stored, waiting for the payment (retried, not failed).
    assert state(d, b["uid"]) == ("pending", "unpaid")
    assert fake.deliver(completed["id"])["status"] == 200
    assert fake.deliver(refunded["id"])["status"] == 200  # a duplicate
    wait_state(d, b["uid"], ("confirmed", "refunded"))
    wait_for("deliveries applied", lambda: settled_deliveries(d))
    assert [s for _, s in deliveries(d)] == [1, 1], deliveries(d)
    assert len(activity(d, b["uid"], "PAYMENT_COMPLETED")) == 1
    assert len(activity(d, b["uid"], "REFUND_ISSUED")) == 1


# ---- signatures -------------------------------------------------------------------

def test_bad_signatures_change_nothing(make_daemon, fake):
    d = start(make_daemon, fake)
    b = book(d, slot(d)).json
    sess = session_of(fake, b["uid"])
    fake.config(hold_events=True)
    fake.complete(sess["id"])
    [ev] = fake.events("checkout.session.completed")
    before = d.snapshot(ignore_columns=("updated_utc",))
    bad = [
        {"secret": "whsec_" + "0" * 32},       # another secret
        {"timestamp_offset": -301},             # too old
        {"timestamp_offset": 3600},             # far in the future
        {"tamper": True},                       # body changed after signing
        {"no_signature": True},                 # no header
        {"signature": "t=abc,v1=zz"},           # garbage
        {"signature": "v1=" + "0" * 64},        # no timestamp
        {"signature": "t=1700000000"},          # no v1
        {"signature": "t=1,v0=" + "0" * 64},    # only the test-mode decoy
    ]
    for opts in bad:
        res = fake.deliver(ev["id"], **opts)
        assert res["status"] == 401, (opts, res)
        assert json.loads(res["body"])["error"]["code"] == "unauthorized"
    assert d.snapshot(ignore_columns=("updated_utc",)) == before
    assert state(d, b["uid"]) == ("pending", "unpaid")
    # Several v1 signatures (a secret being rolled): any one may match.
    from_fake = fake.deliver(ev["id"], timestamp_offset=0)
    assert from_fake["status"] == 200, from_fake
    wait_state(d, b["uid"], ("confirmed", "paid"))


def test_signed_bodies_that_are_not_ours(make_daemon, fake):
    """A signed event about another product's session is stored as
    ignored (200, so Stripe stops resending); a signed body that is not an
    event is refused and stored as failed; nothing reaches the ledger."""
    import hashlib
    import hmac
    import time
    d = start(make_daemon, fake)
    before = ledger_query(d, "SELECT count(*) FROM bookings")

    def post(body, ctype="application/json"):
        t = int(time.time())
        sig = hmac.new(fake.secret.encode(), f"{t}.".encode() + body,
                       hashlib.sha256).hexdigest()
        return d.post("/webhooks/stripe", raw=body, headers={
            "Content-Type": ctype,
            "Stripe-Signature": f"t={t},v1={'0' * 64},v1={sig}"})

    other = {"id": "evt_other1", "object": "event", "type":
             "checkout.session.completed", "data": {"object": {
                 "id": "cs_x", "object": "checkout.session",
                 "payment_status": "paid", "metadata": {}}}}
    r = post(json.dumps(other).encode())
    assert r.status == 200, r
    hostile = dict(other, id="evt_hostile", data={"object": {
        "id": "cs_y", "payment_status": "paid",
        "metadata": {"booking_uid": "x' OR 1=1 --"}}})
    assert post(json.dumps(hostile).encode()).status == 200
    unknown = dict(other, id="evt_unknown", type="invoice.paid")
    assert post(json.dumps(unknown).encode()).status == 200
    assert post(b"[1,2]").status == 400
    assert post(b'{"id": "evt_') .status == 400
    assert post(json.dumps({"type": "x"}).encode()).status in (400, 422)
    assert post(b"{}", ctype="text/plain").status == 415
    r = d.post("/webhooks/stripe", raw=b"x" * (2 * 1024 * 1024),
               headers={"Content-Type": "application/json",
                        "Stripe-Signature": "t=1,v1=" + "0" * 64})
    assert r.status == 413, r
    wait_for("deliveries final", lambda: settled_deliveries(d))
    assert ledger_query(d, "SELECT count(*) FROM bookings") == before
    assert ledger_query(d, "SELECT count(*) FROM activity WHERE kind LIKE"
                           " 'PAYMENT%'") == [(0,)]


# ---- holds that end -----------------------------------------------------------------

def test_abandoned_checkout_expires_and_frees_the_slot(make_daemon, fake):
    d = start(make_daemon, fake)
    s = slot(d)
    b = book(d, s).json
    assert not free(d, s)
    fake.expire(session_of(fake, b["uid"])["id"])
    wait_state(d, b["uid"], ("cancelled", "unpaid"))
    assert free(d, s)
    assert len(activity(d, b["uid"], "CHECKOUT_EXPIRED")) == 1
    assert booking(d, b["uid"])["cancellation_reason"].startswith(
        "payment not completed")
    # The slot can be booked again.
    b2 = book(d, s, email="bob@example.com").json
    assert b2["status"] == "pending"


def test_late_payment_with_the_slot_free_confirms(make_daemon, fake,
                                                  tmp_path):
    d = start(make_daemon, fake, tmp_path, shift=True)
    s = slot(d)
    b = book(d, s).json
    sess = session_of(fake, b["uid"])
    # The hold-expiry job cannot reach Stripe for now.
    fake.fail("/v1/checkout/sessions/", status=500, count=100000)
    step_clock(d, fake, HOLD_S + 60)
    wait_for("the hold to end", lambda: free(d, s))
    fake.complete(sess["id"])
    wait_state(d, b["uid"], ("confirmed", "paid"))
    assert not free(d, s)
    assert fake.requests("/v1/refunds") == []


def test_late_payment_with_the_slot_taken_is_refunded(make_daemon, fake,
                                                      tmp_path):
    d = start(make_daemon, fake, tmp_path, shift=True)
    s = slot(d)
    b = book(d, s).json
    sess = session_of(fake, b["uid"])
    fake.fail("/v1/checkout/sessions/", status=500, count=100000)
    step_clock(d, fake, HOLD_S + 60)
    wait_for("the hold to end", lambda: free(d, s))
    other = d.book("paid", s, email="bob@example.com", admin=True).json
    assert other["status"] == "confirmed"
    fake.complete(sess["id"])
    wait_state(d, b["uid"], ("cancelled", "refunded"))
    [req] = fake.requests("/v1/refunds", "POST")
    pi = fake.session(sess["id"])["payment_intent"]
    assert req["idempotency_key"] == f"bookingd-refund-{pi}"
    assert dict(urllib.parse.parse_qsl(req["body"])) == {
        "payment_intent": pi, "metadata[booking_uid]": b["uid"]}
    assert "no longer available" in \
        booking(d, b["uid"])["cancellation_reason"]
    assert state(d, other["uid"]) == ("confirmed", "none")
    # The attendee is told (the cancellation email).
    wait_for("the cancellation email",
             lambda: ("attendee_cancelled",) in messages(d, b["uid"]))
    assert len(activity(d, b["uid"], "REFUND_ISSUED")) == 1


def test_hold_expiry_settles_when_webhooks_are_lost(make_daemon, fake,
                                                    tmp_path):
    """No webhook ever arrives: at the hold's end the job reads each
    session — a paid one confirms its booking, an open one is expired at
    Stripe and its booking cancelled."""
    d = start(make_daemon, fake, tmp_path, shift=True)
    fake.config(webhook_url="http://127.0.0.1:9/lost")
    s1, s2 = slot(d, 0), slot(d, 1)
    paid = book(d, s1).json
    left = book(d, s2, email="bob@example.com").json
    fake.complete(session_of(fake, paid["uid"])["id"])
    step_clock(d, fake, HOLD_S + 60)
    wait_state(d, paid["uid"], ("confirmed", "paid"))
    wait_state(d, left["uid"], ("cancelled", "unpaid"))
    assert fake.session(session_of(fake, left["uid"])["id"])["status"] == \
        "expired"
    assert free(d, s2) and not free(d, s1)
    assert deliveries(d) == []


# ---- Stripe out of reach ----------------------------------------------------------------

def test_stripe_down_then_retry_payment(make_daemon, fake):
    d = start(make_daemon, fake, BOOKINGD_JOB_MAX_ATTEMPTS=2,
              BOOKINGD_CHECKOUT_WAIT_MS=5000)
    fake.fail("/v1/checkout/sessions", status=0, count=100000,
              method="POST")
    s = slot(d)
    b = book(d, s).json
    assert (b["status"], b["payment_status"]) == ("pending", "unpaid"), b
    assert "checkout_url" not in b
    assert not free(d, s)  # the hold stands
    # Out of attempts: the job is dead and the booking says why.
    wait_for("the checkout job to give up", lambda: ledger_query(
        d, "SELECT id FROM jobs WHERE kind = 'stripe.checkout'"
           " AND status = 3"))
    g = booking(d, b["uid"])
    assert "error" in g["payment"], g
    fake.clear_failures()
    token = b["manage_token"]
    r = d.post(f"/api/v1/bookings/{b['uid']}/payment", {},
               query={"token": token})
    assert r.status == 200, r
    assert r.json["checkout_url"].startswith(fake.base), r.json
    assert r.json["payment"]["attempt"] == 2
    # Again: the open page is returned, no new attempt.
    r2 = d.post(f"/api/v1/bookings/{b['uid']}/payment", {},
                query={"token": token})
    assert r2.json["checkout_url"] == r.json["checkout_url"]
    made = [q for q in fake.requests("/v1/checkout/sessions", "POST")
            if q["status"] == 200]
    assert [q["idempotency_key"] for q in made] == \
        [f"bookingd-checkout-{b['uid']}-2"]
    assert len(fake.sessions()) == 1
    fake.complete(fake.sessions()[0]["id"])
    wait_state(d, b["uid"], ("confirmed", "paid"))


def test_stripe_errors_are_retried_without_a_second_session(make_daemon,
                                                            fake):
    """429 and 500 answers are retried under the same idempotency key;
    exactly one session is made."""
    d = start(make_daemon, fake, BOOKINGD_CHECKOUT_WAIT_MS=0)
    fake.fail("/v1/checkout/sessions", status=429, count=2, method="POST")
    fake.fail("/v1/checkout/sessions", status=500, count=1, method="POST")
    b = book(d, slot(d)).json
    wait_for("the checkout url", lambda: "checkout_url" in booking(
        d, b["uid"]))
    keys = {q["idempotency_key"] for q in
            fake.requests("/v1/checkout/sessions", "POST")}
    assert keys == {f"bookingd-checkout-{b['uid']}-1"}
    assert len(fake.sessions()) == 1


def test_retry_payment_bad_input(make_daemon, fake):
    d = start(make_daemon, fake)
    b = book(d, slot(d)).json
    uid, token = b["uid"], b["manage_token"]
    path = f"/api/v1/bookings/{uid}/payment"
    assert_error(d.post(path, {}), 401)
    assert_error(d.post(path, {}, query={"token": "x" * 43}), 401)
    assert_error(d.post(path, {"amount": 1}, query={"token": token}), 422)
    assert_error(d.post(path, raw=b"{", query={"token": token}), 400)
    assert_error(d.post("/api/v1/bookings/NOSUCHBOOKING/payment", {},
                        admin=True), 404)
    free_b = d.book("intro", d.slot_starts("intro", 2, 2)[0]).json
    assert_error(d.post(f"/api/v1/bookings/{free_b['uid']}/payment", {},
                        admin=True), 404)
    fake.complete(session_of(fake, uid)["id"])
    wait_state(d, uid, ("confirmed", "paid"))
    assert_error(d.post(path, {}, query={"token": token}), 409)


def test_cancelled_before_paying(make_daemon, fake):
    """An attendee who cancels while the payment is pending: the Checkout
    page is closed at Stripe. A payment made just before the cancellation
    (its event arriving after it) is refunded."""
    d = start(make_daemon, fake)
    s1, s2 = slot(d, 0), slot(d, 1)
    a = book(d, s1).json
    r = d.post(f"/api/v1/bookings/{a['uid']}/cancel", {"reason": "changed"},
               query={"token": a["manage_token"]})
    assert r.status == 200 and r.json["status"] == "cancelled", r
    sa = session_of(fake, a["uid"])["id"]
    wait_for("the session to be expired at Stripe",
             lambda: fake.session(sa)["status"] == "expired")
    assert free(d, s1)

    b = book(d, s2, email="bob@example.com").json
    sb = session_of(fake, b["uid"])["id"]
    fake.config(hold_events=True)
    fake.complete(sb)
    r = d.post(f"/api/v1/bookings/{b['uid']}/cancel", {},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    [ev] = fake.events("checkout.session.completed")
    assert fake.deliver(ev["id"])["status"] == 200
    wait_state(d, b["uid"], ("cancelled", "refunded"))
    [req] = fake.requests("/v1/refunds", "POST")
    assert req["status"] == 200, req
    assert len(activity(d, b["uid"], "REFUND_ISSUED")) == 1


def test_admin_refund(make_daemon, fake):
    """POST /api/v1/bookings/{uid}/refund (admin): a part leaves the
    booking paid; all of it makes it refunded; once per payment."""
    d = start(make_daemon, fake)
    a = book(d, slot(d, 0)).json
    fake.complete(session_of(fake, a["uid"])["id"])
    wait_state(d, a["uid"], ("confirmed", "paid"))
    path = f"/api/v1/bookings/{a['uid']}/refund"
    assert_error(d.post(path, {}), 401)
    assert_error(d.post(path, {"amount": 4501}, admin=True), 422,
                 field="amount")
    assert_error(d.post(path, {"amount": 0}, admin=True), 422,
                 field="amount")
    assert_error(d.post(path, {"amount": "1"}, admin=True), 422,
                 field="amount")
    assert_error(d.post(path, {"colour": 1}, admin=True), 422)
    r = d.post(path, {"amount": 1500, "reason": "late start"}, admin=True)
    assert r.status == 202, r
    wait_for("the partial refund", lambda: len(
        activity(d, a["uid"], "REFUND_ISSUED")) == 1)
    assert state(d, a["uid"]) == ("confirmed", "paid")
    [req] = fake.requests("/v1/refunds", "POST")
    assert dict(urllib.parse.parse_qsl(req["body"]))["amount"] == "1500"
    # One refund per payment.
    assert_error(d.post(path, {}, admin=True), 409)

    b = book(d, slot(d, 1), email="bob@example.com").json
    fake.complete(session_of(fake, b["uid"])["id"])
    wait_state(d, b["uid"], ("confirmed", "paid"))
    r = d.post(f"/api/v1/bookings/{b['uid']}/refund", admin=True,
               raw=b"", content_type=None)
    assert r.status == 202, r
    wait_state(d, b["uid"], ("confirmed", "refunded"))
    assert len(activity(d, b["uid"], "REFUND_ISSUED")) == 1
    # Not paid: nothing to refund.
    free_b = d.book("intro", d.slot_starts("intro", 2, 2)[0]).json
    assert_error(d.post(f"/api/v1/bookings/{free_b['uid']}/refund", {},
                        admin=True), 404)


# ---- refund policy (issue 9 §4) ----------------------------------------------

def refunds(fake):
    return [(r["idempotency_key"],
             dict(urllib.parse.parse_qsl(r["body"])).get("amount"))
            for r in fake.requests("/v1/refunds", "POST")]


def cancel_mail(smtp, to):
    for m in smtp.messages():
        if to in m["to"] and "cancel" in str(m["msg"]["Subject"]).lower():
            return m["msg"]
    return None


def test_refund_policy_bad_input(make_daemon, fake):
    """refund_policy on event types: the default shown, hostile forms
    refused with the ledger unchanged, a valid one stored and shown."""
    d = start(make_daemon, fake)
    r = d.get("/api/v1/event-types/paid", admin=True)
    assert r.json["refund_policy"] == {"full_refund_until_hours": 24,
                                       "late_refund_percent": 0}, r.json
    before = d.snapshot(ignore_columns=("updated_utc",))
    path = "/api/v1/event-types/paid"
    for bad in ["24", 24, [], True,
                {},
                {"full_refund_until_hours": 24},
                {"late_refund_percent": 0},
                {"full_refund_until_hours": -1, "late_refund_percent": 0},
                {"full_refund_until_hours": 8761, "late_refund_percent": 0},
                {"full_refund_until_hours": 24, "late_refund_percent": 101},
                {"full_refund_until_hours": 24, "late_refund_percent": -5},
                {"full_refund_until_hours": 2.5, "late_refund_percent": 0},
                {"full_refund_until_hours": "24", "late_refund_percent": 0},
                {"full_refund_until_hours": 2 ** 40,
                 "late_refund_percent": 0},
                {"full_refund_until_hours": 24, "late_refund_percent": 0,
                 "x" * 5000: 1}]:
        r = d.patch(path, {"refund_policy": bad}, admin=True)
        assert_error(r, 422)
        assert r.json["error"]["details"].get("field", "").startswith(
            "refund_policy"), (bad, r.json)
    assert_error(d.patch(path, {"refund_policy": {
        "full_refund_until_hours": 10 ** 30, "late_refund_percent": 0}},
        admin=True), 400, "invalid_json")
    assert_error(d.patch(path, {"refund_policy": {
        "full_refund_until_hours": 1, "late_refund_percent": 1}}), 401)
    assert d.snapshot(ignore_columns=("updated_utc",)) == before
    pol = {"full_refund_until_hours": 48, "late_refund_percent": 25}
    r = d.patch(path, {"refund_policy": pol}, admin=True)
    assert r.status == 200 and r.json["refund_policy"] == pol, r
    assert d.get(path).json["refund_policy"] == pol
    r = d.patch(path, {"refund_policy": None}, admin=True)
    assert r.json["refund_policy"]["full_refund_until_hours"] == 24, r


def test_refund_policy_on_cancellation(make_daemon, fake, tmp_path):
    """Cancelling a paid booking refunds what its event type's policy says,
    on both sides of the deadline: in full before it (the attendee, with
    the manage token), the late share after it (an admin), nothing when
    that share is 0 (the admin may still refund by hand). The refund goes
    through the refund job (one Idempotency-Key per payment); the booking
    tells beforehand what cancelling would give back; the attendee's
    cancellation email says what is refunded. The slots are about two days
    ahead: a policy of 24 hours puts them before the deadline, one of 100
    hours after it."""
    smtp = SmtpServer(tmp_path).start()
    try:
        d = start(make_daemon, fake, **smtp.env())
        path = "/api/v1/event-types/paid"

        def paid(n, email):
            b = book(d, slot(d, n), email=email).json
            fake.complete(session_of(fake, b["uid"])["id"])
            wait_state(d, b["uid"], ("confirmed", "paid"))
            return b

        def as_attendee(b):
            r = d.get(f"/api/v1/bookings/{b['uid']}",
                      query={"token": b["manage_token"]})
            assert r.status == 200, r
            return r.json

        def intent(b):
            [(pi,)] = ledger_query(
                d, "SELECT p.payment_intent FROM payments p JOIN bookings b"
                   " ON b.id = p.booking_id WHERE b.uid = ?", (b["uid"],))
            return pi

        # Before the deadline: all of it.
        a = paid(0, "ada@example.com")
        ra = as_attendee(a)["payment"]["refund_if_cancelled"]
        assert ra["amount"] == 4500 and ra["full"] is True, ra
        assert ra["late_refund_percent"] == 0, ra
        r = d.post(f"/api/v1/bookings/{a['uid']}/cancel", {"reason": "ill"},
                   query={"token": a["manage_token"]})
        assert r.status == 200 and r.json["status"] == "cancelled", r
        wait_state(d, a["uid"], ("cancelled", "refunded"))
        assert refunds(fake) == [(f"bookingd-refund-{intent(a)}", None)]
        assert len(activity(d, a["uid"], "REFUND_ISSUED")) == 1
        # Cancelled: nothing more to offer.
        assert "refund_if_cancelled" not in as_attendee(a)["payment"]
        msg = wait_for("the attendee's cancellation email",
                       lambda: cancel_mail(smtp, "ada@example.com"))
        text = msg.get_body(("plain",)).get_content()
        assert "Refund: 45.00 EUR refunded in full" in text, text
        assert "Refund</th><td>45.00 EUR refunded in full" in \
            msg.get_body(("html",)).get_content()

        # After the deadline: the late share, through an admin's cancel.
        r = d.patch(path, {"refund_policy": {"full_refund_until_hours": 100,
                                             "late_refund_percent": 50}},
                    admin=True)
        assert r.status == 200, r
        b = paid(1, "bob@example.com")
        rb = as_attendee(b)["payment"]["refund_if_cancelled"]
        assert rb["amount"] == 2250 and rb["full"] is False, rb
        r = d.post(f"/api/v1/bookings/{b['uid']}/cancel", {}, admin=True)
        assert r.status == 200, r
        wait_for("the partial refund",
                 lambda: len(activity(d, b["uid"], "REFUND_ISSUED")) == 1)
        assert refunds(fake)[1:] == [(f"bookingd-refund-{intent(b)}",
                                      "2250")]
        # A part given back leaves the payment paid (docs/payments.md).
        assert state(d, b["uid"]) == ("cancelled", "paid")
        text = wait_for("bob's cancellation email",
                        lambda: cancel_mail(smtp, "bob@example.com")
                        ).get_body(("plain",)).get_content()
        assert "Refund: 22.50 EUR of 45.00 EUR refunded (50 %)" in text, text
        # One refund per payment: the admin cannot give more of it.
        assert_error(d.post(f"/api/v1/bookings/{b['uid']}/refund", {},
                            admin=True), 409)

        # After the deadline with a late share of 0: nothing.
        r = d.patch(path, {"refund_policy": {"full_refund_until_hours": 100,
                                             "late_refund_percent": 0}},
                    admin=True)
        c = paid(2, "cy@example.com")
        rc = as_attendee(c)["payment"]["refund_if_cancelled"]
        assert rc["amount"] == 0 and rc["full"] is False, rc
        r = d.post(f"/api/v1/bookings/{c['uid']}/cancel", {},
                   query={"token": c["manage_token"]})
        assert r.status == 200, r
        text = wait_for("cy's cancellation email",
                        lambda: cancel_mail(smtp, "cy@example.com")
                        ).get_body(("plain",)).get_content()
        assert "Refund: none: cancelled less than 100 hours" in text, text
        assert len(refunds(fake)) == 2
        assert state(d, c["uid"]) == ("cancelled", "paid")
        [(detail,)] = ledger_query(
            d, "SELECT a.detail FROM activity a JOIN bookings b"
               " ON b.id = a.booking_id WHERE b.uid = ?"
               " AND a.kind = 'BOOKING_CANCELLED'", (c["uid"],))
        assert json.loads(detail)["refund"] == 0, detail
        # The admin may still refund by hand.
        r = d.post(f"/api/v1/bookings/{c['uid']}/refund", {}, admin=True)
        assert r.status == 202, r
        wait_state(d, c["uid"], ("cancelled", "refunded"))
        # A free booking's cancellation refunds nothing and says nothing.
        f = d.book("intro", d.slot_starts("intro", 2, 2)[0],
                   email="dee@example.com").json
        r = d.post(f"/api/v1/bookings/{f['uid']}/cancel", {}, admin=True)
        assert r.status == 200, r
        text = wait_for("dee's cancellation email",
                        lambda: cancel_mail(smtp, "dee@example.com")
                        ).get_body(("plain",)).get_content()
        assert "Refund" not in text, text
        assert len(refunds(fake)) == 3
    finally:
        smtp.stop()


# ---- invoices (issue 9 §2) ------------------------------------------------------

def test_invoices(make_daemon, fake):
    """A paid booking gets one invoice in the paying transaction, numbered
    INV-YEAR-NNNN without gaps, its issuer from the configuration; its
    status follows the refunds; GET /api/v1/invoices filters and pages;
    invoice.paid is published. Bad queries change nothing."""
    d = start(make_daemon, fake, BOOKINGD_WEBHOOK_ALLOW_PRIVATE=1,
              BOOKINGD_BUSINESS_NAME="Studio \u00c5da & <Co>",
              BOOKINGD_BUSINESS_ADDRESS="1 Main St\n10115 Berlin")
    r = d.post("/api/v1/webhook-endpoints", {
        "url": "http://127.0.0.1:9/hook", "events": ["invoice.paid"]},
        admin=True)
    assert r.status == 201, r
    paid = []
    for n, email in enumerate(["ada@example.com", "bob@example.com",
                               "cy@example.com"]):
        b = book(d, slot(d, n), email=email).json
        sess = session_of(fake, b["uid"])
        fake.complete(sess["id"])
        wait_state(d, b["uid"], ("confirmed", "paid"))
        paid.append((b, sess))
    # A resent event issues nothing more.
    for ev in fake.events("checkout.session.completed"):
        assert fake.deliver(ev["id"])["status"] == 200
    wait_for("deliveries applied", lambda: settled_deliveries(d))
    # An unpaid booking has none.
    book(d, slot(d, 3), email="dee@example.com")

    # Numbered in the order paid, 1, 2, 3 of the year (UTC) each was
    # issued in: of two years when the test runs over New Year.
    nums, seen = [], {}
    for b, _ in paid:
        n = booking(d, b["uid"])["payment"]["invoice"]
        y = int(d.get(f"/api/v1/invoices/{n}", admin=True)
                .json["issued_at"][:4])
        seen[y] = seen.get(y, 0) + 1
        assert n == f"INV-{y}-{seen[y]:04d}", (n, seen)
        nums.append(n)
    r = d.get("/api/v1/invoices", admin=True)
    assert r.status == 200, r
    got = r.json["data"]
    assert [i["number"] for i in got] == nums[::-1], got
    assert r.json["next_cursor"] is None
    a, sa = paid[0]
    inv = d.get(f"/api/v1/invoices/{nums[0]}", admin=True).json
    [(pi,)] = ledger_query(
        d, "SELECT p.payment_intent FROM payments p JOIN bookings b"
           " ON b.id = p.booking_id WHERE b.uid = ?", (a["uid"],))
    client_id = booking(d, a["uid"])["client"]["id"]
    assert inv["status"] == "paid" and inv["booking"] == a["uid"], inv
    assert inv["issuer"] == {"name": "Studio \u00c5da & <Co>",
                             "address": "1 Main St\n10115 Berlin"}, inv
    assert inv["client"] == {"id": client_id, "name": "Ada Lovelace",
                             "email": "ada@example.com"}, inv
    assert (inv["amount"], inv["refunded"], inv["currency"]) == \
        (4500, 0, "EUR"), inv
    assert inv["lines"][0]["amount"] == 4500, inv
    assert inv["lines"][0]["description"].startswith("Paid session, "), inv
    assert inv["stripe"] == {"checkout_session": sa["id"],
                             "payment_intent": pi}, inv
    assert inv["paid_at"] and inv["issued_at"], inv
    for b, _ in paid:
        assert len(activity(d, b["uid"], "INVOICE_PAID")) == 1
    wait_for("invoice.paid published", lambda: sorted(r[0] for r in
             ledger_query(d, "SELECT event_type FROM webhook_messages"))
             == ["invoice.paid"] * 3 or None)

    # The printable invoice: one page, every value escaped.
    r = d.get(f"/api/v1/invoices/{nums[0]}/html", admin=True)
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/html; charset=utf-8", r
    page = r.body.decode()
    assert f">{nums[0]}<" in page and "45.00 EUR" in page, page
    assert "Studio \u00c5da &amp; &lt;Co&gt;" in page and "<Co>" not in page
    assert "ada@example.com" in page and "<script" not in page
    assert_error(d.get(f"/api/v1/invoices/{nums[0]}/html"), 401)
    assert_error(d.get("/api/v1/invoices/INV-1999-0001/html", admin=True),
                 404)

    # Refunds: a part, then all of another.
    b, _ = paid[1]
    r = d.post(f"/api/v1/bookings/{b['uid']}/refund", {"amount": 1000},
               admin=True)
    assert r.status == 202, r
    r = d.post(f"/api/v1/bookings/{a['uid']}/refund", {}, admin=True)
    assert r.status == 202, r
    wait_state(d, a["uid"], ("confirmed", "refunded"))
    wait_for("the partial refund on the invoice", lambda: d.get(
        f"/api/v1/invoices/{nums[1]}", admin=True).json["status"]
        == "partially_refunded")
    i2 = d.get(f"/api/v1/invoices/{nums[1]}", admin=True).json
    assert i2["refunded"] == 1000, i2
    i1 = d.get(f"/api/v1/invoices/{nums[0]}", admin=True).json
    assert (i1["status"], i1["refunded"]) == ("refunded", 4500), i1

    # Filters and pages.
    def numbers(**q):
        r = d.get("/api/v1/invoices", admin=True, query=q)
        assert r.status == 200, r
        return [i["number"] for i in r.json["data"]]
    assert numbers(status="refunded") == [nums[0]]
    assert numbers(status="paid") == [nums[2]]
    assert numbers(client=client_id) == [nums[0]]
    assert numbers(client="cli_nobody") == []
    # The days they were issued on (one, or two over midnight UTC).
    days = sorted(dt.date.fromisoformat(i["issued_at"][:10]) for i in got)
    assert len(numbers(**{"from": str(days[0]), "to": str(days[-1])})) == 3
    assert numbers(**{"from": str(days[-1] + dt.timedelta(days=1))}) == []
    assert numbers(to=str(days[0] - dt.timedelta(days=1))) == []
    r = d.get("/api/v1/invoices", admin=True, query={"limit": "2"})
    assert len(r.json["data"]) == 2 and r.json["next_cursor"], r
    r2 = d.get("/api/v1/invoices", admin=True,
               query={"limit": "2", "cursor": r.json["next_cursor"]})
    assert [i["number"] for i in r2.json["data"]] == [nums[0]]
    assert r2.json["next_cursor"] is None

    # Bad input: refused, nothing changes.
    before = d.snapshot(ignore_columns=("updated_utc",))
    assert_error(d.get("/api/v1/invoices"), 401)
    assert_error(d.get(f"/api/v1/invoices/{nums[0]}"), 401)
    for q, field in [({"status": "bogus"}, "status"),
                     ({"status": "x" * 5000}, "status"),
                     ({"from": "2026-13-01"}, "from"),
                     ({"to": "yesterday"}, "to"),
                     ({"from": "2026-02-02", "to": "2026-02-01"}, "from"),
                     ({"client": ""}, "client"),
                     ({"client": "c" * 5000}, "client"),
                     ({"limit": "0"}, "limit"),
                     ({"limit": "-1"}, "limit"),
                     ({"cursor": "garbage"}, "cursor"),
                     ({"client": "' OR 1=1 --"}, None)]:
        r = d.get("/api/v1/invoices", admin=True, query=q)
        if field is None:
            assert r.status == 200 and r.json["data"] == [], r
        else:
            assert_error(r, 400, "invalid_query", field=field)
    for number in [f"INV-{nums[2][4:8]}-{int(nums[2][9:]) + 1:04d}",
                   "INV-0000-0000", "x" * 5000,
                   "%27%20OR%201%3D1", "..%2F..%2Fetc"]:
        assert_error(d.get(f"/api/v1/invoices/{number}", admin=True), 404)
    assert d.snapshot(ignore_columns=("updated_utc",)) == before


# ---- packages of sessions (issue 9 §3, the catalog) ------------------------------

def test_packages_catalog(make_daemon, fake):
    """POST /api/v1/packages (admin) makes a package of sessions of some
    event types; GET /api/v1/packages lists the active ones to anyone and
    every one to an admin. Hostile bodies are refused, nothing changes."""
    d = start(make_daemon, fake)
    good = {"slug": "five-paid", "name": "Five sessions",
            "event_types": ["paid", "intro"], "sessions": 5,
            "price": {"amount": 20000, "currency": "EUR"}}
    before = d.snapshot(ignore_columns=("updated_utc",))
    assert_error(d.post("/api/v1/packages", good), 401)
    bad = [
        ({}, None),
        ({**good, "slug": "Bad Slug"}, "slug"),
        ({**good, "slug": "x" * 65}, "slug"),
        ({**good, "name": ""}, "name"),
        ({**good, "name": "n" * 5000}, "name"),
        ({**good, "sessions": 0}, "sessions"),
        ({**good, "sessions": 1001}, "sessions"),
        ({**good, "sessions": "5"}, "sessions"),
        ({**good, "sessions": 2.5}, "sessions"),
        ({**good, "valid_days": 0}, "valid_days"),
        ({**good, "valid_days": 3661}, "valid_days"),
        ({**good, "price": None}, "price"),
        ({**good, "price": 200}, "price"),
        ({**good, "price": {"amount": -1, "currency": "EUR"}}, "price.amount"),
        ({**good, "price": {"amount": 1, "currency": "eur"}},
         "price.currency"),
        ({**good, "price": {"amount": 1, "currency": "EUR", "x": 1}}, None),
        ({**good, "event_types": []}, "event_types"),
        ({**good, "event_types": "paid"}, "event_types"),
        ({**good, "event_types": ["paid", "paid"]}, "event_types"),
        ({**good, "event_types": ["nope"]}, "event_types"),
        ({**good, "event_types": [1]}, "event_types"),
        ({**good, "event_types": ["p"] * 33}, "event_types"),
        ({**good, "event_types": ["'; DROP TABLE packages; --"]},
         "event_types"),
        ({**good, "active": "yes"}, "active"),
        ({**good, "colour": "red"}, None),
    ]
    for body, field in bad:
        r = d.post("/api/v1/packages", body, admin=True)
        assert_error(r, 422)
        if field:
            assert r.json["error"]["details"].get("field") == field, \
                (body, r.json)
    assert_error(d.post("/api/v1/packages", admin=True, raw=b"{not json",
                        content_type="application/json"), 400)
    assert_error(d.post("/api/v1/packages", admin=True, raw=b"[]",
                        content_type="application/json"), 400)
    assert d.snapshot(ignore_columns=("updated_utc",)) == before

    r = d.post("/api/v1/packages", good, admin=True)
    assert r.status == 201, r
    p = r.json
    assert {k: p[k] for k in ("slug", "name", "event_types", "sessions",
                              "price", "valid_days", "active")} == {
        "slug": "five-paid", "name": "Five sessions",
        "event_types": ["intro", "paid"], "sessions": 5,
        "price": {"amount": 20000, "currency": "EUR"}, "valid_days": 180,
        "active": True}, p
    assert_error(d.post("/api/v1/packages", good, admin=True), 409)
    r = d.post("/api/v1/packages", {**good, "slug": "old", "active": False,
                                    "valid_days": 30}, admin=True)
    assert r.status == 201 and r.json["valid_days"] == 30, r
    pub = d.get("/api/v1/packages")
    assert pub.status == 200, pub
    assert [x["slug"] for x in pub.json["data"]] == ["five-paid"], pub.json
    assert "created_at" not in pub.json["data"][0]
    adm = d.get("/api/v1/packages", admin=True).json["data"]
    assert [x["slug"] for x in adm] == ["five-paid", "old"], adm
    r = d.get("/api/v1/packages", admin=True, query={"limit": "1"})
    assert [x["slug"] for x in r.json["data"]] == ["five-paid"], r.json
    r = d.get("/api/v1/packages", admin=True,
              query={"limit": "1", "cursor": r.json["next_cursor"]})
    assert [x["slug"] for x in r.json["data"]] == ["old"], r.json
    assert r.json["next_cursor"] is None
    assert_error(d.get("/api/v1/packages", query={"cursor": "x"}), 400,
                 "invalid_query", field="cursor")
    assert_error(d.get("/api/v1/packages", query={"limit": "0"}), 400,
                 "invalid_query", field="limit")
    r = d.request("GET", "/api/v1/packages",
                  headers={"Authorization": "Bearer wrong"})
    assert_error(r, 401)


def test_sigkill_during_paid_bookings_and_webhooks(make_daemon, fake):
    """Paid bookings and their payments' events in a burst, bookingd
    SIGKILLed in the middle of it, then started again on the same
    database while Stripe (the fake) resends what was not acknowledged:
    every answered booking is in the ledger; each booking has exactly one
    Checkout Session (a checkout interrupted after Stripe made the session
    gets the same one back under its idempotency key); no booking is
    confirmed without a paid session and every paid session confirms its
    booking; nothing is refunded; every paid booking has one invoice and
    no invoice number is skipped or repeated."""
    import threading
    import time
    from calcom_helpers import sigkill
    n = 10
    d = start(make_daemon, fake, BOOKINGD_CHECKOUT_WAIT_MS=0,
              BOOKINGD_LOG_LEVEL="warn")
    starts = d.slot_starts("paid", days_ahead=2, span=3)[:n]
    answered, stop = {}, threading.Event()

    def booker():
        for i, s in enumerate(starts):
            if stop.is_set():
                return
            try:
                r = d.book("paid", s, email=f"p{i}@example.com", expect=None)
            except OSError:
                return
            if r.status == 201:
                answered[r.json["uid"]] = r.json

    def payer():
        paid = set()
        while not stop.is_set():
            for sess in fake.sessions():
                if sess["status"] == "open" and sess["id"] not in paid:
                    paid.add(sess["id"])
                    fake.complete(sess["id"])
            if len(paid) >= n // 2:
                return
            time.sleep(0.01)

    tb, tp = threading.Thread(target=booker), threading.Thread(target=payer)
    tb.start()
    tp.start()
    tp.join(60)
    stop.set()
    sigkill(d)
    tb.join(60)
    assert not tb.is_alive() and not tp.is_alive()

    d.start()
    fake.point_at(d)
    # Stripe resends what was not acknowledged.
    for ev in fake.events():
        if not any(x.get("status") == 200 for x in ev["deliveries"]):
            assert fake.deliver(ev["id"])["status"] == 200
    rows = ledger_query(d, "SELECT uid FROM bookings")
    uids = {u for (u,) in rows}
    assert set(answered) <= uids, "an answered booking is lost"
    # What the kill left, once the resent events are applied and before
    # anyone else pays: no booking confirmed without a paid session, no
    # payment row without its booking.
    wait_for("deliveries applied", lambda: settled_deliveries(d))
    paid_at_stripe = {s["client_reference_id"] for s in fake.sessions()
                      if s["payment_status"] == "paid"}
    confirmed = {u for (u,) in ledger_query(
        d, "SELECT uid FROM bookings WHERE status = 1")}
    assert confirmed <= paid_at_stripe, (confirmed, paid_at_stripe)
    assert ledger_query(d, "SELECT p.id FROM payments p LEFT JOIN bookings b"
                           " ON b.id = p.booking_id WHERE b.id IS NULL") == []
    assert ledger_query(d, "SELECT b.uid FROM bookings b LEFT JOIN payments p"
                           " ON p.booking_id = b.id WHERE p.id IS NULL") == []
    # Every booking's checkout is made after the restart, once.
    wait_for("every booking's session", lambda: {
        s["client_reference_id"] for s in fake.sessions()} >= uids or None)
    per_uid = {}
    for s in fake.sessions():
        per_uid.setdefault(s["client_reference_id"], []).append(s["id"])
    assert all(len(v) == 1 for v in per_uid.values()), per_uid
    assert set(per_uid) == uids
    # The rest pay now.
    for s in fake.sessions():
        if s["status"] == "open":
            fake.complete(s["id"])
    for u in uids:
        wait_state(d, u, ("confirmed", "paid"))
    for s in fake.sessions():
        assert s["status"] == "complete" and s["payment_status"] == "paid"
    assert fake.requests("/v1/refunds") == []
    for u in uids:
        assert len(activity(d, u, "PAYMENT_COMPLETED")) == 1, u
        assert history_actions(d, u) == ["created", "confirmed"], u
    # One invoice per paid booking, numbered 1..N of the year: none
    # skipped, none repeated, whatever the kill interrupted.
    inv = ledger_query(d, "SELECT b.uid, i.year, i.seq, i.number"
                          " FROM invoices i JOIN bookings b"
                          " ON b.id = i.booking_id ORDER BY i.year, i.seq")
    assert {u for u, _, _, _ in inv} == uids and len(inv) == len(uids), inv
    by_year = {}
    for _, y, q, num in inv:
        by_year.setdefault(y, []).append(q)
        assert num == f"INV-{y}-{q:04d}", num
    for y, seqs in by_year.items():
        assert seqs == list(range(1, len(seqs) + 1)), (y, seqs)


@pytest.mark.parametrize("env,var", [
    ({"STRIPE_SECRET_KEY": "pk_live_notasecretkey"}, "STRIPE_SECRET_KEY"),
    ({"BOOKINGD_HOLD_MINUTES": "10"}, "BOOKINGD_HOLD_MINUTES"),
    ({"BOOKINGD_HOLD_MINUTES": "30m"}, "BOOKINGD_HOLD_MINUTES"),
    ({"STRIPE_API_BASE": "ftp://stripe.example"}, "STRIPE_API_BASE"),
    ({"BOOKINGD_CHECKOUT_WAIT_MS": "-1"}, "BOOKINGD_CHECKOUT_WAIT_MS"),
])
def test_bad_payment_configuration_stops_start(tmp_path, env, var):
    from conftest import Daemon
    d = Daemon(tmp_path / "d", env=env)
    try:
        p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                           text=True, timeout=60)
    finally:
        d.release()
    assert p.returncode == 2, p
    assert var in p.stderr, p.stderr
    assert "pk_live_notasecretkey" not in p.stderr


def test_metrics_summary(make_daemon, fake):
    """GET /api/v1/metrics/summary (admin): revenue per currency net of
    refunds, bookings by status, clients, and the same per interval."""
    d = start(make_daemon, fake)
    a = book(d, slot(d, 0)).json
    fake.complete(session_of(fake, a["uid"])["id"])
    wait_state(d, a["uid"], ("confirmed", "paid"))
    r = d.post(f"/api/v1/bookings/{a['uid']}/refund", {"amount": 1500},
               admin=True)
    assert r.status == 202, r
    wait_for("the refund", lambda: activity(d, a["uid"], "REFUND_ISSUED"))
    book(d, slot(d, 1), email="bob@example.com")  # pending
    today = today_utc()
    q = {"from": str(today - dt.timedelta(days=3)),
         "to": str(today + dt.timedelta(days=10)), "interval": "week"}
    r = d.get("/api/v1/metrics/summary", query=q, admin=True)
    assert r.status == 200, r
    m = r.json
    assert m["revenue"] == [{"currency": "EUR", "gross": 4500,
                             "refunded": 1500, "net": 3000}], m
    assert m["bookings"] == {"pending": 1, "confirmed": 1, "cancelled": 0,
                             "completed": 0, "no_show": 0}, m
    assert m["clients"] == {"new": 2, "active": 1}, m
    assert m["no_show_rate"] is None
    assert m["interval"] == "week" and m["from"] == q["from"]
    weeks = m["series"]
    assert 2 <= len(weeks) <= 3, weeks
    assert weeks[0]["from"] == q["from"] and weeks[-1]["to"] == q["to"]
    assert sum(w["bookings"]["confirmed"] for w in weeks) == 1
    assert sum(x["net"] for w in weeks for x in w["revenue"]) == 3000
    for w in weeks[1:]:  # whole weeks start on Mondays
        assert dt.date.fromisoformat(w["from"]).weekday() == 0, w
    # Months; the default range (the last 30 days) has the payment.
    r = d.get("/api/v1/metrics/summary", admin=True)
    assert r.status == 200 and r.json["interval"] == "month", r
    assert r.json["revenue"][0]["net"] == 3000, r.json
    # Bad queries and no key.
    assert_error(d.get("/api/v1/metrics/summary"), 401)
    for bad in ({"interval": "day"}, {"from": "2026-13-01"},
                {"from": "2026-02-01", "to": "2026-01-01"},
                {"from": "2000-01-01", "to": "2026-01-01"}):
        assert_error(d.get("/api/v1/metrics/summary", query=bad,
                           admin=True), 400)
