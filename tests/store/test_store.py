"""The SQLite store: validation, migrations, the height-log policy, retention, audit, backup/restore, threads."""
from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from deskpi.store import migrations as mig
from deskpi.store.migrations import LATEST_VERSION, Migration, MigrationError, SchemaTooNewError, current_version, migrate
from deskpi.store import (
    HEARTBEAT_S,
    HeightSample,
    Store,
    StoreBusyError,
    StoreError,
    UnknownUserError,
    db_path,
    posture_edges_for,
    should_log_height,
)

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC
HASH = "scrypt$16384$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA=="


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "data" / "deskpi.db")
    yield s
    s.close()


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


# ------------------------------------------------------------------------------------- opening

def test_open_creates_the_directory_and_sets_the_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "deskpi.db"
    with Store.open(path) as s:
        conn = s.db.conn
        assert path.exists()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2          # INCREMENTAL
        assert s.schema_version == LATEST_VERSION
        assert s.integrity_check() == "ok"
        assert set(s.db.table_names()) >= {"schema_version", "users", "presets", "settings", "plans",
                                           "reminders", "height_log", "audit"}
    assert db_path(tmp_path / "x") == tmp_path / "x" / "deskpi.db"


def test_a_closed_store_says_so(store: Store) -> None:
    store.close()
    store.close()                                                            # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.list_users()


def test_opening_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "deskpi.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot be opened as a deskpi database"):
        Store.open(bad)
    assert bad.read_bytes() == b"this is not sqlite" * 100


def test_another_applications_database_is_left_alone(tmp_path: Path) -> None:
    other = tmp_path / "deskpi.db"
    Database(other)["photos"].insert({"id": 1, "title": "cat"})
    before = other.read_bytes()
    with pytest.raises(StoreError, match=r"holds tables \(photos\) but no schema_version: not a deskpi database"):
        Store.open(other)
    assert other.read_bytes() == before and "schema_version" not in Database(other).table_names()


# ------------------------------------------------------------------------------------- validation

BAD_USER_INPUT = [
    ({"name": ""}, "name = ''"),
    ({"name": "   "}, "name = '   '"),
    ({"name": "x" * 41}, "1-40 characters"),
    ({"name": "bob\n"}, None),                       # trailing newline is trimmed: valid (checked below)
    ({"name": "bo\x07b"}, "without control characters"),
    ({"name": "tab\there"}, "without control characters"),
    ({"name": 42}, "name = 42"),
    ({"name": None}, "name = None"),
    ({"stature_cm": 99}, "stature_cm = 99: must be a number of cm within 100-250"),
    ({"stature_cm": 251}, "stature_cm = 251"),
    ({"stature_cm": "175"}, "stature_cm = '175'"),
    ({"stature_cm": float("nan")}, "stature_cm = nan"),
    ({"stature_cm": True}, "stature_cm = True"),
    ({"shoe_mm": -1}, "shoe_mm = -1: must be a number of mm within 0-100"),
    ({"seated_mm": 299}, "seated_mm = 299: must be a number of mm within 300-2000"),
    ({"standing_mm": 2001}, "standing_mm = 2001"),
    ({"standing_mm": float("inf")}, "standing_mm = inf"),
    ({"seated_mm": 1100, "standing_mm": 700}, "standing_mm = 700: must be above seated_mm = 1100"),
    ({"units": "mm"}, "units = 'mm': must be one of 'cm', 'in'"),
    ({"role": "root"}, "role = 'root': must be one of 'user', 'admin'"),
    ({"pin_hash": "1234"}, "pin_hash = <4 characters>"),
    ({"pin_hash": "12345678901234567890"}, "not a bare PIN"),
    ({"pin_hash": 1234}, "pin_hash = 1234"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_USER_INPUT)
def test_bad_user_fields_are_refused_and_nothing_is_written(store: Store, fields: dict, message: str | None) -> None:
    args = {"name": "Ann", **fields}
    if message is None:
        assert store.add_user(**args).name == "bob"
        return
    with pytest.raises(StoreError) as e:
        store.add_user(**args)
    assert message in str(e.value)
    assert store.list_users() == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"stature_cm": 300}, "stature_cm = 300"),
    ({"seated_mm": 250}, "seated_mm = 250"),
    ({"standing_mm": 650}, "standing_mm = 650: must be above seated_mm = 700"),
    ({"height": 1}, "height = 1: not a user field; the fields are stature_cm, shoe_mm"),
    ({"name": "Bob"}, "rename with rename_user"),
    ({"units": "furlongs"}, "units = 'furlongs'"),
])
def test_bad_updates_name_the_field_and_change_nothing(store: Store, fields: dict, message: str) -> None:
    before = store.add_user("Ann", stature_cm=170, seated_mm=700, standing_mm=1080)
    with pytest.raises(StoreError, match=message):
        store.update_user("Ann", **fields)
    assert store.get_user("Ann") == before


