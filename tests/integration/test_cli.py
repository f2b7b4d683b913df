"""The command line: `bookingd apply`, `migrate`, `slots --event-type`, the
configuration checks of every command, and `serve` start-up (the generated
admin key, port conflicts, clean exits)."""
import copy
import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (Daemon, assert_error, parse_instant, standard_catalog,
                      today_in, weekly_all_days)

DAY = dt.timedelta(days=1)

CATALOG = {
    "hosts": [
        {"slug": "ada", "name": "Ada", "email": "ada@example.com",
         "timezone": "Europe/Berlin",
         "schedule": {"timezone": "Europe/Berlin",
                      "weekly": weekly_all_days("09:00", "17:00"),
                      "overrides": [{"date": "2031-12-25",
                                     "unavailable": True}]}},
        {"slug": "bob", "name": "Bob", "email": "bob@example.com",
         "timezone": "America/New_York"},
    ],
    "event_types": [
        {"slug": "intro", "title": "Intro", "host": "ada",
         "duration_minutes": 30},
        {"slug": "deep", "title": "Deep dive", "host": "ada",
         "duration_minutes": 90, "slot_interval_minutes": 30,
         "buffer_after_minutes": 15, "price": {"amount": 9000,
                                               "currency": "EUR"},
         "location": {"kind": "video", "value": "https://meet.example/x"}},
        {"slug": "bob-call", "title": "Bob call", "host": "bob",
         "duration_minutes": 45, "active": False},
    ],
}


def api_view(d):
    """Hosts, schedules and event types as the admin API shows them,
    without updated_at."""
    def strip(x):
        return {k: v for k, v in x.items() if k != "updated_at"}
    hosts = [strip(h) for h in d.list_all("/api/v1/hosts")]
    scheds = {}
    for h in hosts:
        r = d.get(f"/api/v1/hosts/{h['slug']}/schedule", admin=True)
        scheds[h["slug"]] = r.json if r.status == 200 else r.status
    ets = [strip(e) for e in d.list_all("/api/v1/event-types")]
    return {"hosts": hosts, "schedules": scheds, "event_types": ets}


# ---- apply -------------------------------------------------------------------

def test_apply_creates(daemon):
    p = daemon.apply(CATALOG)
    out = p.stdout
    assert "host ada: created" in out and "host bob: created" in out
    assert "event type intro: created" in out
    v = api_view(daemon)
    assert [h["slug"] for h in v["hosts"]] == ["ada", "bob"]
    assert v["hosts"][1]["timezone"] == "America/New_York"
    assert v["schedules"]["ada"] == {
        "timezone": "Europe/Berlin", "weekly": weekly_all_days("09:00",
                                                               "17:00"),
        "overrides": [{"date": "2031-12-25", "unavailable": True}]}
    assert v["schedules"]["bob"] == 404
    ets = {e["slug"]: e for e in v["event_types"]}
    assert set(ets) == {"intro", "deep", "bob-call"}
    for spec in CATALOG["event_types"]:
        for k, val in spec.items():
            assert ets[spec["slug"]][k] == val, (spec["slug"], k)
    # API defaults apply to fields the file leaves out
    assert ets["intro"]["slot_interval_minutes"] == 30
    assert ets["intro"]["horizon_days"] == 60
    assert ets["intro"]["active"] is True
    # and the public sees only active ones
    pub = daemon.get("/api/v1/event-types").json["data"]
    assert sorted(e["slug"] for e in pub) == ["deep", "intro"]


def test_apply_twice_changes_nothing(daemon):
    daemon.apply(CATALOG)
    view = api_view(daemon)
    snap = daemon.snapshot(ignore_columns=("updated_utc",))
    counts = daemon.counts()
    p = daemon.apply(CATALOG)
    assert "created" not in p.stdout
    assert api_view(daemon) == view
    assert daemon.counts() == counts
    assert daemon.snapshot(ignore_columns=("updated_utc",)) == snap


def test_apply_twice_keeps_updated_at(daemon):
    daemon.apply(CATALOG)
    snap = daemon.snapshot()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # let the clock pass a second
        if int(time.time()) > int(parse_instant(daemon.get(
                "/api/v1/hosts/ada", admin=True).json["updated_at"])
                .timestamp()):
            break
        time.sleep(0.05)
    daemon.apply(CATALOG)
    assert daemon.snapshot() == snap


