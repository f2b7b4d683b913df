"""GET /readyz beyond the database (issue 12, "Operations"): the job
workers and the webhook inbox's committer. A part is stalled through the
test build's hold points (base/fault.h: BOOKINGD_FAULTS names the point,
BOOKINGD_FAULT_HOLD_FILE is the file whose existence keeps the thread
held) or stopped dead; /readyz must answer 503 naming the part, and 200
again once it recovers."""
import threading
import time

import calcom_helpers as ch
from conftest import assert_error

WAIT_S = 30  # bound of every state-based wait here
STALL_MS = 1000  # BOOKINGD_READY_STALL_MS of these daemons


def wait_for(what, fn, timeout=WAIT_S, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


def readyz(d):
    return d.get("/readyz")


def not_ready_because(d, part, state):
    """The /readyz answer when it is 503 with checks[part] == state."""
    r = readyz(d)
    if r.status != 503:
        return None
    checks = r.json["error"]["details"].get("checks", {})
    return r if checks.get(part) == state else None


def test_ready_answer_names_every_part(daemon):
    r = readyz(daemon)
    assert r.status == 200, r
    assert r.json["status"] == "ready"
    assert r.json["checks"] == {"database": "ok", "workers": "ok",
                                "inbox": "ok"}


def test_a_stalled_worker_makes_readyz_503_until_it_recovers(make_daemon,
                                                              tmp_path):
    hold = tmp_path / "hold-worker"
    hold.write_text("held\n")
    d = make_daemon(env={"BOOKINGD_FAULTS": "jobs.worker.hold=1",
                         "BOOKINGD_FAULT_HOLD_FILE": str(hold),
                         "BOOKINGD_READY_STALL_MS": str(STALL_MS)})
    r = wait_for("/readyz 503 naming the workers",
                 lambda: not_ready_because(d, "workers", "stalled"))
    e = assert_error(r, 503, "unavailable")
    assert r.header("Retry-After")
    assert e["details"]["failed"] == ["workers"], e
    assert e["details"]["checks"]["database"] == "ok"
    assert e["details"]["checks"]["inbox"] == "ok"
    w = e["details"]["workers"]
    assert w["total"] == 2 and w["stalled"] == 1 and w["dead"] == 0, w
    assert w["longest_busy_ms"] > STALL_MS, w
    # Liveness is another question: the process still serves.
    assert d.get("/healthz").status == 200
    wait_for("the log line", lambda: "readyz: not ready: workers"
             in d.stderr())

    hold.unlink()
    r = wait_for("/readyz 200 after the worker recovered",
                 lambda: (lambda r: r if r.status == 200 else None)(
                     readyz(d)))
    assert r.json["checks"]["workers"] == "ok"
    wait_for("the recovery log line", lambda: "readyz: ready again"
             in d.stderr())


def test_a_dead_worker_makes_readyz_503(make_daemon):
    d = make_daemon(env={"BOOKINGD_FAULTS": "jobs.worker.exit=1"})
    r = wait_for("/readyz 503 naming a dead worker",
                 lambda: not_ready_because(d, "workers", "dead"))
    e = assert_error(r, 503, "unavailable")
    assert e["details"]["workers"]["dead"] == 1, e
    assert e["details"]["workers"]["total"] == 2, e
    assert e["details"]["failed"] == ["workers"], e


def test_a_stalled_inbox_makes_readyz_503_until_it_recovers(make_daemon,
                                                             tmp_path):
    hold = tmp_path / "hold-inbox"
    hold.write_text("held\n")
    secret = ch.new_secret()
    d = make_daemon(env=ch.calcom_env(
        secret, BOOKINGD_FAULTS="inbox.hold=1",
        BOOKINGD_FAULT_HOLD_FILE=str(hold),
        BOOKINGD_READY_STALL_MS=str(STALL_MS)))
    d.secret = secret
    assert readyz(d).status == 200
    answer = {}

    def send():
        answer["r"] = ch.post(d, ch.created(), timeout=WAIT_S + 30)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    r = wait_for("/readyz 503 naming the inbox",
                 lambda: not_ready_because(d, "inbox", "stalled"))
    e = assert_error(r, 503, "unavailable")
    assert e["details"]["failed"] == ["inbox"], e
    assert e["details"]["inbox"]["busy_ms"] > STALL_MS, e
    assert "r" not in answer, "acknowledged before its batch committed"

    hold.unlink()
    t.join(WAIT_S)
    assert not t.is_alive(), "the held delivery was never answered"
    assert answer["r"].status == 200, answer["r"]
    assert answer["r"].json["status"] == "received"
    wait_for("/readyz 200 after the inbox recovered",
             lambda: readyz(d).status == 200)


def test_ready_stall_bound_is_checked_at_start(make_daemon):
    for bad in ["0", "99", "abc", "86400001"]:
        d = make_daemon(env={"BOOKINGD_READY_STALL_MS": bad}, start=False)
        p = d.cli("serve", timeout=30)
        assert p.returncode == 2, (bad, p.returncode, p.stderr)
        assert "BOOKINGD_READY_STALL_MS" in p.stderr, p.stderr
