"""The height log: which samples deserve a row (the policy), writing and reading them, and retention.

The policy runs in memory, so `log_height()` touches SQLite only when a row is
due: cheap enough to call with every height estimate, though a motion path
should still not block on it (hand it to a worker).
"""
from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from deskpi.store import fields
from deskpi.store.database import StoreBase
from deskpi.store.records import ACTIVE_USER_KEY, LOG_HEIGHT_MM, RETENTION_DAYS, HeightSample

MIN_CHANGE_MM = 5.0                      # a row when the height moved this much from the last row...
HEARTBEAT_S = 600.0                      # ...or this long passed without one (so gaps mean "not running")...
MIN_INTERVAL_S = 1.0                     # ...but while moving at most one change row a second
# Posture class edges: crossing one may change sit / between / stand. Without a profile, the gap between
# the EN 527-1 ranges (seated up to 850, standing from 950); with one, the sit/stand midpoint
# +- max(10 % of the gap, 10 mm), as deskpi.core.habits.posture_stats classifies.
DEFAULT_POSTURE_EDGES_MM = (850.0, 950.0)
UNKNOWN_STAND_OFFSET_MM = 300.0          # a profile with one height only: the other is 300 mm away (LINAK)

LOG, HOLD, SKIP = "log", "hold", "skip"
_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")


def should_log_height(last: tuple[float, float | None] | None, t: float, height_mm: float | None, *,
                      edges_mm: tuple[float, ...] = DEFAULT_POSTURE_EDGES_MM,
                      min_change_mm: float = MIN_CHANGE_MM, heartbeat_s: float = HEARTBEAT_S,
                      min_interval_s: float = MIN_INTERVAL_S) -> bool:
    """Whether a sample (t, height_mm) deserves a row, given the last logged (t, height_mm).

    A row when the height changed by >= min_change_mm from the last row, or
    crossed a posture class edge (the posture class may have changed), or went
    from known to unknown (None: the sensor is stale) or back; but at most one
    such row per min_interval_s while moving. While unchanged, a heartbeat row
    every heartbeat_s, so time at a height is measurable and a gap means "not
    running" (no heartbeat while unknown: an unknown row holds until the next).
    A clock that steps back (a Pi has no RTC until NTP syncs) re-anchors the log.
    """
    return height_decision(last, t, height_mm, tuple(sorted(edges_mm)), min_change_mm, heartbeat_s,
                           min_interval_s) is LOG


def height_decision(last: tuple[float, float | None] | None, t: float, h: float | None, edges: tuple[float, ...],
                    min_change: float = MIN_CHANGE_MM, heartbeat: float = HEARTBEAT_S,
                    min_interval: float = MIN_INTERVAL_S) -> str:
    """LOG: write a row; HOLD: a change, but too soon after the last row (flush may write it); SKIP."""
    if last is None:
        return LOG
    last_t, last_h = last
    dt = t - last_t
    if dt < 0:
        return LOG
    if h is None or last_h is None:
        if h is None and last_h is None:
            return SKIP
        changed = True
    else:
        changed = abs(h - last_h) >= min_change or bisect_right(edges, h) != bisect_right(edges, last_h)
    if changed:
        return LOG if dt >= min_interval else HOLD
    return LOG if dt >= heartbeat else SKIP


def posture_edges_for(seated_mm: float | None, standing_mm: float | None) -> tuple[float, ...]:
    """Class edges for a profile: the sit/stand midpoint +- max(10 % of the gap, 10 mm)."""
    if seated_mm is None and standing_mm is None:
        return DEFAULT_POSTURE_EDGES_MM
    if seated_mm is None:
        seated_mm = standing_mm - UNKNOWN_STAND_OFFSET_MM
    if standing_mm is None:
        standing_mm = seated_mm + UNKNOWN_STAND_OFFSET_MM
    mid = (seated_mm + standing_mm) / 2
    band = max(0.1 * abs(standing_mm - seated_mm), 10.0)
    return (mid - band, mid + band)


