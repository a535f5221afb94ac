"""Checks of stored values: bad input is refused naming the field, the value and the rule, and nothing is written."""
from __future__ import annotations

import pytest

from deskpi.store import Store, StoreError, UnknownUserError

# ------------------------------------------------------------------------------------- validation

BAD_USER_INPUT = [
    ({"name": ""}, "name = ''"),
    ({"name": "   "}, "name = '   '"),
    ({"name": "x" * 41}, "1-40 characters"),
    ({"name": "bob\n"}, None),                       # trailing newline is trimmed: valid (checked below)
    ({"name": "bo\x07b"}, "without control characters"),
    ({"name": "tab\there"}, "without control characters"),
    ({"name": 42}, "name = 42"),
    ({"name": None}, "name = None"),
    ({"stature_cm": 99}, "stature_cm = 99: must be a number of cm within 100-250"),
    ({"stature_cm": 251}, "stature_cm = 251"),
    ({"stature_cm": "175"}, "stature_cm = '175'"),
    ({"stature_cm": float("nan")}, "stature_cm = nan"),
    ({"stature_cm": True}, "stature_cm = True"),
    ({"shoe_mm": -1}, "shoe_mm = -1: must be a number of mm within 0-100"),
    ({"seated_mm": 299}, "seated_mm = 299: must be a number of mm within 300-2000"),
    ({"standing_mm": 2001}, "standing_mm = 2001"),
    ({"standing_mm": float("inf")}, "standing_mm = inf"),
    ({"seated_mm": 1100, "standing_mm": 700}, "standing_mm = 700: must be above seated_mm = 1100"),
    ({"units": "mm"}, "units = 'mm': must be one of 'cm', 'in'"),
    ({"role": "root"}, "role = 'root': must be one of 'user', 'admin'"),
    ({"pin_hash": "1234"}, "pin_hash = <4 characters>"),
    ({"pin_hash": "12345678901234567890"}, "not a bare PIN"),
    ({"pin_hash": 1234}, "pin_hash = 1234"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_USER_INPUT)
def test_bad_user_fields_are_refused_and_nothing_is_written(store: Store, fields: dict, message: str | None) -> None:
    args = {"name": "Ann", **fields}
    if message is None:
        assert store.add_user(**args).name == "bob"
        return
    with pytest.raises(StoreError) as e:
        store.add_user(**args)
    assert message in str(e.value)
    assert store.list_users() == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"stature_cm": 300}, "stature_cm = 300"),
    ({"seated_mm": 250}, "seated_mm = 250"),
    ({"standing_mm": 650}, "standing_mm = 650: must be above seated_mm = 700"),
    ({"height": 1}, "height = 1: not a user field; the fields are stature_cm, shoe_mm"),
    ({"name": "Bob"}, "rename with rename_user"),
    ({"units": "furlongs"}, "units = 'furlongs'"),
])
def test_bad_updates_name_the_field_and_change_nothing(store: Store, fields: dict, message: str) -> None:
    before = store.add_user("Ann", stature_cm=170, seated_mm=700, standing_mm=1080)
    with pytest.raises(StoreError, match=message):
        store.update_user("Ann", **fields)
    assert store.get_user("Ann") == before


@pytest.mark.parametrize(("slot", "height", "message"), [
    (0, 700, "slot = 0: must be a preset slot 1-4"),
    (5, 700, "slot = 5"),
    (True, 700, "slot = True"),
    ("1", 700, "slot = '1'"),
    (1, 299.9, "height_mm = 299.9: must be a number of mm within 300-2000"),
    (2, 2000.5, "height_mm = 2000.5"),
    (3, None, "height_mm = None"),
])
def test_bad_presets_are_refused(store: Store, slot, height, message: str) -> None:
    store.add_user("Ann")
    with pytest.raises(StoreError, match=message):
        store.set_preset("Ann", slot, height)
    assert store.get_presets("Ann") == {1: None, 2: None, 3: None, 4: None}


def test_store_errors_are_value_errors() -> None:
    assert issubclass(StoreError, ValueError)
    assert issubclass(UnknownUserError, StoreError) and issubclass(UnknownUserError, LookupError)
