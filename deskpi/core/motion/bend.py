"""Mid-move: is the desk slowing down while the motor is on (pressing into something soft)?

A hand, a knee or a chair arm does not stop a desk: it is squeezed and pushes back harder with
every millimetre, and the motor slows as the force rises (a DC motor's straight speed-torque
line). In the readings the path bends: a straight line up to the moment of contact, then one
that curves back, its shortfall growing with the square of the time since. So the test is
the one for a stop (`CollapseCheck`) with the stop replaced by that bend: over the move's steady
readings (the last `LINE_S` of them), a straight line against a line that bends at t_s by an
amount fitted to the readings, for every t_s in the last `BEND_S` (a generalised likelihood-ratio
test). Line and bend are fitted together, so an error in the line's speed cannot pass for a bend,
and the longer the desk ran straight before, the surer the line and the sooner a bend shows.

Comparing the speed now with the speed a second ago, as this test once did, waited for the
desk to lose a quarter of its speed and then for a second of readings to show it: on a slow
desk the motor pushed on a hand for two seconds. The bend's evidence adds up from the first
reading after contact.

A healthy desk's speed wanders a little on a real desk (its load shifts, the supply sags), so
a bend only counts once it has cost a good part of the speed (`DROP`), and its finding is
direct evidence (acted on without asking the settled desk, which a squeezed hand holds near
where a free desk would stop anyway).
"""
from __future__ import annotations

from collections import deque

from ..faults import FaultKind, Finding


