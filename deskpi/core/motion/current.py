"""Motor current: the quickest sign that the motor is pushing on something.

A desk motor draws a steady running current that depends on the direction and the load.
Stalled or pushing against an obstacle, it draws more within milliseconds, long before
an ultrasonic sensor can tell a stopped desk from a slow one. Commercial control boxes
stop on this; deskpi does when a shunt monitor on the motor supply is fitted.

The reference is this move's own running current (load changes it by tens of per cent
from move to move), measured just after the start-up surge, capped by what healthy
moves in this direction have drawn so a motor that is blocked from the start cannot
set its own reference.

Pressing into something soft (a hand, a knee, a chair arm) makes no jump: the current
climbs as the obstacle is squeezed, and at first each sample is lost in the brush and
PWM ripple. A one-sided CUSUM gathers that climb sample by sample: S = max(0, S + z - K)
with z the sample's rise over this move's reference in standard deviations, the motor
off when S passes H. Its reference and noise are this move's own, measured over a window
that trails LAG_SAMPLES behind (so a climb does not raise its own reference, while the
slow drift of a real motor's current along its travel does), taken high by their own
uncertainty while the window is short. With K = 1 and H = 10.5, white noise of a healthy
motor trips it once in about 7e9 samples (Siegmund's approximation): a desk moving 30
times a day for 15 s is read 3e7 times a year, so a false alarm is two centuries away.
No one sample adds more than Z_CLIP: a single wild reading cannot trip it. The jump
and mean-of-four tests measure from the same trailing level.

A CUSUM is the quickest test for a step; a squeezed obstacle's current is a ramp, growing
with the compression from nothing, so the CUSUM sees little of its first samples. Beside
it a ramp test fits a rise growing steadily from m samples ago, for five m from 6 to 28
(30 to 140 ms), over the same trailing reference: the samples weighted 1..m, the
likelihood-ratio statistic for a ramp of any slope starting then, in standard deviations of
itself (the noise taken high as the CUSUM's is, the reference's own uncertainty counted).
Each fit passes RAMP_Z = 6.55 on white noise with probability 2.9e-11 a sample, the five
together at most 1.4e-10 (the union bound: they overlap, so fewer), the CUSUM's own rate:
with both, a false alarm is a century away. Samples are clipped at Z_CLIP here too, so one
wild reading moves a fit by at most 3.2 standard deviations. It cuts a hand under a fast
desk 5-10 ms sooner than the CUSUM would.
"""
from __future__ import annotations

import statistics
from collections import deque

from ..faults import FaultKind, Finding

#: Samples that set this move's reference once the surge is over (~0.1 s at 5 ms).
REFERENCE_SAMPLES = 20
#: Samples averaged to see a steady climb (~20 ms at 5 ms).
MEAN_SAMPLES = 4
#: Twenty samples judge the noise only roughly: the quick checks (a jump, the mean of four) never
#: take it below this share of the running current ...
NOISE_SHARE = 0.025
#: ... and the climb, which measures it over up to WINDOW_SAMPLES and takes it high by its own
#: uncertainty, never below this one (readings averaged over a whole interval scatter 1.5-2 %; a
#: reading that hardly moves, a coarse or stuck register, must not make every wobble count).
CLIMB_NOISE_SHARE = 0.01
#: Less than this while the motor runs is a sensor that is not reading, not a motor.
MIN_RUNNING_A = 0.2
#: A healthy move draws at most this much more than the learned running current (load).
LOAD_ALLOWANCE = 1.4
#: Half as much again as the most a healthy move draws either way under the heaviest load is no load:
#: a motor held still (a stall draws two to three times its running current). A motor wired the wrong way
#: round draws the other direction's current, which is under this too.
BEYOND_SHARE = 1.5
#: The CUSUM of the climb: the rise (in standard deviations) a sample must exceed to add to
#: the sum, the sum that cuts the motor, and the most one sample may add.
CUSUM_K = 1.0
CUSUM_H = 10.5
Z_CLIP = 5.0
#: The CUSUM's reference trails this many samples behind (~0.15 s at 5 ms) ...
LAG_SAMPLES = 30
#: ... and is the mean of at most this many samples before that (~0.5 s at 5 ms).
WINDOW_SAMPLES = 100
#: The ramp test fits a rise starting this many samples ago (~30 to 140 ms at 5 ms): all within
#: LAG_SAMPLES, so the samples it weighs are never part of the reference it weighs them against ...
RAMP_SAMPLES = (6, 9, 13, 19, 28)
#: ... and cuts the motor when one of the fits is this many standard deviations from no rise:
#: 5 fits x P(z > 6.55) = 1.4e-10 a sample, the CUSUM's own false-alarm rate.
RAMP_Z = 6.55


