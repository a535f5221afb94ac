"""Local days: a person's day starts at their own midnight, in their desk's time zone.

What the statistics count by (a day, an ISO week) and how a caller names the days it wants.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def to_zone(tz: tzinfo | str) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def tz_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone)


def day_start(d: date, tz: tzinfo | str) -> float:
    """Unix time of the first instant of local day ``d`` (midnight; after the jump if midnight is skipped)."""
    # fold=0 maps a skipped midnight with the offset before the switch: the switch instant itself.
    return datetime(d.year, d.month, d.day, tzinfo=to_zone(tz)).timestamp()


def local_date(t: float, tz: tzinfo | str) -> date:
    return datetime.fromtimestamp(t, to_zone(tz)).date()


def days_asked(days: int | Iterable[date | str], now: float, zone: tzinfo) -> list[date]:
    if isinstance(days, bool):      # an int to Python, but never meant as a number of days
        raise TypeError(f"days must be a number of days or a list of dates, got {days!r}")
    if isinstance(days, int):
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        today = local_date(now, zone)
        return [today - timedelta(days=k) for k in range(days - 1, -1, -1)]
    out = set()
    for d in days:
        if isinstance(d, datetime):
            d = d.date()
        elif isinstance(d, str):
            try:
                d = date.fromisoformat(d)
            except ValueError as exc:
                raise ValueError(f"not a date: {d!r} (want YYYY-MM-DD)") from exc
        elif not isinstance(d, date):
            raise ValueError(f"not a date: {d!r}")  # noqa: TRY004 - daily() refuses any bad argument with ValueError
        out.add(d)
    if not out:
        raise ValueError("no days asked for")
    return sorted(out)


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"
