"""Packages of sessions, end to end (issue 9 §3, docs/payments.md
"Packages of sessions"): the real daemon against the Stripe contract fake
(tests/fakes/stripe) and a real SMTP server (aiosmtpd). Buying a package
makes a Checkout Session through the stripe.package job; its payment
grants one credit per session (once, whatever the order and repetition of
Stripe's events), an invoice, PACKAGE_PURCHASED and an email with the
credit code; a booking with "use_credit" and that code is confirmed
without payment and takes a credit in its own transaction; cancelling
within the refund policy gives the credit back, later it stays spent;
expired credits cannot be used and the daily job marks them. Bad input on
every new endpoint and field leaves the database as it was."""
import datetime as dt
import json
import re
import threading
import urllib.parse

import pytest

from conftest import assert_error, ledger_query, standard_catalog
from smtp_server import SmtpServer
from stripe_helpers import PRICE, StripeFake, new_webhook_secret, stripe_env, \
    wait_for
from test_payments import shifted_env, step_clock

PACKAGE = {"slug": "five", "name": "Five coaching sessions",
           "event_types": ["paid", "paid2"], "sessions": 3,
           "price": {"amount": 12000, "currency": "EUR"}, "valid_days": 30}


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


@pytest.fixture
def smtp(tmp_path):
    s = SmtpServer(tmp_path).start()
    yield s
    s.stop()


def catalog():
    """Host 'coach' (free 'intro', priced 'paid') and host 'tutor'
    (priced 'paid2'): a package covers both priced types."""
    c = standard_catalog(event_types=[{
        "slug": "paid", "title": "Paid session", "duration_minutes": 30,
        "price": PRICE}])
    tutor = dict(c["hosts"][0], slug="tutor", name="Tutor",
                 email="tutor@example.com")
    c["hosts"].append(tutor)
    c["event_types"].append({"slug": "paid2", "title": "Tutoring",
                             "host": "tutor", "duration_minutes": 30,
                             "price": PRICE})
    return c


def start(make_daemon, fake, tmp_path=None, shift=False, package=PACKAGE,
          **extra):
    env = stripe_env(fake, **extra)
    if shift:
        env = shifted_env(tmp_path / "clock-offset", **env)
    d = make_daemon(env=env)
    d.clock_file = tmp_path / "clock-offset" if shift else None
    d.stripe_key = env["STRIPE_SECRET_KEY"]
    fake.point_at(d)
    d.apply(catalog())
    if package:
        r = d.post("/api/v1/packages", package, admin=True)
        assert r.status == 201, r
    return d


def buy(d, email="ada@example.com", name="Ada Lovelace", slug="five"):
    r = d.post(f"/api/v1/packages/{slug}/checkout",
               {"attendee": {"name": name, "email": email}})
    assert r.status == 201, r
    assert r.json["status"] == "awaiting_payment", r.json
    assert r.json["checkout_url"], r.json
    return r.json


def session_of(fake, purchase):
    return next(s for s in fake.sessions()
                if s["client_reference_id"] == purchase)


def pay(d, fake, p):
    fake.complete(session_of(fake, p["purchase"])["id"])
    return wait_for("the credits", lambda: credits_of(d, p["purchase"]))


def credits_of(d, purchase):
    return ledger_query(
        d, "SELECT c.status FROM package_credits c JOIN package_purchases p"
           " ON p.id = c.purchase_id WHERE p.uid = ? ORDER BY c.id",
        (purchase,))


def credit_code(smtp, to):
    for m in smtp.messages():
        if to in m["to"] and "package" in str(m["msg"]["Subject"]).lower():
            text = m["msg"].get_body(("plain",)).get_content()
            return re.search(r"^    (\S+)$", text, re.M).group(1), m["msg"]
    return None


def slots(d, slug="paid", days=2):
    return d.slot_starts(slug, days_ahead=days, span=2)


def book(d, slug, start, code, email="ada@example.com", expect=201,
         **extra):
    body = {"event_type": slug, "start": start,
            "attendee": {"name": "Ada Lovelace", "email": email},
            "use_credit": True, "credit_code": code, **extra}
    r = d.post("/api/v1/bookings", body)
    if expect is not None:
        assert r.status == expect, r
    return r


