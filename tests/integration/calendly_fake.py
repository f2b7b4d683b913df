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

    GET /users/me  {"resource": {uri, current_organization, ...}}
    GET|POST /webhook_subscriptions, DELETE /webhook_subscriptions/{uuid}
      (409 "Already Exists" for a second active one of the same url)
    GET /event_types?user=<uri>[&count][&page_token][&active][&sort]
    GET /scheduled_events?user=<uri>[&min_start_time][&max_start_time]
        [&status][&count<=100][&page_token][&sort=start_time:asc|desc]
    GET /scheduled_events/{uuid}/invitees[?count][&page_token][&status]
        [&email][&sort=created_at:asc|desc]
      {"collection": [...], "pagination": {count, next_page,
      previous_page, next_page_token, previous_page_token}}; unknown or
      malformed parameters are 400 "Invalid Argument" with details; the
      user must be the token's own; page_max makes pages shorter than
      count (a server may return fewer).

    OAuth (PROVIDERS.md §2.3; fake.enable_oauth(client_id, secret)):
    GET /oauth/authorize is the consent page (fake.consent(url) plays the
      user: checks client_id, response_type=code, redirect_uri, state,
      code_challenge[_method=S256], and answers the redirect back with a
      code that lives 10 minutes and works once);
    POST /oauth/token, application/x-www-form-urlencoded, client
      authentication HTTP Basic (a web client) or client_id (+secret) in
      the body; grant_type=authorization_code (code, redirect_uri equal to
      the authorize one, code_verifier when a challenge was sent) or
      refresh_token (refresh_token): 200 {token_type: "Bearer",
      expires_in, created_at, refresh_token, access_token, scope, owner,
      organization}. Refresh tokens are single-use and rotate: the old one
      stops working at once (400 {"error": "invalid_grant",
      "error_description"}); 401 {"error": "invalid_client"}; 400
      unsupported_grant_type / invalid_request; at most 8 tokens per user
      per minute (429). Access tokens expire after expires_in (then the
      API answers 401); fake.revoke() revokes the grant (every token
      stops working), fake.expire_access() expires the access tokens,
      fake.token_fail_next(500, ...) fails token requests.

