"""A soft obstacle met in the last centimetres of a move: the stops of a goto, added up, short of a free desk's.

Such an obstacle (a hand, a chair arm) slows the desk too little for the monitors before the motor goes off for
the target; the desk then stops short, and each correction pulse goes a fraction of its way, until one lands
within the tolerance while the desk presses with hundreds of newtons. `track` keeps one goto's ledger of stops
(`Shortfall`) and `beyond_doubt` says when it is far enough short to be an obstruction.

Only a move whose first stop was timed on a learned coast after PRESSED_STEADY readings at full speed is judged
(not a short move, not a desk still being learned; a stop the goto began from while it settled counts as its
first), and never one that may end on the desk's bottom end stop (`near_end_stop`).

Met 2-3 cm before the target, such an obstacle leaves two weak signs of itself: the bend check
(`BendCheck`) has begun to see the desk slow when the motor goes off for the target, and the stops fall a
little short. Neither alone is rare on a free desk, both together are: of 10,963 healthy timed cuts over
1000 moves per desk family, 177 had a bend's log-likelihood ratio of BENT_EVIDENCE at the cut and 5 fell
2 sd short, none both (nor 1.5 sd short). So a move whose cut came with that bend is latched at
PRESSED_Z_BENT. On the end-of-travel bench it lets go of two more of 160 soft obstacles (going up, pressed
with 506 and 606 N when the desk arrived).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..types import Direction
from .config import MotionConfig

#: A move's stops, added up, this far short of a free desk's (in sd, and in mm) pressed into something.
PRESSED_Z = 3.5
PRESSED_MM = 4.0
#: ... or this far (in sd) when the bend check had this much evidence (a log-likelihood ratio) at a cut.
PRESSED_Z_BENT = 2.2
BENT_EVIDENCE = 3.0
#: Readings at full speed before a cut whose coast is judged: on a shorter move the fit's speed is still
#: mostly the learned one, and a healthy desk loaded a little differently rests 5 mm from it.
PRESSED_STEADY = 40
#: How well a short pulse's travel is known (a share of it): once pulses are learned, and before.
PULSE_SPREAD = (0.3, 0.4)


@dataclass
class Shortfall:
    """One move's stops added up: how far short of where a free desk's would have brought it.

    A desk pressing into something soft (a hand, a chair arm) falls short every time the
    motor is cut: the cut for the target, then each correction after it. One stop a few mm
    short is common (a coast is known to a few mm, a short pulse to a third of itself);
    every stop short, adding up beyond doubt, is not. Each stop's expected travel counts
    from where the controller thought the desk was, so the rests in between cancel and
    only the first start and the last rest are measurements.
    """

    start_mm: float
    direction: int
    travel_mm: float = 0.0      # what the stops so far would have covered on a free desk
    var: float = 0.0            # and its variance
    stops: int = 0
    bent: bool = False          # the bend check had BENT_EVIDENCE of the desk slowing at one of its cuts

    def add(self, travel_mm: float, sd_mm: float) -> None:
        self.travel_mm += travel_mm
        self.var += sd_mm * sd_mm
        self.stops += 1

    def short_of_free(self, rest_mm: float, se_mm: float, floor_sd_mm: float = 0.0) -> tuple[float, float]:
        """How far short of a free desk the desk rests (mm), and that in standard deviations.

        `floor_sd_mm`: the least the whole is uncertain by, however sure the fit was of each stop.
        """
        short = self.travel_mm - self.direction * (rest_mm - self.start_mm)
        return short, short / max(math.sqrt(self.var + se_mm * se_mm), floor_sd_mm, 1e-6)


def track(led: Shortfall | None, *, direction: Direction, judged: bool, pulse_mm: float | None,
          pulses_learned: int, cut: tuple[float, float, float] | None, bend: float = 0.0) -> Shortfall | None:
    """The goto's ledger after one more stop (None: nothing to judge). judged: a stop worth learning from with
    no fault suspected; pulse_mm: the travel a correction pulse wanted, when the stop ended one; cut: (where
    the move's fit started, the rest it expected, its sd), when the stop was a cut after a steady run, and
    bend the bend check's evidence of the desk slowing when it was cut."""
    if not judged or (led is not None and led.direction != direction):
        return None
    if pulse_mm is not None:
        if led is not None:
            led.add(pulse_mm, PULSE_SPREAD[pulses_learned < 3] * pulse_mm)
        return led
    if cut is None:
        return None
    x0, expected, sd = cut
    led = led or Shortfall(x0, int(direction))
    led.add(direction * (expected - x0), sd)
    led.bent = led.bent or bend >= BENT_EVIDENCE
    return led


def beyond_doubt(led: Shortfall, rest_mm: float, se_mm: float, noise_mm: float) -> float | None:
    """How far short of a free desk the desk rests (mm) when that is an obstruction, else None."""
    # A healthy rest is not known better than one reading's noise, however sure the fit was:
    # on a noisy desk with wild echoes a free stop lands 5 mm from a fit sure to 0.6 mm.
    short, z = led.short_of_free(rest_mm, se_mm, noise_mm)
    return short if short >= PRESSED_MM and z >= (PRESSED_Z_BENT if led.bent else PRESSED_Z) else None


def near_end_stop(cfg: MotionConfig, target: float, direction: Direction) -> bool:
    """Whether a move down to `target` may end on the desk's own bottom end stop: an installer who re-zeroes
    there sets min_mm on the stop, and until the re-zero a sensor drifted a few mm high reads the stop short of
    the target. Resting short there is the desk's end, not a hand; judging it would latch every move to the
    bottom, and the re-zero that fixes the drift would never run."""
    return cfg.bottom_on_end_stop and direction is Direction.DOWN and target - cfg.min_mm <= cfg.limit_overrun_mm


def on_end_stop(cfg: MotionConfig, target: float, direction: Direction, rest_mm: float) -> bool:
    """Whether a move down that stopped dead at rest_mm is resting on the bottom end stop (see near_end_stop):
    a sensor drifted high reads the stop up to limit_overrun_mm above the limit, and the motor, driving on
    toward the limit the readings have not reached, stalls there. That is the move's end, not a fault."""
    return near_end_stop(cfg, target, direction) and -cfg.tolerance_mm <= rest_mm - target <= cfg.limit_overrun_mm
