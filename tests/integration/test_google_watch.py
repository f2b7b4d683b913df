"""Google Calendar push notifications (events.watch) against the contract
fake (google_fake.py, which validates the watch body as Google does and
sends notifications to the daemon): a channel per busy or write calendar,
a notification that pulls the connection at once (many of them: one or two
pulls), channels renewed before they expire and stopped (channels.stop)
when the connection is deleted or its grant revoked; forged, malformed and
oversized notifications refused with nothing stored or enqueued; off where
BOOKINGD_BASE_URL is not https and public (BOOKINGD_GOOGLE_WATCH_ALLOW_PRIVATE
is the tests' switch)."""
import http.client
import re
import secrets
import subprocess
import time

import pytest

import calcom_helpers as H
from conftest import Daemon, ledger_query
from test_google_calendar import (assert_no_tokens, connect, google,  # noqa
                                  start)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                  r"[0-9a-f]{12}$")
WATCH = {"BOOKINGD_GOOGLE_WATCH_ALLOW_PRIVATE": "1",
         "BOOKINGD_GOOGLE_WATCH_TTL_S": "3600"}


def watching(make_daemon, google, **env):
    google.allow_http = True
    return start(make_daemon, google, **{**WATCH, **env})


def watch_requests(google):
    with google.lock:
        return [r for r in google.requests if r[0] == "POST" and
                r[1].endswith("/events/watch")]


def list_requests(google):
    with google.lock:
        return [r for r in google.requests if r[0] == "GET" and
                r[1].endswith("/events")]


def pull_jobs(d):
    return ledger_query(d, "SELECT dedupe_key, status FROM jobs"
                           " WHERE kind = 'calendars.gpull'")


def post(d, headers, body=b""):
    c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
    try:
        c.request("POST", "/webhooks/google", body=body,
                  headers={"Content-Length": str(len(body)), **headers})
        r = c.getresponse()
        r.read()
        return r.status
    except (ConnectionError, http.client.HTTPException):
        return 0
    finally:
        c.close()


def one_channel(google):
    return H.wait_until(lambda: (google.live_channels() or [None])[0], 60,
                        "a watch channel")


def test_watch_notify_pull_renew_and_stop(make_daemon, google):
    # A short life: the channel is renewed within the test (a check every
    # ttl/4, renewal when less than half is left).
    d = watching(make_daemon, google, BOOKINGD_GOOGLE_WATCH_TTL_S="16")
    assert "push notifications to http://127.0.0.1" in d.stderr()
    conn = connect(d, google)
    ch = one_channel(google)
    assert ch["cal"] == google.account  # busy and write; Team is neither
    assert UUID.match(ch["id"]), ch
    assert ch["address"] == f"http://127.0.0.1:{d.port}/webhooks/google"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", ch["token"]), ch
    now_ms = time.time() * 1000
    assert now_ms < ch["expiration"] <= now_ms + 17000, ch
    assert len(google.live_channels()) == 1
    (row,) = ledger_query(d, "SELECT channel_id, resource_id FROM"
                             " google_channels")
    assert row == (ch["id"], ch["resourceId"])
    # Google's first message ("sync") is acknowledged, and pulls nothing
    # (it may have raced the channel's row: then 401).
    H.wait_until(lambda: any(n[1] == "sync" for n in google.notifications),
                 30, "the sync message")
    assert all(n[2] in (200, 401) for n in google.notifications
               if n[1] == "sync"), google.notifications
    assert pull_jobs(d) == []

    # A change in the calendar, told by a notification: pulled at once
    # (the periodic sync is 5 minutes away).
    s = d.slot_starts("intro")
    google.add_busy("busy00001", s[1], _plus(s[1], 1800))
    before = len(list_requests(google))
    assert google.notify(ch["id"], "exists") == 200
    H.wait_until(lambda: s[1] not in d.slot_starts("intro"), 60,
                 "the busy time pulled")
    assert len(list_requests(google)) > before

    # Many notifications at once: one or two pulls, not one each.
    H.wait_until(lambda: all(st == 2 for _, st in pull_jobs(d)), 60,
                 "the pull done")
    before = len(list_requests(google))
    statuses = [google.notify(ch["id"], "exists") for _ in range(25)]
    assert set(statuses) == {200}, statuses
    H.wait_until(lambda: all(st == 2 for _, st in pull_jobs(d)), 60,
                 "the pulls done")
    assert len(pull_jobs(d)) <= 2, pull_jobs(d)
    assert len(list_requests(google)) - before <= 4, \
        len(list_requests(google)) - before

    # Renewed before it expires: a new channel, then the old one stopped.
    def renewed():
        live = google.live_channels()
        return live if google.channels[ch["id"]]["stopped"] and \
            len(live) == 1 and live[0]["id"] != ch["id"] else None
    live = H.wait_until(renewed, 60, "the channel renewed")
    H.wait_until(lambda: ledger_query(d, "SELECT channel_id FROM"
                                         " google_channels") ==
                 [(live[0]["id"],)], 30, "the old channel's row gone")
    assert google.notify(ch["id"], "exists") == 401  # the old one is gone
    assert google.notify(live[0]["id"], "exists") == 200

    # Deleted connection: its channels are stopped, their rows gone.
    r = d.delete(f"/api/v1/calendars/{conn['id']}", admin=True)
    assert r.status == 204, r
    H.wait_until(lambda: not google.live_channels(), 60, "channels stopped")
    H.wait_until(lambda: ledger_query(
        d, "SELECT id FROM google_channels") == [], 60, "rows gone")
    assert all(c["stopped"] for c in google.channels.values())
    assert_no_tokens(d, google)