def client_credits(d, email="ada@example.com"):
    [(cid,)] = ledger_query(d, "SELECT public_id FROM clients"
                               " WHERE lower(email) = ?", (email,))
    r = d.get(f"/api/v1/clients/{cid}/credits", admin=True)
    assert r.status == 200, r
    return r.json


def activity(d, kind):
    return ledger_query(d, "SELECT detail FROM activity WHERE kind = ?"
                           " ORDER BY id", (kind,))


def test_package_bought_used_and_returned(make_daemon, fake, smtp):
    """Buy → paid → 3 credits, an invoice, PACKAGE_PURCHASED, outbound
    payment.succeeded and invoice.paid, the email with the code; two
    credits used (no Stripe session for them); a cancellation within the
    policy gives one back, one outside it does not; metrics count them."""
    d = start(make_daemon, fake, BOOKINGD_WEBHOOK_ALLOW_PRIVATE=1,
              **smtp.env())
    r = d.post("/api/v1/webhook-endpoints", {
        "url": "http://127.0.0.1:9/hook",
        "events": ["payment.succeeded", "invoice.paid"]}, admin=True)
    assert r.status == 201, r
    p = buy(d)
    # The Checkout Session: the package's price and name, the purchase in
    # its metadata, an idempotency key per purchase.
    [req] = fake.requests("/v1/checkout/sessions", "POST")
    form = dict(urllib.parse.parse_qsl(req["body"]))
    assert req["idempotency_key"] == f"bookingd-package-{p['purchase']}"
    assert form["metadata[package_purchase]"] == p["purchase"], form
    assert form["client_reference_id"] == p["purchase"], form
    assert form["line_items[0][price_data][unit_amount]"] == "12000", form
    assert form["line_items[0][price_data][currency]"] == "eur", form
    assert form["customer_email"] == "ada@example.com", form
    assert "Five coaching sessions" in \
        form["line_items[0][price_data][product_data][name]"], form
    assert p["checkout_url"] == session_of(fake, p["purchase"])["url"]

    assert pay(d, fake, p) == [(0,), (0,), (0,)]
    [(detail,)] = activity(d, "PACKAGE_PURCHASED")
    assert json.loads(detail)["sessions"] == 3, detail
    year = dt.datetime.now(dt.timezone.utc).year
    [(number, line, amount, status)] = ledger_query(
        d, "SELECT number, line, amount_minor, status FROM invoices")
    assert number == f"INV-{year}-0001" and amount == 12000 and status == 1
    assert p["purchase"] in line and "3 sessions" in line, line
    inv = d.get(f"/api/v1/invoices/{number}", admin=True)
    assert inv.status == 200, inv
    assert inv.json["booking"] is None and inv.json["status"] == "paid", inv
    assert inv.json["client"]["email"] == "ada@example.com", inv.json
    assert inv.json["stripe"]["checkout_session"] == \
        session_of(fake, p["purchase"])["id"], inv.json
    page = d.get(f"/api/v1/invoices/{number}/html", admin=True)
    assert page.status == 200 and b"3 sessions" in page.body, page
    wait_for("payment.succeeded and invoice.paid published",
             lambda: sorted(r[0] for r in ledger_query(
                 d, "SELECT event_type FROM webhook_messages"))
             == ["invoice.paid", "payment.succeeded"] or None)
    code, msg = wait_for("the package email",
                         lambda: credit_code(smtp, "ada@example.com"))
    text = msg.get_body(("plain",)).get_content()
    assert "3 session credits" in text and "120.00 EUR" in text, text
    assert "Use a package credit" in text and number in text, text
    assert code.startswith(p["purchase"] + "-"), code

    cr = client_credits(d)
    assert cr["total"] == {"remaining": 3, "used": 0, "expired": 0}, cr
    [row] = cr["data"]
    assert (row["package"], row["purchase"], row["status"]) == \
        ("five", p["purchase"], "paid"), row
    assert row["expires_at"] > row["purchased_at"], row
    assert row["invoice"] == number, row

    # Two credits used, on both hosts' event types, two days ahead.
    a = book(d, "paid", slots(d)[0], code).json
    b = book(d, "paid2", slots(d, "paid2")[1], code).json
    for x in (a, b):
        assert (x["status"], x["payment_status"]) == ("confirmed", "paid"), x
        assert x["credit"] == {"package": "five",
                               "purchase": p["purchase"]}, x
        assert "checkout_url" not in x, x
    assert len(fake.requests("/v1/checkout/sessions", "POST")) == 1
    assert len(activity(d, "CREDIT_USED")) == 2
    assert client_credits(d)["total"] == \
        {"remaining": 1, "used": 2, "expired": 0}

    # Within the policy (24 h; the slot is ~2 days away): the credit back.
    r = d.post(f"/api/v1/bookings/{a['uid']}/cancel", {},
               query={"token": a["manage_token"]})
    assert r.status == 200, r
    assert (r.json["status"], r.json["payment_status"]) == \
        ("cancelled", "refunded"), r.json
    assert client_credits(d)["total"] == \
        {"remaining": 2, "used": 1, "expired": 0}
    [(det,)] = ledger_query(
        d, "SELECT a.detail FROM activity a JOIN bookings b"
           " ON b.id = a.booking_id WHERE b.uid = ?"
           " AND a.kind = 'BOOKING_CANCELLED'", (a["uid"],))
    assert json.loads(det)["credit_returned"] is True, det
    # Outside it (100 hours; a late share of 50 %, which is no whole
    # credit): the credit stays spent.
    r = d.patch("/api/v1/event-types/paid2",
                {"refund_policy": {"full_refund_until_hours": 100,
                                   "late_refund_percent": 50}}, admin=True)
    assert r.status == 200, r
    r = d.post(f"/api/v1/bookings/{b['uid']}/cancel", {}, admin=True)
    assert r.status == 200, r
    assert r.json["payment_status"] == "paid", r.json
    assert client_credits(d)["total"] == \
        {"remaining": 2, "used": 1, "expired": 0}
    # No refund at Stripe for credit bookings.
    assert fake.requests("/v1/refunds", "POST") == []
    m = d.get("/api/v1/metrics/summary", admin=True).json
    assert m["package_credits"] == {"sold": 3, "used": 2}, m
    assert [x["net"] for x in m["revenue"]] == [12000], m
    # The returned credit books again.
    book(d, "paid", slots(d)[2], code)
    assert client_credits(d)["total"] == \
        {"remaining": 1, "used": 2, "expired": 0}


