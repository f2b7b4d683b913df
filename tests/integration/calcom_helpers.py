"""tests/integration/calcom_helpers.py — Cal.com webhooks for the integration
tests, on top of conftest.py (which stays the harness; nothing here forks it).

Bodies come from tests/fixtures/calcom/*.json (shaped from PROVIDERS.md §3);
variants are made by loading a fixture, changing uid/times/emails and
re-serializing, and the exact bytes sent are signed the way Cal.com signs
them: X-Cal-Signature-256 = lowercase hex HMAC-SHA256(secret, body).
"""
import datetime as dt
import hashlib
import hmac
import json
import pathlib
import secrets
import signal
import time

import conftest

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / \
    "calcom"
WEBHOOK_PATH = "/webhooks/calcom"
MAX_BODY = 1024 * 1024  # the daemon's body limit (cli/serve.c)

# Statuses as GET /api/v1/webhook-deliveries renders them. "received" and
# "retrying" are still to be applied; the others are final.
PENDING = ("received", "retrying")
FINAL = ("processed", "ignored", "failed")

# The inbox table's status integers (core/ledger.h order).
DB_RECEIVED, DB_PROCESSED, DB_IGNORED, DB_FAILED = 0, 1, 2, 3


# ---- time ------------------------------------------------------------------


def utc_now():
    return dt.datetime.now(dt.timezone.utc)


def today_utc():
    return utc_now().date()


