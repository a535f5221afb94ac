"""After the motor is cut: is the desk still creeping, and where did it come to rest?"""
from __future__ import annotations

import math
import statistics
from collections import deque


def still_moving(values: list[float], n_recent: int, noise_mm: float) -> bool:
    """Do evenly spaced readings still trend (a desk coasting longer than expected)?"""
    ys = values[-n_recent:]
    n = len(ys)
    if n < 4:
        return False
    mx = (n - 1) / 2
    sxx = sum((i - mx) ** 2 for i in range(n))
    my = sum(ys) / n
    slope = sum((i - mx) * (y - my) for i, y in enumerate(ys)) / sxx   # mm per reading
    se = max(noise_mm, 0.5) / math.sqrt(sxx)
    return abs(slope) > max(3.0 * se, 0.2)


def robust_mean(values: list[float], noise_mm: float) -> tuple[float, int]:
    """Mean of the readings within 3 sigma of their median: as robust as a median
    to a wild echo, and as precise as a mean for the rest."""
    med = statistics.median(values)
    keep = [v for v in values if abs(v - med) <= 3.0 * max(noise_mm, 0.5)] or [med]
    return sum(keep) / len(keep), len(keep)


def combine(measured: float, se_m: float, expected: tuple[float, float] | None) -> tuple[float, float]:
    """Weigh the settled readings against where the fit predicted the desk would stop."""
    if expected is None:
        return measured, se_m
    e, se_e = expected
    if abs(e - measured) > 4 * (se_e + se_m):
        return measured, se_m     # the prediction was wrong; trust the readings
    wm, we = 1 / se_m ** 2, 1 / se_e ** 2
    return (measured * wm + e * we) / (wm + we), (wm + we) ** -0.5


class NoisePool:
    """The sensor's noise, pooled from the scatter of recent settles: one settle is too few readings to judge it.

    The pool holds a hundred settles' deviations: the monitors weigh evidence in units of this noise, and
    from twenty settles it wandered +-25 % about the truth (2.5 mm read as 1.8 mm for a dozen moves on the
    slow-heavy desk), which near doubled the evidence noise gave a collapse and latched a healthy move
    that paused three times. A sensor's noise is a property of its mount: it changes rarely, if ever.
    """

    ENOUGH = 30      # deviations pooled before the pool's noise replaces the configured one

    def __init__(self, size: int = 600) -> None:
        self._scatter: deque[float] = deque(maxlen=size)

    @property
    def learned(self) -> bool:
        return len(self._scatter) >= self.ENOUGH

    def add(self, readings: list[float], noise_mm: float) -> float:
        """Pool one settle's readings; returns the noise (sd, mm) now, `noise_mm` until enough are pooled."""
        if len(readings) < 4:
            return noise_mm
        med = statistics.median(readings)
        # Deviations from the group's own median understate the spread by ~sqrt((n-1)/n).
        k = math.sqrt(len(readings) / (len(readings) - 1))
        self._scatter.extend(k * (x - med) for x in readings)
        if len(self._scatter) < self.ENOUGH:
            return noise_mm
        devs = sorted(abs(x) for x in self._scatter)
        trimmed = devs[: int(len(devs) * 0.95)]          # drop the odd wild echo
        rms = math.sqrt(sum(x * x for x in trimmed) / len(trimmed))
        # dropping the largest 5 % of a normal sample leaves 87 % of its rms; undo that
        return max(rms / 0.872, 0.3)
