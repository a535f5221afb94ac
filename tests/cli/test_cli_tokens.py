"""Issue 11 on the command line: a PIN set or cleared with `user set` revokes the person's API tokens
(and says so), and `token create` refuses a person's 21st live token, naming the cap and how to revoke."""
from __future__ import annotations

from pathlib import Path

import pytest

from deskpi.store import TOKENS_PER_USER, Store, db_path


@pytest.fixture
def data(tmp_path: Path, cli) -> Path:
    d = tmp_path / "data"
    assert cli.main("--data-dir", str(d), "user", "add", "Ana", "--pin-stdin", input="4711\n").returncode == 0
    return d


def _live(data: Path, tokens: list[str]) -> list[bool]:
    with Store.open(db_path(data)) as s:
        return [s.user_for_token(t, touch=False) is not None for t in tokens]


@pytest.mark.parametrize("flag", ["--pin-stdin", "--clear-pin"])
def test_user_set_with_a_new_or_no_pin_revokes_the_persons_tokens(cli, data: Path, flag: str) -> None:
    tokens = [cli.main("--data-dir", str(data), "token", "create", "Ana").stdout.strip() for _ in range(2)]
    assert _live(data, tokens) == [True, True]
    out = cli.json("--data-dir", str(data), "user", "set", "Ana", flag, "--json", input="97531357\n")
    assert _live(data, tokens) == [False, False]
    assert any("2 API tokens were revoked" in n for n in out["notes"]), out["notes"]
    listed = cli.json("--data-dir", str(data), "token", "list", "Ana", "--json")
    assert listed["tokens"] == []


def test_user_set_without_a_pin_keeps_the_tokens(cli, data: Path) -> None:
    token = cli.main("--data-dir", str(data), "token", "create", "Ana").stdout.strip()
    cli.json("--data-dir", str(data), "user", "set", "Ana", "--standing-mm", "1100", "--json")
    assert _live(data, [token]) == [True]


def test_the_21st_token_is_refused_naming_the_cap_and_how_to_revoke(cli, data: Path) -> None:
    with Store.open(db_path(data)) as s:
        for i in range(TOKENS_PER_USER - 1):
            s.create_token("Ana", f"t{i}")
    assert cli.main("--data-dir", str(data), "token", "create", "Ana").returncode == 0      # the 20th
    err = cli.error("--data-dir", str(data), "token", "create", "Ana", "--json")
    assert "20" in err["error"] and "deskpi token list Ana" in err["error"] and "token revoke ID" in err["error"]
    plain = cli.main("--data-dir", str(data), "token", "create", "ana")
    assert plain.returncode == 1 and plain.stdout == "" and "deskpi token list Ana" in plain.stderr


def test_the_help_says_what_a_pin_change_does_to_tokens(cli) -> None:
    for args in (("user", "set", "--help"), ("token", "--help"), ("token", "create", "--help"), ("apply", "--help")):
        out = " ".join(cli.main(*args).stdout.split())
        assert "revoke" in out and "API tokens" in out, (args, out)
    assert f"at most {TOKENS_PER_USER}" in " ".join(cli.main("token", "create", "--help").stdout.split())
