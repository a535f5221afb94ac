"""Height estimation from raw ultrasonic pings.

The estimator keeps a short window of accepted readings. It answers three
questions for everyone else: how high is the desk (a median, robust to the odd
wild echo), how fast is it moving (least-squares slope over a short window),
and can the sensor be trusted right now (fresh, answering, plausible); and, for a
desk standing still, where it stands from every reading since it came to rest.
"""
from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass
from enum import Enum

from ..types import EchoStatus, Reading
from .linefit import fit_line
from .settling import robust_mean, still_moving


class Verdict(Enum):
    ACCEPTED = "accepted"
    OUTLIER = "outlier"
    IMPLAUSIBLE = "implausible"
    LOST = "lost"
    SILENT = "silent"


class SensorHealth(Enum):
    OK = "ok"
    NO_DATA = "no_data"      # nothing accepted yet since start
    STALE = "stale"          # answering, but no usable reading for too long
    SILENT = "silent"        # not answering at all: dead or unplugged


@dataclass(frozen=True)
class EstimatorConfig:
    window: int = 9
    gate_mm: float = 20.0
    reseed_after: int = 3
    stale_after_s: float = 0.5
    silent_limit: int = 2
    plausible_min_mm: float = 200.0
    plausible_max_mm: float = 2500.0
    velocity_window_s: float = 0.6

    def __post_init__(self) -> None:
        if self.window < 3:
            raise ValueError(f"window must be at least 3 readings, got {self.window}")
        if not self.plausible_min_mm < self.plausible_max_mm:
            raise ValueError(
                f"plausible window is empty: {self.plausible_min_mm}..{self.plausible_max_mm} mm")


@dataclass(frozen=True, slots=True)
class Sample:
    """A reading with a height: the only kind the window keeps (a lost echo has none)."""

    t: float
    height_mm: float


