"""Storage faults (issue 12): a full disk, the database file deleted or
replaced while running, a damaged database, a read-only directory; and
/readyz, which checks that the database takes writes.

The SQLite cases mount a small tmpfs for the database (tests run as root;
each is skipped, with the reason, where mounting is not permitted). A full
disk on PostgreSQL (SQLSTATE class 53) is a unit test of the driver's error
mapping (tests/unit/store/test_pg_driver.c).
"""
import datetime as dt
import errno
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import (Daemon, assert_error, ledger_query, standard_catalog,
                      today_utc)

WAIT_S = 20  # bound of every state-based wait here


def wait_for(what, fn, timeout=WAIT_S, interval=0.05):
    """Calls fn until it returns a true value (returned); fails after
    timeout seconds, naming what was awaited and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last!r})")


def _run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True,
                          timeout=30)


@pytest.fixture
def tmpfs(tmp_path):
    """mount(name, size="2m") mounts a new tmpfs at tmp_path/name and
    returns its path; every mount is lazily unmounted at teardown. Request
    it before make_daemon, so that the daemons stop first."""
    mounted = []

    def mount(name, size="2m"):
        path = tmp_path / name
        path.mkdir(parents=True, exist_ok=True)
        p = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                 "tmpfs", str(path))
        if p.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): "
                        f"{p.stderr.strip() or p.returncode}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        _run("umount", "-l", str(path))


def remount_read_only(path):
    p = _run("mount", "-o", "remount,ro", str(path))
    if p.returncode != 0:
        pytest.skip(f"cannot remount a tmpfs read-only: {p.stderr.strip()}")


def fill(directory):
    """Writes a file into directory until the file system is full; returns
    its path."""
    path = directory / "filler"
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 512, 1):
            while True:
                try:
                    f.write(b"\xa5" * size)
                except OSError as e:
                    if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    break
    return path


def free_starts(d, n):
    """n free slot starts of 'intro' from tomorrow on."""
    starts = d.slot_starts("intro", days_ahead=1, span=6)
    assert len(starts) >= n, starts
    return starts[:n]


def readyz_status(d):
    return d.get("/readyz").status


def booking_uids(d):
    return {b["uid"] for b in d.list_all("/api/v1/bookings")}


# ---- /readyz ------------------------------------------------------------------

def test_readyz_write_probe_changes_nothing_visible(app):
    """/readyz writes (a probe row, deleted in the same transaction): the
    ledger reads the same before and after, and the answer stays 200."""
    before = app.snapshot()
    for _ in range(3):
        r = app.get("/readyz")
        assert r.status == 200, r
        assert r.json["status"] == "ready"
    assert app.snapshot() == before


# ---- a full disk --------------------------------------------------------------

@pytest.mark.sqlite_only("fills a tmpfs holding the SQLite file; PostgreSQL's "
                         "disk_full is a unit test of the error mapping")
def test_disk_full_is_503_with_retry_after_then_recovers(tmpfs, make_daemon):
    fs = tmpfs("fs", size="2m")
    d = make_daemon(database_url=f"sqlite:{fs / 'bookingd.db'}")
    d.apply(standard_catalog())
    starts = free_starts(d, 24)
    acknowledged = {d.book("intro", starts.pop(0)).json["uid"]
                    for _ in range(2)}
    assert readyz_status(d) == 200

    filler = fill(fs)
    # A write that still fits into space SQLite holds already may pass;
    # it is acknowledged, so it must survive like the others.
    refused = None
    while starts and refused is None:
        r = d.book("intro", starts.pop(0), expect=None)
        if r.status == 201:
            acknowledged.add(r.json["uid"])
        else:
            refused = r
    assert refused is not None, "every booking passed on a full disk"
    assert_error(refused, 503, "storage_full")
    assert refused.header("Retry-After"), refused.headers
    wait_for("/readyz 503 on a full disk", lambda: readyz_status(d) == 503)
    r = d.get("/readyz")
    assert_error(r, 503, "storage_full")
    assert r.header("Retry-After")
    # Reads go on.
    assert d.slot_starts("intro", days_ahead=1, span=6)
    assert acknowledged <= booking_uids(d)
    assert "writes fail" in d.stderr(), d.stderr()[-3000:]

    filler.unlink()
    wait_for("/readyz 200 once there is room", lambda: readyz_status(d) == 200)
    r = d.book("intro", starts.pop(0))
    acknowledged.add(r.json["uid"])
    assert "writes work again" in d.stderr()

    d.restart()
    assert acknowledged <= booking_uids(d)


# ---- the database file deleted or replaced ------------------------------------

def _replace_with_another_database(path):
    other = path.with_name("other.db")
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x INTEGER)")
    con.commit()
    con.close()
    os.replace(other, path)


@pytest.mark.sqlite_only("deletes or replaces the SQLite file")
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_database_file_gone_while_running_refuses_service(app, how):
    start = free_starts(app, 2)
    uid = app.book("intro", start[0]).json["uid"]
    path = app.db_path
    if how == "deleted":
        path.unlink()
    else:
        _replace_with_another_database(path)
    replacement = None if how == "deleted" else path.read_bytes()

    r = app.book("intro", start[1], expect=None)
    assert_error(r, 503, "unavailable")
    assert r.header("Retry-After")
    r = app.get(f"/api/v1/bookings/{uid}", admin=True)
    assert_error(r, 503, "unavailable")
    r = app.get("/readyz")
    assert_error(r, 503, "unavailable")
    assert app.get("/healthz").status == 200
    # The booking page is still served, without its first data (its
    # script's API calls then say the service is unavailable).
    page = app.get("/")
    assert page.status == 200 and b"<!doctype html>" in page.body
    assert b'id="first-data"' not in page.body
    wait_for("the log line", lambda: f"was {how} while bookingd ran"
             in app.stderr())
    # The workers poll once a second: after two polls nothing made a file.
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        assert readyz_status(app) == 503
        time.sleep(0.25)
    if how == "deleted":
        assert not path.exists(), "an empty database was created"
    else:
        assert path.read_bytes() == replacement, "the replacement was written"
    loud = [line for line in app.stderr().splitlines()
            if f"error store: the database file {path} was {how}" in line]
    assert len(loud) == 1, "the loud line is logged once, not per request"



# ---- a damaged database -------------------------------------------------------

def _damage_an_index_page(path):
    """Overwrites the root page of an index of the bookings table with
    junk, at its known offset; returns that offset."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    row = con.execute(
        "SELECT name, rootpage FROM sqlite_master WHERE type = 'index' "
        "AND tbl_name = 'bookings' AND rootpage > 1 ORDER BY name "
        "LIMIT 1").fetchone()
    con.close()
    assert row, "the bookings table has no index"
    offset = (row[1] - 1) * page_size
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes([0x0d, 0xff, 0xff, 0x00, 0x99]) * (page_size // 5))
    return offset


@pytest.mark.sqlite_only("damages a page of the SQLite file")
def test_damaged_database_is_refused_at_start(make_daemon):
    d = make_daemon()
    d.apply(standard_catalog())
    for s in free_starts(d, 3):
        d.book("intro", s)
    d.stop_checked()
    _damage_an_index_page(d.db_path)
    damaged = d.db_path.read_bytes()

    for command, level in (("serve", None), ("serve", "full"),
                           ("migrate", "quick")):
        env = {"BOOKINGD_INTEGRITY_CHECK": level} if level else None
        p = d.cli(command, env=env, timeout=60)
        assert p.returncode == 1, (command, level, p.returncode, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert lines[0].startswith("bookingd: BOOKINGD_DATABASE: "), lines
        assert "damaged" in lines[0] and "BOOKINGD_INTEGRITY_CHECK" in lines[0]
        assert d.db_path.read_bytes() == damaged, "a damaged file was written"

    # The override starts it (the operator's choice).
    d.extra_env["BOOKINGD_INTEGRITY_CHECK"] = "off"
    d.start()
    assert d.get("/healthz").status == 200


def test_integrity_check_passes_on_a_sound_database(make_daemon):
    d = make_daemon(env={"BOOKINGD_INTEGRITY_CHECK": "full"})
    d.apply(standard_catalog())
    d.book("intro", free_starts(d, 1)[0])
    d.restart()
    assert len(booking_uids(d)) == 1


# ---- a read-only directory ----------------------------------------------------

@pytest.mark.sqlite_only("a sqlite: URL in a read-only mount")
@pytest.mark.parametrize("existing", [False, True],
                         ids=["new-file", "existing-file"])
def test_read_only_directory_is_named_at_start(tmpfs, tmp_path, existing):
    fs = tmpfs("ro", size="4m")
    d = Daemon(tmp_path / "cli", database_url=f"sqlite:{fs / 'bookingd.db'}")
    if existing:
        p = d.cli("migrate")
        assert p.returncode == 0, p.stderr
        assert d.db_path.exists()
    remount_read_only(fs)
    p = d.cli("serve", timeout=30)
    assert p.returncode == 1, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "BOOKINGD_DATABASE" in lines[0]
    assert f"directory {fs} is not writable" in lines[0], lines[0]
