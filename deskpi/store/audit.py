"""The audit trail in the store: who or what asked the desk to move, when and from where."""
from __future__ import annotations

import json
import time
from typing import Any

from deskpi.store import fields
from deskpi.store.database import StoreBase, casefold, time_window
from deskpi.store.records import AUDIT_ACTIONS, AUDIT_SOURCES, DETAIL_MAX_BYTES, AuditEntry


class AuditMixin(StoreBase):
    """Append to and list the audit trail (names are kept as text: the trail outlives a removed user)."""

    def append_audit(self, source: str, action: str, *, user: str | None = None,
                     detail: dict[str, Any] | None = None, remote: str | None = None,
                     t: float | None = None) -> int:
        """Record who/what asked the desk to move, and from where. Returns the entry's id."""
        source = fields.choice("source", source, AUDIT_SOURCES)
        action = fields.choice("action", action, AUDIT_ACTIONS)
        user = fields.text("user", user, 64)
        text = fields.json_doc("detail", detail, DETAIL_MAX_BYTES, optional=True)
        remote = fields.text("remote", remote, 128)
        when = time.time() if t is None else fields.unix_time("t", t)
        with self._tx() as db:
            cur = db.execute("INSERT INTO audit (t, source, user, action, detail, remote) VALUES (?, ?, ?, ?, ?, ?)",
                             [when, source, user, action, text, remote])
            return int(cur.lastrowid)

    def list_audit(self, *, since: float | None = None, until: float | None = None, source: str | None = None,
                   user: str | None = None, action: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Audit entries, newest first; user matches case-insensitively."""
        where, args = time_window("t", since, until)
        if source is not None:
            where.append("source = ?")
            args.append(fields.choice("source", source, AUDIT_SOURCES))
        if action is not None:
            where.append("action = ?")
            args.append(fields.choice("action", action, AUDIT_ACTIONS))
        if user is not None:
            where.append("deskpi_casefold(user) = ?")
            args.append(casefold(fields.text("user", user, 64)))
        sql = ("SELECT id, t, source, user, action, detail, remote FROM audit"
               + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY t DESC, id DESC LIMIT {fields.row_limit(limit)}")
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [AuditEntry(i, t, s, u, a, None if d is None else json.loads(d), r) for i, t, s, u, a, d, r in rows]
