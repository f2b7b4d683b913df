"""GET /api/v1/event-types/{slug}/slots (API.md "Event types"): shape,
time zones, from/to defaults and limits, bad queries, and how bookings,
notice, horizon, buffers and the per-day limit show through it."""
import datetime as dt
import zoneinfo

import pytest

from conftest import (assert_error, parse_instant, short_id,
                      standard_catalog, today_in, utc_now)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
DAY = dt.timedelta(days=1)


def flat(j):
    """[(day key, start, end)] of a slots response, in response order."""
    out = []
    for day, slots in j["slots"].items():
        for s in slots:
            assert set(s) == {"start", "end"}, s
            out.append((day, parse_instant(s["start"]),
                        parse_instant(s["end"])))
    return out


def starts(j):
    return [s for _, s, _ in flat(j)]


def test_shape(app):
    d = today_in("Europe/Berlin") + 2 * DAY
    j = app.slots("intro", d, d + 2 * DAY)
    assert set(j) == {"event_type", "timezone", "slots"}
    assert j["event_type"] == "intro"
    assert j["timezone"] == "Europe/Berlin"  # the schedule's zone
    assert list(j["slots"]) == [str(d), str(d + DAY), str(d + 2 * DAY)]
    for day, slots in j["slots"].items():
        local = [parse_instant(s["start"]).astimezone(BERLIN)
                 for s in slots]
        # every day: 08:00, 08:30, ... 19:30 (30 minutes, clock grid)
        assert [t.strftime("%H:%M") for t in local] == \
            [f"{h:02d}:{m:02d}" for h in range(8, 20) for m in (0, 30)]
        for s in slots:
            start, end = parse_instant(s["start"]), parse_instant(s["end"])
            assert end - start == dt.timedelta(minutes=30)
            # rendered in the zone of the response, on the day it starts
            assert start.utcoffset() == start.astimezone(BERLIN).utcoffset()
            assert s["start"][:10] == day
            assert not s["start"].endswith("Z")


def test_days_without_slots_are_omitted(daemon):
    cat = standard_catalog()
    cat["hosts"][0]["schedule"]["weekly"] = [
        {"day": "wed", "start": "09:00", "end": "10:00"}]
    daemon.apply(cat)
    d = today_in("Europe/Berlin") + DAY
    j = daemon.slots("intro", d, d + 13 * DAY)
    assert len(j["slots"]) == 2
    for day, slots in j["slots"].items():
        assert dt.date.fromisoformat(day).weekday() == 2
        assert len(slots) == 2


def test_timezone_param_regroups_days(app):
    d = today_in("Europe/Berlin") + 2 * DAY
    berlin = app.slots("intro", d, d + 2 * DAY)
    tokyo = app.slots("intro", d - DAY, d + 3 * DAY, timezone="Asia/Tokyo")
    assert tokyo["timezone"] == "Asia/Tokyo"
    tz = zoneinfo.ZoneInfo("Asia/Tokyo")
    for day, start, _ in flat(tokyo):
        assert start.utcoffset() == dt.timedelta(hours=9)
        assert start.astimezone(tz).date().isoformat() == day
    lo = dt.datetime.combine(d, dt.time(), BERLIN)
    hi = dt.datetime.combine(d + 3 * DAY, dt.time(), BERLIN)
    b = set(starts(berlin))
    t = {s for s in starts(tokyo) if lo <= s < hi}
    assert b == t and len(b) == 72
    # Berlin's 08:00-20:00 spans two dates in Tokyo: some Tokyo day holds
    # the small hours of the previous Berlin day.
    assert any(s.astimezone(tz).hour < 5 for s in t)
    assert len({s.astimezone(tz).date() for s in t}) == 4


