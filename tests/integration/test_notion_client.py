"""The Notion contract fake (notion_fake.py) checked against the official
client: @notionhq/client (tests/notion-client, installed by
scripts/install-deps.sh test) pointed at the fake with `baseUrl` creates
databases, creates, queries (paginated, filtered), updates and reads pages,
comments, lists block children, and sees Notion's errors as the client
defines them (object_not_found, validation_error, unauthorized,
rate_limited). Requests the client never makes wrongly (a missing
Notion-Version) are checked here directly."""
import json
import os
import pathlib
import shutil
import subprocess
import urllib.request
import urllib.error

from notion_fake import NotionFake

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLIENT_DIR = ROOT / "tests" / "notion-client"


def run(fake, phase):
    assert shutil.which("node") and \
        (CLIENT_DIR / "node_modules" / "@notionhq" / "client").is_dir(), \
        "node or tests/notion-client/node_modules missing: run " \
        "scripts/install-deps.sh test"
    env = dict(os.environ, NOTION_BASE=fake.base, NOTION_TOKEN=fake.token,
               NOTION_ROOT=fake.root)
    p = subprocess.run(["node", str(CLIENT_DIR / "check.mjs"), phase],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", \
        p.stdout + p.stderr


def raw(fake, method, path, body=None, headers=None):
    req = urllib.request.Request(fake.base + path, method=method,
                                 data=None if body is None else body,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def test_the_official_client_talks_to_the_fake():
    fake = NotionFake(token="secret_client_check", rate=1000, burst=1000)
    try:
        run(fake, "main")
        fake.fail_next(429)
        run(fake, "ratelimit")
    finally:
        fake.close()


def test_the_fake_is_strict_where_the_client_cannot_be_wrong():
    fake = NotionFake(token="secret_x", rate=3, burst=3)
    try:
        auth = {"Authorization": "Bearer secret_x"}
        s, j, _ = raw(fake, "GET", "/v1/users/me", headers=auth)
        assert s == 400 and j["code"] == "missing_version", j
        assert j["object"] == "error" and j["request_id"], j
        v = dict(auth, **{"Notion-Version": "2022-06-28",
                          "Content-Type": "application/json"})
        s, j, _ = raw(fake, "POST", f"/v1/databases/{fake.root}/query",
                      b"{not json", v)
        assert s == 400 and j["code"] == "invalid_json", j
        s, j, _ = raw(fake, "POST", "/v1/pages", b"[]", v)
        assert s == 400 and j["code"] == "validation_error", j
        # 3 requests a second: the fourth at once is refused.
        for _ in range(3):
            raw(fake, "GET", "/v1/users/me", headers=v)
        seen = [raw(fake, "GET", "/v1/users/me", headers=v)
                for _ in range(3)]
        limited = [x for x in seen if x[0] == 429]
        assert limited, seen
        assert limited[0][1]["code"] == "rate_limited"
        assert int(limited[0][2]["Retry-After"]) >= 1
    finally:
        fake.close()
