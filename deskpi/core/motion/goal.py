"""What the controller is asked to do (a move to a target, a hold, a back-off) and what it has learned on the way."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ..faults import FaultKind
from ..types import Direction
from . import pressed
from .judge import Suspicion


@dataclass
class Goal:
    kind: str                       # goto | hold | backoff
    target: float
    source: str
    t_start: float
    start_mm: float
    corrections_left: int
    corrections_done: int = 0
    lease_until: float | None = None
    approaches: int = 0
    dismissed: int = 0
    dismissed_obstruction: bool = False
    obstruction_at: float | None = None      # where a dismissed obstruction suspicion left the desk
    dismissed_at: float | None = None        # where the last suspicion judged a false alarm left it
    backoff_from: Direction | None = None
    retreat_to: float | None = None          # let go of what an undecided suspicion may be pressing first
    stepped_back: bool = False               # it has stepped back from an undecided stop (once per goto)
    stepping_back: bool = False              # its last approach was that step back
    shortfall: pressed.Shortfall | None = None       # this goto's stops so far against a free desk's
    # Per direction, its speed (and sd) when an obstruction was first suspected: later ones may be pressing.
    free_speed: dict[Direction, tuple[float, float]] = field(default_factory=dict)
    # The starts in a row (a stall, the wrong way) judged false alarms, taken together (`together`).
    tried: Suspicion | None = None

    @property
    def heading(self) -> float:
        """Where its next approach goes: a step back first, when one is due."""
        return self.target if self.retreat_to is None else self.retreat_to

    def together(self, sus: Suspicion, near_mm: float) -> Suspicion:
        """A suspicion at a start (a stall, the wrong way), weighed with the starts before it in a row.

        0.2-0.5 s into a start a slow desk has gone a few millimetres, too few to tell a held motor (or
        one turning the wrong way) from a healthy one: the first two were judged false alarms and the
        motor driven on into a stall three times, a reversed one latched as a stall. Taken together,
        each start from where the last came to rest, their travel adds up, and so does what a healthy
        desk would have gone: a verdict on the sum is the same test on more evidence.
        """
        prev = self.tried
        if prev is None or sus.kind is FaultKind.OBSTRUCTION or prev.direction != sus.direction \
                or self.dismissed_at is None or abs(sus.start_mm - self.dismissed_at) > near_mm:
            return sus
        return replace(sus, start_mm=prev.start_mm, start_sd_mm=prev.start_sd_mm,
                       expected_mm=prev.expected_mm + (sus.expected_mm - sus.start_mm),
                       spread_mm=math.hypot(prev.spread_mm, sus.spread_mm))

    def carry_run(self, old: Goal) -> None:
        """Take over from `old` as the same move: a new target the same way, asked for on the fly (the
        motor still on) or while the desk is paused on a suspicion.

        What the move has shown so far still holds: where it
        started, how fast it went before a stop judged a false alarm, where that stop left it
        (a second stop there is latched), how many false alarms it has had, and that it has
        already stepped back once. A new target must not wipe the memory that latches a hand
        the desk has already stopped against.
        """
        self.start_mm, self.free_speed = old.start_mm, old.free_speed
        self.dismissed, self.dismissed_obstruction = old.dismissed, old.dismissed_obstruction
        self.obstruction_at, self.stepped_back = old.obstruction_at, old.stepped_back
        self.dismissed_at, self.tried = old.dismissed_at, old.tried
