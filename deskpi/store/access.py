"""Access in the store: API tokens for scripts and web sign-in sessions; only hashes of their secrets are kept."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Any

from deskpi.store import fields
from deskpi.store.database import StoreBase
from deskpi.store.people import fetch_user, require_user
from deskpi.store.records import User

TOKEN_PREFIX = "dpi_"
SQLITE_MAX_INT = 2**63 - 1
_TOKEN_RE = re.compile(r"dpi_([0-9]{1,12})_([A-Za-z0-9_-]{20,100})")


def secret_hash(secret: str) -> str:
    """What is stored of a token or session id."""
    # They carry 256 random bits, so a plain hash is enough (a slow KDF is for guessable PINs).
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class AccessMixin(StoreBase):
    """API tokens (`dpi_<id>_<secret>`, shown once) and web sessions."""

    def create_token(self, user: str, label: str = "", *, now: float | None = None) -> tuple[int, str]:
        """A new API token for `user`: (id, the token). The token itself is shown once and never stored."""
        label = fields.text("label", label or None, 64) or ""
        created = time.time() if now is None else fields.unix_time("now", now)
        secret = secrets.token_urlsafe(32)
        with self._tx() as db:
            row = require_user(db, user)
            cur = db.execute("INSERT INTO api_tokens (user_id, label, hash, created_at) VALUES (?, ?, ?, ?)",
                             [row["id"], label, secret_hash(secret), created])
            token_id = int(cur.lastrowid)
        return token_id, f"{TOKEN_PREFIX}{token_id}_{secret}"

    def user_for_token(self, token: Any, *, now: float | None = None, touch: bool = True) -> User | None:
        """The user a token belongs to, or None for anything that is not a live token."""
        if not isinstance(token, str) or len(token) > 200:
            return None
        m = _TOKEN_RE.fullmatch(token)
        if m is None:
            return None
        token_id, secret = int(m.group(1)), m.group(2)
        with self._read() as conn:
            row = conn.execute("SELECT user_id, hash, last_used_at FROM api_tokens WHERE id = ?",
                               [token_id]).fetchone()
            if row is None or not hmac.compare_digest(row[1], secret_hash(secret)):
                return None
            user = fetch_user(conn.execute("SELECT * FROM users WHERE id = ?", [row[0]]))
        t = time.time() if now is None else now
        # A script polling many times a second must not fsync each time.
        if touch and (row[2] is None or t - row[2] >= 60):
            with self._tx() as db:
                db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [t, token_id])
        return user

    def list_tokens(self, user: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            row = require_user(self.db, user)
            cur = conn.execute("SELECT id, label, created_at, last_used_at FROM api_tokens "
                               "WHERE user_id = ? ORDER BY id", [row["id"]])
            return [dict(zip(("id", "label", "created_at", "last_used_at"), r, strict=True)) for r in cur.fetchall()]

    def revoke_token(self, token_id: Any, *, user: str | None = None) -> bool:
        """Delete a token (only `user`'s, when given). True if one was deleted."""
        if not isinstance(token_id, int) or isinstance(token_id, bool):
            raise fields.invalid("token id", token_id, "a whole number from `deskpi token list`")
        if not 1 <= token_id <= SQLITE_MAX_INT:        # no token has it (and SQLite could not even look it up)
            return False
        with self._tx() as db:
            if user is None:
                cur = db.execute("DELETE FROM api_tokens WHERE id = ?", [token_id])
            else:
                row = require_user(db, user)
                cur = db.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", [token_id, row["id"]])
            return cur.rowcount > 0

    # ------------------------------------------------------------------------------ web sessions

    def create_session(self, user: str, *, now: float | None = None) -> str:
        """A new sign-in session for `user`; returns its id (only a hash of it is stored)."""
        sid = secrets.token_urlsafe(32)
        with self._tx() as db:
            row = require_user(db, user)
            db.execute("INSERT INTO web_sessions (user_id, sid_hash, created_at) VALUES (?, ?, ?)",
                       [row["id"], secret_hash(sid), time.time() if now is None else now])
        return sid

    def user_for_session(self, sid: Any, *, max_age_s: float, now: float | None = None) -> User | None:
        """The user of a live session no older than max_age_s, or None."""
        if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
            return None
        t = time.time() if now is None else now
        with self._read() as conn:
            return fetch_user(conn.execute("SELECT u.* FROM web_sessions s JOIN users u ON u.id = s.user_id "
                                           "WHERE s.sid_hash = ? AND s.created_at > ?",
                                           [secret_hash(sid), t - max_age_s]))

    def end_session(self, sid: Any) -> None:
        if isinstance(sid, str) and len(sid) <= 100:
            with self._tx() as db:
                db.execute("DELETE FROM web_sessions WHERE sid_hash = ?", [secret_hash(sid)])

    def end_sessions(self, user: str, *, older_than: float | None = None) -> int:
        """End every session of `user` (or only those created before `older_than`). Returns how many."""
        with self._tx() as db:
            row = require_user(db, user)
            if older_than is None:
                cur = db.execute("DELETE FROM web_sessions WHERE user_id = ?", [row["id"]])
            else:
                cur = db.execute("DELETE FROM web_sessions WHERE user_id = ? AND created_at < ?",
                                 [row["id"], older_than])
            return cur.rowcount
