"""The "payment not completed" email (docs/payments.md "Emails", issue 9
§1): a paid booking whose Checkout Session expired (checkout.session.expired)
or whose hold the hold-expiry job settled unpaid gets one message of its
own template to the attendee, with a link to book again, and no
cancellation email to either side (nothing had been confirmed to them).
Stripe's resent events send nothing more."""
import pytest

from smtp_server import SmtpServer
from stripe_helpers import StripeFake, new_webhook_secret, wait_for
from test_payments import (HOLD_S, book, messages, session_of,
                           settled_deliveries, slot, start, step_clock,
                           wait_state)


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


def mails_to(smtp, to):
    return [m["msg"] for m in smtp.messages() if to in m["to"]]


def check_incomplete(d, smtp, uid, to):
    wait_for("the payment-not-completed message",
             lambda: messages(d, uid) == [("attendee_payment_incomplete",)]
             or None, 90)
    wait_for("it to arrive", lambda: mails_to(smtp, to) or None, 90)
    [msg] = mails_to(smtp, to)
    assert str(msg["Subject"]) == \
        "Payment not completed: Paid session with Coach coach", msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    book_url = f"http://127.0.0.1:{d.port}/coach/paid"
    assert book_url in text and f'href="{book_url}"' in html, text
    assert "payment was not completed" in text, text
    assert "Nothing was charged" in text, text
    # No invite: none had been sent.
    assert not [p for p in msg.iter_attachments()], \
        [p.get_content_type() for p in msg.iter_attachments()]
    return msg


def test_expired_checkout_sends_payment_not_completed(make_daemon, fake,
                                                      tmp_path):
    smtp = SmtpServer(tmp_path).start()
    try:
        d = start(make_daemon, fake, **smtp.env())
        b = book(d, slot(d)).json
        fake.expire(session_of(fake, b["uid"])["id"])
        wait_state(d, b["uid"], ("cancelled", "unpaid"))
        check_incomplete(d, smtp, b["uid"], "ada@example.com")
        # Stripe resends the event: nothing more is sent.
        [ev] = fake.events("checkout.session.expired")
        for _ in range(2):
            assert fake.deliver(ev["id"])["status"] == 200
        wait_for("deliveries applied", lambda: settled_deliveries(d))
        # A later message for someone else proves the queue moved on.
        b2 = book(d, slot(d, 1), email="bob@example.com").json
        fake.complete(session_of(fake, b2["uid"])["id"])
        wait_for("bob's confirmation",
                 lambda: mails_to(smtp, "bob@example.com") or None, 90)
        assert messages(d, b["uid"]) == [("attendee_payment_incomplete",)]
        assert len(mails_to(smtp, "ada@example.com")) == 1
        # Nothing to the host about a booking they never heard of.
        host_mail = [m for m in smtp.messages()
                     if "coach@example.com" in m["to"]
                     and "Cancelled" in str(m["msg"]["Subject"])]
        assert host_mail == []
    finally:
        smtp.stop()


def test_hold_expiry_job_sends_payment_not_completed(make_daemon, fake,
                                                     tmp_path):
    """The webhooks never come; the hold-expiry job expires the open
    session at its end and the attendee is told once."""
    smtp = SmtpServer(tmp_path).start()
    try:
        d = start(make_daemon, fake, tmp_path, shift=True, **smtp.env())
        fake.config(webhook_url="http://127.0.0.1:9/lost")
        b = book(d, slot(d)).json
        step_clock(d, fake, HOLD_S + 60)
        wait_state(d, b["uid"], ("cancelled", "unpaid"))
        check_incomplete(d, smtp, b["uid"], "ada@example.com")
    finally:
        smtp.stop()


def test_attendee_cancelling_before_paying_gets_the_cancellation(
        make_daemon, fake, tmp_path):
    """Not an expiry: the attendee cancelled the unpaid booking; they get
    the ordinary cancellation, not "payment not completed"."""
    smtp = SmtpServer(tmp_path).start()
    try:
        d = start(make_daemon, fake, **smtp.env())
        b = book(d, slot(d)).json
        r = d.post(f"/api/v1/bookings/{b['uid']}/cancel", {},
                   query={"token": b["manage_token"]})
        assert r.status == 200, r
        wait_for("the cancellation", lambda: ("attendee_cancelled",) in
                 messages(d, b["uid"]) or None, 90)
        assert ("attendee_payment_incomplete",) not in messages(d, b["uid"])
    finally:
        smtp.stop()
