"""Plans and reminders in the store: each person's habit plan, and every reminder shown with what came of it."""
from __future__ import annotations

import json
import time
from typing import Any

from deskpi.store import fields
from deskpi.store.database import StoreBase, time_window, upsert
from deskpi.store.people import require_user
from deskpi.store.records import (
    PLAN_KINDS,
    PLAN_MAX_BYTES,
    REMINDER_KINDS,
    REMINDER_OUTCOMES,
    Plan,
    Reminder,
    StoreError,
)

_REMINDER_SQL = ("SELECT r.id, u.name, r.kind, r.shown_at, r.outcome, r.outcome_at, r.stretch_id "
                 "FROM reminders r LEFT JOIN users u ON u.id = r.user_id")


def _plan(name: str, kind: str, doc: str, updated_at: float) -> Plan:
    return Plan(user=name, kind=kind, doc=json.loads(doc), updated_at=updated_at)


class PlansMixin(StoreBase):
    """Habit plans per user and the reminder history."""

    def get_plan(self, user: str) -> Plan | None:
        with self._read() as conn:
            row = require_user(conn, user)
            plan = conn.execute("SELECT kind, doc, updated_at FROM plans WHERE user_id = ?", [row["id"]]).fetchone()
        return None if plan is None else _plan(row["name"], *plan)

    def stored_plans(self) -> dict[str, Plan]:
        """Everyone's stored plan by their name, in one query (everyone's statistics need them all at once)."""
        with self._read() as conn:
            rows = conn.execute("SELECT u.name, p.kind, p.doc, p.updated_at FROM plans p "
                                "JOIN users u ON u.id = p.user_id").fetchall()
        return {name: _plan(name, kind, doc, at) for name, kind, doc, at in rows}

    def set_plan(self, user: str, doc: dict[str, Any], *, kind: str = "custom", now: float | None = None) -> Plan:
        kind = fields.choice("kind", kind, PLAN_KINDS)
        text = fields.json_doc("doc", doc, PLAN_MAX_BYTES)
        updated = time.time() if now is None else fields.unix_time("now", now)
        with self._tx() as db:
            row = require_user(db, user)
            upsert(db, "plans", {"user_id": row["id"], "kind": kind, "doc": text, "updated_at": updated}, pk="user_id")
        return Plan(user=row["name"], kind=kind, doc=json.loads(text), updated_at=updated)

    # -------------------------------------------------------------------------------- reminders

    def record_reminder(self, user: str | None, kind: str, shown_at: float, *, stretch_id: str | None = None) -> int:
        """A reminder was shown (to `user`, or to nobody in particular). Returns its id."""
        kind = fields.choice("kind", kind, REMINDER_KINDS)
        shown = fields.unix_time("shown_at", shown_at)
        stretch_id = fields.text("stretch_id", stretch_id, 64)
        with self._tx() as db:
            uid = None if user is None else require_user(db, user)["id"]
            cur = db.execute("INSERT INTO reminders (user_id, kind, shown_at, stretch_id) VALUES (?, ?, ?, ?)",
                             [uid, kind, shown, stretch_id])
            return int(cur.lastrowid)

    def update_reminder(self, reminder_id: int, outcome: str, outcome_at: float) -> Reminder:
        """Record what the person did about a reminder (the latest outcome wins)."""
        outcome = fields.choice("outcome", outcome, REMINDER_OUTCOMES)
        at = fields.unix_time("outcome_at", outcome_at)
        with self._tx() as db:
            current = self._get_reminder(reminder_id)
            if at < current.shown_at:
                raise fields.invalid("outcome_at", outcome_at, f"no earlier than shown_at = {current.shown_at!r}")
            db.execute("UPDATE reminders SET outcome = ?, outcome_at = ? WHERE id = ?", [outcome, at, current.id])
            return self._get_reminder(reminder_id)

    def _get_reminder(self, reminder_id: Any) -> Reminder:
        if isinstance(reminder_id, bool) or not isinstance(reminder_id, int):
            raise fields.invalid("reminder_id", reminder_id, "a reminder id (int)")
        row = self._conn.execute(_REMINDER_SQL + " WHERE r.id = ?", [reminder_id]).fetchone()
        if row is None:
            raise StoreError(f"reminder_id = {reminder_id!r}: no such reminder")
        return Reminder(*row)

    def get_reminder(self, reminder_id: int) -> Reminder:
        with self._read():
            return self._get_reminder(reminder_id)

    def list_reminders(self, *, user: str | None = None, since: float | None = None, until: float | None = None,
                       limit: int | None = None) -> list[Reminder]:
        """Reminders shown in [since, until), oldest first."""
        where, args = time_window("r.shown_at", since, until)
        with self._read() as conn:
            if user is not None:
                where.append("r.user_id = ?")
                args.append(require_user(conn, user)["id"])
            sql = _REMINDER_SQL + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.shown_at, r.id"
            if limit is not None:
                sql += f" LIMIT {fields.row_limit(limit)}"
            return [Reminder(*r) for r in conn.execute(sql, args).fetchall()]
