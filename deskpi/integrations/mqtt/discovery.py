"""Home Assistant MQTT discovery: the retained config messages that make the desk's entities appear.

One message per entity at ``<discovery_prefix>/<component>/<object id>/config``, each with the same
`device` block (so Home Assistant shows one device), the desk's availability topic, and the state
and command topics the bridge publishes and listens to. Pure: the payloads are built from values,
so tests check exactly what Home Assistant receives.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from deskpi.integrations.mqtt.options import MqttOptions

POSTURES = ("sitting", "standing", "between")
MOTION_STATES = ("idle", "moving", "settling", "fault")
PRESET_SLOTS = (1, 2, 3, 4)
#: Entities that carry something about a person: only with publish_personal.
PERSONAL = (("select", "active_user"), ("sensor", "standing_today"), ("sensor", "standing_goal"))
#: The topics of those entities' states, emptied (retained) when publish_personal is off.
PERSONAL_STATE_LEVELS = ("user", "standing_minutes", "standing_goal")


@dataclass(frozen=True)
class DeskInfo:
    min_mm: float
    max_mm: float
    sw_version: str
    configuration_url: str | None
    model: str = "deskpi sit-stand desk controller"
    users: tuple[str, ...] = field(default=())


def _device(opts: MqttOptions, info: DeskInfo) -> dict:
    device = {"identifiers": [opts.node_id], "name": f"Desk {opts.desk_id}", "manufacturer": "deskpi",
              "model": info.model, "sw_version": info.sw_version}
    if info.configuration_url:
        device["configuration_url"] = info.configuration_url
    return device


def config_topic(opts: MqttOptions, component: str, key: str) -> str:
    return f"{opts.discovery_prefix}/{component}/{opts.node_id}_{key}/config"


def entities(opts: MqttOptions, info: DeskInfo) -> list[tuple[str, str, dict]]:
    """(component, key, config without the shared parts) of every entity this desk offers."""
    t = opts.topic
    cm = {"unit_of_measurement": "cm", "device_class": "distance"}
    out: list[tuple[str, str, dict]] = [
        ("sensor", "height", {"name": "Height", "state_topic": t("height"), "state_class": "measurement",
                              "suggested_display_precision": 1, **cm}),
        ("sensor", "posture", {"name": "Posture", "state_topic": t("posture"), "device_class": "enum",
                               "options": list(POSTURES), "icon": "mdi:human-male-height"}),
        ("sensor", "motion_state", {"name": "Motion state", "state_topic": t("state"), "device_class": "enum",
                                    "options": list(MOTION_STATES)}),
        ("binary_sensor", "moving", {"name": "Moving", "state_topic": t("moving"), "device_class": "moving",
                                     "payload_on": "ON", "payload_off": "OFF"}),
        ("binary_sensor", "fault", {"name": "Fault", "state_topic": t("fault"), "device_class": "problem",
                                    "payload_on": "ON", "payload_off": "OFF",
                                    "json_attributes_topic": t("fault", "attributes")}),
        ("number", "target_height", {"name": "Target height", "state_topic": t("height"),
                                     "command_topic": t("height", "set"), "min": round(info.min_mm / 10, 1),
                                     "max": round(info.max_mm / 10, 1), "step": 0.1, "mode": "box", **cm}),
        ("button", "stop", {"name": "Stop", "command_topic": t("stop", "set"), "payload_press": "PRESS",
                            "icon": "mdi:stop-circle"}),
    ]
    out += [("button", f"preset_{n}", {"name": f"Preset {n}", "command_topic": t("preset", str(n), "set"),
                                       "payload_press": "PRESS", "icon": f"mdi:numeric-{n}-box"})
            for n in PRESET_SLOTS]
    if opts.publish_personal:
        out += [
            ("select", "active_user", {"name": "Active user", "state_topic": t("user"),
                                       "command_topic": t("user", "set"), "options": list(info.users),
                                       "icon": "mdi:account"}),
            ("sensor", "standing_today", {"name": "Standing today", "state_topic": t("standing_minutes"),
                                          "unit_of_measurement": "min", "device_class": "duration",
                                          "state_class": "measurement"}),
            ("sensor", "standing_goal", {"name": "Standing goal", "state_topic": t("standing_goal"),
                                         "unit_of_measurement": "min", "device_class": "duration"}),
        ]
    return out


def messages(opts: MqttOptions, info: DeskInfo) -> list[tuple[str, str]]:
    """(topic, payload) of every retained config message; an empty payload removes a personal entity
    (and its last state) that an earlier run with publish_personal may have left on the broker."""
    device = _device(opts, info)
    availability = [{"topic": opts.availability_topic, "payload_available": "online",
                     "payload_not_available": "offline"}]
    origin = {"name": "deskpi", "sw_version": info.sw_version}
    out = []
    for component, key, config in entities(opts, info):
        doc = {**config, "unique_id": f"{opts.node_id}_{key}", "availability": availability,
               "device": device, "origin": origin}
        out.append((config_topic(opts, component, key), json.dumps(doc, separators=(",", ":"))))
    if not opts.publish_personal:
        out += [(config_topic(opts, component, key), "") for component, key in PERSONAL]
        out += [(opts.topic(level), "") for level in PERSONAL_STATE_LEVELS]
    return out