class CurrentCheck:
    def __init__(self, *, t_on: float, surge_s: float, rise_a: float, samples: int = 3,
                 learned_a: float | None = None, stall_a: float | None = None,
                 beyond_a: float | None = None, other_a: float | None = None) -> None:
        self.t_on = t_on
        self.surge_s = surge_s
        self.rise_a = rise_a
        self.samples = samples
        self.learned_a = learned_a
        self.stall_a = stall_a
        self.beyond_a = beyond_a
        #: The finding was a current beyond anything a healthy motor draws (beyond_a) sample after sample:
        #: direct evidence even before this move's own running current is known.
        self.beyond = False
        self._beyond = 0
        #: The other direction's learned running current. A motor wired the wrong way round draws it: the
        #: finding was that, more than this direction ever draws (`other_way`), evidence for the judge.
        self.other_a = other_a
        self.other_way = False
        self._first: list[float] = []
        self.reference: float | None = None
        self.capped = False        # this move draws more than any healthy one did: heavier, or blocked early
        self.noise_a = 0.0
        self.running: list[float] = []      # healthy samples of this move, for learning
        self._over = 0
        self._recent: deque[float] = deque(maxlen=MEAN_SAMPLES)
        self._last_t = t_on
        self.climb = Climb()

    def add(self, t: float, amps: float, moved_mm: float) -> Finding | None:
        if t - self.t_on < self.surge_s:
            return None
        self._last_t = t
        self._recent.append(amps)
        # Fed every running sample, a sample over the limit too: it is part of the climb.
        if self.reference is not None and self.climb.add(amps, floor=CLIMB_NOISE_SHARE * self.reference):
            return self._finding(amps, moved_mm)
        limit = self._limit()
        if limit is not None and amps > limit:
            self._over += 1
            self._beyond = self._beyond + 1 if self.beyond_a is not None and amps > self.beyond_a else 0
            if self._over >= self.samples:
                self.beyond = self._beyond >= self.samples
                return self._finding(amps, moved_mm)
            return None
        self._over = self._beyond = 0
        if self.reference is not None and len(self._recent) == self._recent.maxlen:
            # A steady climb (pressing into something soft) shows in the mean of a few
            # samples before any one sample stands out from the noise.
            # Tested on every sample, thousands of times a move: 8 sd of the mean, so that a
            # year of healthy moves does not raise one false alarm.
            mean = sum(self._recent) / len(self._recent)
            if mean > self.climb.level() + max(self.rise_a / 2, 8.0 * self.noise_a / len(self._recent) ** 0.5):
                return self._finding(mean, moved_mm)
        if self.reference is None:
            self._first.append(amps)
            if len(self._first) >= REFERENCE_SAMPLES:
                med = statistics.median(self._first)
                cap = None if self.learned_a is None else self.learned_a * LOAD_ALLOWANCE
                self.reference = med if cap is None else min(med, cap)
                self.capped = cap is not None and med > cap
                # Twenty samples judge the noise only roughly: never below what brush and PWM
                # ripple make of a running current (a few per cent of it).
                mad = 1.4826 * statistics.median(abs(x - med) for x in self._first)
                self.noise_a = max(mad, NOISE_SHARE * self.reference)
                for x in self._first:
                    self.climb.learn(x)
        else:
            self.running.append(amps)
        return None

    def _limit(self) -> float | None:
        if self.reference is not None:
            # Over the trailing level, not the first one: a motor's running current drifts along the travel.
            return self.climb.level() + max(self.rise_a, 5.0 * self.noise_a)
        if self.learned_a is not None:
            # Before this move's reference is set: far above anything a healthy start draws.
            return self.learned_a * LOAD_ALLOWANCE + self.rise_a
        return self.stall_a

    def quiet(self, t: float) -> bool:
        """The current was read just now and shows no rise: the motor is not pushing on anything."""
        if self.reference is None or not self._recent or t - self._last_t > 0.05:
            return False
        # A reading of a motor that is running: a sensor reading nothing (a broken sense
        # line, a chip that lost its set-up, the motor's supply gone) must not vouch for it.
        if self.reference < MIN_RUNNING_A or (self.learned_a is not None and self.reference < 0.5 * self.learned_a):
            return False
        band = max(self.rise_a, 5.0 * self.noise_a)
        return self.reference - band < min(self._recent) and max(self._recent) < self.reference + self.rise_a / 2

    @property
    def settled(self) -> bool:
        """This move's own running current is known: a rise from it is something in the way."""
        return self.reference is not None and not self.capped

    def seen_a(self) -> float | None:
        """What this move drew once the surge was over (to re-learn from when it proves healthy)."""
        return statistics.median(self._first) if self._first else None

    def _finding(self, amps: float, moved_mm: float) -> Finding:
        ref = self.reference if self.reference is not None else self.learned_a
        was = f" from {ref:.1f} A" if ref is not None else ""
        if moved_mm < 5.0:
            self.other_way = self._draws_other_way(amps)
            going = ", what it draws going the other way," if self.other_way else ""
            return FaultKind.STALL, f"the motor drew {amps:.1f} A{was}{going} and the desk did not move"
        return FaultKind.OBSTRUCTION, f"the motor current rose{was} to {amps:.1f} A: it is pushing on something"

    def _draws_other_way(self, amps: float) -> bool:
        if self.other_a is None or self.learned_a is None:
            return False
        return self.learned_a * LOAD_ALLOWANCE < amps and \
            self.other_a / LOAD_ALLOWANCE <= amps <= self.other_a * LOAD_ALLOWANCE

    def healthy_running_a(self) -> float | None:
        """This move's running current, if it saw enough of it to learn from."""
        pool = self._first + self.running
        return statistics.median(pool) if len(pool) >= REFERENCE_SAMPLES else None


