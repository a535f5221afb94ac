"""`deskpi token create NAME --role metrics` (issue 13's contract): a token that reads /metrics only, made
for no person; `--token-stdin` keeps a fleet's token (once, however often it is handed in); `token list
--role metrics` shows them without their secrets; `token revoke ID` removes one like any token."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deskpi.store import Store, db_path

FLEET = "dpm_" + "0123456789abcdef" * 4


@pytest.fixture
def data(tmp_path: Path, cli) -> Path:
    d = tmp_path / "data"
    assert cli.main("--data-dir", str(d), "user", "add", "Ana", "--pin-stdin", input="4711\n").returncode == 0
    return d


def _role(data: Path, token: str) -> str | None:
    with Store.open(db_path(data)) as s:
        return s.token_role(token, touch=False)


def _json(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_metrics_token_is_printed_alone_and_reads_as_role_metrics(cli, data: Path) -> None:
    out = cli.main("--data-dir", str(data), "token", "create", "prometheus", "--role", "metrics")
    token = out.stdout.strip()
    assert out.returncode == 0 and out.stdout == token + "\n" and token.startswith("dpm_")
    assert _role(data, token) == "metrics"
    # NAME is what scrapes with it: no person of that name is needed, nor made
    listed = _json(cli.main("--data-dir", str(data), "user", "list", "--json"))
    assert [u["name"] for u in listed] == ["Ana"]


def test_a_persons_token_still_acts_as_the_person(cli, data: Path) -> None:
    out = _json(cli.main("--data-dir", str(data), "token", "create", "Ana", "--json"))
    assert out["user"] == "Ana" and out["role"] == "user" and _role(data, out["token"]) == "user"
    err = cli.main("--data-dir", str(data), "token", "create", "Nobody")
    assert err.returncode == 1 and "no such user" in err.stderr


def test_the_fleets_token_handed_in_twice_is_kept_once(cli, data: Path) -> None:
    args = ("--data-dir", str(data), "token", "create", "prometheus", "--role", "metrics", "--token-stdin")
    first = _json(cli.main(*args, "--json", input=FLEET + "\n"))
    again = _json(cli.main(*args, "--json", input=FLEET))
    assert first["created"] is True and again["created"] is False and first["id"] == again["id"]
    assert "token" not in first, "a token handed in is not printed back"
    assert _role(data, FLEET) == "metrics"
    plain = cli.main(*args, input=FLEET)
    assert plain.returncode == 0 and FLEET not in plain.stdout and "unchanged" in plain.stdout


def test_a_bad_token_on_stdin_is_refused_without_repeating_it(cli, data: Path) -> None:
    bad = "dpm_tooshort"
    out = cli.main("--data-dir", str(data), "token", "create", "prometheus", "--role", "metrics",
                   "--token-stdin", "--json", input=bad)
    err = json.loads(out.stdout)
    assert out.returncode == 1 and "dpm_ followed by 32-100" in err["error"] and bad not in out.stdout + out.stderr


def test_token_stdin_is_for_metrics_tokens_only(cli, data: Path) -> None:
    out = cli.main("--data-dir", str(data), "token", "create", "Ana", "--token-stdin", input=FLEET)
    assert out.returncode == 1 and "--role metrics" in out.stderr and _role(data, FLEET) is None


def test_metrics_tokens_are_listed_without_secrets_and_revoked_by_id(cli, data: Path) -> None:
    token = cli.main("--data-dir", str(data), "token", "create", "prometheus", "--role", "metrics",
                     "--label", "rack 2").stdout.strip()
    listed = _json(cli.main("--data-dir", str(data), "token", "list", "--role", "metrics", "--json"))
    assert [(t["name"], t["label"]) for t in listed["tokens"]] == [("prometheus", "rack 2")]
    assert token not in json.dumps(listed)
    text = cli.main("--data-dir", str(data), "token", "list", "--role", "metrics").stdout
    assert "prometheus" in text and "rack 2" in text and "never used" in text
    assert _json(cli.main("--data-dir", str(data), "token", "list", "Ana", "--json"))["tokens"] == []
    missing = cli.main("--data-dir", str(data), "token", "list")
    assert missing.returncode == 2 and "NAME is missing" in missing.stderr          # a usage error
    assert cli.main("--data-dir", str(data), "token", "revoke", str(listed["tokens"][0]["id"])).returncode == 0
    assert _role(data, token) is None


def test_the_help_names_the_metrics_role(cli) -> None:
    out = " ".join(cli.main("token", "create", "--help").stdout.split())
    assert "--role {user,metrics}" in out and "--token-stdin" in out and "/metrics" in out
