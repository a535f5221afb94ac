"""Fixtures shared by the tests that talk to real processes and sockets: an sd_notify socket, the `deskpi` CLI."""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pin_local_day() -> None:
    """Run the suite in a fixed-offset zone where it is late morning now, so local midnight never passes
    during a run.

    A page, the CLI and a test each ask for "today" at their own moment; a run that crosses midnight (as
    a CI run started at 23:50 does) would have them rightly disagree. The zone is set before any test
    module is imported and is inherited by every process the suite starts (the simulator, the CLI,
    Chromium). DESKPI_TEST_TZ chooses the zone instead (e.g. to run the suite across a real midnight).
    """
    import time

    zone = os.environ.get("DESKPI_TEST_TZ")
    if zone:
        os.environ["TZ"] = zone
        time.tzset()
        return
    now = time.gmtime()
    east = round(10 - now.tm_hour - now.tm_min / 60)     # hours east of UTC that make it ~10:00 here
    if east < -12:                                        # Etc/GMT zones span UTC-12 .. UTC+14
        east += 24
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Etc/UTC" if east == 0 else f"Etc/GMT{-east:+d}"     # Etc/GMT-3 is UTC+3 (POSIX sign)
    time.tzset()
    if time.localtime().tm_gmtoff != east * 3600:
        # No time-zone database on this machine: the C library fell back to UTC while Python's
        # zoneinfo (the PyPI tzdata) would not, and the two would disagree on today. Run as before.
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()
        print("tests/conftest.py: no system time-zone database (Debian: tzdata); a run that crosses "
              "midnight may fail", file=sys.stderr)


_pin_local_day()


def _not_json(name: str) -> Any:
    """NaN and Infinity are Python's, not JSON's: jq, browsers and other languages refuse them."""
    raise AssertionError(f"--json printed {name}, which is not JSON (null says a value is missing)")


class Cli:
    """Runs `deskpi ARGS` the way facilities staff and scripts do, and returns the CompletedProcess.

    `cli(...)` is a real process (`python -m deskpi`, no terminal: stdin is `input` or empty);
    `cli.main(...)` runs the same `main()` in this process, for fast tests and monkeypatching;
    `cli.json(...)` checks the exit code and that stdout is exactly one JSON document, and returns it;
    `cli.error(...)` also checks that it is an error: {"error": ..., "exit_code": N, "problems": [...]}.
    """

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None,
                 timeout: float = 120.0) -> subprocess.CompletedProcess:
        """`env`: variables to set over this process's environment (None: unset it)."""
        environ = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
        return subprocess.run([sys.executable, "-m", "deskpi", *args], capture_output=True, text=True,
                              input=input, stdin=subprocess.DEVNULL if input is None else None,
                              timeout=timeout, cwd=ROOT, env=environ, check=False)

    def main(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        from deskpi.cli.main import main

        out, err = io.StringIO(), io.StringIO()
        stdin = io.TextIOWrapper(io.BytesIO((input or "").encode()))
        old_stdin, sys.stdin = sys.stdin, stdin
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(list(args))
        except SystemExit as exc:                # a usage error (argparse), or a daemon that cannot start
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        finally:
            sys.stdin = old_stdin
        return subprocess.CompletedProcess(["deskpi", *args], code, out.getvalue(), err.getvalue())

    def json(self, *args: str, exit_code: int = 0, **kw: Any) -> Any:
        return self.parse(self(*args, **kw), exit_code)

    def error(self, *args: str, exit_code: int = 1, **kw: Any) -> dict[str, Any]:
        """Run a failing `--json` command; its error in the one shape every command uses."""
        return self.parse_error(self(*args, **kw), exit_code)

    @staticmethod
    def parse(proc: subprocess.CompletedProcess, exit_code: int = 0) -> Any:
        """The one JSON document a `--json` run printed, after checking its exit code."""
        assert proc.returncode == exit_code, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"--json must print exactly one line, got {len(lines)}:\n{proc.stdout}"
        return json.loads(lines[0], parse_constant=_not_json)

    @classmethod
    def parse_error(cls, proc: subprocess.CompletedProcess, exit_code: int = 1) -> dict[str, Any]:
        doc = cls.parse(proc, exit_code)
        assert set(doc) == {"error", "exit_code", "problems"} and doc["error"], doc
        assert doc["exit_code"] == exit_code and isinstance(doc["problems"], list), doc
        return doc


@pytest.fixture(scope="session")
def cli() -> Cli:
    """The `deskpi` command line: `cli(*args)`, `cli.json(*args)`, `cli.error(*args)`, `cli.main(*args)`."""
    return Cli()


@pytest.fixture
def notify_socket(tmp_path):
    """A real sd_notify socket: yields (path, messages received so far)."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    messages: list[str] = []
    stop = threading.Event()

    def pump():
        while not stop.is_set():
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass
            except OSError:
                return

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    yield path, messages
    stop.set()
    t.join(2)
    sock.close()
