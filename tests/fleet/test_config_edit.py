"""`deskpi config show|get|set|validate`: validated, atomic edits that keep the file's comments."""
from __future__ import annotations

import json
import multiprocessing
import shutil
import tomllib
from pathlib import Path

import pytest

from deskpi.config import load
from deskpi.fleet.config_edit import EditError, LockTimeout, config_lock, set_value

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deskpi.example.toml"


@pytest.fixture
def cfg(tmp_path) -> Path:
    path = tmp_path / "deskpi.toml"
    shutil.copy(EXAMPLE, path)
    return path


def run(cli, *argv: str) -> tuple[int, str, str]:
    p = cli.main(*argv)
    return p.returncode, p.stdout, p.stderr


def test_set_changes_one_line_and_keeps_every_comment(cfg, cli):
    before = cfg.read_text().splitlines()
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", "desk.max_mm", "1250")
    assert rc == 0 and "restart deskpi" in out and "was 1260.0" in out
    after = cfg.read_text().splitlines()
    assert len(before) == len(after)
    diff = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert diff == [("max_mm = 1260.0", "max_mm = 1250.0")]
    assert load(cfg).desk.max_mm == 1250.0


def test_set_same_value_twice_changes_nothing(cfg, cli):
    run(cli, "--config", str(cfg), "config", "set", "desk.max_mm", "1250")
    mtime = cfg.stat().st_mtime_ns
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", "desk.max_mm", "1250", "--json")
    assert rc == 0 and json.loads(out)["changed"] is False and cfg.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("key, value, expected", [
    ("desk.min_mm", "5000", "[desk] min_mm = 5000.0: must be in 300..1500"),
    ("desk.min_mm", "1300", "[desk] min_mm = 1300 must be below max_mm = 1260"),
    ("motor.up_pin", "24", "GPIO24 is used twice: [motor] up_pin and [sensor] echo_pin"),
    ("motor.driver", "stepper", "[motor] driver = 'stepper': must be one of 'relay', 'hbridge'"),
    ("desk.corrections", "maybe", "desk.corrections = 'maybe': must be true or false"),
    ("desk.nope", "1", "[desk] has no key 'nope'; its keys are min_mm"),
    ("nosection.key", "1", "SECTION one of desk, motor"),
])
def test_bad_values_are_refused_naming_key_value_and_what_is_allowed(cfg, cli, key, value, expected):
    text = cfg.read_text()
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", key, value, "--json")
    assert rc == 1
    assert expected in json.loads(out)["error"]
    assert cfg.read_text() == text


def test_keys_that_go_in_pairs_are_set_together_in_one_write(cfg, cli):
    text = cfg.read_text()
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", "web.tls_cert", "/etc/deskpi/tls/d.crt", "--json")
    assert rc == 1 and "sets both at once" in json.loads(out)["error"] and cfg.read_text() == text
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", "web.tls_cert", "/etc/deskpi/tls/d.crt",
                     "web.tls_key", "/etc/deskpi/tls/d.key", "--json")
    result = json.loads(out)
    assert rc == 0 and result["changed"] is True and result["restart_needed"] is True, out
    assert [(c["key"], c["to"], c["changed"]) for c in result["changes"]] == [
        ("web.tls_cert", "/etc/deskpi/tls/d.crt", True), ("web.tls_key", "/etc/deskpi/tls/d.key", True)]
    web = load(cfg).web
    assert (web.tls_cert, web.tls_key) == ("/etc/deskpi/tls/d.crt", "/etc/deskpi/tls/d.key")
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", "web.tls_cert", "/etc/deskpi/tls/d.crt",
                     "web.tls_key", "/etc/deskpi/tls/d.key")
    assert rc == 0 and "nothing changed" in out
    rc, _, err = run(cli, "--config", str(cfg), "config", "set", "web.tls_cert", "/a", "web.tls_key")
    assert rc == 2 and "'web.tls_key' has no VALUE" in err


def test_lists_of_names_accept_commas_and_refuse_what_is_not_a_name(cfg, cli):
    rc, _, _ = run(cli, "--config", str(cfg), "config", "set", "web.allowed_hosts", "desk12.example.com,.corp.example")
    assert rc == 0 and load(cfg).web.allowed_hosts == ("desk12.example.com", ".corp.example")
    assert run(cli, "--config", str(cfg), "config", "set", "web.trusted_proxies", "10.0.0.0/24")[0] == 0
    assert load(cfg).web.trusted_proxies == ("10.0.0.0/24",)
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", "web.allowed_hosts", "'evil\" host'", "--json")
    assert rc == 1 and "is not a host name" in json.loads(out)["error"]
    rc, out, _ = run(cli, "--config", str(cfg), "config", "set", "web.trusted_proxies", "proxy.example", "--json")
    assert rc == 1 and "'proxy.example' is not an IP address or network" in json.loads(out)["error"]


def test_optional_pin_cleared_with_none_and_lists_accept_commas(cfg, cli):
    assert run(cli, "--config", str(cfg), "config", "set", "indicators.buzzer_pin", "none")[0] == 0
    assert run(cli, "--config", str(cfg), "config", "set", "buttons.preset_pins", "13,19")[0] == 0
    s = load(cfg)
    assert s.indicators.buzzer_pin is None and s.buttons.preset_pins == (13, 19)
    assert "buzzer_pin = false" in cfg.read_text()


