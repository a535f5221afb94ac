"""The desk's claim (issue 5): who may move the desk from a phone.

First the pure bookkeeping (deskpi.webapp.claims.ClaimBook) on a ManualClock, no
threads: a request opens a 30 s window, a preset-button press inside it grants
the claim (and is consumed), the claim lapses after the idle time, a newer
request replaces an older one, someone else's request plus a press takes over.

Then the same through the app around the real simulated daemon: a press on the
simulated keypad grants a pending claim, makes the claimant the active user and
does NOT recall the preset; without a pending claim the press recalls it as
before. Finally the admin's desk policy (require_claim, claim_idle_min): moving
without a claim when it is off, and the choice surviving an app restart.
"""
from __future__ import annotations

import pytest
from helpers import ManualClock, running_sim_daemon, signed_in, wait_until
from web_fakes import LIMITS, FakeService, app_for, with_store

from deskpi.core.types import Source
from deskpi.people.accounts import add_user
from deskpi.people.passwords import hash_secret
from deskpi.store import Store
from deskpi.webapp.app import create_app
from deskpi.webapp.claims import WINDOW_S, ClaimBook
from deskpi.webapp.context import WebDefaults

IDLE_S = 600.0


class Grants(list):
    """on_grant recorder."""

    def __call__(self, name: str) -> None:
        self.append(name)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def grants():
    return Grants()


@pytest.fixture
def book(clock, grants):
    return ClaimBook(idle_s=IDLE_S, clock=clock, on_grant=grants)


# -- pure bookkeeping ---------------------------------------------------------------------------
def test_nobody_holds_a_new_desk_and_a_press_does_its_normal_job(book, grants):
    assert book.view().state == "none" and book.holder() is None
    assert book.button_pressed() is None          # nobody waiting: the press is not consumed
    assert grants == [] and book.holder() is None


def test_a_request_waits_30_s_for_a_press_which_grants_and_is_consumed(book, clock, grants):
    assert WINDOW_S == 30.0
    view = book.request("Ada")
    assert (view.state, view.user, view.window_left_s) == ("pending", "Ada", 30.0)
    assert (view.holder, view.pending, view.idle_left_s) == (None, "Ada", None)
    assert not book.holds("Ada") and grants == []
    clock.advance(29.9)
    assert book.view().window_left_s == pytest.approx(0.1)
    assert book.button_pressed() == "Ada"          # consumed: the caller swallows this press
    assert grants == ["Ada"]
    assert book.holds("Ada") and book.holds("ADA")
    view = book.view()
    assert (view.state, view.user, view.idle_left_s) == ("claimed", "Ada", IDLE_S)
    assert (view.pending, view.window_left_s) == (None, None)
    assert book.button_pressed() is None          # the next press is a normal press again
    assert grants == ["Ada"]


def test_a_press_after_the_window_grants_nothing(book, clock, grants):
    book.request("Ada")
    clock.advance(WINDOW_S)
    assert book.view().state == "none"
    assert book.button_pressed() is None
    assert grants == [] and book.holder() is None


def test_a_newer_request_replaces_an_older_one(book, clock, grants):
    book.request("Ada")
    clock.advance(20)
    view = book.request("Bob")
    assert (view.state, view.user, view.pending, view.window_left_s) == ("pending", "Bob", "Bob", 30.0)
    clock.advance(15)                             # Ada's window would be over, Bob's is not
    assert book.button_pressed() == "Bob"
    assert grants == ["Bob"] and book.holds("Bob") and not book.holds("Ada")


def test_asking_again_restarts_the_window(book, clock):
    book.request("Ada")
    clock.advance(25)
    book.request("Ada")
    clock.advance(25)
    assert book.button_pressed() == "Ada"


def test_the_claim_lapses_after_the_idle_time(book, clock):
    book.request("Ada")
    book.button_pressed()
    clock.advance(IDLE_S - 0.1)
    assert book.holds("Ada")
    clock.advance(0.1)
    assert not book.holds("Ada") and book.view().state == "none"