def test_from_to_are_dates_in_the_requested_zone(app):
    d = today_in("Europe/Berlin") + 3 * DAY
    for zone in ["UTC", "America/Los_Angeles", "Pacific/Kiritimati"]:
        j = app.slots("intro", d, d + DAY, timezone=zone)
        tz = zoneinfo.ZoneInfo(zone)
        lo = dt.datetime.combine(d, dt.time(), tz)
        hi = dt.datetime.combine(d + 2 * DAY, dt.time(), tz)
        ss = starts(j)
        assert ss and all(lo <= s < hi for s in ss), zone
        assert set(j["slots"]) <= {str(d), str(d + DAY)}


def test_from_and_to_default(app):
    before = today_in("Europe/Berlin")
    j = app.slots("intro")
    today = today_in("Europe/Berlin")
    if today != before:  # Berlin's midnight passed meanwhile: once more
        j = app.slots("intro")
    days = sorted(j["slots"])
    assert days[0] in (str(today), str(today + DAY))
    assert days[-1] == str(today + 13 * DAY)
    assert all(s > utc_now() for s in starts(j))

    d = today + 5 * DAY
    j = app.slots("intro", frm=d)
    assert sorted(j["slots"]) == [str(d + i * DAY) for i in range(14)]
    j = app.slots("intro", to=today + 2 * DAY)
    assert sorted(j["slots"])[-1] == str(today + 2 * DAY)
    assert sorted(j["slots"])[0] <= str(today + DAY)


def test_at_most_62_days(app):
    d = today_in("Europe/Berlin") + DAY
    j = app.slots("intro", d, d + 62 * DAY)
    assert len(j["slots"]) >= 58  # the horizon (60 days) cuts the end
    for to in [d + 63 * DAY, d + 365 * DAY, dt.date(9999, 12, 31)]:
        r = app.get("/api/v1/event-types/intro/slots",
                    query={"from": str(d), "to": str(to)})
        assert_error(r, 400, "invalid_query", "to")


MAX_SLOTS = 5000  # docs/api.md "Slots": the most one answer holds


def test_an_answer_holds_at_most_5000_slots(daemon):
    """A 1-minute event type open all day: 62 days would be 89,280 slots
    (6.5 MB). The answer is a 422 naming the limit and the last `to` that
    fits, and that `to` is answered."""
    cat = standard_catalog(start="00:00", end="24:00", event_types=[{
        "slug": "tiny", "title": "Tiny", "duration_minutes": 1}])
    daemon.apply(cat)
    d = today_in("Europe/Berlin") + 2 * DAY
    for to in (d + 62 * DAY, d + 4 * DAY):
        r = daemon.get("/api/v1/event-types/tiny/slots",
                       query={"from": str(d), "to": str(to)})
        assert_error(r, 422, "too_many_slots", "to")
        msg = r.json["error"]["message"]
        assert "5000" in msg, msg
        assert len(r.body) < 1000
        assert f"to={d + 2 * DAY}" in msg, msg
    # 3 days of 1,440 slots fit, and so does the `to` the message named
    j = daemon.slots("tiny", d, d + 2 * DAY)
    minutes = sum(
        (dt.datetime.combine(d + (i + 1) * DAY, dt.time(), BERLIN)
         - dt.datetime.combine(d + i * DAY, dt.time(), BERLIN))
        // dt.timedelta(minutes=1) for i in range(3))
    assert sum(len(v) for v in j["slots"].values()) == minutes
    # concurrent hostile queries stay small and are all refused
    import concurrent.futures as cf
    with cf.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda _: daemon.get(
            "/api/v1/event-types/tiny/slots",
            query={"from": str(d), "to": str(d + 62 * DAY),
                   "timezone": "Pacific/Chatham"}), range(16)))
    for r in rs:
        assert_error(r, 422, "too_many_slots", "to")


def test_to_before_from_is_400(app):
    d = today_in("Europe/Berlin") + 5 * DAY
    r = app.get("/api/v1/event-types/intro/slots",
                query={"from": str(d), "to": str(d - DAY)})
    assert_error(r, 400, "invalid_query", "to")


