"""Motor supply current from an INA219 or INA226 shunt monitor on I2C (optional hardware).

A motor that stalls or pushes against a knee draws more current within milliseconds, long
before the ultrasonic sensor can tell a stopped desk from a slow one. This reader sets the chip
up, reads its current register on its own thread (every `interval_s` while the desk may move,
every `idle_interval_s` at rest) and hands each `CurrentSample` to a callback, normally
`ControlLoop.feed`. It never raises into the control loop: a bus error is counted, logged at
most every few seconds, and the chip is set up again before the next read.

The register arithmetic follows the TI datasheets (INA219 SBOS448, INA226 SBOS547):

- the chip measures the shunt voltage (INA219: 10 uV steps over a range its PGA picks,
  +-40/80/160/320 mV; INA226: 2.5 uV steps over +-81.92 mV) and computes
  current = shunt * CAL / 4096 (INA219) or / 2048 (INA226);
- CAL = 0.04096 / (current_LSB * R_shunt) (INA219) or 0.00512 / (...) (INA226). The current LSB
  is chosen so that the shunt's full scale fills the register: the current register can then
  saturate with the shunt voltage but never overflow and wrap, whatever the motor draws. The
  amperes per bit are computed back from the truncated CAL, so truncation costs no accuracy.

`smbus2` is imported only when a real bus is opened (the `current` extra); tests and the
simulator hand in a bus factory instead (`deskpi/sim/ina_bus.py`).
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from deskpi.core.types import CurrentSample

log = logging.getLogger(__name__)

CHIPS = ("ina219", "ina226")

REG_CONFIG = 0x00
REG_SHUNT = 0x01
REG_CURRENT = 0x04
REG_CALIBRATION = 0x05
REG_MANUFACTURER = 0xFE          # INA226 only
REG_DIE = 0xFF                   # INA226 only
TI_MANUFACTURER_ID = 0x5449      # "TI"
INA226_DIE_ID = 0x2260

#: The INA219's PGA ranges (V) and their PG bits; the smallest one that holds max_amps * shunt_ohms is used.
INA219_RANGES = ((0.04, 0b00), (0.08, 0b01), (0.16, 0b10), (0.32, 0b11))
INA226_RANGE_V = 0.08192
#: Largest shunt voltage each chip can measure (config.py refuses a shunt and max_amps beyond it).
SHUNT_RANGE_V = {"ina219": INA219_RANGES[-1][0], "ina226": INA226_RANGE_V}
_FULL_SCALE_BITS = 32767

#: Each chip's shunt averaging choices: (config bits, seconds one averaged conversion takes).
#: INA219 (SBOS448 table 5): 12-bit conversions of 532 us, 1 to 128 averaged (SADC bits 6-3).
INA219_AVERAGING = tuple(((0b1000 | k) << 3, 0.000532 * 2 ** k) for k in range(8))
#: INA226 (SBOS547 tables 6-7): 1 to 1024 averaged (bits 11-9) of 140 us to 8.244 ms conversions (bits 5-3).
_INA226_COUNTS = (1, 4, 16, 64, 128, 256, 512, 1024)
_INA226_TIMES = (0.000140, 0.000204, 0.000332, 0.000588, 0.0011, 0.002116, 0.004156, 0.008244)
INA226_AVERAGING = tuple((a << 9 | c << 3, n * ct) for a, n in enumerate(_INA226_COUNTS)
                         for c, ct in enumerate(_INA226_TIMES))
#: A conversion fills at most this share of the interval between reads: every read then finds a
#: new one though the chip's own clock runs up to 10 % slow ...
AVERAGING_SHARE = 0.9
#: ... and two reads are never closer than this many conversions, however late the one before
#: was: a read on time after a late one would otherwise find the same average, and the checks
#: would count one reading twice.
FRESH_CONVERSIONS = 1.1

#: At rest a reading now and then keeps `deskpi doctor` and a changed chip honest; nothing needs more.
IDLE_INTERVAL_S = 0.5
#: A failing bus is reported at most this often (the count goes on; the log does not fill up).
ERROR_LOG_EVERY_S = 10.0


class Bus(Protocol):
    """What the reader needs of an I2C bus: smbus2.SMBus's block transfers (big-endian registers)."""

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int) -> list[int]: ...

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int]) -> None: ...

    def close(self) -> None: ...


