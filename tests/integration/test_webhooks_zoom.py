"""POST /webhooks/zoom end to end (issue 10 §2, PROVIDERS.md §4.1-4.2,
docs/providers/zoom.md): the real daemon, bodies shaped as Zoom sends them
(tests/fixtures/zoom), signed here over the exact bytes the way Zoom signs
them: x-zm-signature: v0=<hex HMAC-SHA256(token, "v0:<ts>:<body>")> with
x-zm-request-timestamp: <ts>. The signature and its tolerance window, the
endpoint.url_validation challenge, meeting.ended completing the booking of
its meeting once (however often it is delivered), meetings bookingd does
not know, unknown events stored as ignored, hostile bodies with the ledger
unchanged."""
import copy
import hashlib
import hmac
import json
import pathlib
import secrets
import time

import pytest

import calcom_helpers as C
import conftest
from conftest import assert_error, standard_catalog

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "zoom"
PATH = "/webhooks/zoom"
TOLERANCE_S = 300


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def sign(token, ts, raw):
    msg = b"v0:" + str(ts).encode() + b":" + raw
    return "v0=" + hmac.new(token.encode(), msg, hashlib.sha256).hexdigest()


def post(d, body, token=None, ts=None, signature=None,
         content_type="application/json", timestamp=None):
    raw = C.body_of(body)
    ts = int(time.time()) if ts is None else ts
    hdrs = {}
    if signature is None:
        signature = sign(token or d.secret, ts, raw)
    if signature is not False:
        hdrs["x-zm-signature"] = signature
    if timestamp is not False:
        hdrs["x-zm-request-timestamp"] = str(ts) if timestamp is None \
            else timestamp
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    return d.request("POST", PATH, raw=raw, headers=hdrs, content_type=None)


def start_zoom(make_daemon, token=None):
    token = token or "zoom-secret-" + secrets.token_hex(12)
    d = make_daemon(env={"ZOOM_WEBHOOK_SECRET_TOKEN": token,
                         "BOOKINGD_JOB_RETRY_BASE_MS": "50",
                         "BOOKINGD_JOB_RETRY_MAX_MS": "200"})
    d.secret = token
    return d


@pytest.fixture
def zd(make_daemon):
    d = start_zoom(make_daemon)
    d.apply(standard_catalog())
    return d


def inbox_count(d):
    return conftest.ledger_query(d, "SELECT count(*) FROM inbox")[0][0]


def joined(meeting_id, email="ada@example.com", name="Ada Lovelace",
           uuid=None):
    j = fixture("participant_joined")
    j["payload"]["object"]["id"] = meeting_id
    j["payload"]["object"]["uuid"] = uuid or secrets.token_urlsafe(16)
    p = j["payload"]["object"]["participant"]
    p["email"] = email
    p["user_name"] = name
    p["participant_uuid"] = secrets.token_hex(8)
    j["event_ts"] = int(time.time() * 1000)
    return j


def applied(d, body):
    r = post(d, body)
    assert r.status == 200 and r.json["status"] == "received", r
    dlv = r.json["delivery"]
    row = C.wait_final(d, dlv)[dlv]
    assert row["status"] == "processed", row
    return dlv


def ended(meeting_id, uuid=None):
    j = fixture("meeting_ended")
    j["payload"]["object"]["id"] = meeting_id
    j["payload"]["object"]["uuid"] = uuid or secrets.token_urlsafe(16)
    j["event_ts"] = int(time.time() * 1000)
    return j


def new_meeting_id():
    return str(80000000000 + secrets.randbelow(9999999999))


def link_meeting(d, booking_uid, meeting_id):
    """Records booking_uid's Zoom meeting as the meetings connector does
    (an external link zoom/booking_uid/<meeting id>): the webhook side is
    tested here on its own."""
    bid = conftest.ledger_query(d, "SELECT id FROM bookings WHERE uid = ?",
                                (booking_uid,))[0][0]
    sql = ("INSERT INTO external_links (entity, entity_id, provider, kind, "
           "external_id, superseded, created_utc) "
           "VALUES (0, ?, 'zoom', 'booking_uid', ?, 0, ?)")
    if d.backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(d.db_path, timeout=10)
        with con:
            con.execute(sql, (bid, meeting_id, int(time.time())))
        con.close()
    else:
        con = conftest._pg().connect(d.database_url, connect_timeout=10)
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql.replace("?", "%s"),
                        (bid, meeting_id, int(time.time())))
        con.close()


