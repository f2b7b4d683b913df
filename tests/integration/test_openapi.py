"""docs/openapi.json against the code and the running daemon.

- Every route of the C route tables (src/api/*.c) is documented, every
  documented operation is a route, and admin routes (BK_ROUTE_ADMIN) are
  exactly the operations that require the `admin` security scheme.
- The document has the OpenAPI 3.1 shape and every $ref resolves.
- Against the real daemon, every operation is called and each answer's
  status, Content-Type, required headers and JSON body are checked against
  what the document declares for that status, with a small JSON Schema
  validator (below). Response schemas are closed (additionalProperties:
  false), so a field the daemon returns without documenting it fails here.
  Error answers (400 401 404 405 409 413 415 422 503) are checked the same
  way, against the Error schema.

Standard library only, like the rest of the suite.
"""
import datetime as dt
import json
import pathlib
import re
import time
import urllib.parse

import pytest

import calcom_helpers as cal
from conftest import assert_error, today_in, weekly_all_days
from stripe_helpers import StripeFake, new_webhook_secret, stripe_env

FAKE_OF = {}  # daemon port -> its Stripe fake

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "docs" / "openapi.json"
API_SRC = ROOT / "src" / "api"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch",
           "trace")

# {"METHOD", "/path", handler, BK_ROUTE_ADMIN|PUBLIC, BK_ROUTE_NONE|READ|WRITE}
ROUTE_RE = re.compile(
    r'\{\s*"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)"\s*,\s*"(/[^"]*)"\s*,'
    r'\s*\w+\s*,\s*(\w+)\s*,\s*(\w+)\s*\}')


def load_doc():
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


DOC = load_doc()


def c_routes(with_tx=False):
    """{(METHOD, path): auth} of every route table in src/api/*.c (with_tx:
    {(METHOD, path): (auth, transaction)})."""
    routes = {}
    for f in sorted(API_SRC.glob("*.c")):
        for m in ROUTE_RE.finditer(f.read_text()):
            key = (m.group(1), m.group(2))
            assert key not in routes, f"route {key} defined twice"
            routes[key] = (m.group(3), m.group(4)) if with_tx else m.group(3)
    return routes


def test_every_route_says_how_it_uses_the_store():
    """READ, WRITE or NONE (api/internal.h); a GET never writes."""
    for (method, path), (auth, tx) in c_routes(with_tx=True).items():
        assert auth in ("BK_ROUTE_ADMIN", "BK_ROUTE_PUBLIC"), (method, path)
        assert tx in ("BK_ROUTE_NONE", "BK_ROUTE_READ", "BK_ROUTE_WRITE"), \
            (method, path, tx)
        if method == "GET":
            assert tx != "BK_ROUTE_WRITE", (method, path)


def doc_operations(doc=DOC):
    """{(METHOD, path): operation} of the document."""
    ops = {}
    for path, item in doc["paths"].items():
        for method, o in item.items():
            if method in METHODS:
                ops[(method.upper(), path)] = o
    return ops


# ---- $ref and a small JSON Schema validator --------------------------------

def resolve(ref, doc=DOC):
    assert ref.startswith("#/"), f"only local $refs are used: {ref}"
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, \
            f"$ref {ref} does not resolve (at {part!r})"
        node = node[part]
    return node


def deref(node, doc=DOC):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(node["$ref"], doc)
        seen += 1
        assert seen < 20, "a $ref loop"
    return node


# Keywords the validator checks, and those that only annotate. A schema with
# any other keyword fails the test, so that no constraint of the document is
# silently left unchecked.
CHECKED = {"$ref", "type", "enum", "const", "properties", "required",
           "additionalProperties", "propertyNames", "items", "minItems",
           "maxItems", "minimum", "maximum", "minLength", "maxLength",
           "pattern", "format", "allOf", "oneOf", "anyOf"}
ANNOTATIONS = {"description", "default", "title", "examples", "example"}

DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _format_ok(fmt, s):
    if fmt == "date-time":
        if not DATE_TIME_RE.match(s):
            return False
        try:
            dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if fmt == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return False
        try:
            dt.date.fromisoformat(s)
        except ValueError:
            return False
        return True
    if fmt == "email":
        return re.fullmatch(r"[^@\s]+@[^@\s]+", s) is not None
    if fmt == "uri":
        return re.match(r"https?://[^\s]+$", s) is not None
    raise AssertionError(f"the validator does not know format {fmt!r}")


def _type_ok(t, v):
    if t == "null":
        return v is None
    if t == "boolean":
        return isinstance(v, bool)
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == "string":
        return isinstance(v, str)
    if t == "array":
        return isinstance(v, list)
    if t == "object":
        return isinstance(v, dict)
    raise AssertionError(f"unknown type {t!r}")


