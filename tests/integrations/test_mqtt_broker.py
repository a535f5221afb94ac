"""The desk on a real Mosquitto broker (Debian's, with a password file and an ACL), seen the way Home
Assistant sees it: a subscriber that reads the discovery configs, follows the state topics and
presses the buttons. Two `deskpi sim` processes share the broker: one with commands off (the
default), one with `--mqtt-allow-commands` and `publish_personal`.

Every wait is on a message (a condition with a timeout), never a sleep. Under CI=true a missing
mosquitto or paho-mqtt fails these tests.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from mqtt_kit import ROOT, deskpi, mqtt_sim, require_mqtt, sim_config

from deskpi.bench.broker import Mosquitto, Subscriber

pytestmark = pytest.mark.timeout(240)

OFF, ON = "deskpi/sim-off", "deskpi/sim-on"
ENTITIES = {"sensor/height", "sensor/posture", "sensor/motion_state", "binary_sensor/moving", "binary_sensor/fault",
            "number/target_height", "button/stop", "button/preset_1", "button/preset_2", "button/preset_3",
            "button/preset_4"}
PERSONAL = {"select/active_user", "sensor/standing_today", "sensor/standing_goal"}
MOVE_TIMEOUT_S = 60          # a full travel of the simulated desk takes ~20 s


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    require_mqtt()
    with Mosquitto(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture(scope="module")
def desks(broker, tmp_path_factory):
    """{base topic: data dir} of the two simulated desks, both online."""
    root = tmp_path_factory.mktemp("desks")
    off_dir, on_dir = root / "off", root / "on"
    on_dir.mkdir()
    for name in ("Ada", "Bo"):                      # the active-user select has people to offer
        deskpi(on_dir, "user", "add", name)
    watcher = Subscriber(broker.port, topics=("deskpi/+/availability",))
    try:
        with mqtt_sim(off_dir, sim_config(root / "off.toml", broker, base_topic=OFF), broker), \
             mqtt_sim(on_dir, sim_config(root / "on.toml", broker, base_topic=ON, publish_personal=True), broker,
                      "--mqtt-allow-commands"):
            for base in (OFF, ON):
                watcher.wait_for(f"{base}/availability", lambda p: p == "online", timeout=60)
            yield {OFF: off_dir, ON: on_dir}
    finally:
        watcher.close()


@pytest.fixture
def ha(broker, desks):
    """Home Assistant connecting now: it gets the retained discovery and states first."""
    sub = Subscriber(broker.port)
    yield sub
    sub.close()


def at_rest(ha: Subscriber, base: str, data_dir) -> None:
    """Stop the desk (a previous test may have left it moving) and wait until MQTT says it is idle.
    `ha` subscribed within this test, so its first state is the retained one, then what follows.
    A fault is cleared first: on a busy machine the simulated sensor can miss its echoes (sensor_dead),
    which latches as on a real desk; these tests are about MQTT."""
    deskpi(data_dir, "stop")
    if deskpi(data_dir, "status")["fault"]:
        deskpi(data_dir, "clear-fault")
    ha.wait_for(f"{base}/state", lambda p: p == "idle", timeout=MOVE_TIMEOUT_S)


def configs(ha: Subscriber, node: str) -> dict[str, dict]:
    """component/key -> config of every discovery message for one desk, as Home Assistant keeps them."""
    out = {}
    for _, topic, payload, _retain in list(ha.messages):
        parts = topic.split("/")
        if parts[0] != "homeassistant" or parts[-1] != "config" or not parts[2].startswith(node + "_"):
            continue
        key = f"{parts[1]}/{parts[2][len(node) + 1:]}"
        if payload:
            out[key] = json.loads(payload)        # any payload that is not JSON fails here
        else:
            out.pop(key, None)                    # an empty config removes the entity
    return out


# ------------------------------------------------------------------------------------ discovery

def test_every_discovery_config_is_what_home_assistant_needs(ha, desks):
    ha.wait_for("homeassistant/button/deskpi_sim-on_preset_4/config", timeout=30)
    seen_ids = set()
    for base, node, expected in ((OFF, "deskpi_sim-off", ENTITIES), (ON, "deskpi_sim-on", ENTITIES | PERSONAL)):
        for key in sorted(expected):               # the outbox sends them in any order: wait for each
            component, object_id = key.split("/")
            ha.wait_for(f"homeassistant/{component}/{node}_{object_id}/config", timeout=30)
        found = configs(ha, node)
        assert set(found) == expected, f"{base}: {sorted(set(found) ^ expected)}"
        ha.wait_for(f"{base}/availability", lambda p: p == "online")
        for key, doc in found.items():
            assert doc["unique_id"] == f"{node}_{key.split('/')[1]}" and doc["unique_id"] not in seen_ids, key
            seen_ids.add(doc["unique_id"])
            device = doc["device"]
            assert device["identifiers"] == [node] and device["model"] and device["sw_version"], key
            assert device["configuration_url"].startswith("http://127.0.0.1:"), key
            assert doc["availability"] == [{"topic": f"{base}/availability", "payload_available": "online",
                                             "payload_not_available": "offline"}], key
            if "state_topic" in doc:          # a retained state is there for Home Assistant to read at once
                assert doc["state_topic"].startswith(base + "/"), key
                ha.wait_for(doc["state_topic"], lambda p: p != "", timeout=15)
            if "command_topic" in doc:
                assert doc["command_topic"].startswith(base + "/") and doc["command_topic"].endswith("/set"), key
        number = found["number/target_height"]
        assert (number["min"], number["max"], number["step"], number["unit_of_measurement"]) == (64.0, 126.0, 0.1, "cm")
        assert found["sensor/height"]["device_class"] == "distance"
        assert found["sensor/height"]["state_class"] == "measurement"
        assert found["binary_sensor/fault"]["device_class"] == "problem"
        assert found["binary_sensor/fault"]["json_attributes_topic"] == f"{base}/fault/attributes"
    assert configs(ha, "deskpi_sim-on")["select/active_user"]["options"] == ["Ada", "Bo"]
    assert ha.wait_for(f"{ON}/user", timeout=15)[2] in (b"None", b"Ada", b"Bo")
    assert json.loads(ha.wait_for(f"{OFF}/fault/attributes")[2]) == {"message": None}
    assert not [t for _, t, payload, _ in ha.messages if payload and t in (f"{OFF}/user", f"{OFF}/standing_minutes")], \
        "nothing personal leaves a desk without publish_personal"


def test_every_command_topic_is_listened_to(ha, desks):
    """With commands off each command topic answers with a refusal that says why (Stop is carried out)."""
    at_rest(ha, OFF, desks[OFF])
    for key, doc in configs(ha, "deskpi_sim-off").items():
        if "command_topic" not in doc:
            continue
        mark = ha.mark()
        ha.publish(doc["command_topic"], doc.get("payload_press", "100"))
        event = json.loads(ha.wait_for(f"{OFF}/event", after=mark)[2])
        command = doc["command_topic"][len(OFF) + 1:]
        assert event["command"] == command, key
        if key == "button/stop":
            assert event["event"] == "accepted"
        else:
            assert event["event"] == "refused" and "allow_commands = false" in event["reason"], event


# ------------------------------------------------------------------------------------ states

def test_a_height_change_reaches_the_state_topic(ha, desks):
    at_rest(ha, OFF, desks[OFF])
    mark = ha.mark()
    deskpi(desks[OFF], "move", "1000", "--no-wait")
    ha.wait_for(f"{OFF}/moving", lambda p: p == "ON", after=mark)
    ha.wait_for(f"{OFF}/height", lambda p: abs(float(p) - 100.0) <= 0.3, timeout=MOVE_TIMEOUT_S, after=mark)
    ha.wait_for(f"{OFF}/state", lambda p: p == "idle", timeout=MOVE_TIMEOUT_S, after=mark)
    ha.wait_for(f"{OFF}/posture", lambda p: p == "standing", after=mark)
    moving, heights = False, []          # the heights published while the desk moved
    for _, topic, payload, _ in ha.messages[mark:]:
        if topic == f"{OFF}/moving":
            moving = payload == b"ON"
        elif topic == f"{OFF}/height" and moving:
            heights.append(float(payload))
    assert len(heights) >= 3, heights
    # Only changes of 2 mm or more while moving (the payload is rounded to 1 mm).
    assert all(abs(b - a) >= 0.15 for a, b in zip(heights, heights[1:], strict=False)), heights


def test_the_stop_button_stops_a_moving_desk(ha, desks):
    at_rest(ha, OFF, desks[OFF])
    target = 700 if deskpi(desks[OFF], "status")["height_mm"] > 900 else 1200
    mark = ha.mark()
    deskpi(desks[OFF], "move", str(target), "--no-wait")
    ha.wait_for(f"{OFF}/moving", lambda p: p == "ON", after=mark)
    ha.publish(f"{OFF}/stop/set", "PRESS")
    ha.wait_for(f"{OFF}/moving", lambda p: p == "OFF", timeout=10, after=mark)
    ha.wait_for(f"{OFF}/state", lambda p: p == "idle", timeout=10, after=mark)
    st = deskpi(desks[OFF], "status")
    assert st["state"] in ("idle", "fault") and abs(st["height_mm"] - target) > 50, st
    assert st["mqtt"]["connected"] is True and st["mqtt"]["allow_commands"] is False
    entries = poll_audit(desks[OFF], lambda e: e["source"] == "mqtt" and e["action"] == "stop")
    assert entries


def poll_audit(data_dir, test, timeout: float = 10.0) -> list[dict]:
    """Audit entries passing `test` (the recorder writes them off the control loop, a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in deskpi(data_dir, "audit")["entries"] if test(e)]
        if found or time.monotonic() > deadline:
            return found


