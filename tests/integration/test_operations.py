"""Operations (issue 12): BOOKINGD_LOG_FORMAT, graceful shutdown, backup and
restore, export and the host's calendar feed."""
import json
import signal
import subprocess

import pytest

from conftest import Daemon, standard_catalog


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
