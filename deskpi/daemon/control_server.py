"""The daemon's control socket: how `deskpi status`, `move`, `calibrate` and `doctor` reach the live desk.

A Unix socket at ``<data_dir>/control.sock``. One JSON request per line, one
JSON reply per line::

    {"cmd": "status"}                    -> {"ok": true, "height_mm": 742.1, "state": "idle", ...}
    {"cmd": "move", "target_mm": 1100}   -> {"ok": true, "target_mm": 1100.0}
    {"cmd": "move", "target_mm": "x"}    -> {"ok": false, "error": "...", "code": 2}

Error codes are the CLI's exit codes (deskpi/exit_codes.py). Who may connect is
decided by the file system: the socket is mode 0660 and, on a real install, sits
in a data dir owned by the deskpi user and group with mode 0750, so only root
and members of the deskpi group get through. Anyone who can connect can move
the desk (as the web page can), so the group is the permission.

One daemon per data dir: the daemon holds an exclusive lock on
``<data_dir>/daemon.lock`` for its whole life. The kernel drops the lock when
the process dies, however it dies, so a socket file left behind by a crash is
known to be stale and is replaced, while a second daemon is refused.

Every request is handled on its connection's own thread, never on the control
loop; motion goes through the arbiter like any other remote request, so the
audit trail, priorities, child lock and fault latch apply unchanged.
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from deskpi import __version__, exit_codes
from deskpi.core.faults import MotionRefused
from deskpi.core.types import Caller, Source
from deskpi.daemon.client import SOCKET_NAME, connectable, encode, socket_path
from deskpi.util import checks
from deskpi.util.checks import InvalidValue
from deskpi.util.files import FileLock
from deskpi.util.storage import healthy_view

log = logging.getLogger(__name__)

LOCK_NAME = "daemon.lock"
SOCKET_MODE = 0o660
MAX_LINE_BYTES = 16 * 1024      # no request is anywhere near this; a longer line is garbage
IDLE_TIMEOUT_S = 120.0          # a silent client is dropped, so it cannot pin a thread for ever
MAX_CONNECTIONS = 16
MOVE_TIMEOUT_S = (1.0, 120.0)
CLI_DETAIL = "cli"              # the audit trail's "why" for motion asked for over this socket
CLI_CALLER = Caller("cli")      # ...and its source: the CLI, not the web (both are Source.REMOTE to the arbiter)


class DaemonAlreadyRunning(OSError):
    """Another daemon owns this data dir."""

    def __init__(self, data_dir: Path, pid: str) -> None:
        who = f" (pid {pid})" if pid else ""
        super().__init__(errno.EADDRINUSE,
                         f"another deskpi daemon{who} is already running on data dir {data_dir}; stop it first "
                         f"(sudo systemctl stop deskpi) or give this one another --data-dir")

    def __str__(self) -> str:
        return self.strerror


class RequestError(Exception):
    def __init__(self, message: str, code: int = exit_codes.USAGE) -> None:
        super().__init__(message)
        self.code = code


# ------------------------------------------------------------------------------------ validation
# Values are checked by deskpi.util.checks; dispatch turns an InvalidValue into a RequestError (exit code 2).

def _only(req: dict, allowed: tuple[str, ...]) -> None:
    checks.only_keys(f"field of {req['cmd']!r}", req, ("cmd", "id", *allowed))


def _number(req: dict, key: str, lo: float, hi: float, unit: str, *, default: float | None = None) -> float:
    if key not in req and default is not None:
        return default
    try:
        return checks.number(key, req.get(key), lo, hi, unit)
    except InvalidValue as exc:
        if key in req:
            raise
        raise RequestError(f"{key} is required: must be {exc.allowed}") from None


# -------------------------------------------------------------------------------------- handlers

class Handlers:
    """What the socket can ask of the daemon; each method takes the request and returns the reply fields."""

    def __init__(self, daemon) -> None:
        self.daemon = daemon
        self._calibrating = threading.Lock()    # one measured move at a time

    @property
    def parts(self):
        return self.daemon.parts

    def dispatch(self, req: Any) -> dict:
        if not isinstance(req, dict):
            raise RequestError(f"a request is a JSON object such as {{\"cmd\": \"status\"}}, got {type(req).__name__}")
        cmd = req.get("cmd")
        fn = COMMANDS.get(cmd) if isinstance(cmd, str) else None
        if fn is None:
            raise RequestError(f"cmd = {cmd!r}: unknown command; commands are {', '.join(sorted(COMMANDS))}")
        if self.parts is None:
            raise RequestError("the daemon is still starting; try again in a moment", exit_codes.REFUSED)
        try:
            return fn(self, req)
        except InvalidValue as exc:
            raise RequestError(str(exc)) from None

    # -- reading -----------------------------------------------------------------------------------
    def ping(self, req: dict) -> dict:
        _only(req, ())
        return {"version": __version__, "pid": os.getpid()}

    def status(self, req: dict) -> dict:
        _only(req, ())
        p, d = self.parts, self.daemon
        snap = p.service.snapshot()
        snap.pop("presets", None)
        with p.loop.lock:
            model = p.controller.model
            learned = {str(name): {"speed_mm_s": round(m.speed_mm_s, 2), "stop_lag_s": round(m.stop_lag_s, 3),
                                   "coast_mm": round(m.coast_mm, 1), "moves_learned_from": m.speed_n,
                                   # how far one stop lands from the learned coast (1 sd): judges a short stop
                                   "stop_scatter_mm": round(m.stop_lag_sd() * m.speed_mm_s, 1),
                                   **_learned_current(m)}
                       for name, m in (("up", model.up), ("down", model.down))}
            fault = p.controller.fault
        user = None
        storage = healthy_view() if p.store is None else p.store.storage.view()
        if p.store is not None:
            try:
                active = p.store.get_active_user()
                user = None if active is None else active.name
            except Exception:
                log.exception("status: cannot read the active user")
        snap.update({
            "fault_kind": None if fault is None else fault.kind.value,
            "active_user": user,
            "storage": storage,
            "uptime_s": round(time.monotonic() - d.started_at, 1),
            "ready": d.ready_at is not None,
            "version": __version__,
            "pid": os.getpid(),
            "data_dir": str(d.data_dir),
            "learned": learned,
            "current": self._current_state(),
            "tolerance_mm": p.controller.cfg.tolerance_mm,
            "mqtt": None if p.mqtt is None else p.mqtt.status(),
        })
        return snap

    def sensor(self, req: dict) -> dict:
        """Ping statistics over a short window, for `deskpi doctor`: rate, usable share, noise."""
        _only(req, ("seconds",))
        seconds = _number(req, "seconds", 0.2, 10.0, "seconds", default=1.5)
        p = self.parts
        est = p.controller.estimator
        with p.loop.lock:
            before = {k.value: n for k, n in est.counts.items()}
        t0 = time.monotonic()
        time.sleep(seconds)           # this connection's own thread: nothing else waits
        now = time.monotonic()
        with p.loop.lock:
            after = {k.value: n for k, n in est.counts.items()}
            fresh = est.is_fresh(p.loop.clock())
            window_noise = est.noise_mm()
            pooled = p.controller.noise_mm
            height = p.controller.height_mm()
        counts = {k: after[k] - before.get(k, 0) for k in after}
        total = sum(counts.values())
        s = p.sensor
        return {
            "seconds": round(now - t0, 3), "pings": total, "counts": counts,
            "rate_hz": round(total / (now - t0), 2),
            "usable": None if total == 0 else round(counts.get("accepted", 0) / total, 3),
            "expected_rate_hz": {"idle": round(1 / s.idle_interval_s, 2), "moving": round(1 / s.interval_s, 2)},
            "noise_mm": None if window_noise is None else round(window_noise, 2),
            "learned_noise_mm": round(pooled, 2),
            "fresh": fresh, "height_mm": None if height is None else round(height, 1),
            **self._conversion(),
        }

    def _conversion(self) -> dict:
        """How echoes become heights now: the offset (a re-zero may have moved it), scale, air temperature,
        the thermometer's state and the last re-zero finding."""
        p = self.parts
        sensor, thermometer, rezero = p.sensor, p.thermometer, p.rezero
        return {"offset_mm": sensor.mounting.offset_mm, "scale": sensor.mounting.scale,
                "air_c": round(sensor.temperature_c if sensor.air_c is None else sensor.air_c(), 2),
                "thermometer": None if thermometer is None else thermometer.status(),
                "rezero": None if rezero is None else {"last": rezero.last}}

    def _current_state(self) -> dict:
        """Whether the motor current sensor is configured and reading, and why not."""
        reader = self.parts.current
        return {"enabled": bool(self.daemon.settings.current.enabled), "running": reader is not None,
                "problem": self.daemon.current_problem}

    def current(self, req: dict) -> dict:
        """The motor current sensor, for `deskpi doctor`: the chip's own registers and a few readings now."""
        _only(req, ("samples",))
        n = int(_number(req, "samples", 1, 50, "samples", default=10))
        p = self.parts
        out = self._current_state()
        reader = p.current
        if reader is None:
            return out
        with p.loop.lock:
            out["at_rest"] = not p.controller.busy and p.controller.drive is None
        try:
            out["identity"] = reader.identify()
            amps = []
            for _ in range(n):        # read here, on this connection's thread; the reader's own thread goes on
                amps.append(round(reader.read().amps, 4))
                time.sleep(reader.interval_s)
            out["amps"] = amps
        except OSError as exc:
            out["error"] = str(exc)
        out["stats"] = reader.stats()
        return out

    def watchdog(self, req: dict) -> dict:
        _only(req, ())
        d = self.daemon
        last = d.heartbeat.last_watchdog
        return {"enabled": bool(d.settings.daemon.watchdog), "systemd": d.notifier.enabled,
                "interval_s": d.notifier.watchdog_s,
                "last_fed_s_ago": None if not last else round(time.monotonic() - last, 2),
                "sim": d.sim}

    # -- motion ------------------------------------------------------------------------------------
    def _refused(self, exc: MotionRefused) -> RequestError:
        code = exit_codes.FAULT if self.parts.controller.fault is not None else exit_codes.REFUSED
        return RequestError(str(exc), code)

    def _target(self, req: dict) -> float:
        lo, hi = self.parts.service.limits
        return _number(req, "target_mm", lo, hi, "mm")

    def move(self, req: dict) -> dict:
        _only(req, ("target_mm",))
        target = self._target(req)
        try:
            self.parts.service.move_to(target, Source.REMOTE, CLI_DETAIL, by=CLI_CALLER)
        except MotionRefused as exc:
            raise self._refused(exc) from None
        return {"target_mm": target}

    def stop(self, req: dict) -> dict:
        _only(req, ())
        # A string source stops without recording, so the audit entry can say it came from the CLI.
        self.parts.arbiter.stop(CLI_DETAIL)
        self.parts.arbiter.record(Source.REMOTE, "stop", by=CLI_CALLER, why=CLI_DETAIL)
        return {}

    def clear_fault(self, req: dict) -> dict:
        _only(req, ())
        fault = self.parts.controller.fault
        self.parts.loop.clear_fault()
        self.parts.arbiter.record(Source.REMOTE, "clear_fault", by=CLI_CALLER, why=CLI_DETAIL)
        return {"cleared": None if fault is None else fault.message}

    # -- the simulator, for `deskpi bench stress` ----------------------------------------------------
    # A bench in another process presses the simulated keys here (not through the web server it loads)
    # and reads back when each pin changed: the mock pins' CLOCK_MONOTONIC times, the same clock as its own.
    def sim_key(self, req: dict) -> dict:
        _only(req, ("key", "pressed"))
        pressed = req.get("pressed")
        if not isinstance(pressed, bool):
            raise RequestError(f"pressed = {pressed!r}: must be true or false")
        try:
            self.parts.service.press_sim_key(str(req.get("key")), pressed)
        except LookupError as exc:
            raise RequestError(str(exc), exit_codes.REFUSED) from None
        except (ValueError, RuntimeError) as exc:
            raise RequestError(str(exc)) from None
        return {}

    def sim_edges(self, req: dict) -> dict:
        """Pin edges after `since` ([seq, monotonic time, pin, level]), the desk's true height; with
        `take_lags`, the control loop's late wakes (ms) recorded since the last take, which are then cleared."""
        _only(req, ("since", "take_lags"))
        desk = self.parts.sim_desk
        if desk is None:
            raise RequestError("only a simulated desk records its pin edges (deskpi sim)", exit_codes.REFUSED)
        since = int(_number(req, "since", 0, 2 ** 53, "edges", default=0))
        reply: dict = {"edges": [list(e) for e in list(desk.factory.edges) if e[0] > since],
                       "true_height_mm": round(desk.true_height(), 2), "at_rest": desk.at_rest()}
        if req.get("take_lags"):
            lags = self.parts.loop.lag_s
            taken = [lags.popleft() for _ in range(len(lags))]
            reply["loop_lag_ms"] = [round(1000 * x, 3) for x in taken]
        return reply

    # -- calibration -------------------------------------------------------------------------------
    def calibrate(self, req: dict) -> dict:
        step = checks.choice("step", req.get("step"), ("measure", "move"))
        if not self._calibrating.acquire(blocking=False):
            raise RequestError("a calibration step is already running; wait for it or stop the desk",
                               exit_codes.REFUSED)
        try:
            return self._measure(req) if step == "measure" else self._measured_move(req)
        finally:
            self._calibrating.release()

    def _quiet_desk(self) -> None:
        c = self.parts.controller
        if c.fault is not None:
            raise RequestError(f"the desk has a fault: {c.fault.message}; clear it first (deskpi clear-fault)",
                               exit_codes.FAULT)
        if c.busy:
            raise RequestError("the desk is moving; calibrate when it is at rest", exit_codes.REFUSED)

    def _measure(self, req: dict) -> dict:
        """The resting height from every accepted reading over `seconds` (a tape measurement is compared to it)."""
        _only(req, ("step", "seconds"))
        seconds = _number(req, "seconds", 0.5, 10.0, "seconds", default=2.0)
        p = self.parts
        with p.loop.lock:
            self._quiet_desk()
        seen: dict[float, float] = {}
        deadline = time.monotonic() + seconds
        while True:
            with p.loop.lock:
                if p.controller.busy:
                    raise RequestError("the desk started moving during the measurement; try again at rest",
                                       exit_codes.REFUSED)
                seen.update((r.t, r.height_mm) for r in p.controller.estimator.recent())
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if len(seen) < 3:
            raise RequestError(f"only {len(seen)} usable sensor readings in {seconds:g} s; check the sensor "
                               f"(deskpi doctor)", exit_codes.FAILURE)
        s = self.daemon.settings.sensor
        conv = self._conversion()
        # The offset and scale in use and the air temperature the echoes are converted at now: calibrate.py
        # records it beside what it measures.
        return {"readings": sorted(seen.values()), "offset_mm": conv["offset_mm"], "orientation": s.orientation,
                "scale": conv["scale"], "air_c": conv["air_c"]}

    def _measured_move(self, req: dict) -> dict:
        """Move to `target_mm` and record every accepted reading and when the motor was on, for calibrate.py."""
        _only(req, ("step", "target_mm", "timeout_s", "rest_s"))
        target = self._target(req)
        timeout = _number(req, "timeout_s", *MOVE_TIMEOUT_S, "seconds", default=60.0)
        rest_s = _number(req, "rest_s", 0.0, 5.0, "seconds", default=1.0)
        p = self.parts
        loop, ctrl = p.loop, p.controller
        with loop.lock:
            self._quiet_desk()
        t0 = loop.clock()
        readings: dict[float, float] = {}
        drive: list[list] = []          # [on_at, off_at | None, "up" | "down"], relative to t0
        faults: list[str] = []

        def sample() -> tuple[bool, bool]:
            with loop.lock:
                readings.update((r.t - t0, r.height_mm) for r in ctrl.estimator.recent())
                now = loop.clock() - t0
                d = ctrl.drive
                if drive and drive[-1][1] is None and (d is None or str(d) != drive[-1][2]):
                    drive[-1][1] = now
                if d is not None and (not drive or drive[-1][1] is not None):
                    drive.append([now, None, str(d)])
                if ctrl.fault is not None and not faults:
                    faults.append(ctrl.fault.message)
                return ctrl.busy, ctrl.fault is not None

        try:
            p.service.move_to(target, Source.REMOTE, CLI_DETAIL + " calibrate", by=CLI_CALLER)
        except MotionRefused as exc:
            raise self._refused(exc) from None
        deadline = time.monotonic() + timeout
        while True:
            busy, faulted = sample()
            if not busy or faulted:
                break
            if time.monotonic() > deadline:
                p.service.stop(Source.REMOTE)
                raise RequestError(f"the desk did not reach {target:g} mm within {timeout:g} s; stopped it",
                                   exit_codes.TIMEOUT)
            time.sleep(0.01)        # the motor's on/off times are known to within this (0.4 mm of coast)
        rest_until = time.monotonic() + rest_s
        while time.monotonic() < rest_until:
            sample()
            time.sleep(0.05)
        with loop.lock:
            final = ctrl.height_mm()
            fault = ctrl.fault
        return {"target_mm": target, "readings": sorted([t, h] for t, h in readings.items()),
                "drive": drive, "final_mm": None if final is None else round(final, 1),
                "fault": None if fault is None else fault.message,
                "fault_kind": None if fault is None else fault.kind.value,
                "fault_height_mm": None if fault is None or fault.height_mm is None else round(fault.height_mm, 1)}


