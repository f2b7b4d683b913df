"""POST /webhooks/calcom end to end (API.md "Webhooks in", PROVIDERS.md §3,
DESIGN.md principle 2): the real daemon, bodies shaped as Cal.com sends
them (tests/fixtures/calcom, varied per test), signed here over the exact
bytes. Every trigger bookingd applies, replays, out-of-order arrival, every
kind of bad input, retries and dead letters, the admin's view of the inbox,
and a flood of mixed deliveries while the daemon keeps serving.

Deliveries are applied asynchronously by the job workers: the tests poll
(bounded) until each delivery reaches a final status before looking at the
ledger."""
import concurrent.futures
import datetime as dt
import json
import threading
import time

import pytest

import calcom_helpers as H
from calcom_helpers import today_utc
from conftest import NOT_TIMER_JOB, assert_error, parse_instant, standard_catalog

DAY = dt.timedelta(days=1)
MIN = dt.timedelta(minutes=1)

# The event type id of the fixtures (payload.eventTypeId).
FIXTURE_ET_ID = 731


# ---- fixtures of this module ------------------------------------------------

@pytest.fixture
def cal(make_daemon):
    """A daemon taking Cal.com webhooks, with no catalog."""
    return H.start_calcom(make_daemon)


@pytest.fixture
def coach(make_daemon):
    """A daemon taking Cal.com webhooks with the standard catalog (host
    'coach', event type 'intro') plus 'cal-30', an event type of the same
    host mapped to Cal.com event type 731 (the fixtures' eventTypeId)."""
    d = H.start_calcom(make_daemon)
    d.apply(standard_catalog(event_types=[{
        "slug": "cal-30", "title": "Cal.com 30 min", "duration_minutes": 30,
        "calcom_event_type_id": FIXTURE_ET_ID}]))
    return d


def intro_free(d, start):
    """Whether `start` (an aware datetime) is a free 'intro' slot."""
    day = start.astimezone(dt.timezone.utc).date()
    j = d.slots("intro", day - DAY, day + DAY)
    starts = {parse_instant(s["start"]) for v in j["slots"].values()
              for s in v}
    return start in starts


def inbox_count(d):
    with H.ro(d) as con:
        return con.execute("SELECT count(*) FROM inbox").fetchone()[0]


def ledger_rows(d):
    """The business tables (what a delivery may change), read-only."""
    snap = d.snapshot()
    return {t: snap.get(t, []) for t in
            ("bookings", "clients", "booking_history", "external_links",
             "activity", "hosts", "event_types")}


def assert_nothing_applied(d):
    """No booking, no client, no link and no activity were written."""
    rows = ledger_rows(d)
    for t in ("bookings", "clients", "external_links", "activity",
              "booking_history"):
        assert rows[t] == [], (t, rows[t][:5])


def sig_headers(secret, raw, content_type="application/json"):
    h = {"X-Cal-Signature-256": H.sign(secret, raw)}
    if content_type:
        h["Content-Type"] = content_type
    return h


# ---- routing and configuration ---------------------------------------------

def test_unknown_provider_is_404(cal):
    raw = H.fixture_bytes("booking_created")
    for name in ["nope", "calcomx", "CALCOM", "cal.com"]:
        r = cal.request("POST", f"/webhooks/{name}", raw=raw,
                        headers=sig_headers(cal.secret, raw),
                        content_type=None)
        assert_error(r, 404, "not_found")
    assert inbox_count(cal) == 0


def test_only_post_is_routed(cal):
    for method in ["GET", "PUT", "DELETE"]:
        r = cal.request(method, H.WEBHOOK_PATH)
        assert_error(r, 405)
        assert "POST" in r.header("Allow"), r.headers


@pytest.mark.parametrize("value", [None, ""])
def test_without_a_secret_webhooks_are_refused_with_503(make_daemon, value):
    d = make_daemon(env={"CALCOM_WEBHOOK_SECRET": value})
    raw = H.fixture_bytes("booking_created")
    for sig in [H.sign("whatever", raw), "no-secret-provided", None]:
        headers = {"Content-Type": "application/json"}
        if sig:
            headers["X-Cal-Signature-256"] = sig
        r = d.request("POST", H.WEBHOOK_PATH, raw=raw, headers=headers,
                      content_type=None)
        e = assert_error(r, 503, "not_configured")
        assert "CALCOM_WEBHOOK_SECRET" in e["message"], e
    assert inbox_count(d) == 0
    assert_nothing_applied(d)
    assert d.get("/healthz").status == 200


# ---- signatures -------------------------------------------------------------

def test_bad_or_missing_signature_is_401_and_stores_nothing(cal):
    raw = H.body_of(H.created())
    good = H.sign(cal.secret, raw)
    other = H.body_of(H.created())
    cases = {
        "missing": False,
        "empty": "",
        "cal.com's no-secret marker": "no-secret-provided",
        "other secret": H.sign(cal.secret + "x", raw),
        "secret prefix only": H.sign(cal.secret[:-1], raw),
        "another body's": H.sign(cal.secret, other),
        "truncated": good[:-2],
        "one byte longer": good + "00",
        "prefixed like Notion": "sha256=" + good,
        "not hex": "z" * 64,
        "flipped last digit": good[:-1] + ("0" if good[-1] != "0" else "1"),
        "base64 of the mac": "A" * 43 + "=",
    }
    for what, sig in cases.items():
        r = H.post(cal, raw, signature=sig)
        e = assert_error(r, 401, "unauthorized")
        assert "X-Cal-Signature-256" in e["message"] or \
            "secret" in e["message"], (what, e)
    # The signature covers the exact bytes: the same JSON re-serialized,
    # or the body with one byte changed, does not verify.
    pretty = json.dumps(json.loads(raw), indent=2).encode()
    assert_error(H.post(cal, pretty, signature=good), 401)
    assert_error(H.post(cal, raw + b" ", signature=good), 401)
    assert_error(H.post(cal, raw.replace(b"Alex", b"Alix"), signature=good),
                 401)
    assert inbox_count(cal) == 0
    assert H.deliveries(cal) == []
    assert_nothing_applied(cal)
    # ... and the untouched body with its signature is taken.
    dlv = H.received(cal, raw, signature=good)
    H.wait_processed(cal, dlv)


def test_signature_over_the_bytes_as_sent(cal):
    """Cal.com signs whatever bytes it sends: pretty-printed fixture bytes
    (with newlines) verify as they are, and are stored byte for byte."""
    raw = H.fixture_bytes("booking_created")
    assert b"\n" in raw
    dlv = H.received(cal, raw)
    H.wait_processed(cal, dlv)
    assert H.delivery(cal, dlv)["payload"].encode() == raw


# ---- body limit -------------------------------------------------------------

def padded(size):
    """A signed-able BOOKING_CREATED body of exactly `size` bytes."""
    j = H.created()
    j["payload"]["padding"] = ""
    base = len(H.body_of(j))
    j["payload"]["padding"] = "x" * (size - base)
    raw = H.body_of(j)
    assert len(raw) == size
    return raw


