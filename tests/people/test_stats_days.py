"""`stats_report` from the store's summed days gives exactly what counting every row gives, before and after
the data changes (people/stats_days.py, store/day_stats.py)."""
from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from deskpi.bench.scale_data import simulate_days, write_day
from deskpi.people.accounts import stats_report
from deskpi.store import Store

ZONE = ZoneInfo("Europe/Berlin")
FIRST, LAST = dt.date(2026, 10, 19), dt.date(2026, 10, 30)       # Berlin falls back on Sunday 25 October
PEOPLE = ["ada", "bo", "cy"]


def at(d: dt.date, hour: float) -> float:
    return dt.datetime.combine(d, dt.time(), tzinfo=ZONE).timestamp() + hour * 3600


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Twelve simulated days, made once: each test works on a copy."""
    path = tmp_path_factory.mktemp("stats_days") / "deskpi.db"
    with Store.open(path) as s:
        for name in PEOPLE:
            s.add_user(name, seated_mm=720, standing_mm=1100, now=at(FIRST, -30))
        end = at(LAST, 14.5)
        for day in simulate_days(FIRST, LAST, PEOPLE, ZONE, seed=3, since=FIRST, until=end):
            write_day(s, day)
            if day.date == dt.date(2026, 10, 22):         # someone new, added and at the desk mid-day
                s.add_user("dee", seated_mm=700, standing_mm=1060, now=at(day.date, 13.2))
                s.set_active_user("dee", now=at(day.date, 13.25))
                s.log_heights([(at(day.date, 13.3), 1060.0, "sensor"), (at(day.date, 13.9), 700.0, "sensor")])
        s.backup(path.with_name("template.db"))
    return path.with_name("template.db")


@pytest.fixture
def store(built, tmp_path):
    shutil.copyfile(built, tmp_path / "deskpi.db")
    with Store.open(tmp_path / "deskpi.db") as s:
        yield s


def same(store, now: float, days: int, user: str | None = None) -> dict:
    raw = stats_report(store, user=user, days=days, zone=ZONE, now=now, summed=False)
    summed = stats_report(store, user=user, days=days, zone=ZONE, now=now)
    assert summed == raw
    again = stats_report(store, user=user, days=days, zone=ZONE, now=now)     # now from the stored days
    assert again == raw
    return raw


def stored_days(store) -> int:
    return store.db.execute("SELECT count(*) FROM stats_days").fetchone()[0]


@pytest.mark.parametrize("hour", [14.5, 24 + 0.1, 24 + 10])   # just after midnight: yesterday not over
@pytest.mark.parametrize("days", [1, 2, 12])
def test_summed_days_are_the_raw_count(store, hour, days):
    now = at(LAST - dt.timedelta(days=1), hour)
    same(store, now, days)
    for name in [*PEOPLE, "dee"]:
        same(store, now, days, name)


def test_days_are_stored_once_and_summed_again_when_their_rows_change(store):
    now = at(LAST, 14.5)
    report = same(store, now, 12)
    n = stored_days(store)
    assert n == 11                                   # every day but today
    same(store, now, 12)
    assert stored_days(store) == n
    # A late outcome of a reminder shown on a closed day.
    shown = at(dt.date(2026, 10, 21), 0)
    reminder = next(r for r in store.list_reminders(since=shown, until=shown + 86400))
    store.update_reminder(reminder.id, "skipped", reminder.shown_at + 5)
    after = same(store, now, 12)
    assert after != report
    # Someone renamed, someone's heights changed, someone removed (their reminders go with them).
    store.rename_user("ada", "ada2")
    same(store, now, 12)
    same(store, now, 12, "ada2")
    store.update_user("bo", seated_mm=650, standing_mm=1000)
    same(store, now, 12, "bo")
    same(store, now, 12)
    store.remove_user("cy")
    same(store, now, 12)
    store.add_user("cy", now=now - 60)                 # the same name again: the old time is theirs by name
    same(store, now, 12, "cy")
    # A clock that stepped back wrote rows into a closed day; then the retention purges the first days.
    store.log_heights([(at(dt.date(2026, 10, 23), 3.0), 1100.0, "sensor")])
    same(store, now, 12)
    store.purge(now, retention_days=9)
    same(store, now, 12)


def test_a_store_that_may_not_write_still_reports(store, tmp_path):
    now = at(LAST, 14.5)
    reader = store.reader()
    try:
        assert stats_report(reader, days=7, zone=ZONE, now=now) == stats_report(store, days=7, zone=ZONE, now=now,
                                                                                 summed=False)
    finally:
        reader.close()


def test_a_database_from_before_the_summed_days_is_upgraded_and_reports_the_same(built, tmp_path):
    path = tmp_path / "old.db"
    shutil.copyfile(built, path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE stats_days")                    # as version 8 left it
    conn.execute("DELETE FROM schema_version WHERE version >= 9")
    conn.commit()
    conn.close()
    with Store.open(path) as s:
        assert s.schema_version >= 9
        now = at(LAST, 14.5)
        same(s, now, 12)
        assert stored_days(s) == 11