def booked(d):
    start = d.slot_starts("intro")[0]
    return d.book("intro", start).json["uid"]


def ledger_state(d):
    snap = d.snapshot()
    return {t: snap.get(t, []) for t in ("bookings", "clients",
                                         "booking_history", "external_links")}


# ---- configuration and routing ------------------------------------------------

@pytest.mark.parametrize("value", [None, ""])
def test_without_a_secret_token_webhooks_are_refused_with_503(make_daemon,
                                                              value):
    d = make_daemon(env={"ZOOM_WEBHOOK_SECRET_TOKEN": value})
    r = post(d, fixture("meeting_ended"), token="whatever")
    e = assert_error(r, 503, "not_configured")
    assert "ZOOM_WEBHOOK_SECRET_TOKEN" in e["message"], e
    # Even the URL validation: Zoom must not see a validated endpoint that
    # cannot check signatures.
    r = post(d, fixture("endpoint_url_validation"), token="whatever")
    assert_error(r, 503, "not_configured")
    assert inbox_count(d) == 0


def test_only_post_is_routed(zd):
    for method in ["GET", "PUT", "DELETE"]:
        assert_error(zd.request(method, PATH), 405)


# ---- url_validation ------------------------------------------------------------

def test_url_validation_is_answered_as_zoom_requires_and_not_stored(zd):
    body = fixture("endpoint_url_validation")
    body["event_ts"] = int(time.time() * 1000)
    r = post(zd, body)
    assert r.status == 200, r
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    want = hmac.new(zd.secret.encode(), plain.encode(),
                    hashlib.sha256).hexdigest()
    assert r.json == {"plainToken": plain, "encryptedToken": want}, r.json
    assert (r.header("Content-Type") or "").startswith("application/json")
    # A new token each time (Zoom re-validates every 72 hours).
    body["payload"]["plainToken"] = "x" * 40
    r = post(zd, body)
    assert r.json["encryptedToken"] == hmac.new(
        zd.secret.encode(), b"x" * 40, hashlib.sha256).hexdigest()
    assert inbox_count(zd) == 0


def test_url_validation_needs_a_good_signature(zd):
    body = fixture("endpoint_url_validation")
    for kw in [{"signature": False}, {"token": "other"},
               {"ts": int(time.time()) - TOLERANCE_S - 60}]:
        r = post(zd, body, **kw)
        assert_error(r, 401)
        assert b"encryptedToken" not in r.body
    assert inbox_count(zd) == 0


@pytest.mark.parametrize("payload", [
    {}, {"plainToken": ""}, {"plainToken": 5}, {"plainToken": None},
    {"plainToken": "a" * 300}, {"plainToken": "\u0000x"}])
def test_a_malformed_url_validation_gets_no_token(zd, payload):
    body = {"event": "endpoint.url_validation", "event_ts": 1,
            "payload": payload}
    r = post(zd, body)
    assert b"encryptedToken" not in r.body, r
    if payload.get("plainToken") == "\u0000x":
        # NUL is refused by the parser: stored as failed, 400.
        assert_error(r, 400, "invalid_json")
    else:
        assert r.status == 200, r
        assert r.json["status"] == "ignored", r.json


# ---- the signature -------------------------------------------------------------