def raw_post(d, raw, headers, chunked=False):
    head = [f"POST {H.WEBHOOK_PATH} HTTP/1.1", "Host: 127.0.0.1",
            "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        head.append("Transfer-Encoding: chunked")
        body = b""
        for i in range(0, len(raw), 65536):
            part = raw[i:i + 65536]
            body += b"%x\r\n" % len(part) + part + b"\r\n"
        body += b"0\r\n\r\n"
    else:
        head.append(f"Content-Length: {len(raw)}")
        body = raw
    return d.raw("\r\n".join(head).encode() + b"\r\n\r\n" + body)


def test_body_over_1_mib_is_413_and_stores_nothing(cal):
    big = padded(H.MAX_BODY + 1)
    for chunked in (False, True):
        r = raw_post(cal, big, sig_headers(cal.secret, big), chunked=chunked)
        assert_error(r, 413)
    huge = padded(3 * H.MAX_BODY)
    r = raw_post(cal, huge, sig_headers(cal.secret, huge))
    assert_error(r, 413)
    assert inbox_count(cal) == 0
    assert_nothing_applied(cal)
    assert cal.get("/healthz").status == 200
    # Exactly 1 MiB is within the limit.
    ok = padded(H.MAX_BODY)
    dlv = H.received(cal, ok)
    H.wait_processed(cal, dlv)
    assert H.delivery(cal, dlv)["payload_bytes"] == H.MAX_BODY


# ---- content type -----------------------------------------------------------

def test_wrong_content_type_is_415_and_stores_nothing(cal):
    raw = H.body_of(H.created())
    for ct in ["text/plain", "application/x-www-form-urlencoded",
               "application/jsonp", "application/json-patch+json",
               "multipart/form-data; boundary=x", "text/json", None]:
        r = H.post(cal, raw, content_type=ct)
        assert_error(r, 415, "unsupported_media_type")
    assert inbox_count(cal) == 0
    assert_nothing_applied(cal)


def test_json_content_type_variants_are_accepted(cal):
    for ct in ["application/json; charset=utf-8", "Application/JSON",
               "application/json;charset=UTF-8"]:
        dlv = H.received(cal, H.created(), content_type=ct)
        H.wait_processed(cal, dlv)


def test_bad_signature_wins_over_wrong_content_type(cal):
    """Unsigned junk learns nothing about what would be accepted."""
    r = H.post(cal, b"a=b", signature="0" * 64,
               content_type="application/x-www-form-urlencoded")
    assert_error(r, 401)


# ---- malformed JSON under a valid signature ---------------------------------

MALFORMED = {
    "not json": b"{not json",
    "truncated": H.body_of(H.fixture("booking_created"))[:-7],
    "array": b"[1, 2]",
    "null": b"null",
    "string": b"\"BOOKING_CREATED\"",
    "empty": b"",
    "duplicate keys": b'{"triggerEvent":"BOOKING_CREATED",'
                      b'"triggerEvent":"BOOKING_CANCELLED"}',
    "trailing garbage": H.body_of(H.fixture("booking_created")) + b"}",
    "invalid utf-8": b'{"triggerEvent":"BOOKING_CREATED","x":"\xff\xfe"}',
}


@pytest.mark.parametrize("what", sorted(MALFORMED))
def test_malformed_json_is_stored_failed_and_answered_400(make_daemon, what):
    # Short retry delays: if the delivery were queued for retries they
    # would show within the wait below.
    d = H.start_calcom(make_daemon, BOOKINGD_JOB_RETRY_BASE_MS=10,
                       BOOKINGD_JOB_RETRY_MAX_MS=20)
    raw = MALFORMED[what]
    r = H.post(d, raw)
    e = assert_error(r, 400, "invalid_json")
    assert "json" in e["message"].lower() or "object" in e["message"], e
    dlv = e["details"]["delivery"]
    assert dlv.startswith("dlv_"), e
    row = H.delivery(d, dlv)
    assert row["status"] == "failed", row
    assert row["last_error"] == e["message"], row
    assert row["attempts"] == 0 and row["next_attempt_at"] is None, row
    assert row["payload_bytes"] == len(raw), row
    with H.ro(d) as con:
        stored, job = con.execute(
            "SELECT payload, job_id FROM inbox WHERE public_id = ?",
            (dlv,)).fetchone()
        assert bytes(stored) == raw
        assert job is None  # nothing will retry it
        assert con.execute("SELECT count(*) FROM jobs "
                           "WHERE " + NOT_TIMER_JOB).fetchone()[0] == 0
    # The same bytes again: the same stored delivery, the same answer.
    e2 = assert_error(H.post(d, raw), 400, "invalid_json")
    assert e2["details"]["delivery"] == dlv
    assert inbox_count(d) == 1
    time.sleep(0.5)  # more than the whole retry schedule would take
    row = H.delivery(d, dlv)
    assert (row["status"], row["attempts"]) == ("failed", 0), row
    assert_nothing_applied(d)


def test_admin_replay_of_malformed_json_fails_again_once(cal):
    e = assert_error(H.post(cal, b"{broken"), 400, "invalid_json")
    dlv = e["details"]["delivery"]
    r = cal.post(f"/api/v1/webhook-deliveries/{dlv}/replay", admin=True)
    assert r.status == 202, r
    row = H.wait_final(cal, dlv)[dlv]
    assert row["status"] == "failed", row
    assert row["attempts"] == 1, row  # a parse error is not retried
    assert "JSON" in row["last_error"] or "json" in row["last_error"], row
    time.sleep(0.5)
    assert H.delivery(cal, dlv)["attempts"] == 1
    assert_nothing_applied(cal)


# ---- valid JSON that cannot be applied --------------------------------------

def _missing(mutate):
    j = H.created()
    mutate(j)
    return j


def _no_email(j):
    del j["payload"]["attendees"][0]["email"]
    del j["payload"]["responses"]["email"]


def _bad_email(j):
    j["payload"]["attendees"][0]["email"] = "not an email"
    j["payload"]["responses"]["email"]["value"] = "not an email"


def _no_attendees(j):
    j["payload"]["attendees"] = []
    del j["payload"]["responses"]


def _end_before_start(j):
    p = j["payload"]
    p["startTime"], p["endTime"] = p["endTime"], p["startTime"]


UNAPPLIABLE = {
    "no uid": (lambda j: j["payload"].pop("uid"), "payload.uid"),
    "empty uid": (lambda j: j["payload"].update(uid=""), "payload.uid"),
    "null uid": (lambda j: j["payload"].update(uid=None), "payload.uid"),
    "numeric uid": (lambda j: j["payload"].update(uid=91), "payload.uid"),
    "no startTime": (lambda j: j["payload"].pop("startTime"),
                     "payload.startTime"),
    "no endTime": (lambda j: j["payload"].pop("endTime"), "payload.endTime"),
    "bad startTime": (lambda j: j["payload"].update(startTime="tomorrow"),
                      "payload.startTime"),
    "end before start": (_end_before_start, "payload.endTime"),
    "no attendee email": (_no_email, "payload.attendees[0].email"),
    "invalid attendee email": (_bad_email, "payload.attendees[0].email"),
    "no attendees": (_no_attendees, "payload.attendees[0].email"),
    "no triggerEvent": (lambda j: j.pop("triggerEvent"), "triggerEvent"),
    "numeric triggerEvent": (lambda j: j.update(triggerEvent=1),
                             "triggerEvent"),
    "lower-case triggerEvent": (
        lambda j: j.update(triggerEvent="booking_created"), "triggerEvent"),
    "no payload": (lambda j: j.pop("payload"), "payload"),
    "payload not an object": (lambda j: j.update(payload=[1]), "payload"),
}


def test_valid_json_that_cannot_be_applied_is_stored_failed_422(cal):
    seen = set()
    for what, (mutate, field) in UNAPPLIABLE.items():
        raw = H.body_of(_missing(mutate))
        r = H.post(cal, raw)
        e = assert_error(r, 422, field=field)
        dlv = e["details"].get("delivery", "")
        assert dlv.startswith("dlv_") and dlv not in seen, (what, e)
        seen.add(dlv)
        row = H.delivery(cal, dlv)
        assert row["status"] == "failed", (what, row)
        assert row["last_error"].startswith(field + ":"), (what, row)
        assert row["attempts"] == 0, (what, row)
        assert row["payload"].encode() == raw, what
        # Sent again: the same delivery, not stored twice.
        e2 = assert_error(H.post(cal, raw), 422, field=field)
        assert e2["details"]["delivery"] == dlv
    assert inbox_count(cal) == len(UNAPPLIABLE)
    assert len(H.deliveries(cal, status="failed")) == len(UNAPPLIABLE)
    with H.ro(cal) as con:
        assert con.execute("SELECT count(*) FROM jobs "
                           "WHERE " + NOT_TIMER_JOB).fetchone()[0] == 0
    # Nothing half-applied: no client from the attendee emails, no
    # imported host or event type, no booking.
    rows = ledger_rows(cal)
    for t in ("bookings", "clients", "external_links", "activity",
              "booking_history", "hosts", "event_types"):
        assert rows[t] == [], (t, rows[t][:3])


def test_cancellation_without_uid_is_422(cal):
    j = H.cancelled("x")
    del j["payload"]["uid"]
    assert_error(H.post(cal, j), 422, field="payload.uid")
    j = H.ended_flat("x")
    del j["uid"]
    assert_error(H.post(cal, j), 422, field="uid")


# ---- unknown triggers -------------------------------------------------------

def test_unknown_triggers_are_stored_ignored_and_answered_200(cal):
    bodies = [H.fixture_bytes("booking_requested")]
    for trigger in ["BOOKING_REJECTED", "BOOKING_PAID",
                    "BOOKING_PAYMENT_INITIATED", "RECORDING_READY",
                    "FORM_SUBMITTED", "BOOKING_NO_SHOW_UPDATED"]:
        j = H.created()
        j["triggerEvent"] = trigger
        bodies.append(H.body_of(j))
    started = H.ended_flat(H.new_uid())
    started["triggerEvent"] = "MEETING_STARTED"
    bodies.append(H.body_of(started))
    # Even without what an applied trigger needs.
    bodies.append(b'{"triggerEvent":"SOMETHING_NEW","createdAt":'
                  b'"2026-01-01T00:00:00.000Z","payload":{}}')
    ids = []
    for raw in bodies:
        r = H.post(cal, raw)
        assert r.status == 200, r
        assert r.json["status"] == "ignored", r.json
        assert r.json["type"] == json.loads(raw)["triggerEvent"], r.json
        ids.append(r.json["delivery"])
        again = H.post(cal, raw)
        assert again.status == 200 and again.json["status"] == "duplicate", \
            again
        assert again.json["delivery"] == r.json["delivery"]
    assert len(set(ids)) == len(bodies)
    rows = H.deliveries(cal)
    assert {x["id"] for x in rows} == set(ids)
    for x in rows:
        assert x["status"] == "ignored" and x["last_error"] is None, x
    time.sleep(0.3)
    assert_nothing_applied(cal)
    with H.ro(cal) as con:
        assert con.execute("SELECT count(*) FROM jobs "
                           "WHERE " + NOT_TIMER_JOB).fetchone()[0] == 0


# ---- BOOKING_CREATED --------------------------------------------------------

def test_created_records_a_confirmed_calcom_booking(cal):
    raw = H.fixture_bytes("booking_created")
    fx = json.loads(raw)["payload"]
    r = H.post(cal, raw)
    assert r.status == 200, r
    assert r.json["status"] == "received" and \
        r.json["type"] == "BOOKING_CREATED", r.json
    H.wait_processed(cal, r.json["delivery"])

    (b,) = H.bookings(cal)
    assert b["status"] == "confirmed"
    assert b["source"] == "calcom"
    assert b["payment_status"] == "none"
    assert parse_instant(b["start"]) == parse_instant(fx["startTime"])
    assert parse_instant(b["end"]) == parse_instant(fx["endTime"])
    assert b["attendee_timezone"] == "America/New_York"
    assert b["meeting_url"] == fx["metadata"]["videoCallUrl"]
    assert b["location"] == "integrations:daily"
    assert b["notes"] == "Looking forward to it"
    links = {(l["kind"], l["external_id"], l["superseded"])
             for l in b["links"] if l["provider"] == "calcom"}
    assert links == {("booking_uid", fx["uid"], False),
                     ("booking_id", str(fx["bookingId"]), False)}

    # The client: found or created by the first attendee's email.
    (c,) = H.clients(cal)
    assert c["email"] == "alex@client.example"
    assert c["name"] == "Alex Attendee"
    assert c["status"] == "prospect"
    assert b["client"]["id"] == c["id"]

    # No bookingd event type has calcom_event_type_id 731: one is imported,
    # inactive, and not offered publicly.
    et = cal.get(f"/api/v1/event-types/{b['event_type']}", admin=True).json
    assert et["imported"] is True and et["active"] is False, et
    assert et["calcom_event_type_id"] == fx["eventTypeId"], et
    assert et["duration_minutes"] == 30, et
    public = cal.get("/api/v1/event-types").json["data"]
    assert b["event_type"] not in {x["slug"] for x in public}
    assert cal.get(f"/api/v1/event-types/{b['event_type']}").status == 404

    # History and activity.
    (h,) = H.history(cal, b["uid"])
    assert h["action"] == "created" and h["actor"] == "calcom", h
    kinds = [a["kind"] for a in H.activity(cal)]
    assert sorted(kinds) == sorted(["HOST_IMPORTED", "EVENT_TYPE_IMPORTED",
                                    "CLIENT_CREATED", "BOOKING_CREATED"]), \
        kinds
    (a,) = H.activity(cal, kind="BOOKING_CREATED")
    assert a["booking"] == b["uid"] and a["source"] == "calcom", a
    assert a["detail"]["external_uid"] == fx["uid"], a


def test_created_imports_one_event_type_per_calcom_id(cal):
    s, e = H.future_slot(days=4)
    for i in range(3):
        dlv = H.received(cal, H.created(start=s + i * 60 * MIN,
                                        end=e + i * 60 * MIN))
        H.wait_processed(cal, dlv)
    other = H.created(start=s + 5 * 60 * MIN, end=e + 5 * 60 * MIN,
                      event_type_id=999)
    other["payload"]["type"] = "30min"  # the same slug, another event type
    H.wait_processed(cal, H.received(cal, other))
    ets = [x for x in cal.get("/api/v1/event-types", admin=True).json["data"]
           if x["imported"]]
    assert sorted(x["calcom_event_type_id"] for x in ets) == [731, 999], ets
    by_id = {x["calcom_event_type_id"]: x["slug"] for x in ets}
    used = sorted(b["event_type"] for b in H.bookings(cal))
    assert used == sorted([by_id[731]] * 3 + [by_id[999]])
    assert len(H.activity(cal, kind="EVENT_TYPE_IMPORTED")) == 2
    assert len(H.clients(cal)) == 1  # one attendee email, one client


def test_created_uses_the_event_type_mapped_by_calcom_id(coach):
    s, e = H.future_slot(days=3)
    j = H.created(start=s, end=e)
    H.wait_processed(coach, H.received(coach, j))
    (b,) = H.bookings(coach)
    assert b["event_type"] == "cal-30" and b["host"] == "coach", b
    assert H.activity(coach, kind="EVENT_TYPE_IMPORTED") == []
    assert H.activity(coach, kind="HOST_IMPORTED") == []
    assert not any(x["imported"] for x in
                   coach.get("/api/v1/event-types", admin=True).json["data"])


def test_event_type_mapping_set_through_the_api_is_used(cal):
    cal.apply(standard_catalog())
    r = cal.post("/api/v1/event-types", {
        "slug": "deep-dive", "title": "Deep dive", "host": "coach",
        "duration_minutes": 60, "calcom_event_type_id": 4242}, admin=True)
    assert r.status == 201, r
    s, e = H.future_slot(days=5, minutes=60)
    H.wait_processed(cal, H.received(cal, H.created(start=s, end=e,
                                                    event_type_id=4242)))
    (b,) = H.bookings(cal)
    assert (b["event_type"], b["host"]) == ("deep-dive", "coach"), b
    assert parse_instant(b["end"]) - parse_instant(b["start"]) == 60 * MIN


def test_meeting_url_from_video_call_data(cal):
    s, e = H.future_slot(days=3)
    j = H.created(start=s, end=e, video_url=None)
    j["payload"]["videoCallData"] = {
        "type": "daily_video", "id": "x1",
        "url": "https://meet.example/room-1"}
    H.wait_processed(cal, H.received(cal, j))
    # metadata.videoCallUrl wins over videoCallData.url
    j2 = H.created(start=s + DAY, end=e + DAY,
                   video_url="https://app.cal.com/video/abc")
    j2["payload"]["videoCallData"] = {"url": "https://meet.example/room-2"}
    H.wait_processed(cal, H.received(cal, j2))
    # no URL at all, or a non-http one, is no meeting URL
    j3 = H.created(start=s + 2 * DAY, end=e + 2 * DAY,
                   video_url="javascript:alert(1)")
    H.wait_processed(cal, H.received(cal, j3))
    urls = {H.booking_for(cal, x["payload"]["uid"])["meeting_url"]
            for x in (j, j2, j3)}
    assert urls == {"https://meet.example/room-1",
                    "https://app.cal.com/video/abc", None}


def test_created_finds_the_existing_client_by_email(app_secret):
    d = app_secret
    start = d.slot_starts("intro", days_ahead=2)[0]
    web = d.book("intro", start, email="ada@example.com",
                 name="Ada Lovelace").json
    web = d.get(f"/api/v1/bookings/{web['uid']}", admin=True).json
    s, e = H.future_slot(days=6)
    j = H.created(start=s, end=e, email="ADA@Example.COM", name="A. L.")
    H.wait_processed(d, H.received(d, j))
    b = H.booking_for(d, j["payload"]["uid"])
    assert b["client"]["id"] == web["client"]["id"], (b, web)
    (c,) = H.clients(d)
    assert c["email"].lower() == "ada@example.com"
    (cc,) = H.activity(d, kind="CLIENT_CREATED")
    assert cc["source"] == "web", cc


def test_client_is_the_first_attendee(cal):
    s, e = H.future_slot(days=3)
    j = H.created(start=s, end=e, email="first@client.example",
                  name="First One", tz="Asia/Tokyo")
    j["payload"]["attendees"].append({
        "email": "second@client.example", "name": "Second Two",
        "timeZone": "Europe/Paris", "language": {"locale": "fr"},
        "utcOffset": 60})
    H.wait_processed(cal, H.received(cal, j))
    (b,) = H.bookings(cal)
    assert b["client"]["email"] == "first@client.example", b
    assert b["attendee_timezone"] == "Asia/Tokyo"
    assert [c["email"] for c in H.clients(cal)] == ["first@client.example"]


@pytest.fixture
def app_secret(make_daemon):
    d = H.start_calcom(make_daemon)
    d.apply(standard_catalog())
    return d


def test_overlapping_calcom_booking_is_recorded_and_reported(coach):
    start = coach.slot_starts("intro", days_ahead=3)[4]
    web = coach.book("intro", start).json
    s = parse_instant(start)
    j = H.created(start=s + 10 * MIN, end=s + 40 * MIN,
                  email="other@client.example")
    H.wait_processed(coach, H.received(coach, j))
    b = H.booking_for(coach, j["payload"]["uid"])
    assert b["status"] == "confirmed" and b["host"] == "coach", b
    ov = H.activity(coach, kind="BOOKING_OVERLAP")
    assert len(ov) == 1, ov
    assert ov[0]["booking"] == b["uid"], ov
    assert ov[0]["detail"]["overlaps"] == web["uid"], ov
    # A booking that only touches another is no overlap.
    j2 = H.created(start=s + 40 * MIN, end=s + 70 * MIN)
    H.wait_processed(coach, H.received(coach, j2))
    assert len(H.activity(coach, kind="BOOKING_OVERLAP")) == 1
    assert len(H.bookings(coach, status="confirmed")) == 3


# ---- BOOKING_RESCHEDULED ----------------------------------------------------

def test_rescheduled_moves_the_linked_booking(coach):
    t1, e1 = H.future_slot(days=3, hour=9)
    t2, e2 = H.future_slot(days=4, hour=13)
    a, b_uid = H.new_uid("a"), H.new_uid("b")
    H.wait_processed(coach, H.received(coach, H.created(a, t1, e1,
                                                        booking_id=91)))
    assert not intro_free(coach, t1)
    assert intro_free(coach, t2)
    before = H.booking_for(coach, a)
    j = H.rescheduled(b_uid, a, t2, e2, old_start=t1, old_end=e1,
                      booking_id=92)
    H.wait_processed(coach, H.received(coach, j))

    (b,) = H.bookings(coach)
    assert b["uid"] == before["uid"]  # the same ledger booking, moved
    assert b["status"] == "confirmed"
    assert parse_instant(b["start"]) == t2 and parse_instant(b["end"]) == e2
    assert parse_instant(b["rescheduled_from"]) == t1
    assert b["meeting_url"] == "https://app.cal.com/video/" + b_uid
    assert H.calcom_uids(b, superseded=False) == {b_uid}
    assert H.calcom_uids(b, superseded=True) == {a}
    assert {l["external_id"] for l in b["links"]
            if l["kind"] == "booking_id"} == {"91", "92"}
    hist = H.history(coach, b["uid"])
    assert [h["action"] for h in hist] == ["created", "rescheduled"], hist
    assert [parse_instant(x) for x in hist[1]["changes"]["start"]] == \
        [t1, t2], hist
    (act,) = H.activity(coach, kind="BOOKING_RESCHEDULED")
    assert parse_instant(act["detail"]["from"]) == t1, act
    assert parse_instant(act["detail"]["to"]) == t2, act
    # The old slot is free again, the new one taken.
    assert intro_free(coach, t1)
    assert not intro_free(coach, t2)
    # The booking is found under either uid; a cancellation of the new uid
    # cancels it.
    H.wait_processed(coach, H.received(coach, H.cancelled(b_uid)))
    assert H.booking(coach, b["uid"])["status"] == "cancelled"


def test_an_attendee_without_a_name_is_recorded(coach):
    """Cal.com may send no name at all: the client is recorded nameless
    and takes the first name a later booking gives."""
    uid = H.new_uid()
    s, e = H.future_slot(days=6)
    j = H.created(uid, s, e, email="noname@client.example")
    p = j["payload"]
    for a in p["attendees"]:
        a.pop("name", None)
    p.pop("responses", None)
    dlv = H.received(coach, j)
    rows = H.wait_processed(coach, [dlv])
    assert rows[dlv]["status"] == "processed", rows[dlv]
    (b,) = H.by_calcom_uid(coach)[uid]
    assert b["client"]["email"] == "noname@client.example"
    assert b["client"]["name"] is None
    uid2 = H.new_uid()
    s2, e2 = H.future_slot(days=7)
    dlv2 = H.received(coach, H.created(uid2, s2, e2,
                                       email="NoName@client.example",
                                       name="Now Named"))
    H.wait_processed(coach, [dlv2])
    (b2,) = H.by_calcom_uid(coach)[uid2]
    assert b2["client"]["id"] == b["client"]["id"]
    assert b2["client"]["name"] == "Now Named"


def test_rescheduled_from_an_unknown_booking_creates_it(coach):
    t2, e2 = H.future_slot(days=5, hour=12)
    new, old = H.new_uid("n"), H.new_uid("o")
    H.wait_processed(coach, H.received(coach, H.rescheduled(new, old, t2, e2)))
    (b,) = H.bookings(coach)
    assert b["status"] == "confirmed" and b["source"] == "calcom"
    assert parse_instant(b["start"]) == t2
    assert H.calcom_uids(b, superseded=False) == {new}
    assert H.calcom_uids(b, superseded=True) == {old}
    assert len(H.activity(coach, kind="BOOKING_CREATED")) == 1
    assert not intro_free(coach, t2)


# ---- BOOKING_CANCELLED ------------------------------------------------------

def test_cancelled_cancels_with_the_reason_and_frees_the_slot(coach):
    s, e = H.future_slot(days=3, hour=11)
    uid = H.new_uid()
    assert intro_free(coach, s)
    H.wait_processed(coach, H.received(coach, H.created(uid, s, e)))
    assert not intro_free(coach, s)
    H.wait_processed(coach, H.received(
        coach, H.cancelled(uid, s, e, reason="Client is ill")))
    b = H.booking_for(coach, uid)
    assert b["status"] == "cancelled"
    assert b["cancellation_reason"] == "Client is ill"
    assert intro_free(coach, s)
    hist = H.history(coach, b["uid"])
    assert [h["action"] for h in hist] == ["created", "cancelled"], hist
    assert hist[1]["changes"]["status"] == ["confirmed", "cancelled"], hist
    assert hist[1]["note"] == "Client is ill"
    (a,) = H.activity(coach, kind="BOOKING_CANCELLED")
    assert a["booking"] == b["uid"], a
    assert a["detail"]["reason"] == "Client is ill", a
    # Cancelled twice: unchanged, not an error.
    H.wait_processed(coach, H.received(coach, H.cancelled(uid, s, e)))
    assert H.booking_for(coach, uid)["cancellation_reason"] == "Client is ill"
    assert len(H.activity(coach, kind="BOOKING_CANCELLED")) == 1


def test_cancellation_fixture_as_sent(cal):
    """The documented fixtures in order: created, then cancelled."""
    H.wait_processed(cal, H.received(cal, H.fixture_bytes("booking_created")))
    H.wait_processed(cal, H.received(cal,
                                     H.fixture_bytes("booking_cancelled")))
    (b,) = H.bookings(cal)
    assert b["status"] == "cancelled"
    assert b["cancellation_reason"] == "Something came up"


# ---- MEETING_ENDED ----------------------------------------------------------

@pytest.mark.parametrize("shape", ["flat", "wrapped"])
def test_meeting_ended_completes_and_activates_the_client(coach, shape):
    s, e = H.future_slot(days=1, hour=8)
    uid = H.new_uid()
    H.wait_processed(coach, H.received(coach, H.created(uid, s, e)))
    assert H.clients(coach)[0]["status"] == "prospect"
    body = H.ended_flat(uid, s, e) if shape == "flat" else \
        H.ended_wrapped(uid, s, e)
    if shape == "flat":
        assert "payload" not in body and "createdAt" in body
    r = H.post(coach, body)
    assert r.status == 200 and r.json["status"] == "received", r
    assert r.json["type"] == "MEETING_ENDED"
    H.wait_processed(coach, r.json["delivery"])
    b = H.booking_for(coach, uid)
    assert b["status"] == "completed"
    (c,) = H.clients(coach)
    assert c["status"] == "active"
    assert len(H.activity(coach, kind="BOOKING_COMPLETED")) == 1
    (a,) = H.activity(coach, kind="CLIENT_ACTIVATED")
    assert a["client"] == c["id"], a
    assert [h["action"] for h in H.history(coach, b["uid"])] == \
        ["created", "completed"]
    # The documented fixture bodies (another uid) are taken as they are.
    raw = H.fixture_bytes(f"meeting_ended_{shape}")
    H.wait_processed(coach, H.received(coach, raw))


def test_meeting_ended_fixtures_complete_the_fixture_booking(cal):
    H.wait_processed(cal, H.received(cal, H.fixture_bytes("booking_created")))
    H.wait_processed(cal, H.received(cal,
                                     H.fixture_bytes("meeting_ended_flat")))
    # the wrapped one for the same booking: already completed, unchanged
    H.wait_processed(cal, H.received(
        cal, H.fixture_bytes("meeting_ended_wrapped")))
    (b,) = H.bookings(cal)
    assert b["status"] == "completed"
    assert H.clients(cal)[0]["status"] == "active"


# ---- replays ----------------------------------------------------------------

def test_replayed_delivery_is_200_duplicate_and_changes_nothing(coach):
    s, e = H.future_slot(days=3)
    uid = H.new_uid()
    bodies = [H.body_of(H.created(uid, s, e)),
              H.body_of(H.rescheduled(H.new_uid(), uid, s + DAY, e + DAY)),
              H.body_of(H.cancelled(uid)),
              H.body_of(H.ended_flat(H.new_uid(), s, e)),
              H.fixture_bytes("booking_requested")]
    first = []
    for raw in bodies:
        r = H.post(coach, raw)
        assert r.status == 200 and r.json["status"] in ("received",
                                                        "ignored"), r
        first.append(r.json)
    H.wait_final(coach, [x["delivery"] for x in first])
    H.wait_outbox_idle(coach)
    snap = coach.snapshot()
    for raw, f in zip(bodies, first):
        for _ in range(2):
            r = H.post(coach, raw)
            assert r.status == 200, r
            assert r.json == {"status": "duplicate",
                              "delivery": f["delivery"],
                              "type": f["type"]}, r.json
    time.sleep(0.3)
    assert coach.snapshot() == snap  # not one row changed, not even jobs


def test_same_booking_resent_with_a_new_created_at_is_applied_once(coach):
    """Cal.com has no delivery id: a resend with a new createdAt is a new
    delivery, and applying it finds the booking already there."""
    s, e = H.future_slot(days=3)
    uid = H.new_uid()
    ids = [H.received(coach, H.created(uid, s, e)) for _ in range(3)]
    assert len(set(ids)) == 3
    H.wait_processed(coach, ids)
    assert len(H.bookings(coach)) == 1
    assert len(H.activity(coach, kind="BOOKING_CREATED")) == 1
    assert len(H.activity(coach, kind="SYNC_EVENT_SKIPPED")) == 2


# ---- out of order -----------------------------------------------------------

def deliver_in_order(d, bodies):
    """Posts each body and waits until it is final before the next, so the
    apply order is the arrival order; returns the delivery rows."""
    rows = []
    for j in bodies:
        dlv = H.received(d, j)
        rows.append(H.wait_final(d, dlv)[dlv])
    return rows


def assert_all_processed(rows):
    bad = [(r["type"], r["status"], r["last_error"]) for r in rows
           if r["status"] != "processed"]
    assert not bad, bad


def test_cancel_before_create(coach):
    s, e = H.future_slot(days=3)
    uid = H.new_uid()
    rows = deliver_in_order(coach, [H.cancelled(uid, s, e, reason="late"),
                                    H.created(uid, s, e)])
    assert_all_processed(rows)
    (b,) = H.bookings(coach)
    assert b["status"] == "cancelled" and b["cancellation_reason"] == "late"
    assert H.calcom_uids(b) == {uid}
    assert intro_free(coach, s)


def test_reschedule_before_create(coach):
    t1, e1 = H.future_slot(days=3, hour=9)
    t2, e2 = H.future_slot(days=4, hour=9)
    a, b_uid = H.new_uid("a"), H.new_uid("b")
    rows = deliver_in_order(coach, [H.rescheduled(b_uid, a, t2, e2),
                                    H.created(a, t1, e1)])
    assert_all_processed(rows)
    (b,) = H.bookings(coach)
    assert b["status"] == "confirmed"
    assert parse_instant(b["start"]) == t2
    assert H.calcom_uids(b, superseded=False) == {b_uid}
    assert H.calcom_uids(b, superseded=True) == {a}
    assert intro_free(coach, t1) and not intro_free(coach, t2)


def test_duplicate_create_after_cancel_stays_cancelled(coach):
    s, e = H.future_slot(days=3)
    uid = H.new_uid()
    rows = deliver_in_order(coach, [H.created(uid, s, e),
                                    H.cancelled(uid, s, e),
                                    H.created(uid, s, e)])  # new createdAt
    assert_all_processed(rows)
    (b,) = H.bookings(coach)
    assert b["status"] == "cancelled"
    assert intro_free(coach, s)


def test_create_after_ended(coach):
    s, e = H.future_slot(days=1, hour=8)
    uid = H.new_uid()
    rows = deliver_in_order(coach, [H.ended_flat(uid, s, e,
                                                 email="late@client.example"),
                                    H.created(uid, s, e,
                                              email="late@client.example")])
    assert_all_processed(rows)
    (b,) = H.bookings(coach)
    assert b["status"] == "completed"
    (c,) = H.clients(coach)
    assert c["status"] == "active"


def test_reschedule_chain_in_reverse(coach):
    """A -> B -> C at Cal.com, delivered C, B, A: one booking at C's time."""
    t = [H.future_slot(days=3 + i, hour=9 + i) for i in range(3)]
    a, b_uid, c = H.new_uid("a"), H.new_uid("b"), H.new_uid("c")
    rows = deliver_in_order(coach, [
        H.rescheduled(c, b_uid, *t[2]),
        H.rescheduled(b_uid, a, *t[1]),
        H.created(a, *t[0])])
    assert_all_processed(rows)
    (b,) = H.bookings(coach)
    assert b["status"] == "confirmed"
    assert parse_instant(b["start"]) == t[2][0]
    assert H.calcom_uids(b, superseded=False) == {c}
    assert H.calcom_uids(b, superseded=True) == {a, b_uid}
    assert intro_free(coach, t[0][0]) and intro_free(coach, t[1][0])
    assert not intro_free(coach, t[2][0])


def test_reschedule_chain_in_order(coach):
    t = [H.future_slot(days=3 + i, hour=9 + i) for i in range(3)]
    a, b_uid, c = H.new_uid("a"), H.new_uid("b"), H.new_uid("c")
    rows = deliver_in_order(coach, [
        H.created(a, *t[0]),
        H.rescheduled(b_uid, a, *t[1]),
        H.rescheduled(c, b_uid, *t[2])])
    assert_all_processed(rows)
    (b,) = H.bookings(coach)
    assert parse_instant(b["start"]) == t[2][0]
    hist = H.history(coach, b["uid"])
    assert [h["action"] for h in hist] == \
        ["created", "rescheduled", "rescheduled"]
    assert [parse_instant(h["changes"]["start"][0]) for h in hist[1:]] == \
        [t[0][0], t[1][0]]  # history keeps the old times


def test_reschedule_chain_with_the_middle_step_late(coach):
    """A -> B -> C at Cal.com, delivered A, C (B->C), then B (A->B): the
    provider means one booking, at C's time. (B->C creates a booking of
    its own; A->B then shows it is the same provider booking as A's, whose
    copy is cancelled as superseded.)"""
    t = [H.future_slot(days=3 + i, hour=9 + i) for i in range(3)]
    a, b_uid, c = H.new_uid("a"), H.new_uid("b"), H.new_uid("c")
    rows = deliver_in_order(coach, [
        H.created(a, *t[0]),
        H.rescheduled(c, b_uid, *t[2]),
        H.rescheduled(b_uid, a, *t[1])])
    assert_all_processed(rows)
    active = H.bookings(coach, status="confirmed")
    assert len(active) == 1, [(x["start"], sorted(H.calcom_uids(x)))
                              for x in active]
    (live,) = active
    assert parse_instant(live["start"]) == t[2][0]
    assert H.calcom_uids(live, superseded=False) == {c}
    assert H.booking_for(coach, c)["uid"] == live["uid"]
    (copy,) = H.bookings(coach, status="cancelled")
    assert H.calcom_uids(copy) == {a}, copy
    assert H.calcom_uids(copy, superseded=False) == set(), copy
    assert live["uid"] in copy["cancellation_reason"], copy
    (sup,) = H.activity(coach, kind="BOOKING_SUPERSEDED")
    assert sup["booking"] == copy["uid"], sup
    assert intro_free(coach, t[0][0]) and intro_free(coach, t[1][0])
    assert not intro_free(coach, t[2][0])


def test_cancel_of_the_new_uid_before_its_reschedule(coach):
    """A -> B at Cal.com, then B cancelled; delivered A, cancel B, A->B:
    nothing stays booked."""
    t1, e1 = H.future_slot(days=3, hour=9)
    t2, e2 = H.future_slot(days=4, hour=9)
    a, b_uid = H.new_uid("a"), H.new_uid("b")
    rows = deliver_in_order(coach, [
        H.created(a, t1, e1),
        H.cancelled(b_uid, t2, e2),
        H.rescheduled(b_uid, a, t2, e2)])
    assert_all_processed(rows)
    assert H.bookings(coach, status="confirmed") == [], \
        [(x["start"], sorted(H.calcom_uids(x)))
         for x in H.bookings(coach)]
    assert H.booking_for(coach, b_uid)["status"] == "cancelled"
    assert intro_free(coach, t1) and intro_free(coach, t2)


def test_everything_at_once_in_any_order_settles(coach):
    """Several bookings' lifecycles posted concurrently in shuffled order:
    every delivery ends processed (no retry loop) and each booking ends in
    the state Cal.com means."""
    import random
    rnd = random.Random(7)
    bodies, expect = [], {}
    for i in range(8):
        s, e = H.future_slot(days=2 + i, hour=9)
        uid = H.new_uid(f"k{i}")
        bodies.append(H.created(uid, s, e))
        if i % 2:
            bodies.append(H.cancelled(uid, s, e))
            expect[uid] = "cancelled"
        else:
            bodies.append(H.ended_flat(uid, s, e))
            expect[uid] = "completed"
    rnd.shuffle(bodies)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ids = list(ex.map(lambda j: H.received(coach, j), bodies))
    H.wait_processed(coach, ids)
    got = {u: bs[0]["status"] for u, bs in H.by_calcom_uid(coach).items()
           if len(bs) == 1}
    assert got == expect
    assert len(H.bookings(coach)) == len(expect)


# ---- retries and dead letters -----------------------------------------------

# Two ways to make applying fail: the "inbox.apply" fault point (test
# builds: BOOKINGD_FAULTS="inbox.apply=N" fails the first N attempts), and
# the way it happens in production: a cancellation that carries no times for
# a booking bookingd has not seen yet cannot be recorded (ledger/sync.h:
# BK_E_RETRY "until its creation arrives").


def test_failed_attempts_are_retried_and_applied_once(make_daemon):
    d = H.start_calcom(make_daemon, BOOKINGD_FAULTS="inbox.apply=3",
                       BOOKINGD_JOB_MAX_ATTEMPTS=10,
                       BOOKINGD_JOB_RETRY_BASE_MS=50,
                       BOOKINGD_JOB_RETRY_MAX_MS=200)
    uid = H.new_uid()
    s, e = H.future_slot(days=4)
    dlv = H.received(d, H.created(uid, s, e))
    rows = H.wait_processed(d, [dlv])
    assert rows[dlv]["attempts"] == 4, rows[dlv]
    assert rows[dlv]["last_error"] is None, rows[dlv]
    assert len(H.by_calcom_uid(d)[uid]) == 1


def test_a_dead_waiting_cancellation_is_applied_when_its_booking_arrives(
        make_daemon):
    """A cancellation that ran out of attempts waiting for its booking is
    woken by the booking's creation: no admin replay needed."""
    d = H.start_calcom(make_daemon, BOOKINGD_JOB_MAX_ATTEMPTS=2,
                       BOOKINGD_JOB_RETRY_BASE_MS=50,
                       BOOKINGD_JOB_RETRY_MAX_MS=100)
    uid = H.new_uid()
    dlv = H.received(d, bare_cancel(uid))
    row = H.wait_until(
        lambda: (lambda r: r if r["status"] == "failed" else None)(
            H.delivery(d, dlv)), 30, "the cancellation to give up")
    assert row["attempts"] == 2 and "not known yet" in row["last_error"]
    s, e = H.future_slot(days=5)
    created_id = H.received(d, H.created(uid, s, e))
    rows = H.wait_processed(d, [created_id, dlv])
    assert rows[dlv]["status"] == "processed", rows[dlv]
    (b,) = H.bookings(d)
    assert b["status"] == "cancelled"

def bare_cancel(uid):
    """A BOOKING_CANCELLED reduced to its uid and reason (no times, no
    attendee): not enough to record an unknown booking."""
    j = H.cancelled(uid, reason="No longer needed")
    p = j["payload"]
    j["payload"] = {"uid": p["uid"], "bookingId": p["bookingId"],
                    "cancellationReason": p["cancellationReason"],
                    "status": "CANCELLED"}
    return j


def test_apply_is_retried_with_backoff_then_processed(make_daemon):
    d = H.start_calcom(make_daemon, BOOKINGD_JOB_MAX_ATTEMPTS=100,
                       BOOKINGD_JOB_RETRY_BASE_MS=100,
                       BOOKINGD_JOB_RETRY_MAX_MS=300)
    uid = H.new_uid()
    dlv = H.received(d, bare_cancel(uid))
    # Wait for a state that lasts: a second attempt has failed and the next
    # one is scheduled (the job is pending again). While an attempt runs,
    # next_attempt_at is null, so "attempts >= 2" alone may land mid-run.
    seen = []

    def failed_twice_and_rescheduled():
        r = H.delivery(d, dlv)
        seen.append(r)
        assert r["status"] in H.PENDING, seen[-5:]
        return r if r["attempts"] >= 2 and r["next_attempt_at"] else None

    row = H.wait_until(failed_twice_and_rescheduled, 30,
                       "a second failed attempt with a next one scheduled")
    assert row["status"] == "retrying", row
    assert "not known yet" in row["last_error"], row
    counts = [r["attempts"] for r in seen]
    assert counts == sorted(counts), counts  # attempts never go back
    with H.ro(d) as con:
        (job_error,), = con.execute(
            "SELECT j.last_error FROM jobs j JOIN inbox i ON i.job_id = j.id"
            " WHERE i.public_id = ?", (dlv,)).fetchall()
    assert "not known yet" in job_error, job_error
    assert H.bookings(d) == []
    s, e = H.future_slot(days=3)
    created_id = H.received(d, H.created(uid, s, e))
    rows = H.wait_processed(d, [created_id, dlv])
    assert rows[dlv]["attempts"] > 1, rows[dlv]
    (b,) = H.bookings(d)
    assert b["status"] == "cancelled"
    assert b["cancellation_reason"] == "No longer needed"


def test_a_retrying_delivery_shows_its_last_error(make_daemon):
    d = H.start_calcom(make_daemon, BOOKINGD_JOB_MAX_ATTEMPTS=100,
                       BOOKINGD_JOB_RETRY_BASE_MS=100,
                       BOOKINGD_JOB_RETRY_MAX_MS=300)
    dlv = H.received(d, bare_cancel(H.new_uid()))
    row = H.wait_until(
        lambda: (lambda r: r if r["attempts"] >= 2 else None)(
            H.delivery(d, dlv)), 30, "a second attempt")
    assert row["status"] == "retrying", row
    assert row["last_error"] and "not known yet" in row["last_error"], row


def test_apply_failing_for_good_ends_failed_and_is_not_retried_forever(
        make_daemon):
    d = H.start_calcom(make_daemon, BOOKINGD_JOB_MAX_ATTEMPTS=3,
                       BOOKINGD_JOB_RETRY_BASE_MS=20,
                       BOOKINGD_JOB_RETRY_MAX_MS=50)
    uid = H.new_uid()
    dlv = H.received(d, bare_cancel(uid))
    row = H.wait_final(d, dlv, timeout=30)[dlv]
    assert row["status"] == "failed", row
    assert row["attempts"] == 3, row
    assert "not known yet" in row["last_error"], row
    assert row["next_attempt_at"] is None, row
    assert [x["id"] for x in H.deliveries(d, status="failed")] == [dlv]
    with H.ro(d) as con:
        (status, attempts), = con.execute(
            "SELECT j.status, j.attempts FROM jobs j JOIN inbox i "
            "ON i.job_id = j.id WHERE i.public_id = ?", (dlv,)).fetchall()
    assert (status, attempts) == (3, 3)  # dead
    time.sleep(0.5)  # ten times the largest retry delay
    assert H.delivery(d, dlv)["attempts"] == 3
    assert H.bookings(d) == []
    # Once the booking is known, the dead letter comes back by itself (the
    # creation's apply wakes deliveries waiting for its booking, even dead
    # ones) and is applied.
    s, e = H.future_slot(days=3)
    H.wait_processed(d, H.received(d, H.created(uid, s, e)))
    row = H.wait_processed(d, dlv)[dlv]
    assert row["last_error"] is None, row
    assert H.booking_for(d, uid)["status"] == "cancelled"
    # An admin's replay of it now is accepted and changes nothing more.
    r = d.post(f"/api/v1/webhook-deliveries/{dlv}/replay", admin=True)
    assert r.status == 202, r
    assert r.json["id"] == dlv and r.json["status"] in H.PENDING + FINAL_OK
    H.wait_processed(d, dlv)
    assert H.booking_for(d, uid)["status"] == "cancelled"
    assert len(H.bookings(d)) == 1


FINAL_OK = ("processed",)


def test_a_failing_inbox_commit_is_5xx_and_stores_nothing(make_daemon):
    """inbox.commit fails the first transaction of the intake: the delivery
    is not acknowledged (so Cal.com may retry it) and nothing is stored;
    the resend is then taken and applied once."""
    d = H.start_calcom(make_daemon, BOOKINGD_FAULTS="inbox.commit=1")
    j = H.created()
    r = H.post(d, j)
    assert 500 <= r.status < 600, r
    assert_error(r, r.status)
    assert inbox_count(d) == 0
    assert_nothing_applied(d)
    dlv = H.received(d, j)
    H.wait_processed(d, dlv)
    assert len(H.bookings(d)) == 1


def test_a_broken_inbox_keeps_the_daemon_serving(make_daemon):
    d = H.start_calcom(make_daemon, BOOKINGD_FAULTS="inbox.commit=*")
    d.apply(standard_catalog())
    for _ in range(5):
        r = H.post(d, H.created())
        assert 500 <= r.status < 600, r
    assert inbox_count(d) == 0
    assert d.get("/healthz").status == 200
    assert d.get("/readyz").status == 200
    start = d.slot_starts("intro", days_ahead=2)[0]
    d.book("intro", start)  # the rest of the daemon works
    assert H.deliveries(d) == []


# ---- the admin's view of the inbox ------------------------------------------

def test_deliveries_list_filter_and_paging(cal):
    ids = {"processed": [], "ignored": [], "failed": []}
    for i in range(7):
        s, e = H.future_slot(days=3, hour=8 + i)
        ids["processed"].append(H.received(cal, H.created(start=s, end=e)))
    for _ in range(3):
        j = H.created()
        j["triggerEvent"] = "BOOKING_PAID"
        ids["ignored"].append(H.deliver(cal, j))
    for k in range(2):
        e = assert_error(H.post(cal, b"{bad json %d" % k), 400)
        ids["failed"].append(e["details"]["delivery"])
    H.wait_final(cal, ids["processed"])
    order = ids["processed"] + ids["ignored"] + ids["failed"]

    everything = H.deliveries(cal)
    assert [x["id"] for x in everything] == order[::-1]  # newest first
    for x in everything:
        assert set(x) >= {"id", "provider", "delivery_id", "type", "status",
                          "attempts", "last_error", "received_at",
                          "processed_at", "payload_bytes"}, x
        assert "payload" not in x  # lists leave the raw body out
        assert x["provider"] == "calcom"
    # Paging: every row exactly once, in order, whatever the page size.
    for limit in (1, 2, 5):
        seen, q = [], {"limit": str(limit)}
        for _ in range(50):
            r = cal.get("/api/v1/webhook-deliveries", query=q, admin=True)
            assert r.status == 200, r
            assert len(r.json["data"]) <= limit
            seen += [x["id"] for x in r.json["data"]]
            if not r.json["next_cursor"]:
                break
            q["cursor"] = r.json["next_cursor"]
        assert seen == order[::-1], limit
    # Filters.
    for status, want in ids.items():
        got = [x["id"] for x in H.deliveries(cal, status=status)]
        assert got == want[::-1], status
    assert H.deliveries(cal, status="received") == []
    assert [x["id"] for x in H.deliveries(cal, provider="calcom")] == \
        order[::-1]
    assert H.deliveries(cal, provider="stripe") == []
    got = [x["id"] for x in H.deliveries(cal, provider="calcom",
                                         status="failed", limit=1)]
    assert got == ids["failed"][::-1]
    # Bad queries.
    for q in [{"status": "done"}, {"limit": "0"}, {"limit": "501"},
              {"limit": "x"}, {"cursor": "garbage"}]:
        r = cal.get("/api/v1/webhook-deliveries", query=q, admin=True)
        assert_error(r, 400)


def test_delivery_detail_has_the_raw_payload_status_attempts_error(cal):
    raw = H.fixture_bytes("booking_created")
    dlv = H.received(cal, raw)
    H.wait_processed(cal, dlv)
    x = H.delivery(cal, dlv)
    assert x["id"] == dlv
    assert x["payload"].encode() == raw
    assert x["payload_bytes"] == len(raw)
    assert x["type"] == "BOOKING_CREATED"
    assert x["delivery_id"] == \
        "BOOKING_CREATED:bFJeNb2uX8ANpT3JL5EfXw:2026-11-20T10:15:02.512Z"
    assert x["status"] == "processed" and x["attempts"] == 1
    assert x["last_error"] is None and x["processed_at"], x
    assert parse_instant(x["received_at"]) <= parse_instant(x["processed_at"])
    e = assert_error(H.post(cal, b'{"triggerEvent": 5}'), 422)
    y = H.delivery(cal, e["details"]["delivery"])
    assert y["status"] == "failed" and y["last_error"], y
    assert y["delivery_id"].startswith("sha256:"), y
    assert y["payload"] == '{"triggerEvent": 5}'


def test_deliveries_api_needs_the_admin_key_and_known_ids(cal):
    dlv = H.received(cal, H.created())
    H.wait_processed(cal, dlv)
    for method, path in [("GET", "/api/v1/webhook-deliveries"),
                         ("GET", f"/api/v1/webhook-deliveries/{dlv}"),
                         ("POST", f"/api/v1/webhook-deliveries/{dlv}/replay")]:
        assert_error(cal.request(method, path), 401)
        assert_error(cal.request(method, path, admin="x" * 32), 401)
    assert_error(cal.get("/api/v1/webhook-deliveries/dlv_nope", admin=True),
                 404)
    assert_error(cal.post("/api/v1/webhook-deliveries/dlv_nope/replay",
                          admin=True), 404)


def test_admin_replay_of_a_processed_delivery_changes_no_booking(coach):
    s, e = H.future_slot(days=3)
    uid = H.new_uid()
    ids = [H.received(coach, H.created(uid, s, e)),
           H.received(coach, H.cancelled(uid, s, e))]
    H.wait_processed(coach, ids)
    before = ledger_rows(coach)
    for dlv in ids:
        r = coach.post(f"/api/v1/webhook-deliveries/{dlv}/replay",
                       admin=True)
        assert r.status == 202, r
        assert r.json["id"] == dlv
    rows = H.wait_processed(coach, ids)
    after = ledger_rows(coach)
    for t in ("bookings", "clients", "booking_history", "external_links",
              "hosts", "event_types"):
        assert after[t] == before[t], t
    # What the replays did is on record as skipped events, nothing else.
    new = [r for r in after["activity"] if r not in before["activity"]]
    assert [r[2] for r in new] == ["SYNC_EVENT_SKIPPED"] * 2, new
    for r in rows.values():
        assert r["attempts"] == 1, r
    assert H.booking_for(coach, uid)["status"] == "cancelled"


# ---- a flood ----------------------------------------------------------------

@pytest.mark.floods("hundreds of deliveries and slot queries at once from "
                    "127.0.0.1")
def test_flood_of_mixed_deliveries(coach):
    """Hundreds of deliveries from many threads, good and bad mixed, while
    other clients use the daemon: each gets its clear status, nothing is
    half-applied, and the daemon keeps serving."""
    n_threads = 24
    secret = coach.secret
    kinds = []
    good = []
    for i in range(120):
        s = dt.datetime.combine(today_utc() + dt.timedelta(days=2 + i // 20),
                                dt.time(8, 0), dt.timezone.utc) + \
            (i % 20) * 30 * MIN
        j = H.created(H.new_uid(f"f{i}"), s, s + 30 * MIN,
                      email=f"flood{i % 15}@client.example")
        good.append(j)
        kinds.append(("good", H.body_of(j), {}))
    for j in good[:40]:
        kinds.append(("replay", H.body_of(j), {}))
    for i in range(40):
        kinds.append(("badsig", H.body_of(H.created()),
                      {"signature": H.sign(secret + "!", b"x")}))
    for i in range(30):
        kinds.append(("malformed", b'{"triggerEvent":"BOOKING_CREATED",%d'
                      % i, {}))
    for i in range(30):
        j = H.created(email="half@client.example")
        del j["payload"]["startTime"]
        kinds.append(("invalid", H.body_of(j), {}))
    for i in range(20):
        kinds.append(("ctype", H.body_of(H.created()),
                      {"content_type": "text/plain"}))
    for i in range(20):
        j = H.created()
        j["triggerEvent"] = "BOOKING_REQUESTED"
        kinds.append(("ignored", H.body_of(j), {}))
    import random
    random.Random(3).shuffle(kinds)
    # A replay is "duplicate" only once its original was answered: the
    # replays go in a second wave, mixed with more bad input.
    first = [k for k in kinds if k[0] != "replay"]
    second = [k for k in kinds if k[0] == "replay"]
    second += [("badsig", H.body_of(H.created()), {"signature": False})
               for _ in range(10)]
    random.Random(4).shuffle(second)
    kinds = first + second

    stop = threading.Event()
    side = {"ok": 0, "bad": []}

    def side_traffic():
        while not stop.is_set():
            for path, admin in [("/healthz", False), ("/readyz", False),
                                ("/api/v1/webhook-deliveries", True),
                                ("/api/v1/event-types/intro/slots", False)]:
                try:
                    r = coach.get(path, admin=admin, timeout=10)
                    if r.status == 200:
                        side["ok"] += 1
                    else:
                        side["bad"].append((path, r.status))
                except OSError as e:
                    side["bad"].append((path, repr(e)))

    t = threading.Thread(target=side_traffic, daemon=True)
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(n_threads) as ex:
            results = []
            for wave in (first, second):
                results += list(ex.map(
                    lambda k: H.post(coach, k[1], **k[2]), wave))
    finally:
        stop.set()
        t.join(15)
    assert not side["bad"], side["bad"][:5]
    assert side["ok"] > 0

    want = {"good": (200, "received"), "replay": (200, "duplicate"),
            "badsig": (401, None), "malformed": (400, None),
            "invalid": (422, None), "ctype": (415, None),
            "ignored": (200, "ignored")}
    for (kind, raw, _), r in zip(kinds, results):
        status, word = want[kind]
        assert r.status == status, (kind, r)
        if word:
            assert r.json["status"] == word, (kind, r.json)
        else:
            assert_error(r, status)
    H.wait_idle(coach, timeout=90)

    rows = H.deliveries(coach)
    by_status = {}
    for x in rows:
        by_status[x["status"]] = by_status.get(x["status"], 0) + 1
    assert by_status == {"processed": 120, "failed": 60, "ignored": 20}, \
        by_status
    links = H.by_calcom_uid(coach)
    for j in good:
        bs = links.get(j["payload"]["uid"], [])
        assert len(bs) == 1 and bs[0]["status"] == "confirmed", \
            (j["payload"]["uid"], bs)
    assert len(H.bookings(coach)) == 120
    assert len(H.clients(coach)) == 15  # nobody from the invalid ones
    assert H.clients(coach, email="half@client.example") == []
    assert len(H.activity(coach, kind="BOOKING_CREATED")) == 120
    assert coach.get("/healthz").status == 200


# ---- providers, neutral: external_ids, the stored event, migration 002 -----

def test_event_type_mapped_by_external_ids_gets_the_calcom_bookings(cal):
    """external_ids.calcom maps a Cal.com event type like the old
    calcom_event_type_id did; ids are strings (a Calendly URI fits), and
    moving the mapping to another event type moves later bookings there."""
    cal.apply(standard_catalog())
    uri = "https://api.calendly.com/event_types/AAAAAAAAAAAAAAAA"
    r = cal.post("/api/v1/event-types", {
        "slug": "deep-dive", "title": "Deep dive", "host": "coach",
        "duration_minutes": 60,
        "external_ids": {"calcom": "4343", "calendly": uri}}, admin=True)
    assert r.status == 201, r
    assert r.json["external_ids"] == {"calcom": "4343", "calendly": uri}
    assert r.json["calcom_event_type_id"] == 4343  # the deprecated alias
    s, e = H.future_slot(days=5, minutes=60)
    H.wait_processed(cal, H.received(cal, H.created(start=s, end=e,
                                                    event_type_id=4343)))
    (b,) = H.bookings(cal)
    assert (b["event_type"], b["host"]) == ("deep-dive", "coach"), b

    # The mapping moves to 'intro': the next booking lands there.
    r = cal.patch("/api/v1/event-types/deep-dive",
                  {"external_ids": {"calendly": uri}}, admin=True)
    assert r.status == 200 and r.json["external_ids"] == {"calendly": uri}, r
    assert r.json["calcom_event_type_id"] is None
    r = cal.patch("/api/v1/event-types/intro", {"calcom_event_type_id": 4343},
                  admin=True)
    assert r.status == 200, r
    assert r.json["external_ids"] == {"calcom": "4343"}, r.json
    H.wait_processed(cal, H.received(cal, H.created(
        start=s + DAY, end=e + DAY, event_type_id=4343)))
    slugs = sorted(x["event_type"] for x in H.bookings(cal))
    assert slugs == ["deep-dive", "intro"], slugs
    assert H.activity(cal, kind="EVENT_TYPE_IMPORTED") == []


def test_delivery_stores_its_normalized_event(cal):
    j = H.created(event_type_id=FIXTURE_ET_ID)
    dlv = H.received(cal, j)
    H.wait_processed(cal, dlv)
    ignored = H.post(cal, H.fixture_bytes("booking_requested"))
    assert ignored.json["status"] == "ignored", ignored
    rows = dict(H.conftest.ledger_query(
        cal, "SELECT public_id, normalized FROM inbox"))
    ev = json.loads(rows[dlv])
    assert ev["version"] == 1 and ev["kind"] == "created", ev
    assert ev["provider"] == "calcom", ev
    assert ev["booking"]["uid"] == j["payload"]["uid"], ev
    assert ev["booking"]["event_type_id"] == str(FIXTURE_ET_ID), ev
    assert ev["booking"]["attendee"]["email"] == "alex@client.example", ev
    assert rows[ignored.json["delivery"]] is None
    # Imported rows are named after the provider's table row.
    (b,) = H.bookings(cal)
    assert b["event_type"].startswith("calcom-") and \
        b["host"].startswith("calcom-"), b


V1_SCHEMA = {
    "sqlite": H.conftest.pathlib.Path(__file__).resolve().parents[2] /
    "src" / "store" / "sqlite" / "schema" / "001_initial.sql",
    "postgres": H.conftest.pathlib.Path(__file__).resolve().parents[2] /
    "src" / "store" / "postgres" / "schema" / "001_initial.sql",
}


def _build_v1_database(backend, url, payload, uid):
    """A database at schema version 1 as an older bookingd left it: host
    'coach', event type 'legacy' with calcom_event_type_id 731, and one
    Cal.com delivery received but not applied yet (no normalized event:
    the column did not exist)."""
    rows = [
        ("INSERT INTO hosts (slug, name, email, timezone, created_utc,"
         " updated_utc) VALUES ('coach', 'Coach', 'coach@example.com',"
         " 'Europe/Berlin', 1, 1)", ()),
        ("INSERT INTO event_types (slug, title, host_id, duration_min,"
         " interval_min, buffer_before_min, buffer_after_min, notice_min,"
         " horizon_days, max_per_day, alignment, location_kind, active,"
         " calcom_event_type_id, imported, created_utc, updated_utc)"
         " VALUES ('legacy', 'Legacy', 1, 30, 30, 0, 0, 0, 60, 0, 0, 0, 1,"
         " 731, 0, 1, 1)", ()),
        ("INSERT INTO jobs (kind, dedupe_key, payload, run_at_ms, attempts,"
         " max_attempts, status, created_ms, updated_ms) VALUES"
         " ('inbox.apply', 'inbox:1', '1', 0, 0, 5, 0, 0, 0)", ()),
        ("INSERT INTO inbox (public_id, provider, delivery_key, type,"
         " received_ms, payload, payload_len, status, job_id, subject)"
         " VALUES ('dlv_legacy00000000000', 'calcom', 'legacy-key',"
         " 'BOOKING_CREATED', 0, ?, ?, 0, 1, ?)",
         (payload, len(payload), uid)),
    ]
    schema = V1_SCHEMA[backend].read_text()
    if backend == "sqlite":
        con = H.conftest.sqlite3.connect(url[len("sqlite:"):])
        con.executescript(schema)
        for sql, params in rows:
            con.execute(sql, params)
        con.execute("PRAGMA user_version = 1")
        con.commit()
        con.close()
        return
    con = H.conftest._pg().connect(url, connect_timeout=10)
    with con.cursor() as cur:
        cur.execute(schema)
        cur.execute("CREATE TABLE schema_version (version integer NOT NULL);"
                    "INSERT INTO schema_version (version) VALUES (1)")
        for sql, params in rows:
            cur.execute(sql.replace("?", "%s"), params)
    con.commit()
    con.close()


def test_pre_migration_database_keeps_its_calcom_mapping(make_daemon,
                                                         tmp_path):
    secret = H.new_secret()
    j = H.created(event_type_id=FIXTURE_ET_ID)
    payload = H.body_of(j)
    if H.conftest.BACKEND == "postgres":
        d = make_daemon(env=H.calcom_env(secret), start=False)
        _build_v1_database("postgres", d.database_url, payload,
                           j["payload"]["uid"])
    else:
        url = f"sqlite:{tmp_path / 'v1.db'}"
        _build_v1_database("sqlite", url, payload, j["payload"]["uid"])
        d = make_daemon(env=H.calcom_env(secret), start=False,
                        database_url=url)
    d.secret = secret
    d.start()

    # Migrated: the mapping is an external link, shown both ways.
    et = d.get("/api/v1/event-types/legacy", admin=True).json
    assert et["external_ids"] == {"calcom": "731"}, et
    assert et["calcom_event_type_id"] == 731, et
    links = H.conftest.ledger_query(
        d, "SELECT provider, kind, external_id FROM external_links"
        " WHERE entity = 2")
    assert links == [("calcom", "event_type", "731")], links
    if d.backend == "sqlite":  # the column stays, unused and NULL
        assert H.conftest.ledger_query(
            d, "SELECT calcom_event_type_id FROM event_types") == [(None,)]

    # The delivery stored before the migration has no normalized event:
    # it is normalized from its payload, and lands on the mapped type.
    H.wait_processed(d, "dlv_legacy00000000000")
    (b,) = H.bookings(d)
    assert (b["event_type"], b["host"]) == ("legacy", "coach"), b
    assert H.activity(d, kind="EVENT_TYPE_IMPORTED") == []
    # New deliveries use it too.
    s, e = H.future_slot(days=6)
    H.wait_processed(d, H.received(d, H.created(start=s, end=e,
                                                event_type_id=731)))
    assert sorted(x["event_type"] for x in H.bookings(d)) == \
        ["legacy", "legacy"]
