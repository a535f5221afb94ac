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

import secrets

import pytest
from helpers import ManualClock, running_sim_daemon, signed_in, wait_until
from web_fakes import LIMITS, FakeService, app_for, with_store

from deskpi.core.types import Source
from deskpi.people.accounts import add_user
from deskpi.people.passwords import hash_secret
from deskpi.store import Store
from deskpi.webapp.app import create_app
from deskpi.webapp.claims import REFUSED_S, SLOTS, WAIT_S, WINDOW_S, ClaimBook, ClaimError
from deskpi.webapp.context import WebDefaults

IDLE_S = 600.0
CLOCK0 = ManualClock().t
WALL0 = 1_700_000_000.0


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
    return ClaimBook(idle_s=IDLE_S, clock=clock, wall=lambda: clock() - CLOCK0 + WALL0, on_grant=grants)


# -- pure bookkeeping ---------------------------------------------------------------------------
def other(slot: int) -> int:
    """A preset that is not `slot`."""
    return 1 if slot != 1 else 2


def grant(book, name: str) -> None:
    book.request(name)
    assert book.button_pressed(book.slot_for(name)) == name


def test_nobody_holds_a_new_desk_and_a_press_does_its_normal_job(book, grants):
    assert book.view().state == "none" and book.holder() is None
    for slot in SLOTS:
        assert book.button_pressed(slot) is None      # nobody waiting: the press is not consumed
    assert grants == [] and book.holder() is None and not book.has_pending()


def test_a_request_draws_a_preset_and_only_that_press_grants_it_within_30_s(book, clock, grants):
    assert WINDOW_S == 30.0
    view = book.request("Ada")
    slot = book.slot_for("ada")
    assert slot in SLOTS and view.request_of("ADA").slot == slot
    assert (view.state, view.user, view.window_left_s) == ("pending", "Ada", 30.0)
    assert (view.holder, view.pending, view.idle_left_s) == (None, "Ada", None)
    assert book.has_pending() and not book.holds("Ada") and grants == []
    for wrong in SLOTS:
        if wrong != slot:
            assert book.button_pressed(wrong) is None, "another preset is an ordinary press"
    assert book.view().state == "pending" and grants == []
    clock.advance(29.9)
    assert book.view().window_left_s == pytest.approx(0.1)
    assert book.button_pressed(slot) == "Ada"           # consumed: the caller swallows this press
    assert grants == ["Ada"] and not book.has_pending()
    assert book.holds("Ada") and book.holds("ADA")
    view = book.view()
    assert (view.state, view.user, view.idle_left_s) == ("claimed", "Ada", IDLE_S)
    assert (view.pending, view.window_left_s) == (None, None)
    assert book.button_pressed(slot) is None            # the next press is a normal press again
    assert grants == ["Ada"]


def test_the_preset_is_drawn_with_secrets_among_the_free_wired_ones(clock):
    offered = []

    def choose(free):
        offered.append(list(free))
        return free[-1]

    book = ClaimBook(idle_s=IDLE_S, clock=clock, choose=choose, slots=(1, 2, 4))
    book.request("Ada")
    book.request("Bob")
    book.request("Ada")                                  # asking again keeps Ada's preset
    assert offered == [[1, 2, 4], [1, 2]]
    assert (book.slot_for("Ada"), book.slot_for("Bob"), book.slot_for("Cy")) == (4, 2, None)
    assert ClaimBook(idle_s=IDLE_S).choose is secrets.choice
    drawn = set()
    for _ in range(200):                                  # the real draw covers every preset
        b = ClaimBook(idle_s=IDLE_S)
        b.request("Ada")
        drawn.add(b.slot_for("Ada"))
    assert drawn == set(SLOTS)


def test_a_press_after_the_window_grants_nothing(book, clock, grants):
    book.request("Ada")
    slot = book.slot_for("Ada")
    clock.advance(WINDOW_S)
    assert book.view().state == "none" and not book.has_pending() and book.slot_for("Ada") is None
    assert book.button_pressed(slot) is None
    assert grants == [] and book.holder() is None


