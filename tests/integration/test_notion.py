"""Notion as a view of the ledger the business edits (issue 10 §3,
PROVIDERS.md §5, docs/providers/notion.md), against the strict contract
fake of Notion's API (notion_fake.py): the real daemon makes or adopts the
databases, mirrors ledger changes one page per row within 3 requests per
second (also across a SIGKILL), applies edits made in Notion (and reverts
one the ledger refuses, with a comment), turns a new Sessions row into a
booking that reaches the calendar outbox and the attendee, and takes
POST /webhooks/notion (handshake, signatures, hostile bodies)."""
import datetime as dt
import hashlib
import hmac
import json
import secrets
import signal
import time

import pytest

import calcom_helpers as C
from conftest import ledger_query, parse_instant, standard_catalog, today_in
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


def test_an_applied_edit_read_again_before_its_mirror_is_not_lost(
        make_daemon, fake):
    """A pull that reads a page again after its edit was applied but
    before the mirror has written the page back (the edit is older than
    the booking's change it caused) finds nothing to apply: not a lost
    edit, no comment, nothing put back."""
    d, uid, page = setup_one(make_daemon, fake)
    new = d.slot_starts("intro")[3]
    fake.edit_page(page["id"], {
        "Date": {"date": {"start": new, "end": None, "time_zone": None}}},
        at=time.time() - 5)
    fake.refuse_writes_to(page["id"])
    try:
        s = sync(d)
        assert s["errors"] == [] and s["updated"] == 1, s
        assert parse_instant(C.booking(d, uid)["start"]) == \
            parse_instant(new)
        C.wait_until(lambda: [r for r in fake.requests if r[0] == "PATCH"
                              and r[1] == f"/v1/pages/{page['id']}"
                              and r[3] == 503], 60,
                     "the mirror of the reschedule refused")
        s = sync(d)
        assert s["errors"] == [] and s["updated"] == 0, s
    finally:
        fake.refuse_writes_to(page["id"], False)
    hist = ledger_query(d, "SELECT action FROM booking_history h JOIN "
                           "bookings b ON b.id = h.booking_id WHERE b.uid = ?",
                        (uid,))
    assert ("notion_edit_lost",) not in [tuple(h) for h in hist], hist
    assert fake.comments_on(page["id"]) == []
    assert parse_instant(C.booking(d, uid)["start"]) == parse_instant(new)


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


def client_page(fake):
    rows = fake.rows(db(fake, "Clients"))
    assert len(rows) == 1, rows
    return rows[0]


def the_client(d, email="ada@example.com"):
    return d.get("/api/v1/clients", query={"email": email},
                 admin=True).json["data"][0]


def rich(text):
    """A rich_text value as the Notion app writes a long text: items of at
    most 2000 characters."""
    return {"rich_text": [{"text": {"content": text[i:i + 2000]}}
                          for i in range(0, len(text), 2000)]}


