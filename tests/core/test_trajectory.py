"""Trajectory fit: where a moving desk is and when to cut the motor (pure, fake clock)."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpi.core.motion.trajectory import TrajectoryFit
from deskpi.core.types import Direction

UP, DOWN = Direction.UP, Direction.DOWN


def make_fit(direction=UP, *, t_on=10.0, start=800.0, speed=30.0, ramp=0.2, noise=2.0, start_sd=1.0,
             speed_sd=5.0, window_s=3.0) -> TrajectoryFit:
    return TrajectoryFit(direction=direction, t_on=t_on, start_mm=start, start_sd_mm=start_sd,
                         speed_prior=speed, speed_sd=speed_sd, ramp_s=ramp, noise_mm=noise, window_s=window_s)


def true_height(direction, t, *, t_on=10.0, start=800.0, speed=30.0, ramp=0.2) -> float:
    tau = t - t_on
    if tau <= 0:
        g = 0.0
    elif tau < ramp:
        g = tau * tau / (2 * ramp)
    else:
        g = tau - ramp / 2
    return start + int(direction) * speed * g


@pytest.mark.parametrize("tau, g", [
    (-1.0, 0.0), (0.0, 0.0), (0.1, 0.1 ** 2 / 0.4), (0.2, 0.1), (1.2, 1.1),
])
def test_unit_displacement_soft_start_then_linear(tau: float, g: float) -> None:
    fit = make_fit(ramp=0.2)
    assert fit.g(10.0 + tau) == pytest.approx(g)


def test_without_a_ramp_displacement_is_linear() -> None:
    fit = make_fit(ramp=0.0)
    assert fit.g(11.5) == pytest.approx(1.5)
    assert fit.g_rate(10.001) == 1.0


def test_before_any_reading_the_priors_give_the_trajectory() -> None:
    fit = make_fit(DOWN, start=1000.0, speed=36.0)
    assert fit.n == 0
    assert fit.position(10.0) == pytest.approx(1000.0)
    assert fit.position(12.1) == pytest.approx(1000.0 - 36.0 * 2.0)
    assert fit.speed(12.0) == pytest.approx(36.0)
    assert fit.speed(10.1) == pytest.approx(18.0)     # half-way up the ramp


@pytest.mark.parametrize("direction, target, lag", [
    (UP, 1100.0, 0.25),     # long move: cut at full speed
    (DOWN, 650.0, 0.3),
    (UP, 803.0, 0.25),      # short pulse: cut during the soft start
    (DOWN, 797.5, 0.1),
    (UP, 900.0, 0.0),
])
def test_cut_time_lands_the_coast_on_the_target(direction, target: float, lag: float) -> None:
    fit = make_fit(direction, start=800.0, speed=30.0, ramp=0.2)
    t_cut = fit.cut_time(target, lag)
    assert t_cut > fit.t_on
    # Where the desk is at the cut plus its coast (speed at the cut times the lag).
    landed = fit.position(t_cut) + int(direction) * fit.speed(t_cut) * lag
    assert landed == pytest.approx(target, abs=1e-6)


@pytest.mark.parametrize("direction, target", [(UP, 790.0), (UP, 800.0), (DOWN, 810.0)])
def test_cut_time_for_a_target_behind_is_now(direction, target: float) -> None:
    fit = make_fit(direction, start=800.0)
    assert fit.cut_time(target, 0.25) == fit.t_on


def test_a_few_noisy_early_readings_do_not_cut_the_motor() -> None:
    """Regression: two low readings in the first 0.2 s pulled the fitted speed to <= 0 and
    cut_time() returned t_on, so the controller cut as if it had arrived. Stopping a desk
    that does not move (or moves the wrong way) is the watchdogs' job."""
    fit = make_fit(UP, speed=30.0, speed_sd=34.5)      # a fresh model's loose speed prior
    for t, noise in [(10.06, 1.8), (10.12, -3.9), (10.18, -4.5)]:
        fit.add(t, true_height(UP, t) + noise)
    assert fit.cut_time(830.0, 0.25) > fit.t_on + 0.5


