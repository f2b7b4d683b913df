"""Bad input (API.md "Conventions", DESIGN.md "Errors and bad input"):
every malformed, oversized and hostile form a client can send gets the JSON
error of API.md with the right status, the ledger stays unchanged and the
daemon keeps serving.

One daemon serves the whole module. Around every test the ledger file is
snapshotted (every table, read-only) and compared, and /healthz must still
answer; the last test compares the ledger with its state before the first.
"""
import datetime as dt
import json
import socket

import pytest

from conftest import assert_error, short_id, today_in, weekly_all_days

pytestmark = pytest.mark.floods("hundreds of bad requests from 127.0.0.1 "
                                "against one module-wide daemon")

MiB = 1024 * 1024
DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def target(module_daemon):
    """The module's daemon with one booking to aim at."""
    d = module_daemon
    day = today_in("Europe/Berlin") + 2 * DAY
    slots = [s["start"] for s in d.slots("intro", day, day)["slots"][str(day)]]
    b = d.book("intro", slots[0]).json
    return {"d": d, "uid": b["uid"], "token": b["manage_token"],
            "cid": d.get(f"/api/v1/bookings/{b['uid']}",
                         admin=True).json["client"]["id"], "slots": slots,
            "snapshot": d.snapshot(), "counts": d.ledger_counts()}


@pytest.fixture(autouse=True)
def ledger_unchanged(target):
    d = target["d"]
    before = d.snapshot()
    yield
    assert d.alive(), "the daemon died:\n" + d.stderr()[-4000:]
    r = d.get("/healthz", timeout=10)
    assert r.status == 200 and r.json == {"status": "ok"}
    assert d.snapshot() == before, "the ledger changed"


def endpoints(t):
    """(method, path, admin) of every endpoint that takes a JSON body."""
    return [
        ("POST", "/api/v1/bookings", False),
        ("POST", "/api/v1/bookings", True),
        ("POST", "/api/v1/hosts", True),
        ("PATCH", "/api/v1/hosts/coach", True),
        ("PUT", "/api/v1/hosts/coach/schedule", True),
        ("POST", "/api/v1/event-types", True),
        ("PATCH", "/api/v1/event-types/intro", True),
        ("PATCH", f"/api/v1/clients/{t['cid']}", True),
        ("POST", f"/api/v1/bookings/{t['uid']}/cancel", True),
        ("POST", f"/api/v1/bookings/{t['uid']}/reschedule", True),
    ]


def each_endpoint(t, fn):
    for method, path, admin in endpoints(t):
        fn(method, path, admin)


# ---- malformed JSON ----------------------------------------------------------

MALFORMED = [
    b"{",
    b"}",
    b'{"a":}',
    b'{"a" 1}',
    b"{'a': 1}",
    b'{"a":1,}',
    b"nul",
    b"[]",
    b"[{}]",
    b'"a string"',
    b"42",
    b"null",
    b"true",
    b"{}{}",
    b'{"a":1} trailing',
    b'{"event_type":"intro"',
    b"[" * 100000,
    b"[" * 100000 + b"]" * 100000,
    b'{"a":' * 50000 + b"1" + b"}" * 50000,
    b'{"a":"\xff\xfe"}',
    b'{"a":"\xc0\xaf"}',          # overlong '/'
    b'{"a":"\xed\xa0\x80"}',      # an encoded surrogate
    b'{"\xff":1}',
    b'{"a":"\\ud800"}',           # a lone surrogate escape
    b'{"a":"\\u0000"}',           # NUL escape
    b'{"a":"x\x00y"}',            # raw NUL
    b'{"a\\u0000b":1}',
    b'{"a":"tab\there"}',         # raw control character in a string
    b'{"a":1,"a":2}',             # duplicate keys
    b"\xef\xbb\xbf{}",            # BOM
    b'{"a":1e999999}',
    b'{"a":123456789012345678901234567890}',
    b'{"a":NaN}',
    b'{"a":Infinity}',
    b'{"a":01}',
    b'{"a":.5}',
    b'{"a":"\\x41"}',
    b"\x00",
    b"\x00{}",
    b"{}\x00",
    b" ",
    b"\n\n",
]


@pytest.mark.parametrize("raw", MALFORMED, ids=short_id)
def test_malformed_json_is_400(target, raw):
    d = target["d"]

    def check(method, path, admin):
        r = d.request(method, path, raw=raw, admin=admin)
        assert_error(r, 400, "invalid_json", None)

    each_endpoint(target, check)


