"""tests/integration/calendly_fake.py — a contract fake of the parts of
Calendly's API v2 bookingd calls (PROVIDERS.md §2.3-2.5), as strict as the
real one on what bookingd sends: bearer authentication, JSON bodies, the
documented fields only, the error shapes ({title, message[, details]}), the
rate-limit headers on every answer and 429 with X-RateLimit-Reset when
over the limit.

    POST /scheduled_events/{uuid}/cancellation  {"reason"?: string <= 10000}
      201 {"resource": {canceled_by, reason, canceler_type, created_at}}
      404 unknown event; 403 "Event is already canceled" (an assumption of
      this fake: Calendly's reference lists 403 for the call without the
      message; bookingd treats it as done either way only with that
      message)

Tests add events (fake.add_event(uuid)), queue failures
(fake.fail_next(500, 429, ...)), and read fake.requests."""
import datetime as dt
import http.server
import json
import re
import threading

LIMIT = 500


def _now():
    return dt.datetime.now(dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


class CalendlyFake:
    def __init__(self, token):
        self.token = token
        self.events = {}          # uuid -> {"status", "cancellation"}
        self.requests = []        # (method, path, headers dict, body bytes)
        self.failures = []        # statuses to answer next, in order
        self.remaining = LIMIT
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, obj, extra=None):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-RateLimit-Limit", str(LIMIT))
                self.send_header("X-RateLimit-Remaining",
                                 str(max(fake.remaining, 0)))
                self.send_header("X-RateLimit-Reset", "60")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _err(self, status, title, message, details=None):
                o = {"title": title, "message": message}
                if details is not None:
                    o["details"] = details
                self._answer(status, o)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                with fake.lock:
                    fake.requests.append((self.command, self.path,
                                          dict(self.headers), raw))
                    fail = fake.failures.pop(0) if fake.failures else None
                if self.headers.get("Authorization") != \
                        f"Bearer {fake.token}":
                    return self._err(401, "Unauthenticated",
                                     "The access token is invalid")
                if fail == 429:
                    fake.remaining = 0
                    return self._err(429, "Too Many Requests",
                                     "You have exceeded the rate limit")
                if fail:
                    return self._err(fail, "Internal Server Error",
                                     "The server encountered an unexpected "
                                     "condition that prevented it from "
                                     "fulfilling the request.")
                fake.remaining = LIMIT - 1
                m = re.fullmatch(r"/scheduled_events/([A-Za-z0-9-]+)"
                                 r"/cancellation", self.path)
                if self.command != "POST" or not m:
                    return self._err(404, "Resource Not Found",
                                     "The server could not find the "
                                     "requested resource.")
                ctype = self.headers.get("Content-Type", "")
                if not ctype.startswith("application/json"):
                    return self._err(400, "Invalid Argument",
                                     "The supplied parameters are invalid.",
                                     [{"message": "Content-Type must be "
                                       "application/json"}])
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else {}
                except (UnicodeDecodeError, ValueError):
                    return self._err(400, "Invalid Argument",
                                     "The supplied parameters are invalid.")
                bad = []
                if not isinstance(body, dict):
                    bad.append({"message": "must be an object"})
                else:
                    for k in body:
                        if k != "reason":
                            bad.append({"parameter": k,
                                        "message": "is not allowed"})
                    r = body.get("reason")
                    if r is not None and (not isinstance(r, str) or
                                          len(r) > 10000):
                        bad.append({"parameter": "reason",
                                    "message": "must be a string of at "
                                               "most 10000 characters"})
                if bad:
                    return self._err(400, "Invalid Argument",
                                     "The supplied parameters are invalid.",
                                     bad)
                uuid = m.group(1)
                with fake.lock:
                    ev = fake.events.get(uuid)
                    if ev is None:
                        return self._err(404, "Resource Not Found",
                                         "The server could not find the "
                                         "requested resource.")
                    if ev["status"] == "canceled":
                        return self._err(403, "Permission Denied",
                                         "Event is already canceled")
                    ev["status"] = "canceled"
                    ev["cancellation"] = {
                        "canceled_by": "Casey Coach",
                        "reason": body.get("reason"),
                        "canceler_type": "host", "created_at": _now()}
                    res = dict(ev["cancellation"])
                self._answer(201, {"resource": res})

            do_POST = do_GET = do_PUT = do_DELETE = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_event(self, uuid, status="active"):
        with self.lock:
            self.events[uuid] = {"status": status, "cancellation": None}

    def fail_next(self, *statuses):
        with self.lock:
            self.failures.extend(statuses)

    def cancellations(self):
        """The cancellation requests received: (uuid, body dict, headers)."""
        out = []
        with self.lock:
            reqs = list(self.requests)
        for method, path, headers, raw in reqs:
            m = re.fullmatch(r"/scheduled_events/([^/]+)/cancellation", path)
            if method == "POST" and m:
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = raw
                out.append((m.group(1), body, headers))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
