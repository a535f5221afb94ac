"""The closed days of a statistics report, from the store's summed days (summing the missing or stale ones).

`stats_report` asks here for the days of its window that are over; each comes from its stored document when
the rows it was summed from are unchanged (the store's fingerprint) and the people's thresholds are the same,
else it is summed again from that day's rows alone and stored. The day in progress (and the one just over, for
max_gap_s) is always counted from the raw rows.
"""
from __future__ import annotations

import json
from datetime import date, tzinfo
from typing import Any

from deskpi.core.habits.day_totals import ClosedDays, closed_through, day_bounds, still_valid, summarize_day
from deskpi.core.habits.local_days import tz_name
from deskpi.core.habits.posture_stats import DEFAULT_MAX_GAP_S


def closed_days(store: Any, zone: tzinfo, first_day: date, last_day: date, now: float,
                profiles: dict[str, Any], keep: list[str] | None = None) -> ClosedDays | None:
    """The days from first_day on that are over, summed (None: none is over yet). keep: the people reported
    (None: everyone); the others' figures are dropped as each day is read (the time nobody was signed in stays),
    as `daily` counts nothing for them."""
    days = closed_through(first_day, last_day, now, zone)
    if not days:
        return None
    tz = tz_name(zone)
    bounds = {d: day_bounds(d, zone) for d in days}
    keys = {d: d.isoformat() for d in days}
    prints = store.day_fingerprints([(keys[d], *bounds[d]) for d in days], DEFAULT_MAX_GAP_S)
    stored = store.stats_days(tz, keys.values())
    docs, fresh = [], []
    wanted = set(keep or ())
    for d in days:
        key = keys[d]
        got = stored.pop(key, None)
        doc = None
        if got is not None and got[0] == prints[key]:
            doc = json.loads(got[1])
            if not still_valid(doc, profiles):
                doc = None
        if doc is None:
            d0, d1 = bounds[d]
            rows = store.height_points_between(d0 - DEFAULT_MAX_GAP_S, d1 + DEFAULT_MAX_GAP_S, include_previous=True)
            doc = summarize_day(rows, store.active_user_timeline(d0, d1), profiles, zone, d,
                                store.list_reminders(since=d0, until=d1))
            fresh.append((key, prints[key], json.dumps(doc, separators=(",", ":"))))
        if keep is not None:
            doc = {**doc, "users": [p for p in doc["users"] if p["user"] is None or p["user"] in wanted]}
        docs.append(doc)
    store.put_stats_days(tz, fresh)
    return ClosedDays(docs)
