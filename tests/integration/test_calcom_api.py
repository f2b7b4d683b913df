"""Cal.com's API v2 (issue 10 §4, connectors/calcom.c, calcom_sync.c,
docs/providers/calcom.md): the real daemon against a strict contract fake
(calcom_fake.py), with bookings also arriving through POST /webhooks/calcom.

- POST /api/v1/sync {"provider": "calcom"} pulls the event types and the
  bookings (every status, offset pages) through the webhook normalizer and
  the ledger's rules: what webhooks missed is filled, a second sync changes
  nothing, a webhook and a sync of one booking make one booking in either
  order, a reschedule seen only through the API moves the booking, and bad
  answers are summary errors with the ledger unchanged.
- Cancellations and reschedules made in bookingd reach Cal.com once, through
  the outbox ("calcom.push"), across failures, 429s and a SIGKILL between
  the call and its commit; Cal.com's echo webhook changes nothing."""
import datetime as dt
import json

import pytest

import calcom_helpers as H
from calcom_fake import CalcomFake
from conftest import ledger_query, parse_instant, standard_catalog

DAY = dt.timedelta(days=1)
MIN = dt.timedelta(minutes=1)
JOB = "calcom.push"
DONE, DEAD = 2, 3
ET = 731  # the fixtures' and the fake's Cal.com event type


@pytest.fixture
def fake():
    f = CalcomFake()
    yield f
    f.close()


def start(make_daemon, fake, **extra):
    env = {"CALCOM_API_KEY": fake.key, "CALCOM_API_BASE": fake.base + "/",
           "BOOKINGD_JOB_LEASE_MS": "3000"}
    env.update(extra)
    d = H.start_calcom(make_daemon, **env)
    d.apply(standard_catalog(event_types=[{
        "slug": "cal-30", "title": "Cal.com 30 min", "duration_minutes": 30,
        "calcom_event_type_id": ET}]))
    return d


@pytest.fixture
def cal(make_daemon, fake):
    return start(make_daemon, fake)


def sync(d, body=None):
    r = d.post("/api/v1/sync", body or {"provider": "calcom"}, admin=True)
    assert r.status == 200, r
    j = r.json
    assert set(j) == {"total", "created", "updated", "skipped", "errors"}, j
    return j


def counts(j):
    return (j["total"], j["created"], j["updated"], j["skipped"])


def bookings_table(d):
    return d.snapshot(ignore_columns=("updated_utc",))["bookings"]


def links_table(d):
    return d.snapshot()["external_links"]


def jobs(d):
    return ledger_query(d, "SELECT status, attempts, last_error FROM jobs "
                           "WHERE kind = ?", (JOB,))


def wait_jobs_settled(d, n, timeout=60):
    return H.wait_until(
        lambda: (lambda rows: rows if len(rows) == n and
                 all(r[0] in (DONE, DEAD) for r in rows) else None)(jobs(d)),
        timeout, f"{n} settled {JOB} jobs")


_ids = list(range(5000, 6000))


def webhook_booking(d, fake, days=4, hour=10, **kw):
    """A booking made at Cal.com and told by webhook: (ledger booking,
    Cal.com uid)."""
    s, e = H.future_slot(days=days, hour=hour)
    kw.setdefault("booking_id", _ids.pop())
    body = H.created(start=s, end=e, event_type_id=ET, **kw)
    fake.from_webhook(body)
    H.wait_processed(d, H.received(d, body))
    uid = body["payload"]["uid"]
    return H.booking_for(d, uid), uid


# ---- sync --------------------------------------------------------------------

