"""tests/integration/google_fake.py — a contract fake of the parts of
Google's OAuth 2.0 endpoints and Calendar API v3 that bookingd calls
(PROVIDERS.md §6), as strict as the real ones on what bookingd sends.

OAuth (GOOGLE_OAUTH_BASE = fake.base):
    GET  /o/oauth2/v2/auth  response_type=code, client_id, redirect_uri,
         scope, state, access_type, prompt, include_granted_scopes,
         code_challenge, code_challenge_method=S256 → 302 to redirect_uri
         with code and state (or error=access_denied when fake.deny), 400
         for anything else (unknown client, missing or unknown parameter)
    POST /token  application/x-www-form-urlencoded: client_id,
         client_secret (401 invalid_client), grant_type
         authorization_code (code single-use and bound to its
         redirect_uri and PKCE challenge: invalid_grant otherwise) or
         refresh_token (invalid_grant once revoked) →
         {access_token, expires_in, [refresh_token], scope, token_type}
Calendar API (GOOGLE_API_BASE = fake.base + "/calendar/v3"): a bearer
token that is known and not expired (401 authError otherwise), Google's
error shape {"error": {"errors": [{domain, reason, message}], code,
message}}:
    GET    /users/me/calendarList
    POST   /calendars/{id}/events            (client id: base32hex 5-1024,
                                              409 duplicate)
    GET    /calendars/{id}/events/{eventId}  (a deleted one: status
                                              "cancelled")
    PUT    /calendars/{id}/events/{eventId}  (If-Match: 412 conditionNotMet)
    DELETE /calendars/{id}/events/{eventId}  (If-Match; 410 deleted)
    GET    /calendars/{id}/events   singleEvents, maxResults (1..2500),
           pageToken, syncToken (not with timeMin/timeMax: 400; unknown
           or expired: 410 fullSyncRequired), timeMin, timeMax
    POST   /calendars/{id}/events/watch  a Channel {id (1-64 of
           [A-Za-z0-9-_+/=], unique), type "web_hook", address (https; http
           only when fake.allow_http), token? (<= 256), expiration? (ms, in
           the future; capped at watch_max_ttl_s), params?{ttl}} → the
           channel {kind api#channel, id, resourceId, resourceUri, token,
           expiration (a string of ms)}; then, as Google does, a "sync"
           notification to the address (from another thread)
    POST   /channels/stop  {id, resourceId} → 204; 404 for an unknown or
           stopped channel or another resource's id
Notifications: fake.notify(channel_id, state) POSTs to a channel's address
with no body and Google's headers (X-Goog-Channel-ID, -Token, -Expiration,
X-Goog-Message-Number, X-Goog-Resource-ID, -URI, -State) and returns the
status answered; fake.notify_calendar(cid) does it for each live channel on
a calendar; fake.notifications lists (channel id, state, status).
Unknown query parameters and event fields are 400. Tests edit events
directly (move, delete, add_busy), queue failures (fail_next), expire
tokens (expire_access_tokens), revoke the grant (revoke) and read
fake.requests (method, path, headers)."""
import base64
import datetime as dt
import hashlib
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse

BASE32HEX = re.compile(r"^[a-v0-9]{5,1024}$")
EVENT_FIELDS = {"id", "status", "summary", "description", "location",
                "start", "end", "attendees", "transparency",
                "extendedProperties", "reminders", "iCalUID", "sequence"}
SCOPES = {"https://www.googleapis.com/auth/calendar",
          "https://www.googleapis.com/auth/calendar.events",
          "https://www.googleapis.com/auth/calendar.readonly"}


def _ts(s):
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        return None


def _iso(d):
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class GoogleError(Exception):
    def __init__(self, status, reason, message, extra=None):
        self.status, self.reason, self.message = status, reason, message
        self.extra = extra or {}


