"""The `deskpi sim` process a soak runs against: its data, its users, its start and stop, and what
the kernel says about it (threads, open file descriptors, resident memory) while it runs.

The simulator is a subprocess, so the load does not share an interpreter (or its GIL) with the
daemon being measured; it is told to stop with SIGTERM like systemd would, and it dies with the
bench even if the bench is killed (PR_SET_PDEATHSIG). Everything lives in one temporary directory,
removed by `close()`.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from deskpi.bench.soak_http import Client, Tally

ADMIN = ("soak", "4711")
PR_SET_PDEATHSIG = 1
#: Wide duty-cycle limits: the soak moves the desk a lot on purpose, and a resting motor is not a missed press.
CONFIG = """[web]
require_claim = false
{web}[desk]
duty_max_on_s = 590
duty_window_s = 600
"""


def die_with_parent() -> None:      # runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def phone_users(phones: int) -> list[tuple[str, str]]:
    return [(f"phone{i}", f"{5100 + i}") for i in range(1, phones + 1)]


class SoakSim:
    def __init__(self, phones: int, seed: int, *, web_config: str = "",
                 preexec: Callable[[], None] | None = None) -> None:
        self.web_config = web_config        # more [web] settings, a line each (e.g. "workers = 48\n")
        self.preexec = preexec              # run in the sim's process before exec (CPU, priority)
        self.dir = Path(tempfile.mkdtemp(prefix="deskpi-bench-soak-"))
        self.data = self.dir / "data"
        self.phones = phone_users(phones)
        self.seed = seed
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.token = ""
        self.exit_code: int | None = None

    # -- setting up --------------------------------------------------------------------------
    def _cli(self, *args: str, pin: str | None = None) -> str:
        cmd = [sys.executable, "-m", "deskpi.cli", "--data-dir", str(self.data), *args]
        out = subprocess.run(cmd, input=None if pin is None else pin + "\n", text=True, capture_output=True,
                             timeout=120, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"`deskpi {' '.join(args)}` failed ({out.returncode}): {out.stderr.strip()[-300:]}")
        return out.stdout.strip()

    def start(self) -> None:
        """Users first (the first one, the bench's admin, is the owner and the active user), then the sim."""
        self._cli("user", "add", ADMIN[0], "--admin", "--pin-stdin", pin=ADMIN[1])
        for name, pin in self.phones:
            self._cli("user", "add", name, "--pin-stdin", pin=pin)
        self.launch()

    def launch(self) -> None:
        """The sim on the data directory as it is (the bench's admin already in it): its token, then the process."""
        (self.dir / "deskpi.toml").write_text(CONFIG.format(web=self.web_config))
        self.token = self._cli("token", "create", ADMIN[0], "--label", "soak").split()[-1]
        with open(self.dir / "sim.out", "w") as out, open(self.dir / "sim.log", "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "deskpi.cli", "--data-dir", str(self.data), "--config",
                 str(self.dir / "deskpi.toml"), "sim", "--host", "127.0.0.1", "--port", "0",
                 "--seed", str(self.seed)],
                stdout=out, stderr=log, stdin=subprocess.DEVNULL, preexec_fn=self._preexec)
        deadline = time.monotonic() + 60
        while not self.port:
            m = re.search(r"http://127\.0\.0\.1:(\d+)/", (self.dir / "sim.out").read_text())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"deskpi sim did not start: {self.log_tail()}")
            else:
                time.sleep(0.1)
        probe = Client(self.port, Tally(), token=self.token)
        try:
            while probe.state().get("height_mm") is None:
                if time.monotonic() > deadline:
                    raise RuntimeError("the simulated desk never reported a height")
                time.sleep(0.1)
        finally:
            probe.close()

    def _preexec(self) -> None:
        die_with_parent()
        if self.preexec is not None:
            self.preexec()

    # -- watching ----------------------------------------------------------------------------
    def stats(self) -> dict | None:
        """Threads, open file descriptors and resident memory (kB) of the sim; None once it is gone."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        pid = self.proc.pid
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            return None
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return {"threads": int(fields["Threads"]), "fds": fds, "rss_kb": int(fields["VmRSS"].split()[0])}

    def log_tail(self, n: int = 600) -> str:
        try:
            return (self.dir / "sim.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def log_size(self) -> int:
        """Where the sim's log ends now (for `log_since`)."""
        try:
            return (self.dir / "sim.log").stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int, lines: int = 6) -> list[str]:
        """The last few lines the sim logged after `offset`."""
        try:
            with open(self.dir / "sim.log", "rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return [line.strip()[:300] for line in text.splitlines()[-lines:]]

    def log_summary(self) -> dict:
        """Tracebacks and ERROR lines the sim logged (the first few shown), counted over the whole run."""
        tracebacks = errors = 0
        examples: list[str] = []
        with contextlib.suppress(OSError), open(self.dir / "sim.log", errors="replace") as log:
            for line in log:
                if line.startswith("Traceback"):
                    tracebacks += 1
                elif " ERROR " in line or " CRITICAL " in line:
                    errors += 1
                    if len(examples) < 5:
                        examples.append(line.strip()[:300])
        return {"tracebacks": tracebacks, "error_lines": errors, "examples": examples}

    # -- ending ------------------------------------------------------------------------------
    def stop(self) -> None:
        """SIGTERM, as systemd stops it; SIGKILL only if it does not end within 30 s."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            self.exit_code = None if proc is None else proc.returncode
            return
        proc.terminate()
        try:
            self.exit_code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            self.exit_code = "killed after 30 s"  # type: ignore[assignment]

    def integrity(self) -> dict:
        """SQLite's own checks of the sim's database, after the sim has stopped."""
        db = self.data / "deskpi.db"
        if not db.exists():
            return {"ok": False, "integrity_check": f"{db} is missing"}
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            fk = conn.execute("PRAGMA foreign_key_check").fetchall()
            counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                      for t in ("audit", "web_sessions", "reminders", "height_log")}
        except sqlite3.Error as exc:
            return {"ok": False, "integrity_check": f"{type(exc).__name__}: {exc}"}
        finally:
            conn.close()
        check = "ok" if rows == ["ok"] else rows[:10]
        return {"ok": check == "ok" and not fk, "integrity_check": check, "foreign_key_violations": len(fk),
                "rows": counts}

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
