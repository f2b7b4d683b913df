"""The daily reconcile of calendar connections, the "ask" setting and the
kind filter of POST /api/v1/sync (docs/calendars.md "Reconcile", "Ask"),
against a real Radicale (drift made with python3-caldav, a third-party
client, and by editing Radicale's storage folder directly) and the Google
Calendar contract fake (google_fake.py).

Drift repaired by a reconcile, in both directions: an event missing (its
push went dead while the calendar was down) is pushed again; an event
moved in the calendar moves the booking; an event deleted there cancels
the booking (or flags it, with "ask"); a booking cancelled while the
calendar was down has its event deleted; an event whose SUMMARY was edited
is written again. The summary is recorded on the connection."""
import datetime as dt
import pathlib

import icalendar
import pytest

import calcom_helpers as H
from conftest import assert_error, ledger_query
from google_fake import GoogleFake
from test_calendars import (USER, connect, events_of, json_text, move_event,
                            parse_z, radicale, start)  # noqa: F401
import test_google_calendar as G

SUMMARY_KEYS = {"at", "total", "created", "updated", "skipped", "errors"}


def sync(d, body):
    r = d.post("/api/v1/sync", body, admin=True)
    assert r.status == 200, r
    assert set(r.json) == {"total", "created", "updated", "skipped",
                           "errors"}, r.json
    return r.json


def storage_file(radicale, uid):
    """The file Radicale keeps the booking's event in (its storage folder,
    edited directly: no CalDAV request, no client)."""
    folder = pathlib.Path(radicale.root) / "collections" / \
        "collection-root" / USER / "work"
    p = folder / f"bookingd-{uid}.ics"
    assert p.exists(), sorted(x.name for x in folder.iterdir())
    return p


def dead_pushes(d):
    return ledger_query(d, "SELECT count(*) FROM jobs WHERE kind = "
                           "'calendars.push' AND status = 3")[0][0]


def history_actions(d, uid):
    r = d.get(f"/api/v1/bookings/{uid}/history", admin=True)
    assert r.status == 200, r
    rows = r.json["data"] if isinstance(r.json, dict) else r.json
    return [h["action"] for h in rows]


