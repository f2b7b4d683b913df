"""Outbound webhooks (Standard Webhooks): endpoints registered through the
API receive signed events of the ledger, from a receiver in this test (a
Python http.server on 127.0.0.1, hence BOOKINGD_WEBHOOK_ALLOW_PRIVATE=1).

Every message is verified here (HMAC-SHA256 of id.timestamp.body with the
secret's decoded bytes, PROVIDERS.md §8) and by the official
`standardwebhooks` npm package (tests/webhooks-verify, installed by
scripts/install-deps.sh test): always in the first test, elsewhere when
installed. Retries keep the webhook-id; a receiver that fails for a while
gets every event once; one booking's events arrive in order; a slow
receiver does not delay another's; 410 disables the endpoint; bad input is
refused.
"""
import base64
import hashlib
import hmac
import http.server
import json
import pathlib
import secrets
import shutil
import subprocess
import threading
import time

import pytest

import calcom_helpers as H
from conftest import (assert_error, ledger_query, parse_instant,
                      standard_catalog)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SECRET_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
VERIFY_DIR = ROOT / "tests" / "webhooks-verify"
FAST = {"BOOKINGD_WEBHOOK_ALLOW_PRIVATE": "1",
        "BOOKINGD_JOB_RETRY_BASE_MS": "100",
        "BOOKINGD_JOB_RETRY_MAX_MS": "400",
        "BOOKINGD_JOB_IDLE_POLL_MS": "50"}


class Receiver:
    """A webhook receiver: answer(n, headers) gives the status of the n-th
    request (0-based); delay_s is slept before answering."""

    def __init__(self, answer=lambda n, h: 200, delay_s=0.0):
        self.answer, self.delay_s = answer, delay_s
        self.requests = []  # (status answered, headers dict, body bytes, t)
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                with outer.lock:
                    i = len(outer.requests)
                status = outer.answer(i, hdrs)
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                with outer.lock:
                    outer.requests.append((status, hdrs, body,
                                           time.monotonic()))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender gave up (time-out)
                    pass

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def delivered(self):
        """(headers, body) of the requests answered 2xx, in arrival order."""
        with self.lock:
            return [(h, b) for s, h, b, _ in self.requests
                    if 200 <= s < 300]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def verify(secret, headers, body):
    """Standard Webhooks verification, by hand."""
    key = base64.b64decode(secret[len("whsec_"):])
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    assert abs(int(ts) - time.time()) < 300, ts
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                   hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    assert want in headers["webhook-signature"].split(" "), headers


