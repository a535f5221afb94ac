"""Direction interlock for a two-direction motor: pure, time passed in.

A reversing desk motor must never see both directions at once, and must rest
between directions: relay contacts arc and a spinning motor reversed under
power draws a large current spike. The interlock owns that rule so every drive
(relay pair, H-bridge, simulator) enforces it the same way.
"""
from __future__ import annotations

import math

from deskpi.core.types import Direction

#: Shortest rest between directions the hardware tolerates (relay release time
#: plus the motor spinning down), in seconds.
MIN_DEAD_TIME_S = 0.1


class Interlock:
    """Decides which direction a motor may be energised in, and when.

    Rules:

    * Off (``None``) is always allowed, immediately.
    * The same direction may be re-energised at once (no reversal happened).
    * The opposite direction needs the motor off first, and is allowed only
      once ``dead_time_s`` has elapsed since it was turned off.

    ``now`` is any monotonic time in seconds; the caller must pass the time at
    which the output was *actually* switched off, so that the dead time is
    measured at the pins, not at the decision.
    """

    def __init__(self, dead_time_s: float = MIN_DEAD_TIME_S) -> None:
        # `not >=` also rejects NaN; an infinite dead time would mean "never
        # reverse", which is a wiring question, not a timing one.
        if not (dead_time_s >= MIN_DEAD_TIME_S) or not math.isfinite(dead_time_s):
            raise ValueError(
                f"dead_time_s={dead_time_s!r} is below the hardware minimum of "
                f"{MIN_DEAD_TIME_S} s (or not a finite number)"
            )
        self._dead_time_s = float(dead_time_s)
        self._energised: Direction | None = None
        self._last_off_direction: Direction | None = None
        self._last_off_at = -math.inf

    @property
    def dead_time_s(self) -> float:
        return self._dead_time_s

    @property
    def energised(self) -> Direction | None:
        """The direction the interlock currently allows to be on, or None."""
        return self._energised

    def request(self, direction: Direction | None, now: float) -> Direction | None:
        """Ask for ``direction`` at time ``now``; return what may be energised now.

        Asking for the opposite of the energised direction turns the motor off
        (returns None) and starts the dead time: the caller de-energises and
        asks again later. A refused request leaves the motor off.
        """
        if direction is None:
            self._turn_off(now)
            return None
        direction = Direction(direction)
        if self._energised is direction:
            return direction
        if self._energised is not None:
            self._turn_off(now)
            return None
        if now >= self._ready_at(direction):
            self._energised = direction
            return direction
        return None

    def earliest_on(self, direction: Direction | None, now: float) -> float:
        """When ``direction`` could be energised, given no other request.

        Returns ``now`` when it could be energised right away. Uses the same
        comparison as :meth:`request`, so ``request(d, earliest_on(d, t))``
        succeeds when nothing happened in between.
        """
        if direction is None or self._energised is direction:
            return now
        direction = Direction(direction)
        if self._energised is not None:
            # It would have to be turned off now and then wait the full dead time.
            return now + self._dead_time_s
        return max(now, self._ready_at(direction))

    def _ready_at(self, direction: Direction) -> float:
        if self._last_off_direction is direction.opposite:
            return self._last_off_at + self._dead_time_s
        return -math.inf

    def _turn_off(self, now: float) -> None:
        if self._energised is not None:
            self._last_off_direction = self._energised
            self._last_off_at = now
            self._energised = None

    def __repr__(self) -> str:
        return (
            f"Interlock(dead_time_s={self._dead_time_s}, energised={self._energised}, "
            f"last_off={self._last_off_direction}@{self._last_off_at})"
        )
