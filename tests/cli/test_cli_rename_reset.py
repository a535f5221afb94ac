"""`deskpi user rename OLD NEW` and `deskpi user reset-pin NAME`: the admin page's rename and PIN reset
from the command line (one implementation: people.accounts.rename_person and reset_pin), run as
subprocesses on a data directory like facilities staff would.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from deskpi.people.passwords import verify_secret
from deskpi.store import Store, db_path


@pytest.fixture
def desk(cli, tmp_path: Path) -> str:
    """A desk with Ana (the owner) and Ben, who has a PIN, a session, an API token and a move."""
    d = str(tmp_path)
    cli.json("--data-dir", d, "user", "add", "Ana", "--json")
    cli.json("--data-dir", d, "user", "add", "Ben", "--pin-stdin", "--json", input="4711\n")
    with Store.open(db_path(tmp_path)) as store:
        store.create_session("Ben")
        store.create_token("Ben", "laptop")
        store.append_audit("web", "move", user="Ben")
        store.set_active_user("Ben")
    return d


def test_rename_gives_a_new_name_and_what_they_did_follows_it(cli, desk) -> None:
    r = cli.json("--data-dir", desk, "user", "rename", "ben", "Benedikt", "--json")
    assert r["name"] == "Benedikt" and r["renamed_from"] == "Ben" and r["has_pin"] and r["active"]
    assert not re.search(r"/api/|\bPOST\b|new_name", " ".join(r["notes"])), r["notes"]
    names = [u["name"] for u in cli.json("--data-dir", desk, "user", "list", "--json")]
    assert names == ["Ana", "Benedikt"]
    with Store.open(db_path(Path(desk))) as store:
        assert [e.action for e in store.list_audit(user="Benedikt")] == ["move"]     # still theirs
        assert store.get_active_user().name == "Benedikt"
        assert verify_secret("4711", store.get_user("Benedikt").pin_hash)            # the same PIN
        assert len(store.list_tokens("Benedikt")) == 1                               # nothing revoked
    text = cli("--data-dir", desk, "user", "rename", "Benedikt", "Ben")
    assert text.returncode == 0 and text.stdout.startswith("renamed 'Benedikt' to 'Ben'\n"), text


def test_rename_follows_the_name_rules_of_adding_a_person(cli, desk) -> None:
    taken = cli.error("--data-dir", desk, "user", "rename", "Ben", "ＡＮＡ", "--json")
    assert taken["error"].startswith("NEW = 'ＡＮＡ' (read as 'ANA'): already taken by 'Ana'"), taken
    assert "case-insensitive" in taken["error"]
    bad = cli("--data-dir", desk, "user", "rename", "Ben", "a/b")
    assert bad.returncode == 1 and "NEW = 'a/b'" in bad.stderr and "new_name" not in bad.stderr, bad.stderr
    unknown = cli.error("--data-dir", desk, "user", "rename", "Zed", "Zoe", "--json")
    assert "'Zed'" in unknown["error"] and "Ana, Ben" in unknown["error"]
    names = [u["name"] for u in cli.json("--data-dir", desk, "user", "list", "--json")]
    assert names == ["Ana", "Ben"]                                                   # nothing changed


def test_reset_pin_prints_a_drawn_pin_once_and_signs_them_out(cli, desk) -> None:
    r = cli.json("--data-dir", desk, "user", "reset-pin", "ben", "--json")
    assert r["name"] == "Ben" and re.fullmatch(r"\d{6}", r["pin"]), r
    assert any("1 API token" in n and "revoked" in n for n in r["notes"]), r["notes"]
    assert any("locked out" in n for n in r["notes"])
    with Store.open(db_path(Path(desk))) as store:
        ben = store.get_user("Ben")
        assert verify_secret(r["pin"], ben.pin_hash) and not verify_secret("4711", ben.pin_hash)
        assert store.list_tokens("Ben") == []
    text = cli("--data-dir", desk, "user", "reset-pin", "Ben")
    assert text.returncode == 0, text
    pin = re.fullmatch(r"new PIN for 'Ben': (\d{6})", text.stdout.splitlines()[0]).group(1)
    assert text.stdout.count(pin) == 1 and pin != r["pin"]                           # shown once, drawn afresh
    assert not re.search(r"/api/|\bPOST\b|\bDELETE\b", text.stdout)


def test_reset_pin_of_nobody_changes_nothing(cli, desk) -> None:
    err = cli.error("--data-dir", desk, "user", "reset-pin", "Zed", "--json")
    assert "'Zed'" in err["error"] and "no such user" in err["error"]


def test_the_cli_and_the_admin_page_share_one_implementation() -> None:
    from deskpi.cli import people as cli_people
    from deskpi.people import accounts
    from deskpi.webapp import api_people

    for fn in ("rename_person", "reset_pin"):
        assert getattr(cli_people, fn) is getattr(api_people, fn) is getattr(accounts, fn)
