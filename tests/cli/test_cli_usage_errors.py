"""A command line that cannot be parsed, or a value out of range, is a usage error (exit 2); with --json it is
the JSON error object every command prints, so a script that asked for JSON never reads an empty stdout."""
from __future__ import annotations

from pathlib import Path

import pytest

from deskpi.fleet.calibrate import TAPE_MM


@pytest.mark.parametrize(("argv", "words"), [
    (("move", "abc"), "invalid float value: 'abc'"),
    (("move",), "required: MM"),
    (("audit", "--limit", "x"), "invalid int value: 'x'"),
    (("user", "add"), "required: NAME"),
    (("config", "get"), "required: SECTION.KEY"),
    (("config", "frobnicate"), "invalid choice: 'frobnicate'"),
    ((), "required: command"),
])
def test_usage_errors_with_json_are_the_json_error_object(cli, tmp_path, argv, words):
    p = cli.main("--data-dir", str(tmp_path), *argv, "--json")
    doc = cli.parse_error(p, 2)
    assert words in doc["error"] and "usage: deskpi" in doc["error"] and p.stderr == "", doc
    plain = cli.main("--data-dir", str(tmp_path), *argv)           # without --json: argparse's own text
    assert plain.returncode == 2 and plain.stdout == "" and words in plain.stderr
    assert plain.stderr.startswith("usage: deskpi")


def test_a_usage_error_a_command_reports_itself_follows_json_too(cli, tmp_path):
    doc = cli.parse_error(cli.main("--data-dir", str(tmp_path), "user", "set", "Ana", "--json"), 2)
    assert "nothing to change" in doc["error"]


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_sim_refuses_a_port_out_of_range_as_a_usage_error(cli, port):
    p = cli.main("sim", "--port", port)
    assert p.returncode == 2 and f"'{port}'" in p.stderr and "0-65535" in p.stderr, p.stderr
    assert f"'{port}'" in cli.parse_error(cli.main("sim", "--port", port, "--json"), 2)["error"]


def test_sim_says_why_it_cannot_serve_on_a_host_that_does_not_resolve(cli, tmp_path):
    p = cli("sim", "--host", "not a host", "--port", "0", "--data-dir", str(tmp_path / "data"), timeout=120)
    line = p.stderr.strip().splitlines()[-1]
    assert p.returncode == 1 and line.startswith("deskpi: cannot serve on not a host:0: "), p.stderr
    assert not line.endswith(": None") and "Traceback" not in p.stderr


@pytest.mark.parametrize("value", ["nan", "-5", "1e400", "74.2", "tall"])
def test_calibrate_refuses_a_tape_measurement_out_of_range_as_a_usage_error(cli, tmp_path, value):
    doc = cli.parse_error(cli.main("--data-dir", str(tmp_path), "calibrate", "--measured-mm", value, "--json"), 2)
    assert f"'{value}'" in doc["error"] and f"{TAPE_MM[0]:g}-{TAPE_MM[1]:g}" in doc["error"], doc
    assert cli.main("--data-dir", str(tmp_path), "calibrate", "--measured-mm", value).returncode == 2


def test_token_list_without_a_name_is_a_usage_error(cli, tmp_path):
    doc = cli.parse_error(cli.main("--data-dir", str(tmp_path), "token", "list", "--json"), 2)
    assert "NAME is missing" in doc["error"]


@pytest.mark.parametrize("dest", ["unmounted/usb/deskpi.db", "unmounted/"])
def test_backup_never_makes_the_folder_it_was_given(cli, tmp_path: Path, dest):
    """/media/usb/... with the stick not mounted must not land on the SD card."""
    data = tmp_path / "data"
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    target = f"{tmp_path}/{dest}"                                   # a trailing slash kept: a folder is meant
    doc = cli.parse_error(cli.main("--data-dir", str(data), "backup", target, "--json"), 1)
    assert "does not exist" in doc["error"] and repr(target) in doc["error"] and "nothing was written" in doc["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
