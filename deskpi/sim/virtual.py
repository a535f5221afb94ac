"""A desk, its sensor and a controller on a virtual clock: thousands of moves a second.

The rig plays the part of the daemon's control loop: it delivers each ping's
reading when a real reader would have it, wakes the controller when it asked
to be woken, and passes its motor command through the same interlock a real
drive uses before the desk physics sees it.
"""
from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from deskpi.core.air import echo_distance_mm
from deskpi.core.motion.interlock import Interlock
from deskpi.core.types import CurrentSample, Direction, Reading
from deskpi.hw.current_sensor import averaging

from .ina_bus import NOISE_WINDOW_S
from .physics import DeskPhysics, DeskSpec
from .sensor_model import LOST_PULSE_S, SensorModel, SensorSpec

SILENT_TIMEOUT_S = 0.025   # how long the reader waits for the echo to rise before calling it silent
READ_LATENCY_S = 0.0005    # from the echo's end to the reading in the controller's hands


@dataclass(frozen=True)
class CurrentSpec:
    """A shunt monitor on the motor supply: which chip, how often it is read and how noisy it is.

    The chip averages the current over `window_s` (the driver's choice for this interval, as
    deskpi/hw/current_sensor.py sets it up) and each read returns the last average it finished:
    a reading is the mean of the true current over a window that ended up to one window before
    the read. Its noise, mostly brush and commutation ripple at a kilohertz and more, is taken
    as white at that scale: `noise_a + noise_rel * amps` over NOISE_WINDOW_S, divided by the
    square root of how many times longer the window is.
    """

    interval_s: float = 0.005
    noise_a: float = 0.03
    noise_rel: float = 0.02      # ripple and brush noise grow with the current
    chip: str = "ina226"

    @property
    def window_s(self) -> float:
        return averaging(self.chip, self.interval_s)[1]

    def sd_a(self, amps: float) -> float:
        """The standard deviation of one reading of this current."""
        return (self.noise_a + self.noise_rel * amps) * (NOISE_WINDOW_S / self.window_s) ** 0.5


@dataclass
class Delivery:
    at: float
    reading: Reading


