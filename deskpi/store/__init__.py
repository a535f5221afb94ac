"""The deskpi database: people, their presets and plans, reminders, a height log and an audit trail.

One SQLite file (`deskpi.db` in the data directory) reached through sqlite-utils.

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

Threads. The daemon's web threads, scheduler and control loop share one
connection (`check_same_thread=False`) behind one re-entrant lock. The
height-log policy runs in memory, so `log_height()` touches SQLite only when
a row is due: cheap enough to call with every height estimate, though a
motion path should still not block on it (hand it to a worker).

Processes. `Store.open` holds a shared `flock` on `<db>.lock` for as long as
the store is open; `Store.restore` needs it exclusively, so a restore never
swaps the file under a running daemon (or a CLI command).
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, Self

from sqlite_utils import Database

from deskpi.store.migrations import LATEST_VERSION, MigrationError, SchemaTooNewError, current_version, migrate

try:
    import fcntl
except ImportError:                      # pragma: no cover - not a Linux/Unix box; no cross-process lock
    fcntl = None                         # type: ignore[assignment]

DB_NAME = "deskpi.db"

NAME_MAX = 40
STATURE_CM = (100.0, 250.0)
SHOE_MM = (0.0, 100.0)
HEIGHT_MM = (300.0, 2000.0)              # seated/standing/preset heights; the desk's own limits apply elsewhere
LOG_HEIGHT_MM = (0.0, 5000.0)            # what the log accepts from an estimator (HC-SR04 range is 4 m)
SLOTS = (1, 2, 3, 4)                     # preset 1 = sit, preset 2 = stand by default
UNITS = ("cm", "in")
ROLES = ("user", "admin")
PLAN_KINDS = ("default", "cornell", "custom")
REMINDER_KINDS = ("stand", "sit", "stretch", "move")
REMINDER_OUTCOMES = ("acknowledged", "snoozed", "skipped", "expired", "confirmed")
AUDIT_SOURCES = ("button", "web", "cli", "schedule", "api-token")
AUDIT_ACTIONS = ("move", "hold", "stop", "recall", "save", "clear_fault")
PLAN_MAX_BYTES = 64 * 1024
DETAIL_MAX_BYTES = 4 * 1024

# Height-log policy.
MIN_CHANGE_MM = 5.0                      # a row when the height moved this much from the last row...
HEARTBEAT_S = 600.0                      # ...or this long passed without one (so gaps mean "not running")...
MIN_INTERVAL_S = 1.0                     # ...but while moving at most one change row a second
# Posture class edges: crossing one may change sit / between / stand. Without a profile, the gap between
# the EN 527-1 ranges (seated up to 850, standing from 950); with one, the sit/stand midpoint
# +- max(10 % of the gap, 10 mm), as deskpi.core.habits.posture_stats classifies.
DEFAULT_POSTURE_EDGES_MM = (850.0, 950.0)
UNKNOWN_STAND_OFFSET_MM = 300.0          # a profile with one height only: the other is 300 mm away (LINAK)
RETENTION_DAYS = 400

_ACTIVE_KEY = "active_user_id"
_OWNER_KEY = "owner_user_id"
_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")
_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class StoreError(ValueError):
    """Bad input or an unusable database. The message names the field, the value and what is allowed."""


class UnknownUserError(StoreError, LookupError):
    """No user by that name."""


class StoreBusyError(StoreError):
    """Another process has the database open (e.g. restore while the daemon runs)."""


# ----------------------------------------------------------------------------------------- records

@dataclass(frozen=True)
class User:
    id: int
    name: str
    stature_cm: float | None
    shoe_mm: float | None
    seated_mm: float | None
    standing_mm: float | None
    units: str
    role: str
    pin_hash: str | None = field(repr=False)
    created_at: float

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Plan:
    user: str
    kind: str
    doc: dict[str, Any]
    updated_at: float


@dataclass(frozen=True)
class Reminder:
    id: int
    user: str | None
    kind: str
    shown_at: float
    outcome: str | None
    outcome_at: float | None
    stretch_id: str | None


class HeightSample(NamedTuple):
    t: float
    height_mm: float | None          # None: unknown from here on (the sensor went stale)
    source: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    t: float
    source: str
    user: str | None
    action: str
    detail: dict[str, Any] | None
    remote: str | None


@dataclass(frozen=True)
class RestoreResult:
    path: Path                   # the restored database
    previous: Path | None        # where the database it replaced was kept (None: there was none)
    version: int                 # schema version after restore (upgraded if the backup was older)


# ------------------------------------------------------------------------------------- validation

def _fail(field_name: str, value: Any, allowed: str) -> StoreError:
    return StoreError(f"{field_name} = {value!r}: must be {allowed}")


def _number(field_name: str, value: Any, lo: float, hi: float, unit: str, *, optional: bool = True) -> float | None:
    allowed = f"a number of {unit} within {lo:g}-{hi:g}" + (" (or None)" if optional else "")
    if value is None:
        if optional:
            return None
        raise _fail(field_name, value, allowed)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(field_name, value, allowed)
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise _fail(field_name, value, allowed)
    return v


def _time(field_name: str, value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise _fail(field_name, value, "a unix time in seconds (a finite number >= 0)"
                    + (" or None" if optional else ""))
    return float(value)


def _choice(field_name: str, value: Any, allowed: tuple[str, ...], *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise _fail(field_name, value, "one of " + ", ".join(repr(a) for a in allowed) + (" or None" if optional else ""))
    return value


def _has_control(s: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in s)


def _text(field_name: str, value: Any, max_len: int, *, optional: bool = True) -> str | None:
    allowed = f"text of 1-{max_len} characters without control characters" + (" (or None)" if optional else "")
    if value is None:
        if optional:
            return None
        raise _fail(field_name, value, allowed)
    if not isinstance(value, str) or not 1 <= len(value) <= max_len or _has_control(value):
        raise _fail(field_name, value, allowed)
    return value


def valid_name(value: Any, field_name: str = "name") -> str:
    """A user name: 1-40 characters after trimming surrounding spaces, no control characters."""
    allowed = f"1-{NAME_MAX} characters without control characters"
    if not isinstance(value, str):
        raise _fail(field_name, value, allowed)
    name = unicodedata.normalize("NFC", value.strip())
    if not 1 <= len(name) <= NAME_MAX or _has_control(name):
        raise _fail(field_name, value, allowed)
    return name


def _name_key(name: str) -> str:
    return name.casefold()


def _pin_hash(value: Any) -> str | None:
    allowed = "None or a KDF hash string (16-1024 printable characters, not a bare PIN)"
    if value is None:
        return None
    if (not isinstance(value, str) or not 16 <= len(value) <= 1024 or _has_control(value)
            or value.isdigit() or value != value.strip()):
        shown = value if not isinstance(value, str) else f"<{len(value)} characters>"   # never echo a secret
        raise StoreError(f"pin_hash = {shown}: must be {allowed}")
    return value


def _slot(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in SLOTS:
        raise _fail("slot", value, f"a preset slot {SLOTS[0]}-{SLOTS[-1]}")
    return value


def _json_doc(field_name: str, value: Any, max_bytes: int, *, optional: bool = False) -> str | None:
    allowed = f"a JSON object (dict) of at most {max_bytes} bytes" + (" or None" if optional else "")
    if value is None and optional:
        return None
    if not isinstance(value, dict):
        raise _fail(field_name, value, allowed)
    try:
        text = json.dumps(value, allow_nan=False, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise StoreError(f"{field_name}: must be {allowed}: {e}") from None
    if len(text.encode()) > max_bytes:
        raise StoreError(f"{field_name}: {len(text.encode())} bytes of JSON; must be {allowed}")
    return text


def _edges(value: Any) -> tuple[float, ...] | None:
    """None, or 1-4 class edges in mm, sorted."""
    if value is None:
        return None
    allowed = f"None or 1-4 heights in mm within {HEIGHT_MM[0]:g}-{HEIGHT_MM[1]:g}"
    try:
        items = list(value)
    except TypeError:
        raise _fail("posture_edges_mm", value, allowed) from None
    if not 1 <= len(items) <= 4:
        raise _fail("posture_edges_mm", value, allowed)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not HEIGHT_MM[0] <= v <= HEIGHT_MM[1]:
            raise _fail("posture_edges_mm", value, allowed)
    return tuple(sorted(float(v) for v in items))


def _round1(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


_USER_FIELDS = {
    "stature_cm": lambda v: _round1(_number("stature_cm", v, *STATURE_CM, "cm")),
    "shoe_mm": lambda v: _round1(_number("shoe_mm", v, *SHOE_MM, "mm")),
    "seated_mm": lambda v: _round1(_number("seated_mm", v, *HEIGHT_MM, "mm")),
    "standing_mm": lambda v: _round1(_number("standing_mm", v, *HEIGHT_MM, "mm")),
    "units": lambda v: _choice("units", v, UNITS),
    "role": lambda v: _choice("role", v, ROLES),
    "pin_hash": _pin_hash,
}


def _validate_user_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in fields.items():
        if k not in _USER_FIELDS:
            raise StoreError(f"{k} = {v!r}: not a user field; the fields are {', '.join(_USER_FIELDS)} "
                             f"(rename with rename_user)")
        out[k] = _USER_FIELDS[k](v)
    return out


def _check_sit_below_stand(seated: float | None, standing: float | None) -> None:
    if seated is not None and standing is not None and standing <= seated:
        raise StoreError(f"standing_mm = {standing:g}: must be above seated_mm = {seated:g}")


# ------------------------------------------------------------------------------- height-log policy

def should_log_height(last: tuple[float, float | None] | None, t: float, height_mm: float | None, *,
                      edges_mm: tuple[float, ...] = DEFAULT_POSTURE_EDGES_MM,
                      min_change_mm: float = MIN_CHANGE_MM, heartbeat_s: float = HEARTBEAT_S,
                      min_interval_s: float = MIN_INTERVAL_S) -> bool:
    """Whether a sample (t, height_mm) deserves a row, given the last logged (t, height_mm).

    A row when the height changed by >= min_change_mm from the last row, or
    crossed a posture class edge (the posture class may have changed), or went
    from known to unknown (None: the sensor is stale) or back; but at most one
    such row per min_interval_s while moving. While unchanged, a heartbeat row
    every heartbeat_s, so time at a height is measurable and a gap means "not
    running" (no heartbeat while unknown: an unknown row holds until the next).
    A clock that steps back (a Pi has no RTC until NTP syncs) re-anchors the log.
    """
    return _height_decision(last, t, height_mm, tuple(sorted(edges_mm)), min_change_mm, heartbeat_s,
                            min_interval_s) is _LOG


_LOG, _HOLD, _SKIP = "log", "hold", "skip"


def _height_decision(last: tuple[float, float | None] | None, t: float, h: float | None, edges: tuple[float, ...],
                     min_change: float = MIN_CHANGE_MM, heartbeat: float = HEARTBEAT_S,
                     min_interval: float = MIN_INTERVAL_S) -> str:
    """_LOG: write a row; _HOLD: a change, but too soon after the last row (flush may write it); _SKIP."""
    if last is None:
        return _LOG
    last_t, last_h = last
    dt = t - last_t
    if dt < 0:
        return _LOG
    if h is None or last_h is None:
        if h is None and last_h is None:
            return _SKIP
        changed = True
    else:
        changed = abs(h - last_h) >= min_change or bisect_right(edges, h) != bisect_right(edges, last_h)
    if changed:
        return _LOG if dt >= min_interval else _HOLD
    return _LOG if dt >= heartbeat else _SKIP


def posture_edges_for(seated_mm: float | None, standing_mm: float | None) -> tuple[float, ...]:
    """Class edges for a profile: the sit/stand midpoint +- max(10 % of the gap, 10 mm)."""
    if seated_mm is None and standing_mm is None:
        return DEFAULT_POSTURE_EDGES_MM
    if seated_mm is None:
        seated_mm = standing_mm - UNKNOWN_STAND_OFFSET_MM
    if standing_mm is None:
        standing_mm = seated_mm + UNKNOWN_STAND_OFFSET_MM
    mid = (seated_mm + standing_mm) / 2
    band = max(0.1 * abs(standing_mm - seated_mm), 10.0)
    return (mid - band, mid + band)


# ----------------------------------------------------------------------------------- file helpers

TOKEN_PREFIX = "dpi_"
_TOKEN_RE = re.compile(r"dpi_([0-9]{1,12})_([A-Za-z0-9_-]{20,100})")


def _token_hash(secret: str) -> str:
    # Tokens carry 256 random bits, so a plain hash is enough (a slow KDF is for guessable PINs).
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def db_path(data_dir: str | os.PathLike[str]) -> Path:
    """Where the database lives in a data directory."""
    return Path(data_dir) / DB_NAME


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _flock(path: Path, exclusive: bool, timeout_s: float) -> int | None:
    """A flock on <db>.lock; shared for every open Store, exclusive for restore. Returns the fd."""
    if fcntl is None:                                    # pragma: no cover
        return None
    fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fcntl.flock(fd, mode)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                if exclusive:
                    raise StoreBusyError(f"{path} is open in another process (the deskpi daemon or a deskpi "
                                         f"command): stop it first, e.g. `systemctl stop deskpi`") from None
                raise StoreBusyError(f"{path} is being restored by another process; try again") from None
            time.sleep(0.05)


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)                                      # closing the fd releases the flock


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):                   # not every filesystem lets a directory be fsynced
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_quietly(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _sidecars(path: Path) -> tuple[Path, Path, Path]:
    return (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal"))


def _online_copy(src: Path, dest: Path, timeout_s: float = 5.0) -> None:
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
        _fsync_file(tmp)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        _remove_quietly(tmp, *_sidecars(tmp))
        raise


def _check_and_upgrade(staged: Path, shown: Path) -> int:
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
        db = Database(conn, execute_plugins=False)
        if "schema_version" not in db.table_names():
            raise StoreError(f"restore source {shown}: not a deskpi database (it has no schema_version table)")
        found = current_version(db)
        if found < 1:
            raise StoreError(f"restore source {shown}: not a deskpi database (empty schema_version)")
        if found > LATEST_VERSION:
            raise StoreError(str(SchemaTooNewError(found, LATEST_VERSION, where=f"restore source {shown}")))
        conn.execute("PRAGMA foreign_keys=ON")
        try:
            migrate(db)
        except MigrationError as e:
            raise StoreError(f"restore source {shown}: cannot be upgraded: {e}") from None
        if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
            raise StoreError(f"restore source {shown}: rows point at missing users (foreign_key_check)")
        conn.execute("PRAGMA journal_mode=DELETE")
        return current_version(db)
    finally:
        conn.close()


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


# ------------------------------------------------------------------------------------------ store

class Store:
    """The deskpi database. Build with `Store.open(path)`; every method is thread-safe."""

    def __init__(self, db: Database, path: Path, lock_fd: int | None, *, timeout_s: float,
                 posture_edges_mm: tuple[float, ...] | None = None) -> None:
        self.db = db
        self.path = path
        self._conn: sqlite3.Connection = db.conn
        self._lock_fd = lock_fd
        self._timeout_s = timeout_s
        self._lock = threading.RLock()
        self._closed = False
        self._edges_explicit = posture_edges_mm
        self._edges_auto: tuple[float, ...] = DEFAULT_POSTURE_EDGES_MM
        self._edges_dirty = False
        self._last: tuple[float, float | None] | None = None    # last logged (t, height_mm), recovered at open
        self._pending: tuple[float, float | None, str] | None = None   # a change held back by MIN_INTERVAL_S
        with self._lock:
            row = self._conn.execute("SELECT t, height_mm FROM height_log ORDER BY rowid DESC LIMIT 1").fetchone()
            self._last = None if row is None else (float(row[0]), None if row[1] is None else float(row[1]))
            self._refresh_edges()

    # -------------------------------------------------------------------------------- lifecycle

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, timeout_s: float = 5.0,
             posture_edges_mm: Iterable[float] | None = None) -> Store:
        """Open (creating it and its directory if needed) and migrate the database at `path`."""
        path = Path(path)
        edges = _edges(posture_edges_mm)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = _flock(path, exclusive=False, timeout_s=timeout_s)
        conn = None
        try:
            conn = sqlite3.connect(str(path), timeout=timeout_s, check_same_thread=False)
            db = Database(conn, execute_plugins=False)
            if current_version(db) == 0 and db.table_names():
                raise StoreError(f"{path} holds tables ({', '.join(db.table_names()[:5])}) but no schema_version: "
                                 f"not a deskpi database; move it away or choose another data directory")
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")     # only takes effect on a new, empty file
            db.enable_wal()
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            conn.execute("PRAGMA journal_size_limit = 4194304")  # keep the WAL file small on an SD card
            conn.create_function("deskpi_casefold", 1, _casefold, deterministic=True)
            try:
                migrate(db)
            except SchemaTooNewError as e:
                raise SchemaTooNewError(e.found, e.known, where=str(path)) from None
            return cls(db, path, lock_fd, timeout_s=timeout_s, posture_edges_mm=edges)
        except BaseException as e:
            if conn is not None:
                conn.close()
            _unlock(lock_fd)
            if isinstance(e, sqlite3.DatabaseError):
                raise StoreError(f"{path}: cannot be opened as a deskpi database ({e})") from e
            raise

    def close(self) -> None:
        """Write a held-back height sample, close the connection, release the lock. Idempotent."""
        with self._lock:
            if self._closed:
                return
            try:
                self.flush_heights()
            finally:
                self._closed = True
                self._conn.close()
                _unlock(self._lock_fd)
                self._lock_fd = None

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
    def _tx(self) -> Iterator[Database]:
        """One write transaction (nested calls join the outer one)."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self.path}: the store is closed")
            conn = self._conn
            if conn.in_transaction:
                yield self.db
                return
            conn.execute("BEGIN IMMEDIATE")
            self._edges_dirty = False
            try:
                yield self.db
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                if self._edges_dirty:                     # users or the active user changed: re-read, committed or not
                    self._refresh_edges()
                    self._edges_dirty = False

    @property
    def schema_version(self) -> int:
        with self._read():
            return current_version(self.db)

    def integrity_check(self) -> str:
        """'ok', or SQLite's list of problems."""
        with self._read() as conn:
            return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check").fetchall())

    # ------------------------------------------------------------------------------------ users

    @staticmethod
    def _user(row: dict[str, Any]) -> User:
        return User(id=row["id"], name=row["name"], stature_cm=row["stature_cm"], shoe_mm=row["shoe_mm"],
                    seated_mm=row["seated_mm"], standing_mm=row["standing_mm"], units=row["units"],
                    role=row["role"], pin_hash=row["pin_hash"], created_at=row["created_at"])

    def _user_row(self, name: Any, field_name: str = "user") -> dict[str, Any] | None:
        if not isinstance(name, str):
            raise _fail(field_name, name, "a user name")
        key = _name_key(unicodedata.normalize("NFC", name.strip()))
        rows = list(self.db["users"].rows_where("name_key = ?", [key], limit=1))
        return rows[0] if rows else None

    def _require_user(self, name: Any, field_name: str = "user") -> dict[str, Any]:
        row = self._user_row(name, field_name)
        if row is None:
            known = [r[0] for r in self._conn.execute("SELECT name FROM users ORDER BY name_key LIMIT 11")]
            listing = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else "none yet"
            raise UnknownUserError(f"{field_name} = {name!r}: no such user (users: {listing})")
        return row

    def add_user(self, name: str, *, stature_cm: float | None = None, shoe_mm: float | None = None,
                 seated_mm: float | None = None, standing_mm: float | None = None, units: str = "cm",
                 role: str = "user", pin_hash: str | None = None, now: float | None = None) -> User:
        name = valid_name(name)
        fields = _validate_user_fields({"stature_cm": stature_cm, "shoe_mm": shoe_mm, "seated_mm": seated_mm,
                                        "standing_mm": standing_mm, "units": units, "role": role,
                                        "pin_hash": pin_hash})
        _check_sit_below_stand(fields["seated_mm"], fields["standing_mm"])
        created = time.time() if now is None else _time("now", now)
        with self._tx() as db:
            existing = self._user_row(name, "name")
            if existing is not None:
                raise StoreError(f"name = {name!r}: already taken by {existing['name']!r} "
                                 f"(names are case-insensitive)")
            db["users"].insert(dict(name=name, name_key=_name_key(name), created_at=created, **fields))
            self._edges_dirty = True
            return self._user(self._require_user(name))

    def get_user(self, name: str) -> User | None:
        with self._read():
            row = self._user_row(name)
            return None if row is None else self._user(row)

    def list_users(self) -> list[User]:
        with self._read():
            return [self._user(r) for r in self.db["users"].rows_where(order_by="name_key")]

    def remove_user(self, name: str) -> None:
        """Remove a user with their presets, plan and reminder history (the audit trail keeps the name)."""
        with self._tx() as db:
            row = self._require_user(name)
            db.execute("DELETE FROM settings WHERE key IN (?, ?) AND value = ?", [_ACTIVE_KEY, _OWNER_KEY, str(row["id"])])
            db.execute("DELETE FROM users WHERE id = ?", [row["id"]])
            self._edges_dirty = True

    def rename_user(self, name: str, new_name: str) -> User:
        new = valid_name(new_name, "new_name")
        with self._tx() as db:
            row = self._require_user(name)
            other = self._user_row(new, "new_name")
            if other is not None and other["id"] != row["id"]:
                raise StoreError(f"new_name = {new!r}: already taken by {other['name']!r} "
                                 f"(names are case-insensitive)")
            db["users"].update(row["id"], {"name": new, "name_key": _name_key(new)})
            return self._user(self._require_user(new))

    def update_user(self, name: str, /, **fields: Any) -> User:
        """Set some of stature_cm, shoe_mm, seated_mm, standing_mm, units, role, pin_hash (None clears)."""
        values = _validate_user_fields(fields)
        with self._tx() as db:
            row = self._require_user(name)
            merged = {**row, **values}
            _check_sit_below_stand(merged["seated_mm"], merged["standing_mm"])
            if values:
                db["users"].update(row["id"], values)
            if "pin_hash" in values:         # a new PIN signs that person out everywhere
                db.execute("DELETE FROM web_sessions WHERE user_id = ?", [row["id"]])
            self._edges_dirty = True
            return self._user(self._require_user(name))

    # ---------------------------------------------------------------------------------- presets

    def get_presets(self, user: str) -> dict[int, float | None]:
        """Slots 1-4. Unsaved slot 1 is the user's seated height, slot 2 the standing height."""
        with self._read() as conn:
            row = self._require_user(user)
            saved = dict(conn.execute("SELECT slot, height_mm FROM presets WHERE user_id = ?", [row["id"]]).fetchall())
        defaults = {1: row["seated_mm"], 2: row["standing_mm"], 3: None, 4: None}
        return {s: saved.get(s, defaults[s]) for s in SLOTS}

    def get_preset(self, user: str, slot: int) -> float | None:
        return self.get_presets(user)[_slot(slot)]

    def set_preset(self, user: str, slot: int, height_mm: float) -> float:
        slot = _slot(slot)
        h = round(_number("height_mm", height_mm, *HEIGHT_MM, "mm", optional=False), 1)
        with self._tx() as db:
            row = self._require_user(user)
            db["presets"].upsert({"user_id": row["id"], "slot": slot, "height_mm": h}, pk=("user_id", "slot"))
        return h

    def clear_preset(self, user: str, slot: int) -> None:
        """Forget a saved preset (slots 1 and 2 go back to the seated/standing heights)."""
        slot = _slot(slot)
        with self._tx() as db:
            row = self._require_user(user)
            db.execute("DELETE FROM presets WHERE user_id = ? AND slot = ?", [row["id"], slot])

    # -------------------------------------------------------------------------- settings, owner

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return default if row is None or row[0] is None else row[0]

    def set_setting(self, key: str, value: str | None) -> None:
        """Set (or with None delete) a key/value setting."""
        if not isinstance(key, str) or not _KEY_RE.match(key) or key in (_ACTIVE_KEY, _OWNER_KEY):
            raise _fail("key", key, "a setting name (letters, digits, _ . -; at most 64) other than the "
                        "reserved active/owner keys")
        value = _text("value", value, 4096)
        with self._tx() as db:
            if value is None:
                db.execute("DELETE FROM settings WHERE key = ?", [key])
            else:
                db["settings"].upsert({"key": key, "value": value}, pk="key")

    def _user_setting(self, key: str) -> User | None:
        with self._read() as conn:
            cur = conn.execute("SELECT u.* FROM settings s JOIN users u ON u.id = CAST(s.value AS INTEGER) "
                               "WHERE s.key = ?", [key])
            row = cur.fetchone()
            return None if row is None else self._user(dict(zip([d[0] for d in cur.description], row)))

    def _set_user_setting(self, key: str, name: str | None, field_name: str) -> User | None:
        with self._tx() as db:
            if name is None:
                db.execute("DELETE FROM settings WHERE key = ?", [key])
                self._edges_dirty = True
                return None
            row = self._require_user(name, field_name)
            db["settings"].upsert({"key": key, "value": str(row["id"])}, pk="key")
            self._edges_dirty = True
            return self._user(row)

    def get_active_user(self) -> User | None:
        return self._user_setting(_ACTIVE_KEY)

    def set_active_user(self, name: str | None, *, now: float | None = None) -> User | None:
        """Who is at the desk now (None: nobody in particular); the change is kept for statistics."""
        when = time.time() if now is None else _time("now", now)
        with self._tx() as db:
            user = self._set_user_setting(_ACTIVE_KEY, name, "active_user")
            db.execute("INSERT INTO active_user_log (t, user) VALUES (?, ?)", [when, None if user is None else user.name])
            return user

    def active_user_timeline(self, t0: float, t1: float) -> list[tuple[float, str | None]]:
        """(t, user) changes in [t0, t1], led by the one in force at t0; [] if never recorded."""
        with self._read() as conn:
            before = conn.execute("SELECT t, user FROM active_user_log WHERE t < ? ORDER BY t DESC, id DESC LIMIT 1",
                                  [t0]).fetchall()
            rows = conn.execute("SELECT t, user FROM active_user_log WHERE t >= ? AND t <= ? ORDER BY t, id",
                                [t0, t1]).fetchall()
        return [(float(t), u) for t, u in before + rows]

    def get_owner(self) -> User | None:
        return self._user_setting(_OWNER_KEY)

    def set_owner(self, name: str | None) -> User | None:
        """The person the desk is assigned to (None: unassigned, e.g. a hot desk)."""
        return self._set_user_setting(_OWNER_KEY, name, "owner")

    # ------------------------------------------------------------------------------------ plans

    def get_plan(self, user: str) -> Plan | None:
        with self._read() as conn:
            row = self._require_user(user)
            plan = conn.execute("SELECT kind, doc, updated_at FROM plans WHERE user_id = ?", [row["id"]]).fetchone()
        if plan is None:
            return None
        return Plan(user=row["name"], kind=plan[0], doc=json.loads(plan[1]), updated_at=plan[2])

    def set_plan(self, user: str, doc: dict[str, Any], *, kind: str = "custom", now: float | None = None) -> Plan:
        kind = _choice("kind", kind, PLAN_KINDS)
        text = _json_doc("doc", doc, PLAN_MAX_BYTES)
        updated = time.time() if now is None else _time("now", now)
        with self._tx() as db:
            row = self._require_user(user)
            db["plans"].upsert({"user_id": row["id"], "kind": kind, "doc": text, "updated_at": updated}, pk="user_id")
        return Plan(user=row["name"], kind=kind, doc=json.loads(text), updated_at=updated)

    # -------------------------------------------------------------------------------- reminders

    _REMINDER_SQL = ("SELECT r.id, u.name, r.kind, r.shown_at, r.outcome, r.outcome_at, r.stretch_id "
                     "FROM reminders r LEFT JOIN users u ON u.id = r.user_id")

    def record_reminder(self, user: str | None, kind: str, shown_at: float, *, stretch_id: str | None = None) -> int:
        """A reminder was shown (to `user`, or to nobody in particular). Returns its id."""
        kind = _choice("kind", kind, REMINDER_KINDS)
        shown = _time("shown_at", shown_at)
        stretch_id = _text("stretch_id", stretch_id, 64)
        with self._tx() as db:
            uid = None if user is None else self._require_user(user)["id"]
            cur = db.execute("INSERT INTO reminders (user_id, kind, shown_at, stretch_id) VALUES (?, ?, ?, ?)",
                             [uid, kind, shown, stretch_id])
            return int(cur.lastrowid)

    def update_reminder(self, reminder_id: int, outcome: str, outcome_at: float) -> Reminder:
        """Record what the person did about a reminder (the latest outcome wins)."""
        outcome = _choice("outcome", outcome, REMINDER_OUTCOMES)
        at = _time("outcome_at", outcome_at)
        with self._tx() as db:
            current = self._get_reminder(reminder_id)
            if at < current.shown_at:
                raise _fail("outcome_at", outcome_at, f"no earlier than shown_at = {current.shown_at!r}")
            db.execute("UPDATE reminders SET outcome = ?, outcome_at = ? WHERE id = ?", [outcome, at, current.id])
            return self._get_reminder(reminder_id)

    def _get_reminder(self, reminder_id: Any) -> Reminder:
        if isinstance(reminder_id, bool) or not isinstance(reminder_id, int):
            raise _fail("reminder_id", reminder_id, "a reminder id (int)")
        row = self._conn.execute(self._REMINDER_SQL + " WHERE r.id = ?", [reminder_id]).fetchone()
        if row is None:
            raise StoreError(f"reminder_id = {reminder_id!r}: no such reminder")
        return Reminder(*row)

    def get_reminder(self, reminder_id: int) -> Reminder:
        with self._read():
            return self._get_reminder(reminder_id)

    def list_reminders(self, *, user: str | None = None, since: float | None = None, until: float | None = None,
                       limit: int | None = None) -> list[Reminder]:
        """Reminders shown in [since, until), oldest first."""
        where, args = self._time_window("r.shown_at", since, until)
        with self._read() as conn:
            if user is not None:
                where.append("r.user_id = ?")
                args.append(self._require_user(user)["id"])
            sql = self._REMINDER_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.shown_at, r.id"
            if limit is not None:
                sql += f" LIMIT {self._limit(limit)}"
            return [Reminder(*r) for r in conn.execute(sql, args).fetchall()]

    @staticmethod
    def _time_window(column: str, since: float | None, until: float | None) -> tuple[list[str], list[Any]]:
        where, args = [], []
        if since is not None:
            where.append(f"{column} >= ?")
            args.append(_time("since", since))
        if until is not None:
            where.append(f"{column} < ?")
            args.append(_time("until", until))
        return where, args

    @staticmethod
    def _limit(limit: Any) -> int:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
            raise _fail("limit", limit, "an int within 1-100000")
        return limit

    # ------------------------------------------------------------------------------- height log

    @property
    def posture_edges_mm(self) -> tuple[float, ...]:
        """Posture class edges the log watches: explicit, else from the active user's seated/standing
        heights (`posture_edges_for`), else the EN 527-1 gap (850, 950)."""
        with self._lock:
            return self._edges_explicit if self._edges_explicit is not None else self._edges_auto

    @posture_edges_mm.setter
    def posture_edges_mm(self, value: Iterable[float] | None) -> None:
        edges = _edges(value)
        with self._lock:
            self._edges_explicit = edges

    def _refresh_edges(self) -> None:
        row = self._conn.execute("SELECT u.seated_mm, u.standing_mm FROM settings s JOIN users u "
                                 "ON u.id = CAST(s.value AS INTEGER) WHERE s.key = ?", [_ACTIVE_KEY]).fetchone()
        self._edges_auto = posture_edges_for(*row) if row else DEFAULT_POSTURE_EDGES_MM

    _sources_seen: ClassVar[set[str]] = set()      # sources already validated (fast path)

    @classmethod
    def _sample(cls, t: Any, height_mm: Any, source: Any) -> tuple[float, float | None, str]:
        tt, ht = type(t), type(height_mm)
        if ((tt is float or tt is int) and (ht is float or ht is int) and 0.0 <= t < math.inf
                and LOG_HEIGHT_MM[0] <= height_mm <= LOG_HEIGHT_MM[1] and source in cls._sources_seen):
            return (float(t), float(round(height_mm)), source)     # the fast path for valid samples
        t = _time("t", t)
        h = _number("height_mm", height_mm, *LOG_HEIGHT_MM, "mm")      # None: unknown (stale sensor)
        if not isinstance(source, str) or not _SOURCE_RE.match(source):
            raise _fail("source", source, "a short lowercase name such as 'sensor' or 'sim'")
        cls._sources_seen.add(source)
        return (t, None if h is None else float(round(h)), source)   # whole mm: the sensor resolves ~3 mm

    def _apply_policy(self, samples: list[tuple[float, float, str]]) -> tuple[list[tuple[float, float, str]], Any]:
        """Rows due among `samples` and the resulting (last, pending) state; the state is not changed."""
        edges = self.posture_edges_mm
        last, pending = self._last, self._pending
        rows = []
        for s in samples:
            verdict = _height_decision(last, s[0], s[1], edges)
            if verdict is _LOG:
                rows.append(s)
                last, pending = (s[0], s[1]), None
            else:
                pending = s if verdict is _HOLD else None
        return rows, (last, pending)

    def log_height(self, t: float, height_mm: float | None, source: str = "sensor") -> bool:
        """Offer a height sample (None: height unknown) to the log; True if a row was written
        (see `should_log_height`). Cheap when no row is due: call it with every estimate."""
        return self.log_heights([(t, height_mm, source)]) == 1

    def log_heights(self, samples: Iterable[tuple[float, float | None, str]]) -> int:
        """Offer many samples (a batching writer, an import): same policy, one transaction. Returns rows written."""
        checked = [self._sample(*s) for s in samples]        # all valid, or nothing written
        with self._lock:
            rows, state = self._apply_policy(checked)
            if rows:
                with self._tx():
                    self._conn.executemany("INSERT INTO height_log (t, height_mm, source) VALUES (?, ?, ?)", rows)
            self._last, self._pending = state                # only once committed
            return len(rows)

    def flush_heights(self) -> bool:
        """Write a change held back by the one-row-a-second limit (called on close). True if written."""
        with self._lock:
            s = self._pending
            if s is None or self._closed:
                return False
            with self._tx() as db:
                db.execute("INSERT INTO height_log (t, height_mm, source) VALUES (?, ?, ?)", s)
            self._last, self._pending = (s[0], s[1]), None
            return True

    @property
    def last_logged_height(self) -> tuple[float, float | None] | None:
        """(t, height_mm) of the last row, the reference for the change-only policy."""
        with self._lock:
            return self._last

    def heights_between(self, t0: float, t1: float, *, include_previous: bool = False) -> list[HeightSample]:
        """Rows with t0 <= t < t1, in time order. With include_previous, also the last row before t0
        (the height the desk was at when the window opened)."""
        a, b = _time("t0", t0), _time("t1", t1)
        with self._read() as conn:
            rows = conn.execute("SELECT t, height_mm, source FROM height_log WHERE t >= ? AND t < ? ORDER BY t",
                                [a, b]).fetchall()
            if include_previous:
                prev = conn.execute("SELECT t, height_mm, source FROM height_log WHERE t < ? ORDER BY t DESC LIMIT 1",
                                    [a]).fetchone()
                if prev is not None:
                    rows.insert(0, prev)
        return [HeightSample(float(t), None if h is None else float(h), s) for t, h, s in rows]

    def purge(self, now: float, retention_days: float = RETENTION_DAYS) -> dict[str, int]:
        """Delete height-log, reminder and audit rows older than the retention; returns rows deleted per table."""
        cutoff = _time("now", now) - 86400.0 * _number("retention_days", retention_days, 1, 36500, "days",
                                                           optional=False)
        with self._tx() as db:
            counts = {
                "height_log": db.execute("DELETE FROM height_log WHERE t < ?", [cutoff]).rowcount,
                "reminders": db.execute("DELETE FROM reminders WHERE shown_at < ?", [cutoff]).rowcount,
                "audit": db.execute("DELETE FROM audit WHERE t < ?", [cutoff]).rowcount,
            }
        with self._read() as conn:
            conn.execute("PRAGMA incremental_vacuum").fetchall()     # hand freed pages back to the filesystem
        return counts

    # ------------------------------------------------------------------------------------ audit

    def append_audit(self, source: str, action: str, *, user: str | None = None,
                     detail: dict[str, Any] | None = None, remote: str | None = None,
                     t: float | None = None) -> int:
        """Record who/what asked the desk to move, and from where. Returns the entry's id."""
        source = _choice("source", source, AUDIT_SOURCES)
        action = _choice("action", action, AUDIT_ACTIONS)
        user = _text("user", user, 64)
        text = _json_doc("detail", detail, DETAIL_MAX_BYTES, optional=True)
        remote = _text("remote", remote, 128)
        when = time.time() if t is None else _time("t", t)
        with self._tx() as db:
            cur = db.execute("INSERT INTO audit (t, source, user, action, detail, remote) VALUES (?, ?, ?, ?, ?, ?)",
                             [when, source, user, action, text, remote])
            return int(cur.lastrowid)

    def list_audit(self, *, since: float | None = None, until: float | None = None, source: str | None = None,
                   user: str | None = None, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Audit entries, newest first; user matches case-insensitively."""
        where, args = self._time_window("t", since, until)
        if source is not None:
            where.append("source = ?")
            args.append(_choice("source", source, AUDIT_SOURCES))
        if action is not None:
            where.append("action = ?")
            args.append(_choice("action", action, AUDIT_ACTIONS))
        if user is not None:
            where.append("deskpi_casefold(user) = ?")
            args.append(_casefold(_text("user", user, 64)))
        sql = ("SELECT id, t, source, user, action, detail, remote FROM audit"
               + (" WHERE " + " AND ".join(where) if where else "") + f" ORDER BY t DESC, id DESC LIMIT {self._limit(limit)}")
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [AuditEntry(i, t, s, u, a, None if d is None else json.loads(d), r) for i, t, s, u, a, d, r in rows]

    # ---------------------------------------------------------------------------------- API tokens

    def create_token(self, user: str, label: str = "", *, now: float | None = None) -> tuple[int, str]:
        """A new API token for `user`: (id, the token). The token itself is shown once and never stored."""
        label = _text("label", label or None, 64) or ""
        created = time.time() if now is None else _time("now", now)
        secret = secrets.token_urlsafe(32)
        with self._tx() as db:
            row = self._require_user(user)
            cur = db.execute("INSERT INTO api_tokens (user_id, label, hash, created_at) VALUES (?, ?, ?, ?)",
                             [row["id"], label, _token_hash(secret), created])
            token_id = int(cur.lastrowid)
        return token_id, f"{TOKEN_PREFIX}{token_id}_{secret}"

    def user_for_token(self, token: Any, *, now: float | None = None, touch: bool = True) -> User | None:
        """The user a token belongs to, or None for anything that is not a live token."""
        if not isinstance(token, str) or len(token) > 200:
            return None
        m = _TOKEN_RE.fullmatch(token)
        if m is None:
            return None
        token_id, secret = int(m.group(1)), m.group(2)
        with self._read() as conn:
            row = conn.execute("SELECT user_id, hash, last_used_at FROM api_tokens WHERE id = ?",
                               [token_id]).fetchone()
            if row is None or not hmac.compare_digest(row[1], _token_hash(secret)):
                return None
            cur = conn.execute("SELECT * FROM users WHERE id = ?", [row[0]])
            found = cur.fetchone()
            user = None if found is None else self._user(dict(zip([d[0] for d in cur.description], found)))
        t = time.time() if now is None else now
        if touch and (row[2] is None or t - row[2] >= 60):   # a script polling many times a second must not fsync each time
            with self._tx() as db:
                db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [t, token_id])
        return user

    def list_tokens(self, user: str) -> list[dict[str, Any]]:
        with self._read():
            row = self._require_user(user)
            cur = self._conn.execute("SELECT id, label, created_at, last_used_at FROM api_tokens "
                                     "WHERE user_id = ? ORDER BY id", [row["id"]])
            return [dict(zip(("id", "label", "created_at", "last_used_at"), r)) for r in cur.fetchall()]

    def revoke_token(self, token_id: Any, *, user: str | None = None) -> bool:
        """Delete a token (only `user`'s, when given). True if one was deleted."""
        if not isinstance(token_id, int) or isinstance(token_id, bool):
            raise _fail("token id", token_id, "a whole number from `deskpi token list`")
        with self._tx() as db:
            if user is None:
                cur = db.execute("DELETE FROM api_tokens WHERE id = ?", [token_id])
            else:
                row = self._require_user(user)
                cur = db.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", [token_id, row["id"]])
            return cur.rowcount > 0

    # ------------------------------------------------------------------------------ web sessions

    def create_session(self, user: str, *, now: float | None = None) -> str:
        """A new sign-in session for `user`; returns its id (only a hash of it is stored)."""
        sid = secrets.token_urlsafe(32)
        with self._tx() as db:
            row = self._require_user(user)
            db.execute("INSERT INTO web_sessions (user_id, sid_hash, created_at) VALUES (?, ?, ?)",
                       [row["id"], _token_hash(sid), time.time() if now is None else now])
        return sid

    def user_for_session(self, sid: Any, *, max_age_s: float, now: float | None = None) -> User | None:
        """The user of a live session no older than max_age_s, or None."""
        if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
            return None
        t = time.time() if now is None else now
        with self._read() as conn:
            cur = conn.execute("SELECT u.* FROM web_sessions s JOIN users u ON u.id = s.user_id "
                               "WHERE s.sid_hash = ? AND s.created_at > ?", [_token_hash(sid), t - max_age_s])
            found = cur.fetchone()
            return None if found is None else self._user(dict(zip([d[0] for d in cur.description], found)))

    def end_session(self, sid: Any) -> None:
        if isinstance(sid, str) and len(sid) <= 100:
            with self._tx() as db:
                db.execute("DELETE FROM web_sessions WHERE sid_hash = ?", [_token_hash(sid)])

    def end_sessions(self, user: str, *, older_than: float | None = None) -> int:
        """End every session of `user` (or only those created before `older_than`). Returns how many."""
        with self._tx() as db:
            row = self._require_user(user)
            if older_than is None:
                cur = db.execute("DELETE FROM web_sessions WHERE user_id = ?", [row["id"]])
            else:
                cur = db.execute("DELETE FROM web_sessions WHERE user_id = ? AND created_at < ?",
                                 [row["id"], older_than])
            return cur.rowcount

    def reader(self) -> "Store":
        """A second, read-only connection for hot read paths (a web request checking who is asking):
        in WAL mode it reads the last commit without waiting behind a writer's fsync."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self._timeout_s,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout_s * 1000)}")
            conn.create_function("deskpi_casefold", 1, _casefold, deterministic=True)
            return Store(Database(conn, execute_plugins=False), self.path, None, timeout_s=self._timeout_s)
        except BaseException:
            conn.close()
            raise

    # ---------------------------------------------------------------------------- backup/restore

    def backup(self, dest: str | os.PathLike[str]) -> Path:
        """A consistent copy of the live database (SQLite online backup API) at `dest`, written atomically."""
        dest = Path(dest)
        if dest.exists() and dest.resolve() == self.path.resolve():
            raise _fail("dest", str(dest), "a path other than the live database")
        with self._read():
            pass                                       # closed-store check; the copy itself needs no lock
        _online_copy(self.path, dest, self._timeout_s)
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
            raise _fail("src", str(src), "an existing backup file")
        if target.exists() and src.resolve() == target.resolve():
            raise _fail("src", str(src), "a backup, not the live database itself")
        stage_in = data_dir if data_dir.is_dir() else None
        with tempfile.TemporaryDirectory(prefix=".deskpi-restore-", dir=stage_in) as tmp:
            staged = Path(tmp) / DB_NAME
            shutil.copyfile(src, staged)
            if Path(f"{src}-wal").is_file():                 # a copied live database: its WAL holds commits
                shutil.copyfile(f"{src}-wal", f"{staged}-wal")
            version = _check_and_upgrade(staged, src)
            data_dir.mkdir(parents=True, exist_ok=True)
            lock_fd = _flock(target, exclusive=True, timeout_s=timeout_s)
            try:
                previous = cls._keep_previous(target, time.time() if now is None else now)
                _remove_quietly(*_sidecars(target))          # before the rename: an old WAL must never meet the new file
                if stage_in is None:                         # staged on another filesystem: copy next to target first
                    near = target.with_name(f".{DB_NAME}.restore.tmp")
                    shutil.copyfile(staged, near)
                    staged = near
                _fsync_file(staged)
                os.replace(staged, target)
                _fsync_dir(data_dir)
            finally:
                _unlock(lock_fd)
                _remove_quietly(target.with_name(f".{DB_NAME}.restore.tmp"))
        return RestoreResult(target, previous, version)

    @staticmethod
    def _keep_previous(target: Path, now: float) -> Path | None:
        if not target.exists():
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
        bak = target.with_name(f"{target.name}.{stamp}.bak")
        n = 2
        while bak.exists():
            bak = target.with_name(f"{target.name}.{stamp}-{n}.bak")
            n += 1
        try:
            _online_copy(target, bak)                        # includes what is still in its WAL
        except (sqlite3.Error, StoreError):
            shutil.copyfile(target, bak)                     # a damaged database is kept byte for byte
            if Path(f"{target}-wal").is_file():
                shutil.copyfile(f"{target}-wal", f"{bak}-wal")
        return bak

    # ----------------------------------------------------------------- several writes at once (deskpi apply)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Self]:
        """Run several public methods as one transaction: all of them happen, or (on any exception) none.

        Reads inside see the transaction's own writes; other processes wait for it
        (BEGIN IMMEDIATE), so a desired state is compared and changed in one step.
        """
        with self._tx():
            yield self
