"""A simulated desk wired to gpiozero mock pins, for the real daemon stack.

The drives, the ultrasonic reader and the buttons talk to these pins exactly
as they would to a Pi's. Behind the pins: the same desk physics and sensor
model the virtual bench uses, advanced in real time. Echo edges carry exact
timestamps (rise + pulse width), so how late this machine's threads wake
never turns into a height error, just as lgpio's kernel timestamps do on a Pi.
"""
from __future__ import annotations

import math
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

from gpiozero.pins.mock import MockFactory, MockPWMPin

from .ina_bus import InaBus, InaChip
from .physics import DeskPhysics, DeskSpec, Obstruction
from .sensor_model import LOST_PULSE_S, SensorModel, SensorSpec

BURST_DELAY_S = 0.0005   # HC-SR04: echo rises ~0.5 ms after the trigger
#: State changes a simulated pin remembers. gpiozero's MockPin keeps every one, and the sensor's trigger
#: pin changes about 30 times a second, so a `deskpi sim` left running grew by ~20 MB an hour
#: (found by `deskpi bench soak`). The oldest half goes when the history reaches this length.
PIN_HISTORY = 2000
#: Pin edges kept for `deskpi bench stress` (read through the control socket's `sim-edges`): enough for
#: the edges between two reads of a bench that reads after every press.
EDGE_RING = 4096