def test_touch_by_the_holder_or_anyone_at_the_desk_extends_the_claim(book, clock):
    book.request("Ada")
    book.button_pressed()
    clock.advance(IDLE_S - 1)
    book.touch("ada")                             # the holder used it (names are case-insensitive)
    clock.advance(IDLE_S - 1)
    assert book.holds("Ada")
    book.touch("Bob")                             # not the holder: no effect
    clock.advance(1)
    assert not book.holds("Ada")
    book.request("Ada")
    book.button_pressed()
    clock.advance(IDLE_S - 1)
    book.touch()                                  # a button at the desk (no name)
    clock.advance(IDLE_S - 1)
    assert book.holds("Ada")
    assert book.button_pressed() is None          # a plain press at the desk also counts as use
    clock.advance(IDLE_S - 1)
    assert book.holds("Ada")


def test_release_by_the_holder_or_by_force(book):
    book.request("Ada")
    book.button_pressed()
    assert book.release("Bob") is False and book.holds("Ada")
    assert book.release("ADA") is True and book.holder() is None
    assert book.release("Ada") is False
    book.request("Ada")
    book.button_pressed()
    assert book.release("Bob", force=True) is True and book.holder() is None


def test_release_cancels_a_pending_request(book, grants):
    book.request("Ada")
    assert book.release("Bob") is False and book.view().state == "pending"
    assert book.release("Ada") is True and book.view().state == "none"
    assert book.button_pressed() is None and grants == []


def test_someone_elses_request_and_press_take_over(book, grants):
    book.request("Ada")
    book.button_pressed()
    book.request("Bob")
    assert book.holds("Ada"), "a mere request does not take the desk away"
    view = book.view()
    assert (view.state, view.user, view.holder, view.pending) == ("claimed", "Ada", "Ada", "Bob")
    assert view.for_user("Ada", required=True)["state"] == "claimed"
    assert view.for_user("Bob", required=True)["state"] == "pending"
    assert book.button_pressed() == "Bob"
    assert book.holds("Bob") and not book.holds("Ada")
    assert grants == ["Ada", "Bob"]


def test_forget_drops_whatever_a_removed_user_had(book):
    book.request("Ada")
    book.button_pressed()
    book.forget("Ada")
    assert book.holder() is None
    book.request("Bob")
    book.forget("Bob")
    assert book.view().state == "none"


def test_the_view_for_a_user(book):
    book.request("Ada")
    book.button_pressed()
    mine = book.view().for_user("ada", required=True)
    assert mine == {"state": "claimed", "user": "Ada", "mine": True, "expires_in_s": IDLE_S, "required": True}
    assert book.view().for_user("Bob", required=False)["mine"] is False
    assert book.view().for_user(None, required=True)["mine"] is False
    book.request("Bob")                           # while Bob asks, each sees their own first
    view = book.view()
    assert view.for_user("ADA", required=True) == mine
    assert view.for_user("bob", required=True) == {"state": "pending", "user": "Bob", "mine": True,
                                                   "expires_in_s": WINDOW_S, "required": True}
    for other in ("Cy", None):                    # everyone else sees the holder's claim
        assert view.for_user(other, required=False) == {**mine, "mine": False, "required": False}
    book.release("Ada")                           # nobody holds it: others see the request
    assert book.view().for_user("Cy", required=True) == {"state": "pending", "user": "Bob", "mine": False,
                                                         "expires_in_s": WINDOW_S, "required": True}


@pytest.mark.parametrize("kwargs", [dict(idle_s=0), dict(idle_s=-1), dict(idle_s=60, window_s=0)])
def test_nonsense_times_are_refused(kwargs):
    with pytest.raises(ValueError):
        ClaimBook(**kwargs)


# -- through the app around the simulated daemon -----------------------------------------------------
def press(client, key: str) -> None:
    for pressed in (True, False):
        resp = client.post(f"/api/v1/sim/keys/{key}", json={"pressed": pressed})
        assert resp.status_code == 200, resp.get_json()