def verify_with_library(secret, messages):
    """Verifies every (headers, body) with the official npm package, when
    it is installed (scripts/install-deps.sh: npm ci in
    tests/webhooks-verify)."""
    if not shutil.which("node") or \
            not (VERIFY_DIR / "node_modules" / "standardwebhooks").is_dir():
        return False
    doc = json.dumps({"secret": secret, "messages": [
        {"headers": {k: h[k] for k in ("webhook-id", "webhook-timestamp",
                                       "webhook-signature")},
         "body": b.decode()} for h, b in messages]})
    p = subprocess.run(["node", str(VERIFY_DIR / "verify.mjs")], input=doc,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr + p.stdout
    assert p.stdout.strip() == f"verified {len(messages)}", p.stdout
    return True


def add_endpoint(d, url, events=("*",), description=None):
    body = {"url": url, "events": list(events)}
    if description is not None:
        body["description"] = description
    r = d.post("/api/v1/webhook-endpoints", body, admin=True)
    assert r.status == 201, r
    return r.json


def start(make_daemon, **env):
    d = make_daemon(env=dict(FAST, **env))
    d.apply(standard_catalog())
    return d


def types_of(msgs):
    return [json.loads(b)["type"] for _, b in msgs]


@pytest.mark.timeout(120)
def test_signed_events_in_order(make_daemon, receivers):
    d = start(make_daemon)
    rx = receivers()
    ep = add_endpoint(d, rx.url, description="CRM")
    assert ep["secret"].startswith("whsec_"), ep
    assert len(base64.b64decode(ep["secret"][6:])) == 32
    assert ep["id"].startswith("ep_") and ep["status"] == "enabled", ep
    got = d.get(f"/api/v1/webhook-endpoints/{ep['id']}", admin=True).json
    assert "secret" not in got and got["events"] == ["*"], got
    assert "secret" not in json.dumps(
        d.get("/api/v1/webhook-endpoints", admin=True).json)
    bookings_only = add_endpoint(d, rx.url, events=["booking.cancelled"])

    s = d.slot_starts("intro")
    b = d.book("intro", s[0]).json
    uid, token = b["uid"], b["manage_token"]
    r = d.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s[3]},
               query={"token": token})
    assert r.status == 200, r
    r = d.post(f"/api/v1/bookings/{uid}/cancel", {"reason": "x"},
               query={"token": token})
    assert r.status == 200, r

    H.wait_until(lambda: len(rx.delivered()) >= 5, 30, "five messages")
    time.sleep(0.3)
    msgs = rx.delivered()
    mine = [(h, b) for h, b in msgs]
    # The catch-all endpoint: client.created and the three booking events;
    # the other endpoint: the cancellation only.
    assert sorted(types_of(mine)) == sorted([
        "client.created", "booking.created", "booking.rescheduled",
        "booking.cancelled", "booking.cancelled"]), types_of(mine)
    ids = [h["webhook-id"] for h, _ in mine]
    assert len(set(ids)) == len(ids) and all(i.startswith("msg_")
                                             for i in ids), ids
    secrets = {ep["id"]: ep["secret"],
               bookings_only["id"]: bookings_only["secret"]}
    by_ep = {}
    for eid in secrets:
        rows = d.list_all(f"/api/v1/webhook-endpoints/{eid}/messages")
        by_ep[eid] = {m["id"] for m in rows}
        for m in rows:
            assert m["status"] == "delivered", m
            # An attempt may have waited for an earlier message about the
            # same booking (the order is kept): at least one.
            assert m["last_status_code"] == 200 and m["attempts"] >= 1, m
            assert m["last_duration_ms"] >= 0 and m["delivered_at"], m
    # Each endpoint got one booking's events in the order they happened.
    all_of = [(h, b) for h, b in mine if h["webhook-id"] in by_ep[ep["id"]]]
    order = [t for t in types_of(all_of) if t.startswith("booking.")]
    assert order == ["booking.created", "booking.rescheduled",
                     "booking.cancelled"], order
    assert len(by_ep[bookings_only["id"]]) == 1
    for h, body in mine:
        eid = next(e for e, ids_ in by_ep.items() if h["webhook-id"] in ids_)
        verify(secrets[eid], h, body)
        j = json.loads(body)
        assert set(j) == {"type", "timestamp", "data"}, j
        if j["type"].startswith("booking."):
            assert j["data"]["uid"] == uid, j
            assert "manage_token" not in j["data"], j
        assert h["content-type"] == "application/json"
    cancelled = [m for m in mine if json.loads(m[1])["type"] ==
                 "booking.cancelled"]
    assert all(json.loads(b)["data"]["status"] == "cancelled"
               for _, b in cancelled)
    # Once at least, with the official library (scripts/install-deps.sh
    # test installs it).
    assert verify_with_library(ep["secret"], all_of), \
        "node or tests/webhooks-verify/node_modules missing: " \
        "run scripts/install-deps.sh test"


def stored_secret(d, public_id):
    assert public_id.startswith("ep_") and public_id.isascii() and \
        public_id.replace("_", "").isalnum(), public_id
    (secret,), = ledger_query(
        d, "SELECT secret FROM webhook_endpoints WHERE public_id = "
           f"'{public_id}'")
    return secret


def messages_of(d, rx, ep):
    ids = {m["id"] for m in
           d.list_all(f"/api/v1/webhook-endpoints/{ep['id']}/messages")}
    return [(h, b) for h, b in rx.delivered() if h["webhook-id"] in ids]