class VirtualRig:
    def __init__(self, controller, desk: DeskSpec, sensor: SensorSpec, *, seed: int = 0,
                 start_mm: float | None = None, t0: float = 0.0, current: CurrentSpec | None = None,
                 air: Callable[[float], float] | None = None,
                 assumed_c: Callable[[float], float] | None = None) -> None:
        """`air`: the room's true temperature at rig time t (deskpi/sim/air.py); `assumed_c`: the one deskpi
        converts echoes at then (its thermometer, or a constant). Without them the air never drifts and
        readings are the true distance plus the offset, as ever."""
        self.rng = random.Random(seed)
        self.ctrl = controller
        start = start_mm if start_mm is not None else (desk.min_mm + desk.max_mm) / 2
        self.physics = DeskPhysics(desk, random.Random(self.rng.random()), height_mm=start, t=t0,
                                   last_motion_t=t0 - 10)
        self.sensor = SensorModel(sensor, random.Random(self.rng.random()))
        self.sensor_spec = sensor
        self.relay = Interlock(max(desk.dead_time_s, 0.1))
        self.t = t0
        self._next_ping = t0 + self.rng.uniform(0, sensor.ping_interval_s)
        self._deliveries: list[tuple[float, int, Reading]] = []
        self._seq = 0
        self._wake: float | None = None
        self.drive: Direction | None = None
        self._busy_t = t0
        self._last_ping = t0 - 1.0
        self._free_at = t0
        self.on_tick = None          # optional hook(rig, command) after every controller tick
        self.cleared_faults = 0      # faults a bench cleared to go on with (on a healthy desk, false ones)
        self.current = current       # a current sensor on the motor supply, if the desk has one
        self._current_rng = random.Random(self.rng.random())
        if current is not None:
            self.physics.charge_log = deque()
        # The chip converts on its own clock: its averages end at phase + k * window, not when read.
        self._chip_phase = t0 + self._current_rng.uniform(0.0, current.window_s if current is not None else 0.0)
        self._next_current = math.inf
        #: When a list, every current sample is noted here as (time, amps read, true amps, healthy amps,
        #: when the chip's average ended; both amps averaged as the chip did): what the fault bench's
        #: ideal detector weighs.
        self.current_log: list[tuple[float, float, float, float, float]] | None = None
        #: When a list, every ping is noted here as (time, height read or None, true height): what the
        #: fault bench's ideal detector weighs when it is given the readings the controller had.
        self.reading_log: list[tuple[float, float | None, float]] | None = None
        self.air = air
        self.assumed_c = assumed_c

    # -- the loop -----------------------------------------------------------
    def run_until(self, done, t_max: float) -> bool:
        """Advance until done(rig) is true after a tick, or until t_max. Returns done."""
        while self.t < t_max:
            t_next = min(self._next_ping, self._deliveries[0][0] if self._deliveries else math.inf,
                         self._wake if self._wake is not None else math.inf, self._next_current, t_max)
            self.physics.advance(t_next)
            self.t = t_next
            if t_next == self._next_ping:
                self._ping()
            reading = None
            if self._deliveries and self._deliveries[0][0] <= self.t:
                _, _, reading = heapq.heappop(self._deliveries)
            elif t_next == self._next_current:
                reading = self._sample_current()
            if self._wake is not None and self._wake <= self.t:
                self._wake = None
            self.apply(self.ctrl.tick(self.t, reading))
            if done(self):
                return True
        return done(self)

    def kick(self) -> None:
        """Tick the controller now, as the daemon does when a request arrives."""
        self.apply(self.ctrl.tick(self.t))

    def apply(self, cmd) -> None:
        want = cmd.drive
        got = self.relay.request(want, self.t)
        if got != self.drive:
            self.physics.set_motor(int(got) if got is not None else None, self.t)
            self.drive = got
        wake = cmd.wake_at
        if want is not None and got is None:
            wake = min(wake or math.inf, self.relay.earliest_on(want, self.t))
        self._wake = wake if wake is None or wake > self.t else self.t + 1e-4
        if self.current is not None and math.isinf(self._next_current) and got is not None:
            self._next_current = self.t + self.current.interval_s
        fast = self.sensor_spec.ping_interval_s
        if self._next_ping - self.t > fast and (got is not None or getattr(self.ctrl, "busy", True)):
            # A move is starting: ping as soon as the sensor allows, as the reader does when woken.
            self._next_ping = max(self.t, self._last_ping + fast, self._free_at)

    def _ping(self) -> None:
        tp = self._next_ping
        self._last_ping = tp
        self._next_ping += self._interval()
        if self.air is not None:
            self.sensor.air_c = self.air(tp)
        status, dist = self.sensor.ping(self.physics.height_mm)
        if status == "ok":
            width = self.sensor.pulse_width_s(dist)
            if self.air is not None or self.assumed_c is not None:
                # The echo took as long as the true air made it; deskpi converts at what it believes.
                believed = self.assumed_c(tp) if self.assumed_c is not None else self.sensor_spec.temperature_c
                dist = echo_distance_mm(width, believed)
            # Stamp with the instant the sound met the desk, as the real reader does.
            reading = Reading.ok(tp + width / 2, dist + self.sensor_spec.mount_offset_mm)
            at = tp + width + READ_LATENCY_S
        elif status == "lost":
            reading, at = Reading.lost(tp), tp + LOST_PULSE_S
        else:
            reading, at = Reading.silent(tp), tp + SILENT_TIMEOUT_S
        self._seq += 1
        heapq.heappush(self._deliveries, (at, self._seq, reading))
        if self.reading_log is not None:
            read = dist + self.sensor_spec.mount_offset_mm if status == "ok" and dist is not None else None
            self.reading_log.append((tp, read, self.physics.height_mm))
        # The reader pings one at a time: the next ping waits for this one's answer (a lost
        # echo's 38 ms pulse, a silent sensor's timeout).
        self._free_at = at + 0.005
        self._next_ping = max(self._next_ping, self._free_at)

    def _sample_current(self) -> CurrentSample:
        spec = self.current
        assert spec is not None     # only scheduled when the desk has a current sensor
        window = spec.window_s
        end = self._chip_phase + math.floor((self.t - self._chip_phase) / window) * window
        amps, healthy = self.physics.mean_current_a(end - window, end)
        noisy = amps + self._current_rng.gauss(0.0, spec.sd_a(amps))
        # Sampled while the motor may run, and a little after (the reader's own pace at rest
        # carries nothing a controller needs).
        keep = self.drive is not None or not self.physics.at_rest or getattr(self.ctrl, "busy", False)
        self._next_current = self.t + spec.interval_s if keep else math.inf
        if self.current_log is not None:
            self.current_log.append((self.t, max(noisy, 0.0), amps, healthy, end))
        return CurrentSample(self.t, max(noisy, 0.0))

    def _interval(self) -> float:
        """Fast pings while the controller is busy or the desk still moves, as the daemon's reader does."""
        spec = self.sensor_spec
        busy = self.ctrl.busy if hasattr(self.ctrl, "busy") else True
        if busy or self.drive is not None or not self.physics.at_rest or self.t - self._busy_t < 1.0:
            if busy or self.drive is not None:
                self._busy_t = self.t
            return spec.ping_interval_s
        return max(spec.idle_interval_s, spec.ping_interval_s)

    # -- conveniences -------------------------------------------------------
    def settle(self, seconds: float = 1.0) -> None:
        self.run_until(lambda r: False, self.t + seconds)

    def rest_for_duty(self, need_s: float) -> None:
        """Rest (on the virtual clock) until the controller's duty cycle allows need_s of motor time."""
        wait = self.ctrl.duty.ready_at(self.t, need_s) - self.t
        if wait > 0:
            self.rest(wait + 1.0)

    def rest(self, seconds: float, listen_s: float = 1.0) -> None:
        """Let the desk stand idle; skip the pings of a long rest, then listen again.

        Nothing happens at an idle desk, so a bench that waits out a motor
        duty cycle need not simulate ten minutes of pings to do it.
        """
        skip = seconds - listen_s
        if skip > 0 and self.drive is None and self.ctrl.tick(self.t).drive is None:
            self.settle(0.5)
            self.physics.advance(self.t + skip)
            self.t += skip
            self._deliveries.clear()
            self._next_ping = self.t + self.rng.uniform(0, self.sensor_spec.ping_interval_s)
            self._wake = None
            self._next_current = math.inf
            seconds = listen_s
        self.settle(seconds)

    def known_at(self, ping_t: float, height_mm: float) -> float:
        """When a ping sent at ping_t to a desk at height_mm is answered: its echo's flight, and the reader."""
        return ping_t + self.sensor.pulse_width_s(self.sensor.distance_for_height(height_mm)) + READ_LATENCY_S

    @property
    def last_ping_at(self) -> float:
        return self._last_ping

    @property
    def next_ping_at(self) -> float:
        return self._next_ping

    @property
    def true_height(self) -> float:
        return self.physics.height_mm
