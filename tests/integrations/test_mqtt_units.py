"""The MQTT bridge's parts without a broker: the `[mqtt]` config, the ids and topics, the outbox, when
states go out, the discovery payloads, the command rules, the arbiter's place for MQTT, and a desk that
runs on when MQTT cannot."""
from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest
from helpers import running_sim_daemon, wait_until

from deskpi.cli.main import build_parser
from deskpi.config import ConfigError, defaults, from_mapping
from deskpi.core.faults import MotionRefused
from deskpi.core.types import Source
from deskpi.integrations.mqtt import discovery
from deskpi.integrations.mqtt.commands import Commands, LogBudget
from deskpi.integrations.mqtt.options import MqttOptions, MqttSetupError, desk_id, read_password
from deskpi.integrations.mqtt.outbox import Outbox
from deskpi.integrations.mqtt.states import StateTracker, posture


def problems(**mqtt) -> list[str]:
    with pytest.raises(ConfigError) as err:
        from_mapping({"mqtt": mqtt})
    return err.value.problems


# ------------------------------------------------------------------------------------ config

def test_mqtt_is_off_by_default_and_safe():
    m = defaults().mqtt
    assert (m.enabled, m.allow_commands, m.publish_personal, m.port, m.discovery_prefix) == (
        False, False, False, 1883, "homeassistant")
    assert "password" not in {k for k in defaults().as_dict()["mqtt"] if not k.endswith("_file")}


@pytest.mark.parametrize(("mqtt", "says"), [
    ({"password": "hunter2"}, "unknown key; allowed keys are"),
    ({"host": "my broker"}, "[mqtt] host = 'my broker': must be the broker's address"),
    ({"port": 70000}, "[mqtt] port = 70000: must be in 1..65535"),
    ({"username": "desk", "password_file": "mqtt.pass"}, "must be an absolute path such as /etc/deskpi/mqtt-password"),
    ({"password_file": "/etc/deskpi/mqtt-password"}, "without username"),
    ({"tls_ca_file": "/etc/ssl/ca.pem"}, "with tls = false: set tls = true"),
    ({"tls": True, "tls_cert": "/etc/deskpi/c.pem"}, "tls_cert = '/etc/deskpi/c.pem' without tls_key"),
    ({"client_id": "desk 12"}, "[mqtt] client_id = 'desk 12': must be 1-64 letters"),
    ({"base_topic": "office/+/desk"}, "no '+', '#'"),
    ({"base_topic": "office//desk"}, "empty levels"),
    ({"discovery_prefix": ""}, "[mqtt] discovery_prefix = ''"),
    ({"allow_commands": "yes"}, "[mqtt] allow_commands = 'yes': must be true or false"),
])
def test_config_problems_name_the_key_the_value_and_what_is_allowed(mqtt, says):
    assert any(says in p for p in problems(**mqtt)), problems(**mqtt)


def test_a_full_config_loads():
    s = from_mapping({"mqtt": {"enabled": True, "host": "homeassistant.local", "port": 8883, "username": "desk",
                               "password_file": "/etc/deskpi/mqtt-password", "tls": True,
                               "tls_ca_file": "/etc/deskpi/ca.pem", "tls_cert": "/etc/deskpi/c.pem",
                               "tls_key": "/etc/deskpi/c.key", "client_id": "desk-12", "base_topic": "office/desk-12",
                               "discovery_prefix": "ha", "allow_commands": True, "publish_personal": True}})
    assert s.mqtt.base_topic == "office/desk-12" and s.mqtt.tls is True


def test_sim_flags_turn_mqtt_on(cli):
    from deskpi.cli.main import _sim_mqtt

    args = build_parser().parse_args(["sim", "--mqtt-host", "127.0.0.1", "--mqtt-port", "1884",
                                      "--mqtt-allow-commands"])
    m = _sim_mqtt(defaults(), args).mqtt
    assert (m.enabled, m.host, m.port, m.allow_commands) == (True, "127.0.0.1", 1884, True)
    args = build_parser().parse_args(["sim", "--mqtt-host", "broker.lan"])
    assert _sim_mqtt(defaults(), args).mqtt.allow_commands is False
    assert _sim_mqtt(defaults(), build_parser().parse_args(["sim"])).mqtt.enabled is False
    bad = cli.main("sim", "--mqtt-port", "99999")
    assert bad.returncode == 2 and "'99999': must be a port number 1-65535" in bad.stderr