def test_bad_missing_or_stale_signature_is_401_and_stores_nothing(zd):
    raw = C.body_of(ended(new_meeting_id()))
    now = int(time.time())
    good = sign(zd.secret, now, raw)
    cases = {
        "missing": {"signature": False},
        "empty": {"signature": ""},
        "other token": {"token": zd.secret + "x"},
        "no timestamp header": {"timestamp": False},
        "other timestamp than signed": {"signature": good, "ts": now - 1},
        "without v0=": {"signature": good[3:]},
        "v1=": {"signature": "v1=" + good[3:]},
        "flipped digit": {"signature": good[:-1] +
                          ("0" if good[-1] != "0" else "1")},
        "truncated": {"signature": good[:-2]},
        "longer": {"signature": good + "00"},
        "not hex": {"signature": "v0=" + "z" * 64},
        "uppercase scheme": {"signature": "V0=" + good[3:]},
        "huge": {"signature": "v0=" + "a" * 5000},
        "stale": {"ts": now - TOLERANCE_S - 30},
        "future": {"ts": now + TOLERANCE_S + 30},
        "milliseconds": {"ts": now * 1000},
        "timestamp not a number": {"timestamp": "abc"},
        "negative timestamp": {"timestamp": f"-{now}"},
    }
    before = ledger_state(zd)
    for name, kw in cases.items():
        r = post(zd, raw, **kw)
        assert r.status == 401, (name, r)
    assert inbox_count(zd) == 0
    assert ledger_state(zd) == before


def test_the_signature_covers_the_exact_bytes(zd):
    body = ended(new_meeting_id())
    raw = json.dumps(body, indent=2).encode()
    r = post(zd, raw)
    assert r.status == 200, r
    # Re-serialized bytes signed, other bytes sent: refused.
    sig = sign(zd.secret, int(time.time()), json.dumps(body).encode())
    r = post(zd, raw + b" ", signature=sig)
    assert r.status == 401, r


def test_wrong_content_type_is_415(zd):
    r = post(zd, ended(new_meeting_id()), content_type="text/plain")
    assert_error(r, 415)
    assert inbox_count(zd) == 0


# ---- meeting.ended -------------------------------------------------------------

def test_meeting_ended_completes_the_booking_once(zd):
    uid = booked(zd)
    mid = new_meeting_id()
    link_meeting(zd, uid, mid)
    # The host joins, then the attendee (another case of the email).
    applied(zd, joined(mid, email="coach@example.com", name="Coach"))
    applied(zd, joined(mid, email="ADA@example.com"))
    assert C.booking(zd, uid)["status"] == "confirmed"
    body = ended(mid)
    r = post(zd, body)
    assert r.status == 200, r
    assert r.json["status"] == "received", r.json
    assert r.json["type"] == "meeting.ended"
    dlv = r.json["delivery"]
    rows = C.wait_final(zd, dlv)
    assert rows[dlv]["status"] == "processed", rows[dlv]
    assert C.booking(zd, uid)["status"] == "completed"
    # Zoom retries the same delivery: a replay, applied once.
    r = post(zd, body)
    assert r.status == 200 and r.json["status"] == "duplicate", r.json
    # Another delivery of the same end (another event_ts): unchanged.
    again = copy.deepcopy(body)
    again["event_ts"] += 1
    r = post(zd, again)
    rows = C.wait_final(zd, r.json["delivery"])
    assert rows[r.json["delivery"]]["status"] == "processed"
    hist = [h for h in C.history(zd, uid) if h["action"] == "completed"]
    assert len(hist) == 1, C.history(zd, uid)
    assert C.booking(zd, uid)["status"] == "completed"


def test_meeting_ended_without_the_attendee_is_a_no_show(zd):
    uid = booked(zd)
    mid = new_meeting_id()
    link_meeting(zd, uid, mid)
    applied(zd, joined(mid, email="coach@example.com", name="Ada Lovelace"))
    applied(zd, ended(mid))
    assert C.booking(zd, uid)["status"] == "no_show"


def test_a_guest_without_email_is_matched_by_name(zd):
    uid = booked(zd)
    mid = new_meeting_id()
    link_meeting(zd, uid, mid)
    applied(zd, joined(mid, email="", name="ada lovelace"))
    applied(zd, ended(mid))
    assert C.booking(zd, uid)["status"] == "completed"


def test_a_join_delivered_after_the_end_makes_it_completed(zd):
    uid = booked(zd)
    mid = new_meeting_id()
    link_meeting(zd, uid, mid)
    applied(zd, ended(mid))
    assert C.booking(zd, uid)["status"] == "no_show"
    applied(zd, joined(mid))
    assert C.booking(zd, uid)["status"] == "completed"


@pytest.mark.parametrize("participant", [
    {"email": 5}, {"email": None, "user_name": None},
    {"email": "", "user_name": ""}, "nobody", None])