class CurrentSensorError(OSError):
    """The chip cannot be used: the message says what was seen and what to check."""


@dataclass(frozen=True)
class ChipSetup:
    """What is written to the chip and how its current register is read."""

    chip: str
    config: int
    calibration: int
    amps_per_bit: float
    range_a: float           # the largest current the register can show (the shunt's full scale)
    conversion_s: float      # how long one averaged conversion takes
    saturation_bits: int     # the current register at the shunt's full scale: the current is at least this

    def saturated(self, raw: int) -> bool:
        return raw >= self.saturation_bits or raw <= -self.saturation_bits


@functools.lru_cache(maxsize=16)
def averaging(chip: str, interval_s: float) -> tuple[int, float]:
    """The chip's longest averaged conversion that fits between two reads `interval_s` apart: (bits, seconds).

    The motor's current between two reads is signal too: averaged over the whole interval, the
    brush and commutation ripple (a kilohertz and more) is divided by the square root of the
    conversions averaged, where a short conversion would only sample it. The price is latency:
    a reading is on average about one conversion old.
    """
    table = INA219_AVERAGING if chip == "ina219" else INA226_AVERAGING
    fits = [(seconds, bits) for bits, seconds in table if seconds <= AVERAGING_SHARE * interval_s]
    seconds, bits = max(fits) if fits else min((s, b) for b, s in table)
    return bits, seconds


def chip_setup(chip: str, shunt_ohms: float, max_amps: float, interval_s: float = 0.005) -> ChipSetup:
    """The configuration and calibration words for `chip` with this shunt, reading up to `max_amps`
    every `interval_s`."""
    if chip not in CHIPS:
        raise ValueError(f"current sensor chip {chip!r} is not one of {', '.join(CHIPS)}")
    if not (shunt_ohms > 0 and max_amps > 0):
        raise ValueError(f"shunt_ohms and max_amps must be above 0, got {shunt_ohms!r} ohm and {max_amps!r} A")
    needed_v = max_amps * shunt_ohms
    if needed_v > SHUNT_RANGE_V[chip]:
        raise ValueError(f"{max_amps:g} A through {shunt_ohms:g} ohm is {needed_v * 1000:g} mV across the shunt; the "
                         f"{chip.upper()} measures at most {SHUNT_RANGE_V[chip] * 1000:g} mV")
    if chip == "ina219":
        range_v, pg = next((r, bits) for r, bits in INA219_RANGES if r >= needed_v)
        lsb = range_v / (shunt_ohms * _FULL_SCALE_BITS)
        # bit 0 of the INA219's calibration register is always 0
        cal = min(int(0.04096 / (lsb * shunt_ohms)), 0xFFFE) & 0xFFFE
        avg_bits, conversion_s = averaging(chip, interval_s)
        # 32 V bus range; bus ADC 12 bit; shunt ADC averaged to fill the interval; shunt voltage, continuous
        config = (1 << 13) | (pg << 11) | (0b0011 << 7) | avg_bits | 0b101
        full = int(round(range_v / 10e-6) * cal / 4096)
        return ChipSetup(chip, config, cal, 0.04096 / (cal * shunt_ohms), range_v / shunt_ohms, conversion_s, full)
    lsb = INA226_RANGE_V / (shunt_ohms * _FULL_SCALE_BITS)
    cal = min(int(0.00512 / (lsb * shunt_ohms)), 0x7FFF)
    avg_bits, conversion_s = averaging(chip, interval_s)
    # bits 14-12 read 0b100; shunt conversions averaged to fill the interval; 1.1 ms bus conversions
    # (not made: shunt voltage only, continuous)
    config = 0x4000 | avg_bits | (0b100 << 6) | 0b101
    full = int(_FULL_SCALE_BITS * cal / 2048)
    return ChipSetup(chip, config, cal, 0.00512 / (cal * shunt_ohms), INA226_RANGE_V / shunt_ohms, conversion_s,
                     full)


