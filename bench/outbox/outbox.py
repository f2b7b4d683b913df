"""bench/outbox/outbox.py — the outbox's throughput and what it costs a
booking request (bench/README.md, "bench/outbox"). Started by run.sh with
two fresh databases; prints figures, asserts nothing.

1. "off": bookingd without BOOKINGD_SMTP_URL and without webhook endpoints
   (the mail subscriber still records its messages as skipped and
   schedules reminders); BOOKINGS bookings from CLIENTS threads; booking
   latency p50/p90/p99.
2. "mail": the same with BOOKINGD_SMTP_URL to a local SMTP sink (aiosmtpd,
   discards) and no endpoints: emails/s alone.
3. "on": bookingd with BOOKINGD_SMTP_URL to a local SMTP sink (aiosmtpd,
   discards) and ENDPOINTS webhook endpoints (all events) on a local HTTP
   receiver answering 200; the same bookings; booking latency, then the
   time until the outbox is idle: emails/s and webhooks/s as they arrived
   (first to last arrival), and the drain after the last booking.
"""
import argparse
import http.client
import http.server
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time

from aiosmtpd.controller import Controller


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Arrivals:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = []

    def add(self):
        with self.lock:
            self.times.append(time.monotonic())

    def count(self):
        with self.lock:
            return len(self.times)

    def rate(self):
        with self.lock:
            t = list(self.times)
        if len(t) < 2:
            return 0.0, len(t)
        return (len(t) - 1) / (t[-1] - t[0]), len(t)


class SmtpSink:
    def __init__(self, arrivals):
        self.arrivals = arrivals
        self.ids = {}

    async def handle_DATA(self, server, session, envelope):
        self.arrivals.add()
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                mid = line.split(b":", 1)[1].strip()
                self.ids[mid] = self.ids.get(mid, 0) + 1
                break
            if not line:
                break
        return "250 2.0.0 discarded"


