"""Email over SMTP (issue 7 §1, docs/mail.md): a booking created,
rescheduled and cancelled sends the attendee an invite (iMIP: METHOD,
one UID, SEQUENCE 0 → 1 → 2) and the host a notice, through a real SMTP
server (aiosmtpd, STARTTLS and AUTH required); messages are recorded in
the messages table, `skipped` without BOOKINGD_SMTP_URL; an SMTP server
that is down delays them and every one arrives once; a 550 recipient is a
dead job with the server's reply; names cannot add a header."""
import datetime as dt
import email.header
import email.utils
import time
import urllib.parse

import icalendar
import pytest

from conftest import (standard_catalog, today_in, ledger_query,
                      parse_instant, assert_error)
from smtp_server import SmtpServer

DAY = dt.timedelta(days=1)
ZOE = "Zo\u00eb \u00c5ngstr\u00f6m"
FAST = {"BOOKINGD_JOB_RETRY_BASE_MS": "100",
        "BOOKINGD_JOB_RETRY_MAX_MS": "400",
        "BOOKINGD_JOB_IDLE_POLL_MS": "50"}


@pytest.fixture
def smtp_tls(tmp_path):
    s = SmtpServer(tmp_path, tls=True).start()
    yield s
    s.stop()


@pytest.fixture
def smtp_plain(tmp_path):
    s = SmtpServer(tmp_path, tls=False)
    yield s
    s.stop()


def slots(d, offset_days=2):
    day = today_in("Europe/Berlin") + offset_days * DAY
    j = d.slots("intro", day, day)
    return [s["start"] for s in j["slots"][str(day)]]


def messages(d, uid=None):
    """(kind, recipient, status, message_id, sequence, attempts,
    last_error) of every message, oldest first."""
    sql = ("SELECT m.kind, m.recipient, m.status, m.message_id, m.sequence,"
           " m.attempts, m.last_error FROM messages m"
           " JOIN bookings b ON b.id = m.booking_id")
    params = ()
    if uid:
        sql += " WHERE b.uid = ?"
        params = (uid,)
    return ledger_query(d, sql + " ORDER BY m.id", params)


