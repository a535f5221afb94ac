"""A broker that goes away, comes back or stalls: the desk reconnects on its own, and a button press
never waits for it. The daemon runs in this process (a simulated desk, its pins in reach) against
Debian's Mosquitto, which the test stops, starts again on the same port, and pauses with SIGSTOP.

Press -> motor on is measured and printed (`-s` shows it); `deskpi bench mqtt` reports it with enough
samples. Waits are bounded polls and events, never bare sleeps.
"""
from __future__ import annotations

import time

import pytest
from helpers import running_sim_daemon, wait_until
from mqtt_kit import require_mqtt

from deskpi.bench.broker import Mosquitto, Subscriber
from deskpi.config import from_mapping

pytestmark = pytest.mark.timeout(240)
BASE = "deskpi/inproc"
PRESS_WAIT_S = 2.0       # a press held up by the broker would wait for a connect (3 s) or a keepalive (30 s)


def at_rest(d) -> bool:
    """Idle, clearing a fault on the way: on a busy machine the simulated sensor can miss its echoes
    (sensor_dead), which latches as on a real desk; this test is about the broker."""
    if d.parts.controller.fault:
        d.parts.service.clear_fault()
    return d.parts.controller.state.value == "idle"


def press_to_motor_on_ms(d) -> float:
    """Press the simulated up button; the motor output must come on (bounded wait). Release it."""
    s = d.settings
    up_pin = d.parts.factory.pin(s.motor.up_pin)
    button = d.parts.factory.pin(s.buttons.up_pin)
    wait_until(lambda: at_rest(d), 30, "the desk at rest")
    t0 = time.monotonic()
    button.drive_low()
    try:
        wait_until(lambda: up_pin.state > 0, PRESS_WAIT_S, "the motor to start on a button press")
        return round(1000 * (up_pin._last_change - t0), 2)
    finally:
        button.drive_high()
        wait_until(lambda: up_pin.state == 0, 5, "the motor to stop on release")


def test_a_broker_that_stops_and_stalls_never_holds_up_a_press_and_is_reconnected(tmp_path):
    require_mqtt()
    broker = Mosquitto(tmp_path / "broker").start()
    settings = from_mapping({"mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                                      "username": "deskpi", "password_file": str(broker.password_file("deskpi")),
                                      "base_topic": BASE, "client_id": "deskpi-inproc"}}, "test")
    measured = {}
    try:
        with running_sim_daemon(tmp_path / "data", settings=settings) as d:
            link = d.parts.mqtt.link
            assert link.connected.wait(30), link.problem
            measured["broker up"] = press_to_motor_on_ms(d)

            broker.stop()
            wait_until(lambda: not link.connected.is_set(), 30, "the desk to notice the broker is gone")
            measured["broker down"] = press_to_motor_on_ms(d)
            assert "cannot reach the broker" in (link.problem or "") or "lost the broker" in (link.problem or "")

            broker.start()                            # the same port, no retained messages: a fresh broker
            wait_until(lambda: link.connects >= 2, 60, "the desk to reconnect by itself")
            ha = Subscriber(broker.port, topics=(f"{BASE}/#", "homeassistant/#"))
            try:
                # Everything retained is sent again, so Home Assistant knows the desk after a broker restart.
                ha.wait_for(f"{BASE}/availability", lambda p: p == "online", timeout=15)
                ha.wait_for(f"{BASE}/height", lambda p: float(p) > 60, timeout=15)
                ha.wait_for("homeassistant/number/deskpi_inproc_target_height/config", timeout=15)

                mark = ha.mark()
                broker.pause()                        # stalled: the connection is open, nothing is answered
                try:
                    measured["broker stalled"] = press_to_motor_on_ms(d)
                    measured["broker stalled, again"] = press_to_motor_on_ms(d)
                finally:
                    broker.resume()
                ha.wait_for(f"{BASE}/moving", lambda p: p == "OFF", timeout=30, after=mark)   # the backlog arrives
            finally:
                ha.close()
    finally:
        broker.stop()
    print(f"press -> motor on, ms: {measured}")


def test_a_retained_command_on_the_broker_does_not_move_the_desk_when_it_starts(tmp_path):
    """Someone published `height/set` with retain=true: the broker hands it to the desk at every connect.
    Carried out, it would move the desk at every start and reconnect, long after anyone asked."""
    import json

    require_mqtt()
    base = "deskpi/retained"
    with Mosquitto(tmp_path / "broker") as broker:
        ha = Subscriber(broker.port, topics=(f"{base}/event",))
        try:
            ha.client.publish(f"{base}/height/set", "110", qos=1, retain=True).wait_for_publish(10)
            settings = from_mapping({"mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port,
                                              "username": "deskpi",
                                              "password_file": str(broker.password_file("deskpi")),
                                              "base_topic": base, "client_id": "deskpi-retained",
                                              "allow_commands": True}}, "test")
            with running_sim_daemon(tmp_path / "data", settings=settings) as d:
                event = json.loads(ha.wait_for(f"{base}/event", timeout=30)[2])
                assert event["event"] == "refused" and event["command"] == "height/set", event
                assert "retained" in event["reason"], event
                assert d.parts.arbiter.owner is None and not d.parts.controller.busy
                assert not [e for e in d.parts.store.list_audit(source="mqtt") if e.action == "move"]
                # A command published now (not a replay) is carried out: only the replay is refused.
                mark = ha.mark()
                ha.publish(f"{base}/height/set", "100")
                assert json.loads(ha.wait_for(f"{base}/event", after=mark, timeout=30)[2])["event"] == "accepted"
                d.parts.service.stop()
        finally:
            ha.close()
