"""Webhook intake waits for the inbox's group commit without holding an
HTTP thread (issue 12, "Speed"): the request is deferred (the connection
suspended) until its batch committed. With one HTTP thread and the
inbox's committer held (the test build's hold point inbox.hold, released
by deleting a file), deliveries in flight must not keep /healthz, /readyz
or the API from answering; once released every delivery is answered, and
a shutdown in the middle still answers them before it exits 0."""
import signal
import threading
import time

import calcom_helpers as ch

WAIT_S = 30


def wait_for(what, fn, timeout=WAIT_S, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


def held_daemon(make_daemon, tmp_path, **extra):
    hold = tmp_path / "hold-inbox"
    hold.write_text("held\n")
    secret = ch.new_secret()
    d = make_daemon(env=ch.calcom_env(
        secret, BOOKINGD_HTTP_THREADS="1", BOOKINGD_FAULTS="inbox.hold=1",
        BOOKINGD_FAULT_HOLD_FILE=str(hold), BOOKINGD_READY_STALL_MS="500",
        **extra))
    d.secret = secret
    return d, hold


def send_in_background(d, n):
    answers = [None] * n
    bodies = [ch.created() for _ in range(n)]

    def send(i):
        answers[i] = ch.post(d, bodies[i], timeout=WAIT_S + 60)

    threads = [threading.Thread(target=send, args=(i,), daemon=True)
               for i in range(n)]
    for t in threads:
        t.start()
    return threads, answers


def test_a_waiting_delivery_holds_no_thread(make_daemon, tmp_path):
    d, hold = held_daemon(make_daemon, tmp_path)
    threads, answers = send_in_background(d, 8)
    # The first delivery's batch is held in the committer; the others wait
    # for the next batch. One HTTP thread serves everything else.
    wait_for("the inbox stalled", lambda: d.get("/readyz").status == 503)
    for _ in range(5):
        r = d.get("/healthz", timeout=10)
        assert r.status == 200, r
    assert d.get("/api/v1/webhook-deliveries", admin=True,
                 timeout=10).status == 200
    assert all(a is None for a in answers), answers
    hold.unlink()
    for t in threads:
        t.join(WAIT_S)
        assert not t.is_alive(), "a delivery was never answered"
    for a in answers:
        assert a.status == 200, a
        assert a.json["status"] == "received", a.json
    ids = {a.json["delivery"] for a in answers}
    assert len(ids) == 8
    stored = {x["id"] for x in ch.deliveries(d)}
    assert ids <= stored, (ids, stored)
    wait_for("/readyz 200", lambda: d.get("/readyz").status == 200)


def test_errors_are_answered_at_once_while_the_inbox_waits(make_daemon,
                                                          tmp_path):
    d, hold = held_daemon(make_daemon, tmp_path)
    threads, answers = send_in_background(d, 1)
    wait_for("the inbox stalled", lambda: d.get("/readyz").status == 503)
    # Refused before the inbox: answered without waiting for it.
    r = ch.post(d, ch.created(), signature="0" * 64, timeout=10)
    assert r.status == 401, r
    r = ch.post(d, ch.created(), content_type="text/plain", timeout=10)
    assert r.status == 415, r
    hold.unlink()
    threads[0].join(WAIT_S)
    assert answers[0].status == 200, answers[0]


def test_shutdown_answers_deferred_deliveries_before_exiting(make_daemon,
                                                             tmp_path):
    d, hold = held_daemon(make_daemon, tmp_path)
    threads, answers = send_in_background(d, 3)
    wait_for("the inbox stalled", lambda: d.get("/readyz").status == 503)
    d.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)  # the shutdown has begun; the deliveries still wait
    assert all(a is None for a in answers), answers
    hold.unlink()
    for t in threads:
        t.join(WAIT_S)
        assert not t.is_alive(), "a delivery was never answered"
    problems = d.wait_exit()
    assert not problems, problems
    for a in answers:
        assert a.status == 200, a
        assert a.json["status"] == "received", a.json
