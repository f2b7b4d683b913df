"""Rate limits of the public endpoints per client address (issue 12,
"Operations"): 429 with Retry-After and the JSON error of API.md, recovery
after the window, other addresses unaffected (loopback aliases 127.0.0.2
and up are other addresses on Linux), the admin key never limited, each
class and its variable, 0 for no limit, and bad values refused at start.
The table's bound under a flood of addresses is a unit test
(tests/unit/http/test_ratelimit.c)."""
import http.client
import json
import time

import pytest

import calcom_helpers as ch
from conftest import Response, assert_error, standard_catalog

WAIT_S = 30
CLASSES = ["bookings", "slots", "webhooks", "manage"]


def req_from(d, source, method, path, body=None, headers=None, raw=None):
    """One request to d from the loopback address source."""
    hdrs = dict(headers or {})
    if body is not None:
        raw = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=raw, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


def slots_path():
    return "/api/v1/event-types/intro/slots"


def assert_limited(r, cls):
    e = assert_error(r, 429, "rate_limited")
    ra = r.header("Retry-After")
    assert ra and ra.isdigit() and int(ra) >= 1, r.headers
    assert e["details"]["limit"] == cls, e
    assert e["details"]["retry_after"] == int(ra), e
    assert cls in e["message"], e
    return int(ra)


def test_slot_queries_429_then_recover_other_address_unaffected(make_daemon):
    d = make_daemon(env={"BOOKINGD_RATE_LIMIT_SLOTS": "60,3"})
    d.apply(standard_catalog())
    for _ in range(3):
        assert req_from(d, "127.0.0.5", "GET", slots_path()).status == 200
    r = req_from(d, "127.0.0.5", "GET", slots_path())
    ra = assert_limited(r, "slots")
    assert ra == 1  # one token a second
    # Another address has its own bucket.
    assert req_from(d, "127.0.0.6", "GET", slots_path()).status == 200
    # The admin key is never limited.
    for _ in range(5):
        r = req_from(d, "127.0.0.5", "GET", slots_path(),
                     headers={"Authorization": f"Bearer {d.admin_key}"})
        assert r.status == 200, r
    # A wrong key is not the admin key.
    r = req_from(d, "127.0.0.5", "GET", slots_path(),
                 headers={"Authorization": "Bearer wrong-wrong-wrong-wrong"})
    assert_limited(r, "slots")
    # Other classes and unlimited endpoints are not affected.
    assert req_from(d, "127.0.0.5", "GET", "/api/v1/event-types").status == 200
    assert req_from(d, "127.0.0.5", "GET", "/healthz").status == 200
    # After the window it answers again (a token a second).
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        r = req_from(d, "127.0.0.5", "GET", slots_path())
        if r.status == 200:
            break
        assert_limited(r, "slots")
        time.sleep(0.2)
    assert r.status == 200, r
    # The 429s were counted.
    m = d.get("/metrics", admin=True).body.decode()
    line = [ln for ln in m.splitlines() if ln.startswith(
        'bookingd_http_rate_limited_total{class="slots"} ')]
    assert line and int(line[0].split()[-1]) >= 2, line


def test_booking_creation_is_limited_but_not_for_the_admin(make_daemon):
    d = make_daemon(env={"BOOKINGD_RATE_LIMIT_BOOKINGS": "1,1"})
    d.apply(standard_catalog())
    starts = d.slot_starts("intro")
    d.book("intro", starts[0], email="a1@example.com")
    r = d.book("intro", starts[1], email="a2@example.com", expect=None)
    ra = assert_limited(r, "bookings")
    assert 55 <= ra <= 60, ra  # one a minute
    # Nothing was booked by the refused request.
    taken = {b["start"] for b in d.list_all("/api/v1/bookings")}
    assert len(taken) == 1, taken
    d.book("intro", starts[1], email="a2@example.com", admin=True)
    # A second address books at once.
    r = req_from(d, "127.0.0.7", "POST", "/api/v1/bookings", body={
        "event_type": "intro", "start": starts[2],
        "attendee": {"name": "Bo", "email": "bo@example.com"}})
    assert r.status == 201, r


def test_webhook_intake_is_limited_and_stores_nothing(make_daemon):
    secret = ch.new_secret()
    d = make_daemon(env=ch.calcom_env(
        secret, BOOKINGD_RATE_LIMIT_WEBHOOKS="60,2"))
    d.secret = secret
    ch.received(d, ch.created())
    ch.received(d, ch.created())
    r = ch.post(d, ch.created())
    assert_limited(r, "webhooks")
    assert len(ch.deliveries(d)) == 2


def test_manage_token_endpoints_are_limited(make_daemon):
    d = make_daemon(env={"BOOKINGD_RATE_LIMIT_MANAGE": "60,2"})
    d.apply(standard_catalog())
    b = d.book("intro", d.slot_starts("intro")[0]).json
    path = f"/api/v1/bookings/{b['uid']}?token={b['manage_token']}"
    assert req_from(d, "127.0.0.8", "GET", path).status == 200
    assert req_from(d, "127.0.0.8", "GET",
                    f"/api/v1/bookings/{b['uid']}/ics?token="
                    f"{b['manage_token']}").status == 200
    # Guessing tokens costs the same tokens.
    r = req_from(d, "127.0.0.8", "GET",
                 f"/api/v1/bookings/{b['uid']}?token=guess")
    assert_limited(r, "manage")
    r = req_from(d, "127.0.0.8", "POST",
                 f"/api/v1/bookings/{b['uid']}/cancel?token="
                 f"{b['manage_token']}", body={"reason": "x"})
    assert_limited(r, "manage")
    assert req_from(d, "127.0.0.9", "GET", path).status == 200
    # The admin reads it whatever the bucket.
    assert d.get(f"/api/v1/bookings/{b['uid']}", admin=True).status == 200


def test_zero_means_no_limit(make_daemon):
    d = make_daemon(env={f"BOOKINGD_RATE_LIMIT_{c.upper()}": "0"
                         for c in CLASSES})
    d.apply(standard_catalog())
    for _ in range(150):
        r = req_from(d, "127.0.0.10", "GET", slots_path())
        assert r.status == 200, r


def test_default_limits_refuse_a_flood(make_daemon):
    """With the defaults a burst of slot queries from one address is cut
    off; the daemon keeps answering others."""
    d = make_daemon()
    d.apply(standard_catalog())
    codes = [req_from(d, "127.0.0.11", "GET", slots_path()).status
             for _ in range(200)]
    assert codes.count(200) >= 100, codes
    assert 429 in codes, codes
    assert req_from(d, "127.0.0.12", "GET", slots_path()).status == 200


@pytest.mark.parametrize("var,value", [
    ("BOOKINGD_RATE_LIMIT_BOOKINGS", "abc"),
    ("BOOKINGD_RATE_LIMIT_SLOTS", "-1"),
    ("BOOKINGD_RATE_LIMIT_WEBHOOKS", "10,0"),
    ("BOOKINGD_RATE_LIMIT_MANAGE", "10,5,1"),
    ("BOOKINGD_RATE_LIMIT_SLOTS", "1000001"),
    ("BOOKINGD_RATE_LIMIT_ADDRESSES", "63"),
    ("BOOKINGD_RATE_LIMIT_ADDRESSES", "x"),
])
def test_bad_values_stop_the_start(make_daemon, var, value):
    d = make_daemon(env={var: value}, start=False)
    p = d.cli("serve", timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert var in p.stderr, p.stderr