def test_last_credit_race(make_daemon, fake):
    """Two concurrent bookings on two hosts with the last credit: exactly
    one is confirmed, the other gets 409 no_credit_left, and the ledger
    holds one booking."""
    d = start(make_daemon, fake, package={**PACKAGE, "slug": "one",
                                          "sessions": 1})
    p = buy(d, slug="one")
    pay(d, fake, p)
    code = code_of(d, p)
    for round_ in range(3):
        starts = [slots(d)[round_], slots(d, "paid2")[round_]]
        results = [None, None]

        def go(i):
            results[i] = book(d, ["paid", "paid2"][i], starts[i], code,
                              expect=None)
        ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        won = [r for r in results if r.status == 201]
        lost = [r for r in results if r.status != 201]
        assert len(won) == 1 and len(lost) == 1, results
        assert_error(lost[0], 409, "no_credit_left")
        assert client_credits(d)["total"] == \
            {"remaining": 0, "used": 1, "expired": 0}
        # Give it back for the next round.
        r = d.post(f"/api/v1/bookings/{won[0].json['uid']}/cancel", {},
                   admin=True)
        assert r.status == 200, r
    assert len(ledger_query(d, "SELECT id FROM bookings")) == 3
    assert len(activity(d, "CREDIT_USED")) == 3