def test_sync_imports_what_webhooks_missed_then_changes_nothing(cal, fake):
    fake.event_types.append({"id": 900, "slug": "deep-dive",
                             "title": "Deep dive", "lengthInMinutes": 90})
    now = H.utc_now().replace(minute=0, second=0, microsecond=0)
    a = fake.add_booking(start=now + 2 * DAY, end=now + 2 * DAY + 30 * MIN,
                         email="a@client.example")
    b = fake.add_booking(start=now + 3 * DAY, end=now + 3 * DAY + 30 * MIN,
                         email="b@client.example", status="cancelled",
                         cancellationReason="Gone")
    past = fake.add_booking(start=now - 2 * DAY, end=now - 2 * DAY + 30 * MIN,
                            email="p@client.example")
    fake.add_booking(start=now + 4 * DAY, end=now + 4 * DAY + 30 * MIN,
                     email="u@client.example", status="pending")
    # Older than the window (30 days): not read.
    fake.add_booking(start=now - 40 * DAY, end=now - 40 * DAY + 30 * MIN)
    # A reschedule made at Cal.com: the old booking cancelled with
    # rescheduledToUid, the new one accepted with rescheduledFromUid.
    old = fake.add_booking(start=now + 5 * DAY, end=now + 5 * DAY + 30 * MIN,
                           email="r@client.example")
    new = fake.reschedule_here(old["uid"], now + 6 * DAY)
    # Enough more for two pages (100 a page).
    many = [fake.add_booking(start=now + 10 * DAY + i * 30 * MIN,
                             end=now + 10 * DAY + (i + 1) * 30 * MIN,
                             email=f"m{i}@client.example")
            for i in range(100)]

    j = sync(cal)
    assert j["errors"] == [], j
    # 2 event types (731 is mapped already: skipped; 900 imported), 106
    # bookings: the pending one skipped, the cancel half of the reschedule
    # applied as "replaced" (nothing to change once the new one moved it).
    assert counts(j) == (2 + 106, 1 + 104, 0, 1 + 2), j
    ets = {e["slug"]: e for e in cal.get("/api/v1/event-types", admin=True,
                                         query={"limit": "100"}).json["data"]}
    assert ets["calcom-deep-dive"]["external_ids"] == {"calcom": "900"}
    assert ets["calcom-deep-dive"]["imported"] is True
    assert ets["calcom-deep-dive"]["active"] is False
    assert ets["calcom-deep-dive"]["duration_minutes"] == 90
    found = H.by_calcom_uid(cal)
    assert found[a["uid"]][0]["status"] == "confirmed"
    assert found[a["uid"]][0]["event_type"] == "cal-30"
    assert found[b["uid"]][0]["status"] == "cancelled"
    assert found[b["uid"]][0]["cancellation_reason"] == "Gone"
    assert found[past["uid"]][0]["status"] == "completed"
    (moved,) = found[new["uid"]]
    assert found[old["uid"]][0]["uid"] == moved["uid"]
    assert parse_instant(moved["start"]) == now + 6 * DAY
    assert H.calcom_uids(moved, superseded=False) == {new["uid"]}
    assert len(H.bookings(cal)) == 104
    assert all(m["uid"] in found for m in many)
    gets = [p for m, p, _, _ in fake.requests if m == "GET"]
    assert any("skip=100" in p for p in gets), gets
    # Bookings read from Cal.com are not sent back.
    assert fake.calls("cancel") == [] and fake.calls("reschedule") == []

    before = cal.snapshot(ignore_columns=("updated_utc",))
    j = sync(cal)
    assert j["errors"] == [], j
    assert (j["created"], j["updated"]) == (0, 0), j
    assert j["skipped"] == j["total"] == 108, j
    after = cal.snapshot(ignore_columns=("updated_utc",))
    # Nothing at all is written but the sync's own cursor: no booking,
    # link, client, job or even a "skipped" activity row per booking.
    for t in set(before) | set(after):
        if t != "meta":
            assert after.get(t) == before.get(t), t

    # A cancellation made at Cal.com while the webhook was off is pulled.
    fake.cancel_here(a["uid"], "Changed my mind")
    j = sync(cal)
    assert (j["created"], j["updated"]) == (0, 1), j
    ba = H.booking_for(cal, a["uid"])
    assert ba["status"] == "cancelled"
    assert ba["cancellation_reason"] == "Changed my mind"
    # Its job (and those of the sync's other changes) sends nothing.
    rows = H.wait_until(
        lambda: (lambda r: r if r and all(x[0] in (DONE, DEAD) for x in r)
                 else None)(jobs(cal)), 60, "settled jobs")
    assert all(r == (DONE, 1, None) for r in rows), rows
    assert fake.calls("cancel") == [] and fake.calls("reschedule") == []


