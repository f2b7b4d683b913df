"""POST /webhooks/calendly end to end (issue 10 §1, PROVIDERS.md §2.1-2.2,
docs/providers/calendly.md): the real daemon, bodies shaped as Calendly sends them
(tests/fixtures/calendly, varied per test), signed here over the exact bytes
with a timestamp. The signature scheme and its tolerance window, replays,
invitee.created / invitee.canceled, the reschedule pair in both orders and
duplicated, no-shows set and cleared, unknown events, hostile bodies, and
the pair sent concurrently many times.

Deliveries are applied asynchronously by the job workers: the tests poll
(bounded) until each delivery reaches a final status before looking at the
ledger."""
import concurrent.futures
import datetime as dt
import itertools
import json
import random
import time

import pytest

import calendly_helpers as H
from conftest import assert_error, parse_instant, standard_catalog

DAY = dt.timedelta(days=1)

# The event type URI of the fixtures (payload.scheduled_event.event_type).
FIXTURE_ET = "https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2"


@pytest.fixture
def cly(make_daemon):
    """A daemon taking Calendly webhooks, with no catalog."""
    return H.start_calendly(make_daemon)


@pytest.fixture
def coach(make_daemon):
    """A daemon taking Calendly webhooks with the standard catalog (host
    'coach', event type 'intro') plus 'cly-30', mapped to the fixtures'
    Calendly event type."""
    d = H.start_calendly(make_daemon)
    d.apply(standard_catalog(event_types=[{
        "slug": "cly-30", "title": "Calendly 30 min", "duration_minutes": 30,
        "external_ids": {"calendly": FIXTURE_ET}}]))
    return d


def ledger_rows(d):
    snap = d.snapshot()
    return {t: snap.get(t, []) for t in
            ("bookings", "clients", "booking_history", "external_links",
             "activity", "hosts", "event_types")}


def assert_nothing_applied(d):
    rows = ledger_rows(d)
    for t in ("bookings", "clients", "external_links", "activity",
              "booking_history"):
        assert rows[t] == [], (t, rows[t][:5])


def app_jobs(d):
    with H.ro(d) as con:
        return con.execute("SELECT count(*) FROM jobs "
                           "WHERE kind <> 'jobs.prune'").fetchone()[0]


# ---- configuration -----------------------------------------------------------

@pytest.mark.parametrize("value", [None, ""])
def test_without_a_signing_key_webhooks_are_refused_with_503(make_daemon,
                                                             value):
    d = make_daemon(env={"CALENDLY_WEBHOOK_SIGNING_KEY": value})
    raw = H.fixture_bytes("invitee_created")
    for sig in [H.sig_header("whatever", raw), False]:
        r = H.post(d, raw, signature=sig)
        e = assert_error(r, 503, "not_configured")
        assert "CALENDLY_WEBHOOK_SIGNING_KEY" in e["message"], e
    assert H.inbox_count(d) == 0
    assert_nothing_applied(d)


def test_only_post_is_routed(cly):
    for method in ["GET", "PUT", "DELETE"]:
        assert_error(cly.request(method, H.WEBHOOK_PATH), 405)


# ---- the signature -----------------------------------------------------------

