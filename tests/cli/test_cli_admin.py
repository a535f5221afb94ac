"""`deskpi status | move | stop | clear-fault | audit | logs` as a facilities person runs them over SSH:
a subprocess with no terminal, against a real simulated daemon, judged on exit codes and JSON."""
from __future__ import annotations

import json
import re
import time

import pytest
from helpers import calm, running_sim_daemon, wait_until

from deskpi.cli.admin import parse_since
from deskpi.cli.common import CliError


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with running_sim_daemon(tmp_path_factory.mktemp("cli") / "data", seed=6) as d:
        yield d


def test_status_json_is_the_contract(cli, daemon):
    p = cli("--data-dir", str(daemon.data_dir), "status", "--json")
    assert p.returncode == 0, p.stderr
    st = json.loads(p.stdout)
    assert isinstance(st["height_mm"], float) and st["state"] in ("idle", "moving", "settling", "fault")
    assert {"fault", "target_mm", "limits", "active_user", "uptime_s", "version", "learned"} <= set(st)


def test_status_for_people_and_options_after_the_command(cli, daemon):
    p = cli("status", "--data-dir", str(daemon.data_dir))
    assert p.returncode == 0, p.stderr
    assert "height" in p.stdout and "simulated desk" in p.stdout and "limits   640-1260 mm" in p.stdout
    assert re.search(r"learned  up [\d.]+ mm/s, coast [\d.]+ \+- [\d.]+ mm \(\d+ moves\)", p.stdout), p.stdout
    assert "  current " not in p.stdout            # no current sensor configured, nothing said about one


def test_no_daemon_is_exit_3_with_a_clear_message(cli, tmp_path):
    p = cli("--data-dir", str(tmp_path), "status", "--json")
    assert p.stderr == ""
    err = cli.parse_error(p, 3)
    assert "not running" in err["error"] and str(tmp_path) in err["error"]
    p = cli("--data-dir", str(tmp_path / "missing"), "move", "900")
    assert p.returncode == 3 and p.stdout == "" and "does not exist" in p.stderr


def test_move_waits_until_the_desk_is_there(cli, daemon):
    calm(daemon)
    here = daemon.parts.sim_desk.true_height()
    target = round(here + 80 if here < 1000 else here - 80)
    p = cli("--data-dir", str(daemon.data_dir), "move", str(target))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1].startswith("at ")        # plain lines, no progress bar off a TTY
    assert "\r" not in p.stdout
    wait_until(lambda: daemon.parts.sim_desk.at_rest(), 10, "the desk at rest")
    assert abs(daemon.parts.sim_desk.true_height() - target) < 8
    entry = daemon.parts.store.list_audit(action="move", limit=1)[0]
    assert entry.detail["why"] == "cli" and entry.detail["target_mm"] == target


def test_move_json_no_wait_then_stop(cli, daemon):
    calm(daemon)
    here = daemon.parts.sim_desk.true_height()
    target = 1200 if here < 950 else 700
    p = cli("--data-dir", str(daemon.data_dir), "move", str(target), "--no-wait", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"target_mm": target, "waiting": False, "height_mm": pytest.approx(here, abs=10)}
    p = cli("--data-dir", str(daemon.data_dir), "stop", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["stopped"] is True
    assert daemon.parts.controller.drive is None
    calm(daemon)
    assert abs(daemon.parts.sim_desk.true_height() - here) < abs(target - here) - 20


@pytest.mark.parametrize("value", ["5000", "-3", "nan"])
def test_move_outside_the_limits_is_usage_and_never_moves(cli, daemon, value):
    calm(daemon)
    here = daemon.parts.sim_desk.true_height()
    p = cli("--data-dir", str(daemon.data_dir), "move", value, "--json")
    assert "640-1260" in cli.parse_error(p, 2)["error"]
    assert daemon.parts.controller.drive is None and abs(daemon.parts.sim_desk.true_height() - here) < 1


def test_usage_errors_are_exit_2(cli):
    p = cli("move", "tall")
    assert p.returncode == 2 and "invalid float value" in p.stderr


def test_a_fault_is_exit_4_and_clear_fault_clears_it(cli, daemon):
    calm(daemon)
    daemon.parts.loop.request(lambda c, now: c.fail("injected by the test", now))
    try:
        p = cli("--data-dir", str(daemon.data_dir), "move", "900", "--json")
        assert p.returncode == 4
        assert "injected by the test" in json.loads(p.stdout)["error"]
        p = cli("--data-dir", str(daemon.data_dir), "clear-fault")
        assert p.returncode == 0 and "cleared: internal: injected by the test" in p.stdout
    finally:
        daemon.parts.loop.clear_fault()
    p = cli("--data-dir", str(daemon.data_dir), "clear-fault", "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["cleared"] is None


def test_child_lock_refuses_with_exit_5(cli, daemon):
    calm(daemon)
    daemon.parts.arbiter.set_locked(True)
    try:
        p = cli("--data-dir", str(daemon.data_dir), "move", "900")
        assert p.returncode == 5 and "child-locked" in p.stderr
    finally:
        daemon.parts.arbiter.set_locked(False)


def test_audit_reads_the_database_with_filters(cli, daemon):
    store = daemon.parts.store
    store.append_audit("button", "move", user="Ana", detail={"target_mm": 1000.0}, t=time.time() - 7200)
    store.append_audit("web", "stop", user="Ben", t=time.time() - 60)
    d = str(daemon.data_dir)
    p = cli("--data-dir", d, "audit", "--json", "--limit", "500")
    assert p.returncode == 0, p.stderr
    entries = json.loads(p.stdout)["entries"]
    assert {"Ana", "Ben"} <= {e["user"] for e in entries} and entries[0]["t"] >= entries[-1]["t"]
    p = cli("--data-dir", d, "audit", "--json", "--user", "ana")
    assert [e["user"] for e in json.loads(p.stdout)["entries"]] == ["Ana"]
    p = cli("--data-dir", d, "audit", "--json", "--since", "1h", "--user", "Ana")
    assert json.loads(p.stdout)["entries"] == []
    p = cli("--data-dir", d, "audit", "--limit", "1")
    assert p.returncode == 0 and len(p.stdout.strip().splitlines()) == 1
    p = cli("--data-dir", d, "audit", "--since", "yesterday-ish", "--json")
    assert "90m" in cli.parse_error(p, 2)["error"]


def test_audit_without_a_database_says_so(cli, tmp_path):
    p = cli("--data-dir", str(tmp_path), "audit")
    assert p.returncode == 1 and "no deskpi database" in p.stderr


def test_parse_since():
    now = 1_800_000_000.0
    assert parse_since("90m", now) == now - 5400
    assert parse_since("2h", now) == now - 7200
    assert parse_since("7d", now) == now - 7 * 86400
    assert parse_since("1700000000", now) == 1_700_000_000.0
    assert parse_since("2026-11-27T09:00:00+00:00", now) == 1795770000.0
    with pytest.raises(CliError):
        parse_since("soon", now)


def test_logs_without_journalctl_says_where_the_log_is(cli, tmp_path):
    env = {"PATH": str(tmp_path)}
    p = cli("logs", "--lines", "5", env=env)
    assert p.returncode == 1 and "journalctl is not available" in p.stderr
    p = cli("logs", "--lines", "0", env=env)
    assert p.returncode == 2