def test_what_happened_while_the_daemon_was_down_is_pulled(cal, fake):
    b, uid = webhook_booking(cal, fake, days=4)
    cal.stop()
    # While it is down, Cal.com's webhooks cannot be delivered: a new
    # booking, a cancellation, a reschedule.
    s, e = H.future_slot(days=6, hour=12)
    new = fake.add_booking(start=s, end=e, email="new@client.example",
                           booking_id=7001)
    moved = fake.reschedule_here(uid, parse_instant(b["start"]) + DAY)
    cal.start()
    j = sync(cal)
    assert j["errors"] == [], j
    assert (j["created"], j["updated"]) == (1, 1), j
    assert H.booking_for(cal, new["uid"])["status"] == "confirmed"
    only = H.booking_for(cal, moved["uid"])
    assert only["uid"] == b["uid"]
    assert parse_instant(only["start"]) == parse_instant(b["start"]) + DAY
    assert len(H.bookings(cal)) == 2


def test_a_reschedule_seen_only_through_the_api_moves_the_booking(cal, fake):
    b, uid = webhook_booking(cal, fake, days=4)
    t2 = parse_instant(b["start"]) + 2 * DAY
    new = fake.reschedule_here(uid, t2)
    j = sync(cal)
    assert j["errors"] == [], j
    (only,) = H.bookings(cal)
    assert only["uid"] == b["uid"]
    assert parse_instant(only["start"]) == t2
    assert H.calcom_uids(only, superseded=False) == {new["uid"]}
    assert H.calcom_uids(only, superseded=True) == {uid}
    # Its webhook, late, changes nothing.
    body = H.rescheduled(new["uid"], uid, t2, t2 + 30 * MIN,
                         event_type_id=ET)
    H.wait_processed(cal, H.received(cal, body))
    (again,) = H.bookings(cal)
    assert again["uid"] == only["uid"] and again["start"] == only["start"]
    hist = H.history(cal, only["uid"])
    assert [h["action"] for h in hist] == ["created", "rescheduled"], hist


@pytest.mark.parametrize("order", ["webhook-first", "sync-first"])
def test_webhook_and_sync_of_one_booking_make_one(cal, fake, order):
    s, e = H.future_slot(days=5, hour=11)
    body = H.created(start=s, end=e, event_type_id=ET, booking_id=4242)
    uid = body["payload"]["uid"]
    fake.from_webhook(body)
    if order == "webhook-first":
        H.wait_processed(cal, H.received(cal, body))
        j = sync(cal)
        assert counts(j)[1:] == (0, 0, 2), j
    else:
        j = sync(cal)
        assert j["created"] == 1, j
        H.wait_processed(cal, H.received(cal, body))
    assert len(H.by_calcom_uid(cal)[uid]) == 1
    assert len(H.bookings(cal)) == 1
    # And a reschedule: webhook and sync in either order, one booking.
    t2 = s + 2 * DAY
    new = fake.reschedule_here(uid, t2)
    rbody = H.rescheduled(new["uid"], uid, t2, t2 + 30 * MIN,
                          event_type_id=ET)
    if order == "webhook-first":
        H.wait_processed(cal, H.received(cal, rbody))
        sync(cal)
    else:
        sync(cal)
        H.wait_processed(cal, H.received(cal, rbody))
    (only,) = H.bookings(cal)
    assert only["status"] == "confirmed"
    assert parse_instant(only["start"]) == t2
    assert H.calcom_uids(only) == {uid, new["uid"]}


def test_past_bookings_complete_unless_the_attendee_was_absent(cal, fake):
    t = H.utc_now().replace(microsecond=0) - 3 * DAY
    came = fake.add_booking(start=t, end=t + 30 * MIN)
    absent = fake.add_booking(start=t + DAY, end=t + DAY + 30 * MIN)
    with fake.lock:
        fake.bookings[absent["uid"]]["attendees"][0]["absent"] = True
    j = sync(cal)
    assert (j["created"], j["errors"]) == (2, []), j
    assert H.booking_for(cal, came["uid"])["status"] == "completed"
    assert H.booking_for(cal, absent["uid"])["status"] == "confirmed"
    before = bookings_table(cal)
    j = sync(cal)
    assert (j["created"], j["updated"]) == (0, 0), j
    assert bookings_table(cal) == before