def test_client_phone_and_notes_both_ways(make_daemon, fake):
    """Phone and Notes: bookingd's values reach the Clients page (notes
    over one rich-text item whole), a person's edits there reach the
    ledger as client.updated by notion, and are not read back as edits."""
    d, uid, page = setup_one(make_daemon, fake)
    c = the_client(d)
    long_notes = "Ünïcode notes.\n" + "x" * 4000
    r = d.patch(f"/api/v1/clients/{c['id']}",
                {"phone": "+49 30 1234567", "notes": long_notes}, admin=True)
    assert r.status == 200, r
    C.wait_until(lambda: plain(client_page(fake), "Notes") == long_notes,
                 60, "the client's page shows the notes")
    cp = client_page(fake)
    assert cp["properties"]["Phone"]["phone_number"] == "+49 30 1234567"
    assert len(cp["properties"]["Notes"]["rich_text"]) == 3
    wait_mirrored(d, 3)
    # Nothing to apply from bookingd's own writes.
    s = sync(d)
    assert s["updated"] == 0 and s["errors"] == [], s
    # A person edits both in Notion.
    fake.edit_page(cp["id"], {
        "Phone": {"phone_number": "(030) 765-43.21"},
        "Notes": rich("Moved to Hamburg.\nCall after 10.")})
    s = sync(d)
    assert s["errors"] == [] and s["updated"] == 1, s
    got = the_client(d)
    assert got["phone"] == "(030) 765-43.21", got
    assert got["notes"] == "Moved to Hamburg.\nCall after 10.", got
    ev = ledger_query(d, "SELECT source, detail FROM activity WHERE kind = "
                         "'CLIENT_UPDATED' ORDER BY id DESC LIMIT 1")[0]
    assert ev[0] == "notion", ev
    assert sorted(json.loads(ev[1])["changed"]) == ["notes", "phone"], ev
    # Its mirror is not an edit; a second pull changes nothing.
    C.wait_until(lambda: all(r[0] in (DONE, DEAD) for r in mirror_jobs(d))
                 and len(mirror_jobs(d)) >= 4, 60, "the mirror of the edit")
    before = ledger_query(d, "SELECT count(*) FROM activity")[0][0]
    s = sync(d)
    assert s["updated"] == 0 and s["errors"] == [], s
    assert ledger_query(d, "SELECT count(*) FROM activity")[0][0] == before
    # Clearing them in Notion clears them in the ledger.
    fake.edit_page(cp["id"], {"Phone": {"phone_number": None},
                              "Notes": {"rich_text": []}})
    assert sync(d)["updated"] == 1
    got = the_client(d)
    assert got["phone"] is None and got["notes"] is None, got


@pytest.mark.parametrize("props,field", [
    ({"Phone": {"phone_number": "call me maybe"}}, "Phone"),
    ({"Phone": {"phone_number": "12"}}, "Phone"),
    ({"Phone": {"phone_number": "+1 555 0100; rm -rf /"}}, "Phone"),
    ({"Phone": {"phone_number": "1" * 41}}, "Phone"),
    ({"Notes": rich("n" * 5001)}, "Notes"),
    ({"Notes": rich("bell \u0007 and escape \u001b[2J")}, "Notes"),
    ({"Name": {"title": [{"text": {"content": "two\nlines"}}]}}, "Name"),
    ({"Name": {"title": [{"text": {"content": "n" * 201}}]}}, "Name"),
    ({"Status": {"select": {"name": "vip"}}}, "Status"),
    # one bad field keeps the good one out too, as the API does
    ({"Phone": {"phone_number": "+1 555 0100"},
      "Notes": rich("ok \u0000 not")}, "Notes"),
], ids=["words", "short", "hostile", "long", "notes-long", "notes-control",
        "name-lines", "name-long", "status", "mixed"])
def test_a_bad_client_edit_is_reverted_with_a_comment(make_daemon, fake,
                                                      props, field):
    d, uid, page = setup_one(make_daemon, fake)
    c = the_client(d)
    r = d.patch(f"/api/v1/clients/{c['id']}",
                {"phone": "+44 20 7946 0000", "notes": "kept"}, admin=True)
    assert r.status == 200, r
    C.wait_until(lambda: plain(client_page(fake), "Notes") == "kept", 60,
                 "the notes mirrored")
    wait_mirrored(d, 3)
    cp = client_page(fake)
    before = the_client(d)
    fake.edit_page(cp["id"], props)
    s = sync(d)
    assert s["updated"] == 0 and s["errors"] == [], s
    assert the_client(d) == before
    comments = fake.comments_on(cp["id"])
    assert len(comments) == 1 and field in comments[0], comments
    row = fake.pages[cp["id"]]
    assert row["properties"]["Phone"]["phone_number"] == "+44 20 7946 0000"
    assert plain(row, "Notes") == "kept"
    assert plain(row, "Status") == before["status"]
    # The revert is bookingd's write: the next pull finds nothing.
    s = sync(d)
    assert s["updated"] == 0 and s["errors"] == [], s
    assert len(fake.comments_on(cp["id"])) == 1


