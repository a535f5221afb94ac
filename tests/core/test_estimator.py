"""Height estimator: pure, fake clock (times are plain numbers), no threads, no sleeps."""
from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpi.core.motion.estimator import EstimatorConfig, HeightEstimator, SensorHealth, Verdict
from deskpi.core.types import Reading

PING = 0.06  # s between pings, as an HC-SR04 is driven


def feed(est: HeightEstimator, heights, t0: float = 0.0, dt: float = PING) -> list[Verdict]:
    """Feed OK readings at a steady ping rate; return the verdicts."""
    return [est.add(Reading.ok(t0 + i * dt, h)) for i, h in enumerate(heights)]


# -- median window -------------------------------------------------------------

def test_height_is_none_before_any_reading() -> None:
    assert HeightEstimator().height() is None


def test_height_is_the_median_of_the_window() -> None:
    est = HeightEstimator()
    values = [800.0, 803.0, 799.0, 812.0, 801.0, 798.0, 805.0, 800.5, 790.0]
    assert feed(est, values) == [Verdict.ACCEPTED] * 9
    assert est.height() == sorted(values)[4] == 800.5


def test_height_uses_only_the_last_window_readings() -> None:
    est = HeightEstimator(EstimatorConfig(window=5))
    # Old readings around 800 then newer ones around 810: only the last 5 count.
    values = [800.0, 801.0, 799.0, 800.0, 810.0, 811.0, 809.0, 812.0, 810.5]
    assert all(v is Verdict.ACCEPTED for v in feed(est, values))
    assert est.height() == sorted(values[-5:])[2] == 810.5


def test_one_wild_reading_does_not_move_the_median_even_if_accepted_first() -> None:
    est = HeightEstimator()
    # The first readings are accepted unconditionally (nothing to compare with);
    # a mean would be dragged ~80 mm up by the wild one, the median is not.
    feed(est, [800.0, 1500.0, 801.0, 800.0, 799.0, 800.0, 801.0])
    assert 799.0 <= est.height() <= 801.0


# -- outliers, reseeding, implausible readings ---------------------------------

def test_a_wild_reading_is_rejected_and_leaves_the_height_alone() -> None:
    est = HeightEstimator()
    feed(est, [800.0, 801.0, 799.0, 800.0, 800.5, 799.5])
    before = est.height()
    assert est.add(Reading.ok(6 * PING, 1400.0)) is Verdict.OUTLIER
    assert est.height() == before
    assert est.counts[Verdict.OUTLIER] == 1


def test_a_consistent_new_level_is_eventually_accepted() -> None:
    cfg = EstimatorConfig()
    est = HeightEstimator(cfg)
    feed(est, [800.0] * 6)
    t = 6 * PING
    verdicts = [est.add(Reading.ok(t + i * PING, 860.0 + (i % 2))) for i in range(cfg.reseed_after)]
    # The first ones look like outliers; agreeing with each other, they win.
    assert verdicts[:-1] == [Verdict.OUTLIER] * (cfg.reseed_after - 1)
    assert verdicts[-1] is Verdict.ACCEPTED
    assert est.height() == pytest.approx(860.0, abs=1.0)
    # ... and the new level now gates further readings.
    assert est.add(Reading.ok(t + 5 * PING, 860.5)) is Verdict.ACCEPTED
    assert est.add(Reading.ok(t + 6 * PING, 800.0)) is Verdict.OUTLIER


def test_scattered_wild_readings_never_take_over() -> None:
    est = HeightEstimator()
    feed(est, [800.0] * 6)
    wild = [1400.0, 300.0, 2000.0, 500.0, 1700.0, 350.0, 1100.0, 2400.0]
    verdicts = [est.add(Reading.ok(1.0 + i * PING, h)) for i, h in enumerate(wild)]
    assert verdicts == [Verdict.OUTLIER] * len(wild)
    assert est.height() == 800.0


@pytest.mark.parametrize("height", [199.9, 0.0, -5.0, 2500.1, 9999.0, math.nan, math.inf, -math.inf],
                         ids=["just-below", "zero", "negative", "just-above", "huge", "nan", "inf", "-inf"])
def test_implausible_readings_are_rejected(height: float) -> None:
    est = HeightEstimator()
    # Even the very first reading, which would otherwise be accepted unconditionally.
    assert est.add(Reading.ok(0.0, height)) is Verdict.IMPLAUSIBLE
    assert est.height() is None
    feed(est, [800.0] * 3, t0=0.1)
    assert est.add(Reading.ok(0.5, height)) is Verdict.IMPLAUSIBLE
    assert est.height() == 800.0


@pytest.mark.parametrize("height", [200.0, 2500.0], ids=["min", "max"])
def test_plausible_bounds_are_inclusive(height: float) -> None:
    assert HeightEstimator().add(Reading.ok(0.0, height)) is Verdict.ACCEPTED


