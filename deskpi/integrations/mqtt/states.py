"""What the desk's state topics say, and when: decided on every control-loop tick, cheaply.

Heights go out on a change of at least 2 mm, at most 5 a second while the desk is busy,
when it comes to rest, and once more when it has settled (the resting estimate firms up
over the first readings). Everything else goes out when it changes. Pure: the clock and
the desk's values come in as arguments; `emit(level, payload)` hands a retained state on.
"""
from __future__ import annotations

import json
from collections.abc import Callable

MIN_CHANGE_MM = 2.0
BUSY_INTERVAL_S = 0.2           # at most 5 height messages a second while the desk moves
SETTLED_AFTER_S = 1.0           # the resting height is sent once more this long after the desk stopped

#: The controller's states as the web API names them (moving_up and moving_down are both "moving").
PUBLIC_STATE = {"idle": "idle", "moving_up": "moving", "moving_down": "moving", "settling": "settling",
                "fault": "fault"}


def posture(height_mm: float, edges_mm: tuple[float, ...]) -> str:
    """sitting / standing / between, with the same edges as the height log and the statistics."""
    if height_mm < min(edges_mm):
        return "sitting"
    if height_mm > max(edges_mm):
        return "standing"
    return "between"


def height_payload(height_mm: float) -> str:
    """Centimetres with one decimal, as a plain number (the contract of the height topic)."""
    return f"{height_mm / 10:.1f}"


class StateTracker:
    def __init__(self, emit: Callable[[str, str], None]) -> None:
        self.emit = emit
        self._sent: dict[str, str] = {}
        self._height_mm: float | None = None      # the last height sent
        self._height_t = float("-inf")
        self._rest_since: float | None = None
        self._settled_sent = False
        self._fault: str | None = None

    def _send(self, level: str, payload: str) -> None:
        if self._sent.get(level) != payload:
            self._sent[level] = payload
            self.emit(level, payload)

    def update(self, now: float, height_mm: float | None, state: str, fault: str | None,
               edges_mm: tuple[float, ...]) -> None:
        public = PUBLIC_STATE.get(state, state)
        busy = public in ("moving", "settling")
        if busy:
            self._rest_since = None
        elif self._rest_since is None:
            self._rest_since = now
            self._settled_sent = False
        if height_mm is not None:
            self._height(now, height_mm, busy)
            self._send("posture", posture(height_mm, edges_mm))
        self._send("state", public)
        self._send("moving", "ON" if public == "moving" else "OFF")
        if "fault" not in self._sent or fault != self._fault:
            self._fault = fault
            # The message first, so an automation that fires on the fault finds why in its attributes.
            self._send("fault/attributes", json.dumps({"message": fault}, separators=(",", ":")))
            self._send("fault", "ON" if fault is not None else "OFF")

    def _height(self, now: float, h: float, busy: bool) -> None:
        last = self._height_mm
        changed = last is None or abs(h - last) >= MIN_CHANGE_MM
        if busy:
            due = changed and now - self._height_t >= BUSY_INTERVAL_S
        else:
            rest = self._rest_since if self._rest_since is not None else now
            arrived = self._height_t < rest              # nothing sent since the desk came to rest
            settled = not self._settled_sent and now - rest >= SETTLED_AFTER_S
            if settled:
                self._settled_sent = True
            due = (changed and now - self._height_t >= BUSY_INTERVAL_S) or arrived or settled
        if due:
            self._height_mm = h
            self._height_t = now
            payload = height_payload(h)
            if self._sent.get("height") != payload:
                self._sent["height"] = payload
                self.emit("height", payload)
