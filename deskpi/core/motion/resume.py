"""After a stop judged a false alarm the desk carries on from a standstill: does it go as it went?

A soft obstacle (a hand, a chair arm) met by a slow desk is the judge's hardest case: the desk
coasts a millimetre, so a stop against it rests where a free desk's would, the stop is judged a
false alarm, and the desk carries on from a standstill pressed into what it met. It then runs
neither at speed (the collapse test has no straight line to go by) nor not at all (no stall): on
the slow desk it pressed a chair arm to 1000 N before the stall check called it, 2.4-3.6 s later.

What is known then is how fast the desk went in this very move, with this load, before the stop:
a free desk carries on at that speed, a pressed one at the share of it the obstacle's force leaves
(a DC motor's straight speed-torque line), and less with every millimetre. So once past the
start-up ramp the readings are fitted with a line held near the start height (the learned start-up
carries it onto the line to within its scatter), and the line's speed is weighed against the
move's own: a good part slower (SLOWER), beyond Z standard deviations of both speeds' doubt, is
something in the way. A stop is not the question here (the collapse and early-stop tests weigh
that); a desk that goes on, slowly, is.
"""
from __future__ import annotations

from ..faults import FaultKind, Finding
from .trajectory import TrajectoryFit

#: Slower than this share of the move's own speed before the stop, beyond doubt: pressed (a DC motor
#: meeting 15 % of its stall force, about 180 N on a 1200 N desk).
SLOWER = 0.85
#: Standard deviations of the two speeds' doubt the shortfall must pass (one-sided).
Z = 4.5
#: Readings past the ramp before the speed is weighed: fewer are a few noisy ones.
MIN_READINGS = 8
#: How far past the end of the ramp the line starts (s): its last moments still owe something to it.
AFTER_RAMP_S = 0.05


def ran_free(fit: TrajectoryFit, free_speed: tuple[float, float] | None, past_mm: float | None,
             at_mm: float, near_mm: float) -> bool:
    """Did this leg run at the move's own free speed (`free_speed`, before its first stop) from where the
    last stop judged a false alarm left the desk (`past_mm`) to `at_mm`, more than `near_mm` on?

    Then that stop was a false alarm beyond doubt: nothing was there, or the desk would not have gone on
    at full speed. A soft obstacle that gives lets a pressed desk on only at a share of that speed.
    """
    if free_speed is None or past_mm is None or fit.steady_samples() < MIN_READINGS:
        return False
    return fit.d * (at_mm - past_mm) > near_mm and fit.fit.v >= SLOWER * free_speed[0]


class ResumeCheck:
    def __init__(self, *, fit: TrajectoryFit, free_speed: tuple[float, float], noise_mm: float,
                 anchor_sd_mm: float) -> None:
        self.fit = fit
        self.v0, self.v0_sd = free_speed
        self.sigma2 = max(noise_mm, 1.0) ** 2
        self.clip = 3.0 * max(noise_mm, 1.0)
        self.prior = self.sigma2 / max(anchor_sd_mm, 0.3) ** 2      # the start height's weight
        self._sums = [0.0, 0.0, 0.0, 0.0, 0.0]       # count, u, u^2, z, u z

    def add(self, t: float, y: float, *, expected: float) -> Finding | None:
        """One plausible reading; `expected` is where the move's fit puts the desk now."""
        fit = self.fit
        if t - fit.t_on < fit.ramp + AFTER_RAMP_S:
            return None
        # One wild echo must not pass for a slow desk: pulled in to a few sigma of the move's fit.
        y = expected + max(-self.clip, min(self.clip, y - expected))
        u, z = fit.g(t), fit.d * (y - fit.x0)
        s = self._sums
        s[0] += 1.0
        s[1] += u
        s[2] += u * u
        s[3] += z
        s[4] += u * z
        if s[0] < MIN_READINGS:
            return None
        n, su, suu, sz, suz = s[0] + self.prior, s[1], s[2], s[3], s[4]
        det = n * suu - su * su
        if det <= 1e-12:
            return None
        v = (n * suz - su * sz) / det
        doubt = (self.sigma2 * n / det + self.v0_sd ** 2) ** 0.5
        # Beyond doubt slower than before, and surely (a standard deviation) a good part slower: a desk a few
        # per cent slower, give or take, is the doubt about the speed before, or its pace along the travel.
        if (self.v0 - v) / doubt < Z or (SLOWER * self.v0 - v) / doubt < 1.0:
            return None
        return (FaultKind.OBSTRUCTION,
                f"the desk went on at {max(v, 0.0):.0f} of the {self.v0:.0f} mm/s it ran at before it stopped "
                f"(pressing into something)")
