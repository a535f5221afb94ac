"""One standing goal per person and day (Plan.standing_goal_min), as the habit policy's status shows it.

A fake clock walks a person through the day their account was created, the rest of their first
(ramp) week, a weekend, a holiday and the weeks after; the status the home and reminders pages show
(HabitPolicy.status) must say what Plan.standing_goal_min says, day by day.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from deskpi.core.habits.plans import CORNELL, DEFAULT_PLAN, Plan
from deskpi.core.habits.schedule_policy import HabitPolicy

CREATED = dt.date(2026, 11, 25)                # a Wednesday
HOLIDAY = dt.date(2026, 12, 8)                 # a Tuesday in the plan's third week
PLAN = replace(DEFAULT_PLAN, holidays=(HOLIDAY,))


def days(first: dt.date, n: int) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range(n)]


def status_goal(policy: HabitPolicy, day: dt.date, hour: int = 10):
    """What the pages show for `day`, read from the policy at `hour` o'clock (the fake clock)."""
    return policy.status(dt.datetime.combine(day, dt.time(hour)), policy.new_state(clock_synced=True))["goal_min"]


def test_the_goal_day_by_day_from_the_account_day_over_the_ramp_a_weekend_and_a_holiday() -> None:
    expected = {
        dt.date(2026, 11, 24): None,                      # the day before the account existed
        CREATED: 60.0,                                    # the account's first day: week 1 of the ramp
        dt.date(2026, 11, 26): 60.0, dt.date(2026, 11, 27): 60.0,
        dt.date(2026, 11, 28): None, dt.date(2026, 11, 29): None,     # the weekend: no working day
        dt.date(2026, 11, 30): 60.0,                      # Monday, still the first seven days
        dt.date(2026, 12, 1): 60.0,
        dt.date(2026, 12, 2): 80.0,                       # week 2 starts on the eighth day: 60 + 60/3
        dt.date(2026, 12, 7): 80.0,
        dt.date(2026, 12, 9): 100.0,                      # week 3
        HOLIDAY: None,                                    # a holiday in the plan
        dt.date(2026, 12, 16): 120.0,                     # week 4
    }
    got = {d: PLAN.standing_goal_min(d, CREATED) for d in expected}
    assert got == expected
    policy = HabitPolicy(PLAN, start_date=CREATED)
    assert {d: status_goal(policy, d) for d in expected} == expected


def test_every_hour_of_a_day_shows_the_same_goal() -> None:
    policy = HabitPolicy(PLAN, start_date=CREATED)
    assert {status_goal(policy, dt.date(2026, 12, 2), h) for h in (0, 7, 12, 18, 23)} == {80.0}


def test_a_week_goal_is_the_sum_of_its_days() -> None:
    first_week = days(dt.date(2026, 11, 23), 7)          # Mon-Sun; the account came on Wednesday
    assert PLAN.week_goal_min(first_week, CREATED) == 180.0              # Wed, Thu, Fri x 60
    third_week = days(dt.date(2026, 12, 7), 7)
    assert PLAN.week_goal_min(third_week, CREATED) == 80 + 100 * 3       # Mon (week 2), holiday, Wed-Fri
    assert PLAN.week_goal_min(days(dt.date(2026, 11, 16), 7), CREATED) is None     # before the account


def test_a_plan_without_a_ramp_shows_what_its_rhythm_holds_on_working_days() -> None:
    policy = HabitPolicy(CORNELL, start_date=CREATED)
    assert status_goal(policy, dt.date(2026, 11, 26)) == CORNELL.standing_goal_min(dt.date(2026, 11, 26), CREATED)
    assert status_goal(policy, dt.date(2026, 11, 26)) == 128.0
    assert status_goal(policy, dt.date(2026, 11, 28)) is None


def test_goals_are_whole_minutes_everywhere() -> None:
    plan = Plan.from_dict({"ramp": [[1, 45], [4, 100]]})                 # 45 + 55/3 in week 2: 63.33...
    assert plan.standing_goal_min(dt.date(2026, 12, 2), CREATED) == 63.0
    assert status_goal(HabitPolicy(plan, start_date=CREATED), dt.date(2026, 12, 2)) == 63.0


def test_without_a_start_day_the_policy_counts_today_as_the_first() -> None:
    policy = HabitPolicy(PLAN)
    assert status_goal(policy, dt.date(2026, 12, 16)) == 60.0
    assert status_goal(policy, dt.date(2026, 12, 19)) is None             # a Saturday


@pytest.mark.parametrize("day, goal", [(dt.date(2026, 12, 2), 120.0), (dt.date(2026, 12, 5), None)])
def test_the_simulated_day_with_a_fixed_week_keeps_to_working_days(day, goal) -> None:
    assert status_goal(HabitPolicy(PLAN, week=4), day) == goal


def test_the_pace_still_follows_the_ramp_alone() -> None:
    """Standing blocks are sized for the ramp's goal (None without a ramp keeps the rhythm as it is)."""
    assert HabitPolicy(CORNELL, start_date=CREATED).ramp_goal_min(dt.date(2026, 11, 26)) is None
    assert HabitPolicy(PLAN, start_date=CREATED).ramp_goal_min(dt.date(2026, 12, 2)) == pytest.approx(80)
