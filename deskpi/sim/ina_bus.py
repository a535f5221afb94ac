"""A simulated I2C bus with an INA219 or INA226 on it, so the real current-sensor driver runs in `deskpi sim`.

The chip is modelled at the register level, as the datasheets describe it (INA219 SBOS448, INA226
SBOS547): it measures the shunt voltage (the true current times the shunt, plus noise) in its own
steps and clipped to its own range, and computes the current register from the shunt register and
whatever calibration the driver wrote, truncating as the chip does. A driver with the arithmetic
wrong reads wrong amperes here too. Registers are big-endian words, as smbus2's block transfers
carry them; an address nobody answers at raises OSError(EREMOTEIO), as the kernel's does.
"""
from __future__ import annotations

import errno
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from deskpi.hw.current_sensor import INA219_AVERAGING, INA226_AVERAGING

#: The averaging a current's noise is stated for (1.2 ms: about what an INA219 averaging two
#: conversions or an INA226 averaging four of 332 us makes); the fault bench's sensor states it so too.
NOISE_WINDOW_S = 0.0012
#: An INA219's single conversions without averaging (SADC 0X00-0X11): 9 to 12 bits.
INA219_SINGLE_S = (0.000084, 0.000148, 0.000276, 0.000532)

INA219_RESET_CONFIG = 0x399F
INA226_RESET_CONFIG = 0x4127
TI_MANUFACTURER_ID = 0x5449
INA226_DIE_ID = 0x2260


def _word(value: int) -> int:
    """A signed value as the 16-bit two's complement word the chip holds."""
    return value & 0xFFFF


def _clip16(value: int) -> tuple[int, bool]:
    clipped = min(max(value, -0x8000), 0x7FFF)
    return clipped, clipped != value


@dataclass
class InaChip:
    """One INA219 or INA226 measuring `amps()` through `shunt_ohms`.

    `noise_a` is one reading's noise averaged over NOISE_WINDOW_S, as the fault bench's sensor
    states it: the chip's averaging (from its configuration register) divides it by the square
    root of how much longer it averages.
    """

    chip: str
    shunt_ohms: float
    amps: Callable[[], float]
    noise_a: float = 0.0
    supply_v: float = 24.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    config: int = 0
    calibration: int = 0
    overflow: bool = False

    def __post_init__(self) -> None:
        if self.chip not in ("ina219", "ina226"):
            raise ValueError(f"simulated chip {self.chip!r} is not 'ina219' or 'ina226'")
        self.reset()

    def reset(self) -> None:
        """Power-on state: default configuration, calibration 0 (the current register reads 0)."""
        self.config = INA219_RESET_CONFIG if self.chip == "ina219" else INA226_RESET_CONFIG
        self.calibration = 0
        self.overflow = False

    def averaging_s(self) -> float:
        """How long one averaged shunt conversion takes with the configuration written."""
        if self.chip == "ina219":
            table, bits = INA219_AVERAGING, self.config & (0b1111 << 3)
            if not bits & (0b1000 << 3):
                return INA219_SINGLE_S[(bits >> 3) & 0b11]
        else:
            table, bits = INA226_AVERAGING, self.config & (0b111 << 9 | 0b111 << 3)
        return next(seconds for b, seconds in table if b == bits)

    def _shunt_counts(self) -> int:
        sd = self.noise_a * (NOISE_WINDOW_S / self.averaging_s()) ** 0.5
        amps = self.amps() + (self.rng.gauss(0.0, sd) if sd > 0 else 0.0)
        volts = amps * self.shunt_ohms
        if self.chip == "ina219":
            range_v = 0.04 * (1 << ((self.config >> 11) & 0b11))     # PGA: /1 40 mV ... /8 320 mV
            full = round(range_v / 10e-6)
            return min(max(round(volts / 10e-6), -full), full)
        return _clip16(round(volts / 2.5e-6))[0]

    def read(self, reg: int) -> int:
        if reg == 0x00:
            return self.config
        if reg == 0x01:
            return _word(self._shunt_counts())
        if reg == 0x02:
            if self.chip == "ina219":
                return (round(self.supply_v / 0.004) << 3) | (1 << 1) | int(self.overflow)
            return round(self.supply_v / 0.00125)
        if reg == 0x03:
            return 0                                          # power: nothing here reads it
        if reg == 0x04:
            divisor = 4096 if self.chip == "ina219" else 2048
            value, self.overflow = _clip16(int(self._shunt_counts() * self.calibration / divisor))
            return _word(value)
        if reg == 0x05:
            return self.calibration
        if self.chip == "ina226":
            if reg == 0x06:
                return (1 << 3) | (int(self.overflow) << 2)     # conversion ready, math overflow
            if reg == 0xFE:
                return TI_MANUFACTURER_ID
            if reg == 0xFF:
                return INA226_DIE_ID
        raise OSError(errno.EREMOTEIO, f"{self.chip} has no register {reg:#04x}")

    def write(self, reg: int, value: int) -> None:
        if reg == 0x00:
            if value & 0x8000:
                self.reset()
            else:
                self.config = value if self.chip == "ina219" else (value & 0x0FFF) | 0x4000
        elif reg == 0x05:
            self.calibration = value & (0xFFFE if self.chip == "ina219" else 0x7FFF)
        elif not (self.chip == "ina226" and reg in (0x06, 0x07)):
            raise OSError(errno.EREMOTEIO, f"{self.chip} has no writable register {reg:#04x}")


class InaBus:
    """smbus2.SMBus's block transfers over simulated chips, one per address."""

    def __init__(self, chips: dict[int, InaChip]) -> None:
        self.chips = chips
        self.broken = False          # tests: every transfer fails as a loose wire does
        self.closed = False
        self.transfers = 0
        self._lock = threading.Lock()

    def _chip(self, addr: int) -> InaChip:
        if self.closed:
            raise OSError(errno.EBADF, "the bus is closed")
        if self.broken:
            raise OSError(errno.EIO, "Input/output error")
        chip = self.chips.get(addr)
        if chip is None:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        return chip

    def read_i2c_block_data(self, i2c_addr: int, register: int, length: int, force=None) -> list[int]:
        with self._lock:
            self.transfers += 1
            word = self._chip(i2c_addr).read(register)
        return [(word >> 8) & 0xFF, word & 0xFF][:length]

    def write_i2c_block_data(self, i2c_addr: int, register: int, data: list[int], force=None) -> None:
        with self._lock:
            self.transfers += 1
            if len(data) != 2:
                raise OSError(errno.EIO, f"{len(data)} bytes written to a 16-bit register")
            self._chip(i2c_addr).write(register, (data[0] << 8) | data[1])

    def close(self) -> None:
        self.closed = True
