"""Sit-stand plans: presets, the standing ramp, (de)serialisation and validation."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest

from deskpi.core.habits.plans import CORNELL, DEFAULT_PLAN, PRESETS, Plan, PlanError, week_number

MON = dt.date(2024, 1, 22)


def test_default_plan_is_30_15_with_a_2_min_move_and_a_60_min_cap() -> None:
    p = DEFAULT_PLAN
    assert (p.kind, p.sit_min, p.stand_min, p.move_min, p.stand_cap_min) == ("default", 30, 15, 2, 60)
    assert p.mode == "confirm"
    assert p.days == (0, 1, 2, 3, 4)
    assert (p.start, p.end) == (dt.time(9), dt.time(18))
    assert (p.snooze_min, p.warning_s, p.idle_break_min, p.nag_stop_h) == (5, 10, 10, 4.0)
    assert p.working_minutes() == 480                      # 9 h less a 1 h lunch
    assert p.validate() is p


def test_cornell_is_20_8_2_without_a_ramp() -> None:
    assert (CORNELL.kind, CORNELL.sit_min, CORNELL.stand_min, CORNELL.move_min) == ("cornell", 20, 8, 2)
    assert CORNELL.daily_goal_min(1) is None
    assert PRESETS == {"default": DEFAULT_PLAN, "cornell": CORNELL}


@pytest.mark.parametrize("ramp, week, goal", [
    ("standard", 1, 60), ("standard", 2, 80), ("standard", 4, 120), ("standard", 8, 180),
    ("standard", 12, 240), ("standard", 30, 240), ("standard", 0, 60),
    ("slow", 1, 30), ("slow", 4, 60), ("slow", 8, 120), ("slow", 20, 240),
    (((1, 10), (3, 50)), 2, 30),
    ("none", 4, None),
])
def test_daily_standing_goal_ramps_by_week(ramp, week, goal) -> None:
    plan = replace(DEFAULT_PLAN, ramp=ramp)
    assert plan.daily_goal_min(week) == (None if goal is None else pytest.approx(goal))


@pytest.mark.parametrize("days_since_start, week", [(0, 1), (6, 1), (7, 2), (20, 3), (21, 4), (-3, 1)])
def test_the_plan_week_counts_from_its_start(days_since_start, week) -> None:
    assert week_number(MON, MON + dt.timedelta(days=days_since_start)) == week


def test_the_standing_goal_of_a_day_follows_the_ramp_from_the_start_on_working_days_only() -> None:
    start = MON - dt.timedelta(days=21)                          # MON is in week 4 of the plan
    assert DEFAULT_PLAN.standing_goal_min(MON, start) == pytest.approx(120)
    assert DEFAULT_PLAN.standing_goal_min(MON - dt.timedelta(days=7), start) == pytest.approx(100)
    assert DEFAULT_PLAN.standing_goal_min(MON + dt.timedelta(days=5), start) is None          # Saturday
    holiday = replace(DEFAULT_PLAN, holidays=(MON,))
    assert holiday.standing_goal_min(MON, start) is None


def test_no_standing_goal_before_the_plan_started() -> None:
    assert DEFAULT_PLAN.standing_goal_min(MON - dt.timedelta(days=1), MON) is None
    assert DEFAULT_PLAN.standing_goal_min(MON, MON) == pytest.approx(60)                    # its first day


def test_a_plan_without_a_ramp_aims_at_what_its_rhythm_holds() -> None:
    # Cornell 20-8-2 over 480 working minutes: 16 cycles of 8 min standing
    assert CORNELL.rhythm_standing_min() == 128
    assert CORNELL.standing_goal_min(MON + dt.timedelta(days=30), MON) == 128
    assert CORNELL.standing_goal_min(MON + dt.timedelta(days=5), MON) is None
    assert replace(DEFAULT_PLAN, ramp="none").working_day_goal_min(4) == 153        # 480 x 15 / 47


@pytest.mark.parametrize("day, periods", [
    (MON, [("09:00", "12:00"), ("13:00", "18:00")]),
    (MON + dt.timedelta(days=5), []),                       # Saturday
])
def test_working_periods_are_the_hours_minus_quiet_periods(day, periods) -> None:
    got = [(a.strftime("%H:%M"), b.strftime("%H:%M")) for a, b in DEFAULT_PLAN.periods(day)]
    assert got == periods


def test_holidays_have_no_working_time() -> None:
    plan = replace(DEFAULT_PLAN, holidays=(MON,))
    assert plan.periods(MON) == []
    assert not plan.in_working_time(dt.datetime.combine(MON, dt.time(10)))
    assert DEFAULT_PLAN.in_working_time(dt.datetime.combine(MON, dt.time(10)))
    assert not DEFAULT_PLAN.in_working_time(dt.datetime.combine(MON, dt.time(12, 30)))   # lunch
    assert not DEFAULT_PLAN.in_working_time(dt.datetime.combine(MON, dt.time(18)))       # end is exclusive


@pytest.mark.parametrize("plan", [DEFAULT_PLAN, CORNELL, replace(
    DEFAULT_PLAN, kind="custom", sit_min=25, stand_min=10, move_min=0, mode="auto", days=(0, 2, 4),
    start=dt.time(8, 30), end=dt.time(16, 30), quiet=((dt.time(10), dt.time(10, 15)), (dt.time(12), dt.time(12, 45))),
    holidays=(dt.date(2024, 12, 25),), ramp=((1, 20), (6, 90)), name="mine")])
def test_to_dict_from_dict_round_trip_through_json(plan) -> None:
    data = json.loads(json.dumps(plan.to_dict()))
    assert Plan.from_dict(data) == plan


def test_from_dict_fills_missing_fields_from_the_preset_of_its_kind() -> None:
    assert Plan.from_dict({}) == DEFAULT_PLAN
    assert Plan.from_dict({"kind": "cornell"}) == CORNELL
    p = Plan.from_dict({"kind": "custom", "sit_min": 40, "days": ["Monday", "tue", 4], "start": "08:00"})
    assert (p.kind, p.sit_min, p.days, p.start) == ("custom", 40, (0, 1, 4), dt.time(8))


WORK_2H = {"start": "09:00", "end": "11:00", "quiet": []}


@pytest.mark.parametrize("data, fragments", [
    ({"sit_min": 0}, ["plan.sit_min = 0", "5-180 minutes"]),
    ({"stand_min": 0}, ["plan.stand_min = 0", "1-120 minutes"]),
    ({"move_min": -1}, ["plan.move_min = -1", "0-30"]),
    ({"sit_min": "thirty"}, ["plan.sit_min = 'thirty'", "a whole number 5-180"]),
    ({"sit_min": True}, ["plan.sit_min = True", "a whole number"]),
    ({"snooze_min": 0}, ["plan.snooze_min = 0", "1-30 minutes"]),
    ({"warning_s": 1}, ["plan.warning_s = 1", "3-60 seconds"]),
    ({"nag_stop_h": 0}, ["plan.nag_stop_h = 0", "0.5-12 hours"]),
    ({"mode": "fast"}, ["plan.mode = 'fast'", "confirm | auto"]),
    ({"kind": "weird"}, ["plan.kind = 'weird'", "default | cornell | custom"]),
    ({"start": "9am"}, ["plan.start = '9am'", "HH:MM"]),
    ({"end": "25:00"}, ["plan.end = '25:00'", "HH:MM"]),
    ({"start": "18:00", "end": "09:00"}, ["plan.end = '09:00'", "after start 18:00"]),
    ({"quiet": [["12:00", "13:00"], ["12:30", "14:00"]]},
     ["plan.quiet = '12:00-13:00 and 12:30-14:00'", "do not overlap"]),
    ({"quiet": [["08:00", "09:30"]]}, ["plan.quiet = '08:00-09:30'", "inside the working hours 09:00-18:00"]),
    ({"quiet": [["13:00", "12:00"]]}, ["plan.quiet = '13:00-12:00'", "end is after their start"]),
    ({"quiet": [["09:00", "18:00"]]}, ["plan.quiet", "leave some working time"]),
    ({"quiet": "lunch"}, ["plan.quiet = 'lunch'", "[\"HH:MM\", \"HH:MM\"]"]),
    ({"days": []}, ["plan.days = []", "mon, tue"]),
    ({"days": ["mon", "funday"]}, ["plan.days = 'funday'", "mon, tue"]),
    ({"days": ["mon", "mon"]}, ["plan.days", "each once"]),
    ({"holidays": ["2024-13-01"]}, ["plan.holidays = '2024-13-01'", "YYYY-MM-DD"]),
    ({"ramp": "fast"}, ["plan.ramp = 'fast'", "standard, slow, none"]),
    ({"ramp": [[4, 120], [1, 60]]}, ["plan.ramp", "weeks rising from 1"]),
    ({"stand_min": 30, "stand_cap_min": 20}, ["plan.stand_cap_min = 20", "at least stand_min"]),
    # standing longer than the working day
    ({**WORK_2H, "ramp": "standard"}, ["plan.ramp = 'standard'", "at most", "it reaches 240 min"]),
    ({**WORK_2H, "ramp": "none", "stand_min": 120, "stand_cap_min": 120},
     ["plan.stand_min = 120", "shorter than the 120 min working day"]),
    ({"start": "09:00", "end": "09:40", "quiet": [], "ramp": "none"},
     ["plan.sit_min = 30", "fits in the longest working period (40 min)"]),
    ({"bogus": 1}, ["plan.bogus = 1", "known fields only"]),
])
def test_impossible_plans_are_refused_naming_field_value_and_range(data, fragments) -> None:
    with pytest.raises(PlanError) as exc:
        Plan.from_dict(data)
    assert isinstance(exc.value, ValueError)
    for f in fragments:
        assert f in str(exc.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(PlanError) as exc:
        Plan.from_dict({"sit_min": 0, "mode": "x", "start": "noon"})
    assert set(exc.value.fields) == {"sit_min", "mode", "start"}
    assert "3 problems" in str(exc.value)


def test_not_a_mapping() -> None:
    with pytest.raises(PlanError, match="a mapping of plan fields"):
        Plan.from_dict(["sit", 30])


def test_a_plan_built_in_code_is_validated_too() -> None:
    with pytest.raises(PlanError, match="plan.sit_min = 0"):
        replace(DEFAULT_PLAN, sit_min=0).validate()


def test_the_standing_goal_fits_what_the_rhythm_allows() -> None:
    # planned blocks are at most 1.5 x stand_min (and 10 min inside the cap), sit blocks at least 20 min
    assert DEFAULT_PLAN.longest_planned_block_min() == 22
    assert DEFAULT_PLAN.shortest_sit_block_min() == 20
    assert DEFAULT_PLAN.max_daily_standing_min() >= DEFAULT_PLAN.daily_goal_min(52)


@pytest.mark.parametrize("name", ["two\nlines", "tab\there", "esc\x1b[2J", "half \ud800", "line\u2028break", "x" * 81])
def test_a_plan_name_with_control_characters_or_half_a_character_is_refused(name):
    """Stored, a lone surrogate made every later look at the plan fail (no UTF-8 can carry it); a newline
    or an escape broke the CLI's lines. Whatever stores a plan (the API, `apply`) goes through here."""
    with pytest.raises(PlanError) as err:
        Plan.from_dict({"name": name})
    assert err.value.fields == ["name"] and "without control characters or line breaks" in str(err.value)
    assert Plan.from_dict({"name": "Été – mornings standing"}).name == "Été – mornings standing"
