"""After the motor is cut: is the desk still creeping, and where did it come to rest?"""
from __future__ import annotations

import math
import statistics


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
