"""bookingd's cancellations of Calendly-sourced bookings told to Calendly
(issue 10 §1, connectors/calendly.c, docs/calendly.md): the real daemon
against a strict contract fake of Calendly's API (calendly_fake.py), with
bookings arriving through POST /webhooks/calendly. Exactly one cancellation
per booking reaches Calendly, through the outbox, retried on 5xx/429,
never for cancellations Calendly itself reported, never for bookings from
elsewhere."""
import secrets
import time

import pytest

import calendly_helpers as H
from calendly_fake import CalendlyFake
from conftest import ledger_query, standard_catalog

JOB = "calendly.cancel"
DONE, DEAD = 2, 3


@pytest.fixture
def fake():
    f = CalendlyFake("pat-" + secrets.token_hex(8))
    yield f
    f.close()


@pytest.fixture
def cly(make_daemon, fake):
    d = H.start_calendly(make_daemon, CALENDLY_TOKEN=fake.token,
                         CALENDLY_API_BASE=fake.base + "/")
    d.apply(standard_catalog())
    return d


def jobs(d):
    return ledger_query(d, "SELECT status, attempts, last_error FROM jobs "
                           "WHERE kind = ?", (JOB,))


def wait_jobs_settled(d, n, timeout=30):
    """Until n calendly.cancel jobs exist and none is pending or running."""
    return H.wait_until(
        lambda: (lambda rows: rows if len(rows) == n and
                 all(r[0] in (DONE, DEAD) for r in rows) else None)(jobs(d)),
        timeout, f"{n} settled {JOB} jobs")


def calendly_booking(d, fake, start=None, end=None):
    """A booking made in Calendly (webhook), its event known to the fake:
    (booking, invitee URI, event uuid)."""
    inv = H.new_invitee()
    uuid = H.event_of(inv).rsplit("/", 1)[1]
    fake.add_event(uuid)
    if start is None:
        start, end = H.future_slot(days=4, hour=10)
    H.wait_processed(d, H.received(d, H.created(inv, start, end)))
    return H.booking_for(d, inv), inv, uuid


def cancel(d, uid, reason="Coach is ill"):
    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": reason},
               admin=True)
    assert r.status == 200, r
    return r.json


def test_a_cancellation_in_bookingd_cancels_the_event_at_calendly(cly, fake):
    b, inv, uuid = calendly_booking(cly, fake)
    cancel(cly, b["uid"], "Coach is ill")
    H.wait_until(lambda: fake.cancellations(), 30, "the cancellation")
    wait_jobs_settled(cly, 1)
    ((got_uuid, body, headers),) = fake.cancellations()
    assert got_uuid == uuid
    assert body == {"reason": "Coach is ill"}
    assert headers["Authorization"] == f"Bearer {fake.token}"
    assert headers["Content-Type"].startswith("application/json")
    assert fake.events[uuid]["status"] == "canceled"
    assert jobs(cly) == [(DONE, 1, None)]
    # Calendly then reports the cancellation by webhook: applied as a
    # no-op (no new cancellation, so no new job), and not sent back.
    H.wait_processed(cly, H.received(cly, H.canceled(inv)))
    assert H.booking(cly, b["uid"])["status"] == "cancelled"
    time.sleep(0.5)
    assert len(fake.cancellations()) == 1
    assert jobs(cly) == [(DONE, 1, None)]


def test_cancellations_from_calendly_are_not_sent_back(cly, fake):
    b, inv, uuid = calendly_booking(cly, fake)
    H.wait_processed(cly, H.received(cly, H.canceled(inv)))
    assert H.booking(cly, b["uid"])["status"] == "cancelled"
    wait_jobs_settled(cly, 1)
    assert fake.cancellations() == []
    assert fake.events[uuid]["status"] == "active"


def test_bookings_from_elsewhere_are_not_sent(cly, fake):
    s = H.future_slot(days=3, hour=9)[0]
    day = cly.slots("intro", s.date(), s.date())
    start = next(iter(day["slots"].values()))[0]["start"]
    r = cly.book("intro", start)
    assert r.status == 201, r
    cancel(cly, r.json["uid"])
    wait_jobs_settled(cly, 1)
    assert fake.requests == []


def test_a_rescheduled_booking_cancels_its_current_event(cly, fake):
    b, old, old_uuid = calendly_booking(cly, fake)
    c, r, new = H.reschedule_pair(old, *H.future_slot(days=6, hour=14))
    new_uuid = H.event_of(new).rsplit("/", 1)[1]
    fake.add_event(new_uuid)
    H.wait_processed(cly, [H.received(cly, c), H.received(cly, r)])
    cancel(cly, b["uid"])
    wait_jobs_settled(cly, 1)
    assert [x[0] for x in fake.cancellations()] == [new_uuid]


def test_failures_are_retried_and_cancel_once(cly, fake):
    b, inv, uuid = calendly_booking(cly, fake)
    fake.fail_next(500, 429, 503)
    cancel(cly, b["uid"], None)
    wait_jobs_settled(cly, 1)
    ((status, attempts, error),) = jobs(cly)
    assert (status, attempts) == (DONE, 4), (status, attempts, error)
    got = fake.cancellations()
    assert len(got) == 4
    assert all(body == {} for _, body, _ in got), got
    assert fake.events[uuid]["status"] == "canceled"


def test_an_event_already_cancelled_or_gone_is_done(cly, fake):
    b1, _, uuid1 = calendly_booking(cly, fake)
    fake.events[uuid1]["status"] = "canceled"
    b2, _, uuid2 = calendly_booking(cly, fake,
                                    *H.future_slot(days=5, hour=10))
    del fake.events[uuid2]
    cancel(cly, b1["uid"])
    cancel(cly, b2["uid"])
    rows = wait_jobs_settled(cly, 2)
    assert all(r[:2] == (DONE, 1) for r in rows), rows


def test_a_bad_token_is_retried_with_the_reason(make_daemon, fake):
    d = H.start_calendly(make_daemon, CALENDLY_TOKEN="wrong-token",
                         CALENDLY_API_BASE=fake.base,
                         BOOKINGD_JOB_MAX_ATTEMPTS=2)
    b, _, uuid = calendly_booking(d, fake)
    cancel(d, b["uid"])
    ((status, attempts, error),) = wait_jobs_settled(d, 1)
    assert (status, attempts) == (DEAD, 2)
    assert "401" in error and "CALENDLY_TOKEN" in error, error
    assert fake.events[uuid]["status"] == "active"


def test_without_a_token_nothing_is_queued(make_daemon, fake):
    d = H.start_calendly(make_daemon, CALENDLY_API_BASE=fake.base)
    b, _, _ = calendly_booking(d, fake)
    cancel(d, b["uid"])
    time.sleep(0.5)
    assert jobs(d) == []
    assert fake.requests == []


@pytest.mark.parametrize("value", ["ftp://x.example", "not a url",
                                   "https://api.example/?a=b"])
def test_a_bad_configuration_stops_the_start(make_daemon, value):
    d = make_daemon(start=False)
    p = d.cli("serve", env={"CALENDLY_API_BASE": value}, timeout=20)
    assert p.returncode == 2 and "CALENDLY_API_BASE" in p.stderr, \
        (p.returncode, p.stderr)
    p = d.cli("serve", env={"CALENDLY_TOKEN": "two words"}, timeout=20)
    assert p.returncode == 2 and "CALENDLY_TOKEN" in p.stderr, \
        (p.returncode, p.stderr)
