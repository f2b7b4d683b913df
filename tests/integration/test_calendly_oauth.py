"""A Calendly account connected with OAuth 2.0 (issue 10 §1,
connectors/calendly_oauth.c, api/calendly.c, docs/providers/calendly.md)
against the strict contract fake (calendly_fake.py: single-use rotating
refresh tokens, expiring access tokens, revocation, 8 tokens a minute):
the authorize and callback routes (signed one-time state, PKCE), the
tokens sealed at rest, and seed 003's token failures, each with a test —
an expired access token refreshed on a 401, refreshed ahead by the
background job, a refresh that fails retried with exponential backoff, a
revoked grant making the account needs_auth with its jobs kept and
resumed after consent, a grant revoked mid-run, rotation (the old refresh
token stops working), and many workers refreshing at once without losing
the rotated token."""
import base64
import secrets
import time
import urllib.parse

import pytest

import calendly_helpers as H
from calendly_fake import CalendlyFake
from conftest import ledger_query

PUBLIC = "https://bookings.example"
KEY = base64.b64encode(secrets.token_bytes(32)).decode()
JOB = "calendly.cancel"
DONE, DEAD = 2, 3


@pytest.fixture
def fake():
    f = CalendlyFake("pat-unused-" + secrets.token_hex(8))
    f.enable_oauth("cid-" + secrets.token_hex(6), "sec-" + secrets.token_hex(12))
    yield f
    f.close()


def start(make_daemon, fake, **extra):
    env = dict(CALENDLY_CLIENT_ID=fake.client_id,
               CALENDLY_CLIENT_SECRET=fake.client_secret,
               CALENDLY_OAUTH_BASE=fake.base,
               CALENDLY_API_BASE=fake.base + "/",
               BOOKINGD_SECRET_KEY=KEY, BOOKINGD_BASE_URL=PUBLIC,
               CALENDLY_REFRESH_INTERVAL_S="1",
               CALENDLY_REFRESH_BACKOFF_MS="300")
    env.update(extra)
    return H.start_calendly(make_daemon, **env)


def authorize(d):
    r = d.get("/api/v1/calendly/authorize", admin=True)
    assert r.status == 302, r
    assert r.header("Cache-Control") == "no-store"
    return r.header("Location")


def callback(d, back, status=200):
    u = urllib.parse.urlsplit(back)
    assert u.path == "/oauth/calendly/callback", u
    r = d.get(u.path, query=dict(urllib.parse.parse_qsl(u.query)))
    assert r.status == status, r
    return r


def connect(d, fake):
    r = callback(d, fake.consent(authorize(d)))
    assert r.json["auth"] == "oauth" and r.json["status"] == "active", r.json
    return r.json


def status(d):
    r = d.get("/api/v1/calendly", admin=True)
    assert r.status == 200, r
    return r.json


def jobs(d):
    return ledger_query(d, "SELECT status, attempts, last_error FROM jobs "
                           "WHERE kind = ? ORDER BY id", (JOB,))


def calendly_booking(d, fake, days=4, hour=10):
    inv = H.new_invitee()
    uuid = H.event_of(inv).rsplit("/", 1)[1]
    fake.add_event(uuid)
    start, end = H.future_slot(days=days, hour=hour)
    H.wait_processed(d, H.received(d, H.created(inv, start, end)))
    return H.booking_for(d, inv), uuid


def cancel(d, uid):
    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "ill"},
               admin=True)
    assert r.status == 200, r


def cancelled_at_calendly(fake, uuid):
    """The cancellation requests of the event once Calendly has cancelled
    it (requests rejected with 401 are recorded too)."""
    with fake.lock:
        done = fake.events[uuid]["status"] == "canceled"
    return [c for c in fake.cancellations() if c[0] == uuid] if done else []


def live_access(fake):
    now = time.monotonic()
    with fake.lock:
        return {t for t, exp in fake.access.items() if exp > now}


# ---- connecting --------------------------------------------------------------

