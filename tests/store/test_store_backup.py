"""Backup and restore: round trip, upgrade of an older backup, refusing bad files, consistency under writes."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from deskpi.store import Store, StoreBusyError, StoreError, db_path
from deskpi.store.migrations import LATEST_VERSION, migrate

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC


# ----------------------------------------------------------------------------------- backup/restore

def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


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
    Database(newer).execute("INSERT INTO schema_version VALUES (?, 'future', 0)", [LATEST_VERSION + 1])
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
            (newer, f"schema version {LATEST_VERSION + 1}, but this deskpi only knows versions up to"),
            (damaged, "damaged|not a SQLite"),
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
