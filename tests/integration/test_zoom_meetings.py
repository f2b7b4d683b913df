"""Zoom meetings for bookings (issue 10 §2, PROVIDERS.md §4.3-4.4,
docs/providers/zoom.md) against a strict contract fake of Zoom's OAuth and Meetings
API (zoom_fake.py): the real daemon, an event type whose location is Zoom,
bookings made, moved and cancelled through the API. The meeting is made
once (also when the answer to its creation is lost), its join URL becomes
the booking's meeting_url (and so the emails' and calendars'), it follows a
reschedule and goes with a cancellation; the token is asked for once and
again when it expires or is revoked; a 429's Retry-After is waited out."""
import secrets
import time

import pytest

import calcom_helpers as C
from conftest import ledger_query, parse_instant, standard_catalog
from zoom_fake import ZoomFake

JOB = "zoom.meeting"
DONE, DEAD = 2, 3
HOST_EMAIL = "coach@example.com"


@pytest.fixture
def fake():
    f = ZoomFake("acct-" + secrets.token_hex(4), "cid-" + secrets.token_hex(4),
                 "secret-" + secrets.token_hex(8), users=(HOST_EMAIL,))
    yield f
    f.close()


def start(make_daemon, fake, **extra):
    env = {"ZOOM_ACCOUNT_ID": fake.account_id,
           "ZOOM_CLIENT_ID": fake.client_id,
           "ZOOM_CLIENT_SECRET": fake.client_secret,
           "ZOOM_API_BASE": fake.base + "/v2/",
           "ZOOM_OAUTH_BASE": fake.base,
           "BOOKINGD_JOB_RETRY_BASE_MS": "50",
           "BOOKINGD_JOB_RETRY_MAX_MS": "300"}
    env.update(extra)
    d = make_daemon(env=env)
    d.apply(standard_catalog(event_types=[
        {"slug": "zoom-30", "title": "Zoom call", "duration_minutes": 30,
         "location": {"kind": "zoom"}}]))
    return d


@pytest.fixture
def zd(make_daemon, fake):
    return start(make_daemon, fake)


def jobs(d):
    return ledger_query(d, "SELECT status, attempts, last_error FROM jobs "
                           "WHERE kind = ? ORDER BY id", (JOB,))


def wait_settled(d, n, timeout=40):
    """Until at least n zoom.meeting jobs exist and none is pending or
    running."""
    return C.wait_until(
        lambda: (lambda rows: rows if len(rows) >= n and
                 all(r[0] in (DONE, DEAD) for r in rows) else None)(jobs(d)),
        timeout, f"{n} settled {JOB} jobs")


def book(d, i=0, slug="zoom-30", email="ada@example.com"):
    start = d.slot_starts(slug)[i]
    r = d.book(slug, start, email=email)
    return r.json["uid"]


def meeting_of(fake, uid):
    ms = fake.by_marker(uid)
    assert len(ms) == 1, ms
    return ms[0]


def wait_meeting_url(d, uid, timeout=40):
    return C.wait_until(lambda: C.booking(d, uid).get("meeting_url"),
                        timeout, "the booking's meeting_url")


# ---- the meeting's life --------------------------------------------------------

def test_a_confirmed_booking_gets_one_meeting_with_its_join_url(zd, fake):
    uid = book(zd)
    url = wait_meeting_url(zd, uid)
    wait_settled(zd, 1)
    m = meeting_of(fake, uid)
    assert url == m["join_url"]
    assert "zak=" not in url  # never the host's start URL
    b = C.booking(zd, uid)
    assert parse_instant(m["start_time"]) == parse_instant(b["start"]), \
        (m["start_time"], b["start"])
    assert m["duration"] == 30
    assert m["topic"] == "Zoom call with Ada Lovelace"
    assert m["_user"] == HOST_EMAIL
    assert len(fake.meetings) == 1
    links = ledger_query(zd, "SELECT external_id, superseded FROM "
                             "external_links WHERE provider = 'zoom'")
    assert links == [(str(m["id"]), 0)], links
    # The token was asked for once, with the account credentials grant.
    assert fake.token_requests == 1
    assert all(r[0] != "GET" or "/meetings?" in r[1]
               for r in fake.api_requests())
    # Its page and invite carry the join URL.
    ics = zd.get(f"/api/v1/bookings/{uid}/ics")
    if ics.status == 200:
        assert url.split("?")[0].encode() in ics.body


def test_bookings_of_other_event_types_make_no_meeting(zd, fake):
    uid = book(zd, slug="intro")
    C.wait_until(lambda: ledger_query(
        zd, "SELECT count(*) FROM jobs WHERE kind = ? AND status = ?",
        (JOB, DONE))[0][0] >= 1, 40, "the job done")
    assert fake.meetings == {}
    assert fake.api_requests() == []
    assert C.booking(zd, uid)["meeting_url"] is None