class BendCheck:
    LINE_S = 10.0        # the straight line's readings: all of the move's steady running, up to this
    BEND_S = 3.0         # candidate bends: within this of the newest reading
    MIN_LINE_S = 0.6     # readings on the straight before a candidate bend
    MIN_AFTER_S = 0.25   # and after it: a bend over fewer readings is any few noisy ones
    DROP = 0.15          # the share of the speed a bend must have cost: about 180 N on a 1200 N motor
    # A bend to a standstill is a stop, the collapse test's to weigh (and the settled desk's to
    # confirm); here it is most often a few readings off together (ghost echoes) fitted as one.
    STOPPED = 0.9

    def __init__(self, *, noise_mm: float, threshold: float, steady_after_s: float) -> None:
        self.sigma2 = max(noise_mm, 1.0) ** 2
        self.clip = 4.0 * max(noise_mm, 1.0)
        self.threshold = threshold
        self.steady_after_s = steady_after_s
        self._pts: deque[tuple[float, float]] = deque()
        # Running sums for the straight line, times from the first reading (u = t - t0): count, u, u^2,
        # y, u y. Kept as readings come and go, so only the candidate bends are walked per reading.
        self._t0: float | None = None
        self._sums = [0.0, 0.0, 0.0, 0.0, 0.0]

    def _account(self, t: float, y: float, sign: float) -> None:
        if self._t0 is None:
            self._t0 = t
        u = t - self._t0
        sums = self._sums
        sums[0] += sign
        sums[1] += sign * u
        sums[2] += sign * u * u
        sums[3] += sign * y
        sums[4] += sign * u * y

    def add(self, t: float, y: float, *, t_on: float, d: int, expected: float) -> Finding | None:
        """One accepted, plausible reading; `expected` is where the move's fit puts the desk now."""
        if t - t_on < self.steady_after_s:
            return None
        # One wild echo must not pass for a bend: pulled in to a few sigma of where the desk should be.
        y = expected + max(-self.clip, min(self.clip, y - expected))
        self._pts.append((t, y))
        self._account(t, y, 1.0)
        while t - self._pts[0][0] > self.LINE_S:
            self._account(*self._pts.popleft(), -1.0)
        if not self._weighable():
            return None
        evidence, cruise, lost = self.strongest(d)
        if evidence <= self.threshold or cruise <= 5.0 or not self.DROP * cruise <= lost < self.STOPPED * cruise:
            return None
        return (FaultKind.OBSTRUCTION,
                f"the desk slowed from {cruise:.0f} to {max(cruise - lost, 0):.0f} mm/s while the motor was on "
                f"(pressing into something)")

    def _weighable(self) -> bool:
        """Readings enough, and long enough, for a line and a bend after it."""
        return len(self._pts) >= 12 and self._pts[-1][0] - self._pts[0][0] >= self.MIN_LINE_S + self.MIN_AFTER_S

    def evidence(self, d: int) -> float:
        """The best-supported bend's evidence now (0 before there are readings enough to weigh one)."""
        return self.strongest(d)[0] if self._weighable() else 0.0

    def strongest(self, d: int) -> tuple[float, float, float]:
        """The best-supported bend in the readings: (its evidence, the speed before it, the speed lost since)."""
        # Times from the newest reading (x = u - last): small numbers keep the sums of fourth powers exact.
        assert self._t0 is not None       # add() has accounted for a reading
        n, su, suu, sy, suy = self._sums
        t_last, t_first = self._pts[-1][0], self._pts[0][0]
        last = t_last - self._t0
        s1 = su - n * last
        s2 = suu - 2 * last * su + n * last * last
        sxx = suu - su * su / n
        if sxx <= 1e-9:
            return 0.0, 0.0, 0.0
        slope = (suy - su * sy / n) / sxx
        mean_y = sy / n
        mean_t = s1 / n
        g_det = n * s2 - s1 * s1
        half_speed = max(d * slope, 0.0) / 2      # c's bound: 2 c s, the speed lost, at most the speed
        best, best_c, best_s, best_beta = 0.0, 0.0, 0.0, 0.0
        # Suffix sums over the readings after a candidate bend at s (t > s) of t^0..t^4 and of the
        # straight line's residual e times t^0..t^2.
        a0 = a1 = a2 = a3 = a4 = 0.0
        e0 = e1 = e2 = 0.0
        newest = reversed(self._pts)
        x, yk = next(newest)
        x -= t_last
        for older_t, older_y in newest:
            s = older_t - t_last
            if s < -self.BEND_S or older_t - t_first < self.MIN_LINE_S:
                break
            e = yk - mean_y - slope * (x - mean_t)
            xx = x * x
            a0 += 1.0
            a1 += x
            a2 += xx
            a3 += xx * x
            a4 += xx * xx
            e0 += e
            e1 += e * x
            e2 += e * xx
            x, yk = s, older_y
            if s > -self.MIN_AFTER_S:
                continue
            # q = (t - s)^2 after the bend, 0 before: its products with 1, t, itself and e.
            q1 = a2 - 2 * s * a1 + s * s * a0
            qt = a3 - 2 * s * a2 + s * s * a1
            qq = a4 - 4 * s * a3 + 6 * s * s * a2 - 4 * s * s * s * a1 + s ** 4 * a0
            qe = e2 - 2 * s * e1 + s * s * e0
            if d * qe >= 0:
                continue      # bending the way the desk is going: speeding up, not pressing on anything
            # What of q the line cannot take up: q minus its projection on (1, t).
            qq_perp = qq - (s2 * q1 * q1 - 2 * s1 * q1 * qt + n * qt * qt) / g_det
            if qq_perp <= 1e-12:
                continue
            c = qe / qq_perp
            if d * c * s > half_speed:
                # Squeezing something slows a desk at most to a stop, never back the way it came: a
                # steeper bend is a few readings off together (ghost echoes), held to the steepest real one.
                c = half_speed / (d * s)
            llr = (2 * c * qe - c * c * qq_perp) / (2 * self.sigma2)
            if llr > best:
                # q's own slope (regressed on 1, t): the share of the bend the straight line took up.
                best, best_c, best_s, best_beta = llr, c, s, (n * qt - s1 * q1) / g_det
        # The speed before the bend (the straight line's slope, less what the bend pulled it by)
        # and what the bend has cost since, from its curvature (c is against the motion, s < 0).
        return best, d * (slope - best_c * best_beta), 2 * d * best_c * best_s
