"""Files that are never half-written and locks that two processes agree on.

Every file deskpi writes (config, presets, the learned stop model, the motor
pins, the session secret, a restored database) goes through `atomic_write`: a
reader, or a power cut, sees the old file or the new one, never a torn one.
Every cross-process lock is an flock on a `.lock` file beside what it guards,
through `FileLock`: closing the descriptor releases it, so a crashed holder
never leaves a lock behind.
"""
from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:                                       # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

POLL_S = 0.05


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (not every filesystem lets a directory be fsynced)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file that something else wrote (SQLite's backup API, a copy) to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install(staged: Path, path: Path) -> None:
    """Put a fully written file in place durably: fsync it, rename it over `path`, fsync the directory.

    For files written by something other than `atomic_write` (a database copy); `staged` must be
    on the same filesystem as `path`, so the rename is atomic.
    """
    fsync_file(staged)
    os.replace(staged, path)
    fsync_dir(path.parent)


def atomic_write(path: Path, data: str | bytes, *, mode: int = 0o644) -> None:
    """Replace `path` by `data`: temporary file in the same directory, fsync, rename, fsync the directory.

    A file that already exists keeps its mode and (when run as root) its owner,
    so the service user can still read a file an admin rewrote with sudo; a new
    file gets `mode`, set before it has its public name. A full file system
    raises `StorageFull` (an OSError saying so), the old file untouched.
    """
    try:
        _atomic_write(path, data, mode)
    except OSError as exc:
        # storage (logging, sqlite3) and tempfile are imported where used: the config reads its file through
        # this module, and `deskpi status` reads the config.
        from deskpi.util.storage import as_storage_full, is_storage_full

        if is_storage_full(exc):
            raise as_storage_full(exc, f"writing {path}") from exc
        raise


def _atomic_write(path: Path, data: str | bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, old.st_mode & 0o7777 if old else mode)
        if old is not None and os.geteuid() == 0:
            os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


#: The most deskpi reads of a file it is handed (a config, a desired state, a plan): each is a few KiB.
INPUT_MAX_BYTES = 1024 * 1024


class InputTooLarge(ValueError):
    """A file (or standard input) holds more than deskpi reads of it."""

    def __init__(self, where: str, limit: int, what: str) -> None:
        self.where, self.limit = where, limit
        shown = f"{limit // 1024 // 1024} MiB ({limit} bytes)" if limit % (1024 * 1024) == 0 else f"{limit} bytes"
        self.reason = f"more than {shown}; {what} may be at most that"
        super().__init__(f"{where}: {self.reason}")


def read_capped(path: str | os.PathLike[str], limit: int = INPUT_MAX_BYTES, *, what: str = "a file",
                dash_is_stdin: bool = False) -> bytes:
    """The bytes of the file at `path` (with dash_is_stdin, '-' is standard input), or InputTooLarge if it holds
    more than `limit`.

    Reads at most limit + 1 bytes, so /dev/zero, a runaway pipe or a huge file never fills the memory.
    """
    if dash_is_stdin and str(path) == "-":
        import sys

        stream = sys.stdin.buffer if sys.stdin is not None else None
        data = b"" if stream is None else stream.read(limit + 1)
        where = "standard input"
    else:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
        where = str(path)
    if len(data) > limit:
        raise InputTooLarge(where, limit, what)
    return data


def read_text_capped(path: str | os.PathLike[str], limit: int = INPUT_MAX_BYTES, *, what: str = "a file",
                     dash_is_stdin: bool = False) -> str:
    """`read_capped` as UTF-8 text with universal newlines, as Path.read_text gives it (UnicodeDecodeError if
    it is not UTF-8)."""
    text = read_capped(path, limit, what=what, dash_is_stdin=dash_is_stdin).decode("utf-8")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def lock_path(path: Path) -> Path:
    """The lock file that guards `path`."""
    return path.with_name(path.name + ".lock")


class FileLock:
    """An flock on a file: shared or exclusive, waited for up to a timeout, held until released."""

    def __init__(self, path: Path, *, shared: bool = False, mode: int = 0o644) -> None:
        self.path = path
        self.shared = shared
        self.mode = mode
        self.fd: int | None = None

    def acquire(self, timeout_s: float = 0.0) -> bool:
        """Take the lock, waiting up to timeout_s; False when someone else still holds it."""
        if fcntl is None:                                 # pragma: no cover
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, self.mode)
        how = (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, how)
                self.fd = fd
                return True
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(POLL_S)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)                             # closing the descriptor releases the flock
            self.fd = None


@contextlib.contextmanager
def file_lock(path: Path, *, timeout_s: float, shared: bool = False,
              busy: Callable[[], BaseException]) -> Iterator[FileLock]:
    """Hold a lock on `path` for a `with` block; raise busy() when it is not free within timeout_s."""
    lock = FileLock(path, shared=shared)
    if not lock.acquire(timeout_s):
        raise busy()
    try:
        yield lock
    finally:
        lock.release()
