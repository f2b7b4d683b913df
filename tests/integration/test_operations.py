"""Operations (issue 12): BOOKINGD_LOG_FORMAT, graceful shutdown, backup and
restore, export and the host's calendar feed."""
import json
import signal
import socket
import subprocess
import time

import pytest

from conftest import Daemon, parse_raw_response, standard_catalog


# ---- BOOKINGD_LOG_FORMAT -----------------------------------------------------

def json_lines(text):
    """Every line of text parsed as one JSON object (the test fails on the
    first that is not)."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as e:
            pytest.fail(f"stderr line {n} is not JSON ({e}): {line!r}")
        assert isinstance(obj, dict), line
        for key in ("time", "level", "message"):
            assert isinstance(obj.get(key), str), line
        out.append(obj)
    return out


def test_json_logs_are_one_object_per_line(make_daemon):
    d = make_daemon(env={"BOOKINGD_LOG_FORMAT": "json"})
    d.apply(standard_catalog())
    assert d.get("/healthz", headers={"X-Request-Id": "probe-1"}).status == 200
    assert d.get("/api/v1/hosts/coach", admin=True).status == 200
    assert d.get("/nope").status == 404
    # Hostile bytes in the path: quotes, backslashes, control characters
    # and invalid UTF-8 must still give parseable lines.
    d.raw(b'GET /x%22%5C%0a%01%ff%c3%28"\\ HTTP/1.1\r\nHost: x\r\n'
          b"Connection: close\r\n\r\n")
    problems = d.stop()
    assert not problems, problems
    lines = json_lines(d.stderr())
    assert {o["level"] for o in lines} <= {"error", "warn", "info", "debug"}
    access = [o for o in lines if "status" in o]
    probe = [o for o in access if o["request_id"] == "probe-1"]
    assert len(probe) == 1, access
    assert probe[0]["method"] == "GET" and probe[0]["path"] == "/healthz"
    assert probe[0]["route"] == "/healthz"
    assert probe[0]["status"] == 200
    assert isinstance(probe[0]["duration_ms"], int)
    host = [o for o in access if o["path"] == "/api/v1/hosts/coach"]
    assert host and host[0]["route"] == "/api/v1/hosts/{slug}", host
    nope = [o for o in access if o["path"] == "/nope"]
    assert nope and nope[0]["route"] is None and nope[0]["status"] == 404
    assert any(o["path"].startswith('/x"\\') for o in access), access
    assert any("shutting down" in o["message"] for o in lines)


def test_text_logs_stay_the_default(make_daemon):
    d = make_daemon()
    assert d.get("/healthz").status == 200
    problems = d.stop()
    assert not problems, problems
    lines = d.stderr().splitlines()
    assert any(" info http GET /healthz 200 " in line for line in lines)
    assert not any(line.startswith("{") for line in lines)


@pytest.mark.parametrize("value", ["JSON", "xml", "json ", "text\njson",
                                   "j\x1bson", "x" * 5000])
def test_bad_log_format_is_a_one_line_error(tmp_path, value):
    d = Daemon(tmp_path / "d", env={"BOOKINGD_LOG_FORMAT": value})
    p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                       timeout=30, cwd=d.workdir)
    assert p.returncode == 2, p
    err = p.stderr.decode("utf-8", "replace")
    assert err.count("\n") == 1, err
    assert err.startswith("bookingd: BOOKINGD_LOG_FORMAT: must be text or "
                          "json"), err


# ---- graceful shutdown -------------------------------------------------------

def start_trickled_booking(d, start):
    """Opens a connection and sends a booking's headers and half its body;
    returns (socket, the rest of the body)."""
    body = json.dumps({"event_type": "intro", "start": start,
                       "attendee": {"name": "Slow Sam",
                                    "email": "sam@example.com"}}).encode()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    s.sendall(b"POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    return s, body[10:]


def read_answer(s):
    chunks = []
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return parse_raw_response(b"".join(chunks)) if chunks else None


def test_sigterm_answers_the_request_in_flight_then_exits_0(make_daemon):
    d = make_daemon(env={"BOOKINGD_SHUTDOWN_TIMEOUT_MS": "5000"})
    d.apply(standard_catalog())
    start = d.slot_starts("intro")[0]
    s, rest = start_trickled_booking(d, start)
    time.sleep(0.2)  # the server has the request's head
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # No new connections once the signal arrived.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
    assert d.alive(), "the daemon left before its request was answered"
    s.sendall(rest)
    r = read_answer(s)
    assert r is not None and r.status == 201, r
    assert r.header("Connection").lower() == "close", r.headers
    problems = d.wait_exit(timeout=10)
    assert not problems, problems
    assert time.monotonic() - t0 < 5
    # The booking committed: it is there after a restart.
    d.start()
    uid = r.json["uid"]
    assert d.get(f"/api/v1/bookings/{uid}", admin=True).status == 200


def test_sigterm_cuts_a_request_past_the_deadline(make_daemon):
    d = make_daemon(env={"BOOKINGD_SHUTDOWN_TIMEOUT_MS": "700"})
    d.apply(standard_catalog())
    start = d.slot_starts("intro")[0]
    s, rest = start_trickled_booking(d, start)
    idle = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    time.sleep(0.2)
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGTERM)
    problems = d.wait_exit(timeout=10)
    took = time.monotonic() - t0
    assert not problems, problems  # exit 0
    assert took < 0.7 + 1.5, took
    assert "still in flight after 700 ms" in d.stderr()
    try:
        s.sendall(rest)
    except OSError:
        pass
    assert read_answer(s) is None  # cut, never answered
    idle.close()
    # Nothing was booked by the cut request.
    d.start()
    assert d.slot_starts("intro")[0] == start


def test_sigterm_with_nothing_in_flight_is_prompt(make_daemon):
    d = make_daemon()
    # An idle keep-alive connection does not hold the shutdown.
    idle = socket.create_connection(("127.0.0.1", d.port), timeout=30)
    t0 = time.monotonic()
    problems = d.stop()
    assert not problems, problems
    assert time.monotonic() - t0 < 3
    idle.close()


@pytest.mark.parametrize("value", ["-1", "3600001", "1e3", "10s", " 5",
                                   "0x10", "9" * 40, "5\n"])
def test_bad_shutdown_timeout_is_a_one_line_error(tmp_path, value):
    d = Daemon(tmp_path / "d", env={"BOOKINGD_SHUTDOWN_TIMEOUT_MS": value})
    p = subprocess.run([d.bin, "serve"], env=d.env(), capture_output=True,
                       timeout=30, cwd=d.workdir)
    assert p.returncode == 2, p
    err = p.stderr.decode("utf-8", "replace")
    assert err.count("\n") == 1, err
    assert err.startswith("bookingd: BOOKINGD_SHUTDOWN_TIMEOUT_MS: must be "
                          "an integer 0..3600000"), err