def test_empty_body_is_400(target):
    d = target["d"]
    for method, path, admin in endpoints(target):
        if path.endswith("/cancel"):
            continue  # an empty cancel is a legal cancel without a reason
        r = d.request(method, path, raw=b"", admin=admin)
        assert_error(r, 400, "invalid_json", None)


def test_empty_cancel_body_is_only_allowed_without_content(target):
    d = target["d"]
    r = d.request("POST", f"/api/v1/bookings/{target['uid']}/cancel",
                  raw=b" ", admin=True)
    assert_error(r, 400, "invalid_json")


# ---- wrong types, missing and unknown fields --------------------------------

def bodies_of_wrong_shape(t):
    """(method, path, admin, body, field) of well-formed JSON with a wrong
    type, a missing or an unknown field."""
    s = t["slots"][3]
    good_att = {"name": "Eve", "email": "eve@example.com"}
    return [
        ("POST", "/api/v1/bookings", False, {}, "event_type"),
        ("POST", "/api/v1/bookings", False,
         {"event_type": "intro", "start": s}, "attendee"),
        ("POST", "/api/v1/bookings", False,
         {"event_type": "intro", "start": s, "attendee": good_att,
          "extra": 1}, "extra"),
        ("POST", "/api/v1/bookings", False,
         {"event_type": True, "start": s, "attendee": good_att},
         "event_type"),
        ("POST", "/api/v1/bookings", False,
         {"event_type": "intro", "start": [s], "attendee": good_att},
         "start"),
        ("POST", "/api/v1/bookings", False,
         {"event_type": "intro", "start": s, "attendee": [good_att]},
         "attendee"),
        ("POST", "/api/v1/bookings", False,
         {"event_type": "intro", "start": s,
          "attendee": {"name": {"first": "E"}, "email": "e@example.com"}},
         "attendee.name"),
        ("POST", "/api/v1/bookings", False,
         {"event_type": "intro", "start": s,
          "attendee": {"name": "E", "email": 5}}, "attendee.email"),
        ("POST", "/api/v1/hosts", True, {"slug": "x"}, "name"),
        ("POST", "/api/v1/hosts", True,
         {"slug": "x", "name": "X", "email": "x@example.com",
          "timezone": "UTC", "admin": True}, "admin"),
        ("POST", "/api/v1/hosts", True,
         {"slug": ["x"], "name": "X", "email": "x@example.com",
          "timezone": "UTC"}, "slug"),
        ("PATCH", "/api/v1/hosts/coach", True, {"name": 5}, "name"),
        ("PATCH", "/api/v1/hosts/coach", True, {"id": 1}, "id"),
        ("PUT", "/api/v1/hosts/coach/schedule", True,
         {"weekly": []}, "timezone"),
        ("PUT", "/api/v1/hosts/coach/schedule", True,
         {"timezone": "UTC", "weekly": "mon 9-5"}, "weekly"),
        ("PUT", "/api/v1/hosts/coach/schedule", True,
         {"timezone": "UTC", "weekly": [{"day": 1, "start": "09:00",
                                         "end": "10:00"}]}, "weekly[0].day"),
        ("POST", "/api/v1/event-types", True,
         {"slug": "x", "title": "X", "host": "coach"}, "duration_minutes"),
        ("POST", "/api/v1/event-types", True,
         {"slug": "x", "title": "X", "host": "coach",
          "duration_minutes": 30, "hidden": False}, "hidden"),
        ("PATCH", "/api/v1/event-types/intro", True,
         {"duration_minutes": "30"}, "duration_minutes"),
        ("PATCH", "/api/v1/event-types/intro", True,
         {"active": 1}, "active"),
        ("PATCH", f"/api/v1/clients/{t['cid']}", True,
         {"status": 1}, "status"),
        ("PATCH", f"/api/v1/clients/{t['cid']}", True,
         {"notes": 5}, "notes"),
        ("PATCH", f"/api/v1/clients/{t['cid']}", True,
         {"phone": ["+1 555 0100"]}, "phone"),
        ("PATCH", f"/api/v1/clients/{t['cid']}", True,
         {"nickname": "x"}, "nickname"),
        ("POST", f"/api/v1/bookings/{t['uid']}/cancel", True,
         {"reason": ["x"]}, "reason"),
        ("POST", f"/api/v1/bookings/{t['uid']}/cancel", True,
         {"status": "cancelled"}, "status"),
        ("POST", f"/api/v1/bookings/{t['uid']}/reschedule", True,
         {"start": None}, "start"),
        ("POST", f"/api/v1/bookings/{t['uid']}/reschedule", True,
         {"start": s, "end": s}, "end"),
    ]