def test_apply_updates_in_place(daemon):
    daemon.apply(CATALOG)
    uid_before = daemon.get("/api/v1/event-types/intro", admin=True).json
    cat = copy.deepcopy(CATALOG)
    cat["hosts"][0]["name"] = "Ada L."
    cat["hosts"][0]["schedule"] = {"timezone": "UTC", "weekly": [
        {"day": "mon", "start": "10:00", "end": "11:00"}]}
    cat["event_types"][0]["title"] = "Intro (new)"
    cat["event_types"][0]["duration_minutes"] = 20
    cat["event_types"][2]["active"] = True
    cat["event_types"].append({"slug": "extra", "title": "Extra",
                               "host": "bob", "duration_minutes": 15})
    p = daemon.apply(cat)
    assert "event type extra: created" in p.stdout
    assert "event type intro: updated" in p.stdout
    v = api_view(daemon)
    assert [h["name"] for h in v["hosts"]] == ["Ada L.", "Bob"]
    assert v["schedules"]["ada"] == {
        "timezone": "UTC",
        "weekly": [{"day": "mon", "start": "10:00", "end": "11:00"}],
        "overrides": []}
    ets = {e["slug"]: e for e in v["event_types"]}
    assert len(v["event_types"]) == 4
    assert ets["intro"]["title"] == "Intro (new)"
    assert ets["intro"]["duration_minutes"] == 20
    assert ets["intro"]["created_at"] == uid_before["created_at"]
    assert ets["bob-call"]["active"] is True
    assert daemon.counts()["hosts"] == 2


def test_apply_maps_event_types_with_external_ids(daemon):
    """external_ids in apply files: created, unchanged when applied again
    (absent keeps them), replaced when given, removed with null; the
    deprecated calcom_event_type_id is the same mapping."""
    uri = "https://api.calendly.com/event_types/BBBBBBBBBBBBBBBB"
    cat = copy.deepcopy(CATALOG)
    cat["event_types"][0]["external_ids"] = {"calcom": "731",
                                             "calendly": uri}
    cat["event_types"][1]["calcom_event_type_id"] = 732
    daemon.apply(cat)
    intro = daemon.get("/api/v1/event-types/intro", admin=True).json
    assert intro["external_ids"] == {"calcom": "731", "calendly": uri}
    assert intro["calcom_event_type_id"] == 731
    deep = daemon.get("/api/v1/event-types/deep", admin=True).json
    assert deep["external_ids"] == {"calcom": "732"}, deep

    snap = daemon.snapshot(ignore_columns=("updated_utc",))
    p = daemon.apply(cat)
    assert "event type intro: unchanged" in p.stdout, p.stdout
    assert "event type deep: unchanged" in p.stdout, p.stdout
    assert daemon.snapshot(ignore_columns=("updated_utc",)) == snap
    p = daemon.apply(CATALOG)  # no external_ids: the mapping stays
    assert "event type intro: unchanged" in p.stdout, p.stdout
    assert daemon.snapshot(ignore_columns=("updated_utc",)) == snap

    cat["event_types"][0]["external_ids"] = {"calendly": uri}
    cat["event_types"][1]["calcom_event_type_id"] = 731  # moved over
    p = daemon.apply(cat)
    assert "event type intro: updated" in p.stdout, p.stdout
    assert daemon.get("/api/v1/event-types/deep", admin=True).json[
        "external_ids"] == {"calcom": "731"}
    cat["event_types"][0]["external_ids"] = None
    daemon.apply(cat)
    intro = daemon.get("/api/v1/event-types/intro", admin=True).json
    assert intro["external_ids"] == {} and \
        intro["calcom_event_type_id"] is None, intro


def test_apply_keeps_bookings(app):
    start = app.slot_starts("intro")[0]
    b = app.book("intro", start).json
    app.apply(standard_catalog())
    got = app.get(f"/api/v1/bookings/{b['uid']}", admin=True)
    assert got.status == 200 and got.json["status"] == "confirmed"
    assert start not in app.slot_starts("intro")


