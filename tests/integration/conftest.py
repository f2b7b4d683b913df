"""tests/integration/conftest.py — runs the real bookingd on loopback.

Every test gets its own daemon (binary from $BOOKINGD_BIN) on a fresh
database, a free loopback port and a known admin key. The database is a
SQLite file in a temporary directory, or, when $BOOKINGD_TEST_PG_URL_FILE
names a file holding the admin URL of a test PostgreSQL server (ctest's
integration_pg_* runs, scripts/pg-test.sh), a new PostgreSQL database made
for the daemon and dropped after it stopped. Helpers here: a small HTTP
client, `bookingd apply`, read-only access to the ledger on either backend
(Ledger, ledger_query, snapshots), and the assertion for the JSON error of
API.md. Markers: sqlite_only(reason) skips a test on the PostgreSQL run,
pg_only(reason) on the SQLite run.

The daemon is built with sanitizers for the tests: on teardown it is stopped
with SIGTERM and the test FAILS if it exited non-zero or printed a sanitizer
report. Later test files (webhooks, ...) reuse the `make_daemon` factory to
pass extra environment variables (CALCOM_WEBHOOK_SECRET=...).
"""
import datetime as dt
import http.client
import json
import os
import pathlib
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
import atexit

import pytest


# The job kinds the daemon's own timers enqueue at any moment (periodic and
# daily jobs, not effects of a request): a SQL condition that leaves them
# out. Every new periodic kind goes here.
TIMER_JOB_KINDS = ("jobs.prune", "clients.lifecycle", "calendars.sync",
                   "calendars.reconcile", "calendars.gwatch",
                   "packages.expire", "calendly.refresh", "notion.pull",
                   "calcom.sync")
NOT_TIMER_JOB = "kind NOT IN (%s)" % ", ".join(
    "'%s'" % k for k in TIMER_JOB_KINDS)

SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error")
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 30
CLI_TIMEOUT_S = 60
TEST_TIMEOUT_S = 150  # every test is bounded (no pytest-timeout on Debian)

# Leaks the daemon is known to have (LSan suppression patterns), suppressed
# for every daemon the fixture starts so that one known bug does not fail
# every test. Each entry must be proven by a strict xfail test that runs
# WITHOUT it (see test_cli.py::test_serve_exit_is_leak_free); when the bug
# is fixed that test XPASSes, fails, and the entry goes. Empty is the goal.
KNOWN_LEAKS = []

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
NOTSET = object()

PG_URL_FILE_VAR = "BOOKINGD_TEST_PG_URL_FILE"


def _read_pg_admin_url():
    """The test PostgreSQL server's admin URL, or None for SQLite runs."""
    path = os.environ.get(PG_URL_FILE_VAR)
    if not path:
        return None
    try:
        url = pathlib.Path(path).read_text().strip()
    except OSError as e:
        raise pytest.UsageError(
            f"{PG_URL_FILE_VAR}={path}: {e} (is the test PostgreSQL server "
            f"running? ctest starts it: pg_server_start)") from None
    if not url.startswith("postgres://"):
        raise pytest.UsageError(f"{path}: not a postgres:// URL: {url!r}")
    return url


PG_ADMIN_URL = None  # set by pytest_configure
BACKEND = "sqlite"   # of this run: "sqlite" or "postgres"


# ---- pytest plumbing ---------------------------------------------------------

def pytest_sessionfinish(session, exitstatus):
    _drop_leftover_databases()
    # A file that collects no test must not pass for ctest, whatever the
    # caller does with exit code 5.
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(session, config, items):
    if not items:
        raise pytest.UsageError("no integration test was collected")
    for item in items:
        for name, runs_on in (("sqlite_only", "sqlite"),
                              ("pg_only", "postgres")):
            m = item.get_closest_marker(name)
            if m is None or BACKEND == runs_on:
                continue
            if not m.args or not str(m.args[0]).strip():
                raise pytest.UsageError(f"{item.nodeid}: @{name} needs a "
                                        f"reason")
            item.add_marker(pytest.mark.skip(
                reason=f"{name.replace('_', ' ')}: {m.args[0]}"))


