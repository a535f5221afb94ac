"""How long the next sit and standing blocks are, so that a day reaches the plan's standing goal.

Pure arithmetic over the plan, the goal, what was stood so far and the working
time left; the habit policy (deskpi.core.habits.schedule_policy) asks it each
time a block starts.
"""
from __future__ import annotations

import datetime as dt
import math

from deskpi.core.habits.plans import Plan

MIN_STAND_BLOCK_MIN = 5.0
PRESENCE_PRIOR = 0.9            # the share of working time a person is assumed to be at the desk ...
PRESENCE_PRIOR_S = 3600.0       # ... weighted like an hour of observation
PRESENCE_RANGE = (0.4, 1.0)


def presence_share(work_s: float, away_s: float) -> float:
    """Expected share of the remaining working time at the desk: today's so far, pulled towards 0.9."""
    share = (work_s - away_s + PRESENCE_PRIOR * PRESENCE_PRIOR_S) / (work_s + PRESENCE_PRIOR_S)
    return min(max(share, PRESENCE_RANGE[0]), PRESENCE_RANGE[1])


def block_lengths(plan: Plan, goal_min: float | None, stood_min: float, now: dt.datetime, *,
                  finish_margin: dt.timedelta, presence: float) -> tuple[float, float]:
    """(sit, stand) block lengths in minutes for blocks starting `now`.

    Without a goal (a plan without a ramp): the plan's sit_min and stand_min,
    always. With one, the standing still needed today (the goal minus
    `stood_min`) is spread over the time at the desk still expected before the
    target finish (`finish_margin` before the end of the working day: slack for
    late meetings and early departures; the working time left, scaled by the
    `presence` share, see presence_share):

    - on pace or ahead: sit_min, and standing blocks of what is needed per
      remaining cycle (shorter than stand_min in the first weeks, >= 5 min);
    - behind: sit blocks shorten first, down to 20 min (Cornell; a posture
      change every 20-30 min), then standing blocks lengthen, up to
      1.5 x stand_min and 10 min inside the cap (Plan.longest_planned_block_min);
    - goal reached: posture breaks go on, as 5 min standing blocks, so the
      posture still changes every sit block while standing stays near the goal.
    """
    if goal_min is None:
        return float(plan.sit_min), float(plan.stand_min)
    lo = float(min(MIN_STAND_BLOCK_MIN, plan.stand_min))
    need = goal_min - stood_min
    if need <= 0:
        return float(plan.sit_min), lo
    periods = plan.periods(now.date())
    if not periods:
        return float(plan.sit_min), float(plan.stand_min)
    finish = periods[-1][1] - finish_margin
    left = sum(max((min(b, finish) - max(a, now)).total_seconds(), 0.0) for a, b in periods) / 60.0
    left *= presence
    hi = float(plan.longest_planned_block_min())
    sit_floor = float(plan.shortest_sit_block_min())
    move = float(plan.move_min)

    def stand(x: float) -> float:
        return min(max(float(math.ceil(x)), lo), hi, max(float(math.ceil(need)), lo))

    cycle = plan.sit_min + plan.stand_min + move
    need_frac = need / left if left > 0 else 1.0
    if need_frac <= plan.stand_min / cycle:
        return float(plan.sit_min), stand(need / max(1, int(left // cycle)))
    if need_frac >= 1.0:
        return sit_floor, stand(need)
    sit = plan.stand_min / need_frac - plan.stand_min - move
    if sit >= sit_floor:
        return float(math.floor(sit)), float(plan.stand_min)
    return sit_floor, stand(need_frac * (sit_floor + move) / (1.0 - need_frac))
