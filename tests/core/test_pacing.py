"""Block lengths that make a day reach the plan's standing goal (deskpi.core.habits.pacing)."""
from __future__ import annotations

import datetime as dt

import pytest

from deskpi.core.habits.pacing import block_lengths, presence_share
from deskpi.core.habits.plans import DEFAULT_PLAN

MON = dt.date(2024, 1, 22)
MARGIN = dt.timedelta(hours=2)


def at(h: int, m: int = 0, day: dt.date = MON) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(h, m))


def test_without_a_goal_the_plan_rhythm_is_kept() -> None:
    assert block_lengths(DEFAULT_PLAN, None, 0.0, at(10), finish_margin=MARGIN, presence=1.0) == (30.0, 15.0)


def test_a_reached_goal_keeps_short_standing_breaks() -> None:
    assert block_lengths(DEFAULT_PLAN, 60.0, 61.0, at(15), finish_margin=MARGIN, presence=1.0) == (30.0, 5.0)


def test_on_pace_early_in_the_ramp_standing_blocks_are_shorter_than_the_plan() -> None:
    sit, stand = block_lengths(DEFAULT_PLAN, 60.0, 0.0, at(9), finish_margin=MARGIN, presence=1.0)
    assert sit == 30.0 and 5.0 <= stand < DEFAULT_PLAN.stand_min


def test_behind_sit_blocks_shorten_first_then_standing_blocks_lengthen_within_bounds() -> None:
    sit, stand = block_lengths(DEFAULT_PLAN, 240.0, 0.0, at(13), finish_margin=MARGIN, presence=1.0)
    assert sit == DEFAULT_PLAN.shortest_sit_block_min()
    assert DEFAULT_PLAN.stand_min <= stand <= DEFAULT_PLAN.longest_planned_block_min()


def test_a_day_off_keeps_the_rhythm() -> None:
    sat = MON + dt.timedelta(days=5)
    assert block_lengths(DEFAULT_PLAN, 120.0, 0.0, at(10, day=sat), finish_margin=MARGIN,
                         presence=1.0) == (30.0, 15.0)


@pytest.mark.parametrize("work_s, away_s, share", [
    (0.0, 0.0, 0.9),                  # nothing seen yet: the prior
    (3600.0, 0.0, 0.95),              # an hour at the desk pulls it up
    (36000.0, 36000.0, 0.4),          # away all day: never below 0.4
])
def test_presence_share(work_s: float, away_s: float, share: float) -> None:
    assert presence_share(work_s, away_s) == pytest.approx(share)
