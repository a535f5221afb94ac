"""`deskpi doctor`'s thermometer check, against a fake 1-wire tree; and the simulated daemon converting at a
thermometer's reading (a fake tree too)."""
from __future__ import annotations

import pytest
from helpers import running_sim_daemon, wait_until

from deskpi.config import defaults, from_mapping
from deskpi.fleet.doctor import Doctor
from deskpi.sim.air import write_w1

DEV = "28-0316a279d3ff"


def doctor(settings, root) -> Doctor:
    d = Doctor(None, "/nonexistent", move=False)
    d.settings = settings
    d.w1_root = root
    return d


def test_no_thermometer_no_check(tmp_path):
    assert doctor(defaults(), tmp_path).check_thermometer() is None


def test_fixed_says_what_is_assumed(tmp_path):
    s = from_mapping({"sensor": {"temperature_source": "fixed", "temperature_c": 22.0}})
    c = doctor(s, tmp_path).check_thermometer()
    assert c.status == "pass" and "22 degC" in c.detail


def test_a_reading_thermometer_passes(tmp_path):
    write_w1(tmp_path, DEV, 23.5)
    c = doctor(from_mapping({"sensor": {"temperature_source": f"w1:{DEV}"}}), tmp_path).check_thermometer()
    assert c.status == "pass" and c.detail == f"{DEV}: 23.5 degC"


@pytest.mark.parametrize(("value", "words"), [(None, "no 1-wire device"), (85.0, "implausible")])
def test_a_missing_or_broken_thermometer_fails_with_the_wiring_fix(tmp_path, value, words):
    if value is not None:
        write_w1(tmp_path, DEV, value)
    c = doctor(from_mapping({"sensor": {"temperature_source": f"w1:{DEV}"}}), tmp_path).check_thermometer()
    assert c.status == "fail" and words in c.detail and "calibration temperature" in c.detail
    assert "GPIO4" in c.hint and "dtoverlay=w1-gpio" in c.hint


def test_the_simulated_daemon_converts_at_the_thermometer_reading(tmp_path):
    """The room is at 30 degC; the config assumes 20. With the thermometer the height reads true; when it breaks
    the daemon keeps going on the last good value (the desk never stops for it)."""
    root = tmp_path / "w1"
    write_w1(root, DEV, 30.0)
    s = from_mapping({"sensor": {"temperature_source": f"w1:{DEV}"}})
    with running_sim_daemon(tmp_path / "data", seed=3, settings=s, w1_root=root) as d:
        d.parts.sim_desk.sensor.air_c = 30.0
        true = d.parts.sim_desk.true_height()

        def height():
            with d.parts.loop.lock:
                return d.parts.controller.height_mm()
        wait_until(lambda: d.parts.thermometer.air_c() == 30.0, what="the thermometer's reading")
        wait_until(lambda: height() is not None and abs(height() - true) < 3.0, 20, "a compensated height")
        write_w1(root, DEV, 85.0)
        d.parts.thermometer.poll_once()
        assert d.parts.thermometer.air_c() == 30.0 and d.parts.controller.fault is None
