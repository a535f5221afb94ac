"""The connection under the Store: opening and migrating the file, its lock, transactions, settings.

One SQLite file (`deskpi.db` in the data directory), reached through Python's sqlite3: the store's
methods are SQL on one connection. sqlite-utils (with click, pluggy and dateutil behind it, about half a
bare Python's start) is imported only to create or upgrade the schema (migrations.py) and for `Store.db`,
its view of the same connection for tests and one-off tools, so `deskpi user list` over SSH needs none
of it.

Durability. WAL journal, `synchronous=FULL`: every commit fsyncs the WAL, so
a killed process *and a power cut* keep every committed transaction (with
`synchronous=NORMAL`, WAL mode survives a process crash but a power cut can
roll back the last commits - the issue asks that nothing committed is lost;
that still relies on the SD card honouring fsync, which cheap cards may not).
The cost is one fsync per commit, which is why writes are few: the height log
stores changes, not samples, and bulk writers batch (`log_heights`). Each
public write method is one transaction (`BEGIN IMMEDIATE`, so two processes
never deadlock upgrading a read lock); it either happens entirely or not at
all, and every value is validated before anything is written.

A full disk. A write that fails with SQLITE_FULL ("database or disk is
full") is rolled back and raised as `StorageFull` (deskpi/util/storage.py), an
OSError whose message says the desk's storage is full and what to do; the
store's `storage` monitor keeps that flag (cleared by the next write that
commits) and logs it at most once a minute.

Threads. The daemon's web threads, scheduler and control loop share one
connection (`check_same_thread=False`) behind one re-entrant lock.

Processes. `Store.open` holds a shared `flock` on `<db>.lock` for as long as
the store is open; `Store.restore` needs it exclusively, so a restore never
swaps the file under a running daemon (or a CLI command).
"""
from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from deskpi.store import fields
from deskpi.store.migrations import LATEST_VERSION, SchemaTooNewError, current_version, migrate, table_names
from deskpi.store.records import ACTIVE_USER_KEY, OWNER_KEY, StoreBusyError, StoreError
from deskpi.util.files import FileLock, lock_path
from deskpi.util.storage import StorageMonitor, as_storage_full, is_storage_full, no_room

if TYPE_CHECKING:
    from sqlite_utils import Database

DB_NAME = "deskpi.db"
#: What to do about a database that cannot be used: said by every refusal to open one.
RESTORE_HINT = ("restore a backup with `deskpi restore SRC` (with the daemon stopped), or move the file away "
                "to start an empty desk")

_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def db_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where the database lives in a data directory."""
    return Path(data_dir) / DB_NAME


def match_owner(data_dir: Path) -> None:
    """Give database files root just created in a service-owned data dir to the dir's owner.

    Over SSH facilities run deskpi as root; a deskpi.db (or -wal/-shm/.lock) left
    owned by root would lock the deskpi service out of its own data.
    """
    if os.geteuid() != 0:
        return
    try:
        st = data_dir.stat()
    except OSError:
        return
    if st.st_uid == 0:
        return
    for p in data_dir.iterdir():
        if p.name.startswith(DB_NAME):
            try:
                if p.stat().st_uid == 0:
                    os.chown(p, st.st_uid, st.st_gid)
            except OSError:
                pass


def casefold(value: Any) -> Any:
    """SQL function deskpi_casefold: names compare case-insensitively, as Python's casefold does."""
    return value.casefold() if isinstance(value, str) else value


def rows(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    """The rows of a query as dicts, column name -> value."""
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur]


def upsert(conn: sqlite3.Connection, table: str, row: dict[str, Any], pk: str | tuple[str, ...]) -> None:
    """Insert `row`, or where its primary key `pk` is taken set the row's other columns there."""
    keys = (pk,) if isinstance(pk, str) else pk
    cols = list(row)
    sets = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
    conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
                 f"ON CONFLICT ({', '.join(keys)}) DO {'UPDATE SET ' + sets if sets else 'NOTHING'}",
                 list(row.values()))


def time_window(column: str, since: float | None, until: float | None) -> tuple[list[str], list[Any]]:
    """WHERE terms and their arguments for since <= column < until (either end may be open)."""
    where, args = [], []
    if since is not None:
        where.append(f"{column} >= ?")
        args.append(fields.unix_time("since", since))
    if until is not None:
        where.append(f"{column} < ?")
        args.append(fields.unix_time("until", until))
    return where, args


