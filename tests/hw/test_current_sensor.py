"""The INA219/INA226 reader (deskpi.hw.current_sensor) on fake I2C buses.

Two kinds of fake: a scripted bus that answers fixed register words (the decoding, by hand-computed
numbers), and the register-level chip model of deskpi/sim/ina_bus.py (the arithmetic end to end:
the chip computes its current register from whatever calibration the driver wrote). Threads are
synchronised on Events with timeouts, never on sleeps.
"""
from __future__ import annotations

import errno
import logging
import subprocess
import sys
import threading
import time

import pytest

from deskpi.core.types import CurrentSample
from deskpi.hw.current_sensor import (
    AVERAGING_SHARE,
    FRESH_CONVERSIONS,
    INA219_AVERAGING,
    INA226_AVERAGING,
    CurrentSensor,
    CurrentSensorError,
    averaging,
    chip_setup,
    signed16,
)
from deskpi.sim.ina_bus import InaBus, InaChip

WAIT_S = 10.0


class ScriptedBus:
    """Answers register reads from `words` (address 0x40 only) and records writes."""

    def __init__(self, words: dict[int, int]) -> None:
        self.words = dict(words)
        self.writes: list[tuple[int, int]] = []
        self.closed = False

    def read_i2c_block_data(self, addr, reg, length):
        if addr != 0x40 or reg not in self.words:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        w = self.words[reg]
        return [w >> 8, w & 0xFF]

    def write_i2c_block_data(self, addr, reg, data):
        self.writes.append((reg, (data[0] << 8) | data[1]))
        if reg == 0x05:
            self.words[0x05] = (data[0] << 8) | data[1]

    def close(self):
        self.closed = True