def bad_catalogs():
    def unknown_field(c):
        c["event_types"][1]["colour"] = "red"
        return "event_types[1].colour"

    def unknown_zone(c):
        c["hosts"][1]["timezone"] = "Mars/Base"
        return "hosts[1].timezone"

    def bad_host_ref(c):
        c["event_types"][1]["host"] = "nobody"
        return "event_types[1].host"

    def bad_schedule(c):
        c["hosts"][0]["schedule"]["weekly"][0]["end"] = "25:00"
        return "hosts[0].schedule.weekly[0].end"

    def schedule_zone(c):
        c["hosts"][0]["schedule"]["timezone"] = "Nowhere"
        return "hosts[0].schedule.timezone"

    def bad_duration(c):
        c["event_types"][2]["duration_minutes"] = 0
        return "event_types[2].duration_minutes"

    def slug_in_host(c):
        c["hosts"][1]["slug"] = "Not A Slug"
        return "hosts[1].slug"

    def unknown_top(c):
        c["packages"] = []
        return "packages"

    def not_a_list(c):
        c["event_types"] = {"slug": "x"}
        return "event_types"

    def unknown_provider(c):
        c["event_types"][1]["external_ids"] = {"calcomm": "731"}
        return "event_types[1].external_ids"

    def external_id_twice(c):
        c["event_types"][0]["external_ids"] = {"calcom": "731"}
        c["event_types"][2]["external_ids"] = {"calcom": "731"}
        return "event_types[2].external_ids"

    return [unknown_field, unknown_zone, bad_host_ref, bad_schedule,
            schedule_zone, bad_duration, slug_in_host, unknown_top,
            not_a_list, unknown_provider, external_id_twice]


@pytest.mark.parametrize("breaker", bad_catalogs(),
                         ids=lambda f: f.__name__)
def test_bad_apply_file_changes_nothing(daemon, breaker):
    # a first state to keep, then a file that would change and add things
    # before its error
    daemon.apply(standard_catalog(host="ada"))
    before = daemon.snapshot()
    cat = copy.deepcopy(CATALOG)
    cat["hosts"][0]["name"] = "Changed"
    field = breaker(cat)
    p = daemon.apply(cat, expect_rc=2)
    # the field is named (its item path: see the next test for hosts)
    assert field.split(".")[-1] in p.stderr, p.stderr
    if not field.startswith("hosts[1]"):
        assert field in p.stderr, p.stderr
    assert "nothing was changed" in p.stderr
    assert p.stdout == ""
    assert daemon.snapshot() == before
    assert daemon.get("/api/v1/hosts/ada", admin=True).json["name"] != \
        "Changed"


@pytest.mark.parametrize("breaker", [b for b in bad_catalogs()
                                     if b.__name__ in ("unknown_zone",
                                                       "slug_in_host")],
                         ids=lambda f: f.__name__)
def test_apply_errors_name_the_host_item(daemon, breaker):
    cat = copy.deepcopy(CATALOG)
    field = breaker(cat)
    p = daemon.apply(cat, expect_rc=2)
    assert field in p.stderr, p.stderr


@pytest.mark.parametrize("content", [
    b"", b"{", b"[]", b'"x"', b"null", b'{"hosts": [1]}',
    b'{"hosts": [], "hosts": []}', b"\xff\xfe{}", b'{"a":"\\u0000"}',
    b"[" * 100000,
], ids=lambda c: repr(c[:20]))
def test_malformed_apply_file(daemon, content):
    daemon.apply(standard_catalog())
    before = daemon.snapshot()
    path = daemon.write_json(content)
    p = daemon.cli("apply", str(path))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.startswith("bookingd: apply:"), p.stderr
    assert daemon.snapshot() == before


def test_empty_apply_file_is_a_no_op(daemon):
    daemon.apply(standard_catalog())
    before = daemon.snapshot()
    p = daemon.apply({})
    assert p.stdout == ""
    assert daemon.snapshot() == before


def test_apply_usage_errors(daemon):
    assert daemon.cli("apply").returncode == 2
    assert daemon.cli("apply", "a.json", "b.json").returncode == 2
    p = daemon.cli("apply", str(daemon.workdir / "missing.json"))
    assert p.returncode == 2 and "missing.json" in p.stderr
    p = daemon.cli("apply", str(daemon.workdir))  # a directory
    assert p.returncode == 2


def test_apply_refuses_files_over_16_mib(daemon):
    path = daemon.workdir / "huge.json"
    with open(path, "wb") as f:
        f.write(b'{"hosts": [], "event_types": []' + b" " * (17 << 20) + b"}")
    p = daemon.cli("apply", str(path))
    assert p.returncode == 2 and "16 MiB" in p.stderr, p.stderr