@pytest.mark.parametrize("param", ["from", "to"])
@pytest.mark.parametrize("value", [
    "2027-02-29", "2026-02-30", "2026-04-31", "2026-13-01", "2026-00-10",
    "2026-01-00", "2026-1-1", "20260101", "2026/01/01", "tomorrow", "",
    "2026-01-01T00:00:00Z", "-001-01-01", "99999-01-01", "2026-01-01 ",
    "２０２６-01-01", "2026-01-0\x00", "' OR 1=1 --",
], ids=short_id)
def test_bad_dates_are_400(app, param, value):
    r = app.get("/api/v1/event-types/intro/slots", query={param: value})
    assert_error(r, 400, "invalid_query", param)


def test_leap_day_is_a_date(app):
    r = app.get("/api/v1/event-types/intro/slots",
                query={"from": "2028-02-29", "to": "2028-03-01"})
    assert r.status == 200, r


@pytest.mark.parametrize("zone", [
    "Mars/Olympus_Mons", "", "europe/berlin", "Europe/Berlin ", "UTC+1",
    "../../../../etc/passwd", "/etc/localtime", "Europe/" + "x" * 5000,
    "Europe\\Berlin", "%s%s%n", "\x00Europe/Berlin",
    # Files of the zoneinfo directory that are not zones (each used to be
    # loaded and kept for ever).
    "posix/Europe/Berlin", "right/Europe/Berlin", "localtime", "Factory",
    "posixrules", "zone1970.tab", "tzdata.zi",
], ids=short_id)
def test_unknown_zone_is_400(app, zone):
    r = app.get("/api/v1/event-types/intro/slots",
                query={"timezone": zone})
    assert_error(r, 400, "invalid_query", "timezone")


def test_an_alias_gives_its_zone(app):
    d = today_in("Europe/Berlin") + 3 * DAY
    a = app.slots("intro", d, d + DAY, timezone="US/Eastern")
    b = app.slots("intro", d, d + DAY, timezone="America/New_York")
    assert a["timezone"] == "America/New_York"
    assert a["slots"] == b["slots"]


def test_slots_of_an_unknown_event_type_are_404(app):
    assert_error(app.get("/api/v1/event-types/nope/slots"), 404, "not_found")


def test_booked_slot_disappears_and_returns_on_cancel(app):
    d = today_in("Europe/Berlin") + 2 * DAY
    before = app.slots("intro", d, d)
    first = before["slots"][str(d)][5]["start"]
    r = app.book("intro", first)
    uid = r.json["uid"]
    during = app.slots("intro", d, d)
    got = [s["start"] for s in during["slots"][str(d)]]
    want = [s["start"] for s in before["slots"][str(d)]]
    assert first not in got
    assert got == [s for s in want if s != first]
    r = app.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "x"},
                 admin=True)
    assert r.status == 200, r
    assert app.slots("intro", d, d) == before


def test_minimum_notice_shows_in_slots(daemon):
    daemon.apply(standard_catalog(zone="UTC", start="00:00", end="24:00",
                                  event_types=[{
                                      "slug": "later", "title": "Later",
                                      "duration_minutes": 60,
                                      "minimum_notice_minutes": 2 * 1440}]))
    now = utc_now()
    today = now.date()
    ss = starts(daemon.slots("later", today, today + 5 * DAY))
    assert ss, "no slots at all"
    assert min(ss) >= now + 2 * DAY
    assert min(ss) <= now + 2 * DAY + dt.timedelta(hours=1)
    # the intro type of the same host has no notice
    assert min(starts(daemon.slots("intro", today, today + DAY))) < \
        now + dt.timedelta(minutes=31)
    # a start inside the notice is refused
    inside = (now + DAY).replace(minute=0, second=0, microsecond=0)
    r = daemon.book("later", inside.isoformat(), expect=None)
    assert_error(r, 409, "slot_unavailable", "start")
    assert daemon.counts()["bookings"] == 0


