"""After the motor is cut: is the desk still creeping, and where did it come to rest?"""
from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass


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


@dataclass
class Shortfall:
    """One move's stops added up: how far short of where a free desk's would have brought it.

    A desk pressing into something soft (a hand, a chair arm) falls short every time the
    motor is cut: the cut for the target, then each correction after it. One stop a few mm
    short is common (a coast is known to a few mm, a short pulse to a third of itself);
    every stop short, adding up beyond doubt, is not. Each stop's expected travel counts
    from where the controller thought the desk was, so the rests in between cancel and
    only the first start and the last rest are measurements.
    """

    start_mm: float
    direction: int
    travel_mm: float = 0.0      # what the stops so far would have covered on a free desk
    var: float = 0.0            # and its variance
    stops: int = 0

    def add(self, travel_mm: float, sd_mm: float) -> None:
        self.travel_mm += travel_mm
        self.var += sd_mm * sd_mm
        self.stops += 1

    def short_of_free(self, rest_mm: float, se_mm: float, floor_sd_mm: float = 0.0) -> tuple[float, float]:
        """How far short of a free desk the desk rests (mm), and that in standard deviations.

        `floor_sd_mm`: the least the whole is uncertain by, however sure the fit was of each stop.
        """
        short = self.travel_mm - self.direction * (rest_mm - self.start_mm)
        return short, short / max(math.sqrt(self.var + se_mm * se_mm), floor_sd_mm, 1e-6)


class NoisePool:
    """The sensor's noise, pooled from the scatter of recent settles: one settle is too few readings to judge it."""

    def __init__(self, size: int = 120) -> None:
        self._scatter: deque[float] = deque(maxlen=size)

    def add(self, readings: list[float], noise_mm: float) -> float:
        """Pool one settle's readings; returns the noise (sd, mm) now, `noise_mm` until enough are pooled."""
        if len(readings) < 4:
            return noise_mm
        med = statistics.median(readings)
        # Deviations from the group's own median understate the spread by ~sqrt((n-1)/n).
        k = math.sqrt(len(readings) / (len(readings) - 1))
        self._scatter.extend(k * (x - med) for x in readings)
        if len(self._scatter) < 30:
            return noise_mm
        devs = sorted(abs(x) for x in self._scatter)
        trimmed = devs[: int(len(devs) * 0.95)]          # drop the odd wild echo
        rms = math.sqrt(sum(x * x for x in trimmed) / len(trimmed))
        # dropping the largest 5 % of a normal sample leaves 87 % of its rms; undo that
        return max(rms / 0.872, 0.3)