def start_receiver(arrivals):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            self.rfile.read(n)
            arrivals.add()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Daemon:
    def __init__(self, args, db, extra_env, tmp):
        self.port = free_port()
        self.key = "bench-admin-" + secrets.token_hex(12)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("BOOKINGD_")}
        env.update({"BOOKINGD_DATABASE": db,
                    "BOOKINGD_LISTEN": f"127.0.0.1:{self.port}",
                    "BOOKINGD_ADMIN_KEY": self.key,
                    "BOOKINGD_LOG_LEVEL": "warn",
                    "BOOKINGD_WEBHOOK_ALLOW_PRIVATE": "1",
                    "BOOKINGD_MAIL_FROM": "bench@example.com"})
        env.update(extra_env)
        catalog = os.path.join(tmp, "catalog.json")
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        with open(catalog, "w") as f:
            json.dump({"hosts": [{
                "slug": "h", "name": "Bench host", "email": "h@example.com",
                "timezone": "UTC", "schedule": {"timezone": "UTC", "weekly": [
                    {"day": d, "start": "00:00", "end": "24:00"}
                    for d in days]}}],
                "event_types": [{
                    "slug": "e", "title": "Bench call", "host": "h",
                    "duration_minutes": 5, "minimum_notice_minutes": 0,
                    "horizon_days": 365,
                    # A reminder due while the bench runs would count.
                    "reminders_minutes": []}]}, f)
        subprocess.run([args.bin, "apply", catalog], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        self.err = open(os.path.join(tmp, f"serve-{self.port}.err"), "wb")
        self.proc = subprocess.Popen([args.bin, "serve"], env=env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("outbox: the daemon did not start")

    def request(self, method, path, body=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port,
                                               timeout=30)
        hdrs = {"Authorization": f"Bearer {self.key}"}
        raw = None
        if body is not None:
            raw = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        c.request(method, path, body=raw, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, data

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.err.close()

    def outbox_busy(self):
        for kind in ("mail.event", "mail.send", "webhooks.fanout",
                     "webhooks.send"):
            for status in ("queued", "running", "retrying"):
                s, data = self.request(
                    "GET", f"/api/v1/jobs?kind={kind}&status={status}"
                           "&limit=1")
                if s != 200 or json.loads(data)["data"]:
                    return True
        return False


def book_all(d, args, offset):
    """BOOKINGS bookings of distinct slots from CLIENTS threads; returns
    the latencies (ms) of the 201 answers and the count of others."""
    first = (int(time.time()) // 86400 + 1 + offset) * 86400
    lat, other = [], [0]
    lock = threading.Lock()
    nxt = [0]

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= args.bookings:
                break
            start = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                  time.gmtime(first + 300 * i))
            body = {"event_type": "e", "start": start,
                    "attendee": {"name": f"Client {i % 50}",
                                 "email": f"c{i % 50}@example.com"}}
            t0 = time.perf_counter()
            try:
                s, _ = d.request("POST", "/api/v1/bookings", body, conn)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", d.port,
                                                  timeout=30)
                s = 0
            ms = (time.perf_counter() - t0) * 1000
            with lock:
                if s == 201:
                    lat.append(ms)
                else:
                    other[0] += 1
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(args.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return lat, other[0], time.monotonic() - t0


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def report(label, lat, other, secs):
    print(f"{label + ' bookings/s (201)':44s} {len(lat) / secs:.0f} "
          f"({len(lat)} in {secs:.2f} s, {other} other answers)")
    print(f"{label + ' latency p50 / p90 / p99':44s} "
          f"{pct(lat, 50):.2f} / {pct(lat, 90):.2f} / {pct(lat, 99):.2f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--db-off", required=True)
    ap.add_argument("--db-on", required=True)
    ap.add_argument("--db-mail", required=True)
    ap.add_argument("--backend", default="sqlite")
    ap.add_argument("--bookings", type=int, default=400)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--endpoints", type=int, default=20)
    ap.add_argument("--tmp", required=True)
    args = ap.parse_args()
    tag = f"bench/outbox [{args.backend}]"

    print(f"\n== {tag}: {args.bookings} bookings from {args.clients} "
          f"clients, outbox off ==")
    d = Daemon(args, args.db_off, {}, args.tmp)
    try:
        lat, other, secs = book_all(d, args, 0)
    finally:
        d.stop()
    report("off:", lat, other, secs)
    off_lat = lat

    print(f"\n== {tag}: emails only: {args.bookings} bookings, SMTP to a "
          f"local sink, no webhook endpoints ==")
    only = Arrivals()
    sink = Controller(SmtpSink(only), hostname="127.0.0.1",
                      port=free_port())
    sink.start()
    d = Daemon(args, args.db_mail,
               {"BOOKINGD_SMTP_URL":
                f"smtp+insecure://127.0.0.1:{sink.port}"}, args.tmp)
    try:
        lat, other, secs = book_all(d, args, 0)
        t_end = time.monotonic()
        while time.monotonic() < t_end + 600 and d.outbox_busy():
            time.sleep(0.2)
        drain = time.monotonic() - t_end
    finally:
        d.stop()
        sink.stop()
    report("mail:", lat, other, secs)
    r, n = only.rate()
    print(f"{'mail: emails sent, per second':44s} {r:.0f} ({n} emails, "
          f"idle {drain:.1f} s after the last booking)")

    emails, hooks = Arrivals(), Arrivals()
    handler = SmtpSink(emails)
    sink = Controller(handler, hostname="127.0.0.1", port=free_port())
    sink.start()
    rx = start_receiver(hooks)
    print(f"\n== {tag}: the same with SMTP to a local sink and "
          f"{args.endpoints} webhook endpoints (all events) ==")
    d = Daemon(args, args.db_on,
               {"BOOKINGD_SMTP_URL":
                f"smtp+insecure://127.0.0.1:{sink.port}"}, args.tmp)
    try:
        for i in range(args.endpoints):
            s, data = d.request("POST", "/api/v1/webhook-endpoints", {
                "url": f"http://127.0.0.1:{rx.server_port}/ep{i}",
                "events": ["*"]})
            assert s == 201, data
        lat, other, secs = book_all(d, args, 0)
        t_end = time.monotonic()
        deadline = t_end + 600
        while time.monotonic() < deadline and d.outbox_busy():
            time.sleep(0.2)
        drain = time.monotonic() - t_end
    finally:
        d.stop()
        sink.stop()
        rx.shutdown()
    report("on: ", lat, other, secs)
    er, en = emails.rate()
    wr, wn = hooks.rate()
    twice = {k: v for k, v in handler.ids.items() if v > 1}
    print(f"{'on:  emails sent, per second':44s} {er:.0f} ({en} emails, "
          f"{len(handler.ids)} Message-IDs, {len(twice)} twice)")
    for k, v in list(twice.items())[:3]:
        print(f"{'':44s} {k.decode()} x{v}")
    print(f"{'on:  webhooks delivered, per second':44s} {wr:.0f} "
          f"({wn} POSTs to {args.endpoints} endpoints)")
    print(f"{'on:  outbox idle after the last booking':44s} {drain:.1f} s")
    print(f"{'extra booking latency p50 / p99 (on - off)':44s} "
          f"{pct(lat, 50) - pct(off_lat, 50):+.2f} / "
          f"{pct(lat, 99) - pct(off_lat, 99):+.2f} ms")


if __name__ == "__main__":
    sys.exit(main())
