"""tests/integration/zoom_fake.py — a contract fake of the parts of Zoom's
OAuth and Meetings API bookingd calls (PROVIDERS.md §4.3-4.4), as strict as
the real one on what bookingd sends.

    POST /oauth/token  (the OAuth base)
      Authorization: Basic base64(client_id:client_secret),
      Content-Type: application/x-www-form-urlencoded,
      grant_type=account_credentials&account_id=<id> (body or query)
      200 {access_token, token_type: "bearer", expires_in, scope, api_url}
      400 {"reason": "...", "error": "invalid_request"} for a wrong grant
      or account; 401 {"reason": "Invalid client_id or client_secret",
      "error": "invalid_client"}.

    (the API base, Authorization: Bearer <a live token>, else 401
    {"code": 124, "message": "Invalid access token."})
    POST /users/{userId}/meetings  201 the meeting (id a number)
      body: topic (string <= 200), type (1, 2, 3, 8), start_time
      (yyyy-MM-ddTHH:mm:ssZ), duration (positive integer), timezone, agenda
      (<= 2000), settings{...}; others are 300 {"code": 300, "message":
      "Validation Failed.", "errors": [{field, message}]}.
    GET /users/{userId}/meetings?type=scheduled&page_size<=300
        &next_page_token=  {page_size, total_records, next_page_token,
        meetings: [{uuid, id, host_id, topic, type, start_time, duration,
        timezone, agenda, created_at, join_url}]}
    GET|PATCH|DELETE /meetings/{meetingId}  200 / 204 / 204; 404 {"code":
      3001, "message": "Meeting does not exist: <id>."}

    Every API answer carries X-RateLimit-Category, X-RateLimit-Type,
    X-RateLimit-Limit and X-RateLimit-Remaining; 429 {"code": 429,
    "message": "You have reached the maximum per-second rate limit for this
    API. Try again later."} with Retry-After when over.

Tests queue failures (fake.fail_next(500, 429, ...)), a crash after a 201
(fake.fail_after_create = n: the meeting is made and 500 is answered),
short-lived tokens (fake.expires_in), revoked tokens (fake.revoke()), and
read fake.meetings and fake.requests."""
import base64
import datetime as dt
import http.server
import json
import random
import re
import threading
import time
import urllib.parse

MEETING_FIELDS = {"topic", "type", "start_time", "duration", "timezone",
                  "agenda", "password", "default_password", "pre_schedule",
                  "schedule_for", "template_id", "recurrence", "settings",
                  "tracking_fields"}
