"""Motor current: the quickest sign that the motor is pushing on something.

A desk motor draws a steady running current that depends on the direction and the load.
Stalled or pushing against an obstacle, it draws more within milliseconds, long before
an ultrasonic sensor can tell a stopped desk from a slow one. Commercial control boxes
stop on this; deskpi does when a shunt monitor on the motor supply is fitted.

The reference is this move's own running current (load changes it by tens of per cent
from move to move), measured just after the start-up surge, capped by what healthy
moves in this direction have drawn so a motor that is blocked from the start cannot
set its own reference.
"""
from __future__ import annotations

import statistics
from collections import deque

from ..faults import FaultKind

Finding = tuple[FaultKind, str]

#: Samples that set this move's reference once the surge is over (~0.1 s at 5 ms).
REFERENCE_SAMPLES = 20
#: Samples averaged to see a steady climb (~20 ms at 5 ms).
MEAN_SAMPLES = 4
#: The least noise a running motor's current has, as a share of it.
NOISE_SHARE = 0.025
#: Less than this while the motor runs is a sensor that is not reading, not a motor.
MIN_RUNNING_A = 0.2
#: A healthy move draws at most this much more than the learned running current (load).
LOAD_ALLOWANCE = 1.4


class CurrentCheck:
    def __init__(self, *, t_on: float, surge_s: float, rise_a: float, samples: int = 3,
                 learned_a: float | None = None, stall_a: float | None = None) -> None:
        self.t_on = t_on
        self.surge_s = surge_s
        self.rise_a = rise_a
        self.samples = samples
        self.learned_a = learned_a
        self.stall_a = stall_a
        self._first: list[float] = []
        self.reference: float | None = None
        self.capped = False        # this move draws more than any healthy one did: heavier, or blocked early
        self.noise_a = 0.0
        self.running: list[float] = []      # healthy samples of this move, for learning
        self._over = 0
        self._recent: deque[float] = deque(maxlen=MEAN_SAMPLES)
        self._last_t = t_on

    def add(self, t: float, amps: float, moved_mm: float) -> Finding | None:
        if t - self.t_on < self.surge_s:
            return None
        self._last_t = t
        self._recent.append(amps)
        limit = self._limit()
        if limit is not None and amps > limit:
            self._over += 1
            if self._over >= self.samples:
                return self._finding(amps, moved_mm)
            return None
        self._over = 0
        if self.reference is not None and len(self._recent) == self._recent.maxlen:
            # A steady climb (pressing into something soft) shows in the mean of a few
            # samples before any one sample stands out from the noise.
            # Tested on every sample, thousands of times a move: 8 sd of the mean, so that a
            # year of healthy moves does not raise one false alarm.
            mean = sum(self._recent) / len(self._recent)
            if mean > self.reference + max(self.rise_a / 2, 8.0 * self.noise_a / len(self._recent) ** 0.5):
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
        else:
            self.running.append(amps)
        return None

    def _limit(self) -> float | None:
        if self.reference is not None:
            return self.reference + max(self.rise_a, 5.0 * self.noise_a)
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
            return FaultKind.STALL, f"the motor drew {amps:.1f} A{was} and the desk did not move"
        return FaultKind.OBSTRUCTION, f"the motor current rose{was} to {amps:.1f} A: it is pushing on something"

    def healthy_running_a(self) -> float | None:
        """This move's running current, if it saw enough of it to learn from."""
        pool = self._first + self.running
        return statistics.median(pool) if len(pool) >= REFERENCE_SAMPLES else None
