"""The job queue's upkeep: the periodic jobs.prune deletes done jobs older
than BOOKINGD_JOB_RETENTION_DAYS, once per BOOKINGD_JOB_PRUNE_INTERVAL_S
(here 1 s, with a retention of 1 day, and job ages set in the database).

Only done jobs older than the retention go; younger done jobs and dead ones
stay. A delivery whose job was pruned still shows its status (with no
attempts to show) and can be replayed. Each period has one prune job, run
once; on PostgreSQL two instances share the database and the periods
between them.
"""
import time

import pytest

import calcom_helpers as H
import conftest
from conftest import ledger_query

DAY_MS = 24 * 3600 * 1000
DB_JOB_PENDING, DB_JOB_RUNNING, DB_JOB_DONE, DB_JOB_DEAD = 0, 1, 2, 3


def db_exec(d, sql, params=()):
    """One write to d's database, as an operator's SQL client would make
    it (the tests' way to age jobs); ? placeholders on both backends."""
    if d.backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(str(d.db_path), timeout=10)
        try:
            con.execute(sql, params)
            con.commit()
        finally:
            con.close()
        return
    con = conftest._pg().connect(d.database_url, connect_timeout=10)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), tuple(params))
    finally:
        con.close()


def job_of(d, public_id):
    (job,), = ledger_query(d, "SELECT job_id FROM inbox WHERE public_id = ?",
                           (public_id,))
    return job


def job_ids(d):
    return {i for i, in ledger_query(d, "SELECT id FROM jobs")}


def prune_jobs(d):
    return ledger_query(d, "SELECT dedupe_key, status, attempts FROM jobs "
                           "WHERE kind = 'jobs.prune' ORDER BY id")


@pytest.mark.timeout(120)
def test_old_done_jobs_are_pruned_once_per_period(make_daemon):
    secret = H.new_secret()
    env = H.calcom_env(secret, BOOKINGD_JOB_RETENTION_DAYS=1,
                       BOOKINGD_JOB_PRUNE_INTERVAL_S=1)
    a = make_daemon(env=env, name="a")
    instances = [a]
    if a.backend == "postgres":
        instances.append(make_daemon(env=env, name="b",
                                     database_url=a.database_url))
    for d in instances:
        d.secret = secret
    uids = [H.new_uid(f"prune{i}") for i in range(4)]
    dlv = []
    for i, uid in enumerate(uids):
        s, e = H.future_slot(days=4, hour=8 + i)
        dlv.append(H.received(instances[i % len(instances)],
                              H.created(uid, s, e)))
    H.wait_processed(a, dlv)
    jobs = [job_of(a, p) for p in dlv]
    assert all(jobs), jobs

    now = int(time.time() * 1000)
    # Two old enough, one younger than the retention, one just done; and a
    # dead job as old as the oldest.
    db_exec(a, "UPDATE jobs SET updated_ms = ? WHERE id IN (?, ?)",
            (now - 2 * DAY_MS, jobs[0], jobs[1]))
    db_exec(a, "UPDATE jobs SET updated_ms = ? WHERE id = ?",
            (now - DAY_MS + 600000, jobs[2]))
    db_exec(a, "INSERT INTO jobs (kind, dedupe_key, payload, run_at_ms, "
               "attempts, max_attempts, status, last_error, created_ms, "
               "updated_ms) VALUES ('test.dead', 'test:dead', NULL, ?, 3, 3, "
               "?, 'gave up', ?, ?)",
            (now - 3 * DAY_MS, DB_JOB_DEAD, now - 3 * DAY_MS,
             now - 2 * DAY_MS))
    (dead,), = ledger_query(
        a, "SELECT id FROM jobs WHERE dedupe_key = 'test:dead'")

    H.wait_until(lambda: not {jobs[0], jobs[1]} & job_ids(a), 30,
                 "the old done jobs pruned")
    left = job_ids(a)
    assert {jobs[2], jobs[3], dead} <= left, (jobs, dead, left)

    # Their deliveries: processed as before, with no attempts to show.
    for p in dlv[:2]:
        row = H.delivery(a, p)
        assert row["status"] == "processed", row
        assert row["attempts"] == 0 and row["next_attempt_at"] is None, row
        assert row["processed_at"] is not None, row
        assert job_of(a, p) is None
    # A replay gives one a new job, which applies it again (no change).
    n_bookings = len(H.bookings(a))
    r = a.post(f"/api/v1/webhook-deliveries/{dlv[0]}/replay", admin=True)
    assert r.status == 202, r
    row = H.wait_processed(a, [dlv[0]])[dlv[0]]
    assert row["attempts"] == 1, row
    assert job_of(a, dlv[0]) not in (None, jobs[0])
    assert len(H.bookings(a)) == n_bookings

    # One prune job per period, each run once; at most one waiting.
    H.wait_until(lambda: sum(1 for _, s, _ in prune_jobs(a)
                             if s == DB_JOB_DONE) >= 4, 30,
                 "four periods pruned")
    rows = prune_jobs(a)
    keys = [k for k, _, _ in rows]
    assert len(keys) == len(set(keys)), keys
    assert all(k.startswith("jobs.prune:") for k in keys), keys
    done = [(k, n) for k, s, n in rows if s == DB_JOB_DONE]
    assert all(n == 1 for _, n in done), rows
    assert sum(1 for _, s, _ in rows if s != DB_JOB_DONE) <= 1, rows
    # The deletions were logged once, by whichever instance ran the period.
    logged = [line for d in instances for line in d.stderr().splitlines()
              if "jobs.prune:" in line and "deleted" in line]
    periods = [line.split("jobs.prune:")[1].split()[0] for line in logged]
    assert len(periods) == len(set(periods)) >= 1, logged
