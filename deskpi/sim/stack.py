"""The full motion stack on a simulated desk: mock pins, drive, reader, controller, loop.

Everything above the pins is the production code; only the pins are simulated.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController
from deskpi.core.motion.stopmodel import StopModel
from deskpi.daemon.control_loop import ControlLoop
from deskpi.hw.drives import RelayPairDrive
from deskpi.hw.ultrasonic import Mounting, UltrasonicSensor

from .mockdesk import SimFactory, SimPins, SimulatedDesk
from .physics import DeskSpec
from .sensor_model import SensorSpec


@dataclass
class SimStack:
    factory: SimFactory
    desk: SimulatedDesk
    drive: RelayPairDrive
    sensor: UltrasonicSensor
    controller: MotionController
    loop: ControlLoop

    def close(self) -> None:
        # Motor off first, then the rest; each step runs even if one fails.
        for step in (self.loop.close, self.sensor.close, self.drive.close, self.desk.close):
            with contextlib.suppress(Exception):
                step()


def build_sim_stack(*, desk: DeskSpec = DeskSpec(),  # noqa: B008 - frozen spec, safe to share
                    sensor: SensorSpec = SensorSpec(),  # noqa: B008 - frozen spec, safe to share
                    motion: MotionConfig | None = None, model: StopModel | None = None,
                    pins: SimPins = SimPins(),  # noqa: B008 - frozen pin numbers, safe to share
                    seed: int = 0, start_mm: float = 740.0, active_high: bool = True) -> SimStack:
    factory = SimFactory()
    sim = SimulatedDesk(factory, pins=pins, desk=desk, sensor=sensor, seed=seed, start_mm=start_mm,
                        active_high=active_high)
    drive = RelayPairDrive(pins.up, pins.down, active_high=active_high, pin_factory=factory)
    motion = motion or MotionConfig(min_mm=desk.min_mm + 10, max_mm=desk.max_mm - 10)
    controller = MotionController(motion, model)
    loop = ControlLoop(controller, drive)
    mounting = Mounting("under_desk", sensor.mount_offset_mm)
    reader = UltrasonicSensor(pins.trigger, pins.echo, mounting=mounting, temperature_c=sensor.temperature_c,
                              interval_s=sensor.ping_interval_s, idle_interval_s=sensor.idle_interval_s,
                              max_distance_mm=mounting.max_distance_mm(desk.min_mm, desk.max_mm),
                              on_reading=loop.feed, pin_factory=factory)
    loop.start()
    reader.start()
    return SimStack(factory, sim, drive, reader, controller, loop)