class DeadlineExceeded(Exception):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Bounds each test (setup, call and teardown) with SIGALRM."""
    limit = TEST_TIMEOUT_S
    marker = item.get_closest_marker("timeout")
    if marker and marker.args:
        limit = int(marker.args[0])

    def on_alarm(signum, frame):
        raise DeadlineExceeded(f"{item.nodeid} took more than {limit} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def pytest_configure(config):
    global PG_ADMIN_URL, BACKEND
    config.addinivalue_line("markers",
                            "timeout(seconds): bound of one test")
    config.addinivalue_line("markers", "sqlite_only(reason): skipped on the "
                            "PostgreSQL run, for the reason given")
    config.addinivalue_line("markers", "pg_only(reason): skipped on the "
                            "SQLite run, for the reason given")
    config.addinivalue_line("markers", "floods(reason): sends more requests "
                            "from one address than the default rate limits "
                            "allow; the fixtures' daemons run without them")
    PG_ADMIN_URL = _read_pg_admin_url()
    BACKEND = "postgres" if PG_ADMIN_URL else "sqlite"


def pytest_report_header(config):
    return f"bookingd database backend: {BACKEND}" + \
        (f" ({PG_ADMIN_URL})" if PG_ADMIN_URL else "")


def short_id(value):
    """A readable test id for a parameter that may be long or binary."""
    s = repr(value)
    return s if len(s) <= 40 else s[:30] + f"...({len(s)})"


# ---- time helpers ------------------------------------------------------------

def utc_now():
    return dt.datetime.now(dt.timezone.utc)


def today_utc():
    return utc_now().date()


def today_in(zone):
    import zoneinfo
    return dt.datetime.now(zoneinfo.ZoneInfo(zone)).date()


def preload(lib):
    """LD_PRELOAD for a daemon run with the shim lib (test_clock.py): the
    shim first, then what the tests themselves run under (libfaketime in
    make check-dates), so its offset adds to the clock the test sees."""
    outer = os.environ.get("LD_PRELOAD", "").strip()
    return lib + (" " + outer if outer else "")


def parse_instant(s):
    """RFC 3339 text of the API into an aware datetime."""
    assert isinstance(s, str), s
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


# ---- catalog data ------------------------------------------------------------

def weekly_all_days(start="08:00", end="20:00"):
    return [{"day": d, "start": start, "end": end} for d in DAYS]


def standard_catalog(host="coach", zone="Europe/Berlin", start="08:00",
                     end="20:00", event_types=None):
    """One host open every day start..end in zone, and a 30-minute 'intro'
    event type (plus any event types given, with the host filled in)."""
    ets = [{"slug": "intro", "title": "Intro call", "host": host,
            "duration_minutes": 30}]
    for et in event_types or []:
        et = dict(et)
        et.setdefault("host", host)
        ets.append(et)
    return {
        "hosts": [{
            "slug": host, "name": "Coach " + host,
            "email": host + "@example.com", "timezone": zone,
            "schedule": {"timezone": zone,
                         "weekly": weekly_all_days(start, end)},
        }],
        "event_types": ets,
    }


# ---- HTTP --------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage or dict (raw)
        self.body = body
        self._json = NOTSET

    def header(self, name):
        if isinstance(self.headers, dict):
            return self.headers.get(name.lower())
        return self.headers.get(name)

    @property
    def json(self):
        if self._json is NOTSET:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise AssertionError(
                    f"HTTP {self.status}: body is not JSON ({e}): "
                    f"{self.body[:300]!r}") from None
        return self._json

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


def path_with_query(path, params=None):
    if not params:
        return path
    return path + "?" + urllib.parse.urlencode(params)


def parse_raw_response(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError(f"no complete HTTP response: {data[:300]!r}")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0])
    if not m:
        raise AssertionError(f"bad status line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = \
            v.strip().decode("latin-1")
    if "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return Response(int(m.group(1)), headers, body)


# ---- databases ---------------------------------------------------------------

def _pg():
    import psycopg2  # only the PostgreSQL run needs it (python3-psycopg2)
    return psycopg2


def pg_url(dbname):
    """The URL of database dbname on the test PostgreSQL server."""
    u = urllib.parse.urlsplit(PG_ADMIN_URL)
    return urllib.parse.urlunsplit(u._replace(path="/" + dbname))


def _pg_admin(sql):
    con = _pg().connect(PG_ADMIN_URL, connect_timeout=10)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql)
    finally:
        con.close()


def pg_create_database():
    """Creates a new, empty database on the test server; returns its name.
    template0: nobody connects to it, so concurrent creates do not fail
    with "source database is being accessed by other users". FILE_COPY
    (PostgreSQL 15) copies the small template faster than WAL_LOG on the
    test server (fsync off)."""
    name = "t_" + secrets.token_hex(8)
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
              f"STRATEGY FILE_COPY")
    _PG_DATABASES.add(name)
    return name


def pg_drop_database(name):
    """Drops a database made by pg_create_database (FORCE: a SIGKILLed
    daemon's sessions may not have ended yet)."""
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _PG_DATABASES.discard(name)


_PG_DATABASES = set()  # made and not dropped yet


def _drop_leftover_databases():
    for name in list(_PG_DATABASES):
        try:
            pg_drop_database(name)
        except Exception:  # the server is removed by pg_server_stop anyway
            pass


class _Rows:
    """psycopg2's rows as sqlite3's cursor gives them: tuples, BYTEA as
    bytes, integral numerics (sum() of BIGINT) as int."""

    def __init__(self, rows):
        self._rows = [tuple(self._value(v) for v in r) for r in rows]

    @staticmethod
    def _value(v):
        import decimal
        if isinstance(v, memoryview):
            return bytes(v)
        if isinstance(v, decimal.Decimal) and v == v.to_integral_value():
            return int(v)
        return v

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def fetchall(self):
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self):
        return iter(self.fetchall())