def test_reconcile_caldav_repairs_drift_both_ways(make_daemon, radicale):
    # No circuit breaker for the CalDAV server here: with one, the pushes
    # refused while it is open would wait (deferred) instead of dying, and
    # this test is about what the reconcile repairs after dead letters.
    d = start(make_daemon, BOOKINGD_JOB_MAX_ATTEMPTS="2",
              BOOKINGD_LIMIT_CALDAV="failures=0")
    r = connect(d, radicale.url + f"{USER}/work/")
    assert r.status == 201, r
    cid = r.json["id"]
    assert r.json["last_reconcile"] is None, r.json
    assert r.json["last_reconcile_at"] is None, r.json
    H.wait_until(lambda: d.get(f"/api/v1/calendars/{cid}", admin=True)
                 .json["last_sync_at"], 30, "the first sync")
    s = d.slot_starts("intro")
    a = d.book("intro", s[0], email="a@example.com", name="Ann").json
    b = d.book("intro", s[2], email="b@example.com", name="Bob").json
    c = d.book("intro", s[4], email="c@example.com", name="Cid").json
    x = d.book("intro", s[6], email="x@example.com", name="Xia").json
    uids = [a["uid"], b["uid"], c["uid"], x["uid"]]
    H.wait_until(lambda: set(uids) <= set(events_of(radicale.work)), 30,
                 "the events pushed")
    H.wait_outbox_idle(d)
    assert sync(d, {"connection": cid})["errors"] == []
    before = d.get(f"/api/v1/calendars/{cid}", admin=True).json
    assert set(before["last_sync"]) == SUMMARY_KEYS, before

    # Calendar down: a booking made and one cancelled meanwhile; their
    # pushes go dead (2 attempts).
    radicale.stop()
    e = d.book("intro", s[8], email="e@example.com", name="Eve").json
    r = d.post(f"/api/v1/bookings/{x['uid']}/cancel", {"reason": "ill"},
               admin=True)
    assert r.status == 200, r
    H.wait_until(lambda: dead_pushes(d) >= 2, 60, "the pushes dead")
    radicale.start()
    # Drift made in the calendar: A's SUMMARY edited with python3-caldav;
    # B moved and C deleted in Radicale's storage folder directly.
    ev = radicale.work.event_by_uid(a["uid"])
    vcal = icalendar.Calendar.from_ical(ev.data)
    for comp in vcal.walk("VEVENT"):
        comp["SUMMARY"] = "Renamed by hand"
    ev.data = vcal.to_ical().decode()
    ev.save()
    to = parse_z(s[10])
    f = storage_file(radicale, b["uid"])
    vcal = icalendar.Calendar.from_ical(f.read_bytes())
    for comp in vcal.walk("VEVENT"):
        comp["DTSTART"] = icalendar.vDDDTypes(to)
        comp["DTEND"] = icalendar.vDDDTypes(to + dt.timedelta(minutes=30))
    f.write_bytes(vcal.to_ical())
    storage_file(radicale, c["uid"]).unlink()
    assert e["uid"] not in events_of(radicale.work)
    assert x["uid"] in events_of(radicale.work)

    got = sync(d, {"connection": cid, "reconcile": True})
    assert got["errors"] == [], got
    assert got["created"] >= 1, got  # E's event
    # B moved, C cancelled, A's summary and X's deletion pushed again.
    assert got["updated"] >= 4, got
    moved = d.get(f"/api/v1/bookings/{b['uid']}", admin=True).json
    assert parse_z(moved["start"]) == to, moved
    gone = d.get(f"/api/v1/bookings/{c['uid']}", admin=True).json
    assert gone["status"] == "cancelled", gone
    assert "deleted in calendar" in json_text(gone), gone
    H.wait_until(lambda: e["uid"] in events_of(radicale.work), 30,
                 "the missing event pushed again")
    H.wait_until(lambda: x["uid"] not in events_of(radicale.work), 30,
                 "the cancelled booking's event deleted")
    H.wait_until(lambda: str(events_of(radicale.work)[a["uid"]]["SUMMARY"])
                 == "Intro call with Ann", 30, "the summary written again")
    H.wait_outbox_idle(d)
    conn = d.get(f"/api/v1/calendars/{cid}", admin=True).json
    rec = conn["last_reconcile"]
    assert set(rec) == SUMMARY_KEYS, conn
    assert rec["created"] == got["created"], (rec, got)
    assert rec["updated"] == got["updated"], (rec, got)
    assert conn["last_reconcile_at"] is not None, conn
    # Nothing drifted any more: a second reconcile changes nothing.
    again = sync(d, {"connection": cid, "reconcile": True})
    assert again["created"] == 0 and again["updated"] == 0, again
    assert again["errors"] == [] and again["skipped"] >= 3, again
    # The kind filter and the reconcile go together; Calendly has none.
    assert sync(d, {"provider": "google", "reconcile": True})["total"] == 0
    r = d.post("/api/v1/sync", {"provider": "calendly", "reconcile": True},
               admin=True)
    assert r.status == 422, r
    r = d.post("/api/v1/sync", {"reconcile": "yes"}, admin=True)
    assert_error(r, 422, field="reconcile")
    # The daily job is scheduled (one per period, its key says which).
    jobs = ledger_query(d, "SELECT dedupe_key FROM jobs WHERE kind = "
                           "'calendars.reconcile'")
    assert len(jobs) == 1 and jobs[0][0].startswith(
        "calendars.reconcile:"), jobs


