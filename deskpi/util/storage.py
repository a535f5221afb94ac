"""A full disk, said once and plainly: recognising it, the error a person sees, and the flag that shows it.

A Raspberry Pi's SD card fills up (logs, a runaway backup script). Then SQLite
answers SQLITE_FULL ("database or disk is full") and a file write fails with
ENOSPC (or EDQUOT under a quota). Every layer that writes turns those into a
`StorageFull` (an OSError, so code that already handles file errors keeps
working) with one message that says what happened and what to do, and tells
the store's `StorageMonitor`, which:

- keeps the flag the state snapshot, `deskpi status` and `deskpi doctor` show
  (``{"full": true, "since": <unix time>, "detail": "..."}``), cleared by the
  next write that succeeds;
- logs the trouble when it starts and when writes succeed again, never more
  than one message a minute however many writes fail (a phone retrying, the
  height log every few seconds): the count of failures goes in the next one.

Motion never waits for the disk (deskpi/daemon/recorder.py), so a full disk
costs the height log and the audit trail, never the desk.
"""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable

log = logging.getLogger("deskpi.storage")

#: How often a full disk is logged while it lasts.
LOG_EVERY_S = 60.0
#: SQLite's primary result code for "database or disk is full".
SQLITE_FULL = 13
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
WHAT_TO_DO = ("free some space on the desk's SD card (old logs: sudo journalctl --vacuum-size=50M; "
              "old backups) and run `deskpi doctor`")


class StorageFull(OSError):
    """A write failed because the file system (or SQLite's size limit) is full."""

    def __init__(self, detail: str, *, code: int = errno.ENOSPC, filename: str | None = None) -> None:
        # strerror is the whole message: code that reports an OSError by its strerror (the CLI) says it all.
        super().__init__(code, f"the desk's storage is full: {detail}; {WHAT_TO_DO}", filename)
        self.detail = detail
        self.noted = False              # counted by a StorageMonitor already

    @property
    def message(self) -> str:
        return f"the desk's storage is full: {self.detail}; {WHAT_TO_DO}"

    def __str__(self) -> str:
        return self.message


def is_storage_full(exc: BaseException) -> bool:
    """Whether `exc` (or what it was raised from) means the storage is full."""
    current: BaseException | None = exc
    for _ in range(5):                                   # a chain of causes, not a cycle
        if current is None:
            return False
        if isinstance(current, StorageFull):
            return True
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if (code is not None and code & 0xFF == SQLITE_FULL) or "database or disk is full" in str(current):
                return True
        elif isinstance(current, OSError) and current.errno in FULL_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


def no_room(directory: str | os.PathLike[str], *, below: int = 64 * 1024) -> bool:
    """Whether the file system of `directory` has (almost) no space left for us.

    SQLite says "disk I/O error", not "full", when it cannot even create its shared-memory file
    to open a database on a full disk; this tells the two apart."""
    try:
        st = os.statvfs(directory)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < below


def as_storage_full(exc: BaseException, what: str) -> StorageFull:
    """The StorageFull for `exc` (which must be one, see is_storage_full) while doing `what`."""
    if isinstance(exc, StorageFull):
        return exc
    code = exc.errno if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS else errno.ENOSPC
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    filename = exc.filename if isinstance(exc, OSError) else None
    return StorageFull(f"{what} failed ({reason})", code=code, filename=filename)


class StorageMonitor:
    """Whether writes are failing for want of space, since when, and a log that says so once a minute.

    Thread-safe; `failed` and `succeeded` are cheap enough for every write.
    """

    def __init__(self, *, wall_clock: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic, every_s: float = LOG_EVERY_S,
                 logger: logging.Logger = log) -> None:
        self.wall_clock = wall_clock
        self.clock = clock
        self.every_s = every_s
        self.log = logger
        self._lock = threading.Lock()
        self._since: float | None = None
        self._detail: str | None = None
        self._failures = 0              # since the flag was raised
        self._unlogged = 0              # failures not yet in the log
        self._logged_at: float | None = None

    @property
    def full(self) -> bool:
        return self._since is not None

    def failed(self, exc: StorageFull) -> None:
        """A write failed for want of space: raise the flag; say so in the log unless it spoke within the minute."""
        if exc.noted:
            return
        exc.noted = True
        with self._lock:
            if self._since is None:
                self._since = self.wall_clock()
            self._detail = exc.detail
            self._failures += 1
            self._unlogged += 1
            if not self._log_due():
                return
            count, self._unlogged = self._unlogged, 0
        self.log.error("%s%s", exc.message, f" ({count} failed writes since the last message)" if count > 1 else "")

    def succeeded(self) -> None:
        """A write went through: clear the flag (and say so, unless the log spoke within the minute)."""
        if self._since is None:             # the common case: no lock taken
            return
        with self._lock:
            if self._since is None:
                return
            failures, since = self._failures, self._since
            self._since, self._detail, self._failures, self._unlogged = None, None, 0, 0
            if not self._log_due():
                return
        self.log.warning("the desk's storage accepts writes again, after %d failed writes since %s",
                         failures, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)))

    def _log_due(self) -> bool:
        # One budget for both messages: a disk that lets some writes through and not others
        # (the height log fits, a sign-in does not) must not flap in the log on every request.
        now = self.clock()
        if self._logged_at is not None and now - self._logged_at < self.every_s:
            return False
        self._logged_at = now
        return True

    def view(self) -> dict:
        """What the state snapshot, `deskpi status --json` and the page show."""
        with self._lock:
            since, detail = self._since, self._detail
        out: dict = {"full": since is not None, "since": None if since is None else round(since, 1)}
        if since is not None:
            out["detail"] = detail
            out["message"] = f"the desk's storage is full: {detail}; {WHAT_TO_DO}"
        return out


def healthy_view() -> dict:
    """The storage view of a desk that keeps no data (nothing can fill up)."""
    return {"full": False, "since": None}