class GoogleFake:
    def __init__(self, client_id="cid.apps.googleusercontent.com",
                 client_secret="csecret-" + secrets.token_hex(8),
                 account="ada@example.com"):
        self.client_id, self.client_secret = client_id, client_secret
        self.account = account
        self.token_ttl = 3599
        self.deny = False
        self.codes = {}          # code -> {redirect_uri, challenge, used}
        self.refresh_tokens = {}  # token -> revoked?
        self.access_tokens = {}   # token -> expiry (epoch s)
        self.calendars = [
            {"id": account, "summary": account, "primary": True,
             "accessRole": "owner"},
            {"id": "team@group.calendar.google.com", "summary": "Team",
             "accessRole": "reader"}]
        self.events = {}   # (cal, id) -> event
        self.seq = 0       # change counter (sync tokens)
        self.tokens_valid_from = 0  # sync tokens before this seq are gone
        self.failures = []
        self.garbage = []  # bodies answered (200) to the next API calls
        self.lose_inserts = 0  # inserts stored whose answer is a 503
        self.requests = []
        self.issued = []   # every token the fake handed out
        self.channels = {}  # id -> {id, resourceId, cal, address, token,
        #                            expiration (ms), stopped, number}
        self.allow_http = False  # Google delivers to https only
        self.watch_max_ttl_s = 30 * 86400
        self.notifications = []  # (channel id, state, status answered)
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _send(self, status, obj=None, headers=None):
                body = b"" if obj is None else json.dumps(obj).encode()
                self.send_response(status)
                if obj is not None:
                    self.send_header("Content-Type",
                                     "application/json; charset=UTF-8")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _raw(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _gerr(self, e):
                self._send(e.status, {"error": {
                    "errors": [{"domain": "global", "reason": e.reason,
                                "message": e.message, **e.extra}],
                    "code": e.status, "message": e.message}})

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n > 1 << 20:
                    raise GoogleError(413, "uploadTooLarge", "too large")
                return self.rfile.read(n) if n else b""

            def _handle(self, method):
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
                raw = self._body()
                with fake.lock:
                    fake.requests.append((method, u.path,
                                          dict(self.headers.items()), raw))
                try:
                    if u.path == "/o/oauth2/v2/auth" and method == "GET":
                        return self._auth(q)
                    if u.path == "/token" and method == "POST":
                        return self._token(raw)
                    if u.path.startswith("/calendar/v3/"):
                        self._bearer()
                        with fake.lock:
                            junk = fake.garbage.pop(0) if fake.garbage \
                                else None
                        if junk is not None:  # a broken or huge answer
                            return self._raw(200, junk)
                        with fake.lock:
                            if fake.failures:
                                st = fake.failures.pop(0)
                                reason = {403: "rateLimitExceeded",
                                          429: "rateLimitExceeded"}.get(
                                              st, "backendError")
                                raise GoogleError(st, reason, "injected")
                        return self._api(method, u.path[len("/calendar/v3"):],
                                         q, raw)
                    raise GoogleError(404, "notFound", "Not Found")
                except GoogleError as e:
                    self._gerr(e)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PUT(self):
                self._handle("PUT")

            def do_PATCH(self):
                self._handle("PATCH")

            def do_DELETE(self):
                self._handle("DELETE")

            # ---- OAuth ---------------------------------------------------
            def _auth(self, q):
                allowed = {"response_type", "client_id", "redirect_uri",
                           "scope", "state", "access_type", "prompt",
                           "include_granted_scopes", "code_challenge",
                           "code_challenge_method", "login_hint"}
                one = {k: v[0] for k, v in q.items()}
                if set(q) - allowed or any(len(v) != 1 for v in q.values()):
                    return self._send(400, {"error": "invalid_request"})
                if one.get("client_id") != fake.client_id:
                    return self._send(401, {"error": "invalid_client"})
                if (one.get("response_type") != "code"
                        or not one.get("redirect_uri")
                        or one.get("access_type") != "offline"
                        or not one.get("state")
                        or one.get("code_challenge_method") != "S256"
                        or not re.fullmatch(r"[A-Za-z0-9_-]{43,128}",
                                            one.get("code_challenge", ""))
                        or not set(one.get("scope", "").split()) <= SCOPES
                        or not one.get("scope")):
                    return self._send(400, {"error": "invalid_request"})
                target = one["redirect_uri"]
                if fake.deny:
                    loc = target + "?" + urllib.parse.urlencode(
                        {"error": "access_denied", "state": one["state"]})
                else:
                    code = "4/" + secrets.token_urlsafe(24)
                    with fake.lock:
                        fake.codes[code] = {
                            "redirect_uri": target, "used": False,
                            "challenge": one["code_challenge"]}
                    loc = target + "?" + urllib.parse.urlencode(
                        {"state": one["state"], "code": code,
                         "scope": one["scope"]})
                self._send(302, None, {"Location": loc})

            def _oerr(self, status, error, desc):
                self._send(status, {"error": error,
                                    "error_description": desc})

            def _token(self, raw):
                ct = self.headers.get("Content-Type", "")
                if not ct.startswith("application/x-www-form-urlencoded"):
                    return self._oerr(400, "invalid_request",
                                      "form body required")
                f = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
                if any(len(v) != 1 for v in f.values()):
                    return self._oerr(400, "invalid_request", "repeated")
                f = {k: v[0] for k, v in f.items()}
                if (f.get("client_id") != fake.client_id
                        or f.get("client_secret") != fake.client_secret):
                    return self._oerr(401, "invalid_client",
                                      "The OAuth client was not found.")
                g = f.get("grant_type")
                if g == "authorization_code":
                    if set(f) - {"client_id", "client_secret", "grant_type",
                                 "code", "redirect_uri", "code_verifier"}:
                        return self._oerr(400, "invalid_request", "unknown")
                    with fake.lock:
                        c = fake.codes.get(f.get("code", ""))
                        if not c or c["used"]:
                            return self._oerr(400, "invalid_grant",
                                              "Malformed auth code.")
                        c["used"] = True
                    if f.get("redirect_uri") != c["redirect_uri"]:
                        return self._oerr(400, "redirect_uri_mismatch",
                                          "Bad Request")
                    v = f.get("code_verifier", "")
                    chal = base64.urlsafe_b64encode(
                        hashlib.sha256(v.encode()).digest()).rstrip(
                            b"=").decode()
                    if chal != c["challenge"]:
                        return self._oerr(400, "invalid_grant",
                                          "Invalid code verifier.")
                    rt = "1//" + secrets.token_urlsafe(32)
                    with fake.lock:
                        fake.refresh_tokens[rt] = False
                        fake.issued.append(rt)
                    return self._send(200, dict(fake._access(),
                                                refresh_token=rt))
                if g == "refresh_token":
                    if set(f) - {"client_id", "client_secret", "grant_type",
                                 "refresh_token"}:
                        return self._oerr(400, "invalid_request", "unknown")
                    with fake.lock:
                        ok = fake.refresh_tokens.get(f.get("refresh_token"))
                    if ok is not False:
                        return self._oerr(400, "invalid_grant",
                                          "Token has been expired or "
                                          "revoked.")
                    return self._send(200, fake._access())
                return self._oerr(400, "unsupported_grant_type",
                                  "Invalid grant_type: %s" % g)

            def _bearer(self):
                a = self.headers.get("Authorization", "")
                tok = a[7:] if a.startswith("Bearer ") else None
                with fake.lock:
                    exp = fake.access_tokens.get(tok)
                if not exp or exp <= time.time():
                    raise GoogleError(
                        401, "authError", "Invalid Credentials",
                        {"locationType": "header",
                         "location": "Authorization"})

            # ---- Calendar API --------------------------------------------
            def _params(self, q, allowed):
                for k, v in q.items():
                    if k not in allowed or len(v) != 1:
                        raise GoogleError(400, "invalidParameter",
                                          "Invalid parameter: %s" % k)
                return {k: v[0] for k, v in q.items()}

            def _event_body(self, raw):
                try:
                    ev = json.loads(raw)
                except ValueError:
                    raise GoogleError(400, "parseError", "Parse Error")
                if not isinstance(ev, dict) or set(ev) - EVENT_FIELDS:
                    raise GoogleError(400, "invalid", "Invalid field: %s" %
                                      sorted(set(ev) - EVENT_FIELDS))
                for k in ("start", "end"):
                    t = ev.get(k)
                    if (not isinstance(t, dict) or not (
                            _ts(t.get("dateTime")) or t.get("date"))):
                        raise GoogleError(400, "required",
                                          "Missing %s time." % k)
                if _ts(ev["end"]["dateTime"]) <= _ts(ev["start"]["dateTime"]):
                    raise GoogleError(400, "timeRangeEmpty",
                                      "The specified time range is empty.")
                if ev.get("status", "confirmed") not in (
                        "confirmed", "tentative", "cancelled"):
                    raise GoogleError(400, "invalid", "Invalid status")
                for a in ev.get("attendees", []):
                    if not isinstance(a, dict) or "@" not in a.get("email", ""):
                        raise GoogleError(400, "invalid",
                                          "Invalid attendee email.")
                return ev

            def _cal(self, cid):
                if not any(c["id"] == cid for c in fake.calendars):
                    raise GoogleError(404, "notFound", "Not Found")
                return cid

            def _json_object(self, raw):
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise GoogleError(400, "parseError", "Parse Error")
                if not isinstance(body, dict):
                    raise GoogleError(400, "parseError", "Parse Error")
                return body

            def _watch(self, cid, q, raw):
                self._params(q, set())
                ch = self._json_object(raw)
                extra = set(ch) - {"id", "type", "address", "token",
                                   "expiration", "params", "kind"}
                if extra:
                    raise GoogleError(400, "invalid", "Invalid field: %s" %
                                      sorted(extra))
                cid_ = ch.get("id")
                if not isinstance(cid_, str) or not re.fullmatch(
                        r"[A-Za-z0-9\-_+/=]{1,64}", cid_):
                    raise GoogleError(400, "invalid",
                                      "Invalid channel id value.")
                if ch.get("type") not in ("web_hook", "webhook"):
                    raise GoogleError(400, "push.invalidType",
                                      "Invalid channel type.")
                addr = ch.get("address")
                u = urllib.parse.urlsplit(addr) if isinstance(addr, str) \
                    else None
                if not u or not u.hostname or u.scheme not in ("https", "http"):
                    raise GoogleError(400, "push.invalidAddress",
                                      "Invalid channel address.")
                if u.scheme != "https" and not fake.allow_http:
                    raise GoogleError(400, "push.webhookUrlNotHttps",
                                      "WebHook callback must be HTTPS: " +
                                      addr)
                tok = ch.get("token")
                if tok is not None and (not isinstance(tok, str) or
                                        len(tok) > 256):
                    raise GoogleError(400, "invalid", "Invalid token.")
                now_ms = int(time.time() * 1000)
                cap = now_ms + fake.watch_max_ttl_s * 1000
                exp = ch.get("expiration", cap)
                if isinstance(exp, str) and exp.isdigit():
                    exp = int(exp)
                if not isinstance(exp, int) or isinstance(exp, bool):
                    raise GoogleError(400, "invalid", "Invalid expiration.")
                if exp <= now_ms:
                    raise GoogleError(400, "invalid",
                                      "Channel expiration is in the past.")
                params = ch.get("params", {})
                if not isinstance(params, dict) or set(params) - {"ttl"}:
                    raise GoogleError(400, "invalid", "Invalid params.")
                exp = min(exp, cap)
                with fake.lock:
                    if cid_ in fake.channels:
                        raise GoogleError(400, "channelIdNotUnique",
                                          "Channel id not unique.")
                    rid = "res-" + hashlib.sha256(cid.encode()).hexdigest()[:20]
                    fake.channels[cid_] = {
                        "id": cid_, "resourceId": rid, "cal": cid,
                        "address": addr, "token": tok, "expiration": exp,
                        "stopped": False, "number": 0}
                out = {"kind": "api#channel", "id": cid_, "resourceId": rid,
                       "resourceUri": fake.base + "/calendar/v3/calendars/" +
                       urllib.parse.quote(cid, safe="") +
                       "/events?alt=json", "expiration": str(exp)}
                if tok is not None:
                    out["token"] = tok
                self._send(200, out)
                threading.Thread(target=fake.notify, args=(cid_, "sync"),
                                 daemon=True).start()

            def _stop(self, q, raw):
                self._params(q, set())
                ch = self._json_object(raw)
                extra = set(ch) - {"id", "resourceId", "token", "kind",
                                   "resourceUri", "type", "address",
                                   "expiration"}
                if extra or not isinstance(ch.get("id"), str) or \
                        not isinstance(ch.get("resourceId"), str):
                    raise GoogleError(400, "required",
                                      "Required: id and resourceId.")
                with fake.lock:
                    c = fake.channels.get(ch["id"])
                    if not c or c["stopped"] or \
                            c["resourceId"] != ch["resourceId"]:
                        raise GoogleError(404, "notFound",
                                          "Channel '%s' not found for "
                                          "project" % ch["id"])
                    c["stopped"] = True
                return self._send(204)

            def _api(self, method, path, q, raw):
                if path == "/channels/stop" and method == "POST":
                    return self._stop(q, raw)
                w = re.fullmatch(r"/calendars/([^/]+)/events/watch", path)
                if w and method == "POST":
                    return self._watch(
                        self._cal(urllib.parse.unquote(w.group(1))), q, raw)
                if path == "/users/me/calendarList" and method == "GET":
                    p = self._params(q, {"maxResults", "pageToken"})
                    items = [dict(c, kind="calendar#calendarListEntry")
                             for c in fake.calendars]
                    start = int(p.get("pageToken", 0) or 0)
                    out = {"kind": "calendar#calendarList",
                           "items": items[start:start + 1]}
                    if start + 1 < len(items):
                        out["nextPageToken"] = str(start + 1)
                    return self._send(200, out)
                m = re.fullmatch(r"/calendars/([^/]+)/events(?:/([^/]+))?",
                                 path)
                if not m:
                    raise GoogleError(404, "notFound", "Not Found")
                cid = self._cal(urllib.parse.unquote(m.group(1)))
                eid = m.group(2) and urllib.parse.unquote(m.group(2))
                if eid is None and method == "POST":
                    self._params(q, {"sendUpdates"})
                    ev = self._event_body(raw)
                    if not BASE32HEX.match(ev.get("id", "")):
                        raise GoogleError(400, "invalid",
                                          "Invalid resource id value.")
                    with fake.lock:
                        if (cid, ev["id"]) in fake.events:
                            raise GoogleError(
                                409, "duplicate",
                                "The requested identifier already exists.")
                        out = fake._store(cid, ev)
                        lose = fake.lose_inserts > 0
                        fake.lose_inserts -= lose
                    if lose:  # stored, but the answer never arrives
                        raise GoogleError(503, "backendError", "lost")
                    return self._send(200, out)
                if eid is None and method == "GET":
                    return self._list(cid, q)
                with fake.lock:
                    cur = fake.events.get((cid, eid))
                if not cur:
                    raise GoogleError(404, "notFound", "Not Found")
                im = self.headers.get("If-Match")
                if method == "GET":
                    self._params(q, set())
                    return self._send(200, cur)
                self._params(q, {"sendUpdates"})
                if im is not None and im != cur["etag"]:
                    raise GoogleError(412, "conditionNotMet",
                                      "Precondition Failed",
                                      {"locationType": "header",
                                       "location": "If-Match"})
                if method == "PUT":
                    ev = self._event_body(raw)
                    if ev.get("id", eid) != eid:
                        raise GoogleError(400, "invalid", "id mismatch")
                    ev["id"] = eid
                    with fake.lock:
                        out = fake._store(cid, ev, cur)
                    return self._send(200, out)
                if method == "DELETE":
                    if cur["status"] == "cancelled":
                        raise GoogleError(410, "deleted",
                                          "Resource has been deleted")
                    with fake.lock:
                        fake._store(cid, dict(cur, status="cancelled"), cur)
                    return self._send(204)
                raise GoogleError(405, "methodNotAllowed", method)

            def _list(self, cid, q):
                p = self._params(q, {"singleEvents", "maxResults", "pageToken",
                                     "syncToken", "timeMin", "timeMax",
                                     "showDeleted"})
                size = int(p.get("maxResults", 250))
                if not 1 <= size <= 2500:
                    raise GoogleError(400, "invalid", "Invalid maxResults")
                if "syncToken" in p and ({"timeMin", "timeMax"} & set(p)):
                    raise GoogleError(400, "invalid",
                                      "Sync token cannot be used with "
                                      "timeMin/timeMax.")
                with fake.lock:
                    evs = [e for (c, _), e in sorted(
                        fake.events.items(), key=lambda kv: kv[1]["_seq"])
                        if c == cid]
                    now_seq = fake.seq
                    valid_from = fake.tokens_valid_from
                if "syncToken" in p:
                    m = re.fullmatch(r"s(\d+)", p["syncToken"])
                    if not m or int(m.group(1)) < valid_from or \
                            int(m.group(1)) > now_seq:
                        raise GoogleError(410, "fullSyncRequired",
                                          "Sync token is no longer valid, "
                                          "a full sync is required.")
                    since = int(m.group(1))
                    evs = [e for e in evs if e["_seq"] > since]
                else:
                    t0, t1 = _ts(p.get("timeMin")), _ts(p.get("timeMax"))
                    evs = [e for e in evs if e["status"] != "cancelled"
                           and (not t1 or _ts(e["start"]["dateTime"]) < t1)
                           and (not t0 or _ts(e["end"]["dateTime"]) > t0)]
                # pageToken: "<offset>:<seq>"
                off, seq = 0, now_seq
                if "pageToken" in p:
                    m = re.fullmatch(r"(\d+):(\d+)", p["pageToken"])
                    if not m:
                        raise GoogleError(400, "invalid", "Invalid pageToken")
                    off, seq = int(m.group(1)), int(m.group(2))
                evs = [e for e in evs if e["_seq"] <= seq]
                page = evs[off:off + min(size, fake.page_size)]
                out = {"kind": "calendar#events",
                       "items": [{k: v for k, v in e.items()
                                  if not k.startswith("_")} for e in page]}
                if off + len(page) < len(evs):
                    out["nextPageToken"] = "%d:%d" % (off + len(page), seq)
                else:
                    out["nextSyncToken"] = "s%d" % seq
                self._send(200, out)

        self.page_size = 250
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    # ---- state (under self.lock) -----------------------------------------
    def _access(self):
        tok = "ya29." + secrets.token_urlsafe(32)
        self.access_tokens[tok] = time.time() + self.token_ttl
        self.issued.append(tok)
        return {"access_token": tok, "expires_in": self.token_ttl,
                "scope": " ".join(sorted(SCOPES - {
                    "https://www.googleapis.com/auth/calendar"})),
                "token_type": "Bearer"}

    def _store(self, cid, ev, cur=None):
        self.seq += 1
        now = _iso(dt.datetime.now(dt.timezone.utc))
        out = {k: v for k, v in ev.items() if not k.startswith("_")}
        out.update({"kind": "calendar#event", "etag": '"%d"' % (
            3000000000000000 + self.seq), "status": ev.get(
                "status", "confirmed"),
            "htmlLink": "https://www.google.com/calendar/event?eid=x",
            "created": cur["created"] if cur else now, "updated": now,
            "sequence": (cur["sequence"] + 1) if cur else 0,
            "iCalUID": ev["id"] + "@google.com",
            "organizer": {"email": cid, "self": True},
            "_seq": self.seq})
        self.events[(cid, ev["id"])] = out
        return {k: v for k, v in out.items() if not k.startswith("_")}

    # ---- for tests -------------------------------------------------------
    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def primary(self):
        return self.account

    def live_events(self, cid=None):
        with self.lock:
            return {i: e for (c, i), e in self.events.items()
                    if c == (cid or self.account) and e["status"] != "cancelled"}

    def all_events(self, cid=None):
        with self.lock:
            return {i: e for (c, i), e in self.events.items()
                    if c == (cid or self.account)}

    def move(self, eid, start, end, cid=None):
        with self.lock:
            cur = self.events[(cid or self.account, eid)]
            ev = dict(cur, start={"dateTime": start}, end={"dateTime": end})
            self._store(cid or self.account, ev, cur)

    def delete(self, eid, cid=None):
        with self.lock:
            cur = self.events[(cid or self.account, eid)]
            self._store(cid or self.account, dict(cur, status="cancelled"), cur)

    def add_busy(self, eid, start, end, cid=None, **extra):
        with self.lock:
            self._store(cid or self.account, dict(
                {"id": eid, "summary": "Dentist",
                 "start": {"dateTime": start}, "end": {"dateTime": end}},
                **extra))

    def fail_next(self, *statuses):
        with self.lock:
            self.failures.extend(statuses)

    def expire_access_tokens(self):
        with self.lock:
            for k in self.access_tokens:
                self.access_tokens[k] = 0

    def revoke(self):
        with self.lock:
            for k in self.refresh_tokens:
                self.refresh_tokens[k] = True
            for k in self.access_tokens:
                self.access_tokens[k] = 0

    def expire_sync_tokens(self):
        with self.lock:
            self.tokens_valid_from = self.seq + 1

    def token_requests(self, grant):
        with self.lock:
            return [r for r in self.requests if r[1] == "/token"
                    and ("grant_type=" + grant).encode() in r[3]]

    def live_channels(self, cid=None):
        now_ms = time.time() * 1000
        with self.lock:
            return [dict(c) for c in self.channels.values()
                    if not c["stopped"] and c["expiration"] > now_ms and
                    (cid is None or c["cal"] == cid)]

    def notify(self, channel_id, state="exists", headers=None):
        """POSTs a notification of the channel to its address, as Google
        does (no body); headers (may be None) are changed or added (a value
        None drops one). Returns the status answered (0: no answer)."""
        import http.client
        with self.lock:
            c = self.channels[channel_id]
            c["number"] += 1
            number = c["number"]
        h = {"X-Goog-Channel-ID": c["id"],
             "X-Goog-Channel-Expiration": time.strftime(
                 "%a, %d %b %Y %H:%M:%S GMT",
                 time.gmtime(c["expiration"] / 1000)),
             "X-Goog-Message-Number": str(number),
             "X-Goog-Resource-ID": c["resourceId"],
             "X-Goog-Resource-URI": self.base + "/calendar/v3/calendars/" +
             urllib.parse.quote(c["cal"], safe="") + "/events?alt=json",
             "X-Goog-Resource-State": state,
             "Content-Length": "0"}
        if c["token"] is not None:
            h["X-Goog-Channel-Token"] = c["token"]
        for k, v in (headers or {}).items():
            h.pop(k, None)
            if v is not None:
                h[k] = v
        u = urllib.parse.urlsplit(c["address"])
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            conn.request("POST", u.path, body=b"", headers=h)
            status = conn.getresponse().status
            conn.close()
        except OSError:
            status = 0
        with self.lock:
            self.notifications.append((channel_id, state, status))
        return status

    def notify_calendar(self, cid=None, state="exists"):
        return [self.notify(c["id"], state)
                for c in self.live_channels(cid or self.account)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