def test_a_client_edit_older_than_a_change_in_bookingd_loses(make_daemon,
                                                            fake):
    d, uid, page = setup_one(make_daemon, fake)
    cp = client_page(fake)
    c = the_client(d)
    fake.edit_page(cp["id"], {"Phone": {"phone_number": "+1 555 0100"}},
                   at=time.time() - 30)
    r = d.patch(f"/api/v1/clients/{c['id']}", {"notes": "from bookingd"},
                admin=True)
    assert r.status == 200, r
    wait_mirrored(d, 3)
    got = the_client(d)
    assert got["phone"] is None and got["notes"] == "from bookingd", got
    lost = ledger_query(d, "SELECT source, detail FROM activity WHERE kind "
                           "= 'NOTION_EDIT_LOST'")
    assert len(lost) == 1 and lost[0][0] == "notion", lost
    assert json.loads(lost[0][1])["client"] == c["id"]
    row = fake.pages[cp["id"]]
    assert row["properties"]["Phone"]["phone_number"] is None
    assert plain(row, "Notes") == "from bookingd"
    comments = fake.comments_on(cp["id"])
    assert len(comments) == 1 and "newer change" in comments[0], comments
    s = sync(d)
    assert s["updated"] == 0 and s["errors"] == [], s


def test_an_adopted_database_gets_its_missing_properties(make_daemon, fake):
    """A Clients database made by hand with a few columns: bookingd adds
    the others (PATCH /databases/{id}) instead of failing on them, keeps
    the person's own columns, and then mirrors phone and notes into it."""
    made = fake.add_database("Clients", {
        "Name": {"title": {}}, "Email": {"email": {}},
        "Birthday": {"date": {}}})
    d = start(make_daemon, fake)
    s = sync(d)
    assert s["errors"] == [], s
    assert db(fake, "Clients") == made["id"]
    props = fake.databases[made["id"]]["properties"]
    for name, t in (("Phone", "phone_number"), ("Notes", "rich_text"),
                    ("Status", "select"), ("bookingd id", "rich_text"),
                    ("Birthday", "date"), ("Name", "title")):
        assert props[name]["type"] == t, (name, props)
    assert [o["name"] for o in props["Status"]["select"]["options"]] == [
        "prospect", "active", "inactive"]
    patches = [r for r in fake.requests if r[0] == "PATCH" and
               r[1].startswith("/v1/databases/")]
    assert len(patches) == 1, patches
    uid = book(d)
    c = d.get(f"/api/v1/bookings/{uid}", admin=True).json["client"]
    assert d.patch(f"/api/v1/clients/{c['id']}", {"phone": "+1 555 0100"},
                   admin=True).status == 200
    C.wait_until(lambda: [p for p in fake.rows(made["id"]) if p[
        "properties"]["Phone"]["phone_number"] == "+1 555 0100"], 60,
        "the phone in the adopted database")
    # A restart finds nothing more to add.
    d.restart()
    assert sync(d)["errors"] == []
    assert len([r for r in fake.requests if r[0] == "PATCH" and
                r[1].startswith("/v1/databases/")]) == 1