@pytest.mark.timeout(180)
def test_secrets_sealed_at_rest(make_daemon, receivers):
    """With BOOKINGD_SECRET_KEY a new endpoint's secret is stored sealed
    (bk1:, bound to its row) and its messages still verify with the official
    library; a plaintext row written without the key keeps working; without
    the key a sealed secret cannot sign and says why."""
    d = start(make_daemon)
    assert "endpoint secrets are stored in plaintext" in d.stderr()
    rx = receivers()
    legacy = add_endpoint(d, rx.url, events=["booking.created"])
    assert stored_secret(d, legacy["id"]) == legacy["secret"]

    d.extra_env["BOOKINGD_SECRET_KEY"] = SECRET_KEY
    d.restart()
    sealed = add_endpoint(d, rx.url, events=["booking.created"])
    at_rest = stored_secret(d, sealed["id"])
    assert at_rest.startswith("bk1:"), at_rest
    assert sealed["secret"] not in at_rest
    assert sealed["secret"][6:] not in at_rest
    assert "secret" not in d.get(f"/api/v1/webhook-endpoints/{sealed['id']}",
                                 admin=True).json
    s = d.slot_starts("intro")
    d.book("intro", s[0])
    H.wait_until(lambda: len(messages_of(d, rx, sealed)) == 1 and
                 len(messages_of(d, rx, legacy)) == 1, 60,
                 "one message to each endpoint")
    for ep in (sealed, legacy):
        got = messages_of(d, rx, ep)
        for h, body in got:
            verify(ep["secret"], h, body)
        assert verify_with_library(ep["secret"], got), \
            "node or tests/webhooks-verify/node_modules missing: " \
            "run scripts/install-deps.sh test"

    # Without the key: the plaintext row still signs, the sealed one cannot
    # and its job says so (never the secret).
    d.extra_env["BOOKINGD_SECRET_KEY"] = None
    d.restart()
    d.book("intro", s[2])
    H.wait_until(lambda: len(messages_of(d, rx, legacy)) == 2, 60,
                 "the legacy endpoint's second message")
    for h, body in messages_of(d, rx, legacy):
        verify(legacy["secret"], h, body)

    def sealed_failure():
        jobs = d.get("/api/v1/jobs", query={"kind": "webhooks.send"},
                     admin=True).json["data"]
        return [j for j in jobs if "BOOKINGD_SECRET_KEY" in
                (j.get("last_error") or "")]
    failed = H.wait_until(sealed_failure, 60, "the sealed endpoint's failure")
    assert sealed["secret"] not in json.dumps(failed)
    assert len(messages_of(d, rx, sealed)) == 1


@pytest.mark.timeout(120)
def test_failing_receiver_gets_every_event_once(make_daemon, receivers):
    d = start(make_daemon)
    until = time.monotonic() + 2.0
    rx = receivers(answer=lambda n, h: 500 if time.monotonic() < until
                   else 200)
    ep = add_endpoint(d, rx.url, events=["booking.created",
                                         "booking.cancelled"])
    s = d.slot_starts("intro")
    uids = []
    for i in range(4):
        b = d.book("intro", s[i * 2], email=f"p{i}@example.com").json
        uids.append(b["uid"])
    r = d.post(f"/api/v1/bookings/{uids[0]}/cancel", {"reason": "x"},
               admin=True)
    assert r.status == 200, r
    H.wait_until(lambda: len(rx.delivered()) >= 5, 60, "every event")
    time.sleep(1.0)
    msgs = rx.delivered()
    ids = [h["webhook-id"] for h, _ in msgs]
    assert len(ids) == 5 and len(set(ids)) == 5, ids  # each once
    with rx.lock:
        failed_ids = {h["webhook-id"] for s_, h, _, _ in rx.requests
                      if s_ == 500}
    assert failed_ids and failed_ids <= set(ids), (failed_ids, ids)
    for h, body in msgs:
        verify(ep["secret"], h, body)
    # uid 0: created before cancelled, whatever the retries did.
    order = [json.loads(b)["type"] for _, b in msgs
             if json.loads(b)["data"]["uid"] == uids[0]]
    assert order == ["booking.created", "booking.cancelled"], order
    rows = d.list_all(f"/api/v1/webhook-endpoints/{ep['id']}/messages")
    assert all(m["status"] == "delivered" for m in rows), rows
    assert any(m["attempts"] > 1 for m in rows), rows
    # Every attempt is kept, not only the last: the 500s, then the 200.
    with rx.lock:
        answered = {}
        for s_, h, _, _ in rx.requests:
            answered.setdefault(h["webhook-id"], []).append(s_)
    for m in rows:
        hist = m["attempt_history"]
        # Job attempts that waited for an earlier message posted nothing.
        nums = [a["attempt"] for a in hist]
        assert nums == sorted(set(nums)) and nums[-1] == m["attempts"], m
        assert [a["status_code"] for a in hist] == answered[m["id"]], \
            (m, answered[m["id"]])
        assert all(a["error"] == "HTTP 500" for a in hist[:-1]), m
        assert hist[-1]["error"] is None, m
        assert all(a["duration_ms"] >= 0 for a in hist), m
        ats = [parse_instant(a["at"]) for a in hist]
        assert ats == sorted(ats), m
        assert hist[-1]["status_code"] == m["last_status_code"] == 200
    verify_with_library(ep["secret"], msgs)


