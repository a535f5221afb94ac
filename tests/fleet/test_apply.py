"""`deskpi apply` / `deskpi export`: validate everything, then converge; a second apply changes nothing."""
from __future__ import annotations

import json
import multiprocessing
import shutil
from pathlib import Path

import pytest

from deskpi.config import load
from deskpi.people.passwords import hash_secret, verify_secret
from deskpi.store import Store, db_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DESK = ROOT / "ansible" / "desks" / "desk-001.toml"
HASH = hash_secret("4711")

DESK = f"""\
owner = "Ana"

[settings.desk]
max_mm = 1250.0

[[users]]
name = "Ana"
stature_cm = 168.0
admin = true
pin_hash = "{HASH}"

[users.plan]
kind = "cornell"

[users.presets]
"3" = 900.0

[[users]]
name = "Ben"
seated_mm = 720.0
standing_mm = 1100.0
units = "in"
"""


class Desk:
    def __init__(self, tmp_path: Path, cli) -> None:
        self.tmp, self.cli = tmp_path, cli
        self.config = tmp_path / "etc" / "deskpi.toml"
        self.data = tmp_path / "data"
        self.config.parent.mkdir()
        shutil.copy(ROOT / "deskpi.example.toml", self.config)

    def run(self, *argv: str) -> tuple[int, str, str]:
        p = self.cli.main("--config", str(self.config), "--data-dir", str(self.data), *argv)
        return p.returncode, p.stdout, p.stderr

    def apply(self, text: str, *extra: str) -> tuple[int, dict]:
        f = self.tmp / "desk.toml"
        f.write_text(text)
        rc, out, _ = self.run("apply", str(f), "--json", *extra)
        return rc, json.loads(out)

    def store(self) -> Store:
        return Store.open(db_path(self.data))


@pytest.fixture
def desk(tmp_path, cli) -> Desk:
    return Desk(tmp_path, cli)


def test_apply_converges_and_a_second_apply_changes_nothing(desk):
    rc, doc = desk.apply(DESK)
    assert rc == 0 and doc["changed"] is True and doc["restart_needed"] is True
    kinds = [(c["kind"], c["action"], c["target"]) for c in doc["changes"]]
    assert ("setting", "set", "desk.max_mm") in kinds and ("user", "add", "Ana") in kinds
    assert ("plan", "set", "Ana") in kinds and ("preset", "set", "Ana.3") in kinds
    assert HASH not in json.dumps(doc)                     # a hash is never printed
    with desk.store() as s:
        ana = s.get_user("Ana")
        assert ana.is_admin and verify_secret("4711", ana.pin_hash)
        assert ana.seated_mm is not None and ana.standing_mm is not None    # from stature
        assert s.get_plan("Ana").kind == "cornell" and s.get_presets("Ana")[3] == 900.0
        assert s.get_owner().name == "Ana" and s.get_active_user().name == "Ana"
        assert s.get_user("Ben").units == "in"
    assert load(desk.config).desk.max_mm == 1250.0
    assert "# Soft limits for the height" in desk.config.read_text()      # comments kept
    rc, doc = desk.apply(DESK)
    assert (rc, doc["changed"], doc["changes"]) == (0, False, [])


def test_dry_run_reports_drift_and_changes_nothing(desk):
    desk.apply(DESK)
    with desk.store() as s:
        s.update_user("Ben", seated_mm=700.0)
        s.set_preset("Ana", 4, 1000.0)
    config = desk.config.read_text()
    rc, doc = desk.apply(DESK, "--dry-run")
    assert rc == 0 and doc["changed"] is True and doc["dry_run"] is True
    assert {(c["kind"], c["target"]) for c in doc["changes"]} == {("user", "Ben.seated_mm"), ("preset", "Ana.4")}
    with desk.store() as s:
        assert s.get_user("Ben").seated_mm == 700.0 and s.get_presets("Ana")[4] == 1000.0
    assert desk.config.read_text() == config
    assert desk.apply(DESK)[1]["changed"] is True
    assert desk.apply(DESK, "--dry-run")[1]["changed"] is False


