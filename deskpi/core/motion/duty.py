"""Motor duty-cycle accounting: desk motors are rated for short bursts."""
from __future__ import annotations

from collections import deque


class DutyCycle:
    """Tracks motor-on time in a sliding window (default: 60 s in any 600 s)."""

    def __init__(self, max_on_s: float = 60.0, window_s: float = 600.0) -> None:
        if not 0 < max_on_s <= window_s:
            raise ValueError(
                f"duty cycle needs 0 < max_on_s <= window_s, got {max_on_s} s in {window_s} s")
        self.max_on_s = max_on_s
        self.window_s = window_s
        self._spans: deque[tuple[float, float]] = deque()   # closed (on, off) spans
        self._on_since: float | None = None

    def motor_on(self, now: float) -> None:
        if self._on_since is None:
            self._on_since = now

    def motor_off(self, now: float) -> None:
        if self._on_since is not None:
            self._spans.append((self._on_since, now))
            self._on_since = None

    def used(self, now: float) -> float:
        start = now - self.window_s
        while self._spans and self._spans[0][1] <= start:
            self._spans.popleft()
        total = sum(off - max(on, start) for on, off in self._spans)
        if self._on_since is not None:
            total += now - max(self._on_since, start)
        return total

    def remaining(self, now: float) -> float:
        return max(self.max_on_s - self.used(now), 0.0)

    def ready_at(self, now: float, need_s: float) -> float:
        """Earliest time at which need_s of motor time will be available (motor off until then)."""
        need = min(need_s, self.max_on_s)
        if self.remaining(now) >= need:
            return now
        # Spans age out of the window one by one; find when enough has expired.
        spans = list(self._spans)
        if self._on_since is not None:
            spans.append((self._on_since, now))
        excess = self.used(now) - (self.max_on_s - need)
        for on, off in spans:
            start = max(on, now - self.window_s)
            length = off - start
            if excess <= length + 1e-9:      # rounding must not skip the span that frees enough
                return start + min(excess, length) + self.window_s
            excess -= length
        # Only reachable through rounding: everything in the window has aged out by then.
        return (spans[-1][1] if spans else now) + self.window_s
