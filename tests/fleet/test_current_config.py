"""The `[current]` section (optional motor current sensing): defaults, what is refused and how it is said,
and how it reaches the motion controller's settings."""
from __future__ import annotations

import pytest

from deskpi.config import SHUNT_RANGE_V, ConfigError, defaults, from_mapping
from deskpi.hw import current_sensor


def problems(current: dict, **sections) -> list[str]:
    with pytest.raises(ConfigError) as info:
        from_mapping({"current": current, **sections})
    return info.value.problems


def test_off_by_default_with_a_common_breakout_board():
    c = defaults().current
    assert c.enabled is False
    assert (c.chip, c.bus, c.address, c.shunt_ohms, c.max_amps) == ("ina219", 1, 0x40, 0.01, 10.0)
    assert (c.interval_s, c.rise_a, c.surge_s, c.stall_a) == (0.005, 0.5, 0.15, None)


def test_an_enabled_sensor_with_a_hex_address_and_a_stall_current():
    s = from_mapping({"current": {"enabled": True, "chip": "ina226", "address": 0x45, "shunt_ohms": 0.002,
                                  "max_amps": 20, "stall_a": 8.5, "interval_s": 0.002}})
    c = s.current
    assert (c.enabled, c.chip, c.address, c.max_amps, c.stall_a) == (True, "ina226", 0x45, 20.0, 8.5)
    assert s.warnings == ()
    assert from_mapping({"current": {"stall_a": False}}).current.stall_a is None


@pytest.mark.parametrize(("current", "fragments"), [
    ({"address": 0x50}, ["[current] address = 80", "0x40..0x4f"]),
    ({"address": "0x40"}, ["[current] address = '0x40'", "whole number"]),
    ({"chip": "ina260"}, ["[current] chip = 'ina260'", "'ina219'", "'ina226'"]),
    ({"bus": 21}, ["[current] bus = 21", "0..20"]),
    ({"shunt_ohms": 0}, ["[current] shunt_ohms = 0", "0.001..1"]),
    ({"max_amps": 50}, ["[current] max_amps = 50", "0.5..40"]),
    ({"interval_s": 0.001}, ["[current] interval_s = 0.001", "0.002..0.05"]),
    ({"rise_a": 0}, ["[current] rise_a = 0", "0.05..20"]),
    ({"surge_s": 2}, ["[current] surge_s = 2", "0.02..1"]),
    ({"stall_a": "high"}, ["[current] stall_a = 'high'", "number"]),
    ({"enabled": "yes"}, ["[current] enabled = 'yes'", "true or false"]),
    ({"shunt": 0.01}, ["[current] shunt", "unknown key", "shunt_ohms"]),
])
def test_a_bad_value_is_named_with_what_is_allowed(current, fragments):
    text = "\n".join(problems(current))
    for fragment in fragments:
        assert fragment in text, text


def test_a_shunt_the_chip_cannot_measure_is_refused_with_the_numbers_that_fit():
    text = "\n".join(problems({"enabled": True, "chip": "ina226"}))       # 10 A through 10 mOhm = 100 mV
    assert "[current] max_amps = 10 with shunt_ohms = 0.01: 100 mV" in text
    assert "81.92 mV" in text and "shunt_ohms <= 0.008192" in text and "max_amps <= 8.192" in text
    # Off, the same numbers are no one's problem yet
    assert from_mapping({"current": {"chip": "ina226"}}).current.chip == "ina226"


def test_thresholds_must_fit_what_the_sensor_reads():
    text = "\n".join(problems({"enabled": True, "max_amps": 5, "rise_a": 5, "stall_a": 6}))
    assert "[current] rise_a = 5 must be below max_amps = 5" in text
    assert "[current] stall_a = 6 must be at most max_amps = 5" in text


def test_the_i2c_pins_are_taken_when_the_sensor_is_on():
    text = "\n".join(problems({"enabled": True}, indicators={"led_pin": 2}))
    assert "[indicators] led_pin = 2: GPIO2 is I2C SDA" in text
    # on another bus, or off, GPIO2 is only the usual warning
    for current in ({"enabled": True, "bus": 3}, {"enabled": False}):
        s = from_mapping({"current": current, "indicators": {"led_pin": 2}})
        assert any("GPIO2" in w for w in s.warnings)


def test_the_config_knows_the_chips_ranges_as_the_driver_does():
    assert SHUNT_RANGE_V == current_sensor.SHUNT_RANGE_V


def test_the_section_reaches_the_motion_controller():
    from deskpi.daemon.root import motion_config

    off = motion_config(defaults())
    assert off.current_sensing is False
    s = from_mapping({"current": {"enabled": True, "rise_a": 0.8, "surge_s": 0.2, "stall_a": 7.0}})
    on = motion_config(s)
    assert (on.current_sensing, on.current_rise_a, on.current_surge_s, on.current_stall_a) == (True, 0.8, 0.2, 7.0)
    # configured, but the sensor could not be opened: the controller is told no samples will come
    assert motion_config(s, current_sensing=False).current_sensing is False
