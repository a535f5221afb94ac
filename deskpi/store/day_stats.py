"""Closed days' statistics, summed once (deskpi.core.habits.day_totals), kept per time zone and local day.

A report reads a row a day instead of every height-log row of its window. Each row carries a fingerprint of
the rows it was summed from (the height log around the day, who was at the desk, the reminders shown and
their outcomes, with the people's names), taken in SQL from the indexes without reading the rows themselves:
a day whose rows changed since (a late reminder outcome, a rename, a deleted person's reminders, a restore,
a purge, a clock that stepped back) no longer matches and is summed again. Thresholds are checked apart
(day_totals.still_valid): a new seated/standing height re-classifies a person's history.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from deskpi.store.database import StoreBase

_HEIGHTS_SQL = "SELECT count(*), total(t) FROM height_log WHERE t >= ? AND t < ?"
# Who was at the desk: the change in force at the day's first midnight (all of its instant) and those within.
_USERS_SQL = ("SELECT group_concat(t || '=' || ifnull(user, ''), ',') FROM (SELECT t, user FROM active_user_log "
              "WHERE t < ? AND t >= ifnull((SELECT max(t) FROM active_user_log WHERE t < ?), 0) ORDER BY t, id)")
_REMINDERS_SQL = ("SELECT count(*), total(r.shown_at), group_concat(r.id || ifnull(r.outcome, '') || '/' "
                  "|| ifnull(u.name, ''), ',') FROM reminders r LEFT JOIN users u ON u.id = r.user_id "
                  "WHERE r.shown_at >= ? AND r.shown_at < ?")


class DayStatsMixin(StoreBase):
    """The stats_days table: one summed day per (time zone, local day)."""

    def day_fingerprints(self, days: Iterable[tuple[str, float, float]], max_gap_s: float) -> dict[str, str]:
        """day -> fingerprint of what its statistics are summed from; days: (YYYY-MM-DD, start, end) unix s.
        The height log counts from max_gap_s before the day to max_gap_s after it (rows there decide
        whether its first and last stretches were measured)."""
        # Imported here: `deskpi user list` over SSH loads no hashing (tests/cli/test_cli_start_imports.py).
        import hashlib

        out = {}
        with self._read() as conn:
            for day, a, b in days:
                h = conn.execute(_HEIGHTS_SQL, [a - max_gap_s, b + max_gap_s]).fetchone()
                u = conn.execute(_USERS_SQL, [b, a]).fetchone()
                r = conn.execute(_REMINDERS_SQL, [a, b]).fetchone()
                # With the day's bounds: a zone's rules may change under the same name.
                text = f"{a!r}-{b!r}|{h[0]}:{h[1]!r}|{u[0]}|{r[0]}:{r[1]!r}:{r[2]}"
                out[day] = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        return out

    def stats_days(self, tz: str, days: Iterable[str]) -> dict[str, tuple[str, str]]:
        """day -> (fingerprint, document as JSON text) of the days stored for zone `tz`."""
        wanted = sorted(set(days))
        if not wanted:
            return {}
        with self._read() as conn:
            rows = conn.execute("SELECT day, fingerprint, doc FROM stats_days WHERE tz = ? AND day >= ? AND day <= ?",
                                [tz, wanted[0], wanted[-1]]).fetchall()
        keep = set(wanted)
        return {d: (fp, doc) for d, fp, doc in rows if d in keep}

    def put_stats_days(self, tz: str, rows: Iterable[tuple[str, str, str]]) -> bool:
        """Store (day, fingerprint, JSON document) rows for zone `tz` in one transaction. False, and nothing
        stored, when this connection may not write (a read-only one) or the database is busy: a cache."""
        rows = list(rows)
        if not rows:
            return True
        try:
            with self._tx() as db:
                db.executemany("INSERT OR REPLACE INTO stats_days (tz, day, fingerprint, doc) VALUES (?, ?, ?, ?)",
                               [(tz, *r) for r in rows])
        except sqlite3.OperationalError:
            return False
        return True
