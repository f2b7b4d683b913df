"""tests/integration/stripe_helpers.py — the Stripe contract fake
(tests/fakes/stripe/fake.mjs) for the payment tests, on top of conftest.py.

StripeFake starts the fake (Node, its `stripe` package installed by
scripts/install-deps.sh), reads its port, and drives it through its
/_fake control endpoints: complete or expire a session, deliver events
again, make requests fail, read what bookingd sent. start_paid() starts a
daemon pointed at it with a priced event type 'paid' (45.00 EUR)."""
import json
import os
import pathlib
import secrets
import shutil
import subprocess
import time
import urllib.request

import pytest

from conftest import standard_catalog

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
FAKE_DIR = ROOT / "tests" / "fakes" / "stripe"
START_TIMEOUT_S = 30


class StripeFake:
    def __init__(self, workdir, secret):
        node = shutil.which("node")
        if not node:
            pytest.fail("node is not installed (scripts/install-deps.sh)")
        if not (FAKE_DIR / "node_modules" / "stripe").is_dir():
            pytest.fail("tests/fakes/stripe/node_modules is missing: run "
                        "scripts/install-deps.sh test")
        self.secret = secret
        self.log = open(pathlib.Path(workdir) / "stripe-fake.log", "wb")
        env = dict(os.environ, FAKE_WEBHOOK_SECRET=secret)
        self.proc = subprocess.Popen([node, str(FAKE_DIR / "fake.mjs")],
                                     cwd=FAKE_DIR, env=env,
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            pytest.fail("the Stripe fake did not start")
        self.port = json.loads(line)["port"]
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def call(self, method, path, body=None, headers=None, raw=None):
        """(status, parsed JSON or text) of one request to the fake."""
        data = raw if raw is not None else \
            (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method, headers=headers or {})
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text.decode(errors="replace")

    def control(self, path, body=None):
        status, j = self.call("POST" if body is not None else "GET",
                              "/_fake/" + path, body)
        assert status == 200, (path, status, j)
        return j

    def config(self, **kw):
        return self.control("config", kw)

    def point_at(self, d):
        self.config(webhook_url=f"http://127.0.0.1:{d.port}/webhooks/stripe")

    def sessions(self):
        return self.control("sessions")

    def session(self, sid):
        return next(s for s in self.sessions() if s["id"] == sid)

    def requests(self, path=None, method=None):
        return [r for r in self.control("requests")
                if (path is None or r["path"] == path) and
                (method is None or r["method"] == method)]

    def events(self, type=None):
        return [e for e in self.control("events")
                if type is None or e["type"] == type]

    def complete(self, sid, payment_status="paid"):
        return self.control(f"sessions/{sid}/complete",
                            {"payment_status": payment_status})

    def expire(self, sid):
        return self.control(f"sessions/{sid}/expire", {})

    def deliver(self, event_id, **opts):
        """Sends the event again (opts: timestamp_offset, secret, tamper,
        signature, no_signature); returns {status, body}."""
        return self.control(f"events/{event_id}/deliver", opts)

    def fail(self, prefix, status=500, count=1, method=None):
        body = {"prefix": prefix, "status": status, "count": count}
        if method:
            body["method"] = method
        self.control("fail", body)

    def clear_failures(self):
        self.control("fail/clear", {})


def new_webhook_secret():
    return "whsec_" + secrets.token_hex(16)


PRICE = {"amount": 4500, "currency": "EUR"}


def paid_catalog():
    """The standard catalog (host 'coach', free 'intro') plus 'paid', a
    priced 30-minute event type of the same host."""
    return standard_catalog(event_types=[{
        "slug": "paid", "title": "Paid session", "duration_minutes": 30,
        "price": PRICE}])


def stripe_env(fake, **extra):
    env = {
        "STRIPE_SECRET_KEY": "sk_test_" + secrets.token_hex(8),
        "STRIPE_WEBHOOK_SECRET": fake.secret,
        "STRIPE_API_BASE": fake.base,
        "BOOKINGD_JOB_RETRY_BASE_MS": "50",
        "BOOKINGD_JOB_RETRY_MAX_MS": "200",
    }
    env.update({k: (None if v is None else str(v)) for k, v in extra.items()})
    return env


def wait_for(what, fn, timeout=60, interval=0.05):
    """Polls fn() until it returns a true value (returned), at most timeout
    seconds; fails naming `what`."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})")
