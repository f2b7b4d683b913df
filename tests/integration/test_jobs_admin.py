"""The jobs admin: GET /api/v1/jobs (filters kind and status, keyset
paging), GET /api/v1/jobs/{id} (payload, attempts, last error, next
attempt), POST /api/v1/jobs/{id}/replay, and /metrics by kind and status.

Jobs are written into the database as an operator's SQL client would (a
kind the daemon does not run goes dead when claimed), next to the
jobs.prune row that always waits.
"""
import time

import pytest

import calcom_helpers as H
from test_jobs import db_exec, DB_JOB_PENDING, DB_JOB_DONE, DB_JOB_DEAD
from conftest import assert_error, ledger_query


def insert_job(d, key, kind="test.kind", status=DB_JOB_PENDING, attempts=0,
               run_at_ms=None, error=None, payload='{"n":1}'):
    now = int(time.time() * 1000)
    run_at = run_at_ms if run_at_ms is not None else now + 3600 * 1000
    lease, token = (now + 3600 * 1000, 7) if status == 1 else (None, None)
    db_exec(d, "INSERT INTO jobs (kind, dedupe_key, payload, run_at_ms, "
               "attempts, max_attempts, status, last_error, lease_until_ms, "
               "lease_token, created_ms, updated_ms) "
               "VALUES (?, ?, ?, ?, ?, 5, ?, ?, ?, ?, ?, ?)",
            (kind, key, payload, run_at, attempts, status, error, lease,
             token, now, now))
    (i,), = ledger_query(d, "SELECT id FROM jobs WHERE dedupe_key = ?",
                         (key,))
    return i


def ids(rows):
    return [r["id"] for r in rows]


@pytest.mark.timeout(120)
def test_list_filters_paging_get_and_metrics(make_daemon):
    d = make_daemon()
    queued = insert_job(d, "t:queued")
    retrying = insert_job(d, "t:retrying", attempts=2, error="boom")
    done = insert_job(d, "t:done", kind="test.other", status=DB_JOB_DONE,
                      attempts=1)
    dead = insert_job(d, "t:dead", status=DB_JOB_DEAD, attempts=5,
                      error="gave up", payload="not json")

    r = d.get("/api/v1/jobs")
    assert r.status == 401, r
    rows = d.list_all("/api/v1/jobs")
    mine = [r for r in rows if r["kind"].startswith("test.")]
    assert ids(mine) == [dead, done, retrying, queued]  # newest first
    by_id = {r["id"]: r for r in mine}
    assert by_id[queued]["status"] == "queued"
    assert by_id[retrying]["status"] == "retrying"
    assert by_id[retrying]["attempts"] == 2
    assert by_id[retrying]["last_error"] == "boom"
    assert by_id[retrying]["next_attempt_at"] is not None
    assert by_id[done]["status"] == "done"
    assert by_id[done]["next_attempt_at"] is None
    assert by_id[dead]["status"] == "dead"
    assert "payload" not in by_id[dead]

    for status, want in [("queued", [queued]), ("retrying", [retrying]),
                         ("done", [done]), ("dead", [dead])]:
        r = d.get("/api/v1/jobs", query={"status": status},
                  admin=True)
        assert r.status == 200, r
        got = [x["id"] for x in r.json["data"]
               if x["kind"].startswith("test.")]
        assert got == want, (status, got)
    r = d.get("/api/v1/jobs", query={"kind": "test.other"}, admin=True)
    assert ids(r.json["data"]) == [done]
    r = d.get("/api/v1/jobs", query={"kind": "test.kind",
                                     "status": "retrying"}, admin=True)
    assert ids(r.json["data"]) == [retrying]
    r = d.get("/api/v1/jobs", query={"status": "pending"}, admin=True)
    assert_error(r, 400, "invalid_query", "status")
    r = d.get("/api/v1/jobs", query={"status": "running"}, admin=True)
    assert r.status == 200 and all(x["status"] == "running"
                                   for x in r.json["data"]), r

    # Keyset paging: one row a page, no row twice, none left out.
    seen, cursor = [], None
    while True:
        q = {"kind": "test.kind", "limit": 1}
        if cursor:
            q["cursor"] = cursor
        page = d.get("/api/v1/jobs", query=q, admin=True).json
        seen += ids(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [dead, retrying, queued], seen
    r = d.get("/api/v1/jobs", query={"cursor": "bogus"}, admin=True)
    assert_error(r, 400, "invalid_query", "cursor")

    r = d.get(f"/api/v1/jobs/{retrying}", admin=True)
    assert r.status == 200, r
    j = r.json
    assert j["payload"] == {"n": 1}
    assert j["attempts"] == 2 and j["max_attempts"] == 5
    assert j["last_error"] == "boom" and j["next_attempt_at"]
    assert d.get(f"/api/v1/jobs/{dead}", admin=True).json["payload"] == \
        "not json"
    for bad in ["999999999", "abc", "-1", "0"]:
        r = d.get(f"/api/v1/jobs/{bad}", admin=True)
        assert r.status == 404, (bad, r)

    m = d.get("/metrics", admin=True)
    assert m.status == 200, m
    text = m.body.decode()
    for line in ['bookingd_jobs_by_kind{kind="test.kind",status="queued"} 1',
                 'bookingd_jobs_by_kind{kind="test.kind",status="retrying"} 1',
                 'bookingd_jobs_by_kind{kind="test.kind",status="dead"} 1',
                 'bookingd_jobs_by_kind{kind="test.other",status="done"} 1']:
        assert line in text.splitlines(), (line, text)


@pytest.mark.timeout(120)
def test_replay_runs_a_dead_job_again(make_daemon):
    d = make_daemon()
    dead = insert_job(d, "t:dead", kind="test.unknown", status=DB_JOB_DEAD,
                      attempts=5, error="gave up")
    r = d.post(f"/api/v1/jobs/{dead}/replay", admin=True)
    assert r.status == 202, r
    assert r.json["status"] in ("queued", "running", "dead"), r
    # Claimed at once; a kind this daemon does not run goes dead again,
    # after one attempt this time.
    H.wait_until(lambda: d.get(f"/api/v1/jobs/{dead}", admin=True)
                 .json["status"] == "dead", 30, "the replayed job ran")
    j = d.get(f"/api/v1/jobs/{dead}", admin=True).json
    assert j["attempts"] == 1, j
    assert j["last_error"] and j["last_error"] != "gave up", j

    r = d.post("/api/v1/jobs/424242/replay", admin=True)
    assert r.status == 404, r
    r = d.post(f"/api/v1/jobs/{dead}/replay")
    assert r.status == 401, r
    # A running job cannot be replayed until its attempt ends.
    running = insert_job(d, "t:running", status=1, attempts=1)
    r = d.post(f"/api/v1/jobs/{running}/replay", admin=True)
    assert r.status == 409, r
