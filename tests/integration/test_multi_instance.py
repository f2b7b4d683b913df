"""Two bookingd daemons on ONE PostgreSQL database, each on its own port:
the database is the only state they share, so what one instance promises
the other must keep.

(a) 200 parallel requests for one slot, half to each instance: exactly one
    201 and 199 409 slot_unavailable, in each of 20 rounds (a slot of its
    own per round), and the ledger holds exactly the 20 winners.
(b) 3,000 distinct signed Cal.com deliveries, half to each instance: every
    acknowledged delivery is stored once under the id it was acknowledged
    with and applied exactly once (one booking, one history row, one
    BOOKING_CREATED activity, its delivery processed, its job done), and no
    client exists twice.
(c) SIGKILL of one instance during such a burst: the survivor takes over
    the jobs the dead one had claimed once their lease (BOOKINGD_JOB_LEASE_MS)
    ran out; nothing acknowledged is lost or applied twice, and Cal.com's
    retries of what was not acknowledged complete the set.
(d) A job committed by one instance wakes the idle workers of another at
    once (LISTEN/NOTIFY), though they would look at the queue on their own
    only every ten minutes; also after the listening session was lost.

PostgreSQL only: a SQLite file is one process's database. The numbers of
each test are printed (pytest -s, or ctest -V shows them).
"""
import collections
import datetime as dt
import http.client
import threading
import time

import pytest

import calcom_helpers as H
import conftest
from conftest import (NOT_TIMER_JOB, Response, assert_error, ledger_query,
                      run_parallel, standard_catalog, today_utc)

pytestmark = [
    pytest.mark.pg_only(
        "two daemons share one database on PostgreSQL only (a SQLite file "
        "belongs to one process)"),
    pytest.mark.floods("hundreds of racers and thousands of deliveries, "
                       "all from 127.0.0.1"),
]

ROUNDS = 20
RACERS = 200
DELIVERIES = 3000
THREADS_PER_INSTANCE = 16
LEASE_MS = 2000
IDLE_TIMEOUT_S = 120
# (c): deliveries per kill round, the instance's acknowledgements after
# which it is killed, and how many kills may be needed before one hits the
# dead instance holding a lease (it holds one almost always while a backlog
# is being applied; the invariants are checked after every kill).
KILL_ROUND_SIZE = 500
KILL_AFTER_ACKS = 120
KILL_ROUNDS_MAX = 3

DB_JOB_RUNNING, DB_JOB_DONE = 1, 2


def start_pair(make_daemon, env=None):
    """Daemon a on a new database, then daemon b on the same database
    (started after a, which migrated it)."""
    a = make_daemon(env=env, name="a")
    b = make_daemon(env=env, name="b", database_url=a.database_url)
    assert b.database_url == a.database_url and b.port != a.port
    return a, b


def start_calcom_pair(make_daemon, **extra):
    secret = H.new_secret()
    a, b = start_pair(make_daemon, H.calcom_env(secret, **extra))
    a.secret = b.secret = secret
    return a, b


# ---- (a) one slot, two instances --------------------------------------------

def test_one_slot_many_clients_on_two_instances(make_daemon):
    a, b = start_pair(make_daemon)
    a.apply(standard_catalog())
    starts = a.slot_starts("intro", days_ahead=2, span=2)
    assert len(starts) >= ROUNDS, starts
    starts = starts[:ROUNDS]
    assert b.slot_starts("intro", days_ahead=2, span=2)[:ROUNDS] == starts
    t0 = time.monotonic()
    winners = collections.Counter()
    uids = []
    for rnd, start in enumerate(starts):
        def attempt(i):
            d = (a, b)[i % 2]
            body = {"event_type": "intro", "start": start,
                    "attendee": {"name": f"Racer {rnd}.{i}",
                                 "email": f"r{rnd}x{i}@example.com"}}
            return d.post("/api/v1/bookings", body)
        results = run_parallel(RACERS, attempt, timeout=60)
        got = collections.Counter(r.status for r in results)
        assert got == {201: 1, 409: RACERS - 1}, (rnd, start, got)
        for r in results:
            if r.status == 409:
                assert_error(r, 409, "slot_unavailable")
        (i, won), = [(i, r) for i, r in enumerate(results)
                     if r.status == 201]
        winners["ab"[i % 2]] += 1
        uid = won.json["uid"]
        uids.append(uid)
        # Each instance sees the other's booking at once.
        for d in (a, b):
            r = d.get(f"/api/v1/bookings/{uid}", admin=True)
            assert r.status == 200 and r.json["status"] == "confirmed", r
    seconds = time.monotonic() - t0
    # The ledger: exactly the winners, and no client of a loser.
    (n_bookings,), = ledger_query(a, "SELECT count(*) FROM bookings")
    (n_clients,), = ledger_query(a, "SELECT count(*) FROM clients")
    assert (n_bookings, n_clients) == (ROUNDS, ROUNDS)
    booked = ledger_query(a, "SELECT uid FROM bookings")
    assert sorted(u for u, in booked) == sorted(uids)
    for d in (a, b):
        assert not set(starts) & set(
            d.slot_starts("intro", days_ahead=2, span=2))
    print(f"{ROUNDS} rounds of {RACERS} racers in {seconds:.1f}s; "
          f"won on a: {winners['a']}, on b: {winners['b']}")


