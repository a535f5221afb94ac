"""Closed days summed once (day_totals) give exactly what `daily` counts from the raw rows."""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from deskpi.core.habits.day_totals import ClosedDays, closed_through, day_bounds, still_valid, summarize_day
from deskpi.core.habits.posture_stats import daily

GAP = 900.0


def _history(seed: int, start: float, end: float, people: list[str]):
    """A shared desk's rows, active-user changes and reminders between start and end, drawn at random:
    moves across the sit/stand band and into it, unknown heights, the daemon off for a while, changes of
    person exactly at midnight (UTC and local) and reminders for a named person or whoever is there."""
    rng = random.Random(seed)
    rows, t, h = [], start, 720.0
    while t < end:
        r = rng.random()
        if r < 0.04:
            t += rng.uniform(GAP, 6 * 3600)         # the daemon was off
        elif r < 0.07:
            rows.append((t, None))
            t += rng.uniform(1, 1200)
            continue
        elif r < 0.35:
            h = rng.choice([700.0, 720.0, 905.0, 915.0, 1090.0, 1100.0, 860.0, 940.0])
        rows.append((t, h))
        t += rng.choice([1.0, 30.0, 600.0, rng.uniform(1, 899), rng.uniform(1, 1000)])
    users, t = [], start - rng.uniform(0, 7200)
    while t < end:
        users.append((t, rng.choice([*people, None])))
        t += rng.choice([rng.uniform(60, 4 * 3600), 86400 - (t % 86400)])   # some at UTC midnight
    reminders = []
    for _ in range(int((end - start) / 3600)):
        shown = rng.uniform(start, end)
        reminders.append({"shown_at": shown, "user": rng.choice([*people, None, None]),
                          "outcome": rng.choice([None, "acknowledged", "snoozed", "skipped", "expired", "confirmed"])})
    return rows, users, reminders


def _split(rows, users, reminders, zone, first: date, now: float, person: str | None = None):
    """`daily`'s arguments as the store hands them over with closed days: documents of the days over (each
    from only its own rows, as the store reads them), the lead-in rows, and the rows and reminders from the cut."""
    last = datetime.fromtimestamp(now, zone).date()
    docs = []
    for d in closed_through(first, last, now, zone):
        d0, d1 = day_bounds(d, zone)
        prev = [r for r in rows if r[0] < d0 - 86400][-1:]
        own = prev + [r for r in rows if d0 - 86400 <= r[0] < d1 + GAP]
        before = [u for u in users if u[0] < d0][-1:]
        doc = summarize_day(own, before + [u for u in users if d0 <= u[0] <= d1], PROFILES, zone, d,
                            [r for r in reminders if d0 <= r["shown_at"] < d1])
        doc = json.loads(json.dumps(doc))                  # as stored: through JSON
        if person is not None:                             # as a person's report keeps them
            doc["users"] = [p for p in doc["users"] if p["user"] in (None, person)]
        docs.append(doc)
    closed = ClosedDays(docs)
    w0 = day_bounds(first, zone)[0]
    t0 = w0 - 86400
    prev = [r for r in rows if r[0] < t0][-1:]
    closed.lead_rows = prev + [r for r in rows if t0 <= r[0] < w0 + GAP]
    cut = closed.cut if docs else w0
    prev = [r for r in rows if r[0] < cut - 86400][-1:]
    tail = prev + [r for r in rows if cut - 86400 <= r[0] < now + 1]
    return closed if docs else None, tail, [r for r in reminders if r["shown_at"] >= cut]


PROFILES = {"ada": {"seated_mm": 720, "standing_mm": 1100}, "bo": {"seated_mm": 700, "standing_mm": 1080},
            "cy": None, "bad": {"seated_mm": 900, "standing_mm": 920}}        # bad: too close, a warning


@pytest.mark.parametrize(("seed", "tz", "last"), [
    (1, "Europe/Berlin", date(2026, 3, 31)),         # spring forward inside the window (a 23-hour day)
    (2, "Europe/Berlin", date(2026, 10, 27)),        # fall back (a 25-hour day)
    (3, "America/New_York", date(2026, 11, 3)),
    (4, "UTC", date(2026, 6, 10)),
    (5, "Australia/Lord_Howe", date(2026, 4, 7)),    # a half-hour switch
    (6, "Europe/Berlin", date(2026, 3, 30)),
])
@pytest.mark.parametrize("days", [1, 2, 9])
@pytest.mark.parametrize("person", [None, "ada", "cy", "bad"])
def test_closed_days_give_what_the_raw_rows_give(seed, tz, last, days, person):
    zone = ZoneInfo(tz)
    first = last - timedelta(days=days - 1)
    start = day_bounds(first, zone)[0] - 2 * 86400
    rng = random.Random(seed * 7 + days)
    now = day_bounds(last, zone)[0] + rng.choice([10.0, 600.0, 5 * 3600.0, 23 * 3600.0])
    rows, users, reminders = _history(seed * 31 + days, start, now + 3600, ["ada", "bo", "cy", "bad"])
    users_arg = None if person is None else [person]
    t0 = day_bounds(first, zone)[0] - 86400             # what the store hands `daily` today: a day of lead-in
    given = [r for r in rows if r[0] < t0][-1:] + [r for r in rows if t0 <= r[0] < now + 1]
    raw = daily(given, users, PROFILES, zone, days, now, reminders, users=users_arg)
    closed, tail, later = _split(rows, users, reminders, zone, first, now, person)
    summed = daily(tail, users, PROFILES, zone, days, now, later, users=users_arg, closed=closed)
    assert summed == raw


def test_a_day_just_over_is_not_closed_until_the_gap_has_passed():
    zone = ZoneInfo("UTC")
    d = date(2026, 6, 1)
    end = day_bounds(d, zone)[1]
    assert closed_through(d, d, end + GAP - 1, zone) == []
    assert closed_through(d, d, end + GAP, zone) == [d]


def test_a_changed_profile_makes_a_stored_day_stale():
    zone = ZoneInfo("UTC")
    d = date(2026, 6, 1)
    d0, _ = day_bounds(d, zone)
    doc = summarize_day([(d0 + 10, 1100.0), (d0 + 500, 720.0)], [(d0 - 5, "ada")], PROFILES, zone, d)
    assert still_valid(doc, PROFILES)
    assert not still_valid(doc, {**PROFILES, "ada": {"seated_mm": 650, "standing_mm": 1000}})
    assert not still_valid({**doc, "v": 0}, PROFILES)