def test_connect_stores_sealed_tokens_and_cancels_with_them(make_daemon,
                                                           fake):
    d = start(make_daemon, fake)
    assert status(d)["auth"] is None
    url = authorize(d)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert q["redirect_uri"] == PUBLIC + "/oauth/calendly/callback"
    assert q["code_challenge_method"] == "S256"
    st = callback(d, fake.consent(url)).json
    assert st["owner"].endswith("/users/FAKEUSERFAKEUSER"), st
    assert st["organization"] and st["expires_at"], st
    assert st["refresh_failures"] == 0 and st["last_error"] is None
    # At rest: sealed, no token in clear.
    (stored,), = ledger_query(d, "SELECT value FROM meta WHERE key = ?",
                              ("calendly.oauth",))
    with fake.lock:
        tokens = set(fake.access) | set(fake.refresh)
    assert tokens and not any(t in stored for t in tokens), stored
    b, uuid = calendly_booking(d, fake)
    cancel(d, b["uid"])
    H.wait_until(lambda: cancelled_at_calendly(fake, uuid), 30, "cancelled")
    (_, _, headers), = cancelled_at_calendly(fake, uuid)
    assert headers["Authorization"][7:] in live_access(fake)
    H.wait_until(lambda: jobs(d) == [(DONE, 1, None)], 30, "job done")
    # Forgetting the account: no auth left.
    assert d.delete("/api/v1/calendly", admin=True).status == 204
    assert status(d)["auth"] is None


def test_state_is_signed_expiring_and_single_use(make_daemon, fake):
    d = start(make_daemon, fake)
    back = fake.consent(authorize(d))
    u = urllib.parse.urlsplit(back)
    q = dict(urllib.parse.parse_qsl(u.query))
    for bad in ("", "x", "x.y", q["state"][:-2] + "AA",
                q["state"].replace(".", "x"), "a" * 2000,
                q["state"] + "." + q["state"]):
        r = d.get(u.path, query={"state": bad, "code": q["code"]})
        assert r.status == 403 and r.json["error"]["code"] == \
            "invalid_state", (bad, r)
    r = d.get(u.path, query={"code": q["code"]})
    assert r.status == 403, r
    callback(d, back)
    # The same redirect again: the state was used.
    r = callback(d, back, 403)
    assert r.json["error"]["code"] == "invalid_state"
    # A denied consent stores nothing.
    u2 = urllib.parse.urlsplit(fake.consent(authorize(d)))
    q2 = dict(urllib.parse.parse_qsl(u2.query))
    r = d.get(u2.path, query={"state": q2["state"],
                              "error": "access_denied"})
    assert r.status == 422 and r.json["error"]["code"] == \
        "authorization_denied", r
    # A code Calendly refuses (used, forged) is 400; nothing changes.
    u3 = urllib.parse.urlsplit(fake.consent(authorize(d)))
    q3 = dict(urllib.parse.parse_qsl(u3.query))
    r = d.get(u3.path, query={"state": q3["state"], "code": "forged"})
    assert r.status == 422 and r.json["error"]["code"] == \
        "calendly_grant_refused", r
    assert status(d)["status"] == "active"


def test_not_configured_answers_503(make_daemon):
    d = H.start_calendly(make_daemon)
    r = d.get("/api/v1/calendly/authorize", admin=True)
    assert r.status == 503 and r.json["error"]["code"] == "not_configured"
    assert d.get("/oauth/calendly/callback",
                 query={"state": "a.b", "code": "c"}).status == 503
    assert status(d) == {"auth": None, "status": None, "owner": None,
                         "organization": None, "expires_at": None,
                         "refresh_failures": 0, "next_refresh_at": None,
                         "last_error": None}
    assert d.get("/api/v1/calendly").status == 401


# ---- seed 003's token failures ----------------------------------------------

def test_expired_access_token_is_refreshed_on_401_and_rotated(make_daemon,
                                                             fake):
    d = start(make_daemon, fake)
    connect(d, fake)
    for i in range(2):
        with fake.lock:
            old_refresh = set(fake.refresh)
        fake.expire_access()
        b, uuid = calendly_booking(d, fake, days=4 + i)
        cancel(d, b["uid"])
        H.wait_until(lambda: cancelled_at_calendly(fake, uuid), 30,
                     "cancelled after a refresh")
        # Rotation: the refresh token used no longer works.
        with fake.lock:
            assert old_refresh <= fake.used_refresh
            assert not (old_refresh & fake.refresh)
    assert len(fake.grants("refresh_token", 200)) == 2
    assert fake.grants(status=400) == []
    H.wait_until(lambda: all(j[0] == DONE for j in jobs(d)) and
                 len(jobs(d)) == 2, 30, "jobs done")
    assert status(d)["status"] == "active"


