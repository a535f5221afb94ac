"""The audit trail credits who asked, from where (issue 11, defect 8).

A running simulated daemon with its real web app and control socket: a web stop, hold, move or recall
is recorded under the signed-in person (or the API token's), not under whoever is the active user,
with the address it came from; the CLI's requests over the control socket are recorded as source
"cli" (they were "web"); a press of the desk's own buttons still goes to the person at the desk.
"""
from __future__ import annotations

import pytest
from helpers import calm, running_sim_daemon, signed_in, wait_until

from deskpi.core.types import Source
from deskpi.daemon.client import ControlClient
from deskpi.webapp.app import create_app

API = "/api/v1"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    with running_sim_daemon(tmp_path_factory.mktemp("audit") / "data", seed=11) as d:
        app = create_app(d.parts.service, secret_key=b"audit-test-secret-key-0123456789")
        app.testing = True
        d.app = app
        yield d
        app.extensions["deskpi.web"].close()


def _entries(d, n: int, **filters):
    """The newest n audit entries matching `filters`, once the recorder has written them."""
    wait_until(lambda: len(d.parts.store.list_audit(limit=n, **filters)) >= n, 10, f"{n} audit entries {filters}")
    return d.parts.store.list_audit(limit=n, **filters)


def test_web_motion_is_credited_to_the_caller_with_their_address(desk):
    store = desk.parts.store
    signed_in(desk.app, name="Ada", admin=True, claim=False)             # the owner
    store.update_user("Ada", seated_mm=700.0, standing_mm=1100.0)
    bob = signed_in(desk.app, name="Bob", admin=False)                  # Bob holds the claim...
    bob.environ_base["REMOTE_ADDR"] = "10.20.30.40"
    store.set_active_user("Ada")                                        # ...while Ada is the active user
    calm(desk)
    here = desk.parts.sim_desk.true_height()
    for method, path, body in [("post", "/move", {"target_mm": round(here + 40 if here < 1000 else here - 40)}),
                               ("post", "/stop", None), ("post", "/hold", {"direction": "down"}),
                               ("post", "/stop", None), ("post", "/presets/1/recall", None),
                               ("post", "/stop", None)]:
        resp = getattr(bob, method)(f"{API}{path}", json=body)
        assert resp.status_code < 300, (path, resp.get_json())
    _entries(desk, 7, user="Bob")                                       # 3 stops, move, hold, recall (+ its move)
    bobs = store.list_audit(user="Bob", limit=50)
    assert {"move", "stop", "hold", "recall"} <= {e.action for e in bobs}
    for e in bobs:
        assert (e.source, e.user, e.remote) == ("web", "Bob", "10.20.30.40"), e
        assert e.detail.get("via") == "session", e
    assert not store.list_audit(user="Ada", limit=50), "nothing Bob did is credited to the active user"
    calm(desk)


def test_a_stop_from_a_colleagues_phone_is_credited_to_the_colleague(desk):
    store = desk.parts.store
    signed_in(desk.app, name="Bob", admin=False)                       # Bob claims: the active user
    assert store.get_active_user().name == "Bob"
    cy = signed_in(desk.app, name="Cy", admin=False, claim=False)
    cy.environ_base["REMOTE_ADDR"] = "10.9.8.7"
    assert cy.post(f"{API}/stop").status_code == 200
    (e,) = _entries(desk, 1, action="stop", user="Cy")                 # not under Bob, the active user
    assert (e.source, e.user, e.remote) == ("web", "Cy", "10.9.8.7")


def test_a_token_is_credited_to_its_owner(desk):
    store = desk.parts.store
    if store.get_user("Dee") is None:
        store.add_user("Dee")
    _id, token = store.create_token("Dee")
    c = desk.app.test_client()
    c.environ_base["REMOTE_ADDR"] = "2001:db8::5"
    assert c.post(f"{API}/stop", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    (e,) = _entries(desk, 1, user="Dee", action="stop")
    assert (e.source, e.user, e.remote, e.detail) == ("web", "Dee", "2001:db8::5", {"via": "token"})


def test_the_cli_is_audited_as_cli(desk):
    calm(desk)
    before = {e.id for e in desk.parts.store.list_audit(source="cli", limit=1000)}
    here = desk.parts.sim_desk.true_height()
    with ControlClient(desk.data_dir) as client:
        client.request("move", target_mm=round(here + 30 if here < 1000 else here - 30))
        client.request("stop")
    wait_until(lambda: len({e.id for e in desk.parts.store.list_audit(source="cli", limit=1000)} - before) >= 2,
               10, "the CLI's audit entries")
    new = [e for e in desk.parts.store.list_audit(source="cli", limit=1000) if e.id not in before]
    assert {e.action for e in new} == {"move", "stop"}
    assert all(e.detail["why"] == "cli" and e.remote is None for e in new)
    assert not any(e.detail and e.detail.get("why") == "cli" for e in desk.parts.store.list_audit(source="web",
                                                                                                    limit=1000))
    calm(desk)


def test_the_desks_buttons_still_go_to_the_person_at_the_desk(desk):
    calm(desk)
    desk.parts.store.set_active_user("Ada")
    desk.parts.service.stop(Source.BUTTON)
    (e,) = _entries(desk, 1, source="button", action="stop")
    assert (e.user, e.remote) == ("Ada", None)
