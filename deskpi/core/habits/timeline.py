"""Time covers for the statistics: who was at the desk when, cut into pieces by height, person and day.

A cover is a list of contiguous (t0, t1, *labels) spans; the statistics walk the pieces once.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Any, NamedTuple


def overlay(a: list[tuple], b: list[tuple]) -> list[tuple]:
    """Intersect two contiguous covers of the same span: (t0, t1, *labels of a, *labels of b)."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        t0 = max(a[i][0], b[j][0])
        t1 = min(a[i][1], b[j][1])
        if t1 > t0:
            out.append((t0, t1, *a[i][2:], *b[j][2:]))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


class Swept(NamedTuple):
    """Where a sweep of the pieces left the posture latch, and what a summary of its days needs to join the
    day before (deskpi.core.habits.day_totals)."""

    latch: tuple[Any, str | None]      # (the user the latch follows, their posture or None)
    first: str | None                  # the first sit/stand seen before the latch was reset, else None
    reset: bool                        # whether the latch was reset (a new person, unknown height)


SKIPPED = object()              # a stretch of someone not reported: latched as another person, not tallied


def cut_pieces(heights: list[tuple], users: list[tuple], days: list[tuple], keep: set | None = None) -> list[tuple]:
    """`overlay(overlay(heights, users), days)`: (t0, t1, height, user, day), in one pass.

    keep: the users reported (None: everyone). A stretch of anyone else is one (t0, t1, None,
    SKIPPED, None) piece, so a person's report does not walk the rest of a shared desk's log."""
    out: list[tuple] = []
    i = j = k = 0
    na, nb, nc = len(heights), len(users), len(days)
    ends: tuple[list[float], list[float]] | None = None
    while i < na and j < nb and k < nc:
        a, b, c = heights[i], users[j], days[k]
        if keep is not None and b[2] is not None and b[2] not in keep:
            out.append((b[0], b[1], None, SKIPPED, None))
            if ends is None:
                ends = ([x[1] for x in heights], [x[1] for x in days])
            i, k, j = max(i, bisect_right(ends[0], b[1])), max(k, bisect_right(ends[1], b[1])), j + 1
            continue
        t0 = max(a[0], b[0], c[0])
        t1 = min(a[1], b[1], c[1])
        if t1 > t0:
            out.append((t0, t1, a[2], b[2], c[2]))
        if a[1] == t1:
            i += 1
        elif b[1] == t1:
            j += 1
        else:
            k += 1
    return out


def user_at(times: list[float], users: list[Any], t: float) -> Any:
    i = bisect_right(times, t)
    return users[i - 1] if i else None


def user_cover(times: list[float], users: list[Any], start: float, end: float) -> list[tuple]:
    cover, t, who = [], start, user_at(times, users, start)
    for tc, user in zip(times, users, strict=True):
        if tc <= start:
            continue
        if tc >= end:
            break
        if user != who:
            cover.append((t, tc, who))
            t, who = tc, user
    cover.append((t, end, who))
    return cover


def longest_within(blocks: list[tuple[float, float]], lo: float, hi: float) -> float:
    best = 0.0
    for b0, b1 in blocks:
        if b1 <= lo:
            continue
        if b0 >= hi:
            break
        best = max(best, min(b1, hi) - max(b0, lo))
    return best
