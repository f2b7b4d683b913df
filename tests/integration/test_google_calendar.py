"""Google Calendar connections against the contract fake of Google's OAuth
2.0 endpoints and Calendar API v3 (google_fake.py): the authorization code
flow with PKCE (authorize → consent → callback → connected), bookings
pushed as events with their own ids (create, reschedule as the same event,
cancel), a 409 of a retried insert, an event edited meanwhile (412),
access tokens refreshed before expiry and on a 401, a revoked grant
(needs_auth, jobs kept and resumed after consent again), busy time and the
host's moves and deletions pulled back (syncToken, 410), hostile callback
inputs. Tokens never appear in answers or logs."""
import base64
import datetime as dt
import http.client
import secrets
import urllib.parse

import pytest

import calcom_helpers as H
from conftest import assert_error, ledger_query, standard_catalog
from google_fake import GoogleFake

KEY = base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture
def google():
    g = GoogleFake()
    yield g
    g.close()


def start(make_daemon, google, **env):
    e = {"BOOKINGD_SECRET_KEY": KEY,
         "GOOGLE_CLIENT_ID": google.client_id,
         "GOOGLE_CLIENT_SECRET": google.client_secret,
         "GOOGLE_API_BASE": google.base + "/calendar/v3",
         "GOOGLE_OAUTH_BASE": google.base,
         "BOOKINGD_CALENDAR_TIMEOUT_MS": "5000",
         "BOOKINGD_JOB_RETRY_BASE_MS": "100",
         "BOOKINGD_JOB_RETRY_MAX_MS": "500",
         "BOOKINGD_JOB_MAX_ATTEMPTS": "100",
         "BOOKINGD_JOB_IDLE_POLL_MS": "50"}
    e.update(env)
    d = make_daemon(env=e)
    d.apply(standard_catalog())
    return d


def consent(google, authorize_url):
    """What the browser does at Google: the consent page redirects back."""
    u = urllib.parse.urlsplit(authorize_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 302, (r.status, authorize_url)
    back = urllib.parse.urlsplit(r.getheader("Location"))
    assert back.path == "/oauth/google/callback", back
    return back.path + "?" + back.query


def authorize(d, query=None):
    r = d.get("/api/v1/hosts/coach/calendars/google/authorize", admin=True,
              query=query)
    assert r.status == 302, r
    loc = r.header("Location")
    assert loc == r.json["authorize_url"]
    return loc


def connect(d, google, synced=True):
    """Connects; with synced, waits for the first sync (the job enqueued at
    connection) so that the tests' own syncs do not race it."""
    cb = consent(google, authorize(d))
    r = d.get(cb)
    assert r.status == 201, r
    if synced:
        cid = r.json["id"]
        H.wait_until(lambda: d.get(f"/api/v1/calendars/{cid}", admin=True)
                     .json["last_sync_at"], 30, "the first sync done")
    return r.json


def secrets_of(google):
    return list(google.issued) + [google.client_secret]


def assert_no_tokens(d, google, *texts):
    blob = "".join(texts) + d.stdout() + d.stderr()
    for s in secrets_of(google):
        assert s not in blob, "a token leaked"


def text(r):
    return r.body.decode("utf-8", "replace")


def iso(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def event_of(google, uid):
    for e in google.all_events().values():
        if e.get("extendedProperties", {}).get("private", {}).get(
                "bookingd_uid") == uid:
            return e
    return None


def test_authorize_callback_push_reschedule_cancel(make_daemon, google):
    d = start(make_daemon, google)
    loc = authorize(d)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    assert q["access_type"] == ["offline"] and q["client_id"] == [
        google.client_id], q
    assert q["code_challenge_method"] == ["S256"]
    r = d.get(consent(google, loc))
    assert r.status == 201, r
    conn = r.json
    assert conn["kind"] == "google" and conn["status"] == "active", conn
    assert conn["username"] == google.account
    assert [c["href"] for c in conn["calendars"] if c["write"]] == [
        google.account], conn
    assert [c["href"] for c in conn["calendars"] if c["busy"]] == [
        google.account], conn
    (cred,), = ledger_query(d, "SELECT credential FROM calendar_connections")
    assert cred.startswith("bk1:"), cred
    for t in secrets_of(google):
        assert t not in cred

    s = d.slot_starts("intro")
    b = d.book("intro", s[0], notes="Bring the draft").json
    uid, token = b["uid"], b["manage_token"]
    ev = H.wait_until(lambda: event_of(google, uid), 30, "the event")
    assert iso(ev["start"]["dateTime"]) == iso(b["start"]), (ev, b)
    assert "Ada Lovelace" in ev["summary"]
    assert "Bring the draft" in ev["description"]
    assert len(google.live_events()) == 1
    H.wait_outbox_idle(d)
    links = d.get(f"/api/v1/bookings/{uid}", admin=True).json["links"]
    ours = [l for l in links if l["provider"] == "google"]
    assert len(ours) == 1 and ours[0]["external_id"].endswith(ev["id"]), links
    # Every insert carried the booking's own id (a retry cannot duplicate).
    inserts = [r for r in google.requests if r[0] == "POST" and
               r[1].endswith("/events")]
    assert len(inserts) == 1 and b'"id": "' + ev["id"].encode() in \
        inserts[0][3].replace(b'":"', b'": "'), inserts

    r = d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s[3]},
               query={"token": token})
    assert r.status == 200, r
    H.wait_until(lambda: iso(event_of(google, uid)["start"]["dateTime"]) ==
                 iso(r.json["start"]), 30, "the event moved")
    assert len(google.all_events()) == 1  # the same event
    puts = [x for x in google.requests if x[0] == "PUT"]
    assert puts and all(x[2].get("If-Match") for x in puts), puts

    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "x"},
               query={"token": token})
    assert r.status == 200, r
    H.wait_until(lambda: not google.live_events(), 30, "the event deleted")
    H.wait_outbox_idle(d)
    c = d.get(f"/api/v1/calendars/{conn['id']}", admin=True)
    assert c.json["status"] == "active", c
    assert_no_tokens(d, google, text(c), text(r))


