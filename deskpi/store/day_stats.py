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

# One query for every day asked (days: a JSON list of [day, start, end]); per day the height-log rows from
# max_gap_s before it to max_gap_s after it (count and sum of times, from the index alone), who was at the desk
# (the change in force at its first midnight, all of that instant, and those within) and the reminders shown.
_FINGERPRINT_SQL = """
WITH d(k, a, b) AS (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
                    FROM json_each(?))
SELECT k, a, b,
  (SELECT count(*) || ':' || total(t) FROM height_log WHERE t >= a - ? AND t < b + ?),
  (SELECT group_concat(t || '=' || ifnull(user, ''), ',') FROM (SELECT t, user FROM active_user_log
     WHERE t < b AND t >= ifnull((SELECT max(t) FROM active_user_log WHERE t < a), 0) ORDER BY t, id)),
  (SELECT count(*) || ':' || total(r.shown_at) || ':' || group_concat(r.id || ifnull(r.outcome, '') || '/'
     || ifnull(u.name, ''), ',') FROM reminders r LEFT JOIN users u ON u.id = r.user_id
     WHERE r.shown_at >= a AND r.shown_at < b)
FROM d"""


class DayStatsMixin(StoreBase):
    """The stats_days table: one summed day per (time zone, local day)."""

    def day_fingerprints(self, days: Iterable[tuple[str, float, float]], max_gap_s: float) -> dict[str, str]:
        """day -> fingerprint of what its statistics are summed from; days: (YYYY-MM-DD, start, end) unix s.
        The height log counts from max_gap_s before the day to max_gap_s after it (rows there decide
        whether its first and last stretches were measured)."""
        # Imported here: `deskpi user list` over SSH loads no hashing (tests/cli/test_cli_start_imports.py).
        import hashlib
        import json

        asked = json.dumps([[k, a, b] for k, a, b in days])
        with self._read() as conn:
            rows = conn.execute(_FINGERPRINT_SQL, [asked, max_gap_s, max_gap_s]).fetchall()
        # With the day's bounds: a zone's rules may change under the same name.
        return {k: hashlib.blake2b(f"{a!r}-{b!r}|{h}|{u}|{r}".encode(), digest_size=16).hexdigest()
                for k, a, b, h, u, r in rows}

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
        stored, when this connection may not write (a read-only one), the database is busy or the disk full:
        it is a cache, and the report goes on without it."""
        rows = list(rows)
        if not rows:
            return True
        try:
            with self._tx() as db:
                db.executemany("INSERT OR REPLACE INTO stats_days (tz, day, fingerprint, doc) VALUES (?, ?, ?, ?)",
                               [(tz, *r) for r in rows])
        except (sqlite3.OperationalError, OSError):      # OSError: StorageFull, a full disk (already flagged)
            return False
        return True
