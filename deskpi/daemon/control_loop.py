"""The control loop: the one thread that turns controller decisions into motor outputs.

Readings arrive from the sensor thread through a queue; requests (move, hold,
stop) arrive from any thread and are applied under a lock, then the loop is
woken at once. The loop wakes exactly when the controller asked (a predicted
cut lands between two pings, not at the next one) and measures how late it
woke, so a busy machine shows up as numbers rather than as overshoot.

Stop is special: it turns the drive off in the caller's thread before
anything else happens, so no queue or lock can delay it.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

from deskpi.core.motion.config import Command
from deskpi.core.motion.controller import MotionController
from deskpi.core.types import Direction, Reading

log = logging.getLogger(__name__)

_WAKE = object()
#: Longest the loop sleeps without a reason: keeps health checks and the watchdog ticking.
IDLE_TICK_S = 0.1
#: Retry interval while the drive holds off for its own dead time.
DRIVE_RETRY_S = 0.005


class ControlLoop:
    def __init__(self, controller: MotionController, drive, *, clock: Callable[[], float] = time.monotonic,
                 on_tick: Callable[[Command], None] | None = None) -> None:
        self.ctrl = controller
        self.drive = drive
        self.clock = clock
        self.on_tick = on_tick
        self.lock = threading.RLock()
        # Guards "may the motor be energised" + the pin write against stop_motion,
        # held only for the write so a stop never waits for a tick or a listener.
        self._out_lock = threading.Lock()
        self._stopping = False
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_at: float | None = None
        self.lag_s: deque[float] = deque(maxlen=2000)   # how late the loop woke for a timed event
        self.reading_lag_s: deque[float] = deque(maxlen=2000)   # reading queued -> acted on
        self.listeners: list[Callable[[str, object], None]] = []
        self.ticks = 0
        # Metrics (deskpi/daemon/metrics.py), when on: each wake's lateness, and each stop's time to motor off.
        # Both are called on the thread that measured, holding no lock; a failing one is logged, never
        # allowed to stop the loop or a stop.
        self.on_lag: Callable[[float], None] | None = None
        self.on_stop: Callable[[float], None] | None = None

    # -- inputs from other threads -----------------------------------------
    def feed(self, reading: Reading) -> None:
        self._q.put((reading, self.clock()))

    def request(self, fn: Callable[[MotionController, float], object]) -> object:
        """Run fn(controller, now) under the loop's lock, then wake the loop. Exceptions propagate."""
        with self.lock:
            result = fn(self.ctrl, self.clock())
            self._apply(self.ctrl.tick(self.clock()))
        self._q.put(_WAKE)
        return result

    def stop_motion(self, reason: str = "stop") -> None:
        """Stop beats everything: the motor goes off in this thread, now, and no tick
        already under way can turn it back on before the controller has heard."""
        asked = time.perf_counter()
        with self._out_lock:
            self._stopping = True
            self._hard_off()
        off_s = time.perf_counter() - asked
        try:
            with self.lock:
                self.ctrl.stop(self.clock(), reason)
                with self._out_lock:
                    self._stopping = False
                self._apply(self.ctrl.tick(self.clock()))
        finally:
            with self._out_lock:
                self._stopping = False
        self._q.put(_WAKE)
        if self.on_stop is not None:
            self._measured(self.on_stop, off_s)

    @property
    def alive(self) -> bool:
        """The loop's thread is running (it ends only on close or a crash)."""
        return self._thread is not None and self._thread.is_alive()

    # -- the thread -----------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="control-loop", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._q.put(_WAKE)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self.drive.off()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                now = self.clock()
                wake = self._wake_at
                timeout = IDLE_TICK_S if wake is None else min(max(wake - now, 0.0), IDLE_TICK_S)
                try:
                    item = self._q.get(timeout=timeout)
                except queue.Empty:
                    item = None
                now = self.clock()
                if wake is not None and now >= wake:
                    self.lag_s.append(now - wake)     # how late we are for what we asked to be woken for
                    if self.on_lag is not None:
                        self._measured(self.on_lag, now - wake)
                reading = None
                if isinstance(item, tuple):
                    reading, queued_at = item
                with self.lock:
                    cmd = self.ctrl.tick(now, reading)
                    self._apply(cmd)
                if reading is not None:
                    self.reading_lag_s.append(self.clock() - queued_at)
        except BaseException:
            # The motor goes off before anything else is said about the crash.
            self._hard_off()
            log.exception("control loop crashed; motor off")
            with self.lock:
                self.ctrl.fail("the control loop crashed", self.clock())
            raise
        finally:
            self.drive.off()

    def _apply(self, cmd: Command) -> None:
        self.ticks += 1
        with self._out_lock:
            if cmd.drive is not None and not self._stopping:
                got = self.drive.set(cmd.drive)
            elif self.ctrl.fault is not None:
                got = self._hard_off()      # a fault cuts at once, never through a soft-stop ramp
            else:
                got = self.drive.off()
        wake = cmd.wake_at
        if cmd.drive is not None and got != cmd.drive:
            wake = min(wake, self.clock() + DRIVE_RETRY_S) if wake is not None else self.clock() + DRIVE_RETRY_S
        self._wake_at = wake
        events = self.ctrl.drain_events()
        for kind, ev in events:
            for fn in list(self.listeners):
                try:
                    fn(kind, ev)
                except Exception:
                    log.exception("event listener failed")
        if self.on_tick is not None:
            self.on_tick(cmd)

    @staticmethod
    def _measured(hook: Callable[[float], None], seconds: float) -> None:
        try:
            hook(seconds)
        except Exception:
            log.exception("a metrics hook failed")

    def _hard_off(self) -> None:
        """Off now: an H-bridge skips its soft-stop ramp (relays are immediate anyway)."""
        getattr(self.drive, "emergency_off", self.drive.off)()

    # -- convenience requests -------------------------------------------------
    def move_to(self, target_mm: float, source: str = "api") -> None:
        self.request(lambda c, now: c.move_to(target_mm, now, source=source))

    def hold(self, direction: Direction, source: str = "api", lease_s: float | None = None) -> None:
        self.request(lambda c, now: c.hold(direction, now, source=source, lease_s=lease_s))

    def release(self) -> None:
        self.request(lambda c, now: c.release(now))

    def clear_fault(self) -> None:
        self.request(lambda c, now: c.clear_fault(now))
