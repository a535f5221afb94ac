"""The one count of a person's standing minutes on a day (posture_stats.daily), on a fake clock.

Every place that shows today's standing (home, reminders, statistics, `deskpi stats`, the API) takes
it from here (docs/ERGONOMICS.md, "Statistics"): time above the person's own standing threshold
(their seated/standing heights, else the EN 527-1 gap) while they were the one at the desk, up to now.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpi.core.habits.posture_stats import Thresholds, daily

UTC = ZoneInfo("UTC")
DAY = date(2026, 11, 30)                      # a Monday


def t(hhmm: str, day: date = DAY) -> float:
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, h, m, tzinfo=UTC).timestamp()


def log(*steps: tuple[str, float]) -> list[tuple[float, float, str]]:
    """A height log from ('HH:MM', mm) steps, with the 10-minute heartbeats the store writes."""
    rows = []
    times = [t(s) for s, _ in steps]
    for i, (t0, (_, h)) in enumerate(zip(times, steps, strict=True)):
        end = times[i + 1] if i + 1 < len(times) else t0 + 1
        rows += [(x, h, "sensor") for x in range(int(t0), int(end), 600)]
    return rows


def standing(rows, *, now: str, profile=None, who=((0.0, "Ada"),), day: date = DAY) -> float:
    """Ada's standing minutes on `day`, counted at the fake clock's `now`."""
    report = daily(rows, list(who), {"Ada": profile}, UTC, [day], t(now, day), users=["Ada"])
    return report["users"]["Ada"]["days"][0]["standing_min"]


def test_the_persons_own_heights_decide_what_is_standing() -> None:
    # Ada sits at 650 and stands at 1000: her standing threshold is 825 + 35 mm. At 880 mm she stands,
    # though the reminders' old flat 900 mm called it sitting; at 920 someone without a profile is
    # 'between' (the EN 527-1 gap, 850-950 mm), not standing.
    rows = log(("09:00", 650), ("10:00", 880), ("10:30", 920), ("11:00", 650))
    assert standing(rows, now="12:00", profile={"seated_mm": 650, "standing_mm": 1000}) == 60.0
    assert standing(rows, now="12:00", profile=None) == 0.0
    assert Thresholds.for_profile(650, 1000).stand_above_mm == pytest.approx(860.0)


def test_without_a_profile_the_en_527_gap_is_the_fallback() -> None:
    rows = log(("09:00", 720), ("10:00", 960), ("10:20", 940), ("10:40", 720))
    assert standing(rows, now="12:00") == 20.0          # above 950 only; 940 is in between
    assert standing(rows, now="12:00", profile={"seated_mm": 720}) == 40.0    # standing 1020: above 890


def test_it_counts_up_to_now_and_never_beyond() -> None:
    rows = log(("09:00", 700), ("10:00", 1100), ("11:00", 700))
    profile = {"seated_mm": 700, "standing_mm": 1100}
    assert standing(rows, now="09:59", profile=profile) == 0.0
    assert standing(rows, now="10:15", profile=profile) == 15.0
    assert standing(rows, now="10:45", profile=profile) == 45.0
    assert standing(rows, now="17:00", profile=profile) == 60.0


def test_only_the_persons_own_time_at_the_desk_counts() -> None:
    rows = log(("09:00", 1100), ("11:00", 700))
    profile = {"seated_mm": 700, "standing_mm": 1100}
    who = ((0.0, "Bob"), (t("09:30"), "Ada"), (t("10:00"), None))       # Bob, then Ada, then nobody
    assert standing(rows, now="12:00", profile=profile, who=who) == 30.0


def test_a_silent_log_is_not_standing() -> None:
    # The daemon was off from 10:00 to 14:00 with the desk up: no heartbeat, so unknown, not standing.
    rows = [(t("09:00"), 1100.0, "sensor"), (t("14:00"), 700.0, "sensor")]
    assert standing(rows, now="15:00", profile={"seated_mm": 700, "standing_mm": 1100}) == 0.0


def test_a_week_has_the_whole_weeks_goal_beside_the_goal_so_far() -> None:
    rows = log(("09:00", 1100), ("10:00", 700))
    goals = {"Ada": lambda d: 60.0 if d.weekday() < 5 else None}          # Monday to Friday
    wed = DAY + timedelta(days=2)
    report = daily(rows, [(0.0, "Ada")], {"Ada": (700, 1100)}, UTC, 3, t("12:00", wed), goals=goals, users=["Ada"])
    week = report["users"]["Ada"]["weeks"][0]
    assert (week["monday"], week["sunday"]) == ("2026-11-30", "2026-12-06")
    assert week["standing_goal_min"] == 180.0                              # Monday to today
    assert week["week_goal_min"] == 300.0                                  # Monday to Sunday
    assert week["standing_min"] == 60.0 and week["week_goal_progress"] == 0.2 and week["goal_progress"] == 0.333


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3 * 24 * 60 - 1), st.sampled_from([650.0, 880.0, 930.0, 1100.0])),
                min_size=1, max_size=40),
       st.integers(0, 3 * 24 * 60 - 1))
def test_one_day_asked_alone_counts_as_in_a_longer_report(steps, now_min) -> None:
    """The home line asks for today alone, the statistics page for seven days: the same minutes."""
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp()
    rows = sorted((start + 60 * m, h, "sensor") for m, h in steps)
    now = start + 60 * now_min
    profile = {"seated_mm": 650, "standing_mm": 1000}
    three = daily(rows, [(0.0, "Ada")], {"Ada": profile}, UTC, 3, start + 3 * 86400 - 1, users=["Ada"])
    for k, rec in enumerate(three["users"]["Ada"]["days"]):
        day = DAY + timedelta(days=k)
        alone = daily(rows, [(0.0, "Ada")], {"Ada": profile}, UTC, [day], start + 3 * 86400 - 1, users=["Ada"])
        assert alone["users"]["Ada"]["days"][0]["standing_min"] == rec["standing_min"], day
    so_far = daily(rows, [(0.0, "Ada")], {"Ada": profile}, UTC, 1, now, users=["Ada"])["users"]["Ada"]["days"][0]
    assert 0.0 <= so_far["standing_min"] <= so_far["day_min"]
