"""A Zoom booking's event in the host's calendar carries its join URL
(issue 10 §2: "the join URL goes into the booking, the emails and the
calendar event"; connectors/zoom.c re-pushes the calendars once the URL
is known). Against a real Radicale (test_calendars.py) and the Zoom
contract fake made slow, so that the calendar push of the booking's
creation goes before the meeting exists."""
import secrets

import pytest

import calcom_helpers as C
from conftest import standard_catalog
from test_calendars import ENV, Radicale, USER, connect, events_of
from test_zoom_meetings import HOST_EMAIL
from zoom_fake import ZoomFake


@pytest.fixture
def radicale(tmp_path):
    r = Radicale(tmp_path / "radicale")
    r.start()
    r.work = r.client().principal().make_calendar(name="Work", cal_id="work")
    yield r
    r.stop()


@pytest.fixture
def fake():
    f = ZoomFake("acct-" + secrets.token_hex(4), "cid-" + secrets.token_hex(4),
                 "secret-" + secrets.token_hex(8), users=(HOST_EMAIL,))
    yield f
    f.close()


def test_calendar_event_gets_the_join_url(make_daemon, radicale, fake):
    d = make_daemon(env={**ENV,
                         "ZOOM_ACCOUNT_ID": fake.account_id,
                         "ZOOM_CLIENT_ID": fake.client_id,
                         "ZOOM_CLIENT_SECRET": fake.client_secret,
                         "ZOOM_API_BASE": fake.base + "/v2/",
                         "ZOOM_OAUTH_BASE": fake.base})
    d.apply(standard_catalog(event_types=[
        {"slug": "zoom-30", "title": "Zoom call", "duration_minutes": 30,
         "location": {"kind": "zoom"}}]))
    assert connect(d, radicale.url + f"{USER}/work/").status == 201
    fake.create_delay = 2.0
    uid = d.book("zoom-30", d.slot_starts("zoom-30")[0]).json["uid"]
    # The creation's push goes first, without the URL...
    first = C.wait_until(lambda: events_of(radicale.work).get(uid), 30,
                         "the event pushed")
    assert not C.booking(d, uid).get("meeting_url") or "URL" in first
    # ... and the event gets it once the meeting exists.
    url = C.wait_until(lambda: C.booking(d, uid).get("meeting_url"), 40,
                       "the join URL")
    ev = C.wait_until(
        lambda: (lambda e: e if e is not None and str(e.get("URL", "")) == url
                 else None)(events_of(radicale.work).get(uid)),
        40, "the calendar event with the join URL")
    assert url in ev.to_ical().decode()
    assert len(events_of(radicale.work)) == 1