def test_wrong_types_missing_and_unknown_fields_are_422(target):
    d = target["d"]
    for method, path, admin, body, field in bodies_of_wrong_shape(target):
        r = d.request(method, path, body=body, admin=admin)
        assert_error(r, 422, "invalid_field", field)


def test_hostile_unknown_keys_are_named_safely(target):
    d = target["d"]
    s = target["slots"][3]
    base = {"event_type": "intro", "start": s,
            "attendee": {"name": "E", "email": "e@example.com"}}
    for key in ["k" * 100000, "a\nb\r\x1b[31m", "<script>alert(1)</script>",
                "%s%s%s%n", "ä" * 1000, "a.b[0]"]:
        body = dict(base)
        body[key] = 1
        r = d.post("/api/v1/bookings", body)
        e = assert_error(r, 422, "invalid_field")
        field = e["details"]["field"]
        assert len(field.encode()) <= 256, len(field)
        assert not any(ord(c) < 0x20 for c in field), field
        assert len(r.body) < 4096


def test_many_unknown_keys(target):
    d = target["d"]
    body = {f"k{i}": i for i in range(50000)}
    raw = json.dumps(body).encode()
    assert len(raw) < MiB
    r = d.request("POST", "/api/v1/hosts", raw=raw, admin=True)
    assert_error(r, 422, "invalid_field")


def test_huge_arrays_are_422(target):
    d = target["d"]
    weekly = [{"day": "mon", "start": "09:00", "end": "10:00"}] * 12000
    raw = json.dumps({"timezone": "UTC", "weekly": weekly}).encode()
    assert len(raw) < MiB
    r = d.request("PUT", "/api/v1/hosts/coach/schedule", raw=raw, admin=True)
    assert_error(r, 422, "invalid_field", "weekly")
    overrides = [{"date": "2031-01-01", "unavailable": True}] * 20000
    raw = json.dumps({"timezone": "UTC", "overrides": overrides}).encode()
    assert len(raw) < MiB
    r = d.request("PUT", "/api/v1/hosts/coach/schedule", raw=raw, admin=True)
    assert_error(r, 422, "invalid_field", "overrides")


@pytest.mark.parametrize("value", [2 ** 63, 2 ** 63 - 1, -2 ** 63, 1e300,
                                   30.0, -0.0, 1e-9], ids=short_id)
def test_odd_numbers(target, value):
    d = target["d"]
    raw = ('{"duration_minutes": %s}' % json.dumps(value)).encode()
    r = d.request("PATCH", "/api/v1/event-types/intro", raw=raw, admin=True)
    if value == 2 ** 63:
        assert_error(r, 400, "invalid_json")  # not an int64
    else:
        assert_error(r, 422, "invalid_field", "duration_minutes")


# ---- strings over the caps --------------------------------------------------

def test_strings_over_the_caps_are_422(target):
    d = target["d"]
    s = target["slots"][3]

    def booking(**att):
        a = {"name": "Eve", "email": "eve@example.com"}
        a.update(att)
        return {"event_type": "intro", "start": s, "attendee": a}

    cases = [
        ("POST", "/api/v1/bookings", booking(name="n" * 201),
         "attendee.name"),
        ("POST", "/api/v1/bookings", booking(name="ä" * 101),
         "attendee.name"),
        ("POST", "/api/v1/bookings",
         booking(email="e" * 243 + "@example.com"), "attendee.email"),
        ("POST", "/api/v1/bookings", booking(timezone="Europe/" + "x" * 100),
         "attendee.timezone"),
        ("POST", "/api/v1/bookings", dict(booking(), notes="n" * 5001),
         "notes"),
        ("POST", "/api/v1/bookings", dict(booking(), notes="n" * 900000),
         "notes"),
        ("POST", "/api/v1/bookings", dict(booking(), event_type="e" * 65),
         "event_type"),
        ("POST", "/api/v1/bookings", dict(booking(), start="2" * 100),
         "start"),
        ("PATCH", "/api/v1/hosts/coach", {"name": "n" * 201}, "name"),
        ("PATCH", "/api/v1/event-types/intro", {"title": "t" * 201},
         "title"),
        ("PATCH", "/api/v1/event-types/intro",
         {"description": "d" * 5001}, "description"),
        ("PATCH", "/api/v1/event-types/intro",
         {"location": {"kind": "video", "value": "u" * 2049}},
         "location.value"),
        ("POST", f"/api/v1/bookings/{target['uid']}/cancel",
         {"reason": "r" * 5001}, "reason"),
        ("PATCH", f"/api/v1/clients/{target['cid']}", {"name": "n" * 201},
         "name"),
        ("PATCH", f"/api/v1/clients/{target['cid']}", {"notes": "n" * 5001},
         "notes"),
        ("PATCH", f"/api/v1/clients/{target['cid']}", {"phone": "1" * 41},
         "phone"),
    ]
    for method, path, body, field in cases:
        r = d.request(method, path, body=body,
                      admin=path != "/api/v1/bookings")
        assert_error(r, 422, "invalid_field", field)


