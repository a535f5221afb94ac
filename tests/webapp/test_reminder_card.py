"""The reminder's card as the server draws it (deskpi/webapp/reminder_card.py) says what reminder.js
writes into it, so a waiting reminder has its full size from the first paint."""
from __future__ import annotations

from deskpi.core.habits import stretches
from deskpi.webapp.reminder_card import reminder_card


def a_break(**extra) -> dict:
    return {"id": "20261207-3", "kind": "stretch", "target": "sit", "message": "Standing block done: move for 2 min, "
            "then sit.", "minutes": 2.0, "stretch": stretches.get("chin_tucks").to_dict(), "mode": "confirm",
            "target_mm": 642.0, **extra}


def test_a_stretch_has_its_steps_its_timer_and_the_labelled_move():
    card = reminder_card(a_break(), 1067.0, "cm")
    stretch = stretches.get("chin_tucks")
    assert (card["title"], card["helps"], card["steps"], card["cautions"]) == (
        stretch.title, stretch.helps, list(stretch.steps), list(stretch.cautions))
    assert card["seconds"] == stretch.duration_s and card["is_break"]
    assert card["move"] == "Lower to 64.2 cm now" and card["later"] == "Remind me when I'm back"
    assert card["note"] == "Done records it and moves nothing."


def test_in_inches_and_in_auto_mode_the_note_says_the_desk_moves_itself_after_the_break():
    card = reminder_card(a_break(mode="auto"), 1067.0, "in")
    assert card["move"] == "Lower to 25.3 in now" and card["later"] == ""
    assert card["note"].startswith("When the break is over, the desk lowers itself to 25.3 in after a warning")


def test_at_the_reminders_height_nothing_is_offered_to_move():
    card = reminder_card({"id": "x", "kind": "stand", "target": "stand", "message": "", "minutes": 20,
                          "stretch": None, "mode": "confirm", "target_mm": 1067.0}, 1060.0, "cm")
    assert (card["title"], card["message"], card["move"], card["note"], card["seconds"]) == (
        "Time to stand up", "For about 20 min.", "", "", 0)
    assert not card["is_break"]


def test_no_preset_to_go_to_and_no_reminder():
    card = reminder_card(a_break(target_mm=None), 1067.0, "cm")
    assert card["move"] == "" and card["note"].startswith("There is no sit preset to go to")
    assert reminder_card(None, 1067.0, "cm") is None
