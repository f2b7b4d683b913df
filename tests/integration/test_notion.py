"""Notion as a view of the ledger the business edits (issue 10 §3,
PROVIDERS.md §5, docs/providers/notion.md), against the strict contract
fake of Notion's API (notion_fake.py): the real daemon makes or adopts the
databases, mirrors ledger changes one page per row within 3 requests per
second (also across a SIGKILL), applies edits made in Notion (and reverts
one the ledger refuses, with a comment), turns a new Sessions row into a
booking that reaches the calendar outbox and the attendee, and takes
POST /webhooks/notion (handshake, signatures, hostile bodies)."""
import hashlib
import hmac
import json
import secrets
import signal
import time

import pytest

import calcom_helpers as C
from conftest import ledger_query, parse_instant, standard_catalog
from notion_fake import NotionFake, plain

MIRROR, PULL = "notion.mirror", "notion.pull"
DONE, DEAD = 2, 3


@pytest.fixture
def fake():
    f = NotionFake(token="secret_" + secrets.token_hex(8))
    yield f
    f.close()


def env_of(fake, **extra):
    env = {"NOTION_TOKEN": fake.token,
           "NOTION_PARENT_PAGE": fake.root,
           "NOTION_API_BASE": fake.base + "/v1/",
           "NOTION_PULL_SECONDS": "3600",  # the tests ask for pulls
           "BOOKINGD_JOB_RETRY_BASE_MS": "50",
           "BOOKINGD_JOB_RETRY_MAX_MS": "500"}
    env.update(extra)
    return env


def start(make_daemon, fake, catalog=True, **extra):
    d = make_daemon(env=env_of(fake, **extra))
    if catalog:
        d.apply(standard_catalog())
    return d


def sync(d, expect=200):
    r = d.post("/api/v1/sync", {"provider": "notion"}, admin=True,
               timeout=120)
    assert r.status == expect, r
    return r.json


def mirror_jobs(d):
    return ledger_query(d, "SELECT status, attempts, last_error FROM jobs "
                           "WHERE kind = ? ORDER BY id", (MIRROR,))


def wait_mirrored(d, n, timeout=120):
    return C.wait_until(
        lambda: (lambda rows: rows if len(rows) >= n and
                 all(r[0] in (DONE, DEAD) for r in rows) else None)(
            mirror_jobs(d)),
        timeout, f"{n} settled {MIRROR} jobs")


def db(fake, title):
    ids = fake.db_by_title(title)
    assert len(ids) == 1, (title, ids)
    return ids[0]


def session_rows(fake, uid):
    return fake.row_by_key(db(fake, "Sessions"), uid)


def book(d, i=0, email="ada@example.com", name="Ada Lovelace"):
    start = d.slot_starts("intro")[i]
    return d.book("intro", start, email=email, name=name).json["uid"]


# ---- the databases -----------------------------------------------------------

def test_databases_are_made_once_then_adopted(make_daemon, fake):
    d = start(make_daemon, fake)
    s = sync(d)
    assert s["errors"] == [], s
    for t in ("Clients", "Sessions", "Invoices", "Packages"):
        dbid = db(fake, t)
        props = fake.databases[dbid]["properties"]
        assert props["bookingd id"]["type"] == "rich_text"
    sess = fake.databases[db(fake, "Sessions")]["properties"]
    assert sess["Date"]["type"] == "date"
    assert sess["Status"]["type"] == "select"
    assert sess["Client"]["relation"]["database_id"] == db(fake, "Clients")
    inv = fake.databases[db(fake, "Invoices")]["properties"]
    assert inv["Amount"]["type"] == "number"
    assert inv["Session"]["relation"]["database_id"] == db(fake, "Sessions")
    metrics = [b for b in fake.children[fake.root]
               if fake.blocks[b]["type"] == "child_page"]
    assert len(metrics) == 1
    # A restart keeps them (the settings).
    d.restart()
    assert sync(d)["errors"] == []
    # A new ledger (the settings lost) adopts them by title.
    d2 = start(make_daemon, fake)
    assert sync(d2)["errors"] == []
    for t in ("Clients", "Sessions", "Invoices", "Packages"):
        db(fake, t)
    assert len([b for b in fake.children[fake.root]
                if fake.blocks[b]["type"] == "child_page"]) == 1
    assert len(fake.children[fake.root]) == 5
    # The Metrics page shows the ledger's numbers.
    block = [b for b in fake.children[metrics[0]]][0]
    text = fake.blocks[block]["paragraph"]["rich_text"][0]["plain_text"]
    assert "no-show rate" in text, text