def wait_until(cond, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def calendar_of(msg, ctype="text/calendar"):
    for part in msg.walk():
        if part.get_content_type() == ctype:
            return icalendar.Calendar.from_ical(part.get_content())
    return None


def vevent(cal):
    return [c for c in cal.walk("VEVENT")][0]


def header_text(msg, name):
    return str(email.header.make_header(
        email.header.decode_header(msg.get(name, ""))))


def test_without_smtp_messages_are_skipped(make_daemon):
    d = make_daemon()
    d.apply(standard_catalog())
    b = d.book("intro", slots(d)[0]).json
    got = wait_until(lambda: len(messages(d, b["uid"])) == 2 and
                     messages(d, b["uid"]), "two messages")
    assert [(k, r, s) for k, r, s, *_ in got] == [
        ("attendee_confirmed", "ada@example.com", 2),
        ("host_new", "coach@example.com", 2)]
    assert d.stderr().count("BOOKINGD_SMTP_URL is not set") == 1
    jobs = ledger_query(d, "SELECT kind FROM jobs WHERE kind LIKE 'mail.%'")
    # No send jobs; the default reminders (a day and an hour before) wait.
    assert sorted(j for (j,) in jobs) == ["mail.event", "mail.reminder",
                                          "mail.reminder"]


def test_book_reschedule_cancel(make_daemon, smtp_tls):
    d = make_daemon(env={**smtp_tls.env(), **FAST})
    d.apply(standard_catalog())
    s = slots(d)
    b = d.book("intro", s[2], email="zoe@example.com", name=ZOE,
               timezone="America/New_York").json
    uid = b["uid"]
    smtp_tls.wait_for(2)
    r = d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s[6]},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    smtp_tls.wait_for(4)
    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "ill"},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    got = smtp_tls.wait_for(6)
    assert len(got) == 6
    assert all(m["tls"] and m["auth"] for m in got)

    to_zoe = [m for m in got if m["to"] == ["zoe@example.com"]]
    to_host = [m for m in got if m["to"] == ["coach@example.com"]]
    assert len(to_zoe) == 3 and len(to_host) == 3
    to_zoe.sort(key=lambda m: vevent(calendar_of(m["msg"]))["SEQUENCE"])
    starts = [s[2], s[2], s[6]]
    for i, (m, method) in enumerate(zip(to_zoe,
                                        ["REQUEST", "REQUEST", "CANCEL"])):
        msg = m["msg"]
        assert m["from"] == "bookings@example.com"
        name, addr = email.utils.parseaddr(header_text(msg, "To"))
        assert (name, addr) == (ZOE, "zoe@example.com")
        assert header_text(msg, "From") == \
            "Studio Ada <bookings@example.com>"
        assert b"=?UTF-8?" in m["raw"]  # RFC 2047 words on the wire
        assert msg.get_content_type() == "multipart/mixed"
        alt = [p for p in msg.walk()
               if p.get_content_type() == "multipart/alternative"][0]
        kinds = [p.get_content_type() for p in alt.iter_parts()]
        assert kinds == ["text/plain", "text/html", "text/calendar"]
        assert alt.get_payload()[0]["Content-Transfer-Encoding"] == \
            "quoted-printable"
        cal = calendar_of(msg)
        assert str(cal["METHOD"]) == method
        assert alt.get_payload()[2].get_param("method") == method
        ev = vevent(cal)
        assert str(ev["UID"]) == uid
        assert ev["SEQUENCE"] == i
        assert "Reschedule or cancel" in str(ev["DESCRIPTION"])
        assert str(ev["ORGANIZER"]) == "mailto:coach@example.com"
        assert str(ev["ATTENDEE"]) == "mailto:zoe@example.com"
        assert ev["ATTENDEE"].params["RSVP"] == "TRUE"
        assert ev["ATTENDEE"].params["CN"] == ZOE
        assert str(ev["STATUS"]) == ("CANCELLED" if method == "CANCEL"
                                     else "CONFIRMED")
        # the same invite as an attachment
        att = calendar_of(msg, "application/ics")
        assert att is not None and str(vevent(att)["UID"]) == uid
        text = msg.get_body(("plain",)).get_content()
        assert "(America/New_York)" in text
        assert ZOE in text
        if i == 2:
            continue
        # DTSTART of the booking at the time the message went out; the
        # first one may already show the rescheduled time.
        assert ev["DTSTART"].dt in (
            parse_instant(starts[i]).astimezone(dt.timezone.utc),
            parse_instant(s[6]).astimezone(dt.timezone.utc))
        # the manage link works
        link = [w for w in text.split() if "/manage/" in w][0]
        token = link.split("token=")[1]
        r = d.get(f"/api/v1/bookings/{uid}", query={"token": token})
        assert r.status == 200, r
    for m in to_host:
        assert header_text(m["msg"], "To").endswith("<coach@example.com>")
        text = m["msg"].get_body(("plain",)).get_content()
        assert "(Europe/Berlin)" in text and "zoe@example.com" in text
    subjects = sorted(header_text(m["msg"], "Subject") for m in to_host)
    assert subjects == ["Cancelled: Intro call with " + ZOE,
                        "New booking: Intro call with " + ZOE,
                        "Rescheduled: Intro call with " + ZOE]
    ids = [m["msg"]["Message-ID"] for m in got]
    assert len(set(ids)) == 6
    rows = wait_until(lambda: all(r[2] == 1 for r in messages(d, uid)) and
                      messages(d, uid), "all messages marked sent")
    assert sorted(r[3] for r in rows) == sorted(ids)
    assert sorted(r[4] for r in rows) == [0, 0, 1, 1, 2, 2]


def test_smtp_down_then_up(make_daemon, smtp_plain):
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(standard_catalog())
    uids = [d.book("intro", s, email=f"c{i}@example.com").json["uid"]
            for i, s in enumerate(slots(d)[:3])]
    # every message failed at least once while the server was down
    wait_until(lambda: len(messages(d)) == 6 and
               all(r[5] >= 1 and r[6] for r in messages(d)),
               "failed attempts")
    assert "SMTP" in messages(d)[0][6]
    smtp_plain.start()
    wait_until(lambda: all(r[2] == 1 for r in messages(d)) and
               len(messages(d)) == 6, "all sent")
    got = smtp_plain.messages()
    ids = [m["msg"]["Message-ID"] for m in got]
    assert len(ids) == 6 and len(set(ids)) == 6
    assert sorted(ids) == sorted(r[3] for r in messages(d))
    for uid in uids:
        assert any(uid in i for i in ids)