def test_concurrent_syncs_make_each_booking_once(cal, fake):
    import concurrent.futures
    t = H.utc_now().replace(microsecond=0) + DAY
    for i in range(40):
        fake.add_booking(start=t + i * 30 * MIN, end=t + (i + 1) * 30 * MIN,
                         email=f"c{i}@client.example")
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        got = list(ex.map(lambda _: sync(cal), range(3)))
    assert all(j["errors"] == [] for j in got), got
    assert sum(j["created"] for j in got) == 40, got
    assert len(H.bookings(cal)) == 40
    assert all(len(v) == 1 for v in H.by_calcom_uid(cal).values())


def test_sync_errors_leave_the_ledger_unchanged(cal, fake):
    before = bookings_table(cal)
    # Malformed JSON, not the envelope, a list that is not one, too big.
    for raw in (b"{not json", b'{"status": "success"}',
                b'{"status": "error", "data": []}', b"[]",
                b'{"status": "success", "data": {"id": 1}}'):
        fake.answer_next(raw)
        j = sync(cal)
        (err,) = j["errors"]
        assert err["connection"] == "calcom", err
        assert "envelope" in err["message"] or "email" in err["message"], j
        assert bookings_table(cal) == before
    # /me, then the event types answered, then a huge page of bookings.
    me = json.dumps({"status": "success", "data": {
        "email": "jane@coach.example", "username": "jane"}}).encode()
    ets = json.dumps({"status": "success", "data": []}).encode()
    huge = json.dumps({"status": "success", "data": [
        {"uid": "x" * 100, "status": "accepted", "title": "y" * 1000}
        for _ in range(5000)]}).encode()
    assert len(huge) > 4 * 1024 * 1024
    fake.answer_next(me, ets, huge)
    j = sync(cal)
    assert any("over" in e["message"] and "bytes" in e["message"]
               for e in j["errors"]), j
    assert bookings_table(cal) == before
    # Hostile bookings: each an error of its own, the good one applied.
    good = fake.add_booking(start=H.utc_now() + 2 * DAY,
                            end=H.utc_now() + 2 * DAY + 30 * MIN,
                            email="good@client.example")
    t = H.utc_now() + 3 * DAY
    hostile = [
        fake.add_booking(start=t, end=t + 30 * MIN, email="not-an-email"),
        fake.add_booking(start=t, end=t + 30 * MIN, status="weird"),
        fake.add_booking(start=t + MIN, end=t, email="c@client.example"),
        fake.add_booking(uid="u" * 300, start=t, end=t + 30 * MIN),
    ]
    with fake.lock:
        fake.bookings[hostile[0]["uid"]]["title"] = "<script>\u202e\u0007"
        fake.bookings["bad-start"] = dict(
            fake.bookings[good["uid"]], uid="bad-start",
            start="tomorrow", id=9999)
        fake.bookings["bad-uid-type"] = dict(
            fake.bookings[good["uid"]], uid=12345, id=9998,
            start=fake.bookings[good["uid"]]["start"])
    j = sync(cal)
    msgs = " | ".join(e["message"] for e in j["errors"])
    assert len(j["errors"]) == 6, msgs
    assert "attendees[0].email" in msgs and "status" in msgs and \
        "endTime" in msgs and "payload.uid" in msgs, msgs
    assert j["created"] == 1, j
    (b,) = H.bookings(cal)
    assert H.calcom_uids(b) == {good["uid"]}


def test_429_and_outages_in_a_sync_are_reported_then_recovered(cal, fake):
    t = H.utc_now() + 2 * DAY
    for i in range(3):
        fake.add_booking(start=t + i * DAY, end=t + i * DAY + 30 * MIN,
                         email=f"r{i}@client.example")
    fake.retry_after = 30
    fake.fail_next(429)
    j = sync(cal)
    assert counts(j) == (0, 0, 0, 0), j
    (err,) = j["errors"]
    assert "429" in err["message"] and "Retry-After 30" in err["message"], j
    # While the Retry-After runs, no call leaves: the next sync says so.
    n = len(fake.requests)
    j = sync(cal)
    assert "rate limit" in j["errors"][0]["message"], j
    assert len(fake.requests) == n
    assert H.bookings(cal) == []