def test_background_job_refreshes_before_expiry(make_daemon, fake):
    fake.expires_in = 8  # the job refreshes at half the lifetime
    d = start(make_daemon, fake)
    connect(d, fake)
    H.wait_until(lambda: len(fake.grants("refresh_token", 200)) >= 1, 30,
                 "a refresh ahead of expiry")
    # No API call was needed (and none was rejected) for it.
    assert not [r for r in fake.requests if r[1] != "/oauth/token"]
    assert status(d)["status"] == "active"


def test_refresh_failures_back_off_exponentially(make_daemon, fake):
    d = start(make_daemon, fake)
    connect(d, fake)
    fake.expire_access()
    fake.token_fail_next(500, 503)
    b, uuid = calendly_booking(d, fake)
    cancel(d, b["uid"])
    st = H.wait_until(lambda: (lambda s: s if s["refresh_failures"] >= 1
                               else None)(status(d)), 30, "a failure")
    assert st["last_error"] and "HTTP 50" in st["last_error"], st
    assert st["status"] == "active"
    H.wait_until(lambda: cancelled_at_calendly(fake, uuid), 60,
                 "cancelled once the token endpoint is back")
    log = fake.grants()
    assert [g[1] for g in log[-3:]] == [500, 503, 200], log
    t = [g[2] for g in log[-3:]]
    assert t[1] - t[0] >= 0.3 - 0.05, t
    assert t[2] - t[1] >= 0.6 - 0.05, t  # doubled
    st = status(d)
    assert st["refresh_failures"] == 0 and st["last_error"] is None, st
    H.wait_until(lambda: jobs(d) and jobs(d)[0][0] == DONE, 30, "done")


def test_revoked_grant_needs_auth_and_keeps_jobs(make_daemon, fake):
    d = start(make_daemon, fake, BOOKINGD_JOB_MAX_ATTEMPTS="3")
    connect(d, fake)
    # First a cancellation that goes through, then the grant is revoked
    # mid-run: the next one waits.
    b1, u1 = calendly_booking(d, fake, days=4)
    cancel(d, b1["uid"])
    H.wait_until(lambda: cancelled_at_calendly(fake, u1), 30, "first")
    fake.revoke()
    b2, u2 = calendly_booking(d, fake, days=5)
    cancel(d, b2["uid"])
    st = H.wait_until(lambda: (lambda s: s if s["status"] == "needs_auth"
                               else None)(status(d)), 30, "needs_auth")
    assert "invalid_grant" in st["last_error"], st
    # Kept: pending, deferred beyond its three attempts, never dead.
    H.wait_until(lambda: any(j[2] and "authorize again" in j[2]
                             for j in jobs(d)), 30, "the job waiting")
    time.sleep(1.5)  # several deferrals (retry max 200 ms)
    js = jobs(d)
    assert js[0][0] == DONE and js[1][0] in (0, 1), js
    assert js[1][1] <= 3, js
    assert cancelled_at_calendly(fake, u2) == []
    # The sync says so too.
    r = d.post("/api/v1/sync", {"provider": "calendly"}, admin=True)
    assert r.status == 200 and r.json["errors"], r
    assert "authorize again" in r.json["errors"][0]["message"], r.json
    # Authorized again: the kept job goes through, once.
    connect(d, fake)
    H.wait_until(lambda: cancelled_at_calendly(fake, u2), 30,
                 "the kept cancellation sent")
    H.wait_until(lambda: [j[0] for j in jobs(d)] == [DONE, DONE], 30,
                 "both done")
    # Sent with the old (revoked) token, refused; then with the new one.
    auths = [c[2]["Authorization"] for c in cancelled_at_calendly(fake, u2)]
    assert len(auths) == len(set(auths)) == 2, auths
    assert status(d)["status"] == "active"


