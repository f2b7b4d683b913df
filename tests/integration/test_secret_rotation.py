"""Rotating BOOKINGD_SECRET_KEY (docs/operations.md "Rotating the secret
key"): with the old key as BOOKINGD_SECRET_KEY_PREVIOUS everything sealed
under it still opens (a CalDAV password against a real Radicale, an
outbound webhook secret checked by a receiver here); `bookingd rekey`,
run while the daemon serves, seals it all again under the new key, once;
then the old key can go. A value sealed under a key the daemon does not
have is an error of that connection, and nothing crashes."""
import base64
import secrets
import subprocess

import pytest

import calcom_helpers as H
from conftest import Daemon, ledger_query
from test_calendars import ENV, connect, events_of, radicale  # noqa: F401
from test_calendars import start as start_daemon
from test_outbound_webhooks import FAST, add_endpoint, receivers  # noqa
from test_outbound_webhooks import verify


def new_key():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def sealed_ids(d):
    """The key ids of every sealed value in the database."""
    rows = ledger_query(d, "SELECT credential FROM calendar_connections")
    rows += ledger_query(d, "SELECT secret FROM webhook_endpoints")
    return sorted(v.split(":")[1] for (v,) in rows)


def restart(d, **env):
    assert not d.stop()
    for k, v in env.items():
        if v is None:
            d.extra_env.pop(k, None)
        else:
            d.extra_env[k] = v
    d.start()


def book_and_see(d, radicale, recv, secret, i):
    """A booking reaches Radicale (the password opened) and the receiver
    (the webhook secret opened: the signature verifies)."""
    s = d.slot_starts("intro")
    uid = d.book("intro", s[i], email=f"p{i}@example.com").json["uid"]
    H.wait_until(lambda: uid in events_of(radicale.work), 60,
                 f"booking {i} in Radicale")
    H.wait_until(lambda: any(uid.encode() in b for _, b in recv.delivered()),
                 60, f"booking {i} delivered")
    for h, b in recv.delivered():
        verify(secret, h, b)
    return uid


def test_rotate_rekey_then_drop_the_previous_key(make_daemon, radicale,
                                                 receivers):
    old, new = ENV["BOOKINGD_SECRET_KEY"], new_key()
    d = start_daemon(make_daemon, **FAST)
    r = connect(d, radicale.url + "coach/work/")
    assert r.status == 201, r
    cal = r.json["id"]
    recv = receivers()
    secret = add_endpoint(d, recv.url)["secret"]
    book_and_see(d, radicale, recv, secret, 0)
    (old_id,) = set(sealed_ids(d))

    # The new key, the old one as the previous: both open.
    restart(d, BOOKINGD_SECRET_KEY=new, BOOKINGD_SECRET_KEY_PREVIOUS=old)
    book_and_see(d, radicale, recv, secret, 1)
    assert set(sealed_ids(d)) == {old_id}  # nothing sealed again by itself

    # rekey while the daemon serves: every value under the new key, once.
    p = d.cli("rekey")
    assert p.returncode == 0, p.stderr
    assert "2 value(s) sealed again, 0 already under it" in p.stdout, p.stdout
    ids = sealed_ids(d)
    assert len(set(ids)) == 1 and ids[0] != old_id, ids
    p = d.cli("rekey")
    assert p.returncode == 0, p.stderr
    assert "0 value(s) sealed again, 2 already under it" in p.stdout, p.stdout
    assert sealed_ids(d) == ids  # idempotent: not even re-encrypted
    for secret_text in (old, new, secret):
        assert secret_text not in p.stdout + p.stderr
    book_and_see(d, radicale, recv, secret, 2)

    # The previous key gone: still works.
    restart(d, BOOKINGD_SECRET_KEY_PREVIOUS=None)
    book_and_see(d, radicale, recv, secret, 3)
    c = d.get(f"/api/v1/calendars/{cal}", admin=True).json
    assert c["status"] == "active" and c["last_error"] is None, c

    # A key that sealed none of it: a clear error on the connection, the
    # daemon and the other bookings unharmed; rekey refuses to guess.
    restart(d, BOOKINGD_SECRET_KEY=new_key())
    s = d.slot_starts("intro")
    b = d.book("intro", s[4], email="p4@example.com")
    assert b.status == 201, b

    def errored():
        c = d.get(f"/api/v1/calendars/{cal}", admin=True).json
        return c if c["status"] == "error" else None
    c = H.wait_until(errored, 60, "the connection's error")
    assert "unknown secret key" in c["last_error"], c
    assert "BOOKINGD_SECRET_KEY_PREVIOUS" in c["last_error"], c
    assert d.alive()
    assert d.get("/api/v1/hosts/coach", admin=True).status == 200
    p = d.cli("rekey")
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "0 value(s) sealed again" in p.stdout, p.stdout
    assert "2 could not be opened" in p.stdout, p.stdout
    assert f"calendar connection {cal}: " in p.stderr, p.stderr
    assert "unknown secret key" in p.stderr, p.stderr
    assert sealed_ids(d) == ids  # left as they were