def test_a_short_retry_after_is_waited_and_an_outage_reported(make_daemon,
                                                              fake):
    d = start(make_daemon, fake)
    t = H.utc_now() + 2 * DAY
    for i in range(3):
        fake.add_booking(start=t + i * DAY, end=t + i * DAY + 30 * MIN,
                         email=f"r{i}@client.example")
    fake.fail_next(503)
    j = sync(d)
    assert "503" in j["errors"][0]["message"], j
    assert H.bookings(d) == []
    # The fake's own limit (120 a minute) met: 429 with Retry-After 1.
    fake.limit = 2
    j = sync(d)
    assert any("429" in e["message"] for e in j["errors"]), j
    fake.limit = 120
    fake.window.clear()
    j = sync(d)
    assert j["errors"] == [], j
    assert j["created"] == 3, j
    assert len(H.bookings(d)) == 3
    j = sync(d)
    assert j["created"] == 0 and j["updated"] == 0, j


def test_the_fake_is_strict(fake):
    """The fake refuses what the real API refuses, so that the daemon's
    passing tests mean it speaks the protocol."""
    import urllib.error
    import urllib.request

    def call(method, path, headers=None, body=None):
        req = urllib.request.Request(fake.base + path, method=method,
                                     data=body, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    auth = {"Authorization": f"Bearer {fake.key}"}
    v = {"cal-api-version": "2024-08-13"}
    assert call("GET", "/bookings")[0] == 401
    st, j = call("GET", "/bookings", auth)
    assert st == 400 and j["status"] == "error" and \
        "cal-api-version" in j["error"]["message"]
    assert call("GET", "/bookings?take=0", {**auth, **v})[0] == 400
    assert call("GET", "/bookings?bogus=1", {**auth, **v})[0] == 400
    assert call("GET", "/bookings", {**auth, **v})[1]["pagination"][
        "hasNextPage"] is False
    b = fake.add_booking(start=H.utc_now() + DAY,
                         end=H.utc_now() + DAY + 30 * MIN)
    js = {**auth, **v, "Content-Type": "application/json"}
    url = f"/bookings/{b['uid']}/cancel"
    assert call("POST", url, js, b'{"reason": "x"}')[0] == 400
    assert call("POST", url, {**auth, **v}, b"{}")[0] == 400
    assert call("POST", url, js, b"[1]")[0] == 400
    url = f"/bookings/{b['uid']}/reschedule"
    assert call("POST", url, js, b'{"start": "2030-01-01T10:00:00+01:00"}'
                )[0] == 400
    st, j = call("POST", url, js, b'{"start": "2030-01-01T10:00:00Z"}')
    assert st == 201 and j["data"]["rescheduledFromUid"] == b["uid"]
    assert call("POST", url, js, b'{"start": "2030-01-02T10:00:00Z"}'
                )[0] == 400  # the old booking is cancelled now
    assert call("GET", "/event-types", {**auth, **v})[0] == 400
    assert call("GET", "/event-types",
                {**auth, "cal-api-version": "2024-06-14"})[0] == 200


def test_an_empty_sync_request_includes_calcom(cal, fake):
    fake.add_booking(start=H.utc_now() + DAY, end=H.utc_now() + DAY + 30 * MIN)
    r = cal.post("/api/v1/sync", {}, admin=True)
    assert r.status == 200, r
    assert (r.json["created"], r.json["errors"]) == (1, []), r.json
    assert len(H.bookings(cal)) == 1


def test_sync_bad_input_and_not_configured(make_daemon, cal):
    for body, field in [({"provider": "calcomx"}, "provider"),
                        ({"provider": "calcom", "host": "coach"}, "host"),
                        ({"provider": "calcom", "connection": "x"},
                         "connection")]:
        r = cal.post("/api/v1/sync", body, admin=True)
        assert r.status == 422, r
        assert r.json["error"]["details"]["field"] == field, r.json
    assert cal.post("/api/v1/sync", {"provider": "calcom"}).status == 401
    d = H.start_calcom(make_daemon)
    r = d.post("/api/v1/sync", {"provider": "calcom"}, admin=True)
    assert r.status == 503 and r.json["error"]["code"] == "not_configured", r
    assert "CALCOM_API_KEY" in r.json["error"]["message"]


def test_a_reconcile_for_calcom_is_refused_and_changes_nothing(cal, fake):
    # Cal.com has no reconcile: the request is refused before any call to
    # Cal.com, although a booking waits there that a sync would import.
    fake.add_booking(start=H.utc_now() + DAY, end=H.utc_now() + DAY + 30 * MIN)
    before = cal.snapshot(ignore_columns=("updated_utc",))
    n = len(fake.requests)
    r = cal.post("/api/v1/sync", {"provider": "calcom", "reconcile": True},
                 admin=True)
    assert r.status == 422, r
    assert r.json["error"]["details"]["field"] == "reconcile", r.json
    assert "calcom" in r.json["error"]["message"], r.json
    assert len(fake.requests) == n, fake.requests[n:]
    assert cal.snapshot(ignore_columns=("updated_utc",)) == before
    # The same request without the reconcile (false: none) imports it.
    r = cal.post("/api/v1/sync", {"provider": "calcom", "reconcile": False},
                 admin=True)
    assert r.status == 200 and r.json["created"] == 1, r
    assert len(H.bookings(cal)) == 1


def test_a_bad_key_is_a_summary_error(make_daemon, fake):
    d = start(make_daemon, fake, CALCOM_API_KEY="cal_test_wrong")
    fake.add_booking(start=H.utc_now() + DAY, end=H.utc_now() + DAY + 30 * MIN)
    j = sync(d)
    (err,) = j["errors"]
    assert "401" in err["message"] and "CALCOM_API_KEY" in err["message"], j
    assert H.bookings(d) == []


@pytest.mark.parametrize("name,value", [
    ("CALCOM_API_BASE", "ftp://x.example"),
    ("CALCOM_API_BASE", "https://api.example/v2?a=b"),
    ("CALCOM_API_KEY", "two words"),
    ("CALCOM_SYNC_INTERVAL_S", "5"),
    ("CALCOM_SYNC_PAST_DAYS", "0")])
def test_a_bad_configuration_stops_the_start(make_daemon, name, value):
    d = make_daemon(start=False)
    p = d.cli("serve", env={name: value}, timeout=20)
    assert p.returncode == 2 and name in p.stderr, (p.returncode, p.stderr)


def test_the_periodic_sync_pulls_without_a_request(make_daemon, fake):
    fake.add_booking(start=H.utc_now() + DAY, end=H.utc_now() + DAY + 30 * MIN,
                     email="periodic@client.example")
    # (No catalog: the periodic run may come before any apply.)
    d = H.start_calcom(make_daemon, CALCOM_API_KEY=fake.key,
                       CALCOM_API_BASE=fake.base, CALCOM_SYNC_INTERVAL_S="60")
    # The first period's run is due at once.
    H.wait_until(lambda: H.bookings(d), 60, "the periodic sync's booking")
    rows = ledger_query(d, "SELECT status FROM jobs WHERE kind = "
                           "'calcom.sync'")
    assert len(rows) >= 1, rows


# ---- changes made in bookingd pushed to Cal.com -------------------------------

def echo_to(d, fake):
    fake.webhook = (f"http://127.0.0.1:{d.port}{H.WEBHOOK_PATH}", d.secret)


def test_a_cancellation_in_bookingd_reaches_calcom_once(cal, fake):
    echo_to(cal, fake)
    b, uid = webhook_booking(cal, fake)
    r = cal.post(f"/api/v1/bookings/{b['uid']}/cancel",
                 {"reason": "Coach is ill"}, admin=True)
    assert r.status == 200, r
    rows = wait_jobs_settled(cal, 1)
    assert rows == [(DONE, 1, None)], rows
    ((got, body, headers),) = fake.calls("cancel")
    assert got == uid and body == {"cancellationReason": "Coach is ill"}
    assert headers["Authorization"] == f"Bearer {fake.key}"
    assert headers["cal-api-version"] == "2024-08-13"
    assert fake.bookings[uid]["status"] == "cancelled"
    # The echo webhook was applied as already done: one cancellation.
    assert fake.echoes == [("BOOKING_CANCELLED", 200)], fake.echoes
    H.wait_idle(cal)
    hist = H.history(cal, b["uid"])
    assert [h["action"] for h in hist] == ["created", "cancelled"], hist
    # A sync now changes nothing and sends nothing.
    j = sync(cal)
    assert (j["created"], j["updated"]) == (0, 0), j
    assert len(fake.calls("cancel")) == 1
    assert len(jobs(cal)) == 1


def test_changes_from_calcom_are_not_sent_back(cal, fake):
    b, uid = webhook_booking(cal, fake)
    fake.cancel_here(uid)
    H.wait_processed(cal, H.received(cal, H.cancelled(uid)))
    t2 = H.future_slot(days=6)[0]
    b2, uid2 = webhook_booking(cal, fake, days=5)
    new = fake.reschedule_here(uid2, t2)
    H.wait_processed(cal, H.received(cal, H.rescheduled(
        new["uid"], uid2, t2, t2 + 30 * MIN, event_type_id=ET)))
    wait_jobs_settled(cal, 2)
    assert [m for m, *_ in fake.requests if m != "GET"] == []


def test_bookings_from_elsewhere_are_not_sent(cal, fake):
    start_ = cal.slot_starts("intro", days_ahead=3)[0]
    r = cal.book("intro", start_)
    cal.post(f"/api/v1/bookings/{r.json['uid']}/cancel", {"reason": "x"},
             admin=True)
    wait_jobs_settled(cal, 1)
    assert fake.requests == []


def test_a_reschedule_in_bookingd_reaches_calcom_once(cal, fake):
    echo_to(cal, fake)
    b, uid = webhook_booking(cal, fake, days=3, hour=9)
    target = cal.slot_starts("cal-30", days_ahead=5)[2]
    r = cal.post(f"/api/v1/bookings/{b['uid']}/reschedule",
                 {"start": target}, admin=True)
    assert r.status == 200, r
    rows = wait_jobs_settled(cal, 1)
    assert rows == [(DONE, 1, None)], rows
    ((got, body, headers),) = fake.calls("reschedule")
    assert got == uid
    assert parse_instant(body["start"]) == parse_instant(target)
    assert body["start"].endswith("Z")
    # Made by the business: rescheduled by the host (Cal.com confirms it).
    assert body["rescheduledBy"] == "coach@example.com", body
    new_uid = fake.bookings[uid]["rescheduledToUid"]
    assert fake.bookings[new_uid]["status"] == "accepted"
    assert fake.echoes == [("BOOKING_RESCHEDULED", 200)], fake.echoes
    H.wait_idle(cal)
    (only,) = H.bookings(cal)
    assert H.calcom_uids(only, superseded=False) == {new_uid}
    assert H.calcom_uids(only, superseded=True) == {uid}
    assert parse_instant(only["start"]) == parse_instant(target)
    hist = H.history(cal, b["uid"])
    assert [h["action"] for h in hist] == ["created", "rescheduled"], hist
    # Then a cancel goes to the new Cal.com booking; a sync changes nothing.
    cal.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "x"},
             admin=True)
    wait_jobs_settled(cal, 2)
    assert [c[0] for c in fake.calls("cancel")] == [new_uid]
    j = sync(cal)
    assert (j["created"], j["updated"], j["errors"]) == (0, 0, []), j
    assert len(H.bookings(cal)) == 1


