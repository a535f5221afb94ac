"""What the controller is asked to do (a move to a target, a hold, a back-off) and what it has learned on the way."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..types import Direction
from . import pressed


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

    @property
    def heading(self) -> float:
        """Where its next approach goes: a step back first, when one is due."""
        return self.target if self.retreat_to is None else self.retreat_to

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
        self.dismissed_at = old.dismissed_at