class SimPin(MockPWMPin):
    """A mock pin that tells the simulated desk when an output changes and can
    present an input edge with an exact timestamp."""

    def _change_state(self, value):
        changed = super()._change_state(value)
        if len(self.states) > PIN_HISTORY:
            del self.states[: len(self.states) - PIN_HISTORY // 2]
        recorded = self._function == "input" or self.info.name in self._factory.listeners
        if changed and recorded and self.info.name not in self._factory.unrecorded:
            # CLOCK_MONOTONIC is one clock for every process, so a bench in another process can
            # time this edge against its own request.
            self._factory.edges.append((next(self._factory.edge_seq), self._last_change, self.info.name,
                                        float(value)))
        if changed and self._function == "output":
            listener = self._factory.listeners.get(self.info.name)
            if listener is not None:
                listener(self, value, self._last_change)
        return changed

    def emit(self, state: bool, ticks: float) -> None:
        """Drive this input to `state` as if the edge happened at `ticks`."""
        assert self._function == "input"
        if self._state == state:
            return
        self._state = state
        self._last_change = ticks
        if self._when_changed is not None and self._edges in ("both", "rising" if state else "falling"):
            self._call_when_changed()


class SimFactory(MockFactory):
    """MockFactory whose pins are SimPins and which routes output changes to listeners."""

    def __init__(self, revision=None):
        super().__init__(revision=revision, pin_class=SimPin)
        self.listeners: dict[str, callable] = {}
        self.edges: deque[tuple[int, float, str, float]] = deque(maxlen=EDGE_RING)
        self.edge_seq = count(1)
        # Recorded: the inputs (buttons) and the outputs a listener watches (the motor), but not the sensor's
        # trigger, which changes 40 times a second.
        self.unrecorded: set[str] = set()


@dataclass(frozen=True)
class SimPins:
    up: int = 17
    down: int = 27
    trigger: int = 23
    echo: int = 24


class SimulatedDesk:
    def __init__(self, factory: SimFactory, *, pins: SimPins = SimPins(),
                 desk: DeskSpec = DeskSpec(),  # noqa: B008 - frozen spec, safe to share
                 sensor: SensorSpec = SensorSpec(),  # noqa: B008 - frozen spec, safe to share
                 seed: int = 0, start_mm: float = 740.0, active_high: bool = True,
                 air: Callable[[float], float] | None = None) -> None:
        """`air`: the room's temperature at a monotonic time (deskpi/sim/air.py); None: it never drifts."""
        self.factory = factory
        self.pins = pins
        self.active_high = active_high
        self._lock = threading.RLock()
        rng = random.Random(seed)
        self._seed = seed
        t0 = time.monotonic()
        self.physics = DeskPhysics(desk, random.Random(rng.random()), height_mm=start_mm, t=t0,
                                   last_motion_t=t0 - 10)
        self.sensor = SensorModel(sensor, random.Random(rng.random()))
        self.echo_stuck_high = False
        self.air = air
        self._levels = {pins.up: 0.0, pins.down: 0.0}
        self._jobs: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        for p in (pins.up, pins.down):
            factory.listeners[self._name(p)] = self._on_motor_pin
        factory.listeners[self._name(pins.trigger)] = self._on_trigger
        factory.unrecorded.add(self._name(pins.trigger))
        self._echo_pin: SimPin = factory.pin(pins.echo)
        self._worker = threading.Thread(target=self._echo_worker, name="sim-echo", daemon=True)
        self._worker.start()

    def _name(self, pin: int) -> str:
        return self.factory.pin(pin).info.name

    # -- motor --------------------------------------------------------------
    def _on_motor_pin(self, pin: SimPin, value, t: float) -> None:
        level = float(value) if self.active_high else 1.0 - float(value)
        num = int(pin.info.name.replace("GPIO", ""))
        with self._lock:
            self._levels[num] = level
            self.physics.set_outputs(self._levels[self.pins.up], self._levels[self.pins.down], t)

    # -- sensor -------------------------------------------------------------
    def _on_trigger(self, pin: SimPin, value, t: float) -> None:
        if not value:      # the sensor fires on the trigger's falling edge
            self._jobs.put(t)

    def _echo_worker(self) -> None:
        last_trig = -math.inf
        while not self._closed.is_set():
            try:
                t_trig = self._jobs.get(timeout=0.2)
            except queue.Empty:
                continue
            rise = t_trig + BURST_DELAY_S
            # A ping soon after the last can hear that one's late (multipath) echoes.
            since, last_trig = t_trig - last_trig, t_trig
            with self._lock:
                self.physics.advance(max(rise, self.physics.t))
                if self.air is not None:
                    self.sensor.air_c = self.air(rise)
                status, dist = self.sensor.ping(self.physics.height_mm, since)
            if status == "silent":
                continue
            if self.echo_stuck_high:
                self._at(rise)
                self._echo_pin.emit(True, rise)
                continue
            width = LOST_PULSE_S if status == "lost" else self.sensor.pulse_width_s(dist)
            self._at(rise)
            self._echo_pin.emit(True, rise)
            self._at(rise + width)
            self._echo_pin.emit(False, rise + width)

    @staticmethod
    def _at(t: float) -> None:
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    # -- observation and fault injection --------------------------------------
    def true_height(self) -> float:
        with self._lock:
            self.physics.advance(max(time.monotonic(), self.physics.t))
            return self.physics.height_mm

    def at_rest(self) -> bool:
        with self._lock:
            self.physics.advance(max(time.monotonic(), self.physics.t))
            return self.physics.at_rest

    def current_a(self) -> float:
        """The motor supply current now, without sensor noise."""
        with self._lock:
            self.physics.advance(max(time.monotonic(), self.physics.t))
            return self.physics.current_a()

    def i2c_bus(self, chip: str, address: int, shunt_ohms: float, *, noise_a: float = 0.02) -> InaBus:
        """A simulated I2C bus with a shunt monitor on the motor supply (deskpi/sim/ina_bus.py)."""
        rng = random.Random(self._seed + address)
        return InaBus({address: InaChip(chip, shunt_ohms, self.current_a, noise_a=noise_a, rng=rng)})

    @property
    def violations(self):
        return list(self.physics.violations)

    def inject(self, fault: str, **kw) -> None:
        with self._lock:
            self.physics.advance(max(time.monotonic(), self.physics.t))
            if fault == "sensor_dead":
                self.sensor.dead = True
            elif fault == "sensor_stuck":
                self.sensor.stuck = True
            elif fault == "echo_stuck_high":
                self.echo_stuck_high = True
            elif fault == "stall":
                self.physics.stalled = True
            elif fault == "reversed_wiring":
                self.physics.reversed_wiring = True
            elif fault == "obstruction":
                self.physics.obstruction = Obstruction(kw["height_mm"], kw["direction"])
            else:
                raise ValueError(f"unknown fault {fault!r}")

    def clear_injections(self) -> None:
        with self._lock:
            self.sensor.dead = self.sensor.stuck = self.echo_stuck_high = False
            self.physics.stalled = self.physics.reversed_wiring = False
            self.physics.obstruction = None

    def close(self) -> None:
        self._closed.set()
        self._worker.join(timeout=1.0)
