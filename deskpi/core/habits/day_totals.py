"""Closed days summed once: a day's statistics kept as a small document, and joining such days into a report.

`daily` walks the height log from the first day asked for to ``now``; for a quarter of a shared desk that is
every row of the quarter on every request. A day that is over (its end plus ``max_gap_s`` has passed, so no
row still to come can change it) is summed once by `summarize_day` into a document: per person (and None,
nobody signed in) the seconds per class, the posture changes, the reminders, the standing blocks that touch
its midnights and its longest other block, and the thresholds it was classified with. `ClosedDays.compose`
joins consecutive documents as one long sweep would: the posture latch is the only state a day carries into
the next (the person at midnight and their posture), so each document also keeps the person at its first
midnight, the first sit/stand seen before the latch was reset, whether it was, and where it ended; a change
across midnight is then added on the day it completes. Blocks touching midnight keep their times, so a block
running across days joins into one, as in `daily`. The result is the same, to the bit, as `daily` over the
raw rows (tests/core/test_day_totals.py compares them).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

from .local_days import day_start, to_zone
from .posture_stats import (
    BETWEEN,
    DEFAULT_MAX_GAP_S,
    SIT,
    STAND,
    UNKNOWN,
    Tally,
    Thresholds,
    log_points,
    profile_heights,
    reminder_events,
    sweep,
    user_timeline,
)
from .timeline import user_at

VERSION = 1                    # bump when a document's meaning changes: stored ones are then summed again
CLASSES = (SIT, STAND, BETWEEN, UNKNOWN)


def thresholds_of(profiles: Mapping[Any, Any], user: Any) -> Thresholds:
    """What `daily` classifies `user`'s heights with: their profile's, the defaults if none or invalid."""
    if user is None:
        return Thresholds()
    try:
        return Thresholds.for_profile(*profile_heights(profiles.get(user)))
    except (ValueError, TypeError):
        return Thresholds()


def day_bounds(d: date, tz: tzinfo | str) -> tuple[float, float]:
    zone = to_zone(tz)
    return day_start(d, zone), day_start(d + timedelta(days=1), zone)


def summarize_day(rows: Iterable[Any], active_users: Iterable[Any], profiles: Mapping[Any, Any] | None,
                  tz: tzinfo | str, d: date, reminders: Iterable[Any] = (), *,
                  max_gap_s: float = DEFAULT_MAX_GAP_S) -> dict[str, Any]:
    """The document of closed day `d` (JSON-ready). rows: the height log from before the day's first midnight
    (the row before it at least) to ``max_gap_s`` after its last; active_users: changes from the one in force
    at its first midnight; reminders: those shown on the day."""
    d0, d1 = day_bounds(d, tz)
    profiles = profiles or {}
    pts, _ = log_points(rows)
    u_times, u_names = user_timeline(active_users)
    known: dict[Any, Thresholds] = {}

    def thresholds_for(user: Any) -> Thresholds:
        if user not in known:
            known[user] = thresholds_of(profiles, user)
        return known[user]

    entry = user_at(u_times, u_names, d0)
    tallies: dict[tuple[Any, date], Tally] = {}
    blocks: dict[Any, list[tuple[float, float]]] = {}
    swept = sweep(pts, u_times, u_names, thresholds_for, [(d0, d1, d)], d0, d1, float(max_gap_s), None, {d},
                  (entry, None), tallies, blocks, until=d1 + max_gap_s)
    timed = {u for u, _ in tallies}
    for t, user, kind in reminder_events(reminders):
        if d0 <= t < d1:
            who = user_at(u_times, u_names, t) if user is None else user
            tl = tallies.get((who, d))
            if tl is None:
                tl = tallies[(who, d)] = Tally()
            tl.reminders[kind] = tl.reminders.get(kind, 0) + 1
    people = []
    for (user, _), tl in tallies.items():
        own = blocks.get(user, [])
        lead = next((b1 for b0, b1 in own if b0 == d0), None)
        trail = next((b0 for b0, b1 in own if b1 == d1), None)
        inner = [b for b in own if b[0] != d0 and b[1] != d1]
        mid = max(inner, key=lambda b: b[1] - b[0]) if inner else None
        th = thresholds_for(user)
        people.append({"user": user, "timed": user in timed, "th": [th.sit_below_mm, th.stand_above_mm],
                       "secs": [tl.secs[c] for c in CLASSES], "changes": tl.changes, "reminders": tl.reminders,
                       "lead": lead, "trail": trail, "mid": None if mid is None else list(mid)})
    return {"v": VERSION, "day": d.isoformat(), "d0": d0, "d1": d1, "entry": entry, "first": swept.first,
            "reset": swept.reset, "end": list(swept.latch), "users": people}


def still_valid(doc: Mapping[str, Any], profiles: Mapping[Any, Any]) -> bool:
    """Whether a stored document still says what `summarize_day` would (same version, same thresholds for
    everyone in it: a changed seated/standing height re-classifies the person's whole history)."""
    if doc.get("v") != VERSION:
        return False
    for p in doc["users"]:
        th = thresholds_of(profiles, p["user"])
        if p["th"] != [th.sit_below_mm, th.stand_above_mm]:
            return False
    return True


@dataclass
class ClosedDays:
    """The first days of a report, already summed: documents of consecutive days from the first asked for,
    the height-log rows of the day before them (the latch at the first midnight), and where they end. A
    document may hold only the people reported (and None): the latch fields are about everyone."""

    days: list[dict[str, Any]]
    lead_rows: Iterable[Any] = ()
    cut: float = field(init=False)

    def __post_init__(self) -> None:
        self.cut = self.days[-1]["d1"] if self.days else 0.0

    def compose(self, latch: tuple[Any, str | None], tallies: dict[tuple[Any, date], Tally],
                blocks: dict[Any, list[tuple[float, float]]],
                thresholds_for: Callable[[Any], Thresholds] | None = None) -> tuple[Any, str | None]:
        """Add the days to `tallies` and `blocks` as `sweep` would, from `latch`; returns the latch at `cut`."""
        lu, lp = latch
        for doc in self.days:
            d, d0, d1 = date.fromisoformat(doc["day"]), doc["d0"], doc["d1"]
            for p in doc["users"]:
                user = p["user"]
                if thresholds_for is not None and p["timed"]:
                    thresholds_for(user)            # as the sweep meets them (a bad profile's warning, in order)
                tallies[(user, d)] = Tally(dict(zip(CLASSES, p["secs"], strict=True)), p["changes"],
                                           0.0, dict(p["reminders"]))
                if p["lead"] is None and p["mid"] is None and p["trail"] is None:
                    continue
                own = blocks.setdefault(user, [])
                if p["lead"] is not None:
                    if own and own[-1][1] == d0:
                        own[-1] = (own[-1][0], p["lead"])
                    else:
                        own.append((d0, p["lead"]))
                if p["mid"] is not None:
                    own.append((p["mid"][0], p["mid"][1]))
                if p["trail"] is not None and p["lead"] != d1:
                    own.append((p["trail"], d1))
            entry, first = doc["entry"], doc["first"]
            if lu == entry and lp is not None and first is not None and first != lp and (entry, d) in tallies:
                tallies[(entry, d)].changes += 1          # the change completed after this midnight (if reported)
            if doc["reset"] or first is not None:
                lu, lp = doc["end"]
            else:
                lu, lp = entry, lp if lu == entry else None
        return lu, lp


def closed_through(first_day: date, last_day: date, now: float, tz: tzinfo | str,
                   max_gap_s: float = DEFAULT_MAX_GAP_S) -> list[date]:
    """The days from `first_day` to `last_day` that are over: no row still to come can change them."""
    zone = to_zone(tz)
    out = []
    d = first_day
    while d <= last_day and day_bounds(d, zone)[1] + max_gap_s <= now:
        out.append(d)
        d += timedelta(days=1)
    return out