def test_bad_missing_or_malformed_signature_is_401_and_stores_nothing(cly):
    raw = H.body_of(H.created())
    now = int(time.time())
    good = H.sign(cly.secret, now, raw)
    cases = {
        "missing": False,
        "empty": "",
        "other key": H.sig_header(cly.secret + "x", raw, now),
        "key prefix only": H.sig_header(cly.secret[:-1], raw, now),
        "another body's": H.sig_header(cly.secret, raw + b" ", now),
        "signed without the timestamp":
            f"t={now},v1=" + __import__("hmac").new(
                cly.secret.encode(), raw, "sha256").hexdigest(),
        "other t than signed": f"t={now - 1},v1={good}",
        "flipped digit": f"t={now},v1={good[:-1]}" +
                         ("0" if good[-1] != "0" else "1"),
        "truncated": f"t={now},v1={good[:-2]}",
        "one byte longer": f"t={now},v1={good}00",
        "not hex": f"t={now},v1=" + "z" * 64,
        "no t": f"v1={good}",
        "no v1": f"t={now}",
        "v0 only": f"t={now},v0={good}",
        "empty t": f"t=,v1={good}",
        "t not a number": f"t=abc,v1={good}",
        "negative t": f"t=-{now},v1={good}",
        "t in milliseconds": f"t={now * 1000},v1={good}",
        "huge t": f"t={'9' * 40},v1={good}",
        "two t": f"t={now},t={now},v1={good}",
        "no equals": f"t{now},v1{good}",
        "Stripe's name": f"Stripe-Signature: t={now},v1={good}",
        "sha256= like Notion": "sha256=" + good,
        "bare hex like Cal.com": good,
        "over 1 KiB": f"t={now}," + ",".join([f"v1={good}"] * 20),
        "junk": ",,==,",
    }
    for what, sig in cases.items():
        r = H.post(cly, raw, signature=sig)
        e = assert_error(r, 401, "unauthorized")
        assert "Calendly-Webhook-Signature" in e["message"], (what, e)
    # The signature covers the exact bytes: the same JSON re-serialized
    # does not verify.
    pretty = json.dumps(json.loads(raw), indent=2).encode()
    assert_error(H.post(cly, pretty, signature=f"t={now},v1={good}"), 401)
    assert H.inbox_count(cly) == 0
    assert_nothing_applied(cly)
    # The untouched body with its signature is taken; spaces after the
    # commas and an extra v1 or unknown scheme next to the right one too.
    dlv = H.received(cly, raw, signature=f"t={now}, v1={'0' * 64}, "
                                         f"v1={good}, v2=abc")
    H.wait_processed(cly, dlv)
    assert len(H.bookings(cly)) == 1


def test_timestamp_tolerance_window(cly):
    """Within 180 s of the server's clock either way: accepted; beyond:
    401, nothing stored, however right the signature is."""
    now = int(time.time())
    for skew in [-(H.TOLERANCE_S + 5), H.TOLERANCE_S + 5, -86400, 86400,
                 -now]:
        raw = H.body_of(H.created())
        r = H.post(cly, raw, t=now + skew)
        e = assert_error(r, 401, "unauthorized")
        assert "timestamp" in e["message"], e
    assert H.inbox_count(cly) == 0
    ids = [H.received(cly, H.created(), t=now + skew)
           for skew in (-(H.TOLERANCE_S - 30), H.TOLERANCE_S - 30, 0)]
    H.wait_processed(cly, ids)
    assert len(H.bookings(cly)) == 3


def test_bad_signature_wins_over_wrong_content_type(cly):
    r = H.post(cly, b"a=b", signature=f"t={int(time.time())},v1={'0' * 64}",
               content_type="application/x-www-form-urlencoded")
    assert_error(r, 401)
    r = H.post(cly, H.created(), content_type="text/plain")
    assert_error(r, 415, "unsupported_media_type")
    assert H.inbox_count(cly) == 0


# ---- invitee.created / invitee.canceled --------------------------------------

def test_created_fixture_records_a_confirmed_calendly_booking(cly):
    raw = H.fixture_bytes("invitee_created")
    fx = json.loads(raw)["payload"]
    r = H.post(cly, raw)
    assert r.status == 200 and r.json["status"] == "received", r
    assert r.json["type"] == "invitee.created"
    H.wait_processed(cly, r.json["delivery"])
    (b,) = H.bookings(cly)
    se = fx["scheduled_event"]
    assert b["status"] == "confirmed" and b["source"] == "calendly", b
    assert parse_instant(b["start"]) == parse_instant(se["start_time"])
    assert parse_instant(b["end"]) == parse_instant(se["end_time"])
    assert b["attendee_timezone"] == "Europe/Paris"
    assert b["meeting_url"] == se["location"]["join_url"]
    assert b["notes"] == "What would you like to discuss?: Getting started"
    links = {(l["kind"], l["external_id"], l["superseded"])
             for l in b["links"] if l["provider"] == "calendly"}
    assert links == {("booking_uid", fx["uri"], False),
                     ("booking_id", se["uri"], False)}, links
    (c,) = H.clients(cly)
    assert (c["email"], c["name"]) == ("alex@client.example", "Alex Client")
    et = cly.get(f"/api/v1/event-types/{b['event_type']}", admin=True).json
    assert et["imported"] is True and et["active"] is False, et
    assert et["external_ids"] == {"calendly": se["event_type"]}, et
    assert et["slug"] == "calendly-30-minute-meeting", et
    assert et["duration_minutes"] == 30
    (h,) = H.history(cly, b["uid"])
    assert h["action"] == "created" and h["actor"] == "calendly", h
    # The organizer (event_memberships[0]) became the imported host.
    hosts = cly.get("/api/v1/hosts", admin=True).json["data"]
    assert [x["email"] for x in hosts] == ["coach@example.com"], hosts