def test_sync_without_notion_is_not_configured(make_daemon):
    d = make_daemon()
    r = d.post("/api/v1/sync", {"provider": "notion"}, admin=True)
    assert r.status == 503, r
    assert r.json["error"]["code"] == "not_configured", r.json


def test_a_reconcile_for_notion_is_refused_and_changes_nothing(make_daemon,
                                                              fake):
    # Notion has no reconcile: refused before any call to Notion (a sync
    # would make the databases first).
    d = start(make_daemon, fake, catalog=False)
    before = d.snapshot()
    n = len(fake.requests)
    for body, field in [({"provider": "notion", "reconcile": True},
                         "reconcile"),
                        ({"provider": "notion", "host": "coach"}, "host"),
                        ({"provider": "notion", "connection": "x"},
                         "connection")]:
        r = d.post("/api/v1/sync", body, admin=True)
        assert r.status == 422, (body, r)
        assert r.json["error"]["details"]["field"] == field, r.json
        assert "notion" in r.json["error"]["message"], r.json
    assert len(fake.requests) == n, fake.requests[n:]
    assert fake.databases == {}, fake.databases
    assert d.snapshot() == before
    # The same request without the reconcile does reach Notion.
    r = d.post("/api/v1/sync", {"provider": "notion", "reconcile": False},
               admin=True, timeout=120)
    assert r.status == 200 and r.json["errors"] == [], r
    assert len(fake.requests) > n and fake.databases


def test_half_configured_is_refused(make_daemon, fake):
    d = make_daemon(env={"NOTION_TOKEN": fake.token}, start=False)
    import subprocess
    p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2, p
    assert "NOTION_PARENT_PAGE" in p.stderr, p.stderr


# ---- the mirror --------------------------------------------------------------

def test_a_booking_becomes_one_page_with_its_client(make_daemon, fake):
    d = start(make_daemon, fake)
    uid = book(d)
    wait_mirrored(d, 1)
    rows = C.wait_until(lambda: session_rows(fake, uid), 60, "the page")
    assert len(rows) == 1
    row = rows[0]
    b = C.booking(d, uid)
    assert plain(row, "Status") == "confirmed"
    date = plain(row, "Date")
    assert date["time_zone"] == "Europe/Berlin"
    clients = fake.rows(db(fake, "Clients"))
    assert len(clients) == 1
    assert plain(row, "Client") == [clients[0]["id"]]
    assert clients[0]["properties"]["Email"]["email"] == "ada@example.com"
    assert plain(row, "Event type") == "intro"
    # A cancellation updates the same page.
    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "ill"},
               admin=True)
    assert r.status == 200, r
    C.wait_until(lambda: plain(session_rows(fake, uid)[0], "Status") ==
                 "cancelled", 60, "the page cancelled")
    assert len(session_rows(fake, uid)) == 1
    links = ledger_query(d, "SELECT count(*) FROM external_links WHERE "
                            "provider = 'notion' AND entity = 0")
    assert links[0][0] == 1
    assert b["status"] == "confirmed"


def test_a_lost_answer_does_not_duplicate_the_page(make_daemon, fake):
    d = start(make_daemon, fake)
    assert sync(d)["errors"] == []
    # Notion makes the page but its answer is lost (502), twice: the
    # retries find the page by its bookingd id instead of making another.
    fake.fail_after_create = 2
    uid = book(d)
    rows = wait_mirrored(d, 1)
    assert rows[0][0] == DONE and rows[0][1] >= 2, rows
    assert fake.fail_after_create == 0
    assert len(session_rows(fake, uid)) == 1, session_rows(fake, uid)


