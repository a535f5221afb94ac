"""The desk on MQTT: states out, Home Assistant discovery, commands in.

Built by the daemon only when ``[mqtt] enabled = true``. Three places run its code:

- the control loop, after every tick (`tick`): a few comparisons and, on a change, a message
  into the Outbox; never a lock the loop does not already hold, never I/O;
- the publisher thread (`refresh`, every few seconds): the posture edges and the people from
  the store, discovery when they change, and the personal states when they are shared;
- paho's network thread: commands (deskpi/integrations/mqtt/commands.py).
"""
from __future__ import annotations

import json
import logging
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from deskpi import __version__
from deskpi.integrations.mqtt import discovery
from deskpi.integrations.mqtt.commands import Commands, event_payload
from deskpi.integrations.mqtt.link import MqttLink
from deskpi.integrations.mqtt.options import MqttOptions
from deskpi.integrations.mqtt.outbox import Outbox
from deskpi.integrations.mqtt.states import StateTracker
from deskpi.util.checks import same_person

log = logging.getLogger(__name__)

DEFAULT_EDGES_MM = (850.0, 950.0)       # the store's DEFAULT_POSTURE_EDGES_MM, until the store is read


class MqttBridge:
    def __init__(self, settings: Any, parts: Any, *, sim: bool = False, hostname: str | None = None) -> None:
        self.opts = MqttOptions.from_settings(settings.mqtt, hostname)
        self.parts = parts
        self.service = parts.service
        self.loop = parts.loop
        self.sim = sim
        self.outbox = Outbox()
        self.tracker = StateTracker(self._state)
        self._edges: tuple[float, ...] = DEFAULT_EDGES_MM
        self._info: discovery.DeskInfo | None = None
        self._personal: dict[str, str] = {}
        self.configuration_url: str | None = None
        pir_fitted = settings.habits.pir_pin is not None
        self.commands = Commands(self.opts, self.service, event=self._event,
                                 presence=(lambda: self._someone_there()) if pir_fitted else (lambda: None))
        self.link = MqttLink(self.opts, self.outbox, on_message=self.commands.handle,
                             subscriptions=self.commands.topics, periodic=self.refresh)

    # -- wiring -----------------------------------------------------------------------------------
    def attach(self) -> None:
        """Run `tick` after every control-loop tick, after what already runs there."""
        inner = self.loop.on_tick

        def on_tick(cmd) -> None:
            if inner is not None:
                inner(cmd)
            self.tick()

        self.loop.on_tick = on_tick

    def start(self, web_url: str | None = None) -> None:
        self.configuration_url = reachable_url(web_url)
        self.refresh()
        self.link.start()

    def close(self) -> None:
        self.link.close()

    # -- on the control loop ----------------------------------------------------------------------
    def tick(self) -> None:
        try:
            ctrl = self.loop.ctrl
            now = self.loop.clock()
            height = ctrl.height_mm() if ctrl.estimator.is_fresh(now) else None
            fault = ctrl.fault
            self.tracker.update(now, height, ctrl.state.value, None if fault is None else fault.message,
                                self._edges)
        except Exception:
            log.exception("MQTT: could not read the desk's state")       # never the control loop's problem

    def _state(self, level: str, payload: str) -> None:
        self.outbox.put(self.opts.topic(level), payload, retain=True)

    def _event(self, doc: dict) -> None:
        self.outbox.put(self.opts.event_topic, event_payload(doc))
        user = doc.get("user") if doc.get("event") == "accepted" else None
        if user is not None and self._personal.get("user") != user:     # the select shows it now, not in 5 s
            self._personal["user"] = user
            self._state("user", user)

    # -- on the publisher thread ------------------------------------------------------------------
    def refresh(self) -> None:
        """What comes from the store: posture edges, the people (for discovery), the personal states."""
        self.commands.budget.summary()          # a flood of bad commands that has ended still gets its count
        store = self.parts.store
        users: tuple[str, ...] = ()
        if store is not None:
            self._edges = tuple(store.posture_edges_mm) or DEFAULT_EDGES_MM
            if self.opts.publish_personal:
                users = tuple(u.name for u in store.list_users())
        lo, hi = self.service.limits
        info = discovery.DeskInfo(min_mm=lo, max_mm=hi, sw_version=__version__,
                                  configuration_url=self.configuration_url,
                                  model="deskpi (simulated desk)" if self.sim else "deskpi sit-stand desk controller",
                                  users=users)
        if info != self._info:
            self._info = info
            for topic, payload in discovery.messages(self.opts, info):
                self.outbox.put(topic, payload, retain=True)
        if self.opts.publish_personal:
            self._personal_states(store)

    def _personal_states(self, store: Any) -> None:
        active = None if store is None else store.get_active_user()
        states = {"user": "None" if active is None else active.name}
        habits = self.parts.habits
        snap = habits.snapshot() if habits is not None else None
        # For a second after someone new comes to the desk the habits' figures are still the last person's.
        if snap is not None and same_person(snap.get("user"), None if active is None else active.name):
            status = snap["status"]
            states["standing_minutes"] = _number(status.get("standing_min"))
            states["standing_goal"] = _number(status.get("goal_min"))
        for level, payload in states.items():
            if self._personal.get(level) != payload:
                self._personal[level] = payload
                self._state(level, payload)

    # -- for commands -----------------------------------------------------------------------------
    def _someone_there(self) -> bool:
        habits = self.parts.habits
        pir = None if habits is None else habits.pir
        if pir is None:
            return False            # fitted but not working: nobody can be seen, so nobody is assumed
        return bool(pir.motion_detected) or habits.state.present is True

    def status(self) -> dict:
        return {"connected": self.link.connected.is_set(), "base_topic": self.opts.base_topic,
                "allow_commands": self.opts.allow_commands, "problem": self.link.problem,
                "connects": self.link.connects}


def reachable_url(url: str | None) -> str | None:
    """The phone page's address as another machine reaches it: a wildcard bind becomes the host name."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host in ("0.0.0.0", "::", ""):
        netloc = socket.gethostname() + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
    return url


def _number(value: Any) -> str:
    return "None" if value is None else json.dumps(round(float(value), 1))