def test_created_uses_the_event_type_mapped_by_external_ids(coach):
    dlv = H.received(coach, H.created(event_type=FIXTURE_ET))
    H.wait_processed(coach, dlv)
    (b,) = H.bookings(coach)
    assert b["event_type"] == "cly-30", b


def test_canceled_cancels_with_the_reason(coach):
    inv = H.new_invitee()
    s, e = H.future_slot(days=3, hour=9)
    H.wait_processed(coach, H.received(coach, H.created(inv, s, e)))
    H.wait_processed(coach, H.received(
        coach, H.canceled(inv, s, e, reason="Double booked")))
    b = H.booking_for(coach, inv)
    assert b["status"] == "cancelled", b
    assert b["cancellation_reason"] == "Double booked", b


def test_cancel_of_an_unknown_invitee_records_a_cancelled_booking(coach):
    inv = H.new_invitee()
    s, e = H.future_slot(days=6, hour=11)
    H.wait_processed(coach, H.received(coach, H.canceled(inv, s, e)))
    b = H.booking_for(coach, inv)
    assert b["status"] == "cancelled" and parse_instant(b["start"]) == s, b
    # Its creation, arriving late, leaves it cancelled and adds nothing.
    H.wait_processed(coach, H.received(coach, H.created(inv, s, e)))
    assert H.booking_for(coach, inv)["status"] == "cancelled"
    assert len(H.bookings(coach)) == 1


# ---- duplicates ---------------------------------------------------------------

def test_duplicates_are_200_duplicate_and_change_nothing(coach):
    j = H.created()
    raw = H.body_of(j)
    first = H.received(coach, raw)
    H.wait_processed(coach, first)
    before = ledger_rows(coach)
    # Calendly's retry: the same bytes, signed again at a later t.
    for _ in range(3):
        r = H.post(coach, raw, t=int(time.time()) + 1)
        assert r.status == 200 and r.json["status"] == "duplicate", r
        assert r.json["delivery"] == first
    # The delivery key is event + invitee + created_at: the same event
    # re-serialized (other bytes) is the same delivery too.
    r = H.post(coach, json.dumps(j, indent=1).encode())
    assert r.status == 200 and r.json["status"] == "duplicate", r
    assert H.inbox_count(coach) == 1
    time.sleep(0.3)
    assert ledger_rows(coach) == before
    # A different created_at is another delivery, applied as a no-op.
    j["created_at"] = H.created_at()
    H.wait_processed(coach, H.received(coach, j))
    assert len(H.bookings(coach)) == 1


def test_delivery_key_and_normalized_event_are_stored(cly):
    j = H.created()
    dlv = H.received(cly, j)
    H.wait_processed(cly, dlv)
    with H.ro(cly) as con:
        key, subject, norm = con.execute(
            "SELECT delivery_key, subject, normalized FROM inbox "
            "WHERE public_id = ?", (dlv,)).fetchone()
    assert key == f"invitee.created:{j['payload']['uri']}:{j['created_at']}"
    assert subject == j["payload"]["uri"]
    n = json.loads(norm)
    assert n["kind"] == "created" and n["provider"] == "calendly", n
    assert n["booking"]["uid"] == j["payload"]["uri"], n
    # The halves of a reschedule are stored as their own kinds.
    old = j["payload"]["uri"]
    c, r, new = H.reschedule_pair(old, *H.future_slot(days=5))
    ids = [H.received(cly, c), H.received(cly, r)]
    H.wait_processed(cly, ids)
    with H.ro(cly) as con:
        kinds = [json.loads(x)["booking"] for (x,) in con.execute(
            "SELECT normalized FROM inbox ORDER BY id").fetchall()]
    assert kinds[1]["uid"] == old and kinds[1]["next_uid"] == new, kinds
    assert kinds[2]["uid"] == new and kinds[2]["previous_uid"] == old, kinds