@pytest.mark.timeout(900)
@pytest.mark.floods("200 ledger changes in a row")
def test_200_changes_mirrored_within_3_per_second_none_twice_after_sigkill(
        make_daemon, fake):
    d = start(make_daemon, fake, BOOKINGD_WORKERS="4")
    assert sync(d)["errors"] == []
    starts = d.slot_starts("intro", span=14)
    n = 67
    assert len(starts) >= n + 5
    uids = []
    for i in range(n):  # one client: its page is made once
        uids.append(d.book("intro", starts[i]).json["uid"])
    # Mid-run: the daemon is killed and started again.
    C.wait_until(lambda: len(fake.rows(db(fake, "Sessions"))) >= 10, 120,
                 "some pages made")
    d.stop(sig=signal.SIGKILL)
    d.start()
    for i, uid in enumerate(uids):  # two more changes each
        r = d.post(f"/api/v1/bookings/{uid}/reschedule",
                   {"start": starts[n + 5 + i] if n + 5 + i < len(starts)
                    else starts[i]}, admin=True)
        if r.status != 200:
            r = d.post(f"/api/v1/bookings/{uid}/cancel", {}, admin=True)
            assert r.status == 200, r
        else:
            r = d.post(f"/api/v1/bookings/{uid}/cancel", {}, admin=True)
            assert r.status == 200, r
    changes = ledger_query(
        d, "SELECT count(*) FROM activity WHERE kind IN ('BOOKING_CREATED',"
           "'BOOKING_RESCHEDULED','BOOKING_CANCELLED','CLIENT_CREATED')")[0][0]
    assert changes >= 200, changes
    rows = wait_mirrored(d, 3 * n, timeout=600)
    assert all(r[0] == DONE for r in rows), [r for r in rows if r[0] != DONE]
    sessions = fake.rows(db(fake, "Sessions"))
    keys = [plain(p, "bookingd id") for p in sessions]
    assert sorted(keys) == sorted(uids), "one page per booking"
    assert all(plain(p, "Status") == "cancelled" for p in sessions)
    assert len(fake.rows(db(fake, "Clients"))) == 1
    # Paced: Notion never had to refuse, and no second held more than 3
    # (plus the one that ends a window).
    assert fake.limited == 0, fake.limited
    assert fake.average_rate() <= 3.05, fake.average_rate()
    assert fake.max_rate(1.0) <= 4, fake.max_rate(1.0)
    print(f"notion: {len(fake.api_requests())} requests, average "
          f"{fake.average_rate():.2f}/s, most in one second "
          f"{fake.max_rate(1.0)}")


def test_a_429_is_waited_out(make_daemon, fake):
    d = start(make_daemon, fake)
    assert sync(d)["errors"] == []
    fake.retry_after = 1
    fake.fail_next(429, 429)
    uid = book(d)
    wait_mirrored(d, 1)
    assert len(session_rows(fake, uid)) == 1
    assert mirror_jobs(d)[0][0] == DONE


# ---- edits flow back -----------------------------------------------------------

def setup_one(make_daemon, fake):
    d = start(make_daemon, fake)
    uid = book(d, 0)
    wait_mirrored(d, 1)
    page = session_rows(fake, uid)[0]
    return d, uid, page


def test_an_edit_in_notion_is_applied_and_not_echoed(make_daemon, fake):
    d, uid, page = setup_one(make_daemon, fake)
    new = d.slot_starts("intro")[3]
    fake.edit_page(page["id"], {
        "Date": {"date": {"start": new, "end": None, "time_zone": None}},
        "Notes": {"rich_text": [{"text": {"content": "bring the forms"}}]}})
    s = sync(d)
    assert s["errors"] == [], s
    assert s["updated"] >= 1, s
    b = C.booking(d, uid)
    assert parse_instant(b["start"]) == parse_instant(new)
    assert b["notes"] == "bring the forms"
    hist = ledger_query(d, "SELECT action, actor FROM booking_history h "
                           "JOIN bookings b ON b.id = h.booking_id "
                           "WHERE b.uid = ?", (uid,))
    assert ("rescheduled", "notion") in [tuple(h) for h in hist], hist
    wait_mirrored(d, 2)
    # The mirror's own write is not read back as an edit.
    before = ledger_query(d, "SELECT count(*) FROM activity")[0][0]
    s = sync(d)
    assert s["updated"] == 0 and s["created"] == 0, s
    assert ledger_query(d, "SELECT count(*) FROM activity")[0][0] == before
    # Cancelling in Notion cancels the booking.
    fake.edit_page(page["id"], {"Status": {"select": {"name": "cancelled"}}})
    sync(d)
    assert C.booking(d, uid)["status"] == "cancelled"


