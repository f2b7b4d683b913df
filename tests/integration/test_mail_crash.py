"""A SIGKILL of bookingd during a burst of bookings made through the API,
with SMTP configured (aiosmtpd), then a restart on the same database
(issue 7 "Faults", docs/mail.md "the one duplicate").

BOOKINGS requests are posted from THREADS threads to a daemon whose SMTP
server takes DATA_DELAY_S to answer each message; the daemon is SIGKILLed
once KILL_AFTER_EMAILS emails arrived, while the burst goes on and its
workers are in the middle of sending (a 250 on its way to a dead
process: the crash window). After the restart, and a bounded wait until
every message of the database is sent: every booking the database holds
confirmed (acknowledged or not: a commit whose answer was lost counts too)
got its attendee confirmation and its host notice, each message with the
Message-ID the database recorded; every Message-ID that arrived is one of
those; and a Message-ID arrived twice only in the documented crash window
(the server's 250 came, the commit that marks the message sent did not),
which is at most the messages in flight when the process died — never
more than the workers' claimed jobs — and always with the same Message-ID.

The figures are printed (run the file with pytest -s to see them).
"""
import collections
import datetime as dt
import threading
import time

import pytest

import calcom_helpers as H
from conftest import ledger_query, standard_catalog, today_in
from smtp_server import SmtpServer

BOOKINGS = 200
THREADS = 16
KILL_AFTER_EMAILS = 60
# Each thread waits this long between its requests, so that the burst
# (about BOOKINGS * PACE_S / THREADS seconds) outlasts the first emails
# and the kill falls inside it.
PACE_S = 0.15
DATA_DELAY_S = 0.02
WORKERS = 2
CLAIM_BATCH = 4
SETTLE_TIMEOUT_S = 120


def free_starts(d, n):
    """n slot starts of 'intro', soonest first, over as many days as it
    takes."""
    out = []
    day = today_in("Europe/Berlin") + dt.timedelta(days=1)
    while len(out) < n:
        j = d.slots("intro", day, day + dt.timedelta(days=9))
        for k in sorted(j["slots"]):
            out += [s["start"] for s in j["slots"][k]]
        day += dt.timedelta(days=10)
    return out[:n]


class Burst:
    def __init__(self, d, starts, smtp, first=0, kill=True):
        self.d = d
        self.smtp = smtp
        self.starts = starts
        self.lock = threading.Lock()
        self.next = first
        self.kill = kill
        self.acked = {}  # index -> uid
        self.killed = threading.Event()

    def _take(self):
        with self.lock:
            if self.next >= len(self.starts) or self.killed.is_set():
                return None
            self.next += 1
            return self.next - 1

    def _worker(self):
        while True:
            i = self._take()
            if i is None:
                return
            body = {"event_type": "intro", "start": self.starts[i],
                    "attendee": {"name": f"Client {i}",
                                 "email": f"c{i}@example.com"}}
            try:
                r = self.d.post("/api/v1/bookings", body, timeout=30)
            except OSError:  # the kill
                continue
            if r.status == 201:
                with self.lock:
                    self.acked[i] = r.json["uid"]
            time.sleep(PACE_S)

    def _killer(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.smtp.messages()) >= KILL_AFTER_EMAILS:
                with self.lock:
                    self.killed.set()
                    self.kill_at_booking = self.next
                    H.sigkill(self.d)
                return
            time.sleep(0.002)

    def run(self, timeout=120):
        threads = [threading.Thread(target=self._worker, daemon=True)
                   for _ in range(THREADS)]
        if self.kill:
            threads.append(threading.Thread(target=self._killer,
                                            args=(timeout,), daemon=True))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, t0 + timeout - time.monotonic()))
            assert not t.is_alive(), f"the burst hung past {timeout} s"
        if self.kill:
            assert self.killed.is_set(), "the burst ended before the kill"
            assert self.kill_at_booking < len(self.starts), \
                "the kill came after the burst"