def test_ask_flags_instead_of_cancelling(make_daemon, radicale):
    d = start(make_daemon)
    r = connect(d, radicale.url + f"{USER}/work/")
    assert r.status == 201, r
    cid = r.json["id"]
    assert r.json["on_calendar_delete"] == "cancel", r.json
    for bad in ("maybe", "", "ASK", 3, None, ["ask"]):
        r = d.patch(f"/api/v1/calendars/{cid}", {"on_calendar_delete": bad},
                    admin=True)
        if bad is None:  # null: unchanged
            assert r.status == 200, r
        else:
            assert r.status == 422, (bad, r)
    r = d.patch(f"/api/v1/calendars/{cid}", {"on_calendar_delete": "ask"},
                admin=True)
    assert r.status == 200 and r.json["on_calendar_delete"] == "ask", r
    s = d.slot_starts("intro")
    b = d.book("intro", s[1]).json
    uid = b["uid"]
    H.wait_until(lambda: uid in events_of(radicale.work), 30, "the event")
    H.wait_outbox_idle(d)
    assert sync(d, {})["errors"] == []
    assert d.get(f"/api/v1/bookings/{uid}", admin=True).json["flag"] is None
    radicale.work.event_by_uid(uid).delete()
    got = sync(d, {"connection": cid})
    assert got["updated"] >= 1, got
    flagged = d.get(f"/api/v1/bookings/{uid}", admin=True).json
    assert flagged["status"] == "confirmed", flagged
    assert flagged["flag"] == "deleted_in_calendar", flagged
    assert history_actions(d, uid).count("flagged") == 1
    # The public form does not show it.
    token = b["manage_token"]
    pub = d.get(f"/api/v1/bookings/{uid}", query={"token": token}).json
    assert "flag" not in pub, pub
    # Filter.
    listed = d.get("/api/v1/bookings", admin=True,
                   query={"flagged": "true"}).json["data"]
    assert [x["uid"] for x in listed] == [uid], listed
    assert len(d.get("/api/v1/bookings", admin=True,
                     query={"flagged": "false"}).json["data"]) >= 1
    r = d.get("/api/v1/bookings", admin=True, query={"flagged": "1; drop"})
    assert_error(r, 400, "invalid_query", "flagged")
    # Syncs and reconciles leave it waiting: no second flag, no push.
    sync(d, {"connection": cid, "reconcile": True})
    sync(d, {"connection": cid})
    H.wait_outbox_idle(d)
    assert uid not in events_of(radicale.work)
    assert history_actions(d, uid).count("flagged") == 1
    # The admin's answer: bad forms first.
    for body in ({}, {"action": "delete"}, {"action": "keep", "x": 1},
                 {"action": "k" * 5000}):
        r = d.post(f"/api/v1/bookings/{uid}/resolve-flag", body, admin=True)
        assert r.status == 422, (body, r)
    r = d.post(f"/api/v1/bookings/{uid}/resolve-flag", {"action": "keep"},
               query={"token": token})
    assert r.status in (401, 403), r
    r = d.post("/api/v1/bookings/nope/resolve-flag", {"action": "keep"},
               admin=True)
    assert r.status == 404, r
    # Keep: the event goes back, the flag is cleared.
    r = d.post(f"/api/v1/bookings/{uid}/resolve-flag", {"action": "keep"},
               admin=True)
    assert r.status == 200 and r.json["flag"] is None, r
    assert r.json["status"] == "confirmed", r
    H.wait_until(lambda: uid in events_of(radicale.work), 30,
                 "the event put back")
    assert "flag_resolved" in history_actions(d, uid)
    r = d.post(f"/api/v1/bookings/{uid}/resolve-flag", {"action": "keep"},
               admin=True)
    assert r.status == 409, r
    H.wait_outbox_idle(d)
    sync(d, {"connection": cid})
    # Deleted again: flagged again; this time cancel.
    radicale.work.event_by_uid(uid).delete()
    sync(d, {"connection": cid})
    assert d.get(f"/api/v1/bookings/{uid}",
                 admin=True).json["flag"] == "deleted_in_calendar"
    r = d.post(f"/api/v1/bookings/{uid}/resolve-flag", {"action": "cancel"},
               admin=True)
    assert r.status == 200, r
    assert r.json["status"] == "cancelled" and r.json["flag"] is None, r
    assert "deleted in calendar" in json_text(r.json)
    assert d.get("/api/v1/bookings", admin=True,
                 query={"flagged": "true"}).json["data"] == []


@pytest.fixture
def google():
    g = GoogleFake()
    yield g
    g.close()


def last_sync_ms(d, kind):
    return ledger_query(d, "SELECT last_sync_ms FROM calendar_connections "
                           "WHERE kind = ?", (kind,))[0][0]