# -- LOST vs SILENT, staleness ---------------------------------------------------

@pytest.mark.parametrize("reading, verdict", [
    (Reading.lost(1.0), Verdict.LOST),
    (Reading.silent(1.0), Verdict.SILENT),
    (Reading(1.0, None), Verdict.LOST),            # OK status without a height is a lost echo
])
def test_lost_and_silent_are_classified(reading: Reading, verdict: Verdict) -> None:
    assert HeightEstimator().add(reading) is verdict


def test_lost_echoes_do_not_make_the_sensor_silent() -> None:
    est = HeightEstimator(EstimatorConfig(stale_after_s=0.25, silent_limit=2))
    feed(est, [800.0] * 3)
    t = 3 * PING
    for i in range(10):
        est.add(Reading.lost(t + i * 0.01))
    assert est.health(t + 0.1) is SensorHealth.OK           # still fresh, and not silent
    assert est.height() == 800.0


def test_silent_after_silent_limit_consecutive_silences() -> None:
    cfg = EstimatorConfig(silent_limit=3)
    est = HeightEstimator(cfg)
    feed(est, [800.0] * 3)
    t = 3 * PING
    for i in range(cfg.silent_limit - 1):
        est.add(Reading.silent(t + i * 0.01))
        assert est.health(t + i * 0.01) is SensorHealth.OK, f"silent after only {i + 1}"
    est.add(Reading.silent(t + 0.05))
    assert est.health(t + 0.05) is SensorHealth.SILENT


def test_a_lost_echo_breaks_a_run_of_silences() -> None:
    est = HeightEstimator(EstimatorConfig(silent_limit=2))
    feed(est, [800.0] * 3)
    est.add(Reading.silent(0.20))
    est.add(Reading.lost(0.21))
    est.add(Reading.silent(0.22))
    assert est.health(0.22) is SensorHealth.OK


def test_an_accepted_reading_ends_silence() -> None:
    est = HeightEstimator(EstimatorConfig(silent_limit=2))
    feed(est, [800.0] * 3)
    est.add(Reading.silent(0.20))
    est.add(Reading.silent(0.21))
    assert est.health(0.21) is SensorHealth.SILENT
    est.add(Reading.ok(0.22, 800.0))
    assert est.health(0.22) is SensorHealth.OK


@pytest.mark.parametrize("stale_after_s", [0.25, 0.5, 1.0])
def test_stale_after_stale_after_s_without_an_accepted_reading(stale_after_s: float) -> None:
    est = HeightEstimator(EstimatorConfig(stale_after_s=stale_after_s))
    est.add(Reading.ok(10.0, 800.0))
    assert est.health(10.0) is SensorHealth.OK
    assert est.health(10.0 + stale_after_s) is SensorHealth.OK     # exactly at the limit: still fresh
    assert est.is_fresh(10.0 + stale_after_s)
    assert est.health(10.0 + stale_after_s + 0.01) is SensorHealth.STALE
    assert not est.is_fresh(10.0 + stale_after_s + 0.01)


def test_lost_echoes_alone_go_stale() -> None:
    est = HeightEstimator(EstimatorConfig(stale_after_s=0.25))
    est.add(Reading.ok(0.0, 800.0))
    for i in range(1, 10):
        est.add(Reading.lost(i * PING))
    # Pings keep coming, but none is usable.
    assert est.health(9 * PING) is SensorHealth.STALE


def test_outliers_alone_go_stale() -> None:
    est = HeightEstimator(EstimatorConfig(stale_after_s=0.25))
    feed(est, [800.0] * 3)
    for i, h in enumerate([1400.0, 300.0, 2000.0, 500.0, 1700.0, 350.0]):
        est.add(Reading.ok(0.2 + i * PING, h))
    assert est.health(0.2 + 5 * PING) is SensorHealth.STALE


@pytest.mark.parametrize("pings, now, expected", [
    ([], 5.0, SensorHealth.NO_DATA),
    ([Reading.lost(5.0)], 5.125, SensorHealth.NO_DATA),
    ([Reading.lost(5.0)], 5.5, SensorHealth.STALE),
    ([Reading.ok(5.0, 100.0)], 5.5, SensorHealth.STALE),     # implausible only
    ([Reading.ok(5.0, 800.0)], 5.125, SensorHealth.OK),
])
def test_health_before_the_first_accepted_reading(pings, now, expected) -> None:
    est = HeightEstimator(EstimatorConfig(stale_after_s=0.25))
    for r in pings:
        est.add(r)
    assert est.health(now) is expected


def test_reset_forgets_everything() -> None:
    est = HeightEstimator()
    feed(est, [800.0] * 5)
    est.add(Reading.silent(0.5))
    est.add(Reading.silent(0.51))
    est.reset()
    assert est.height() is None
    assert est.health(0.52) is not SensorHealth.SILENT
    assert est.health(0.52) is not SensorHealth.OK


