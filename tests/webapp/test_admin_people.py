"""Issue 12, item 9: an admin resets a person's PIN (drawn by the desk, shown once), renames them, and sees
when each person last used the desk.

A reset PIN ends that person's sessions and revokes their API tokens, as a PIN change does, and lifts
the lock-out of their name (the admin handed them the new PIN in person). A rename follows the rules
names are added by (case-insensitive, lookalikes count) and keeps the person's claim, sessions and
history. "Last used" is the newest audit entry credited to them since their account was created.
"""
from __future__ import annotations

import re
import time

import pytest

from deskpi.people.passwords import draw_pin

API = "/api/v1"


def _desk(sign_in, store):
    """Ada (an admin, holding the claim) and Bob (a plain user with a session and an API token)."""
    ada = sign_in(name="Ada", admin=True)
    bob = sign_in(name="Bob", pin="2580", admin=False, claim=False)
    _id, token = store.create_token("Bob", "script")
    return ada, bob, token


def _fresh(app, addr: str = "10.1.2.3"):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = addr
    return c


# ---------------------------------------------------------------------------------------- reset a PIN

def test_an_admin_resets_a_pin_shown_once_and_the_person_is_signed_out_everywhere(sign_in, service, app) -> None:
    ada, bob, token = _desk(sign_in, service.store)
    assert bob.get(f"{API}/users/Bob").status_code == 200
    resp = ada.post(f"{API}/users/bob/reset-pin")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["name"] == "Bob" and re.fullmatch(r"\d{6}", body["pin"])
    assert resp.headers["Cache-Control"] == "no-store"
    assert any("not shown again" in n for n in body["notes"])
    assert any("signed out on every phone and browser" in n and "1 API token" in n for n in body["notes"])
    for text in body["notes"]:
        assert not re.search(r"/api/|\bPOST\b|\bGET\b|\bDELETE\b", text), text
    assert bob.get(f"{API}/users/Bob").status_code == 401                               # the session ended
    assert app.test_client().get(f"{API}/state", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _fresh(app).post(f"{API}/session", json={"name": "Bob", "pin": "2580"}).status_code == 401
    assert _fresh(app).post(f"{API}/session", json={"name": "Bob", "pin": body["pin"]}).status_code == 200
    listed = {u["name"]: u for u in ada.get(f"{API}/users").get_json()}
    assert body["pin"] not in str(listed) and listed["Bob"]["has_pin"]                   # never shown again
    assert body["pin"] not in (service.store.get_user("Bob").pin_hash or "")


def test_a_reset_gives_a_person_without_a_pin_one(sign_in, service, app) -> None:
    ada = sign_in(name="Ada", admin=True)
    service.store.add_user("Cy")
    pin = ada.post(f"{API}/users/Cy/reset-pin").get_json()["pin"]
    assert _fresh(app).post(f"{API}/session", json={"name": "cy", "pin": pin}).status_code == 200


def test_a_reset_lifts_the_lock_out_of_the_name(sign_in, service, app) -> None:
    ada, _bob, _token = _desk(sign_in, service.store)
    stranger = _fresh(app, "10.66.0.1")
    statuses = [stranger.post(f"{API}/session", json={"name": "Bob", "pin": "0000"}).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    assert _fresh(app).post(f"{API}/session", json={"name": "Bob", "pin": "2580"}).status_code == 429
    pin = ada.post(f"{API}/users/Bob/reset-pin").get_json()["pin"]
    assert _fresh(app).post(f"{API}/session", json={"name": "Bob", "pin": pin}).status_code == 200


def test_only_an_admin_resets_and_never_their_own(sign_in, service) -> None:
    ada, bob, _token = _desk(sign_in, service.store)
    refused = bob.post(f"{API}/users/Ada/reset-pin")
    assert refused.status_code == 403
    own = ada.post(f"{API}/users/Ada/reset-pin")
    assert own.status_code == 403 and "profile page" in own.get_json()["error"]
    assert ada.post(f"{API}/users/Zed/reset-pin").status_code == 404
    assert service.store.get_user("Ada").pin_hash and service.store.get_user("Bob").pin_hash


def test_drawn_pins_are_six_digits_and_never_the_first_guesses() -> None:
    pins = {draw_pin() for _ in range(300)}
    assert all(re.fullmatch(r"\d{6}", p) for p in pins) and len(pins) > 290
    assert not pins & {"000000", "111111", "123456", "654321", "987654", "012345"}
    with pytest.raises(ValueError, match="4-12 digits"):
        draw_pin(3)


# --------------------------------------------------------------------------------------------- rename

def test_an_admin_renames_a_person_who_stays_signed_in(sign_in, service) -> None:
    ada, bob, token = _desk(sign_in, service.store)
    resp = ada.post(f"{API}/users/bob/rename", json={"name": "Robert"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["name"] == "Robert" and resp.get_json()["renamed_from"] == "Bob"
    assert [u["name"] for u in ada.get(f"{API}/users").get_json()] == ["Ada", "Robert"]
    assert bob.get(f"{API}/users/Robert").get_json()["name"] == "Robert"             # his session goes on
    assert service.store.list_tokens("Robert")                                         # and his tokens
    assert ada.post(f"{API}/users/Robert/rename", json={"name": "robert"}).get_json()["name"] == "robert"


@pytest.mark.parametrize("new", ["ada", "ＡＤＡ", " Ada ", "Ａda"])
def test_a_name_that_reads_as_someone_elses_is_refused(sign_in, service, new) -> None:
    ada, _bob, _token = _desk(sign_in, service.store)
    resp = ada.post(f"{API}/users/Bob/rename", json={"name": new})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error.startswith("name = ") and "already taken by 'Ada'" in error and "case-insensitive" in error, error
    assert "new_name" not in error
    assert service.store.get_user("Bob") is not None


@pytest.mark.parametrize("new", ["", ".", "a/b", "x" * 41, "Ada\u200b"])
def test_a_name_outside_the_rules_is_refused_saying_what_is_allowed(sign_in, service, new) -> None:
    ada, _bob, _token = _desk(sign_in, service.store)
    resp = ada.post(f"{API}/users/Bob/rename", json={"name": new})
    assert resp.status_code in (400, 422), resp.get_json()
    assert "name" in resp.get_json()["error"]
    assert service.store.get_user("Bob") is not None


def test_only_an_admin_renames(sign_in, service) -> None:
    _ada, bob, _token = _desk(sign_in, service.store)
    assert bob.post(f"{API}/users/Bob/rename", json={"name": "Boss"}).status_code == 403
    assert bob.post(f"{API}/users/Ada/rename", json={"name": "Boss"}).status_code == 403
    assert [u.name for u in service.store.list_users()] == ["Ada", "Bob"]


def test_a_rename_keeps_the_claim_and_the_history(sign_in, service, app) -> None:
    ada = sign_in(name="Ada", admin=True, claim=False)
    sign_in(name="Bob", pin="2580", admin=False)                                      # Bob holds the claim
    store = service.store
    store.set_active_user("Bob")
    store.append_audit("web", "move", user="Bob")
    assert ada.post(f"{API}/users/Bob/rename", json={"name": "Robert"}).status_code == 200
    assert app.extensions["deskpi.web"].claims.holder() == "Robert"
    assert store.list_audit(user="Robert") and not store.list_audit(user="Bob")
    assert store.active_user_timeline(time.time() - 120, time.time())[-1][1] == "Robert"


# ------------------------------------------------------------------------------------------ last used

def test_the_list_says_when_each_person_last_used_the_desk(sign_in, service) -> None:
    store = service.store
    store.add_user("Bob", now=time.time() - 7200)
    store.append_audit("web", "move", user="Bob", t=time.time() - 9000)              # a removed earlier Bob
    ada = sign_in(name="Ada", admin=True)
    store.append_audit("button", "recall", user="bob", t=time.time() - 3600)
    store.append_audit("web", "stop", user="Bob", t=time.time() - 600)
    store.append_audit("web", "move", user="Ada", t=time.time())
    listed = {u["name"]: u["last_used_at"] for u in ada.get(f"{API}/users").get_json()}
    assert listed["Ada"] == pytest.approx(time.time(), abs=5)
    assert listed["Bob"] == pytest.approx(time.time() - 600, abs=5)
    store.add_user("Cy")
    assert {u["name"]: u["last_used_at"] for u in ada.get(f"{API}/users").get_json()}["Cy"] is None
    store.remove_user("Bob")
    store.add_user("Bob")                                                              # a new Bob: not them
    assert {u["name"]: u["last_used_at"] for u in ada.get(f"{API}/users").get_json()}["Bob"] is None