def test_provider_filters_the_kind(make_daemon, radicale, google):
    d = G.start(make_daemon, google, BOOKINGD_CALENDAR_ALLOW_PRIVATE="1")
    gconn = G.connect(d, google)
    r = connect(d, radicale.url + f"{USER}/work/")
    assert r.status == 201, r
    H.wait_until(lambda: last_sync_ms(d, "caldav"), 30, "the first sync")
    lists = len([q for q in google.requests if "/events" in q[1]])
    g0, c0 = last_sync_ms(d, "google"), last_sync_ms(d, "caldav")
    sync(d, {"provider": "caldav"})
    assert last_sync_ms(d, "google") == g0
    assert last_sync_ms(d, "caldav") > c0
    assert len([q for q in google.requests if "/events" in q[1]]) == lists
    c1 = last_sync_ms(d, "caldav")
    sync(d, {"provider": "google"})
    assert last_sync_ms(d, "caldav") == c1
    assert last_sync_ms(d, "google") > g0
    assert d.get(f"/api/v1/calendars/{gconn['id']}",
                 admin=True).json["last_sync"]["errors"] == []


def test_reconcile_google(make_daemon, google):
    d = G.start(make_daemon, google)
    conn = G.connect(d, google)
    cid = conn["id"]
    s = d.slot_starts("intro")
    a = d.book("intro", s[0], email="a@example.com", name="Ann").json
    b = d.book("intro", s[2], email="b@example.com", name="Bob").json
    c = d.book("intro", s[4], email="c@example.com", name="Cid").json
    f = d.book("intro", s[8], email="f@example.com", name="Fay").json
    for x in (a, b, c, f):
        H.wait_until(lambda: G.event_of(google, x["uid"]), 30, "the event")
    H.wait_outbox_idle(d)
    assert sync(d, {"connection": cid})["errors"] == []
    # Drift: A's summary edited, B moved, C removed outright (not even
    # "cancelled": the full read does not list it), F deleted while the
    # connection asks.
    r = d.patch(f"/api/v1/calendars/{cid}", {"on_calendar_delete": "ask"},
                admin=True)
    assert r.status == 200 and r.json["on_calendar_delete"] == "ask", r
    acc = google.account
    aid = G.event_of(google, a["uid"])["id"]
    cid_ = G.event_of(google, c["uid"])["id"]
    with google.lock:
        cur = google.events[(acc, aid)]
        google._store(acc, dict(cur, summary="Renamed"), cur)
    to = parse_z(s[6])
    google.move(G.event_of(google, b["uid"])["id"],
                to.strftime("%Y-%m-%dT%H:%M:%SZ"),
                (to + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    with google.lock:
        del google.events[(acc, cid_)]
    google.delete(G.event_of(google, f["uid"])["id"])
    got = sync(d, {"connection": cid, "reconcile": True})
    assert got["errors"] == [], got
    assert got["updated"] >= 4, got
    assert parse_z(d.get(f"/api/v1/bookings/{b['uid']}",
                         admin=True).json["start"]) == to
    gone = d.get(f"/api/v1/bookings/{c['uid']}", admin=True).json
    assert gone["status"] == "confirmed" and \
        gone["flag"] == "deleted_in_calendar", gone
    fl = d.get(f"/api/v1/bookings/{f['uid']}", admin=True).json
    assert fl["status"] == "confirmed" and \
        fl["flag"] == "deleted_in_calendar", fl
    H.wait_until(lambda: G.event_of(google, a["uid"])["summary"] ==
                 "Intro call with Ann", 30, "A's summary written again")
    H.wait_outbox_idle(d)
    # Resolved: C cancelled, F kept (its event inserted again).
    r = d.post(f"/api/v1/bookings/{c['uid']}/resolve-flag",
               {"action": "cancel"}, admin=True)
    assert r.status == 200 and r.json["status"] == "cancelled", r
    r = d.post(f"/api/v1/bookings/{f['uid']}/resolve-flag",
               {"action": "keep"}, admin=True)
    assert r.status == 200 and r.json["flag"] is None, r
    H.wait_until(lambda: (G.event_of(google, f["uid"]) or {}).get(
        "status") == "confirmed", 30, "F's event back")
    H.wait_outbox_idle(d)
    again = sync(d, {"connection": cid, "reconcile": True})
    assert again["created"] == 0 and again["updated"] == 0, again
    assert again["errors"] == [], again
    rec = d.get(f"/api/v1/calendars/{cid}", admin=True).json["last_reconcile"]
    assert rec["created"] == 0 and rec["updated"] == 0, rec
    G.assert_no_tokens(d, google, json_text(rec))
