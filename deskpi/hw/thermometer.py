"""The optional air thermometer: a DS18B20 on the 1-wire bus, read from sysfs (`[sensor]
temperature_source = "w1:<id>"`, wiring in hardware/README.md).

The kernel's w1-therm driver answers a read in ~750 ms (the chip's 12-bit conversion), far too slow for
the motion thread, so a `ThermometerPoller` thread reads it every `interval_s` and keeps the value in an
`AirTemperature` (deskpi/core/air.py); the HC-SR04 reader only asks that for its latest figure. A failed,
CRC-broken or implausible read keeps the last good value for a while, then falls back to the calibration
temperature; each change is logged once, and nothing here ever raises into the desk.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from deskpi.core.air import AirTemperature, parse_source, plausible

log = logging.getLogger(__name__)

W1_ROOT = Path("/sys/bus/w1/devices")
__all__ = ["W1_ROOT", "ThermometerError", "W1Thermometer", "ThermometerPoller", "parse_source"]


class ThermometerError(OSError):
    """The thermometer could not be read; the message says why."""


class W1Thermometer:
    """One 1-wire thermometer under `root` (sysfs, or a fake tree in tests and the simulator)."""

    def __init__(self, device_id: str, root: Path = W1_ROOT) -> None:
        self.device_id = device_id
        self.dir = Path(root) / device_id

    @property
    def where(self) -> str:
        return str(self.dir)

    def read_c(self) -> float:
        """One reading in degC. Raises ThermometerError saying what was wrong."""
        if not self.dir.is_dir():
            raise ThermometerError(f"no 1-wire device {self.device_id} in {self.dir.parent} (is dtoverlay=w1-gpio "
                                   f"in /boot/firmware/config.txt, and the sensor wired with its 4.7 kOhm pull-up?)")
        try:
            text = (self.dir / "temperature").read_text().strip()
        except OSError:
            text = None           # older kernels have only w1_slave
        if text:
            try:
                value = int(text) / 1000.0
            except ValueError:
                raise ThermometerError(f"{self.device_id}: unreadable temperature {text[:40]!r}") from None
        else:
            value = self._from_w1_slave()
        if not plausible(value):
            raise ThermometerError(f"{self.device_id}: implausible reading {value:g} degC")
        return value

    def _from_w1_slave(self) -> float:
        try:
            lines = (self.dir / "w1_slave").read_text().splitlines()
        except OSError as exc:
            raise ThermometerError(f"{self.device_id}: cannot read it ({exc.strerror or exc})") from None
        if len(lines) < 2 or not lines[0].strip().endswith("YES"):
            raise ThermometerError(f"{self.device_id}: CRC check failed (a noisy bus: check the pull-up and the "
                                   f"cable length)")
        _, sep, raw = lines[1].partition("t=")
        try:
            return int(raw.strip()) / 1000.0 if sep else float("nan")
        except ValueError:
            raise ThermometerError(f"{self.device_id}: no temperature in {lines[1][:60]!r}") from None


class ThermometerPoller:
    """Reads `read_c` every `interval_s` on its own thread into an AirTemperature; `air_c()` is cheap."""

    def __init__(self, read_c: Callable[[], float], air: AirTemperature, *, interval_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.read_c = read_c
        self.air = air
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> None:
        try:
            value = self.read_c()
        except Exception as exc:  # noqa: BLE001 - a thermometer is never worth a desk that cannot move
            with self._lock:
                self.air.bad(self._clock(), str(exc))
        else:
            with self._lock:
                self.air.good(self._clock(), value)
        self._log()

    def air_c(self) -> float:
        with self._lock:
            value = self.air.current(self._clock())
        return value

    def status(self) -> dict:
        with self._lock:
            now = self._clock()
            return {"air_c": round(self.air.current(now), 2), "problem": self.air.problem,
                    "failures": self.air.failures,
                    "age_s": None if self.air.last_good_c is None else round(now - self.air.last_good_at, 1)}

    def _log(self) -> None:
        with self._lock:
            note = self.air.take_note()
        if note is not None:
            (log.info if note.startswith("thermometer reading") else log.warning)("%s", note)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="thermometer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(self.interval_s)
            with self._lock:
                self.air.current(self._clock())    # notices the hold running out even between reads
            self._log()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