# ------------------------------------------------------------------------------------ ids, password

def options(**mqtt) -> MqttOptions:
    return MqttOptions.from_settings(from_mapping({"mqtt": mqtt}).mqtt, hostname="Desk-12.office.lan")


def test_ids_and_topics_follow_the_host_name():
    assert desk_id("Desk 12.local") == "desk_12" and desk_id("...") == "desk"
    o = options()
    assert (o.desk_id, o.base_topic, o.client_id, o.node_id) == ("desk-12", "deskpi/desk-12", "deskpi-desk-12",
                                                                 "deskpi_desk-12")
    assert (o.availability_topic, o.event_topic) == ("deskpi/desk-12/availability", "deskpi/desk-12/event")
    assert options(base_topic="Office/Desk.3").node_id == "office_desk_3"


def test_the_password_comes_from_its_own_file(tmp_path):
    f = tmp_path / "pw"
    f.write_text("s3cret\n")
    assert read_password(str(f)) == "s3cret"
    assert options(username="desk", password_file=str(f)).password == "s3cret"
    f.write_text("")
    with pytest.raises(MqttSetupError, match="empty"):
        read_password(str(f))
    with pytest.raises(MqttSetupError, match="cannot read it"):
        read_password(str(tmp_path / "missing"))


# ------------------------------------------------------------------------------------ outbox

def test_the_outbox_keeps_the_newest_message_per_topic_and_stays_bounded():
    box = Outbox(max_waiting=3)
    for i in range(100):
        box.put("desk/height", str(i), retain=True)
    box.put("desk/state", "moving", retain=True)
    box.put("desk/event", "a")
    box.put("desk/event2", "b")                 # the fourth topic: the oldest waiting one goes
    assert [(m.topic, m.payload) for m in box.take()] == [("desk/state", "moving"), ("desk/event", "a"),
                                                          ("desk/event2", "b")]
    assert box.take() == [] and box.dropped == 100
    box.requeue_retained()                      # after a reconnect: the newest retained state of each topic
    assert {(m.topic, m.payload) for m in box.take()} == {("desk/height", "99"), ("desk/state", "moving")}


# ------------------------------------------------------------------------------------ states

class Emitted(list):
    def __call__(self, level, payload):
        self.append((level, payload))

    def of(self, level):
        return [p for lv, p in self if lv == level]


EDGES = (850.0, 950.0)


def test_heights_go_out_on_2_mm_changes_at_most_5_a_second_while_moving():
    out = Emitted()
    tr = StateTracker(out)
    tr.update(0.0, 740.0, "idle", None, EDGES)
    assert out.of("height") == ["74.0"] and out.of("state") == ["idle"] and out.of("posture") == ["sitting"]
    t, h = 1.0, 740.0
    while t < 3.0:                              # 30 mm/s, a reading every 25 ms
        t, h = t + 0.025, h + 0.75
        tr.update(t, h, "moving_up", None, EDGES)
    moving = out.of("height")[1:]
    assert 8 <= len(moving) <= 11               # 2 s at 5 a second (the first one at once)
    values = [float(p) * 10 for p in moving]
    assert all(b - a >= 2.0 - 1e-6 for a, b in zip(values, values[1:], strict=False))
    assert out.of("moving") == ["OFF", "ON"] and out.of("state") == ["idle", "moving"]
    tr.update(t + 0.01, h + 0.4, "idle", None, EDGES)          # comes to rest 0.4 mm further: sent at once
    assert out.of("height")[-1] == f"{(h + 0.4) / 10:.1f}" and out.of("moving")[-1] == "OFF"
    n = len(out.of("height"))
    tr.update(t + 0.5, h + 0.4, "idle", None, EDGES)           # unchanged at rest: nothing more
    tr.update(t + 1.2, h + 1.2, "idle", None, EDGES)           # settled a little: sent once more
    tr.update(t + 1.5, h + 1.6, "idle", None, EDGES)           # noise below 2 mm at rest: nothing
    assert len(out.of("height")) == n + 1


