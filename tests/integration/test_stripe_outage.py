"""Stripe out of reach for a while (issue 9 "Tests"): bookings made
meanwhile stay pending with their holds, their Checkout jobs retry with
backoff, and once Stripe answers again every booking gets its session —
one each, under its first attempt's Idempotency-Key, even when Stripe
carried a request out and its reply was lost (the retry is replayed by
the key, not a second session)."""
import pytest

from conftest import ledger_query
from stripe_helpers import StripeFake, new_webhook_secret, wait_for
from test_payments import book, booking, free, session_of, slot, start, \
    wait_state


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


def made(fake):
    return [q for q in fake.requests("/v1/checkout/sessions", "POST")]


def test_sessions_made_after_recovery_none_twice(make_daemon, fake):
    # Stripe's circuit breaker opens during the outage; a short cooldown
    # lets its probes (real attempts) through often enough for this test.
    d = start(make_daemon, fake, BOOKINGD_CHECKOUT_WAIT_MS=0,
              BOOKINGD_JOB_MAX_ATTEMPTS=50,
              BOOKINGD_LIMIT_STRIPE="cooldown=1s")
    # Down: every connection dropped, for a good while.
    fake.fail("/v1/checkout/sessions", status=0, count=100000,
              method="POST")
    starts = [slot(d, n) for n in range(4)]
    bs = [book(d, s, email=f"p{n}@example.com").json
          for n, s in enumerate(starts)]
    for b in bs:
        assert (b["status"], b["payment_status"]) == ("pending", "unpaid")
        assert "checkout_url" not in b
    # Each job tried, and keeps trying (not given up).
    wait_for("every booking tried at least twice", lambda: all(
        sum(1 for q in made(fake) if q["idempotency_key"] ==
            f"bookingd-checkout-{b['uid']}-1") >= 2 for b in bs) or None, 90)
    assert fake.sessions() == []
    assert not any(free(d, s) for s in starts)  # the holds stand
    assert ledger_query(d, "SELECT id FROM jobs WHERE kind ="
                           " 'stripe.checkout' AND status = 3") == []
    # Back, but the first answers are lost after the session was made.
    fake.clear_failures()
    fake.fail("/v1/checkout/sessions", status=-1, count=2, method="POST")
    for b in bs:
        wait_for(f"{b['uid']}'s checkout url", lambda: "checkout_url" in
                 booking(d, b["uid"]) or None, 90)
    # One session per booking, all of attempt 1; the lost replies were
    # replayed under their keys.
    sessions = fake.sessions()
    assert sorted(s["client_reference_id"] for s in sessions) == \
        sorted(b["uid"] for b in bs), sessions
    keys = {q["idempotency_key"] for q in made(fake)}
    assert keys == {f"bookingd-checkout-{b['uid']}-1" for b in bs}, keys
    assert sum(1 for q in made(fake) if q.get("lost_reply")) == 2
    assert any(q.get("replayed") for q in made(fake))
    for b in bs:
        g = booking(d, b["uid"])
        assert g["checkout_url"].endswith(session_of(fake, b["uid"])["id"]) \
            or session_of(fake, b["uid"])["id"] in g["checkout_url"], g
        assert g["payment"]["attempt"] == 1 and "error" not in g["payment"]
    # They pay: each confirmed once.
    for b in bs:
        fake.complete(session_of(fake, b["uid"])["id"])
    for b in bs:
        wait_state(d, b["uid"], ("confirmed", "paid"))
    assert len(fake.sessions()) == len(bs)