Tests add events (fake.add_event(uuid[, resource, invitees])), queue
failures (fake.fail_next(500, 429, ...)), and read fake.requests."""
import base64
import datetime as dt
import hashlib
import secrets
import time
import http.server
import json
import re
import threading
import urllib.parse

LIMIT = 500
API = "https://api.calendly.com"
USER = API + "/users/FAKEUSERFAKEUSER"
ORG = API + "/organizations/FAKEORGFAKEORG00"


def _parse_ts(s):
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


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
        self.page_max = 100
        self.event_types = []     # EventType resources (GET /event_types)
        self.subscriptions = []   # WebhookSubscription resources (+ key)
        self.sub_seq = 0
        self.client_id = None     # OAuth off until enable_oauth
        self.client_secret = None
        self.expires_in = 7200
        self.codes = {}           # code -> (redirect_uri, challenge, until)
        self.access = {}          # access token -> expiry (monotonic)
        self.refresh = set()      # live refresh tokens
        self.used_refresh = set()  # rotated away (single use)
        self.token_log = []       # (grant_type, status, at monotonic)
        self.token_failures = []
        self.token_times = []     # tokens issued, for the 8/min limit
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
                if self.path.split("?")[0] == "/oauth/token":
                    return self._token(raw)
                with fake.lock:
                    fake.requests.append((self.command, self.path,
                                          dict(self.headers), raw))
                    fail = fake.failures.pop(0) if fake.failures else None
                    auth = self.headers.get("Authorization") or ""
                    tok = auth[7:] if auth.startswith("Bearer ") else None
                    live = tok is not None and (
                        tok == fake.token or
                        fake.access.get(tok, 0) > time.monotonic())
                if not live:
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
                if self.command == "GET":
                    return self._get()
                if self.path.startswith("/webhook_subscriptions"):
                    return self._subscriptions(raw)
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

            def _oauth_err(self, status, error, desc):
                self._answer(status, {"error": error,
                                      "error_description": desc})

            def _token(self, raw):
                with fake.lock:
                    fail = fake.token_failures.pop(0) \
                        if fake.token_failures else None
                    if self.command != "POST":
                        st = 405
                    elif fail:
                        st = fail
                    else:
                        st = None
                if st == 405:
                    return self._oauth_err(405, "invalid_request",
                                           "POST only")
                if st:
                    with fake.lock:
                        fake.token_log.append(("?", st, time.monotonic()))
                    return self._oauth_err(st, "server_error",
                                           "Something went wrong")
                ctype = self.headers.get("Content-Type", "")
                if not ctype.startswith("application/x-www-form-urlencoded"):
                    return self._oauth_err(400, "invalid_request",
                                           "form-encoded body required")
                try:
                    form = urllib.parse.parse_qs(raw.decode("ascii"),
                                                 keep_blank_values=True,
                                                 strict_parsing=bool(raw))
                except (UnicodeDecodeError, ValueError):
                    return self._oauth_err(400, "invalid_request",
                                           "malformed body")
                if any(len(v) != 1 for v in form.values()):
                    return self._oauth_err(400, "invalid_request",
                                           "repeated parameter")
                f = {k: v[0] for k, v in form.items()}
                cid, csec = f.get("client_id"), f.get("client_secret")
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    try:
                        cid, _, csec = base64.b64decode(
                            auth[6:], validate=True).decode().partition(":")
                    except (ValueError, UnicodeDecodeError):
                        cid = csec = None
                if fake.client_id is None or cid != fake.client_id or \
                        csec != fake.client_secret:
                    return self._oauth_err(401, "invalid_client",
                                           "Client authentication failed")
                grant = f.get("grant_type")
                now = time.monotonic()
                with fake.lock:
                    if grant == "authorization_code":
                        c = fake.codes.pop(f.get("code", ""), None)
                        bad = None
                        if not c or c[2] < now:
                            bad = "The authorization code is invalid"
                        elif f.get("redirect_uri") != c[0]:
                            bad = "redirect_uri does not match"
                        elif c[1] is not None:
                            v = f.get("code_verifier", "")
                            d = base64.urlsafe_b64encode(hashlib.sha256(
                                v.encode()).digest()).rstrip(b"=").decode()
                            if d != c[1]:
                                bad = "code_verifier does not match"
                    elif grant == "refresh_token":
                        r = f.get("refresh_token", "")
                        bad = None if r in fake.refresh else \
                            "The refresh token is invalid or was revoked"
                        if not bad:
                            fake.refresh.discard(r)
                            fake.used_refresh.add(r)
                    else:
                        fake.token_log.append((grant, 400, now))
                        return self._oauth_err(400, "unsupported_grant_type",
                                               "grant_type is not supported")
                    if bad:
                        fake.token_log.append((grant, 400, now))
                        return self._oauth_err(400, "invalid_grant", bad)
                    fake.token_times = [t for t in fake.token_times
                                        if t > now - 60]
                    if len(fake.token_times) >= 8:
                        fake.token_log.append((grant, 429, now))
                        if grant == "refresh_token":  # not used after all
                            fake.used_refresh.discard(r)
                            fake.refresh.add(r)
                        return self._oauth_err(429, "too_many_requests",
                                               "8 tokens per minute")
                    fake.token_times.append(now)
                    access = "acc-" + secrets.token_hex(16)
                    refresh = "ref-" + secrets.token_hex(16)
                    fake.access[access] = now + fake.expires_in
                    fake.refresh.add(refresh)
                    fake.token_log.append((grant, 200, now))
                return self._answer(200, {
                    "token_type": "Bearer", "expires_in": fake.expires_in,
                    "created_at": int(time.time()), "refresh_token": refresh,
                    "access_token": access, "scope": "default",
                    "owner": USER, "organization": ORG})

            def _subscriptions(self, raw):
                m = re.fullmatch(r"/webhook_subscriptions/([A-Za-z0-9-]+)",
                                 self.path)
                if self.command == "DELETE" and m:
                    uri = f"{API}/webhook_subscriptions/{m.group(1)}"
                    with fake.lock:
                        n = len(fake.subscriptions)
                        fake.subscriptions = [x for x in fake.subscriptions
                                              if x["uri"] != uri]
                        gone = len(fake.subscriptions) < n
                    if not gone:
                        return self._err(404, "Resource Not Found",
                                         "The server could not find the "
                                         "requested resource.")
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if self.command != "POST" or \
                        self.path != "/webhook_subscriptions":
                    return self._err(404, "Resource Not Found",
                                     "The server could not find the "
                                     "requested resource.")
                if not self.headers.get("Content-Type", "").startswith(
                        "application/json"):
                    return self._invalid("body", "must be JSON")
                try:
                    b = json.loads(raw)
                except ValueError:
                    return self._invalid("body", "must be JSON")
                known = {"invitee.created", "invitee.canceled",
                         "invitee_no_show.created",
                         "invitee_no_show.deleted",
                         "routing_form_submission.created"}
                if not isinstance(b, dict):
                    return self._invalid("body", "must be an object")
                for k in b:
                    if k not in {"url", "events", "organization", "user",
                                 "group", "scope", "signing_key"}:
                        return self._invalid(k, "is not allowed")
                if not isinstance(b.get("url"), str) or \
                        not re.match(r"https?://", b["url"]):
                    return self._invalid("url", "must be a URL")
                ev = b.get("events")
                if not isinstance(ev, list) or not ev or \
                        any(e not in known for e in ev):
                    return self._invalid("events", "must be known events")
                if b.get("organization") != ORG:
                    return self._invalid("organization", "is invalid")
                if b.get("scope") not in ("user", "organization"):
                    return self._invalid("scope", "is invalid")
                if b["scope"] == "user" and b.get("user") != USER:
                    return self._invalid("user", "is invalid")
                if "signing_key" in b and not isinstance(b["signing_key"],
                                                         str):
                    return self._invalid("signing_key", "is invalid")
                with fake.lock:
                    if any(x["callback_url"] == b["url"] and
                           x["state"] == "active"
                           for x in fake.subscriptions):
                        return self._err(409, "Already Exists",
                                         "Hook with this url already "
                                         "exists")
                    fake.sub_seq += 1
                    res = {"uri": f"{API}/webhook_subscriptions/"
                                  f"SUB{fake.sub_seq:013d}",
                           "callback_url": b["url"], "created_at": _now(),
                           "updated_at": _now(), "retry_started_at": None,
                           "state": "active", "events": ev,
                           "scope": b["scope"], "organization": ORG,
                           "user": b.get("user"), "group": None,
                           "creator": USER,
                           "signing_key": b.get("signing_key")}
                    fake.subscriptions.append(res)
                return self._answer(201, {"resource": {
                    k: v for k, v in res.items() if k != "signing_key"}})

            def _invalid(self, param, message):
                return self._err(400, "Invalid Argument",
                                 "The supplied parameters are invalid.",
                                 [{"parameter": param, "message": message}])

            def _page(self, items, q, path):
                count = q.get("count", "20")
                if not count.isdigit() or not 1 <= int(count) <= 100:
                    return self._invalid("count", "must be 1..100")
                start = 0
                if "page_token" in q:
                    try:
                        start = int(base64.urlsafe_b64decode(
                            q["page_token"].encode()).decode())
                    except (ValueError, UnicodeDecodeError):
                        return self._invalid("page_token", "is invalid")
                n = min(int(count), fake.page_max)
                page = items[start:start + n]
                nxt = None
                if start + n < len(items):
                    nxt = base64.urlsafe_b64encode(
                        str(start + n).encode()).decode()
                url = None
                if nxt:
                    qq = dict(q, page_token=nxt)
                    url = API + path + "?" + urllib.parse.urlencode(qq)
                return self._answer(200, {"collection": page, "pagination": {
                    "count": len(page), "next_page": url,
                    "previous_page": None, "next_page_token": nxt,
                    "previous_page_token": None}})

            def _get(self):
                u = urllib.parse.urlsplit(self.path)
                pairs = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
                q = dict(pairs)
                if len(q) != len(pairs):
                    return self._invalid(pairs[0][0], "is repeated")
                if u.path == "/users/me" and not q:
                    return self._answer(200, {"resource": {
                        "uri": USER, "name": "Casey Coach",
                        "slug": "casey", "email": "coach@example.com",
                        "timezone": "Europe/Berlin",
                        "current_organization": ORG}})
                if u.path == "/webhook_subscriptions":
                    for k in q:
                        if k not in {"organization", "user", "scope",
                                     "count", "page_token", "sort",
                                     "group"}:
                            return self._invalid(k, "is not allowed")
                    if q.get("organization") != ORG:
                        return self._invalid("organization",
                                             "is required: the token's "
                                             "organization")
                    if q.get("scope") not in ("user", "organization",
                                              "group"):
                        return self._invalid("scope", "is required")
                    if q["scope"] == "user" and q.get("user") != USER:
                        return self._invalid("user", "is required with "
                                             "scope user")
                    with fake.lock:
                        subs = [{k: v for k, v in x.items()
                                 if k != "signing_key"}
                                for x in fake.subscriptions
                                if x["scope"] == q["scope"]]
                    return self._page(subs, q, u.path)
                if u.path == "/event_types":
                    for k in q:
                        if k not in {"user", "organization", "count",
                                     "page_token", "active", "sort",
                                     "admin_managed"}:
                            return self._invalid(k, "is not allowed")
                    if q.get("user") != USER and \
                            q.get("organization") != ORG:
                        return self._invalid(
                            "user", "must be the token's user (or its "
                            "organization)")
                    with fake.lock:
                        ets = list(fake.event_types)
                    return self._page(ets, q, u.path)
                if u.path == "/scheduled_events":
                    allowed = {"user", "organization", "min_start_time",
                               "max_start_time", "status", "count",
                               "page_token", "sort", "invitee_email"}
                    for k in q:
                        if k not in allowed:
                            return self._invalid(k, "is not allowed")
                    if q.get("user") != USER and \
                            q.get("organization") != ORG:
                        return self._invalid(
                            "user", "must be the token's user (or its "
                            "organization)")
                    lo = hi = None
                    if "min_start_time" in q:
                        lo = _parse_ts(q["min_start_time"])
                        if lo is None:
                            return self._invalid("min_start_time",
                                                 "must be ISO 8601")
                    if "max_start_time" in q:
                        hi = _parse_ts(q["max_start_time"])
                        if hi is None:
                            return self._invalid("max_start_time",
                                                 "must be ISO 8601")
                    sort = q.get("sort", "start_time:asc")
                    if sort not in ("start_time:asc", "start_time:desc"):
                        return self._invalid("sort", "is invalid")
                    if q.get("status") not in (None, "active", "canceled"):
                        return self._invalid("status", "is invalid")
                    with fake.lock:
                        evs = [dict(e["resource"], status=e["status"])
                               for e in fake.events.values()
                               if e.get("resource")]
                    evs = [e for e in evs
                           if (lo is None or
                               _parse_ts(e["start_time"]) >= lo) and
                           (hi is None or _parse_ts(e["start_time"]) < hi) and
                           q.get("status") in (None, e["status"])]
                    evs.sort(key=lambda e: e["start_time"],
                             reverse=sort.endswith("desc"))
                    return self._page(evs, q, u.path)
                m = re.fullmatch(r"/scheduled_events/([A-Za-z0-9-]+)"
                                 r"/invitees", u.path)
                if m:
                    for k in q:
                        if k not in {"count", "page_token", "status",
                                     "email", "sort"}:
                            return self._invalid(k, "is not allowed")
                    with fake.lock:
                        ev = fake.events.get(m.group(1))
                        invs = list(ev.get("invitees") or []) if ev else None
                    if invs is None:
                        return self._err(404, "Resource Not Found",
                                         "The server could not find the "
                                         "requested resource.")
                    return self._page(invs, q, u.path)
                return self._err(404, "Resource Not Found",
                                 "The server could not find the requested "
                                 "resource.")

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

    def add_event_type(self, slug, name, duration=30, uuid=None):
        """An event type of the user; returns its URI."""
        uri = f"{API}/event_types/{uuid or slug.upper()}"
        with self.lock:
            self.event_types.append({
                "uri": uri, "name": name, "active": True, "slug": slug,
                "scheduling_url": f"https://calendly.com/casey/{slug}",
                "duration": duration, "kind": "solo", "pooling_type": None,
                "type": "StandardEventType", "color": "#fff200",
                "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z",
                "profile": {"type": "User", "name": "Casey Coach",
                            "owner": USER}})
        return uri

    def add_event(self, uuid, status="active", resource=None, invitees=None):
        """An event (resource: its ScheduledEvent for the list calls;
        invitees: its Invitee resources)."""
        with self.lock:
            self.events[uuid] = {"status": status, "cancellation": None,
                                 "resource": resource,
                                 "invitees": invitees or []}

    def fail_next(self, *statuses):
        with self.lock:
            self.failures.extend(statuses)

    # ---- OAuth

    def enable_oauth(self, client_id, client_secret, expires_in=7200):
        with self.lock:
            self.client_id = client_id
            self.client_secret = client_secret
            self.expires_in = expires_in

    def consent(self, authorize_url):
        """The user agrees on the consent page: the redirect back (the
        callback URL with code and state)."""
        u = urllib.parse.urlsplit(authorize_url)
        assert u.path == "/oauth/authorize", u.path
        q = urllib.parse.parse_qs(u.query, strict_parsing=True)
        assert all(len(v) == 1 for v in q.values()), q
        q = {k: v[0] for k, v in q.items()}
        assert q.get("client_id") == self.client_id, q
        assert q.get("response_type") == "code", q
        assert q.get("redirect_uri") and q.get("state"), q
        ch = q.get("code_challenge")
        if ch is not None:
            assert q.get("code_challenge_method") == "S256", q
            assert re.fullmatch(r"[A-Za-z0-9_-]{43}", ch), ch
        code = "code-" + secrets.token_hex(12)
        with self.lock:
            self.codes[code] = (q["redirect_uri"], ch,
                                time.monotonic() + 600)
        return q["redirect_uri"] + "?" + urllib.parse.urlencode(
            {"code": code, "state": q["state"]})

    def revoke(self):
        """The user revokes the grant: every token stops working."""
        with self.lock:
            self.access.clear()
            self.used_refresh |= self.refresh
            self.refresh.clear()

    def expire_access(self):
        with self.lock:
            for k in self.access:
                self.access[k] = 0

    def token_fail_next(self, *statuses):
        with self.lock:
            self.token_failures.extend(statuses)

    def grants(self, grant=None, status=None):
        with self.lock:
            log = list(self.token_log)
        return [g for g in log if (grant is None or g[0] == grant) and
                (status is None or g[1] == status)]

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