def test_control_characters_in_one_line_fields_are_422(target):
    d = target["d"]
    s = target["slots"][3]
    for name in ["a\nb", "a\rb", "a\tb", "\x1b[2J", "a\u0085b", "a\x7fb"]:
        body = {"event_type": "intro", "start": s,
                "attendee": {"name": name, "email": "eve@example.com"}}
        r = d.post("/api/v1/bookings", body)
        assert_error(r, 422, "invalid_field", "attendee.name")


def test_external_ids_malformed_oversized_and_hostile_are_422(target):
    """An event type's external_ids: an object of known provider names to
    bounded, printable string ids; the deprecated calcom_event_type_id
    stays an integer and must agree with it."""
    d = target["d"]
    cases = [
        ({"external_ids": "calcom:1"}, "external_ids"),
        ({"external_ids": ["calcom", "1"]}, "external_ids"),
        ({"external_ids": 1234}, "external_ids"),
        ({"external_ids": {"calcom": 1234}}, "external_ids.calcom"),
        ({"external_ids": {"calcom": None}}, "external_ids.calcom"),
        ({"external_ids": {"calcom": {"id": "1"}}}, "external_ids.calcom"),
        ({"external_ids": {"calcom": ""}}, "external_ids.calcom"),
        ({"external_ids": {"calcom": " 12"}}, "external_ids.calcom"),
        ({"external_ids": {"calcom": "12 "}}, "external_ids.calcom"),
        ({"external_ids": {"calendly": "x" * 513}}, "external_ids.calendly"),
        ({"external_ids": {"calendly": "u" * 900000}},
         "external_ids.calendly"),
        ({"external_ids": {"calcom": "a\nb"}}, "external_ids.calcom"),
        ({"external_ids": {"calcom": "\x1b[2J"}}, "external_ids.calcom"),
        ({"external_ids": {"calcom": "a\u0085b"}}, "external_ids.calcom"),
        ({"external_ids": {"calcomm": "1"}}, "external_ids"),
        ({"external_ids": {"CalCom": "1"}}, "external_ids"),
        ({"external_ids": {"": "1"}}, "external_ids"),
        ({"external_ids": {"k" * 100000: "1"}}, "external_ids"),
        ({"external_ids": {"<script>alert(1)</script>": "1"}},
         "external_ids"),
        ({"external_ids": {"a\nb\r\x1b[31m": "1"}}, "external_ids"),
        ({"external_ids": {"%s%s%n": "1"}}, "external_ids"),
        ({"external_ids": {f"p{i}": "1" for i in range(50000)}},
         "external_ids"),
        ({"external_ids": {"calcom": "5"}, "calcom_event_type_id": 6},
         "calcom_event_type_id"),
        ({"external_ids": {"calendly": "x"}, "calcom_event_type_id": 6},
         "calcom_event_type_id"),
        ({"calcom_event_type_id": "5"}, "calcom_event_type_id"),
        ({"calcom_event_type_id": 0}, "calcom_event_type_id"),
        ({"calcom_event_type_id": -1}, "calcom_event_type_id"),
        ({"calcom_event_type_id": 1.5}, "calcom_event_type_id"),
    ]
    create = {"slug": "mapped", "title": "Mapped", "host": "coach",
              "duration_minutes": 30}
    for body, field in cases:
        for method, path, full in [
                ("PATCH", "/api/v1/event-types/intro", body),
                ("POST", "/api/v1/event-types", dict(create, **body))]:
            r = d.request(method, path, body=full, admin=True)
            e = assert_error(r, 422, "invalid_field", field)
            assert len(e["details"]["field"].encode()) <= 256
            assert len(r.body) < 4096, (field, len(r.body))
    # Duplicate keys are not JSON bookingd accepts.
    raw = b'{"external_ids": {"calcom": "1", "calcom": "2"}}'
    r = d.request("PATCH", "/api/v1/event-types/intro", raw=raw, admin=True)
    assert_error(r, 400, "invalid_json")