def test_an_adopted_database_keeps_its_own_property_types(make_daemon,
                                                          fake):
    """A Clients database made by hand whose Phone is text and whose Notes
    is a number: bookingd leaves both as the business made them, never
    writes them (Notion would refuse the whole page for one mistyped
    value), never reads them as a cleared phone or notes, and mirrors and
    pulls the rest as always."""
    made = fake.add_database("Clients", {
        "Name": {"title": {}}, "Email": {"email": {}},
        "Phone": {"rich_text": {}}, "Notes": {"number": {}}})
    d = start(make_daemon, fake)
    assert sync(d)["errors"] == []
    uid = book(d)
    c = d.get(f"/api/v1/bookings/{uid}", admin=True).json["client"]
    r = d.patch(f"/api/v1/clients/{c['id']}",
                {"name": "Ada King", "phone": "+1 555 0100",
                 "notes": "Prefers mornings."}, admin=True)
    assert r.status == 200, r
    row = C.wait_until(lambda: [p for p in fake.rows(made["id"])
                                if plain(p, "Name") == "Ada King"], 60,
                       "the renamed client in the adopted database")[0]
    wait_mirrored(d, 3)
    assert [j for j in mirror_jobs(d) if j[0] != DONE] == [], mirror_jobs(d)
    props = fake.databases[made["id"]]["properties"]
    assert props["Phone"]["type"] == "rich_text", props
    assert props["Notes"]["type"] == "number", props
    assert plain(row, "Phone") == "" and row["properties"]["Notes"][
        "number"] is None, row
    # A person's own use of the two columns is not a client edit; a Name
    # edit beside it is.
    fake.edit_page(row["id"], {
        "Phone": rich("ask the front desk"), "Notes": {"number": 7},
        "Name": {"title": [{"text": {"content": "Ada Lovelace-King"}}]}})
    s = sync(d)
    assert s["errors"] == [] and s["updated"] == 1, s
    got = the_client(d)
    assert got["name"] == "Ada Lovelace-King", got
    assert got["phone"] == "+1 555 0100", got
    assert got["notes"] == "Prefers mornings.", got
    assert fake.comments_on(row["id"]) == []


@pytest.fixture
def shifted(make_daemon, fake, tmp_path):
    """A daemon with Notion whose wall clock can be moved `days` ahead
    (test_clock.py's shim); edits in the fake are then dated on the
    daemon's timeline."""
    from test_clock import shifted_env
    offset = tmp_path / "clock-offset-ms"
    d = make_daemon(env=shifted_env(offset, **env_of(fake)))
    d.apply(standard_catalog())
    state = {"s": 0}

    def step(days):
        """Moves the clock `days` (>= 3) ahead; returns once the daemon
        offers no more times on the day after tomorrow (its past now)."""
        offset.write_text(f"{int(days * 86400 * 1000)}\n")
        state["s"] = days * 86400
        day = today_in("Europe/Berlin") + dt.timedelta(days=2)
        C.wait_until(lambda: not d.slots("intro", day, day)["slots"].get(
            str(day)), 30, "the daemon's clock stepped")
        # The jump made the hourly notion.pull due: it must have run before
        # the test edits pages, or it may apply them ahead of the test's
        # own sync (which then finds nothing left to apply).
        due_by = int((time.time() + state["s"]) * 1000)
        C.wait_until(lambda: ledger_query(
            d, "SELECT count(*) FROM jobs WHERE kind = 'notion.pull' AND "
               f"status IN (0, 1) AND run_at_ms <= {due_by}")[0][0] == 0,
            60, "the pull the clock's jump made due has run")

    def edit(page_id, props):
        return fake.edit_page(page_id, props, at=time.time() + state["s"])
    return d, step, edit


def status_of(d, uid):
    return C.booking(d, uid)["status"]