# -- velocity and noise ----------------------------------------------------------

@pytest.mark.parametrize("speed", [35.0, -38.0, 17.5, 0.0])
def test_velocity_of_a_clean_ramp(speed: float) -> None:
    est = HeightEstimator()
    verdicts = feed(est, [800.0 + speed * i * PING for i in range(30)])
    assert verdicts == [Verdict.ACCEPTED] * 30, "a steadily moving desk is not an outlier"
    assert est.velocity() == pytest.approx(speed, abs=1e-6)
    assert est.noise_mm() == pytest.approx(0.0, abs=1e-6)


def test_velocity_of_a_noisy_ramp_is_close() -> None:
    rng = random.Random(4)
    est = HeightEstimator()
    feed(est, [800.0 + 35.0 * i * PING + rng.gauss(0, 2.0) for i in range(40)])
    assert est.velocity() == pytest.approx(35.0, abs=8.0)


def test_velocity_needs_three_readings_and_ignores_old_ones() -> None:
    cfg = EstimatorConfig(velocity_window_s=0.6)
    est = HeightEstimator(cfg)
    feed(est, [800.0, 802.0])
    assert est.velocity() == 0.0
    # Only readings within velocity_window_s of `now` count.
    est = HeightEstimator(cfg)
    feed(est, [800.0 + 35.0 * i * PING for i in range(10)])
    assert est.velocity(now=9 * PING + 0.6 + 0.5) == 0.0


def test_noise_estimate_needs_six_readings_and_measures_spread() -> None:
    est = HeightEstimator()
    feed(est, [800.0, 802.0, 798.0, 802.0, 798.0])
    assert est.noise_mm() is None
    est = HeightEstimator()
    # +-2 mm around a level: median absolute deviation 2, robust sigma 1.4826 * 2.
    feed(est, [800.0 + (2.0 if i % 2 else -2.0) for i in range(16)])
    assert est.noise_mm() == pytest.approx(1.4826 * 2.0, rel=0.05)


# -- configuration -----------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"window": 2}, "window must be at least 3 readings, got 2"),
    ({"plausible_min_mm": 900.0, "plausible_max_mm": 900.0}, "plausible window is empty: 900.0..900.0 mm"),
    ({"plausible_min_mm": 1000.0, "plausible_max_mm": 500.0}, "plausible window is empty"),
])
def test_bad_config_is_refused_with_a_message(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        EstimatorConfig(**kwargs)


# -- properties -------------------------------------------------------------------

readings = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=0.5),
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=32).map(lambda h: ("ok", h)),
            st.floats(min_value=700.0, max_value=900.0).map(lambda h: ("ok", h)),
            st.just(("lost", None)),
            st.just(("silent", None)),
        ),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(readings)
def test_height_is_always_plausible_and_health_is_consistent(stream) -> None:
    cfg = EstimatorConfig()
    est = HeightEstimator(cfg)
    t = 0.0
    for dt, (kind, h) in stream:
        t += dt
        r = Reading.ok(t, h) if kind == "ok" else Reading.lost(t) if kind == "lost" else Reading.silent(t)
        verdict = est.add(r)
        height = est.height()
        assert height is None or cfg.plausible_min_mm <= height <= cfg.plausible_max_mm
        assert math.isfinite(est.velocity())
        health = est.health(t)
        if verdict is Verdict.ACCEPTED:
            assert health is SensorHealth.OK or health is SensorHealth.SILENT
            assert health is SensorHealth.OK, "an accepted reading ends any silence and is fresh"
        if health is SensorHealth.OK:
            assert height is not None


def test_a_desk_standing_still_is_placed_by_all_its_readings_since_it_came_to_rest() -> None:
    est = HeightEstimator()
    rng = random.Random(3)
    feed(est, [900.0 + rng.gauss(0.0, 5.0) for _ in range(20)])      # a move, before it came to rest
    feed(est, [1000.0 + rng.gauss(0.0, 2.0) for _ in range(60)], t0=2.0)
    still = est.still_height(since=2.0, noise_mm=2.0)
    assert still is not None
    height, sd = still
    assert sd == pytest.approx(2.0 / math.sqrt(60), rel=0.1)
    assert abs(height - 1000.0) < 4 * sd
    # More precise than the median of the last few readings it would otherwise start from.
    assert sd < 1.25 * 2.0 / math.sqrt(est.cfg.window)


def test_too_few_readings_at_rest_or_a_desk_moved_by_hand_give_no_still_height() -> None:
    est = HeightEstimator()
    feed(est, [1000.0] * 5)
    assert est.still_height(since=None, noise_mm=2.0) is None
    creeping = HeightEstimator()
    feed(creeping, [1000.0 + 0.5 * i for i in range(40)])
    assert creeping.still_height(since=None, noise_mm=2.0) is None