def validate(v, schema, where="$", doc=DOC):
    """The list of ways v breaks schema (empty: valid)."""
    errs = []
    unknown = set(schema) - CHECKED - ANNOTATIONS
    assert not unknown, f"schema keywords the validator cannot check at " \
                        f"{where}: {sorted(unknown)}"
    if "$ref" in schema:
        errs += validate(v, resolve(schema["$ref"], doc), where, doc)
    for sub in schema.get("allOf", []):
        errs += validate(v, sub, where, doc)
    if "anyOf" in schema:
        if not any(not validate(v, s, where, doc) for s in schema["anyOf"]):
            errs.append(f"{where}: matches none of anyOf")
    if "oneOf" in schema:
        results = [validate(v, s, where, doc) for s in schema["oneOf"]]
        n = sum(1 for r in results if not r)
        if n != 1:
            detail = "; ".join(e for r in results for e in r[:2])
            errs.append(f"{where}: matches {n} of oneOf (exactly one "
                        f"required): {detail}")
    if "type" in schema:
        types = schema["type"]
        types = [types] if isinstance(types, str) else types
        if not any(_type_ok(t, v) for t in types):
            errs.append(f"{where}: {v!r:.80} is not of type {types}")
            return errs
    if "const" in schema and v != schema["const"]:
        errs.append(f"{where}: {v!r:.80} is not {schema['const']!r}")
    if "enum" in schema and v not in schema["enum"]:
        errs.append(f"{where}: {v!r:.80} is not one of {schema['enum']}")
    if isinstance(v, str):
        if "minLength" in schema and len(v) < schema["minLength"]:
            errs.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(v) > schema["maxLength"]:
            errs.append(f"{where}: longer than {schema['maxLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], v):
            errs.append(f"{where}: {v!r:.80} does not match "
                        f"{schema['pattern']}")
        if "format" in schema and not _format_ok(schema["format"], v):
            errs.append(f"{where}: {v!r:.80} is not a {schema['format']}")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in schema and v < schema["minimum"]:
            errs.append(f"{where}: {v} < {schema['minimum']}")
        if "maximum" in schema and v > schema["maximum"]:
            errs.append(f"{where}: {v} > {schema['maximum']}")
    if isinstance(v, list):
        if "minItems" in schema and len(v) < schema["minItems"]:
            errs.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(v) > schema["maxItems"]:
            errs.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, x in enumerate(v):
                errs += validate(x, schema["items"], f"{where}[{i}]", doc)
    if isinstance(v, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in v:
                errs.append(f"{where}: required {k!r} is missing")
        for k, x in v.items():
            if k in props:
                errs += validate(x, props[k], f"{where}.{k}", doc)
            elif schema.get("additionalProperties") is False:
                errs.append(f"{where}: {k!r} is not documented "
                            f"(additionalProperties: false)")
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += validate(x, schema["additionalProperties"],
                                 f"{where}.{k}", doc)
            if "propertyNames" in schema:
                errs += validate(k, schema["propertyNames"],
                                 f"{where} key {k!r}", doc)
    return errs


def assert_valid(v, schema, what):
    errs = validate(v, schema)
    assert not errs, f"{what}: the answer does not match the document:\n" + \
        "\n".join(errs[:20]) + f"\nanswer: {json.dumps(v)[:1500]}"


# ---- the document against the code -----------------------------------------

def test_every_route_is_documented_and_every_operation_is_a_route():
    routes = c_routes()
    ops = doc_operations()
    assert len(routes) >= 30, f"the route regex found only {len(routes)}"
    undocumented = sorted(set(routes) - set(ops))
    not_routes = sorted(set(ops) - set(routes))
    assert not undocumented, f"routes missing from docs/openapi.json: " \
                             f"{undocumented}"
    assert not not_routes, f"documented operations that are no route: " \
                           f"{not_routes}"


def test_admin_routes_are_exactly_the_admin_operations():
    routes = c_routes()
    for key, o in doc_operations().items():
        flags = routes[key]
        assert flags in ("BK_ROUTE_ADMIN", "BK_ROUTE_PUBLIC"), (key, flags)
        sec = o.get("security")
        assert sec is not None, f"{key}: security is not stated"
        if flags == "BK_ROUTE_ADMIN":
            assert sec == [{"admin": []}], f"{key} is an admin route: {sec}"
            assert "401" in o["responses"], key
            assert o["description"].startswith("Admin"), key
        else:
            assert sec == [] or {} in sec, \
                f"{key} is public but the document requires a key: {sec}"


def test_document_shape():
    d = DOC
    assert d["openapi"].startswith("3.1."), d["openapi"]
    assert d["info"]["title"] == "bookingd"
    assert d["info"]["version"] == "0.1.0"
    assert [sv["url"] for sv in d["servers"]] == ["http://127.0.0.1:8080"]
    assert set(d) <= {"openapi", "info", "jsonSchemaDialect", "servers",
                      "paths", "webhooks", "components", "security", "tags",
                      "externalDocs"}, sorted(d)
    admin = d["components"]["securitySchemes"]["admin"]
    assert (admin["type"], admin["scheme"]) == ("http", "bearer"), admin
    for name in ["Host", "Schedule", "EventType", "Booking", "Client",
                 "Slots", "HistoryEntry", "Activity", "Delivery", "Error",
                 "ListOfHosts", "ListOfEventTypes", "ListOfBookings",
                 "ListOfClients", "ListOfDeliveries", "ListOfActivity"]:
        assert name in d["components"]["schemas"], name
    op_ids = set()
    for (method, path), o in doc_operations().items():
        where = f"{method} {path}"
        assert o.get("operationId") and o["operationId"] not in op_ids, where
        op_ids.add(o["operationId"])
        assert o.get("summary") and o.get("description"), where
        assert o.get("responses"), where
        assert any(s.startswith("2") or s in ("302", "303")
                   for s in o["responses"]), where
        # Path parameters: declared exactly for the template's names.
        params = [deref(p) for p in d["paths"][path].get("parameters", []) +
                  o.get("parameters", [])]
        declared = sorted(p["name"] for p in params if p["in"] == "path")
        assert declared == sorted(re.findall(r"\{(\w+)\}", path)), where
        for p in params:
            assert p["in"] in ("path", "query", "header"), (where, p)
            assert p.get("description") and "schema" in p, (where, p)
            if p["in"] == "path":
                assert p["required"] is True, (where, p)
        if "requestBody" in o:
            assert method in ("POST", "PUT", "PATCH"), where
            for media in o["requestBody"]["content"].values():
                body = deref(media["schema"])
                if path.startswith("/api/"):
                    # The server refuses unknown fields everywhere.
                    assert body.get("additionalProperties") is False, where
        for status, r in o["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", status), (where, status)
            r = deref(r)
            assert r.get("description"), (where, status)
            assert "X-Request-Id" in r.get("headers", {}), (where, status)
            if status >= "400":
                assert list(r["content"]) == ["application/json"], where
                assert r["content"]["application/json"]["schema"] == \
                    {"$ref": "#/components/schemas/Error"}, (where, status)
            if method == "GET" and status == "200" and \
                    path.startswith("/api/v1/") and \
                    "application/json" in r["content"] and \
                    "next_cursor" in json.dumps(
                        deref(r["content"]["application/json"]["schema"])):
                names = {deref(p)["name"] for p in o.get("parameters", [])}
                assert {"limit", "cursor"} <= names, where
    limit = d["components"]["parameters"]["limit"]["schema"]
    assert limit == {"type": "integer", "minimum": 1, "maximum": 500,
                     "default": 50}


def schema_keywords(s, where):
    """Asserts that s and its subschemas use only keywords the validator
    checks (or annotations)."""
    assert isinstance(s, dict), where
    unknown = set(s) - CHECKED - ANNOTATIONS
    assert not unknown, f"{where}: keywords the validator cannot check: " \
                        f"{sorted(unknown)}"
    for name, sub in s.get("properties", {}).items():
        schema_keywords(sub, f"{where}/properties/{name}")
    for k in ("items", "additionalProperties", "propertyNames"):
        if isinstance(s.get(k), dict):
            schema_keywords(s[k], f"{where}/{k}")
    for k in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(s.get(k, [])):
            schema_keywords(sub, f"{where}/{k}/{i}")


def test_every_ref_resolves_and_every_schema_is_checkable():
    n = [0]

    def walk(node, where):
        if isinstance(node, dict):
            if "$ref" in node:
                resolve(node["$ref"])
                n[0] += 1
            for k, v in node.items():
                if k == "schema" or where == "#/components/schemas":
                    schema_keywords(v, f"{where}/{k}")
                walk(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}/{i}")

    walk(DOC, "#")
    assert n[0] > 100, n[0]


def test_response_objects_are_closed():
    """Every object schema in a response is closed, so an undocumented
    field fails the live tests (free-form payloads excepted)."""
    free_form = {"#/components/schemas/Activity/properties/detail"}

    def walk(s, where):
        if not isinstance(s, dict):
            return
        if "$ref" in s:
            return
        t = s.get("type")
        t = [t] if isinstance(t, str) else (t or [])
        if "object" in t and where not in free_form and \
                "additionalProperties" not in s:
            raise AssertionError(f"{where} is an open object")
        for k in ("properties",):
            for name, sub in s.get(k, {}).items():
                walk(sub, f"{where}/{k}/{name}")
        for k in ("items", "additionalProperties", "propertyNames"):
            if isinstance(s.get(k), dict):
                walk(s[k], f"{where}/{k}")
        for k in ("allOf", "oneOf", "anyOf"):
            for i, sub in enumerate(s.get(k, [])):
                walk(sub, f"{where}/{k}/{i}")

    for name, s in DOC["components"]["schemas"].items():
        if name.endswith("Input") or name.endswith("Patch"):
            continue
        walk(s, f"#/components/schemas/{name}")


def test_static_file_names_are_the_embedded_files():
    cm = (ROOT / "src" / "web" / "CMakeLists.txt").read_text()
    m = re.search(r"set\(BK_WEB_FILES ([^)]*)\)", cm)
    files = {f for f in m.group(1).split() if not f.endswith(".html")}
    param = DOC["paths"]["/static/{name}"]["parameters"][0]
    assert set(param["schema"]["enum"]) == files


# ---- the document against the daemon ---------------------------------------

def _template_re(path):
    parts = re.split(r"(\{\w+\})", path)
    return re.compile("^" + "".join(
        "[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


TEMPLATES = [(p, _template_re(p)) for p in DOC["paths"]]


# The booking page's /{host} and /{host}/{event_type} take only what no
# other path has (src/api/api.c tables[]; OpenAPI: concrete paths first).
CATCH_ALL = ("/{host}", "/{host}/{event_type}")


def template_of(path):
    found = [p for p, rx in TEMPLATES if rx.match(path)]
    if len(found) > 1:
        found = [p for p in found if p not in CATCH_ALL]
    assert len(found) <= 1, f"{path} matches several paths: {found}"
    return found[0] if found else None


class Checked:
    """Calls the daemon and checks every answer against the document.
    Records which operations answered with which status."""

    def __init__(self, d):
        self.d = d
        self.seen = {}

    def call(self, method, path, expect, **kw):
        r = self.d.request(method, path, **kw)
        what = f"{method} {path} -> {r.status}"
        assert r.status == expect, f"{what}, expected {expect}: {r!r}"
        template = template_of(path)
        o = None
        if template is not None:
            o = DOC["paths"][template].get(method.lower())
        if template is None:
            resp = DOC["components"]["responses"]["NotFound"]
            assert r.status == 404, what
        elif o is None:
            resp = DOC["components"]["responses"]["MethodNotAllowed"]
            assert r.status == 405, what
        else:
            assert str(r.status) in o["responses"], \
                f"{what}: status not documented for this operation " \
                f"({sorted(o['responses'])})"
            resp = deref(o["responses"][str(r.status)])
            self.seen.setdefault((method, template), set()).add(r.status)
        self._check(r, resp, what)
        return r

    def _check(self, r, resp, what):
        for name, h in resp.get("headers", {}).items():
            h = deref(h)
            value = r.header(name)
            if h.get("required"):
                assert value is not None, f"{what}: no {name} header"
            if value is not None and "pattern" in h["schema"]:
                assert re.search(h["schema"]["pattern"], value), \
                    f"{what}: {name}: {value!r}"
        content = resp.get("content")
        if not content:
            assert r.body == b"", f"{what}: a body where none is documented"
            return
        ctype = (r.header("Content-Type") or "").replace(" ", "").lower()
        media = {k.replace(" ", "").lower(): v for k, v in content.items()}
        assert ctype in media, \
            f"{what}: Content-Type {ctype!r} is not one of {list(content)}"
        if ctype.startswith("application/json"):
            assert_valid(r.json, media[ctype]["schema"], what)
        else:
            assert r.body, f"{what}: empty body"

    def get(self, path, expect=200, **kw):
        return self.call("GET", path, expect, **kw)

    def post(self, path, body=None, expect=200, **kw):
        if body is not None:
            kw["body"] = body
        return self.call("POST", path, expect, **kw)

    def put(self, path, body, expect=200, **kw):
        return self.call("PUT", path, expect, body=body, **kw)

    def patch(self, path, body, expect=200, **kw):
        return self.call("PATCH", path, expect, body=body, **kw)

    def delete(self, path, expect=204, **kw):
        return self.call("DELETE", path, expect, **kw)


def first_slots(a, slug, n, timezone="Europe/Berlin"):
    frm = today_in(timezone) + dt.timedelta(days=2)
    j = a.get(f"/api/v1/event-types/{slug}/slots",
              query={"from": str(frm), "to": str(frm + dt.timedelta(days=6)),
                     "timezone": timezone}).json
    starts = [s["start"] for day in sorted(j["slots"])
              for s in j["slots"][day]]
    assert len(starts) >= n + 1, j
    return starts[:n - 1] + starts[-1:]  # the last far from the others


@pytest.mark.timeout(240)
def test_every_operation_answers_as_documented(make_daemon, tmp_path):
    from test_calendars import KEY
    from google_fake import GoogleFake
    fake = StripeFake(tmp_path, new_webhook_secret())
    google = GoogleFake()
    from calendly_fake import CalendlyFake
    calendly = CalendlyFake("unused-pat")
    calendly.enable_oauth("cid-openapi", "secret-openapi")
    try:
        d = cal.start_calcom(make_daemon, BOOKINGD_SECRET_KEY=KEY,
                             CALENDLY_CLIENT_ID=calendly.client_id,
                             CALENDLY_CLIENT_SECRET=calendly.client_secret,
                             CALENDLY_OAUTH_BASE=calendly.base,
                             CALENDLY_API_BASE=calendly.base,
                             BOOKINGD_CALENDAR_ALLOW_PRIVATE="1",
                             GOOGLE_CLIENT_ID=google.client_id,
                             GOOGLE_CLIENT_SECRET=google.client_secret,
                             GOOGLE_API_BASE=google.base + "/calendar/v3",
                             GOOGLE_OAUTH_BASE=google.base,
                             **stripe_env(fake))
        fake.point_at(d)
        FAKE_OF[d.port] = fake
        d.google = google
        d.calendly = calendly
        every_operation(d, tmp_path)
    finally:
        fake.stop()
        google.close()
        calendly.close()


def every_operation(d, tmp_path):
    from test_calendars import PASSWORD, USER, Radicale
    a = Checked(d)
    adm = {"admin": True}

    a.get("/healthz")
    a.get("/readyz")
    a.get("/metrics", **adm)

    # Hosts and schedules.
    a.post("/api/v1/hosts", {"slug": "coach", "name": "Coach",
                             "email": "coach@example.com",
                             "timezone": "Europe/Berlin"}, 201, **adm)
    a.post("/api/v1/hosts", {"slug": "spare", "name": "Spare",
                             "email": "spare@example.com",
                             "timezone": "UTC"}, 201, **adm)
    page = a.get("/api/v1/hosts", query={"limit": "1"}, **adm).json
    assert isinstance(page["next_cursor"], str), page
    a.get("/api/v1/hosts", query={"cursor": page["next_cursor"]}, **adm)
    a.get("/api/v1/hosts/coach", **adm)
    a.patch("/api/v1/hosts/coach", {"name": "Coach Carter",
                                     "photo_url": "https://example.com/c.jpg",
                                     "bio": "Runs.\nCoaches."}, **adm)
    a.get("/api/v1/hosts/coach/profile")
    s = a.put("/api/v1/hosts/coach/schedule", {
        "timezone": "Europe/Berlin", "weekly": weekly_all_days(),
        "overrides": [{"date": "2031-12-24", "start": "09:00",
                       "end": "12:00"},
                      {"date": "2031-12-25", "unavailable": True}]},
        **adm).json
    assert len(s["overrides"]) == 2, s
    a.get("/api/v1/hosts/coach/schedule", **adm)

    # Event types.
    et = a.post("/api/v1/event-types", {
        "slug": "intro", "title": "Intro call", "host": "coach",
        "duration_minutes": 30, "price": None,
        "location": {"kind": "video", "value": "https://meet.example/x"}},
        201, **adm).json
    a.post("/api/v1/event-types", {
        "slug": "paid", "title": "Paid call", "host": "coach",
        "duration_minutes": 30, "price": {"amount": 4500, "currency": "EUR"}},
        201, **adm)
    assert et["imported"] is False and et["max_per_day"] is None, et
    a.post("/api/v1/event-types", {
        "slug": "walk", "title": "Walk", "host": "coach",
        "description": "Outside", "duration_minutes": 45,
        "slot_interval_minutes": 15, "buffer_after_minutes": 15,
        "max_per_day": 3, "slot_alignment": "range_start",
        "location": {"kind": "in_person", "value": "The park"}}, 201, **adm)
    a.post("/api/v1/event-types", {
        "slug": "old", "title": "Old", "host": "spare",
        "duration_minutes": 60, "active": False}, 201, **adm)
    a.get("/api/v1/event-types")
    a.get("/api/v1/event-types", **adm)
    a.get("/api/v1/event-types", query={"active": "false", "limit": "1"},
          **adm)
    pub = a.get("/api/v1/event-types/intro").json
    assert "created_at" not in pub, pub
    a.get("/api/v1/event-types/old", **adm)
    a.patch("/api/v1/event-types/walk", {"description": None,
                                         "max_per_day": None}, **adm)
    a.patch("/api/v1/event-types/intro", {"questions": [
        {"id": "goal", "label": "Goal", "type": "text", "required": True},
        {"id": "level", "label": "Level", "type": "select",
         "options": ["New", "Old"]},
        {"id": "ok", "label": "OK?", "type": "checkbox"},
        {"id": "tel", "label": "Phone", "type": "phone"}]}, **adm)
    a.get("/api/v1/event-types/intro/slots")
    a.get("/api/v1/event-types/intro/slots",
          query={"timezone": "America/New_York"}, **adm)

    # Bookings.
    s1, s2, s3 = first_slots(a, "intro", 3)
    web = a.post("/api/v1/bookings", {
        "event_type": "intro", "start": s1, "notes": "Hi",
        "answers": {"goal": "Run", "level": "New", "ok": True,
                    "tel": "+1 555 0100"},
        "attendee": {"name": "Ada Lovelace", "email": "ada@example.com",
                     "timezone": "Europe/London"}}, 201).json
    assert web["source"] == "web" and web["meeting_url"], web
    api = a.post("/api/v1/bookings", {
        "event_type": "intro", "start": s2, "answers": {"goal": "Walk"},
        "attendee": {"name": "Bob", "email": "bob@example.com"}},
        201, **adm).json
    assert api["source"] == "api", api
    uid, token = web["uid"], web["manage_token"]
    got = a.get(f"/api/v1/bookings/{uid}", query={"token": token}).json
    assert "manage_token" not in got, got
    got = a.get(f"/api/v1/bookings/{uid}",
                query={"timezone": "Asia/Tokyo"}, **adm).json
    assert got["manage_token"] == token, got
    a.get("/api/v1/event-types/intro/slots",
          query={"exclude": uid, "token": token})
    # A priced event type: pending, with Stripe's page (the contract
    # fake); "retry payment" answers the page still open.
    j = a.get("/api/v1/event-types/paid/slots").json
    starts = [x["start"] for day in sorted(j["slots"]) for x in j["slots"][day]]
    p1 = starts[len(starts) // 2]
    paid = a.post("/api/v1/bookings", {
        "event_type": "paid", "start": p1,
        "attendee": {"name": "Paula", "email": "paula@example.com"}},
        201).json
    assert paid["status"] == "pending" and paid["checkout_url"], paid
    again = a.post(f"/api/v1/bookings/{paid['uid']}/payment", {},
                   query={"token": paid["manage_token"]}).json
    assert again["checkout_url"] == paid["checkout_url"], again
    # Paid on the fake, then refunded by the admin.
    fake_sid = again["checkout_url"].rsplit("/", 1)[1]
    FAKE_OF[d.port].complete(fake_sid)
    for _ in range(600):
        if a.get(f"/api/v1/bookings/{paid['uid']}",
                 **adm).json["payment_status"] == "paid":
            break
        time.sleep(0.05)
    a.post(f"/api/v1/bookings/{paid['uid']}/refund", {"amount": 100}, 202,
           **adm)
    a.get("/api/v1/metrics/summary", query={"interval": "week"}, **adm)
    invoices = a.get("/api/v1/invoices", query={"limit": "5"}, **adm).json
    assert invoices["data"], invoices
    a.get(f"/api/v1/invoices/{invoices['data'][0]['number']}", **adm)
    a.get("/api/v1/invoices/INV-1999-0001", 404, **adm)
    a.post("/api/v1/packages", {
        "slug": "five", "name": "Five", "event_types": ["paid"],
        "sessions": 5, "price": {"amount": 100, "currency": "EUR"}}, 201,
        **adm)
    a.get("/api/v1/packages")
    a.get("/api/v1/packages", **adm)
    a.get(f"/api/v1/invoices/{invoices['data'][0]['number']}/html", **adm)
    a.get("/api/v1/invoices", 400, query={"status": "x"}, **adm)
    moved = a.post(f"/api/v1/bookings/{uid}/reschedule", {"start": s3},
                   query={"token": token}).json
    assert moved["rescheduled_from"], moved
    (w1,) = first_slots(a, "walk", 1)
    a.post("/api/v1/bookings", {
        "event_type": "walk", "start": w1,
        "attendee": {"name": "Ada", "email": "ADA@example.com"}}, 201)
    a.post(f"/api/v1/bookings/{api['uid']}/cancel",
           {"reason": "Ill"}, **adm)
    a.post(f"/api/v1/bookings/{uid}/cancel", query={"token": token},
           raw=b"", content_type=None)
    hist = a.get(f"/api/v1/bookings/{uid}/history",
                 query={"timezone": "Europe/Paris"}, **adm).json
    assert {"status", "start", "end"} <= \
        {k for h in hist["data"] for k in h["changes"]}, hist
    msgs = a.get(f"/api/v1/bookings/{uid}/messages",
                 query={"timezone": "Europe/Paris"}, **adm).json
    assert msgs["booking"] == uid, msgs
    assert b"BEGIN:VCALENDAR" in a.get(f"/api/v1/bookings/{uid}/ics",
                                       query={"token": token}).body
    a.get(f"/api/v1/bookings/{uid}/ics", **adm)
    page = a.get("/api/v1/bookings", query={"limit": "1"}, **adm).json
    a.get("/api/v1/bookings", query={"cursor": page["next_cursor"]}, **adm)
    a.get("/api/v1/bookings", query={
        "status": "cancelled", "source": "web", "event_type": "intro",
        "client": "ada@example.com", "from": str(dt.date.today()),
        "to": "2099-01-01T00:00:00Z", "timezone": "Europe/Berlin"}, **adm)

    # Clients.
    clients = a.get("/api/v1/clients", query={"status": "prospect"},
                    **adm).json["data"]
    ada = [c for c in clients if c["email"] == "ada@example.com"]
    assert ada, clients
    cid = ada[0]["id"]
    a.get(f"/api/v1/clients/{cid}", **adm)
    a.patch(f"/api/v1/clients/{cid}", {"name": "Ada L.",
                                       "timezone": "Europe/London"}, **adm)
    a.get("/api/v1/clients", query={"email": "ADA@EXAMPLE.COM"}, **adm)

    # Webhooks: a Cal.com booking (signed fixture), a duplicate, an
    # ignored trigger; the inbox; a replay.
    body = cal.body_of(cal.created())
    hdrs = {"X-Cal-Signature-256": cal.sign(d.secret, body)}
    r = a.post("/webhooks/calcom", raw=body, headers=hdrs).json
    assert r["status"] == "received", r
    cal.wait_processed(d, r["delivery"])
    assert a.post("/webhooks/calcom", raw=body,
                  headers=hdrs).json["status"] == "duplicate"
    ign = cal.fixture_bytes("booking_requested")
    assert a.post("/webhooks/calcom", raw=ign, headers={
        "X-Cal-Signature-256": cal.sign(d.secret, ign)}
    ).json["status"] == "ignored"
    a.get("/api/v1/webhook-deliveries", **adm)
    a.get("/api/v1/webhook-deliveries",
          query={"provider": "calcom", "status": "processed",
                 "limit": "1"}, **adm)
    dl = a.get(f"/api/v1/webhook-deliveries/{r['delivery']}", **adm).json
    assert dl["payload"] and dl["processed_at"], dl
    a.post(f"/api/v1/webhook-deliveries/{r['delivery']}/replay", None, 202,
           **adm)
    cal.wait_processed(d, r["delivery"])
    linked = a.get("/api/v1/bookings", query={"source": "calcom"},
                   **adm).json["data"]
    assert linked and linked[0]["links"], linked
    imported = [e for e in a.get("/api/v1/event-types", **adm).json["data"]
                if e["imported"]]
    assert imported and imported[0]["calcom_event_type_id"], imported

    # The jobs admin: the delivery's job, listed, read and replayed.
    jobs = a.get("/api/v1/jobs", query={"kind": "inbox.apply",
                                        "status": "done", "limit": "1"},
                 **adm).json["data"]
    assert jobs, jobs
    a.get("/api/v1/jobs", **adm)
    a.get(f"/api/v1/jobs/{jobs[0]['id']}", **adm)
    a.post(f"/api/v1/jobs/{jobs[0]['id']}/replay", None, 202, **adm)

    # Outbound webhooks: an endpoint (never reached: .invalid does not
    # resolve), a client change that makes it a message, a replay.
    ep = a.post("/api/v1/webhook-endpoints", {
        "url": "https://hooks.invalid/in", "events": ["client.updated"],
        "description": "CRM"}, 201, **adm).json
    assert ep["secret"].startswith("whsec_"), ep
    a.get("/api/v1/webhook-endpoints", **adm)
    a.get(f"/api/v1/webhook-endpoints/{ep['id']}", **adm)
    a.patch(f"/api/v1/webhook-endpoints/{ep['id']}",
            {"events": ["client.updated", "booking.created"],
             "description": None}, **adm)
    a.patch(f"/api/v1/clients/{cid}", {"name": "Ada Lovelace"}, **adm)
    msgs = cal.wait_until(lambda: a.get(
        f"/api/v1/webhook-endpoints/{ep['id']}/messages",
        **adm).json["data"], 30, "a message")
    # Its first attempt over (a running job cannot be replayed: 409).
    cal.wait_until(lambda: a.get(
        f"/api/v1/webhook-endpoints/{ep['id']}/messages",
        **adm).json["data"][0]["attempts"] >= 1 and not a.get(
        "/api/v1/jobs", query={"kind": "webhooks.send", "status": "running"},
        **adm).json["data"], 30, "the first attempt")
    # The message's retry can start again between that check and the
    # replay: a 409 is then waited out (bounded), the 202 checked as
    # documented.
    replay = (f"/api/v1/webhook-endpoints/{ep['id']}/messages/"
              f"{msgs[0]['id']}/replay")
    deadline = time.monotonic() + 60
    while True:
        try:
            a.post(replay, None, 202, **adm)
            break
        except AssertionError as ex:
            if "is running" not in str(ex) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    a.delete(f"/api/v1/webhook-endpoints/{ep['id']}", **adm)

    # Calendar connections, against a real Radicale (test_calendars.py).
    rad = Radicale(tmp_path / "radicale")
    rad.start()
    try:
        rad.client().principal().make_calendar(name="Work", cal_id="work")
        conn = a.post("/api/v1/hosts/coach/calendars", {
            "kind": "caldav", "url": rad.url, "username": USER,
            "password": PASSWORD}, 201, **adm).json
        a.get("/api/v1/hosts/coach/calendars", **adm)
        a.get(f"/api/v1/calendars/{conn['id']}", **adm)
        href = conn["calendars"][0]["href"]
        a.patch(f"/api/v1/calendars/{conn['id']}",
                {"write_calendar": href, "busy_calendars": [href],
                 "on_cancel": "mark_cancelled"}, **adm)
        a.post("/api/v1/sync", {"connection": conn["id"]}, **adm)
        a.delete(f"/api/v1/calendars/{conn['id']}", **adm)
    finally:
        rad.stop()
    # Google Calendar (test_google_calendar.py): the redirect to the
    # consent page, the callback, a hostile callback.
    from test_google_calendar import consent
    r = a.get("/api/v1/hosts/coach/calendars/google/authorize", 302, **adm)
    a.get("/oauth/google/callback", 403, query={"state": "x.y", "code": "c"})
    back = urllib.parse.urlsplit(consent(a.d.google, r.header("Location")))
    g = a.get(back.path, 201,
              query=dict(urllib.parse.parse_qsl(back.query))).json
    a.get(f"/api/v1/calendars/{g['id']}", **adm)
    a.delete(f"/api/v1/calendars/{g['id']}", **adm)

    # Calendly OAuth (test_calendly_oauth.py): status, the redirect to the
    # consent page, the callback, a hostile callback, forgetting.
    a.get("/api/v1/calendly", **adm)
    r = a.get("/api/v1/calendly/authorize", 302, **adm)
    a.get("/oauth/calendly/callback", 403, query={"state": "x.y", "code": "c"})
    back = urllib.parse.urlsplit(a.d.calendly.consent(r.header("Location")))
    a.get(back.path, 200, query=dict(urllib.parse.parse_qsl(back.query)))
    a.get("/api/v1/calendly", **adm)
    a.delete("/api/v1/calendly", 204, **adm)

    # The activity log.
    a.get("/api/v1/activity", **adm)
    a.get("/api/v1/activity", query={"kind": "BOOKING_CREATED",
                                     "booking": uid, "limit": "1"}, **adm)
    # The providers' rate limits and breakers (after the calls above:
    # caldav:<host> and google at least).
    provs = a.get("/api/v1/providers", **adm).json["data"]
    assert "google" in [p["provider"] for p in provs]

    # The host's calendar feed.
    feed = a.get("/api/v1/hosts/coach/calendar-feed", **adm).json
    u = urllib.parse.urlsplit(feed["url"])
    a.get(u.path, query=dict(urllib.parse.parse_qsl(u.query)))

    # Deleting.
    a.post("/api/v1/event-types", {"slug": "gone", "title": "Gone",
                                   "host": "spare", "duration_minutes": 15},
           201, **adm)
    a.delete("/api/v1/event-types/gone", **adm)
    a.delete("/api/v1/event-types/old", **adm)
    a.delete("/api/v1/hosts/spare", **adm)

    # Pages.
    a.get("/")
    a.get("/coach")
    a.get("/coach/intro")
    a.get("/nobody", 404)
    a.get("/coach/nothing", 404)
    a.get(f"/manage/{uid}", query={"token": token})
    a.get("/static/app.css")
    a.get("/static/book.js")

    # The admin pages and their session (docs/admin.md).
    a.get("/admin/login")
    a.get("/admin", 303)
    origin = {"Origin": f"http://127.0.0.1:{a.d.port}"}
    r = a.post("/admin/login", {"key": "wrong"}, 401, headers=origin)
    r = a.post("/admin/login", {"key": a.d.admin_key}, 200, headers=origin)
    cookie = {"Cookie": r.header("Set-Cookie").split(";")[0]}
    csrf = r.json["csrf_token"]
    a.get("/admin/session", headers=cookie)
    for page in ("/admin", "/admin/bookings", f"/admin/bookings/{uid}",
                 "/admin/clients", "/admin/clients/x", "/admin/event-types",
                 "/admin/event-types/intro", "/admin/hosts",
                 "/admin/hosts/coach", "/admin/deliveries",
                 "/admin/integrations", "/admin/metrics"):
        a.get(page, headers=cookie)
    a.post("/admin/logout", None, 403, headers=dict(cookie, **origin))
    a.post("/admin/logout", None, 204,
           headers=dict(cookie, **origin, **{"X-CSRF-Token": csrf}))
    a.get("/admin/session", 401, headers=cookie)

    # Every documented operation answered 2xx (or its redirect) at least
    # once.
    missing = sorted(k for k in doc_operations()
                     if not any(200 <= s < 300 or s in (302, 303)
                                for s in a.seen.get(k, ())))
    assert not missing, f"operations never exercised: {missing}"


@pytest.mark.timeout(240)
def test_error_answers_are_documented(make_daemon):
    d = make_daemon()  # no CALCOM_WEBHOOK_SECRET: webhooks are 503
    a = Checked(d)
    adm = {"admin": True}
    error_schema = DOC["components"]["schemas"]["Error"]

    def err(r, status, code, field=None):
        assert_valid(r.json, error_schema, f"{status} {code}")
        e = assert_error(r, status, code)
        if field is not None:
            assert e["details"].get("field") == field, e
        return e

    host = {"slug": "coach", "name": "Coach", "email": "coach@example.com",
            "timezone": "Europe/Berlin"}
    a.post("/api/v1/hosts", host, 201, **adm)
    a.put("/api/v1/hosts/coach/schedule",
          {"timezone": "Europe/Berlin", "weekly": weekly_all_days()}, **adm)
    a.post("/api/v1/event-types", {"slug": "intro", "title": "Intro",
                                   "host": "coach", "duration_minutes": 30},
           201, **adm)

    # 422 invalid_field
    err(a.post("/api/v1/hosts", dict(host, slug="x", extra=1), 422, **adm),
        422, "invalid_field", "extra")
    err(a.post("/api/v1/event-types", {"slug": "y", "title": "Y",
                                       "host": "nobody",
                                       "duration_minutes": 30}, 422, **adm),
        422, "invalid_field", "host")
    # No STRIPE_SECRET_KEY: a priced event type is not booked publicly,
    # and there is no payment to retry (docs/payments.md).
    a.post("/api/v1/event-types", {"slug": "paid", "title": "Paid",
                                   "host": "coach", "duration_minutes": 30,
                                   "price": {"amount": 100,
                                             "currency": "EUR"}},
           201, **adm)
    p1, = first_slots(a, "paid", 1)
    err(a.post("/api/v1/bookings", {
        "event_type": "paid", "start": p1,
        "attendee": {"name": "Ada", "email": "ada@example.com"}}, 503),
        503, "payments_not_configured")
    s1, = first_slots(a, "intro", 1)
    free_b = a.post("/api/v1/bookings", {
        "event_type": "intro", "start": s1,
        "attendee": {"name": "Ada", "email": "ada@example.com"}}, 201).json
    err(a.post(f"/api/v1/bookings/{free_b['uid']}/payment", {}, 503,
               query={"token": free_b["manage_token"]}), 503,
        "payments_not_configured")
    s1, = first_slots(a, "intro", 1)
    err(a.post("/api/v1/bookings", {"event_type": "intro", "start": s1,
                                    "attendee": {"name": "A",
                                                 "email": "nope"}}, 422),
        422, "invalid_field", "attendee.email")
    # 404 not_found
    err(a.get("/api/v1/hosts/nobody", 404, **adm), 404, "not_found")
    err(a.get("/api/v1/hosts/nobody/profile", 404), 404, "not_found")
    err(a.get("/api/v1/event-types/nothing/slots", 404), 404, "not_found")
    err(a.get("/static/index.html", 404), 404, "not_found")
    err(a.post("/webhooks/acme", {}, 404), 404, "not_found")
    err(a.get("/no/such/path", 404), 404, "not_found")
    # 401 unauthorized
    err(a.get("/api/v1/hosts", 401), 401, "unauthorized")
    err(a.get("/api/v1/event-types", 401, admin="wrong-key-0123456789"),
        401, "unauthorized")
    b = a.post("/api/v1/bookings", {"event_type": "intro", "start": s1,
                                    "attendee": {"name": "A",
                                                 "email": "a@example.com"}},
               201).json
    err(a.get(f"/api/v1/bookings/{b['uid']}", 401,
              query={"token": "x" * 43}), 401, "unauthorized")
    # 409
    err(a.post("/api/v1/hosts", host, 409, **adm), 409, "duplicate")
    err(a.post("/api/v1/bookings", {"event_type": "intro", "start": s1,
                                    "attendee": {"name": "B",
                                                 "email": "b@example.com"}},
               409), 409, "slot_unavailable")
    err(a.delete("/api/v1/event-types/intro", 409, **adm), 409, "conflict")
    a.post(f"/api/v1/bookings/{b['uid']}/cancel", {}, **adm)
    err(a.post(f"/api/v1/bookings/{b['uid']}/cancel", {}, 409, **adm),
        409, "illegal_transition")
    # 400
    err(a.get("/api/v1/hosts", 400, query={"limit": "0"}, **adm),
        400, "invalid_query", "limit")
    err(a.get("/api/v1/event-types/intro/slots", 400,
              query={"from": "2030-01-10", "to": "2030-01-01"}),
        400, "invalid_query", "to")
    err(a.call("POST", "/api/v1/hosts", 400, raw=b"[1]", **adm),
        400, "invalid_json")
    # 405, 413, 415
    r = a.call("DELETE", "/healthz", 405)
    err(r, 405, "method_not_allowed")
    assert r.header("Allow") == "GET", r.headers
    err(a.call("POST", "/api/v1/hosts", 413,
               raw=b'{"a":"' + b"x" * (1024 * 1024 + 10) + b'"}', **adm),
        413, "payload_too_large")
    err(a.call("POST", "/api/v1/hosts", 415, raw=json.dumps(host).encode(),
               content_type="text/plain", **adm),
        415, "unsupported_media_type")
    # 503 not_configured
    err(a.post("/webhooks/calcom", {"triggerEvent": "BOOKING_CREATED"}, 503),
        503, "not_configured")