# ---- the reschedule pair --------------------------------------------------------

def _assert_moved(d, old, new, start, end, booking_uid=None):
    """One ledger booking for the pair: confirmed at the new time, the new
    invitee its live link and the old one superseded."""
    found = H.by_invitee(d)
    assert len(found.get(new, [])) == 1, found
    assert len(found.get(old, [])) == 1, found
    (b,) = found[new]
    assert found[old][0]["uid"] == b["uid"]
    assert b["status"] == "confirmed", b
    assert parse_instant(b["start"]) == start, b
    assert parse_instant(b["end"]) == end, b
    assert H.invitee_uris(b, superseded=False) == {new}, b["links"]
    assert H.invitee_uris(b, superseded=True) == {old}, b["links"]
    if booking_uid:
        assert b["uid"] == booking_uid
    return b


@pytest.mark.parametrize("order", ["cancel_first", "create_first"])
def test_reschedule_pair_moves_the_booking(coach, order):
    old = H.new_invitee()
    t1, e1 = H.future_slot(days=3, hour=9)
    t2, e2 = H.future_slot(days=4, hour=13)
    H.wait_processed(coach, H.received(coach, H.created(old, t1, e1)))
    before = H.booking_for(coach, old)
    cancel, create, new = H.reschedule_pair(old, t2, e2, t1, e1)
    pair = [cancel, create] if order == "cancel_first" else [create, cancel]
    for j in pair:
        H.wait_processed(coach, H.received(coach, j))
        # Never none: after each half a live booking exists.
        assert [b["status"] for b in H.bookings(coach)] == ["confirmed"]
    b = _assert_moved(coach, old, new, t2, e2, before["uid"])
    assert parse_instant(b["rescheduled_from"]) == t1
    hist = H.history(coach, b["uid"])
    assert [h["action"] for h in hist] == ["created", "rescheduled"], hist
    assert len(H.bookings(coach)) == 1
    # A later real cancel of the new invitee cancels it.
    H.wait_processed(coach, H.received(coach, H.canceled(new, t2, e2)))
    assert H.booking(coach, b["uid"])["status"] == "cancelled"


@pytest.mark.parametrize("order", ["cancel_first", "create_first"])
def test_reschedule_pair_of_an_unknown_booking(coach, order):
    """The original's invitee.created never arrived (or arrives last):
    still one booking, at the new time."""
    old = H.new_invitee()
    t1, e1 = H.future_slot(days=3, hour=9)
    t2, e2 = H.future_slot(days=4, hour=13)
    cancel, create, new = H.reschedule_pair(old, t2, e2, t1, e1)
    pair = [cancel, create] if order == "cancel_first" else [create, cancel]
    for j in pair:
        H.wait_processed(coach, H.received(coach, j))
    b = _assert_moved(coach, old, new, t2, e2)
    # The original's creation, arriving last, adds nothing.
    H.wait_processed(coach, H.received(coach, H.created(old, t1, e1)))
    _assert_moved(coach, old, new, t2, e2, b["uid"])
    assert len(H.bookings(coach)) == 1


def test_reschedule_pair_every_order_with_duplicates(coach):
    """The original, both halves, and a duplicate (a resend with a new
    created_at, so a separate delivery) of either half, in every order of
    the four: one booking at the new time each time."""
    n = 0
    for dup in ("cancel", "create"):
        for perm in itertools.permutations(range(4)):
            n += 1
            old = H.new_invitee()
            t1, e1 = H.future_slot(days=2 + n % 20, hour=8)
            t2, e2 = H.future_slot(days=2 + n % 20, hour=8, minute=30)
            cancel, create, new = H.reschedule_pair(old, t2, e2, t1, e1)
            again = json.loads(json.dumps(cancel if dup == "cancel"
                                          else create))
            again["created_at"] = H.created_at()
            bodies = [H.created(old, t1, e1), cancel, create, again]
            for i in perm:
                H.wait_processed(coach, H.received(coach, bodies[i]))
            _assert_moved(coach, old, new, t2, e2)
    assert len(H.bookings(coach)) == n
    assert all(b["status"] == "confirmed" for b in H.bookings(coach))


