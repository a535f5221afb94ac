"""The DS18B20 reader against a fake sysfs tree, and the poller that keeps the desk's air temperature."""
from __future__ import annotations

import logging

import pytest
from helpers import wait_until

from deskpi.core.air import AirTemperature
from deskpi.hw.thermometer import ThermometerError, ThermometerPoller, W1Thermometer
from deskpi.sim.air import write_w1

DEV = "28-0316a279d3ff"


def test_a_good_sensor_reads_the_temperature_file(tmp_path):
    write_w1(tmp_path, DEV, 23.187)
    assert W1Thermometer(DEV, tmp_path).read_c() == pytest.approx(23.187)


def test_without_a_temperature_file_it_reads_w1_slave(tmp_path):
    write_w1(tmp_path, DEV, 19.5, temperature_file=False)
    assert W1Thermometer(DEV, tmp_path).read_c() == pytest.approx(19.5)


def test_a_missing_sensor_names_the_fix(tmp_path):
    with pytest.raises(ThermometerError, match="no 1-wire device 28-0316a279d3ff.*dtoverlay=w1-gpio.*4.7 kOhm"):
        W1Thermometer(DEV, tmp_path).read_c()


def test_a_crc_failure_is_an_error(tmp_path):
    write_w1(tmp_path, DEV, temperature_file=False,
             w1_slave="50 05 4b 46 7f ff 0c 10 1c : crc=00 NO\n50 05 4b 46 7f ff 0c 10 1c t=21500\n")
    with pytest.raises(ThermometerError, match="CRC check failed"):
        W1Thermometer(DEV, tmp_path).read_c()


@pytest.mark.parametrize("value", [85.0, -127.0, 125.0])
def test_an_implausible_reading_is_an_error(tmp_path, value):
    write_w1(tmp_path, DEV, value)
    with pytest.raises(ThermometerError, match="implausible"):
        W1Thermometer(DEV, tmp_path).read_c()


def test_garbage_is_an_error(tmp_path):
    (tmp_path / DEV).mkdir()
    (tmp_path / DEV / "temperature").write_text("hot\n")
    with pytest.raises(ThermometerError, match="unreadable"):
        W1Thermometer(DEV, tmp_path).read_c()


def test_the_poller_holds_then_falls_back_and_logs_each_change_once(tmp_path, caplog):
    now = [0.0]
    reader = W1Thermometer(DEV, tmp_path)
    poller = ThermometerPoller(reader.read_c, AirTemperature(20.0, hold_s=300.0), clock=lambda: now[0])
    caplog.set_level(logging.INFO, "deskpi.hw.thermometer")
    write_w1(tmp_path, DEV, 28.0)
    poller.poll_once()
    assert poller.air_c() == 28.0
    write_w1(tmp_path, DEV, 85.0)                  # a reset sensor
    for t in (30.0, 60.0, 90.0):
        now[0] = t
        poller.poll_once()                          # never raises
    assert poller.air_c() == 28.0
    now[0] = 301.0
    assert poller.air_c() == 20.0                   # the calibration temperature
    poller.poll_once()
    st = poller.status()
    assert st["air_c"] == 20.0 and st["failures"] == 4 and "implausible" in st["problem"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and "keeping 28.0" in warnings[0] and "calibration temperature 20" in warnings[1]
    write_w1(tmp_path, DEV, 27.5)
    poller.poll_once()
    assert poller.air_c() == 27.5


def test_the_poller_thread_starts_and_stops(tmp_path):
    write_w1(tmp_path, DEV, 22.0)
    poller = ThermometerPoller(W1Thermometer(DEV, tmp_path).read_c, AirTemperature(20.0), interval_s=0.01)
    poller.start()
    try:
        wait_until(lambda: poller.air_c() == 22.0, what="the first reading")
    finally:
        poller.close()