def test_apply_on_a_fresh_database_without_a_daemon(tmp_path):
    d = Daemon(tmp_path / "fresh")
    d.apply(CATALOG)
    assert d.counts()["event_types"] == 3
    d.start()
    try:
        assert api_view(d)["hosts"][0]["slug"] == "ada"
    finally:
        d.stop_checked()


# ---- migrate -----------------------------------------------------------------

def test_migrate_twice(tmp_path):
    d = Daemon(tmp_path / "m")
    p1 = d.cli("migrate")
    assert p1.returncode == 0, p1.stderr
    m = re.search(r"migrated from version 0 to (\d+)", p1.stdout)
    assert m, p1.stdout
    version = int(m.group(1))
    assert version >= 1
    snap = d.snapshot()
    p2 = d.cli("migrate")
    assert p2.returncode == 0, p2.stderr
    assert f"version {version} (up to date)" in p2.stdout
    assert d.snapshot() == snap
    assert d.cli("migrate", "extra").returncode == 2
    d.start()
    try:
        assert d.get("/readyz").status == 200
    finally:
        d.stop_checked()


@pytest.mark.sqlite_only("writes junk into the SQLite file")
def test_migrate_refuses_a_file_that_is_not_a_database(tmp_path):
    d = Daemon(tmp_path / "junk")
    d.db_path.write_bytes(b"this is not a database" * 100)
    p = d.cli("migrate")
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert p.stderr.strip()
    assert d.db_path.read_bytes() == b"this is not a database" * 100


@pytest.mark.sqlite_only("writes junk into the SQLite file")
def test_serve_refuses_a_file_that_is_not_a_database(tmp_path):
    d = Daemon(tmp_path / "junk2")
    d.db_path.write_bytes(b"\x00" * 4096)
    p = d.cli("serve", timeout=20)
    assert p.returncode == 1, (p.returncode, p.stderr)


# ---- slots -------------------------------------------------------------------

def test_slots_command_prints_what_the_api_says(app):
    d = today_in("Europe/Berlin") + DAY
    s = app.slot_starts("intro")
    app.book("intro", s[3])
    for args, query in [
            (["--from", str(d), "--to", str(d + 3 * DAY)],
             {"from": str(d), "to": str(d + 3 * DAY)}),
            (["--from", str(d), "--to", str(d + 2 * DAY), "--timezone",
              "Asia/Tokyo"],
             {"from": str(d), "to": str(d + 2 * DAY),
              "timezone": "Asia/Tokyo"}),
            (["--from", str(d)], {"from": str(d)})]:
        p = app.cli("slots", "--event-type", "intro", *args)
        assert p.returncode == 0, p.stderr
        api = app.get("/api/v1/event-types/intro/slots", query=query)
        assert api.status == 200
        assert json.loads(p.stdout) == api.json, args


def test_slots_command_errors(app):
    d = str(today_in("Europe/Berlin") + DAY)
    for args in [["--event-type", "ghost"],
                 ["--event-type", "intro", "--from", "2026-02-30"],
                 ["--event-type", "intro", "--from", "tomorrow"],
                 ["--event-type", "intro", "--from", d, "--to", "2099-01-01"],
                 ["--event-type", "intro", "--timezone", "Mars/Base"],
                 ["--event-type"], ["--bogus", "x"], [],
                 ["--event-type", "intro", "--input", "x.json"]]:
        p = app.cli("slots", *args)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert p.stderr.strip(), args
        assert p.stdout == "", args


# ---- configuration -------------------------------------------------------------

