"""What every command shares: one JSON error shape, one exit code per meaning, and a light `deskpi status`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv, code, words", [
    (("user", "show", "Zed"), 1, "no deskpi database"),                    # people
    (("token", "revoke", "7"), 1, "no deskpi database"),                   # tokens
    (("status",), 3, "not running"),                                       # admin, from the control client
    (("audit", "--since", "soon"), 2, "--since 'soon'"),                   # admin, a usage error
    (("config", "get", "desk.colour"), 1, "no key 'colour'"),              # fleet
])
def test_every_command_group_reports_errors_in_one_shape(cli, tmp_path, argv, code, words):
    doc = cli.error("--data-dir", str(tmp_path), "--config", str(tmp_path / "none.toml"), *argv, "--json",
                    exit_code=code)
    assert words in doc["error"]
    plain = cli("--data-dir", str(tmp_path), "--config", str(tmp_path / "none.toml"), *argv)
    assert plain.returncode == code and plain.stdout == "" and plain.stderr == f"deskpi: {doc['error']}\n"


def test_a_refused_config_edit_lists_its_problems(cli, tmp_path):
    cfg = tmp_path / "deskpi.toml"
    doc = cli.error("--config", str(cfg), "config", "set", "desk.min_mm", "5", "--json")
    assert doc["problems"] and all(p["message"] for p in doc["problems"]) and "300..1500" in doc["error"]


def test_a_broken_config_is_a_warning_for_status_and_an_error_for_the_people_commands(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[desk]\nmin_mm = 5\n")
    p = cli("--config", str(bad), "--data-dir", str(tmp_path), "status", "--json")
    assert p.returncode == 3 and "warning" not in p.stderr           # --data-dir given: the config is not read
    p = cli("--config", str(bad), "status", "--json")
    assert "deskpi: warning:" in p.stderr and "min_mm" in p.stderr and "(using the built-in defaults)" in p.stderr
    doc = cli.error("--config", str(bad), "ergonomics", "--stature-cm", "175", "--json")
    assert "min_mm" in doc["error"] and "min_mm" in doc["problems"][0]["message"]


def test_status_imports_neither_the_motion_core_nor_the_web_app_nor_the_database():
    code = ("import sys\nfrom deskpi.cli.main import main\n"
            "rc = main(['status', '--json', '--data-dir', sys.argv[1]])\n"
            "print(rc, sorted(m for m in sys.modules if m.split('.')[0] in "
            "('deskpi', 'flask', 'werkzeug', 'sqlite_utils', 'sqlite3', 'gpiozero', 'apscheduler', 'tomlkit')))")
    p = subprocess.run([sys.executable, "-c", code, str(ROOT / "no-such-dir")], capture_output=True, text=True,
                       cwd=ROOT, timeout=60, check=False)
    last = p.stdout.strip().splitlines()[-1]
    rc, modules = last.split(" ", 1)
    assert rc == "3", p.stdout + p.stderr
    loaded = set(json.loads(modules.replace("'", '"')))
    assert not {m for m in loaded if not m.startswith("deskpi")}, loaded
    assert not {m for m in loaded if m.startswith(("deskpi.core", "deskpi.fleet", "deskpi.store", "deskpi.webapp",
                                                    "deskpi.hw", "deskpi.daemon.root"))}, loaded