def test_a_taken_date_is_reverted_with_a_comment(make_daemon, fake):
    d, uid, page = setup_one(make_daemon, fake)
    taken = d.slot_starts("intro")[2]
    other = d.book("intro", taken, email="bob@example.com",
                   name="Bob").json["uid"]
    wait_mirrored(d, 2)
    old = C.booking(d, uid)["start"]
    fake.edit_page(page["id"], {
        "Date": {"date": {"start": taken, "end": None, "time_zone": None}}})
    sync(d)
    assert parse_instant(C.booking(d, uid)["start"]) == parse_instant(old)
    assert other
    comments = fake.comments_on(page["id"])
    assert len(comments) == 1 and "not free" in comments[0], comments
    row = fake.pages[page["id"]]
    assert plain(row, "Date")["start"] != taken  # put back


def test_an_edit_older_than_a_change_in_bookingd_loses(make_daemon, fake):
    """Last write wins: a Notion edit made before a change in bookingd that
    no pull has read yet is not overwritten unseen: the mirror records it
    as the loser in the booking's history and the page says so."""
    d, uid, page = setup_one(make_daemon, fake)
    fake.edit_page(page["id"], {
        "Notes": {"rich_text": [{"text": {"content": "from notion"}}]}},
        at=time.time() - 30)
    new = d.slot_starts("intro")[3]
    r = d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": new},
               admin=True)
    assert r.status == 200, r
    wait_mirrored(d, 2)
    b = C.booking(d, uid)
    assert parse_instant(b["start"]) == parse_instant(new)
    assert b["notes"] is None, b
    hist = ledger_query(d, "SELECT action, actor, note FROM booking_history h"
                           " JOIN bookings b ON b.id = h.booking_id "
                           "WHERE b.uid = ?", (uid,))
    lost = [h for h in hist if h[0] == "notion_edit_lost"]
    assert len(lost) == 1 and lost[0][1] == "notion", hist
    row = fake.pages[page["id"]]
    assert plain(row, "Notes") == ""
    comments = fake.comments_on(page["id"])
    assert len(comments) == 1 and "newer change" in comments[0], comments
    # A later pull finds nothing to do.
    s = sync(d)
    assert s["updated"] == 0 and s["errors"] == [], s


def test_a_client_edit_is_applied(make_daemon, fake):
    d, uid, page = setup_one(make_daemon, fake)
    cpage = fake.rows(db(fake, "Clients"))[0]
    fake.edit_page(cpage["id"], {
        "Name": {"title": [{"text": {"content": "Ada King"}}]},
        "Status": {"select": {"name": "inactive"}}})
    sync(d)
    c = d.get("/api/v1/clients", query={"email": "ada@example.com"},
              admin=True).json["data"][0]
    assert c["name"] == "Ada King" and c["status"] == "inactive", c


def test_a_row_added_in_notion_becomes_a_booking(make_daemon, fake):
    d = start(make_daemon, fake)
    assert sync(d)["errors"] == []
    start_at = d.slot_starts("intro")[1]
    row = fake.add_row(db(fake, "Sessions"), {
        "Name": {"title": [{"text": {"content": "Grace Hopper"}}]},
        "Email": {"email": "grace@example.com"},
        "Event type": {"rich_text": [{"text": {"content": "intro"}}]},
        "Date": {"date": {"start": start_at, "end": None,
                          "time_zone": None}}})
    s = sync(d)
    assert s["created"] == 1, s
    bs = d.get("/api/v1/bookings", query={"source": "notion"},
               admin=True).json["data"]
    assert len(bs) == 1, bs
    b = bs[0]
    assert parse_instant(b["start"]) == parse_instant(start_at)
    assert b["attendee"]["email"] == "grace@example.com"
    # The row got its bookingd id; it reaches the calendar outbox and the
    # attendee's mailbox like any booking.
    assert plain(fake.pages[row["id"]], "bookingd id") == b["uid"]
    jobs = ledger_query(d, "SELECT kind FROM jobs")
    kinds = {k[0] for k in jobs}
    assert "calendars.push" in kinds or "mail.event" in kinds, kinds
    C.wait_until(lambda: ledger_query(
        d, "SELECT count(*) FROM messages m JOIN bookings b ON "
           "b.id = m.booking_id WHERE b.uid = ? AND m.recipient = ?",
        (b["uid"], "grace@example.com"))[0][0] >= 1, 60,
        "the attendee's email")
    # A second pull makes nothing more; the mirror made no second page.
    assert sync(d)["created"] == 0
    wait_mirrored(d, 1)
    assert len(session_rows(fake, b["uid"])) == 1