CONFIG_ERRORS = [
    ("BOOKINGD_LISTEN", "nonsense"),
    ("BOOKINGD_LISTEN", "localhost:8080"),
    ("BOOKINGD_LISTEN", "127.0.0.1:99999"),
    ("BOOKINGD_LISTEN", "127.0.0.1:"),
    ("BOOKINGD_LISTEN", "[::1"),
    ("BOOKINGD_DATABASE", "mysql://x"),
    ("BOOKINGD_DATABASE", "sqlite:"),
    ("BOOKINGD_DATABASE", "/var/db.sqlite"),
    ("BOOKINGD_ADMIN_KEY", "short"),
    ("BOOKINGD_ADMIN_KEY", "fifteen-chars-x"),
    ("BOOKINGD_ADMIN_KEY", "a-long-enough-key\x01with-a-control"),
    ("BOOKINGD_WORKERS", "-1"),
    ("BOOKINGD_WORKERS", "two"),
    ("BOOKINGD_WORKERS", "65"),
    ("BOOKINGD_WORKERS", "99999999999999999999"),
    ("BOOKINGD_LOG_LEVEL", "loud"),
    ("BOOKINGD_BASE_URL", "ftp://example.com"),
    ("BOOKINGD_BASE_URL", "https://example.com/?x=1"),
    ("BOOKINGD_EMBED_ORIGINS", "example.com"),
    ("BOOKINGD_EMBED_ORIGINS", "https://example.com/"),
    ("BOOKINGD_EMBED_ORIGINS", "https://a.example; script-src *"),
    ("BOOKINGD_EMBED_ORIGINS", "https://a.example 'unsafe-inline'"),
    ("BOOKINGD_EMBED_ORIGINS", "*"),
    ("BOOKINGD_EMBED_ORIGINS", "https://*.example.com"),
    ("BOOKINGD_EMBED_ORIGINS", "https://"),
    ("BOOKINGD_EMBED_ORIGINS", "javascript:alert(1)"),
    ("BOOKINGD_EMBED_ORIGINS", "https://a.example\nX-Evil: 1"),
    ("BOOKINGD_EMBED_ORIGINS", " ".join(f"https://s{i}.example"
                                        for i in range(17))),
    ("BOOKINGD_JOB_MAX_ATTEMPTS", "0"),
    ("BOOKINGD_JOB_RETRY_BASE_MS", "soon"),
    ("BOOKINGD_INTEGRITY_CHECK", "sometimes"),
    ("BOOKINGD_INTEGRITY_CHECK", "QUICK"),
    ("BOOKINGD_HTTP_THREADS", "0"),
    ("BOOKINGD_HTTP_THREADS", "257"),
    ("BOOKINGD_HTTP_THREADS", "many"),
    ("BOOKINGD_MAX_CONNECTIONS", "15"),
    ("BOOKINGD_MAX_CONNECTIONS", "10k"),
    ("BOOKINGD_MAX_CONNECTIONS_PER_IP", "-1"),
    ("BOOKINGD_MAX_CONNECTIONS_PER_IP", "1000001"),
    ("BOOKINGD_REQUEST_DEADLINE_MS", "99"),
    ("BOOKINGD_REQUEST_DEADLINE_MS", "10s"),
    ("BOOKINGD_JOB_IDLE_POLL_MS", "5"),
    ("BOOKINGD_JOB_IDLE_POLL_MS", "later"),
    ("BOOKINGD_JOB_RETENTION_DAYS", "-1"),
    ("BOOKINGD_JOB_RETENTION_DAYS", "a month"),
    ("BOOKINGD_JOB_PRUNE_INTERVAL_S", "0"),
    ("BOOKINGD_SMTP_URL", "http://mail.example.com"),
    ("BOOKINGD_SMTP_URL", "smtp://user:hunter2-secret@"),
    ("BOOKINGD_SMTP_URL", "smtp://user:hunter2-secret@host:587 x"),
    ("BOOKINGD_SMTP_TIMEOUT_MS", "99"),
    ("BOOKINGD_SMTP_CA_FILE", "/nonexistent/ca.pem"),
    ("BOOKINGD_MAIL_FROM", "not an address"),
    ("BOOKINGD_MAIL_FROM", "Studio <bookings@example.com"),
]


@pytest.mark.parametrize("var,value", CONFIG_ERRORS,
                         ids=[f"{v}={x[:20]!r}" for v, x in CONFIG_ERRORS])
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_config_errors_exit_2_naming_the_variable(tmp_path, command, var,
                                                  value):
    d = Daemon(tmp_path / "cfg")
    p = d.cli(command, env={var: value}, timeout=20)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert var in lines[0], lines[0]
    assert lines[0].startswith("bookingd: ")
    assert "hunter2" not in p.stderr + p.stdout, "a password was printed"
    assert d.database_untouched(), "a config error must not touch the database"


