"""Backup and restore of the database: a consistent online copy, and a checked, atomic swap of the file.

A backup is taken with SQLite's online backup API while the daemon keeps
writing. A restore stages a copy of the backup, checks and upgrades it, keeps
the database it replaces beside it, and renames the new one into place; any
failure leaves the data directory as it was.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from deskpi.store import fields
from deskpi.store.database import DB_NAME, StoreBase, db_path
from deskpi.store.migrations import (
    LATEST_VERSION,
    MigrationError,
    SchemaTooNewError,
    current_version,
    migrate,
    table_names,
)
from deskpi.store.records import RestoreResult, StoreBusyError, StoreError
from deskpi.util.files import file_lock, install, lock_path


def _remove_quietly(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _sidecars(path: Path) -> tuple[Path, Path, Path]:
    return (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal"))


def online_copy(src: Path, dest: Path, timeout_s: float = 5.0) -> None:
    """Copy a live SQLite database with the online backup API into a self-contained file (no -wal).

    One backup step under one read transaction: a consistent snapshot even
    while another connection keeps writing (WAL lets it), without blocking it.
    The copy is written next to `dest`, checked, fsynced and renamed into place.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    _remove_quietly(tmp, *_sidecars(tmp))
    try:
        # Read-write, though only read: a read-only connection could neither recover a crashed WAL
        # nor tidy its -wal/-shm files away when it is the last one to close.
        source = sqlite3.connect(src, timeout=timeout_s)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")
                check = target.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise StoreError(f"backup of {src}: the copy fails quick_check ({check})")
            finally:
                target.close()
        finally:
            source.close()
        install(tmp, dest)
    except BaseException:
        _remove_quietly(tmp, *_sidecars(tmp))
        raise


def check_and_upgrade(staged: Path, shown: Path) -> int:
    """Validate a staged copy of a backup as a deskpi database and upgrade it; returns its version."""
    try:
        conn = sqlite3.connect(staged)
    except sqlite3.Error as e:
        raise StoreError(f"restore source {shown}: cannot be opened as SQLite ({e})") from None
    try:
        try:
            problems = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as e:
            raise StoreError(f"restore source {shown}: not a SQLite database ({e})") from None
        if problems != ["ok"]:
            raise StoreError(f"restore source {shown}: damaged, integrity_check says {'; '.join(problems[:3])}")
        if "schema_version" not in table_names(conn):
            raise StoreError(f"restore source {shown}: not a deskpi database (it has no schema_version table)")
        found = current_version(conn)
        if found < 1:
            raise StoreError(f"restore source {shown}: not a deskpi database (empty schema_version)")
        if found > LATEST_VERSION:
            raise StoreError(str(SchemaTooNewError(found, LATEST_VERSION, where=f"restore source {shown}")))
        conn.execute("PRAGMA foreign_keys=ON")
        from sqlite_utils import Database  # only to upgrade the schema (database.py says why)
        try:
            migrate(Database(conn, execute_plugins=False))
        except MigrationError as e:
            raise StoreError(f"restore source {shown}: cannot be upgraded: {e}") from None
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise StoreError(f"restore source {shown}: rows point at missing users (foreign_key_check)")
        conn.execute("PRAGMA journal_mode=DELETE")
        return current_version(conn)
    finally:
        conn.close()


def keep_previous(target: Path, now: float) -> Path | None:
    """Copy the database about to be replaced to <name>.<UTC time>.bak; None if there is none."""
    if not target.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    bak = target.with_name(f"{target.name}.{stamp}.bak")
    n = 2
    while bak.exists():
        bak = target.with_name(f"{target.name}.{stamp}-{n}.bak")
        n += 1
    try:
        online_copy(target, bak)                         # includes what is still in its WAL
    except (sqlite3.Error, StoreError):
        shutil.copyfile(target, bak)                     # a damaged database is kept byte for byte
        if Path(f"{target}-wal").is_file():
            shutil.copyfile(f"{target}-wal", f"{bak}-wal")
    return bak


def _in_use_error(path: Path) -> StoreBusyError:
    return StoreBusyError(f"{path} is open in another process (the deskpi daemon or a deskpi "
                          f"command): stop it first, e.g. `systemctl stop deskpi`")


class BackupMixin(StoreBase):
    """`backup` of an open store, and `restore` of a data directory nobody has open."""

    def backup(self, dest: str | os.PathLike[str]) -> Path:
        """A consistent copy of the live database (SQLite online backup API) at `dest`, written atomically."""
        dest = Path(dest)
        if dest.exists() and dest.resolve() == self.path.resolve():
            raise fields.invalid("dest", str(dest), "a path other than the live database")
        with self._read():
            pass                                       # closed-store check; the copy itself needs no lock
        online_copy(self.path, dest, self._timeout_s)
        return dest

    @classmethod
    def restore(cls, src: str | os.PathLike[str], data_dir: str | os.PathLike[str], *,
                now: float | None = None, timeout_s: float = 0.0) -> RestoreResult:
        """Replace the database in `data_dir` by the backup `src`.

        The source is copied (never opened in place) and must pass
        integrity_check, have a schema_version no newer than this code, and
        upgrade cleanly; only then is the current database copied to
        deskpi.db.<UTC time>.bak and the new one renamed into place. Any
        failure leaves the data directory as it was. Refused while a Store
        (the daemon) has the database open.
        """
        src, data_dir = Path(src), Path(data_dir)
        target = db_path(data_dir)
        if not src.is_file():
            raise fields.invalid("src", str(src), "an existing backup file")
        if target.exists() and src.resolve() == target.resolve():
            raise fields.invalid("src", str(src), "a backup, not the live database itself")
        stage_in = data_dir if data_dir.is_dir() else None
        with tempfile.TemporaryDirectory(prefix=".deskpi-restore-", dir=stage_in) as tmp:
            staged = Path(tmp) / DB_NAME
            shutil.copyfile(src, staged)
            if Path(f"{src}-wal").is_file():                 # a copied live database: its WAL holds commits
                shutil.copyfile(f"{src}-wal", f"{staged}-wal")
            version = check_and_upgrade(staged, src)
            data_dir.mkdir(parents=True, exist_ok=True)
            near = target.with_name(f".{DB_NAME}.restore.tmp")
            with file_lock(lock_path(target), timeout_s=timeout_s, busy=lambda: _in_use_error(target)):
                try:
                    previous = keep_previous(target, time.time() if now is None else now)
                    # Before the rename: an old WAL must never meet the new file.
                    _remove_quietly(*_sidecars(target))
                    if stage_in is None:                     # staged on another filesystem: copy next to target first
                        shutil.copyfile(staged, near)
                        staged = near
                    install(staged, target)
                finally:
                    _remove_quietly(near)
        return RestoreResult(target, previous, version)
