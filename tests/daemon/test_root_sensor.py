"""The composition root's ultrasonic reader: how far its echo can come from, and so how fast it pings."""
from __future__ import annotations

import pytest

from deskpi.config import defaults, from_mapping
from deskpi.daemon.root import Daemon, sensor_max_distance_mm
from deskpi.hw.ultrasonic import min_interval_s


@pytest.mark.parametrize(
    "sensor, expected",
    [
        ({}, 1260.0 - 30.0),                                                  # under_desk: highest desk - offset
        ({"orientation": "floor", "offset_mm": 100.0}, 1260.0 - 100.0),
        ({"orientation": "ceiling", "offset_mm": 2800.0}, 2800.0 - 640.0),    # ceiling: offset - lowest desk
    ],
)
def test_max_distance_follows_the_desk_limits_and_the_mounting(sensor, expected):
    s = from_mapping({"desk": {"min_mm": 640.0, "max_mm": 1260.0}, "sensor": sensor})
    assert sensor_max_distance_mm(s) == pytest.approx(expected)


@pytest.fixture
def built(tmp_path):
    made: list[Daemon] = []

    def build(settings) -> Daemon:
        d = Daemon(settings, sim=True, data_dir=tmp_path / f"data{len(made)}", seed=5)
        made.append(d)
        d.build()
        return d

    yield build
    for d in made:
        d.shutdown()


def test_default_desk_pings_every_25_ms_while_moving(built):
    d = built(defaults())
    assert d.parts.sensor.max_distance_mm == pytest.approx(1230.0)
    assert (d.parts.sensor.interval_s, d.parts.sensor.idle_interval_s) == (0.025, 0.15)
    spec = d.parts.sim_desk.sensor.spec
    assert (spec.ping_interval_s, spec.idle_interval_s) == (0.025, 0.15)


def test_a_tall_ceiling_mount_slows_the_pings_to_the_safe_minimum(built):
    d = built(from_mapping({"sensor": {"orientation": "ceiling", "offset_mm": 2800.0, "temperature_c": 15.0}}))
    expected = min_interval_s(2800.0 - 640.0, 15.0)
    assert expected > 0.025
    assert d.parts.sensor.interval_s == pytest.approx(expected)
    # The simulated desk is told the interval the reader really uses.
    assert d.parts.sim_desk.sensor.spec.ping_interval_s == pytest.approx(expected)