COMMANDS = {
    "ping": Handlers.ping,
    "status": Handlers.status,
    "sensor": Handlers.sensor,
    "watchdog": Handlers.watchdog,
    "current": Handlers.current,
    "move": Handlers.move,
    "stop": Handlers.stop,
    "clear-fault": Handlers.clear_fault,
    "calibrate": Handlers.calibrate,
    "sim-key": Handlers.sim_key,
    "sim-edges": Handlers.sim_edges,
}


def _learned_current(m: Any) -> dict:
    """The healthy running current learned for one direction (nothing learned yet: None). The spread is
    shown where the model keeps one."""
    n = m.current_n
    sd = getattr(m, "current_sd_a", None)
    return {"current_a": round(m.current_a, 3) if n else None,
            "current_sd_a": round(sd, 3) if n and sd is not None else None, "current_moves": n,
            # 0 is a model saved before the peak was kept (or moves too short to weigh): not known yet.
            "current_peak": round(m.current_peak, 2) if n and m.current_peak > 0 else None}


# ---------------------------------------------------------------------------------------- server

class ControlServer:
    """Claims the data dir at construction (refusing a second daemon); serves once started."""

    def __init__(self, daemon, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir)
        self.path = socket_path(self.data_dir)
        self.handlers = Handlers(daemon)
        self._lock = self._claim()
        self._sock: socket.socket | None = None
        self._inode: int | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def _claim(self) -> FileLock:
        lock = FileLock(self.data_dir / LOCK_NAME, mode=0o640)
        if not lock.acquire():
            try:
                pid = (self.data_dir / LOCK_NAME).read_text(errors="replace").strip()[:32]
            except OSError:
                pid = ""
            raise DaemonAlreadyRunning(self.data_dir, pid)
        if lock.fd is not None:           # the holder's pid, for the message a second daemon gives
            os.ftruncate(lock.fd, 0)
            os.pwrite(lock.fd, f"{os.getpid()}\n".encode(), 0)
        return lock

    def start(self) -> None:
        """Bind under a temporary name, set the mode, then rename over whatever a crashed daemon left."""
        tmp = self.data_dir / f".{SOCKET_NAME}.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        addr, dir_fd = connectable(tmp)
        try:
            sock.bind(addr)
            os.chmod(tmp, SOCKET_MODE)   # before it has its public name: never reachable with looser bits
            os.replace(tmp, self.path)
            sock.listen(8)
        except BaseException:
            sock.close()
            tmp.unlink(missing_ok=True)
            raise
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        self._inode = os.stat(self.path).st_ino
        sock.settimeout(0.5)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept, name="control-socket", daemon=True)
        self._thread.start()
        log.info("control socket at %s", self.path)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                log.exception("control socket accept failed")
                time.sleep(0.1)
                continue
            if not self._slots.acquire(blocking=False):
                try:
                    conn.sendall(encode({"ok": False, "code": exit_codes.REFUSED,
                                          "error": f"too many control connections (at most {MAX_CONNECTIONS})"}))
                finally:
                    conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn,), name="control-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.add(conn)
        try:
            conn.settimeout(IDLE_TIMEOUT_S)
            f = conn.makefile("rb")
            while not self._closed.is_set():
                line = f.readline(MAX_LINE_BYTES + 1)
                if not line:
                    return
                if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                    conn.sendall(encode({"ok": False, "code": exit_codes.USAGE,
                                          "error": f"request longer than {MAX_LINE_BYTES} bytes; closing"}))
                    return
                if not line.strip():
                    continue
                conn.sendall(encode(self.handle_line(line)))
        except (OSError, ValueError):
            return          # the client went away or timed out: nothing to tell anyone
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            conn.close()
            self._slots.release()

    def handle_line(self, line: bytes) -> dict:
        """One request line to one reply; never raises."""
        req: Any = None
        try:
            try:
                req = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise RequestError(f"not a JSON request ({exc}); send one JSON object per line, "
                                   f"e.g. {{\"cmd\": \"status\"}}") from None
            reply = {"ok": True, **self.handlers.dispatch(req)}
        except RequestError as exc:
            reply = {"ok": False, "error": str(exc), "code": exc.code}
        except Exception as exc:
            log.exception("control request failed: %r", line[:200])
            reply = {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}", "code": exit_codes.FAILURE}
        if isinstance(req, dict) and isinstance(req.get("id"), (str, int)) and not isinstance(req.get("id"), bool):
            reply["id"] = req["id"]
        return reply

    def close(self) -> None:
        """Stop listening, drop clients, remove the socket file if it is still ours, release the data dir."""
        self._closed.set()
        if self._sock is not None:
            self._sock.close()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        try:
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        except OSError:
            pass
        self._inode = None
        self._lock.release()
