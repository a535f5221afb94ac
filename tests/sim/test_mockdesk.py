"""The simulated desk behind mock pins (deskpi.sim.mockdesk.SimulatedDesk).

Outputs are written through gpiozero devices or raw SimPins; the desk is
observed through true_height()/at_rest()/violations and polled with deadlines.
"""
from __future__ import annotations

import contextlib
import time

import pytest
from gpiozero import DigitalOutputDevice
from helpers import wait_until

from deskpi.sim.mockdesk import PIN_HISTORY, SimFactory, SimPins, SimulatedDesk
from deskpi.sim.physics import DeskSpec
from deskpi.sim.sensor_model import SensorSpec

PINS = SimPins()
QUIET = SensorSpec(noise_mm=0, outliers=0, dropouts=0)




class Rig:
    def __init__(self, active_high: bool = True, start_mm: float = 800.0, devices: bool = True) -> None:
        self.factory = SimFactory()
        self.desk = SimulatedDesk(self.factory, pins=PINS, sensor=QUIET, seed=2, start_mm=start_mm,
                                  active_high=active_high)
        self.up = self.down = None
        if not devices:
            return
        self.up = DigitalOutputDevice(PINS.up, active_high=active_high, initial_value=False,
                                      pin_factory=self.factory)
        self.down = DigitalOutputDevice(PINS.down, active_high=active_high, initial_value=False,
                                        pin_factory=self.factory)

    def kinds(self) -> list[str]:
        return [v.kind for v in self.desk.violations]

    def close(self) -> None:
        devices = [d for d in (self.up, self.down) if d is not None]
        steps = [d.off for d in devices] + [d.close for d in devices] + [self.desk.close, self.factory.close]
        for step in steps:
            with contextlib.suppress(Exception):  # teardown must run every step
                step()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


@pytest.fixture
def inverted():
    r = Rig(active_high=False)
    yield r
    r.close()


def test_desk_starts_at_rest_at_start_height(rig):
    assert rig.desk.true_height() == pytest.approx(800.0)
    assert rig.desk.at_rest()
    assert rig.desk.violations == []


def test_up_pin_raises_the_desk(rig):
    start = rig.desk.true_height()
    rig.up.on()
    wait_until(lambda: rig.desk.true_height() > start + 10, 10, "the desk to rise 10 mm")
    rig.up.off()
    wait_until(rig.desk.at_rest, 10, "the desk to stop")
    stopped = rig.desk.true_height()
    assert stopped > start + 10
    assert rig.desk.true_height() == stopped     # at rest means it stays put
    assert rig.desk.violations == []


def test_down_pin_lowers_the_desk(rig):
    start = rig.desk.true_height()
    rig.down.on()
    wait_until(lambda: rig.desk.true_height() < start - 10, 10, "the desk to fall 10 mm")
    rig.down.off()
    wait_until(rig.desk.at_rest, 10, "the desk to stop")
    assert rig.desk.true_height() < start - 10
    assert rig.desk.violations == []


def test_both_pins_on_is_a_violation(rig):
    rig.up.on()
    rig.down.on()
    assert "both_on" in rig.kinds()
    rig.down.off()
    rig.up.off()


def test_reversal_without_dead_time_is_a_violation(rig):
    rig.up.on()
    rig.up.off()
    rig.down.on()      # microseconds later: far inside the 100 ms dead time
    rig.down.off()
    assert rig.kinds() == ["no_dead_time"]
    assert "down on" in rig.desk.violations[0].detail


def test_reversal_after_dead_time_is_not_a_violation(rig):
    rig.up.on()
    rig.up.off()
    t_off = time.monotonic()       # at or after the pin's own off stamp
    wait_until(lambda: time.monotonic() - t_off >= DeskSpec().dead_time_s + 0.02, 5, "the dead time")
    rig.down.on()
    rig.down.off()
    assert rig.desk.violations == []


def test_same_direction_restart_is_not_a_violation(rig):
    rig.up.on()
    rig.up.off()
    rig.up.on()
    rig.up.off()
    assert rig.desk.violations == []


@pytest.mark.parametrize("active_high", [True, False])
def test_active_level_of_the_relay_driver(active_high):
    """With active_high=False, a low pin is 'on' and a high pin is 'off'."""
    r = Rig(active_high=active_high, devices=False)
    try:
        on_level, off_level = (1, 0) if active_high else (0, 1)
        # Raw pin writes, so the level is exactly what the relay driver sees.
        pin = r.factory.pin(PINS.up)
        pin.function = "output"
        pin.state = off_level
        assert not r.desk.physics.motor_on
        start = r.desk.true_height()
        pin.state = on_level
        assert r.desk.physics.motor_on
        wait_until(lambda: r.desk.true_height() > start + 5, 10, "the desk to rise")
        pin.state = off_level
        wait_until(r.desk.at_rest, 10, "the desk to stop")
        assert r.desk.violations == []
    finally:
        r.close()


def test_inverted_desk_moves_with_inverted_device(inverted):
    """The same DigitalOutputDevice(active_high=False) code that drives a
    real active-low relay board drives the inverted simulated desk."""
    assert not inverted.desk.physics.motor_on     # devices built 'off' (pins high)
    start = inverted.desk.true_height()
    inverted.down.on()
    assert inverted.factory.pin(PINS.down).state == 0
    wait_until(lambda: inverted.desk.true_height() < start - 5, 10, "the desk to fall")
    inverted.down.off()
    wait_until(inverted.desk.at_rest, 10, "the desk to stop")
    assert inverted.desk.true_height() < start - 5


def test_end_stop_limits_travel():
    r = Rig(start_mm=DeskSpec().max_mm - 3)
    try:
        r.up.on()
        wait_until(lambda: r.desk.true_height() >= DeskSpec().max_mm - 1e-6, 10, "the end stop")
        assert r.desk.true_height() <= DeskSpec().max_mm + 1e-6
        r.up.off()
    finally:
        r.close()


def test_unknown_fault_is_refused(rig):
    with pytest.raises(ValueError, match="'gremlins'"):
        rig.desk.inject("gremlins")


def test_a_pin_that_keeps_changing_remembers_a_bounded_history():
    """A long-running `deskpi sim` pings its sensor ~15 times a second: the pins' histories must not grow
    without end (gpiozero's MockPin keeps every change), and the newest changes stay in order."""
    factory = SimFactory()
    pin = DigitalOutputDevice(PINS.trigger, initial_value=False, pin_factory=factory)
    for _ in range(5 * PIN_HISTORY):
        pin.on()
        pin.off()
    states = factory.pin(PINS.trigger).states
    assert len(states) <= PIN_HISTORY
    assert [s.state for s in states[-4:]] == [True, False, True, False]
    pin.close()


def test_each_ping_tells_the_sensor_model_how_long_since_the_last():
    """So the model can place the last ping's ghosts (deskpi.sim.sensor_model)."""
    rig = Rig(devices=False)
    calls: list[float] = []
    ping = rig.desk.sensor.ping

    def spy(height_mm, since_s=float("inf")):
        calls.append(since_s)
        return ping(height_mm, since_s)

    rig.desk.sensor.ping = spy
    trigger = DigitalOutputDevice(PINS.trigger, initial_value=False, pin_factory=rig.factory)
    try:
        stamps = []
        for _ in range(2):
            trigger.on()
            trigger.off()
            stamps.append(trigger.pin._last_change)
        wait_until(lambda: len(calls) == 2, what="two pings answered")
    finally:
        trigger.close()
        rig.close()
    assert calls[0] == float("inf")
    assert calls[1] == pytest.approx(stamps[1] - stamps[0])
