"""The built-in stretch catalogue and how one is picked."""
from __future__ import annotations

import json
import random

import pytest

from deskpi.core.habits import stretches
from deskpi.core.habits.schedule_policy import DEFAULT_STRETCH_IDS, WALK_ID

REQUIRED = {"back_extension", "hip_flexor_stretch", "chin_tucks", "shoulder_rolls", "seated_twist", "short_walk"}


def test_the_catalogue_has_the_stretches_the_issue_asks_for_and_more() -> None:
    ids = stretches.ids()
    assert set(ids) >= REQUIRED
    assert len(ids) >= len(REQUIRED) + 2
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("s", stretches.CATALOGUE, ids=lambda s: s.id)
def test_each_stretch_is_complete(s) -> None:
    assert s.title and s.helps
    assert 3 <= len(s.steps) <= 6
    assert all(step.strip().endswith(".") for step in s.steps)
    assert 20 <= s.duration_s <= 180
    assert s.cautions and all(c.strip() for c in s.cautions)
    assert s.position in ("standing", "seated", "either", "walking")
    assert json.loads(json.dumps(s.to_dict()))["id"] == s.id


def test_the_policy_suggests_exactly_the_catalogue() -> None:
    assert set(DEFAULT_STRETCH_IDS) | {WALK_ID} == set(stretches.ids())


def test_pick_by_index_rotates_and_wraps() -> None:
    n = len(stretches.CATALOGUE)
    assert [stretches.pick(i).id for i in range(n)] == list(stretches.ids())
    assert stretches.pick(n).id == stretches.ids()[0]


def test_pick_avoids_recent_ones_while_others_remain() -> None:
    recent = list(stretches.ids())[:-1]
    assert stretches.pick(0, recent).id == stretches.ids()[-1]
    assert stretches.pick(0, stretches.ids()).id == stretches.ids()[0]     # all recent: any will do
    rng = random.Random(7)
    picks = {stretches.pick(rng, ["chin_tucks"]).id for _ in range(200)}
    assert "chin_tucks" not in picks and len(picks) == len(stretches.ids()) - 1


def test_pick_with_a_seeded_rng_is_reproducible() -> None:
    a = [stretches.pick(random.Random(3)).id for _ in range(3)]
    assert len(set(a)) == 1


@pytest.mark.parametrize("position, allowed", [
    ("seated", {"seated", "either"}), ("standing", {"standing", "either"}), ("walking", {"walking"}),
])
def test_pick_by_position(position, allowed) -> None:
    for i in range(20):
        assert stretches.pick(i, position=position).position in allowed


@pytest.mark.parametrize("arg, exc, fragment", [
    ("3", TypeError, "an int index or a random.Random-like object"),
    (True, TypeError, "not a bool"),
])
def test_pick_rejects_what_it_cannot_use(arg, exc, fragment) -> None:
    with pytest.raises(exc, match=fragment):
        stretches.pick(arg)


def test_pick_unknown_position_and_get_unknown_id() -> None:
    with pytest.raises(ValueError, match="position = 'lying'"):
        stretches.pick(0, position="lying")
    with pytest.raises(KeyError, match="stretch_id = 'yoga'.*back_extension"):
        stretches.get("yoga")
    assert stretches.get("chin_tucks").title == "Chin tucks"