class Ledger:
    """A read-only connection to a daemon's database, either backend:
    `with Ledger(d) as con: con.execute(sql, params).fetchall()`.
    SQL is written once for both: ? placeholders, the common subset (the
    schemas share table and column names; integers are INTEGER on SQLite
    and BIGINT on PostgreSQL, blobs BLOB and BYTEA). On SQLite execute is
    sqlite3's own (a read-only URI connection to the file); on PostgreSQL
    it runs with autocommit in a read-only session and returns the rows as
    sqlite3 would."""

    def __init__(self, d):
        self.d = d
        self.con = None

    def __enter__(self):
        if self.d.backend == "sqlite":
            self.con = sqlite3.connect(f"file:{self.d.db_path}?mode=ro",
                                       uri=True, timeout=10)
        else:
            self.con = _pg().connect(self.d.database_url, connect_timeout=10)
            self.con.set_session(readonly=True, autocommit=True)
        return self

    def __exit__(self, *exc):
        self.con.close()

    def execute(self, sql, params=()):
        if self.d.backend == "sqlite":
            return self.con.execute(sql, params)
        with self.con.cursor() as cur:
            if params:
                cur.execute(sql.replace("%", "%%").replace("?", "%s"),
                            tuple(params))
            else:
                cur.execute(sql)
            return _Rows(cur.fetchall() if cur.description else [])


def ledger_query(d, sql, params=()):
    """The rows (tuples) of one read-only query on d's database (Ledger)."""
    with Ledger(d) as con:
        return [tuple(r) for r in con.execute(sql, params)]


# ---- the daemon --------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_LIVE = set()  # processes to kill if a test is interrupted mid-way
_DAEMONS_OF_TEST = []  # every Daemon made since the current test began