def test_horizon_shows_in_slots(daemon):
    daemon.apply(standard_catalog(zone="UTC", start="00:00", end="24:00",
                                  event_types=[{
                                      "slug": "soon", "title": "Soon",
                                      "duration_minutes": 60,
                                      "horizon_days": 3}]))
    now = utc_now()
    today = now.date()
    ss = starts(daemon.slots("soon", today, today + 10 * DAY))
    assert ss
    assert max(ss) < now + 3 * DAY
    assert max(ss) >= now + 3 * DAY - dt.timedelta(hours=1)
    beyond = (now + 4 * DAY).replace(minute=0, second=0, microsecond=0)
    r = daemon.book("soon", beyond.isoformat(), expect=None)
    assert_error(r, 422, "invalid_field", "start")
    assert daemon.counts()["bookings"] == 0


def test_buffers_show_in_slots(daemon):
    daemon.apply(standard_catalog(event_types=[{
        "slug": "buffered", "title": "Buffered", "duration_minutes": 30,
        "buffer_after_minutes": 30}]))
    d = today_in("Europe/Berlin") + 2 * DAY
    all_ = [s["start"] for s in daemon.slots("buffered", d, d)
            ["slots"][str(d)]]
    x = all_[10]
    daemon.book("buffered", x)
    left = [s["start"] for s in daemon.slots("buffered", d, d)
            ["slots"][str(d)]]
    gone = [s for s in all_ if s not in left]
    # [x-30, x) ends where x's busy time starts... but its own after-buffer
    # reaches into the booking; x+30 lies in the booking's after-buffer.
    assert gone == all_[9:12]


def test_max_per_day_shows_in_slots(daemon):
    daemon.apply(standard_catalog(event_types=[{
        "slug": "once", "title": "Once a day", "duration_minutes": 30,
        "max_per_day": 1}]))
    d = today_in("Europe/Berlin") + 2 * DAY
    j = daemon.slots("once", d, d + DAY)
    daemon.book("once", j["slots"][str(d)][3]["start"])
    j2 = daemon.slots("once", d, d + DAY)
    assert str(d) not in j2["slots"]
    assert j2["slots"][str(d + DAY)] == j["slots"][str(d + DAY)]
    r = daemon.book("once", j["slots"][str(d)][7]["start"], expect=None)
    assert_error(r, 409, "slot_unavailable")


def test_other_event_types_of_the_host_block_time(daemon):
    daemon.apply(standard_catalog(event_types=[{
        "slug": "long", "title": "Long", "duration_minutes": 90}]))
    d = today_in("Europe/Berlin") + 2 * DAY
    intro = [s["start"] for s in daemon.slots("intro", d, d)["slots"][str(d)]]
    # 90 minutes step from 08:00 on a 30-minute clock grid: 09:30 is one
    daemon.book("long", intro[3])  # 09:30-11:00
    left = [s["start"] for s in daemon.slots("intro", d, d)["slots"][str(d)]]
    assert [s for s in intro if s not in left] == intro[3:6]