def test_posture_state_and_fault_go_out_when_they_change():
    out = Emitted()
    tr = StateTracker(out)
    tr.update(0.0, 1000.0, "idle", None, EDGES)
    tr.update(0.1, 1000.0, "fault", "the height sensor stopped answering", EDGES)
    tr.update(0.2, 1000.0, "fault", "the height sensor stopped answering", EDGES)
    assert out.of("posture") == ["standing"] and out.of("state") == ["idle", "fault"]
    assert out.of("fault") == ["OFF", "ON"]
    assert [json.loads(p) for p in out.of("fault/attributes")] == [
        {"message": None}, {"message": "the height sensor stopped answering"}]
    assert [lv for lv, _ in out if lv.startswith("fault")][-2:] == ["fault/attributes", "fault"]
    tr.update(0.3, None, "idle", None, EDGES)                  # no fresh reading: no height, no posture
    assert out.of("height") == ["100.0"] and (posture(900, EDGES), posture(849, EDGES)) == ("between", "sitting")


# ------------------------------------------------------------------------------------ discovery

INFO = discovery.DeskInfo(min_mm=640, max_mm=1260, sw_version="0.1.0", configuration_url="http://desk-12:8080/",
                          users=("Ada", "Bo"))


def test_discovery_describes_one_device_with_its_entities():
    o = options()
    msgs = dict(discovery.messages(o, INFO))
    docs = {t: json.loads(p) for t, p in msgs.items() if p}
    assert len(docs) == 11 and len({d["unique_id"] for d in docs.values()}) == 11
    number = docs["homeassistant/number/deskpi_desk-12_target_height/config"]
    assert (number["min"], number["max"], number["step"], number["command_topic"]) == (
        64.0, 126.0, 0.1, "deskpi/desk-12/height/set")
    for d in docs.values():
        assert d["device"] == {"identifiers": ["deskpi_desk-12"], "name": "Desk desk-12", "manufacturer": "deskpi",
                               "model": INFO.model, "sw_version": "0.1.0",
                               "configuration_url": "http://desk-12:8080/"}
        assert d["availability"][0]["topic"] == "deskpi/desk-12/availability"
    # Without publish_personal, anything personal an earlier run left is removed (empty retained payloads).
    assert msgs["homeassistant/select/deskpi_desk-12_active_user/config"] == ""
    assert msgs["deskpi/desk-12/standing_minutes"] == ""


def test_personal_entities_only_with_publish_personal():
    docs = {t: json.loads(p) for t, p in discovery.messages(options(publish_personal=True), INFO) if p}
    select = docs["homeassistant/select/deskpi_desk-12_active_user/config"]
    assert select["options"] == ["Ada", "Bo"] and select["command_topic"] == "deskpi/desk-12/user/set"
    assert docs["homeassistant/sensor/deskpi_desk-12_standing_today/config"]["unit_of_measurement"] == "min"
    assert len(docs) == 14


# ------------------------------------------------------------------------------------ commands

class FakeDesk:
    def __init__(self, *, fault=None, locked=False, refuse=None):
        self.limits = (640.0, 1260.0)
        self.loop = SimpleNamespace(lock=threading.RLock(), ctrl=SimpleNamespace(
            fault=None if fault is None else SimpleNamespace(message=fault)))
        self.arbiter = SimpleNamespace(locked=locked)
        self.refuse = refuse
        self.calls = []
        self.store = None

    def stop(self, source):
        self.calls.append(("stop", source))

    def move_to(self, mm, source, detail=""):
        if self.refuse:
            raise MotionRefused(self.refuse)
        self.calls.append(("move", mm, source, detail))

    def recall_preset(self, slot, source):
        self.calls.append(("recall", slot, source))
        return 1100.0