# ---- Cal.com bursts ---------------------------------------------------------

def delivery_bodies(first, n, tag):
    """n distinct signed-to-be BOOKING_CREATED bodies: [(uid, email,
    bytes)], each booking at its own half hour (48 a day from the day after
    tomorrow), 40 attendees shared between them."""
    out = []
    day0 = today_utc() + dt.timedelta(days=2)
    for i in range(n):
        k = first + i
        start = dt.datetime.combine(day0, dt.time(0, 0), dt.timezone.utc) + \
            dt.timedelta(minutes=30 * k)
        uid = f"{tag}{k:05d}" + H.new_uid("")[:8]
        email = f"multi{k % 40}@client.example"
        j = H.created(uid, start, start + dt.timedelta(minutes=30),
                      email=email, booking_id=200000 + k)
        out.append((uid, email, H.body_of(j)))
    return out


class Connection:
    """One keep-alive HTTP/1.1 connection to a daemon. A request is never
    sent twice: an error is the caller's to record."""

    def __init__(self, d):
        self.port = d.port
        self.conn = None

    def post(self, path, raw, headers):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                   timeout=30)
        try:
            self.conn.request("POST", path, body=raw, headers=headers)
            r = self.conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        if (r.getheader("Connection") or "").lower() == "close":
            self.close()
        return Response(r.status, r.headers, data)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Burst:
    """Posts signed bodies, body i to instance i % 2, from
    THREADS_PER_INSTANCE keep-alive connections per instance. With
    kill=(instance, n), SIGKILLs that instance once it acknowledged n, and
    right after (well within the lease) records the jobs then running;
    requests to the dead instance are not sent after the kill."""

    def __init__(self, pair, bodies, kill=None):
        self.pair = pair
        self.bodies = bodies
        self.kill = kill
        self.secret = pair[0].secret
        self.lock = threading.Lock()
        self.queues = [list(range(k, len(bodies), 2)) for k in (0, 1)]
        self.acked = [0, 0]
        self.killed = threading.Event()
        self.running_at_kill = None
        self.results = [None] * len(bodies)
        self.raw = [(uid, raw, {
            "X-Cal-Webhook-Version": "2021-10-20",
            "X-Cal-Signature-256": H.sign(self.secret, raw),
            "Content-Type": "application/json"})
            for uid, _, raw in bodies]

    def _take(self, k):
        with self.lock:
            q = self.queues[k]
            return q.pop(0) if q else None

    def _worker(self, k):
        conn = Connection(self.pair[k])
        try:
            while True:
                i = self._take(k)
                if i is None:
                    return
                if self.killed.is_set() and self.kill[0] == k:
                    self.results[i] = ("not sent",)
                    continue
                _, raw, headers = self.raw[i]
                try:
                    r = conn.post(H.WEBHOOK_PATH, raw, headers)
                except OSError as e:
                    self.results[i] = ("no answer", type(e).__name__)
                    continue
                j = r.json if r.status == 200 else None
                self.results[i] = ("answered", r.status, j)
                if r.status == 200:
                    self._acked(k)
        finally:
            conn.close()

    def _acked(self, k):
        with self.lock:
            self.acked[k] += 1
            if self.kill and self.kill[0] == k and \
                    self.acked[k] >= self.kill[1] and \
                    not self.killed.is_set():
                self.killed.set()
                d = self.pair[k]
                H.sigkill(d)
                # The survivor's database view of the leases held now: the
                # dead one's stay until they expire.
                self.running_at_kill = dict(ledger_query(
                    self.pair[1 - k], "SELECT id, attempts FROM jobs "
                    "WHERE status = ? AND " + NOT_TIMER_JOB,
                    (DB_JOB_RUNNING,)))

    def run(self, timeout=150):
        threads = [threading.Thread(target=self._worker, args=(k,),
                                    daemon=True)
                   for k in (0, 1) for _ in range(THREADS_PER_INSTANCE)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, t0 + timeout - time.monotonic()))
            assert not t.is_alive(), f"the burst hung past {timeout} s"
        self.seconds = time.monotonic() - t0
        if self.kill:
            assert self.killed.is_set(), \
                f"the burst ended before {self.kill[1]} acknowledgements"
        return self.results