@atexit.register
def _kill_leftovers():
    for p in list(_LIVE):
        if p.poll() is None:
            p.kill()


def sanitizer_problems(text):
    return [m for m in SANITIZER_MARKERS if m in text]


class Daemon:
    """One bookingd: its database, environment, process and logs.

    admin_key: the key to configure; None leaves BOOKINGD_ADMIN_KEY unset.
    env: extra variables (a value None removes the variable).
    suppress_known_leaks: add KNOWN_LEAKS to the LSan suppressions.
    database_url: the BOOKINGD_DATABASE of another daemon to share its
    database (not created, nor dropped, by this one). By default a new
    database of the run's backend: the file workdir/bookingd.db, or a new
    PostgreSQL database, dropped by release() (the fixtures call it after
    the daemon stopped).
    """

    def __init__(self, workdir, env=None, admin_key=NOTSET,
                 suppress_known_leaks=True, database_url=None):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pg_database = None  # the PostgreSQL database this one made
        self.managed = False  # a fixture stops it and calls release()
        _DAEMONS_OF_TEST.append(self)
        if database_url is not None:
            self.database_url = database_url
        elif BACKEND == "postgres":
            self.pg_database = pg_create_database()
            self.database_url = pg_url(self.pg_database)
        else:
            self.database_url = f"sqlite:{self.workdir / 'bookingd.db'}"
        if self.database_url.startswith("postgres"):
            self.backend = "postgres"
            self.db_path = None  # there is no file to look at
        else:
            self.backend = "sqlite"
            self.db_path = pathlib.Path(
                self.database_url[len("sqlite:"):])
        if admin_key is NOTSET:
            admin_key = "test-admin-" + secrets.token_hex(16)
        self.admin_key = admin_key
        self.extra_env = dict(env or {})
        self.suppress_known_leaks = suppress_known_leaks
        self.proc = None
        self.port = None
        self.starts = 0
        self.stdout_path = None
        self.stderr_path = None
        self._files = []
        self._n_apply = 0

    # -- environment

    def _lsan_options(self, base):
        opts = [o for o in (base or "").split(":") if o]
        supp = None
        rest = []
        for o in opts:
            if o.startswith("suppressions="):
                supp = o[len("suppressions="):]
            else:
                rest.append(o)
        lines = []
        if supp and os.path.exists(supp):
            lines.append(pathlib.Path(supp).read_text())
        lines += [f"leak:{name}" for name in KNOWN_LEAKS]
        path = self.workdir / "lsan.supp"
        path.write_text("\n".join(lines) + "\n")
        rest.append(f"suppressions={path}")
        return ":".join(rest)

    def env(self, extra=None):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("BOOKINGD_") and k != "BOOKINGD_BIN":
                del e[k]
        e["BOOKINGD_DATABASE"] = self.database_url
        if self.admin_key is not None:
            e["BOOKINGD_ADMIN_KEY"] = self.admin_key
        if self.port:
            e["BOOKINGD_LISTEN"] = f"127.0.0.1:{self.port}"
        if self.suppress_known_leaks and KNOWN_LEAKS:
            e["LSAN_OPTIONS"] = self._lsan_options(e.get("LSAN_OPTIONS"))
        for source in (self.extra_env, extra or {}):
            for k, v in source.items():
                if v is None:
                    e.pop(k, None)
                else:
                    e[k] = v
        return e

    # -- process

    @property
    def bin(self):
        path = os.environ.get("BOOKINGD_BIN")
        if not path:
            pytest.fail("BOOKINGD_BIN is not set (ctest sets it)")
        if not os.access(path, os.X_OK):
            pytest.fail(f"BOOKINGD_BIN={path} is not an executable")
        return path

    def start(self, port=None):
        assert self.proc is None, "already running"
        last = ""
        for attempt in range(8):
            self.port = port or free_port()
            self.starts += 1
            n = self.starts
            self.stdout_path = self.workdir / f"serve-{n}.stdout"
            self.stderr_path = self.workdir / f"serve-{n}.stderr"
            out = open(self.stdout_path, "wb")
            err = open(self.stderr_path, "wb")
            self._files = [out, err]
            self.proc = subprocess.Popen([self.bin, "serve"], env=self.env(),
                                         stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL,
                                         cwd=self.workdir)
            _LIVE.add(self.proc)
            state = self._wait_ready()
            if state == "ready" and not self._is_ours():
                # Another daemon shares the port (SO_REUSEPORT): go elsewhere.
                self.stop()
                state = "exited"
                last = "cannot listen: port shared with another daemon"
            if state == "ready":
                return self
            if self.proc is not None:
                last = self.stderr()
                rc = self.proc.returncode
                self._close_files()
                self.proc = None
            else:
                rc = None
            if state == "exited" and "cannot listen" in last and not port:
                continue  # somebody took the port between bind and start
            pytest.fail(f"bookingd serve did not start (state {state}, "
                        f"rc {rc}):\n{last[-4000:]}")
        pytest.fail(f"bookingd serve found no free port:\n{last[-2000:]}")

    def _is_ours(self):
        """Whether the port answers with this daemon's admin key (a few
        tries: the kernel spreads connections over sharing sockets)."""
        if self.admin_key is None:
            return True
        for _ in range(4):
            r = self.request("GET", "/api/v1/hosts", admin=True, timeout=5,
                             query={"limit": "1"})
            if r.status == 401:
                return False
        return True

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            try:
                r = self.request("GET", "/healthz", timeout=2)
                if r.status == 200:
                    return "ready"
            except OSError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait(10)
        return "timeout"

    def _close_files(self):
        for f in self._files:
            f.close()
        self._files = []

    def stop(self, sig=signal.SIGTERM):
        """Sends sig (SIGTERM), waits (bounded) and returns a list of
        problems: empty when the daemon exited 0 without a sanitizer
        report."""
        if self.proc is None:
            return []
        if self.proc.poll() is not None:
            problems = [f"bookingd died while the test ran "
                        f"(rc {self.proc.returncode})"]
            return self._reap(problems)
        self.proc.send_signal(sig)
        return self.wait_exit()

    def wait_exit(self, timeout=STOP_TIMEOUT_S):
        """Waits for the daemon to exit (after a signal the test sent);
        returns the problems as stop() does."""
        problems = []
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            problems.append(f"bookingd did not stop within {timeout} s")
        if self.proc.returncode != 0 and not problems:
            problems.append(f"bookingd exited with {self.proc.returncode}")
        return self._reap(problems)

    def _reap(self, problems):
        self._close_files()
        _LIVE.discard(self.proc)
        found = sanitizer_problems(self.stderr())
        if found:
            problems.append("sanitizer report: " + ", ".join(found))
        self.proc = None
        if problems:
            problems.append("stderr tail:\n" + self.stderr()[-6000:])
        return problems

    def release(self):
        """Drops the PostgreSQL database this daemon made (stop it first);
        nothing for SQLite (the file goes with the temporary directory)."""
        if self.pg_database is not None:
            assert self.proc is None or self.proc.poll() is not None, \
                "release() of a running daemon"
            pg_drop_database(self.pg_database)
            self.pg_database = None

    def stop_checked(self):
        problems = self.stop()
        if problems:
            pytest.fail("\n".join(problems))

    def restart(self):
        self.stop_checked()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stdout(self):
        return self.stdout_path.read_text(errors="replace") \
            if self.stdout_path else ""

    def stderr(self):
        return self.stderr_path.read_text(errors="replace") \
            if self.stderr_path else ""

    # -- HTTP

    def request(self, method, path, body=NOTSET, raw=None, headers=None,
                admin=False, content_type="application/json", query=None,
                timeout=REQUEST_TIMEOUT_S, chunked=False):
        """One request on a new connection. body: a value sent as JSON;
        raw: bytes (or an iterable of bytes with chunked=True). admin: True
        for this daemon's key, or a string used as the key."""
        hdrs = dict(headers or {})
        if body is not NOTSET:
            raw = json.dumps(body).encode()
        if admin:
            key = self.admin_key if admin is True else admin
            hdrs.setdefault("Authorization", f"Bearer {key}")
        if raw is not None and content_type and \
                not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = content_type
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path_with_query(path, query), body=raw,
                         headers=hdrs, encode_chunked=chunked)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.headers, data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=NOTSET, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=NOTSET, **kw):
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path, body=NOTSET, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def raw(self, data, timeout=REQUEST_TIMEOUT_S):
        """Sends bytes as they are and reads the answer until the server
        closes (send Connection: close). Errors while sending are ignored:
        a server may answer and close before reading everything."""
        with socket.create_connection(("127.0.0.1", self.port),
                                      timeout=timeout) as s:
            try:
                s.sendall(data)
            except OSError:
                pass
            chunks = []
            try:
                while True:
                    c = s.recv(65536)
                    if not c:
                        break
                    chunks.append(c)
            except ConnectionResetError:
                pass
        return parse_raw_response(b"".join(chunks))

    # -- CLI

    def cli(self, *args, env=None, timeout=CLI_TIMEOUT_S, check_sanitizer=True):
        """Runs `bookingd ARGS` against this daemon's database."""
        p = subprocess.run([self.bin, *args], env=self.env(env),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout, cwd=self.workdir)
        p.stdout = p.stdout.decode("utf-8", "replace")
        p.stderr = p.stderr.decode("utf-8", "replace")
        if check_sanitizer:
            found = sanitizer_problems(p.stderr)
            assert not found, f"bookingd {' '.join(args)}: {found}\n" \
                              f"{p.stderr[-6000:]}"
            assert p.returncode >= 0, \
                f"bookingd {' '.join(args)} killed by signal " \
                f"{-p.returncode}:\n{p.stderr[-4000:]}"
        return p

    def write_json(self, data, name=None):
        self._n_apply += 1
        path = self.workdir / (name or f"apply-{self._n_apply}.json")
        if isinstance(data, (bytes, str)):
            path.write_bytes(data if isinstance(data, bytes)
                             else data.encode())
        else:
            path.write_text(json.dumps(data, indent=1))
        return path

    def apply(self, data, expect_rc=0):
        """`bookingd apply` of data (a dict written to a file)."""
        path = self.write_json(data)
        p = self.cli("apply", str(path))
        assert p.returncode == expect_rc, \
            f"apply exited {p.returncode}, expected {expect_rc}:\n" \
            f"{p.stdout}\n{p.stderr}"
        return p

    # -- the ledger, read-only

    def _tables(self, con):
        if self.backend == "sqlite":
            return [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name")]

    def _columns(self, con, table):
        if self.backend == "sqlite":
            return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        return [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? "
            "ORDER BY ordinal_position", (table,))]

    def snapshot(self, ignore_columns=()):
        """Every table of the database as sorted rows, read-only.
        ignore_columns: column names left out (e.g. updated_utc).
        While the daemon runs, first waits (up to 30 s) for the outbox to
        be idle: the outbound webhooks' jobs (webhooks.*), email's (mail.*)
        and the calendar pushes (calendars.push) run just after the change
        that made them commits."""
        if self.proc is not None and self.alive():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and ledger_query(
                    self, "SELECT id FROM jobs WHERE (kind LIKE 'webhooks.%' "
                          "OR kind LIKE 'mail.%' OR kind = 'calendars.push') "
                          "AND status IN (0, 1)"
                          " AND NOT (kind = 'mail.reminder' AND status = 0"
                          " AND run_at_ms > " + str(int(time.time() * 1000))
                          + ")"):
                time.sleep(0.05)
        with Ledger(self) as con:
            snap = {}
            for t in self._tables(con):
                cols = [c for c in self._columns(con, t)
                        if c not in ignore_columns]
                if not cols:
                    continue
                sel = ", ".join(f'"{c}"' for c in cols)
                where = ""
                if t == "jobs":
                    # The daemon's own timers (not effects of a request)
                    # enqueue these at any moment.
                    where = " WHERE " + NOT_TIMER_JOB
                rows = [tuple(r) for r in
                        con.execute(f'SELECT {sel} FROM "{t}"{where}')]
                snap[t] = sorted(rows, key=repr)
            return snap

    def database_untouched(self):
        """Whether nothing was written to the database yet: no SQLite file,
        or no table in the PostgreSQL database."""
        if self.backend == "sqlite":
            return not self.db_path.exists()
        with Ledger(self) as con:
            return self._tables(con) == []

    def counts(self):
        return {t: len(rows) for t, rows in self.snapshot().items()}

    # -- API shortcuts

    def slots(self, slug, frm=None, to=None, timezone=None, admin=False,
              expect=200):
        q = {}
        if frm is not None:
            q["from"] = str(frm)
        if to is not None:
            q["to"] = str(to)
        if timezone is not None:
            q["timezone"] = timezone
        r = self.get(f"/api/v1/event-types/{slug}/slots", query=q,
                     admin=admin)
        assert r.status == expect, r
        return r.json

    def slot_starts(self, slug, days_ahead=1, span=6, timezone=None):
        """Free slot starts (text as returned) from today + days_ahead (UTC
        date) for span more days, in order."""
        frm = today_utc() + dt.timedelta(days=days_ahead)
        j = self.slots(slug, frm, frm + dt.timedelta(days=span), timezone)
        out = []
        for day in sorted(j["slots"]):
            out += [s["start"] for s in j["slots"][day]]
        return out

    def book(self, slug, start, email="ada@example.com", name="Ada Lovelace",
             timezone="Europe/London", notes=None, admin=False, expect=201):
        body = {"event_type": slug, "start": start,
                "attendee": {"name": name, "email": email}}
        if timezone is not None:
            body["attendee"]["timezone"] = timezone
        if notes is not None:
            body["notes"] = notes
        r = self.post("/api/v1/bookings", body, admin=admin)
        if expect is not None:
            assert r.status == expect, r
        return r

    def list_all(self, path, query=None, limit=500):
        """Every row of an admin list, following next_cursor."""
        q = dict(query or {})
        q["limit"] = str(limit)
        rows = []
        for _ in range(10000):
            r = self.get(path, query=q, admin=True)
            assert r.status == 200, r
            rows += r.json["data"]
            if not r.json["next_cursor"]:
                return rows
            q["cursor"] = r.json["next_cursor"]
        raise AssertionError("a list never ended")

    def ledger_counts(self):
        """Counts through the admin API (all statuses)."""
        return {
            "hosts": len(self.list_all("/api/v1/hosts")),
            "event_types": len(self.list_all("/api/v1/event-types")),
            "clients": len(self.list_all("/api/v1/clients")),
            "bookings": len(self.list_all("/api/v1/bookings")),
        }