def test_rekey_seals_plain_webhook_secrets(make_daemon, receivers):
    """An endpoint made before any key was set keeps its secret in plain
    text; rekey seals it, and deliveries still verify."""
    d = make_daemon(env=FAST)
    recv = receivers()
    secret = add_endpoint(d, recv.url)["secret"]
    (plain,), = ledger_query(d, "SELECT secret FROM webhook_endpoints")
    assert plain == secret
    restart(d, BOOKINGD_SECRET_KEY=new_key())
    p = d.cli("rekey")
    assert p.returncode == 0, p.stderr
    assert "1 plain webhook secret(s) sealed" in p.stdout, p.stdout
    (sealed,), = ledger_query(d, "SELECT secret FROM webhook_endpoints")
    assert sealed.startswith("bk1:") and secret not in sealed
    d.apply(__import__("conftest").standard_catalog())
    uid = d.book("intro", d.slot_starts("intro")[0]).json["uid"]
    H.wait_until(lambda: any(uid.encode() in b for _, b in recv.delivered()),
                 60, "the delivery")
    for h, b in recv.delivered():
        verify(secret, h, b)


@pytest.mark.parametrize("env,why", [
    ({"BOOKINGD_SECRET_KEY_PREVIOUS": "KEY"}, "without BOOKINGD_SECRET_KEY"),
    ({"BOOKINGD_SECRET_KEY": "KEY", "BOOKINGD_SECRET_KEY_PREVIOUS": "KEY"},
     "the same key"),
    ({"BOOKINGD_SECRET_KEY": "KEY",
      "BOOKINGD_SECRET_KEY_PREVIOUS": "short"}, "32 bytes"),
    ({"BOOKINGD_SECRET_KEY": "KEY",
      "BOOKINGD_SECRET_KEY_PREVIOUS": "A" * 4096}, "32 bytes"),
])
def test_bad_previous_key_stops_start(tmp_path, env, why):
    key = new_key()
    env = {k: key if v == "KEY" else v for k, v in env.items()}
    d = Daemon(tmp_path / "d", env=env)
    for args in (["serve"], ["rekey"]):
        p = subprocess.run([d.bin, *args], env=d.env(), capture_output=True,
                           text=True, timeout=60, cwd=d.workdir)
        assert p.returncode == 2, p
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert "BOOKINGD_SECRET_KEY_PREVIOUS" in lines[0], p.stderr
        assert why in lines[0], p.stderr
        assert key not in p.stderr


def test_rekey_needs_a_key(tmp_path):
    d = Daemon(tmp_path / "d")
    p = subprocess.run([d.bin, "rekey"], env=d.env(), capture_output=True,
                       text=True, timeout=60, cwd=d.workdir)
    assert p.returncode == 2 and "BOOKINGD_SECRET_KEY" in p.stderr, p
    p = subprocess.run([d.bin, "rekey", "extra"], env=d.env(),
                       capture_output=True, text=True, timeout=60,
                       cwd=d.workdir)
    assert p.returncode == 2 and "usage" in p.stderr, p