def test_dry_run_on_a_fresh_desk_creates_no_database(desk):
    rc, doc = desk.apply(DESK, "--dry-run")
    assert rc == 0 and doc["changed"] is True and not desk.data.exists()


def test_users_not_in_the_file_are_kept_unless_prune(desk):
    desk.apply(DESK)
    with desk.store() as s:
        s.add_user("Cleo")
    assert desk.apply(DESK)[1]["changed"] is False
    rc, doc = desk.apply(DESK, "--prune")
    assert doc["changes"] == [{"kind": "user", "action": "remove", "target": "Cleo", "from": None, "to": None}]
    with desk.store() as s:
        assert s.get_user("Cleo") is None


BAD = """\
owner = "Zed"
[settings.desk]
min_mm = 5
[[users]]
name = "Ana"
pin = "1234"
seated_mm = 1200
standing_mm = 1000
[users.plan]
sit_min = 0
[[users]]
name = "Ben"
pin_hash = "1234"
"""


def test_any_error_changes_nothing_and_every_problem_is_named(desk):
    desk.apply(DESK)
    config = desk.config.read_text()
    rc, doc = desk.apply(BAD)
    assert rc == 1
    msgs = [p["message"] for p in doc["problems"]]
    assert any("settings.desk.min_mm" in m and "5.0" in m and "300..1500" in m for m in msgs)
    assert any(m.startswith("users[1] (Ana).pin:") and "never go into this file" in m for m in msgs)
    assert any("seated_mm = 1200: must be below standing_mm = 1000" in m for m in msgs)
    assert any("plan.sit_min = 0" in m and "5-180" in m for m in msgs)
    assert any("pin_hash = <4 characters>" in m for m in msgs)           # the value is never echoed
    assert any(m.startswith("owner = 'Zed'") for m in msgs)
    assert {p["line"] for p in doc["problems"] if "plan.sit_min" in p["key"]} == {10}
    assert "desk.toml" in doc["error"] and "nothing was changed" in doc["error"]
    assert desk.config.read_text() == config
    with desk.store() as s:
        assert s.get_user("Ben").pin_hash is None


def test_a_store_refusal_mid_apply_rolls_back_every_change(desk):
    desk.apply(DESK)
    # Ben's new seated height is fine alone, but above his stored standing height: the store refuses
    # it after Ana's change was made in the same transaction.
    text = DESK.replace('kind = "cornell"', 'kind = "default"').replace("seated_mm = 720.0\nstanding_mm = 1100.0",
                                                                      "seated_mm = 1150.0")
    rc, doc = desk.apply(text.replace("max_mm = 1250.0", "max_mm = 1240.0"))
    assert rc == 1 and "seated_mm" in doc["error"]
    with desk.store() as s:
        assert s.get_plan("Ana").kind == "cornell" and s.get_user("Ben").seated_mm == 720.0
    assert load(desk.config).desk.max_mm == 1250.0


def test_pin_file_holds_the_pin_and_reapplying_keeps_the_hash(desk):
    (desk.tmp / "pins").mkdir()
    (desk.tmp / "pins" / "ana").write_text("24680\n")
    text = DESK.replace(f'pin_hash = "{HASH}"', 'pin_file = "pins/ana"')
    assert desk.apply(text)[1]["changed"] is True
    with desk.store() as s:
        first = s.get_user("Ana").pin_hash
    assert verify_secret("24680", first)
    assert desk.apply(text)[1]["changed"] is False
    with desk.store() as s:
        assert s.get_user("Ana").pin_hash == first


def test_export_apply_export_round_trips(desk, tmp_path, cli):
    desk.apply(DESK)
    rc, exported, _ = desk.run("export")
    assert rc == 0 and "pin_hash" in exported and "4711" not in exported.replace(HASH, "")
    (tmp_path / "fresh").mkdir()
    fresh = Desk(tmp_path / "fresh", cli)
    fresh.config.unlink()                                  # a desk with no config file at all
    f = tmp_path / "exported.toml"
    f.write_text(exported)
    assert fresh.run("apply", str(f))[0] == 0
    assert fresh.run("export")[1] == exported
    assert fresh.apply(exported)[1]["changed"] is False


