"""Admin sign-in for the browser (docs/admin.md): POST /admin/login trades
the admin key for a session cookie; a cookie-authenticated request is admin
only with a valid, unexpired session, and a write only with the session's
X-CSRF-Token and a same-origin Origin; POST /admin/logout ends the session;
the bearer key keeps working; failed sign-ins are rate limited; the admin
pages redirect to the sign-in page without a session.
"""
import hashlib
import re
import time

import pytest

from conftest import assert_error, ledger_query
from test_clock import db_exec_many

COOKIE = "bookingd_admin"


def origin(d):
    return f"http://127.0.0.1:{d.port}"


def sign_in(d, key=None, headers=None):
    h = {"Origin": origin(d)}
    h.update(headers or {})
    return d.post("/admin/login", {"key": key or d.admin_key}, headers=h)


def cookie_of(r):
    """(token, attributes) of the Set-Cookie of r."""
    sc = r.header("Set-Cookie")
    assert sc, r
    first, *attrs = [p.strip() for p in sc.split(";")]
    name, _, value = first.partition("=")
    assert name == COOKIE, sc
    return value, attrs


def session(d):
    r = sign_in(d)
    assert r.status == 200, r
    token, _ = cookie_of(r)
    return token, r.json["csrf_token"]


def with_cookie(d, token, csrf=None, extra=None, origin_value=None):
    h = {"Cookie": f"{COOKIE}={token}"}
    if csrf is not None:
        h["X-CSRF-Token"] = csrf
    h["Origin"] = origin(d) if origin_value is None else origin_value
    h.update(extra or {})
    return h


def book_one(d):
    starts = d.slot_starts("intro")
    assert starts
    return d.book("intro", starts[0]).json


def status_of(d, uid):
    r = d.get(f"/api/v1/bookings/{uid}", admin=True)
    assert r.status == 200, r
    return r.json["status"]


def test_sign_in_cookie_attributes_and_session(app):
    d = app
    r = sign_in(d)
    assert r.status == 200, r
    token, attrs = cookie_of(r)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token
    lower = [a.lower() for a in attrs]
    assert "httponly" in lower
    assert "samesite=strict" in lower
    assert "path=/" in lower
    assert any(a.startswith("max-age=") and int(a[8:]) > 0 for a in lower)
    assert "secure" not in lower  # the base URL is http here
    assert r.header("Cache-Control") == "no-store"
    j = r.json
    assert j["user"] == "admin"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", j["csrf_token"])
    assert j["expires_at"]

    # Only the token's hash is stored, with the user and times.
    rows = ledger_query(d, "SELECT token_sha256, user_name, created_utc, "
                           "last_seen_utc, expires_utc FROM admin_sessions")
    assert len(rows) == 1
    h, user, created, seen, expires = rows[0]
    assert h == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(rows)
    assert user == "admin"
    now = int(time.time())
    assert abs(created - now) < 120 and seen == created
    assert created + 3600 < expires <= created + 7 * 86400

    # The cookie reads admin routes and tells the page its CSRF token.
    r = d.get("/api/v1/bookings", headers={"Cookie": f"{COOKIE}={token}"})
    assert r.status == 200, r
    r = d.get("/admin/session", headers={"Cookie": f"{COOKIE}={token}"})
    assert r.status == 200, r
    assert r.json["csrf_token"] == j["csrf_token"]
    assert r.json["user"] == "admin"
    # Other cookies around it do not matter.
    r = d.get("/admin/session",
              headers={"Cookie": f"a=1; {COOKIE}={token}; b=2"})
    assert r.status == 200, r

    # The admin pages: served with a session, a redirect without.
    r = d.get("/admin", headers={"Cookie": f"{COOKIE}={token}"})
    assert r.status == 200, r
    assert "text/html" in r.header("Content-Type")
    csp = r.header("Content-Security-Policy")
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    for path in ("/admin", "/admin/bookings", "/admin/bookings/x",
                 "/admin/clients/3"):
        r = d.get(path)
        assert r.status == 303, r
        assert r.header("Location") == "/admin/login"
        assert r.body == b""
    r = d.get("/admin/login")
    assert r.status == 200 and b"Admin key" in r.body, r

    # The bearer key keeps working, with or without a cookie.
    assert d.get("/api/v1/bookings", admin=True).status == 200