def test_550_recipient_is_dead(make_daemon, smtp_plain):
    smtp_plain.reject.add("nobody@example.com")
    smtp_plain.start()
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(standard_catalog())
    b = d.book("intro", slots(d)[0], email="nobody@example.com").json
    rows = wait_until(
        lambda: [r for r in messages(d, b["uid"]) if r[2] in (1, 3)]
        if len([r for r in messages(d, b["uid"]) if r[2] in (1, 3)]) == 2
        else None, "both messages settled")
    by_kind = {r[0]: r for r in rows}
    assert by_kind["host_new"][2] == 1
    failed = by_kind["attendee_confirmed"]
    assert failed[2] == 3 and failed[5] == 1
    assert "550" in failed[6] and "Recipient address rejected" in failed[6]
    dead = ledger_query(d, "SELECT status, attempts, last_error FROM jobs"
                           " WHERE kind = 'mail.send' AND status = 3")
    assert len(dead) == 1 and dead[0][1] == 1
    assert "550" in dead[0][2]
    assert [m["to"] for m in smtp_plain.messages()] == \
        [["coach@example.com"]]


@pytest.mark.parametrize("name", [
    "Eve\r\nBcc: evil@example.net",
    'Eve" <evil@example.net>, "x',
    "Eve\nSubject: forged",
])
def test_names_cannot_add_headers(make_daemon, smtp_plain, name):
    smtp_plain.start()
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(standard_catalog())
    r = d.book("intro", slots(d)[0], email="eve@example.com", name=name,
               expect=None)
    if "\r" in name or "\n" in name:
        if r.status != 201:  # refused at the door is fine too
            assert r.status in (400, 422), r
            return
    else:
        assert r.status == 201, r
    got = smtp_plain.wait_for(2)
    for m in got:
        msg = m["msg"]
        assert msg.get_all("Bcc") is None
        assert len(msg.get_all("Subject")) == 1
        assert len(msg.get_all("To")) == 1
        assert "evil@example.net" not in m["to"]
        assert len(m["to"]) == 1
        for line in m["raw"].split(b"\r\n\r\n")[0].split(b"\r\n"):
            assert not line.startswith((b"Bcc", b"Subject: forged"))
    to = header_text(
        [m for m in got if m["to"] == ["eve@example.com"]][0]["msg"], "To")
    assert email.utils.parseaddr(to)[1] == "eve@example.com"


def test_messages_and_ics_routes(make_daemon, smtp_plain):
    smtp_plain.start()
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(standard_catalog())
    s = slots(d)
    b = d.book("intro", s[0], email="zoe@example.com", name=ZOE).json
    uid, token = b["uid"], b["manage_token"]
    d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s[3]},
           query={"token": token})
    smtp_plain.wait_for(4)
    got = wait_until(
        lambda: (lambda j: j if len(j["data"]) == 4 and
                 all(m["status"] == "sent" for m in j["data"]) else None)(
            d.get(f"/api/v1/bookings/{uid}/messages", admin=True).json),
        "four sent messages")
    # Oldest first: the two changes' jobs may run in either order.
    m = [x for x in got["data"] if x["kind"] == "attendee_confirmed"][0]
    assert got["booking"] == uid
    assert m["kind"] == "attendee_confirmed" and m["to"] == "zoe@example.com"
    assert m["subject"] == "Confirmed: Intro call with Coach coach"
    assert m["message_id"] == f"<{uid}.attendee_confirmed.0@example.com>"
    assert m["sequence"] == 0 and m["attempts"] == 1
    assert m["last_error"] is None and m["sent_at"]
    assert sorted(x["sequence"] for x in got["data"]) == [0, 0, 1, 1]
    assert sorted(x["message_id"] for x in got["data"]) == sorted(
        x["msg"]["Message-ID"] for x in smtp_plain.messages())
    assert d.get(f"/api/v1/bookings/{uid}/messages").status == 401
    assert d.get(f"/api/v1/bookings/{uid}/messages",
                 query={"token": token}).status == 401
    assert d.get("/api/v1/bookings/nosuchbooking/messages",
                 admin=True).status == 404

    r = d.get(f"/api/v1/bookings/{uid}/ics", query={"token": token})
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/calendar")
    ev = vevent(icalendar.Calendar.from_ical(r.body))
    assert str(ev["UID"]) == uid and ev["SEQUENCE"] == 1
    assert ev["DTSTART"].dt == parse_instant(s[3]).astimezone(dt.timezone.utc)
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert d.get(f"/api/v1/bookings/{uid}/ics", admin=True).status == 200
    assert d.get(f"/api/v1/bookings/{uid}/ics",
                 query={"token": "x" * 43}).status == 401
    assert d.get(f"/api/v1/bookings/{uid}/ics").status == 401
    d.post(f"/api/v1/bookings/{uid}/cancel", {}, query={"token": token})
    ev = wait_until(lambda: (lambda e: e if e["SEQUENCE"] == 2 else None)(
        vevent(icalendar.Calendar.from_ical(
            d.get(f"/api/v1/bookings/{uid}/ics", admin=True).body))),
        "sequence 2")
    assert str(ev["STATUS"]) == "CANCELLED"