# ---- assertions --------------------------------------------------------------

def assert_error(r, status, code=None, field=NOTSET):
    """r is the JSON error of API.md: {"error": {"code", "message",
    "details"}} with this status (and code and details.field when given;
    field=None asserts there is no details.field)."""
    assert r.status == status, f"expected {status}, got {r!r}"
    ctype = r.header("Content-Type") or ""
    assert ctype.startswith("application/json"), \
        f"error Content-Type is {ctype!r}: {r!r}"
    j = r.json
    assert isinstance(j, dict) and list(j) == ["error"], j
    e = j["error"]
    assert isinstance(e, dict), j
    assert {"code", "message", "details"} <= set(e), j
    assert isinstance(e["code"], str) and e["code"], j
    assert isinstance(e["message"], str) and e["message"], j
    assert isinstance(e["details"], dict), j
    if code is not None:
        assert e["code"] == code, f"expected code {code}: {j}"
    if field is None:
        assert "field" not in e["details"], j
    elif field is not NOTSET:
        assert e["details"].get("field") == field, \
            f"expected details.field {field!r}: {j}"
    rid = r.header("X-Request-Id")
    assert rid, f"no X-Request-Id on {r!r}"
    if "request_id" in e["details"]:
        assert e["details"]["request_id"] == rid, j
    return e


