"""tests/integration/test_http_server.py — the HTTP server's corner cases
(issue 12).
"""
from conftest import assert_error


def test_invalid_utf8_in_the_path_gets_an_error_body(daemon):
    for path in ["/%ff", "/api/v1/event-types/%c3%28/slots", "/%ed%a0%80x"]:
        r = daemon.get(path)
        e = assert_error(r, 404)
        assert "\ufffd" in e["message"], e
