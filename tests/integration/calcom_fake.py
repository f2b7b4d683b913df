"""tests/integration/calcom_fake.py — a contract fake of the parts of
Cal.com's API v2 bookingd calls (PROVIDERS.md §3.3-3.4), as strict as the
real one on what bookingd sends:

- auth: `Authorization: Bearer <API key>` (cal_live_/cal_test_ keys), else
  401 {"status": "error", "error": {"code": "UnauthorizedException", ...}};
- `cal-api-version` on the endpoints that take one: 2024-08-13 for
  /bookings*, 2024-06-14 for /event-types. The real API silently falls
  back to an older endpoint version on a missing or unknown value (other
  shapes); this fake answers 400 instead, so that a missing header is a
  failing test rather than a silent shape change;
- the envelope {"status": "success", "data", "pagination"?} and the error
  shape {"status": "error", "timestamp", "path", "error": {"code",
  "message", "details"?}};
- GET /bookings: query take (1..250), skip (>= 0), afterStart, beforeEnd,
  sortStart (asc|desc), status (comma list of upcoming, recurring, past,
  cancelled, unconfirmed); an unknown or malformed parameter is 400;
  pagination {totalItems, remainingItems, returnedItems, itemsPerPage,
  currentPage, totalPages, hasNextPage, hasPreviousPage};
- GET /bookings/{uid}; POST /bookings/{uid}/cancel {cancellationReason?,
  cancelSubsequentBookings?, seatUid?} (200; 400 when already cancelled);
  POST /bookings/{uid}/reschedule {start (ISO 8601 UTC), reschedulingReason?,
  rescheduledBy?} (201 with the new booking: a new uid with
  rescheduledFromUid, the old one cancelled with rescheduledToUid; 400 for a
  cancelled booking); bodies are application/json objects of these keys
  only (NestJS whitelisting: another key is 400);
- GET /event-types, GET /me;
- rate limit: 120 requests per 60 s per key, X-RateLimit-Limit-Default /
  -Remaining-Default / -Reset-Default on every answer, 429 with Retry-After
  past it.

Tests add bookings (add_booking, from_webhook), change them "at Cal.com"
(reschedule_here, cancel_here), queue failures (fail_next(500, 429, ...),
answer_next(raw bytes)), hold the answer to a change after applying it
(hold_changes), and read fake.requests. When webhook=(url, secret) is set,
a change bookingd makes is echoed as Cal.com does, a signed
BOOKING_CANCELLED / BOOKING_RESCHEDULED delivery, before the answer."""
import datetime as dt
import hashlib
import hmac
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse
import urllib.request

LIMIT = 120
WINDOW_S = 60
VERSION_BOOKINGS = "2024-08-13"
VERSION_EVENT_TYPES = "2024-06-14"
USER = {"id": 5, "username": "jane", "email": "jane@coach.example",
        "name": "Jane Organizer", "timeZone": "Europe/Berlin",
        "weekStart": "Monday", "timeFormat": 24, "defaultScheduleId": 1,
        "organizationId": None}


def _iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse(s):
    if not isinstance(s, str) or not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)", s):
        return None
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


def new_uid():
    return secrets.token_urlsafe(16).replace("-", "a").replace("_", "b")[:22]


