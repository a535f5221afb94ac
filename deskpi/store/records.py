"""What the store hands out and refuses: the record types, the error family and the limits of stored values."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

NAME_MAX = 40
STATURE_CM = (100.0, 250.0)
SHOE_MM = (0.0, 100.0)
HEIGHT_MM = (300.0, 2000.0)              # seated/standing/preset heights; the desk's own limits apply elsewhere
LOG_HEIGHT_MM = (0.0, 5000.0)            # what the log accepts from an estimator (HC-SR04 range is 4 m)
SLOTS = (1, 2, 3, 4)                     # preset 1 = sit, preset 2 = stand by default
UNITS = ("cm", "in")
ROLES = ("user", "admin")
PLAN_KINDS = ("default", "cornell", "custom")
REMINDER_KINDS = ("stand", "sit", "stretch", "move")
REMINDER_OUTCOMES = ("acknowledged", "snoozed", "skipped", "expired", "confirmed")
AUDIT_SOURCES = ("button", "web", "cli", "schedule", "api-token", "mqtt")
AUDIT_ACTIONS = ("move", "hold", "stop", "recall", "save", "clear_fault")
PLAN_MAX_BYTES = 64 * 1024
DETAIL_MAX_BYTES = 4 * 1024
RETENTION_DAYS = 400

# Settings rows that name a user by id; set only through the people methods, never set_setting.
ACTIVE_USER_KEY = "active_user_id"
OWNER_KEY = "owner_user_id"


class StoreError(ValueError):
    """Bad input or an unusable database. The message names the field, the value and what is allowed."""


class UnknownUserError(StoreError, LookupError):
    """No user by that name."""


class StoreBusyError(StoreError):
    """Another process has the database open (e.g. restore while the daemon runs)."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    stature_cm: float | None
    shoe_mm: float | None
    seated_mm: float | None
    standing_mm: float | None
    units: str
    role: str
    pin_hash: str | None = field(repr=False)
    created_at: float

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> User:
        """A User from a `users` row (extra columns such as name_key are ignored)."""
        return cls(id=row["id"], name=row["name"], stature_cm=row["stature_cm"], shoe_mm=row["shoe_mm"],
                   seated_mm=row["seated_mm"], standing_mm=row["standing_mm"], units=row["units"],
                   role=row["role"], pin_hash=row["pin_hash"], created_at=row["created_at"])


@dataclass(frozen=True)
class Plan:
    user: str
    kind: str
    doc: dict[str, Any]
    updated_at: float


@dataclass(frozen=True)
class Reminder:
    id: int
    user: str | None
    kind: str
    shown_at: float
    outcome: str | None
    outcome_at: float | None
    stretch_id: str | None


class HeightSample(NamedTuple):
    t: float
    height_mm: float | None          # None: unknown from here on (the sensor went stale)
    source: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    t: float
    source: str
    user: str | None
    action: str
    detail: dict[str, Any] | None
    remote: str | None


@dataclass(frozen=True)
class RestoreResult:
    path: Path                   # the restored database
    previous: Path | None        # where the database it replaced was kept (None: there was none)
    version: int                 # schema version after restore (upgraded if the backup was older)