def test_hostile_callbacks(make_daemon, google):
    d = start(make_daemon, google)
    # No state, a forged one, a tampered one.
    assert d.get("/oauth/google/callback?code=x").status == 403
    assert d.get("/oauth/google/callback?code=x&state=abc.def").status == 403
    loc = authorize(d)
    st = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["state"][0]
    body, mac = st.split(".")
    forged = base64.urlsafe_b64encode(
        base64.urlsafe_b64decode(body + "==").replace(b"coach", b"other")
    ).rstrip(b"=").decode() + "." + mac
    r = d.get("/oauth/google/callback", query={"state": forged, "code": "x"})
    assert_error(r, 403, "invalid_state", "state")
    r = d.get("/oauth/google/callback",
              query={"state": "A" * 5000, "code": "x"})
    assert_error(r, 403, "invalid_state")
    # Missing code.
    r = d.get("/oauth/google/callback", query={"state": st})
    assert_error(r, 422, field="code")
    # The same state again: refused (used).
    cb = consent(google, authorize(d))
    r = d.get(cb)
    assert r.status == 201, r
    r2 = d.get(cb)
    assert r2.status == 403 and r2.json["error"]["code"] == "invalid_state"
    # A good state with a code Google does not know.
    st2 = urllib.parse.parse_qs(urllib.parse.urlsplit(
        authorize(d)).query)["state"][0]
    r = d.get("/oauth/google/callback", query={"state": st2, "code": "4/no"})
    assert r.status == 422 and r.json["error"]["code"] == \
        "google_grant_refused", r
    # Refused at Google's consent page.
    google.deny = True
    r = d.get(consent(google, authorize(d)))
    assert r.status == 422 and r.json["error"]["code"] == \
        "authorization_denied", r
    google.deny = False
    n = ledger_query(d, "SELECT count(*) FROM calendar_connections")[0][0]
    assert n == 1
    # Not admin: no redirect.
    assert d.get("/api/v1/hosts/coach/calendars/google/authorize").status \
        == 401
    assert d.get("/api/v1/hosts/nobody/calendars/google/authorize",
                 admin=True).status == 404
    assert d.post("/api/v1/hosts/coach/calendars",
                  {"kind": "google", "url": "https://x/", "username": "a",
                   "password": "b"}, admin=True).status == 422
    assert_no_tokens(d, google)


def test_not_configured(make_daemon, google):
    d = make_daemon(env={"BOOKINGD_SECRET_KEY": KEY})
    d.apply(standard_catalog())
    r = d.get("/api/v1/hosts/coach/calendars/google/authorize", admin=True)
    assert r.status == 503 and r.json["error"]["code"] == "not_configured", r


