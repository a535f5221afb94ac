"""What keeps the HC-SR04's heights true over months: the air thermometer and the re-zero on the bottom
end stop, built from `[sensor]` and wired to the reader and the control loop by root.py."""
from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

from deskpi.core.air import AirTemperature, base_temperature_c, parse_source
from deskpi.core.motion.rezero import BottomRezero
from deskpi.core.types import Reading

log = logging.getLogger(__name__)


def conversion_temperature_c(sensor) -> float:
    """What echoes are converted at with no thermometer reading (deskpi/core/air.py, base_temperature_c)."""
    kind, _ = parse_source(sensor.temperature_source)
    return base_temperature_c(kind, sensor.temperature_c, sensor.calibration_temperature_c)


def build_thermometer(sensor, w1_root: Path | None = None):
    """A started-later ThermometerPoller for `temperature_source = "w1:<id>"`, else None."""
    kind, device = parse_source(sensor.temperature_source)
    if kind != "w1" or device is None:
        return None
    from deskpi.hw.thermometer import W1_ROOT, ThermometerPoller, W1Thermometer

    reader = W1Thermometer(device, w1_root or W1_ROOT)
    poller = ThermometerPoller(reader.read_c, AirTemperature(conversion_temperature_c(sensor)))
    poller.where = reader.where
    return poller


class RezeroWatch:
    """Feeds the pure BottomRezero from the reader's thread and the control loop's events; moves the
    reader's offset when it decides. `last` holds what was last decided, for the status."""

    def __init__(self, rezero: BottomRezero, sensor, busy) -> None:
        self.rezero = rezero
        self.sensor = sensor
        self.busy = busy             # () -> bool: the controller has a move or hold on
        self.last: str | None = None
        self._lock = threading.Lock()

    def on_event(self, kind: str, ev) -> None:
        if kind == "move_done":
            with self._lock:
                self.rezero.move_ended(ev.t_end, ev.target_mm, ev.start_mm)

    def on_reading(self, reading: Reading) -> None:
        with self._lock:
            if self.busy():
                self.rezero.moving()
                return
            decision = self.rezero.reading(reading.t, reading.height_mm)
        if decision is None:
            return
        self.last = decision.message
        if decision.kind == "rezero":
            m = self.sensor.mounting
            self.sensor.mounting = dataclasses.replace(m, offset_mm=round(m.offset_mm + decision.correction_mm, 2))
            log.info("%s (now %.1f mm)", decision.message, self.sensor.mounting.offset_mm)
        else:
            log.warning("%s", decision.message)


def build_rezero(settings, sensor, controller) -> RezeroWatch | None:
    s = settings.sensor
    if not s.rezero_at_bottom:
        return None
    return RezeroWatch(BottomRezero(settings.desk.min_mm, tolerance_mm=max(2.0, settings.desk.tolerance_mm),
                                    max_jump_mm=s.rezero_max_mm), sensor, lambda: controller.busy)
