"""What the desk counts for Prometheus when `[metrics] enabled` is on (served by deskpi/daemon/metrics_export.py).

Counts are kept here as plain numbers, bumped where things happen: a move accepted by the arbiter, a fault
latched, a wake of the control loop, a stop, a sensor reading, a reminder, a web response. Each bump holds
one lock of this object for a few additions, never across I/O, so the control loop and the sensor thread
never wait for a scrape: a scrape copies the numbers under the same lock and builds its text afterwards.
What the desk is doing right now (height, fault, whether the loop runs) is read only when scraped.

No person appears here: the labels are sources, fault kinds, directions, statuses, outcomes and HTTP codes.
Posture and standing time are the desk's own (EN 527-1 bands: below 850 mm sitting, above 950 mm
standing, deskpi/core/habits/posture_stats.py), not anyone's profile, summed over whoever used the desk.
"""
from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deskpi.core.faults import FaultKind
from deskpi.core.habits.posture_stats import STAND, PostureLatch
from deskpi.core.types import Direction, EchoStatus, Reading

#: Who asked for a move, as the audit trail names the channel; anything else counts as "other".
MOVE_SOURCES = ("button", "web", "cli", "schedule", "mqtt", "other")
REMINDER_OUTCOMES = ("shown", "confirmed", "acknowledged", "skipped", "snoozed", "expired")
#: Upper bounds, seconds. A stop is the motor pins written off: microseconds, unless something holds it up;
#: 0.05 is a bound so the "p99 above 50 ms" alert reads a bucket edge.
STOP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
#: How late the control loop woke for a cut or a check it had asked for; a few ms on a quiet Pi.
LAG_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
#: The longest gap between two heights still counted as standing: the recorder offers one every 30 s at least.
MAX_HEIGHT_GAP_S = 120.0


