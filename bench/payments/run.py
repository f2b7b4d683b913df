#!/usr/bin/env python3
"""bench/payments/run.py [BOOKINGD] — Stripe figures (bench/README.md,
"bench/payments"), printed, never asserted:

1. webhook ingest: signed Stripe events POSTed to /webhooks/stripe by
   CONNECTIONS threads for DURATION seconds; each answer comes after the
   delivery is durably stored. Events are checkout.session.completed of
   distinct ids (their bookings unknown to the ledger, so applying them
   changes nothing: this measures the intake).
2. paid-booking round trip against the Stripe contract fake
   (tests/fakes/stripe): POST /api/v1/bookings until its answer carries
   checkout_url (the booking, the checkout job and the fake's session),
   then "pay" on the fake until the booking reads confirmed (the fake's
   signed webhook, the intake, the apply job), ROUNDS times.
3. invoice PDFs: GET /api/v1/invoices/{number}.pdf (drawn with cairo and
   pango at each request) of the invoices of step 2, by CONNECTIONS
   threads for DURATION / 2 seconds: PDFs per second and their size.

Fresh SQLite database in a temporary directory; the daemon and the fake
listen on 127.0.0.1 and are stopped on every way out.
  BOOKINGD     the binary (default build/release/bookingd)
  DURATION     seconds of webhook load (default 10)
  CONNECTIONS  concurrent senders (default 16)
  ROUNDS       paid bookings (default 40)
"""
import concurrent.futures
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import pathlib
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAKE = ROOT / "tests" / "fakes" / "stripe" / "fake.mjs"
BIN = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build/release/bookingd")
DURATION = float(os.environ.get("DURATION", "10"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
ROUNDS = int(os.environ.get("ROUNDS", "40"))
ADMIN = "bench-admin-" + secrets.token_hex(8)
WHSEC = "whsec_" + secrets.token_hex(16)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def signed(body):
    t = int(time.time())
    mac = hmac.new(WHSEC.encode(), f"{t}.".encode() + body,
                   hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "Stripe-Signature":
            f"t={t},v1={mac}"}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    tmp = tempfile.mkdtemp(prefix="bench-payments-")
    procs = []
    try:
        fake = subprocess.Popen(["node", str(FAKE)], cwd=FAKE.parent,
                                env=dict(os.environ, FAKE_WEBHOOK_SECRET=WHSEC),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        procs.append(fake)
        fport = json.loads(fake.stdout.readline())["port"]
        port = free_port()
        env = dict(os.environ,
                   # a benchmark floods from one address: no per-address limits
                   BOOKINGD_RATE_LIMIT_BOOKINGS="0", BOOKINGD_RATE_LIMIT_SLOTS="0",
                   BOOKINGD_RATE_LIMIT_WEBHOOKS="0", BOOKINGD_RATE_LIMIT_MANAGE="0",
                   BOOKINGD_DATABASE=f"sqlite:{tmp}/b.db",
                   BOOKINGD_LISTEN=f"127.0.0.1:{port}",
                   BOOKINGD_ADMIN_KEY=ADMIN, BOOKINGD_LOG_LEVEL="warn",
                   STRIPE_SECRET_KEY="sk_test_bench",
                   STRIPE_WEBHOOK_SECRET=WHSEC,
                   STRIPE_API_BASE=f"http://127.0.0.1:{fport}")
        cat = {"hosts": [{"slug": "coach", "name": "Coach",
                          "email": "c@example.com", "timezone": "UTC",
                          "schedule": {"timezone": "UTC", "weekly": [
                              {"day": d, "start": "00:00", "end": "24:00"}
                              for d in ("mon", "tue", "wed", "thu", "fri",
                                        "sat", "sun")]}}],
               "event_types": [{"slug": "paid", "title": "Paid",
                                "host": "coach", "duration_minutes": 15,
                                "price": {"amount": 1000,
                                          "currency": "EUR"}}]}
        pathlib.Path(tmp, "cat.json").write_text(json.dumps(cat))
        subprocess.run([BIN, "apply", f"{tmp}/cat.json"], env=env,
                       check=True, capture_output=True, timeout=60)
        d = subprocess.Popen([BIN, "serve"], env=env,
                             stdout=subprocess.DEVNULL,
                             stderr=open(f"{tmp}/serve.log", "wb"))
        procs.append(d)
        for _ in range(300):
            try:
                if call(port, "GET", "/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{fport}/_fake/config",
            data=json.dumps({"webhook_url":
                             f"http://127.0.0.1:{port}/webhooks/stripe"})
            .encode(), headers={"Content-Type": "application/json"}),
            timeout=10).read()

        # 1. Webhook ingest.
        stop = time.monotonic() + DURATION
        counts, lock = {}, threading.Lock()

        def sender(n):
            i = 0
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.monotonic() < stop:
                i += 1
                uid = f"benchbooking{n:04d}x{i:08d}"
                body = json.dumps({
                    "id": f"evt_bench_{n}_{i}", "object": "event",
                    "type": "checkout.session.completed", "data": {"object": {
                        "id": f"cs_bench_{n}_{i}", "object":
                        "checkout.session", "payment_status": "paid",
                        "client_reference_id": uid, "amount_total": 1000,
                        "currency": "eur", "payment_intent": f"pi_{n}_{i}",
                        "metadata": {"booking_uid": uid}}}}).encode()
                c.request("POST", "/webhooks/stripe", body=body,
                          headers=signed(body))
                r = c.getresponse()
                r.read()
                with lock:
                    counts[r.status] = counts.get(r.status, 0) + 1
            c.close()

        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as ex:
            list(ex.map(sender, range(CONNECTIONS)))
        took = time.monotonic() - t0
        ok = counts.get(200, 0)
        print(f"stripe webhook ingest: {ok / took:.0f} deliveries/s stored "
              f"durably and answered ({ok} in {took:.1f} s, {CONNECTIONS} "
              f"connections; answers {counts})")

        # 2. Paid-booking round trip.
        status, body = call(port, "GET", "/api/v1/event-types/paid/slots?"
                            f"from={dt.date.today() + dt.timedelta(days=2)}"
                            f"&to={dt.date.today() + dt.timedelta(days=9)}")
        starts = [s["start"] for v in json.loads(body)["slots"].values()
                  for s in v]
        book_ms, confirm_ms = [], []
        for i in range(min(ROUNDS, len(starts))):
            t = time.monotonic()
            st, b = call(port, "POST", "/api/v1/bookings", json.dumps({
                "event_type": "paid", "start": starts[i], "attendee": {
                    "name": "B", "email": f"b{i}@example.com"}}).encode(),
                {"Content-Type": "application/json"})
            b = json.loads(b)
            book_ms.append((time.monotonic() - t) * 1000)
            if st != 201 or "checkout_url" not in b:
                print("booking without a checkout url:", st, b)
                continue
            sid = b["checkout_url"].rsplit("/", 1)[1]
            t = time.monotonic()
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{fport}/_fake/sessions/{sid}/complete",
                data=b"{}", headers={"Content-Type": "application/json"}),
                timeout=30).read()
            while True:
                _, g = call(port, "GET", f"/api/v1/bookings/{b['uid']}",
                            headers={"Authorization": f"Bearer {ADMIN}"})
                if json.loads(g)["status"] == "confirmed":
                    break
                if time.monotonic() - t > 30:
                    print("not confirmed in 30 s:", b["uid"])
                    break
                time.sleep(0.005)
            confirm_ms.append((time.monotonic() - t) * 1000)
        for name, xs in (("booking -> checkout_url", book_ms),
                         ("pay -> confirmed", confirm_ms)):
            if xs:
                print(f"paid booking round trip, {name}: median "
                      f"{statistics.median(xs):.1f} ms, p95 {pct(xs, 95):.1f}"
                      f" ms, max {max(xs):.1f} ms ({len(xs)} bookings)")

        # 3. Invoice PDFs.
        _, lst = call(port, "GET", "/api/v1/invoices?limit=100",
                      headers={"Authorization": f"Bearer {ADMIN}"})
        numbers = [i["number"] for i in json.loads(lst)["data"]]
        if numbers:
            stop = time.monotonic() + DURATION / 2
            counts, sizes = {}, []

            def fetcher(n):
                k = n
                while time.monotonic() < stop:
                    st, pdf = call(port, "GET", "/api/v1/invoices/"
                                   f"{numbers[k % len(numbers)]}.pdf",
                                   headers={"Authorization":
                                            f"Bearer {ADMIN}"})
                    k += 1
                    with lock:
                        counts[st] = counts.get(st, 0) + 1
                        if st == 200 and len(sizes) < 100:
                            sizes.append(len(pdf))
            t0 = time.monotonic()
            with concurrent.futures.ThreadPoolExecutor(CONNECTIONS) as ex:
                list(ex.map(fetcher, range(CONNECTIONS)))
            took = time.monotonic() - t0
            ok = counts.get(200, 0)
            print(f"invoice PDF: {ok / took:.0f} PDFs/s drawn and answered "
                  f"({ok} in {took:.1f} s, {CONNECTIONS} connections, "
                  f"median {statistics.median(sizes) / 1024:.0f} KiB; "
                  f"answers {counts})")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