START_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class ZoomFake:
    def __init__(self, account_id, client_id, client_secret,
                 users=("me",)):
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.users = set(users)       # userIds / emails accepted
        self.tokens = {}              # token -> expiry (monotonic)
        self.expires_in = 3600
        self.meetings = {}            # id (int) -> meeting dict
        self.deleted = set()
        self.requests = []            # (method, path, headers, body, at)
        self.failures = []            # statuses to answer next (API only)
        self.retry_after = 2
        self.fail_after_create = 0    # make the meeting, answer 500, n times
        self.create_delay = 0         # seconds before a create takes effect
        self.token_requests = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, obj=None, extra=None):
                body = b"" if obj is None else json.dumps(obj).encode()
                self.send_response(status)
                if obj is not None:
                    self.send_header("Content-Type",
                                     "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-RateLimit-Category", "Light")
                self.send_header("X-RateLimit-Type", "QPS")
                self.send_header("X-RateLimit-Limit", "30")
                self.send_header("X-RateLimit-Remaining",
                                 "0" if status == 429 else "29")
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _err(self, status, code, message, errors=None, extra=None):
                o = {"code": code, "message": message}
                if errors:
                    o["errors"] = errors
                self._answer(status, o, extra)

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                with fake.lock:
                    fake.requests.append((self.command, self.path,
                                          dict(self.headers), raw,
                                          time.monotonic()))
                u = urllib.parse.urlsplit(self.path)
                if u.path == "/oauth/token":
                    return self._token(u, raw)
                if not u.path.startswith("/v2/"):
                    return self._err(404, 404, "Not found")
                u = u._replace(path=u.path[3:])
                auth = self.headers.get("Authorization", "")
                tok = auth[7:] if auth.startswith("Bearer ") else None
                with fake.lock:
                    live = tok in fake.tokens and \
                        fake.tokens[tok] > time.monotonic()
                    fail = fake.failures.pop(0) if fake.failures and live \
                        else None
                if not live:
                    return self._err(401, 124, "Invalid access token.")
                if fail == 429:
                    return self._err(
                        429, 429, "You have reached the maximum per-second "
                        "rate limit for this API. Try again later.",
                        extra={"Retry-After": str(fake.retry_after)})
                if fail:
                    return self._err(fail, fail, "Internal error")
                m = re.fullmatch(r"/users/([^/]+)/meetings", u.path)
                if m:
                    user = urllib.parse.unquote(m.group(1))
                    if user not in fake.users:
                        return self._err(404, 1001, "User does not exist: "
                                         f"{user}.")
                    if self.command == "POST":
                        return self._create(user, raw)
                    if self.command == "GET":
                        return self._list(user, u.query)
                    return self._err(405, 405, "Method not allowed")
                m = re.fullmatch(r"/meetings/([0-9]{1,20})", u.path)
                if not m:
                    return self._err(404, 404, "Not found")
                mid = int(m.group(1))
                with fake.lock:
                    mt = fake.meetings.get(mid)
                if not mt:
                    return self._err(404, 3001,
                                     f"Meeting does not exist: {mid}.")
                if self.command == "GET":
                    return self._answer(200, mt)
                if self.command == "DELETE":
                    if raw:
                        return self._err(400, 300, "DELETE has no body")
                    with fake.lock:
                        fake.meetings.pop(mid, None)
                        fake.deleted.add(mid)
                    return self._answer(204)
                if self.command == "PATCH":
                    body, bad = self._body(raw, partial=True)
                    if bad:
                        return self._err(300, 300, "Validation Failed.", bad)
                    with fake.lock:
                        mt.update(body)
                    return self._answer(204)
                return self._err(405, 405, "Method not allowed")

            def _token(self, u, raw):
                with fake.lock:
                    fake.token_requests += 1
                if self.command != "POST":
                    return self._err(405, 405, "Method not allowed")
                auth = self.headers.get("Authorization", "")
                want = "Basic " + base64.b64encode(
                    f"{fake.client_id}:{fake.client_secret}".encode()
                ).decode()
                if auth != want:
                    return self._answer(401, {
                        "reason": "Invalid client_id or client_secret",
                        "error": "invalid_client"})
                ctype = self.headers.get("Content-Type", "")
                if raw and not ctype.startswith(
                        "application/x-www-form-urlencoded"):
                    return self._answer(400, {"reason": "Unsupported "
                                              "content type",
                                              "error": "invalid_request"})
                q = dict(urllib.parse.parse_qsl(u.query))
                q.update(urllib.parse.parse_qsl(raw.decode("ascii",
                                                           "replace")))
                if q.get("grant_type") != "account_credentials":
                    return self._answer(400, {
                        "reason": "Unsupported grant type",
                        "error": "unsupported_grant_type"})
                if q.get("account_id") != fake.account_id:
                    return self._answer(400, {"reason": "Invalid account_id",
                                              "error": "invalid_request"})
                tok = "zt-" + "%030x" % random.getrandbits(120)
                with fake.lock:
                    fake.tokens[tok] = time.monotonic() + fake.expires_in
                    ttl = fake.expires_in
                return self._answer(200, {
                    "access_token": tok, "token_type": "bearer",
                    "expires_in": ttl,
                    "scope": "meeting:write:admin meeting:read:admin",
                    "api_url": "https://api.zoom.us"})

            def _body(self, raw, partial):
                ctype = self.headers.get("Content-Type", "")
                if not ctype.startswith("application/json"):
                    return None, [{"field": "Content-Type",
                                   "message": "must be application/json"}]
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    return None, [{"field": "body",
                                   "message": "Invalid JSON"}]
                if not isinstance(body, dict):
                    return None, [{"field": "body",
                                   "message": "must be an object"}]
                bad = [{"field": k, "message": "unknown field"}
                       for k in body if k not in MEETING_FIELDS]
                t = body.get("topic")
                if (t is not None or not partial) and \
                        (not isinstance(t, str) or len(t) > 200):
                    bad.append({"field": "topic",
                                "message": "must be <= 200 characters"})
                if "type" in body and body["type"] not in (1, 2, 3, 8):
                    bad.append({"field": "type", "message": "invalid"})
                s = body.get("start_time")
                if (s is not None or not partial) and \
                        (not isinstance(s, str) or not START_RE.match(s)):
                    bad.append({"field": "start_time",
                                "message": "yyyy-MM-ddTHH:mm:ssZ"})
                d = body.get("duration")
                if (d is not None or not partial) and \
                        (not isinstance(d, int) or isinstance(d, bool) or
                         d <= 0):
                    bad.append({"field": "duration",
                                "message": "a positive integer"})
                a = body.get("agenda")
                if a is not None and (not isinstance(a, str) or
                                      len(a) > 2000):
                    bad.append({"field": "agenda",
                                "message": "must be <= 2000 characters"})
                return body, bad

            def _create(self, user, raw):
                body, bad = self._body(raw, partial=False)
                if bad:
                    return self._err(300, 300, "Validation Failed.", bad)
                if fake.create_delay:  # a slow Zoom: the meeting appears late
                    time.sleep(fake.create_delay)
                with fake.lock:
                    mid = random.randrange(80000000000, 99999999999)
                    pwd = "%06d" % random.randrange(10 ** 6)
                    mt = {
                        "uuid": base64.b64encode(
                            random.getrandbits(128).to_bytes(16, "big")
                        ).decode(),
                        "id": mid, "host_id": "fakehost" + user[:8],
                        "host_email": user if "@" in user else
                        "host@example.com",
                        "topic": body["topic"], "type": body.get("type", 2),
                        "status": "waiting",
                        "start_time": body["start_time"],
                        "duration": body["duration"],
                        "timezone": body.get("timezone", "UTC"),
                        "agenda": body.get("agenda", ""),
                        "created_at": dt.datetime.now(dt.timezone.utc)
                        .strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "start_url": f"https://zoom.us/s/{mid}?zak=SECRET",
                        "join_url": f"https://zoom.us/j/{mid}?pwd={pwd}",
                        "password": pwd, "pre_schedule": False,
                        "settings": body.get("settings", {}),
                        "_user": user,
                    }
                    fake.meetings[mid] = mt
                    crash = fake.fail_after_create > 0
                    if crash:
                        fake.fail_after_create -= 1
                if crash:
                    return self._err(500, 500, "Internal error")
                return self._answer(201, {k: v for k, v in mt.items()
                                          if not k.startswith("_")})

            def _list(self, user, query):
                q = dict(urllib.parse.parse_qsl(query))
                unknown = set(q) - {"type", "page_size", "next_page_token",
                                    "page_number", "from", "to", "timezone"}
                if unknown or q.get("type", "scheduled") not in (
                        "scheduled", "live", "upcoming",
                        "upcoming_meetings", "previous_meetings"):
                    return self._err(300, 300, "Invalid parameter",
                                     [{"field": k, "message": "invalid"}
                                      for k in unknown or ["type"]])
                try:
                    size = int(q.get("page_size", "30"))
                except ValueError:
                    size = 0
                if not 1 <= size <= 300:
                    return self._err(300, 300, "Invalid page_size")
                size = min(size, fake.page_max)
                with fake.lock:
                    mine = [m for m in fake.meetings.values()
                            if m["_user"] == user]
                mine.sort(key=lambda m: m["id"])
                start = int(q.get("next_page_token") or 0)
                page = mine[start:start + size]
                nxt = str(start + size) if start + size < len(mine) else ""
                return self._answer(200, {
                    "page_size": size, "total_records": len(mine),
                    "next_page_token": nxt,
                    "meetings": [{k: m[k] for k in (
                        "uuid", "id", "host_id", "topic", "type",
                        "start_time", "duration", "timezone", "agenda",
                        "created_at", "join_url")} for m in page]})

            do_POST = do_GET = do_PATCH = do_DELETE = do_PUT = _handle

        self.page_max = 300
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(self, *statuses):
        with self.lock:
            self.failures.extend(statuses)

    def revoke(self):
        """Every token issued so far stops working (401)."""
        with self.lock:
            self.tokens.clear()

    def add_meeting(self, user, topic, agenda=""):
        """A meeting made elsewhere (not by bookingd)."""
        with self.lock:
            mid = random.randrange(80000000000, 99999999999)
            self.meetings[mid] = {
                "uuid": "other", "id": mid, "host_id": "h", "topic": topic,
                "type": 2, "start_time": "2030-01-01T10:00:00Z",
                "duration": 30, "timezone": "UTC", "agenda": agenda,
                "created_at": "2026-01-01T00:00:00Z",
                "join_url": f"https://zoom.us/j/{mid}", "_user": user}
        return mid

    def by_marker(self, booking_uid):
        marker = f"bookingd-booking: {booking_uid}"
        with self.lock:
            return [m for m in self.meetings.values()
                    if marker in (m.get("agenda") or "")]

    def api_requests(self, method=None, prefix=""):
        with self.lock:
            reqs = list(self.requests)
        return [r for r in reqs if r[1].startswith("/v2" + prefix) and
                (method is None or r[0] == method)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