def test_reschedule_chain_in_any_order(coach):
    """O -> N -> M (two reschedules: five deliveries) in random orders: one
    live booking, at M's time. (When O's creation and M's arrive before the
    N step that connects them, O was recorded on its own first: that copy
    ends cancelled as superseded, ledger/sync.h.)"""
    rnd = random.Random(10)
    for k in range(6):
        o = H.new_invitee()
        t0, e0 = H.future_slot(days=3 + k, hour=8)
        t1, e1 = H.future_slot(days=3 + k, hour=10)
        t2, e2 = H.future_slot(days=3 + k, hour=12)
        c1, r1, nn = H.reschedule_pair(o, t1, e1, t0, e0)
        c2, r2, m = H.reschedule_pair(nn, t2, e2, t1, e1)
        bodies = [H.created(o, t0, e0), c1, r1, c2, r2]
        rnd.shuffle(bodies)
        for j in bodies:
            H.wait_processed(coach, H.received(coach, j))
        found = H.by_invitee(coach)
        (b,) = found[m]
        assert b["status"] == "confirmed" and \
            parse_instant(b["start"]) == t2, b
        assert H.invitee_uris(b, superseded=False) == {m}
        mine = {x["uid"]: x for u in (o, nn, m) for x in found.get(u, [])}
        live = [x for x in mine.values() if x["status"] != "cancelled"]
        assert [x["uid"] for x in live] == [b["uid"]], mine
    live = [x for x in H.bookings(coach) if x["status"] != "cancelled"]
    assert len(live) == 6


def test_reschedule_cancel_half_never_cancels(coach):
    """The cancel half alone (its create lost): the booking stays live at
    its old time, and the delivery is processed, not retried."""
    old = H.new_invitee()
    t1, e1 = H.future_slot(days=3, hour=9)
    H.wait_processed(coach, H.received(coach, H.created(old, t1, e1)))
    cancel, _, _ = H.reschedule_pair(old, *H.future_slot(days=5), t1, e1)
    dlv = H.received(coach, cancel)
    H.wait_processed(coach, dlv)
    b = H.booking_for(coach, old)
    assert b["status"] == "confirmed" and parse_instant(b["start"]) == t1
    assert H.delivery(coach, dlv)["attempts"] == 1


# ---- no-shows ----------------------------------------------------------------

def test_no_show_set_and_cleared(coach):
    inv = H.new_invitee()
    s, e = H.future_slot(days=2, hour=9)
    H.wait_processed(coach, H.received(coach, H.created(inv, s, e)))
    mark = f"{H.API}/invitee_no_shows/MARK1"
    H.wait_processed(coach, H.received(coach, H.no_show(inv, mark, start=s,
                                                        end=e)))
    b = H.booking_for(coach, inv)
    assert b["status"] == "no_show", b
    (c,) = H.clients(coach)
    assert c["status"] == "prospect"
    # Sent again (a new delivery of the same mark): unchanged.
    H.wait_processed(coach, H.received(coach, H.no_show(inv, mark)))
    assert H.booking_for(coach, inv)["status"] == "no_show"
    H.wait_processed(coach, H.received(coach, H.no_show(inv, mark,
                                                        deleted=True)))
    b = H.booking_for(coach, inv)
    assert b["status"] == "completed", b
    (c,) = H.clients(coach)
    assert c["status"] == "active", c
    hist = [h["action"] for h in H.history(coach, b["uid"])]
    assert hist == ["created", "no_show", "completed"], hist
    # A new mark after that sets it again; removing it without a mark
    # URI (no_show null) clears it.
    H.wait_processed(coach, H.received(coach, H.no_show(inv)))
    assert H.booking_for(coach, inv)["status"] == "no_show"
    H.wait_processed(coach, H.received(coach, H.no_show(inv, False,
                                                        deleted=True)))
    assert H.booking_for(coach, inv)["status"] == "completed"