# ------------------------------------------------------------------------------------ commands

def test_a_target_height_is_refused_with_commands_off(ha, desks):
    at_rest(ha, OFF, desks[OFF])
    mark = ha.mark()
    ha.publish(f"{OFF}/height/set", "90")
    event = json.loads(ha.wait_for(f"{OFF}/event", after=mark)[2])
    assert event == {"event": "refused", "command": "height/set", "value": "90", "reason": event["reason"]}
    assert "allow_commands = false" in event["reason"]
    st = deskpi(desks[OFF], "status")
    assert st["state"] in ("idle", "fault") and st["target_mm"] is None and st["owner"] is None, st
    assert not [e for e in deskpi(desks[OFF], "audit")["entries"] if e["source"] == "mqtt" and e["action"] == "move"]


def test_a_target_height_is_carried_out_with_commands_on(ha, desks):
    at_rest(ha, ON, desks[ON])
    mark = ha.mark()
    ha.publish(f"{ON}/height/set", "90.5")
    event = json.loads(ha.wait_for(f"{ON}/event", after=mark)[2])
    assert event == {"event": "accepted", "command": "height/set", "target_cm": 90.5}
    ha.wait_for(f"{ON}/height", lambda p: abs(float(p) - 90.5) <= 0.3, timeout=MOVE_TIMEOUT_S, after=mark)
    moves = poll_audit(desks[ON], lambda e: e["source"] == "mqtt" and e["action"] == "move")
    assert moves and moves[0]["detail"]["target_mm"] == 905.0, moves