class Climb:
    """A one-sided CUSUM of the current's rise over a reference that trails behind it, and a
    matched filter for a rise that grows steadily from an unknown sample (the ramp test)."""

    def __init__(self) -> None:
        self._pending: deque[float] = deque()
        self._latest: deque[float] = deque(maxlen=max(RAMP_SAMPLES))    # clipped, about the shift
        self._ramp = [[0.0, 0.0] for _ in RAMP_SAMPLES]     # per fit: sum of its samples, and weighted 1..m
        self._window: deque[float] = deque()
        self._sum = 0.0
        self._sumsq = 0.0
        self._shift: float | None = None     # sums are kept about the first sample, for precision
        self.cusum = 0.0
        #: The most of its trip level the climb reached on this move (CUSUM or ramp, whichever was
        #: nearer): on a healthy move, how near the noise came to a false alarm.
        self.peak = 0.0

    def learn(self, amps: float) -> None:
        """A sample the reference may be measured on."""
        if self._shift is None:
            self._shift = amps
        x = amps - self._shift
        self._window.append(x)
        self._sum += x
        self._sumsq += x * x
        if len(self._window) > WINDOW_SAMPLES:
            old = self._window.popleft()
            self._sum -= old
            self._sumsq -= old * old

    def level(self) -> float:
        """The running current the trailing window saw (this move's reference as it drifts)."""
        shift = self._shift if self._shift is not None else 0.0
        return shift + self._sum / len(self._window) if self._window else shift

    def _mean_sd(self, floor: float) -> tuple[float, float]:
        """The trailing window's mean (about the shift) and its noise, taken high by its uncertainty."""
        n = len(self._window)
        mean = self._sum / n
        sd = max((self._sumsq - n * mean * mean) / (n - 1), 0.0) ** 0.5
        return mean, max(sd * (1.0 + 2.0 / (2.0 * (n - 1)) ** 0.5), floor)

    def _ramp_test(self, x: float, mean: float, sd: float) -> bool:
        """A rise growing steadily for the last m samples, for each m in RAMP_SAMPLES.

        A squeezed obstacle's current is a ramp, not a step: the sum of the samples' rise
        weighted 1..m (oldest to newest) is the likelihood-ratio statistic for a ramp of any
        slope starting m samples ago. Its noise counts the trailing mean's own uncertainty
        instead of taking the mean high, which would cost a ramp most where it is smallest.
        """
        x = min(x, mean + Z_CLIP * sd)
        latest = self._latest
        n = len(self._window)
        z = 0.0
        for m, sums in zip(RAMP_SAMPLES, self._ramp, strict=True):
            # Every sample already in moves down one weight; the one that leaves had weight 1.
            leaving = latest[-m] if len(latest) >= m else 0.0
            sums[1] += m * x - sums[0]
            sums[0] += x - leaving
            if len(latest) + 1 >= m:
                t1, t2 = m * (m + 1) / 2, m * (m + 1) * (2 * m + 1) / 6
                z = max(z, (sums[1] - mean * t1) / (sd * (t2 + t1 * t1 / n) ** 0.5))
        latest.append(x)
        self.peak = max(self.peak, z / RAMP_Z)
        return z > RAMP_Z

    def add(self, amps: float, floor: float) -> bool:
        """Feed one running sample; True when the climb is beyond what noise makes."""
        if len(self._window) < 2:
            return False
        mean, sd = self._mean_sd(floor)
        shift = self._shift if self._shift is not None else 0.0
        # The CUSUM's reference is taken high by its own uncertainty (the ramp test counts it in its noise).
        ref = shift + mean + 2.0 * sd / len(self._window) ** 0.5
        z = min((amps - ref) / sd, Z_CLIP)
        self.cusum = max(0.0, self.cusum + z - CUSUM_K)
        self.peak = max(self.peak, self.cusum / CUSUM_H)
        ramp = self._ramp_test(amps - shift, mean, sd)
        self._pending.append(amps)
        if len(self._pending) > LAG_SAMPLES:
            self.learn(self._pending.popleft())
        return self.cusum > CUSUM_H or ramp