def test_no_show_removed_before_its_mark_arrives_ends_alike(coach):
    """The removal first, then its mark: the mark is not set, and the
    booking ends completed, as when they arrive in order."""
    inv = H.new_invitee()
    H.wait_processed(coach, H.received(coach, H.created(inv)))
    mark = f"{H.API}/invitee_no_shows/MARK2"
    H.wait_processed(coach, H.received(coach, H.no_show(inv, mark,
                                                        deleted=True)))
    assert H.booking_for(coach, inv)["status"] == "completed"
    H.wait_processed(coach, H.received(coach, H.no_show(inv, mark)))
    b = H.booking_for(coach, inv)
    assert b["status"] == "completed", b
    assert [h["action"] for h in H.history(coach, b["uid"])] == \
        ["created", "completed"]
    # A removal without a mark URI of a booking that is not a no-show
    # changes nothing.
    other = H.new_invitee()
    H.wait_processed(coach, H.received(coach, H.created(other)))
    H.wait_processed(coach, H.received(coach, H.no_show(other, False,
                                                        deleted=True)))
    assert H.booking_for(coach, other)["status"] == "confirmed"


def test_no_show_of_an_unknown_invitee_waits_for_its_creation(coach):
    inv = H.new_invitee()
    s, e = H.future_slot(days=2, hour=15)
    dlv = H.received(coach, H.no_show(inv, start=s, end=e))
    # The attempt's failure is recorded after its claim counted it: wait
    # for the record, not for the count alone.
    H.wait_until(lambda: (H.delivery(coach, dlv)["attempts"] >= 1
                          and H.delivery(coach, dlv)["last_error"]), 30,
                 "a first attempt's failure recorded")
    row = H.delivery(coach, dlv)
    # Waiting (or, out of attempts, failed: the creation wakes it anyway).
    assert row["status"] in ("received", "retrying", "failed"), row
    assert "not known yet" in (row["last_error"] or ""), row
    assert H.bookings(coach) == []
    created = H.received(coach, H.created(inv, s, e))
    H.wait_processed(coach, [created, dlv])
    assert H.booking_for(coach, inv)["status"] == "no_show"


def test_no_show_of_a_cancelled_booking_changes_nothing(coach):
    inv = H.new_invitee()
    s, e = H.future_slot(days=2, hour=16)
    H.wait_processed(coach, H.received(coach, H.created(inv, s, e)))
    H.wait_processed(coach, H.received(coach, H.canceled(inv, s, e)))
    H.wait_processed(coach, H.received(coach, H.no_show(inv)))
    assert H.booking_for(coach, inv)["status"] == "cancelled"


# ---- unknown events ------------------------------------------------------------

def test_unknown_events_are_stored_ignored(cly):
    bodies = [H.fixture_bytes("routing_form_submission_created")]
    for event in ["event_type.created", "event_type.deleted",
                  "meeting_recap.created", "contact.updated",
                  "invitee.rescheduled", "invitee.updated"]:
        j = H.created()
        j["event"] = event
        bodies.append(H.body_of(j))
    bodies.append(b'{"event":"something.new","created_at":"2026-01-01T00:00:'
                  b'00.000000Z","payload":{}}')
    bodies.append(b'{"event":"something.newer","payload":"not an object"}')
    ids = []
    for raw in bodies:
        r = H.post(cly, raw)
        assert r.status == 200 and r.json["status"] == "ignored", r
        assert r.json["type"] == json.loads(raw)["event"]
        ids.append(r.json["delivery"])
        again = H.post(cly, raw)
        assert again.json["status"] == "duplicate", again
    assert len(set(ids)) == len(bodies)
    for x in H.deliveries(cly):
        assert x["status"] == "ignored", x
    time.sleep(0.3)
    assert_nothing_applied(cly)
    assert app_jobs(cly) == 0


# ---- hostile and malformed bodies -------------------------------------------------

def _mut(fn):
    j = H.created()
    fn(j)
    return j


def _se(j):
    return j["payload"]["scheduled_event"]


