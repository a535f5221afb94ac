"""Ordinary least-squares straight line through (t, y) points."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Line:
    t_mean: float
    y_mean: float
    slope: float
    sxx: float          # sum of squared time deviations: the slope's variance is sigma^2 / sxx
    n: int
    rss: float          # residual sum of squares

    def at(self, t: float) -> float:
        return self.y_mean + self.slope * (t - self.t_mean)


def fit_line(points) -> Line | None:
    """Fit y = a + b t; None for fewer than two distinct times."""
    pts = list(points)
    n = len(pts)
    if n < 2:
        return None
    mt = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mt) ** 2 for p in pts)
    if sxx <= 0:
        return None
    slope = sum((p[0] - mt) * (p[1] - my) for p in pts) / sxx
    rss = sum((p[1] - my - slope * (p[0] - mt)) ** 2 for p in pts)
    return Line(mt, my, slope, sxx, n, rss)
