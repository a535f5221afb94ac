"""util.storage: a full disk recognised from real errors, one plain message, a flag, a log once a minute."""
from __future__ import annotations

import errno
import logging
import sqlite3

import pytest
from helpers import ManualClock, fill_file_system, small_tmpfs

from deskpi.util.files import atomic_write
from deskpi.util.storage import StorageFull, StorageMonitor, as_storage_full, is_storage_full


def _dev_full_error() -> OSError:
    try:
        with open("/dev/full", "wb", buffering=0) as f:
            f.write(b"x")
    except OSError as exc:
        return exc
    raise AssertionError("/dev/full accepted a write")


def _sqlite_full_error(tmp_path) -> sqlite3.Error:
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("PRAGMA max_page_count = 1")           # clamps to the file's present size
    try:
        for _ in range(1000):
            conn.execute("INSERT INTO t VALUES (?)", ["x" * 1000])
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError("max_page_count did not stop the writes")


def test_real_full_errors_are_recognised_and_others_are_not(tmp_path):
    enospc = _dev_full_error()
    assert enospc.errno == errno.ENOSPC and is_storage_full(enospc)
    full = _sqlite_full_error(tmp_path)
    assert "database or disk is full" in str(full) and is_storage_full(full)
    assert is_storage_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    try:
        raise RuntimeError("wrapped") from full
    except RuntimeError as wrapped:
        assert is_storage_full(wrapped)
    for other in (OSError(errno.EACCES, "Permission denied"), sqlite3.OperationalError("database is locked"),
                  ValueError("database or disk"), FileNotFoundError(2, "No such file")):
        assert not is_storage_full(other), other


def test_the_message_says_the_storage_is_full_and_what_to_do(tmp_path):
    exc = as_storage_full(_dev_full_error(), "writing /var/lib/deskpi/presets.json")
    assert isinstance(exc, OSError) and exc.errno == errno.ENOSPC   # code that handles OSError still does
    assert str(exc).startswith("the desk's storage is full: writing /var/lib/deskpi/presets.json failed (")
    assert "deskpi doctor" in str(exc) and "free some space" in str(exc)
    assert as_storage_full(exc, "again") is exc


def test_the_flag_is_raised_by_a_failure_and_cleared_by_the_next_success():
    wall = ManualClock(1_700_000_000.0)
    mon = StorageMonitor(wall_clock=wall, clock=ManualClock(), logger=logging.getLogger("test.storage"))
    assert mon.view() == {"full": False, "since": None} and not mon.full
    mon.failed(StorageFull("writing to the database x failed (database or disk is full)"))
    wall.advance(5)
    mon.failed(StorageFull("writing y failed"))
    view = mon.view()
    assert view["full"] is True and view["since"] == 1_700_000_000.0          # since the first failure
    assert view["detail"] == "writing y failed" and view["message"].startswith("the desk's storage is full: ")
    mon.succeeded()
    assert mon.view() == {"full": False, "since": None}


def test_the_log_speaks_at_most_once_a_minute_however_many_writes_fail(caplog):
    clock = ManualClock()
    mon = StorageMonitor(clock=clock, logger=logging.getLogger("test.storage"))
    with caplog.at_level(logging.WARNING, logger="test.storage"):
        for _ in range(300):                      # a phone retrying, the height log: five a second for a minute
            mon.failed(StorageFull("writing to the database failed (database or disk is full)"))
            clock.advance(0.2)
        assert len(caplog.records) == 1 and "storage is full" in caplog.records[0].getMessage()
        clock.advance(1)
        mon.failed(StorageFull("still"))
        assert len(caplog.records) == 2 and "300 failed writes since the last message" in caplog.messages[1]
        # Writes that fail and succeed by turns (the height log fits, a sign-in does not) do not flap the log.
        for _ in range(50):
            mon.succeeded()
            mon.failed(StorageFull("flapping"))
            clock.advance(0.1)
        assert len(caplog.records) == 2
        clock.advance(60)
        mon.succeeded()
        assert len(caplog.records) == 3 and "accepts writes again" in caplog.messages[2]
    assert all(not r.exc_info for r in caplog.records), "no traceback for a full disk"


def test_the_same_error_is_counted_once_however_many_layers_see_it(caplog):
    clock = ManualClock()
    mon = StorageMonitor(clock=clock, logger=logging.getLogger("test.storage"))
    with caplog.at_level(logging.WARNING, logger="test.storage"):
        exc = StorageFull("x")
        mon.failed(exc)
        mon.failed(exc)              # the store saw it, then the web app's error handler
        clock.advance(61)
        mon.failed(StorageFull("y"))
    assert len(caplog.records) == 2 and "since the last message" not in caplog.messages[1], caplog.messages


def test_atomic_write_on_a_full_file_system_raises_storage_full_and_keeps_the_old_file(tmp_path):
    with small_tmpfs(tmp_path / "small", "256k") as small:
        path = small / "presets.json"
        path.write_text('{"1": 720.0}')
        fill_file_system(small)
        with pytest.raises(StorageFull) as caught:
            atomic_write(path, '{"1": 740.0}' + " " * 8192)
        assert caught.value.errno == errno.ENOSPC and str(path) in str(caught.value)
        assert path.read_text() == '{"1": 720.0}'
        assert sorted(p.name for p in small.iterdir()) == ["filler", "presets.json"]     # no temporary left
        (small / "filler").unlink()
        atomic_write(path, '{"1": 740.0}')
        assert path.read_text() == '{"1": 740.0}'


def test_a_preset_the_full_disk_refused_is_not_kept_in_memory_either(tmp_path):
    from deskpi.people.presets import PresetStore

    with small_tmpfs(tmp_path / "small", "256k") as small:
        presets = PresetStore(small / "presets.json", (640.0, 1260.0))
        presets.save(1, 720.0)
        fill_file_system(small)
        with pytest.raises(StorageFull):
            presets.save(1, 1000.0)
        assert presets.get(1) == 720.0 and PresetStore(small / "presets.json", (640.0, 1260.0)).get(1) == 720.0
        (small / "filler").unlink()
        assert presets.save(1, 1000.0) == 1000.0 and presets.get(1) == 1000.0


def test_the_cli_on_a_full_disk_says_so_in_one_line(cli, tmp_path):
    with small_tmpfs(tmp_path / "small", "4m") as small:
        assert cli("--data-dir", str(small), "user", "add", "Ada", "--json").returncode == 0
        conn = sqlite3.connect(small / "deskpi.db")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")            # every commit from now on grows the WAL
        conn.close()
        fill_file_system(small)
        p = cli("--data-dir", str(small), "user", "add", "Bob")
        assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.startswith("deskpi: the desk's storage is full: ") and "deskpi doctor" in p.stderr, p.stderr
        err = cli.parse_error(cli("--data-dir", str(small), "user", "add", "Bob", "--json"))
        assert err["error"].startswith("the desk's storage is full: ")
        (small / "filler").unlink()
        assert cli("--data-dir", str(small), "user", "add", "Bob", "--json").returncode == 0
