"""Motion watchdogs: is the desk doing what the motor is telling it to?

Each check returns a (FaultKind, detail) pair when it has seen enough
evidence, else None. Evidence is weighed as a log-likelihood ratio between
"moving as expected" and the failure, so a noisier sensor needs a little
longer but does not cry wolf, and a quieter one reacts sooner.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque

from ..faults import FaultKind, Finding
from .linefit import fit_line
from .trajectory import TrajectoryFit


class StartupCheck:
    """Right after the motor starts: wrong direction, or no motion at all.

    Uses the learned model (start height, speed, ramp) as the expectation and
    a conservative fraction of the learned speed, so a heavily loaded desk is
    not mistaken for a stalled one.

    `still` is where the desk stood (height, sd) from all its readings since it came to rest,
    when there are enough: a stall is told from a start by a few millimetres, and the median
    of the last few readings the move's fit starts from is off by most of one. That error
    weighed about as much as the noise of every reading since the motor went on: it made a stalled
    desk look like one starting slowly (slow to call), and a slow healthy start like a stall.
    """

    def __init__(self, *, fit: TrajectoryFit, speed: float, noise_mm: float, trusted: bool,
                 threshold: float, startup_s: float, still: tuple[float, float] | None = None) -> None:
        self.fit = fit
        self.x0, start_sd = still if still is not None else (fit.x0, fit.start_sd)
        self.start_sd = max(start_sd, 0.3)
        # Under "moving as learned" the stall evidence falls however slow a loaded desk
        # is (anything above half speed): no discount, which only made a stall wait longer.
        self.v = speed
        self.sigma2 = max(noise_mm, 1.0) ** 2
        self.trusted = trusted
        self.threshold = threshold
        self.startup_s = startup_s
        self._sum_gy = 0.0
        self._sum_gg = 0.0
        self._sum_g = 0.0
        self._sum_y = 0.0
        self._n = 0
        self._recent: deque[float] = deque(maxlen=3)
        self._behind: deque[float] = deque(maxlen=3)      # how far behind a healthy start, lately

    def add(self, t: float, y: float) -> Finding | None:
        d = self.fit.d
        g = self.fit.g(t)
        moved = d * (y - self.x0)      # progress in the commanded direction
        self._recent.append(moved)
        self._behind.append(moved - self.v * g)
        self._sum_gy += g * moved
        self._sum_g += g
        self._sum_gg += g * g
        self._sum_y += moved
        self._n += 1
        tau = t - self.fit.t_on
        # One wild echo inside the estimator's gate weighs a lot this early; a desk that is
        # really not moving (or moving the wrong way) is behind on every reading. One wild
        # echo cannot pull the median of three, so 1.5 sigma is enough: at 2 it was this
        # check, not the evidence, that held a stalled desk's motor on for a reading or two.
        consistent = len(self._behind) == 3 and sorted(self._behind)[1] < -1.5 * self.sigma2 ** 0.5
        if self.trusted and consistent:
            # "The wrong way" weighs the doubt about where the move started: every reading shares
            # that one error, so the readings are correlated (noise^2 I + start_sd^2 11'), and the
            # likelihood ratio of the two paths under that covariance discounts what a start
            # misplaced by its own doubt would explain. A flat two-sd shift charged the same
            # discount whatever the readings said: a reversed slow desk drove on a reading longer
            # (300 ms, where its readings told at 275). A stall claim is checked against that
            # doubt when the desk has settled, so it need not wait for it here.
            shared = self.start_sd ** 2 / (self.sigma2 + self._n * self.start_sd ** 2)
            llr_wrong = -2.0 * self.v * (self._sum_gy - shared * self._sum_g * self._sum_y) / self.sigma2
            llr_stall = (self.v ** 2 * self._sum_gg - 2.0 * self.v * self._sum_gy) / (2 * self.sigma2)
            # Not moving as learned: then which failure fits better, not moving or moving the wrong way?
            llr_wrong_vs_stall = (-2.0 * self.v * self._sum_gy - self.v ** 2 * self._sum_gg) / (2 * self.sigma2)
            if max(llr_wrong, llr_stall) > self.threshold and tau > self.startup_s:
                if llr_wrong_vs_stall > 0:
                    return (FaultKind.WRONG_DIRECTION,
                            f"moved {abs(min(moved, 0.0)):.0f} mm the wrong way after the motor started")
                return FaultKind.STALL, f"no movement {tau:.1f} s after the motor started"
        # Gross evidence needs no learned model: it also covers a desk fresh out of the box.
        if len(self._recent) == 3:
            med = sorted(self._recent)[1]
            if med < -max(4.0 * self.sigma2 ** 0.5, 8.0):
                return FaultKind.WRONG_DIRECTION, f"moved {abs(med):.0f} mm the wrong way after the motor started"
            if tau > 2 * self.startup_s + 1.2 and max(self._recent) < 4.0:
                return FaultKind.STALL, f"no movement {tau:.1f} s after the motor started"
        return None


#: Standard deviations of its slope by which a reference line must be under half the learned speed to
#: be a desk standing still with the motor on.
FLAT_Z = 6.0


class CollapseCheck:
    """Mid-move: did the speed collapse (an obstruction, or the motor gave up)?

    Fits a plain straight line through the full-speed readings before a test window
    (so the reference has not bent towards a failure and owes nothing to the start-up
    model), then runs a generalised likelihood-ratio test over the possible onset times
    within the window. Residuals are clipped so one wild echo cannot pass for a collapse.

    The window is a time, not a count of readings: long enough that a desk stopped at
    its start gives twice the threshold's evidence at this desk's speed, noise and ping
    rate. A fixed count of readings was too short for a slow, noisy desk pinged fast:
    the evidence never added up before the reference line itself bent to the stop.
    """

    MIN_REF = 10
    MIN_REF_SPAN_S = 0.7     # a shorter line misjudges the speed, and its error looks like a collapse ...
    EARLY_REF_SPAN_S = 0.35  # ... so from here to there its speed is held to the learned one
    EARLY_SPEED_ALLOWANCE = 1.25
    REF_SPAN_S = 1.5
    MIN_WINDOW_S = 0.12
    MAX_WINDOW_S = 0.8

    def __init__(self, *, noise_mm: float, threshold: float, steady_after_s: float, speed: float = 30.0,
                 ping_s: float = 0.06) -> None:
        self.sigma = max(noise_mm, 1.0)
        self.threshold = threshold
        self.steady_after_s = steady_after_s
        self.speed = speed
        self.window_s = self.window_for(speed, self.sigma, ping_s, threshold)
        self._pts: deque[tuple[float, float, bool]] = deque()
        self.reference: tuple[float, float, float] | None = None    # (c, slope, t_ref) of the last test
        self.onset: tuple[float, float] | None = None                # (t, height) the last alarm put the stop at
        self._span = 0.0
        self._moved = False      # a reference line has shown the desk moving

    @property
    def settled_in(self) -> bool:
        """Its reference line has been long enough to trust on its own for a whole test window.

        Until then a stop is also the early-stop check's: a desk that met something while still
        getting up to speed is weighed against the start-up profile, which knows the ramp, and not
        only against a straight line partly drawn through the ramp, which reads the pace low. Handing
        over as soon as the line was long enough left such a stop to the line: on the default desk a
        wall met 0.6 s into a move up was called 305 ms after the contact instead of 255 ms."""
        return self._span >= self.MIN_REF_SPAN_S + self.window_s

    @property
    def full_s(self) -> float:
        """How long into a move (from the motor going on) its reference line takes to grow to full length.

        Settled in, it is quick but still fooled now and then by a line under a second long: on the slow
        desk 14 of its 35 false alarms in 1000 healthy moves came 1.2-2.2 s into a leg. A desk stepped back
        to meet a suspected obstacle again should meet it with the line at full length, or a second false
        alarm at the same height latches a healthy desk."""
        return self.steady_after_s + self.REF_SPAN_S + self.window_s

    @classmethod
    def window_for(cls, speed: float, sigma: float, ping_s: float, threshold: float) -> float:
        """Shortest window in which a desk that stopped at its start gives 2 x threshold of evidence."""
        # A loaded desk may run a quarter slower than learned; its k-th reading after the
        # stop lies v*k*ping behind: sum over k of (v k ping)^2 / (2 sigma^2) >= 2 threshold.
        step = max(0.75 * speed * ping_s / sigma, 1e-3)
        need = 4.0 * threshold / (step * step)          # sum of k^2 needed
        n = 1
        while n * (n + 1) * (2 * n + 1) / 6.0 < need and n < 200:
            n += 1
        return min(max(n * ping_s, cls.MIN_WINDOW_S), cls.MAX_WINDOW_S)

    def predict(self, t: float) -> float | None:
        """Where the desk would be at t had it kept its pre-collapse pace."""
        if self.reference is None:
            return None
        c, slope, t_ref = self.reference
        return c + slope * (t - t_ref)

    def add(self, t: float, y: float, *, t_on: float, d: int, plausible: bool) -> Finding | None:
        if t - t_on < self.steady_after_s:
            return None
        self._pts.append((t, y, plausible))
        while self._pts and t - self._pts[0][0] > self.REF_SPAN_S + self.window_s:
            self._pts.popleft()
        split = t - self.window_s
        ref = [(pt, py) for pt, py, ok in self._pts if ok and pt < split]
        recent = [(pt, py) for pt, py, _ in self._pts if pt >= split]
        span = self._span = ref[-1][0] - ref[0][0] if ref else 0.0
        if len(ref) < self.MIN_REF or not recent or span < self.EARLY_REF_SPAN_S:
            return None
        line = _line(ref, self.sigma ** 2)
        if line is None:
            return None
        c, slope, var_c, var_s, cov, t_ref = line
        threshold = self.threshold
        if span < self.MIN_REF_SPAN_S:
            # Early in a move the line is short and may read the speed high, and a desk that
            # falls behind an over-fast line looks like one that stopped: hold it to what this
            # desk has been seen to do (a light load runs it a little faster), and ask more.
            slope = d * min(d * slope, self.EARLY_SPEED_ALLOWANCE * self.speed)
            threshold += 2.0
        self.reference = (c, slope, t_ref)
        v = d * slope
        if v < 5.0:
            # Nothing to fall behind: the line itself has stopped. A long line that flat, surely under
            # half the learned speed, after one that moved, is a desk standing still with the motor on;
            # a stop the test below missed would otherwise push until the cut timed for the target.
            # (One that never moved is the start-up check's: a stall, not something in the way.)
            if self._moved and span >= self.MIN_REF_SPAN_S and 0.5 * self.speed - v > FLAT_Z * var_s ** 0.5:
                self.onset = (ref[0][0], c + slope * (ref[0][0] - t_ref))
                return FaultKind.OBSTRUCTION, f"the desk has not moved for {span:.1f} s while the motor was on"
            return None
        self._moved = True
        dt_last = recent[-1][0] - t_ref
        sigma2 = self.sigma ** 2 + max(var_c + 2 * dt_last * cov + dt_last ** 2 * var_s, 0.0)
        clip = 4.0 * sigma2 ** 0.5
        base = ref[-1][0]       # times from here: absolute monotonic seconds (days of uptime) lose precision
        ts = [pt - base for pt, _ in recent]
        rs = [max(-clip, min(clip, d * (py - (c + slope * (pt - t_ref))))) for pt, py in recent]
        # LLR of "stopped at t_s" over "kept going" for the readings from k on:
        #   sum (r^2 - (r + v (t - t_s))^2) / 2 sigma^2, from suffix sums in one pass.
        best, best_k = 0.0, -1
        s_r = s_rt = s_t = s_tt = 0.0
        for k in range(len(rs) - 1, -1, -1):
            r, tk = rs[k], ts[k]
            s_r += r
            s_rt += r * tk
            s_t += tk
            s_tt += tk * tk
            n = len(rs) - k
            t_s = ts[k - 1] if k else 0.0
            cross = s_rt - t_s * s_r
            square = s_tt - 2 * t_s * s_t + n * t_s * t_s
            llr = -(2 * v * cross + v * v * square) / (2 * sigma2)
            if llr > best:
                best, best_k = llr, k
        if best <= threshold:
            return None
        t_s = base + (ts[best_k - 1] if best_k > 0 else 0.0)
        self.onset = (t_s, c + slope * (t_s - t_ref))
        return FaultKind.OBSTRUCTION, "the desk slowed to a stop while the motor was on"


class EarlyStopCheck:
    """Early in a move, before the collapse test has a reference line it trusts: did the desk stop?

    A hand or a wall met in the first half second of a (re)start is past before the collapse
    test has the steady readings it fits its line through, and the start-up check weighs a
    stall from the start, so readings on pace before the contact count against it. This test
    uses the learned start-up profile instead: healthy, the readings follow x0 + d v g(t) with
    v this move's own speed (a load's worth either side of the learned one); stopped at t_s,
    x0 + d v g(min(t, t_s)). It weighs the best t_s against "kept going", the start height
    allowed its own doubt and residuals clipped so one wild echo cannot pass for a stop.
    Only with a learned model: without one, g says nothing.

    It runs on every reading, on a Pi Zero too: each candidate t_s is first bounded in a few
    operations (`_ceilings`), and only one that might beat the threshold, or the best so far,
    is weighed reading by reading as before; so the decisions are those of weighing them all.
    """

    LOAD = (0.6, 1.4)        # this move's speed against the learned one, either side

    def __init__(self, *, fit: TrajectoryFit, speed: float, noise_mm: float, threshold: float,
                 trusted: bool, horizon_s: float) -> None:
        self.fit = fit
        self.horizon_s = horizon_s
        self.v_range = (self.LOAD[0] * speed, self.LOAD[1] * speed)
        self.sigma2 = max(noise_mm, 1.0) ** 2
        self.prior = self.sigma2 / max(fit.start_sd, 0.3) ** 2     # the start height's weight
        self.clip = 4.0 * self.sigma2 ** 0.5
        self.threshold = threshold
        self.trusted = trusted
        self._ts: list[float] = []
        self._hs: list[float] = []      # g(t)
        self._zs: list[float] = []      # progress along the move
        self._sums = _PrefixSums(self.v_range)
        self.onset: tuple[float, float] | None = None

    def add(self, t: float, y: float) -> Finding | None:
        fit = self.fit
        if not self.trusted or t <= fit.t_on:
            return None
        # No healthy or stopped desk reads outside what the fastest load could have covered: an echo
        # out there is pulled in to its edge before it may bend a fit.
        h = fit.g(t)
        z = min(max(fit.d * (y - fit.x0), -self.clip), self.v_range[1] * h + self.clip)
        self._ts.append(t)
        self._hs.append(h)
        self._zs.append(z)
        self._sums.add(h, z)
        if len(self._zs) < 3:
            return None
        hs, zs = self._hs, self._zs
        rss_free, _, _ = self._rss(len(zs) - 1)
        best, best_k, left = 0.0, -1, max(2.0 * self.sigma2 ** 0.5, 3.0)
        # The desk must have left its start before it stopped: one that never did is the
        # start-up check's (a stall); and the last reading alone is no evidence of a stop. A stop
        # longer ago than the horizon would have been seen by now: no need to look for it again.
        first = max(bisect_left(self._ts, t - self.horizon_s), 1)
        ceilings = self._ceilings(first, rss_free)
        for k in range(first, len(zs) - 1):
            if ceilings[k - first] <= max(best, self.threshold):
                continue        # it can neither speak nor beat one that might
            rss, a, v = self._rss(k)
            llr = (rss_free - rss) / (2 * self.sigma2)
            if llr > best and a + v * hs[k] >= left:
                best, best_k = llr, k
        if best <= self.threshold:
            return None
        _, a, v = self._rss(best_k)
        self.onset = (self._ts[best_k], fit.x0 + fit.d * (a + v * hs[best_k]))
        return FaultKind.OBSTRUCTION, "the desk stopped early in the move while the motor was on"

    def _ceilings(self, first: int, rss_free: float) -> list[float]:
        """For each candidate k from `first`, a number its LLR cannot exceed, from sums alone.

        The same two fits as `_rss`, with the tail's clipping counted off its readings in sorted
        order, and the readings up to k bounded by envelopes (`_PrefixSums`). Where one of those
        might be clipped the ceiling is infinite: `_rss` then decides. Sums in another order round
        differently, by some 1e-13 of their size: each ceiling is lifted by 1e-8 of it."""
        hs, zs, s = self._hs, self._zs, self._sums
        c, c2, sigma2, prior = self.clip, self.clip * self.clip, self.sigma2, self.prior
        n_pts = len(zs)
        n = n_pts + prior
        out = [math.inf] * max(n_pts - 1 - first, 0)
        tail: list[float] = []        # readings after k, sorted
        squares: list[float] = []
        for k in range(n_pts - 2, first - 1, -1):
            z_new = zs[k + 1]
            i = bisect_right(tail, z_new)
            tail.insert(i, z_new)
            squares.insert(i, z_new * z_new)
            m, h_k = n_pts - 1 - k, hs[k]
            z_pre, hz_pre, h_pre, hh_pre = s.z[k + 1], s.hz[k + 1], s.h[k + 1], s.hh[k + 1]
            sh, shh, a, v = self._first_fit(k, n)
            if not s.unclipped(k, a, v, c):
                continue
            pred = a + v * h_k
            lo, hi = pred - c, pred + c
            j1, j2 = bisect_left(tail, lo), bisect_right(tail, hi)
            t_sum = sum(tail[j1:j2]) + j1 * lo + (m - j2) * hi
            a, v = self._solve(n, sh, shh, z_pre + t_sum, hz_pre + h_k * t_sum)
            if not s.unclipped(k, a, v, c):
                continue
            pred = a + v * h_k
            j1, j2 = bisect_left(tail, pred - c), bisect_right(tail, pred + c)
            s1, s2, inner = sum(tail[j1:j2]), sum(squares[j1:j2]), j2 - j1
            # Every cross term is no larger than the squares beside it: they measure the rounding.
            squared = s.zz[k + 1] + (k + 1 + prior) * a * a + v * v * hh_pre + s2 + inner * pred * pred
            rss = (squared - 2 * (a * z_pre + v * hz_pre - a * v * h_pre + pred * s1) + (m - inner) * c2)
            out[k - first] = (rss_free - rss + 1e-8 * (squared + abs(rss_free) + 1.0)) / (2 * sigma2)
        return out

    def _rss(self, k: int) -> tuple[float, float, float]:
        """Residual sum of squares of progress = a + v g(min(t, t_k)), and a and v.

        a is held near 0 by the start's doubt, v within the load range, and readings further
        than the clip from a first fit are pulled in to it before the second (one wild echo
        would otherwise bend both fits, and they differ in how). g only grows, so min(g, g_k)
        is g up to k and g_k after: the first fit's sums come from prefix sums, and each
        candidate costs two passes over the readings, not seven (it runs on every reading)."""
        c, hs, zs = self.clip, self._hs, self._zs
        n = len(zs) + self.prior
        h_k = hs[k]
        sh, shh, a, v = self._first_fit(k, n)
        # Up to k the readings are weighed against a line, after it against the stopped desk's one height.
        sz = shz = 0.0
        for h, z in zip(hs[:k + 1], zs, strict=False):
            pred = a + v * h
            z = min(max(z, pred - c), pred + c)
            sz += z
            shz += h * z
        pred = a + v * h_k
        lo, hi = pred - c, pred + c
        tail = 0.0
        for z in zs[k + 1:]:
            tail += min(max(z, lo), hi)
        sz += tail
        shz += h_k * tail
        a, v = self._solve(n, sh, shh, sz, shz)
        c2 = c * c
        rss = self.prior * a * a
        for h, z in zip(hs[:k + 1], zs, strict=False):
            r = z - a - v * h
            rss += min(r * r, c2)
        pred = a + v * h_k
        for z in zs[k + 1:]:
            r = z - pred
            rss += min(r * r, c2)
        return rss, a, v

    def _first_fit(self, k: int, n: float) -> tuple[float, float, float, float]:
        """Sums of g(min(t, t_k)) and its square, and a and v fitted to the readings as they are."""
        s, h_k = self._sums, self._hs[k]
        after = len(self._zs) - 1 - k
        sh = s.h[k + 1] + after * h_k
        shh = s.hh[k + 1] + after * h_k * h_k
        a, v = self._solve(n, sh, shh, s.z[-1], s.hz[k + 1] + h_k * (s.z[-1] - s.z[k + 1]))
        return sh, shh, a, v

    def _solve(self, n: float, sh: float, shh: float, sz: float, shz: float) -> tuple[float, float]:
        det = n * shh - sh * sh
        v = (n * shz - sh * sz) / det if det > 1e-12 else self.v_range[0]
        v = min(max(v, self.v_range[0]), self.v_range[1])
        return (sz - v * sh) / n, v


class _PrefixSums:
    """Running sums of g, g^2, g z, z and z^2 over the first i readings (index i), for EarlyStopCheck,
    and how far above and below a line of each of a few speeds across its range they have reached.

    z - v g is linear in v, so its highest value over the readings is convex in v: between two of
    these speeds it lies under the chord of theirs, which bounds every reading's distance from a
    fitted line (any speed in the range) in a few operations."""

    GRID = 16

    def __init__(self, v_range: tuple[float, float]) -> None:
        self.h, self.hh, self.hz, self.z, self.zz = [0.0], [0.0], [0.0], [0.0], [0.0]
        lo, hi = v_range
        self.speeds = [lo + (hi - lo) * j / self.GRID for j in range(self.GRID)] + [hi]
        self.du = (hi - lo) / self.GRID
        self.top: list[list[float]] = [[-math.inf] for _ in self.speeds]
        self.bottom: list[list[float]] = [[math.inf] for _ in self.speeds]

    def add(self, h: float, z: float) -> None:
        self.h.append(self.h[-1] + h)
        self.hh.append(self.hh[-1] + h * h)
        self.hz.append(self.hz[-1] + h * z)
        self.z.append(self.z[-1] + z)
        self.zz.append(self.zz[-1] + z * z)
        for u, top, bottom in zip(self.speeds, self.top, self.bottom, strict=True):
            e = z - u * h
            top.append(max(top[-1], e))
            bottom.append(min(bottom[-1], e))

    def unclipped(self, k: int, a: float, v: float, c: float) -> bool:
        """Every reading up to k lies within c of a + v g, beyond doubt from rounding (g >= 0)."""
        speeds, du = self.speeds, self.du
        j = min(max(int((v - speeds[0]) / du), 0), self.GRID - 1) if du > 0 else 0
        w = min(max((speeds[j + 1] - v) / du, 0.0), 1.0) if du > 0 else 1.0
        top = w * self.top[j][k + 1] + (1 - w) * self.top[j + 1][k + 1] - a
        bottom = a - w * self.bottom[j][k + 1] - (1 - w) * self.bottom[j + 1][k + 1]
        room = c - 1e-9 * (abs(a) + abs(top) + abs(bottom) + c)
        return top <= room and bottom <= room


def _line(pts: list[tuple[float, float]], noise_var: float):
    """Least-squares line and its parameter variances, centred at the mean time.

    The variances use the larger of the known sensor noise and the scatter
    seen here, so a lucky quiet stretch cannot make the line overconfident.
    """
    line = fit_line(pts)
    if line is None:
        return None
    s2 = max(line.rss / max(line.n - 2, 1), noise_var)
    return line.y_mean, line.slope, s2 / line.n, s2 / line.sxx, 0.0, line.t_mean


class StuckCheck:
    """A sensor that repeats one value exactly while the desk should be moving."""

    def __init__(self, repeats: int = 3) -> None:
        self._repeats = repeats
        self._last: deque[float] = deque(maxlen=repeats)

    def add(self, y: float, expected_step_mm: float, noise_mm: float) -> Finding | None:
        self._last.append(y)
        if len(self._last) < self._repeats:
            return None
        if expected_step_mm < 0.2 or noise_mm < 0.3:
            return None
        # Echo timestamps resolve to well under a nanosecond of pulse (1e-4 mm); a
        # moving desk seen through real noise does not repeat itself to that.
        if max(self._last) - min(self._last) < 1e-4:
            return (FaultKind.SENSOR_STUCK,
                    f"the sensor reported {y:.0f} mm {len(self._last)} times in a row while moving")
        return None