def test_requests_of_several_people_wait_side_by_side_each_on_its_own_preset(book, clock, grants):
    book.request("Ada")
    clock.advance(20)
    book.request("Bob")
    a, b = book.slot_for("Ada"), book.slot_for("Bob")
    assert a != b
    view = book.view()
    assert [r.name for r in view.requests] == ["Ada", "Bob"] and view.pending == "Ada"
    assert view.for_user("Cy", required=True)["user"] == "Ada"     # others see the oldest
    clock.advance(15)                                     # Ada's window is over, Bob's is not
    assert book.slot_for("Ada") is None
    assert book.button_pressed(a) is None
    assert book.button_pressed(b) == "Bob"
    assert grants == ["Bob"] and book.holds("Bob")


def test_when_every_preset_is_taken_a_further_request_is_refused_with_when_to_retry(book, clock):
    for name in ("A", "B", "C", "D"):
        book.request(name)
        clock.advance(1)
    assert sorted(book.slot_for(n) for n in "ABCD") == list(SLOTS)
    with pytest.raises(ClaimError) as err:
        book.request("E")
    assert err.value.kind == "busy" and "4 requests are already waiting" in str(err.value)
    assert err.value.retry_after_s == pytest.approx(WINDOW_S - 4)
    book.release("B")                                     # B gives up: E gets B's preset
    freed = book.view()
    book.request("E")
    assert book.slot_for("E") not in {r.slot for r in freed.requests}


def test_a_desk_without_preset_buttons_cannot_be_claimed(clock):
    book = ClaimBook(idle_s=IDLE_S, clock=clock, slots=())
    with pytest.raises(ClaimError) as err:
        book.request("Ada")
    assert err.value.kind == "no_buttons" and "preset_pins" in str(err.value)


def test_asking_again_restarts_the_window_and_keeps_the_preset(book, clock):
    book.request("Ada")
    slot = book.slot_for("Ada")
    clock.advance(25)
    book.request("Ada")
    clock.advance(25)
    assert book.slot_for("Ada") == slot
    assert book.button_pressed(slot) == "Ada"


def test_the_claim_lapses_after_the_idle_time(book, clock):
    grant(book, "Ada")
    clock.advance(IDLE_S - 0.1)
    assert book.holds("Ada")
    clock.advance(0.1)
    assert not book.holds("Ada") and book.view().state == "none"


def test_touch_by_the_holder_or_anyone_at_the_desk_extends_the_claim(book, clock):
    grant(book, "Ada")
    clock.advance(IDLE_S - 1)
    book.touch("ada")                             # the holder used it (names are case-insensitive)
    clock.advance(IDLE_S - 1)
    assert book.holds("Ada")
    book.touch("Bob")                             # not the holder: no effect
    clock.advance(1)
    assert not book.holds("Ada")
    grant(book, "Ada")
    clock.advance(IDLE_S - 1)
    book.touch()                                  # a button at the desk (no name)
    clock.advance(IDLE_S - 1)
    assert book.holds("Ada")
    assert book.button_pressed(1) is None         # a plain press at the desk also counts as use
    clock.advance(IDLE_S - 1)
    assert book.holds("Ada")


def test_release_by_the_holder_or_by_force(book):
    grant(book, "Ada")
    assert book.release("Bob") is False and book.holds("Ada")
    assert book.release("ADA") is True and book.holder() is None
    assert book.release("Ada") is False
    grant(book, "Ada")
    book.request("Bob")
    assert book.release("Bob", force=True) is True and book.holder() is None
    assert not book.has_pending(), "an admin's forced release ends every request too"


def test_release_cancels_a_pending_request(book, grants):
    book.request("Ada")
    slot = book.slot_for("Ada")
    assert book.release("Bob") is False and book.view().state == "pending"
    assert book.release("Ada") is True and book.view().state == "none"
    assert book.button_pressed(slot) is None and grants == []


