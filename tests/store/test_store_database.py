"""Opening the store (pragmas, refusing what is not a deskpi database) and many threads or processes on one file."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from deskpi.store import Store, StoreError, db_path
from deskpi.store.migrations import LATEST_VERSION

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC


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
