"""Metrics tokens in the store: what a Prometheus server shows to read a desk's /metrics, and nothing else.

A metrics token (``dpm_<secret>``) belongs to no person: it carries the name of what scrapes with it
("prometheus"). It lives in the api_tokens table with role "metrics" and no user, so ``deskpi token revoke
ID`` finds it like any other token, a person's PIN change or removal leaves it alone, and it never acts as
a person (``user_for_token`` reads role "user" only). A fleet's Prometheus shows one token to every desk,
so a token may also be handed in (``deskpi token create NAME --role metrics --token-stdin``); either way
only its hash is kept.
"""
from __future__ import annotations

import re
import time
from typing import Any

from deskpi.store import fields
from deskpi.store.access import AccessMixin, TokenLimitError, random_secret, secret_hash

METRICS_TOKEN_PREFIX = "dpm_"
#: What a metrics token looks like: at least 32 characters of secret (192 bits as base64url, 128 as hex).
METRICS_TOKEN_RE = re.compile(r"dpm_[A-Za-z0-9_-]{32,100}")
#: Live metrics tokens a desk keeps: one per monitoring system, and a few for a changeover.
METRICS_TOKENS_MAX = 20
TOKEN_ROLES = ("user", "metrics")
#: How often a token's last use is written (the write waits for an fsync; a scrape comes every 15-60 s).
TOUCH_EVERY_S = 60.0


class MetricsTokensMixin(AccessMixin):
    """Tokens of role "metrics": made or handed in, looked up, listed (revoke: AccessMixin.revoke_token)."""

    def create_metrics_token(self, name: str, label: str = "", *, token: str | None = None,
                             now: float | None = None) -> tuple[int, str, bool]:
        """A metrics token for `name` (what scrapes with it): (id, the token, whether it is new). `token`:
        keep this one (a fleet's shared token) instead of making one; handing in one the desk already
        has changes nothing and answers its id with False."""
        name = fields.valid_name(name, "name")
        label = fields.text("label", label or None, 64) or ""
        created = time.time() if now is None else fields.unix_time("now", now)
        if token is None:
            token = METRICS_TOKEN_PREFIX + random_secret()
        elif not isinstance(token, str) or METRICS_TOKEN_RE.fullmatch(token) is None:
            # The value is a secret: never repeated back, not even in an error.
            raise fields.invalid("token", "(hidden)", "dpm_ followed by 32-100 letters, digits, '-' or '_', e.g. "
                                                      "made with: printf 'dpm_%s' \"$(openssl rand -hex 32)\"")
        digest = secret_hash(token)
        with self._tx() as db:
            row = db.execute("SELECT id FROM api_tokens WHERE hash = ? AND role = 'metrics'", [digest]).fetchone()
            if row is not None:
                return int(row[0]), token, False
            (count,) = db.execute("SELECT COUNT(*) FROM api_tokens WHERE role = 'metrics'").fetchone()
            if count >= METRICS_TOKENS_MAX:
                raise TokenLimitError(
                    f"this desk already has {count} metrics tokens, the most it keeps ({METRICS_TOKENS_MAX}): "
                    f"revoke one first (`deskpi token list --role metrics`, then `deskpi token revoke ID`)",
                    METRICS_TOKENS_MAX)
            cur = db.execute("INSERT INTO api_tokens (user_id, role, name, label, hash, created_at) "
                             "VALUES (NULL, 'metrics', ?, ?, ?, ?)", [name, label, digest, created])
            return int(cur.lastrowid), token, True

    def token_role(self, token: Any, *, touch: bool = True, now: float | None = None) -> str | None:
        """"user" for a live token of a person, "metrics" for a live metrics token, else None."""
        if not isinstance(token, str) or len(token) > 200:
            return None
        if not token.startswith(METRICS_TOKEN_PREFIX):
            return "user" if self.user_for_token(token, touch=touch, now=now) is not None else None
        if METRICS_TOKEN_RE.fullmatch(token) is None:
            return None
        # Looked up by its hash: the secret has 192 bits or more, so the lookup's timing tells nothing useful.
        with self._read() as conn:
            row = conn.execute("SELECT id, last_used_at FROM api_tokens WHERE hash = ? AND role = 'metrics'",
                               [secret_hash(token)]).fetchone()
        if row is None:
            return None
        t = time.time() if now is None else now
        if touch and (row[1] is None or t - row[1] >= TOUCH_EVERY_S):
            with self._tx() as db:
                db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [t, row[0]])
        return "metrics"

    def list_metrics_tokens(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every metrics token (never its secret), or those made for `name` (case-insensitive)."""
        with self._read() as conn:
            cur = conn.execute("SELECT id, name, label, created_at, last_used_at FROM api_tokens "
                               "WHERE role = 'metrics' ORDER BY id")
            rows = [dict(zip(("id", "name", "label", "created_at", "last_used_at"), r, strict=True))
                    for r in cur.fetchall()]
        if name is None:
            return rows
        key = fields.name_key(name)
        return [r for r in rows if fields.name_key(r["name"]) == key]
