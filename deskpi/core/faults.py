"""Faults: what went wrong, in words a person at the desk can act on."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class FaultKind(enum.Enum):
    SENSOR_DEAD = "sensor_dead"
    SENSOR_STALE = "sensor_stale"
    SENSOR_STUCK = "sensor_stuck"
    STALL = "stall"
    OBSTRUCTION = "obstruction"
    WRONG_DIRECTION = "wrong_direction"
    TRAVEL_TIMEOUT = "travel_timeout"
    DUTY_CYCLE = "duty_cycle"
    OUT_OF_LIMITS = "out_of_limits"
    INTERNAL = "internal"


#: What a motion check reports when it has seen enough: the fault, and what it saw, in words.
Finding = tuple[FaultKind, str]


_ADVICE = {
    FaultKind.SENSOR_DEAD: "check the height sensor's wiring and its 5 V supply",
    FaultKind.SENSOR_STALE: "check that nothing soft or angled is under the height sensor",
    FaultKind.SENSOR_STUCK: "the height sensor repeats one value; power-cycle it or check its wiring",
    FaultKind.STALL: "the desk did not move; check the motor supply and the control box",
    FaultKind.OBSTRUCTION: "something is in the way; clear it before moving again",
    FaultKind.WRONG_DIRECTION: "the motor wiring looks reversed; swap the up/down outputs in the config",
    FaultKind.TRAVEL_TIMEOUT: "the move took far longer than it should; check the desk and sensor",
    FaultKind.DUTY_CYCLE: "the motor needs to cool down before moving again",
    FaultKind.OUT_OF_LIMITS: "the desk went past its configured limits; check the sensor calibration",
    FaultKind.INTERNAL: "an internal error stopped the motor; see the log",
}


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    detail: str
    t: float
    height_mm: float | None = None

    @property
    def message(self) -> str:
        where = f" at {self.height_mm:.0f} mm" if self.height_mm is not None else ""
        return f"{self.kind.value}: {self.detail}{where} ({_ADVICE[self.kind]})"


class MotionRefused(ValueError):
    """A request for motion that was refused; the message says why and what is allowed."""
