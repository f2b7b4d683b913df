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

import pytest

import calcom_helpers as H
from conftest import ledger_query

DB_JOB_DONE = 2


def shifted_env(offset_file, **env):
    lib = os.environ.get("BK_CLOCKSHIFT_LIB")
    assert lib and os.path.exists(lib), "BK_CLOCKSHIFT_LIB: the shim"
    offset_file.write_text("0\n")
    asan = os.environ.get("ASAN_OPTIONS", "")
    env.update(LD_PRELOAD=lib, BK_CLOCKSHIFT_FILE=str(offset_file),
               # The shim comes before a sanitizer's runtime.
               ASAN_OPTIONS=(asan + ":" if asan else "")
               + "verify_asan_link_order=0")
    return env


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
    before = prunes_done(d)
    offset.write_text(str(-3600 * 1000) + "\n")
    H.wait_until(lambda: prunes_done(d) >= before + 3, 20,
                 "three more periodic runs after the clock stepped back "
                 "an hour")
    assert "stepped back" in d.stderr()
