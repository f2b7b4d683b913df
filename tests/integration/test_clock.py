"""A wall clock stepped for the daemon alone: an LD_PRELOAD shim built by
the tests (clockshift.c, BK_CLOCKSHIFT_LIB) adds to the daemon's
CLOCK_REALTIME, gettimeofday() and time() an offset in milliseconds read
from a file the test rewrites while the daemon runs.

Issue 12: a one-hour backward step froze the job queue's due times for the
hour. The periodic jobs.prune (here every second) shows it: each run
enqueues the next one a second ahead on the wall clock, so after the step
the next one was due an hour later. Now the pool sees the step against the
monotonic clock and moves the times written before it. (A forward step
past a lease, and the fence, are tested in tests/unit/jobs/test_jobs.c with
a fake wall clock.)
"""
import os
import time

import pytest

import calcom_helpers as H
from conftest import ledger_query, preload

DB_JOB_DONE = 2


def shifted_env(offset_file, **env):
    lib = os.environ.get("BK_CLOCKSHIFT_LIB")
    assert lib and os.path.exists(lib), "BK_CLOCKSHIFT_LIB: the shim"
    offset_file.write_text("0\n")
    asan = os.environ.get("ASAN_OPTIONS", "")
    env.update(LD_PRELOAD=preload(lib), BK_CLOCKSHIFT_FILE=str(offset_file),
               # The shim comes before a sanitizer's runtime.
               ASAN_OPTIONS=(asan + ":" if asan else "")
               + "verify_asan_link_order=0")
    return env


def db_exec_many(d, sql, rows):
    """Writes to d's database as an operator's SQL client would (? for
    placeholders on both backends)."""
    if d.backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(str(d.db_path), timeout=10)
        try:
            con.executemany(sql, rows)
            con.commit()
        finally:
            con.close()
        return
    import conftest
    con = conftest._pg().connect(d.database_url, connect_timeout=10)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)
    finally:
        con.close()


def prunes_done(d):
    (n,), = ledger_query(d, "SELECT count(*) FROM jobs WHERE kind = "
                            "'jobs.prune' AND status = ?", (DB_JOB_DONE,))
    return n


@pytest.mark.timeout(120)
def test_backward_step_does_not_freeze_the_queue(make_daemon, tmp_path):
    offset = tmp_path / "clock-offset-ms"
    d = make_daemon(env=shifted_env(offset,
                                    BOOKINGD_JOB_PRUNE_INTERVAL_S="1"))
    H.wait_until(lambda: prunes_done(d) >= 2, 30, "two periodic runs")
    # The periods of the hour before ran then (done rows with their dedupe
    # keys): after the step, the next period's key is one of theirs, and
    # the chain of periodic runs must not stop on it.
    now_ms = int(time.time() * 1000)
    first = now_ms // 1000 - 3600 - 30
    db_exec_many(d, "INSERT INTO jobs (kind, dedupe_key, payload, run_at_ms,"
                    " attempts, max_attempts, status, created_ms, updated_ms)"
                    " VALUES ('jobs.prune', ?, NULL, ?, 1, 3, ?, ?, ?)",
                 [(f"jobs.prune:{p}", p * 1000, DB_JOB_DONE, now_ms, now_ms)
                  for p in range(first, first + 120)])
    before = prunes_done(d)
    offset.write_text(str(-3600 * 1000) + "\n")
    H.wait_until(lambda: prunes_done(d) >= before + 3, 20,
                 "three more periodic runs after the clock stepped back "
                 "an hour")
    assert "stepped back" in d.stderr()