def test_a_reschedule_calcom_refuses_is_a_dead_job_with_its_reason(cal, fake):
    b, uid = webhook_booking(cal, fake, days=3, hour=9)
    fake.refuse_reschedule = "User either already has booking at this " \
        "time or is not available"
    target = cal.slot_starts("cal-30", days_ahead=5)[3]
    r = cal.post(f"/api/v1/bookings/{b['uid']}/reschedule",
                 {"start": target}, admin=True)
    assert r.status == 200, r
    ((status, attempts, error),) = wait_jobs_settled(cal, 1)
    assert (status, attempts) == (DEAD, 1), (status, attempts, error)
    assert "400" in error and "not available" in error, error
    # bookingd keeps its own change; Cal.com keeps its booking.
    assert parse_instant(H.booking(cal, b["uid"])["start"]) == \
        parse_instant(target)
    assert fake.bookings[uid]["status"] == "accepted"


def test_failures_and_429_are_retried_and_cancel_once(cal, fake):
    b, uid = webhook_booking(cal, fake)
    fake.fail_next(500, 429, 503)
    cal.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": None},
             admin=True)
    ((status, attempts, error),) = wait_jobs_settled(cal, 1)
    assert status == DONE and attempts >= 2, (status, attempts, error)
    ((got, body, _),) = fake.calls("cancel")
    assert body == {}
    assert fake.bookings[uid]["status"] == "cancelled"