# ---- values: zones, dates, ranges, grid, time ----------------------------------

def test_unknown_time_zones(target):
    d = target["d"]
    s = target["slots"][3]
    for zone in ["Mars/Base", "", "UTC+01:00", "../../etc/passwd", "GMT+25",
                 "Europe/Berlin\n"]:
        r = d.post("/api/v1/bookings", {
            "event_type": "intro", "start": s,
            "attendee": {"name": "E", "email": "e@example.com",
                         "timezone": zone}})
        assert_error(r, 422, "invalid_field", "attendee.timezone")
        r = d.patch("/api/v1/hosts/coach", {"timezone": zone}, admin=True)
        assert_error(r, 422, "invalid_field", "timezone")
        r = d.put("/api/v1/hosts/coach/schedule",
                  {"timezone": zone, "weekly": weekly_all_days()}, admin=True)
        assert_error(r, 422, "invalid_field", "timezone")
        r = d.get("/api/v1/event-types/intro/slots",
                  query={"timezone": zone})
        assert_error(r, 400, "invalid_query", "timezone")
        r = d.get("/api/v1/bookings", query={"timezone": zone}, admin=True)
        assert_error(r, 400, "invalid_query", "timezone")


def test_impossible_dates(target):
    d = target["d"]
    for date in ["2027-02-29", "2026-02-30", "2026-06-31", "2026-00-01",
                 "2026-01-32", "0000-00-00"]:
        r = d.get("/api/v1/event-types/intro/slots", query={"from": date})
        assert_error(r, 400, "invalid_query", "from")
        r = d.post("/api/v1/bookings", {
            "event_type": "intro", "start": f"{date}T10:00:00Z",
            "attendee": {"name": "E", "email": "e@example.com"}})
        assert_error(r, 422, "invalid_field", "start")
        r = d.put("/api/v1/hosts/coach/schedule",
                  {"timezone": "UTC", "weekly": weekly_all_days(),
                   "overrides": [{"date": date, "unavailable": True}]},
                  admin=True)
        assert_error(r, 422, "invalid_field", "overrides[0].date")
    for t in ["2026-12-01T24:00:00Z", "2026-12-01T23:60:00Z",
              "2026-12-01T23:59:60Z", "2026-12-01T10:00:00+25:00",
              "2026-12-01T10:00:00+01:60", "2026-12-01T10:00:00 +01:00",
              "2026-12-01t10:00:00", "2026-12-01T10:00Z"]:
        r = d.post("/api/v1/bookings", {
            "event_type": "intro", "start": t,
            "attendee": {"name": "E", "email": "e@example.com"}})
        assert_error(r, 422, "invalid_field", "start")


def test_ranges_over_62_days(target):
    d = target["d"]
    f = today_in("Europe/Berlin")
    for days in [63, 100, 3650, 10 ** 6]:
        try:
            to = f + dt.timedelta(days=days)
        except OverflowError:
            continue
        r = d.get("/api/v1/event-types/intro/slots",
                  query={"from": str(f), "to": str(to)})
        assert_error(r, 400, "invalid_query", "to")
    r = d.get("/api/v1/event-types/intro/slots",
              query={"from": "0001-01-01", "to": "9999-12-31"})
    assert_error(r, 400, "invalid_query", "to")


def test_off_grid_past_and_taken_starts(target):
    d = target["d"]
    s = target["slots"]

    def book(start):
        return d.post("/api/v1/bookings", {
            "event_type": "intro", "start": start,
            "attendee": {"name": "E", "email": "e@example.com"}})

    t = dt.datetime.fromisoformat(s[4])
    for off in [dt.timedelta(minutes=1), dt.timedelta(minutes=15),
                dt.timedelta(seconds=1)]:
        assert_error(book((t + off).isoformat()), 422, "invalid_field",
                     "start")
    assert_error(book((t - 10 * DAY).isoformat()), 422, "invalid_field",
                 "start")
    assert_error(book(s[0]), 409, "slot_unavailable")
    r = d.post(f"/api/v1/bookings/{target['uid']}/reschedule",
               {"start": (t + dt.timedelta(minutes=3)).isoformat()},
               admin=True)
    assert_error(r, 422, "invalid_field", "start")


