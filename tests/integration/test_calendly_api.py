"""bookingd's cancellations of Calendly-sourced bookings told to Calendly
(issue 10 §1, connectors/calendly.c, docs/providers/calendly.md): the real daemon
against a strict contract fake of Calendly's API (calendly_fake.py), with
bookings arriving through POST /webhooks/calendly. Exactly one cancellation
per booking reaches Calendly, through the outbox, retried on 5xx/429,
never for cancellations Calendly itself reported, never for bookings from
elsewhere."""
import datetime as dt
import secrets
import time

import pytest

import calendly_helpers as H
from calendly_fake import CalendlyFake
from conftest import ledger_query, parse_instant, standard_catalog

DAY = dt.timedelta(days=1)
PUBLIC = "https://bookings.example"  # BOOKINGD_BASE_URL of the daemons

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
                         CALENDLY_API_BASE=fake.base + "/",
                         BOOKINGD_BASE_URL=PUBLIC)
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


# ---- POST /api/v1/sync {"provider": "calendly"} ------------------------------

def resources(body):
    """(ScheduledEvent, Invitee) resources as the API lists them, from a
    webhook body: the payload is the Invitee with its event embedded."""
    inv = dict(body["payload"])
    ev = dict(inv.pop("scheduled_event"))
    return ev, inv


def put_event(fake, bodies, status="active"):
    """One scheduled event holding the invitees of bodies (webhook bodies
    of the same event)."""
    ev, _ = resources(bodies[0])
    invs = [resources(b)[1] for b in bodies]
    uuid = ev["uri"].rsplit("/", 1)[1]
    fake.add_event(uuid, status, resource=dict(ev, status=status),
                   invitees=invs)
    return uuid


def sync(d, body=None):
    r = d.post("/api/v1/sync", body or {"provider": "calendly"}, admin=True)
    assert r.status == 200, r
    j = r.json
    assert set(j) == {"total", "created", "updated", "skipped", "errors"}, j
    return j


def test_sync_pulls_what_webhooks_missed_and_then_changes_nothing(cly, fake):
    fake.page_max = 2  # several pages of event types, events and invitees
    # The user's event types: the fixtures' (GBGB…, 30 minutes) and two
    # more; each becomes an imported, inactive event type mapped to its URI.
    et_uri = fake.add_event_type("30min", "30 Minute Meeting",
                                 uuid="GBGBDCAADAEDCRZ2")
    fake.add_event_type("intro-60", "Intro (60)", 60)
    fake.add_event_type("quick", "Quick chat", 15)
    s1, e1 = H.future_slot(days=2, hour=9)
    s2, e2 = H.future_slot(days=3, hour=9)
    s3, e3 = H.future_slot(days=4, hour=9)
    s4, e4 = H.future_slot(days=5, hour=9)
    a = H.created(start=s1, end=e1, email="a@client.example")
    put_event(fake, [a])
    b_inv = H.new_invitee()
    b = H.canceled(b_inv, s2, e2, reason="Gone", email="b@client.example")
    put_event(fake, [b], status="canceled")
    # A reschedule: the old invitee canceled on one event, the new one
    # active on another.
    old = H.new_invitee()
    cancel_half, create_half, new = H.reschedule_pair(old, s4, e4, s3, e3)
    put_event(fake, [cancel_half], status="canceled")
    put_event(fake, [create_half])
    # A group event with three invitees (two pages of invitees).
    ev = H.new_event()
    group = [H.created(H.new_invitee(ev), s1 + DAY * 6, e1 + DAY * 6,
                       email=f"g{i}@client.example") for i in range(3)]
    put_event(fake, group)

    j = sync(cly)
    assert j["errors"] == [], j
    assert (j["total"], j["created"], j["updated"], j["skipped"]) == \
        (10, 9, 0, 1), j
    ets = {e["slug"]: e for e in
           cly.get("/api/v1/event-types", admin=True,
                   query={"limit": "100"}).json["data"]}
    assert ets["calendly-30min"]["external_ids"] == {"calendly": et_uri}
    assert ets["calendly-30min"]["imported"] is True
    assert ets["calendly-30min"]["active"] is False
    assert ets["calendly-intro-60"]["duration_minutes"] == 60
    assert ets["calendly-quick"]["title"] == "Quick chat"
    # The bookings of that event type are recorded on it.
    assert {b["event_type"] for b in H.bookings(cly)} == {"calendly-30min"}
    found = H.by_invitee(cly)
    assert found[a["payload"]["uri"]][0]["status"] == "confirmed"
    assert found[b_inv][0]["status"] == "cancelled"
    assert found[b_inv][0]["cancellation_reason"] == "Gone"
    (moved,) = found[new]
    assert found[old][0]["uid"] == moved["uid"]
    assert parse_instant(moved["start"]) == s4
    assert len(H.bookings(cly)) == 6
    # Cancellations read from Calendly are not sent back to it.
    time.sleep(0.3)
    assert fake.cancellations() == []
    # Pagination followed: several GETs of each list.
    gets = [p for m, p, _, _ in fake.requests if m == "GET"]
    assert sum(p.startswith("/scheduled_events?") for p in gets) >= 3, gets
    assert any("page_token=" in p for p in gets), gets

    # A second sync changes nothing.
    before = cly.snapshot(ignore_columns=("updated_utc",))
    j = sync(cly)
    assert (j["total"], j["created"], j["updated"], j["skipped"]) == \
        (10, 0, 0, 10), j
    assert j["errors"] == []
    after = cly.snapshot(ignore_columns=("updated_utc",))
    assert after["bookings"] == before["bookings"]

    # A cancellation made in Calendly while webhooks were down is pulled.
    aev = fake.events[H.event_of(a["payload"]["uri"]).rsplit("/", 1)[1]]
    aev["status"] = "canceled"
    aev["resource"]["status"] = "canceled"
    aev["invitees"][0]["status"] = "canceled"
    aev["invitees"][0]["cancellation"] = {
        "canceled_by": "A", "reason": "Changed my mind",
        "canceler_type": "invitee"}
    j = sync(cly)
    assert (j["created"], j["updated"]) == (0, 1), j
    b2 = H.booking_for(cly, a["payload"]["uri"])
    assert b2["status"] == "cancelled"
    assert b2["cancellation_reason"] == "Changed my mind"


