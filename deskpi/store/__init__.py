"""The deskpi database: people, their presets and plans, reminders, a height log and an audit trail.

`Store` (store.facade) is the one way in; it is assembled from one module per
concern: `database` (the file, its lock, transactions, settings; durability
notes live there), `people`, `plans`, `height_log`, `audit`, `access` (API
tokens, web sessions, device cookies), `metrics_tokens` (tokens that read
/metrics only), `backup`; `fields` checks every stored value, `records`
holds the record types, errors and limits, `migrations` the schema.
"""
from __future__ import annotations

from deskpi.store.access import TOKEN_PREFIX, TOKENS_PER_USER, TokenLimitError
from deskpi.store.database import DB_NAME, db_path, match_owner
from deskpi.store.facade import Store
from deskpi.store.fields import name_key, valid_name
from deskpi.store.height_log import (
    DEFAULT_POSTURE_EDGES_MM,
    HEARTBEAT_S,
    MIN_CHANGE_MM,
    MIN_INTERVAL_S,
    UNKNOWN_STAND_OFFSET_MM,
    posture_edges_for,
    should_log_height,
)
from deskpi.store.metrics_tokens import METRICS_TOKEN_PREFIX, METRICS_TOKENS_MAX, TOKEN_ROLES
from deskpi.store.records import (
    AUDIT_ACTIONS,
    AUDIT_SOURCES,
    DETAIL_MAX_BYTES,
    HEIGHT_MM,
    LOG_HEIGHT_MM,
    NAME_MAX,
    PLAN_KINDS,
    PLAN_MAX_BYTES,
    REMINDER_KINDS,
    REMINDER_OUTCOMES,
    RETENTION_DAYS,
    ROLES,
    SHOE_MM,
    SLOTS,
    STATURE_CM,
    UNITS,
    AuditEntry,
    HeightSample,
    Plan,
    Reminder,
    RestoreResult,
    StoreBusyError,
    StoreError,
    UnknownUserError,
    User,
)

__all__ = [
    "AUDIT_ACTIONS", "AUDIT_SOURCES", "DB_NAME", "DEFAULT_POSTURE_EDGES_MM", "DETAIL_MAX_BYTES", "HEARTBEAT_S",
    "HEIGHT_MM", "LOG_HEIGHT_MM", "MIN_CHANGE_MM", "MIN_INTERVAL_S", "NAME_MAX", "PLAN_KINDS", "PLAN_MAX_BYTES",
    "REMINDER_KINDS", "REMINDER_OUTCOMES", "RETENTION_DAYS", "ROLES", "SHOE_MM", "SLOTS", "STATURE_CM",
    "METRICS_TOKENS_MAX", "METRICS_TOKEN_PREFIX", "TOKENS_PER_USER", "TOKEN_PREFIX", "TOKEN_ROLES", "UNITS",
    "UNKNOWN_STAND_OFFSET_MM", "AuditEntry", "HeightSample", "Plan",
    "Reminder", "RestoreResult", "Store", "StoreBusyError", "StoreError", "TokenLimitError", "UnknownUserError",
    "User", "db_path", "match_owner", "name_key", "posture_edges_for", "should_log_height", "valid_name",
]