@pytest.mark.timeout(120)
def test_slow_receiver_does_not_stall_others(make_daemon, receivers):
    # The slow receiver holds its request for 15 s (within the 30 s
    # time-out): the fast one's message must arrive while the slow one's
    # attempt is still open, a state rather than a time bound.
    d = start(make_daemon, BOOKINGD_WORKERS="4",
              BOOKINGD_WEBHOOK_TIMEOUT_MS="30000",
              BOOKINGD_WEBHOOK_CONNECT_TIMEOUT_MS="1000")
    slow = receivers(delay_s=15.0)
    fast = receivers()
    add_endpoint(d, slow.url, events=["booking.created"])
    add_endpoint(d, fast.url, events=["booking.created"])
    d.book("intro", d.slot_starts("intro")[0])
    H.wait_until(lambda: fast.delivered(), 30, "the fast receiver's message")
    assert not slow.requests, "the fast message waited for the slow one"
    H.wait_until(lambda: d.get("/api/v1/jobs", query={
        "kind": "webhooks.send", "status": "running"}, admin=True
        ).json["data"] and not slow.requests, 30,
        "the slow receiver's attempt open after the fast one's arrived")
    # Other job kinds still run: the jobs admin shows the send jobs.
    jobs = d.get("/api/v1/jobs", query={"kind": "webhooks.send"},
                 admin=True).json["data"]
    assert len(jobs) == 2, jobs
    # Deleting the slow endpoint ends its job without sending (done, not
    # dead), even while an attempt runs.
    slow_id = [e for e in d.list_all("/api/v1/webhook-endpoints")
               if e["url"] == slow.url][0]["id"]
    r = d.delete(f"/api/v1/webhook-endpoints/{slow_id}", admin=True)
    assert r.status == 204, r
    H.wait_outbox_idle(d, 60)
    jobs = d.get("/api/v1/jobs", query={"kind": "webhooks.send"},
                 admin=True).json["data"]
    assert [j["status"] for j in jobs] == ["done", "done"], jobs


@pytest.mark.timeout(120)
def test_410_disables_the_endpoint_and_replay(make_daemon, receivers):
    d = start(make_daemon)
    gone = [True]
    rx = receivers(answer=lambda n, h: 410 if gone[0] else 200)
    ep = add_endpoint(d, rx.url, events=["booking.created"])
    s = d.slot_starts("intro")
    d.book("intro", s[0])

    def disabled():
        return d.get(f"/api/v1/webhook-endpoints/{ep['id']}",
                     admin=True).json["status"] == "disabled"
    H.wait_until(disabled, 30, "the endpoint disabled")
    got = d.get(f"/api/v1/webhook-endpoints/{ep['id']}", admin=True).json
    assert "410" in got["disabled_reason"], got
    rows = d.list_all(f"/api/v1/webhook-endpoints/{ep['id']}/messages")
    assert len(rows) == 1 and rows[0]["status"] == "failed", rows
    metrics = d.get("/metrics", admin=True).body.decode().splitlines()
    assert 'bookingd_webhook_messages{status="failed"} 1' in metrics
    assert rows[0]["last_status_code"] == 410, rows
    # A disabled endpoint gets nothing more.
    d.book("intro", s[2], email="other@example.com")
    time.sleep(1.0)
    assert len(d.list_all(
        f"/api/v1/webhook-endpoints/{ep['id']}/messages")) == 1
    r = d.post(f"/api/v1/webhook-endpoints/{ep['id']}/messages/"
               f"{rows[0]['id']}/replay", admin=True)
    assert_error(r, 409, "conflict")
    # Enabled again, a replay delivers the same message (same id).
    gone[0] = False
    r = d.patch(f"/api/v1/webhook-endpoints/{ep['id']}",
                {"status": "enabled"}, admin=True)
    assert r.status == 200 and r.json["status"] == "enabled", r
    assert r.json["disabled_reason"] is None, r
    r = d.post(f"/api/v1/webhook-endpoints/{ep['id']}/messages/"
               f"{rows[0]['id']}/replay", admin=True)
    assert r.status == 202, r
    H.wait_until(lambda: rx.delivered(), 30, "the replayed message")
    assert rx.delivered()[0][0]["webhook-id"] == rows[0]["id"]
    verify(ep["secret"], *rx.delivered()[0])
    r = d.delete(f"/api/v1/webhook-endpoints/{ep['id']}", admin=True)
    assert r.status == 204, r
    r = d.get(f"/api/v1/webhook-endpoints/{ep['id']}", admin=True)
    assert_error(r, 404)


