"""systemd/install.sh into a staging tree (--root): install, repeat (nothing changes), upgrade (config and
data kept, database migrated), uninstall (config and data kept), purge. Nothing touches the real system."""
from __future__ import annotations

import hashlib
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import offline_install_args, require_tool, run_installer, snapshot_source
from sqlite_utils import Database

from deskpi.store.migrations import LATEST_VERSION, current_version, migrate

pytestmark = pytest.mark.timeout(300)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


REAL = [Path("/etc/passwd"), Path("/etc/group"), Path("/etc/deskpi/deskpi.toml"),
        Path("/etc/systemd/system/deskpi.service")]


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """A source snapshot and a staging tree with a minimal etc/passwd (so `useradd --root` runs)."""
    require_tool("useradd", "passwd")
    base = tmp_path_factory.mktemp("install")
    src = snapshot_source(base / "src")
    root = base / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\ngpio:x:997:\ni2c:x:998:\n")
    for f in ("shadow", "gshadow"):
        (root / "etc" / f).write_text("")
    before = {p: _digest(p) for p in REAL}
    first = run_installer(src, "--root", str(root), *offline_install_args())
    yield src, root, first
    assert {p: _digest(p) for p in REAL} == before, "the installer touched the real system"


def test_first_install_lays_out_the_system(staged):
    src, root, first = staged
    assert "done:" in first.stdout
    passwd = (root / "etc" / "passwd").read_text()
    assert "deskpi:" in passwd and "/usr/sbin/nologin" in passwd
    assert "gpio:x:997:deskpi" in (root / "etc" / "group").read_text()
    assert "i2c:x:998:deskpi" in (root / "etc" / "group").read_text()        # the current sensor's bus
    uid = int(next(line for line in passwd.splitlines() if line.startswith("deskpi:")).split(":")[2])
    data = root / "var" / "lib" / "deskpi"
    assert stat.S_IMODE(data.stat().st_mode) == 0o750 and data.stat().st_uid == uid
    config = root / "etc" / "deskpi" / "deskpi.toml"
    assert config.read_text() == (src / "deskpi.example.toml").read_text()
    unit = root / "etc" / "systemd" / "system" / "deskpi.service"
    assert unit.read_text() == (src / "systemd" / "deskpi.service").read_text()
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "deskpi.service"
    assert wants.is_symlink()
    deskpi = root / "opt" / "deskpi" / "bin" / "deskpi"
    where = subprocess.run([str(root / "opt" / "deskpi" / "bin" / "python"), "-c",
                            "import deskpi; print(deskpi.__file__)"], capture_output=True, text=True, cwd="/",
                           check=True).stdout
    assert where.startswith(str(root / "opt" / "deskpi")), where       # the installed copy, not the checkout
    cp = subprocess.run([str(deskpi), "config", "validate", str(config)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr


def test_second_run_changes_nothing_and_says_so(staged):
    src, root, _ = staged
    config = root / "etc" / "deskpi" / "deskpi.toml"
    before = config.stat().st_mtime_ns
    again = run_installer(src, "--root", str(root), *offline_install_args())
    assert ": changed (" not in again.stdout, again.stdout
    assert "nothing changed" in again.stdout
    assert config.stat().st_mtime_ns == before


def test_upgrade_keeps_config_and_data_and_migrates_the_database(staged):
    src, root, _ = staged
    config = root / "etc" / "deskpi" / "deskpi.toml"
    deskpi = root / "opt" / "deskpi" / "bin" / "deskpi"
    subprocess.run([str(deskpi), "--config", str(config), "config", "set", "desk.max_mm", "1240"], check=True,
                   capture_output=True)
    edited = config.read_text()
    db = root / "var" / "lib" / "deskpi" / "deskpi.db"
    conn = sqlite3.connect(db)                  # a database an older deskpi left behind (schema 1)
    migrate(Database(conn), target=1)
    conn.execute("INSERT INTO users (name, name_key, units, role, created_at) VALUES ('Ana', 'ana', 'cm', 'user', 0)")
    conn.commit()
    conn.close()
    (src / "deskpi" / "_upgrade_marker.py").write_text("# a new release\n")
    try:
        up = run_installer(src, "--root", str(root), *offline_install_args())
    finally:
        (src / "deskpi" / "_upgrade_marker.py").unlink()
    assert "deskpi: changed" in up.stdout and "database: changed" in up.stdout, up.stdout
    assert config.read_text() == edited
    conn = sqlite3.connect(db)
    try:
        assert current_version(Database(conn)) == LATEST_VERSION
        assert conn.execute("SELECT name FROM users").fetchall() == [("Ana",)]
    finally:
        conn.close()
    uid = (root / "var" / "lib" / "deskpi").stat().st_uid
    assert all(p.stat().st_uid == uid for p in db.parent.iterdir()), "root left files the service cannot open"


def test_self_signed_cert_makes_a_certificate_for_this_desk_and_sets_the_config(staged):
    src, root, _ = staged
    openssl = require_tool("openssl", "openssl")
    (root / "etc" / "hostname").write_text("deskpi-7\n")
    config = root / "etc" / "deskpi" / "deskpi.toml"
    before = config.read_text()
    out = run_installer(src, "--root", str(root), "--self-signed-cert", "--cert-names", "desk12.example.com,10.1.2.3",
                        *offline_install_args()).stdout
    tls = root / "etc" / "deskpi" / "tls"
    crt, key = tls / "deskpi.crt", tls / "deskpi.key"
    assert "tls: changed" in out and "config: changed ([web] tls_cert and tls_key set" in out, out
    sans = subprocess.run([openssl, "x509", "-in", str(crt), "-noout", "-ext", "subjectAltName"], check=True,
                          capture_output=True, text=True).stdout
    for name in ("DNS:localhost", "DNS:deskpi-7", "DNS:deskpi-7.local", "DNS:desk12.example.com",
                 "IP Address:10.1.2.3", "IP Address:127.0.0.1", "IP Address:0:0:0:0:0:0:0:1"):
        assert name in sans, sans
    fingerprint = subprocess.run([openssl, "x509", "-in", str(crt), "-noout", "-fingerprint", "-sha256"], check=True,
                                 capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    assert f"SHA-256 fingerprint {fingerprint}" in out, out
    gid = int(next(line for line in (root / "etc" / "group").read_text().splitlines()
                   if line.startswith("deskpi:")).split(":")[2])
    assert stat.S_IMODE(key.stat().st_mode) == 0o640 and (key.stat().st_uid, key.stat().st_gid) == (0, gid)
    assert stat.S_IMODE(tls.stat().st_mode) == 0o750 and tls.stat().st_gid == gid
    text = config.read_text()
    assert 'tls_cert = "/etc/deskpi/tls/deskpi.crt"' in text and 'tls_key = "/etc/deskpi/tls/deskpi.key"' in text
    assert text.replace('tls_cert = "/etc/deskpi/tls/deskpi.crt"', 'tls_cert = ""').replace(
        'tls_key = "/etc/deskpi/tls/deskpi.key"', 'tls_key = ""') == before, "other lines of the config changed"
    deskpi = root / "opt" / "deskpi" / "bin" / "deskpi"
    assert subprocess.run([str(deskpi), "config", "validate", str(config)], capture_output=True).returncode == 0
    from deskpi.daemon.web_server import check_tls
    check_tls(str(crt), str(key))                                 # the key belongs to the certificate
    again = run_installer(src, "--root", str(root), "--self-signed-cert", *offline_install_args()).stdout
    assert "nothing changed" in again and f"SHA-256 fingerprint {fingerprint}" in again, again
    cp = run_installer(src, "--root", str(root), "--cert-names", "x.example", check=False)
    assert cp.returncode == 2 and "--cert-names goes with --self-signed-cert" in cp.stderr
    cp = run_installer(src, "--root", str(root), "--self-signed-cert", "--cert-names", "a b", check=False)
    assert cp.returncode == 2 and "only host names and addresses" in cp.stderr


def test_bad_options_are_refused_with_the_reason(staged, tmp_path):
    src, _, _ = staged
    cp = run_installer(src, "--frobnicate", check=False)
    assert cp.returncode == 2 and "unknown option '--frobnicate'" in cp.stderr
    cp = run_installer(src, "--root", str(tmp_path / "r"), "--source", str(tmp_path / "nope"), check=False)
    assert cp.returncode == 1 and f"--source '{tmp_path / 'nope'}': no such file or directory" in cp.stderr
    cp = run_installer(src, "--root", str(tmp_path / "r"), "--python", "python2.7-nope", check=False)
    assert cp.returncode == 1 and "--python 'python2.7-nope': not found" in cp.stderr
    assert not (tmp_path / "r" / "opt").exists()


def test_uninstall_keeps_config_and_data_then_purge_removes_them(staged):
    src, root, _ = staged
    out = run_installer(src, "--root", str(root), "--uninstall").stdout
    assert not (root / "opt" / "deskpi").exists()
    assert not (root / "etc" / "systemd" / "system" / "deskpi.service").exists()
    assert not (root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "deskpi.service").exists()
    assert (root / "etc" / "deskpi" / "deskpi.toml").exists() and (root / "var" / "lib" / "deskpi").exists()
    assert "kept" in out
    assert "nothing to remove" in run_installer(src, "--root", str(root), "--uninstall").stdout
    run_installer(src, "--root", str(root), "--uninstall", "--purge")
    assert not (root / "etc" / "deskpi").exists() and not (root / "var" / "lib" / "deskpi").exists()
    assert "deskpi:" not in (root / "etc" / "passwd").read_text()


def test_install_from_a_wheel(staged, tmp_path):
    """A release wheel (what a fleet without git gets): installed, and a second run changes nothing."""
    import sys

    src, _, _ = staged
    build = tmp_path / "build-src"
    shutil.copytree(src, build, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(tmp_path / "dist"), str(build)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("deskpi-*.whl"))
    root = tmp_path / "root"
    args = ["--root", str(root), "--source", str(wheel), *offline_install_args()]
    assert "deskpi: changed" in run_installer(src, *args).stdout
    assert (root / "opt" / "deskpi" / "bin" / "deskpi").exists()
    assert "nothing changed" in run_installer(src, *args).stdout