def test_refresh_on_expiry_and_401(make_daemon, google):
    google.token_ttl = 30  # within the minute bookingd refreshes ahead
    d = start(make_daemon, google, BOOKINGD_LOG_LEVEL="debug")
    conn = connect(d, google)
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    H.wait_until(lambda: event_of(google, b["uid"]), 30, "the event")
    assert google.token_requests("refresh_token"), "refreshed before expiry"
    google.token_ttl = 3599
    n = len(google.token_requests("refresh_token"))
    google.expire_access_tokens()  # the next call is a 401
    r = d.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[2]},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    H.wait_until(lambda: iso(event_of(google, b["uid"])["start"]["dateTime"])
                 == iso(r.json["start"]), 30, "moved after a 401")
    assert len(google.token_requests("refresh_token")) > n
    assert d.get(f"/api/v1/calendars/{conn['id']}",
                 admin=True).json["status"] == "active"
    assert "access token refreshed" in d.stdout() + d.stderr()  # debug on
    assert_no_tokens(d, google)


def test_revoked_needs_auth_jobs_resume(make_daemon, google):
    d = start(make_daemon, google)
    conn = connect(d, google)
    google.revoke()
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    c = H.wait_until(lambda: (lambda j: j if j["status"] == "needs_auth"
                              else None)(d.get(f"/api/v1/calendars/"
                                               f"{conn['id']}",
                                               admin=True).json),
                     30, "needs_auth")
    assert "invalid_grant" in c["last_error"], c
    H.wait_outbox_idle(d)
    assert not google.live_events()
    (dead,), = ledger_query(d, "SELECT count(*) FROM jobs WHERE kind = "
                            "'calendars.push' AND status = 3")  # dead
    assert dead == 0
    # Consent again: the same connection, active, the booking pushed.
    cb = consent(google, authorize(d, {"connection": conn["id"]}))
    r = d.get(cb)
    assert r.status == 200 and r.json["id"] == conn["id"], r
    assert r.json["status"] == "active"
    H.wait_until(lambda: event_of(google, b["uid"]), 30, "pushed after consent")
    assert_no_tokens(d, google)


def test_pull_busy_moves_deletes(make_daemon, google):
    d = start(make_daemon, google)
    conn = connect(d, google)
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    ev = H.wait_until(lambda: event_of(google, b["uid"]), 30, "the event")
    H.wait_outbox_idle(d)
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200 and r.json["errors"] == [], r
    # A busy event takes a slot away; a transparent one does not.
    t0, t1 = iso(s[4]), iso(s[4]) + dt.timedelta(minutes=30)
    google.add_busy("busy00001", t0.isoformat(), t1.isoformat())
    google.add_busy("free00001", iso(s[5]).isoformat(),
                    (iso(s[5]) + dt.timedelta(minutes=30)).isoformat(),
                    transparency="transparent")
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200 and r.json["errors"] == [], r
    assert r.json["created"] >= 1, r
    lists = [x for x in google.requests if x[0] == "GET" and
             x[1].endswith("/events")]
    assert lists  # incremental: the token was sent
    now = d.slot_starts("intro")
    assert s[4] not in now and s[5] in now, (s, now)
    # Moved in Google Calendar: the booking follows.
    new_start = iso(s[2])
    google.move(ev["id"], new_start.isoformat(),
                (new_start + dt.timedelta(minutes=30)).isoformat())
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200 and r.json["errors"] == [], r
    got = d.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert iso(got["start"]) == new_start, got
    H.wait_outbox_idle(d)  # the reschedule's own push, matching the move
    assert len(google.live_events()) == 3  # the booking, busy, free
    # An expired sync token: a full read (410), nothing lost.
    google.expire_sync_tokens()
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200 and r.json["errors"] == [], r
    assert s[4] not in d.slot_starts("intro")
    # Deleted in Google Calendar: the booking is cancelled.
    google.delete(ev["id"])
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200 and r.json["errors"] == [], r
    got = d.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert got["status"] == "cancelled", got
    assert_no_tokens(d, google)


def test_rate_limited_then_pushed(make_daemon, google):
    d = start(make_daemon, google)
    connect(d, google)
    google.fail_next(403, 429, 500)
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    H.wait_until(lambda: event_of(google, b["uid"]), 60, "pushed after 429s")
    assert len(google.live_events()) == 1


