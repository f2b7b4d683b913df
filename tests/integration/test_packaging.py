"""packaging/ (issue 12): `make install` with PREFIX and DESTDIR puts the
binary, the systemd unit, the example environment file and the docs where
they belong; the unit passes `systemd-analyze verify` where systemd is
installed; the example environment file is accepted by bookingd."""
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.sqlite_only("packaging does not touch a database")


def install(bin_path, **vars):
    args = ["make", "--no-print-directory", "-C", str(ROOT), "install-files",
            f"BIN={bin_path}"] + [f"{k}={v}" for k, v in vars.items()]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p


def unit_settings(path):
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def test_make_install_with_destdir(tmp_path):
    bin_path = os.environ["BOOKINGD_BIN"]
    dest = tmp_path / "dest"
    install(bin_path, DESTDIR=dest, PREFIX="/usr")
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    for f in ("usr/bin/bookingd",
              "usr/lib/systemd/system/bookingd.service",
              "usr/share/doc/bookingd/bookingd.env.example",
              "usr/share/doc/bookingd/README.md",
              "usr/share/doc/bookingd/docs/api.md",
              "usr/share/doc/bookingd/docs/openapi.json"):
        assert f in files, sorted(files)
    assert not any(f.startswith(("usr/local", "etc")) for f in files)
    assert os.access(dest / "usr/bin/bookingd", os.X_OK)
    unit = dest / "usr/lib/systemd/system/bookingd.service"
    s = unit_settings(unit)
    assert s["ExecStart"] == ["/usr/bin/bookingd serve"]
    assert "@" not in unit.read_text().replace("@system-service", "") \
        .replace("~@privileged", "")
    for key, want in (("DynamicUser", "yes"), ("StateDirectory", "bookingd"),
                      ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                      ("NoNewPrivileges", "yes"), ("KillSignal", "SIGTERM")):
        assert s.get(key) == [want], (key, s.get(key))
    assert "@system-service" in s["SystemCallFilter"]
    p = subprocess.run([str(dest / "usr/bin/bookingd"), "version"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.startswith("bookingd ")


def test_make_install_default_prefix_and_missing_binary(tmp_path):
    dest = tmp_path / "dest"
    install(os.environ["BOOKINGD_BIN"], DESTDIR=dest)
    assert (dest / "usr/local/bin/bookingd").exists()
    assert (dest / "usr/local/lib/systemd/system/bookingd.service").exists()
    p = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT),
                        "install-files", f"BIN={tmp_path}/none",
                        f"DESTDIR={tmp_path}/x"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "run make build" in p.stderr
    assert not (tmp_path / "x").exists()


def test_unit_passes_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    prefix = tmp_path / "usr"
    install(os.environ["BOOKINGD_BIN"], PREFIX=prefix)
    unit = prefix / "lib/systemd/system/bookingd.service"
    p = subprocess.run(["systemd-analyze", "verify", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "bookingd.service" not in p.stderr, p.stderr


def test_example_environment_file_is_accepted(tmp_path):
    """Every variable of the example, uncommented with its example value
    (the SQLite line for the database), passes bookingd's checks."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BOOKINGD_") or k == "BOOKINGD_BIN"}
    seen = set()
    for line in (ROOT / "packaging/bookingd.env.example").read_text() \
            .splitlines():
        if not line.startswith("#BOOKINGD_") or "=" not in line:
            continue
        k, v = line[1:].split("=", 1)
        if k in seen or not v:
            continue
        seen.add(k)
        env[k] = v
    assert {"BOOKINGD_DATABASE", "BOOKINGD_LOG_FORMAT",
            "BOOKINGD_SHUTDOWN_TIMEOUT_MS"} <= seen
    env["BOOKINGD_DATABASE"] = f"sqlite:{tmp_path}/x.db"
    p = subprocess.run([os.environ["BOOKINGD_BIN"], "migrate"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