def run(desk, topic, payload, *, presence=None, **mqtt):
    events = []
    c = Commands(options(**mqtt), desk, event=events.append, presence=lambda: presence)
    c.handle(f"deskpi/desk-12/{topic}", payload.encode() if isinstance(payload, str) else payload)
    assert len(events) == 1
    return events[0]


def test_stop_always_works_and_nothing_else_moves_without_allow_commands():
    desk = FakeDesk()
    assert run(desk, "stop/set", "")["event"] == "accepted"
    for topic, payload in (("height/set", "100"), ("preset/1/set", "PRESS")):
        ev = run(desk, topic, payload)
        assert ev["event"] == "refused" and "allow_commands = false" in ev["reason"]
    assert desk.calls == [("stop", Source.MQTT)]


def test_allowed_moves_go_through_the_arbiter_as_mqtt():
    desk = FakeDesk()
    assert run(desk, "height/set", " 105.5 ", allow_commands=True) == {
        "event": "accepted", "command": "height/set", "target_cm": 105.5}
    assert run(desk, "preset/2/set", "PRESS", allow_commands=True)["target_cm"] == 110.0
    assert desk.calls == [("move", 1055.0, Source.MQTT, "mqtt"), ("recall", 2, Source.MQTT)]


@pytest.mark.parametrize(("desk", "payload", "presence", "says"), [
    (FakeDesk(), "150", None, "height 150 cm is outside this desk's limits 64-126 cm"),
    (FakeDesk(fault="the motor stalled"), "100", None, "the desk has a fault: the motor stalled"),
    (FakeDesk(locked=True), "100", None, "child-locked"),
    (FakeDesk(), "100", False, "nobody is at the desk"),
    (FakeDesk(refuse="the desk is being moved by the desk's buttons"), "100", True, "moved by the desk's buttons"),
])
def test_moves_follow_the_rules_of_automatic_moves(desk, payload, presence, says):
    ev = run(desk, "height/set", payload, presence=presence, allow_commands=True)
    assert ev["event"] == "refused" and says in ev["reason"], ev
    assert desk.calls == []


@pytest.mark.parametrize("payload", [b"\xff\xfe", b"tall", b"inf", b"1" * 300, b""])
def test_malformed_payloads_are_ignored(payload, caplog):
    desk = FakeDesk()
    ev = run(desk, "height/set", payload, allow_commands=True)
    assert ev["event"] == "ignored" and desk.calls == []
    assert "ignored" in caplog.text


@pytest.mark.parametrize("payload", [b"\xff", b"x" * 300, b"", b"PRESS"])
@pytest.mark.parametrize("allow", [False, True])
def test_stop_works_with_any_payload(payload, allow):
    """The contract: `stop/set` takes any payload; too long or not UTF-8 must not keep the desk moving."""
    desk = FakeDesk()
    assert run(desk, "stop/set", payload, allow_commands=allow) == {"event": "accepted", "command": "stop/set"}
    assert desk.calls == [("stop", Source.MQTT)]


@pytest.mark.parametrize(("topic", "payload"), [("height/set", "110"), ("preset/1/set", "PRESS"),
                                                ("height/set", "tall")])
def test_a_retained_command_never_moves_the_desk(topic, payload, caplog):
    """The broker replays a retained message at every connect: carried out, it would move the desk at every
    start and reconnect of the daemon."""
    desk = FakeDesk()
    events = []
    c = Commands(options(allow_commands=True), desk, event=events.append, presence=lambda: True)
    for _ in range(3):                                         # three reconnects
        c.handle(f"deskpi/desk-12/{topic}", payload.encode(), retain=True)
    assert desk.calls == []
    assert [e["event"] for e in events] == ["refused"] * 3
    assert "retained" in events[0]["reason"] and "without retain" in events[0]["reason"]
    assert events[0]["value"] == payload
    assert len([r for r in caplog.records if "retained" in r.getMessage()]) == 1   # logged once, answered each time


