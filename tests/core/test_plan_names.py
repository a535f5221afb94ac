"""A plan's name for people is made from its numbers (deskpi.core.habits.plan_names)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from deskpi.core.habits.plan_names import catalogue, duration, plan_label
from deskpi.core.habits.plans import CORNELL, DEFAULT_PLAN, Plan


@pytest.mark.parametrize("minutes, words", [
    (0, "0 min"), (2, "2 min"), (45, "45 min"), (60, "1 h"), (90, "1 h 30 min"), (128, "2 h 8 min"),
    (240, "4 h"), (59.6, "1 h"),
])
def test_durations_read_as_people_say_them(minutes, words) -> None:
    assert duration(minutes) == words


def test_the_default_plan_says_its_rhythm_and_its_ramp() -> None:
    assert plan_label(DEFAULT_PLAN) == ("Sit 30 min, stand 15 min, move 2 min; "
                                        "standing rises from 1 h to 4 h a day over 12 weeks")


def test_cornell_has_no_ramp_and_names_what_its_rhythm_holds() -> None:
    assert plan_label(CORNELL) == "Sit 20 min, stand 8 min, move 2 min; standing 2 h 8 min a day"


def test_the_slow_ramp_starts_at_half_an_hour() -> None:
    assert plan_label(replace(DEFAULT_PLAN, ramp="slow")).endswith(
        "standing rises from 30 min to 4 h a day over 20 weeks")


@pytest.mark.parametrize("ramp, goal", [
    (((1, 20), (6, 90)), "standing rises from 20 min to 1 h 30 min a day over 6 weeks"),
    (((1, 90),), "standing 1 h 30 min a day"),
    (((1, 60), (3, 60)), "standing 1 h a day"),
    (((1, 120), (4, 60)), "standing falls from 2 h to 1 h a day over 4 weeks"),
])
def test_a_custom_ramp_is_named_by_its_first_and_last_goal(ramp, goal) -> None:
    assert plan_label(replace(DEFAULT_PLAN, kind="custom", ramp=ramp)).endswith("; " + goal)


def test_no_movement_break_is_not_mentioned() -> None:
    plan = replace(DEFAULT_PLAN, kind="custom", sit_min=45, stand_min=15, move_min=0)
    assert plan_label(plan).startswith("Sit 45 min, stand 15 min; standing")


def test_a_name_the_owner_chose_comes_first_and_the_numbers_still_show() -> None:
    assert plan_label(replace(CORNELL, name="Office days")) == (
        "Office days: Sit 20 min, stand 8 min, move 2 min; standing 2 h 8 min a day")


def test_a_changed_number_changes_the_name() -> None:
    """The presets' old fixed names stayed on a plan whose numbers had changed; they are dropped."""
    stored = {**DEFAULT_PLAN.to_dict(), "kind": "custom", "sit_min": 40,
              "name": "30 min sit / 15 min stand, 2 min move"}
    plan = Plan.from_dict(stored)
    assert plan.name == "" and plan_label(plan).startswith("Sit 40 min, stand 15 min")
    assert Plan.from_dict({"kind": "cornell", "name": "Cornell 20-8-2"}) == CORNELL


def test_the_plan_page_offers_the_presets_and_ramps_by_the_same_words() -> None:
    offered = catalogue()
    assert offered["kinds"] == {"default": plan_label(DEFAULT_PLAN), "cornell": plan_label(CORNELL)}
    assert offered["ramps"]["slow"] == "standing rises from 30 min to 4 h a day over 20 weeks"
    assert offered["points"]["standard"] == [[1, 60], [4, 120], [12, 240]]