def test_invite_download_and_feed_are_one_event(make_daemon, smtp_plain):
    """The invite, the booking's .ics download and the host's feed carry
    one UID and one SEQUENCE for a booking, so a calendar that has the
    invite and subscribes to the feed shows it once."""
    smtp_plain.start()
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(standard_catalog())
    s = slots(d)
    b = d.book("intro", s[1], email="zoe@example.com", name=ZOE).json
    uid, token = b["uid"], b["manage_token"]
    smtp_plain.wait_for(2)
    r = d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s[4]},
               query={"token": token})
    assert r.status == 200, r
    got = smtp_plain.wait_for(4)
    invites = [vevent(calendar_of(m["msg"])) for m in got
               if m["to"] == ["zoe@example.com"]]
    latest = max(invites, key=lambda e: e["SEQUENCE"])
    assert {str(e["UID"]) for e in invites} == {uid}
    assert latest["SEQUENCE"] == 1

    r = d.get(f"/api/v1/bookings/{uid}/ics", query={"token": token})
    assert r.status == 200, r
    download = vevent(icalendar.Calendar.from_ical(r.body))

    r = d.get("/api/v1/hosts/coach/calendar-feed", admin=True)
    assert r.status == 200, r
    url = urllib.parse.urlsplit(r.json["url"])
    r = d.get(url.path, query=dict(urllib.parse.parse_qsl(url.query)))
    assert r.status == 200, r
    feed = [e for e in icalendar.Calendar.from_ical(r.body).walk("VEVENT")]
    assert len(feed) == 1

    for ev in (download, feed[0]):
        assert str(ev["UID"]) == uid
        assert ev["SEQUENCE"] == latest["SEQUENCE"]
        assert ev["DTSTART"].dt == latest["DTSTART"].dt
        assert str(ev["STATUS"]) == "CONFIRMED"
    # Published objects list the attendee without asking for an answer.
    assert "RSVP" not in download["ATTENDEE"].params
    assert "RSVP" not in feed[0]["ATTENDEE"].params
    assert latest["ATTENDEE"].params["RSVP"] == "TRUE"


def test_feed_sequences_are_each_bookings_own(make_daemon):
    """The feed reads the SEQUENCEs of a page of bookings in one query:
    each event still gets its own booking's number, and a cancelled
    booking is left out."""
    d = make_daemon(env=FAST)
    d.apply(standard_catalog())
    s = slots(d)
    moved = d.book("intro", s[0], email="a@example.com", name="A").json
    kept = d.book("intro", s[1], email="b@example.com", name="B").json
    gone = d.book("intro", s[2], email="c@example.com", name="C").json
    for to in (s[5], s[6]):
        r = d.post(f"/api/v1/bookings/{moved['uid']}/reschedule",
                   {"start": to}, query={"token": moved["manage_token"]})
        assert r.status == 200, r
    r = d.post(f"/api/v1/bookings/{gone['uid']}/cancel", {},
               query={"token": gone["manage_token"]})
    assert r.status == 200, r
    r = d.get("/api/v1/hosts/coach/calendar-feed", admin=True)
    url = urllib.parse.urlsplit(r.json["url"])
    r = d.get(url.path, query=dict(urllib.parse.parse_qsl(url.query)))
    assert r.status == 200, r
    seqs = {str(e["UID"]): int(e["SEQUENCE"])
            for e in icalendar.Calendar.from_ical(r.body).walk("VEVENT")}
    assert seqs == {moved["uid"]: 2, kept["uid"]: 0}
    for b, want in ((moved, 2), (kept, 0)):
        r = d.get(f"/api/v1/bookings/{b['uid']}/ics",
                  query={"token": b["manage_token"]})
        ev = vevent(icalendar.Calendar.from_ical(r.body))
        assert int(ev["SEQUENCE"]) == want