def test_a_desk_that_does_not_move_never_reaches_its_cut_early() -> None:
    fit = make_fit(UP, speed=30.0, speed_sd=5.0)
    for i in range(1, 40):
        fit.add(10.0 + 0.06 * i, 800.0)
    assert fit.fit.v == pytest.approx(0.0, abs=1.0)
    # Not before a desk at the learned speed could have got there.
    assert fit.cut_time(1000.0, 0.25) - fit.t_on > 200.0 / 30.0


def test_readings_override_a_wrong_speed_prior() -> None:
    # The model believes 30 mm/s; the loaded desk does 24.
    fit = make_fit(UP, speed=30.0, speed_sd=5.0)
    for i in range(1, 40):
        t = 10.0 + 0.06 * i
        fit.add(t, true_height(UP, t, speed=24.0))
    assert fit.fit.v == pytest.approx(24.0, abs=0.3)
    t_cut = fit.cut_time(1000.0, 0.2)
    landed = true_height(UP, t_cut, speed=24.0) + 24.0 * 0.2
    assert landed == pytest.approx(1000.0, abs=1.0)
    assert fit.position_sd(t_cut) < 5.0


def test_noisy_readings_still_converge() -> None:
    rng = random.Random(7)
    fit = make_fit(DOWN, start=1100.0, speed=30.0)
    for i in range(1, 60):
        t = 10.0 + 0.06 * i
        fit.add(t, true_height(DOWN, t, start=1100.0, speed=38.0) + rng.gauss(0, 2.0))
    assert fit.fit.v == pytest.approx(38.0, abs=2.0)
    assert fit.position(14.0) == pytest.approx(true_height(DOWN, 14.0, start=1100.0, speed=38.0), abs=3.0)


def test_old_readings_leave_the_window() -> None:
    fit = make_fit(UP, window_s=1.0)
    for i in range(1, 60):
        t = 10.0 + 0.06 * i
        fit.add(t, true_height(UP, t))
    assert fit.n <= int(1.0 / 0.06) + 1
    assert fit.position(14.0) == pytest.approx(true_height(UP, 14.0), abs=0.5)


def test_steady_line_fits_only_full_speed_readings() -> None:
    fit = make_fit(UP, ramp=0.3)
    assert fit.steady_line() is None
    for i in range(1, 30):
        t = 10.0 + 0.06 * i
        fit.add(t, true_height(UP, t, ramp=0.3, speed=33.0))
    c, v = fit.steady_line()
    assert v == pytest.approx(33.0)
    # once up to speed the desk is where a full-speed desk would be ramp/2 later
    assert c == pytest.approx(800.0 - 33.0 * 0.15)
    assert fit.steady_samples() == sum(1 for i in range(1, 30) if 0.06 * i >= 0.3 - 1e-12)


@settings(max_examples=100, deadline=None)
@given(
    direction=st.sampled_from([UP, DOWN]),
    speed=st.floats(min_value=5.0, max_value=80.0),
    # No ramp, or a physical one: learned start-up times are clamped to >= 0.02 s. (A ramp of
    # 1e-12 s loses ~1e-3 mm to cancellation in -tau + sqrt(tau^2 + ...); harmless.)
    ramp=st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=1.0)),
    lag=st.floats(min_value=0.0, max_value=1.0),
    distance=st.floats(min_value=0.05, max_value=600.0),
)
def test_cut_time_always_lands_on_target(direction, speed, ramp, lag, distance) -> None:
    fit = make_fit(direction, start=900.0, speed=speed, ramp=ramp)
    target = 900.0 + int(direction) * distance
    t_cut = fit.cut_time(target, lag)
    assert t_cut >= fit.t_on
    landed = fit.position(t_cut) + int(direction) * fit.speed(t_cut) * lag
    if t_cut > fit.t_on:
        assert landed == pytest.approx(target, abs=1e-6, rel=1e-9)
    else:
        # Cutting at once already overshoots only when the coast is all there is.
        assert abs(landed - 900.0) <= 1e-9