class CalcomFake:
    def __init__(self, key=None):
        self.key = key or "cal_test_" + secrets.token_hex(12)
        self.bookings = {}      # uid -> v2 booking object (2024-08-13 shape)
        self.event_types = [{"id": 731, "slug": "30min",
                             "title": "30 Min Meeting", "lengthInMinutes": 30,
                             "description": "", "hidden": False}]
        self.requests = []      # (method, path, headers dict, body bytes)
        self.failures = []      # statuses to answer next, in order
        self.raw_next = []      # raw bodies answered (200) next, in order
        self.retry_after = 1
        self.limit = LIMIT
        self.window = []        # times of the requests in the window
        self.hold = None        # threading.Event: changes wait for it
        self.held = threading.Event()
        self.webhook = None     # (url, secret): echo bookingd's changes
        self.echoes = []        # (trigger, HTTP status or error)
        self.refuse_reschedule = None  # a message: reschedules are 400
        self.seq = 1000
        self.lock = threading.RLock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, obj, extra=None, raw=None):
                body = raw if raw is not None else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type",
                                 "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                with fake.lock:
                    left = max(fake.limit - len(fake.window), 0)
                self.send_header("X-RateLimit-Limit-Default",
                                 str(fake.limit))
                self.send_header("X-RateLimit-Remaining-Default", str(left))
                self.send_header("X-RateLimit-Reset-Default",
                                 str(WINDOW_S * 1000))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _err(self, status, code, message, details=None, extra=None):
                e = {"code": code, "message": message}
                if details is not None:
                    e["details"] = details
                self._answer(status, {
                    "status": "error",
                    "timestamp": _iso(dt.datetime.now(dt.timezone.utc)),
                    "path": urllib.parse.urlsplit(self.path).path,
                    "error": e}, extra)

            def _bad(self, message, details=None):
                self._err(400, "BadRequestException", message, details)

            def _ok(self, data, status=200, pagination=None):
                o = {"status": "success", "data": data}
                if pagination is not None:
                    o["pagination"] = pagination
                self._answer(status, o)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                now = time.monotonic()
                with fake.lock:
                    fake.requests.append((self.command, self.path,
                                          dict(self.headers), raw))
                    fake.window = [t for t in fake.window
                                   if now - t < WINDOW_S]
                    over = len(fake.window) >= fake.limit
                    if not over:
                        fake.window.append(now)
                    fail = fake.failures.pop(0) if fake.failures else None
                if self.headers.get("Authorization") != \
                        f"Bearer {fake.key}":
                    return self._err(401, "UnauthorizedException",
                                     "Invalid Access Token.")
                if over or fail == 429:
                    return self._err(
                        429, "ThrottlerException",
                        "ThrottlerException: Too Many Requests",
                        extra={"Retry-After": str(fake.retry_after)})
                if fail:
                    return self._err(fail, "InternalServerErrorException",
                                     "Internal server error")
                with fake.lock:
                    rawans = fake.raw_next.pop(0) if fake.raw_next else None
                if rawans is not None:
                    return self._answer(200, None, raw=rawans)
                u = urllib.parse.urlsplit(self.path)
                path = u.path
                if path.startswith("/v2/"):
                    path = path[3:]
                want = None
                if path.startswith("/bookings"):
                    want = VERSION_BOOKINGS
                elif path.startswith("/event-types"):
                    want = VERSION_EVENT_TYPES
                if want and self.headers.get("cal-api-version") != want:
                    return self._bad(
                        f"cal-api-version must be {want} for {path} "
                        f"(got {self.headers.get('cal-api-version')!r})")
                q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
                if self.command == "GET":
                    if path == "/me":
                        return self._ok(dict(USER))
                    if path == "/event-types":
                        return self._ok(list(fake.event_types))
                    if path == "/bookings":
                        return self._list(q)
                    m = re.fullmatch(r"/bookings/([A-Za-z0-9_-]+)", path)
                    if m:
                        with fake.lock:
                            b = fake.bookings.get(m.group(1))
                        if not b:
                            return self._err(
                                404, "NotFoundException",
                                f"Booking with uid={m.group(1)} was not "
                                "found in the database")
                        return self._ok(dict(b))
                    return self._err(404, "NotFoundException",
                                     f"Cannot GET {u.path}")
                m = re.fullmatch(r"/bookings/([A-Za-z0-9_-]+)/"
                                 r"(cancel|reschedule)", path)
                if self.command != "POST" or not m:
                    return self._err(404, "NotFoundException",
                                     f"Cannot {self.command} {u.path}")
                ctype = self.headers.get("Content-Type", "")
                if not ctype.startswith("application/json"):
                    return self._bad("Content-Type must be application/json")
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else {}
                except (UnicodeDecodeError, ValueError):
                    return self._bad("Unexpected token in JSON")
                if not isinstance(body, dict):
                    return self._bad("the body must be a JSON object")
                if m.group(2) == "cancel":
                    return self._cancel(m.group(1), body)
                return self._reschedule(m.group(1), body)

            def _list(self, q):
                allowed = {"take", "skip", "afterStart", "beforeEnd",
                           "sortStart", "status", "attendeeEmail",
                           "eventTypeId", "bookingUid"}
                bad = sorted(set(q) - allowed)
                if bad:
                    return self._bad(f"property {bad[0]} should not exist")
                one = {k: v[-1] for k, v in q.items()}
                try:
                    take = int(one.get("take", "100"))
                    skip = int(one.get("skip", "0"))
                except ValueError:
                    return self._bad("take and skip must be integers")
                if not 1 <= take <= 250 or skip < 0:
                    return self._bad("take must be 1..250, skip >= 0")
                after = before = None
                if "afterStart" in one:
                    after = _parse(one["afterStart"])
                    if not after:
                        return self._bad("afterStart must be an ISO 8601 "
                                         "date-time")
                if "beforeEnd" in one:
                    before = _parse(one["beforeEnd"])
                    if not before:
                        return self._bad("beforeEnd must be an ISO 8601 "
                                         "date-time")
                sort = one.get("sortStart", "asc")
                if sort not in ("asc", "desc"):
                    return self._bad("sortStart must be asc or desc")
                with fake.lock:
                    items = [dict(b) for b in fake.bookings.values()]
                # (A booking a test broke on purpose is always listed.)
                if after:
                    items = [b for b in items if _parse(b.get("start")) is None
                             or _parse(b["start"]) >= after]
                if before:
                    items = [b for b in items if _parse(b.get("end")) is None
                             or _parse(b["end"]) <= before]
                items.sort(key=lambda b: (str(b.get("start")), str(b["id"])),
                           reverse=sort == "desc")
                page = items[skip:skip + take]
                total = len(items)
                self._ok(page, pagination={
                    "totalItems": total,
                    "remainingItems": max(total - skip - len(page), 0),
                    "returnedItems": len(page), "itemsPerPage": take,
                    "currentPage": skip // take + 1,
                    "totalPages": (total + take - 1) // take,
                    "hasNextPage": skip + len(page) < total,
                    "hasPreviousPage": skip > 0})

            def _cancel(self, uid, body):
                extra = set(body) - {"cancellationReason",
                                     "cancelSubsequentBookings", "seatUid"}
                if extra:
                    return self._bad(
                        f"property {sorted(extra)[0]} should not exist")
                r = body.get("cancellationReason")
                if r is not None and (not isinstance(r, str) or
                                      len(r) > 5000):
                    return self._bad("cancellationReason must be a string")
                with fake.lock:
                    b = fake.bookings.get(uid)
                    if not b:
                        return self._err(404, "NotFoundException",
                                         f"Booking with uid={uid} was not "
                                         "found in the database")
                    if b["status"] in ("cancelled", "rejected"):
                        return self._bad("This booking has already been "
                                         "cancelled.")
                    b["status"] = "cancelled"
                    if r:
                        b["cancellationReason"] = r
                    b["updatedAt"] = _iso(dt.datetime.now(dt.timezone.utc))
                    out = dict(b)
                fake._echo("BOOKING_CANCELLED", out)
                fake._wait_hold()
                self._ok(out)

            def _reschedule(self, uid, body):
                extra = set(body) - {"start", "reschedulingReason",
                                     "rescheduledBy", "seatUid"}
                if extra:
                    return self._bad(
                        f"property {sorted(extra)[0]} should not exist")
                start = _parse(body.get("start"))
                if not start or not body["start"].endswith("Z"):
                    return self._bad("start must be an ISO 8601 date-time "
                                     "in UTC", {"start": body.get("start")})
                for k in ("reschedulingReason", "rescheduledBy"):
                    if k in body and not isinstance(body[k], str):
                        return self._bad(f"{k} must be a string")
                if fake.refuse_reschedule:
                    return self._bad(fake.refuse_reschedule)
                with fake.lock:
                    b = fake.bookings.get(uid)
                    if not b:
                        return self._err(404, "NotFoundException",
                                         f"Booking with uid={uid} was not "
                                         "found in the database")
                    if b["status"] in ("cancelled", "rejected"):
                        to = b.get("rescheduledToUid")
                        return self._bad(
                            "Can't reschedule a cancelled booking" +
                            (f"; it was rescheduled to {to}" if to else ""))
                    new = fake._moved(b, start, body.get("reschedulingReason"))
                fake._echo("BOOKING_RESCHEDULED", new)
                fake._wait_hold()
                self._ok(new, 201)

            do_POST = do_GET = do_PUT = do_DELETE = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    # ---- state --------------------------------------------------------------

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v2"

    def _next_id(self):
        self.seq += 1
        return self.seq

    def _moved(self, b, start, reason=None):
        """(lock held) b rescheduled to start: the new booking."""
        length = _parse(b["end"]) - _parse(b["start"])
        now = _iso(dt.datetime.now(dt.timezone.utc))
        new = json.loads(json.dumps(b))
        new.update({"id": self._next_id(), "uid": new_uid(),
                    "start": _iso(start), "end": _iso(start + length),
                    "status": "accepted", "rescheduledFromUid": b["uid"],
                    "createdAt": now, "updatedAt": now})
        new.pop("rescheduledToUid", None)
        if reason:
            new["reschedulingReason"] = reason
        b["status"] = "cancelled"
        b["rescheduledToUid"] = new["uid"]
        b["updatedAt"] = now
        self.bookings[new["uid"]] = new
        return dict(new)

    def add_booking(self, uid=None, start=None, end=None,
                    email="alex@client.example", name="Alex Attendee",
                    status="accepted", booking_id=None, event_type_id=731,
                    slug="30min", **extra):
        """A booking at Cal.com (2024-08-13 output shape); returns it."""
        uid = uid or new_uid()
        now = _iso(dt.datetime.now(dt.timezone.utc))
        b = {
            "id": booking_id or self._next_id(), "uid": uid,
            "title": "30 Min Meeting between Jane Organizer and " + name,
            "description": "", "status": status,
            "hosts": [{"id": 5, "name": "Jane Organizer",
                       "email": "jane@coach.example",
                       "displayEmail": "jane@coach.example",
                       "username": "jane", "timeZone": "Europe/Berlin"}],
            "start": _iso(start), "end": _iso(end),
            "duration": int((end - start).total_seconds() // 60),
            "eventTypeId": event_type_id,
            "eventType": {"id": event_type_id, "slug": slug},
            "meetingUrl": "https://app.cal.com/video/" + uid,
            "location": "https://app.cal.com/video/" + uid,
            "absentHost": False, "createdAt": now, "updatedAt": now,
            "metadata": {"videoCallUrl": "https://app.cal.com/video/" + uid},
            "icsUid": uid + "@Cal.com",
            "attendees": [{"name": name, "email": email,
                           "displayEmail": email,
                           "timeZone": "America/New_York",
                           "language": "en", "absent": False}],
            "guests": [], "bookingFieldsResponses": {"name": name,
                                                     "email": email}}
        b.update(extra)
        with self.lock:
            self.bookings[uid] = b
        return dict(b)

    def from_webhook(self, body, status="accepted"):
        """The booking a BOOKING_CREATED/RESCHEDULED webhook body is
        about, added to the fake as the API would list it."""
        p = body["payload"]
        a = p["attendees"][0]
        extra = {}
        if p.get("rescheduleUid"):
            extra["rescheduledFromUid"] = p["rescheduleUid"]
        b = self.add_booking(
            uid=p["uid"], start=_parse(p["startTime"]),
            end=_parse(p["endTime"]), email=a["email"], name=a["name"],
            status=status, booking_id=p.get("bookingId") or None,
            event_type_id=p.get("eventTypeId", 731),
            slug=p.get("type", "30min"), **extra)
        return b

    def reschedule_here(self, uid, start):
        """A reschedule made at Cal.com (by the attendee): the new booking."""
        with self.lock:
            return self._moved(self.bookings[uid], start)

    def cancel_here(self, uid, reason="Changed my mind"):
        with self.lock:
            b = self.bookings[uid]
            b["status"] = "cancelled"
            b["cancellationReason"] = reason
            return dict(b)

    def fail_next(self, *statuses):
        with self.lock:
            self.failures.extend(statuses)

    def answer_next(self, *raws):
        """Raw bodies (bytes) answered with 200 to the next requests."""
        with self.lock:
            self.raw_next.extend(raws)

    def hold_changes(self):
        """Cancel and reschedule calls apply, then wait (until release)
        before answering; self.held is set once one waits."""
        self.hold = threading.Event()
        self.held.clear()

    def release(self):
        if self.hold:
            self.hold.set()
        self.hold = None

    def _wait_hold(self):
        h = self.hold
        if h:
            self.held.set()
            h.wait(60)

    def _echo(self, trigger, b):
        """Cal.com's webhook for a change made through its API."""
        if not self.webhook:
            return
        url, secret = self.webhook
        a = b["attendees"][0]
        payload = {
            "type": b["eventType"]["slug"], "title": b["title"],
            "startTime": b["start"], "endTime": b["end"],
            "organizer": {"id": 5, "name": "Jane Organizer",
                          "email": "jane@coach.example", "username": "jane",
                          "timeZone": "Europe/Berlin"},
            "attendees": [{"email": a["email"], "name": a["name"],
                           "timeZone": a["timeZone"]}],
            "uid": b["uid"], "bookingId": b["id"],
            "eventTypeId": b["eventType"]["id"], "length": b["duration"],
            "status": "CANCELLED" if trigger == "BOOKING_CANCELLED"
            else "ACCEPTED"}
        if trigger == "BOOKING_RESCHEDULED":
            payload["rescheduleUid"] = b["rescheduledFromUid"]
        if b.get("cancellationReason"):
            payload["cancellationReason"] = b["cancellationReason"]
        raw = json.dumps({"triggerEvent": trigger,
                          "createdAt": _iso(dt.datetime.now(dt.timezone.utc)),
                          "payload": payload}).encode()
        sig = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        req = urllib.request.Request(url, data=raw, method="POST", headers={
            "Content-Type": "application/json",
            "X-Cal-Signature-256": sig,
            "X-Cal-Webhook-Version": "2021-10-20"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                self.echoes.append((trigger, r.status))
        except Exception as e:  # noqa: BLE001 - recorded for the test
            self.echoes.append((trigger, repr(e)))

    def calls(self, kind):
        """POSTs of kind ("cancel" or "reschedule"): (uid, body, headers)."""
        out = []
        with self.lock:
            reqs = list(self.requests)
        for method, path, headers, raw in reqs:
            m = re.fullmatch(r"/v2/bookings/([^/]+)/" + kind, path)
            if method == "POST" and m:
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = raw
                out.append((m.group(1), body, headers))
        return out

    def close(self):
        if self.hold:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
