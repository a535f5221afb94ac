"""Was it a fault? The verdict on a suspicion, once the desk the motor was cut on has settled.

The settled height is far better evidence than the few readings that raised the alarm:
a desk cut while moving freely coasts on by speed x stop lag, a blocked one stopped
where it met the obstacle, a stalled one never left its start, a reversed one ended on
the wrong side of it, and a stuck sensor goes on repeating itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..faults import FaultKind
from ..types import Direction


@dataclass(frozen=True)
class Suspicion:
    kind: FaultKind
    detail: str
    direction: Direction
    start_mm: float
    expected_mm: float       # where a healthy desk would have come to rest
    spread_mm: float         # how sure that expectation is
    blocked_mm: float | None = None   # where the readings say the desk stopped, if it was blocked
    direct: bool = False     # raised by direct evidence (current, bend, resume): a fault, only its kind is open
    start_sd_mm: float = 0.0  # how sure the height the move started from is
    current_a: float | None = None   # what the motor drew, when the current raised the alarm
    coast_unknown_mm: float = 0.0    # a free desk rests anywhere up to this much short of expected_mm
    ran_free: bool = False    # its leg went on at the move's own speed well past the last false alarm's rest
    other_way: bool = False   # the motor drew the other direction's running current, more than this one's


def _log_free(final: float, sus: Suspicion, sd: float) -> float:
    """Log-likelihood of the rest height for a free desk, whose coast may be anything in a range."""
    width = sus.coast_unknown_mm
    if width <= 0.0:
        z = (final - sus.expected_mm) / sd
        return -0.5 * z * z - math.log(sd)
    near, far = sorted((sus.expected_mm - sus.direction * width, sus.expected_mm))
    mass = _phi((far - final) / sd) - _phi((near - final) / sd)
    # The rest height was uniform over the range, then blurred by the readings' error.
    return math.log(max(mass, 1e-300) / width) + 0.5 * math.log(2 * math.pi)


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


#: The odds (log) the settled height must give one place over the other to settle the question.
DECISIVE = math.log(100.0)
#: The least a free desk's rest is uncertain by, as a share of one reading's noise. The fit's own
#: spread counts only the readings' noise on a steady pace; a real desk's pace wanders a little
#: within a move, and a short move's fit leans on its ramp. Held to 0.6 mm, one healthy move in
#: a few thousand on the slow, noisy desk settled 3.7 mm short and was latched as blocked.
FREE_FLOOR = 0.25


def _blocked_log_ratio(sus: Suspicion, final: float, se: float, noise_mm: float) -> float | None:
    """Log odds of "blocked where the readings saw it stop" over "free", for a desk a little short."""
    if sus.kind is not FaultKind.OBSTRUCTION or sus.direct or sus.blocked_mm is None:
        return None
    short = sus.direction * (sus.expected_mm - final)
    if short > max(2.0, 2.0 * se):
        # Caught early, a blocked desk is only a few mm short of a free one's stop:
        # weigh which of the two places the desk came to rest nearer, each by its spread.
        sd_blocked = math.hypot(se, max(noise_mm, 1.0))
        z_blocked = (final - sus.blocked_mm) / sd_blocked
        log_blocked = -0.5 * z_blocked * z_blocked - math.log(sd_blocked)
        sd_free = math.hypot(se, sus.spread_mm, FREE_FLOOR * max(noise_mm, 1.0))
        return log_blocked - _log_free(final, sus, sd_free)
    return None


def undecided(sus: Suspicion, final: float, se: float, noise_mm: float) -> bool:
    """The settled height favours neither blocked nor free by the odds a verdict needs.

    Six readings of a noisy sensor can land half-way between a blocked desk and a free one;
    resuming then drives a blocked desk into what it met a second time, so listen longer (and
    a desk still undecided after that lets go before it looks again: the controller's retreat).
    """
    ratio = _blocked_log_ratio(sus, final, se, noise_mm)
    return ratio is not None and abs(ratio) < DECISIVE


def hasty(sus: Suspicion, readings: list[float], final: float, se: float, noise_mm: float) -> bool:
    """A fault on a first look that would not be one on twice the evidence: listen longer first.

    Six readings of a noisy sensor, one of them set aside as a wild echo, now and then land
    4 mm from where the desk rests, and one healthy move in a few thousand on the slow,
    noisy desk was latched so. The motor is already off; a few more readings cost the
    person a fraction of a second before a real obstruction's back-off, and a false fault
    costs them a desk that will not move until someone clears it.
    """
    return verdict(sus, readings, final, se, noise_mm) is not None \
        and verdict(sus, readings, final, se, noise_mm, evidence=2.0) is None


def verdict(sus: Suspicion, readings: list[float], final: float, se: float,
            noise_mm: float, *, evidence: float = 1.0, on_stop: bool = False) -> tuple[FaultKind, str] | None:
    """The fault the settled desk confirms, or None for a false alarm (`evidence`: a multiple of what it takes;
    `on_stop`: the desk may rest on its end stop, which holds a motor still, so only a clear reversal is one)."""
    d = sus.direction
    moved = d * (final - sus.start_mm)
    expected = d * (sus.expected_mm - sus.start_mm)
    # Where the move started is an estimate too: a start a few mm off reads as a desk that
    # moved a few mm less (or the wrong way), so its uncertainty widens the margin.
    margin = evidence * max(4.0, 3.0 * math.sqrt(se * se + sus.start_sd_mm ** 2 + sus.spread_mm ** 2 + 1.0))
    if len(readings) >= 2 and max(readings) - min(readings) < 1e-4:
        # Real readings through real noise never repeat to a nanosecond of echo: whatever
        # raised the alarm, a sensor that says the same thing over and over is stuck.
        return FaultKind.SENSOR_STUCK, f"the sensor reported {final:.0f} mm {len(readings)} times in a row"
    if sus.kind is FaultKind.SENSOR_STUCK:
        return None
    if sus.direct:
        if moved < -max(4.0, 3.0 * se):
            return (FaultKind.WRONG_DIRECTION,
                    f"moved {-moved:.0f} mm the wrong way after the motor started ({sus.detail})")
        return sus.kind, sus.detail
    if sus.kind is FaultKind.OBSTRUCTION:
        short = expected - moved
        if short - sus.coast_unknown_mm > margin:
            return FaultKind.OBSTRUCTION, f"{sus.detail}, {short:.0f} mm short of where a free desk would have stopped"
        # Only a decisive answer (100 to 1) latches; the controller listens longer while it is
        # undecided, and one still undecided then lets go of what it may be pressing and comes
        # back at full speed: a desk that meets the same thing again is latched there.
        log_ratio = _blocked_log_ratio(sus, final, se, noise_mm)
        if log_ratio is not None and log_ratio > evidence * DECISIVE:
            return (FaultKind.OBSTRUCTION,
                    f"{sus.detail}, stopped where the readings saw it meet the obstacle, "
                    f"{short:.0f} mm short of where a free desk would have stopped")
        return None
    if moved < -max(0.4 * expected, margin):
        # Clearly the wrong way, by a good part of the travel expected: two noisy
        # rest heights a few millimetres apart are not a reversed motor.
        return FaultKind.WRONG_DIRECTION, f"moved {-moved:.0f} mm the wrong way after the motor started"
    if expected - moved > margin and moved < 0.5 * expected:
        sd = math.sqrt(se * se + sus.start_sd_mm ** 2 + 1.0)      # of the travel, the rest's and the start's
        if moved > max(8.0, 3.0 * sd):
            # A stalled motor never gets going; a desk that clearly left its start and then
            # stopped far short of a free one met something (a hand already under the desktop).
            return (FaultKind.OBSTRUCTION,
                    f"the desk stopped {moved:.0f} mm into the move, {expected - moved:.0f} mm short of where a "
                    f"free desk would have stopped")
        if not on_stop and moved < -min(0.5 * expected, 1.5 * sd if sus.other_way else math.inf):
            # A fault at the start either way: a held motor rests where it started, a reversed one about
            # as far the wrong way as a healthy one would have gone, and the rest is nearer the second.
            # Stopped 0.15-0.3 s in, a slow desk has gone only 2-6 mm, under the margin above: half its
            # reversed starts were told as stalls ("check the supply") where the wiring was at fault.
            # A motor that drew the other way's current says which before the desk does: then a rest 1.5 sd
            # on the wrong side of the start will do (a held motor draws more than either way, latched at once).
            return (FaultKind.WRONG_DIRECTION,
                    f"moved {-moved:.0f} mm the wrong way after the motor started (a healthy desk would have "
                    f"gone {expected:.0f} mm the right way)")
        return FaultKind.STALL, f"moved {max(moved, 0):.0f} mm of the {expected:.0f} mm expected"
    return None