@pytest.mark.timeout(120)
def test_bad_input(make_daemon):
    d = make_daemon()  # no BOOKINGD_WEBHOOK_ALLOW_PRIVATE
    ok = {"url": "https://hooks.example.com/in", "events": ["*"]}
    r = d.post("/api/v1/webhook-endpoints", ok)
    assert_error(r, 401)
    for url in ["not a url", "hooks.example.com/in", "ftp://example.com/",
                "https://", "https:///path", "http://example.com/hook",
                "https://user:pw@example.com/", "https://example.com/#x",
                "https://127.0.0.1/hook", "https://10.1.2.3/",
                "https://192.168.0.1/", "https://169.254.169.254/latest",
                "https://[::1]/", "https://[fd00::1]/", "https://localhost/",
                "https://a.localhost/", "https://0.0.0.0/",
                "https://[::ffff:127.0.0.1]/", "https://224.0.0.1/",
                "https://example.com/\r\nX-Injected: 1",
                "https://example.com/a b", "https://example.com/\x7f",
                "https://example.com/" + "a" * 2100, 42, None, ""]:
        r = d.post("/api/v1/webhook-endpoints", dict(ok, url=url),
                   admin=True)
        assert_error(r, 422, field="url")
    for events, field in [([], "events"), (["booking.exploded"], "events[0]"),
                          (["*", 3], "events[1]"), ("*", "events"),
                          (["BOOKING_CREATED"], "events[0]"),
                          (["*"] * 17, "events")]:
        r = d.post("/api/v1/webhook-endpoints", dict(ok, events=events),
                   admin=True)
        assert r.status in (413, 422), (events, r)
        if r.status == 422:
            assert_error(r, 422, field=field)
    r = d.post("/api/v1/webhook-endpoints",
               dict(ok, description="x" * 501), admin=True)
    assert r.status in (413, 422), r
    r = d.post("/api/v1/webhook-endpoints",
               dict(ok, description="a\r\nX-Injected: 1"), admin=True)
    assert_error(r, 422, field="description")
    r = d.post("/api/v1/webhook-endpoints", dict(ok, secret="whsec_x"),
               admin=True)
    assert r.status in (400, 422), r
    r = d.post("/api/v1/webhook-endpoints", ok, admin=True)
    assert r.status == 201, r
    eid = r.json["id"]
    r = d.patch(f"/api/v1/webhook-endpoints/{eid}",
                {"url": "https://127.0.0.1/"}, admin=True)
    assert_error(r, 422, field="url")
    r = d.patch(f"/api/v1/webhook-endpoints/{eid}", {"status": "on"},
                admin=True)
    assert_error(r, 422, field="status")
    r = d.get("/api/v1/webhook-endpoints/ep_nope", admin=True)
    assert_error(r, 404)
    r = d.post("/api/v1/webhook-endpoints/ep_nope/messages/msg_x/replay",
               admin=True)
    assert_error(r, 404)


@pytest.mark.timeout(60)
def test_private_switch_allows_loopback(make_daemon):
    d = make_daemon(env={"BOOKINGD_WEBHOOK_ALLOW_PRIVATE": "1"})
    r = d.post("/api/v1/webhook-endpoints",
               {"url": "http://127.0.0.1:9/hook", "events": ["*"]},
               admin=True)
    assert r.status == 201, r
    r = d.post("/api/v1/webhook-endpoints",
               {"url": "ftp://127.0.0.1/", "events": ["*"]}, admin=True)
    assert_error(r, 422, field="url")


@pytest.mark.timeout(120)
def test_booking_data_carries_the_answers(make_daemon, receivers):
    """The host's systems get the answers to the event type's questions
    (the data is the admin view of the booking)."""
    d = start(make_daemon)
    rx = receivers()
    add_endpoint(d, rx.url, events=["booking.created"])
    r = d.patch("/api/v1/event-types/intro", {"questions": [
        {"id": "goal", "label": "Goal", "type": "text", "required": True},
        {"id": "ok", "label": "OK?", "type": "checkbox"}]}, admin=True)
    assert r.status == 200, r
    r = d.post("/api/v1/bookings", {
        "event_type": "intro", "start": d.slot_starts("intro")[0],
        "attendee": {"name": "Ada", "email": "ada@example.com"},
        "answers": {"goal": "Run <fast>\nand far", "ok": True}})
    assert r.status == 201, r
    H.wait_until(lambda: rx.delivered(), 30, "the booking.created message")
    (_, body), = rx.delivered()
    data = json.loads(body)["data"]
    assert data["uid"] == r.json["uid"]
    assert data["answers"] == [
        {"id": "goal", "label": "Goal", "type": "text",
         "value": "Run <fast>\nand far"},
        {"id": "ok", "label": "OK?", "type": "checkbox", "value": True}]