def test_an_incomplete_row_gets_a_comment(make_daemon, fake):
    d = start(make_daemon, fake)
    assert sync(d)["errors"] == []
    row = fake.add_row(db(fake, "Sessions"), {
        "Name": {"title": [{"text": {"content": "No date"}}]}})
    before = d.ledger_counts()
    s = sync(d)
    assert s["created"] == 0, s
    assert d.ledger_counts() == before
    assert len(fake.comments_on(row["id"])) == 1


# ---- POST /webhooks/notion -------------------------------------------------------

TOKEN = "secret_" + "a1" * 16


def sign(body, token=TOKEN):
    return "sha256=" + hmac.new(token.encode(), body,
                                hashlib.sha256).hexdigest()


def hook(d, body, signature=None, ctype="application/json"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {}
    if signature is None:
        signature = sign(raw)
    if signature is not False:
        h["X-Notion-Signature"] = signature
    if ctype:
        h["Content-Type"] = ctype
    return d.request("POST", "/webhooks/notion", raw=raw, headers=h,
                     content_type=None)


def event(page_id, kind="page.properties_updated"):
    return {"id": secrets.token_hex(16), "timestamp": "2026-11-30T10:00:00Z",
            "workspace_id": "w", "subscription_id": "s", "integration_id": "i",
            "type": kind, "authors": [{"id": "p", "type": "person"}],
            "attempt_number": 1, "api_version": "2022-06-28",
            "entity": {"id": page_id, "type": "page"},
            "data": {"parent": {"id": "db", "type": "database"},
                     "updated_properties": ["abc"]}}


def test_webhook_handshake_signatures_and_hostile_bodies(make_daemon, fake):
    d = start(make_daemon, fake, NOTION_WEBHOOK_VERIFICATION_TOKEN=TOKEN)
    uid = book(d)
    wait_mirrored(d, 1)
    page = session_rows(fake, uid)[0]
    # The handshake: unsigned, logged, not stored.
    r = hook(d, {"verification_token": "secret_xyz123"}, signature=False)
    assert r.status == 200, r
    assert "secret_xyz123" in d.stderr()
    assert ledger_query(d, "SELECT count(*) FROM inbox")[0][0] == 0
    # Bad and missing signatures, hostile bodies: 401, nothing stored.
    body = json.dumps(event(page["id"])).encode()
    for sig in (False, "", "sha256=" + "0" * 64, "sha1=abc", sign(body)[:-2],
                sign(body, "secret_other"), "sha256=" + "zz" * 32,
                "sha256=" + "a" * 5000):
        r = hook(d, body, signature=sig)
        assert r.status == 401, (sig, r)
    for hostile in (b"{", b"[]", b"x" * (2 * 1024 * 1024),
                    json.dumps({"verification_token": "a b"}).encode(),
                    json.dumps({"verification_token": "t",
                                "extra": 1}).encode()):
        r = hook(d, hostile, signature=False)
        assert r.status in (401, 413), (hostile[:20], r)
    assert ledger_query(d, "SELECT count(*) FROM inbox")[0][0] == 0
    # Signed but malformed: stored as failed, the ledger unchanged.
    bad = json.dumps({"type": "page.created", "entity": {}}).encode()
    r = hook(d, bad)
    assert r.status in (200, 400, 422), r
    unknown = json.dumps({"id": "e1", "type": "comment.created",
                          "entity": {"id": "c", "type": "comment"}}).encode()
    r = hook(d, unknown)
    assert r.status == 200 and r.json["status"] == "ignored", r
    C.wait_outbox_idle(d)
    assert ledger_query(d, "SELECT count(*) FROM bookings")[0][0] == 1
    # A page event asks for a pull, which applies the page's edit.
    new = d.slot_starts("intro")[4]
    fake.edit_page(page["id"], {
        "Date": {"date": {"start": new, "end": None, "time_zone": None}}})
    ev = event(page["id"])
    r = hook(d, ev)
    assert r.status == 200 and r.json["status"] == "received", r
    r = hook(d, ev)  # a replay changes nothing
    assert r.status == 200, r
    C.wait_until(lambda: parse_instant(C.booking(d, uid)["start"]) ==
                 parse_instant(new), 60, "the pull applied the edit")
    # One pull for the event (its replay is the same delivery); two at
    # most when the two straddle a five-second period.
    pulls = ledger_query(d, "SELECT count(*) FROM jobs WHERE kind = ? AND "
                            "dedupe_key LIKE 'notion.pull:hook:%'",
                         (PULL,))[0][0]
    assert 1 <= pulls <= 2, pulls