class HeightLogMixin(StoreBase):
    """The height log with its in-memory policy state: the last row and a change held back."""

    _sources_seen: ClassVar[set[str]] = set()      # sources already validated (fast path)

    def __init__(self, *args: Any, posture_edges_mm: tuple[float, ...] | None = None, **kwargs: Any) -> None:
        """posture_edges_mm: edges already checked (`Store.open` checks them), None to follow the active user."""
        super().__init__(*args, **kwargs)
        self._edges_explicit = posture_edges_mm
        self._edges_auto: tuple[float, ...] = DEFAULT_POSTURE_EDGES_MM
        self._last: tuple[float, float | None] | None = None    # last logged (t, height_mm), recovered at open
        self._pending: tuple[float, float | None, str] | None = None   # a change held back by MIN_INTERVAL_S
        with self._lock:
            row = self._conn.execute("SELECT t, height_mm FROM height_log ORDER BY rowid DESC LIMIT 1").fetchone()
            self._last = None if row is None else (float(row[0]), None if row[1] is None else float(row[1]))
            self._refresh_edges()

    def close(self) -> None:
        """Write a held-back height sample, close the connection, release the lock. Idempotent."""
        with self._lock:
            try:
                self.flush_heights()
            finally:
                super().close()

    @property
    def posture_edges_mm(self) -> tuple[float, ...]:
        """Posture class edges the log watches: explicit, else from the active user's seated/standing
        heights (`posture_edges_for`), else the EN 527-1 gap (850, 950)."""
        with self._lock:
            return self._edges_explicit if self._edges_explicit is not None else self._edges_auto

    @posture_edges_mm.setter
    def posture_edges_mm(self, value: Iterable[float] | None) -> None:
        edges = fields.posture_edges(value)
        with self._lock:
            self._edges_explicit = edges

    def _after_users_changed(self) -> None:
        self._refresh_edges()              # the active user, or their heights, may have changed

    def _refresh_edges(self) -> None:
        row = self._conn.execute("SELECT u.seated_mm, u.standing_mm FROM settings s JOIN users u "
                                 "ON u.id = CAST(s.value AS INTEGER) WHERE s.key = ?", [ACTIVE_USER_KEY]).fetchone()
        self._edges_auto = posture_edges_for(*row) if row else DEFAULT_POSTURE_EDGES_MM

    @classmethod
    def _sample(cls, t: Any, height_mm: Any, source: Any) -> tuple[float, float | None, str]:
        tt, ht = type(t), type(height_mm)
        if ((tt is float or tt is int) and (ht is float or ht is int) and 0.0 <= t < math.inf
                and LOG_HEIGHT_MM[0] <= height_mm <= LOG_HEIGHT_MM[1] and source in cls._sources_seen):
            return (float(t), float(round(height_mm)), source)     # the fast path for valid samples
        t = fields.unix_time("t", t)
        h = fields.number("height_mm", height_mm, *LOG_HEIGHT_MM, "mm")      # None: unknown (stale sensor)
        if not isinstance(source, str) or not _SOURCE_RE.match(source):
            raise fields.invalid("source", source, "a short lowercase name such as 'sensor' or 'sim'")
        cls._sources_seen.add(source)
        return (t, None if h is None else float(round(h)), source)   # whole mm: the sensor resolves ~3 mm

    def _apply_policy(self, samples: list[tuple[float, float | None, str]]) -> tuple[list[tuple], Any]:
        """Rows due among `samples` and the resulting (last, pending) state; the state is not changed."""
        edges = self.posture_edges_mm
        last, pending = self._last, self._pending
        rows = []
        for s in samples:
            verdict = height_decision(last, s[0], s[1], edges)
            if verdict is LOG:
                rows.append(s)
                last, pending = (s[0], s[1]), None
            else:
                pending = s if verdict is HOLD else None
        return rows, (last, pending)

    def log_height(self, t: float, height_mm: float | None, source: str = "sensor") -> bool:
        """Offer a height sample (None: height unknown) to the log; True if a row was written
        (see `should_log_height`). Cheap when no row is due: call it with every estimate."""
        return self.log_heights([(t, height_mm, source)]) == 1

    def log_heights(self, samples: Iterable[tuple[float, float | None, str]]) -> int:
        """Offer many samples (a batching writer, an import): same policy, one transaction. Returns rows written."""
        checked = [self._sample(*s) for s in samples]        # all valid, or nothing written
        with self._lock:
            rows, state = self._apply_policy(checked)
            if rows:
                with self._tx():
                    self._conn.executemany("INSERT INTO height_log (t, height_mm, source) VALUES (?, ?, ?)", rows)
            self._last, self._pending = state                # only once committed
            return len(rows)

    def flush_heights(self) -> bool:
        """Write a change held back by the one-row-a-second limit (called on close). True if written."""
        with self._lock:
            s = self._pending
            if s is None or self._closed:
                return False
            with self._tx() as db:
                db.execute("INSERT INTO height_log (t, height_mm, source) VALUES (?, ?, ?)", s)
            self._last, self._pending = (s[0], s[1]), None
            return True

    @property
    def last_logged_height(self) -> tuple[float, float | None] | None:
        """(t, height_mm) of the last row, the reference for the change-only policy."""
        with self._lock:
            return self._last

    def heights_between(self, t0: float, t1: float, *, include_previous: bool = False) -> list[HeightSample]:
        """Rows with t0 <= t < t1, in time order. With include_previous, also the last row before t0
        (the height the desk was at when the window opened)."""
        return list(map(HeightSample._make, self._height_rows("source", t0, t1, include_previous)))

    def height_points_between(self, t0: float, t1: float, *,
                              include_previous: bool = False) -> list[tuple[float, float | None]]:
        """(t, height_mm) of the same rows as `heights_between`, as plain tuples without the source: what
        statistics read, in half the memory for a year of rows."""
        return self._height_rows("", t0, t1, include_previous)

    def _height_rows(self, extra: str, t0: float, t1: float, include_previous: bool) -> list[Any]:
        a, b = fields.unix_time("t0", t0), fields.unix_time("t1", t1)
        # Floats from SQLite itself (t is a REAL column), read row by row: a year of rows is never held twice.
        cols = "t, CAST(height_mm AS REAL)" + (f", {extra}" if extra else "")
        with self._read() as conn:
            rows = []
            if include_previous:
                rows = conn.execute(f"SELECT {cols} FROM height_log WHERE t < ? ORDER BY t DESC LIMIT 1",
                                    [a]).fetchall()
            rows.extend(conn.execute(f"SELECT {cols} FROM height_log WHERE t >= ? AND t < ? ORDER BY t", [a, b]))
        return rows

    def purge(self, now: float, retention_days: float = RETENTION_DAYS) -> dict[str, int]:
        """Delete height-log, reminder and audit rows older than the retention; returns rows deleted per table."""
        cutoff = fields.unix_time("now", now) - 86400.0 * fields.number("retention_days", retention_days, 1, 36500,
                                                                        "days", optional=False)
        with self._tx() as db:
            counts = {
                "height_log": db.execute("DELETE FROM height_log WHERE t < ?", [cutoff]).rowcount,
                "reminders": db.execute("DELETE FROM reminders WHERE shown_at < ?", [cutoff]).rowcount,
                "audit": db.execute("DELETE FROM audit WHERE t < ?", [cutoff]).rowcount,
            }
            # Summed days of whatever zone, a day's margin before the cutoff: their rows are gone.
            day = (datetime.fromtimestamp(cutoff, UTC).date() - timedelta(days=1)).isoformat()
            db.execute("DELETE FROM stats_days WHERE day < ?", [day])
        with self._read() as conn:
            conn.execute("PRAGMA incremental_vacuum").fetchall()     # hand freed pages back to the filesystem
        return counts
