"""A SIGKILL of bookingd during a burst of Cal.com deliveries, then a
restart on the same database (DESIGN.md principle 2: durable first, then
acknowledge; applied exactly once, idempotent on the delivery).

Each round fires ROUND_SIZE distinct signed BOOKING_CREATED deliveries from
THREADS threads, SIGKILLs the daemon once a given number of them has been
answered 2xx, records exactly which requests got a 2xx, restarts the daemon
on the same file and waits (bounded) until no delivery is pending. Then:
every acknowledged delivery is stored once and processed and produced
exactly one booking; no Cal.com uid maps to two bookings and no booking is
without its uid; nothing is stored twice. Then every delivery of the round
is sent again, as Cal.com's retry of what was not acknowledged (and a
resend of what was): the acknowledged ones answer "duplicate" with their
delivery id, and in the end there is exactly one booking per uid. The
rounds run on one database, killing at different moments of the burst.

The numbers of each round are printed (pytest -s, or ctest -V shows them).
"""
import collections
import datetime as dt
import threading
import time

import pytest

import calcom_helpers as H
from calcom_helpers import today_utc
from conftest import NOT_TIMER_JOB

ROUND_SIZE = 400
THREADS = 32
# SIGKILL once this many deliveries of the round were acknowledged: early,
# midway, late, and once all are (then while the workers apply them, so
# that the restarted daemon must take over jobs whose lease was held by
# the dead process).
KILL_AFTER = [15, 160, 330, ROUND_SIZE]
LEASE_MS = 1000
IDLE_TIMEOUT_S = 120


