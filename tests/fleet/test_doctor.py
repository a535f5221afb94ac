"""`deskpi doctor --json`: the contract, with and without a running daemon, run as a subprocess."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import running_sim_daemon, wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deskpi.example.toml"
STATUSES = {"pass", "warn", "fail"}


def by_name(report) -> dict:
    return {c["name"]: c for c in report["checks"]}


def check_shape(report) -> None:
    assert report["checks"], report
    for c in report["checks"]:
        assert set(c) <= {"name", "status", "detail", "hint"} and c["status"] in STATUSES and c["detail"]
        if c["status"] != "pass":
            assert c.get("hint"), c


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "deskpi.toml"
    path.write_text(EXAMPLE.read_text())
    return path


def test_without_a_daemon_the_daemon_checks_fail_clearly_and_the_exit_is_nonzero(cli, tmp_path, config):
    p = cli("--data-dir", str(tmp_path), "--config", str(config), "doctor", "--json")
    report = cli.parse(p, p.returncode)
    assert p.returncode == 1, p.stderr
    check_shape(report)
    checks = by_name(report)
    assert checks["config"]["status"] == "pass"
    assert checks["daemon"]["status"] == "fail" and "not running" in checks["daemon"]["detail"]
    assert checks["sensor"]["status"] == "fail" and "not running" in checks["sensor"]["detail"]
    assert checks["watchdog"]["status"] in ("warn", "fail") and "not running" in checks["watchdog"]["detail"]
    assert checks["database"]["status"] == "warn"          # no database until the daemon first runs
    assert {"pins", "pin factory", "service", "clock", "disk"} <= set(checks)
    assert [s["name"] for s in report["skipped"]] == ["motor"]


def test_a_broken_config_fails_naming_the_key(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[desk]\nmin_mm = 5\n")
    p = cli("--data-dir", str(tmp_path), "--config", str(bad), "doctor", "--json")
    report = cli.parse(p, p.returncode)
    assert p.returncode == 1
    checks = by_name(report)
    assert checks["config"]["status"] == "fail" and "[desk] min_mm = 5" in checks["config"]["detail"]
    assert checks["pins"]["status"] == "fail"


def test_against_a_running_simulated_desk(cli, tmp_path, config):
    data = tmp_path / "data"
    with running_sim_daemon(data, seed=8) as d:
        p = cli("--data-dir", str(data), "--config", str(config), "doctor", "--json")
        report = cli.parse(p, p.returncode)
        check_shape(report)
        checks = by_name(report)
        assert checks["daemon"]["status"] == "pass" and "simulated desk" in checks["daemon"]["detail"]
        assert checks["sensor"]["status"] in ("pass", "warn") and "pings/s" in checks["sensor"]["detail"]
        assert checks["database"]["status"] == "pass" and "integrity ok" in checks["database"]["detail"]
        assert checks["watchdog"]["status"] == "warn"      # not started by systemd
        assert checks["pin factory"]["status"] in ("pass", "warn")
        assert "motor" not in checks and report["skipped"][0]["name"] == "motor"     # the desk moves only with --move
        assert p.returncode == (1 if any(c["status"] == "fail" for c in report["checks"]) else 0)

        if d.parts.controller.fault is not None:
            d.parts.loop.clear_fault()
        wait_until(lambda: d.parts.controller.estimator.is_fresh(time.monotonic()), 30, "fresh readings")
        d.parts.sim_desk.inject("reversed_wiring")
        p = cli("--data-dir", str(data), "--config", str(config), "doctor", "--move")
        assert p.returncode == 1
        assert "[FAIL] motor: the desk moved the wrong way" in p.stdout and "fix: swap [motor] up_pin" in p.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give files to another user")
def test_sudo_doctor_leaves_no_root_owned_files_the_service_could_not_open(cli, tmp_path, config):
    from deskpi.store import Store, db_path

    data = tmp_path / "data"
    Store.open(db_path(data)).close()
    for f in data.iterdir():
        if f.name != "deskpi.db":
            f.unlink()                    # as after the service stopped: only the database itself is left
    for f in (data, *data.iterdir()):
        os.chown(f, 4321, 4321)
    p = cli("--data-dir", str(data), "--config", str(config), "doctor", "--json")
    report = cli.parse(p, p.returncode)
    assert by_name(report)["database"]["status"] == "pass"
    assert {f.name: f.stat().st_uid for f in data.iterdir()} == {f.name: 4321 for f in data.iterdir()}
    assert len(list(data.iterdir())) >= 2          # the lock file at least was created, and given away
