"""The atomic slot claim (API.md "Bookings": "two concurrent requests for one
slot: exactly one wins"), tested with many parallel clients against the
running daemon: creates, reschedules and cancels racing for one slot, and
many different slots booked at once."""
import collections
import datetime as dt

import pytest

from conftest import (assert_error, parse_instant, run_parallel,
                      standard_catalog, today_in)

DAY = dt.timedelta(days=1)
N = 40

pytestmark = pytest.mark.floods(f"{N} clients race at once, all from "
                                f"127.0.0.1")


def day_slots(d, slug="intro", offset_days=2):
    day = today_in("Europe/Berlin") + offset_days * DAY
    return [s["start"] for s in d.slots(slug, day, day)["slots"][str(day)]]


def booking_body(slug, start, i):
    return {"event_type": slug, "start": start,
            "attendee": {"name": f"Racer {i}",
                         "email": f"racer{i}@example.com"}}


def statuses(results):
    return collections.Counter(r.status for r in results)


def bookings_at(d, start):
    t = parse_instant(start)
    return [b for b in d.list_all("/api/v1/bookings")
            if b["status"] != "cancelled" and parse_instant(b["start"]) == t]


def test_many_clients_one_slot(app):
    slots = day_slots(app)
    for round_, start in enumerate([slots[3], slots[12], slots[20]]):
        before = app.ledger_counts()
        results = run_parallel(N, lambda i: app.post(
            "/api/v1/bookings", booking_body("intro", start,
                                             round_ * 100 + i)))
        assert statuses(results) == {201: 1, 409: N - 1}, statuses(results)
        for r in results:
            if r.status == 409:
                assert_error(r, 409, "slot_unavailable")
        winner = [r.json for r in results if r.status == 201][0]
        assert len(bookings_at(app, start)) == 1
        after = app.ledger_counts()
        assert after["bookings"] == before["bookings"] + 1
        # the losers left no client behind
        assert after["clients"] == before["clients"] + 1
        assert app.get(f"/api/v1/bookings/{winner['uid']}",
                       admin=True).status == 200
        assert start not in day_slots(app)
    assert app.get("/healthz").status == 200


def test_many_clients_one_slot_same_email(app):
    start = day_slots(app)[7]
    body = booking_body("intro", start, 0)
    results = run_parallel(N, lambda i: app.post("/api/v1/bookings", body))
    assert statuses(results) == {201: 1, 409: N - 1}
    assert app.ledger_counts()["bookings"] == 1
    assert app.ledger_counts()["clients"] == 1


def test_overlapping_slots_race(daemon):
    """10:00-11:00 and 10:30-11:30 are different slots that overlap: of all
    requests for either, exactly one may win."""
    daemon.apply(standard_catalog(event_types=[{
        "slug": "hour", "title": "Hour", "duration_minutes": 60,
        "slot_interval_minutes": 30}]))
    s = day_slots(daemon, "hour")
    for round_, k in enumerate([2, 8, 14]):
        a, b = s[k], s[k + 1]
        assert parse_instant(b) - parse_instant(a) == \
            dt.timedelta(minutes=30)
        results = run_parallel(N, lambda i: daemon.post(
            "/api/v1/bookings",
            booking_body("hour", a if i % 2 else b, 100 * round_ + i)))
        assert statuses(results) == {201: 1, 409: N - 1}, statuses(results)
        assert daemon.ledger_counts()["bookings"] == round_ + 1


def test_different_event_types_of_one_host_race(daemon):
    daemon.apply(standard_catalog(event_types=[{
        "slug": "deep", "title": "Deep", "duration_minutes": 60}]))
    start = day_slots(daemon)[4]
    assert start in day_slots(daemon, "deep")
    results = run_parallel(N, lambda i: daemon.post(
        "/api/v1/bookings",
        booking_body("deep" if i % 2 else "intro", start, i)))
    assert statuses(results) == {201: 1, 409: N - 1}, statuses(results)
    assert daemon.ledger_counts()["bookings"] == 1