def test_commands_that_cannot_be_carried_out_say_why(ha, desks):
    at_rest(ha, ON, desks[ON])
    cases = [("height/set", "300", "refused", "outside this desk's limits 64-126 cm"),
             ("height/set", "tall", "ignored", "not a number"),
             ("height/set", "nan", "ignored", "not a height"),
             ("preset/2/set", "PRESS", "refused", "preset 2 is empty"),
             ("preset/9/set", "PRESS", "ignored", "the presets are 1-4"),
             ("user/set", "Nobody", "refused", "no such user")]
    for command, payload, kind, reason in cases:
        mark = ha.mark()
        ha.publish(f"{ON}/{command}", payload)
        event = json.loads(ha.wait_for(f"{ON}/event", after=mark)[2])
        assert event["event"] == kind and reason in event["reason"], (command, payload, event)
    for name in ("Bo", "Ada"):
        mark = ha.mark()
        ha.publish(f"{ON}/user/set", name)
        assert json.loads(ha.wait_for(f"{ON}/event", after=mark)[2]) == {"event": "accepted", "command": "user/set",
                                                                        "user": name}
        ha.wait_for(f"{ON}/user", lambda p, name=name: p == name, after=mark)
    assert deskpi(desks[ON], "status")["state"] in ("idle", "fault")        # nothing moved it


# ------------------------------------------------------------------------------------ availability

def test_sigkill_makes_the_broker_say_offline(broker, tmp_path):
    base = "deskpi/sim-killed"
    ha = Subscriber(broker.port, topics=(f"{base}/availability",))
    try:
        with mqtt_sim(tmp_path / "data", sim_config(tmp_path / "k.toml", broker, base_topic=base), broker) as proc:
            ha.wait_for(f"{base}/availability", lambda p: p == "online", timeout=60)
            mark = ha.mark()
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            ha.wait_for(f"{base}/availability", lambda p: p == "offline", timeout=30, after=mark)
    finally:
        ha.close()


def test_a_clean_stop_says_offline_itself(broker, tmp_path):
    base = "deskpi/sim-stopped"
    ha = Subscriber(broker.port, topics=(f"{base}/availability",))
    try:
        with mqtt_sim(tmp_path / "data", sim_config(tmp_path / "s.toml", broker, base_topic=base), broker) as proc:
            ha.wait_for(f"{base}/availability", lambda p: p == "online", timeout=60)
            mark = ha.mark()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
            ha.wait_for(f"{base}/availability", lambda p: p == "offline", timeout=10, after=mark)
        assert "Traceback" not in (tmp_path / "data" / "sim.log").read_text()
    finally:
        ha.close()


def test_status_tells_a_person_how_the_link_is(desks):
    out = subprocess.run([sys.executable, "-m", "deskpi.cli", "--data-dir", str(desks[ON]), "status"],
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60,
                         check=True).stdout
    assert f"mqtt     connected; topics {ON}/...; commands on" in out, out