# ---- fixtures ----------------------------------------------------------------

# The rate limits of the public endpoints, off: for tests marked
# floods(reason), which send more requests from one address (every test
# client is 127.0.0.1) than the default limits let through. The limits
# themselves are tested in test_rate_limits.py.
NO_RATE_LIMITS = {f"BOOKINGD_RATE_LIMIT_{c}": "0"
                  for c in ("BOOKINGS", "SLOTS", "WEBHOOKS", "MANAGE")}


def flood_env(node, env):
    """env (may be None) with the rate limits off when node (a test or a
    module) is marked floods; the test's own values win."""
    m = node.get_closest_marker("floods")
    if m is None:
        return env
    if not m.args or not str(m.args[0]).strip():
        raise pytest.UsageError(f"{node.nodeid}: @floods needs a reason")
    return {**NO_RATE_LIMITS, **(env or {})}


@pytest.fixture
def make_daemon(tmp_path, request):
    """Factory: make_daemon(env={...}, admin_key=..., start=True). Every
    daemon made is stopped at teardown and the test fails on a non-zero exit
    or a sanitizer report. A test marked floods(reason) gets daemons
    without rate limits."""
    made = []

    def make(env=None, admin_key=NOTSET, start=True, name=None,
             suppress_known_leaks=True, database_url=None):
        env = flood_env(request.node, env)
        d = Daemon(tmp_path / (name or f"d{len(made)}"), env=env,
                   admin_key=admin_key,
                   suppress_known_leaks=suppress_known_leaks,
                   database_url=database_url)
        d.managed = True
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    problems = []
    for d in made:
        problems += d.stop()
    for d in made:  # every daemon stopped: no session holds a database
        d.release()
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture(autouse=True)
def _drop_unmanaged_databases():
    """Drops, after the test, the PostgreSQL databases of daemons the test
    made itself (Daemon(...), not through a fixture), stopping any such
    daemon still running."""
    _DAEMONS_OF_TEST.clear()
    yield
    for d in list(_DAEMONS_OF_TEST):
        if d.managed or d.pg_database is None:
            continue
        if d.proc is not None:
            d.stop()
        d.release()
    _DAEMONS_OF_TEST.clear()


@pytest.fixture
def daemon(make_daemon):
    """A running daemon on an empty database."""
    return make_daemon()


@pytest.fixture
def app(daemon):
    """A running daemon with standard_catalog() applied: host 'coach' open
    every day 08:00-20:00 Europe/Berlin, event type 'intro' of 30 minutes."""
    daemon.apply(standard_catalog())
    return daemon


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory, request):
    """One daemon for a whole module (with the standard catalog applied);
    checked like the others when the module ends. Without rate limits when
    the module is marked floods (pytestmark)."""
    d = Daemon(tmp_path_factory.mktemp("module-daemon"),
               env=flood_env(request.node, None))
    d.managed = True
    d.start()
    d.apply(standard_catalog())
    yield d
    problems = d.stop()
    d.release()
    if problems:
        pytest.fail("\n".join(problems))


def run_parallel(n, fn, timeout=120):
    """Runs fn(i) in n threads released together by a barrier; returns the
    results (or exceptions) in order of i."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        try:
            barrier.wait(timeout)
            results[i] = fn(i)
        except BaseException as e:  # reported to the caller
            results[i] = e

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            raise AssertionError(f"a parallel request hung past {timeout} s")
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results