def test_many_different_slots_in_parallel_all_succeed(app):
    d = today_in("Europe/Berlin") + 2 * DAY
    j = app.slots("intro", d, d + 1 * DAY)
    starts = [s["start"] for day in sorted(j["slots"])
              for s in j["slots"][day]][:N]
    assert len(starts) == N
    results = run_parallel(N, lambda i: app.post(
        "/api/v1/bookings", booking_body("intro", starts[i], i)))
    assert statuses(results) == {201: N}, \
        [r for r in results if r.status != 201][:3]
    uids = {r.json["uid"] for r in results}
    assert len(uids) == N
    listed = app.list_all("/api/v1/bookings")
    assert {b["uid"] for b in listed} == uids
    assert sorted(parse_instant(b["start"]) for b in listed) == \
        sorted(parse_instant(s) for s in starts)
    left = app.slots("intro", d, d + DAY)
    assert not set(starts) & {s["start"] for day in left["slots"].values()
                              for s in day}


def test_concurrent_reschedules_into_one_free_slot(app):
    s = day_slots(app)
    target = s[23]
    n = 20
    made = [app.book("intro", s[i], email=f"m{i}@example.com").json
            for i in range(n)]
    results = run_parallel(n, lambda i: app.post(
        f"/api/v1/bookings/{made[i]['uid']}/reschedule", {"start": target},
        admin=True))
    assert statuses(results) == {200: 1, 409: n - 1}, statuses(results)
    for r in results:
        if r.status == 409:
            assert_error(r, 409, "slot_unavailable")
    at = bookings_at(app, target)
    assert len(at) == 1
    winner = [i for i, r in enumerate(results) if r.status == 200][0]
    assert at[0]["uid"] == made[winner]["uid"]
    # everybody else stayed where they were; the winner's old slot is free
    for i, b in enumerate(made):
        got = app.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
        if i == winner:
            assert got["start"] != b["start"]
        else:
            assert got["start"] == b["start"]
    left = day_slots(app)
    assert s[winner] in left and target not in left


def test_creates_and_reschedules_race_for_one_slot(app):
    s = day_slots(app)
    target = s[22]
    movers = [app.book("intro", s[i], email=f"mv{i}@example.com").json
              for i in range(10)]

    def go(i):
        if i < 10:
            return app.post(f"/api/v1/bookings/{movers[i]['uid']}/reschedule",
                            {"start": target}, admin=True)
        return app.post("/api/v1/bookings",
                        booking_body("intro", target, i))

    results = run_parallel(30, go)
    wins = [r for r in results if r.status in (200, 201)]
    assert len(wins) == 1, statuses(results)
    assert statuses(results)[409] == 29
    assert len(bookings_at(app, target)) == 1


def test_concurrent_cancels_of_one_booking(app):
    b = app.book("intro", day_slots(app)[0]).json
    results = run_parallel(20, lambda i: app.post(
        f"/api/v1/bookings/{b['uid']}/cancel", {"reason": f"r{i}"},
        admin=True))
    assert statuses(results) == {200: 1, 409: 19}, statuses(results)
    for r in results:
        if r.status == 409:
            assert_error(r, 409, "illegal_transition")
    h = app.get(f"/api/v1/bookings/{b['uid']}/history", admin=True).json
    assert [x["action"] for x in h["data"]] == ["created", "cancelled"]


def test_cancel_and_rebook_race(app):
    """While one booking is cancelled, many clients try its slot: at most
    one may hold it afterwards, and whoever got 201 holds it."""
    start = day_slots(app)[9]
    b = app.book("intro", start).json

    def go(i):
        if i == 0:
            return app.post(f"/api/v1/bookings/{b['uid']}/cancel", {},
                            admin=True)
        return app.post("/api/v1/bookings", booking_body("intro", start, i))

    results = run_parallel(N, go)
    assert results[0].status == 200, results[0]
    created = [r for r in results[1:] if r.status == 201]
    assert len(created) <= 1
    assert all(r.status in (201, 409) for r in results[1:])
    holders = bookings_at(app, start)
    assert [h["uid"] for h in holders] == [r.json["uid"] for r in created]


def test_daemon_answers_during_a_storm(app):
    start = day_slots(app)[15]

    def go(i):
        if i % 4 == 0:
            return app.get("/healthz")
        if i % 4 == 1:
            return app.get("/api/v1/event-types/intro/slots")
        return app.post("/api/v1/bookings", booking_body("intro", start, i))

    results = run_parallel(N, go)
    for i, r in enumerate(results):
        if i % 4 in (0, 1):
            assert r.status == 200, r
    posts = [r.status for i, r in enumerate(results) if i % 4 >= 2]
    assert sorted(posts) == [201] + [409] * (len(posts) - 1)
    assert app.get("/readyz").status == 200
