"""HC-SR04 reader on gpiozero pins.

Why not gpiozero's DistanceSensor: it reports a median that goes on being
reported after the sensor dies, drops lost echoes silently, clips at 1 m by
default and can block forever. This reader pings on its own schedule and
reports every ping, good or bad, with the time the sound met the desk, so the
estimator can tell fresh from stale and a lost echo from a dead sensor.

Timing: the pulse width comes from the pin factory's edge timestamps (kernel
timestamps with lgpio), never from when Python got round to noticing an edge.
"""
from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from gpiozero import DigitalOutputDevice, InputDevice

from deskpi.core.types import Reading

log = logging.getLogger(__name__)

ORIENTATIONS = {
    # sensor on the desktop's underside looking at the floor: farther = higher
    "under_desk": 1,
    # sensor on the floor (or a foot) looking up at the desktop's underside
    "floor": 1,
    # sensor on the desktop looking up at a fixed reference (ceiling, shelf): farther = lower
    "ceiling": -1,
}

#: A pulse this long is the sensor's "no echo" timeout, not a distance (~5 m).
LOST_WIDTH_S = 0.030
#: A working sensor raises its echo line ~0.5 ms after the trigger; silence for
#: this long means no sensor is answering (the motor is cut on the first one).
RISE_TIMEOUT_S = 0.025
#: Longest we wait for the echo line to fall after a trigger.
ECHO_TIMEOUT_S = 0.1
#: How long we let the edge callback take to reach us. Whether the sensor answered in time is
#: judged on the edge's own timestamp (RISE_TIMEOUT_S), so a busy machine that delivers a good
#: echo late does not turn it into a dead-sensor alarm.
RISE_DELIVERY_S = 0.1


def speed_of_sound_m_s(temperature_c: float) -> float:
    return 331.3 + 0.606 * temperature_c


@dataclass(frozen=True)
class Mounting:
    """How the sensor is mounted: height = offset + sign * distance."""

    orientation: str = "under_desk"
    offset_mm: float = 0.0

    def __post_init__(self) -> None:
        if self.orientation not in ORIENTATIONS:
            raise ValueError(
                f"sensor orientation {self.orientation!r} is not one of {', '.join(sorted(ORIENTATIONS))}")
        if not math.isfinite(self.offset_mm):
            raise ValueError(f"sensor offset must be a finite number of mm, got {self.offset_mm!r}")

    def height(self, distance_mm: float) -> float:
        return self.offset_mm + ORIENTATIONS[self.orientation] * distance_mm


class UltrasonicSensor:
    """Pings an HC-SR04 every `interval_s` on its own thread and hands each Reading to `on_reading`."""

    def __init__(self, trigger_pin, echo_pin, *, mounting: Mounting | None = None, temperature_c: float = 20.0,
                 interval_s: float = 0.06, idle_interval_s: float | None = None,
                 on_reading: Callable[[Reading], None] | None = None,
                 pin_factory=None, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0.06 <= interval_s <= 1.0:
            raise ValueError(f"ping interval must be 0.06..1.0 s (the HC-SR04 needs 60 ms), got {interval_s}")
        if not -30.0 <= temperature_c <= 60.0:
            raise ValueError(f"air temperature must be -30..60 degC, got {temperature_c}")
        self.mounting = mounting or Mounting()
        self.c_mm_s = speed_of_sound_m_s(temperature_c) * 1000.0
        self.interval_s = interval_s
        # At rest nothing needs 16 pings a second; a few keep the height fresh
        # (three lost echoes in a row still fit inside the staleness bound).
        self.idle_interval_s = interval_s if idle_interval_s is None else max(idle_interval_s, interval_s)
        self._active = True
        self._wake = threading.Event()
        self.on_reading = on_reading
        self._clock = clock
        self._trigger = DigitalOutputDevice(trigger_pin, initial_value=False, pin_factory=pin_factory)
        self._echo = InputDevice(echo_pin, pull_up=False, pin_factory=pin_factory)
        self._factory = self._echo.pin_factory
        self._lock = threading.Lock()
        self._rise: float | None = None
        self._fall: float | None = None
        self._fallen = threading.Event()
        self._risen = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.latest: Reading | None = None
        pin = self._echo.pin
        pin.edges = "both"
        pin.bounce = None
        pin.when_changed = self._on_edge

    # -- edges (called from the pin factory's thread) -------------------------
    def _on_edge(self, ticks, state) -> None:
        with self._lock:
            if state:
                self._rise = ticks
                self._fall = None
                self._risen.set()
            elif self._rise is not None:
                self._fall = ticks
                self._fallen.set()

    # -- pinging ------------------------------------------------------------
    def ping(self) -> Reading:
        """One measurement: trigger, wait for the echo, decode. Blocks up to RISE + ECHO_TIMEOUT_S."""
        with self._lock:
            self._rise = self._fall = None
            self._fallen.clear()
            self._risen.clear()
        t_trigger = self._clock()
        trigger_ticks = self._factory.ticks()
        self._trigger.on()
        self._trigger.off()     # the Python call overhead is already > the 10 us the sensor needs
        got = self._risen.wait(RISE_DELIVERY_S) and self._fallen.wait(ECHO_TIMEOUT_S)
        with self._lock:
            rise, fall = self._rise, self._fall
        if not got or rise is None or fall is None:
            # No pulse, or an echo line latched high: a working sensor always answers.
            return Reading.silent(t_trigger)
        late = self._factory.ticks_diff(rise, trigger_ticks)
        # Only judged when both stamps plainly share a clock (a factory whose edge stamps used
        # another clock would make every echo look late, and the desk could never move).
        if RISE_TIMEOUT_S < late < 1.0:
            return Reading.silent(t_trigger)      # it rose, but far too late to be this ping's echo
        width = self._factory.ticks_diff(fall, rise)
        if width >= LOST_WIDTH_S or width <= 0:
            return Reading.lost(t_trigger)
        distance = width * self.c_mm_s / 2.0
        # The sound met the desk half way through the pulse.
        return Reading.ok(t_trigger + width / 2.0, self.mounting.height(distance))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hc-sr04", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            last_ping = self._clock()
            try:
                reading = self.ping()
            except Exception:
                log.exception("ultrasonic ping failed")
                reading = Reading.silent(self._clock())
            self.latest = reading
            if self.on_reading is not None:
                self.on_reading(reading)
            interval = self.interval_s if self._active else self.idle_interval_s
            next_at = max(next_at + interval, self._clock() + 0.005)
            if self._wake.wait(max(next_at - self._clock(), 0.0)):
                self._wake.clear()
                # Woken early because a move is starting: ping as soon as the
                # sensor allows (the last ping's echoes must have died away).
                next_at = max(last_ping + self.interval_s, self._clock())
                self._stop.wait(max(next_at - self._clock(), 0.0))

    def set_active(self, active: bool) -> None:
        """Fast pings while the desk moves or is about to; slow ones at rest."""
        if active and not self._active:
            self._active = True
            self._wake.set()          # do not sleep out a slow interval before a move
        elif not active:
            self._active = False

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        with contextlib.suppress(Exception):  # closing must not fail half way
            self._echo.pin.when_changed = None
        self._trigger.close()
        self._echo.close()