def test_templates_override(make_daemon, smtp_plain, tmp_path):
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "attendee_confirmed.txt").write_text(
        "Dear {{name}}, see you {{when}}.{{#where}} At {{where}}.{{/where}}\n"
        "{{manage_url}}\n")
    (tdir / "attendee_confirmed.html").write_text(
        "<p>Dear {{name}}</p>\n")
    smtp_plain.start()
    d = make_daemon(env={**smtp_plain.env(), **FAST,
                         "BOOKINGD_TEMPLATES": str(tdir)})
    d.apply(standard_catalog())
    d.book("intro", slots(d)[0], email="zoe@example.com",
           name="<b>Zo\u00eb</b>")
    got = smtp_plain.wait_for(2)
    msg = [m for m in got if m["to"] == ["zoe@example.com"]][0]["msg"]
    text = msg.get_body(("plain",)).get_content()
    assert text.startswith("Dear <b>Zo\u00eb</b>, see you ")
    assert "(Europe/London)." in text and "/manage/" in text
    assert "Where" not in text
    html = msg.get_body(("html",)).get_content()
    assert html.strip() == "<p>Dear &lt;b&gt;Zo\u00eb&lt;/b&gt;</p>"
    host = [m for m in got if m["to"] == ["coach@example.com"]][0]["msg"]
    assert "You have a new booking." in \
        host.get_body(("plain",)).get_content()


@pytest.mark.parametrize("content", ["{{password}}", "{{#notes}}open",
                                     "x" * (64 * 1024 + 1)])
def test_bad_templates_stop_the_start(tmp_path, content):
    from conftest import Daemon
    tdir = tmp_path / "templates"
    tdir.mkdir()
    (tdir / "host_new.txt").write_text(content)
    d = Daemon(tmp_path / "d")
    p = d.cli("serve", env={"BOOKINGD_TEMPLATES": str(tdir)}, timeout=20)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "BOOKINGD_TEMPLATES" in lines[0], p.stderr
    assert "host_new.txt" in lines[0]


def test_queued_then_no_smtp_is_skipped(make_daemon, smtp_plain):
    # The server never starts: the messages stay queued, retrying.
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(standard_catalog())
    uid = d.book("intro", slots(d)[0]).json["uid"]
    wait_until(lambda: len(messages(d, uid)) == 2 and
               all(r[2] == 0 and r[5] >= 1 for r in messages(d, uid)),
               "two failing messages")
    d.stop_checked()
    d.extra_env["BOOKINGD_SMTP_URL"] = None
    d.start()
    rows = wait_until(lambda: all(r[2] == 2 for r in messages(d, uid)) and
                      messages(d, uid), "messages skipped")
    assert len(rows) == 2
    assert smtp_plain.messages() == []


# ---- Reminders ---------------------------------------------------------------

def quick_catalog():
    """A host open all day (UTC) and a 5-minute event type bookable at
    once: slots every 5 minutes from now on."""
    return standard_catalog(zone="UTC", start="00:00", end="24:00",
                            event_types=[{
                                "slug": "quick", "title": "Quick call",
                                "duration_minutes": 5,
                                "slot_interval_minutes": 5,
                                "minimum_notice_minutes": 0}])


def soon_slots(d, after_s):
    """Starts (epoch seconds, ISO text) of 'quick' slots at least after_s
    seconds from now, soonest first."""
    today = dt.datetime.now(dt.timezone.utc).date()
    out = []
    for day in (today, today + DAY):
        j = d.slots("quick", day, day, timezone="UTC")
        for s in j["slots"].get(str(day), []):
            t = parse_instant(s["start"]).timestamp()
            if t >= time.time() + after_s:
                out.append((t, s["start"]))
    return out