def signed16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


def smbus2_bus(number: int) -> Bus:
    """/dev/i2c-<number> through smbus2, imported only now (the `current` extra)."""
    try:
        from smbus2 import SMBus
    except ImportError:
        raise CurrentSensorError("the smbus2 package is not installed; install deskpi with the `current` extra "
                                 "(pip install 'deskpi[current]')") from None
    return SMBus(number)


class CurrentSensor:
    """Reads an INA219/INA226 every `interval_s` on its own thread and hands each sample to `on_sample`."""

    def __init__(self, chip: str = "ina219", *, bus: int = 1, address: int = 0x40, shunt_ohms: float = 0.01,
                 max_amps: float = 10.0, interval_s: float = 0.005, idle_interval_s: float = IDLE_INTERVAL_S,
                 on_sample: Callable[[CurrentSample], None] | None = None,
                 bus_factory: Callable[[int], Bus] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"I2C address must be 0x03..0x77, got {address:#x}")
        if not 0.001 <= interval_s <= 1.0:
            raise ValueError(f"current sensor interval must be 0.001..1.0 s, got {interval_s}")
        self.setup = chip_setup(chip, shunt_ohms, max_amps, interval_s)
        self.chip, self.bus_number, self.address = chip, bus, address
        self.interval_s = interval_s
        self.idle_interval_s = max(idle_interval_s, interval_s)
        self.on_sample = on_sample
        self._bus_factory = bus_factory or smbus2_bus
        self._clock = clock
        self._bus: Bus | None = None
        self._bus_lock = threading.Lock()      # the reader thread and `deskpi doctor`'s reads share the bus
        self._configured = False
        self._active = True
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_logged = -ERROR_LOG_EVERY_S
        self._unlogged = 0
        self.latest: CurrentSample | None = None
        self.samples = 0
        self.errors = 0
        self.saturated = 0          # readings at the register's end: the current is at least this
        self.last_error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.chip.upper()} at {self.address:#04x} on I2C bus {self.bus_number}"

    # -- the chip ------------------------------------------------------------------------------
    def open(self) -> None:
        """Open the bus and set the chip up; CurrentSensorError (an OSError) says why it cannot be used."""
        with self._bus_lock:
            if self._bus is None:
                try:
                    self._bus = self._bus_factory(self.bus_number)
                except CurrentSensorError:
                    raise
                except OSError as exc:
                    raise CurrentSensorError(f"cannot open I2C bus {self.bus_number} ({exc}); is I2C enabled "
                                             f"(sudo raspi-config nonint do_i2c 0) and the bus number right?"
                                             ) from None
            try:
                self._configure()
            except OSError as exc:
                raise CurrentSensorError(f"no answer from the {self.where} ({exc}); check the wiring (SDA GPIO2, "
                                         f"SCL GPIO3, 3.3 V, GND) and the address jumpers (i2cdetect -y "
                                         f"{self.bus_number} lists what answers)") from None

    def _configure(self) -> None:
        """Write the configuration and calibration (under the bus lock)."""
        assert self._bus is not None
        self._write(REG_CONFIG, self.setup.config)
        self._write(REG_CALIBRATION, self.setup.calibration)
        self._configured = True

    def _write(self, reg: int, value: int) -> None:
        assert self._bus is not None
        self._bus.write_i2c_block_data(self.address, reg, [(value >> 8) & 0xFF, value & 0xFF])

    def _read(self, reg: int) -> int:
        assert self._bus is not None
        data = self._bus.read_i2c_block_data(self.address, reg, 2)
        if len(data) != 2:
            raise OSError(f"register {reg:#04x}: {len(data)} bytes instead of 2")
        return (data[0] << 8) | data[1]

    def read(self, *, verify: bool = False) -> CurrentSample:
        """One reading now. `verify`: first check the calibration is still there (a chip that browned out
        resets to calibration 0 and would read 0 A for ever). Raises OSError; the thread counts those."""
        with self._bus_lock:
            if self._bus is None:
                raise CurrentSensorError("the current sensor is not open")
            if self._configured and verify and self._read(REG_CALIBRATION) != self.setup.calibration:
                log.warning("the %s lost its settings (a reset or brown-out?); setting it up again", self.where)
                self._configured = False
            if not self._configured:
                self._configure()
            t = self._clock()
            raw = signed16(self._read(REG_CURRENT))
        if self.setup.saturated(raw):
            self.saturated += 1
        return CurrentSample(t, raw * self.setup.amps_per_bit)

    def identify(self) -> dict[str, Any]:
        """Read the chip's own registers without changing anything: its configuration, and for an INA226 its
        manufacturer and die IDs. CurrentSensorError when something else answers at the address."""
        with self._bus_lock:
            if self._bus is None:
                raise CurrentSensorError("the current sensor is not open")
            out: dict[str, Any] = {"chip": self.chip, "address": self.address, "bus": self.bus_number,
                                   "config": self._read(REG_CONFIG), "calibration": self._read(REG_CALIBRATION)}
            if self.chip == "ina226":
                out["manufacturer_id"] = self._read(REG_MANUFACTURER)
                out["die_id"] = self._read(REG_DIE)
        if self.chip == "ina226" and out["manufacturer_id"] != TI_MANUFACTURER_ID:
            raise CurrentSensorError(f"the chip at {self.address:#04x} on I2C bus {self.bus_number} is not an INA226 "
                                     f"(manufacturer ID {out['manufacturer_id']:#06x}, a TI part reads "
                                     f"{TI_MANUFACTURER_ID:#06x}); check [current] chip and address")
        return out

    # -- the thread ----------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="current-sensor", daemon=True)
            self._thread.start()

    @property
    def interval_now_s(self) -> float:
        """The pause between readings the reader keeps now."""
        return self.interval_s if self._active else self.idle_interval_s

    def _run(self) -> None:
        next_at = self._clock()
        fresh = FRESH_CONVERSIONS * self.setup.conversion_s
        while not self._stop.is_set():
            sample = self._read_once(verify=not self._active)
            read_at = self._clock()
            if sample is not None:
                self.latest = sample
                self.samples += 1
                if self.on_sample is not None:
                    try:
                        self.on_sample(sample)
                    except Exception:
                        log.exception("the current sample's receiver failed")
            next_at = max(next_at + self.interval_now_s, self._clock(), read_at + fresh)
            if self._wake.wait(max(next_at - self._clock(), 0.0)):
                self._wake.clear()
                # A move is starting: the start-up surge is worth seeing, from the next new average.
                next_at = max(self._clock(), read_at + fresh)
                self._stop.wait(max(next_at - self._clock(), 0.0))

    def _read_once(self, *, verify: bool) -> CurrentSample | None:
        try:
            return self.read(verify=verify)
        except Exception as exc:  # noqa: BLE001 - a bus error is counted and logged, never raised into the loop
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._configured = False       # whatever the chip went through, set it up again before trusting it
            now = self._clock()
            if now - self._last_logged >= ERROR_LOG_EVERY_S:
                more = f" (and {self._unlogged} more since the last report)" if self._unlogged else ""
                log.warning("reading the %s failed: %s%s; %d errors so far", self.where, self.last_error, more,
                            self.errors)
                self._last_logged, self._unlogged = now, 0
            else:
                self._unlogged += 1
            return None

    def set_active(self, active: bool) -> None:
        """Fast readings while the desk moves or is about to; slow ones at rest."""
        if active and not self._active:
            self._active = True
            self._wake.set()
        elif not active:
            self._active = False

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        with self._bus_lock:
            bus, self._bus = self._bus, None
        if bus is not None:
            try:
                bus.close()
            except OSError:
                log.warning("closing I2C bus %s failed", self.bus_number, exc_info=True)

    def stats(self) -> dict[str, Any]:
        """What `deskpi doctor` and the control socket show."""
        latest = self.latest
        return {"chip": self.chip, "bus": self.bus_number, "address": self.address,
                "samples": self.samples, "errors": self.errors, "saturated": self.saturated,
                "last_error": self.last_error, "range_a": round(self.setup.range_a, 2),
                "latest_a": None if latest is None else round(latest.amps, 3),
                "interval_s": self.interval_now_s}
