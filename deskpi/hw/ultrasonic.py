"""HC-SR04 reader on gpiozero pins.

Why not gpiozero's DistanceSensor: it reports a median that goes on being
reported after the sensor dies, drops lost echoes silently, clips at 1 m by
default and can block forever. This reader pings on its own schedule and
reports every ping, good or bad, with the time the sound met the desk, so the
estimator can tell fresh from stale and a lost echo from a dead sensor.

Timing: the pulse width comes from the pin factory's edge timestamps (kernel
timestamps with lgpio), never from when Python got round to noticing an edge.

How fast it may ping. The datasheet's 60 ms cycle is the worst case: an echo
from 4 m plus time for it to die away. What limits the cycle at a desk is not
the echo itself (~7 ms there and back at 1.2 m) but two other things:

- a ghost of the previous ping. Sound that bounced floor -> desktop -> floor
  comes back at 2x and 3x the round trip, weaker each time. If one lands after
  the next trigger but before that ping's own echo, the sensor reports it as a
  short distance. So a ping waits for three round trips at the farthest
  distance the desk can put its target (`max_distance_mm`, from the desk's
  limits and the mounting) plus 2 ms (which also covers ~0.1 m of overshoot
  beyond that distance): with the default desk (1230 mm at most under an
  under_desk sensor) that is ~23.5 ms, so 25 ms between pings while moving is
  safe, and 20 ms is the floor whatever the distance;
- a lost echo's timeout pulse (~38 ms): the sensor will not fire again until
  it ends, so `ping` waits for it and one ping is never started before the last
  one has answered.

What would make 25 ms unsafe is a long path: a ceiling-mounted sensor under a
tall ceiling (3 m above a lowered desk needs ~54 ms), or an under_desk sensor
with a big offset. The reader then pings at the computed minimum and says so
once in the log. A hard surface beyond the target (an open stairwell, a far
wall in the beam) can also echo late; keep the beam's cone clear.
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

from deskpi.core.air import echo_distance_mm
from deskpi.core.air import speed_of_sound_m_s as speed_of_sound_m_s
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
#: No ping sooner than this after the last, however close the target: nothing specifies a faster cycle for
#: the HC-SR04 and its clones.
MIN_INTERVAL_S = 0.02
#: Added to three round trips: a little overshoot past the farthest distance and thread jitter.
GHOST_MARGIN_S = 0.002
#: Orders of echo we wait out: the 2nd and 3rd come back at 2x and 3x the round trip.
GHOST_ORDERS = 3
#: The HC-SR04's rated range: assumed when the reader is not told how far its target can be.
RATED_RANGE_MM = 4000.0
#: How long we let the edge callback take to reach us. Whether the sensor answered in time is
#: judged on the edge's own timestamp (RISE_TIMEOUT_S), so a busy machine that delivers a good
#: echo late does not turn it into a dead-sensor alarm.
RISE_DELIVERY_S = 0.1


def min_interval_s(max_distance_mm: float, temperature_c: float = 20.0) -> float:
    """The shortest safe time between pings when the target is at most `max_distance_mm` away: three round
    trips (so no 2nd or 3rd order echo of one ping is heard by the next) plus a margin, and never under 20 ms."""
    round_trip_s = 2.0 * max(max_distance_mm, 0.0) / (speed_of_sound_m_s(temperature_c) * 1000.0)
    return max(MIN_INTERVAL_S, GHOST_ORDERS * round_trip_s + GHOST_MARGIN_S)


def effective_interval_s(interval_s: float, max_distance_mm: float | None = None,
                         temperature_c: float = 20.0) -> float:
    """The interval the reader will use while moving: the one asked for, or the safe minimum if that is longer."""
    distance = RATED_RANGE_MM if max_distance_mm is None else max_distance_mm
    return max(interval_s, min_interval_s(distance, temperature_c))


@dataclass(frozen=True)
class Mounting:
    """How the sensor is mounted: height = offset + sign * scale * distance (scale from a two-point
    calibration: what is left of the sensor's own timing error once the air is accounted for)."""

    orientation: str = "under_desk"
    offset_mm: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.orientation not in ORIENTATIONS:
            raise ValueError(
                f"sensor orientation {self.orientation!r} is not one of {', '.join(sorted(ORIENTATIONS))}")
        if not math.isfinite(self.offset_mm):
            raise ValueError(f"sensor offset must be a finite number of mm, got {self.offset_mm!r}")
        if not (math.isfinite(self.scale) and 0.8 <= self.scale <= 1.2):
            raise ValueError(f"sensor scale must be 0.8..1.2, got {self.scale!r}")

    def height(self, distance_mm: float) -> float:
        return self.offset_mm + ORIENTATIONS[self.orientation] * self.scale * distance_mm

    def max_distance_mm(self, min_height_mm: float, max_height_mm: float) -> float:
        """The farthest the sensor's target can be while the desk stays within these heights: height - offset
        looking down or up from below (under_desk, floor), offset - height looking up (ceiling)."""
        sign = ORIENTATIONS[self.orientation]
        return max(0.0, *(sign * (h - self.offset_mm) for h in (min_height_mm, max_height_mm)))


class UltrasonicSensor:
    """Pings an HC-SR04 every `interval_s` on its own thread and hands each Reading to `on_reading`.

    `max_distance_mm` is the farthest the echo can legitimately come from (see Mounting.max_distance_mm);
    without it the sensor's rated 4 m is assumed. An `interval_s` shorter than is safe for that distance
    (module docstring) is raised to the safe minimum, and the log says why, once.

    `air_c`, when given, is asked at every echo for the air temperature to convert at (a thermometer's
    latest value, kept by another thread: a cheap read); else `temperature_c` is used throughout.
    """

    def __init__(self, trigger_pin, echo_pin, *, mounting: Mounting | None = None, temperature_c: float = 20.0,
                 interval_s: float = 0.025, idle_interval_s: float | None = None,
                 max_distance_mm: float | None = None, air_c: Callable[[], float] | None = None,
                 on_reading: Callable[[Reading], None] | None = None,
                 pin_factory=None, clock: Callable[[], float] = time.monotonic) -> None:
        if not (isinstance(interval_s, (int, float)) and MIN_INTERVAL_S <= interval_s <= 1.0):
            raise ValueError(f"ping interval must be {MIN_INTERVAL_S:g}..1 s (no HC-SR04 is specified for a faster "
                             f"cycle), got {interval_s}")
        if not -30.0 <= temperature_c <= 60.0:
            raise ValueError(f"air temperature must be -30..60 degC, got {temperature_c}")
        if max_distance_mm is not None and not (math.isfinite(max_distance_mm) and max_distance_mm >= 0):
            raise ValueError(f"the farthest echo distance must be a finite number of mm >= 0, got {max_distance_mm}")
        self.mounting = mounting or Mounting()
        self.air_c: Callable[[], float] = air_c if air_c is not None else (lambda: temperature_c)
        self.max_distance_mm = RATED_RANGE_MM if max_distance_mm is None else float(max_distance_mm)
        self.interval_s = effective_interval_s(interval_s, self.max_distance_mm, temperature_c)
        if self.interval_s > interval_s:
            log.warning("ping interval %.3f s is too short for echoes from up to %.0f mm away (at %g degC three "
                        "round trips and a margin take %.1f ms: a late echo of one ping would be read as the "
                        "next one's); pinging every %.4f s instead", interval_s, self.max_distance_mm,
                        temperature_c, self.interval_s * 1000, self.interval_s)
        # At rest nothing needs 40 pings a second; a few keep the height fresh
        # (three lost echoes in a row still fit inside the staleness bound).
        self.idle_interval_s = (self.interval_s if idle_interval_s is None
                                else max(idle_interval_s, self.interval_s))
        self._last_trigger = -math.inf
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
        t_trigger = self._last_trigger = self._clock()
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
        distance = echo_distance_mm(width, self.air_c())
        # The sound met the desk half way through the pulse.
        return Reading.ok(t_trigger + width / 2.0, self.mounting.height(distance))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hc-sr04", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        next_at = self._clock()
        while not self._stop.is_set():
            try:
                reading = self.ping()
            except Exception:
                log.exception("ultrasonic ping failed")
                reading = Reading.silent(self._clock())
            self.latest = reading
            if self.on_reading is not None:
                self.on_reading(reading)
            interval = self.interval_s if self._active else self.idle_interval_s
            # On the schedule's grid, but never catching up on a late ping by pinging sooner than the
            # moving interval after the last trigger: that gap is what keeps its ghosts out of the next.
            next_at = max(next_at + interval, self._last_trigger + self.interval_s, self._clock() + 0.005)
            if self._wake.wait(max(next_at - self._clock(), 0.0)):
                self._wake.clear()
                # Woken early because a move is starting: ping as soon as the
                # sensor allows (the last ping's echoes must have died away).
                next_at = max(self._last_trigger + self.interval_s, self._clock())
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