def acknowledged(bodies, results):
    """{uid: delivery id} of the deliveries answered 200 "received"; any
    other answer fails (a request that got no answer is not in it)."""
    acked = {}
    for (uid, _, _), res in zip(bodies, results):
        assert res is not None, uid
        if res[0] != "answered":
            continue
        assert res[1] == 200, (uid, res)
        assert res[2]["status"] == "received", (uid, res)
        assert res[2]["delivery"].startswith("dlv_"), (uid, res)
        acked[uid] = res[2]["delivery"]
    return acked


def wait_idle(d, timeout=IDLE_TIMEOUT_S):
    """Until no delivery waits to be applied and no job is pending or
    running (read from the shared database)."""
    def idle():
        (pending,), = ledger_query(
            d, "SELECT count(*) FROM inbox WHERE status = ?",
            (H.DB_RECEIVED,))
        (jobs,), = ledger_query(
            d, "SELECT count(*) FROM jobs WHERE status < ? "
               "AND " + NOT_TIMER_JOB, (DB_JOB_DONE,))
        return pending == 0 and jobs == 0
    H.wait_until(idle, timeout, "all deliveries applied", interval=0.2)


def check_ledger(d, bodies, acked):
    """The exactly-once invariants over the whole database: returns
    ({uid: (public id, status, job status)} of the stored deliveries of
    `bodies`, {uid: booking id})."""
    want = {uid for uid, _, _ in bodies}
    stored = collections.defaultdict(list)
    for key, pid, status, jstatus in ledger_query(
            d, "SELECT i.delivery_key, i.public_id, i.status, j.status "
               "FROM inbox i LEFT JOIN jobs j ON j.id = i.job_id "
               "WHERE i.provider = 'calcom'"):
        trigger, uid, _ = key.split(":", 2)
        assert trigger == "BOOKING_CREATED", key
        stored[uid].append((pid, status, jstatus))
    # Each delivery stored once, processed, its job done.
    twice = {u: r for u, r in stored.items() if len(r) != 1}
    assert not twice, list(twice.items())[:5]
    stored = {u: r[0] for u, r in stored.items()}
    bad = {u: r for u, r in stored.items()
           if r[1] != H.DB_PROCESSED or r[2] != DB_JOB_DONE}
    assert not bad, list(bad.items())[:5]
    # Every acknowledged one stored under the id it was acknowledged with.
    lost = [u for u in acked if u not in stored]
    assert not lost, f"acknowledged but not stored: {lost[:5]}"
    wrong = [(u, stored[u][0], p) for u, p in acked.items()
             if stored[u][0] != p]
    assert not wrong, wrong[:5]

    links = ledger_query(
        d, "SELECT external_id, entity, entity_id FROM external_links "
           "WHERE provider = 'calcom' AND kind = 'booking_uid'")
    by_uid = {}
    for ext, entity, eid in links:
        assert entity == 0, (ext, entity)  # a booking's link
        assert ext not in by_uid, ext      # (the schema's UNIQUE too)
        by_uid[ext] = eid
    booking_ids = {i for i, in ledger_query(d, "SELECT id FROM bookings")}
    # One booking per stored delivery and none else: no uid has two
    # bookings, no booking is without its uid.
    assert set(by_uid) == set(stored), \
        (len(by_uid), len(stored), sorted(set(by_uid) ^ set(stored))[:5])
    assert len(set(by_uid.values())) == len(by_uid)
    assert set(by_uid.values()) == booking_ids
    # One history row each, the creation; one BOOKING_CREATED activity each.
    hist = ledger_query(
        d, "SELECT booking_id, count(*), min(action), max(action) "
           "FROM booking_history GROUP BY booking_id")
    assert {h[0] for h in hist} == booking_ids
    odd = [h for h in hist if h[1:] != (1, "created", "created")]
    assert not odd, odd[:5]
    created = ledger_query(
        d, "SELECT booking_id, count(*) FROM activity "
           "WHERE kind = 'BOOKING_CREATED' GROUP BY booking_id")
    assert {c[0] for c in created} == booking_ids
    assert all(c[1] == 1 for c in created), \
        [c for c in created if c[1] != 1][:5]
    # An attendee is one client, however many instances met it at once.
    dupes = ledger_query(d, "SELECT email, count(*) FROM clients "
                            "GROUP BY email HAVING count(*) > 1")
    assert dupes == [], dupes[:5]
    # Nothing left running, pending or dead.
    jobs = dict(ledger_query(d, "SELECT status, count(*) FROM jobs "
                                "WHERE " + NOT_TIMER_JOB + " "
                                "GROUP BY status"))
    assert set(jobs) <= {DB_JOB_DONE}, jobs
    return {u: r for u, r in stored.items() if u in want}, by_uid


