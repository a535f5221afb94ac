"""Hostile and mistaken CLI input from issue 11 (defects 6, 9 and 13), each run as a real `deskpi` process.

The last admin cannot be removed (as on the API); an impossible token id is a clear error; files and
standard input are read to a cap, never to the end of /dev/zero; a mistyped --data-dir is an error,
not an empty desk; `config set web.host` takes only a host name or an address; lookalike names are
refused; `deskpi sim` and `deskpi run` refuse an empty or corrupt database in one line.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deskpi.store import Store, db_path
from deskpi.util.files import INPUT_MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]
CAP_TEXT = "1 MiB"


def failed(proc: subprocess.CompletedProcess, *words: str, code: int = 1) -> str:
    assert proc.returncode == code, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    for w in words:
        assert w in proc.stderr, f"{w!r} not in stderr: {proc.stderr}"
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc.stderr


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


# ------------------------------------------------------------------------------------ the last admin

def test_the_last_admin_cannot_be_removed(cli, data: Path) -> None:
    d = str(data)
    cli.json("--data-dir", d, "user", "add", "Ana", "--json")          # the first: the owner (counts as admin)
    cli.json("--data-dir", d, "user", "add", "Ben", "--admin", "--json")
    cli.json("--data-dir", d, "user", "add", "Cy", "--json")
    assert cli.json("--data-dir", d, "user", "remove", "Cy", "--json")["removed"] == "Cy"      # plain users go
    assert cli.json("--data-dir", d, "user", "remove", "Ana", "--json")["removed"] == "Ana"    # Ben is left
    failed(cli("--data-dir", d, "user", "remove", "Ben"), "'Ben'", "last admin", "--admin")
    err = cli.error("--data-dir", d, "user", "remove", "ben", "--json")
    assert "last admin" in err["error"]
    assert [u["name"] for u in cli.json("--data-dir", d, "user", "list", "--json")] == ["Ben"]
    failed(cli("--data-dir", d, "user", "set", "Ben", "--no-admin"), "last admin")     # nor demoted
    cli.json("--data-dir", d, "user", "add", "Dee", "--admin", "--json")
    assert cli.json("--data-dir", d, "user", "remove", "Ben", "--json")["removed"] == "Ben"


def test_the_owner_alone_is_the_last_admin_too(cli, data: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")             # owner, role "user"
    failed(cli("--data-dir", str(data), "user", "remove", "Ana"), "last admin")
    assert len(cli.json("--data-dir", str(data), "user", "list", "--json")) == 1


# ------------------------------------------------------------------------------------------- tokens

@pytest.mark.parametrize("token_id", ["99999999999999999999999", "9223372036854775808", "0"])
def test_revoking_an_impossible_token_id_is_a_clear_error(cli, data: Path, token_id: str) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    failed(cli("--data-dir", str(data), "token", "revoke", token_id), f"token {token_id}", "no such token")
    assert "no such token" in cli.error("--data-dir", str(data), "token", "revoke", token_id, "--json")["error"]


# -------------------------------------------------------------------------------------- bounded input

def _feed(args: list[str], total: int = 16 * INPUT_MAX_BYTES, chunk: bytes = b"x" * 65536):
    """Run `deskpi ARGS` with a generator of `total` bytes on its standard input; (process, bytes taken)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "deskpi", *args], stdin=subprocess.PIPE, stdout=out,
                                stderr=err, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        sent = 0
        try:
            while sent < total:                     # stops when deskpi stops reading (a broken pipe)
                proc.stdin.write(chunk)
                sent += len(chunk)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        proc.wait(120)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read().decode(), err.read().decode()), sent


def test_apply_from_standard_input_reads_at_most_the_cap(data: Path, tmp_path: Path) -> None:
    proc, sent = _feed(["--config", str(tmp_path / "deskpi.toml"), "--data-dir", str(data), "apply", "-"])
    failed(proc, CAP_TEXT, "desired-state file")
    assert sent < 8 * INPUT_MAX_BYTES, f"it read {sent} bytes: the cap was not kept"
    assert not data.exists()