def test_an_outage_opens_the_breaker_and_the_change_still_reaches_calcom(
        make_daemon, fake):
    """Cal.com down: the push job's failures open the circuit breaker
    (net/limits.h), refusals are deferred without using attempts, a probe
    closes it, and the cancellation reaches Cal.com exactly once."""
    d = start(make_daemon, fake, BOOKINGD_JOB_MAX_ATTEMPTS="5",
              BOOKINGD_LIMIT_CALCOM="failures=2,cooldown=1s")
    b, uid = webhook_booking(d, fake)
    fake.fail_next(*([503] * 4))
    d.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "Outage"},
           admin=True)
    ((status, attempts, error),) = wait_jobs_settled(d, 1, timeout=90)
    assert status == DONE, (status, attempts, error)
    assert len(fake.calls("cancel")) == 1
    assert fake.bookings[uid]["status"] == "cancelled"
    # While open, requests were refused here, not sent: Cal.com saw the
    # four failures, the GET and the one cancel.
    assert len(fake.requests) == 4 + 2, fake.requests
    r = d.get("/api/v1/providers", admin=True)
    assert r.status == 200, r
    assert "calcom" in json.dumps(r.json), r.json


def test_a_sigkill_between_the_call_and_its_commit_cancels_once(
        make_daemon, fake):
    d = start(make_daemon, fake)
    echo_to(d, fake)
    b, uid = webhook_booking(d, fake)
    fake.hold_changes()
    d.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "Crash"},
           admin=True)
    # Cal.com has cancelled it (and sent its echo); its answer is held.
    assert fake.held.wait(60)
    H.sigkill(d)
    fake.release()
    d.start()
    echo_to(d, fake)
    rows = wait_jobs_settled(d, 1, timeout=90)
    assert rows[0][0] == DONE, rows
    assert len(fake.calls("cancel")) == 1
    assert fake.bookings[uid]["status"] == "cancelled"
    assert H.booking(d, b["uid"])["status"] == "cancelled"