def prewarm(a, b):
    """One delivery through each instance, applied, so that the host and
    the event type Cal.com's bookings import exist before the burst."""
    bodies = delivery_bodies(0, 2, "warm")
    ids = [H.received(d, raw) for d, (_, _, raw) in zip((a, b), bodies)]
    H.wait_processed(a, ids)
    return bodies


@pytest.mark.timeout(170)
def test_burst_of_calcom_deliveries_on_two_instances(make_daemon):
    a, b = start_calcom_pair(make_daemon, BOOKINGD_WORKERS=2,
                             BOOKINGD_LOG_LEVEL="warn")
    warm = prewarm(a, b)
    bodies = delivery_bodies(10, DELIVERIES, "burst")
    burst = Burst((a, b), bodies)
    results = burst.run()
    acked = acknowledged(bodies, results)
    # No kill: every delivery was answered, and acknowledged.
    assert len(acked) == DELIVERIES, \
        [r for r in results if r[0] != "answered"][:5]
    t0 = time.monotonic()
    wait_idle(a)
    applying = time.monotonic() - t0
    stored, by_uid = check_ledger(a, bodies, acked)
    assert set(stored) == set(acked)
    assert len(by_uid) == DELIVERIES + len(warm)
    # Both instances show the same ledger through the API.
    assert len(H.bookings(b)) == len(H.bookings(a)) == len(by_uid)
    assert {x["email"] for x in H.clients(a)} == \
        {e for _, e, _ in bodies + warm}
    print(f"{DELIVERIES} deliveries: acknowledged in {burst.seconds:.1f}s "
          f"(a {burst.acked[0]}, b {burst.acked[1]}), all applied "
          f"{applying:.1f}s later")


