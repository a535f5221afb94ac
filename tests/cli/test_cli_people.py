"""`deskpi ergonomics | user | stats | backup | restore`, run as subprocesses like facilities staff would.

The commands open the store in --data-dir directly (no daemon). Exit codes: 0 ok, 1 failure,
2 usage; with --json an error is {"error": ..., "exit_code": 1, "problems": [...]} on stdout.
"""
from __future__ import annotations

import argparse
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deskpi.cli.main import build_parser
from deskpi.people.passwords import verify_secret
from deskpi.store import Store, db_path

USER_KEYS = {"name", "role", "stature_cm", "seated_mm", "standing_mm", "units", "active", "owner", "has_pin"}


def failed(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 1, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    for w in words:
        assert w in proc.stderr, f"{w!r} not in stderr: {proc.stderr}"
    return proc.stderr


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


# ---------------------------------------------------------------------------------------- ergonomics

def test_ergonomics_json_for_175_cm(cli) -> None:
    r = cli.json("ergonomics", "--stature-cm", "175", "--shoe-mm", "25", "--json")
    assert (r["sit_mm"], r["stand_mm"]) == (657, 1092)           # docs/ERGONOMICS.md: ~657 seated, ~1092 standing
    assert r["sit_raw_mm"] == pytest.approx(656.8, abs=0.1) and r["stand_raw_mm"] == pytest.approx(1091.6, abs=0.1)
    assert r["clamped"] is False and isinstance(r["notes"], list) and r["notes"]
    assert r["limits"] == {"min_mm": 640.0, "max_mm": 1260.0, "source": "defaults"}
    neutral = cli.json("ergonomics", "--stature-cm", "175", "--json")   # neutral 35 mm shoes
    assert abs(neutral["sit_mm"] - 657) <= 5 and abs(neutral["stand_mm"] - 1092) <= 8
    male = cli.json("ergonomics", "--stature-cm", "175", "--sex", "male", "--json")
    assert (male["sit_mm"], male["stand_mm"]) == (657, 1092)


def test_ergonomics_clamps_to_the_desk_limits_from_the_config_and_says_what_to_do(cli, tmp_path: Path) -> None:
    short = cli.json("ergonomics", "--stature-cm", "150", "--json")
    assert short["clamped"] is True and short["sit_mm"] == 640 and short["sit_raw_mm"] < 640
    assert any("footrest" in n and "640" in n for n in short["notes"])
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text("[desk]\nmin_mm = 700\nmax_mm = 1000\n")
    r = cli.json("--config", str(cfg), "ergonomics", "--stature-cm", "175", "--json")
    assert r["limits"] == {"min_mm": 700.0, "max_mm": 1000.0, "source": str(cfg)}
    assert (r["sit_mm"], r["stand_mm"], r["clamped"]) == (700, 1000, True)
    assert any("maximum of 1000" in n for n in r["notes"])
    text = cli("--config", str(cfg), "ergonomics", "--stature-cm", "175")
    assert text.returncode == 0 and "700 mm" in text.stdout and "clamped" in text.stdout


@pytest.mark.parametrize("value", ["50", "300", "nan"])
def test_a_bad_stature_names_the_allowed_range(cli, value: str) -> None:
    failed(cli("ergonomics", "--stature-cm", value), "stature_cm", "100-250 cm")
    assert "100-250 cm" in cli.error("ergonomics", "--stature-cm", value, "--json")["error"]


def test_usage_errors_exit_2(cli) -> None:
    assert cli("ergonomics").returncode == 2                         # --stature-cm is required
    assert cli("ergonomics", "--stature-cm", "tall").returncode == 2
    assert cli("user", "add").returncode == 2


# ---------------------------------------------------------------------------------------------- users

@pytest.fixture()
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_user_add_with_a_pin_from_stdin_then_list(cli, data: Path) -> None:
    add = cli("--data-dir", str(data), "user", "add", "Ana", "--stature-cm", "175", "--pin-stdin", "--json",
              input="1234\n")
    added = cli.parse(add)
    assert added["name"] == "Ana" and added["has_pin"] is True
    assert added["owner"] is True and added["active"] is True            # the first user
    assert (added["seated_mm"], added["standing_mm"]) == (660, 1098)     # recommend(175), neutral shoes
    cli.json("--data-dir", str(data), "user", "add", "Bob", "--admin", "--json")
    listing = cli("--data-dir", str(data), "user", "list", "--json")
    users = cli.parse(listing)
    assert [u["name"] for u in users] == ["Ana", "Bob"]
    for u in users:
        assert u.keys() >= USER_KEYS and not any("hash" in k for k in u)
    ana, bob = users
    assert (ana["has_pin"], ana["active"], ana["owner"], ana["role"]) == (True, True, True, "user")
    assert (bob["has_pin"], bob["active"], bob["owner"], bob["role"]) == (False, False, False, "admin")
    text = cli("--data-dir", str(data), "user", "list")
    show = cli("--data-dir", str(data), "user", "show", "Ana", "--json")
    assert cli.parse(show)["presets"] == {"1": 660.0, "2": 1098.0, "3": None, "4": None}   # presets 1/2 = sit/stand
    with Store.open(db_path(data)) as store:
        stored = store.get_user("Ana").pin_hash
    assert stored.startswith("scrypt$") and verify_secret("1234", stored) and not verify_secret("1235", stored)
    for proc in (add, listing, text, show):
        assert "scrypt" not in proc.stdout + proc.stderr and stored.split("$")[-1] not in proc.stdout + proc.stderr
        assert "1234" not in proc.stdout


def test_bad_pins_are_refused_and_nothing_is_added(cli, data: Path) -> None:
    for piped in ("97\n", " 9753\n", "9753\n\n", "", "shorty\n"):
        proc = cli("--data-dir", str(data), "user", "add", "Ana", "--pin-stdin", input=piped)
        failed(proc, "--pin-stdin", "a PIN")
        if piped.strip():
            assert piped.strip() not in proc.stderr
    assert "no deskpi database" in cli.error("--data-dir", str(data), "user", "list", "--json")["error"]
    assert not db_path(data).exists()                  # a refused add does not even create the database


def test_duplicate_names_are_refused_case_insensitively(cli, data: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    failed(cli("--data-dir", str(data), "user", "add", "ana"), "'ana'", "already taken", "'Ana'")
    assert "already taken" in cli.error("--data-dir", str(data), "user", "add", "ANA", "--json")["error"]
    assert len(cli.json("--data-dir", str(data), "user", "list", "--json")) == 1


def test_unknown_users_exit_1_naming_the_known_ones(cli, data: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    for cmd in ("remove", "use", "show"):
        failed(cli("--data-dir", str(data), "user", cmd, "Zed"), "'Zed'", "no such user", "Ana")
        assert "no such user" in cli.error("--data-dir", str(data), "user", cmd, "Zed", "--json")["error"]
    failed(cli("--data-dir", str(data), "stats", "--user", "Zed"), "'Zed'", "no such user")


def test_use_set_and_remove(cli, data: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    cli.json("--data-dir", str(data), "user", "add", "Bob", "--stature-cm", "190", "--json")
    assert cli.json("--data-dir", str(data), "user", "use", "bob", "--json")["active"] is True
    s = cli.json("--data-dir", str(data), "user", "set", "Bob", "--standing-mm", "1150", "--units", "in",
                       "--admin", "--json")
    assert (s["standing_mm"], s["units"], s["role"], s["seated_mm"]) == (1150.0, "in", "admin", 716.0)
    s = cli.json("--data-dir", str(data), "user", "set", "Bob", "--stature-cm", "175", "--json")
    assert (s["seated_mm"], s["standing_mm"]) == (660.0, 1098.0)        # re-recommended from the new stature
    s = cli.json("--data-dir", str(data), "user", "set", "Bob", "--pin-stdin", "--json", input="hunter22\n")
    assert s["has_pin"] is True
    assert "standing_mm" in cli.error("--data-dir", str(data), "user", "set", "Bob", "--standing-mm",
                                               "500", "--json")["error"]        # not above seated: refused
    assert cli("--data-dir", str(data), "user", "set", "Bob").returncode == 2     # nothing to change
    r = cli.json("--data-dir", str(data), "user", "remove", "Bob", "--json")
    assert r["removed"] == "Bob" and r["was_active"] is True
    users = cli.json("--data-dir", str(data), "user", "list", "--json")
    assert [(u["name"], u["owner"], u["active"]) for u in users] == [("Ana", True, False)]


def test_data_dir_also_accepted_after_the_subcommand_and_a_missing_store_is_not_created(cli, data: Path) -> None:
    failed(cli("user", "list", "--data-dir", str(data)), "no deskpi database", str(data))
    failed(cli("user", "use", "Ana", "--data-dir", str(data)), "no deskpi database")
    assert not data.exists()


# ---------------------------------------------------------------------------------------------- stats

T_NOON = datetime(2024, 3, 6, 12, 0, tzinfo=UTC).timestamp()     # a Wednesday, ISO week 10
T8 = datetime(2024, 3, 6, 8, 0, tzinfo=UTC).timestamp()
ADDED = datetime(2024, 2, 14, 9, 0, tzinfo=UTC).timestamp()     # three weeks earlier: T_NOON is in week 4 of the plan


def _fill(cli, data: Path) -> None:
    """Ana (700/1100 mm) at the desk 08:00-10:30 UTC: sit 60, stand 30, sit 30, stand 30 minutes."""
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--seated-mm", "700", "--standing-mm", "1100",
             "--json")
    cli.json("--data-dir", str(data), "user", "add", "Bob", "--json")
    db = sqlite3.connect(db_path(data))
    try:
        with db:
            db.execute("UPDATE users SET created_at = ?", (ADDED,))     # as if they were added before the log
    finally:
        db.close()
    plan = [(0, 60, 700), (60, 90, 1100), (90, 120, 700), (120, 150, 1100)]
    samples = [(T8 + 60 * m, float(h), "sensor") for a, b, h in plan for m in range(a, b)]
    samples.append((T8 + 150 * 60, None, "sensor"))                   # the sensor went quiet: unknown from here
    with Store.open(db_path(data)) as store:
        assert store.log_heights(samples) > 4
        rid = store.record_reminder("Ana", "stand", T8 + 55 * 60)
        store.update_reminder(rid, "acknowledged", T8 + 56 * 60)
        store.record_reminder(None, "move", T8 + 100 * 60)


def test_stats_json_from_a_synthetic_height_log(cli, data: Path) -> None:
    _fill(cli, data)
    base = ("--data-dir", str(data), "stats", "--tz", "UTC", "--now", str(T_NOON), "--json")
    r = cli.json(*base, "--days", "2")
    assert {"users", "unassigned", "notes", "goals", "first_day", "last_day", "tz", "warnings"} <= r.keys()
    assert (r["first_day"], r["last_day"], r["tz"]) == ("2024-03-05", "2024-03-06", "UTC")
    assert set(r["users"]) == {"Ana", "Bob"} and r["active_user"] == "Ana"
    assert any("active" in n and "Ana" in n for n in r["notes"])          # the timeline limitation is stated
    assert any(n.startswith("Standing goal: from each person's plan") for n in r["notes"])
    days = r["users"]["Ana"]["days"]
    assert [d["date"] for d in days] == ["2024-03-05", "2024-03-06"]
    today = days[1]
    assert (today["sitting_min"], today["standing_min"], today["posture_changes"]) == (90.0, 60.0, 3)
    assert today["reminders"]["shown"] == 2 and today["reminders"]["acknowledged"] == 1
    assert today["standing_goal_min"] == 120.0 and today["goal_progress"] == 0.5
    assert today["unknown_min"] == pytest.approx(720 - 150, abs=0.1)      # the rest of the morning
    assert days[0]["sitting_min"] == days[0]["standing_min"] == 0
    weeks = r["users"]["Ana"]["weeks"]
    assert [w["week"] for w in weeks] == ["2024-W10"] and weeks[0]["standing_min"] == 60.0
    # the default plan's standard ramp: 100 min on Tuesday (week 3 of the plan), 120 on Wednesday (week 4)
    assert days[0]["standing_goal_min"] == 100.0 and weeks[0]["standing_goal_min"] == 220.0
    assert r["goals"]["Ana"] == {"standing_goal_min": 120.0, "source": "default", "since": "2024-02-14", "week": 4}
    assert r["users"]["Bob"]["days"][1]["standing_min"] == 0                # not active: no time (documented)

    with Store.open(db_path(data)) as store:
        store.set_plan("Ana", {"ramp": [[1, 60]]})                        # her own plan: 60 min a day
    one = cli.json(*base, "--user", "ana", "--days", "1")
    assert set(one["users"]) == {"Ana"} and len(one["users"]["Ana"]["days"]) == 1
    assert one["goals"]["Ana"] == {"standing_goal_min": 60.0, "source": "plan", "since": "2024-02-14", "week": 4}
    assert one["users"]["Ana"]["days"][0]["goal_progress"] == 1.0
    text = cli(*base[:-1])
    assert text.returncode == 0 and "Ana" in text.stdout and "2024-03-06" in text.stdout


def test_stats_bad_values_exit_1(cli, data: Path) -> None:
    _fill(cli, data)
    assert "1-400" in cli.error("--data-dir", str(data), "stats", "--days", "0", "--json")["error"]
    failed(cli("--data-dir", str(data), "stats", "--tz", "Mars/Olympus"), "--tz", "Mars/Olympus")


# ------------------------------------------------------------------------------------- backup, restore

def test_backup_and_restore_round_trip(cli, data: Path, tmp_path: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    backup = tmp_path / "b.db"
    b = cli.json("--data-dir", str(data), "backup", str(backup), "--json")
    assert b["backup"] == str(backup) and b["users"] == 1 and backup.stat().st_size == b["bytes"]
    failed(cli("--data-dir", str(data), "backup", str(backup)), "exists", "--force")
    cli.json("--data-dir", str(data), "user", "add", "Bob", "--json")
    r = cli.json("--data-dir", str(data), "restore", str(backup), "--json")
    assert r["users"] == 1 and r["previous"] and Path(r["previous"]).is_file()
    assert [u["name"] for u in cli.json("--data-dir", str(data), "user", "list", "--json")] == ["Ana"]
    into_dir = cli.json("--data-dir", str(data), "backup", str(tmp_path), "--json")
    assert Path(into_dir["backup"]).parent == tmp_path and Path(into_dir["backup"]).name.startswith("deskpi-")


def test_restore_of_a_non_deskpi_file_exits_1_and_changes_nothing(cli, data: Path, tmp_path: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    before = files(data)
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    failed(cli("--data-dir", str(data), "restore", str(junk)), "not a SQLite database")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()
    assert "not a deskpi database" in cli.error("--data-dir", str(data), "restore", str(other), "--json")["error"]
    failed(cli("--data-dir", str(data), "restore", str(tmp_path / "missing.db")), "missing.db")
    assert files(data) == before


def test_restore_is_refused_while_the_store_is_open(cli, data: Path, tmp_path: Path) -> None:
    cli.json("--data-dir", str(data), "user", "add", "Ana", "--json")
    backup = tmp_path / "b.db"
    cli.json("--data-dir", str(data), "backup", str(backup), "--json")
    with Store.open(db_path(data)):                  # stands in for the running daemon
        before = files(data)
        failed(cli("--data-dir", str(data), "restore", str(backup)), "stop it first")
        assert "stop it first" in cli.error("--data-dir", str(data), "restore", str(backup), "--json")["error"]
        assert files(data) == before
        # ... while reading and backing up work alongside it (WAL)
        assert len(cli.json("--data-dir", str(data), "user", "list", "--json")) == 1
        cli.json("--data-dir", str(data), "backup", str(tmp_path / "live.db"), "--json")


# ---------------------------------------------------------------------------------------------- help

def _leaf_parsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield prefix + (name,), sub, helps.get(name)
                yield from _leaf_parsers(sub, prefix + (name,))


def test_every_people_command_has_help_and_an_example() -> None:
    parser = build_parser()
    found = {path: (sub, h) for path, sub, h in _leaf_parsers(parser)}
    wanted = [("ergonomics",), ("user",), ("user", "add"), ("user", "list"), ("user", "show"), ("user", "set"),
              ("user", "remove"), ("user", "use"), ("stats",), ("backup",), ("restore",)]
    for path in wanted:
        assert path in found, f"`deskpi {' '.join(path)}` is missing"
        sub, h = found[path]
        assert h, f"`deskpi {' '.join(path)}` has no help text"
        assert "Example" in (sub.description or ""), f"`deskpi {' '.join(path)}` has no example"
