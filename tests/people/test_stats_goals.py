"""The standing goal in `deskpi stats` / GET /api/v1/stats comes from each person's plan (people.accounts)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from deskpi.people.accounts import set_plan, stats_report
from deskpi.store import Store

UTC_ZONE = ZoneInfo("UTC")


def ts(day: date, hour: int = 9) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp()


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "deskpi.db") as s:
        yield s


def goals_by_day(report: dict, name: str) -> dict[str, float | None]:
    return {d["date"]: d["standing_goal_min"] for d in report["users"][name]["days"]}


def test_no_goal_before_the_person_was_added_then_the_ramp_from_that_day(store) -> None:
    added = date(2026, 11, 25)                                   # a Wednesday
    store.add_user("Ada", now=ts(added))
    report = stats_report(store, days=7, zone=UTC_ZONE, now=ts(date(2026, 11, 29), 20))   # the Sunday after
    assert goals_by_day(report, "Ada") == {
        "2026-11-23": None, "2026-11-24": None,                  # before she was added
        "2026-11-25": 60.0, "2026-11-26": 60.0, "2026-11-27": 60.0,    # week 1 of the standard ramp
        "2026-11-28": None, "2026-11-29": None,                  # the plan's days off
    }
    week = report["users"]["Ada"]["weeks"][0]
    assert week["standing_goal_min"] == 180.0                    # the sum of the days
    assert report["goals"]["Ada"] == {"standing_goal_min": 60.0, "source": "default", "since": "2026-11-25",
                                      "week": 1}


def test_the_goal_rises_with_the_plan_weeks_since_the_person_was_added(store) -> None:
    store.add_user("Ada", now=ts(date(2026, 10, 5)))            # a Monday, seven weeks earlier
    report = stats_report(store, days=7, zone=UTC_ZONE, now=ts(date(2026, 11, 23), 12))
    assert goals_by_day(report, "Ada")["2026-11-23"] == pytest.approx(180)     # week 8: 120 + 120 x 4/8
    assert report["goals"]["Ada"]["week"] == 8


def test_a_person_added_after_the_window_has_no_goal(store) -> None:
    store.add_user("Ada", now=ts(date(2026, 12, 1)))
    report = stats_report(store, days=3, zone=UTC_ZONE, now=ts(date(2026, 11, 25), 12))
    assert set(goals_by_day(report, "Ada").values()) == {None}
    assert report["users"]["Ada"]["weeks"][0]["standing_goal_min"] is None
    assert report["goals"]["Ada"]["standing_goal_min"] is None and report["goals"]["Ada"]["week"] is None


def test_the_persons_own_plan_sets_the_goal_and_its_working_days(store) -> None:
    store.add_user("Ada", now=ts(date(2026, 10, 1)))
    set_plan(store, "Ada", {"kind": "cornell", "days": ["mon", "tue", "wed"]})
    report = stats_report(store, days=7, zone=UTC_ZONE, now=ts(date(2026, 11, 29), 20))
    assert list(goals_by_day(report, "Ada").values()) == [128.0, 128.0, 128.0, None, None, None, None]
    assert report["goals"]["Ada"]["source"] == "plan" and report["goals"]["Ada"]["standing_goal_min"] == 128.0


def test_an_invalid_stored_plan_counts_as_the_default_plan(store) -> None:
    store.add_user("Ada", now=ts(date(2026, 11, 2)))             # a Monday: 2026-11-23 is in week 4
    store.set_plan("Ada", {"daily_goal_min": 60})               # not a plan field: no goal is guessed from it
    report = stats_report(store, days=1, zone=UTC_ZONE, now=ts(date(2026, 11, 23), 12))
    assert report["goals"]["Ada"]["source"] == "default"
    assert goals_by_day(report, "Ada") == {"2026-11-23": 120.0}


class _Scheduler:
    """Nothing is scheduled: only the status is asked for."""

    def add_job(self, *args, **kw) -> None:
        pass


def test_stats_and_the_reminder_status_give_the_same_goal_day_by_day(store) -> None:
    """`deskpi stats`/the API (stats_report) and the home and reminders pages (the habit service's status)
    on a fake clock: the account's first day, its ramp week, a weekend, a holiday and the weeks after."""
    import datetime as dt

    from deskpi.daemon.habits import HabitService
    from deskpi.people.accounts import local_zone

    zone = local_zone(None)                                      # the daemon counts days in the machine's zone
    created = date(2026, 11, 25)                                 # a Wednesday
    store.add_user("Ada", now=datetime(2026, 11, 25, 11).timestamp())
    store.add_user("Bob", now=datetime(2026, 10, 1, 11).timestamp())
    set_plan(store, "Ada", {"holidays": ["2026-12-08"]})
    set_plan(store, "Bob", {"kind": "cornell"})
    clock = {"now": datetime(2026, 11, 24, 10)}
    wall = lambda: clock["now"]                                  # noqa: E731 - the fake clock
    seen: dict[str, dict[date, float | None]] = {"Ada": {}, "Bob": {}}
    for name in seen:
        store.set_active_user(name)
        habits = HabitService(store, None, scheduler=_Scheduler(), wall=wall, clock_synced=lambda: True)
        for k in range(-1, 22):
            day = created + dt.timedelta(days=k)
            clock["now"] = datetime.combine(day, dt.time(10))
            status_goal = habits.snapshot()["status"]["goal_min"]
            report = stats_report(store, user=name, days=1, zone=zone, now=clock["now"].timestamp())
            assert report["users"][name]["days"][-1]["standing_goal_min"] == status_goal, (name, day)
            seen[name][day] = status_goal
    ada = seen["Ada"]
    assert ada[date(2026, 11, 24)] is None and ada[created] == 60.0           # none before the account's day
    assert ada[date(2026, 11, 28)] is None and ada[date(2026, 12, 8)] is None  # a weekend day, the holiday
    assert ada[date(2026, 12, 2)] == 80.0 and ada[date(2026, 12, 16)] == 120.0  # weeks 2 and 4 of the ramp
    assert set(seen["Bob"].values()) == {None, 128.0}                          # no ramp: what the rhythm holds
