"""Where a moving desk is now and when to cut the motor.

During a move the height follows x(t) = a + d * v * g(t - t_on), with g the
unit displacement of a linear soft start followed by constant speed. a (start
height) and v (this move's speed, which load changes) are fitted by least
squares over the move's readings, with priors from the stationary start height
and the learned speed. Early in a move the priors dominate (open loop from a
learned model); after a second of travel the readings do (closed loop). One
formula serves short pulses and long moves alike.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ..types import Direction
from .linefit import fit_line


@dataclass(frozen=True)
class Fit:
    a: float
    v: float
    var_a: float
    var_v: float
    cov: float


class TrajectoryFit:
    EARLY_S = 2.5
    def __init__(self, *, direction: Direction, t_on: float, start_mm: float, start_sd_mm: float,
                 speed_prior: float, speed_sd: float, ramp_s: float, noise_mm: float,
                 window_s: float = 3.0) -> None:
        self.d = int(direction)
        self.t_on = t_on
        self.x0 = start_mm
        self.ramp = max(ramp_s, 0.0)
        self.noise = max(noise_mm, 0.5)
        self.window_s = window_s
        self._prior_a = (start_mm, max(start_sd_mm, 0.3))
        self.start_sd = max(start_sd_mm, 0.3)
        self._prior_v = (speed_prior, max(speed_sd, 0.5))
        self._samples: deque[tuple[float, float]] = deque()
        self._early: list[tuple[float, float]] = []      # the first seconds, kept for learning start-up
        self._anchored = True
        self.fit = self._solve()

    # unit displacement since t_on for a linear ramp of length `ramp`
    def g(self, t: float) -> float:
        tau = t - self.t_on
        if tau <= 0:
            return 0.0
        r = self.ramp
        if r > 0 and tau < r:
            return tau * tau / (2 * r)
        return tau - r / 2

    def g_rate(self, t: float) -> float:
        tau = t - self.t_on
        if tau <= 0:
            return 0.0
        r = self.ramp
        return tau / r if r > 0 and tau < r else 1.0

    def add(self, t: float, height_mm: float) -> None:
        self._samples.append((t, height_mm))
        if t - self.t_on <= self.EARLY_S:
            self._early.append((t, height_mm))
        while self._samples and t - self._samples[0][0] > self.window_s:
            self._samples.popleft()
            # Once the start is out of the window the start height no longer
            # says anything about the line we fit; speed may have drifted.
            self._anchored = False
        self.fit = self._solve()

    @property
    def n(self) -> int:
        return len(self._samples)

    def steady_samples(self) -> int:
        return sum(1 for t, _ in self._samples if t - self.t_on >= self.ramp)

    def steady_line(self) -> tuple[float, float] | None:
        """Plain least-squares line through the samples taken at full speed.

        Returns (c, v) with y = c + d * v * (t - t_on); free of the priors, so
        the learned start-up time can be checked against what happened.
        """
        # Only the first seconds: extrapolating a line from far into a long move back
        # to its start says more about noise than about start-up.
        pts = [(t - self.t_on, y) for t, y in self._early if t - self.t_on >= self.ramp]
        line = fit_line(pts) if len(pts) >= 3 else None
        if line is None:
            return None
        v = self.d * line.slope
        if v <= 1.0:
            return None
        return line.at(0.0), v

    def _solve(self) -> Fit:
        w = 1.0 / (self.noise * self.noise)
        a_mu, a_sd = self._prior_a
        v_mu, v_sd = self._prior_v
        paa = 1.0 / (a_sd * a_sd) if self._anchored else 1e-9
        pvv = 1.0 / (v_sd * v_sd)
        s11 = paa
        s12 = 0.0
        s22 = pvv
        b1 = paa * a_mu
        b2 = pvv * v_mu
        d = self.d
        for t, y in self._samples:
            h2 = d * self.g(t)
            s11 += w
            s12 += w * h2
            s22 += w * h2 * h2
            b1 += w * y
            b2 += w * h2 * y
        det = s11 * s22 - s12 * s12
        a = (s22 * b1 - s12 * b2) / det
        v = (s11 * b2 - s12 * b1) / det
        return Fit(a=a, v=v, var_a=s22 / det, var_v=s11 / det, cov=-s12 / det)

    def position(self, t: float) -> float:
        return self.fit.a + self.d * self.fit.v * self.g(t)

    def position_sd(self, t: float) -> float:
        f = self.fit
        h = self.d * self.g(t)
        return max(f.var_a + 2 * h * f.cov + h * h * f.var_v, 0.0) ** 0.5

    def speed(self, t: float) -> float:
        """Current speed magnitude (mm/s) according to the fit."""
        return self.fit.v * self.g_rate(t)

    def cut_time(self, target_mm: float, stop_lag_s: float) -> float:
        """When to cut so that the desk, coasting v_cut * stop_lag_s, ends on target."""
        f = self.fit
        # Early in a move a few noisy readings can pull the fitted speed to
        # nothing; that is no reason to cut. Real failures are the monitors' job.
        v = max(f.v, 0.5 * self._prior_v[0])
        dist = self.d * (target_mm - f.a)   # still to go from the fitted start
        if dist <= 0:
            return self.t_on
        r, tau = self.ramp, stop_lag_s
        full = v * (r / 2) + v * tau  # travel if cut exactly at the end of the ramp
        if r > 0 and dist < full:  # noqa: SIM108 - one formula per phase (cut during / after the ramp)
            on = -tau + (tau * tau + 2 * r * dist / v) ** 0.5
        else:
            on = dist / v + r / 2 - tau
        return self.t_on + max(on, 0.0)
