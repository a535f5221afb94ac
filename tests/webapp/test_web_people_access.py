"""People on the API after issue 11: who may list whom, lookalike names, who a motion request is credited to.

Defect 6: a name that reads as an existing one (case, full-width, invisible characters) is refused on
the API too, and '.', '..' and '/' never become names. Defect 7: `GET /api/v1/users` undid the 403 on
`GET /users/NAME`: a plain user saw everyone's stature and heights; now only admins and the desk's
owner see everyone. Defect 8 (the web side): a motion request hands the desk service who asked and
from which address (tests/daemon/test_audit_callers.py follows it into the audit trail).
"""
from __future__ import annotations

import pytest
from helpers import ManualClock, grant_claim

from deskpi.core.types import Caller
from deskpi.store import Store

API = "/api/v1"
#: The keys every listed user had before issue 11 (the shape is kept: only who is listed changed).
USER_KEYS = {"name", "role", "stature_cm", "shoe_mm", "seated_mm", "standing_mm", "units", "active", "owner",
             "has_pin", "created_at"}


def _people(sign_in, store: Store):
    """Ada (first: the desk's owner, an admin), Olga (an admin), Bob and Cy (plain users, with heights)."""
    ada = sign_in(name="Ada", admin=True)
    olga = sign_in(name="Olga", admin=True, claim=False)
    bob = sign_in(name="Bob", admin=False, claim=False)
    store.update_user("Bob", stature_cm=182.0, seated_mm=700.0, standing_mm=1130.0)
    store.add_user("Cy", stature_cm=160.0)
    return ada, olga, bob


def test_a_plain_user_lists_only_themselves(sign_in, service) -> None:
    _ada, _olga, bob = _people(sign_in, service.store)
    resp = bob.get(f"{API}/users")
    assert resp.status_code == 200
    listed = resp.get_json()
    assert isinstance(listed, list) and [u["name"] for u in listed] == ["Bob"]
    assert listed[0]["stature_cm"] == 182.0 and set(listed[0]) == USER_KEYS | {"last_used_at"}    # issue 12 adds one
    assert bob.get(f"{API}/users/Cy").status_code == 403                             # as before


def test_a_plain_users_token_lists_only_them_too(sign_in, service, app) -> None:
    _people(sign_in, service.store)
    _id, token = service.store.create_token("Cy")
    listed = app.test_client().get(f"{API}/users", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [u["name"] for u in listed] == ["Cy"]


def test_admins_and_the_owner_list_everyone(sign_in, service) -> None:
    ada, olga, _bob = _people(sign_in, service.store)
    everyone = ["Ada", "Bob", "Cy", "Olga"]
    assert [u["name"] for u in ada.get(f"{API}/users").get_json()] == everyone
    service.store.update_user("Ada", role="user")                 # still the owner: still sees everyone
    assert [u["name"] for u in ada.get(f"{API}/users").get_json()] == everyone
    assert [u["name"] for u in olga.get(f"{API}/users").get_json()] == everyone


def test_the_claim_holder_is_still_named_to_a_plain_user(sign_in, service, app) -> None:
    _ada, _olga, bob = _people(sign_in, service.store)
    claims = app.extensions["deskpi.web"].claims
    grant_claim(claims, "Cy")
    assert bob.get(f"{API}/state").get_json()["claim"]["user"] == "Cy"


# ------------------------------------------------------------------------------------ lookalike names

@pytest.mark.parametrize("name", ["ada", "ＡＤＡ", "Ada\u200b", "A\u202eda", "\u2067Ada\u2069", ".", "..", "x/y",
                                  "x\\y"])
def test_lookalike_and_unmanageable_names_are_refused_on_the_api(client, service, name) -> None:
    before = [u.name for u in service.store.list_users()]
    resp = client.post(f"{API}/users", json={"name": name, "pin": "4711"})
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert "already taken by 'ada'" in error or "invisible" in error or "'/' or" in error, error
    assert [u.name for u in service.store.list_users()] == before


def test_self_registration_refuses_a_lookalike_of_an_existing_name(client, app, service) -> None:
    client.patch(f"{API}/admin/settings", json={"self_register": True})
    resp = app.test_client().post(f"{API}/register", json={"name": "ＡＤＡ", "pin": "97531"})
    assert resp.status_code == 422 and "already taken by 'ada'" in resp.get_json()["error"]


def test_a_full_width_name_is_stored_folded(client, service) -> None:
    resp = client.post(f"{API}/users", json={"name": "Ｂｅａ", "pin": "4711"})
    assert resp.status_code == 201 and resp.get_json()["name"] == "Bea"
    assert client.get(f"{API}/users/Bea").status_code == 200


def test_a_locked_name_stays_locked_in_full_width_and_with_invisible_characters(service, monkeypatch) -> None:
    from deskpi.webapp import auth

    service.store.add_user("Bob", pin_hash="scrypt$not-checked-in-this-test")
    monkeypatch.setattr(auth, "verify_secret", lambda pin, encoded: pin == "4711")
    signin = auth.SignIn(service.store, clock=ManualClock())
    for _ in range(5):
        assert signin.check("Bob", "0000", "10.0.0.1") is None
    for spelling in ("Ｂｏｂ", "BOB\u200b", "bob"):
        with pytest.raises(auth.LockedOut):
            signin.check(spelling, "4711", "10.0.0.2")


# -------------------------------------------------------------------------- tokens with huge ids

@pytest.mark.parametrize("token_id", ["99999999999999999999999", "9223372036854775808", "0", "-1"])
def test_revoking_a_huge_or_impossible_token_id_is_a_404(client, token_id) -> None:
    resp = client.delete(f"{API}/tokens/{token_id}")
    assert resp.status_code == 404, resp.get_json()


def test_the_store_says_no_such_token_for_ids_sqlite_cannot_hold(service) -> None:
    assert service.store.revoke_token(99999999999999999999999) is False
    assert service.store.revoke_token(-(2**70)) is False


# --------------------------------------------------------------- who asked, handed to the desk service

def test_motion_requests_name_the_caller_and_their_address(sign_in, service, app) -> None:
    sign_in(name="Ada", admin=True)                        # the owner, and the active user
    bob = sign_in(name="Bob", admin=False)                 # holds the claim
    bob.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    requests = [("post", "/stop", None), ("post", "/move", {"target_mm": 900}),
                ("post", "/hold", {"direction": "up"}), ("post", "/presets/2/recall", None),
                ("put", "/presets/3", {"height_mm": 1000}), ("post", "/clear-fault", None)]
    for method, path, body in requests:
        service.by = None
        resp = getattr(bob, method)(f"{API}{path}", json=body)
        assert resp.status_code < 300, (path, resp.get_json())
        assert service.by == Caller("web", user="Bob", remote="10.20.30.40", via="session"), path
    _id, token = service.store.create_token("Bob")
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = "2001:db8::7"
    assert c.post(f"{API}/stop", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert service.by == Caller("web", user="Bob", remote="2001:db8::7", via="token")