UNAPPLIABLE = {
    "no event": (lambda j: j.pop("event"), "event"),
    "event a number": (lambda j: j.update(event=5), "event"),
    "event with spaces": (lambda j: j.update(event="invitee created"),
                          "event"),
    "event overlong": (lambda j: j.update(event="a" * 65), "event"),
    "payload missing": (lambda j: j.pop("payload"), "payload"),
    "payload a string": (lambda j: j.update(payload="x"), "payload"),
    "payload an array": (lambda j: j.update(payload=[1]), "payload"),
    "uri missing": (lambda j: j["payload"].pop("uri"), "payload.uri"),
    "uri a number": (lambda j: j["payload"].update(uri=7), "payload.uri"),
    "uri empty": (lambda j: j["payload"].update(uri=""), "payload.uri"),
    "uri overlong": (lambda j: j["payload"].update(
        uri=H.API + "/" + "a" * 400), "payload.uri"),
    "uri with a space": (lambda j: j["payload"].update(uri="a b"),
                         "payload.uri"),
    "old_invitee a number": (lambda j: j["payload"].update(old_invitee=1),
                             "payload.old_invitee"),
    "old_invitee an object": (lambda j: j["payload"].update(
        old_invitee={"uri": "x"}), "payload.old_invitee"),
    "rescheduled a string": (lambda j: j["payload"].update(
        rescheduled="yes"), "payload.rescheduled"),
    "scheduled_event missing": (lambda j: j["payload"].pop(
        "scheduled_event"), "payload.scheduled_event"),
    "scheduled_event an array": (lambda j: j["payload"].update(
        scheduled_event=[]), "payload.scheduled_event"),
    "start_time missing": (lambda j: _se(j).pop("start_time"),
                           "payload.scheduled_event.start_time"),
    "start_time a number": (lambda j: _se(j).update(start_time=1796198400),
                            "payload.scheduled_event.start_time"),
    "start_time not a date": (lambda j: _se(j).update(start_time="soon"),
                              "payload.scheduled_event.start_time"),
    "end before start": (lambda j: _se(j).update(
        end_time="2000-01-01T00:00:00.000000Z"),
        "payload.scheduled_event.end_time"),
    "email missing": (lambda j: j["payload"].pop("email"), "payload.email"),
    "email invalid": (lambda j: j["payload"].update(email="not-an-email"),
                      "payload.email"),
    "email a list": (lambda j: j["payload"].update(email=["a@b.example"]),
                     "payload.email"),
}


def test_bodies_that_cannot_be_applied_are_stored_failed_and_acknowledged(
        cly):
    """Stored as failed for an admin, and answered 200 "failed" with why:
    Calendly disables a subscription after 24 h of non-2xx answers, so one
    bad payload must not cut off every later delivery (docs/providers/calendly.md)."""
    seen = set()
    for what, (fn, field) in UNAPPLIABLE.items():
        raw = H.body_of(_mut(fn))
        r = H.post(cly, raw)
        assert r.status == 200, (what, r)
        j = r.json
        assert j["status"] == "failed", (what, j)
        assert j["error"]["code"] == "invalid_field", (what, j)
        assert j["error"]["field"] == field, (what, j)
        dlv = j["delivery"]
        assert dlv.startswith("dlv_") and dlv not in seen, what
        seen.add(dlv)
        row = H.delivery(cly, dlv)
        assert row["status"] == "failed", (what, row)
        assert row["last_error"].startswith(field + ":"), (what, row)
        assert row["attempts"] == 0, (what, row)
        again = H.post(cly, raw)
        assert again.status == 200 and again.json["status"] == "duplicate", \
            (what, again)
        assert again.json["delivery"] == dlv
    assert H.inbox_count(cly) == len(UNAPPLIABLE)
    assert app_jobs(cly) == 0
    rows = ledger_rows(cly)
    for t in ("bookings", "clients", "external_links", "activity",
              "booking_history", "hosts", "event_types"):
        assert rows[t] == [], (t, rows[t][:3])


MALFORMED = {
    "not json": b"{not json",
    "truncated": H.fixture_bytes("invitee_created")[:-9],
    "array": b"[1, 2]",
    "null": b"null",
    "empty": b"",
    "duplicate keys": b'{"event":"invitee.created","event":"invitee.canceled"}',
    "invalid utf-8": b'{"event":"invitee.created","x":"\xff\xfe"}',
    "nested 100000 deep": b'{"event":"invitee.created","payload":' +
                          b"[" * 100000 + b"]" * 100000 + b"}",
}