def test_set_creates_a_missing_file_and_keeps_mode(tmp_path, cli, cfg):
    new = tmp_path / "new.toml"            # in a folder that exists (test_set_never_creates_the_folder_...)
    assert run(cli, "--config", str(new), "config", "set", "web.port", "8081")[0] == 0
    assert tomllib.loads(new.read_text()) == {"web": {"port": 8081}}
    cfg.chmod(0o640)
    run(cli, "--config", str(cfg), "config", "set", "web.port", "8082")
    assert cfg.stat().st_mode & 0o777 == 0o640


def test_a_refused_set_leaves_no_lock_file_behind(cfg, cli):
    """"Nothing was written" holds for the lock file too: the value is checked before the lock is taken."""
    code, out, _ = run(cli, "--config", str(cfg), "config", "set", "--json", "mqtt.port", "-1")
    assert code == 1 and "nothing was written" in json.loads(out)["error"]
    assert sorted(p.name for p in cfg.parent.iterdir()) == ["deskpi.toml"]


def test_set_never_creates_the_folder_of_a_mistyped_config_path(tmp_path, cli):
    path = tmp_path / "x" / "sub" / "deskpi.toml"
    for value, says in (("1884", f"its folder {path.parent} does not exist"), ("-1", "must be in 1..65535")):
        code, out, _ = run(cli, "--config", str(path), "config", "set", "--json", "mqtt.port", value)
        error = json.loads(out)["error"]
        assert code == 1 and says in error and "nothing was written" in error, error
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EditError, match="does not exist"), config_lock(path):
        pass                                    # `apply` and `calibrate` write under the same lock
    assert list(tmp_path.iterdir()) == []


def test_get_and_show_report_effective_values_with_defaults(cfg, tmp_path, cli):
    rc, out, _ = run(cli, "--config", str(cfg), "config", "get", "sensor.echo_pin")
    assert (rc, out) == (0, "24\n")
    missing = tmp_path / "absent.toml"
    rc, out, _ = run(cli, "--config", str(missing), "config", "get", "indicators.led_pin", "--json")
    assert json.loads(out) == {"key": "indicators.led_pin", "value": 12, "default": True, "file": str(missing)}
    rc, out, _ = run(cli, "--config", str(missing), "config", "show", "--json")
    doc = json.loads(out)
    assert doc["exists"] is False and doc["settings"]["habits"]["pir_pin"] is None
    rc, out, _ = run(cli, "--config", str(cfg), "config", "show")
    assert "[motor]\ndriver = \"relay\"" in out


def test_validate_lists_every_problem_with_its_line(tmp_path, cli):
    bad = tmp_path / "bad.toml"
    bad.write_text("[desk]\nmin_mm = 5\ncolour = 1\n\n[motor]\nup_pin = 24\n")
    rc, out, _ = run(cli, "config", "validate", str(bad), "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["valid"] is False
    got = {(p["line"], p["key"]) for p in doc["problems"]}
    assert got == {(2, "min_mm"), (3, "colour"), (6, "up_pin")}
    rc, _, err = run(cli, "config", "validate", str(bad))
    assert rc == 1 and f"{bad}:2: [desk] min_mm = 5.0: must be in 300..1500" in err
    bad.write_text("[desk\n")
    rc, out, _ = run(cli, "config", "validate", str(bad), "--json")
    assert rc == 1 and json.loads(out)["problems"][0]["line"] == 1
    rc, out, _ = run(cli, "config", "validate", str(EXAMPLE))
    assert rc == 0 and out.endswith("ok\n")


def _hold_lock(path: str, ready, release) -> None:
    with config_lock(Path(path)):
        ready.set()
        release.wait(10)


def test_a_second_admin_waits_for_the_lock_then_fails_cleanly(cfg):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(cfg), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        text = cfg.read_text()
        with pytest.raises(LockTimeout, match="another admin"):
            set_value(cfg, "desk.max_mm", "1200", timeout_s=0.3)
        assert cfg.read_text() == text
    finally:
        release.set()
        holder.join(10)
    assert set_value(cfg, "desk.max_mm", "1200", timeout_s=5).changed


def test_a_failed_write_leaves_the_old_file(cfg, monkeypatch):
    import os

    text = cfg.read_text()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        set_value(cfg, "desk.max_mm", "1200")
    assert cfg.read_text() == text
    assert [p.name for p in cfg.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_edit_error_is_a_value_error():
    assert issubclass(EditError, ValueError)


FLEET_COMMANDS = [("config", "show"), ("config", "get"), ("config", "set"), ("config", "validate"), ("apply",),
                  ("export",), ("hash-pin",), ("migrate",)]


def _subparser(parser, path):
    import argparse

    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


@pytest.mark.parametrize("path", FLEET_COMMANDS, ids=" ".join)
def test_every_fleet_command_has_an_example_and_is_in_the_readme(path):
    from deskpi.cli.main import build_parser

    sub = _subparser(build_parser(), path)
    assert "Example" in (sub.description or ""), f"`deskpi {' '.join(path)}` has no example"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"deskpi {' '.join(path)}" in readme or f"] {' '.join(path)} " in readme, \
        f"`deskpi {' '.join(path)}` is not in README.md"
