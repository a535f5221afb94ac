"""The speed of sound, an echo turned into a distance, and which air temperature to believe (fake clock)."""
from __future__ import annotations

import pytest

from deskpi.core.air import (
    AirTemperature,
    base_temperature_c,
    echo_distance_mm,
    parse_source,
    plausible,
    speed_of_sound_m_s,
)


def test_ten_degrees_moves_a_metre_by_about_seventeen_millimetres():
    width = 2 * 1000.0 / (speed_of_sound_m_s(30.0) * 1000.0)      # 1 m of air at 30 degC
    assert echo_distance_mm(width, 30.0) == pytest.approx(1000.0)
    assert 1000.0 - echo_distance_mm(width, 20.0) == pytest.approx(17.4, abs=0.3)


@pytest.mark.parametrize(("value", "ok"), [(21.5, True), (-20.0, True), (60.0, True), (85.0, False),
                                           (-127.0, False), (61.0, False), (float("nan"), False)])
def test_plausible_readings(value, ok):
    assert plausible(value) is ok


def test_sources():
    assert parse_source("none") == ("none", None)
    assert parse_source("fixed") == ("fixed", None)
    assert parse_source("w1:28-0316a279d3ff") == ("w1", "28-0316a279d3ff")
    for bad in ("", "w1:", "w1:28-xyz", "W1:28-0316a279d3ff", "i2c:0x48", "w1:28-0316a279d3ff/../x"):
        with pytest.raises(ValueError, match='"none", "fixed", "w1:28-xxxxxxxxxxxx"'):
            parse_source(bad)


def test_the_base_temperature_is_the_calibration_one_unless_fixed():
    assert base_temperature_c("none", 20.0, None) == 20.0
    assert base_temperature_c("none", 20.0, 24.5) == 24.5
    assert base_temperature_c("w1", 20.0, 24.5) == 24.5
    assert base_temperature_c("fixed", 22.0, 24.5) == 22.0


def test_a_failing_thermometer_keeps_its_last_value_then_falls_back_to_the_calibration_temperature():
    air = AirTemperature(fallback_c=21.0, hold_s=600.0)
    assert air.current(0.0) == 21.0 and air.take_note() is None         # nothing read yet: the fallback, quietly
    air.good(10.0, 27.25)
    assert air.current(10.0) == 27.25
    assert "27.2" in air.take_note()
    air.bad(40.0, "CRC check failed")
    assert air.current(40.0) == 27.25                                    # held
    note = air.take_note()
    assert "CRC check failed" in note and "keeping 27.2" in note
    air.bad(70.0, "CRC check failed")
    assert air.take_note() is None                                       # said once
    assert air.current(609.0) == 27.25
    assert air.current(611.0) == 21.0                                    # the hold ran out
    note = air.take_note()
    assert "calibration temperature 21" in note and "CRC check failed" in note
    assert air.current(700.0) == 21.0 and air.take_note() is None
    air.good(710.0, 26.0)
    assert air.current(710.0) == 26.0 and "26.0" in air.take_note() and air.problem is None
    assert air.failures == 2


def test_an_implausible_reading_counts_as_a_failure():
    air = AirTemperature(fallback_c=20.0, hold_s=60.0)
    air.good(0.0, 23.0)
    air.good(5.0, 85.0)                  # a DS18B20 that has just been reset
    assert air.current(5.0) == 23.0 and air.failures == 1 and "implausible" in air.problem
    assert air.current(70.0) == 20.0