def test_while_someone_holds_the_claim_no_press_grants_another_request(book, clock, grants):
    """Issue 11, defect 2: the holder's ordinary press used to hand the desk to a far-away colleague."""
    grant(book, "Ada")
    view = book.request("Bob")
    assert view.request_of("Bob").waiting and view.request_of("Bob").left_s == WAIT_S
    assert book.holds("Ada"), "a mere request does not take the desk away"
    assert book.has_pending()
    for slot in SLOTS:                            # Ada presses everything, Bob's preset included
        assert book.button_pressed(slot) is None
        clock.advance(1)
    assert book.holds("Ada") and grants == ["Ada"]
    view = book.view()
    assert (view.state, view.user, view.holder, view.pending) == ("claimed", "Ada", "Ada", "Bob")
    assert view.for_user("Ada", required=True)["state"] == "claimed"
    bob = view.for_user("Bob", required=True)
    assert (bob["state"], bob["waiting_for"], bob["press_preset"]) == ("pending", "Ada", book.slot_for("Bob"))
    clock.advance(WAIT_S)                         # nobody consented: the request ends by itself
    assert not book.has_pending() and book.holds("Ada")


def test_the_holder_consents_by_releasing_and_the_request_gets_a_fresh_window(book, clock, grants):
    grant(book, "Ada")
    book.request("Bob")
    slot = book.slot_for("Bob")
    clock.advance(WAIT_S - 5)
    assert book.release("Ada") is True
    view = book.view()
    assert view.state == "pending" and view.window_left_s == WINDOW_S and not view.requests[0].waiting
    assert view.for_user("Bob", required=True)["waiting_for"] is None
    assert book.button_pressed(other(slot)) is None, "still only Bob's preset grants it"
    clock.advance(WINDOW_S - 1)
    assert book.button_pressed(slot) == "Bob"
    assert grants == ["Ada", "Bob"] and book.holds("Bob")


def test_the_holders_absence_frees_the_desk_for_a_waiting_request(clock, grants):
    book = ClaimBook(idle_s=100.0, clock=clock, on_grant=grants)
    grant(book, "Ada")
    clock.advance(90)
    book.request("Bob")
    slot = book.slot_for("Bob")
    clock.advance(10)                             # Ada's claim ends (idle) at t=100
    view = book.view()
    assert view.holder is None and view.window_left_s == WINDOW_S
    clock.advance(WINDOW_S - 1)
    assert book.button_pressed(slot) == "Bob"


def test_a_request_that_ran_out_before_the_holder_left_stays_gone(clock):
    book = ClaimBook(idle_s=1000.0, clock=clock)
    grant(book, "Ada")
    book.request("Bob")
    clock.advance(5000)                           # nobody looked in between
    assert book.view().state == "none" and not book.has_pending()


def test_the_holder_refuses_a_request_and_that_person_must_wait(book, clock, grants):
    grant(book, "Ada")
    clock.advance(3)
    book.request("Bob")
    book.request("Cy")
    clock.advance(2)
    ada = book.view().for_user("Ada", required=True)
    assert [(r["user"], r["age_s"], r["expires_in_s"]) for r in ada["requests"]] == \
        [("Bob", 2.0, WAIT_S - 2), ("Cy", 2.0, WAIT_S - 2)]
    assert ada["requests"][0]["since"] == pytest.approx(WALL0 + 3)
    assert book.view().for_user("Bob", required=True)["requests"] == [], "only the holder sees the list"
    with pytest.raises(ClaimError) as err:
        book.refuse("Cy", "Bob")
    assert err.value.kind == "not_holder" and "Ada holds it" in str(err.value)
    assert book.refuse("Ada", "Zed") is False
    assert book.refuse("ada", "BOB") is True
    assert [r.name for r in book.view().requests] == ["Cy"]
    bob = book.view().for_user("Bob", required=True)
    assert (bob["state"], bob["user"], bob["mine"], bob["refused_by"]) == ("claimed", "Ada", False, "Ada")
    with pytest.raises(ClaimError) as err:
        book.request("Bob")
    assert err.value.kind == "refused" and "Ada refused your request" in str(err.value)
    assert err.value.retry_after_s == pytest.approx(REFUSED_S)
    clock.advance(REFUSED_S)
    book.request("Bob")                           # the refusal has run out
    book.release("Ada")
    assert book.holder() is None and grants == ["Ada"]


