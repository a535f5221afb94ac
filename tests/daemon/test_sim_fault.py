"""`POST/DELETE /api/v1/sim/fault` on the real simulated daemon: the injected problem is found by the
controller on its own (the desk stops with a fault), and once it is taken away the fault clears and
the desk moves again. This is what `deskpi bench soak` relies on to inject and clear faults.
"""
from __future__ import annotations

import pytest
from helpers import running_sim_daemon, signed_in, wait_until

from deskpi.webapp.app import create_app


@pytest.fixture()
def desk(tmp_path):
    with running_sim_daemon(tmp_path / "data", seed=3) as d:
        app = create_app(d.parts.service)
        app.testing = True
        yield d, signed_in(app)


def _state(client) -> dict:
    return client.get("/api/v1/state").get_json()


@pytest.mark.parametrize("body", [{"kind": "sensor_dead"}, {"kind": "obstruction", "direction": "up"}])
def test_an_injected_fault_stops_the_desk_and_clears_once_taken_away(desk, body):
    d, client = desk
    assert client.post("/api/v1/move", json={"target_mm": 1150}).status_code == 202
    wait_until(lambda: _state(client)["state"] == "moving", what="the move to start")
    resp = client.post("/api/v1/sim/fault", json=body)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["kind"] == body["kind"]
    wait_until(lambda: _state(client)["state"] == "fault", timeout=20, what="the controller to find the fault")
    # The motor ends off (after an obstruction the desk first backs off 30 mm, then stops).
    wait_until(lambda: d.parts.drive.direction is None, what="the motor off after the fault")

    assert client.delete("/api/v1/sim/fault").get_json() == {"cleared": True}
    wait_until(lambda: client.post("/api/v1/clear-fault").get_json()["fault"] is None, timeout=10,
               what="the fault to clear once the desk is healthy")
    # It settles first (about 2 s here, far longer on a loaded machine): 30 s only guards against a hang.
    wait_until(lambda: _state(client)["state"] == "idle", timeout=30, what="the desk at rest")
    assert client.post("/api/v1/move", json={"target_mm": 900}).status_code == 202
    wait_until(lambda: _state(client)["state"] == "moving", what="the desk to move again")
    client.post("/api/v1/stop")


def test_an_obstruction_defaults_to_just_below_the_desk(desk):
    d, client = desk
    height = d.parts.sim_desk.true_height()
    resp = client.post("/api/v1/sim/fault", json={"kind": "obstruction"})
    assert resp.status_code == 200
    out = resp.get_json()
    assert out["direction"] == "down" and abs(out["height_mm"] - (height - 30)) < 5, out
    client.delete("/api/v1/sim/fault")
    assert d.parts.sim_desk.physics.obstruction is None
