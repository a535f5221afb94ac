"""Today's standing minutes: the habit status (home line, reminders page) shows the statistics' count.

A real store, the habit service on a fake wall clock, heights logged as the recorder logs them. The
status's standing_min and goal_min must be the day `stats_report` gives (`deskpi stats`, the API and
the statistics page), not the reminder policy's own count (working time only, a flat threshold).
"""
from __future__ import annotations

import datetime as dt

import pytest

from deskpi.daemon.habits import HabitService
from deskpi.people.accounts import local_zone, standing_today, stats_report
from deskpi.store import Store

MONDAY = dt.date(2026, 11, 30)


class _Scheduler:
    def add_job(self, *args, **kw) -> None:
        pass


def at(hhmm: str) -> dt.datetime:
    h, m = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(MONDAY, dt.time(h, m))


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "deskpi.db") as s:
        s.add_user("Ada", seated_mm=650, standing_mm=1000, now=at("06:00").timestamp() - 30 * 86400)
        s.add_user("Bob", now=at("06:00").timestamp() - 30 * 86400)
        s.set_active_user("Ada", now=at("06:00").timestamp())
        yield s


def stand(store: Store, steps: list[tuple[str, float]]) -> None:
    """The desk at each height from each time on, with the log's 10-minute heartbeats, until the next."""
    times = [at(s).timestamp() for s, _ in steps]
    for i, (t0, (_, h)) in enumerate(zip(times, steps, strict=True)):
        end = times[i + 1] if i + 1 < len(times) else t0 + 1
        t = t0
        while t < end:
            store.log_height(t, h)
            t += 600


def status(store: Store, now: dt.datetime) -> dict:
    habits = HabitService(store, None, scheduler=_Scheduler(), wall=lambda: now, clock_synced=lambda: True)
    return habits.snapshot()["status"]


def test_the_status_shows_the_statistics_count_not_the_reminders_own(store) -> None:
    # Before working hours (07:00-07:40) and at 880 mm, above Ada's own threshold (860 mm) but below the
    # reminders' old flat 900 mm: the statistics count both, and so does every page now.
    stand(store, [("06:30", 650), ("07:00", 880), ("07:40", 650), ("09:00", 1000), ("09:30", 650), ("10:00", 650)])
    now = at("10:00")
    shown = status(store, now)
    day = stats_report(store, user="Ada", days=1, zone=local_zone(None), now=now.timestamp())["users"]["Ada"]
    today = day["days"][-1]
    assert today["standing_min"] == pytest.approx(70.0, abs=0.2)
    assert shown["standing_min"] == today["standing_min"] and shown["goal_min"] == today["standing_goal_min"]
    assert shown["date"] == MONDAY.isoformat()
    assert shown["posture_changes"] == today["posture_changes"] == 4               # up, down, up, down
    assert shown["reminders"] == today["reminders"]["shown"] == 0
    assert standing_today(store, "Ada", now=now.timestamp())["standing_min"] == today["standing_min"]


def test_the_status_follows_the_person_at_the_desk(store) -> None:
    stand(store, [("08:00", 1000), ("09:00", 650)])
    store.set_active_user("Bob", now=at("08:30").timestamp())
    now = at("10:00")
    shown = status(store, now)
    bob = stats_report(store, user="Bob", days=1, zone=local_zone(None), now=now.timestamp())
    # Bob came at 08:30 and the desk was at 1000 mm: standing for him too (no profile: above 950 mm)
    assert shown["standing_min"] == bob["users"]["Bob"]["days"][-1]["standing_min"] == pytest.approx(30.0, abs=0.2)
    store.set_active_user(None, now=at("10:00").timestamp())
    nobody = status(store, now)
    assert nobody["goal_min"] is None                                  # nobody at the desk: nobody's goal


def test_the_count_is_at_most_two_seconds_old_and_follows_the_clock(store) -> None:
    stand(store, [("08:00", 1000), ("09:00", 650)])
    clock = {"now": at("08:10")}
    habits = HabitService(store, None, scheduler=_Scheduler(), wall=lambda: clock["now"], clock_synced=lambda: True)
    assert habits.snapshot()["status"]["standing_min"] == pytest.approx(10.0, abs=0.2)
    clock["now"] += dt.timedelta(seconds=1)
    assert habits.snapshot()["status"]["standing_min"] == pytest.approx(10.0, abs=0.2)     # kept: 1 s old
    clock["now"] = at("08:40")
    assert habits.snapshot()["status"]["standing_min"] == pytest.approx(40.0, abs=0.2)
    clock["now"] = at("11:00")
    assert habits.snapshot()["status"]["standing_min"] == pytest.approx(60.0, abs=0.2)


def test_the_reminders_tell_standing_by_the_persons_own_heights(store) -> None:
    habits = HabitService(store, None, scheduler=_Scheduler(), wall=lambda: at("09:00"), clock_synced=lambda: True)
    assert habits.policy.stand_threshold_mm == 825.0                   # Ada: the middle of 650 and 1000
    store.set_active_user("Bob")
    habits.tick()
    assert habits.policy.stand_threshold_mm == 900.0                   # no profile: the middle of 850-950
    store.update_user("Bob", seated_mm=700, standing_mm=1200)
    habits.tick()
    assert habits.policy.stand_threshold_mm == 950.0                   # his heights, as soon as he sets them


def test_the_status_names_the_person_it_is_about(store) -> None:
    """Pages show a goal only when the snapshot is about the signed-in person at the desk (live.js)."""
    habits = HabitService(store, None, scheduler=_Scheduler(), wall=lambda: at("09:00"), clock_synced=lambda: True)
    assert habits.snapshot()["user"] == "Ada"
    store.set_active_user("Bob")
    habits.tick()
    snap = habits.snapshot()
    bobs = standing_today(store, "Bob", now=at("09:00").timestamp())
    assert snap["user"] == "Bob" and snap["status"]["goal_min"] == bobs["standing_goal_min"]
    store.set_active_user(None)
    habits.tick()
    assert habits.snapshot()["user"] is None and habits.snapshot()["status"]["goal_min"] is None


def test_for_a_moment_after_someone_new_comes_the_status_is_still_the_last_persons_and_says_so(
        store, monkeypatch) -> None:
    """The snapshot follows the person at the desk at most once a FOLLOW_S (the feed asks ten times a
    second): in between it names whose it still is. An answer or a pause follows at once."""
    import deskpi.daemon.habits as habits_module

    monkeypatch.setattr(habits_module.time, "monotonic", lambda: 1000.0)       # no time passes
    habits = HabitService(store, None, scheduler=_Scheduler(), wall=lambda: at("09:00"), clock_synced=lambda: True)
    assert habits.snapshot()["user"] == "Ada"
    store.set_active_user("Bob")
    assert habits.snapshot()["user"] == "Ada"                  # not followed yet: and it says so
    habits.pause_today(True)
    assert habits.snapshot()["user"] == "Bob"