def reminder_jobs(d):
    r = d.get("/api/v1/jobs", query={"kind": "mail.reminder"}, admin=True)
    assert r.status == 200, r
    return r.json["data"]


def test_reminders_minutes_validated(make_daemon):
    d = make_daemon()
    d.apply(standard_catalog())
    r = d.get("/api/v1/event-types/intro", admin=True)
    assert r.json["reminders_minutes"] == [1440, 60]
    assert "reminders_minutes" not in d.get("/api/v1/event-types/intro").json
    for bad in ["60", [0], [-5], [86401], [1.5], ["60"], [True], [60, 60],
                list(range(1, 12)), None, {"m": 60}, [2 ** 62]]:
        r = d.patch("/api/v1/event-types/intro", {"reminders_minutes": bad},
                    admin=True)
        assert_error(r, 422, "invalid_field", "reminders_minutes")
    for good in [[], [86400, 1], list(range(1, 11))]:
        r = d.patch("/api/v1/event-types/intro", {"reminders_minutes": good},
                    admin=True)
        assert r.status == 200, r
        assert r.json["reminders_minutes"] == good
    r = d.post("/api/v1/event-types", {
        "slug": "x", "title": "X", "host": "coach", "duration_minutes": 30,
        "reminders_minutes": [30]}, admin=True)
    assert r.status == 201 and r.json["reminders_minutes"] == [30], r
    # [] schedules nothing.
    d.patch("/api/v1/event-types/intro", {"reminders_minutes": []},
            admin=True)
    d.book("intro", slots(d)[0])
    assert reminder_jobs(d) == []