def wait_until(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.timeout(300)
@pytest.mark.floods("200 bookings from 127.0.0.1 in a burst")
def test_sigkill_during_a_burst_every_confirmation_once(make_daemon,
                                                       tmp_path):
    smtp = SmtpServer(tmp_path, tls=False)
    smtp.data_delay_s = DATA_DELAY_S
    smtp.start()
    try:
        d = make_daemon(env={
            **smtp.env(), "BOOKINGD_WORKERS": str(WORKERS),
            "BOOKINGD_JOB_LEASE_MS": "1000",
            "BOOKINGD_JOB_RETRY_BASE_MS": "100",
            "BOOKINGD_JOB_RETRY_MAX_MS": "400",
            "BOOKINGD_JOB_IDLE_POLL_MS": "50",
            "BOOKINGD_LOG_LEVEL": "warn"})
        d.apply(standard_catalog())
        # Confirmations and notices only: no reminder jobs in the way.
        r = d.patch("/api/v1/event-types/intro", {"reminders_minutes": []},
                    admin=True)
        assert r.status == 200, r
        starts = free_starts(d, BOOKINGS)
        burst = Burst(d, starts, smtp)
        t0 = time.monotonic()
        burst.run()
        kill_s = time.monotonic() - t0
        arrived_at_kill = len(smtp.messages())
        d.start()
        t1 = time.monotonic()
        # The rest of the burst, to the restarted daemon.
        rest = Burst(d, starts, smtp, first=burst.kill_at_booking, kill=False)
        rest.run()

        def settled():
            return not ledger_query(
                d, "SELECT id FROM jobs WHERE kind LIKE 'mail.%'"
                   " AND status IN (0, 1)") and not ledger_query(
                d, "SELECT id FROM messages WHERE status <> 1")
        wait_until(settled, SETTLE_TIMEOUT_S, "every message sent")
        settle_s = time.monotonic() - t1

        confirmed = dict(ledger_query(
            d, "SELECT uid, id FROM bookings WHERE status = 1"))
        rows = ledger_query(
            d, "SELECT b.uid, m.kind, m.message_id, m.status, m.attempts"
               " FROM messages m JOIN bookings b ON b.id = m.booking_id")
        dead = ledger_query(d, "SELECT id, last_error FROM jobs"
                               " WHERE status = 3")
        assert dead == [], dead
        # Every acknowledged booking is in the ledger, confirmed.
        acked = set(burst.acked.values()) | set(rest.acked.values())
        assert acked <= set(confirmed), acked - set(confirmed)
        assert len(rest.acked) == BOOKINGS - burst.kill_at_booking
        expect = {}
        for uid, kind, mid, status, _ in rows:
            assert status == 1, (uid, kind, status)
            expect[mid] = (uid, kind)
        # Two messages per confirmed booking, recorded once each.
        by_booking = collections.Counter(uid for uid, _ in expect.values())
        assert set(by_booking) == set(confirmed), \
            set(confirmed) ^ set(by_booking)
        assert all(c == 2 for c in by_booking.values()), by_booking
        for uid in confirmed:
            assert f"<{uid}.attendee_confirmed.0@example.com>" in expect
            assert f"<{uid}.host_new.0@example.com>" in expect

        got = collections.Counter(m["msg"]["Message-ID"]
                                  for m in smtp.messages())
        strangers = set(got) - set(expect)
        missing = set(expect) - set(got)
        twice = {mid: c for mid, c in got.items() if c > 1}
        print(f"\nburst: {len(burst.acked)} bookings acknowledged of "
              f"{burst.kill_at_booking} sent before the SIGKILL at "
              f"{kill_s:.2f} s "
              f"({arrived_at_kill} emails had arrived); "
              f"{len(rest.acked)} more after the restart; "
              f"{len(confirmed)} confirmed in the ledger; "
              f"{len(expect)} messages; all sent {settle_s:.2f} s after the "
              f"restart; {len(twice)} Message-IDs arrived twice "
              f"(the crash window)")
        assert not strangers, strangers
        assert not missing, missing
        # The crash window: only messages whose send was under way when
        # the process died, each at most twice and under its one
        # Message-ID (a Counter key is the Message-ID itself).
        assert all(c == 2 for c in twice.values()), twice
        assert len(twice) <= WORKERS * CLAIM_BATCH, twice
        # The recipients are right for every Message-ID that arrived.
        for m in smtp.messages():
            uid, kind = expect[m["msg"]["Message-ID"]]
            if kind == "attendee_confirmed":
                to = m["to"]
                assert len(to) == 1 and to[0].startswith("c"), (kind, to)
            else:
                assert m["to"] == ["coach@example.com"], m["to"]
        d.stop_checked()
    finally:
        smtp.stop()