def test_a_refusal_ends_when_the_holder_gives_the_desk_back(book):
    grant(book, "Ada")
    book.request("Bob")
    book.refuse("Ada", "Bob")
    book.release("Ada")
    book.request("Bob")
    assert book.button_pressed(book.slot_for("Bob")) == "Bob"


def test_an_admin_may_refuse_when_nobody_holds_the_desk(book):
    book.request("Bob")
    with pytest.raises(ClaimError):
        book.refuse("Ada", "Bob")
    assert book.refuse("Ada", "Bob", force=True) is True and not book.has_pending()


def test_forget_drops_whatever_a_removed_user_had(book):
    grant(book, "Ada")
    book.forget("Ada")
    assert book.holder() is None
    book.request("Bob")
    book.forget("Bob")
    assert book.view().state == "none"


def test_the_view_for_a_user(book, clock):
    grant(book, "Ada")
    base = {"press_preset": None, "waiting_for": None, "requests": [], "refused_by": None}
    mine = {"state": "claimed", "user": "Ada", "mine": True, "expires_in_s": IDLE_S, "required": True, **base}
    assert book.view().for_user("ada", required=True) == mine
    assert book.view().for_user("Bob", required=False)["mine"] is False
    assert book.view().for_user(None, required=True)["mine"] is False
    book.request("Bob")                           # while Bob asks, each sees their own first
    slot = book.slot_for("Bob")
    view = book.view()
    assert view.for_user("ADA", required=True) == {
        **mine, "requests": [{"user": "Bob", "since": WALL0, "age_s": 0.0, "expires_in_s": WAIT_S}]}
    assert view.for_user("bob", required=True) == {"state": "pending", "user": "Bob", "mine": True,
                                                   "expires_in_s": WAIT_S, "required": True, **base,
                                                   "press_preset": slot, "waiting_for": "Ada"}
    for someone in ("Cy", None):                  # everyone else sees the holder's claim
        assert view.for_user(someone, required=False) == {**mine, "mine": False, "required": False}
    book.release("Ada")                           # nobody holds it: others see the request
    assert book.view().for_user("Cy", required=True) == {"state": "pending", "user": "Bob", "mine": False,
                                                         "expires_in_s": WINDOW_S, "required": True, **base}


@pytest.mark.parametrize("kwargs", [dict(idle_s=0), dict(idle_s=-1), dict(idle_s=60, window_s=0),
                                    dict(idle_s=60, wait_s=0), dict(idle_s=60, refused_s=-1),
                                    dict(idle_s=60, slots=(0, 1)), dict(idle_s=60, slots=(5,))])
def test_nonsense_settings_are_refused(kwargs):
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
        for slot in SLOTS:
            store.set_preset("Bob", slot, 1000.0)
        assert store.get_active_user().name == "Owner"

        resp = bob.post("/api/v1/move", json={"target_mm": 1000})
        assert resp.status_code == 409 and "tap Claim this desk" in resp.get_json()["error"]
        resp = bob.post("/api/v1/claim")
        assert resp.status_code == 202
        body = resp.get_json()
        assert body["state"] == "pending" and body["mine"] is True and body["press_preset"] in SLOTS
        slot = body["press_preset"]

        press(bob, f"preset-{slot}")
        assert d.parts.buttons.flush()
        claim = bob.get("/api/v1/claim").get_json()
        assert claim["state"] == "claimed" and claim["user"] == "Bob" and claim["mine"] is True
        assert claim["press_preset"] is None
        assert store.get_active_user().name == "Bob"
        # The press was proof of presence only: no recall of that preset.
        assert d.parts.buttons.flush()
        snap = service.snapshot()
        assert snap["target_mm"] is None and snap["state"] != "moving", snap
        assert d.parts.drive.direction is None
        assert [e for e in store.list_audit() if e.action == "recall"] == []

        # Holding the claim, Bob may move from the phone.
        resp = bob.post("/api/v1/stop")
        assert resp.status_code == 200

        # No claim pending now: the same press recalls Bob's preset as before.
        press(bob, f"preset-{slot}")
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
        press(cy, f"preset-{cy.get('/api/v1/claim').get_json()['press_preset']}")
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