@pytest.mark.timeout(170)
def test_sigkill_of_one_instance_mid_burst(make_daemon):
    a, b = start_calcom_pair(make_daemon, BOOKINGD_WORKERS=2,
                             BOOKINGD_JOB_LEASE_MS=LEASE_MS,
                             BOOKINGD_LOG_LEVEL="warn")
    all_bodies = prewarm(a, b)
    taken_over = []
    for rnd in range(KILL_ROUNDS_MAX):
        if rnd:
            b.start()  # the killed instance again, on the same database
        bodies = delivery_bodies(10 + rnd * KILL_ROUND_SIZE,
                                 KILL_ROUND_SIZE, f"kill{rnd}x")
        all_bodies += bodies
        burst = Burst((a, b), bodies, kill=(1, KILL_AFTER_ACKS))
        results = burst.run()
        assert not b.alive()
        acked = acknowledged(bodies, results)
        # The survivor answered every request sent to it.
        to_a = [results[i] for i in range(0, len(bodies), 2)]
        assert all(r[0] == "answered" for r in to_a), \
            [r for r in to_a if r[0] != "answered"][:5]
        n_cut = sum(1 for r in results if r[0] == "no answer")
        n_unsent = sum(1 for r in results if r[0] == "not sent")

        # The survivor alone applies everything, the dead one's leased
        # jobs once their lease ran out.
        t0 = time.monotonic()
        wait_idle(a)
        applying = time.monotonic() - t0
        stored, _ = check_ledger(a, all_bodies, acked)
        running = burst.running_at_kill
        attempts = dict(ledger_query(a, "SELECT id, attempts FROM jobs"))
        # A job running at the kill and claimed again since: the dead
        # instance's (the survivor completes its own under their lease).
        again = [j for j, n in running.items() if attempts[j] > n]
        taken_over += again

        # Cal.com retries what was not acknowledged; resend everything to
        # the survivor: the stored ones are duplicates under their id.
        res2 = Burst((a, a), bodies).run()
        dup = rec = 0
        for (uid, _, _), res in zip(bodies, res2):
            assert res[0] == "answered" and res[1] == 200, (uid, res)
            if uid in stored:
                assert res[2]["status"] == "duplicate", (uid, res)
                assert res[2]["delivery"] == stored[uid][0], (uid, res)
                dup += 1
            else:
                assert res[2]["status"] == "received", (uid, res)
                rec += 1
        wait_idle(a)
        stored, by_uid = check_ledger(a, all_bodies, {})
        assert set(stored) == {u for u, _, _ in all_bodies}
        assert len(by_uid) == len(all_bodies)
        print(f"kill {rnd}: b killed after {KILL_AFTER_ACKS} acks, "
              f"{burst.seconds:.1f}s; acknowledged {len(acked)} "
              f"(a {burst.acked[0]}, b {burst.acked[1]}), cut {n_cut}, "
              f"not sent {n_unsent}, stored {dup}; jobs running at the "
              f"kill {len(running)}, taken over {len(again)}; applied "
              f"{applying:.1f}s after the burst; resend: duplicate {dup}, "
              f"received {rec}")
        if taken_over:
            break
    assert taken_over, \
        f"in {KILL_ROUNDS_MAX} kills the dead instance never held a lease"
    assert len(H.bookings(a)) == len(all_bodies)


# ---- (d) NOTIFY: one instance's jobs wake another's workers ------------------

# Idle workers look at the queue on their own this seldom: in this test they
# run a job only when told of it.
IDLE_POLL_MS = 600000
PROMPTLY_S = 30  # far below IDLE_POLL_MS: a wake-up, not a poll


def listeners(d):
    """[pid] of the sessions listening for jobs on d's database."""
    return [pid for pid, in ledger_query(
        d, "SELECT pid FROM pg_stat_activity WHERE datname = "
           "current_database() AND query LIKE 'LISTEN %'")]


def terminate(d, pid):
    """Ends a session of d's database, as a restarting server or a proxy
    would."""
    con = conftest._pg().connect(d.database_url, connect_timeout=10)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        con.close()


@pytest.mark.timeout(150)
def test_jobs_of_one_instance_wake_the_workers_of_another(make_daemon):
    # a runs no jobs (BOOKINGD_WORKERS=0): b must run what a stores.
    secret = H.new_secret()
    env = H.calcom_env(secret, BOOKINGD_JOB_IDLE_POLL_MS=IDLE_POLL_MS)
    a = make_daemon(env={**env, "BOOKINGD_WORKERS": "0"}, name="a")
    b = make_daemon(env=env, name="b", database_url=a.database_url)
    a.secret = b.secret = secret
    # Only b listens (a has no worker to wake).
    first, = H.wait_until(lambda: listeners(a), 30, "b listening")
    bodies = delivery_bodies(0, 3, "wake")

    t0 = time.monotonic()
    d0 = H.received(a, bodies[0][2])
    H.wait_processed(b, [d0], timeout=PROMPTLY_S)
    seconds = time.monotonic() - t0

    # The server ends b's listening session: b listens again on a new one,
    # and hears the next job.
    terminate(a, first)
    second, = H.wait_until(lambda: [p for p in listeners(a) if p != first],
                           30, "b listening again")
    d1 = H.received(a, bodies[1][2])
    H.wait_processed(b, [d1], timeout=PROMPTLY_S)

    # A job committed while b's session is being replaced: b hears it, or
    # finds it when it wakes its workers on listening again.
    terminate(a, second)
    d2 = H.received(a, bodies[2][2])
    H.wait_processed(b, [d2], timeout=PROMPTLY_S)
    H.wait_until(lambda: [p for p in listeners(a) if p != second], 30,
                 "b listening a third time")
    assert "listening for jobs of other instances again" in b.stderr()
    print(f"a stored, b applied {seconds:.2f}s later")