@pytest.mark.parametrize(("slot", "height", "message"), [
    (0, 700, "slot = 0: must be a preset slot 1-4"),
    (5, 700, "slot = 5"),
    (True, 700, "slot = True"),
    ("1", 700, "slot = '1'"),
    (1, 299.9, "height_mm = 299.9: must be a number of mm within 300-2000"),
    (2, 2000.5, "height_mm = 2000.5"),
    (3, None, "height_mm = None"),
])
def test_bad_presets_are_refused(store: Store, slot, height, message: str) -> None:
    store.add_user("Ann")
    with pytest.raises(StoreError, match=message):
        store.set_preset("Ann", slot, height)
    assert store.get_presets("Ann") == {1: None, 2: None, 3: None, 4: None}


def test_store_errors_are_value_errors() -> None:
    assert issubclass(StoreError, ValueError)
    assert issubclass(UnknownUserError, StoreError) and issubclass(UnknownUserError, LookupError)


# ------------------------------------------------------------------------------------------ users

def test_users_add_get_list_rename_update_remove(store: Store) -> None:
    ann = store.add_user("  Ann  ", stature_cm=168, shoe_mm=35, seated_mm=640, standing_mm=1054, units="in",
                         role="admin", pin_hash=HASH, now=T0)
    assert ann.name == "Ann" and ann.units == "in" and ann.is_admin and ann.created_at == T0
    assert HASH not in repr(ann)                                     # the hash stays out of logs
    assert store.get_user("ANN") == ann                              # case-insensitive
    assert store.get_user("nobody") is None
    store.add_user("Émile")
    with pytest.raises(StoreError, match="already taken by 'Émile'"):
        store.add_user("éMILE")                                      # beyond ASCII too
    with pytest.raises(StoreError, match="already taken by 'Ann'"):
        store.add_user("ann")
    assert [u.name for u in store.list_users()] == ["Ann", "Émile"]

    assert store.rename_user("ann", "ANNE").name == "ANNE"
    assert store.rename_user("anne", "Anne").name == "Anne"          # a change of case only
    with pytest.raises(StoreError, match="new_name = 'émile': already taken"):
        store.rename_user("Anne", "émile")
    with pytest.raises(StoreError, match="new_name = ''"):
        store.rename_user("Anne", "")
    with pytest.raises(UnknownUserError, match=r"user = 'Zed': no such user \(users: Anne, Émile\)"):
        store.rename_user("Zed", "Zoe")

    updated = store.update_user("Anne", stature_cm=169.04, pin_hash=None, role="user")
    assert updated.stature_cm == 169.0 and updated.pin_hash is None and not updated.is_admin
    assert updated.id == ann.id and updated.created_at == T0

    store.remove_user("anne")
    assert store.get_user("Anne") is None
    with pytest.raises(UnknownUserError):
        store.remove_user("Anne")


def test_presets_default_to_sit_and_stand(store: Store) -> None:
    store.add_user("Ann", seated_mm=640, standing_mm=1054)
    assert store.get_presets("Ann") == {1: 640.0, 2: 1054.0, 3: None, 4: None}
    assert store.set_preset("Ann", 3, 900.04) == 900.0
    store.set_preset("Ann", 1, 655)
    store.set_preset("Ann", 1, 660)                                 # saving again replaces
    assert store.get_presets("ann") == {1: 660.0, 2: 1054.0, 3: 900.0, 4: None}
    store.update_user("Ann", standing_mm=1070)
    assert store.get_preset("Ann", 2) == 1070.0                      # unsaved slot 2 follows the standing height
    store.clear_preset("Ann", 1)
    assert store.get_preset("Ann", 1) == 640.0
    with pytest.raises(UnknownUserError):
        store.set_preset("Bob", 1, 700)


def test_active_user_and_owner(store: Store) -> None:
    assert store.get_active_user() is None and store.get_owner() is None
    store.add_user("Ann")
    store.add_user("Bob")
    assert store.set_active_user("bob").name == "Bob"
    store.set_owner("Ann")
    assert store.get_active_user().name == "Bob" and store.get_owner().name == "Ann"
    store.rename_user("Bob", "Robert")                               # settings hold ids: a rename keeps them
    assert store.get_active_user().name == "Robert"
    with pytest.raises(UnknownUserError, match="active_user = 'Zed'"):
        store.set_active_user("Zed")
    assert store.get_active_user().name == "Robert"
    store.remove_user("Robert")
    assert store.get_active_user() is None and store.get_owner().name == "Ann"
    assert store.set_owner(None) is None and store.get_owner() is None
    store.set_setting("ui.theme", "dark")
    assert store.get_setting("ui.theme") == "dark"
    store.set_setting("ui.theme", None)
    assert store.get_setting("ui.theme", "light") == "light"
    with pytest.raises(StoreError, match="key = 'active_user_id'"):
        store.set_setting("active_user_id", "1")