def test_reminder_arrives_and_cancelled_one_never(make_daemon, smtp_plain):
    smtp_plain.start()
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(quick_catalog())
    starts = soon_slots(d, 150)
    (a_t, a_start), (b_t, b_start) = starts[0], starts[1]
    # The whole number of minutes before A's start that falls 5 to 65
    # seconds from now; B (cancelled) gets the same offset.
    n = int((a_t - time.time() - 5) // 60)
    assert n >= 1
    r = d.patch("/api/v1/event-types/quick", {"reminders_minutes": [n, 1440]},
                admin=True)
    assert r.status == 200, r
    a = d.book("quick", a_start).json
    b = d.book("quick", b_start, email="bob@example.com", name="Bob").json
    smtp_plain.wait_for(4)  # the confirmations and the host's notices
    jobs = reminder_jobs(d)
    # 1440 minutes before either start has passed: not scheduled.
    assert len(jobs) == 2, jobs
    assert all(j["status"] == "queued" for j in jobs), jobs
    r = d.post(f"/api/v1/bookings/{b['uid']}/cancel", {"reason": "x"},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    # B's reminder is over at once, without running.
    dropped = wait_until(lambda: [j for j in reminder_jobs(d)
                                  if j["status"] == "done"], "a dropped job")
    assert len(dropped) == 1 and dropped[0]["attempts"] == 0, dropped
    assert "cancelled" in dropped[0]["last_error"], dropped
    # A's arrives when due.
    try:
        got = wait_until(
            lambda: [m["msg"] for m in smtp_plain.messages()
                     if header_text(m["msg"], "Subject").startswith(
                         "Reminder:")],
            "the reminder", timeout=120)
    except AssertionError:
        raise AssertionError(f"no reminder; jobs {reminder_jobs(d)}; "
                             f"log {d.stderr()[-3000:]}") from None
    assert time.time() >= a_t - n * 60 - 1
    msg = got[0]
    assert email.utils.parseaddr(header_text(msg, "To"))[1] == \
        "ada@example.com"
    assert header_text(msg, "Subject") == \
        "Reminder: Quick call with Coach coach"
    assert msg["Message-ID"] == \
        f"<{a['uid']}.attendee_reminder_{n}.0@example.com>"
    body = msg.get_body(("plain",)).get_content()
    assert "A reminder: your booking starts in" in body
    assert f"/manage/{a['uid']}?token=" in body
    assert calendar_of(msg) is None  # a reminder carries no invite
    assert msg.get_body(("html",)) is not None
    wait_until(lambda: all(j["status"] == "done" for j in reminder_jobs(d)),
               "every reminder job over")
    rows = [m for m in messages(d) if m[0].startswith("attendee_reminder")]
    assert [(k, r_, s) for k, r_, s, *_ in rows] == [
        (f"attendee_reminder_{n}", "ada@example.com", 1)]
    assert [header_text(m["msg"], "Subject") for m in smtp_plain.messages()
            if "bob@example.com" in m["to"]] == [
        "Confirmed: Quick call with Coach coach",
        "Cancelled: Quick call with Coach coach"]


def test_moved_booking_is_reminded_at_its_new_time(make_daemon):
    d = make_daemon(env=FAST)
    d.apply(standard_catalog())
    s = slots(d)
    b = d.book("intro", s[0]).json
    before = reminder_jobs(d)
    assert len(before) == 2
    r = d.post(f"/api/v1/bookings/{b['uid']}/reschedule", {"start": s[3]},
               query={"token": b["manage_token"]})
    assert r.status == 200, r
    jobs = reminder_jobs(d)
    old = [j for j in jobs if j["id"] in {x["id"] for x in before}]
    new = [j for j in jobs if j not in old]
    assert all(j["status"] == "done" and "moved" in j["last_error"]
               for j in old), old
    assert len(new) == 2 and all(j["status"] == "queued" for j in new), new
    due = sorted(parse_instant(j["next_attempt_at"]).timestamp()
                 for j in new)
    start = parse_instant(s[3]).timestamp()
    assert due == [start - 1440 * 60, start - 60 * 60]


def test_connection_kept_between_messages(make_daemon, smtp_tls):
    """One worker sends every message on one SMTP connection (STARTTLS and
    AUTH once); when the server has closed it meanwhile, the next message
    goes out at once on a new one, not after a failed attempt."""
    d = make_daemon(env={**smtp_tls.env(), **FAST, "BOOKINGD_WORKERS": "1"})
    d.apply(standard_catalog())
    s = slots(d)
    for i in range(3):
        d.book("intro", s[i * 2], email=f"k{i}@example.com")
    got = smtp_tls.wait_for(6)
    assert len(got) == 6 and all(m["tls"] and m["auth"] for m in got)
    assert smtp_tls.sessions() == 1
    smtp_tls.close_connections()
    d.book("intro", s[8], email="k4@example.com")
    got = smtp_tls.wait_for(8)
    assert len(got) == 8
    assert smtp_tls.sessions() == 2
    rows = wait_until(lambda: (lambda r: len(r) == 8 and
                               all(x[2] == 1 for x in r) and r)(messages(d)),
                      "every message sent")
    assert [x[5] for x in rows] == [1] * 8, rows  # one attempt each


def _parts(msg):
    """The decoded text/plain and text/html parts of a message."""
    out = {}
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("text/plain", "text/html"):
            out[ctype] = part.get_payload(decode=True).decode(
                part.get_content_charset() or "utf-8")
    return out


def test_host_notice_has_the_answers_attendee_mail_not(make_daemon,
                                                       smtp_plain):
    """The answers to the event type's questions go to the host (both
    parts, markup escaped in HTML), never into the attendee's mail."""
    smtp_plain.start()
    d = make_daemon(env={**smtp_plain.env(), **FAST})
    d.apply(standard_catalog())
    r = d.patch("/api/v1/event-types/intro", {"questions": [
        {"id": "goal", "label": "Goal", "type": "text", "required": True},
        {"id": "ok", "label": "Terms ok", "type": "checkbox"}]}, admin=True)
    assert r.status == 200, r
    r = d.post("/api/v1/bookings", {
        "event_type": "intro", "start": slots(d)[0],
        "attendee": {"name": "Ada", "email": "ada@example.com"},
        "answers": {"goal": "Secret <b>plan</b>", "ok": True}})
    assert r.status == 201, r
    got = smtp_plain.wait_for(2)
    host = [m for m in got if m["to"] == ["coach@example.com"]][0]
    att = [m for m in got if m["to"] == ["ada@example.com"]][0]
    hp = _parts(host["msg"])
    assert "Goal: Secret <b>plan</b>" in hp["text/plain"], hp["text/plain"]
    assert "Terms ok: Yes" in hp["text/plain"]
    assert "Secret &lt;b&gt;plan&lt;/b&gt;" in hp["text/html"], hp["text/html"]
    assert "<b>plan" not in hp["text/html"]
    for text in _parts(att["msg"]).values():
        assert "Secret" not in text and "Terms ok" not in text