# ---- size limits -------------------------------------------------------------

def padded(size):
    """A JSON object of exactly size bytes."""
    return b"{}" + b" " * (size - 2)


def test_two_mib_body_is_413(target):
    d = target["d"]
    each_endpoint(target, lambda m, p, a: assert_error(
        d.request(m, p, raw=padded(2 * MiB), admin=a), 413,
        "payload_too_large"))


def test_two_mib_chunked_body_is_413(target):
    d = target["d"]

    def chunks():
        for _ in range(32):
            yield b" " * (64 * 1024)
        yield b"{}"

    r = d.request("POST", "/api/v1/bookings", raw=chunks(), chunked=True)
    assert_error(r, 413, "payload_too_large")
    r = d.request("PUT", "/api/v1/hosts/coach/schedule", raw=chunks(),
                  chunked=True, admin=True)
    assert_error(r, 413, "payload_too_large")


def test_body_limit_is_exactly_one_mib(target):
    d = target["d"]
    r = d.request("POST", "/api/v1/bookings", raw=padded(MiB))
    assert_error(r, 422, "invalid_field", "event_type")  # read, then judged
    r = d.request("POST", "/api/v1/bookings", raw=padded(MiB + 1))
    assert_error(r, 413, "payload_too_large")


def test_oversized_body_on_a_get_is_413(target):
    d = target["d"]
    r = d.request("GET", "/api/v1/event-types", raw=padded(2 * MiB))
    assert_error(r, 413, "payload_too_large")


def test_connection_is_usable_after_a_413(target):
    """The next request on a new connection works (no stuck state)."""
    d = target["d"]
    for _ in range(3):
        r = d.request("POST", "/api/v1/bookings", raw=padded(2 * MiB))
        assert_error(r, 413)
        assert d.get("/api/v1/event-types").status == 200


def raw_headers(path, headers, method="POST"):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_declared_oversized_length_is_refused_at_once(target):
    d = target["d"]
    r = d.raw(raw_headers("/api/v1/bookings", {
        "Content-Type": "application/json",
        "Content-Length": str(2 * 1024 ** 3), "Connection": "close"}),
        timeout=5)
    assert_error(r, 413, "payload_too_large")


def test_expect_continue_with_oversized_length_is_refused(target):
    d = target["d"]
    r = d.raw(raw_headers("/api/v1/bookings", {
        "Content-Type": "application/json", "Expect": "100-continue",
        "Content-Length": str(2 * MiB), "Connection": "close"}), timeout=5)
    assert_error(r, 413, "payload_too_large")


def test_lying_content_length_does_not_hurt(target):
    d = target["d"]
    # shorter than promised, then the client hangs up
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(raw_headers("/api/v1/bookings", {
            "Content-Type": "application/json", "Content-Length": "100"})
            + b'{"event_type":')
    # longer than promised: the rest is a second, broken request
    r = d.raw(raw_headers("/api/v1/bookings", {
        "Content-Type": "application/json", "Content-Length": "2",
        "Connection": "close"}) + b"{}GARBAGE\r\n\r\n", timeout=5)
    assert_error(r, 422, "invalid_field", "event_type")


@pytest.mark.parametrize("value", ["-5", "abc", "1e3", "18446744073709551616",
                                   "2, 2"], ids=short_id)
def test_malformed_content_length_is_refused(target, value):
    d = target["d"]
    r = d.raw(raw_headers("/api/v1/bookings", {
        "Content-Type": "application/json", "Content-Length": value,
        "Connection": "close"}) + b"{}", timeout=5)
    assert 400 <= r.status < 500, r


# ---- content type ------------------------------------------------------------

@pytest.mark.parametrize("ctype", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
    "application/jsonx", "application/json-patch+json", "json",
    "application/xml", "", "application/", "*/*", "text/json",
], ids=short_id)
def test_wrong_content_type_is_415(target, ctype):
    d = target["d"]

    def check(method, path, admin):
        r = d.request(method, path, raw=b"{}", admin=admin,
                      headers={"Content-Type": ctype})
        assert_error(r, 415, "unsupported_media_type")

    each_endpoint(target, check)


def test_missing_content_type_is_415(target):
    d = target["d"]
    each_endpoint(target, lambda m, p, a: assert_error(
        d.request(m, p, raw=b'{"x":1}', admin=a, content_type=None), 415,
        "unsupported_media_type"))