def test_sync_failures_are_reported_in_the_summary(make_daemon, fake):
    d = H.start_calendly(make_daemon, CALENDLY_TOKEN="wrong",
                         CALENDLY_API_BASE=fake.base)
    put_event(fake, [H.created()])
    j = sync(d)
    assert (j["total"], j["created"]) == (0, 0), j
    ((e,),) = [[x for x in j["errors"]]]
    assert e["connection"] == "calendly" and "401" in e["message"] and \
        "CALENDLY_TOKEN" in e["message"], e
    assert H.bookings(d) == []


def test_sync_rate_limited_and_bad_invitees(cly, fake):
    put_event(fake, [H.created()])
    fake.fail_next(429)
    j = sync(cly)
    assert j["total"] == 0 and "429" in j["errors"][0]["message"], j
    # An invitee Calendly lists without what bookingd needs is one error;
    # the others are applied.
    good = H.created()
    bad = H.created()
    del bad["payload"]["email"]
    put_event(fake, [bad])
    put_event(fake, [good])
    j = sync(cly)
    assert j["total"] == 3 and j["created"] == 2, j
    (err,) = j["errors"]
    assert bad["payload"]["uri"] in err["message"] and \
        "payload.email" in err["message"], err


def test_sync_bad_input_and_not_configured(make_daemon, cly):
    for body, field in [({"provider": "calendlyx"}, "provider"),
                        ({"provider": "calendly", "host": "coach"}, "host"),
                        ({"provider": 5}, "provider")]:
        r = cly.post("/api/v1/sync", body, admin=True)
        assert r.status == 422, r
        assert r.json["error"]["details"]["field"] == field, r.json
    assert cly.post("/api/v1/sync", {"provider": "calendly"}).status == 401
    d = H.start_calendly(make_daemon)
    r = d.post("/api/v1/sync", {"provider": "calendly"}, admin=True)
    assert r.status == 503 and r.json["error"]["code"] == "not_configured", r
    assert "CALENDLY_TOKEN" in r.json["error"]["message"]


def test_sync_makes_the_webhook_subscription_once(cly, fake):
    j = sync(cly)
    assert j["errors"] == [], j
    (sub,) = fake.subscriptions
    assert sub["callback_url"] == PUBLIC + "/webhooks/calendly", sub
    assert sub["signing_key"] == cly.secret
    assert sorted(sub["events"]) == sorted([
        "invitee.created", "invitee.canceled", "invitee_no_show.created",
        "invitee_no_show.deleted"])
    assert sub["scope"] == "user"
    sync(cly)
    assert len(fake.subscriptions) == 1
    posts = [p for m, p, _, _ in fake.requests
             if m == "POST" and p == "/webhook_subscriptions"]
    assert len(posts) == 1
    # Disabled by Calendly (a day of failed deliveries): made again.
    fake.subscriptions[0]["state"] = "disabled"
    j = sync(cly)
    assert j["errors"] == [], j
    assert [x["state"] for x in fake.subscriptions] == ["active"]
    assert fake.subscriptions[0]["uri"] != sub["uri"]


def test_sync_without_a_signing_key_leaves_subscriptions_alone(make_daemon,
                                                               fake):
    d = H.start_calendly(make_daemon, CALENDLY_TOKEN=fake.token,
                         CALENDLY_API_BASE=fake.base,
                         CALENDLY_WEBHOOK_SIGNING_KEY=None)
    j = sync(d)
    assert j["errors"] == [], j
    assert fake.subscriptions == []
