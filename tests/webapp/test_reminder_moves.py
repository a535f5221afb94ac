"""Issue 12 on the API: a reminder moves the desk only when asked to in so many words, a signed-out
phone at the desk can stop it, and the state says who is moving it (to the people signed in)."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from helpers import signed_in
from web_fakes import FakeService, app_for, with_store

from deskpi.core.faults import MotionRefused
from deskpi.core.habits.habit_state import PolicyError
from deskpi.core.types import Caller, Source
from deskpi.daemon.habits import HabitService

API = "/api/v1"


class FakeHabits:
    def __init__(self) -> None:
        self.answers: list[tuple] = []
        self.raises: Exception | None = None
        self.snap: dict = {"reminder": None, "status": {}, "user": None}

    def snapshot(self) -> dict:
        return self.snap

    def outcome(self, outcome, reminder_id=None, *, move=None, when_back=False, by=None):
        self.answers.append((outcome, reminder_id, move, when_back, by))
        if self.raises is not None:
            raise self.raises
        return {"outcome": outcome, "reminder": None, "target_mm": 700.0 if move else None}


class MovingService(FakeService):
    def snapshot(self) -> dict:
        return {**super().snapshot(), "state": "moving", "owner": "remote",
                "moved_by": {"kind": "phone", "user": "ada"}, "speed_mm_s": 31.5}


@pytest.fixture
def service(tmp_path):
    s = with_store(MovingService(), tmp_path / "deskpi.db")
    s.habits = FakeHabits()
    yield s
    s.store.close()


def test_done_and_the_labelled_move_reach_the_reminders_as_asked(sign_in, service):
    ada = sign_in()
    assert ada.post(f"{API}/reminder/confirm", json={"id": "r1", "move": False}).status_code == 200
    resp = ada.post(f"{API}/reminder/confirm", json={"id": "r1", "move": True})
    assert resp.status_code == 200 and resp.get_json()["target_mm"] == 700.0
    assert ada.post(f"{API}/reminder/confirm", json={"id": "r1", "move": False, "when_back": True}).status_code == 200
    assert ada.post(f"{API}/reminder/confirm", json={"id": "r1"}).status_code == 200     # no move: as Done
    answers = [(o, rid, move, back) for o, rid, move, back, _ in service.habits.answers]
    assert answers == [("confirm", "r1", False, False), ("confirm", "r1", True, False),
                       ("confirm", "r1", False, True), ("confirm", "r1", False, False)]
    assert service.habits.answers[1][4] == Caller("web", user="ada", remote="127.0.0.1", via="session")


def test_the_labelled_move_needs_the_claim_and_says_how_in_plain_words(sign_in, service):
    ada = sign_in(claim=False)
    resp = ada.post(f"{API}/reminder/confirm", json={"move": True})
    assert resp.status_code == 409 and service.habits.answers == []
    message = resp.get_json()["error"]
    assert "tap Claim this desk" in message and "/api/" not in message and "POST" not in message
    assert ada.post(f"{API}/reminder/confirm", json={"move": False}).status_code == 200    # Done needs no claim


def test_a_refused_move_says_the_answer_is_kept_and_why_the_desk_did_not_move(sign_in, service):
    ada = sign_in()
    service.habits.raises = MotionRefused("the desk is child-locked")
    resp = ada.post(f"{API}/reminder/confirm", json={"move": True})
    assert resp.status_code == 409
    assert resp.get_json()["error"] == "the answer is recorded, but the desk did not move: the desk is child-locked"
    service.habits.raises = PolicyError("moving the desk goes with 'confirm', not 'skip'")
    assert ada.post(f"{API}/reminder/skip", json={"move": True}).status_code == 409
    assert ada.post(f"{API}/reminder/confirm", json={"move": "yes"}).status_code == 400


class _Presets:
    def all(self) -> dict:
        return {1: 700.0, 2: 1120.0, 3: None, 4: None}


class _RecordingDesk:
    """The desk as the reminders drive it: its sit and stand presets, and every move asked of it."""

    def __init__(self) -> None:
        self.moves: list[tuple] = []
        self.presets = _Presets()

    def move_to(self, target, source, detail="", *, by=None):
        self.moves.append((target, source, detail))


class _Scheduler:
    def start(self) -> None:
        pass

    def shutdown(self, wait: bool = False) -> None:
        pass

    def add_job(self, fn, trigger=None, **kw):
        if trigger is None:
            fn(*kw.get("args", ()))


@pytest.mark.parametrize("body", [{}, {"id": None}])
def test_confirm_without_move_records_the_answer_and_never_moves_the_desk(tmp_path, body):
    """The real reminders behind the API: a confirm that does not say move=true is Done, for a caller
    without the claim too (it used to let the plan's own move through, answering target_mm null)."""
    service = with_store(FakeService(), tmp_path / "deskpi.db")
    desk = _RecordingDesk()
    wall = dt.datetime(2026, 11, 23, 9, 0)                  # a Monday, in working hours
    service.habits = HabitService(service.store, desk, scheduler=_Scheduler(), wall=lambda: wall,
                                  mono=lambda: 1000.0, clock_synced=lambda: True,
                                  start_date=dt.date(2026, 10, 19))
    app = app_for(service)
    try:
        ada = signed_in(app, claim=False)
        service.store.set_active_user("ada")
        service.habits.start()
        service.habits.on_height(700.0)                     # sitting: the next reminder asks to stand
        prompt = service.habits.skip_to_next()["reminder"]
        assert prompt is not None and prompt["target"] == "stand"
        resp = ada.post(f"{API}/reminder/confirm", json=body)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["target_mm"] is None and desk.moves == []
        assert service.habits.current is None
        assert service.store.list_reminders(user="ada")[0].outcome == "confirmed"
    finally:
        service.habits.close()
        app.extensions["deskpi.web"].close()
        service.store.close()


@pytest.mark.parametrize("about, shown", [("ada", True), ("ADA", True), ("bob", False), (None, False)])
def test_the_page_paints_the_reminder_only_when_it_is_about_the_person_at_the_desk(sign_in, service,
                                                                                   about, shown):
    """Ada is at the desk; for a second after she came, the reminders can still be Bob's (or nobody's)."""
    ada = sign_in()
    sign_in(name="bob", pin="9630", admin=False, claim=False)
    service.store.set_active_user("ada")
    service.habits.snap = {"user": about, "status": {}, "reminder": {
        "id": "r7", "kind": "stand", "target": "stand", "target_mm": 1100.0, "message": "Stand up for Bob"}}
    html = ada.get("/").get_data(as_text=True)
    card = re.search(r'<section[^>]*data-testid="reminder"[^>]*>', html)
    assert card is not None and ("hidden" not in card.group(0)) is shown
    assert ("Stand up for Bob" in html) is shown


@pytest.mark.parametrize("headers, stops", [
    ({"Sec-Fetch-Site": "same-origin"}, True),              # this desk's own sign-in page
    ({"Origin": "http://localhost"}, True),                 # a browser without Sec-Fetch-Site names the page
    ({}, False),                                            # curl, a script: sign in first (issue 5's contract)
    ({"Sec-Fetch-Site": "cross-site"}, False),              # another site's page
    ({"Sec-Fetch-Site": "same-site"}, False),
    ({"Origin": "http://evil.example"}, False),
])
def test_a_signed_out_phone_on_this_desks_page_can_stop_it(app, service, headers, stops):
    resp = app.test_client().post(f"{API}/stop", headers=headers)
    assert (resp.status_code == 200) is stops, resp.get_json()
    assert service.calls == ([("stop", Source.REMOTE)] if stops else [])
    if stops:
        assert service.by == Caller("web", user=None, remote="127.0.0.1", via=None)


def test_only_stop_is_open_to_a_signed_out_page(app, service):
    client = app.test_client()
    for path, body in (("/move", {"target_mm": 900}), ("/hold", {"direction": "up"}), ("/presets/1/recall", None)):
        assert client.post(f"{API}{path}", json=body, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 401
    assert service.calls == []


def test_the_state_says_who_moves_the_desk_but_names_only_to_the_signed_in(app, sign_in):
    anonymous = app.test_client().get(f"{API}/state").get_json()
    assert anonymous["moved_by"] == {"kind": "phone", "user": None} and anonymous["speed_mm_s"] == 31.5
    assert anonymous["owner"] == "remote"                                    # the old key stays
    assert sign_in().get(f"{API}/state").get_json()["moved_by"] == {"kind": "phone", "user": "ada"}
