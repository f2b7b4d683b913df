"""Operations (API.md "Operations", "Conventions"): /healthz, /readyz,
X-Request-Id, the JSON 404 and the 405 with Allow."""
from conftest import assert_error


def test_healthz(daemon):
    r = daemon.get("/healthz")
    assert r.status == 200
    assert r.header("Content-Type").startswith("application/json")
    assert r.json == {"status": "ok"}
    assert r.header("X-Request-Id")


def test_healthz_needs_no_key_and_ignores_a_wrong_one(daemon):
    r = daemon.get("/healthz", admin="wrong-key-wrong-key-wrong")
    assert r.status == 200, r
    assert r.json == {"status": "ok"}


def test_head_healthz_has_no_body(daemon):
    r = daemon.request("HEAD", "/healthz")
    assert r.status == 200
    assert r.body == b""
    assert r.header("X-Request-Id")


def test_readyz_checks_the_database(daemon):
    r = daemon.get("/readyz")
    assert r.status == 200, r
    assert r.json["status"] == "ready"
    assert r.json["database"] == daemon.backend  # "sqlite" or "postgres"


def test_request_ids_are_generated_and_unique(daemon):
    ids = set()
    for path in ["/healthz", "/readyz", "/nope", "/healthz"]:
        r = daemon.get(path)
        rid = r.header("X-Request-Id")
        assert rid and len(rid) <= 64, r.headers
        ids.add(rid)
    assert len(ids) == 4


def test_sane_request_id_is_echoed(daemon):
    for rid in ["abc-123", "req_42.A-z", "x" * 64]:
        r = daemon.get("/healthz", headers={"X-Request-Id": rid})
        assert r.status == 200
        assert r.header("X-Request-Id") == rid


def test_sane_request_id_is_echoed_in_errors(daemon):
    r = daemon.get("/api/v1/hosts", headers={"X-Request-Id": "trace-7"})
    e = assert_error(r, 401, "unauthorized")
    assert r.header("X-Request-Id") == "trace-7"
    assert e["details"].get("request_id") == "trace-7"


def test_insane_request_id_is_replaced(daemon):
    for rid in ["x" * 65, "a b", "<script>", "a/b", "ä", "a;b=c", "..%00"]:
        r = daemon.get("/healthz", headers={"X-Request-Id": rid})
        assert r.status == 200, (rid, r)
        got = r.header("X-Request-Id")
        assert got and got != rid, (rid, got)
        assert len(got) <= 64 and all(c.isalnum() or c in "-_." for c in got)


def test_unknown_paths_are_json_404(daemon):
    for path in ["/nope", "/api/v1", "/api/v1/", "/api/v2/hosts",
                 "/api/v1/hosts/a/b/c", "/healthz/", "//healthz",
                 "/api/v1/event-types/x/slots/y"]:
        r = daemon.get(path)
        assert_error(r, 404, "not_found")


def test_unknown_paths_with_admin_key_are_404(daemon):
    assert_error(daemon.get("/api/v1/nothing", admin=True), 404, "not_found")


def test_wrong_method_is_405_with_allow(daemon):
    cases = [
        ("DELETE", "/healthz", {"GET"}),
        ("POST", "/readyz", {"GET"}),
        ("PUT", "/api/v1/hosts", {"GET", "POST"}),
        ("POST", "/api/v1/hosts/someone", {"GET", "PATCH", "DELETE"}),
        ("DELETE", "/api/v1/hosts/someone/schedule", {"GET", "PUT"}),
        ("PUT", "/api/v1/bookings", {"GET", "POST"}),
        ("DELETE", "/api/v1/bookings/abc/cancel", {"POST"}),
        ("GET", "/api/v1/bookings/abc/reschedule", {"POST"}),
        ("PATCH", "/api/v1/event-types/x/slots", {"GET"}),
        ("POST", "/api/v1/clients/cli_x", {"GET", "PATCH"}),
        # Two segments, as a booking page /{host}/{event_type} has: the
        # catch-all page route does not hide another route's 405.
        ("GET", "/webhooks/calcom", {"POST"}),
    ]
    for method, path, allowed in cases:
        r = daemon.request(method, path, admin=True)
        assert_error(r, 405, "method_not_allowed")
        allow = r.header("Allow")
        assert allow, (method, path, r.headers)
        got = {m.strip() for m in allow.split(",")}
        # HEAD is implied by GET and may or may not be listed.
        assert got - {"HEAD"} == allowed, (method, path, allow)


def test_405_comes_before_authentication(daemon):
    # The path exists but not with this method: no key is needed to learn
    # that, and a 401 would mislead the client.
    r = daemon.request("PUT", "/api/v1/hosts")
    assert_error(r, 405, "method_not_allowed")


def test_unknown_method_is_refused(daemon):
    r = daemon.request("BREW", "/healthz")
    assert r.status in (400, 405, 501), r
    if r.status == 405:
        assert_error(r, 405)


def test_json_responses_are_not_sniffed(daemon):
    r = daemon.get("/healthz")
    assert r.header("X-Content-Type-Options") == "nosniff"


def test_booking_page_is_served(daemon):
    r = daemon.get("/")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/html")
    assert r.header("X-Request-Id")