def test_content_type_parameters_and_case_are_accepted(target):
    d = target["d"]
    for ctype in ["application/json; charset=utf-8", "APPLICATION/JSON",
                  "Application/Json;charset=UTF-8"]:
        r = d.request("POST", "/api/v1/bookings", raw=b"{}",
                      headers={"Content-Type": ctype})
        assert_error(r, 422, "invalid_field", "event_type")


# ---- authentication ------------------------------------------------------------

def test_wrong_or_missing_admin_key(target):
    d = target["d"]
    key = d.admin_key
    bad_headers = [
        {}, {"Authorization": ""}, {"Authorization": "Bearer"},
        {"Authorization": "Bearer "}, {"Authorization": key},
        {"Authorization": "Bearer " + key[:-1]},
        {"Authorization": "Bearer " + key + "x"},
        {"Authorization": "Bearer " + key.upper()},
        {"Authorization": "Bearer " + "k" * 60000},
        {"Authorization": "Basic " + key},
        {"Authorization": "Bearer " + key + " " + key},
        {"X-Admin-Key": key},
    ]
    for h in bad_headers:
        for method, path, body in [
                ("GET", "/api/v1/bookings", None),
                ("GET", "/api/v1/clients", None),
                ("POST", "/api/v1/hosts", {"slug": "x", "name": "X",
                                           "email": "x@example.com",
                                           "timezone": "UTC"}),
                ("DELETE", "/api/v1/event-types/intro", None),
                ("POST", f"/api/v1/bookings/{target['uid']}/cancel", {})]:
            kw = {} if body is None else {"body": body}
            r = d.request(method, path, headers=h, **kw)
            assert_error(r, 401, "unauthorized")


def test_wrong_manage_tokens(target):
    d = target["d"]
    uid, tok = target["uid"], target["token"]
    for bad in ["", "x", tok[:-1], tok + tok, tok.swapcase(),
                "%00" + tok, "' OR '1'='1", "t" * 10000]:
        for method, path, body in [
                ("GET", f"/api/v1/bookings/{uid}", None),
                ("POST", f"/api/v1/bookings/{uid}/cancel", {}),
                ("POST", f"/api/v1/bookings/{uid}/reschedule",
                 {"start": target["slots"][5]})]:
            kw = {} if body is None else {"body": body}
            r = d.request(method, path, query={"token": bad}, **kw)
            assert_error(r, 401, "unauthorized")


# ---- paths, queries, headers ------------------------------------------------

@pytest.mark.parametrize("path", [
    "/static/../../etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/....//....//etc/passwd",
    "/static/index.html",
    "/static/",
    "/static/%2fetc%2fpasswd",
    "/static/..",
    "/static/.",
    "/static/app.css/../../../etc/passwd",
    "/static/" + "a" * 3000,
    "/manage/../static/app.css/../../etc/passwd",
], ids=short_id)
def test_path_traversal_in_static(target, path):
    d = target["d"]
    r = d.raw(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
              .encode())
    assert b"root:" not in r.body
    assert_error(r, 404, "not_found")


def test_static_files_are_served(target):
    r = target["d"].get("/static/app.css")
    assert r.status == 200
    assert r.header("Content-Type").startswith("text/css")


@pytest.mark.parametrize("path,query,field", [
    ("/api/v1/bookings", {"status": "<script>"}, "status"),
    ("/api/v1/bookings", {"limit": "1;DROP TABLE bookings"}, "limit"),
    ("/api/v1/bookings", {"limit": "5" * 10000}, "limit"),
    ("/api/v1/bookings", {"cursor": "../../etc/passwd"}, "cursor"),
    ("/api/v1/bookings", {"cursor": "A" * 10000}, "cursor"),
    ("/api/v1/bookings", {"from": "%n%n%n%n"}, "from"),
    ("/api/v1/bookings", {"to": "9" * 5000}, "to"),
    ("/api/v1/clients", {"status": "' OR 1=1 --"}, "status"),
    ("/api/v1/clients", {"limit": "-0"}, "limit"),
    ("/api/v1/hosts", {"limit": "0x10"}, "limit"),
    ("/api/v1/hosts", {"cursor": "aDox"}, "cursor"),
    ("/api/v1/event-types", {"active": "1"}, "active"),
    ("/api/v1/event-types/intro/slots", {"from": "2026-01-01' --"}, "from"),
], ids=short_id)
def test_hostile_query_values_are_400(target, path, query, field):
    d = target["d"]
    r = d.get(path, query=query, admin=True)
    assert_error(r, 400, "invalid_query", field)