class StoreBase:
    """One connection, its lock and its transactions; the per-concern parts of the Store build on it."""

    def __init__(self, conn: sqlite3.Connection, path: Path, file_lock: FileLock | None, *,
                 timeout_s: float) -> None:
        self.path = path
        self._conn = conn
        self._db: Database | None = None
        self._file_lock = file_lock
        self._timeout_s = timeout_s
        self._lock = threading.RLock()
        self._closed = False
        self._users_changed = False          # set by a write that may change the active user's heights
        #: Whether writes fail for want of space (util/storage.py): raised and cleared by every write.
        self.storage = StorageMonitor()

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, timeout_s: float = 5.0,
             posture_edges_mm: Iterable[float] | None = None) -> Self:
        """Open (creating it and its directory if needed) and migrate the database at `path`.

        posture_edges_mm: fixed posture class edges for the height log (None: from the active user's profile).
        """
        path = Path(path)
        edges = fields.posture_edges(posture_edges_mm)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_lock = FileLock(lock_path(path), shared=True)
        if not file_lock.acquire(timeout_s):                  # only a restore holds it exclusively
            raise StoreBusyError(f"{path} is being restored by another process; try again")
        conn = None
        try:
            # A missing file is a new desk; an empty one is a database that lost its contents (SQLite would
            # quietly start it afresh, and every person, preset and plan would be gone without a word).
            if path.is_file() and path.stat().st_size == 0:
                raise StoreError(f"{path} is empty (0 bytes): {RESTORE_HINT}")
            conn = sqlite3.connect(str(path), timeout=timeout_s, check_same_thread=False)
            found = current_version(conn)
            if found == 0 and table_names(conn):
                raise StoreError(f"{path} holds tables ({', '.join(table_names(conn)[:5])}) but no schema_version: "
                                 f"not a deskpi database; move it away or choose another data directory")
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")     # only takes effect on a new, empty file
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = wal")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            conn.execute("PRAGMA journal_size_limit = 4194304")  # keep the WAL file small on an SD card
            conn.create_function("deskpi_casefold", 1, casefold, deterministic=True)
            if found != LATEST_VERSION:          # a new or older database, or one from a newer deskpi
                from sqlite_utils import Database
                try:
                    migrate(Database(conn, execute_plugins=False))
                except SchemaTooNewError as e:
                    raise SchemaTooNewError(e.found, e.known, where=str(path)) from None
            return cls(conn, path, file_lock, timeout_s=timeout_s, posture_edges_mm=edges)
        except BaseException as e:
            if conn is not None:
                conn.close()
            file_lock.release()
            if isinstance(e, sqlite3.Error) and (is_storage_full(e) or no_room(path.parent)):
                raise as_storage_full(e, f"opening the database {path}") from e   # not a broken database
            if isinstance(e, sqlite3.DatabaseError):
                raise StoreError(f"{path}: cannot be opened as a deskpi database ({e}): {RESTORE_HINT}") from e
            raise

    def reader(self) -> Self:
        """A second, read-only connection for hot read paths (a web request checking who is asking):
        in WAL mode it reads the last commit without waiting behind a writer's fsync."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self._timeout_s,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout_s * 1000)}")
            conn.create_function("deskpi_casefold", 1, casefold, deterministic=True)
            return type(self)(conn, self.path, None, timeout_s=self._timeout_s)
        except BaseException:
            conn.close()
            raise

    @property
    def db(self) -> Database:
        """sqlite-utils' view of the store's connection, for tests and one-off tools (the store itself uses SQL)."""
        if self._db is None:
            from sqlite_utils import Database
            self._db = Database(self._conn, execute_plugins=False)
        return self._db

    def close(self) -> None:
        """Close the connection and release the lock. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
            if self._file_lock is not None:
                self._file_lock.release()
                self._file_lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            yield self._conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one)."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            conn = self._conn
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN IMMEDIATE")
            self._users_changed = False
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(exc, Exception) and is_storage_full(exc):
                    # SQLITE_FULL: one plain StorageFull (an OSError), counted for the flag and the log.
                    full = as_storage_full(exc, f"writing to the database {self.path}")
                    self.storage.failed(full)
                    if full is not exc:
                        raise full from exc
                raise
            else:
                self.storage.succeeded()
            finally:
                if self._users_changed:               # re-read, committed or not
                    self._users_changed = False
                    self._after_users_changed()

    def _after_users_changed(self) -> None:
        """Called after a transaction that changed users or the active user (the height log re-reads edges)."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Self]:
        """Run several public methods as one transaction: all of them happen, or (on any exception) none.

        Reads inside see the transaction's own writes; other processes wait for it
        (BEGIN IMMEDIATE), so a desired state is compared and changed in one step.
        """
        with self._tx():
            yield self

    @property
    def schema_version(self) -> int:
        with self._read():
            return current_version(self._conn)

    def integrity_check(self) -> str:
        """'ok', or SQLite's list of problems."""
        with self._read() as conn:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())

    def check_usable(self) -> None:
        """StoreError unless SQLite's quick_check passes: the daemon starts only on an intact database (a
        damaged one would fail request by request, and every write risks the rest)."""
        try:
            with self._read() as conn:
                problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
        except sqlite3.DatabaseError as e:
            problems = [str(e)]
        if problems != ["ok"]:
            raise StoreError(f"{self.path} is damaged ({'; '.join(problems)[:300]}): {RESTORE_HINT}")

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return default if row is None or row[0] is None else row[0]

    def set_setting(self, key: str, value: str | None) -> None:
        """Set (or with None delete) a key/value setting."""
        if not isinstance(key, str) or not _KEY_RE.match(key) or key in (ACTIVE_USER_KEY, OWNER_KEY):
            raise fields.invalid("key", key, "a setting name (letters, digits, _ . -; at most 64) other than the "
                                 "reserved active/owner keys")
        value = fields.text("value", value, 4096)
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM settings WHERE key = ?", [key])
            else:
                upsert(db, "settings", {"key": key, "value": value}, pk="key")
