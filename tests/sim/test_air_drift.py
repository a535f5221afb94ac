"""The simulated room's air: seasons and days within their bounds, and echoes that follow it on the virtual rig
while deskpi converts at what it believes (no drift unless asked)."""
from __future__ import annotations

import pytest

from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController
from deskpi.sim.air import AirDrift
from deskpi.sim.physics import DeskSpec
from deskpi.sim.sensor_model import SensorSpec
from deskpi.sim.virtual import VirtualRig


def test_january_nights_are_coldest_and_july_afternoons_warmest():
    a = AirDrift(winter_c=16.5, summer_c=28.5, daily_c=3.0)
    assert a.at(15, 5) == pytest.approx(15.0)
    assert a.at(15 + 182.5, 17) == pytest.approx(30.0)
    temps = [a.at(d, h) for d in range(0, 365, 7) for h in range(24)]
    assert min(temps) >= 15.0 and max(temps) <= 30.0
    air = a.clock(day_of_year=15, hour=5, speedup=3600.0)           # an hour a second
    assert air(0.0) == pytest.approx(15.0, abs=0.01) and air(12.0) > air(0.0)


def readings(rig: VirtualRig, seconds: float) -> list[float]:
    got: list[float] = []
    tick = rig.ctrl.tick

    def spy(t, reading=None):
        if reading is not None and reading.height_mm is not None:
            got.append(reading.height_mm)
        return tick(t, reading)
    rig.ctrl.tick = spy
    rig.settle(seconds)
    return got


def rig(**kw) -> VirtualRig:
    spec = SensorSpec(noise_mm=0.0, outliers=0.0, dropouts=0.0)
    return VirtualRig(MotionController(MotionConfig()), DeskSpec(), spec, seed=1, start_mm=1030.0, **kw)


def test_warm_air_reads_short_unless_deskpi_knows_the_temperature():
    still = readings(rig(), 1.0)
    warm = readings(rig(air=lambda t: 30.0), 1.0)
    known = readings(rig(air=lambda t: 30.0, assumed_c=lambda t: 30.0), 1.0)
    assert still[-1] == pytest.approx(1030.0, abs=0.01)
    assert still[-1] - warm[-1] == pytest.approx(1000.0 * (1 - 343.42 / 349.48), abs=0.3)     # ~17 mm at 1 m
    assert known[-1] == pytest.approx(1030.0, abs=0.01)
