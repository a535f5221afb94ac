"""The physical limit `deskpi bench control` measures against: a controller that knows everything.

The oracle reads the simulated desk's true height, speed and load (no sensor, no noise, no
lost echo) and knows its physics: the relay's delay, the soft start and the coast after the
power is cut. It switches the motor on at once and off at the instant the *expected* coast
(the coast's random jitter has mean one) ends on the target, waking exactly then rather
than at the next ping. No real controller can do better on average; what is left of its
error is the coast's own jitter, and what is left of its time is physics.

`time_vs_oracle` compares deskpi's moves with the oracle's, made on the same targets with the
same seed (and, move by move, the same desk load and coast draws, see `control.py`):

    time_vs_oracle = median over paired moves i of  T_deskpi(i) / T_oracle'(i)

where T is the time from the move's command until the desk last moved (its corrections
included), and T_oracle'(i) = T_oracle(i) + (D_deskpi(i) - D_oracle(i)) / v_nominal adds the
oracle's time for the distance by which deskpi's move was longer (each started where its
previous move ended, a millimetre or two apart). Moves are paired by target index; a pair is
skipped when either move faulted or was refused, or either covered no more than the
tolerance (no move at all). 1.00 is the physical limit; 1.03 is three per cent slower.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from deskpi.core.motion.config import Command, MoveReport
from deskpi.core.types import Direction, Reading
from deskpi.sim.physics import DeskPhysics

RAMP_STEP_S = 0.002       # while the speed still changes (soft start), look again this often


@dataclass(frozen=True)
class MoveTime:
    """One finished move as the pairing needs it: seconds from command to last motion, distance covered."""

    seconds: float
    distance_mm: float
    nominal_mm_s: float


class OracleController:
    """Reads the desk's true state: `attach(physics)` before the first move."""

    def __init__(self, tolerance_mm: float = 2.0) -> None:
        self.physics: DeskPhysics | None = None
        self.tolerance_mm = tolerance_mm
        self.events: list = []
        self.fault = None
        self._target: float | None = None
        self._dir: Direction | None = None
        self._drive: Direction | None = None
        self._t_on = 0.0
        self._cut_at: float | None = None
        self._start: tuple[float, float] = (0.0, 0.0)
        self._deadline = math.inf

    def attach(self, physics: DeskPhysics) -> None:
        self.physics = physics

    @property
    def busy(self) -> bool:
        return self._target is not None

    def height_mm(self) -> float:
        assert self.physics is not None, "attach the desk before using the oracle"
        return self.physics.height_mm

    def drain_events(self) -> list:
        out, self.events = self.events, []
        return out

    def move_to(self, target: float, now: float, source: str = "bench") -> None:
        here = self.height_mm()
        self._target = target
        self._start = (now, here)
        self._cut_at = None
        self._drive = None
        if abs(target - here) <= self.tolerance_mm:
            self._dir = None
            return
        self._dir = Direction.UP if target > here else Direction.DOWN
        spec = self._spec()
        self._deadline = now + 2.0 * abs(target - here) / self._nominal(self._dir) + 3.0 + spec.soft_start_s

    def tick(self, now: float, reading: Reading | None = None) -> Command:
        if self._target is None:
            return Command(None, None)
        if self._dir is None:
            return self._finish(now)
        if self._cut_at is None:
            if self._drive is None:
                self._drive, self._t_on = self._dir, now
                return Command(self._drive, now + RAMP_STEP_S)
            if now >= self._deadline:
                return self._give_up(now)
            wait = self._time_to_cut(now)
            if wait > 1e-6:
                return Command(self._drive, now + wait)
            self._drive, self._cut_at = None, now
        p = self.physics
        assert p is not None
        if p.at_rest:
            return self._finish(now)
        return Command(None, now + 0.01)

    # -- the physics the oracle knows ---------------------------------------
    def _spec(self):
        assert self.physics is not None, "attach the desk before using the oracle"
        return self.physics.spec

    def _nominal(self, d: int) -> float:
        spec = self._spec()
        return spec.speed_up_mm_s if d > 0 else spec.speed_down_mm_s

    def _time_to_cut(self, now: float) -> float:
        """Seconds from now until the cut whose expected stop is on the target (0: cut now)."""
        assert self._dir is not None and self._target is not None
        d = int(self._dir)

        def overshoot(s: float) -> float:
            return d * (self._stop_point(now, now + s) - self._target)

        if overshoot(0.0) >= 0:
            return 0.0
        cruise, engaged = self._cruise_speed(), now >= self._t_on + self._spec().relay_delay_s
        if engaged and abs(abs(self.physics.v) - cruise) < 1e-6:   # type: ignore[union-attr]
            return -overshoot(0.0) / cruise       # constant speed: the stop point moves at that speed
        hi = RAMP_STEP_S
        # In the soft start: look again shortly, unless the cut is due within the step.
        if overshoot(hi) < 0:
            return hi
        lo = 0.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if overshoot(mid) < 0 else (lo, mid)
        return hi

    def _cruise_speed(self) -> float:
        p = self.physics
        assert p is not None and self._dir is not None
        return self._nominal(int(self._dir)) * p.load

    def _stop_point(self, now: float, t_cut: float) -> float:
        """Where the desk comes to rest, on average, if the power is cut at t_cut (>= now)."""
        p = self.physics
        assert p is not None and self._dir is not None
        spec = p.spec
        d = int(self._dir)
        accel = max(spec.speed_up_mm_s, spec.speed_down_mm_s) / max(spec.soft_start_s, 1e-6)
        cruise = self._cruise_speed()
        t_off = t_cut + spec.relay_delay_s      # the motor still pulls until the relay opens
        t = now
        x, v = p.height_mm, abs(p.v)
        engage = self._t_on + spec.relay_delay_s
        if t < engage:
            t = min(engage, t_off)
        if t < t_off and v < cruise:
            ramp = min((cruise - v) / accel, t_off - t)
            x += d * (v * ramp + 0.5 * accel * ramp * ramp)
            v += accel * ramp
            t += ramp
        x += d * v * (t_off - t)
        factor = spec.coast_up_factor if d > 0 else spec.coast_down_factor
        return x + d * spec.coast_mm * factor * v / self._nominal(d)

    # -- the end of a move --------------------------------------------------
    def _finish(self, now: float) -> Command:
        t0, h0 = self._start
        target = self._target
        self.events.append(("move_done", MoveReport("goto", target, h0, self.height_mm(), 0, t0, now)))
        self._target = self._dir = self._cut_at = None
        return Command(None, None)

    def _give_up(self, now: float) -> Command:
        """A desk that never gets there (stalled, blocked): motor off and say so, as any controller must."""
        self._drive = None
        self.events.append(("fault", f"oracle: the desk did not reach {self._target:.0f} mm in time"))
        self._target = self._dir = self._cut_at = None
        return Command(None, None)


def time_vs_oracle(ours: list[MoveTime | None], oracle: list[MoveTime | None]) -> dict:
    """`time_vs_oracle` (see the module docstring) and, to show the tail the median hides (a
    correction, the first moves on a desk not yet learned), the 90th percentile of the same
    ratios and `time_vs_oracle_total`: all paired moves' time over all the oracle's."""
    ratios, mine, best = [], 0.0, 0.0
    for a, b in zip(ours, oracle, strict=True):
        if a is None or b is None or b.seconds <= 0:
            continue
        fair = b.seconds + (a.distance_mm - b.distance_mm) / b.nominal_mm_s
        if fair > 0:
            ratios.append(a.seconds / fair)
            mine, best = mine + a.seconds, best + fair
    ratios.sort()
    nan = float("nan")
    return {
        "time_vs_oracle": round(statistics.median(ratios), 4) if ratios else nan,
        "time_vs_oracle_pairs": len(ratios),
        "time_vs_oracle_p90": round(ratios[round(0.9 * (len(ratios) - 1))], 4) if ratios else nan,
        "time_vs_oracle_total": round(mine / best, 4) if best > 0 else nan,
    }
