"""Who or what is moving the desk, as the state says it (issue 12: "Moving — from your phone")."""
from __future__ import annotations

import pytest

from deskpi.core.types import Caller, Source
from deskpi.daemon.arbiter import MOVER_KINDS, mover


@pytest.mark.parametrize("source, detail, by, expected", [
    (Source.BUTTON, "preset 2", None, {"kind": "buttons", "user": None}),
    (Source.SCHEDULE, "habit: sit", None, {"kind": "reminder", "user": None}),          # an automatic move
    (Source.REMOTE, "habit: stand", None, {"kind": "reminder", "user": None}),          # the API's confirm
    (Source.REMOTE, "reminder: sit", Caller("web", user="Ada", via="session"), {"kind": "phone", "user": "Ada"}),
    (Source.REMOTE, "web Ada hold", Caller("web", user="Ada", via="session"), {"kind": "phone", "user": "Ada"}),
    (Source.REMOTE, "web Bob", Caller("web", user="Bob", via="token"), {"kind": "app", "user": "Bob"}),
    (Source.REMOTE, "cli", Caller("cli"), {"kind": "cli", "user": None}),
    (Source.REMOTE, "", None, {"kind": "remote", "user": None}),
])
def test_the_mover_names_the_source_and_the_person(source, detail, by, expected):
    assert mover(source, detail, by) == expected
    assert expected["kind"] in MOVER_KINDS
