"""Standing goals for the statistics (`daily`): how a caller gives them, checked, and a whole week's."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any


def finite(x: Any) -> float | None:
    """x as a finite float, else None (None, bools, text, NaN and infinities)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def goal_lookup(goals: Any) -> Callable[[Any, date], float | None]:
    """Normalise ``goals`` to f(user, day) -> standing minutes or None."""
    if goals is None:
        return lambda user, d: None
    if callable(goals) and not isinstance(goals, Mapping):
        return goals
    if not isinstance(goals, Mapping):
        raise ValueError(  # noqa: TRY004 - daily() refuses any bad argument with ValueError; callers catch that
            f"goals must be a mapping or a callable, got {type(goals).__name__}")

    def lookup(user: Any, d: date) -> float | None:
        g = goals.get(user)
        if callable(g):
            return g(d)
        if isinstance(g, Mapping):
            return g.get(d, g.get(d.isoformat()))
        return g
    return lookup


def goal_value(g: Any, user: Any, d: date) -> float | None:
    if g is None:
        return None                      # asked for every person and day: the usual answers first
    if type(g) is float and 0.0 <= g < math.inf:
        return g or None
    v = finite(g)
    if g is not None and v is None:
        raise ValueError(f"standing goal of {user!r} on {d.isoformat()} is not a number: {g!r}")
    if v is not None and v < 0:
        raise ValueError(f"standing goal of {user!r} on {d.isoformat()} is negative: {g!r}")
    return v or None


def whole_week_goal(day: date, goal_on: Callable[[date], float | None]) -> float | None:
    """The goal of the whole ISO week of `day`, Monday to Sunday (days before or after the ones asked
    for included): the sum of its days' goals, None when none of them has one."""
    monday = day - timedelta(days=day.weekday())
    goals = [g for g in (goal_on(monday + timedelta(days=k)) for k in range(7)) if g]
    return sum(goals) if goals else None