def test_example_desk_file_applies(desk):
    rc, doc = desk.apply(EXAMPLE_DESK.read_text())
    assert rc == 0 and doc["changed"] is True
    assert desk.apply(EXAMPLE_DESK.read_text())[1]["changed"] is False


def _apply_in_child(cli, argv: list[str], q) -> None:
    p = cli.main(*argv)
    q.put((p.returncode, p.stdout))


def test_two_admins_applying_at_once_never_half_write(desk):
    """Two processes apply different files at once: each runs alone (the lock), and the result is one
    file's state completely, never a mix."""
    other = DESK.replace("max_mm = 1250.0", "max_mm = 1200.0").replace("720.0", "730.0")
    files = []
    for i, text in enumerate((DESK, other)):
        f = desk.tmp / f"d{i}.toml"
        f.write_text(text)
        files.append(f)
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_apply_in_child,
                         args=(desk.cli, ["--config", str(desk.config), "--data-dir", str(desk.data), "apply", str(f),
                                          "--json"], q)) for f in files]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert [rc for rc, _ in results] == [0, 0]
    max_mm = load(desk.config).desk.max_mm
    with desk.store() as s:
        seated = s.get_user("Ben").seated_mm
    assert (max_mm, seated) in {(1250.0, 720.0), (1200.0, 730.0)}


def test_hash_pin_reads_standard_input(cli):
    p = cli.main("hash-pin", input="4711\n")
    assert p.returncode == 0 and verify_secret("4711", p.stdout.strip())
    p = cli.main("hash-pin", input="12\n")
    assert p.returncode == 1 and "hash-pin: " in p.stderr and "PIN" in p.stderr


def test_a_users_only_file_needs_no_config_lock(desk, tmp_path):
    """Without settings the config file is not locked (nor created): a non-root admin with a data dir can apply."""
    users_only = "[[users]]\nname = \"Eve\"\n"
    desk.config = tmp_path / "readonly" / "deskpi.toml"        # a directory that does not exist
    rc, doc = desk.apply(users_only)
    assert rc == 0 and doc["changed"] is True and not desk.config.parent.exists()


def test_prune_without_a_users_list_is_refused(desk):
    desk.apply(DESK)
    rc, doc = desk.apply('[settings.desk]\nmax_mm = 1250.0\n', "--prune")
    assert rc == 1 and "users = []" in doc["error"]
    with desk.store() as s:
        assert len(s.list_users()) == 2


def test_a_pin_changed_by_apply_revokes_that_persons_api_tokens(desk):
    """Issue 11: a new PIN ends the person's web sessions and API tokens, whichever way it is set."""
    assert desk.apply(DESK)[0] == 0
    with desk.store() as s:
        ana, ben = s.create_token("Ana", "script")[1], s.create_token("Ben", "script")[1]
    assert desk.apply(DESK)[1]["changed"] is False
    with desk.store() as s:
        assert s.user_for_token(ana, touch=False) is not None, "an apply that changes no PIN keeps them"
    assert desk.apply(DESK.replace(HASH, hash_secret("97531357")))[1]["changed"] is True
    with desk.store() as s:
        assert s.user_for_token(ana, touch=False) is None and s.list_tokens("Ana") == []
        assert s.user_for_token(ben, touch=False).name == "Ben", "other people's tokens are kept"


def test_export_never_makes_the_folder_it_was_given(desk, tmp_path):
    # An export to a drive that is not mounted would land on the SD card, PIN hashes and all.
    target = tmp_path / "usb" / "desk.toml"
    rc, out, err = desk.run("export", "--output", str(target))
    assert rc == 1 and "does not exist" in err and "nothing was written" in err, (out, err)
    assert not (tmp_path / "usb").exists()