def test_a_colleague_far_away_cannot_take_the_desk_from_the_person_at_it(tmp_path):
    """Issue 11, defect 2, through the web API and the desk's buttons: while Ada holds the claim,
    Bob's request from elsewhere used to be granted by Ada's next ordinary preset press (swallowed),
    after which Bob could move the desk and Ada got 409."""
    with running_sim_daemon(tmp_path / "data", seed=5) as d:
        store, service, buttons, led = d.parts.store, d.parts.service, d.parts.buttons, d.parts.indicators
        app = create_app(service)
        app.testing = True
        ada = signed_in(app, name="Ada", admin=True, claim=False)      # the first user: owner and admin
        bob = signed_in(app, name="Bob", admin=False, claim=False)
        for slot in SLOTS:
            store.set_preset("Ada", slot, 1000.0)

        def recalls():
            return [e for e in store.list_audit() if e.action == "recall"]

        def settle():
            assert buttons.flush()
            service.stop(Source.REMOTE)
            wait_until(lambda: service.snapshot()["state"] != "moving" and d.parts.drive.direction is None,
                       what="the desk to stop")

        # Ada claims the desk at it: the preset her phone names.
        body = ada.post("/api/v1/claim").get_json()
        press(ada, f"preset-{body.get('press_preset', 1)}")
        assert buttons.flush() and ada.get("/api/v1/claim").get_json()["mine"] is True

        # Bob asks from far away. His request waits for Ada.
        resp = bob.post("/api/v1/claim")
        assert resp.status_code == 202
        bobs = resp.get_json().get("press_preset") or 2

        # Ada's ordinary press (Bob's very preset, the worst case) is hers: it recalls, never grants.
        press(ada, f"preset-{bobs}")
        assert buttons.flush()
        claims = app.extensions["deskpi.web"].claims
        assert claims.holds("Ada") and not claims.holds("Bob"), "the holder's press gave the desk away"
        wait_until(lambda: recalls(), what="Ada's press to recall her preset")
        settle()
        assert store.get_active_user().name == "Ada"
        assert bob.post("/api/v1/move", json={"target_mm": 900}).status_code == 409
        assert ada.post("/api/v1/move", json={"target_mm": 900}).status_code == 202
        settle()
        # The desk's LED says someone asks for it.
        wait_until(lambda: led.state == "claim_pending", what="the LED to show the pending request")

        # Ada sees who asks and since when, and refuses; the LED stops blinking.
        claim = ada.get("/api/v1/claim").get_json()
        assert [r["user"] for r in claim["requests"]] == ["Bob"] and claim["requests"][0]["since"] > 1e9
        bob_view = bob.get("/api/v1/claim").get_json()
        assert (bob_view["state"], bob_view["waiting_for"], bob_view["press_preset"]) == ("pending", "Ada", bobs)
        resp = bob.post("/api/v1/claim/refuse", json={"name": "Ada"})
        assert resp.status_code == 403 and "only the person holding the desk" in resp.get_json()["error"]
        resp = ada.post("/api/v1/claim/refuse", json={"name": "Bob"})
        assert resp.status_code == 200 and resp.get_json()["refused"] == "Bob" and resp.get_json()["requests"] == []
        assert ada.post("/api/v1/claim/refuse", json={"name": "Bob"}).status_code == 404
        wait_until(lambda: led.state == "idle", what="the LED to stop showing the request")
        assert bob.get("/api/v1/claim").get_json()["refused_by"] == "Ada"
        resp = bob.post("/api/v1/claim")
        assert resp.status_code == 429 and "Ada refused your request" in resp.get_json()["error"]
        assert int(resp.headers["Retry-After"]) > 0

        # Ada leaves. Cy asks for the free desk: a wrong preset does its job and grants nothing,
        # the preset Cy's phone names grants it and does nothing else.
        assert ada.delete("/api/v1/claim").get_json()["released"] is True
        cy = signed_in(app, name="Cy", admin=False, claim=False)
        cys = cy.post("/api/v1/claim").get_json()["press_preset"]
        wait_until(lambda: led.state == "claim_pending", what="the LED to show Cy's request")
        before = len(recalls())
        press(cy, f"preset-{other(cys)}")
        wait_until(lambda: len(recalls()) > before, what="the wrong preset to recall as usual")
        settle()
        assert claims.holder() is None and cy.get("/api/v1/claim").get_json()["state"] == "pending"
        press(cy, f"preset-{cys}")
        assert buttons.flush()
        assert claims.holds("Cy") and store.get_active_user().name == "Cy"
        assert service.snapshot()["target_mm"] is None and d.parts.drive.direction is None, "the proof moved the desk"
        wait_until(lambda: led.state == "idle", what="the LED to stop once granted")
        assert cy.post("/api/v1/move", json={"target_mm": 900}).status_code == 202
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