def test_a_sigkill_during_a_reschedule_moves_calcom_once(make_daemon, fake):
    d = start(make_daemon, fake)
    b, uid = webhook_booking(d, fake, days=3, hour=9)
    target = d.slot_starts("cal-30", days_ahead=5)[1]
    fake.hold_changes()
    r = d.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": target},
               admin=True)
    assert r.status == 200, r
    assert fake.held.wait(60)
    H.sigkill(d)
    fake.release()
    d.start()
    rows = wait_jobs_settled(d, 1, timeout=90)
    assert rows[0][0] == DONE, rows
    assert len(fake.calls("reschedule")) == 1
    new_uid = fake.bookings[uid]["rescheduledToUid"]
    (only,) = H.bookings(d)
    assert H.calcom_uids(only, superseded=False) == {new_uid}
    assert parse_instant(only["start"]) == parse_instant(target)


def test_without_a_key_nothing_is_queued(make_daemon, fake):
    d = H.start_calcom(make_daemon, CALCOM_API_BASE=fake.base)
    d.apply(standard_catalog(event_types=[{
        "slug": "cal-30", "title": "Cal.com 30 min", "duration_minutes": 30,
        "calcom_event_type_id": ET}]))
    b, _ = webhook_booking(d, fake)
    d.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "x"},
           admin=True)
    H.wait_outbox_idle(d)
    assert jobs(d) == []
    assert fake.requests == []
