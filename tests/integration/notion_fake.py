"""tests/integration/notion_fake.py — a contract fake of the parts of
Notion's API bookingd calls (PROVIDERS.md §5), pinned to Notion-Version
2022-06-28 and as strict as the real API on what a client sends. It is
checked against the official client (@notionhq/client, tests/notion-client)
so that it speaks the protocol that client expects.

Every request needs `Authorization: Bearer <token>` (else 401
`unauthorized`) and `Notion-Version: 2022-06-28` (absent: 400
`missing_version`; another version: 400 `validation_error`, a choice of the
fake: bookingd pins one). Errors are `{"object": "error", "status",
"code", "message", "request_id"}`.

    GET    /v1/users/me
    POST   /v1/databases                {parent: {page_id}, title, properties}
    GET    /v1/databases/{id}
    PATCH  /v1/databases/{id}           {title?, properties?: {name: schema |
                                         {name} | null}}
    POST   /v1/databases/{id}/query     {filter?, sorts?, start_cursor?,
                                         page_size? (1..100)}
    POST   /v1/pages                    {parent: {database_id | page_id},
                                         properties, children?}
    GET    /v1/pages/{id}
    PATCH  /v1/pages/{id}               {properties?, archived?, in_trash?}
    GET    /v1/blocks/{id}/children     ?start_cursor=&page_size=
    PATCH  /v1/blocks/{id}/children     {children}
    PATCH  /v1/blocks/{id}              {paragraph: {rich_text}}
    POST   /v1/comments                 {parent: {page_id}, rich_text}
    GET    /v1/comments                 ?block_id=

Page properties are validated against the database's schema (unknown names,
wrong types, texts over 2000 characters, bad dates, relations to pages of
another database are 400 `validation_error`); select options are added as
Notion does. Rate limit: a token bucket of `rate` requests per second (3, as
Notion's average) with a burst of `burst`; over it, 429 `rate_limited`
with `Retry-After`. Deviation: last_edited_time keeps milliseconds (Notion
rounds it to the minute), so that tests can tell edits apart.

Tests simulate people: fake.edit_page(id, props) and fake.add_row(db, props)
change pages as the Notion app would (a new last_edited_time, "last_edited_by"
a person); fake.requests lists (method, path, at); fake.fail_next(...)
queues statuses."""
import datetime as dt
import http.server
import json
import re
import threading
import time
import urllib.parse
import uuid

VERSION = "2022-06-28"
TYPES = {"title", "rich_text", "number", "select", "date", "email",
         "phone_number", "checkbox", "relation", "url", "multi_select",
         "status", "people", "files"}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?"
                     r"(Z|[+-]\d{2}:\d{2})?)?$")
BOT = {"object": "user", "id": "b0b0b0b0-0000-4000-8000-000000000001"}
PERSON = {"object": "user", "id": "9e750a11-0000-4000-8000-000000000002"}


def now_iso(t=None):
    t = time.time() if t is None else t
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (int(t * 1000) % 1000)


