"""The simulated shunt monitor (deskpi.sim.ina_bus) and the simulated desk's I2C bus, read by the real driver.

The chip model on its own is checked against a stub current source (exact numbers); the desk's
bus against the desk physics with the motor run through mock pins, polled with deadlines.
"""
from __future__ import annotations

import contextlib
import errno
import random
import statistics

import pytest
from gpiozero import DigitalOutputDevice
from helpers import wait_until

from deskpi.hw.current_sensor import CurrentSensor, chip_setup, signed16
from deskpi.sim.ina_bus import InaBus, InaChip
from deskpi.sim.mockdesk import SimFactory, SimPins, SimulatedDesk
from deskpi.sim.sensor_model import SensorSpec


class StubPhysics:
    """Stands in for the desk physics: a current the test sets."""

    def __init__(self, amps: float = 0.0) -> None:
        self.amps = amps

    def current_a(self) -> float:
        return self.amps


def test_the_chip_computes_its_current_register_as_the_datasheet_says():
    stub = StubPhysics(2.0)
    chip = InaChip("ina219", 0.01, stub.current_a)
    assert chip.read(0x04) == 0                        # calibration 0 after power-on: the register reads 0
    chip.write(0x00, (0b11 << 11) | 0b101)             # the +-320 mV range
    chip.write(0x05, 4097)                             # bit 0 does not exist
    assert chip.calibration == 4096
    assert chip.read(0x01) == 2000                     # 20 mV in 10 uV steps
    assert chip.read(0x04) == 2000 * 4096 // 4096
    stub.amps = -0.5
    assert chip.read(0x01) == 0x10000 - 500            # two's complement
    chip.write(0x00, 0x8000)                           # reset
    assert (chip.config, chip.calibration) == (0x399F, 0)


def test_the_ina226_model_has_its_ids_and_an_overflow_flag():
    stub = StubPhysics(30.0)
    chip = InaChip("ina226", 0.002, stub.current_a)
    assert (chip.read(0xFE), chip.read(0xFF)) == (0x5449, 0x2260)
    chip.write(0x05, 0x7FFF)                           # a calibration the shunt's full scale overflows
    assert chip.read(0x04) == 0x7FFF and chip.read(0x06) & 0b100
    with pytest.raises(OSError) as err:
        InaChip("ina219", 0.01, stub.current_a).read(0xFE)
    assert err.value.errno == errno.EREMOTEIO


@pytest.mark.parametrize("chip", ["ina219", "ina226"])
def test_the_chip_averages_as_its_configuration_says_and_its_noise_shrinks_with_it(chip):
    setup = chip_setup(chip, 0.005, 12.0, 0.005)
    ina = InaChip(chip, 0.005, StubPhysics(2.0).current_a, noise_a=0.05, rng=random.Random(4))
    power_on = 0.000532 if chip == "ina219" else 0.0011         # one 12-bit conversion; one of 1.1 ms
    assert ina.averaging_s() == pytest.approx(power_on)
    quick = statistics.stdev(signed16(ina.read(0x01)) for _ in range(4000))
    ina.write(0x00, setup.config)
    assert ina.averaging_s() == pytest.approx(setup.conversion_s)
    slow = statistics.stdev(signed16(ina.read(0x01)) for _ in range(4000))
    assert quick / slow == pytest.approx((setup.conversion_s / power_on) ** 0.5, rel=0.08)


def test_the_bus_answers_only_where_a_chip_is():
    bus = InaBus({0x41: InaChip("ina219", 0.01, StubPhysics().current_a)})
    assert bus.read_i2c_block_data(0x41, 0x00, 2) == [0x39, 0x9F]
    with pytest.raises(OSError):
        bus.read_i2c_block_data(0x40, 0x00, 2)
    bus.broken = True
    with pytest.raises(OSError):
        bus.read_i2c_block_data(0x41, 0x00, 2)


def test_the_driver_reads_a_stub_physics_through_the_bus():
    stub = StubPhysics(4.2)
    bus = InaBus({0x40: InaChip("ina226", 0.002, stub.current_a)})
    r = CurrentSensor("ina226", shunt_ohms=0.002, max_amps=20.0, bus_factory=lambda n: bus)
    try:
        r.open()
        assert r.read().amps == pytest.approx(4.2, abs=0.005)
        stub.amps = 0.0
        assert r.read().amps == pytest.approx(0.0, abs=0.005)
    finally:
        r.close()


@pytest.fixture
def desk():
    factory = SimFactory()
    pins = SimPins()
    d = SimulatedDesk(factory, pins=pins, sensor=SensorSpec(noise_mm=0, outliers=0, dropouts=0), seed=3,
                      start_mm=800.0)
    up = DigitalOutputDevice(pins.up, initial_value=False, pin_factory=factory)
    yield d, up
    for step in (up.off, up.close, d.close, factory.close):
        with contextlib.suppress(Exception):  # teardown must run every step
            step()


@pytest.mark.parametrize("chip", ["ina219", "ina226"])
def test_the_simulated_desk_bus_reads_the_motor_current(desk, chip):
    d, up = desk
    shunt = 0.005
    bus = d.i2c_bus(chip, 0x40, shunt, noise_a=0.0)
    r = CurrentSensor(chip, shunt_ohms=shunt, max_amps=16.0, bus_factory=lambda n: bus)
    tol = 2 * chip_setup(chip, shunt, 16.0).amps_per_bit + 0.0025
    try:
        r.open()
        assert r.read().amps == pytest.approx(0.0, abs=tol)        # motor off
        up.on()

        def steady_running():
            amps, true = r.read().amps, d.current_a()
            return 1.0 < amps < 5.0 and abs(amps - true) < 0.05
        wait_until(steady_running, what="the running current, after the start-up surge")
        d.inject("stall")
        wait_until(lambda: r.read().amps > 0.95 * d.physics.spec.current_stall_a, what="the stall current")
        up.off()
        wait_until(lambda: abs(r.read().amps) < tol, what="no current with the motor off")
    finally:
        r.close()


def test_the_desk_bus_adds_noise_when_asked(desk):
    d, _ = desk
    bus = d.i2c_bus("ina226", 0x40, 0.002, noise_a=0.05)
    r = CurrentSensor("ina226", shunt_ohms=0.002, max_amps=20.0, bus_factory=lambda n: bus)
    try:
        r.open()
        readings = {round(r.read().amps, 4) for _ in range(20)}
        assert len(readings) > 5 and all(abs(a) < 0.5 for a in readings)
    finally:
        r.close()