def test_config_errors_in_apply_and_slots(daemon):
    path = daemon.write_json(CATALOG)
    for args in [("apply", str(path)), ("slots", "--event-type", "intro")]:
        p = daemon.cli(*args, env={"BOOKINGD_WORKERS": "-1"})
        assert p.returncode == 2, (args, p.stderr)
        assert "BOOKINGD_WORKERS" in p.stderr
    assert daemon.counts()["hosts"] == 0


@pytest.mark.sqlite_only("on PostgreSQL other instances may run the jobs")
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_zero_workers_needs_postgres(tmp_path, command):
    d = Daemon(tmp_path / "cfg")
    p = d.cli(command, env={"BOOKINGD_WORKERS": "0"}, timeout=20)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("bookingd: BOOKINGD_WORKERS: 0 "), lines[0]
    assert "PostgreSQL" in lines[0], lines[0]
    assert d.database_untouched()


def test_retry_max_below_base_is_refused(tmp_path):
    d = Daemon(tmp_path / "cfg")
    p = d.cli("serve", env={"BOOKINGD_JOB_RETRY_BASE_MS": "5000",
                            "BOOKINGD_JOB_RETRY_MAX_MS": "10"}, timeout=20)
    assert p.returncode == 2
    assert "BOOKINGD_JOB_RETRY_MAX_MS" in p.stderr


def test_more_http_threads_than_connections_is_refused(tmp_path):
    d = Daemon(tmp_path / "cfg")
    p = d.cli("serve", env={"BOOKINGD_HTTP_THREADS": "32",
                            "BOOKINGD_MAX_CONNECTIONS": "16"}, timeout=20)
    assert p.returncode == 2
    assert p.stderr.startswith("bookingd: BOOKINGD_HTTP_THREADS: "), p.stderr


