"""Access in the store: API tokens for scripts, web sign-in sessions and the device cookies of phones that
signed in before; only hashes of their secrets are kept."""
from __future__ import annotations

import re
import time
from typing import Any

from deskpi.store import fields
from deskpi.store.database import StoreBase
from deskpi.store.people import fetch_user, require_user
from deskpi.store.records import StoreError, User

TOKEN_PREFIX = "dpi_"
SQLITE_MAX_INT = 2**63 - 1
_TOKEN_RE = re.compile(r"dpi_([0-9]{1,12})_([A-Za-z0-9_-]{20,100})")
#: Live API tokens one person may have: each is a way in, and nobody needs thousands.
TOKENS_PER_USER = 20
DEVICE_PREFIX = "dpd_"
_DEVICE_RE = re.compile(r"dpd_[A-Za-z0-9_-]{20,100}")
#: Phones remembered per person (the least recently used one is forgotten first).
DEVICES_PER_USER = 10


class TokenLimitError(StoreError):
    """A person already has `cap` live API tokens (a refusal for the state, not for bad input)."""

    def __init__(self, message: str, cap: int) -> None:
        super().__init__(message)
        self.cap = cap


def secret_hash(secret: str) -> str:
    """What is stored of a token or session id."""
    # They carry 256 random bits, so a plain hash is enough (a slow KDF is for guessable PINs).
    # hashlib and secrets are imported where used: they load OpenSSL, which a command that only lists
    # people or reads the audit trail over SSH has no use for (the daemon pays it once).
    import hashlib

    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def random_secret() -> str:
    """256 random bits, URL-safe: a token, session id or device cookie."""
    import secrets

    return secrets.token_urlsafe(32)


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


class AccessMixin(StoreBase):
    """API tokens (`dpi_<id>_<secret>`, shown once), web sessions and device cookies (`dpd_<secret>`)."""

    def create_token(self, user: str, label: str = "", *, now: float | None = None) -> tuple[int, str]:
        """A new API token for `user`: (id, the token). The token itself is shown once and never stored."""
        label = fields.text("label", label or None, 64) or ""
        created = time.time() if now is None else fields.unix_time("now", now)
        secret = random_secret()
        with self._tx() as db:
            row = require_user(db, user)
            (count,) = db.execute("SELECT COUNT(*) FROM api_tokens WHERE user_id = ?", [row["id"]]).fetchone()
            if count >= TOKENS_PER_USER:
                raise TokenLimitError(
                    f"{row['name']} already has {count} API tokens, the most one person may have "
                    f"({TOKENS_PER_USER}): revoke one first (`deskpi token list {row['name']}`, then "
                    f"`deskpi token revoke ID`)",
                    TOKENS_PER_USER)
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
            row = conn.execute("SELECT user_id, hash, last_used_at FROM api_tokens WHERE id = ? AND role = 'user'",
                               [token_id]).fetchone()
            if row is None or not _same(row[1], secret_hash(secret)):
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
            row = require_user(conn, user)
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
        sid = random_secret()
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

    # --------------------------------------------------------------------------- device cookies

    def create_device(self, user: str, *, now: float | None = None) -> str:
        """Remember a phone that signed in as `user`; returns its device cookie (only a hash is stored).
        Each person keeps their DEVICES_PER_USER most recently used phones."""
        cookie = DEVICE_PREFIX + random_secret()
        t = time.time() if now is None else now
        with self._tx() as db:
            row = require_user(db, user)
            db.execute("INSERT INTO web_devices (user_id, hash, created_at, last_used_at) VALUES (?, ?, ?, ?)",
                       [row["id"], secret_hash(cookie), t, t])
            db.execute("DELETE FROM web_devices WHERE user_id = ? AND id NOT IN (SELECT id FROM web_devices "
                       "WHERE user_id = ? ORDER BY last_used_at DESC, id DESC LIMIT ?)",
                       [row["id"], row["id"], DEVICES_PER_USER])
        return cookie

    def device_failures(self, cookie: Any, user_id: int, *, max_age_s: float, now: float | None = None) -> int | None:
        """How many wrong PINs a device cookie of user `user_id`, used within max_age_s, has had since its
        last good one; None when it is not such a cookie (forgotten, someone else's, or anything else)."""
        if not isinstance(cookie, str) or _DEVICE_RE.fullmatch(cookie) is None:
            return None
        t = time.time() if now is None else now
        with self._read() as conn:
            row = conn.execute("SELECT failures FROM web_devices WHERE hash = ? AND user_id = ? AND last_used_at > ?",
                               [secret_hash(cookie), user_id, t - max_age_s]).fetchone()
        return None if row is None else int(row[0])

    def device_try(self, cookie: str, user_id: int, *, limit: int) -> bool:
        """Count a try by this device before the PIN is checked; False (nothing counted) once it has
        had `limit` tries without a good PIN, or when the cookie is not that user's."""
        if not isinstance(cookie, str) or _DEVICE_RE.fullmatch(cookie) is None:
            return False
        with self._tx() as db:
            cur = db.execute("UPDATE web_devices SET failures = failures + 1 WHERE hash = ? AND user_id = ? "
                             "AND failures < ?", [secret_hash(cookie), user_id, limit])
            return cur.rowcount > 0

    def device_done(self, cookie: str, *, ok: bool | None, limit: int, now: float | None = None) -> None:
        """After a try counted by device_try: a good PIN clears the count; a wrong one keeps it, and at
        `limit` forgets the device (a stolen cookie buys `limit` guesses, no more); None: not tried."""
        h = secret_hash(cookie)
        with self._tx() as db:
            if ok:
                db.execute("UPDATE web_devices SET failures = 0, last_used_at = ? WHERE hash = ?",
                           [time.time() if now is None else now, h])
            elif ok is None:
                db.execute("UPDATE web_devices SET failures = MAX(0, failures - 1) WHERE hash = ?", [h])
            else:
                db.execute("DELETE FROM web_devices WHERE hash = ? AND failures >= ?", [h, limit])