class HeightEstimator:
    def __init__(self, config: EstimatorConfig | None = None) -> None:
        self.cfg = config or EstimatorConfig()
        self._window: deque[Sample] = deque(maxlen=max(self.cfg.window, 16))
        self._still: deque[Sample] = deque(maxlen=64)    # ~10 s at the idle ping rate
        self._rejected: list[Sample] = []
        self._silent_run = 0
        self.last_accepted_t: float | None = None
        self.last_ping_t: float | None = None
        self.counts = {v: 0 for v in Verdict}

    # -- input ------------------------------------------------------------
    def add(self, r: Reading) -> Verdict:
        verdict = self._classify(r)
        self.counts[verdict] += 1
        self.last_ping_t = r.t
        if verdict is Verdict.SILENT:
            self._silent_run += 1
        else:
            self._silent_run = 0
        h = r.height_mm
        if verdict is Verdict.ACCEPTED and h is not None:   # _classify accepts only readings with a height
            self._window.append(Sample(r.t, h))
            self._still.append(Sample(r.t, h))
            self.last_accepted_t = r.t
        return verdict

    def _classify(self, r: Reading) -> Verdict:
        h = r.height_mm
        if r.status is EchoStatus.SILENT:
            return Verdict.SILENT
        if r.status is EchoStatus.LOST or h is None:
            return Verdict.LOST
        if not self.cfg.plausible_min_mm <= h <= self.cfg.plausible_max_mm:
            return Verdict.IMPLAUSIBLE
        if len(self._window) < 3:
            return Verdict.ACCEPTED
        expected = self.predict(r.t)
        if abs(h - expected) <= self.cfg.gate_mm:
            self._rejected.clear()
            return Verdict.ACCEPTED
        # A run of rejects that agree with each other means our window was
        # wrong (it started on an outlier), not that the sensor lies repeatedly.
        self._rejected.append(Sample(r.t, h))
        if len(self._rejected) >= self.cfg.reseed_after:
            heights = [x.height_mm for x in self._rejected]
            if max(heights) - min(heights) <= 2 * self.cfg.gate_mm:
                self._window.clear()
                self._window.extend(self._rejected[:-1])
                self._rejected.clear()
                return Verdict.ACCEPTED
            self._rejected = self._rejected[-self.cfg.reseed_after + 1:]
        return Verdict.OUTLIER

    # -- output -----------------------------------------------------------
    def recent(self, n: int | None = None) -> list[Sample]:
        items = list(self._window)
        return items if n is None else items[-n:]

    def height(self) -> float | None:
        """Median of the last `window` accepted readings (None before any)."""
        items = self.recent(self.cfg.window)
        if not items:
            return None
        return statistics.median(r.height_mm for r in items)

    def still_height(self, since: float | None, noise_mm: float) -> tuple[float, float] | None:
        """Height and its sd from the readings since the desk came to rest at `since` (None: all kept).

        The median of the last few readings is off by most of a millimetre, and a move's start
        is where a stall is told from a start by a few millimetres: a desk that has stood still
        for seconds has said where it is many times over. None until ten readings have, or when
        they trend or disagree with the last few (the desk was moved by hand).
        """
        ys = self.still_readings(since, noise_mm)
        here = self.height()
        if not ys or here is None:
            return None
        mean, n = robust_mean(ys, noise_mm)
        sd = max(noise_mm, 0.3) / math.sqrt(n)
        if abs(mean - here) > 4.0 * 1.25 * noise_mm / math.sqrt(self.cfg.window):
            return None
        return mean, sd

    def still_readings(self, since: float | None, noise_mm: float) -> list[float]:
        """The readings since the desk came to rest at `since` (None: all kept), if ten or more and still."""
        ys = [x.height_mm for x in self._still if since is None or x.t >= since]
        return ys if len(ys) >= 10 and not still_moving(ys, len(ys), noise_mm) else []

    def velocity(self, now: float | None = None) -> float:
        """Least-squares slope (mm/s) of accepted readings in the recent window."""
        items = self._velocity_items(now)
        if len(items) < 3:
            return 0.0
        return _slope(items)

    def _velocity_items(self, now: float | None) -> list[Sample]:
        items = self.recent()
        if not items:
            return []
        end = items[-1].t if now is None else now
        return [r for r in items if end - r.t <= self.cfg.velocity_window_s]

    def predict(self, t: float) -> float:
        """Where the readings say the desk is at time t (median plus motion since)."""
        items = self.recent(self.cfg.window)
        med = statistics.median(r.height_mm for r in items)
        t_mid = statistics.median(r.t for r in items)
        # The slope of the same readings the median comes from, and only when it is real
        # motion and recent: extrapolated across a gap in the readings, a slope made of
        # noise turns into tens of mm of "motion" and good readings into outliers.
        if len(items) < 3 or t - items[-1].t > self.cfg.velocity_window_s:
            return med
        line = fit_line((r.t, r.height_mm) for r in items)
        if line is None or line.n < 3:
            return med
        se = (max(line.rss / max(line.n - 2, 1), 1e-9) / line.sxx) ** 0.5
        return med + (line.slope * (t - t_mid) if abs(line.slope) > 3.0 * se else 0.0)

    def health(self, now: float) -> SensorHealth:
        if self._silent_run >= self.cfg.silent_limit:
            return SensorHealth.SILENT
        if self.last_accepted_t is None:
            if self.last_ping_t is not None and now - self.last_ping_t > self.cfg.stale_after_s:
                return SensorHealth.STALE
            return SensorHealth.NO_DATA
        if now - self.last_accepted_t > self.cfg.stale_after_s:
            return SensorHealth.STALE
        return SensorHealth.OK

    def is_fresh(self, now: float) -> bool:
        return self.health(now) is SensorHealth.OK

    def noise_mm(self) -> float | None:
        """Robust spread (MAD-based sigma) of the window around its own trend."""
        items = self.recent()
        if len(items) < 6:
            return None
        slope = _slope(items)
        t0 = items[0].t
        resid = [r.height_mm - slope * (r.t - t0) for r in items]
        med = statistics.median(resid)
        return 1.4826 * statistics.median(abs(x - med) for x in resid)

    def reset(self) -> None:
        self._window.clear()
        self._rejected.clear()
        self._silent_run = 0
        self.last_accepted_t = None


def _slope(items: list[Sample]) -> float:
    line = fit_line((r.t, r.height_mm) for r in items)
    return 0.0 if line is None else line.slope