def test_concurrent_refreshes_keep_the_rotated_token(make_daemon, fake):
    d = start(make_daemon, fake, BOOKINGD_WORKERS="4")
    connect(d, fake)
    made = [calendly_booking(d, fake, days=4 + i // 4, hour=9 + i % 4)
            for i in range(6)]
    fake.expire_access()
    for b, _ in made:
        cancel(d, b["uid"])
    for _, uuid in made:
        H.wait_until(lambda: cancelled_at_calendly(fake, uuid), 60,
                     "every cancellation sent")
    # One refresh for all of them; no refresh token used twice.
    assert len(fake.grants("refresh_token", 200)) == 1, fake.grants()
    assert fake.grants(status=400) == [], fake.grants()
    H.wait_until(lambda: len(jobs(d)) == 6 and
                 all(j[0] == DONE for j in jobs(d)), 30, "all done")
    # The stored refresh token is the live one: another refresh works.
    fake.expire_access()
    b, uuid = calendly_booking(d, fake, days=8)
    cancel(d, b["uid"])
    H.wait_until(lambda: cancelled_at_calendly(fake, uuid), 30, "again")
    assert len(fake.grants("refresh_token", 200)) == 2
    assert status(d)["status"] == "active"


@pytest.mark.parametrize("env,var", [
    ({"CALENDLY_CLIENT_ID": "x"}, "CALENDLY_CLIENT_SECRET"),
    ({"CALENDLY_CLIENT_SECRET": "x"}, "CALENDLY_CLIENT_ID"),
    ({"CALENDLY_CLIENT_ID": "a b", "CALENDLY_CLIENT_SECRET": "x"},
     "CALENDLY_CLIENT_ID"),
    ({"CALENDLY_OAUTH_BASE": "ftp://x"}, "CALENDLY_OAUTH_BASE"),
    ({"CALENDLY_REFRESH_INTERVAL_S": "0"}, "CALENDLY_REFRESH_INTERVAL_S"),
])
def test_bad_oauth_config_stops_the_start(make_daemon, env, var):
    d = make_daemon()
    p = d.cli("migrate", env=env)
    assert p.returncode != 0 and var in p.stderr, p.stderr


@pytest.mark.pg_only("two daemons share one database on PostgreSQL only")
def test_two_instances_refresh_once(make_daemon, fake):
    a = start(make_daemon, fake, BOOKINGD_WORKERS="2")
    b = make_daemon(env=dict(
        CALENDLY_CLIENT_ID=fake.client_id,
        CALENDLY_CLIENT_SECRET=fake.client_secret,
        CALENDLY_OAUTH_BASE=fake.base, CALENDLY_API_BASE=fake.base + "/",
        BOOKINGD_SECRET_KEY=KEY, BOOKINGD_BASE_URL=PUBLIC,
        CALENDLY_REFRESH_INTERVAL_S="1", CALENDLY_REFRESH_BACKOFF_MS="300",
        CALENDLY_WEBHOOK_SIGNING_KEY=a.secret, BOOKINGD_WORKERS="2",
        BOOKINGD_JOB_RETRY_BASE_MS="50", BOOKINGD_JOB_RETRY_MAX_MS="200"),
        name="b", database_url=a.database_url)
    connect(a, fake)
    made = [calendly_booking(a, fake, days=4 + i // 4, hour=9 + i % 4)
            for i in range(8)]
    fake.expire_access()
    for i, (bk, _) in enumerate(made):
        cancel(a if i % 2 else b, bk["uid"])
    for _, uuid in made:
        H.wait_until(lambda: cancelled_at_calendly(fake, uuid), 60,
                     "every cancellation sent")
    # One refresh between the two instances; no refresh token used twice
    # (which Calendly would answer invalid_grant, and bookingd would take
    # for a revoked grant).
    assert len(fake.grants("refresh_token", 200)) == 1, fake.grants()
    assert fake.grants(status=400) == [], fake.grants()
    assert status(a)["status"] == "active"
    assert status(b)["status"] == "active"
