"""Small value types shared by the pure core and its adapters."""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Direction(enum.IntEnum):
    """Direction of travel; the value is the sign of the height change."""

    UP = 1
    DOWN = -1

    @property
    def opposite(self) -> Direction:
        return Direction.DOWN if self is Direction.UP else Direction.UP

    def __str__(self) -> str:
        return self.name.lower()


class EchoStatus(enum.Enum):
    """What one ping of the ultrasonic sensor produced.

    OK: an echo pulse of plausible width.
    LOST: the sensor answered with its timeout pulse (no echo came back: soft
    surface, bad angle). Normal now and then.
    SILENT: no pulse at all, or the echo line never fell (dead, unplugged, or a
    clone that latched its echo high). A working sensor never does this.
    """

    OK = "ok"
    LOST = "lost"
    SILENT = "silent"


@dataclass(frozen=True, slots=True)
class Reading:
    """One ping: when it was taken (seconds, monotonic) and the height it gave."""

    t: float
    height_mm: float | None
    status: EchoStatus = EchoStatus.OK

    @classmethod
    def ok(cls, t: float, height_mm: float) -> Reading:
        return cls(t, height_mm, EchoStatus.OK)

    @classmethod
    def lost(cls, t: float) -> Reading:
        return cls(t, None, EchoStatus.LOST)

    @classmethod
    def silent(cls, t: float) -> Reading:
        return cls(t, None, EchoStatus.SILENT)


@dataclass(frozen=True, slots=True)
class CurrentSample:
    """One reading of the motor supply current: when (seconds, monotonic) and how many amperes.

    Optional hardware (a shunt monitor such as an INA219 on the motor supply): a motor that
    stalls or pushes against something draws more current within milliseconds, long before
    the ultrasonic sensor can tell a stopped desk from a slow one.
    """

    t: float
    amps: float


class Source(enum.IntEnum):
    """Who asks; higher value wins. MQTT (a home automation system) sits below the phone and the
    buttons, so a person at the desk always takes over from an automation."""

    SCHEDULE = 1
    MQTT = 2
    REMOTE = 3
    BUTTON = 4

    @property
    def audit_name(self) -> str:
        return {Source.SCHEDULE: "schedule", Source.MQTT: "mqtt", Source.REMOTE: "web",
                Source.BUTTON: "button"}[self]

    @property
    def label(self) -> str:
        return {Source.SCHEDULE: "the schedule", Source.MQTT: "home automation (MQTT)",
                Source.REMOTE: "a remote request", Source.BUTTON: "the desk's buttons"}[self]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asked, for the audit trail, where the interface knows better than "whoever is at the desk".

    channel: how the request came in ("web" for the API, "cli" for the control socket); user: the person
    signed in (or behind an API token), None when the interface has none; remote: the address the request
    came from; via: how the person was recognised ("session" or "token").
    """

    channel: str
    user: str | None = None
    remote: str | None = None
    via: str | None = None