def test_plan_file_from_standard_input_reads_at_most_the_cap(cli, data: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    proc, sent = _feed(["--data-dir", str(data), "plan", "set", "Ana", "--file", "-"])
    failed(proc, "--file '-'", CAP_TEXT, "plan file")
    assert sent < 8 * INPUT_MAX_BYTES


def test_files_over_the_cap_are_refused_naming_the_size_allowed(cli, data: Path, tmp_path: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * INPUT_MAX_BYTES + b"{}")                   # valid JSON, one byte per... too many
    failed(cli("--data-dir", str(data), "plan", "set", "Ana", "--file", str(big)), str(big), CAP_TEXT)
    toml = tmp_path / "big.toml"
    toml.write_bytes(b"# padding\n" * (INPUT_MAX_BYTES // 10 + 1))      # a valid TOML file of comments
    failed(cli("--config", str(tmp_path / "deskpi.toml"), "--data-dir", str(data), "apply", str(toml)),
           str(toml), CAP_TEXT)
    failed(cli("config", "validate", str(toml)), str(toml), CAP_TEXT)
    failed(cli("--config", str(toml), "--data-dir", str(data), "user", "add", "Ben"), str(toml), CAP_TEXT)
    just = tmp_path / "just.toml"
    just.write_bytes(b"# padding\n" * (INPUT_MAX_BYTES // 10))         # under the cap: fine
    assert cli("config", "validate", str(just)).returncode == 0


def test_dev_zero_is_refused_without_reading_it_all(cli, data: Path, tmp_path: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    failed(cli("--data-dir", str(data), "plan", "set", "Ana", "--file", "/dev/zero", timeout=60), CAP_TEXT)
    failed(cli("--config", str(tmp_path / "deskpi.toml"), "--data-dir", str(data), "apply", "/dev/zero",
               timeout=60), CAP_TEXT)


# ---------------------------------------------------------------------------------- a mistyped data dir

@pytest.mark.parametrize("cmd", [("user", "list"), ("user", "show", "Ana"), ("plan", "show", "Ana"),
                                 ("token", "list", "Ana"), ("stats",)])
def test_a_data_dir_without_a_database_is_an_error_naming_it(cli, tmp_path: Path, cmd) -> None:
    missing = tmp_path / "var-lib-deskpy"
    failed(cli("--data-dir", str(missing), *cmd), str(missing), "no deskpi database", "--data-dir")
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    failed(cli("--data-dir", str(empty), *cmd), str(empty), "no deskpi database")
    assert list(empty.iterdir()) == []
    err = cli.error("--data-dir", str(empty), *cmd, "--json")
    assert str(empty) in err["error"]


def test_a_desk_with_a_database_and_nobody_in_it_lists_nobody(cli, data: Path) -> None:
    Store.open(db_path(data)).close()
    assert cli.json("--data-dir", str(data), "user", "list", "--json") == []
    text = cli("--data-dir", str(data), "user", "list")
    assert text.returncode == 0 and "no users" in text.stdout


# ---------------------------------------------------------------------------------------- web.host

@pytest.mark.parametrize("value", ['127.0.0.1" evil', "a b", "desk\nhost", "'x y'", "a'b", '"', "", "10",
                                   "x-.lan", "desk_1", "fe80::1%a b", "http://desk"])
def test_config_set_web_host_refuses_anything_but_a_host(cli, tmp_path: Path, value: str) -> None:
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text("[web]\nport = 8080\n")
    before = cfg.read_bytes()
    err = cli.error("--config", str(cfg), "config", "set", "web.host", value, "--json")
    assert "[web] host" in err["error"] or "web.host" in err["error"], err
    assert cfg.read_bytes() == before


@pytest.mark.parametrize("value", ["0.0.0.0", "::", "::1", "192.168.1.20", "desk-042.office.example", "localhost",
                                   "fe80::1%eth0"])
def test_config_set_web_host_takes_names_and_addresses(cli, tmp_path: Path, value: str) -> None:
    cfg = tmp_path / "deskpi.toml"
    r = cli.json("--config", str(cfg), "config", "set", "web.host", value, "--json")
    assert r["to"] == value
    assert cli("config", "validate", str(cfg)).returncode == 0


def test_config_validate_and_the_daemon_refuse_the_same_host(cli, tmp_path: Path) -> None:
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text('[web]\nhost = "127.0.0.1 ; rm -rf"\n')
    p = cli("config", "validate", str(cfg))
    assert p.returncode == 1 and "[web] host" in p.stderr and ":2:" in p.stderr, p.stderr
    failed(cli("--config", str(cfg), "--data-dir", str(tmp_path / "d"), "run", timeout=60), "[web] host")


# ----------------------------------------------------------------------------------- lookalike names

def test_lookalike_names_are_refused_on_the_command_line(cli, data: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    failed(cli("--data-dir", str(data), "user", "add", "ＡＮＡ"), "already taken by 'Ana'")
    failed(cli("--data-dir", str(data), "user", "add", "An\u200ba"), "U+200B", "invisible")
    failed(cli("--data-dir", str(data), "user", "add", ".."), "'..'")
    failed(cli("--data-dir", str(data), "user", "add", "a/b"), "'/'")
    assert cli.json("--data-dir", str(data), "user", "add", "Ｂｅｎ", "--json")["name"] == "Ben"
    assert [u["name"] for u in cli.json("--data-dir", str(data), "user", "list", "--json")] == ["Ana", "Ben"]


def test_apply_refuses_lookalikes_listed_twice_and_invisible_names(cli, data: Path, tmp_path: Path) -> None:
    f = tmp_path / "desk.toml"
    f.write_text('[[users]]\nname = "Ana"\n\n[[users]]\nname = "ＡＮＡ"\n\n[[users]]\nname = "Ben\\u202e"\n')
    err = cli.error("--config", str(tmp_path / "deskpi.toml"), "--data-dir", str(data), "apply", str(f), "--json")
    messages = " | ".join(p["message"] for p in err["problems"])
    assert "listed twice" in messages and "U+202E" in messages, messages
    assert not data.exists()


# ------------------------------------------------------------------------ an empty or corrupt database

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_config(tmp_path: Path) -> Path:
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text(f'[daemon]\npin_factory = "mock"\nwatchdog = false\n\n[web]\nport = {_free_port()}\n')
    return cfg


@pytest.mark.parametrize("content", [b"", b"\x00garbage" * 4096], ids=["empty", "garbage"])
@pytest.mark.parametrize("how", ["sim", "run"])
def test_the_daemon_refuses_an_empty_or_corrupt_database_in_one_line(cli, tmp_path: Path, content: bytes,
                                                                   how: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = db_path(data)
    db.write_bytes(content)
    if how == "sim":
        proc = cli("sim", "--port", "0", "--data-dir", str(data), timeout=60)
    else:
        proc = cli("--data-dir", str(data), "run", "--config", str(_run_config(tmp_path)), timeout=60)
    err = failed(proc, str(db), "deskpi restore")
    assert len(err.strip().splitlines()) == 1, err
    assert "Raspberry Pi" not in err
    assert db.read_bytes() == content, "the file is left as it was, for a restore or a look"
    assert not (data / "motor-pins.json").exists(), "no pin was touched"


def test_a_missing_database_still_starts_a_new_desk(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "deskpi", "sim", "--port", "0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        line = proc.stdout.readline()
        assert "deskpi simulator running" in line, line + proc.stderr.read()
        assert db_path(data).stat().st_size > 0
    finally:
        proc.terminate()
        proc.wait(30)


def test_commands_on_a_corrupt_database_name_the_way_back(cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db_path(data).write_bytes(b"")
    failed(cli("--data-dir", str(data), "user", "list"), "0 bytes", "deskpi restore")
    json.loads(cli("--data-dir", str(data), "user", "list", "--json").stdout)
