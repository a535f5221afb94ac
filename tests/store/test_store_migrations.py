"""Schema migrations: in order, idempotent, upgrading in place, refusing a newer schema, rolled back on failure."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from deskpi.store import Store, posture_edges_for
from deskpi.store import migrations as mig
from deskpi.store.migrations import (
    LATEST_VERSION,
    Migration,
    MigrationError,
    SchemaTooNewError,
    current_version,
    migrate,
)

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC


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
    db.execute("INSERT INTO audit (t, source, user, action, detail) "
               "VALUES (?, 'button', 'Ann', 'recall', '{\"slot\": 3}')", [T0])
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


def test_the_reminders_of_a_window_are_found_by_their_index(tmp_path: Path) -> None:
    """Statistics ask for every reminder shown in a window, whoever it was for (v8's index, not a scan)."""
    db = Database(tmp_path / "deskpi.db")
    assert migrate(db, target=7) == list(range(1, 8))
    assert "idx_reminders_shown" not in {i.name for i in db["reminders"].indexes}
    assert migrate(db) == list(range(8, LATEST_VERSION + 1))
    plan = " ".join(str(r[-1]) for r in db.execute(
        "EXPLAIN QUERY PLAN SELECT r.id FROM reminders r LEFT JOIN users u ON u.id = r.user_id "
        "WHERE r.shown_at >= ? AND r.shown_at < ? ORDER BY r.shown_at, r.id", [T0, T0 + 86400]).fetchall())
    assert "idx_reminders_shown" in plan, plan


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
