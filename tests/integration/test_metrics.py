"""GET /metrics (issue 12, "Operations"): HTTP requests by route and status
with latency histograms, connection counts, database errors by class, in
Prometheus text format 0.0.4; parsed here line by line."""
import http.client
import math
import re
import secrets
import socket
import time

from conftest import Response

SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse(text):
    """{(name, frozenset(labels)): value}, and {family: type}. Fails on a
    line that is not a comment or a sample, or a sample whose family has
    no # TYPE before it."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, fam, typ = line.split(" ", 3)
            assert fam not in types, f"two # TYPE for {fam}"
            types[fam] = typ
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample: {line!r}"
        name, labels, value = m.groups()
        pairs = {}
        rest = labels or ""
        while rest:
            lm = LABEL.match(rest)
            assert lm, f"bad labels in {line!r}"
            pairs[lm.group(1)] = lm.group(2)
            rest = rest[lm.end():]
        fam = re.sub(r"_(bucket|sum|count)$", "", name) \
            if name not in types else name
        assert fam in types, f"{name} has no # TYPE before it"
        key = (name, frozenset(pairs.items()))
        assert key not in samples, f"duplicate series {line!r}"
        samples[key] = float(value)
    return samples, types


def scrape(d):
    r = d.get("/metrics", admin=True)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4")
    return parse(r.body.decode())


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def series_of(samples, name):
    return {dict(k[1]).get("route") for k in samples if k[0] == name}


def request_from(d, source, path, admin=False):
    """GET path from the loopback address source (127.0.0.2 ...)."""
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30,
                                      source_address=(source, 0))
    try:
        hdrs = {"Authorization": f"Bearer {d.admin_key}"} if admin else {}
        conn.request("GET", path, headers=hdrs)
        r = conn.getresponse()
        return Response(r.status, r.headers, r.read())
    finally:
        conn.close()


def check_histograms(samples):
    """Every histogram: buckets cumulative in le, +Inf equal to _count,
    a _sum that is not negative."""
    by_series = {}
    for (name, labels), v in samples.items():
        if name == "bookingd_http_request_duration_seconds_bucket":
            d = dict(labels)
            le = d.pop("le")
            by_series.setdefault(frozenset(d.items()), []).append(
                (math.inf if le == "+Inf" else float(le), v))
    assert by_series, "no histogram"
    for labels, buckets in by_series.items():
        buckets.sort()
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), (labels, buckets)
        assert buckets[-1][0] == math.inf, (labels, buckets)
        count = samples[("bookingd_http_request_duration_seconds_count",
                         labels)]
        assert buckets[-1][1] == count, (labels, buckets, count)
        assert samples[("bookingd_http_request_duration_seconds_sum",
                        labels)] >= 0
    return by_series


def test_requests_by_route_and_status_with_histograms(daemon):
    s0, _ = scrape(daemon)  # the harness's own requests came before

    def since(s, **labels):
        return value(s, "bookingd_http_requests_total", **labels) - \
            value(s0, "bookingd_http_requests_total", **labels)

    for _ in range(3):
        assert daemon.get("/healthz").status == 200
    assert daemon.get("/api/v1/hosts").status == 401
    assert daemon.get("/api/v1/hosts", admin=True).status == 200
    assert daemon.get("/api/v1/hosts/nobody", admin=True).status == 404
    s, types = scrape(daemon)
    assert types["bookingd_http_requests_total"] == "counter"
    assert types["bookingd_http_request_duration_seconds"] == "histogram"
    assert since(s, route="/healthz", method="GET", status="200") == 3
    assert since(s, route="/api/v1/hosts", method="GET", status="401") == 1
    assert since(s, route="/api/v1/hosts", method="GET", status="200") == 1
    # The route's pattern, never the path asked for.
    assert since(s, route="/api/v1/hosts/{slug}", method="GET",
                 status="404") == 1
    hist = check_histograms(s)
    assert frozenset({("route", "/healthz"), ("method", "GET")}) in hist

    # Counters only grow, by what was asked in between.
    before = value(s, "bookingd_http_requests_total", route="/healthz",
                   method="GET", status="200")
    for _ in range(5):
        daemon.get("/healthz")
    s2, _ = scrape(daemon)
    assert value(s2, "bookingd_http_requests_total", route="/healthz",
                 method="GET", status="200") == before + 5
    for key, v in s.items():
        if key[0].endswith(("_total", "_bucket", "_count", "_sum")):
            assert s2.get(key, 0) >= v, (key, v, s2.get(key))
    # The first scrape was counted once it was sent.
    assert value(s2, "bookingd_http_requests_total", route="/metrics",
                 method="GET", status="200") >= 1
    check_histograms(s2)


def test_unknown_paths_add_no_label_values(daemon):
    # The series the loop below may touch, made first: a one-segment path
    # is a booking page's /{host} (a 404 for an unknown host), an invalid
    # one and an unknown method are "unmatched".
    daemon.get("/warm-up-404")
    daemon.get("/api/v1/warm-up/x%ff%00")
    daemon.request("BREW", "/warm-up-404")
    s1, _ = scrape(daemon)
    keys1 = {k for k in s1 if k[0].startswith("bookingd_http_request")}
    n = 25
    for _ in range(n):
        daemon.get("/nope-" + secrets.token_hex(8))
        daemon.get("/api/v1/" + secrets.token_hex(8) + "/x%ff%00")
        daemon.request("BREW", "/" + secrets.token_hex(4))
    s2, _ = scrape(daemon)
    keys2 = {k for k in s2 if k[0].startswith("bookingd_http_request")}
    # The scrape itself may have added /metrics series; nothing else.
    new = {k for k in keys2 - keys1 if dict(k[1]).get("route") != "/metrics"}
    assert not new, new
    routes = series_of(s2, "bookingd_http_requests_total")
    assert not any("nope" in r for r in routes), routes
    assert value(s2, "bookingd_http_requests_total", route="unmatched",
                 method="GET", status="404") == 1 + n
    assert value(s2, "bookingd_http_requests_total", route="/{host}",
                 method="GET", status="404") == 1 + n
    for m, v in ((k, v) for k, v in s2.items()
                 if k[0] == "bookingd_http_requests_total"):
        assert dict(m[1])["method"] in {"GET", "HEAD", "POST", "PUT",
                                        "PATCH", "DELETE", "OPTIONS",
                                        "other"}, m


def test_connections_open_accepted_and_refused(make_daemon):
    d = make_daemon(env={"BOOKINGD_MAX_CONNECTIONS_PER_IP": "3"})
    s, types = scrape(d)
    assert types["bookingd_http_connections_open"] == "gauge"
    assert types["bookingd_http_connections_refused_total"] == "counter"
    assert value(s, "bookingd_http_connections_open") >= 1  # this scrape's
    accepted = value(s, "bookingd_http_connections_accepted_total")
    assert accepted >= 1
    assert value(s, "bookingd_http_connections_refused_total",
                 reason="limit") == 0
    idle = []
    try:
        # Three idle connections from 127.0.0.3 fill its share; the fourth
        # is refused (closed at once).
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", d.port), timeout=10,
                                         source_address=("127.0.0.3", 0))
            idle.append(c)

        def open_from_elsewhere():
            s, _ = parse(request_from(d, "127.0.0.2", "/metrics",
                                      admin=True).body.decode())
            return s

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            s = open_from_elsewhere()
            if value(s, "bookingd_http_connections_open") >= 4:
                break
            time.sleep(0.05)
        assert value(s, "bookingd_http_connections_open") >= 4, s
        refused = socket.create_connection(("127.0.0.1", d.port), timeout=10,
                                           source_address=("127.0.0.3", 0))
        refused.settimeout(10)
        try:
            assert refused.recv(1) == b""  # closed by the server
        except ConnectionResetError:
            pass
        finally:
            refused.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            s = open_from_elsewhere()
            if value(s, "bookingd_http_connections_refused_total",
                     reason="limit") >= 1:
                break
            time.sleep(0.05)
        assert value(s, "bookingd_http_connections_refused_total",
                     reason="limit") == 1, s
        assert value(s, "bookingd_http_connections_accepted_total") > accepted
    finally:
        for c in idle:
            c.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        s, _ = scrape(d)
        if value(s, "bookingd_http_connections_open") == 1:
            break
        time.sleep(0.05)
    assert value(s, "bookingd_http_connections_open") == 1, s


DB_CLASSES = {"busy", "serialization", "storage_full", "unavailable", "io",
              "constraint", "other"}


def test_database_errors_by_class(daemon):
    s, types = scrape(daemon)
    assert types["bookingd_db_errors_total"] == "counter"
    classes = {dict(k[1])["class"] for k in s
               if k[0] == "bookingd_db_errors_total"}
    assert classes == DB_CLASSES, classes
    before = value(s, "bookingd_db_errors_total", **{"class": "constraint"})
    host = {"slug": "ada", "name": "Ada", "email": "ada@example.com",
            "timezone": "Europe/London"}
    assert daemon.post("/api/v1/hosts", host, admin=True).status == 201
    assert daemon.post("/api/v1/hosts", host, admin=True).status == 409
    s2, _ = scrape(daemon)
    assert value(s2, "bookingd_db_errors_total",
                 **{"class": "constraint"}) >= before + 1
    for c in DB_CLASSES - {"constraint"}:
        assert value(s2, "bookingd_db_errors_total", **{"class": c}) == \
            value(s, "bookingd_db_errors_total", **{"class": c}), c
