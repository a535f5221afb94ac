"""People in the store: users and their profiles, their presets, who is at the desk and who owns it."""
from __future__ import annotations

import sqlite3
import time
from typing import Any

from deskpi.store import fields
from deskpi.store.database import StoreBase, rows, upsert
from deskpi.store.records import ACTIVE_USER_KEY, HEIGHT_MM, OWNER_KEY, SLOTS, StoreError, UnknownUserError, User


def find_user(db: sqlite3.Connection, name: Any, field_name: str = "user") -> dict[str, Any] | None:
    """The `users` row of a name (case-insensitive, lookalikes folded), or None."""
    if not isinstance(name, str):
        raise fields.invalid(field_name, name, "a user name")
    legacy = fields.legacy_name_key(name)
    found = rows(db.execute("SELECT * FROM users WHERE name_key IN (?, ?)", [legacy, fields.name_key(name)]))
    # A name stored before lookalikes were folded keeps its old key: its own spelling finds it first.
    return next((r for r in found if r["name_key"] == legacy), found[0]) if found else None


def same_name(db: sqlite3.Connection, name: str, *, besides: int | None = None) -> dict[str, Any] | None:
    """The user (id, name) whose name reads as `name` does, other than the one with id `besides`; or None.

    Compared by key computed now, not by the stored column, so names stored before lookalikes were
    folded count too (there are a handful of users, never thousands)."""
    key = fields.name_key(name)
    for uid, other in db.execute("SELECT id, name FROM users ORDER BY id"):
        if uid != besides and fields.name_key(other) == key:
            return {"id": uid, "name": other}
    return None


def _taken(field_name: str, given: Any, name: str, holder: str) -> StoreError:
    shown = repr(given) if given == name else f"{given!r} (read as {name!r})"
    return StoreError(f"{field_name} = {shown}: already taken by {holder!r} (names are case-insensitive, and "
                      f"lookalike spellings such as full-width or invisible characters count as the same name)")


def require_user(db: sqlite3.Connection, name: Any, field_name: str = "user") -> dict[str, Any]:
    """The `users` row of a name, or UnknownUserError listing who there is."""
    row = find_user(db, name, field_name)
    if row is None:
        known = [r[0] for r in db.execute("SELECT name FROM users ORDER BY name_key LIMIT 11")]
        listing = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else "none yet"
        raise UnknownUserError(f"{field_name} = {name!r}: no such user (users: {listing})")
    return row


def _user_row(db: sqlite3.Connection, uid: int) -> dict[str, Any]:
    return rows(db.execute("SELECT * FROM users WHERE id = ?", [uid]))[0]


def _update_user(db: sqlite3.Connection, uid: int, values: dict[str, Any]) -> None:
    """Set some columns of a user (their names come from fields.user_fields, never from outside)."""
    db.execute(f"UPDATE users SET {', '.join(f'{col} = ?' for col in values)} WHERE id = ?",
               [*values.values(), uid])


def fetch_user(cur: sqlite3.Cursor) -> User | None:
    """The User in the next row of a `SELECT u.* ...` cursor, or None."""
    found = cur.fetchone()
    return None if found is None else User.from_row(dict(zip([d[0] for d in cur.description], found, strict=True)))