def test_malformed_json_is_stored_failed_and_acknowledged(cly):
    for what, raw in MALFORMED.items():
        r = H.post(cly, raw)
        assert r.status == 200 and r.json["status"] == "failed", (what, r)
        assert r.json["error"]["code"] == "invalid_json", (what, r.json)
        assert "field" not in r.json["error"], r.json
        row = H.delivery(cly, r.json["delivery"])
        assert row["status"] == "failed" and row["attempts"] == 0, (what, row)
        assert row["payload_bytes"] == len(raw), (what, row)
    assert app_jobs(cly) == 0
    assert_nothing_applied(cly)
    assert cly.get("/healthz").status == 200


def test_hostile_values_are_dropped_not_trusted(cly):
    """Values bookingd cannot trust are left out rather than refused: a
    bogus time zone, a javascript: join URL, control characters in the
    name, an answer list of junk, a deeply nested (but parseable) field
    nobody reads."""
    def mutate(j):
        p = j["payload"]
        p["timezone"] = "Mars/Olympus_Mons"
        p["name"] = "Eve\u0007\u001b"
        p["first_name"] = None
        p["questions_and_answers"] = [1, "x", {"question": 5},
                                      {"question": "Q", "answer": "A"}]
        _se(j)["location"]["join_url"] = "javascript:alert(1)"
        _se(j)["event_type"] = "\u0001bad"
        nested = {}
        cur = nested
        for _ in range(200):
            cur["x"] = {}
            cur = cur["x"]
        p["tracking"] = nested
    dlv = H.received(cly, _mut(mutate))
    H.wait_processed(cly, dlv)
    (b,) = H.bookings(cly)
    assert b["meeting_url"] is None, b
    assert b["attendee_timezone"] in (None, "UTC"), b
    assert b["notes"] == "Q: A", b
    (c,) = H.clients(cly)
    assert "\u0007" not in (c["name"] or ""), c


def test_oversized_body_is_413_and_stores_nothing(cly):
    j = H.created()
    j["payload"]["padding"] = "x" * (H.MAX_BODY + 10)
    raw = H.body_of(j)
    head = [f"POST {H.WEBHOOK_PATH} HTTP/1.1", "Host: 127.0.0.1",
            "Connection: close", "Content-Type: application/json",
            "Calendly-Webhook-Signature: " + H.sig_header(cly.secret, raw),
            f"Content-Length: {len(raw)}"]
    r = cly.raw("\r\n".join(head).encode() + b"\r\n\r\n" + raw)
    assert_error(r, 413)
    assert H.inbox_count(cly) == 0
    assert cly.get("/healthz").status == 200


# ---- concurrency ------------------------------------------------------------------

def test_reschedule_pairs_sent_concurrently_many_times(coach):
    """Twelve bookings, each: its original creation and both halves of its
    reschedule, each body sent five times, all at once from eight threads
    in shuffled order; half of the originals are applied first, the other
    half race with their reschedule. Every booking ends exactly once, at
    its new time, with every delivery processed."""
    rnd = random.Random(3)
    plans, bodies = [], []
    for k in range(12):
        old = H.new_invitee()
        t1, e1 = H.future_slot(days=2 + k, hour=9)
        t2, e2 = H.future_slot(days=2 + k, hour=15)
        cancel, create, new = H.reschedule_pair(old, t2, e2, t1, e1)
        orig = H.created(old, t1, e1)
        if k % 2 == 0:
            H.wait_processed(coach, H.received(coach, orig))
        else:
            bodies += [H.body_of(orig)] * 5
        bodies += [H.body_of(cancel)] * 5 + [H.body_of(create)] * 5
        plans.append((old, new, t2, e2))
    rnd.shuffle(bodies)

    def send(raw):
        r = H.post(coach, raw)
        assert r.status == 200, r
        assert r.json["status"] in ("received", "duplicate"), r.json
        return r.json["delivery"]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        ids = set(ex.map(send, bodies))
    # Each distinct body is one delivery, however often it was sent.
    assert len(ids) == len(set(bodies))
    H.wait_processed(coach, sorted(ids), timeout=120)
    for old, new, t2, e2 in plans:
        _assert_moved(coach, old, new, t2, e2)
    assert len(H.bookings(coach)) == 12