def test_listen_port_in_use_exits_2(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        d = Daemon(tmp_path / "busy")
        p = d.cli("serve", env={"BOOKINGD_LISTEN": f"127.0.0.1:{port}"},
                  timeout=20)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "BOOKINGD_LISTEN" in p.stderr


def test_second_daemon_on_the_same_port_exits_2(make_daemon, tmp_path):
    first = make_daemon()
    second = Daemon(tmp_path / "second")
    env = second.env({"BOOKINGD_LISTEN": f"127.0.0.1:{first.port}"})
    proc = subprocess.Popen([second.bin, "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=second.workdir)
    try:
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        err = proc.stderr.read().decode(errors="replace")
        proc.stdout.close()
        proc.stderr.close()
    assert "Sanitizer" not in err
    assert rc == 2, "the second daemon kept running"
    assert "BOOKINGD_LISTEN" in err


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BAD_PG_URLS = [
    # Nothing listens there: connection refused.
    lambda: f"postgres://bk:sekrit-pw-1@127.0.0.1:{_closed_port()}/bk",
    # The password as a parameter, and a malformed port.
    lambda: "postgresql://bk@127.0.0.1:notaport/bk?password=sekrit-pw-1",
    # A database that does not exist on a server that does (PG run only:
    # the URL file names the test server).
    "no_such_db",
]


@pytest.mark.parametrize("command", ["serve", "migrate"])
@pytest.mark.parametrize("which", range(len(BAD_PG_URLS)))
def test_bad_postgres_url_fails_at_start_without_the_password(
        tmp_path, command, which):
    url = BAD_PG_URLS[which]
    if url == "no_such_db":
        admin = os.environ.get("BOOKINGD_TEST_PG_URL_FILE")
        if not admin or not os.path.exists(admin):
            pytest.skip("needs the test PostgreSQL server")
        base = open(admin).read().strip()
        # postgres://user@host:port/db -> the same server, a missing db and
        # a password it will not even be asked for.
        head, _, _ = base.rpartition("/")
        url = head.replace("://", "://", 1) + "/no_such_db_here"
        url = url.replace("@", ":sekrit-pw-1@", 1) if "@" in url else url
    else:
        url = url()
    d = Daemon(tmp_path / "pgbad")
    p = d.cli(command, env={"BOOKINGD_DATABASE": url}, timeout=60)
    assert p.returncode != 0
    err = p.stderr.strip()
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("bookingd: BOOKINGD_DATABASE: "), err
    assert "sekrit-pw-1" not in p.stderr + p.stdout
    assert "Sanitizer" not in err


@pytest.mark.sqlite_only("a sqlite: URL in a missing directory")
def test_unwritable_database_directory(tmp_path):
    d = Daemon(tmp_path / "nodir")
    p = d.cli("serve", env={
        "BOOKINGD_DATABASE": f"sqlite:{tmp_path}/no/such/dir/x.db"},
        timeout=20)
    assert p.returncode != 0
    assert p.stderr.strip()


# ---- serve ---------------------------------------------------------------------

KEY_LINE = re.compile(r"admin key \(shown once[^)]*\): (\S+)")


def test_generated_admin_key_is_shown_once(make_daemon):
    d = make_daemon(admin_key=None)
    m = KEY_LINE.search(d.stdout())
    assert m, d.stdout()
    key = m.group(1)
    assert len(key) >= 32
    assert key not in d.stderr()
    assert d.get("/api/v1/hosts", admin=key).status == 200
    assert_error(d.get("/api/v1/hosts", admin=key + "x"), 401)
    assert_error(d.get("/api/v1/hosts"), 401)

    d.restart()
    assert key not in d.stdout() and not KEY_LINE.search(d.stdout())
    assert "generated at the first start" in d.stdout()
    assert key not in d.stderr()
    assert d.get("/api/v1/hosts", admin=key).status == 200

    # BOOKINGD_ADMIN_KEY takes over while it is set ...
    d.stop_checked()
    d.admin_key = "an-explicit-admin-key-0123456789"
    d.start()
    assert d.get("/api/v1/hosts", admin=True).status == 200
    assert_error(d.get("/api/v1/hosts", admin=key), 401)
    # ... and the generated one is back (not a new one) when it is unset
    d.stop_checked()
    d.admin_key = None
    d.start()
    assert not KEY_LINE.search(d.stdout())
    assert d.get("/api/v1/hosts", admin=key).status == 200
    assert_error(d.get("/api/v1/hosts",
                       admin="an-explicit-admin-key-0123456789"), 401)


def test_generated_keys_differ_between_databases(make_daemon):
    keys = []
    for _ in range(2):
        d = make_daemon(admin_key=None)
        keys.append(KEY_LINE.search(d.stdout()).group(1))
    assert keys[0] != keys[1]


def test_configured_admin_key_is_not_printed(daemon):
    assert daemon.admin_key not in daemon.stdout()
    assert daemon.admin_key not in daemon.stderr()


def test_serve_exit_is_leak_free(make_daemon):
    """A start and a clean stop with no extra LSan suppressions (the
    make_daemon teardown fails the test on any sanitizer report)."""
    d = make_daemon(suppress_known_leaks=False, admin_key=None)
    d.apply(standard_catalog())
    d.book("intro", d.slot_starts("intro")[0])
    assert d.stop() == []


def test_sigint_stops_cleanly(daemon):
    assert daemon.stop(signal.SIGINT) == []
    assert "shutting down" in daemon.stderr()


def test_stop_while_requests_are_in_flight(app):
    """SIGTERM during a burst of requests: the daemon exits 0 without a
    sanitizer report (checked by the fixture) and the ledger is intact."""
    import threading
    starts = app.slot_starts("intro")
    stop = threading.Event()
    done = []

    def load():
        i = 0
        while not stop.is_set():
            try:
                app.book("intro", starts[i % len(starts)],
                         email=f"l{i}@example.com", expect=None)
                app.get("/api/v1/event-types/intro/slots", timeout=5)
                done.append(i)
            except OSError:
                pass
            i += 1

    threads = [threading.Thread(target=load, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(done) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(done) >= 20, "the burst did not get going"
    problems = app.stop()
    stop.set()
    for t in threads:
        t.join(30)
    assert problems == []
    app.start()
    b = app.list_all("/api/v1/bookings")
    assert len({x["start"] for x in b}) == len(b)  # no double booking


def test_command_line_usage(tmp_path):
    d = Daemon(tmp_path / "u")
    assert d.cli().returncode == 2
    assert d.cli("frobnicate").returncode == 2
    assert d.cli("serve", "--port", "1", timeout=20).returncode == 2
    p = d.cli("help")
    assert p.returncode == 0 and "serve" in p.stdout
    p = d.cli("--version")
    assert p.returncode == 0 and p.stdout.startswith("bookingd ")
    assert d.database_untouched()