def test_plans(store: Store) -> None:
    store.add_user("Ann")
    assert store.get_plan("Ann") is None
    plan = store.set_plan("Ann", {"sit_min": 20, "stand_min": 8, "move_min": 2}, kind="cornell", now=T0)
    assert store.get_plan("ann") == plan and plan.kind == "cornell" and plan.doc["stand_min"] == 8
    store.set_plan("Ann", {"blocks": [{"sit": 30}, {"stand": 15}]}, now=T0 + 5)
    assert store.get_plan("Ann").kind == "custom" and store.get_plan("Ann").updated_at == T0 + 5
    for doc, kind, message in [({"a": 1}, "weekly", "kind = 'weekly'"), ([1, 2], "custom", "doc = \\[1, 2\\]"),
                               ({"x": float("nan")}, "custom", "doc: must be a JSON object"),
                               ({"x": object()}, "custom", "doc: must be a JSON object"),
                               ({"x": "y" * 70000}, "custom", "bytes of JSON")]:
        with pytest.raises(StoreError, match=message):
            store.set_plan("Ann", doc, kind=kind)
    assert store.get_plan("Ann").doc == {"blocks": [{"sit": 30}, {"stand": 15}]}


def test_removing_a_user_removes_their_data_but_not_the_audit_trail(store: Store) -> None:
    store.add_user("Ann", seated_mm=700, standing_mm=1100)
    store.add_user("Bob")
    store.set_preset("Ann", 3, 800)
    store.set_plan("Ann", {"k": 1})
    store.record_reminder("Ann", "stand", T0)
    store.record_reminder("Bob", "sit", T0)
    store.append_audit("web", "recall", user="Ann", t=T0)
    store.remove_user("Ann")
    conn = store.db.conn
    assert conn.execute("SELECT COUNT(*) FROM presets").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0] == 0
    assert [r.user for r in store.list_reminders()] == ["Bob"]
    assert [a.user for a in store.list_audit()] == ["Ann"]


# -------------------------------------------------------------------------------------- reminders

def test_reminders_record_update_and_list(store: Store) -> None:
    store.add_user("Ann")
    a = store.record_reminder("Ann", "stand", T0)
    b = store.record_reminder("ann", "stretch", T0 + 1800, stretch_id="neck-roll")
    c = store.record_reminder(None, "move", T0 + 3600)
    r = store.update_reminder(a, "snoozed", T0 + 10)
    assert (r.outcome, r.outcome_at, r.user) == ("snoozed", T0 + 10, "Ann")
    assert store.update_reminder(a, "acknowledged", T0 + 310).outcome == "acknowledged"
    assert store.get_reminder(b).stretch_id == "neck-roll" and store.get_reminder(b).outcome is None
    assert [x.id for x in store.list_reminders()] == [a, b, c]
    assert [x.id for x in store.list_reminders(user="Ann")] == [a, b]
    assert [x.id for x in store.list_reminders(since=T0 + 1, until=T0 + 3600)] == [b]
    assert [x.id for x in store.list_reminders(limit=1)] == [a]
    for call, message in [(lambda: store.record_reminder("Ann", "nap", T0), "kind = 'nap': must be one of 'stand'"),
                          (lambda: store.record_reminder("Ann", "sit", -1), "shown_at = -1"),
                          (lambda: store.record_reminder("Zed", "sit", T0), "user = 'Zed': no such user"),
                          (lambda: store.update_reminder(a, "ignored", T0), "outcome = 'ignored'"),
                          (lambda: store.update_reminder(b, "skipped", T0), "outcome_at = .*no earlier than shown_at"),
                          (lambda: store.update_reminder(999, "skipped", T0), "reminder_id = 999: no such reminder")]:
        with pytest.raises(StoreError, match=message):
            call()
    assert len(store.list_reminders()) == 3


# ------------------------------------------------------------------------------------- migrations

