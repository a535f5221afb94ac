"""util.checks: one message shape for a refused value: the field, the value given, what is allowed."""
from __future__ import annotations

import math

import pytest

from deskpi.util import checks
from deskpi.util.checks import InvalidValue


@pytest.mark.parametrize(("value", "message"), [
    (400, "stature_cm = 400: must be a number of cm within 100-250"),
    (True, "stature_cm = True: must be a number of cm within 100-250"),
    (math.nan, "stature_cm = nan: must be a number of cm within 100-250"),
    ("170", "stature_cm = '170': must be a number of cm within 100-250"),
    (None, "stature_cm = None: must be a number of cm within 100-250"),
])
def test_a_number_outside_its_range_names_value_and_range(value, message):
    with pytest.raises(InvalidValue) as exc:
        checks.number("stature_cm", value, 100, 250, "cm")
    assert str(exc.value) == message
    assert isinstance(exc.value, ValueError)          # callers that catch ValueError still catch it


def test_a_number_in_range_comes_back_as_a_float():
    assert checks.number("x", 7, 0, 10) == 7.0 and isinstance(checks.number("x", 7, 0, 10), float)
    assert checks.number("x", None, 0, 10, optional=True) is None


def test_a_choice_lists_what_is_allowed():
    with pytest.raises(InvalidValue, match=r"units = 'mm': must be one of 'cm', 'in'"):
        checks.choice("units", "mm", ("cm", "in"))
    assert checks.choice("units", "in", ("cm", "in")) == "in"


def test_text_refuses_control_characters_and_lengths_outside_the_limit():
    for bad in ("", "a" * 41, "line\nbreak", "bell\x07", 5):
        with pytest.raises(InvalidValue, match="text of 1-40 characters without control characters"):
            checks.text("label", bad, 40)
    assert checks.text("label", "Ada's desk", 40) == "Ada's desk"


def test_a_unix_time_is_a_finite_number_not_before_1970():
    assert checks.unix_time("at", 1.5) == 1.5
    for bad in (-1, math.inf, "now", False):
        with pytest.raises(InvalidValue, match="a unix time in seconds"):
            checks.unix_time("at", bad)


def test_unknown_keys_are_named_with_what_is_allowed():
    with pytest.raises(InvalidValue) as exc:
        checks.only_keys("move", {"target_mm": 700, "speed": 3}, ("target_mm",))
    assert str(exc.value) == "move = 'speed': must be one of: target_mm"
    checks.only_keys("move", {"target_mm": 700}, ("target_mm",))