def test_slot_ending_after_midnight_belongs_to_its_start_date(daemon):
    cat = standard_catalog(zone="UTC", event_types=[{
        "slug": "night", "title": "Night shift", "duration_minutes": 120}])
    cat["hosts"][0]["schedule"]["weekly"] = \
        [{"day": day, "start": "23:00", "end": "24:00"}
         for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] + \
        [{"day": day, "start": "00:00", "end": "01:00"}
         for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    daemon.apply(cat)
    d = utc_now().date() + 2 * DAY
    j = daemon.slots("night", d, d)
    assert list(j["slots"]) == [str(d)]
    assert [(s, e) for _, s, e in flat(j)] == [
        (dt.datetime.combine(d, dt.time(23), dt.timezone.utc),
         dt.datetime.combine(d + DAY, dt.time(1), dt.timezone.utc))]


def test_public_and_admin_see_the_same_slots(app):
    d = today_in("Europe/Berlin") + DAY
    assert app.slots("intro", d, d + 3 * DAY) == \
        app.slots("intro", d, d + 3 * DAY, admin=True)


def test_repeated_and_unknown_query_params(app):
    d = today_in("Europe/Berlin") + 2 * DAY
    ref = app.slots("intro", d, d)
    r = app.get(f"/api/v1/event-types/intro/slots?from={d}&to={d}"
                f"&colour=red&limit=1")
    assert r.status == 200 and r.json == ref
    r = app.get(f"/api/v1/event-types/intro/slots?from={d}&to={d}&from=x")
    assert r.status in (200, 400), r
    if r.status == 200:
        assert r.json == ref
    else:
        assert_error(r, 400, "invalid_query", "from")


# ---- ?exclude=<uid>&token= (docs/api.md "Slots") ------------------------------

def test_exclude_shows_the_slot_of_the_booking_being_moved(app):
    d = today_in("Europe/Berlin") + 2 * DAY
    all_ = app.slots("intro", d, d)
    b = app.book("intro", all_["slots"][str(d)][6]["start"]).json
    q = {"from": str(d), "to": str(d), "exclude": b["uid"],
         "token": b["manage_token"]}
    r = app.get("/api/v1/event-types/intro/slots", query=q)
    assert r.status == 200, r
    assert r.json == all_
    # the admin key does the same without a token
    q.pop("token")
    r = app.get("/api/v1/event-types/intro/slots", query=q, admin=True)
    assert r.status == 200 and r.json == all_
    # and nobody else sees it free
    assert app.slots("intro", d, d) != all_


def test_exclude_needs_that_bookings_token(app):
    s = app.slot_starts("intro")
    a = app.book("intro", s[0], email="a@example.com").json
    b = app.book("intro", s[1], email="b@example.com").json
    for token in [None, "", b["manage_token"], a["manage_token"][:-1],
                  "x" * 43]:
        q = {"exclude": a["uid"]}
        if token is not None:
            q["token"] = token
        r = app.get("/api/v1/event-types/intro/slots", query=q)
        assert_error(r, 401, "unauthorized")


def test_exclude_must_name_a_booking_of_this_event_type(daemon):
    daemon.apply(standard_catalog(event_types=[{
        "slug": "other", "title": "Other", "duration_minutes": 30}]))
    s = daemon.slot_starts("other")
    b = daemon.book("other", s[0]).json
    r = daemon.get("/api/v1/event-types/intro/slots",
                   query={"exclude": b["uid"], "token": b["manage_token"]})
    assert_error(r, 400, "invalid_query", "exclude")
    r = daemon.get("/api/v1/event-types/intro/slots",
                   query={"exclude": "AAAAAAAAAAAAAAAAAAAA"}, admin=True)
    assert_error(r, 400, "invalid_query", "exclude")


def test_exclude_opens_a_deactivated_event_type_to_its_attendee(app):
    d = today_in("Europe/Berlin") + 2 * DAY
    start = app.slots("intro", d, d)["slots"][str(d)][2]["start"]
    b = app.book("intro", start).json
    assert app.patch("/api/v1/event-types/intro", {"active": False},
                     admin=True).status == 200
    assert_error(app.get("/api/v1/event-types/intro/slots"), 404)
    r = app.get("/api/v1/event-types/intro/slots",
                query={"from": str(d), "to": str(d), "exclude": b["uid"],
                       "token": b["manage_token"]})
    assert r.status == 200, r
    assert start in [x["start"] for x in r.json["slots"][str(d)]]
    # and the attendee can still move the booking there
    r = app.post(f"/api/v1/bookings/{b['uid']}/reschedule",
                 {"start": r.json["slots"][str(d)][5]["start"]},
                 query={"token": b["manage_token"]})
    assert r.status == 200, r