def iso_utc(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the environment -------------------------------------------------------

def new_secret():
    return "calcom-whsec-" + secrets.token_hex(12)


def calcom_env(secret, **extra):
    """Environment of a daemon that takes Cal.com webhooks: the secret and
    short retry delays (so retries are seen within a test's bound)."""
    env = {
        "CALCOM_WEBHOOK_SECRET": secret,
        "BOOKINGD_JOB_RETRY_BASE_MS": "50",
        "BOOKINGD_JOB_RETRY_MAX_MS": "200",
    }
    env.update({k: (None if v is None else str(v)) for k, v in extra.items()})
    return env


def start_calcom(make_daemon, secret=None, **extra):
    """A daemon taking Cal.com webhooks; returns it with .secret set."""
    secret = secret or new_secret()
    d = make_daemon(env=calcom_env(secret, **extra))
    d.secret = secret
    return d


# ---- bodies ----------------------------------------------------------------

def fixture(name):
    """The fixture as a dict (a fresh copy each call)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture_bytes(name):
    return (FIXTURES / f"{name}.json").read_bytes()


def body_of(obj):
    """The bytes sent for a dict (compact, like JSON.stringify)."""
    if isinstance(obj, bytes):
        return obj
    return json.dumps(obj, separators=(",", ":")).encode()


def sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_uid(tag="uid"):
    """A Cal.com-like booking uid (22 url-safe characters), unique."""
    return (tag + secrets.token_urlsafe(16))[:22].replace("-", "x") \
        .replace("_", "y")


_created_seq = [0]


def created_at():
    """A distinct createdAt (ms resolution, like Cal.com's toISOString)."""
    _created_seq[0] += 1
    t = utc_now() + dt.timedelta(milliseconds=_created_seq[0])
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def future_slot(days=3, hour=10, minute=0, minutes=30):
    """(start, end) instants, UTC, `days` after today (UTC date)."""
    d = today_utc() + dt.timedelta(days=days)
    s = dt.datetime(d.year, d.month, d.day, hour, minute,
                    tzinfo=dt.timezone.utc)
    return s, s + dt.timedelta(minutes=minutes)


def _times(p, start, end, with_ms=False):
    def fmt(t):
        if with_ms:
            return t.astimezone(dt.timezone.utc) \
                .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return iso_utc(t)
    p["startTime"] = fmt(start)
    p["endTime"] = fmt(end)


def _attendee(p, email, name, tz):
    a = p["attendees"][0]
    if email is not None:
        a["email"] = email
    if name is not None:
        a["name"] = name
    if tz is not None:
        a["timeZone"] = tz
    r = p.get("responses")
    if isinstance(r, dict):
        if email is not None and isinstance(r.get("email"), dict):
            r["email"]["value"] = email
        if name is not None and isinstance(r.get("name"), dict):
            r["name"]["value"] = name


def created(uid=None, start=None, end=None, email=None, name=None, tz=None,
            booking_id=None, event_type_id=None, video_url=NotImplemented,
            organizer_email=None, when=None):
    """A BOOKING_CREATED body (dict) derived from booking_created.json.
    video_url: NotImplemented keeps the fixture's metadata.videoCallUrl made
    for the uid; None removes it; a string sets it."""
    j = fixture("booking_created")
    p = j["payload"]
    uid = uid or new_uid()
    p["uid"] = uid
    p["iCalUID"] = uid + "@Cal.com"
    j["createdAt"] = when or created_at()
    if start is None:
        start, end = future_slot()
    _times(p, start, end)
    _attendee(p, email, name, tz)
    if booking_id is not None:
        p["bookingId"] = booking_id
    if event_type_id is not None:
        p["eventTypeId"] = event_type_id
    if organizer_email is not None:
        p["organizer"]["email"] = organizer_email
    if video_url is NotImplemented:
        p["metadata"] = {"videoCallUrl": "https://app.cal.com/video/" + uid}
    elif video_url is None:
        p.pop("metadata", None)
    else:
        p["metadata"] = {"videoCallUrl": video_url}
    return j


def rescheduled(uid, old_uid, start, end, old_start=None, old_end=None,
                email=None, booking_id=None, event_type_id=None, when=None):
    """A BOOKING_RESCHEDULED body: payload.uid the new Cal.com booking,
    payload.rescheduleUid the one it replaces."""
    j = fixture("booking_rescheduled")
    p = j["payload"]
    p["uid"] = uid
    p["rescheduleUid"] = old_uid
    p["iCalUID"] = old_uid + "@Cal.com"
    j["createdAt"] = when or created_at()
    _times(p, start, end)
    if old_start is not None:
        p["rescheduleStartTime"] = iso_utc(old_start)
        p["rescheduleEndTime"] = iso_utc(old_end)
    _attendee(p, email, None, None)
    if booking_id is not None:
        p["bookingId"] = booking_id
    if event_type_id is not None:
        p["eventTypeId"] = event_type_id
    p["metadata"] = {"videoCallUrl": "https://app.cal.com/video/" + uid}
    return j


def cancelled(uid, start=None, end=None, reason="Something came up",
              email=None, event_type_id=None, when=None):
    """A BOOKING_CANCELLED body derived from booking_cancelled.json."""
    j = fixture("booking_cancelled")
    p = j["payload"]
    p["uid"] = uid
    j["createdAt"] = when or created_at()
    if start is not None:
        _times(p, start, end)
    if reason is None:
        p.pop("cancellationReason", None)
    else:
        p["cancellationReason"] = reason
    _attendee(p, email, None, None)
    if event_type_id is not None:
        p["eventTypeId"] = event_type_id
    return j


def ended_flat(uid, start=None, end=None, email=None, booking_row_id=None):
    """MEETING_ENDED as the cron sends it: the booking row, flat."""
    j = fixture("meeting_ended_flat")
    j["uid"] = uid
    j["iCalUID"] = uid + "@Cal.com"
    if start is not None:
        _times(j, start, end, with_ms=True)
    if email is not None:
        j["responses"]["email"] = email
    if booking_row_id is not None:
        j["id"] = booking_row_id
    j["metadata"] = {"videoCallUrl": "https://app.cal.com/video/" + uid}
    return j


def ended_wrapped(uid, start=None, end=None, email=None, when=None):
    j = fixture("meeting_ended_wrapped")
    p = j["payload"]
    p["uid"] = uid
    j["createdAt"] = when or created_at()
    if start is not None:
        _times(p, start, end, with_ms=True)
    if email is not None:
        p["responses"]["email"] = email
    return j


# ---- sending ---------------------------------------------------------------

def post(d, body, secret=None, signature=None, content_type="application/json",
         headers=None, timeout=conftest.REQUEST_TIMEOUT_S):
    """POST /webhooks/calcom with body (a dict or the exact bytes), signed
    with secret (default: the daemon's) unless signature is given (False:
    no signature header)."""
    raw = body_of(body)
    hdrs = {"X-Cal-Webhook-Version": "2021-10-20"}
    if signature is None:
        signature = sign(secret or d.secret, raw)
    if signature is not False:
        hdrs["X-Cal-Signature-256"] = signature
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    return d.request("POST", WEBHOOK_PATH, raw=raw, headers=hdrs,
                     content_type=None, timeout=timeout)


def deliver(d, body, **kw):
    """Posts a delivery that must be accepted; returns its public id."""
    r = post(d, body, **kw)
    assert r.status == 200, r
    assert r.json["status"] in ("received", "duplicate", "ignored"), r.json
    assert r.json["delivery"].startswith("dlv_"), r.json
    return r.json["delivery"]


def received(d, body, **kw):
    """Posts a new delivery; asserts it was stored and queued."""
    r = post(d, body, **kw)
    assert r.status == 200, r
    j = r.json
    assert j["status"] == "received", j
    assert j["delivery"].startswith("dlv_"), j
    return j["delivery"]


# ---- the deliveries API ----------------------------------------------------

def delivery(d, public_id):
    r = d.get(f"/api/v1/webhook-deliveries/{public_id}", admin=True)
    assert r.status == 200, r
    return r.json


def deliveries(d, **query):
    """Every delivery (newest first), following next_cursor."""
    return d.list_all("/api/v1/webhook-deliveries",
                      query={k: str(v) for k, v in query.items()})


def wait_outbox_idle(d, timeout=30):
    """Polls until no outbox job (outbound webhooks: webhooks.fanout,
    .send; email: mail.event, .send; calendars.push) is pending or running: the ledger's
    subscribers have heard every event."""
    from conftest import ledger_query
    wait_until(lambda: not ledger_query(
        d, "SELECT id FROM jobs WHERE (kind LIKE 'webhooks.%' "
           "OR kind LIKE 'mail.%' OR kind = 'calendars.push') "
           "AND status IN (0, 1)"
           " AND NOT (kind = 'mail.reminder' AND status = 0"
           " AND run_at_ms > " + str(int(time.time() * 1000)) + ")"), timeout,
        "the outbox idle")


def wait_final(d, public_ids, timeout=30, allow=FINAL):
    """Polls until each delivery has a final status; returns {id: row}."""
    if isinstance(public_ids, str):
        public_ids = [public_ids]
    deadline = time.monotonic() + timeout
    rows = {}
    while True:
        rows = {i: delivery(d, i) for i in public_ids}
        if all(r["status"] in allow for r in rows.values()):
            return rows
        if time.monotonic() > deadline:
            late = [(i, r["status"], r["attempts"], r["last_error"])
                    for i, r in rows.items() if r["status"] not in allow]
            raise AssertionError(
                f"deliveries not final within {timeout} s: {late}")
        time.sleep(0.05)


def wait_processed(d, public_ids, timeout=30):
    """Waits until final and asserts every one ended `processed`."""
    rows = wait_final(d, public_ids, timeout)
    bad = {i: (r["status"], r["last_error"]) for i, r in rows.items()
           if r["status"] != "processed"}
    assert not bad, f"deliveries not processed: {bad}"
    return rows


def wait_until(pred, timeout=30, what="a condition", interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def pending_count_db(d):
    """Deliveries still to apply, read from the database."""
    with ro(d) as con:
        return con.execute("SELECT count(*) FROM inbox WHERE status = ?",
                           (DB_RECEIVED,)).fetchone()[0]


def wait_idle(d, timeout=60):
    """Until no delivery is pending (received or retrying)."""
    wait_until(lambda: pending_count_db(d) == 0, timeout,
               "no pending delivery", interval=0.1)


# ---- the ledger ------------------------------------------------------------

# A read-only connection to the daemon's database, SQLite file or
# PostgreSQL database: `with ro(d) as con: con.execute(sql, params)`, SQL
# both accept with ? placeholders (conftest.Ledger).
ro = conftest.Ledger


def bookings(d, **query):
    return d.list_all("/api/v1/bookings",
                      query={k: str(v) for k, v in query.items()})


def booking(d, uid):
    r = d.get(f"/api/v1/bookings/{uid}", admin=True)
    assert r.status == 200, r
    return r.json


def calcom_uids(b, superseded=None):
    """The Cal.com uids linked to a booking."""
    return {l["external_id"] for l in b["links"]
            if l["provider"] == "calcom" and l["kind"] == "booking_uid" and
            (superseded is None or l["superseded"] == superseded)}


def by_calcom_uid(d):
    """{Cal.com uid: [ledger bookings linked to it]} over every booking."""
    out = {}
    for b in bookings(d):
        for u in calcom_uids(b):
            out.setdefault(u, []).append(b)
    return out


def booking_for(d, calcom_uid):
    """The one ledger booking linked to a Cal.com uid (asserts one)."""
    found = [b for b in bookings(d, source="calcom")
             if calcom_uid in calcom_uids(b)]
    assert len(found) == 1, (calcom_uid, found)
    return found[0]


def history(d, uid):
    r = d.get(f"/api/v1/bookings/{uid}/history", admin=True)
    assert r.status == 200, r
    j = r.json
    return j["data"] if isinstance(j, dict) and "data" in j else j


def activity(d, kind=None, booking=None):
    q = {}
    if kind:
        q["kind"] = kind
    if booking:
        q["booking"] = booking
    return d.list_all("/api/v1/activity", query=q)


def clients(d, email=None):
    q = {"email": email} if email else {}
    return d.list_all("/api/v1/clients", query=q)


# ---- crashing the daemon ---------------------------------------------------

def sigkill(d):
    """SIGKILLs the daemon and forgets the process, so that the harness's
    teardown does not count its (necessarily unclean) exit as a failure;
    its stderr is still searched for sanitizer reports, which would have
    been printed while it ran. The next d.start() runs it again on the same
    database."""
    p = d.proc
    assert p is not None and p.poll() is None, "the daemon is not running"
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    assert p.returncode == -signal.SIGKILL, p.returncode
    d._close_files()
    conftest._LIVE.discard(p)
    d.proc = None
    text = d.stderr()
    found = conftest.sanitizer_problems(text)
    assert not found, f"sanitizer report before SIGKILL: {found}\n" \
                      f"{text[-6000:]}"
