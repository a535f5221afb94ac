"""The Store: one object over the database, its methods grouped by concern in the modules it is built from."""
from __future__ import annotations

from deskpi.store.access import AccessMixin
from deskpi.store.audit import AuditMixin
from deskpi.store.backup import BackupMixin
from deskpi.store.database import StoreBase
from deskpi.store.day_stats import DayStatsMixin
from deskpi.store.height_log import HeightLogMixin
from deskpi.store.metrics_tokens import MetricsTokensMixin
from deskpi.store.people import PeopleMixin
from deskpi.store.plans import PlansMixin


class Store(PeopleMixin, PlansMixin, HeightLogMixin, AuditMixin, MetricsTokensMixin, AccessMixin, BackupMixin,
            DayStatsMixin, StoreBase):
    """The deskpi database. Build with `Store.open(path)`; every method is thread-safe.

    people: users, presets, active user, owner - plans: plans, reminders -
    height_log: the height log and retention - audit: the audit trail -
    access: API tokens, web sessions - metrics_tokens: tokens that read /metrics only - backup: backup, restore -
    day_stats: closed days' statistics, summed once - database: open, close, transactions, settings.
    """
