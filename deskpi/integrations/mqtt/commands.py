"""Commands from MQTT: Stop always; moves only when the desk's admin allowed them, and then only
under the rules automatic moves follow.

With ``allow_commands = false`` (the default) nothing from MQTT moves the desk: every command
but Stop is refused, and the refusal says why on ``<base_topic>/event``. With it on, a move
goes through the arbiter as Source.MQTT (below the phone and the buttons, so a person takes
over at once), is refused during a fault or the child lock, outside the desk's limits, and
when a presence sensor is fitted and sees nobody; accepted moves are audited with source
`mqtt` by the arbiter. A malformed payload is logged and ignored. Nothing here raises: it runs
on the MQTT client's thread, which must go on serving the connection.

A retained command is refused, Stop excepted: the broker hands it out again at every connect, so it
would move the desk at every start and every reconnect of the daemon, long after anyone asked.
"""
from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from deskpi.core.faults import MotionRefused
from deskpi.core.types import Source
from deskpi.integrations.mqtt.discovery import PRESET_SLOTS
from deskpi.integrations.mqtt.options import MqttOptions

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256
DETAIL = "mqtt"                 # the audit trail's "why" for motion asked for over MQTT
OFF_REASON = ("commands from home automation are turned off on this desk ([mqtt] allow_commands = false); "
              "only Stop works")
RETAINED_REASON = ("a retained command (published with retain=true) is not carried out: the broker replays it "
                   "at every connect, so it would move the desk again at every start and reconnect; publish "
                   "commands without retain, and clear this one with an empty retained message on its topic "
                   "(mosquitto_pub -r -n -t TOPIC); only Stop is carried out retained")
LOG_BURST = 5                   # refusals logged one by one per LOG_WINDOW_S; the rest are counted
LOG_WINDOW_S = 60.0
RETAINED_SEEN_MAX = 64          # retained refusals already logged (a flood of new topics must not grow it)


class Malformed(ValueError):
    """A payload that is not a command at all (logged and ignored)."""


class Refused(Exception):
    """A well-formed command the desk will not carry out; the message says why."""