def test_reschedule_moves_the_meeting_and_cancel_deletes_it(zd, fake):
    uid = book(zd)
    wait_meeting_url(zd, uid)
    wait_settled(zd, 1)
    mid = meeting_of(fake, uid)["id"]
    new = zd.slot_starts("zoom-30", days_ahead=3)[2]
    r = zd.post(f"/api/v1/bookings/{uid}/reschedule", {"start": new},
                admin=True)
    assert r.status == 200, r
    b = C.booking(zd, uid)
    want = b["start"]
    wait_settled(zd, 2)
    assert len(fake.api_requests("PATCH")) == 1
    m = fake.meetings[mid]
    assert parse_instant(m["start_time"]) == parse_instant(want), \
        (m["start_time"], want)
    assert len(fake.meetings) == 1
    assert C.booking(zd, uid)["meeting_url"] == m["join_url"]
    r = zd.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "ill"},
                admin=True)
    assert r.status == 200, r
    C.wait_until(lambda: mid in fake.deleted, 40, "the meeting deleted")
    wait_settled(zd, 3)
    assert fake.meetings == {}
    links = ledger_query(zd, "SELECT superseded FROM external_links "
                             "WHERE provider = 'zoom'")
    assert links == [(1,)], links


def test_a_crash_after_zooms_201_makes_no_second_meeting(zd, fake):
    # The meeting is made, but its answer is lost (500): the retry finds
    # it by its marker instead of making another.
    fake.fail_after_create = 1
    uid = book(zd)
    url = wait_meeting_url(zd, uid)
    wait_settled(zd, 1)
    assert len(fake.meetings) == 1, fake.meetings
    m = meeting_of(fake, uid)
    assert url == m["join_url"]
    assert len(fake.api_requests("POST")) == 1
    assert jobs(zd)[0][1] >= 2  # attempts


def test_a_crash_then_cancel_deletes_the_unlinked_meeting(make_daemon, fake):
    # Every creation's answer is lost until the booking is cancelled: the
    # cancellation's job finds the meeting by its marker and deletes it.
    fake.fail_after_create = 1000
    d = start(make_daemon, fake, BOOKINGD_JOB_RETRY_BASE_MS="400",
              BOOKINGD_JOB_RETRY_MAX_MS="400")
    uid = book(d)
    C.wait_until(lambda: fake.by_marker(uid), 40, "a meeting made")
    fake.fail_after_create = 0
    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "x"},
               admin=True)
    assert r.status == 200, r
    wait_settled(d, 2, timeout=60)
    assert fake.by_marker(uid) == []
    assert fake.meetings == {}


def test_meetings_made_elsewhere_are_not_adopted(zd, fake):
    other = fake.add_meeting(HOST_EMAIL, "Team sync",
                             agenda="bookingd-booking: someone-else")
    uid = book(zd)
    wait_meeting_url(zd, uid)
    assert meeting_of(fake, uid)["id"] != other
    assert len(fake.meetings) == 2


def test_many_bookings_many_meetings_none_duplicated(zd, fake):
    uids = [book(zd, i, email=f"a{i}@example.com") for i in range(6)]
    for u in uids:
        wait_meeting_url(zd, u)
    wait_settled(zd, 6)
    assert len(fake.meetings) == 6
    for u in uids:
        assert C.booking(zd, u)["meeting_url"] == meeting_of(fake,
                                                             u)["join_url"]


# ---- token, limits, failures ----------------------------------------------------

def test_an_expired_token_is_replaced(make_daemon, fake):
    fake.expires_in = 2  # kept for half of it: 1 s
    d = start(make_daemon, fake)
    u1 = book(d, 0)
    wait_meeting_url(d, u1)
    n = fake.token_requests
    time.sleep(1.5)  # the token's lifetime is the subject here
    u2 = book(d, 1, email="b@example.com")
    wait_meeting_url(d, u2)
    assert fake.token_requests == n + 1
    # Every API call carried a token live at that moment: none was 401.
    assert len(fake.meetings) == 2


def test_a_revoked_token_is_asked_for_again(zd, fake):
    u1 = book(zd, 0)
    wait_meeting_url(zd, u1)
    assert fake.token_requests == 1
    fake.revoke()
    u2 = book(zd, 1, email="b@example.com")
    wait_meeting_url(zd, u2)
    assert fake.token_requests == 2
    assert len(fake.meetings) == 2


def test_429_retry_after_is_waited_out(zd, fake):
    fake.retry_after = 2
    fake.fail_next(429)
    uid = book(zd)
    wait_meeting_url(zd, uid)
    reqs = fake.api_requests()
    # The 429 and the next call to Zoom: at least Retry-After apart.
    assert len(reqs) >= 2
    assert reqs[1][4] - reqs[0][4] >= 1.9, [(r[0], r[1], r[4]) for r in reqs]
    assert len(fake.meetings) == 1