class Invalid(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(message):
    return Invalid(400, "validation_error", message)


def text_items(items, where):
    if not isinstance(items, list) or len(items) > 100:
        raise bad(f"{where} should be an array of at most 100 rich text "
                  f"items.")
    out = []
    for it in items:
        if not isinstance(it, dict):
            raise bad(f"{where} item should be an object.")
        t = it.get("text")
        if not isinstance(t, dict) or not isinstance(t.get("content"), str):
            raise bad(f"{where}.text.content should be a string.")
        if len(t["content"]) > 2000:
            raise bad(f"{where}.text.content.length should be ≤ `2000`, "
                      f"instead was `{len(t['content'])}`.")
        out.append({"type": "text",
                    "text": {"content": t["content"], "link": None},
                    "annotations": {"bold": False, "italic": False,
                                    "strikethrough": False,
                                    "underline": False, "code": False,
                                    "color": "default"},
                    "plain_text": t["content"], "href": None})
    return out


class NotionFake:
    def __init__(self, token="secret_fake", rate=3.0, burst=3):
        self.token = token
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.last_refill = time.monotonic()
        self.retry_after = 1
        self.databases = {}   # id -> {title, parent, properties (schema)}
        self.pages = {}       # id -> page object (stored form)
        self.blocks = {}      # id -> block (paragraphs, child pages/dbs)
        self.children = {}    # parent id -> [block ids]
        self.comments = []    # {parent page id, text}
        self.requests = []    # (method, path, at monotonic, status)
        self.failures = []
        self.limited = 0
        self.fail_after_create = 0  # make the row, answer 502, n times
        self.refused_pages = set()  # PATCH /pages/{id}: 503 while listed
        self.lock = threading.Lock()
        self.root = str(uuid.uuid4())  # the parent page, shared with us
        self.pages[self.root] = {"object": "page", "id": self.root,
                                 "parent": {"type": "workspace",
                                            "workspace": True},
                                 "properties": {}, "archived": False,
                                 "in_trash": False,
                                 "created_time": now_iso(),
                                 "last_edited_time": now_iso()}
        self.children[self.root] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status, obj, extra=None):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type",
                                 "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                status, obj, extra = fake._dispatch(
                    method, u.path, q, raw, self.headers)
                with fake.lock:
                    fake.requests.append((method, u.path, time.monotonic(),
                                          status))
                self._answer(status, obj, extra)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PATCH(self):
                self._handle("PATCH")

            def do_DELETE(self):
                self._handle("DELETE")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- helpers for tests ---------------------------------------------------

    def fail_next(self, *statuses):
        with self.lock:
            self.failures.extend(statuses)

    def refuse_writes_to(self, page_id, refuse=True):
        """Answers 503 to every PATCH of page_id (an outage of one page's
        writes) until called with refuse=False."""
        with self.lock:
            if refuse:
                self.refused_pages.add(page_id)
            else:
                self.refused_pages.discard(page_id)

    def api_requests(self):
        with self.lock:
            return [r for r in self.requests if r[3] != 429]

    def max_rate(self, window=1.0):
        """The most requests answered (not 429) in any window of `window`
        seconds."""
        times = sorted(r[2] for r in self.api_requests())
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] < t - window:
                j += 1
            best = max(best, i - j + 1)
        return best

    def average_rate(self):
        times = sorted(r[2] for r in self.api_requests())
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def db_by_title(self, title):
        with self.lock:
            return [i for i, d in self.databases.items()
                    if d["title"] == title]

    def rows(self, db_id):
        with self.lock:
            return [json.loads(json.dumps(p)) for p in self.pages.values()
                    if p["parent"].get("database_id") == db_id
                    and not p["archived"]]

    def row_by_key(self, db_id, key):
        return [p for p in self.rows(db_id)
                if plain(p, "bookingd id") == key]

    def edit_page(self, page_id, props, at=None):
        """A person edits properties in the Notion app (at: when, Unix
        seconds; default now)."""
        with self.lock:
            page = self.pages[page_id]
            db = self.databases[page["parent"]["database_id"]]
            self._set_props(page, db, props)
            page["last_edited_time"] = now_iso(at)
            page["last_edited_by"] = PERSON
            return json.loads(json.dumps(page))

    def add_row(self, db_id, props):
        """A person adds a row in the Notion app."""
        with self.lock:
            page = self._new_page({"database_id": db_id}, props)
            page["created_by"] = page["last_edited_by"] = PERSON
            return json.loads(json.dumps(page))

    def add_database(self, title, properties):
        """A person makes a database under the shared page (properties in
        the API's request form)."""
        with self.lock:
            return self._create_db({
                "parent": {"page_id": self.root},
                "title": [{"text": {"content": title}}],
                "properties": properties})

    def comments_on(self, page_id):
        with self.lock:
            return [c["text"] for c in self.comments
                    if c["parent"] == page_id]

    # ---- the API -----------------------------------------------------------

    def _error(self, status, code, message, extra=None):
        return status, {"object": "error", "status": status, "code": code,
                        "message": message,
                        "request_id": str(uuid.uuid4())}, extra

    def _take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens +
                          (now - self.last_refill) * self.rate)
        self.last_refill = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _dispatch(self, method, path, q, raw, headers):
        auth = headers.get("Authorization") or ""
        if auth != f"Bearer {self.token}":
            return self._error(401, "unauthorized",
                               "API token is invalid.")
        version = headers.get("Notion-Version")
        if not version:
            return self._error(400, "missing_version",
                               "Notion-Version header failed validation: "
                               "Notion-Version header should be defined, "
                               "instead was `undefined`.")
        if version != VERSION:
            return self._error(400, "validation_error",
                               f"this fake speaks Notion-Version {VERSION} "
                               f"only, not {version}")
        with self.lock:
            if self.failures:
                s = self.failures.pop(0)
                if s == 429:
                    self.limited += 1
                    return self._error(
                        429, "rate_limited",
                        "You have been rate limited. Please try again in a "
                        "few minutes.",
                        {"Retry-After": str(self.retry_after)})
                return self._error(s, "internal_server_error",
                                   "Unexpected error occurred.")
            if not self._take():
                self.limited += 1
                return self._error(
                    429, "rate_limited",
                    "You have been rate limited. Please try again in a few "
                    "minutes.", {"Retry-After": str(self.retry_after)})
            body = None
            if method in ("POST", "PATCH"):
                if raw and "application/json" not in (
                        headers.get("Content-Type") or ""):
                    return self._error(400, "invalid_request",
                                       "Content-Type must be "
                                       "application/json.")
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._error(400, "invalid_json",
                                       "Error parsing JSON body.")
                if not isinstance(body, dict):
                    return self._error(400, "validation_error",
                                       "body should be an object.")
            if method == "PATCH" and path.startswith("/v1/pages/") and \
                    path[len("/v1/pages/"):] in self.refused_pages:
                return self._error(503, "service_unavailable",
                                   "Notion is unavailable, please try "
                                   "again later.")
            try:
                return self._route(method, path, q, body)
            except Invalid as e:
                return self._error(e.status, e.code, e.message)

    def _route(self, method, path, q, body):
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != "v1":
            return self._error(400, "invalid_request_url",
                               "Invalid request URL.")
        p = parts[1:]
        if p == ["users", "me"] and method == "GET":
            return 200, dict(BOT, type="bot", name="bookingd", bot={}), None
        if p == ["databases"] and method == "POST":
            return 200, self._create_db(body), None
        if len(p) == 2 and p[0] == "databases" and method == "GET":
            return 200, self._db_obj(self._db(p[1])), None
        if len(p) == 2 and p[0] == "databases" and method == "PATCH":
            return 200, self._update_db(self._db(p[1]), body), None
        if len(p) == 3 and p[0] == "databases" and p[2] == "query" \
                and method == "POST":
            return 200, self._query(self._db(p[1]), body), None
        if p == ["pages"] and method == "POST":
            return 200, self._create_page(body), None
        if len(p) == 2 and p[0] == "pages":
            page = self._page(p[1])
            if method == "GET":
                return 200, page, None
            if method == "PATCH":
                return 200, self._update_page(page, body), None
        if len(p) == 3 and p[0] == "blocks" and p[2] == "children":
            if method == "GET":
                return 200, self._list_children(p[1], q), None
            if method == "PATCH":
                return 200, self._append(p[1], body), None
        if len(p) == 2 and p[0] == "blocks" and method == "PATCH":
            return 200, self._update_block(p[1], body), None
        if p == ["comments"] and method == "POST":
            return 200, self._comment(body), None
        if p == ["comments"] and method == "GET":
            bid = q.get("block_id")
            res = [{"object": "comment", "id": c["id"],
                    "parent": {"type": "page_id", "page_id": c["parent"]},
                    "rich_text": text_items([{"text": {"content": c["text"]}}],
                                            "rich_text")}
                   for c in self.comments if c["parent"] == bid]
            return 200, {"object": "list", "results": res,
                         "next_cursor": None, "has_more": False,
                         "type": "comment", "comment": {}}, None
        return self._error(400, "invalid_request_url",
                           "Invalid request URL.")

    # ---- objects -----------------------------------------------------------

    def _norm_id(self, i):
        s = i.replace("-", "").lower()
        if not re.fullmatch(r"[0-9a-f]{32}", s):
            raise bad(f"path failed validation: path.id should be a valid "
                      f"uuid, instead was `\"{i}\"`.")
        return str(uuid.UUID(s))

    def _db(self, i):
        i = self._norm_id(i)
        if i not in self.databases:
            raise Invalid(404, "object_not_found",
                          f"Could not find database with ID: {i}. Make sure "
                          f"the relevant pages and databases are shared "
                          f"with your integration.")
        return self.databases[i]

    def _page(self, i):
        i = self._norm_id(i)
        if i not in self.pages:
            raise Invalid(404, "object_not_found",
                          f"Could not find page with ID: {i}. Make sure the "
                          f"relevant pages and databases are shared with "
                          f"your integration.")
        return self.pages[i]

    def _db_obj(self, d):
        return {"object": "database", "id": d["id"],
                "created_time": d["created_time"],
                "last_edited_time": d["created_time"],
                "title": text_items([{"text": {"content": d["title"]}}],
                                    "title"),
                "parent": {"type": "page_id", "page_id": d["parent"]},
                "properties": d["properties"], "archived": False,
                "in_trash": False, "is_inline": False,
                "url": f"https://www.notion.so/{d['id'].replace('-', '')}"}

    def _prop_spec(self, name, spec):
        """A property's schema from a request (create or update)."""
        if not isinstance(spec, dict) or len(
                [k for k in spec if k in TYPES]) != 1:
            raise bad(f"body.properties.{name} should have exactly one "
                      f"property type.")
        t = [k for k in spec if k in TYPES][0]
        extra = [k for k in spec if k not in TYPES and k not in ("name",
                                                                  "type")]
        if extra or spec.get("type", t) != t:
            raise bad(f"body.properties.{name}.{(extra or ['type'])[0]} "
                      f"should be not present.")
        conf = spec[t] if isinstance(spec[t], dict) else {}
        if not isinstance(spec[t], dict):
            raise bad(f"body.properties.{name}.{t} should be an object.")
        if t == "relation":
            rid = conf.get("database_id")
            if not rid or self._norm_id(str(rid)) not in self.databases:
                raise bad(f"body.properties.{name}.relation.database_id "
                          f"should be a database shared with the "
                          f"integration.")
            conf = {"database_id": self._norm_id(str(rid)),
                    "type": "single_property", "single_property": {}}
        if t == "select":
            opts = conf.get("options", [])
            if not isinstance(opts, list) or not all(
                    isinstance(o, dict) and isinstance(o.get("name"), str)
                    for o in opts):
                raise bad(f"body.properties.{name}.select.options should "
                          f"be an array of {{name}}.")
            conf = {"options": [{"id": str(uuid.uuid4())[:4],
                                 "name": o["name"], "color": "default"}
                                for o in opts]}
        if t == "number":
            fmt = conf.get("format", "number")
            if not isinstance(fmt, str):
                raise bad(f"body.properties.{name}.number.format should be "
                          f"a string.")
            conf = {"format": fmt}
        return {"id": str(uuid.uuid4())[:4], "name": name, "type": t,
                t: conf}

    def _update_db(self, d, body):
        """PATCH /v1/databases/{id}: properties added (a schema), changed
        (another type), renamed ({name}) or removed (null), as Notion does;
        the title property can be renamed but not removed or doubled."""
        for k in body:
            if k not in ("title", "description", "properties", "icon",
                         "cover", "is_inline", "archived", "in_trash"):
                raise bad(f"body.{k} should be not present.")
        if "title" in body:
            d["title"] = "".join(i["plain_text"] for i in
                                 text_items(body["title"], "body.title"))
            self.blocks[d["id"]]["child_database"]["title"] = d["title"]
        props = body.get("properties")
        if props is None:
            return self._db_obj(d)
        if not isinstance(props, dict):
            raise bad("body.properties should be an object.")
        schema = dict(d["properties"])
        for name, spec in props.items():
            if not isinstance(name, str) or not name or len(name) > 100:
                raise bad("body.properties keys should be property names.")
            cur = schema.get(name)
            if spec is None:
                if cur is None:
                    raise bad(f"body.properties.{name}: no such property "
                              f"to remove.")
                if cur["type"] == "title":
                    raise bad("Cannot delete the title property.")
                del schema[name]
                continue
            if isinstance(spec, dict) and set(spec) == {"name"}:
                new = spec["name"]
                if cur is None or not isinstance(new, str) or not new or \
                        (new != name and new in schema):
                    raise bad(f"body.properties.{name}.name: cannot rename "
                              f"it to {new!r}.")
                schema[new] = dict(schema.pop(name), name=new)
                continue
            made = self._prop_spec(name, spec)
            if cur is not None:
                if cur["type"] == "title" and made["type"] != "title":
                    raise bad("Cannot change the type of the title "
                              "property.")
                made["id"] = cur["id"]
            schema[name] = made
        if len([v for v in schema.values() if v["type"] == "title"]) != 1:
            raise bad("A database should have exactly one title property.")
        d["properties"] = schema
        # The rows follow: values kept by property id, new ones empty.
        for page in self.pages.values():
            if page["parent"].get("database_id") != d["id"]:
                continue
            by_id = {v["id"]: v for v in page["properties"].values()}
            page["properties"] = {
                n: (dict(by_id[sp["id"]]) if sp["id"] in by_id and
                    by_id[sp["id"]]["type"] == sp["type"] else
                    self._empty(sp)) for n, sp in schema.items()}
        return self._db_obj(d)

    def _create_db(self, body):
        parent = body.get("parent")
        if not isinstance(parent, dict) or "page_id" not in parent:
            raise bad("body.parent.page_id should be defined, instead was "
                      "`undefined`.")
        pid = self._norm_id(str(parent["page_id"]))
        if pid not in self.pages:
            raise Invalid(404, "object_not_found",
                          f"Could not find page with ID: {pid}.")
        title = "".join(i["plain_text"] for i in
                        text_items(body.get("title", []), "body.title"))
        props = body.get("properties")
        if not isinstance(props, dict) or not props:
            raise bad("body.properties should be defined, instead was "
                      "`undefined`.")
        schema, titles = {}, 0
        for name, spec in props.items():
            schema[name] = self._prop_spec(name, spec)
            titles += schema[name]["type"] == "title"
        if titles != 1:
            raise bad("body.properties should have exactly one title "
                      "property.")
        i = str(uuid.uuid4())
        d = {"id": i, "title": title, "parent": pid, "properties": schema,
             "created_time": now_iso()}
        self.databases[i] = d
        self.blocks[i] = {"object": "block", "id": i,
                          "type": "child_database",
                          "child_database": {"title": title}}
        self.children.setdefault(pid, []).append(i)
        return self._db_obj(d)

    def _value(self, name, spec, v):
        t = spec["type"]
        where = f"body.properties.{name}"
        if not isinstance(v, dict) or t not in v:
            raise bad(f"{name} is expected to be {t}.")
        x = v[t]
        if t in ("title", "rich_text"):
            return text_items(x, f"{where}.{t}")
        if t == "number":
            if x is not None and (isinstance(x, bool) or
                                  not isinstance(x, (int, float))):
                raise bad(f"{where}.number should be a number or `null`.")
            return x
        if t == "checkbox":
            if not isinstance(x, bool):
                raise bad(f"{where}.checkbox should be a boolean.")
            return x
        if t in ("email", "phone_number", "url"):
            if x is not None and (not isinstance(x, str) or len(x) > 200):
                raise bad(f"{where}.{t} should be a string or `null`.")
            return x
        if t == "select":
            if x is None:
                return None
            if not isinstance(x, dict) or not isinstance(x.get("name"), str) \
                    or "," in x["name"] or len(x["name"]) > 100:
                raise bad(f"{where}.select.name should be a string without "
                          f"commas.")
            opts = spec["select"]["options"]
            for o in opts:
                if o["name"] == x["name"]:
                    return dict(o)
            o = {"id": str(uuid.uuid4())[:4], "name": x["name"],
                 "color": "default"}
            opts.append(o)
            return dict(o)
        if t == "date":
            if x is None:
                return None
            if not isinstance(x, dict) or not isinstance(x.get("start"), str)\
                    or not DATE_RE.match(x["start"]):
                raise bad(f"{where}.date.start should be a valid ISO 8601 "
                          f"date string.")
            end = x.get("end")
            if end is not None and (not isinstance(end, str) or
                                    not DATE_RE.match(end)):
                raise bad(f"{where}.date.end should be a valid ISO 8601 "
                          f"date string or `null`.")
            tz = x.get("time_zone")
            if tz is not None:
                if not isinstance(tz, str) or not re.fullmatch(
                        r"[A-Za-z_]+(/[A-Za-z_+-]+)*", tz):
                    raise bad(f"{where}.date.time_zone should be an IANA "
                              f"time zone.")
                if re.search(r"(Z|[+-]\d{2}:\d{2})$", x["start"]):
                    raise bad(f"{where}.date: time_zone is only for dates "
                              f"without an offset.")
            return {"start": x["start"], "end": end, "time_zone": tz}
        if t == "relation":
            if not isinstance(x, list) or len(x) > 100:
                raise bad(f"{where}.relation should be an array.")
            out = []
            for r in x:
                rid = self._norm_id(str((r or {}).get("id", "")))
                rp = self.pages.get(rid)
                if not rp or rp["parent"].get("database_id") != \
                        spec["relation"]["database_id"]:
                    raise bad(f"{where}.relation: {rid} is not a page of "
                              f"the related database.")
                out.append({"id": rid})
            return out
        raise bad(f"{where}: {t} is not supported by this fake.")

    def _set_props(self, page, db, props):
        if not isinstance(props, dict):
            raise bad("body.properties should be an object.")
        for name, v in props.items():
            spec = db["properties"].get(name)
            if spec is None:
                raise bad(f"{name} is not a property that exists.")
            page["properties"][name] = {"id": spec["id"], "type":
                                        spec["type"],
                                        spec["type"]: self._value(name, spec,
                                                                  v)}
            if spec["type"] == "relation":
                page["properties"][name]["has_more"] = False

    def _empty(self, spec):
        t = spec["type"]
        v = {"title": [], "rich_text": [], "relation": [],
             "checkbox": False, "multi_select": []}.get(t)
        o = {"id": spec["id"], "type": t, t: v}
        if t == "relation":
            o["has_more"] = False
        return o

    def _new_page(self, parent, props, children=None):
        i = str(uuid.uuid4())
        t = now_iso()
        page = {"object": "page", "id": i, "created_time": t,
                "last_edited_time": t, "created_by": BOT,
                "last_edited_by": BOT, "archived": False, "in_trash": False,
                "icon": None, "cover": None,
                "url": f"https://www.notion.so/{i.replace('-', '')}",
                "public_url": None, "properties": {}}
        if "database_id" in parent:
            db = self._db(str(parent["database_id"]))
            page["parent"] = {"type": "database_id",
                              "database_id": db["id"]}
            for name, spec in db["properties"].items():
                page["properties"][name] = self._empty(spec)
            self._set_props(page, db, props or {})
        else:
            pid = self._norm_id(str(parent.get("page_id", "")))
            self._page(pid)
            tp = (props or {}).get("title")
            if not isinstance(tp, dict) or "title" not in tp:
                raise bad("body.properties.title should be defined.")
            page["parent"] = {"type": "page_id", "page_id": pid}
            page["properties"] = {"title": {
                "id": "title", "type": "title",
                "title": text_items(tp["title"], "properties.title")}}
            self.blocks[i] = {"object": "block", "id": i,
                              "type": "child_page",
                              "child_page": {"title": "".join(
                                  x["plain_text"] for x in
                                  page["properties"]["title"]["title"])}}
            self.children.setdefault(pid, []).append(i)
        self.pages[i] = page
        self.children.setdefault(i, [])
        if children:
            self._append(i, {"children": children})
        return page

    def _create_page(self, body):
        parent = body.get("parent")
        if not isinstance(parent, dict) or not (
                "database_id" in parent or "page_id" in parent):
            raise bad("body.parent.database_id should be defined, instead "
                      "was `undefined`.")
        if "properties" not in body:
            raise bad("body.properties should be defined, instead was "
                      "`undefined`.")
        page = self._new_page(parent, body["properties"],
                              body.get("children"))
        if self.fail_after_create > 0 and "database_id" in parent:
            self.fail_after_create -= 1
            raise Invalid(502, "bad_gateway", "Bad gateway.")
        return page

    def _update_page(self, page, body):
        if page["parent"].get("database_id") is None and "properties" in body:
            raise bad("this fake updates database rows only")
        if "properties" in body:
            self._set_props(page,
                            self.databases[page["parent"]["database_id"]],
                            body["properties"])
        for k in ("archived", "in_trash"):
            if k in body:
                if not isinstance(body[k], bool):
                    raise bad(f"body.{k} should be a boolean.")
                page["archived"] = page["in_trash"] = body[k]
        page["last_edited_time"] = now_iso()
        page["last_edited_by"] = BOT
        return page

    def _block_of(self, i):
        i = self._norm_id(i)
        if i not in self.blocks and i not in self.pages:
            raise Invalid(404, "object_not_found",
                          f"Could not find block with ID: {i}.")
        return i

    def _list_children(self, i, q):
        i = self._block_of(i)
        size = q.get("page_size", "100")
        if not size.isdigit() or not 1 <= int(size) <= 100:
            raise bad("page_size should be a number between 1 and 100.")
        ids = self.children.get(i, [])
        start = 0
        if q.get("start_cursor"):
            if q["start_cursor"] not in ids:
                raise bad("start_cursor should be a valid cursor.")
            start = ids.index(q["start_cursor"])
        chunk = ids[start:start + int(size)]
        more = start + int(size) < len(ids)
        return {"object": "list", "results": [self.blocks[b] for b in chunk],
                "next_cursor": ids[start + int(size)] if more else None,
                "has_more": more, "type": "block", "block": {}}

    def _append(self, i, body):
        i = self._block_of(i)
        ch = body.get("children")
        if not isinstance(ch, list) or not ch or len(ch) > 100:
            raise bad("body.children should be an array of 1 to 100 "
                      "blocks.")
        made = []
        for b in ch:
            if not isinstance(b, dict) or b.get("type", "paragraph") != \
                    "paragraph" or "paragraph" not in b:
                raise bad("this fake appends paragraph blocks only")
            bid = str(uuid.uuid4())
            self.blocks[bid] = {
                "object": "block", "id": bid, "type": "paragraph",
                "has_children": False,
                "paragraph": {"rich_text": text_items(
                    b["paragraph"].get("rich_text", []),
                    "paragraph.rich_text"), "color": "default"}}
            self.children.setdefault(i, []).append(bid)
            made.append(self.blocks[bid])
        return {"object": "list", "results": made, "next_cursor": None,
                "has_more": False, "type": "block", "block": {}}

    def _update_block(self, i, body):
        i = self._block_of(i)
        b = self.blocks.get(i)
        if not b or b["type"] != "paragraph" or \
                not isinstance(body.get("paragraph"), dict):
            raise bad("this fake updates paragraph blocks only")
        b["paragraph"]["rich_text"] = text_items(
            body["paragraph"].get("rich_text", []), "paragraph.rich_text")
        return b

    def _comment(self, body):
        parent = body.get("parent")
        if not isinstance(parent, dict) or "page_id" not in parent:
            raise bad("body.parent.page_id or body.discussion_id should be "
                      "defined.")
        page = self._page(str(parent["page_id"]))
        items = text_items(body.get("rich_text"), "body.rich_text")
        if not items:
            raise bad("body.rich_text should not be empty.")
        c = {"id": str(uuid.uuid4()), "parent": page["id"],
             "text": "".join(x["plain_text"] for x in items)}
        self.comments.append(c)
        return {"object": "comment", "id": c["id"],
                "parent": {"type": "page_id", "page_id": page["id"]},
                "discussion_id": str(uuid.uuid4()),
                "created_time": now_iso(), "last_edited_time": now_iso(),
                "created_by": BOT, "rich_text": items}

    # ---- query -------------------------------------------------------------

    def _match(self, page, f, db, depth=0):
        if not isinstance(f, dict):
            raise bad("body.filter should be an object.")
        for k in ("and", "or"):
            if k in f:
                if depth >= 2 or not isinstance(f[k], list):
                    raise bad(f"body.filter.{k} should be an array nested "
                              f"at most two levels deep.")
                rs = [self._match(page, g, db, depth + 1) for g in f[k]]
                return all(rs) if k == "and" else any(rs)
        if "timestamp" in f:
            ts = f["timestamp"]
            if ts not in ("created_time", "last_edited_time"):
                raise bad("body.filter.timestamp should be created_time or "
                          "last_edited_time.")
            cond = f.get(ts)
            if not isinstance(cond, dict) or len(cond) != 1:
                raise bad(f"body.filter.{ts} should be a date condition.")
            op, val = next(iter(cond.items()))
            return self._date_cmp(page[ts], op, val)
        name = f.get("property")
        spec = db["properties"].get(name)
        if spec is None:
            raise bad(f"Could not find property with name or id: {name}")
        t = spec["type"]
        ft = [k for k in f if k != "property"]
        if len(ft) != 1:
            raise bad("body.filter should name one property type.")
        ft = ft[0]
        if ft != t and not (ft == "rich_text" and t == "title"):
            raise bad(f"body.filter: property {name} is a {t}, not {ft}.")
        cond = f[ft]
        if not isinstance(cond, dict) or len(cond) != 1:
            raise bad(f"body.filter.{ft} should have one condition.")
        op, val = next(iter(cond.items()))
        v = page["properties"].get(name, {}).get(t)
        if t in ("title", "rich_text"):
            s = "".join(x["plain_text"] for x in (v or []))
            ops = {"equals": lambda: s == val,
                   "does_not_equal": lambda: s != val,
                   "contains": lambda: val in s,
                   "starts_with": lambda: s.startswith(val),
                   "is_empty": lambda: s == "",
                   "is_not_empty": lambda: s != ""}
        elif t == "select":
            s = v["name"] if v else None
            ops = {"equals": lambda: s == val,
                   "does_not_equal": lambda: s != val,
                   "is_empty": lambda: s is None,
                   "is_not_empty": lambda: s is not None}
        elif t in ("email", "phone_number", "url"):
            ops = {"equals": lambda: v == val,
                   "is_empty": lambda: not v,
                   "is_not_empty": lambda: bool(v)}
        else:
            raise bad(f"this fake does not filter {t} properties")
        if op not in ops:
            raise bad(f"body.filter.{ft}.{op} is not a {t} condition.")
        return ops[op]()

    def _date_cmp(self, iso, op, val):
        def ts(s):
            s = s.replace("Z", "+00:00")
            if "T" not in s:
                s += "T00:00:00+00:00"
            return dt.datetime.fromisoformat(s).timestamp()
        if op not in ("equals", "before", "after", "on_or_before",
                      "on_or_after"):
            raise bad(f"{op} is not a date condition this fake knows.")
        if not isinstance(val, str) or not DATE_RE.match(val):
            raise bad(f"the date condition {op} should be an ISO 8601 date.")
        a, b = ts(iso), ts(val)
        return {"equals": a == b, "before": a < b, "after": a > b,
                "on_or_before": a <= b, "on_or_after": a >= b}[op]

    def _query(self, db, body):
        size = body.get("page_size", 100)
        if isinstance(size, bool) or not isinstance(size, int) or \
                not 1 <= size <= 100:
            raise bad("body.page_size should be ≤ `100`.")
        rows = [p for p in self.pages.values()
                if p["parent"].get("database_id") == db["id"]
                and not p["archived"]]
        if body.get("filter") is not None:
            rows = [p for p in rows if self._match(p, body["filter"], db)]
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list):
            raise bad("body.sorts should be an array.")
        rows.sort(key=lambda p: p["created_time"])
        for s in reversed(sorts):
            key = s.get("timestamp") or s.get("property")
            if s.get("timestamp") not in (None, "created_time",
                                          "last_edited_time"):
                raise bad("body.sorts.timestamp is not valid.")
            if not s.get("timestamp"):
                raise bad("this fake sorts by timestamps only")
            rows.sort(key=lambda p: p[key],
                      reverse=s.get("direction") == "descending")
        start = 0
        cur = body.get("start_cursor")
        if cur is not None:
            ids = [p["id"] for p in rows]
            if cur not in ids:
                raise bad("body.start_cursor should be a valid cursor.")
            start = ids.index(cur)
        chunk = rows[start:start + size]
        more = start + size < len(rows)
        return {"object": "list", "results": chunk,
                "next_cursor": rows[start + size]["id"] if more else None,
                "has_more": more, "type": "page_or_database",
                "page_or_database": {}}


def plain(page, name):
    p = page["properties"].get(name) or {}
    t = p.get("type")
    if t in ("title", "rich_text"):
        return "".join(x["plain_text"] for x in p[t])
    if t == "select":
        return p[t]["name"] if p[t] else None
    if t == "date":
        return p[t]
    if t == "relation":
        return [r["id"] for r in p[t]]
    return p.get(t)