def code_of(d, p):
    """The credit code as the buyer's email carries it (docs/payments.md):
    HMAC-SHA256 of "package-credit:" + the purchase uid under the manage
    secret (meta manage_secret, hex), base64url, its first 22 characters,
    after the uid and a dash. Computed here to spare tests an SMTP
    server; test_package_bought_used_and_returned reads the email."""
    import base64
    import hashlib
    import hmac
    secret = manage_secret(d)
    mac = hmac.new(secret, b"package-credit:" + p["purchase"].encode(),
                   hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()[:22]
    return f"{p['purchase']}-{token}"


def manage_secret(d):
    [(v,)] = ledger_query(d, "SELECT value FROM meta"
                             " WHERE key = 'manage_secret'")
    return bytes.fromhex(v)


def test_duplicate_and_out_of_order_events(make_daemon, fake):
    """The refund's charge.refunded delivered before the payment's
    checkout.session.completed, then the completed event again: the
    credits are granted once, then ended by the refund; a completed event
    after the refund grants nothing. An expired event of a paid purchase
    changes nothing."""
    d = start(make_daemon, fake)
    p = buy(d)
    fake.config(hold_events=True)
    sid = session_of(fake, p["purchase"])["id"]
    fake.complete(sid)
    pi = fake.session(sid)["payment_intent"]
    st, body = fake.call(
        "POST", "/v1/refunds", raw=f"payment_intent={pi}".encode(),
        headers={"Authorization": f"Bearer {d.stripe_key}",
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200, body
    [done] = fake.events("checkout.session.completed")
    [refund] = fake.events("charge.refunded")
    assert fake.deliver(refund["id"])["status"] == 200
    assert credits_of(d, p["purchase"]) == []
    assert fake.deliver(done["id"])["status"] == 200
    assert fake.deliver(done["id"])["status"] == 200

    def refunded():
        rows = ledger_query(d, "SELECT status FROM package_purchases"
                               " WHERE uid = ?", (p["purchase"],))
        return rows == [(3,)] or None
    wait_for("the purchase refunded", refunded)
    assert credits_of(d, p["purchase"]) == [(2,), (2,), (2,)]
    assert len(activity(d, "PACKAGE_PURCHASED")) == 1
    assert len(activity(d, "INVOICE_PAID")) == 1
    [(status, refunded_minor)] = ledger_query(
        d, "SELECT status, refunded_minor FROM invoices")
    assert (status, refunded_minor) == (3, 12000)
    # Once more after the refund: nothing granted again.
    assert fake.deliver(done["id"])["status"] == 200
    assert client_credits(d)["total"] == \
        {"remaining": 0, "used": 0, "expired": 3}
    # A refunded purchase's code books nothing.
    assert_error(book(d, "paid", slots(d)[0], code_of(d, p), expect=None),
                 422, field="use_credit")

    # A second purchase: its completed event twice and an expired event
    # (of the same session, forged by resending with a changed type is not
    # possible: Stripe signs it) — the paid session's expiry never comes,
    # so the check is that a resent completed grants once.
    fake.config(hold_events=False)
    q = buy(d, email="bob@example.com", name="Bob")
    pay(d, fake, q)
    [_, again] = fake.events("checkout.session.completed")
    for _ in range(3):
        assert fake.deliver(again["id"])["status"] == 200
    wait_for("deliveries applied", lambda: all(
        s != 0 for (s,) in ledger_query(
            d, "SELECT status FROM inbox WHERE provider = 'stripe'")) or None)
    assert credits_of(d, q["purchase"]) == [(0,), (0,), (0,)]
    assert len(activity(d, "PACKAGE_PURCHASED")) == 2
    # An abandoned purchase: expired, nothing granted.
    e = buy(d, email="cy@example.com", name="Cy")
    fake.expire(session_of(fake, e["purchase"])["id"])
    wait_for("the purchase expired", lambda: ledger_query(
        d, "SELECT status FROM package_purchases WHERE uid = ?",
        (e["purchase"],)) == [(2,)] or None)
    assert credits_of(d, e["purchase"]) == []


def test_credit_expiry(make_daemon, fake, tmp_path):
    """A credit past its validity cannot be used (409 no_credit_left), is
    counted expired, and the daily packages.expire job marks it."""
    d = start(make_daemon, fake, tmp_path, shift=True,
              package={**PACKAGE, "valid_days": 1})
    p = buy(d)
    pay(d, fake, p)
    code = code_of(d, p)
    start_at = slots(d, days=4)[0]
    step_clock(d, fake, 2 * 86400)
    # The daemon reads the shifted clock within a moment.
    wait_for("the credits past their expiry", lambda: client_credits(d)[
        "total"] == {"remaining": 0, "used": 0, "expired": 3} or None)
    assert_error(book(d, "paid", start_at, code, expect=None), 409,
                 "no_credit_left")
    # The job of the day now due marks them (a restart schedules today's
    # run at once, should the timer not have fired yet).
    try:
        wait_for("credits marked expired",
                 lambda: credits_of(d, p["purchase"]) == [(2,)] * 3 or None,
                 timeout=20)
    except BaseException:
        d.restart()
        wait_for("credits marked expired after a restart",
                 lambda: credits_of(d, p["purchase"]) == [(2,)] * 3 or None)
    runs = ledger_query(d, "SELECT dedupe_key, status FROM jobs"
                           " WHERE kind = 'packages.expire' ORDER BY id")
    assert len({k for k, _ in runs}) == len(runs), runs


@pytest.mark.floods("dozens of refused checkouts and bookings from one "
                    "address")
def test_bad_input(make_daemon, fake):
    """Every new endpoint and field refuses malformed, hostile and
    unauthorized input clearly, with the database unchanged."""
    d = start(make_daemon, fake)
    p = buy(d)
    pay(d, fake, p)
    code = code_of(d, p)
    start_at = slots(d)[0]
    before = d.snapshot()

    def same():
        assert d.snapshot() == before

    path = "/api/v1/packages/five/checkout"
    good = {"attendee": {"name": "Ada", "email": "ada@example.com"}}
    for body, status, field in [
            ({}, 422, "attendee"),
            ({"attendee": None}, 422, "attendee"),
            ({"attendee": "ada@example.com"}, 422, "attendee"),
            ({"attendee": {"name": "Ada"}}, 422, "attendee.email"),
            ({"attendee": {"email": "ada@example.com"}}, 422,
             "attendee.name"),
            ({"attendee": {"name": "", "email": "ada@example.com"}}, 422,
             "attendee.name"),
            ({"attendee": {"name": "Ada", "email": "not an email"}}, 422,
             "attendee.email"),
            ({"attendee": {"name": "Ada", "email": "a@b.c\r\nBcc: x@y.z"}},
             422, "attendee.email"),
            ({"attendee": {"name": "A" * 100000, "email": "a@example.com"}},
             None, None),
            ({"attendee": {"name": 7, "email": "a@example.com"}}, 422,
             "attendee.name"),
            ({**good, "price": 1}, 422, "price"),
            ({"attendee": {**good["attendee"], "admin": True}}, 422,
             "attendee.admin")]:
        r = d.post(path, body)
        assert 400 <= r.status < 500, (body, r)
        if status:
            assert_error(r, status, field=field)
        same()
    for raw in (b"{not json", b"[]", b"null", b"\xff\xfe"):
        r = d.post(path, raw=raw)
        assert r.status in (400, 415, 422), (raw, r)
        same()
    assert_error(d.post("/api/v1/packages/none/checkout", good), 404)
    assert_error(d.post("/api/v1/packages/..%2F/checkout", good), 404)
    assert_error(d.post("/api/v1/packages/five/checkout", good,
                        admin="wrong-key"), 401)
    same()
    # Inactive and free packages are not for sale.
    r = d.post("/api/v1/packages", {**PACKAGE, "slug": "old",
                                    "active": False}, admin=True)
    assert r.status == 201, r
    r = d.post("/api/v1/packages", {**PACKAGE, "slug": "gift",
                                    "price": {"amount": 0,
                                              "currency": "EUR"}},
               admin=True)
    assert r.status == 201, r
    before = d.snapshot()
    assert_error(d.post("/api/v1/packages/old/checkout", good), 404)
    assert_error(d.post("/api/v1/packages/gift/checkout", good), 409,
                 "package_free")
    same()

    # use_credit on POST /api/v1/bookings.
    tampered = code[:-1] + ("A" if code[-1] != "A" else "B")
    for extra, status, field, ecode in [
            ({"use_credit": "yes"}, 422, "use_credit", None),
            ({"use_credit": 1}, 422, "use_credit", None),
            ({"use_credit": True, "credit_code": None}, 422, "credit_code",
             None),
            ({"use_credit": True, "credit_code": ""}, 422, "credit_code",
             None),
            ({"use_credit": True, "credit_code": 12}, 422, "credit_code",
             None),
            ({"use_credit": True, "credit_code": tampered}, 422,
             "credit_code", None),
            ({"use_credit": True, "credit_code": "x" * 5000}, 422,
             "credit_code", None),
            ({"use_credit": True, "credit_code": "' OR 1=1 --"}, 422,
             "credit_code", None),
            ({"use_credit": False, "credit_code": code}, 422, "credit_code",
             None),
            ({"credit_code": code}, 422, "credit_code", None)]:
        body = {"event_type": "paid", "start": start_at,
                "attendee": {"name": "Ada", "email": "ada@example.com"},
                **extra}
        r = d.post("/api/v1/bookings", body)
        assert_error(r, status, ecode, field=field)
        same()
    # Someone else's code: 403; an event type the package does not
    # cover: 422; both with nothing stored.
    assert_error(book(d, "paid", start_at, code, email="eve@example.com",
                      expect=None), 403)
    assert_error(book(d, "intro", d.slot_starts("intro", 2, 2)[0], code,
                      expect=None), 422, field="use_credit")
    # A purchase not paid yet: its code books nothing.
    u = buy(d, email="bob@example.com")
    before = d.snapshot()
    assert_error(book(d, "paid", start_at, code_of(d, u),
                      email="bob@example.com", expect=None), 422,
                 field="use_credit")
    same()

    # GET /api/v1/clients/{id}/credits: admin only; unknown client 404.
    [(cid,)] = ledger_query(d, "SELECT public_id FROM clients"
                               " WHERE email = 'ada@example.com'")
    assert_error(d.get(f"/api/v1/clients/{cid}/credits"), 401)
    assert_error(d.get(f"/api/v1/clients/{cid}/credits", admin="x"), 401)
    assert_error(d.get("/api/v1/clients/cl_nobody/credits", admin=True), 404)
    assert_error(d.get("/api/v1/clients/%27%3B--/credits", admin=True), 404)
    assert d.post(f"/api/v1/clients/{cid}/credits", {}, admin=True).status \
        == 405
    same()


def test_without_stripe(make_daemon):
    """Without STRIPE_SECRET_KEY a package cannot be bought: 503
    payments_not_configured, nothing stored."""
    d = make_daemon()
    d.apply(catalog())
    r = d.post("/api/v1/packages", PACKAGE, admin=True)
    assert r.status == 201, r
    before = d.snapshot()
    assert_error(d.post("/api/v1/packages/five/checkout", {
        "attendee": {"name": "Ada", "email": "ada@example.com"}}), 503,
        "payments_not_configured")
    assert d.snapshot() == before


def test_checkout_rate_limited(make_daemon, fake):
    """Purchases share the bookings' per-address budget
    (BOOKINGD_RATE_LIMIT_BOOKINGS): over it, 429 with Retry-After and
    nothing stored; the admin key is not limited."""
    d = start(make_daemon, fake, BOOKINGD_RATE_LIMIT_BOOKINGS="1,2")
    buy(d)
    book(d, "paid", slots(d)[0], "x", expect=422)
    before = d.snapshot()
    r = d.post("/api/v1/packages/five/checkout",
               {"attendee": {"name": "Ada", "email": "ada@example.com"}})
    assert_error(r, 429)
    assert r.header("Retry-After"), r
    assert d.snapshot() == before
    r = d.post("/api/v1/packages/five/checkout",
               {"attendee": {"name": "Ada", "email": "ada@example.com"}},
               admin=True)
    assert r.status == 201, r
