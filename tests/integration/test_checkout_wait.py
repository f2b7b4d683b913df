"""The booking request of a priced event type waits for its Checkout
Session (BOOKINGD_CHECKOUT_WAIT_MS) as a deferred answer (docs/payments.md
"Checkout"): while Stripe answers nothing, many such requests are waiting
and the server's few threads still answer everything else (/healthz, the
slots, a free booking). Checked by states: every paid request is still
unanswered, its booking pending and its Checkout request held at Stripe,
when the others are answered; once Stripe answers, each gets its
checkout_url."""
import threading

import pytest

from conftest import ledger_query
from stripe_helpers import StripeFake, new_webhook_secret, wait_for
from test_payments import session_of, slot, start

N = 8


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


def test_waiting_bookings_do_not_starve_other_requests(make_daemon, fake):
    d = start(make_daemon, fake, BOOKINGD_HTTP_THREADS=2,
              BOOKINGD_CHECKOUT_WAIT_MS=60000,
              BOOKINGD_STRIPE_TIMEOUT_MS=120000)
    starts = [slot(d, n) for n in range(N)]
    free_start = d.slot_starts("intro", days_ahead=3)[0]
    fake.config(hold_api=True)
    answers = [None] * N

    def one(n):
        answers[n] = d.book("paid", starts[n], email=f"p{n}@example.com",
                            expect=None)
    threads = [threading.Thread(target=one, args=(n,)) for n in range(N)]
    try:
        for t in threads:
            t.start()
        # Every booking made and pending, Stripe holding a Checkout request.
        wait_for("the holds", lambda: len(ledger_query(
            d, "SELECT id FROM bookings WHERE status = 0")) == N or None, 60)
        wait_for("a checkout request held at Stripe", lambda: fake.requests(
            "/v1/checkout/sessions", "POST") or None, 60)
        # Meanwhile the other requests are answered...
        r = d.request("GET", "/healthz", timeout=30)
        assert r.status == 200, r
        assert free_start in d.slot_starts("intro", days_ahead=3)
        r = d.book("intro", free_start, email="free@example.com")
        assert r.json["status"] == "confirmed", r
        # ... while every paid request still waits for its answer.
        assert all(a is None for a in answers), answers
        assert all(t.is_alive() for t in threads)
        assert fake.sessions() == []
    finally:
        fake.config(hold_api=False)
        for t in threads:
            t.join(120)
    for n, r in enumerate(answers):
        assert r is not None and r.status == 201, (n, r)
        b = r.json
        assert (b["status"], b["payment_status"]) == ("pending", "unpaid"), b
        assert b["manage_token"], b
    # Each gets its page (in its answer, or once its job ran).
    for r in answers:
        uid = r.json["uid"]
        wait_for("its session", lambda: [
            s for s in fake.sessions() if s["client_reference_id"] == uid]
            or None, 90)
    assert len(fake.sessions()) == N
    # The waits ended when the jobs ran (well within the 60 s): every
    # answer carries its page.
    for r in answers:
        assert r.json["checkout_url"].endswith(
            session_of(fake, r.json["uid"])["id"]), r.json
