"""util.files: the one atomic write and the one cross-process lock every module uses."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest

from deskpi.util.files import FileLock, atomic_write, file_lock, install, lock_path


def test_atomic_write_creates_the_file_with_the_mode_asked_for(tmp_path):
    path = tmp_path / "sub" / "secret"
    atomic_write(path, b"\x00\x01", mode=0o600)
    assert path.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "deskpi.toml"
    path.write_text("old")
    path.chmod(0o640)
    atomic_write(path, "new")                   # default mode 0o644 must not loosen an existing file
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_old_file_and_no_temporary_behind(tmp_path):
    path = tmp_path / "presets.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        atomic_write(path, 42)                   # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["presets.json"]


def test_install_puts_a_written_file_in_place(tmp_path):
    staged, target = tmp_path / ".staged", tmp_path / "deskpi.db"
    staged.write_bytes(b"copy")
    target.write_bytes(b"old")
    install(staged, target)
    assert target.read_bytes() == b"copy" and not staged.exists()


def test_the_lock_file_sits_beside_what_it_guards(tmp_path):
    assert lock_path(tmp_path / "deskpi.toml") == tmp_path / "deskpi.toml.lock"


HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from deskpi.util.files import FileLock
    lock = FileLock(Path(sys.argv[1]), shared=sys.argv[2] == "shared")
    assert lock.acquire(5)
    print("held", flush=True)
    sys.stdin.readline()
""")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock (flock is per open file description: a thread would not do)."""
    procs = []

    def hold(kind: str):
        p = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "x.lock"), kind], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        assert p.stdout.readline().strip() == "held"
        procs.append(p)
        return p

    yield hold
    for p in procs:
        p.stdin.close()
        p.wait(timeout=10)
        p.stdout.close()


def test_an_exclusive_lock_waits_its_timeout_then_gives_up(tmp_path, holder):
    holder("exclusive")
    lock = FileLock(tmp_path / "x.lock")
    assert lock.acquire(timeout_s=0.1) is False
    assert lock.fd is None


def test_shared_locks_coexist_and_keep_an_exclusive_one_out(tmp_path, holder):
    holder("shared")
    shared = FileLock(tmp_path / "x.lock", shared=True)
    assert shared.acquire(0.1)
    shared.release()
    assert FileLock(tmp_path / "x.lock").acquire(0.1) is False


def test_file_lock_raises_what_the_caller_says_when_busy(tmp_path, holder):
    holder("exclusive")
    with pytest.raises(TimeoutError, match="someone else"), \
            file_lock(tmp_path / "x.lock", timeout_s=0.1, busy=lambda: TimeoutError("someone else has it")):
        pass


def test_releasing_lets_the_next_holder_in(tmp_path):
    path = tmp_path / "x.lock"
    with file_lock(path, timeout_s=0.1, busy=RuntimeError) as lock:
        assert lock.fd is not None
    assert lock.fd is None
    again = FileLock(path)
    assert again.acquire(0.1)
    again.release()