@dataclass
class Histogram:
    """Observations in buckets (each counted once, in the first bound it fits; the last slot is +Inf)."""
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, count of observations <= le) with le as Prometheus writes it, ending with +Inf."""
        out, running = [], 0
        for bound, n in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out

    def copy(self) -> Histogram:
        h = Histogram(self.bounds)
        h.counts, h.total = list(self.counts), self.total
        return h


@dataclass
class Counts:
    """Every number the desk counted since it started (a scrape gets a copy)."""
    moves: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MOVE_SOURCES, 0))
    faults: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in FaultKind})
    motor_s: dict[str, float] = field(default_factory=lambda: {str(d): 0.0 for d in Direction})
    readings: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in EchoStatus})
    reminders: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REMINDER_OUTCOMES, 0))
    web: dict[str, int] = field(default_factory=dict)
    posture_changes: int = 0
    standing_s: float = 0.0
    stop_latency: Histogram = field(default_factory=lambda: Histogram(STOP_BUCKETS))
    loop_lag: Histogram = field(default_factory=lambda: Histogram(LAG_BUCKETS))

    def copy(self) -> Counts:
        return Counts(dict(self.moves), dict(self.faults), dict(self.motor_s), dict(self.readings),
                      dict(self.reminders), dict(self.web), self.posture_changes, self.standing_s,
                      self.stop_latency.copy(), self.loop_lag.copy())


class DeskMetrics:
    """The desk's counts and the hooks that bump them; `live` reads the desk's state at scrape time."""

    def __init__(self, *, allow_localhost: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.allow_localhost = allow_localhost      # [metrics] allow_localhost: the web app reads it
        self.clock = clock
        self._lock = threading.Lock()
        self._counts = Counts()
        self._motor: tuple[str, float] | None = None        # (direction, since) while the motor runs
        self._latch = PostureLatch()
        self._last_height_t: float | None = None
        # Set by the daemon: the desk right now, e.g. {"up": True, "height_mm": 742.0, "fault": None, ...}.
        self.live: Callable[[], dict[str, Any]] | None = None

    # -- hooks: each a few additions under the lock ----------------------------------------------------
    def on_request(self, source: Any, action: str, detail: dict, by: Any = None) -> None:
        """The arbiter accepted a request (its `on_request`): moves and holds count, by channel."""
        if action not in ("move", "hold"):
            return
        channel = getattr(by, "channel", None) or getattr(source, "audit_name", None) or "other"
        key = channel if channel in MOVE_SOURCES else "other"
        with self._lock:
            self._counts.moves[key] += 1

    def on_event(self, kind: str, ev: object) -> None:
        """A control-loop event (a loop listener): a latched fault counts by its kind."""
        if kind == "fault":
            key = getattr(getattr(ev, "kind", None), "value", "internal")
            with self._lock:
                self._counts.faults[key] = self._counts.faults.get(key, 0) + 1

    def loop_lag(self, seconds: float) -> None:
        with self._lock:
            self._counts.loop_lag.observe(seconds)

    def stop_latency(self, seconds: float) -> None:
        with self._lock:
            self._counts.stop_latency.observe(seconds)

    def counting(self, feed: Callable[[Reading], None]) -> Callable[[Reading], None]:
        """`feed` that also counts each reading by its status (for the sensor's on_reading)."""
        readings, lock = self._counts.readings, self._lock

        def count_and_feed(reading: Reading) -> None:
            with lock:
                readings[reading.status.value] += 1
            feed(reading)
        return count_and_feed

    def motor(self, now: float, direction: Direction | None) -> None:
        """After each control-loop tick: which way the controller drives the motor (None: off)."""
        running = None if direction is None else str(direction)
        current = self._motor
        if (current[0] if current else None) == running:
            return
        with self._lock:
            if current is not None:
                self._counts.motor_s[current[0]] += max(0.0, now - current[1])
            self._motor = None if running is None else (running, now)

    def height(self, height_mm: float | None) -> None:
        """A height the recorder offered (None: unknown): posture changes and standing time, desk-wide."""
        now = self.clock()
        with self._lock:
            last, self._last_height_t = self._last_height_t, now
            if last is not None and self._latch.posture == STAND:
                self._counts.standing_s += min(now - last, MAX_HEIGHT_GAP_S)
            if height_mm is None:
                self._latch.reset()
                self._last_height_t = None
            elif self._latch.update(height_mm):
                self._counts.posture_changes += 1

    def reminder(self, outcome: str) -> None:
        key = outcome if outcome in REMINDER_OUTCOMES else "expired"
        with self._lock:
            self._counts.reminders[key] += 1

    def web_response(self, status: int) -> None:
        key = str(int(status))
        with self._lock:
            self._counts.web[key] = self._counts.web.get(key, 0) + 1

    # -- a scrape --------------------------------------------------------------------------------------
    def counts(self) -> Counts:
        """A copy of every count, the motor's running time included."""
        now = self.clock()
        with self._lock:
            out = self._counts.copy()
            if self._motor is not None:
                out.motor_s[self._motor[0]] += max(0.0, now - self._motor[1])
        return out

    def render(self) -> tuple[bytes, str]:
        """The text exposition format, and its content type."""
        from deskpi.daemon.metrics_export import render
        return render(self.counts(), self.live() if self.live is not None else {})


def live_state(loop: Any, arbiter: Any) -> Callable[[], dict[str, Any]]:
    """What `DeskMetrics.live` reads at a scrape: the loop's lock is held for a few attribute reads, as
    for the desk's state page, never across I/O."""
    def read() -> dict[str, Any]:
        with loop.lock:
            c = loop.ctrl
            fresh = c.estimator.is_fresh(loop.clock())
            height = c.height_mm() if fresh else None
            fault = None if c.fault is None else c.fault.kind.value
            moving = c.drive is not None
        return {"up": bool(loop.alive) and not arbiter.closing, "height_mm": height, "fault": fault,
                "moving": moving}
    return read