def test_a_desk_button_grants_a_pending_claim_and_does_nothing_else(tmp_path):
    with running_sim_daemon(tmp_path / "data", seed=3) as d:
        store, service = d.parts.store, d.parts.service
        add_user(store, "Owner", limits=tuple(service.limits))     # the first user: owner and active
        app = create_app(service)
        app.testing = True
        bob = signed_in(app, name="Bob", admin=False, claim=False)
        store.set_preset("Bob", 2, 1000.0)
        assert store.get_active_user().name == "Owner"

        resp = bob.post("/api/v1/move", json={"target_mm": 1000})
        assert resp.status_code == 409 and "claim the desk first" in resp.get_json()["error"]
        resp = bob.post("/api/v1/claim")
        assert resp.status_code == 202
        assert resp.get_json()["state"] == "pending" and resp.get_json()["mine"] is True

        press(bob, "preset-2")
        assert d.parts.buttons.flush()
        claim = bob.get("/api/v1/claim").get_json()
        assert claim["state"] == "claimed" and claim["user"] == "Bob" and claim["mine"] is True
        assert store.get_active_user().name == "Bob"
        # The press was proof of presence only: no recall of preset 2.
        assert d.parts.buttons.flush()
        snap = service.snapshot()
        assert snap["target_mm"] is None and snap["state"] != "moving", snap
        assert d.parts.drive.direction is None
        assert [e for e in store.list_audit() if e.action == "recall"] == []

        # Holding the claim, Bob may move from the phone.
        resp = bob.post("/api/v1/stop")
        assert resp.status_code == 200

        # No claim pending now: the same press recalls Bob's preset 2 as before.
        press(bob, "preset-2")
        assert d.parts.buttons.flush()
        wait_until(lambda: service.snapshot()["state"] == "moving" and d.parts.drive.direction is not None,
                   what="the preset recall to start")
        def recalls():
            return [e for e in store.list_audit() if e.action == "recall"]
        wait_until(lambda: recalls(), what="the recall in the audit log")
        assert len(recalls()) == 1, "only this press recalled; the claiming press did not"
        assert bob.get("/api/v1/claim").get_json()["user"] == "Bob", "a normal press keeps the claim"

        # While the desk moves, a preset press is a stop, never a claim: safety first.
        cy = signed_in(app, name="Cy", admin=False, claim=False)
        assert cy.post("/api/v1/claim").status_code == 202
        press(cy, "preset-1")
        assert d.parts.buttons.flush()
        wait_until(lambda: d.parts.drive.direction is None and service.snapshot()["state"] != "moving",
                   what="the press to stop the desk")
        claim = bob.get("/api/v1/claim").get_json()
        assert claim["state"] == "claimed" and claim["user"] == "Bob" and claim["mine"] is True, \
            "the holder sees the desk as theirs while Cy's request waits"
        claim = cy.get("/api/v1/claim").get_json()
        assert claim["state"] == "pending" and claim["user"] == "Cy" and claim["mine"] is True, \
            "Cy's request still waits"
        assert app.extensions["deskpi.web"].claims.view().pending == "Cy"
        assert app.extensions["deskpi.web"].claims.holds("Bob")
        assert store.get_active_user().name == "Bob"
        assert bob.post("/api/v1/move", json={"target_mm": 900}).status_code == 202, "Bob still holds it"
        service.stop(Source.REMOTE)


# -- the admin's desk policy ---------------------------------------------------------------------------
PIN = "4711"


@pytest.fixture
def db(tmp_path):
    """A store with an admin owner and a user, both with a PIN."""
    path = tmp_path / "deskpi.db"
    with Store.open(path) as st:
        add_user(st, "Ada", limits=LIMITS, admin=True, pin_hash=hash_secret(PIN))
        add_user(st, "Bob", limits=LIMITS, pin_hash=hash_secret(PIN))
    return path


