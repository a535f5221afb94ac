"""The facilities path, for real: Debian's sshd on 127.0.0.1 and the deskpi CLI driven through `ssh`,
non-interactively, the way staff look after desks (exit codes, JSON on stdout, PINs on stdin)."""
from __future__ import annotations

import json
import shlex
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from deploy_helpers import ROOT, Sshd

from deskpi.people.passwords import verify_secret
from deskpi.store import Store, db_path

pytestmark = pytest.mark.timeout(120)
DESKPI = str(Path(sys.executable).parent / "deskpi")
DESK_FILE = ROOT / "ansible" / "desks" / "desk-001.toml"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def desk(tmp_path):
    """A desk's config and data dir; `run(...)` is `ssh desk deskpi --config C --data-dir D ...`."""
    config = tmp_path / "etc" / "deskpi.toml"
    config.parent.mkdir()
    shutil.copy(ROOT / "deskpi.example.toml", config)
    return config, tmp_path / "data"


def remote(sshd: Sshd, desk, *argv: str, input: str | None = None):
    config, data = desk
    cmd = " ".join(shlex.quote(a) for a in (DESKPI, "--config", str(config), "--data-dir", str(data), *argv))
    return sshd.ssh(cmd, input=input)


def test_config_get_and_a_refused_set_over_ssh(sshd, desk):
    cp = remote(sshd, desk, "config", "get", "desk.max_mm")
    assert (cp.returncode, cp.stdout) == (0, "1260.0\n"), cp.stderr
    before = desk[0].read_text()
    cp = remote(sshd, desk, "config", "set", "desk.min_mm", "5000", "--json")
    assert cp.returncode == 1
    error = json.loads(cp.stdout)["error"]
    assert "[desk] min_mm = 5000.0: must be in 300..1500" in error and "nothing was written" in error
    assert desk[0].read_text() == before
    cp = remote(sshd, desk, "config", "set", "desk.min_mm", "650")
    assert cp.returncode == 0 and "restart deskpi" in cp.stdout
    assert remote(sshd, desk, "config", "validate", "--json").returncode == 0


def test_a_usage_error_exits_2_with_the_reason(sshd, desk):
    cp = remote(sshd, desk, "config", "frobnicate")
    assert cp.returncode == 2 and "invalid choice: 'frobnicate'" in cp.stderr


def test_user_add_with_the_pin_on_stdin(sshd, desk):
    cp = remote(sshd, desk, "user", "add", "Ana", "--stature-cm", "168", "--pin-stdin", "--json", input="4711\n")
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["has_pin"] is True
    with Store.open(db_path(desk[1])) as s:
        assert verify_secret("4711", s.get_user("Ana").pin_hash)
    cp = remote(sshd, desk, "user", "add", "Ben", "--pin-stdin", "--json", input="12\n")
    assert cp.returncode == 1 and "PIN" in json.loads(cp.stdout)["error"]


def test_apply_export_round_trip_over_ssh(sshd, desk, tmp_path):
    text = DESK_FILE.read_text()
    cp = remote(sshd, desk, "apply", "-", "--json", input=text)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["changed"] is True
    again = json.loads(remote(sshd, desk, "apply", "-", "--json", input=text).stdout)
    assert (again["changed"], again["changes"]) == (False, [])
    exported = remote(sshd, desk, "export")
    assert exported.returncode == 0 and 'name = "Ana"' in exported.stdout
    fresh = (tmp_path / "fresh.toml", tmp_path / "fresh-data")
    assert remote(sshd, fresh, "apply", "-", input=exported.stdout).returncode == 0
    assert remote(sshd, fresh, "export").stdout == exported.stdout


def test_a_bad_desired_state_fails_with_json_and_changes_nothing(sshd, desk):
    bad = DESK_FILE.read_text().replace("min_mm = 650.0", "min_mm = 5.0")
    cp = remote(sshd, desk, "apply", "-", "--json", input=bad)
    assert cp.returncode == 1
    doc = json.loads(cp.stdout)
    assert doc["problems"][0]["key"] == "settings.desk.min_mm" and doc["problems"][0]["line"] == 6
    assert "nothing was changed" in doc["error"]
    assert not desk[1].exists()


def test_two_admins_applying_at_once_over_ssh(sshd, desk):
    text = DESK_FILE.read_text()
    other = text.replace("max_mm = 1250.0", "max_mm = 1200.0")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda t: remote(sshd, desk, "apply", "-", "--json", input=t), (text, other)))
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    cp = remote(sshd, desk, "config", "get", "desk.max_mm", "--json")
    assert json.loads(cp.stdout)["value"] in (1250.0, 1200.0)


def test_status_and_doctor_of_a_running_simulated_desk_over_ssh(sshd, desk):
    from helpers import running_sim_daemon

    config, data = desk
    with running_sim_daemon(data, seed=3):
        cp = remote(sshd, desk, "status", "--json")
        assert cp.returncode == 0, cp.stderr
        st = json.loads(cp.stdout)
        assert 600 <= st["height_mm"] <= 1300 and st["state"] == "idle"
        cp = remote(sshd, desk, "doctor", "--json")
        report = json.loads(cp.stdout)
        assert cp.returncode == (1 if any(c["status"] == "fail" for c in report["checks"]) else 0)
        daemon = next(c for c in report["checks"] if c["name"] == "daemon")
        assert daemon["status"] == "pass", daemon
    cp = remote(sshd, desk, "status", "--json")           # the daemon is gone: exit 3, said in JSON
    assert cp.returncode == 3 and "error" in json.loads(cp.stdout)