def test_a_retained_stop_still_stops():
    desk = FakeDesk()
    events = []
    Commands(options(), desk, event=events.append).handle("deskpi/desk-12/stop/set", b"\xff" * 300, retain=True)
    assert desk.calls == [("stop", Source.MQTT)] and events == [{"event": "accepted", "command": "stop/set"}]


@pytest.mark.parametrize(("sent", "stored"), [("ZOË", "Zoë"), ("bob ", "Bob"), ("Ｂｏｂ", "Bob")])
def test_the_active_user_is_answered_in_the_stored_spelling(tmp_path, sent, stored):
    """The select's state must be one of its options (the stored names), whatever spelling matched."""
    from deskpi.store import Store, db_path

    desk = FakeDesk()
    with Store.open(db_path(tmp_path)) as store:
        for name in ("Zoë", "Bob"):
            store.add_user(name)
        desk.store = store
        ev = run(desk, "user/set", sent, allow_commands=True, publish_personal=True)
        assert ev == {"event": "accepted", "command": "user/set", "user": stored}
        assert store.get_active_user().name == stored


def test_a_flood_of_bad_commands_is_logged_a_few_times_then_counted(caplog):
    now = [1000.0]
    events = []
    budget = LogBudget(burst=5, window_s=60, clock=lambda: now[0])
    c = Commands(options(), FakeDesk(), event=events.append, budget=budget)
    caplog.set_level("INFO", logger="deskpi.integrations.mqtt.commands")
    for i in range(10_000):
        c.handle("deskpi/desk-12/height/set", b"\xff" if i % 2 else b"100")    # malformed, refused
    assert len(events) == 10_000                                # every one is still answered
    assert len(caplog.records) == 5
    now[0] += 61
    c.budget.summary()
    assert len(caplog.records) == 6 and "9995 more" in caplog.records[-1].getMessage()
    c.budget.summary()                                          # nothing held back since: nothing said
    c.handle("deskpi/desk-12/height/set", b"\xff")
    assert len(caplog.records) == 7 and "ignored" in caplog.records[-1].getMessage()


def test_a_failing_desk_is_answered_not_raised():
    class Broken(FakeDesk):
        def move_to(self, *a, **k):
            raise RuntimeError("boom")

    ev = run(Broken(), "height/set", "100", allow_commands=True)
    assert ev["event"] == "refused" and "could not carry it out" in ev["reason"]


# ------------------------------------------------------------------------------------ the daemon

def test_mqtt_sits_below_the_phone_and_the_buttons(tmp_path):
    assert Source.SCHEDULE < Source.MQTT < Source.REMOTE < Source.BUTTON
    with running_sim_daemon(tmp_path / "data") as d:
        arb = d.parts.arbiter
        lo, hi = d.settings.desk.min_mm, d.settings.desk.max_mm
        arb.move_to(hi - 50, Source.REMOTE, "phone")
        with pytest.raises(MotionRefused, match="being moved by a remote request; home automation"):
            arb.move_to(lo + 50, Source.MQTT, "mqtt")
        arb.stop(Source.MQTT)                        # but its Stop always works
        wait_until(lambda: not d.parts.controller.busy, 10, "the stop")
        arb.move_to(hi - 50, Source.MQTT, "mqtt")
        arb.move_to(lo + 50, Source.REMOTE, "phone")  # a person takes over from an automation
        assert arb.owner is Source.REMOTE
        arb.stop(Source.REMOTE)
        wait_until(lambda: len(d.parts.store.list_audit(source="mqtt", limit=5)) >= 2, 10, "the audit entries")
        assert [(e.action, e.source) for e in d.parts.store.list_audit(source="mqtt")] == [
            ("move", "mqtt"), ("stop", "mqtt")]