def test_a_join_without_a_participant_is_failed(zd, participant):
    body = joined(new_meeting_id())
    if isinstance(participant, dict):
        body["payload"]["object"]["participant"].update(participant)
        if participant.get("email") == 5:
            body["payload"]["object"]["participant"]["user_name"] = None
    else:
        body["payload"]["object"]["participant"] = participant
    before = ledger_state(zd)
    r = post(zd, body)
    assert_error(r, 422, "invalid_field")
    assert ledger_state(zd) == before


def test_meeting_ended_of_an_unknown_meeting_changes_nothing(zd):
    before = ledger_state(zd)
    r = post(zd, ended(new_meeting_id()))
    assert r.status == 200, r
    dlv = r.json["delivery"]
    rows = C.wait_final(zd, dlv)
    assert rows[dlv]["status"] == "processed", rows[dlv]
    after = ledger_state(zd)
    for t in ("bookings", "clients", "external_links", "booking_history"):
        assert after[t] == before[t], t


def test_meeting_ended_of_a_cancelled_booking_leaves_it_cancelled(zd):
    uid = booked(zd)
    mid = new_meeting_id()
    link_meeting(zd, uid, mid)
    r = zd.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "ill"},
                admin=True)
    assert r.status == 200, r
    r = post(zd, ended(mid))
    C.wait_final(zd, r.json["delivery"])
    assert C.booking(zd, uid)["status"] == "cancelled"


# ---- other events and hostile bodies -------------------------------------------

@pytest.mark.parametrize("event", ["meeting.started", "recording.completed",
                                   "meeting.participant_left"])
def test_other_events_are_stored_as_ignored(zd, event):
    body = fixture("participant_joined")
    body["event"] = event
    before = ledger_state(zd)
    r = post(zd, body)
    assert r.status == 200, r
    assert r.json["status"] == "ignored", r.json
    assert C.delivery(zd, r.json["delivery"])["status"] == "ignored"
    assert ledger_state(zd) == before


def hostile_bodies():
    good = fixture("meeting_ended")

    def with_obj(**kw):
        j = copy.deepcopy(good)
        j["payload"]["object"].update(kw)
        return j

    return {
        "not json": b"{nope",
        "array": b"[]",
        "string": b'"meeting.ended"',
        "duplicate keys": b'{"event":"meeting.ended","event":"x"}',
        "no event": {"payload": good["payload"]},
        "event not a string": {"event": 5, "payload": good["payload"]},
        "event with spaces": {"event": "meeting ended",
                              "payload": good["payload"]},
        "no payload": {"event": "meeting.ended"},
        "payload a list": {"event": "meeting.ended", "payload": []},
        "no object": {"event": "meeting.ended", "payload": {}},
        "id missing": with_obj(id=None),
        "id not digits": with_obj(id="85746'; DROP TABLE bookings;--"),
        "id too long": with_obj(id="9" * 40),
        "id negative": with_obj(id=-5),
        "id a float": with_obj(id=1.5),
        "id an object": with_obj(id={"a": 1}),
        "nul in id": with_obj(id="123\u0000456"),
        "deeply nested": b'{"event":"meeting.ended","payload":' +
                         b'[' * 5000 + b']' * 5000 + b'}',
    }


@pytest.mark.parametrize("name", list(hostile_bodies()))
def test_hostile_bodies_never_touch_the_ledger(zd, name):
    body = hostile_bodies()[name]
    before = ledger_state(zd)
    r = post(zd, body)
    assert r.status in (200, 400, 413, 422), (name, r)
    if r.status == 200:
        assert r.json["status"] in ("ignored", "failed"), r.json
    if r.json and r.json.get("delivery"):
        row = C.wait_final(zd, r.json["delivery"])[r.json["delivery"]]
        assert row["status"] in ("failed", "ignored"), row
    assert ledger_state(zd) == before
    # The daemon still answers.
    assert zd.get("/healthz").status == 200


def test_an_oversized_body_is_refused(zd):
    raw = b'{"event":"meeting.ended","pad":"' + b"a" * (C.MAX_BODY + 10) + \
        b'"}'
    r = post(zd, raw)
    assert r.status == 413, r
    assert inbox_count(zd) == 0
