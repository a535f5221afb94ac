"""The controller most hobby desk projects ship, kept as the yardstick.

It drives towards the target and cuts the motor when the filtered reading
(a median of the last nine pings, as gpiozero's DistanceSensor gives) crosses
the target. No prediction, no learning, no correction.
"""
from __future__ import annotations

import statistics
from collections import deque

from deskpi.core.motion.config import Command, MoveReport
from deskpi.core.types import Direction, EchoStatus, Reading


class NaiveController:
    SETTLE_S = 1.0

    def __init__(self, window: int = 9) -> None:
        self._q: deque[float] = deque(maxlen=window)
        self._target: float | None = None
        self._dir: Direction | None = None
        self._drive: Direction | None = None
        self._cut_at: float | None = None
        self._start: tuple[float, float] | None = None
        self.events: list = []
        self.fault = None

    def height_mm(self) -> float | None:
        return statistics.median(self._q) if self._q else None

    def move_to(self, target: float, now: float, source: str = "bench") -> None:
        here = self.height_mm()
        self._target = target
        self._dir = Direction.UP if target > here else Direction.DOWN
        self._start = (now, here)

    def drain_events(self):
        out, self.events = self.events, []
        return out

    def tick(self, now: float, reading: Reading | None = None) -> Command:
        if reading is not None and reading.status is EchoStatus.OK:
            self._q.append(reading.height_mm)
        if self._target is not None and self._cut_at is None:
            h = self.height_mm()
            if self._dir * (h - self._target) >= 0:
                self._drive = None
                self._cut_at = now
            else:
                self._drive = self._dir
        elif self._cut_at is not None and now - self._cut_at >= self.SETTLE_S:
            t0, h0 = self._start
            self.events.append(("move_done", MoveReport("goto", self._target, h0, self.height_mm(), 0, t0, now)))
            self._target = self._cut_at = None
        wake = self._cut_at + self.SETTLE_S if self._cut_at is not None else None
        return Command(self._drive, wake)
