"""Zoom meetings made by two bookingd instances on ONE PostgreSQL database
(connectors/zoom.c "the lease on a booking's meeting"), against the Zoom
contract fake made slow (a create takes effect after a delay, so the
"look then create" window is wide): bookings made and at once rescheduled
give each booking two zoom.meeting jobs, which the two instances run
concurrently. Every booking ends with exactly one meeting at Zoom, made
once — no second meeting made and deleted again — at its new time, with
its join URL stored. PostgreSQL only (a SQLite file is one process's)."""
import secrets

import pytest

import calcom_helpers as C
from conftest import ledger_query, parse_instant, standard_catalog
from test_zoom_meetings import HOST_EMAIL
from zoom_fake import ZoomFake

pytestmark = pytest.mark.pg_only(
    "two daemons share one database on PostgreSQL only")

JOB = "zoom.meeting"
DONE, DEAD = 2, 3
BOOKINGS = 8


@pytest.fixture
def fake():
    f = ZoomFake("acct-" + secrets.token_hex(4), "cid-" + secrets.token_hex(4),
                 "secret-" + secrets.token_hex(8), users=(HOST_EMAIL,))
    yield f
    f.close()


def test_two_instances_make_one_meeting_per_booking(make_daemon, fake):
    env = {"ZOOM_ACCOUNT_ID": fake.account_id,
           "ZOOM_CLIENT_ID": fake.client_id,
           "ZOOM_CLIENT_SECRET": fake.client_secret,
           "ZOOM_API_BASE": fake.base + "/v2/",
           "ZOOM_OAUTH_BASE": fake.base,
           "BOOKINGD_WORKERS": "2",
           "BOOKINGD_JOB_RETRY_BASE_MS": "100",
           "BOOKINGD_JOB_RETRY_MAX_MS": "400"}
    a = make_daemon(env=env, name="a")
    a.apply(standard_catalog(event_types=[
        {"slug": "zoom-30", "title": "Zoom call", "duration_minutes": 30,
         "location": {"kind": "zoom"}}]))
    b = make_daemon(env=env, name="b", database_url=a.database_url)
    fake.create_delay = 0.6
    starts = a.slot_starts("zoom-30")
    later = a.slot_starts("zoom-30", days_ahead=5)
    uids = []
    for i in range(BOOKINGS):
        d, other = (a, b) if i % 2 == 0 else (b, a)
        r = d.book("zoom-30", starts[i], email=f"p{i}@example.com")
        assert r.status == 201, r
        uid = r.json["uid"]
        # Moved at once through the other instance: a second job.
        r = other.post(f"/api/v1/bookings/{uid}/reschedule",
                       {"start": later[i]}, admin=True)
        assert r.status == 200, r
        uids.append(uid)
    rows = C.wait_until(
        lambda: (lambda rows: rows if len(rows) >= 2 * BOOKINGS and
                 all(r[0] in (DONE, DEAD) for r in rows) else None)(
            ledger_query(a, "SELECT status, attempts, last_error FROM jobs "
                            "WHERE kind = ?", (JOB,))),
        120, "every zoom.meeting job settled")
    assert all(r[0] == DONE for r in rows), rows
    leased = [r for r in rows if r[2] and "lease" in r[2]]
    print(f"jobs that found the other instance's lease: {len(leased)}")
    # One meeting per booking, made once: none made twice and deleted.
    assert fake.deleted == set(), fake.deleted
    posts = [r for r in fake.api_requests("POST")]
    assert len(posts) == BOOKINGS, len(posts)
    assert len(fake.meetings) == BOOKINGS
    for uid in uids:
        ms = fake.by_marker(uid)
        assert len(ms) == 1, (uid, ms)
        bk = C.booking(a, uid)
        assert bk["meeting_url"] == ms[0]["join_url"]
        assert parse_instant(ms[0]["start_time"]) == \
            parse_instant(bk["start"]), (ms[0], bk)
    links = ledger_query(a, "SELECT count(*) FROM external_links WHERE "
                            "provider = 'zoom' AND superseded = 0")
    assert links == [(BOOKINGS,)], links
    leases = ledger_query(a, "SELECT count(*) FROM meta WHERE key LIKE "
                             "'zoom.lease:%'")
    assert leases == [(0,)], leases
