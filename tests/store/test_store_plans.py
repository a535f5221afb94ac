"""Plans and the reminder history."""
from __future__ import annotations

import pytest

from deskpi.store import Store, StoreError

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC


def test_plans(store: Store) -> None:
    store.add_user("Ann")
    assert store.get_plan("Ann") is None
    plan = store.set_plan("Ann", {"sit_min": 20, "stand_min": 8, "move_min": 2}, kind="cornell", now=T0)
    assert store.get_plan("ann") == plan and plan.kind == "cornell" and plan.doc["stand_min"] == 8
    store.set_plan("Ann", {"blocks": [{"sit": 30}, {"stand": 15}]}, now=T0 + 5)
    assert store.get_plan("Ann").kind == "custom" and store.get_plan("Ann").updated_at == T0 + 5
    for doc, kind, message in [({"a": 1}, "weekly", "kind = 'weekly'"), ([1, 2], "custom", "doc = \\[1, 2\\]"),
                               ({"x": float("nan")}, "custom", "doc: must be a JSON object"),
                               ({"x": object()}, "custom", "doc: must be a JSON object"),
                               ({"x": "y" * 70000}, "custom", "bytes of JSON")]:
        with pytest.raises(StoreError, match=message):
            store.set_plan("Ann", doc, kind=kind)
    assert store.get_plan("Ann").doc == {"blocks": [{"sit": 30}, {"stand": 15}]}


# -------------------------------------------------------------------------------------- reminders

def test_reminders_record_update_and_list(store: Store) -> None:
    store.add_user("Ann")
    a = store.record_reminder("Ann", "stand", T0)
    b = store.record_reminder("ann", "stretch", T0 + 1800, stretch_id="neck-roll")
    c = store.record_reminder(None, "move", T0 + 3600)
    r = store.update_reminder(a, "snoozed", T0 + 10)
    assert (r.outcome, r.outcome_at, r.user) == ("snoozed", T0 + 10, "Ann")
    assert store.update_reminder(a, "acknowledged", T0 + 310).outcome == "acknowledged"
    assert store.get_reminder(b).stretch_id == "neck-roll" and store.get_reminder(b).outcome is None
    assert [x.id for x in store.list_reminders()] == [a, b, c]
    assert [x.id for x in store.list_reminders(user="Ann")] == [a, b]
    assert [x.id for x in store.list_reminders(since=T0 + 1, until=T0 + 3600)] == [b]
    assert [x.id for x in store.list_reminders(limit=1)] == [a]
    for call, message in [(lambda: store.record_reminder("Ann", "nap", T0), "kind = 'nap': must be one of 'stand'"),
                          (lambda: store.record_reminder("Ann", "sit", -1), "shown_at = -1"),
                          (lambda: store.record_reminder("Zed", "sit", T0), "user = 'Zed': no such user"),
                          (lambda: store.update_reminder(a, "ignored", T0), "outcome = 'ignored'"),
                          (lambda: store.update_reminder(b, "skipped", T0), "outcome_at = .*no earlier than shown_at"),
                          (lambda: store.update_reminder(999, "skipped", T0), "reminder_id = 999: no such reminder")]:
        with pytest.raises(StoreError, match=message):
            call()
    assert len(store.list_reminders()) == 3