def test_lost_insert_answer_and_edit_meanwhile(make_daemon, google):
    """A retried insert meets its own event (409) and updates it; an event
    edited in Google meanwhile (412) is written over by a newer ledger
    change, never duplicated."""
    d = start(make_daemon, google)
    connect(d, google)
    google.lose_inserts = 1
    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    H.wait_until(lambda: event_of(google, b["uid"]), 30, "the event")
    H.wait_outbox_idle(d)
    assert len(google.all_events()) == 1
    posts = [x for x in google.requests if x[0] == "POST" and
             x[1].endswith("/events")]
    assert len(posts) == 2, posts  # the lost one and the 409
    assert [x for x in google.requests if x[0] == "PUT"]
    links = d.get(f"/api/v1/bookings/{b['uid']}", admin=True).json["links"]
    assert len([l for l in links if l["provider"] == "google"]) == 1, links
    # Edited in Google (new etag), then rescheduled in bookingd.
    cur = event_of(google, b["uid"])
    google.move(cur["id"], cur["start"]["dateTime"], cur["end"]["dateTime"])
    r = d.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[3]},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    H.wait_until(lambda: iso(event_of(google, b["uid"])["start"]["dateTime"])
                 == iso(r.json["start"]), 30, "written over after a 412")
    assert len(google.all_events()) == 1


def test_declined_and_hostile_events(make_daemon, google):
    d = start(make_daemon, google)
    conn = connect(d, google)
    s = d.slot_starts("intro")
    t = iso(s[1])
    google.add_busy("declined1", t.isoformat(),
                    (t + dt.timedelta(minutes=30)).isoformat(),
                    attendees=[{"email": google.account, "self": True,
                                "responseStatus": "declined"}])
    google.add_busy("hostile01", iso(s[2]).isoformat(),
                    (iso(s[2]) + dt.timedelta(minutes=30)).isoformat(),
                    summary="<script>alert(1)</script>\u0000" * 50)
    with google.lock:  # an event whose end precedes its start
        google._store(google.account, {
            "id": "broken001", "start": {"dateTime": iso(s[3]).isoformat()},
            "end": {"dateTime": (iso(s[3]) - dt.timedelta(hours=1))
                    .isoformat()}})
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200, r
    assert any("broken001" in e["message"] for e in r.json["errors"]), r
    now = d.slot_starts("intro")
    assert s[1] in now and s[2] not in now, (s, now)
    google.page_size = 1  # pages followed
    google.expire_sync_tokens()
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200, r
    assert s[2] not in d.slot_starts("intro")
    assert d.get("/healthz").status == 200


@pytest.mark.parametrize("env,var", [
    ({"GOOGLE_CLIENT_ID": "cid"}, "GOOGLE_CLIENT_SECRET"),
    ({"GOOGLE_CLIENT_SECRET": "s"}, "GOOGLE_CLIENT_ID"),
    ({"GOOGLE_CLIENT_ID": "two words", "GOOGLE_CLIENT_SECRET": "s"},
     "GOOGLE_CLIENT_ID"),
    ({"GOOGLE_API_BASE": "ftp://x.example"}, "GOOGLE_API_BASE"),
    ({"GOOGLE_OAUTH_BASE": "https://x.example/?a=b"}, "GOOGLE_OAUTH_BASE"),
    ({"GOOGLE_OAUTH_BASE": "not a url"}, "GOOGLE_OAUTH_BASE")])
def test_a_bad_configuration_stops_the_start(make_daemon, env, var):
    d = make_daemon(start=False)
    p = d.cli("serve", env=env, timeout=20)
    assert p.returncode == 2 and var in p.stderr, (p.returncode, p.stderr)


@pytest.mark.parametrize("junk", [b"<html>not json", b'{"items": 5}',
                                  b'{"items": [' + b'{"id": 1},' * 10 +
                                  b'{}]}',
                                  b'["x"' + b' ' * (5 << 20) + b']'],
                         ids=["html", "items-not-array", "ids-not-strings",
                              "over-the-cap"])
def test_malformed_and_huge_answers(make_daemon, google, junk):
    d = start(make_daemon, google, BOOKINGD_CALENDAR_MAX_RESPONSE=str(1 << 20))
    conn = connect(d, google)
    google.garbage.append(junk)
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200, r
    if junk.startswith(b'{"items": ['):  # read: nothing usable in it
        assert r.json["total"] == 0 and r.json["errors"] == [], r
    else:
        assert r.json["errors"], r
        c = d.get(f"/api/v1/calendars/{conn['id']}", admin=True).json
        assert c["status"] == "error" and c["last_error"], c
    # The next sync is fine again.
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200 and r.json["errors"] == [], r
    assert d.get(f"/api/v1/calendars/{conn['id']}",
                 admin=True).json["status"] == "active"