def test_outage_then_recovery_without_duplicates(zd, fake):
    fake.fail_next(500, 502, 503)
    uid = book(zd)
    wait_meeting_url(zd, uid)
    wait_settled(zd, 1)
    assert len(fake.meetings) == 1
    assert jobs(zd)[0][0] == DONE


def test_wrong_credentials_leave_the_booking_and_fail_visibly(make_daemon,
                                                              fake):
    d = start(make_daemon, fake, ZOOM_CLIENT_SECRET="wrong",
              BOOKINGD_JOB_MAX_ATTEMPTS="3")
    uid = book(d)
    rows = wait_settled(d, 1)
    assert rows[0][0] == DEAD, rows
    assert "ZOOM_CLIENT_SECRET" in rows[0][2], rows
    b = C.booking(d, uid)
    assert b["status"] == "confirmed" and b["meeting_url"] is None
    assert fake.meetings == {}


@pytest.mark.parametrize("var,value", [
    ("ZOOM_API_BASE", "ftp://x"), ("ZOOM_OAUTH_BASE", "http://x/?a=1"),
    ("ZOOM_CLIENT_ID", None), ("ZOOM_ACCOUNT_ID", "has space")])
def test_bad_configuration_stops_the_daemon(make_daemon, var, value):
    env = {"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "b",
           "ZOOM_CLIENT_SECRET": "c"}
    env[var] = value
    d = make_daemon(start=False)
    p = d.cli("serve", env=env, timeout=20)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert (var if value is not None else "ZOOM_CLIENT_ID") in p.stderr, \
        p.stderr


# ---- end to end: the emails, and the meeting's end -------------------------------

def test_the_confirmation_email_and_invite_carry_the_join_url(make_daemon,
                                                               fake,
                                                               tmp_path):
    from smtp_server import SmtpServer
    smtp = SmtpServer(tmp_path, tls=False).start()
    try:
        # Zoom answers slowly at first (a 500, then the retry): the
        # confirmation waits for the meeting instead of going without it.
        fake.fail_next(500, 500, 500)
        d = start(make_daemon, fake, **smtp.env())
        uid = book(d)
        url = wait_meeting_url(d, uid)
        got = smtp.wait_for(2)
        attendee = [m for m in got if "ada@example.com" in m["to"]]
        assert attendee, [m["to"] for m in got]
        raw = attendee[0]["raw"]
        assert url.split("?")[0].encode() in raw.replace(b"=\r\n", b""), \
            raw[:2000]
    finally:
        smtp.stop()


def test_attendee_joined_then_ended_completes_the_booking(make_daemon,
                                                            fake):
    import hashlib
    import hmac
    import json
    token = "zoom-secret-" + secrets.token_hex(8)
    d = start(make_daemon, fake, ZOOM_WEBHOOK_SECRET_TOKEN=token)
    uid = book(d)
    wait_meeting_url(d, uid)
    m = meeting_of(fake, uid)

    def send(body):
        ts = str(int(time.time()))
        sig = "v0=" + hmac.new(token.encode(), b"v0:" + ts.encode() + b":" +
                               body, hashlib.sha256).hexdigest()
        r = d.request("POST", "/webhooks/zoom", raw=body, content_type=None,
                      headers={"x-zm-signature": sig,
                               "x-zm-request-timestamp": ts,
                               "Content-Type": "application/json"})
        assert r.status == 200 and r.json["status"] == "received", r
        C.wait_final(d, r.json["delivery"])

    send(json.dumps({
        "event": "meeting.participant_joined",
        "event_ts": int(time.time() * 1000),
        "payload": {"account_id": fake.account_id, "object": {
            "id": str(m["id"]), "uuid": m["uuid"], "host_id": m["host_id"],
            "type": 2, "duration": 30, "participant": {
                "user_id": "1", "user_name": "Ada Lovelace",
                "join_time": m["start_time"],
                "email": "ada@example.com"}}}}).encode())
    body = json.dumps({
        "event": "meeting.ended", "event_ts": int(time.time() * 1000),
        "payload": {"account_id": fake.account_id, "object": {
            "id": str(m["id"]), "uuid": m["uuid"], "host_id": m["host_id"],
            "topic": m["topic"], "type": 2, "start_time": m["start_time"],
            "duration": 30, "timezone": "UTC",
            "end_time": m["start_time"]}}}).encode()
    send(body)
    assert C.booking(d, uid)["status"] == "completed"
    # A completed booking keeps its meeting (Zoom ends it by itself).
    wait_settled(d, 1)
    assert len(fake.meetings) == 1
