"""The simulated HC-SR04 (deskpi.sim.sensor_model): ghosts of the previous ping.

A ping soon after the last can hear that one's 2nd or 3rd order echo (sound that went floor -> desktop ->
floor and back, at 2x / 3x the round trip) before its own echo, and report it as a short distance.
"""
from __future__ import annotations

import random

import pytest

from deskpi.sim.physics import DeskSpec
from deskpi.sim.sensor_model import SensorModel, SensorSpec, speed_of_sound_m_s

QUIET = SensorSpec(noise_mm=0, outliers=0, dropouts=0)
HEIGHT = 1230.0                    # 1.2 m from the sensor's face to the floor (30 mm offset)
DISTANCE = HEIGHT - QUIET.mount_offset_mm


def apparent_mm(order: int, since_s: float, distance_mm: float = DISTANCE) -> float:
    """Where a ghost of the given order lands when the next ping comes since_s after the last."""
    c_mm_s = speed_of_sound_m_s(20.0) * 1000.0
    return (order * 2 * distance_mm / c_mm_s - since_s) * c_mm_s / 2


def run(spec: SensorSpec, since_s: float | None, n: int = 400, seed: int = 3) -> list[tuple[str, float | None]]:
    model = SensorModel(spec, random.Random(seed))
    if since_s is None:
        return [model.ping(HEIGHT) for _ in range(n)]
    return [model.ping(HEIGHT, since_s) for _ in range(n)]


def test_10_ms_at_1_2_m_hears_2nd_order_ghosts_25_ms_does_not():
    fast = run(QUIET, 0.010)
    ghosts = [d for status, d in fast if status == "ok" and abs(d - DISTANCE) > 1.0]
    assert ghosts, "no ghost at 10 ms between pings"
    assert all(d == pytest.approx(apparent_mm(2, 0.010)) for d in ghosts), ghosts[:5]   # ~683 mm
    # About the spec's chance (0.3) of the pings after the first: a loose bound, the count is binomial.
    assert 0.2 < len(ghosts) / (len(fast) - 1) < 0.4
    slow = run(QUIET, 0.025)
    assert all(status == "ok" and d == pytest.approx(DISTANCE) for status, d in slow)


def test_where_each_ghost_order_lands():
    model = SensorModel(QUIET, random.Random(0))
    # 10 ms: the 2nd order lands before the true echo, the 3rd after it (too late to matter).
    assert model.ghost_arrivals(DISTANCE, DISTANCE, 0.010) == [(2, pytest.approx(apparent_mm(2, 0.010)))]
    # 20 ms: only the 3rd order is still on its way, and lands just after the burst.
    assert model.ghost_arrivals(DISTANCE, DISTANCE, 0.020) == [(3, pytest.approx(apparent_mm(3, 0.020)))]
    # 25 ms: three round trips (~21 ms) are over, even at the simulated desk's highest.
    assert model.ghost_arrivals(DISTANCE, DISTANCE, 0.025) == []
    top = DeskSpec().max_mm - QUIET.mount_offset_mm
    assert model.ghost_arrivals(top, top, 0.025) == []


def test_a_certain_3rd_order_ghost_is_reported_at_its_distance():
    spec = SensorSpec(noise_mm=0, outliers=0, dropouts=0, ghost_2nd=0.0, ghost_3rd=1.0)
    model = SensorModel(spec, random.Random(0))
    assert model.ping(HEIGHT, 0.020) == ("ok", pytest.approx(DISTANCE))    # the first ping: nothing before it
    assert model.ping(HEIGHT, 0.020) == ("ok", pytest.approx(apparent_mm(3, 0.020)))


def test_no_ghost_can_land_so_the_seeded_run_is_unchanged():
    """At 25 ms (or not saying) no random number is spent on ghosts: the same pings, noise, outliers and
    dropouts as a model that knows nothing of them."""
    noisy = SensorSpec(noise_mm=2.0, outliers=0.05, dropouts=0.05)
    assert run(noisy, 0.025) == run(noisy, None) == run(SensorSpec(noise_mm=2.0, outliers=0.05, dropouts=0.05,
                                                                   ghost_2nd=0.0, ghost_3rd=0.0), 0.010)


def test_a_dead_sensor_sent_no_burst_to_echo():
    spec = SensorSpec(noise_mm=0, outliers=0, dropouts=0, ghost_2nd=1.0)
    model = SensorModel(spec, random.Random(0))
    model.ping(HEIGHT)
    model.dead = True
    assert model.ping(HEIGHT, 0.010) == ("silent", None)
    model.dead = False
    assert model.ping(HEIGHT, 0.010) == ("ok", pytest.approx(DISTANCE))