def test_the_desk_runs_without_mqtt_when_it_cannot_be_set_up(tmp_path, caplog, monkeypatch):
    settings = from_mapping({"mqtt": {"enabled": True, "username": "desk",
                                      "password_file": str(tmp_path / "no-such-file")}})
    with running_sim_daemon(tmp_path / "a", settings=settings) as d:
        assert d.parts.mqtt is None and d.parts.loop.ctrl.height_mm() is not None
    assert "MQTT unavailable" in caplog.text and "no-such-file" in caplog.text
    monkeypatch.setitem(__import__("sys").modules, "paho", None)
    monkeypatch.setitem(__import__("sys").modules, "paho.mqtt", None)
    monkeypatch.setitem(__import__("sys").modules, "paho.mqtt.client", None)
    with running_sim_daemon(tmp_path / "b", settings=from_mapping({"mqtt": {"enabled": True}})) as d:
        assert d.parts.mqtt is None
    assert "pip install 'deskpi[mqtt]'" in caplog.text


def test_an_unreachable_broker_costs_the_desk_nothing(tmp_path):
    from deskpi.bench.broker import free_port

    settings = from_mapping({"mqtt": {"enabled": True, "host": "127.0.0.1", "port": free_port()}})
    with running_sim_daemon(tmp_path / "data", settings=settings) as d:
        bridge = d.parts.mqtt
        wait_until(lambda: bridge.link.problem is not None, 15, "the link to say why it is not connected")
        assert "cannot reach the broker" in bridge.link.problem and not bridge.link.connected.is_set()
        assert len(bridge.outbox) <= bridge.outbox.max_waiting
        d.parts.service.move_to(900, Source.REMOTE, "test")
        wait_until(lambda: not d.parts.controller.busy, 30, "the move")
        assert abs(d.parts.controller.height_mm() - 900) < 5


def test_with_a_presence_sensor_mqtt_moves_need_someone_there(tmp_path):
    from deskpi.bench.broker import free_port

    settings = from_mapping({"habits": {"pir_pin": 4}, "mqtt": {
        "enabled": True, "host": "127.0.0.1", "port": free_port(), "allow_commands": True, "base_topic": "t/desk"}})
    with running_sim_daemon(tmp_path / "data", settings=settings) as d:
        bridge, pir = d.parts.mqtt, d.parts.factory.pin(4)
        wait_until(lambda: d.parts.habits.state.pir, 10, "the PIR's state at start")

        def answer(payload: str) -> dict:
            bridge.outbox.take()
            bridge.commands.handle("t/desk/height/set", payload.encode())
            return json.loads(next(m.payload for m in bridge.outbox.take() if m.topic == "t/desk/event"))

        refused = answer("95")
        assert refused["event"] == "refused" and "nobody is at the desk" in refused["reason"]
        assert not d.parts.controller.busy
        pir.drive_high()
        wait_until(lambda: d.parts.habits.state.present is True, 10, "presence from the PIR")
        assert answer("95") == {"event": "accepted", "command": "height/set", "target_cm": 95.0}
        assert d.parts.arbiter.owner is Source.MQTT
        d.parts.service.stop()


def test_the_personal_standing_figures_wait_until_the_habits_follow_the_person_at_the_desk():
    """For a second after someone new comes to the desk the habits' figures are still the last person's:
    they are not published under the newcomer's name."""
    from types import SimpleNamespace

    from deskpi.integrations.mqtt.bridge import MqttBridge

    sent: list[tuple[str, str]] = []
    snap = {"user": "Ada", "status": {"standing_min": 30.0, "goal_min": 80}}
    bridge = SimpleNamespace(parts=SimpleNamespace(habits=SimpleNamespace(snapshot=lambda: snap)), _personal={},
                             _state=lambda level, payload: sent.append((level, payload)))
    store = SimpleNamespace(get_active_user=lambda: SimpleNamespace(name="Nia"))
    MqttBridge._personal_states(bridge, store)                  # type: ignore[arg-type]
    assert sent == [("user", "Nia")]
    snap.update(user="nia", status={"standing_min": 0.0, "goal_min": 60})   # followed (names ignore case)
    MqttBridge._personal_states(bridge, store)                  # type: ignore[arg-type]
    assert [level for level, _ in sent[1:]] == ["standing_minutes", "standing_goal"] and sent[-1][1] == "60.0"