def test_claim_requests_and_refusals_through_the_api(db):
    app, service = app_on(db)
    try:
        ctx = app.extensions["deskpi.web"]
        bob = signed_in(app, name="Bob", claim=True)
        ada = signed_in(app, name="Ada", claim=False)          # an admin, not holding the desk
        assert ctx.claims.holds("Bob")
        resp = ada.post("/api/v1/claim")
        body = resp.get_json()
        assert resp.status_code == 202 and body["press_preset"] in SLOTS and body["waiting_for"] == "Bob"
        for bad, said in (({}, "name"), ({"name": ""}, "name"), ({"name": 7}, "name"), ({"name": "Ada", "x": 1}, "x")):
            resp = bob.post("/api/v1/claim/refuse", json=bad)
            assert resp.status_code in (400, 422) and said in resp.get_json()["error"], (bad, resp.get_json())
        assert ctx.claims.slot_for("Ada") is not None, "bad input refused nothing"
        resp = bob.post("/api/v1/claim/refuse", json={"name": "Zed"})
        assert resp.status_code == 404 and '"Zed" has no request' in resp.get_json()["error"]
        assert "waiting: Ada" in resp.get_json()["error"]
        assert bob.get("/api/v1/claim").get_json()["requests"][0]["user"] == "Ada"
        assert ada.get("/api/v1/claim").get_json()["requests"] == []
        resp = bob.post("/api/v1/claim/refuse", json={"name": "ada"})
        assert resp.status_code == 200 and resp.get_json()["requests"] == []
        assert ada.post("/api/v1/claim").status_code == 429
        assert app.test_client().post("/api/v1/claim/refuse", json={"name": "Ada"}).status_code == 401
        # Four people wait, one per preset button: a fifth is told when to try again.
        ctx.claims.release("Bob")
        for name in ("C1", "C2", "C3", "C4"):
            assert signed_in(app, name=name, admin=False, claim=False).post("/api/v1/claim").status_code == 202
        resp = signed_in(app, name="C5", admin=False, claim=False).post("/api/v1/claim")
        assert resp.status_code == 409 and "one for each preset button" in resp.get_json()["error"]
        assert resp.get_json()["retry_after_s"] >= 1
        assert service.calls == [], "asking and refusing never move the desk"
        doc = app.test_client().get("/openapi.json").get_json()
        op = doc["paths"]["/api/v1/claim/refuse"]["post"]
        assert {"200", "401", "403", "404", "422"} <= set(op["responses"]) and op["requestBody"]["required"]
        assert {"409", "429"} <= set(doc["paths"]["/api/v1/claim"]["post"]["responses"])
    finally:
        service.store.close()


def test_a_desk_with_no_preset_button_says_a_claim_cannot_be_confirmed(db):
    service = with_store(FakeService(), db)
    service.preset_slots = ()                          # as root.py names a panel without preset pins
    app = app_for(service)
    try:
        resp = signed_in(app, name="Bob", claim=False).post("/api/v1/claim")
        assert resp.status_code == 409 and "no preset button" in resp.get_json()["error"]
    finally:
        service.store.close()