def test_unknown_query_params_are_ignored(target):
    d = target["d"]
    r = d.get("/api/v1/bookings", query={"colour": "red", "x" * 1000: "y"},
              admin=True)
    assert r.status == 200 and len(r.json["data"]) == 1


def test_hostile_uids_and_ids(target):
    d = target["d"]
    for uid in ["..%2F..%2Fetc", "%00", "A" * 1000, "%27%20OR%201%3D1--",
                "%25s%25n", "%E2%80%AE"]:
        assert_error(d.get(f"/api/v1/bookings/{uid}", admin=True), 404,
                     "not_found")
        assert_error(d.get(f"/api/v1/clients/{uid}", admin=True), 404)
        assert_error(d.get(f"/api/v1/hosts/{uid}", admin=True), 404)
        assert_error(d.get(f"/api/v1/event-types/{uid}"), 404)
        assert_error(d.post(f"/api/v1/bookings/{uid}/cancel", {},
                            admin=True), 404)


def test_overlong_path_is_not_truncated(target):
    d = target["d"]
    r = d.post(f"/api/v1/bookings/{'A' * 5000}/cancel", {}, admin=True)
    assert r.status in (404, 414), r
    assert_error(r, r.status)


def test_nul_in_query_values_is_refused(target):
    d = target["d"]
    uid, tok = target["uid"], target["token"]
    r = d.get("/api/v1/bookings?source=web%00junk", admin=True)
    assert_error(r, 400, "invalid_query", "source")
    r = d.get("/api/v1/event-types/intro/slots?timezone=Europe/Berlin%00junk")
    assert_error(r, 400, "invalid_query", "timezone")
    r = d.get(f"/api/v1/bookings/{uid}?token={tok}%00junk")
    assert_error(r, 401, "unauthorized")


def test_huge_header_is_refused(target):
    d = target["d"]
    r = d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
              b"a" * 100000 + b"\r\nConnection: close\r\n\r\n")
    assert r.status in (400, 413, 431), r


def test_many_headers(target):
    d = target["d"]
    hs = "".join(f"X-H{i}: {i}\r\n" for i in range(300))
    r = d.raw(f"GET /healthz HTTP/1.1\r\nHost: x\r\n{hs}"
              "Connection: close\r\n\r\n".encode())
    assert r.status in (200, 400, 413, 431), r


def test_huge_url_is_refused(target):
    d = target["d"]
    r = d.raw(b"GET /" + b"a" * 100000 +
              b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.status in (400, 404, 414, 431), r


@pytest.mark.parametrize("data", [
    b"GET /healthz HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET /healthz\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # TLS
    b"POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\nContent-Type: "
    b"application/json\r\nTransfer-Encoding: chunked\r\nConnection: close"
    b"\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\nContent-Type: "
    b"application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 2"
    b"\r\nConnection: close\r\n\r\n0\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\x00b\r\n"
    b"Connection: close\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n"
    b"Connection: close\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n X-Folded: y\r\n"
    b"Connection: close\r\n\r\n",
    b"GET /hea\x00lthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    b"GET /api/v1/bookings?limit=%zz HTTP/1.1\r\nHost: x\r\n"
    b"Connection: close\r\n\r\n",
], ids=short_id)
def test_broken_http_does_not_hurt(target, data):
    """Whatever the server answers (or whether it just closes), it stays up
    (checked by the autouse fixture) and answers nothing in 2xx for a
    write."""
    d = target["d"]
    try:
        r = d.raw(data, timeout=5)
    except (AssertionError, TimeoutError, OSError):
        return  # closed or still waiting: fine, as long as it serves on
    if data.startswith(b"POST"):
        assert r.status >= 400, r


def test_half_open_connections_do_not_block_others(target):
    d = target["d"]
    socks = []
    try:
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.sendall(b"POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 1000\r\n\r\n{")
            socks.append(s)
        r = d.get("/api/v1/event-types/intro/slots", timeout=10)
        assert r.status == 200
    finally:
        for s in socks:
            s.close()


# ---- the whole batch ------------------------------------------------------------

def test_zz_ledger_unchanged_after_the_batch(target):
    d = target["d"]
    assert d.snapshot() == target["snapshot"]
    assert d.ledger_counts() == target["counts"] == {
        "hosts": 1, "event_types": 1, "clients": 1, "bookings": 1}
    b = d.get(f"/api/v1/bookings/{target['uid']}", admin=True).json
    assert b["status"] == "confirmed"
    assert d.get("/readyz").status == 200