def app_on(path, **kw):
    service = with_store(FakeService(), path)
    return app_for(service, **kw), service


def test_without_require_claim_a_signed_in_user_may_move(db):
    app, service = app_on(db)
    try:
        ada = signed_in(app, name="Ada", claim=False)
        bob = signed_in(app, name="Bob", claim=False)
        assert bob.post("/api/v1/move", json={"target_mm": 900}).status_code == 409
        assert service.calls == []
        resp = ada.patch("/api/v1/admin/settings", json={"require_claim": False})
        assert resp.status_code == 200 and resp.get_json()["require_claim"] is False
        assert bob.post("/api/v1/move", json={"target_mm": 900}).status_code == 202
        assert service.names() == ["move_to"]
        assert bob.get("/api/v1/claim").get_json()["required"] is False
    finally:
        service.store.close()


def test_require_claim_false_from_the_config(db):
    app, service = app_on(db, defaults=WebDefaults(require_claim=False))
    try:
        bob = signed_in(app, name="Bob", claim=False)
        assert bob.post("/api/v1/move", json={"target_mm": 900}).status_code == 202
        assert service.names() == ["move_to"]
    finally:
        service.store.close()


def test_the_admin_policy_survives_a_restart(db):
    app, service = app_on(db)
    try:
        ada = signed_in(app, name="Ada", claim=False)
        resp = ada.patch("/api/v1/admin/settings",
                         json={"require_claim": False, "claim_idle_min": 5, "self_register": True})
        assert resp.status_code == 200
        assert app.extensions["deskpi.web"].claims.idle_s == 300.0
    finally:
        service.store.close()
    app, service = app_on(db)                     # a new process: defaults say require_claim=True
    try:
        ada = signed_in(app, name="Ada", claim=False)
        policy = ada.get("/api/v1/admin/settings").get_json()
        assert (policy["require_claim"], policy["claim_idle_min"], policy["self_register"]) == (False, 5.0, True)
        assert app.extensions["deskpi.web"].claims.idle_s == 300.0
        bob = signed_in(app, name="Bob", claim=False)
        assert bob.post("/api/v1/move", json={"target_mm": 900}).status_code == 202
    finally:
        service.store.close()


def test_the_idle_time_is_checked(db):
    app, service = app_on(db)
    try:
        ada = signed_in(app, name="Ada", claim=False)
        for bad in (0.5, 1441, -3):
            resp = ada.patch("/api/v1/admin/settings", json={"claim_idle_min": bad})
            assert resp.status_code == 422 and "claim_idle_min" in resp.get_json()["error"], resp.get_json()
        assert ada.get("/api/v1/admin/settings").get_json()["claim_idle_min"] == 30.0
    finally:
        service.store.close()


def test_a_holder_asking_again_is_told_it_is_theirs(db):
    app, service = app_on(db)
    try:
        bob = signed_in(app, name="Bob", claim=True)
        resp = bob.post("/api/v1/claim")
        assert resp.status_code == 200
        assert resp.get_json()["state"] == "claimed" and resp.get_json()["mine"] is True
    finally:
        service.store.close()


def test_the_holder_still_sees_the_desk_as_theirs_while_someone_else_asks(db):
    app, service = app_on(db)
    try:
        bob = signed_in(app, name="Bob", claim=True)
        ada = signed_in(app, name="Ada", claim=False)
        assert ada.post("/api/v1/claim").status_code == 202
        assert bob.post("/api/v1/move", json={"target_mm": 900}).status_code == 202   # the server agrees: Bob's
        view = bob.get("/api/v1/claim").get_json()
        assert view["state"] == "claimed" and view["user"] == "Bob" and view["mine"] is True, view
        view = ada.get("/api/v1/claim").get_json()
        assert view["state"] == "pending" and view["user"] == "Ada" and view["mine"] is True, view
        assert ada.post("/api/v1/move", json={"target_mm": 900}).status_code == 409, "asking is not holding"
    finally:
        service.store.close()
