"""The per-provider rate limits and circuit breakers (src/net/limits.h,
docs/providers/README.md) in the real daemon against the Zoom contract fake
(zoom_fake.py): Zoom down (every API call 503) opens the breaker after
BOOKINGD_LIMIT_ZOOM's failures; while it is open nothing reaches Zoom but
one probe per cooldown; the jobs refused meanwhile are deferred, not
failed (with fewer attempts allowed than the outage lasts); once Zoom is
back the probe closes the breaker and every booking gets exactly one
meeting. A 429's Retry-After pauses the provider (GET /api/v1/providers
shows it). A bad BOOKINGD_LIMIT_* value stops the start."""
import secrets

import pytest

import calcom_helpers as C
from conftest import ledger_query
from test_zoom_meetings import HOST_EMAIL, book, jobs, start, wait_meeting_url
from zoom_fake import ZoomFake

DONE, DEAD = 2, 3
COOLDOWN_S = 3


@pytest.fixture
def fake():
    f = ZoomFake("acct-" + secrets.token_hex(4), "cid-" + secrets.token_hex(4),
                 "secret-" + secrets.token_hex(8), users=(HOST_EMAIL,))
    yield f
    f.close()


def provider(d, name):
    r = d.get("/api/v1/providers", admin=True)
    assert r.status == 200, r
    names = [p["provider"] for p in r.json["data"]]
    assert names == sorted(names), names
    return next((p for p in r.json["data"] if p["provider"] == name), None)


def test_breaker_opens_on_an_outage_and_closes_after_it(make_daemon, fake):
    d = start(make_daemon, fake,
              BOOKINGD_LIMIT_ZOOM=f"failures=3,cooldown={COOLDOWN_S}s",
              BOOKINGD_JOB_MAX_ATTEMPTS="50")
    # Zoom is down: every API call answers 503 (no Retry-After).
    fake.fail_next(*([503] * 100000))
    uids = [book(d, i, email=f"p{i}@example.com") for i in range(4)]
    # Three failures open the breaker.
    p = C.wait_until(lambda: (lambda p: p if p and p["state"] != "closed"
                              else None)(provider(d, "zoom")),
                     40, "zoom's breaker open")
    assert p["consecutive_failures"] >= 3, p
    assert p["opened_at"] and p["next_probe_at"], p
    assert p["bucket"]["rate_per_second"] == 10
    assert p["breaker"] == {"failures_to_open": 3,
                            "cooldown_seconds": COOLDOWN_S}
    # Let probes fail (the breaker re-opens after each): jobs are refused
    # meanwhile, far more often than they reach Zoom. Failures counted:
    # the three that opened it, at most one more in flight per other
    # worker (BOOKINGD_WORKERS 2), then probes.
    p = C.wait_until(lambda: (lambda p: p if p["counts"]["failed"] >= 7 and
                              p["counts"]["refused"] >= 10 else None)(
        provider(d, "zoom")), 60, "failed probes and refusals")
    reqs = fake.api_requests()
    assert all(r[4] for r in reqs)
    times = [r[4] for r in reqs]
    # Only probes went after the opening: no more requests than the
    # opening's, stragglers and one per cooldown; the last two (probes)
    # a cooldown apart.
    assert len(reqs) <= 3 + 1 + (times[-1] - times[0]) / COOLDOWN_S + 1, \
        (len(reqs), times)
    assert times[-1] - times[-2] >= COOLDOWN_S - 0.3, times
    # No job died, and refusals used no attempt: the jobs' attempts add up
    # to the requests that reached Zoom (its failures), at most one more
    # per job in flight, though far more attempts were refused. (Counted
    # by state: a fixed attempt limit raced the probes on a slow machine.)
    rows = jobs(d)
    now = provider(d, "zoom")
    assert len(rows) == 4, rows
    assert all(r[0] != DEAD for r in rows), rows
    assert sum(r[1] for r in rows) <= now["counts"]["failed"] + len(rows), \
        (rows, now)
    assert now["counts"]["refused"] >= 10, now
    assert any("circuit breaker" in (r[2] or "") for r in rows), rows
    # Zoom is back: the next probe succeeds and closes the breaker.
    with fake.lock:
        fake.failures.clear()
    urls = [wait_meeting_url(d, uid, timeout=60) for uid in uids]
    C.wait_until(lambda: all(r[0] == DONE for r in jobs(d)), 60,
                 "every meeting job done")
    p = provider(d, "zoom")
    assert p["state"] == "closed" and p["consecutive_failures"] == 0, p
    assert p["opened_at"] is None and p["next_probe_at"] is None, p
    # Exactly one meeting per booking: nothing lost, nothing twice.
    assert len(fake.meetings) == 4, fake.meetings
    for uid, url in zip(uids, urls):
        ms = fake.by_marker(uid)
        assert len(ms) == 1, ms
        assert ms[0]["join_url"] == url
    links = ledger_query(d, "SELECT count(*) FROM external_links "
                            "WHERE provider = 'zoom' AND superseded = 0")
    assert links == [(4,)], links


def test_retry_after_pauses_the_provider(make_daemon, fake):
    d = start(make_daemon, fake)
    fake.retry_after = 6
    fake.fail_next(429)
    uid = book(d)
    p = C.wait_until(lambda: (lambda p: p if p and p["paused_until"]
                              else None)(provider(d, "zoom")),
                     40, "zoom paused by Retry-After")
    assert p["state"] == "closed" and p["consecutive_failures"] == 0, p
    assert p["counts"]["failed"] == 0, p
    url = wait_meeting_url(d, uid, timeout=60)
    assert len(fake.by_marker(uid)) == 1 and url
    # The first request after the 429 waited for its Retry-After.
    reqs = fake.api_requests()
    assert reqs[1][4] - reqs[0][4] >= 6 - 0.3, [r[:2] for r in reqs]


def test_providers_route_is_admin_only(make_daemon, fake):
    d = start(make_daemon, fake)
    assert d.get("/api/v1/providers").status == 401
    r = d.get("/api/v1/providers", admin=True)
    assert r.status == 200 and isinstance(r.json["data"], list), r


@pytest.mark.parametrize("value", [
    "rate=3/h", "burst=0", "failures=-1", "cooldown=0", "speed=1",
    "rate=3/s,", "x" * 300, "rate=1e9/s", "rate=3/s;burst=1",
])
def test_bad_limit_values_stop_the_start(make_daemon, value):
    d = make_daemon()
    p = d.cli("migrate", env={"BOOKINGD_LIMIT_ZOOM": value})
    assert p.returncode != 0, p.stderr
    assert "BOOKINGD_LIMIT_ZOOM" in p.stderr, p.stderr


def test_a_good_limit_value_is_taken(make_daemon, fake):
    d = start(make_daemon, fake,
              BOOKINGD_LIMIT_ZOOM="rate=120/m,burst=4,failures=7,cooldown=2m",
              BOOKINGD_LIMIT_WAIT_MS="20000")
    uid = book(d)
    wait_meeting_url(d, uid)
    p = provider(d, "zoom")
    assert p["bucket"]["rate_per_second"] == 2 and \
        p["bucket"]["burst"] == 4, p
    assert p["breaker"] == {"failures_to_open": 7, "cooldown_seconds": 120}
