"""tests/integration/calendly_helpers.py — Calendly webhooks for the
integration tests, on top of conftest.py and calcom_helpers.py (whose
provider-neutral parts: polling deliveries, the ledger, are reused as they
are).

Bodies come from tests/fixtures/calendly/*.json (shaped from PROVIDERS.md
§2.2); variants are made by loading a fixture, changing the invitee and
event URIs, times and emails, and re-serializing; the exact bytes sent are
signed the way Calendly signs them:
Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>.
"""
import copy
import datetime as dt
import hashlib
import hmac
import json
import pathlib
import secrets
import time

import conftest
import calcom_helpers as C

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / \
    "calendly"
WEBHOOK_PATH = "/webhooks/calendly"
API = "https://api.calendly.com"
TOLERANCE_S = 180

# Reused unchanged from the Cal.com helpers (nothing there is Cal.com's
# but the names).
wait_final = C.wait_final
wait_processed = C.wait_processed
wait_until = C.wait_until
wait_idle = C.wait_idle
delivery = C.delivery
deliveries = C.deliveries
bookings = C.bookings
booking = C.booking
history = C.history
activity = C.activity
clients = C.clients
future_slot = C.future_slot
body_of = C.body_of
ro = C.ro
MAX_BODY = C.MAX_BODY


def new_key():
    return "calendly-signing-" + secrets.token_hex(12)


def start_calendly(make_daemon, key=None, **extra):
    """A daemon taking Calendly webhooks; returns it with .secret set."""
    key = key or new_key()
    env = {
        "CALENDLY_WEBHOOK_SIGNING_KEY": key,
        "BOOKINGD_JOB_RETRY_BASE_MS": "50",
        "BOOKINGD_JOB_RETRY_MAX_MS": "200",
    }
    env.update({k: (None if v is None else str(v)) for k, v in extra.items()})
    d = make_daemon(env=env)
    d.secret = key
    return d


# ---- URIs and times ----------------------------------------------------------

def _uuid():
    return secrets.token_hex(8).upper()


def new_event():
    return f"{API}/scheduled_events/{_uuid()}"


def new_invitee(event=None):
    return f"{event or new_event()}/invitees/{_uuid()}"


def event_of(invitee):
    return invitee.split("/invitees/")[0]


def cal_ts(t):
    """Calendly's timestamps: microseconds, Z."""
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_seq = [0]


def created_at():
    """A distinct envelope created_at."""
    _seq[0] += 1
    return cal_ts(C.utc_now() + dt.timedelta(microseconds=_seq[0]))


# ---- bodies ------------------------------------------------------------------

def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture_bytes(name):
    return (FIXTURES / f"{name}.json").read_bytes()


def _fill(j, inv, start, end, email, name, when, event_type):
    p = j["payload"]
    ev = event_of(inv)
    p["uri"] = inv
    p["event"] = ev
    p["scheduled_event"]["uri"] = ev
    j["created_at"] = when or created_at()
    if start is not None:
        p["scheduled_event"]["start_time"] = cal_ts(start)
        p["scheduled_event"]["end_time"] = cal_ts(end)
    if email is not None:
        p["email"] = email
    if name is not None:
        p["name"] = name
    if event_type is not None:
        p["scheduled_event"]["event_type"] = event_type
    p["scheduled_event"]["location"]["join_url"] = \
        "https://calendly.zoom.us/j/" + ev.rsplit("/", 1)[1]
    return j


def created(inv=None, start=None, end=None, email=None, name=None,
            old_invitee=None, when=None, event_type=None):
    """invitee.created; with old_invitee, the create half of a reschedule."""
    j = fixture("invitee_created_rescheduled" if old_invitee
                else "invitee_created")
    if start is None:
        start, end = future_slot()
    _fill(j, inv or new_invitee(), start, end, email, name, when, event_type)
    j["payload"]["old_invitee"] = old_invitee
    return j


def canceled(inv, start=None, end=None, reason="Something came up",
             email=None, new_invitee=None, when=None, event_type=None):
    """invitee.canceled; with new_invitee, the cancel half of a reschedule
    (rescheduled: true)."""
    j = fixture("invitee_canceled_rescheduled" if new_invitee
                else "invitee_canceled")
    if start is None:
        start, end = future_slot()
    _fill(j, inv, start, end, email, None, when, event_type)
    j["payload"]["new_invitee"] = new_invitee
    j["payload"]["rescheduled"] = bool(new_invitee)
    j["payload"]["cancellation"]["reason"] = reason
    return j


def reschedule_pair(old, start, end, old_start=None, old_end=None,
                    email=None):
    """(cancel half, create half, the new invitee's URI)."""
    new = new_invitee()
    return (canceled(old, old_start, old_end, reason=None, email=email,
                     new_invitee=new),
            created(new, start, end, email=email, old_invitee=old), new)


def no_show(inv, mark=None, deleted=False, start=None, end=None, when=None):
    """invitee_no_show.created (or .deleted) for an invitee; mark is the
    no-show's URI (None: a new one; False: no_show null)."""
    j = fixture("invitee_no_show_deleted" if deleted
                else "invitee_no_show_created")
    if start is None:
        start, end = future_slot()
    _fill(j, inv, start, end, None, None, when, None)
    if mark is False:
        j["payload"]["no_show"] = None
    else:
        j["payload"]["no_show"]["uri"] = mark or \
            f"{API}/invitee_no_shows/{_uuid()}"
    return j


# ---- signing and sending -----------------------------------------------------

def sign(key, t, body):
    msg = str(t).encode() + b"." + body
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


def sig_header(key, body, t=None):
    t = int(time.time()) if t is None else t
    return f"t={t},v1={sign(key, t, body)}"


def post(d, body, key=None, t=None, signature=None,
         content_type="application/json", headers=None,
         timeout=conftest.REQUEST_TIMEOUT_S):
    """POST /webhooks/calendly with body (a dict or the exact bytes), signed
    with key (default: the daemon's) at time t (default: now) unless
    signature is given (False: no header)."""
    raw = body_of(body)
    hdrs = {}
    if signature is None:
        signature = sig_header(key or d.secret, raw, t)
    if signature is not False:
        hdrs["Calendly-Webhook-Signature"] = signature
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    return d.request("POST", WEBHOOK_PATH, raw=raw, headers=hdrs,
                     content_type=None, timeout=timeout)


def received(d, body, **kw):
    r = post(d, body, **kw)
    assert r.status == 200, r
    assert r.json["status"] == "received", r.json
    assert r.json["delivery"].startswith("dlv_"), r.json
    return r.json["delivery"]


def deliver(d, body, **kw):
    """A delivery that must be accepted (received, duplicate or ignored)."""
    r = post(d, body, **kw)
    assert r.status == 200, r
    assert r.json["status"] in ("received", "duplicate", "ignored"), r.json
    return r.json["delivery"]


# ---- the ledger --------------------------------------------------------------

def invitee_uris(b, superseded=None):
    return {l["external_id"] for l in b["links"]
            if l["provider"] == "calendly" and l["kind"] == "booking_uid" and
            (superseded is None or l["superseded"] == superseded)}


def by_invitee(d):
    """{invitee URI: [ledger bookings linked to it]}."""
    out = {}
    for b in bookings(d):
        for u in invitee_uris(b):
            out.setdefault(u, []).append(b)
    return out


def booking_for(d, inv):
    found = [b for b in bookings(d) if inv in invitee_uris(b)]
    assert len(found) == 1, (inv, found)
    return found[0]


def inbox_count(d):
    with ro(d) as con:
        return con.execute("SELECT count(*) FROM inbox").fetchone()[0]
