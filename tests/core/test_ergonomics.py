"""Desk heights from stature (docs/ERGONOMICS.md, "Desk height from stature")."""
from __future__ import annotations

import itertools
import json
import math

import pytest

from deskpi.core.ergonomics import (
    EN527_SEATED_MM,
    EN527_STANDING_MM,
    FINE_TUNE_NOTE,
    ErgonomicsError,
    Recommendation,
    recommend,
    standing_from_seated,
)

WIDE = (300.0, 2000.0)      # limits that never clamp


def test_the_175_cm_example_from_the_design_brief() -> None:
    r = recommend(175, sex="male", limits=WIDE)
    assert (r.sit_mm, r.stand_mm) == (657, 1092)
    assert r.shoe_mm == 25.0
    assert r.clamped is False


@pytest.mark.parametrize("sex, shoe", [(None, 35.0), ("male", 25.0), ("female", 45.0)])
def test_shoe_allowance_by_sex_and_the_formulas(sex, shoe) -> None:
    r = recommend(175, sex=sex, limits=WIDE)
    s = 1750 + shoe
    assert r.shoe_mm == shoe
    assert r.sit_raw_mm == pytest.approx(0.37 * s, abs=0.05)
    assert r.stand_raw_mm == pytest.approx(0.615 * s, abs=0.05)
    assert abs(r.sit_mm - 657) <= 8 and abs(r.stand_mm - 1092) <= 13      # "~657 / ~1092" for everyone at 175 cm


def test_an_explicit_shoe_height_overrides_the_allowance() -> None:
    barefoot = recommend(175, 0, sex="female", limits=WIDE)
    assert barefoot.shoe_mm == 0.0
    assert barefoot.sit_mm == round(0.37 * 1750)
    assert recommend(175, 60, limits=WIDE).stand_mm == round(0.615 * 1810)


def test_taller_people_get_higher_desks() -> None:
    rs = [recommend(h, limits=WIDE) for h in range(150, 201, 10)]
    assert all(a.sit_mm < b.sit_mm and a.stand_mm < b.stand_mm for a, b in itertools.pairwise(rs))


@pytest.mark.parametrize("stature, limits, sit, stand, fragments", [
    # short person, desk that does not go low enough: footrest and chair
    (150, (680, 1270), 680, 944, ["below the desk's minimum of 680 mm", "footrest", "raise the chair"]),
    # tall person, desk that does not go high enough: keyboard riser, no hunching
    (200, (620, 1200), 753, 1200, ["above the desk's maximum of 1200 mm", "riser"]),
    # a desk with a low maximum: even seated is too high to reach... lower the chair
    (250, (620, 900), 900, 900, ["Seated: 938 mm is above the desk's maximum", "lower the chair"]),
    # a desk whose minimum is above a small person's standing height: a platform
    (100, (1000, 1500), 1000, 1000, ["below the desk's minimum of 1000 mm", "platform", "footrest"]),
])
def test_clamping_to_the_desk_explains_what_to_do(stature, limits, sit, stand, fragments) -> None:
    r = recommend(stature, limits=limits)
    assert (r.sit_mm, r.stand_mm) == (sit, stand)
    assert r.clamped is True
    text = " ".join(r.notes)
    for f in fragments:
        assert f in text
    assert r.notes[-1] == FINE_TUNE_NOTE


def test_always_a_reminder_to_fine_tune() -> None:
    r = recommend(172, limits=WIDE)
    assert r.clamped is False
    assert FINE_TUNE_NOTE in r.notes
    assert "forearms" in FINE_TUNE_NOTE and "90-110" in FINE_TUNE_NOTE


def test_en527_ranges_are_information_only() -> None:
    assert (EN527_SEATED_MM, EN527_STANDING_MM) == ((650.0, 850.0), (950.0, 1250.0))
    inside = recommend(180, limits=WIDE)
    assert not any("EN 527-1" in n for n in inside.notes)
    outside = recommend(150, limits=WIDE)                       # 568 mm seated: below the standard's range
    assert any("EN 527-1 seated range 650-850 mm" in n for n in outside.notes)
    assert outside.sit_mm == 568 and outside.clamped is False   # not clamped to the standard


@pytest.mark.parametrize("args, kwargs, fragments", [
    ((99,), {}, ["stature_cm = 99", "100-250 cm"]),
    ((251,), {}, ["stature_cm = 251", "100-250 cm"]),
    ((math.nan,), {}, ["stature_cm = nan", "100-250 cm"]),
    (("175",), {}, ["stature_cm = '175'", "a number"]),
    ((True,), {}, ["stature_cm = True", "a number"]),
    ((175, -1), {}, ["shoe_mm = -1", "0-100 mm"]),
    ((175, 150), {}, ["shoe_mm = 150", "0-100 mm"]),
    ((175,), {"sex": "other"}, ["sex = 'other'", "'male', 'female' or None"]),
    ((175,), {"limits": (900, 800)}, ["limits = (900, 800)", "min_mm < max_mm"]),
    ((175,), {"limits": (100, 800)}, ["limits = (100, 800)", "300 <= min_mm"]),
    ((175,), {"limits": 900}, ["limits = 900", "(min_mm, max_mm)"]),
])
def test_bad_input_names_the_field_the_value_and_the_range(args, kwargs, fragments) -> None:
    with pytest.raises(ErgonomicsError) as exc:
        recommend(*args, **kwargs)
    assert isinstance(exc.value, ValueError)
    for f in fragments:
        assert f in str(exc.value)
    assert exc.value.field in str(exc.value)


def test_standing_height_from_seated_is_300_mm_higher() -> None:
    assert standing_from_seated(700) == 1000.0


def test_to_dict_is_the_cli_json() -> None:
    r = recommend(175, 30, limits=(640, 1260))
    d = json.loads(json.dumps(r.to_dict()))
    assert d["sit_mm"] == r.sit_mm and d["stand_mm"] == r.stand_mm
    assert d["limits_mm"] == [640.0, 1260.0] and d["en527_seated_mm"] == [650.0, 850.0]
    assert {"sit_raw_mm", "stand_raw_mm", "shoe_mm", "clamped", "notes"} <= set(d)
    assert isinstance(r, Recommendation)