def test_session_status_edits_follow_the_api_rules(shifted, fake):
    d, step, edit = shifted
    starts = d.slot_starts("intro")
    a = d.book("intro", starts[0], email="ada@example.com").json["uid"]
    b = d.book("intro", starts[2], email="bob@example.com").json["uid"]
    wait_mirrored(d, 4)
    pa, pb = session_rows(fake, a)[0], session_rows(fake, b)[0]
    # Before its start a session cannot be completed: put back, and the
    # comment gives the API's reason.
    edit(pa["id"], {"Status": {"select": {"name": "completed"}}})
    s = sync(d)
    assert s["errors"] == [], s
    assert status_of(d, a) == "confirmed"
    assert plain(fake.pages[pa["id"]], "Status") == "confirmed"
    com = fake.comments_on(pa["id"])
    assert len(com) == 1 and "not started" in com[0], com
    # pending is payment's: refused with its own reason.
    edit(pb["id"], {"Status": {"select": {"name": "pending"}}})
    sync(d)
    assert status_of(d, b) == "confirmed"
    com = fake.comments_on(pb["id"])
    assert len(com) == 1 and "payment" in com[0], com
    # An option a person added is no status.
    edit(pb["id"], {"Status": {"select": {"name": "maybe"}}})
    sync(d)
    assert status_of(d, b) == "confirmed"
    assert len(fake.comments_on(pb["id"])) == 2
    # Once the sessions have started: completed and no_show are applied
    # as POST .../complete and .../no-show apply them.
    step(7)
    wait_mirrored(d, 4)
    edit(pa["id"], {"Status": {"select": {"name": "completed"}}})
    edit(pb["id"], {"Status": {"select": {"name": "no_show"}}})
    s = sync(d)
    assert s["errors"] == [] and s["updated"] == 2, s
    assert status_of(d, a) == "completed" and status_of(d, b) == "no_show"
    hist = ledger_query(d, "SELECT b.uid, h.action, h.actor FROM "
                           "booking_history h JOIN bookings b ON "
                           "b.id = h.booking_id ORDER BY h.id")
    assert (a, "completed", "notion") in [tuple(h) for h in hist], hist
    assert (b, "no_show", "notion") in [tuple(h) for h in hist], hist
    kinds = [r[0] for r in ledger_query(
        d, "SELECT kind FROM activity WHERE source = 'notion'")]
    assert "BOOKING_COMPLETED" in kinds and "BOOKING_NO_SHOW" in kinds
    # The prospect who came is active, as through the API.
    assert the_client(d, "ada@example.com")["status"] == "active"
    wait_mirrored(d, 6)
    # The lifecycle's other moves stay refused: completed -> confirmed.
    edit(pa["id"], {"Status": {"select": {"name": "confirmed"}}})
    sync(d)
    assert status_of(d, a) == "completed"
    com = fake.comments_on(pa["id"])
    assert len(com) == 2 and "completed to confirmed" in com[1], com
    assert plain(fake.pages[pa["id"]], "Status") == "completed"
    # no_show -> completed is the lifecycle's: allowed.
    edit(pb["id"], {"Status": {"select": {"name": "completed"}}})
    sync(d)
    assert status_of(d, b) == "completed"


def test_confirming_an_unpaid_session_is_left_to_payment(make_daemon, fake,
                                                         tmp_path):
    """A pending booking (a priced one awaiting its Stripe payment, the
    Stripe contract fake) marked confirmed in Notion stays pending: the
    page is put back and the comment says payment decides."""
    from stripe_helpers import (StripeFake, new_webhook_secret,
                                paid_catalog, stripe_env)
    sf = StripeFake(tmp_path, new_webhook_secret())
    try:
        d = make_daemon(env=stripe_env(sf, **env_of(fake)))
        sf.point_at(d)
        d.apply(paid_catalog())
        at = d.slot_starts("paid", days_ahead=2, span=2)[0]
        uid = d.book("paid", at, email="ada@example.com",
                     expect=201).json["uid"]
        assert C.booking(d, uid)["status"] == "pending"
        page = C.wait_until(lambda: session_rows(fake, uid), 60,
                            "the pending session's page")[0]
        assert plain(page, "Status") == "pending"
        wait_mirrored(d, 2)
        fake.edit_page(page["id"],
                       {"Status": {"select": {"name": "confirmed"}}})
        s = sync(d)
        assert s["errors"] == [] and s["updated"] == 0, s
        assert C.booking(d, uid)["status"] == "pending"
        assert plain(fake.pages[page["id"]], "Status") == "pending"
        com = fake.comments_on(page["id"])
        assert len(com) == 1 and "payment" in com[0], com
    finally:
        sf.stop()


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