def test_wrong_key_and_rate_limit(app):
    d = app
    before = d.snapshot()
    r = sign_in(d, key="not-the-key")
    assert_error(r, 401)
    assert r.header("Set-Cookie") is None
    for bad in ({}, {"key": 5}, {"key": "x" * 5000}, {"key": "k", "x": 1}):
        r = d.post("/admin/login", bad, headers={"Origin": origin(d)})
        assert_error(r, 422)
    r = d.post("/admin/login", raw=b"{", headers={"Origin": origin(d)})
    assert_error(r, 400)
    r = d.post("/admin/login", raw=b"key=x", content_type=
               "application/x-www-form-urlencoded",
               headers={"Origin": origin(d)})
    assert_error(r, 415)
    # A sign-in posted from another site (login CSRF) is refused.
    r = sign_in(d, headers={"Origin": "http://evil.example"})
    assert_error(r, 403)
    assert d.snapshot() == before

    # Four more wrong keys make five: then even the right key waits.
    for _ in range(4):
        assert_error(sign_in(d, key="wrong"), 401)
    r = sign_in(d)
    assert_error(r, 429)
    assert int(r.header("Retry-After")) > 0
    assert d.snapshot() == before
    # The bearer key is not affected.
    assert d.get("/api/v1/bookings", admin=True).status == 200


def test_csrf_and_origin_on_writes(app):
    d = app
    token, csrf = session(d)
    b = book_one(d)
    uid = b["uid"]
    before = d.snapshot()
    path = f"/api/v1/bookings/{uid}/cancel"
    body = {"reason": "csrf test"}
    cases = [
        ("no token", with_cookie(d, token)),
        ("wrong token", with_cookie(d, token, csrf="A" * 43)),
        ("short token", with_cookie(d, token, csrf=csrf[:-1])),
        ("other origin", with_cookie(d, token, csrf,
                                     origin_value="http://evil.example")),
        ("origin null", with_cookie(d, token, csrf, origin_value="null")),
        ("origin suffix", with_cookie(
            d, token, csrf, origin_value=origin(d) + ".evil.example")),
        ("origin with a path", with_cookie(
            d, token, csrf, origin_value=origin(d) + "/x")),
        ("origin other port", with_cookie(
            d, token, csrf, origin_value="http://127.0.0.1:1")),
        ("huge token", with_cookie(d, token, csrf="A" * 6000)),
        ("token with a NUL", with_cookie(d, token, csrf=csrf + "%00")),
        ("token twice", with_cookie(d, token, csrf=csrf + csrf)),
    ]
    for name, h in cases:
        r = d.post(path, body, headers=h)
        assert_error(r, 403)
        r = d.post("/api/v1/event-types", {"slug": "x"}, headers=h)
        assert_error(r, 403)
        r = d.delete("/api/v1/event-types/intro", headers=h)
        assert_error(r, 403)
        r = d.post("/admin/logout", headers=h)
        assert_error(r, 403)
    # The cookie among many others, or a second cookie of the same name
    # that is not a session: the first one counts.
    many = "; ".join(f"c{i}=v{i}" for i in range(200))
    r = d.get("/api/v1/bookings",
              headers={"Cookie": f"{many}; {COOKIE}={token}"})
    assert r.status == 200, r
    r = d.get("/api/v1/bookings",
              headers={"Cookie": f"{COOKIE}={'B' * 43}; {COOKIE}={token}"})
    assert_error(r, 401)
    # No Origin header at all.
    h = {"Cookie": f"{COOKIE}={token}", "X-CSRF-Token": csrf}
    assert_error(d.post(path, body, headers=h), 403)
    assert d.snapshot() == before
    assert status_of(d, uid) == "confirmed"

    # The CSRF token of another session does not do.
    token2, csrf2 = session(d)
    assert csrf2 != csrf
    assert_error(d.post(path, body, headers=with_cookie(d, token, csrf2)),
                 403)
    assert status_of(d, uid) == "confirmed"

    # With both, the write goes through as the admin.
    r = d.post(path, body, headers=with_cookie(d, token, csrf))
    assert r.status == 200, r
    assert r.json["status"] == "cancelled"
    rows = ledger_query(d, "SELECT actor FROM booking_history h JOIN "
                           "bookings b ON b.id = h.booking_id WHERE b.uid = ? "
                           "ORDER BY h.id", (uid,))
    assert rows[-1][0] == "admin", rows

    # Public routes: a cookie without CSRF counts as no cookie at all, so
    # a visitor's booking still works while signed in.
    starts = d.slot_starts("intro")
    r = d.post("/api/v1/bookings",
               {"event_type": "intro", "start": starts[0],
                "attendee": {"name": "Vi", "email": "vi@example.com"}},
               headers={"Cookie": f"{COOKIE}={token}"})
    assert r.status == 201, r