class Amps:
    """The true current the simulated chip measures; settable from the test."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def chip_bus(chip: str, shunt_ohms: float, amps: Amps, address: int = 0x40) -> tuple[InaBus, InaChip]:
    model = InaChip(chip, shunt_ohms, amps)
    return InaBus({address: model}), model


@pytest.fixture
def made():
    readers: list[CurrentSensor] = []
    yield readers
    for r in readers:
        r.close()


def reader(made, chip="ina219", bus=None, **kw) -> CurrentSensor:
    r = CurrentSensor(chip, bus_factory=lambda n: bus, **kw)
    made.append(r)
    return r


# -- the register arithmetic ------------------------------------------------------------------

def test_ina219_setup_by_the_datasheet():
    s = chip_setup("ina219", 0.01, 10.0)
    # 10 A * 10 mOhm = 100 mV: the +-160 mV PGA range; 32 V bus, 12-bit bus ADC, shunt ADC 8 samples
    # averaged (4.26 ms, the most that fits the 5 ms between reads), shunt only
    assert s.config == (1 << 13) | (0b10 << 11) | (0b0011 << 7) | (0b1011 << 3) | 0b101 == 0x31DD
    assert s.conversion_s == pytest.approx(0.00426, abs=1e-5)
    # Cal = trunc(0.04096 / (current_LSB * R)) with current_LSB = 160 mV / R / 32767
    assert s.calibration == 8388
    assert s.amps_per_bit == pytest.approx(0.04096 / (8388 * 0.01))
    assert s.range_a == pytest.approx(16.0)
    assert chip_setup("ina219", 0.1, 0.5).config >> 11 & 0b11 == 0b01          # 50 mV: the 80 mV range
    assert chip_setup("ina219", 0.001, 30.0).config >> 11 & 0b11 == 0b00       # 30 mV: the 40 mV range
    assert chip_setup("ina219", 0.001, 30.0).calibration % 2 == 0              # its bit 0 does not exist


def test_ina226_setup_by_the_datasheet():
    s = chip_setup("ina226", 0.002, 20.0)
    # 4 averaged of 1.1 ms shunt conversions: 4.4 ms, the most that fits the 5 ms between reads
    assert s.config == 0x4000 | (0b001 << 9) | (0b100 << 6) | (0b100 << 3) | 0b101 == 0x4325
    # Cal = trunc(0.00512 / (current_LSB * R)) with current_LSB = 81.92 mV / R / 32767
    assert s.calibration == 2047
    assert s.amps_per_bit == pytest.approx(0.00512 / (2047 * 0.002))
    assert s.range_a == pytest.approx(40.96)
    assert s.conversion_s == pytest.approx(0.0044)


@pytest.mark.parametrize("chip", ["ina219", "ina226"])
@pytest.mark.parametrize("interval_s", [0.002, 0.003, 0.005, 0.0123, 0.05])
def test_the_chip_averages_the_current_over_as_much_of_the_interval_as_fits(chip, interval_s):
    table = INA219_AVERAGING if chip == "ina219" else INA226_AVERAGING
    bits, seconds = averaging(chip, interval_s)
    assert (bits, seconds) in table
    # Never longer than the interval with the chip's clock 10 % slow: each read finds a new conversion ...
    assert seconds * 1.1 < interval_s
    # ... and no choice the chip offers fills more of it.
    assert not [s for _, s in table if seconds < s <= AVERAGING_SHARE * interval_s]
    assert chip_setup(chip, 0.005, 12.0, interval_s).conversion_s == seconds
    assert chip_setup(chip, 0.005, 12.0, interval_s).config & 0b111 == 0b101          # shunt only, continuous


@pytest.mark.parametrize(("chip", "shunt", "amps"), [("ina219", 0.01, 40.0), ("ina226", 0.01, 10.0),
                                                     ("ina226", 0.1, 1.0)])
def test_a_shunt_beyond_the_chips_range_is_refused_saying_so(chip, shunt, amps):
    with pytest.raises(ValueError, match="mV across the shunt"):
        chip_setup(chip, shunt, amps)


def test_signed_words():
    assert [signed16(w) for w in (0x0000, 0x0001, 0x7FFF, 0x8000, 0xFFFF)] == [0, 1, 32767, -32768, -1]


@pytest.mark.parametrize("chip", ["ina219", "ina226"])
def test_open_writes_the_configuration_and_calibration(made, chip):
    bus = ScriptedBus({0x04: 0})
    r = reader(made, chip, bus, shunt_ohms=0.005)
    r.open()
    assert bus.writes == [(0x00, r.setup.config), (0x05, r.setup.calibration)]


@pytest.mark.parametrize(("word", "bits", "saturated"), [(0x1000, 4096, 0), (0xFFFF, -1, 0), (0x0000, 0, 0),
                                                         (0x7FFF, 32767, 1), (0x8000, -32768, 1),
                                                         (0xC000, -16384, 0)])
def test_the_current_register_is_signed_and_its_ends_are_counted(made, word, bits, saturated):
    bus = ScriptedBus({0x04: word})
    r = reader(made, "ina219", bus, clock=lambda: 12.5)
    r.open()
    sample = r.read()
    assert sample == CurrentSample(12.5, bits * r.setup.amps_per_bit)
    assert r.saturated == saturated


@pytest.mark.parametrize(("chip", "shunt", "max_amps"), [("ina219", 0.01, 10.0), ("ina219", 0.1, 0.5),
                                                         ("ina226", 0.002, 20.0), ("ina226", 0.005, 8.0)])
@pytest.mark.parametrize("share", [0.0, 0.037, 0.32, -0.25, 1.0])
def test_the_chip_model_reads_back_the_true_current(made, chip, shunt, max_amps, share):
    true_a = share * max_amps
    amps = Amps(true_a)
    bus, model = chip_bus(chip, shunt, amps)
    r = reader(made, chip, bus, shunt_ohms=shunt, max_amps=max_amps)
    r.open()
    assert model.calibration == r.setup.calibration
    step = max(10e-6 if chip == "ina219" else 2.5e-6, 0) / shunt       # the chip's own shunt resolution
    assert r.read().amps == pytest.approx(true_a, abs=step + 2 * r.setup.amps_per_bit)
    assert r.saturated == 0
    assert not r.setup.saturated(r.setup.saturation_bits - 1)


@pytest.mark.parametrize(("chip", "shunt", "max_amps", "range_a"), [("ina219", 0.01, 10.0, 16.0),
                                                                    ("ina226", 0.002, 20.0, 40.96)])
@pytest.mark.parametrize("sign", [1, -1])
def test_a_current_beyond_the_range_saturates_and_never_wraps(made, chip, shunt, max_amps, range_a, sign):
    amps = Amps(sign * 3 * range_a)
    bus, model = chip_bus(chip, shunt, amps)
    r = reader(made, chip, bus, shunt_ohms=shunt, max_amps=max_amps)
    r.open()
    got = r.read().amps
    assert sign * got == pytest.approx(range_a, rel=0.01)      # at least this much, and the right sign
    assert not model.overflow                                  # the chip's own arithmetic did not overflow
    assert r.saturated == 1


def test_a_chip_that_lost_its_calibration_is_set_up_again_on_a_verified_read(made):
    amps = Amps(2.0)
    bus, model = chip_bus("ina226", 0.002, amps)
    r = reader(made, "ina226", bus, shunt_ohms=0.002, max_amps=20.0)
    r.open()
    model.reset()                       # a brown-out: calibration 0, the current register reads 0
    assert r.read().amps == 0.0         # an unverified read cannot know
    assert r.read(verify=True).amps == pytest.approx(2.0, abs=0.01)
    assert model.calibration == r.setup.calibration


# -- opening and identifying ---------------------------------------------------------------------

def test_no_bus_device_says_to_enable_i2c(made):
    def missing(n):
        raise FileNotFoundError(errno.ENOENT, f"No such file or directory: '/dev/i2c-{n}'")
    r = CurrentSensor("ina219", bus=1, bus_factory=missing)
    made.append(r)
    with pytest.raises(CurrentSensorError, match="raspi-config"):
        r.open()


def test_nothing_at_the_address_says_to_check_wiring_and_jumpers(made):
    bus, _ = chip_bus("ina219", 0.01, Amps(), address=0x41)
    r = reader(made, "ina219", bus, address=0x40)
    with pytest.raises(CurrentSensorError, match=r"0x40 on I2C bus 1.*wiring.*jumpers.*i2cdetect -y 1"):
        r.open()


def test_identify_reads_without_writing(made):
    bus, model = chip_bus("ina226", 0.002, Amps())
    r = reader(made, "ina226", bus, shunt_ohms=0.002, max_amps=20.0)
    r.open()
    model.config = 0x4127
    seen = r.identify()
    assert seen["manufacturer_id"] == 0x5449 and seen["die_id"] == 0x2260 and seen["config"] == 0x4127
    assert model.config == 0x4127                       # nothing was written


def test_identify_refuses_a_chip_that_is_not_an_ina226(made):
    bus = ScriptedBus({0x00: 0x4127, 0x04: 0, 0x05: 0, 0xFE: 0x1234, 0xFF: 0})
    r = reader(made, "ina226", bus, shunt_ohms=0.002, max_amps=20.0)
    r.open()
    with pytest.raises(CurrentSensorError, match="not an INA226.*0x1234"):
        r.identify()


def test_importing_the_reader_does_not_import_smbus2():
    code = "import sys, deskpi.hw.current_sensor; print('smbus2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_real_bus_factory_reports_a_missing_bus_clearly(made):
    pytest.importorskip("smbus2")
    r = CurrentSensor("ina219", bus=20)          # no Pi here has /dev/i2c-20
    made.append(r)
    with pytest.raises(CurrentSensorError, match="cannot open I2C bus 20"):
        r.open()


# -- the thread ------------------------------------------------------------------------------------

class Collector:
    """on_sample that sets `enough` once `n` samples (matching `want`) have arrived."""

    def __init__(self, n: int, want=lambda s: True) -> None:
        self.n, self.want = n, want
        self.samples: list[CurrentSample] = []
        self.enough = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, sample: CurrentSample) -> None:
        with self.lock:
            if self.want(sample):
                self.samples.append(sample)
            if len(self.samples) >= self.n:
                self.enough.set()

    def expect(self, n: int, want=lambda s: True) -> threading.Event:
        with self.lock:
            self.samples, self.n, self.want = [], n, want
            self.enough.clear()
        return self.enough


class CountingBus(InaBus):
    """An InaBus that sets `failed` once `n` transfers have failed."""

    def __init__(self, chips, n: int) -> None:
        super().__init__(chips)
        self.n, self.failures = n, 0
        self.failed = threading.Event()

    def _counted(self, transfer, *a):
        try:
            return transfer(*a)
        except OSError:
            self.failures += 1
            if self.failures >= self.n:
                self.failed.set()
            raise

    def read_i2c_block_data(self, *a, **kw):
        return self._counted(super().read_i2c_block_data, *a)

    def write_i2c_block_data(self, *a, **kw):
        return self._counted(super().write_i2c_block_data, *a)


def test_bus_errors_are_counted_and_logged_rarely_never_raised_and_reading_resumes(made, caplog):
    amps = Amps(1.5)
    model = InaChip("ina219", 0.01, amps)
    bus = CountingBus({0x40: model}, n=20)
    got = Collector(3)
    r = reader(made, "ina219", bus, interval_s=0.002, on_sample=got)
    r.open()
    r.start()
    assert got.enough.wait(WAIT_S)
    with caplog.at_level(logging.WARNING, logger="deskpi.hw.current_sensor"):
        bus.broken = True
        model.reset()                       # whatever upset the bus upset the chip too
        assert bus.failed.wait(WAIT_S)
        resumed = got.expect(3, lambda s: abs(s.amps - 1.5) < 0.01)
        bus.broken = False
        assert resumed.wait(WAIT_S)         # set up again and reading the right amperes
    assert r.errors >= 20 and "OSError" in r.last_error
    warnings = [rec for rec in caplog.records if "failed" in rec.getMessage()]
    assert 1 <= len(warnings) <= 2          # twenty errors, one or two lines in the log
    assert model.calibration == r.setup.calibration


class LateBus(InaBus):
    """Every third current read is held up 2 ms before the chip hands over its register (a busy
    bus, a late thread); notes when each read reached the chip."""

    def __init__(self, chips) -> None:
        super().__init__(chips)
        self.latched: list[float] = []
        self.n = 0

    def read_i2c_block_data(self, addr, reg, length, force=None):
        if reg == 0x04:
            self.n += 1
            if self.n % 3 == 0:
                time.sleep(0.002)
            self.latched.append(time.monotonic())
        return super().read_i2c_block_data(addr, reg, length)


def test_a_read_after_a_late_one_waits_for_a_new_average(made):
    # At 5 ms an INA226 averages 4.4 ms: a read 2 ms late followed by one on time would find the
    # same average again, and the checks would weigh one reading twice.
    bus = LateBus({0x40: InaChip("ina226", 0.005, Amps(1.5))})
    got = Collector(60)
    r = reader(made, "ina226", bus, shunt_ohms=0.005, max_amps=12.0, interval_s=0.005, on_sample=got)
    r.open()
    r.start()
    assert got.enough.wait(WAIT_S)
    r.close()
    gaps = [b - a for a, b in zip(bus.latched, bus.latched[1:], strict=False)]
    assert min(gaps) >= FRESH_CONVERSIONS * r.setup.conversion_s > r.setup.conversion_s, min(gaps)


def test_a_failing_receiver_does_not_stop_the_reader(made):
    calls = threading.Event()
    count = [0]

    def bad(sample):
        count[0] += 1
        if count[0] >= 3:
            calls.set()
        raise RuntimeError("receiver broke")

    bus, _ = chip_bus("ina219", 0.01, Amps(1.0))
    r = reader(made, "ina219", bus, interval_s=0.002, on_sample=bad)
    r.open()
    r.start()
    assert calls.wait(WAIT_S)
    assert r.errors == 0


def test_set_active_wakes_a_resting_reader_at_once(made):
    bus, _ = chip_bus("ina219", 0.01, Amps(0.8))
    got = Collector(1)
    r = reader(made, "ina219", bus, interval_s=0.002, idle_interval_s=3600.0, on_sample=got)
    r.open()
    r.set_active(False)
    assert r.interval_now_s == 3600.0
    r.start()
    assert got.enough.wait(WAIT_S)          # the first reading, then an hour's rest
    fast = got.expect(5)
    r.set_active(True)                      # a move is starting: no sleeping out the hour
    assert r.interval_now_s == 0.002
    assert fast.wait(WAIT_S)
    stamps = [s.t for s in got.samples]
    assert stamps == sorted(stamps)
    r.set_active(False)
    assert r.interval_now_s == 3600.0


def test_close_stops_the_thread_and_closes_the_bus(made):
    bus, _ = chip_bus("ina219", 0.01, Amps())
    got = Collector(2)
    r = reader(made, "ina219", bus, interval_s=0.002, on_sample=got)
    r.open()
    r.start()
    assert got.enough.wait(WAIT_S)
    r.close()
    assert bus.closed
    assert r.stats()["samples"] >= 2
    r.close()                               # twice is harmless