def test_migrations_are_numbered_in_order_and_idempotent(tmp_path: Path) -> None:
    assert [m.version for m in mig.MIGRATIONS] == list(range(1, LATEST_VERSION + 1)) and LATEST_VERSION >= 2
    db = Database(tmp_path / "m.db")
    assert current_version(db) == 0
    assert migrate(db) == list(range(1, LATEST_VERSION + 1))
    schema = db.schema
    assert migrate(db) == []
    assert db.schema == schema
    rows = db.execute("SELECT version, description FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == [m.version for m in mig.MIGRATIONS] and all(r[1] for r in rows)
    with Store.open(tmp_path / "m.db") as s:                         # opening again applies nothing
        assert s.schema_version == LATEST_VERSION


def test_an_older_database_is_upgraded_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    db = Database(path)
    assert migrate(db, target=1) == [1]
    assert "remote" not in db["audit"].columns_dict
    db.execute("INSERT INTO users (id, name, name_key, stature_cm, seated_mm, standing_mm, units, role, created_at) "
               "VALUES (1, 'Ann', 'ann', 168, 640, 1054, 'cm', 'admin', ?)", [T0])
    db.execute("INSERT INTO presets (user_id, slot, height_mm) VALUES (1, 3, 880)")
    db.execute("INSERT INTO settings (key, value) VALUES ('active_user_id', '1')")
    db.execute("INSERT INTO audit (t, source, user, action, detail) VALUES (?, 'button', 'Ann', 'recall', '{\"slot\": 3}')",
               [T0])
    db.execute("INSERT INTO height_log (t, height_mm, source) VALUES (?, 640, 'sensor')", [T0])
    db.close()

    with Store.open(path) as s:
        assert s.schema_version == LATEST_VERSION
        assert s.get_user("ann").stature_cm == 168 and s.get_active_user().name == "Ann"
        assert s.get_presets("Ann") == {1: 640.0, 2: 1054.0, 3: 880.0, 4: None}
        [old] = s.list_audit()
        assert (old.user, old.detail, old.remote) == ("Ann", {"slot": 3}, None)
        s.append_audit("web", "move", user="Ann", remote="192.168.1.20", t=T0 + 1)
        assert s.list_audit(limit=1)[0].remote == "192.168.1.20"
        assert s.last_logged_height == (T0, 640.0)
        assert s.posture_edges_mm == posture_edges_for(640, 1054)
        assert "idx_audit_t" in {i.name for i in s.db["audit"].indexes}


def test_a_database_newer_than_the_code_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    Store.open(path).close()
    db = Database(path)
    db.execute("INSERT INTO schema_version (version, description, applied_at) VALUES (99, 'from the future', 0)")
    db.close()
    with pytest.raises(SchemaTooNewError) as e:
        Store.open(path)
    assert "schema version 99" in str(e.value) and f"up to {LATEST_VERSION}" in str(e.value)
    assert str(path) in str(e.value)


def test_a_failing_migration_is_rolled_back_entirely(tmp_path: Path) -> None:
    def broken(db: Database) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("disk on fire")

    db = Database(tmp_path / "m.db")
    migrate(db, target=1)
    with pytest.raises(MigrationError, match=r"migration v2 \(broken\) failed and was rolled back; "
                                             r"the database stays at version 1: disk on fire"):
        migrate(db, migrations=[mig.MIGRATIONS[0], Migration(2, "broken", broken)])
    assert current_version(db) == 1 and "half_done" not in db.table_names()
    assert migrate(db) == list(range(2, LATEST_VERSION + 1))
    with pytest.raises(MigrationError, match="must be 1, 2, 3"):
        migrate(db, migrations=[mig.MIGRATIONS[1]])


# ------------------------------------------------------------------------------------- height log

@pytest.mark.parametrize(("last", "t", "h", "expected", "why"), [
    (None, T0, 700, True, "first sample"),
    ((T0, 700), T0 + 5, 704, False, "4 mm is noise"),
    ((T0, 700), T0 + 5, 705, True, "5 mm is a change"),
    ((T0, 700), T0 + 5, 695, True, "down too"),
    ((T0, 848), T0 + 5, 852, True, "4 mm, but from sitting into the between band (850)"),
    ((T0, 951), T0 + 5, 948, True, "from standing into the between band (950)"),
    ((T0, 898), T0 + 5, 902, False, "4 mm within the between band"),
    ((T0, 700), T0 + 5, None, True, "the height became unknown"),
    ((T0, None), T0 + 5, 700, True, "and known again"),
    ((T0, None), T0 + 5000, None, False, "unknown holds: no heartbeat"),
    ((T0, 700), T0 + 0.5, None, False, "unknown, but held back a second like any change"),
    ((T0, 700), T0 + 0.5, 740, False, "moving: at most one change row a second"),
    ((T0, 700), T0 + 1.0, 740, True, "a second later"),
    ((T0, 700), T0 + HEARTBEAT_S - 1, 702, False, "unchanged, before the heartbeat"),
    ((T0, 700), T0 + HEARTBEAT_S, 702, True, "heartbeat"),
    ((T0, 700), T0 - 3600, 700, True, "the clock stepped back: re-anchor"),
])
def test_height_log_policy(last, t, h, expected, why) -> None:
    assert should_log_height(last, t, h, edges_mm=(850, 950)) is expected, why


def test_log_height_writes_changes_and_heartbeats_only(store: Store) -> None:
    assert store.posture_edges_mm == (850, 950)
    written = [store.log_height(T0 + i, 700 + (i % 3), "sensor") for i in range(1200)]   # 20 min at rest, noisy
    assert sum(written) == 2 and written[0] and written[600]            # first row + one heartbeat
    assert store.log_height(T0 + 1200, 760.4)                           # a change
    assert not store.log_height(T0 + 1200.5, 790)                       # held back (moving)
    assert store.log_height(T0 + 1201, 820)
    rows = store.heights_between(T0, T0 + 2000)
    assert rows == [HeightSample(T0, 700.0, "sensor"), HeightSample(T0 + 600, 700.0, "sensor"),
                    HeightSample(T0 + 1200, 760.0, "sensor"), HeightSample(T0 + 1201, 820.0, "sensor")]
    assert store.heights_between(T0 + 1, T0 + 1200) == [rows[1]]
    assert store.heights_between(T0 + 1, T0 + 1200, include_previous=True) == rows[:2]


def test_a_held_back_change_is_written_on_flush_and_close(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    with Store.open(path) as s:
        s.log_height(T0, 700)
        assert not s.log_height(T0 + 0.3, 720)              # the desk stopped right there; nothing follows
        assert not s.log_height(T0 + 0.4, 721)              # (still pending; 721 replaces 720)
    with Store.open(path) as s:
        assert [r.height_mm for r in s.heights_between(0, T0 + 10)] == [700, 721]
        assert not s.flush_heights()
        s.log_height(T0 + 1, 721)
        assert not s.log_height(T0 + 1.2, 730)              # pending...
        assert not s.log_height(T0 + 1.4, 722)              # ...but the desk came back: nothing to flush
        assert not s.flush_heights()


def test_the_last_logged_height_is_recovered_at_open(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    with Store.open(path) as s:
        assert s.last_logged_height is None
        assert s.log_height(T0, 1100)
    with Store.open(path) as s:
        assert s.last_logged_height == (T0, 1100.0)
        assert not s.log_height(T0 + 60, 1102)              # same height as before the restart: no row
        assert s.log_height(T0 + HEARTBEAT_S, 1102)


def test_posture_edges_follow_the_active_user(store: Store) -> None:
    assert posture_edges_for(700, 1100) == (860, 940)                   # midpoint 900 +- 10 % of the 400 mm gap
    assert posture_edges_for(700, None) == posture_edges_for(700, 1000)  # standing unknown: seated + 300 mm
    assert posture_edges_for(None, None) == (850, 950)
    assert posture_edges_for(800, 850) == (815, 835)                     # at least +- 10 mm
    store.add_user("Ann", seated_mm=700, standing_mm=1100)
    assert store.posture_edges_mm == (850, 950)
    store.set_active_user("Ann")
    assert store.posture_edges_mm == (860, 940)
    store.update_user("Ann", seated_mm=640, standing_mm=1060)
    assert store.posture_edges_mm == (808, 892)
    store.log_height(T0, 806)
    assert store.log_height(T0 + 5, 809)                    # 3 mm, but across Ann's edge
    store.posture_edges_mm = [1000, 900]                    # explicit beats derived
    assert store.posture_edges_mm == (900, 1000)
    store.posture_edges_mm = None
    store.remove_user("Ann")
    assert store.posture_edges_mm == (850, 950)
    for bad in (5, [5], [], [900] * 5, ["900"], [True]):
        with pytest.raises(StoreError, match="posture_edges_mm = "):
            store.posture_edges_mm = bad


def test_unknown_heights_are_logged_as_transitions(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    with Store.open(path) as s:
        assert s.log_height(T0, 700)
        assert s.log_height(T0 + 10, None)                  # the sensor went stale
        assert not s.log_height(T0 + 11, None)
        assert not s.log_height(T0 + 10 + 2 * HEARTBEAT_S, None)
    with Store.open(path) as s:
        assert s.last_logged_height == (T0 + 10, None)      # recovered as unknown
        assert s.log_height(T0 + 5000, 701)
        assert [r.height_mm for r in s.heights_between(0, T0 + 6000)] == [700, None, 701]


def test_bulk_logging_applies_the_same_policy_and_validates_everything_first(tmp_path: Path) -> None:
    rng = random.Random(4)
    samples, h, t = [], 700.0, T0
    for _ in range(3000):
        t += rng.choice([0.07, 0.5, 2, 30, 200])
        h = min(1250.0, max(620.0, h + rng.choice([0, 0, 0, 1, -1, 3, 40, -40])))
        samples.append((t, h, "sensor"))
    with Store.open(tmp_path / "one.db") as a, Store.open(tmp_path / "bulk.db") as b:
        single = sum(a.log_height(*s) for s in samples)
        assert b.log_heights(samples[:1000]) + b.log_heights(samples[1000:]) == single
        assert a.heights_between(0, t + 1) == b.heights_between(0, t + 1)
        with pytest.raises(StoreError, match="height_mm = -3"):
            b.log_heights([(t + 1, 700, "sensor"), (t + 2, -3, "sensor")])
        with pytest.raises(StoreError, match="source = 'Sensor!'"):
            b.log_height(t + 3, 700, "Sensor!")
        with pytest.raises(StoreError, match="t = nan"):
            b.log_height(float("nan"), 700)
        assert b.heights_between(0, t + 10) == a.heights_between(0, t + 1)
        assert b.last_logged_height == a.last_logged_height


def test_purge_deletes_rows_older_than_the_retention(store: Store) -> None:
    day = 86400.0
    store.add_user("Ann")
    for d in range(0, 500, 10):
        store.log_height(T0 + d * day, 700 + (d % 20) * 10)
        store.append_audit("cli", "move", t=T0 + d * day)
        store.record_reminder("Ann", "stand", T0 + d * day)
    now = T0 + 500 * day
    counts = store.purge(now)                               # default 400 days
    assert counts == {"height_log": 10, "reminders": 10, "audit": 10}
    assert min(r.t for r in store.heights_between(0, now)) == T0 + 100 * day
    assert len(store.list_audit(limit=1000)) == 40 and len(store.list_reminders()) == 40
    assert store.purge(now) == {"height_log": 0, "reminders": 0, "audit": 0}
    assert store.purge(now, retention_days=30)["height_log"] == 37
    with pytest.raises(StoreError, match="retention_days = 0"):
        store.purge(now, retention_days=0)
    assert store.integrity_check() == "ok"


def test_a_year_of_use_fits_in_a_few_megabytes(tmp_path: Path) -> None:
    """250 working days x ~30 moves sampled at 15 Hz, the desk at rest between them, the daemon running 24/7."""
    rng = random.Random(2024)
    start = 1_704_067_200.0                                 # 2024-01-01 00:00 UTC, a Monday
    sit, stand = 690.0, 1090.0

    def rest(t0: float, t1: float, h: float):               # estimator output at rest: one a minute will do
        t = t0
        while t < t1:
            yield (t, h + rng.gauss(0, 1.0), "sensor")
            t += 60.0

    def move(t: float, a: float, b: float):                 # 35 mm/s, 15 Hz
        n = max(1, int(abs(b - a) / 35.0 * 15))
        for i in range(1, n + 1):
            yield (t + i / 15, a + (b - a) * i / n, "sensor")

    path = tmp_path / "deskpi.db"
    working_days = 0
    with Store.open(path) as s:
        h = sit
        for day in range(366):
            d0 = start + day * 86400
            samples = []
            if day % 7 < 5 and working_days < 250:
                working_days += 1
                t = d0
                for k in range(30):                              # 09:00-18:00, ~18 min apart
                    nxt = d0 + 9 * 3600 + k * 1080 + rng.uniform(-120, 120)
                    samples += rest(t, nxt, h)
                    target = (stand if h < 900 else sit) + rng.uniform(-15, 15)
                    samples += move(nxt, h, target)
                    t, h = nxt + abs(target - h) / 35 + 1, target
                samples += rest(t, d0 + 86400, h)
            else:
                samples += rest(d0, d0 + 86400, h)
            s.log_heights(samples)
        rows = s.db.conn.execute("SELECT COUNT(*) FROM height_log").fetchone()[0]
        s.purge(start + 366 * 86400)
    size = path.stat().st_size
    assert working_days == 250
    assert rows < 250 * 30 * 15 + 366 * 150, rows           # ~a dozen rows a move, a heartbeat every 10 min
    assert size < 20 * 1024 * 1024, f"{size / 1e6:.1f} MB for {rows} rows"
    print(f"a year: {rows} rows, {size / 1e6:.2f} MB")


# ------------------------------------------------------------------------------------------ audit

def test_audit_append_and_filters(store: Store) -> None:
    store.append_audit("button", "move", detail={"direction": "up"}, t=T0)
    store.append_audit("web", "recall", user="Ann", detail={"slot": 2}, remote="192.168.1.20", t=T0 + 10)
    store.append_audit("schedule", "recall", user="ann", t=T0 + 20)
    store.append_audit("api-token", "stop", user="Émile", remote="10.0.0.7", t=T0 + 30)
    store.append_audit("cli", "clear_fault", user="admin", t=T0 + 40)
    everything = store.list_audit()
    assert [a.t for a in everything] == [T0 + 40, T0 + 30, T0 + 20, T0 + 10, T0]        # newest first
    assert everything[-1].detail == {"direction": "up"} and everything[-1].user is None
    assert everything[-1].remote is None
    assert [a.t for a in store.list_audit(since=T0 + 10)] == [T0 + 40, T0 + 30, T0 + 20, T0 + 10]
    assert [a.t for a in store.list_audit(since=T0, until=T0 + 20)] == [T0 + 10, T0]
    assert [a.source for a in store.list_audit(source="web")] == ["web"]
    assert [a.t for a in store.list_audit(user="ANN")] == [T0 + 20, T0 + 10]
    assert [a.user for a in store.list_audit(user="émile")] == ["Émile"]
    assert [a.t for a in store.list_audit(action="recall", user="Ann", limit=1)] == [T0 + 20]
    assert store.list_audit(source="web", user="admin") == []
    for kwargs, message in [({"source": "phone", "action": "move"}, "source = 'phone': must be one of 'button'"),
                            ({"source": "web", "action": "dance"}, "action = 'dance'"),
                            ({"source": "web", "action": "move", "detail": "up"}, "detail = 'up'"),
                            ({"source": "web", "action": "move", "remote": "1.2.3.4\n"}, "remote = '1.2.3.4\\\\n'"),
                            ({"source": "web", "action": "move", "user": ""}, "user = ''")]:
        with pytest.raises(StoreError, match=message):
            store.append_audit(**kwargs)
    with pytest.raises(StoreError, match="limit = 0"):
        store.list_audit(limit=0)
    with pytest.raises(StoreError, match="source = 'phone'"):
        store.list_audit(source="phone")
    assert len(store.list_audit()) == 5


# ----------------------------------------------------------------------------------- backup/restore

def populate(s: Store, who: str = "Ann") -> None:
    s.add_user(who, stature_cm=175, seated_mm=657, standing_mm=1092)
    s.set_preset(who, 3, 900)
    s.set_active_user(who)
    s.set_plan(who, {"sit_min": 30, "stand_min": 15})
    s.log_height(T0, 657)
    s.append_audit("web", "recall", user=who, remote="192.168.1.20", t=T0)


def test_backup_and_restore_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    s = Store.open(db_path(data))
    populate(s, "Ann")
    backup = s.backup(tmp_path / "backups" / "monday.db")
    assert backup.exists() and not Path(f"{backup}-wal").exists()           # one self-contained file
    s.remove_user("Ann")
    populate(s, "Bob")
    with pytest.raises(StoreBusyError, match="open in another process.*stop it first"):
        Store.restore(backup, data)                                           # never under a running daemon
    s.close()

    result = Store.restore(backup, data, now=T0)
    assert result.path == db_path(data) and result.version == LATEST_VERSION
    assert result.previous == data / "deskpi.db.20231114T221320Z.bak"
    assert sorted(p.name for p in data.iterdir()) == ["deskpi.db", "deskpi.db.20231114T221320Z.bak", "deskpi.db.lock"]
    with Store.open(db_path(data)) as r:
        assert [u.name for u in r.list_users()] == ["Ann"] and r.get_active_user().name == "Ann"
        assert r.get_presets("Ann")[3] == 900 and r.get_plan("Ann").doc == {"sit_min": 30, "stand_min": 15}
        assert r.list_audit()[0].remote == "192.168.1.20" and r.last_logged_height == (T0, 657.0)
    with Store.open(result.previous) as old:                                   # the replaced database, complete
        assert [u.name for u in old.list_users()] == ["Bob"]
    again = Store.restore(backup, data, now=T0)
    assert again.previous == data / "deskpi.db.20231114T221320Z-2.bak"


def test_restore_into_a_new_data_directory_and_from_an_older_version(tmp_path: Path) -> None:
    old = tmp_path / "v1.db"
    db = Database(old)
    migrate(db, target=1)
    db.execute("INSERT INTO users (name, name_key, units, role, created_at) VALUES ('Ann', 'ann', 'cm', 'user', 0)")
    db.close()
    result = Store.restore(old, tmp_path / "fresh" / "data")
    assert result.previous is None and result.version == LATEST_VERSION
    with Store.open(result.path) as s:
        assert s.get_user("ann") is not None
    assert Database(old).execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 1   # source untouched


def make_bad_sources(tmp: Path) -> list[tuple[Path, str]]:
    tmp.mkdir()
    text = tmp / "notes.txt"
    text.write_text("not a database at all\n" * 50)
    empty = tmp / "empty.db"
    empty.write_bytes(b"")
    other = tmp / "other.db"
    Database(other)["things"].insert({"a": 1})
    newer = tmp / "newer.db"
    Store.open(newer).close()
    Database(newer).execute("INSERT INTO schema_version VALUES (7, 'future', 0)")
    damaged = tmp / "damaged.db"
    with Store.open(damaged) as s:
        s.log_heights((T0 + i * 700, 600 + i % 700, "sensor") for i in range(20000))
    conn = sqlite3.connect(damaged)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    raw = bytearray(damaged.read_bytes())
    for off in range(len(raw) // 2, len(raw) // 2 + 8192, 7):                  # scribble over index/table pages
        raw[off] = 0x55
    damaged.write_bytes(bytes(raw))
    return [(text, "not a SQLite database"), (empty, "not a deskpi database"), (other, "not a deskpi database"),
            (newer, "schema version 7, but this deskpi only knows versions up to"), (damaged, "damaged|not a SQLite"),
            (tmp / "missing.db", "src = .*an existing backup file")]


def test_restoring_a_bad_file_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Store.open(db_path(data)) as s:
        populate(s)
    before = files(data)
    for src, message in make_bad_sources(tmp_path / "bad"):
        with pytest.raises(StoreError, match=message):
            Store.restore(src, data)
        assert files(data) == before, src
        assert sorted(p.name for p in data.iterdir()) == sorted(before)
    assert not (tmp_path / "nowhere").exists()
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store.restore(tmp_path / "bad" / "notes.txt", tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_backup_is_consistent_while_another_thread_writes(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "data" / "deskpi.db")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        i = 0
        try:
            while not stop.is_set():
                with s.transaction():                     # two rows that must always appear together
                    s.append_audit("cli", "move", detail={"pair": i}, t=T0 + i)
                    s.append_audit("cli", "stop", detail={"pair": i}, t=T0 + i)
                i += 1
        except Exception as e:  # noqa: BLE001             # pragma: no cover - reported below
            errors.append(e)

    th = threading.Thread(target=writer)
    th.start()
    try:
        for k in range(5):
            time.sleep(0.05)
            b = s.backup(tmp_path / f"b{k}.db")
            with Store.open(b) as copy:
                assert copy.integrity_check() == "ok"
                moves = copy.db.conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'move'").fetchone()[0]
                stops = copy.db.conn.execute("SELECT COUNT(*) FROM audit WHERE action = 'stop'").fetchone()[0]
                assert moves == stops
    finally:
        stop.set()
        th.join()
        s.close()
    assert not errors and moves > 0


# ------------------------------------------------------------------------------------------ threads

def test_many_threads_write_through_one_store(store: Store) -> None:
    n_threads, n_each = 8, 60
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            barrier.wait()
            store.add_user(f"user{k}", seated_mm=650 + k, standing_mm=1050 + k)
            for i in range(n_each):
                store.append_audit("web", "move", user=f"user{k}", detail={"i": i}, t=T0 + i)
                store.set_preset(f"user{k}", 1 + i % 4, 700 + i)
                store.log_height(T0 + k * 10_000 + i * 700, 700 + (i % 2) * 300)
                if i % 10 == 0:
                    store.list_audit(user=f"user{k}")
                    store.set_active_user(f"user{k}")
        except Exception as e:  # noqa: BLE001               # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(store.list_users()) == n_threads
    assert len(store.list_audit(limit=10_000)) == n_threads * n_each
    for k in range(n_threads):
        assert len(store.list_audit(user=f"USER{k}", limit=1000)) == n_each
    assert store.integrity_check() == "ok"


def test_two_stores_in_two_connections_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deskpi.db"
    with Store.open(path) as daemon, Store.open(path) as cli:      # e.g. `deskpi users add` while the daemon runs
        cli.add_user("Ann")
        assert daemon.get_user("ann") is not None
        daemon.append_audit("button", "stop", t=T0)
        assert len(cli.list_audit()) == 1
    assert not Path(f"{path}-wal").exists() or os.path.getsize(f"{path}-wal") == 0


def test_active_user_history_is_kept_for_statistics(tmp_path):
    from deskpi.store import Store
    with Store.open(tmp_path / "deskpi.db") as store:
        store.add_user("Ada")
        store.add_user("Bo")
        store.set_active_user("Ada", now=100.0)
        store.set_active_user("Bo", now=200.0)
        store.set_active_user(None, now=300.0)
        assert store.active_user_timeline(150.0, 1000.0) == [(100.0, "Ada"), (200.0, "Bo"), (300.0, None)]
        assert store.active_user_timeline(0.0, 50.0) == []
        store.remove_user("Ada")
        assert store.active_user_timeline(0.0, 150.0)[0] == (100.0, "Ada"), "history outlives the user"


def test_statistics_split_time_between_the_people_who_used_the_desk(tmp_path):
    from deskpi.people.accounts import stats_report
    from deskpi.store import Store
    from zoneinfo import ZoneInfo
    day = 1795420800.0            # 2026-11-23 00:00 UTC (a Monday)
    with Store.open(tmp_path / "deskpi.db") as store:
        store.add_user("Ada", seated_mm=700, standing_mm=1100)
        store.add_user("Bo", seated_mm=700, standing_mm=1100)
        store.set_active_user("Ada", now=day + 9 * 3600)
        store.set_active_user("Bo", now=day + 10 * 3600)
        samples = [(day + 9 * 3600 + m * 60, 700.0 if m < 60 else 1100.0, "sensor") for m in range(0, 120, 5)]
        store.log_heights(samples)
        report = stats_report(store, days=1, zone=ZoneInfo("UTC"), now=day + 11 * 3600)
    ada = report["users"]["Ada"]["days"][0]
    bo = report["users"]["Bo"]["days"][0]
    assert ada["sitting_min"] == pytest.approx(60, abs=1) and ada["standing_min"] == pytest.approx(0, abs=1)
    assert bo["standing_min"] == pytest.approx(55, abs=6) and bo["sitting_min"] == pytest.approx(0, abs=1)
