"""Issue 12, item 11: on a machine where no desk was ever installed, the commands that need one say so.

Without --data-dir, the people, plan, token, statistics and audit commands, and `deskpi doctor`, look in
the built-in data directory (/var/lib/deskpi, which the installer makes). When it does not exist and the
config names no other, they say that no desk is installed here and how to point at one (--data-dir DIR),
instead of a database to create, a list of nobody, or how to start a service that is not there. The people
commands exit 2 (a usage error: this machine needs --data-dir); the doctor fails its "desk" check (exit 1).

Run in this process, with the built-in data directory and config path moved into tmp_path, so the test
means the same on a desk's Raspberry Pi as on a laptop.
"""
from __future__ import annotations

import json

import pytest

from deskpi import config, exit_codes

NO_DESK = "no desk is installed on this machine"


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """The built-in data directory (missing) and an absent /etc/deskpi/deskpi.toml; yields the directory."""
    missing = tmp_path / "var-lib-deskpi"
    built_in = config.from_mapping({"daemon": {"data_dir": str(missing)}}, "defaults")
    monkeypatch.setattr(config, "defaults", lambda: built_in)
    monkeypatch.setattr(config, "DEFAULT_PATH", tmp_path / "etc-deskpi.toml")
    return missing


@pytest.mark.parametrize("argv", [
    ("user", "list"), ("user", "show", "Ada"), ("user", "use", "Ada"), ("user", "remove", "Ada"),
    ("user", "set", "Ada", "--units", "in"), ("plan", "show", "Ada"), ("token", "list", "Ada"),
    ("stats",), ("audit",), ("backup", "/tmp/never.db"), ("user", "add", "Ada"),
    ("user", "rename", "Ada", "Bo"), ("user", "reset-pin", "Ada"),
])
def test_the_people_commands_say_no_desk_is_installed_here(cli, nowhere, argv) -> None:
    plain = cli.main(*argv)
    assert plain.returncode == exit_codes.USAGE, plain
    assert plain.stdout == "" and plain.stderr.startswith(f"deskpi: {NO_DESK}: there is no {nowhere}")
    assert "--data-dir DIR" in plain.stderr and "deskpi sim --data-dir DIR" in plain.stderr
    assert "systemctl" not in plain.stderr and "add a user first" not in plain.stderr
    doc = cli.parse_error(cli.main(*argv, "--json"), exit_codes.USAGE)
    assert doc["error"].startswith(NO_DESK)
    assert not nowhere.exists()                                   # nothing was created on the way


def test_a_data_dir_given_or_named_by_the_config_keeps_its_own_message(cli, nowhere, tmp_path) -> None:
    given = cli.main("--data-dir", str(tmp_path / "typo"), "user", "list")
    assert given.returncode == 1 and "no deskpi database there" in given.stderr and NO_DESK not in given.stderr
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text(f'[daemon]\ndata_dir = "{tmp_path / "elsewhere"}"\n')
    named = cli.main("--config", str(cfg), "user", "list")
    assert named.returncode == 1 and "no deskpi database there" in named.stderr and NO_DESK not in named.stderr


def test_an_installed_desk_without_people_yet_lists_nobody(cli, nowhere) -> None:
    nowhere.mkdir()
    assert "no deskpi database (deskpi.db) there yet" in cli.main("user", "list").stderr     # never started
    assert cli.main("user", "add", "Ada").returncode == 0
    assert json.loads(cli.main("user", "list", "--json").stdout)[0]["name"] == "Ada"


def test_the_doctor_says_no_desk_is_installed_instead_of_how_to_start_a_service(cli, nowhere) -> None:
    text = cli.main("doctor")
    assert text.returncode == exit_codes.FAILURE
    assert f"[FAIL] desk: {NO_DESK}: there is no {nowhere}" in text.stdout
    assert "--data-dir DIR" in text.stdout and "systemctl" not in text.stdout
    assert "[skip] daemon: no desk is installed on this machine" in text.stdout
    report = json.loads(cli.main("doctor", "--json").stdout)
    names = [c["name"] for c in report["checks"]]
    assert "desk" in names and not {"daemon", "sensor", "service", "watchdog", "database", "disk"} & set(names)
    assert {"daemon", "database", "service"} <= {s["name"] for s in report["skipped"]}


def test_the_doctor_with_a_data_dir_checks_that_desk(cli, nowhere, tmp_path) -> None:
    report = json.loads(cli.main("--data-dir", str(tmp_path), "doctor", "--json").stdout)
    names = [c["name"] for c in report["checks"]]
    assert "desk" not in names and "daemon" in names and "database" in names
