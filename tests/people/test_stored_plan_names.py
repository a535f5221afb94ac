"""A plan stored before its name's rule: still the person's plan after an upgrade (people.accounts.plan_for)."""
from __future__ import annotations

import pytest

from deskpi.people.accounts import plan_for
from deskpi.store import Store


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "deskpi.db") as s:
        yield s


def test_a_stored_name_with_control_characters_keeps_the_plan_and_shows_the_name_without_them(store):
    # Before names were checked, an API client could store a tab or a newline in one. Refused on loading,
    # the whole plan fell back to the default: another rhythm, another mode, after an upgrade.
    store.add_user("Ada")
    store.set_plan("Ada", {"kind": "custom", "name": "mornings\tstanding\n", "sit_min": 40, "mode": "auto"})
    plan, where = plan_for(store, "Ada")
    assert where == "stored"
    assert (plan.name, plan.sit_min, plan.mode) == ("mornings standing ", 40, "auto")