def round_bodies(rnd):
    """ROUND_SIZE distinct BOOKING_CREATED bodies (bytes) and their uids;
    every booking of every round at its own time."""
    out = []
    for i in range(ROUND_SIZE):
        k = rnd * ROUND_SIZE + i
        day = today_utc() + dt.timedelta(days=2 + k // 20)
        start = dt.datetime.combine(day, dt.time(8, 0), dt.timezone.utc) + \
            dt.timedelta(minutes=30 * (k % 20))
        uid = f"crash{rnd}n{i:04d}" + H.new_uid("")[:8]
        j = H.created(uid, start, start + dt.timedelta(minutes=30),
                      email=f"crash{k % 40}@client.example",
                      booking_id=100000 + k)
        out.append((uid, H.body_of(j)))
    return out


class Burst:
    """Posts bodies from THREADS threads; SIGKILLs the daemon once
    kill_after were acknowledged (None: never). Requests are not started
    after the kill (their index is recorded as not sent)."""

    def __init__(self, d, bodies, kill_after):
        self.d = d
        self.bodies = bodies
        self.kill_after = kill_after
        self.port = d.port
        self.lock = threading.Lock()
        self.next = 0
        self.acked = 0
        self.killed = threading.Event()
        self.results = [None] * len(bodies)  # ("status", code, json) | ...

    def _take(self):
        with self.lock:
            if self.next >= len(self.bodies):
                return None
            self.next += 1
            return self.next - 1

    def _worker(self):
        while True:
            i = self._take()
            if i is None:
                return
            if self.killed.is_set():
                self.results[i] = ("not sent",)
                continue
            uid, raw = self.bodies[i]
            try:
                r = H.post(self.d, raw, timeout=30)
            except OSError as e:
                self.results[i] = ("no answer", type(e).__name__)
                continue
            try:
                j = r.json if r.status == 200 else None
            except AssertionError:
                j = None
            self.results[i] = ("answered", r.status, j)
            if 200 <= r.status < 300:
                with self.lock:
                    self.acked += 1
                    if self.kill_after is not None and \
                            self.acked >= self.kill_after and \
                            not self.killed.is_set():
                        self.killed.set()
                        self.kill()

    def kill(self):
        self.kill_time = time.monotonic()
        H.sigkill(self.d)

    def run(self, timeout=120):
        threads = [threading.Thread(target=self._worker, daemon=True)
                   for _ in range(THREADS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, t0 + timeout - time.monotonic()))
            assert not t.is_alive(), f"the burst hung past {timeout} s"
        if self.kill_after is not None:
            assert self.killed.is_set(), \
                f"the burst ended before {self.kill_after} " \
                f"acknowledgements"
        self.seconds = time.monotonic() - t0
        return self.results


def inbox_by_uid(d, uids):
    """{uid: [(public_id, status, job status)]} of the deliveries stored."""
    want = set(uids)
    out = collections.defaultdict(list)
    with H.ro(d) as con:
        for key, pid, status, jstatus in con.execute(
                "SELECT i.delivery_key, i.public_id, i.status, j.status "
                "FROM inbox i LEFT JOIN jobs j ON j.id = i.job_id "
                "WHERE i.provider = 'calcom'"):
            trigger, uid, _ = key.split(":", 2)
            assert trigger == "BOOKING_CREATED", key
            if uid in want:
                out[uid].append((pid, status, jstatus))
    return out


def ledger_check(d):
    """Global invariants of the ledger file; returns {uid: booking id}."""
    # The outbox hears of every booking after the inbox applied it.
    H.wait_outbox_idle(d)
    with H.ro(d) as con:
        links = con.execute(
            "SELECT external_id, entity, entity_id FROM external_links "
            "WHERE provider = 'calcom' AND kind = 'booking_uid'").fetchall()
        # Only Cal.com makes bookings in this test.
        calcom_bookings = {r[0] for r in con.execute(
            "SELECT id FROM bookings")}
        n_bookings = len(calcom_bookings)
        created_rows = con.execute(
            "SELECT booking_id, count(*) FROM activity "
            "WHERE kind = 'BOOKING_CREATED' GROUP BY booking_id").fetchall()
        dupe_keys = con.execute(
            "SELECT delivery_key, count(*) FROM inbox "
            "GROUP BY provider, delivery_key HAVING count(*) > 1").fetchall()
        jobs = dict(con.execute(
            "SELECT status, count(*) FROM jobs "
                "WHERE " + NOT_TIMER_JOB + " GROUP BY status").fetchall())
    by_uid = {}
    for ext, entity, eid in links:
        assert entity == 0, (ext, entity)  # a booking's link
        by_uid[ext] = eid
    # No uid maps to two bookings (one link per uid by construction), and
    # no booking was made without its link (a second booking for a uid
    # would be one): every booking is some uid's, once.
    assert len(set(by_uid.values())) == len(by_uid)
    assert set(by_uid.values()) == calcom_bookings
    assert n_bookings == len(by_uid), (n_bookings, len(by_uid))
    assert all(c == 1 for _, c in created_rows), created_rows
    assert {b for b, _ in created_rows} == calcom_bookings
    assert dupe_keys == []
    # Every job done (2): none running, pending or dead.
    assert set(jobs) <= {2}, jobs
    return by_uid


@pytest.mark.timeout(280)
def test_sigkill_during_a_burst_then_restart_applies_each_ack_once(
        make_daemon):
    d = H.start_calcom(make_daemon, BOOKINGD_JOB_LEASE_MS=LEASE_MS,
                       BOOKINGD_WORKERS=2, BOOKINGD_LOG_LEVEL="warn")
    t_start = time.monotonic()
    report = []
    all_uids = []
    for rnd, kill_after in enumerate(KILL_AFTER):
        bodies = round_bodies(rnd)
        uids = [u for u, _ in bodies]
        all_uids += uids
        burst = Burst(d, bodies, kill_after)
        results = burst.run()
        assert d.proc is None  # killed

        acked = {}
        answered_other = []
        for (uid, _), res in zip(bodies, results):
            if res[0] == "answered":
                if 200 <= res[1] < 300:
                    assert res[2]["status"] == "received", res
                    acked[uid] = res[2]["delivery"]
                else:
                    answered_other.append(res[:2])
        # Before the kill every request was answered, and with a 2xx.
        assert answered_other == [], answered_other[:5]
        n_sent = sum(1 for r in results if r[0] != "not sent")
        n_cut = sum(1 for r in results if r[0] == "no answer")
        # What the dead process left (read-only; SQLite recovers the WAL).
        with H.ro(d) as con:
            at_kill = dict(con.execute(
                "SELECT status, count(*) FROM inbox GROUP BY status"))
            leased = con.execute(
                "SELECT count(*) FROM jobs WHERE status = 1 "
                    "AND " + NOT_TIMER_JOB).fetchone()[0]
        prev = rnd * ROUND_SIZE
        processed_at_kill = at_kill.get(H.DB_PROCESSED, 0) - prev

        d.start()  # same database, new process
        H.wait_idle(d, IDLE_TIMEOUT_S)
        stored = inbox_by_uid(d, uids)
        # Every acknowledged delivery is stored, once, under the id it was
        # acknowledged with, and processed.
        missing = [u for u in acked if u not in stored]
        assert not missing, f"acknowledged but not stored: {missing[:5]}"
        for u, rows in stored.items():
            assert len(rows) == 1, (u, rows)
            pid, status, jstatus = rows[0]
            assert status == H.DB_PROCESSED and jstatus == 2, (u, rows)
            if u in acked:
                assert pid == acked[u], (u, pid, acked[u])
        by_uid = ledger_check(d)
        applied = [u for u in uids if u in by_uid]
        # Exactly the stored ones were applied: one booking each.
        assert set(applied) == set(stored), \
            (len(applied), len(stored))
        # The API shows the same: each acknowledged uid, one booking.
        api = H.by_calcom_uid(d)
        for u in acked:
            assert len(api.get(u, [])) == 1, (u, api.get(u))
            assert api[u][0]["status"] == "confirmed"

        # Cal.com retries what was not acknowledged; resend everything.
        res2 = Burst(d, bodies, kill_after=None).run()
        dup = rec = 0
        for (uid, _), res in zip(bodies, res2):
            assert res[0] == "answered" and res[1] == 200, (uid, res)
            word = res[2]["status"]
            if uid in stored:
                assert word == "duplicate", (uid, res)
                dup += 1
                if uid in acked:
                    assert res[2]["delivery"] == acked[uid], (uid, res)
            else:
                assert word == "received", (uid, res)
                rec += 1
        H.wait_idle(d, IDLE_TIMEOUT_S)
        by_uid = ledger_check(d)
        assert all(u in by_uid for u in all_uids)
        assert len(by_uid) == len(all_uids)
        stored_after = inbox_by_uid(d, uids)
        assert set(stored_after) == set(uids)
        assert all(len(v) == 1 for v in stored_after.values())

        line = (f"round {rnd}: kill after {kill_after} acks; "
                f"sent {n_sent}/{ROUND_SIZE} in {burst.seconds:.1f}s, "
                f"acknowledged {len(acked)}, cut (no answer) {n_cut}, "
                f"stored {len(stored)} "
                f"(stored but unacknowledged {len(stored) - len(acked)}), "
                f"processed before the kill {processed_at_kill}, "
                f"jobs leased by the dead process {leased}, "
                f"applied after restart {len(applied)}; "
                f"resend: duplicate {dup}, received {rec}; "
                f"bookings total {len(by_uid)}")
        print(line)
        report.append(line)
    print(f"crash test: {time.monotonic() - t_start:.1f}s")
    # Afterwards the daemon serves and stops cleanly (checked by the
    # fixture: exit 0 on SIGTERM, no sanitizer report).
    assert d.get("/healthz").status == 200
    assert len(H.bookings(d)) == len(KILL_AFTER) * ROUND_SIZE