def _plus(iso, seconds):
    import datetime as dt
    t = dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return (t + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_forged_malformed_and_oversized_notifications(make_daemon, google):
    d = watching(make_daemon, google)
    connect(d, google)
    ch = one_channel(google)
    other = "0" * 43
    good = {"X-Goog-Channel-ID": ch["id"],
            "X-Goog-Channel-Token": ch["token"],
            "X-Goog-Resource-ID": ch["resourceId"],
            "X-Goog-Resource-State": "exists",
            "X-Goog-Message-Number": "7"}
    H.wait_until(lambda: any(n[1] == "sync" for n in google.notifications),
                 30, "the sync message")
    jobs_before = ledger_query(d, "SELECT count(*) FROM jobs")
    deliveries = ledger_query(d, "SELECT count(*) FROM inbox")

    def without(*names):
        return {k: v for k, v in good.items() if k not in names}
    refused = [
        {},
        without("X-Goog-Channel-ID"),
        without("X-Goog-Channel-Token"),
        dict(good, **{"X-Goog-Channel-Token": other}),
        dict(good, **{"X-Goog-Channel-Token": ch["token"][:-1]}),
        dict(good, **{"X-Goog-Channel-Token": ch["token"] + "x"}),
        dict(good, **{"X-Goog-Channel-Token": ch["token"].upper()}),
        dict(good, **{"X-Goog-Channel-ID": secrets.token_hex(16)}),
        dict(good, **{"X-Goog-Channel-ID": ch["id"][:-1] + (
            "1" if ch["id"].endswith("0") else "0")}),
        dict(good, **{"X-Goog-Channel-ID": ch["id"] + "/../x"}),
        dict(good, **{"X-Goog-Channel-ID": "x" * 65}),
        dict(good, **{"X-Goog-Channel-ID": "' OR 1=1 --"}),
        dict(good, **{"X-Goog-Channel-Token": "t" * 10000}),
        dict(good, **{"X-Goog-Resource-ID": "res-someone-else"}),
    ]
    for h in refused:
        st = post(d, h)
        assert st == 401, (h, st)
    # Verified but malformed: 422, nothing enqueued.
    for state in (None, "", "EXISTS", "bogus", "exists\tx"):
        h = dict(good)
        if state is None:
            h.pop("X-Goog-Resource-State")
        else:
            h["X-Goog-Resource-State"] = state
        assert post(d, h) == 422, state
    # Oversized: refused by the server before any handler.
    assert post(d, dict(good, **{"X-Goog-Padding": "p" * 200000})) in (
        0, 400, 413, 431), "an oversized header was taken"
    assert post(d, good, body=b"x" * (2 << 20)) in (0, 413)
    # "sync" is acknowledged and pulls nothing.
    assert post(d, dict(good, **{"X-Goog-Resource-State": "sync"})) == 200
    assert d.alive()
    assert ledger_query(d, "SELECT count(*) FROM jobs") == jobs_before
    assert ledger_query(d, "SELECT count(*) FROM inbox") == \
        deliveries
    assert pull_jobs(d) == []
    # The real one still works (and a body Google never sends is ignored).
    assert post(d, good) == 200
    H.wait_until(lambda: len(pull_jobs(d)) == 1, 30, "the pull enqueued")
    assert_no_tokens(d, google)


def test_revoked_grant_stops_watching(make_daemon, google):
    d = watching(make_daemon, google, BOOKINGD_GOOGLE_WATCH_TTL_S="16")
    conn = connect(d, google)
    ch = one_channel(google)
    google.revoke()
    r = d.post("/api/v1/sync", {"connection": conn["id"]}, admin=True)
    assert r.status == 200, r
    H.wait_until(lambda: d.get(f"/api/v1/calendars/{conn['id']}", admin=True)
                 .json["status"] == "needs_auth", 30, "needs_auth")
    # The channel is given up (Google refuses the grant that could stop
    # it: it expires), its notifications refused, no new one opened.
    H.wait_until(lambda: ledger_query(d, "SELECT id FROM google_channels")
                 == [], 60, "the channel given up")
    assert google.notify(ch["id"], "exists") == 401
    n = len(watch_requests(google))
    H.wait_until(lambda: ledger_query(
        d, "SELECT count(*) FROM jobs WHERE kind = 'calendars.gwatch'"
           " AND status = 2")[0][0] >= 3, 60, "more watch checks")
    assert len(watch_requests(google)) == n
    assert pull_jobs(d) == []


def test_off_without_a_public_https_base_url(make_daemon, google):
    google.allow_http = True
    d = start(make_daemon, google, BOOKINGD_GOOGLE_WATCH_TTL_S="16")
    assert "push notifications off" in d.stderr()
    connect(d, google)
    H.wait_until(lambda: ledger_query(
        d, "SELECT count(*) FROM jobs WHERE kind = 'calendars.gwatch'"
           " AND status = 2")[0][0] >= 2, 60, "watch checks")
    assert watch_requests(google) == []


def test_the_fake_refuses_what_google_refuses(make_daemon, google):
    """The fake's watch is as strict as Google's on what bookingd sends."""
    d = watching(make_daemon, google)
    connect(d, google)
    one_channel(google)
    (req,) = watch_requests(google)[:1]
    tok = req[2]["Authorization"][7:]
    import json
    good = json.loads(req[3])
    assert set(good) == {"id", "type", "address", "token", "expiration"}

    def call(body, path=None):
        c = http.client.HTTPConnection("127.0.0.1", int(
            google.base.rsplit(":", 1)[1]), timeout=10)
        c.request("POST", path or "/calendar/v3/calendars/" +
                  google.account + "/events/watch", body=json.dumps(body),
                  headers={"Authorization": "Bearer " + tok,
                           "Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    google.allow_http = False
    assert call(dict(good, id="x" + good["id"][1:])) == 400  # http address
    google.allow_http = True
    for bad in (dict(good, id=good["id"]),  # not unique
                dict(good, id="a" * 65), dict(good, type="email"),
                dict(good, address="not a url"),
                dict(good, token="t" * 257),
                dict(good, expiration=1000),
                dict(good, extra=1),
                {k: v for k, v in good.items() if k != "id"}):
        assert call(bad) == 400, bad
    assert call({"id": good["id"], "resourceId": "nope"},
                "/calendar/v3/channels/stop") == 404
    assert call({"id": good["id"]}, "/calendar/v3/channels/stop") == 400


@pytest.mark.parametrize("env", [{"BOOKINGD_GOOGLE_WATCH_TTL_S": "9"},
                                 {"BOOKINGD_GOOGLE_WATCH_TTL_S": "1e3"},
                                 {"BOOKINGD_GOOGLE_WATCH_ALLOW_PRIVATE": "2"}])
def test_bad_watch_configuration_stops_start(tmp_path, env):
    d = Daemon(tmp_path / "d", env=env)
    p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                       text=True, timeout=60, cwd=d.workdir)
    assert p.returncode == 2, p
    assert list(env)[0] in p.stderr, p.stderr