class PeopleMixin(StoreBase):
    """Users, presets, the active user and the owner."""

    def add_user(self, name: str, *, stature_cm: float | None = None, shoe_mm: float | None = None,
                 seated_mm: float | None = None, standing_mm: float | None = None, units: str = "cm",
                 role: str = "user", pin_hash: str | None = None, now: float | None = None) -> User:
        given, name = name, fields.valid_name(name)
        values = fields.user_fields({"stature_cm": stature_cm, "shoe_mm": shoe_mm, "seated_mm": seated_mm,
                                     "standing_mm": standing_mm, "units": units, "role": role,
                                     "pin_hash": pin_hash})
        fields.check_sit_below_stand(values["seated_mm"], values["standing_mm"])
        created = time.time() if now is None else fields.unix_time("now", now)
        with self._tx() as db:
            existing = same_name(db, name)
            if existing is not None:
                raise _taken("name", given, name, existing["name"])
            try:
                row = dict(name=name, name_key=fields.name_key(name), created_at=created, **values)
                uid = db.execute(f"INSERT INTO users ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                                 list(row.values())).lastrowid
            except sqlite3.IntegrityError:               # an old row holding this key under another spelling
                raise _taken("name", given, name, require_user(db, name)["name"]) from None
            self._users_changed = True
            return User.from_row(_user_row(db, uid))

    def get_user(self, name: str) -> User | None:
        with self._read() as conn:
            row = find_user(conn, name)
            return None if row is None else User.from_row(row)

    def list_users(self) -> list[User]:
        with self._read() as conn:
            return [User.from_row(r) for r in rows(conn.execute("SELECT * FROM users ORDER BY name_key"))]

    def remove_user(self, name: str) -> None:
        """Remove a user with their presets, plan and reminder history (the audit trail keeps the name)."""
        with self._tx() as db:
            row = require_user(db, name)
            db.execute("DELETE FROM settings WHERE key IN (?, ?) AND value = ?",
                       [ACTIVE_USER_KEY, OWNER_KEY, str(row["id"])])
            db.execute("DELETE FROM users WHERE id = ?", [row["id"]])
            self._users_changed = True

    def rename_user(self, name: str, new_name: str) -> User:
        """Give a person a new name; the same rules as for adding one (case-insensitive, lookalikes count).

        What the person did under their old name stays theirs: the audit trail and the active-user history
        since their account was created follow the new name (so their statistics and when they last used
        the desk carry on). Entries from before, of someone removed who had the same name, keep it."""
        new = fields.valid_name(new_name, "new_name")
        with self._tx() as db:
            row = require_user(db, name)
            other = same_name(db, new, besides=row["id"])
            if other is not None:
                raise _taken("new_name", new_name, new, other["name"])
            try:
                _update_user(db, row["id"], {"name": new, "name_key": fields.name_key(new)})
            except sqlite3.IntegrityError:
                raise _taken("new_name", new_name, new, require_user(db, new)["name"]) from None
            if new != row["name"]:
                for table in ("audit", "active_user_log"):
                    db.execute(f"UPDATE {table} SET user = ? WHERE user = ? AND t >= ?",
                               [new, row["name"], row["created_at"]])
            self._users_changed = True
            return User.from_row(_user_row(db, row["id"]))

    def update_user(self, name: str, /, **changes: Any) -> User:
        """Set some of stature_cm, shoe_mm, seated_mm, standing_mm, units, role, pin_hash (None clears).

        Setting or clearing pin_hash ends that person's web sessions and revokes their API tokens."""
        values = fields.user_fields(changes)
        with self._tx() as db:
            row = require_user(db, name)
            merged = {**row, **values}
            fields.check_sit_below_stand(merged["seated_mm"], merged["standing_mm"])
            if values:
                _update_user(db, row["id"], values)
            if "pin_hash" in values:         # a new (or cleared) PIN signs that person out everywhere,
                db.execute("DELETE FROM web_sessions WHERE user_id = ?", [row["id"]])
                db.execute("DELETE FROM api_tokens WHERE user_id = ?", [row["id"]])   # scripts included
            self._users_changed = True
            return User.from_row(require_user(db, name))

    # ---------------------------------------------------------------------------------- presets

    def get_presets(self, user: str) -> dict[int, float | None]:
        """Slots 1-4. Unsaved slot 1 is the user's seated height, slot 2 the standing height."""
        with self._read() as conn:
            row = require_user(conn, user)
            saved = dict(conn.execute("SELECT slot, height_mm FROM presets WHERE user_id = ?", [row["id"]]).fetchall())
        defaults = {1: row["seated_mm"], 2: row["standing_mm"], 3: None, 4: None}
        return {s: saved.get(s, defaults[s]) for s in SLOTS}

    def get_preset(self, user: str, slot: int) -> float | None:
        return self.get_presets(user)[fields.slot(slot)]

    def set_preset(self, user: str, slot: int, height_mm: float) -> float:
        slot = fields.slot(slot)
        h = round(fields.number("height_mm", height_mm, *HEIGHT_MM, "mm", optional=False), 1)
        with self._tx() as db:
            row = require_user(db, user)
            upsert(db, "presets", {"user_id": row["id"], "slot": slot, "height_mm": h}, pk=("user_id", "slot"))
        return h

    def clear_preset(self, user: str, slot: int) -> None:
        """Forget a saved preset (slots 1 and 2 go back to the seated/standing heights)."""
        slot = fields.slot(slot)
        with self._tx() as db:
            row = require_user(db, user)
            db.execute("DELETE FROM presets WHERE user_id = ? AND slot = ?", [row["id"], slot])

    # ---------------------------------------------------------------------- active user, owner

    def _user_setting(self, key: str) -> User | None:
        with self._read() as conn:
            return fetch_user(conn.execute("SELECT u.* FROM settings s JOIN users u "
                                           "ON u.id = CAST(s.value AS INTEGER) WHERE s.key = ?", [key]))

    def _set_user_setting(self, key: str, name: str | None, field_name: str) -> User | None:
        with self._tx() as db:
            if name is None:
                db.execute("DELETE FROM settings WHERE key = ?", [key])
                self._users_changed = True
                return None
            row = require_user(db, name, field_name)
            upsert(db, "settings", {"key": key, "value": str(row["id"])}, pk="key")
            self._users_changed = True
            return User.from_row(row)

    def get_active_user(self) -> User | None:
        return self._user_setting(ACTIVE_USER_KEY)

    def set_active_user(self, name: str | None, *, now: float | None = None) -> User | None:
        """Who is at the desk now (None: nobody in particular); the change is kept for statistics."""
        when = time.time() if now is None else fields.unix_time("now", now)
        with self._tx() as db:
            user = self._set_user_setting(ACTIVE_USER_KEY, name, "active_user")
            db.execute("INSERT INTO active_user_log (t, user) VALUES (?, ?)",
                       [when, None if user is None else user.name])
            return user

    def active_user_timeline(self, t0: float, t1: float) -> list[tuple[float, str | None]]:
        """(t, user) changes in [t0, t1], led by the one in force at t0; [] if never recorded."""
        with self._read() as conn:
            before = conn.execute("SELECT t, user FROM active_user_log WHERE t < ? ORDER BY t DESC, id DESC LIMIT 1",
                                  [t0]).fetchall()
            rows = conn.execute("SELECT t, user FROM active_user_log WHERE t >= ? AND t <= ? ORDER BY t, id",
                                [t0, t1]).fetchall()
        return [(float(t), u) for t, u in before + rows]

    def get_owner(self) -> User | None:
        return self._user_setting(OWNER_KEY)

    def set_owner(self, name: str | None) -> User | None:
        """The person the desk is assigned to (None: unassigned, e.g. a hot desk)."""
        return self._set_user_setting(OWNER_KEY, name, "owner")