class LogBudget:
    """The first `burst` refusals of each `window_s` are logged one by one, then one line with the count:
    anyone who may publish on the broker could otherwise fill the SD card with the desk's log."""

    def __init__(self, burst: int = LOG_BURST, window_s: float = LOG_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()           # paho's thread spends, the publisher thread sums up
        self._started = clock()
        self._used = 0
        self._held_back = 0

    def log(self, level: int, msg: str, *args: Any) -> None:
        self.summary()
        with self._lock:
            allowed = self._used < self.burst
            if allowed:
                self._used += 1
            else:
                self._held_back += 1
        if allowed:
            log.log(level, msg, *args)

    def summary(self) -> None:
        """Say how many were held back once their window is over (also called periodically, so the
        count of a flood that has ended is not kept until the next refusal)."""
        with self._lock:
            now = self.clock()
            if now - self._started < self.window_s:
                return
            held, seconds = self._held_back, now - self._started
            self._started, self._used, self._held_back = now, 0, 0
        if held:
            log.warning("MQTT: %d more refused or malformed commands in the last %.0f s were not logged one by one "
                        "(each was answered on the event topic)", held, seconds)


class Commands:
    def __init__(self, opts: MqttOptions, service: Any, *, event: Callable[[dict], None],
                 presence: Callable[[], bool | None] = lambda: None, budget: LogBudget | None = None) -> None:
        """`presence()`: None when no presence sensor is fitted, else whether it sees someone."""
        self.opts = opts
        self.service = service
        self.event = event
        self.presence = presence
        self.budget = budget or LogBudget()
        self._retained_logged: set[tuple[str, bytes]] = set()

    def topics(self) -> list[str]:
        t = self.opts.topic
        out = [t("stop", "set"), t("height", "set"), t("preset", "+", "set")]
        if self.opts.publish_personal:
            out.append(t("user", "set"))
        return out

    def handle(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """`retain`: the broker handed out a retained message (at subscribe), not one just published."""
        command = topic[len(self.opts.base_topic) + 1:] if topic.startswith(self.opts.base_topic + "/") else topic
        try:
            if command == "stop/set":
                # Before the payload is looked at: Stop takes any payload, and stopping is always safe,
                # retained or not.
                self.service.stop(Source.MQTT)
                reply: dict = {}
            else:
                if retain:
                    raise Refused(RETAINED_REASON)
                if len(payload) > MAX_PAYLOAD_BYTES:
                    raise Malformed(f"{len(payload)} bytes; a command is at most {MAX_PAYLOAD_BYTES}")
                try:
                    text = payload.decode("utf-8").strip()
                except UnicodeDecodeError:
                    raise Malformed("not UTF-8 text") from None
                reply = self._dispatch(command, text)
        except Malformed as exc:
            self.budget.log(logging.WARNING, "MQTT command on %s ignored: %s (payload %r)", topic, exc, payload[:40])
            self.event({"event": "ignored", "command": command, "reason": str(exc)})
        except Refused as exc:
            if retain:
                self._log_retained(topic, payload)
            else:
                self.budget.log(logging.INFO, "MQTT command on %s refused: %s", topic, exc)
            self.event({"event": "refused", "command": command, "value": _shown(payload), "reason": str(exc)})
        except Exception as exc:
            log.exception("MQTT command on %s failed", topic)
            self.event({"event": "refused", "command": command, "value": _shown(payload),
                        "reason": f"the desk could not carry it out ({type(exc).__name__})"})
        else:
            self.event({"event": "accepted", "command": command, **reply})

    def _log_retained(self, topic: str, payload: bytes) -> None:
        """Once per topic and payload: the broker replays the same message at every reconnect."""
        key = (topic, payload[:40])
        if key in self._retained_logged:
            return
        if len(self._retained_logged) < RETAINED_SEEN_MAX:
            self._retained_logged.add(key)
        self.budget.log(logging.WARNING, "MQTT command on %s refused: it is a retained message (payload %r); "
                        "clear it on the broker with an empty retained message", topic, payload[:40])

    # -- the commands -----------------------------------------------------------------------------
    def _dispatch(self, command: str, text: str) -> dict:
        levels = command.split("/")
        known = (command in ("height/set", "user/set")
                 or (len(levels) == 3 and levels[0] == "preset" and levels[2] == "set"))
        if not known:
            raise Malformed(f"no such command topic; commands are {', '.join(self.topics())}")
        if not self.opts.allow_commands:
            raise Refused(OFF_REASON)
        if command == "height/set":
            return self._move(_centimetres(text))
        if command == "user/set":
            return self._user(text)
        return self._preset(levels[1])

    def _move(self, target_cm: float) -> dict:
        lo, hi = self.service.limits
        target_mm = round(target_cm * 10, 1)
        if not lo <= target_mm <= hi:
            raise Refused(f"height {target_cm:g} cm is outside this desk's limits "
                          f"{lo / 10:g}-{hi / 10:g} cm")
        self._may_move()
        try:
            self.service.move_to(target_mm, Source.MQTT, DETAIL)
        except MotionRefused as exc:
            raise Refused(str(exc)) from None
        return {"target_cm": round(target_cm, 1)}

    def _preset(self, slot_text: str) -> dict:
        if slot_text not in {str(n) for n in PRESET_SLOTS}:
            raise Malformed(f"preset {slot_text!r}: the presets are 1-{PRESET_SLOTS[-1]}")
        slot = int(slot_text)
        self._may_move()
        try:
            height = self.service.recall_preset(slot, Source.MQTT)
        except MotionRefused as exc:
            raise Refused(str(exc)) from None
        return {"preset": slot, "target_cm": round(height / 10, 1)}

    def _user(self, name: str) -> dict:
        if not self.opts.publish_personal:
            raise Refused("the active user is not shared with home automation ([mqtt] publish_personal = false)")
        store = self.service.store
        user = None if store is None else store.get_user(name)
        if user is None:
            raise Refused(f"user {name[:64]!r}: no such user on this desk")
        # The stored spelling: names match ignoring case and width, but the select's state must be
        # one of its options.
        store.set_active_user(user.name)
        return {"user": user.name}

    def _may_move(self) -> None:
        """The rules an automatic move follows, checked before the arbiter is asked."""
        loop = self.service.loop
        with loop.lock:
            fault = loop.ctrl.fault
        if fault is not None:
            raise Refused(f"the desk has a fault: {fault.message}; clear it at the desk first")
        if self.service.arbiter.locked:
            raise Refused("the desk is child-locked; only Stop works until it is unlocked at the desk")
        present = self.presence()
        if present is False:
            raise Refused("nobody is at the desk (the presence sensor sees no one); "
                          "home automation moves the desk only with someone there")


def _centimetres(text: str) -> float:
    """A height in cm: a plain number such as 105 or 105.5 (Home Assistant's number entity sends that)."""
    try:
        value = float(text)
    except ValueError:
        raise Malformed(f"{text[:40]!r} is not a number; send the height in cm, e.g. 105.5") from None
    if not math.isfinite(value):
        raise Malformed(f"{text[:40]!r} is not a height; send the height in cm, e.g. 105.5")
    return value


def _shown(payload: bytes) -> str:
    return payload[:40].decode("utf-8", errors="replace")


def event_payload(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))