def test_expired_unknown_and_malformed_sessions(app):
    d = app
    token, csrf = session(d)
    uid = book_one(d)["uid"]
    for bad in ("", "x", "A" * 43, token[:-1] + ("A" if token[-1] != "A"
                                                 else "B"),
                token + "A", "\u00e9" * 43, "../" * 20, "A" * 5000):
        h = {"Cookie": f"{COOKIE}={bad}"}
        try:
            h["Cookie"].encode("latin-1")
        except UnicodeEncodeError:
            continue
        r = d.get("/api/v1/bookings", headers=h)
        assert_error(r, 401)
        assert d.get("/admin", headers=h).status == 303

    # Expired (as if its time passed): refused for reads and writes.
    now = int(time.time())
    db_exec_many(d, "UPDATE admin_sessions SET created_utc = ?, "
                    "last_seen_utc = ?, expires_utc = ?",
                 [(now - 100, now - 100, now - 1)])
    h = with_cookie(d, token, csrf)
    assert_error(d.get("/api/v1/bookings", headers=h), 401)
    assert d.get("/admin", headers=h).status == 303
    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "late"},
               headers=h)
    assert_error(r, 401)
    assert status_of(d, uid) == "confirmed"
    # A new sign-in prunes the expired row.
    session(d)
    assert len(ledger_query(d, "SELECT id FROM admin_sessions")) == 1


def test_sliding_expiry(app):
    d = app
    token, _ = session(d)
    # Pretend the last request was two minutes ago, near the idle end.
    now = int(time.time())
    db_exec_many(d, "UPDATE admin_sessions SET last_seen_utc = ?, "
                    "expires_utc = ?", [(now - 120, now + 30)])
    assert d.get("/admin/session",
                 headers={"Cookie": f"{COOKIE}={token}"}).status == 200
    (seen, expires, created), = ledger_query(
        d, "SELECT last_seen_utc, expires_utc, created_utc "
           "FROM admin_sessions")
    assert seen >= now - 5
    assert expires > now + 3600
    assert expires <= created + 7 * 86400


def test_sign_out(app):
    d = app
    token, csrf = session(d)
    other, _ = session(d)
    r = d.post("/admin/logout", headers=with_cookie(d, token, csrf))
    assert r.status == 204, r
    value, attrs = cookie_of(r)
    assert value == ""
    assert "max-age=0" in [a.lower() for a in attrs]
    h = {"Cookie": f"{COOKIE}={token}"}
    assert_error(d.get("/api/v1/bookings", headers=h), 401)
    assert_error(d.get("/admin/session", headers=h), 401)
    # Only that session ended.
    assert d.get("/admin/session",
                 headers={"Cookie": f"{COOKIE}={other}"}).status == 200
    hashes = [r[0] for r in ledger_query(d, "SELECT token_sha256 FROM "
                                            "admin_sessions")]
    assert hashes == [hashlib.sha256(other.encode()).hexdigest()]
    # Without a session there is nothing to sign out of.
    assert_error(d.post("/admin/logout"), 401)


def test_secure_cookie_with_https_base_url(make_daemon):
    d = make_daemon(env={"BOOKINGD_BASE_URL": "https://book.example.com"})
    r = d.post("/admin/login", {"key": d.admin_key},
               headers={"Origin": "https://book.example.com"})
    assert r.status == 200, r
    sc = r.header("Set-Cookie")
    name = sc.split("=", 1)[0]
    assert name == "__Host-bookingd_admin", sc
    assert "secure" in [a.strip().lower() for a in sc.split(";")]
    token = sc.split(";")[0].split("=", 1)[1]
    csrf = r.json["csrf_token"]
    h = {"Cookie": f"__Host-bookingd_admin={token}", "X-CSRF-Token": csrf,
         "Origin": "https://book.example.com"}
    r = d.post("/api/v1/hosts", {"slug": "h", "name": "H",
                                 "email": "h@example.com",
                                 "timezone": "UTC"}, headers=h)
    assert r.status == 201, r
    # The plain-http cookie name does not count there.
    h["Cookie"] = f"bookingd_admin={token}"
    assert_error(d.get("/api/v1/hosts", headers=h), 401)


def test_bookings_host_filter(app):
    """GET /api/v1/bookings?host= (the dashboard's host filter)."""
    d = app
    uid = book_one(d)["uid"]
    rows = d.list_all("/api/v1/bookings", query={"host": "coach"})
    assert [r["uid"] for r in rows] == [uid]
    assert all(r["host"] == "coach" for r in rows)
    assert d.list_all("/api/v1/bookings", query={"host": "nobody"}) == []
    for hostile in ("", "x" * 5000, "'; DROP TABLE bookings; --", "%00"):
        r = d.get("/api/v1/bookings", query={"host": hostile}, admin=True)
        assert r.status == 200 and r.json["data"] == [], r
