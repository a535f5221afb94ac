"""The learned stop model: per-direction timing, its inverse, and persistence."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deskpi.core.motion.stopmodel import LAG_SD_PRIOR, DirectionModel, StopModel
from deskpi.core.types import Direction

# -- travel_for_on_time / on_time_for_travel ---------------------------------------

@pytest.mark.parametrize("on_s, expected", [
    (0.0, 0.0),
    (-1.0, 0.0),
    # ramp 0.2 s (startup 0.1), 30 mm/s, lag 0.25 s: during the ramp
    (0.1, 30 * 0.1 ** 2 / (2 * 0.2) + 30 * 0.1 / 0.2 * 0.25),
    (0.2, 30 * (0.2 - 0.1) + 30 * 0.25),
    (2.0, 30 * (2.0 - 0.1) + 30 * 0.25),
])
def test_travel_for_on_time(on_s: float, expected: float) -> None:
    m = DirectionModel(speed_mm_s=30.0, startup_s=0.1, stop_lag_s=0.25)
    assert m.travel_for_on_time(on_s) == pytest.approx(expected)


def test_travel_is_continuous_at_the_end_of_the_ramp() -> None:
    m = DirectionModel(speed_mm_s=35.0, startup_s=0.12, stop_lag_s=0.2)
    r = m.ramp_s
    assert m.travel_for_on_time(r - 1e-9) == pytest.approx(m.travel_for_on_time(r), abs=1e-6)


def test_an_explicit_speed_overrides_the_learned_one() -> None:
    m = DirectionModel(speed_mm_s=30.0, startup_s=0.1, stop_lag_s=0.25)
    assert m.travel_for_on_time(3.0, speed=15.0) == pytest.approx(m.travel_for_on_time(3.0) / 2)
    assert m.on_time_for_travel(50.0, speed=15.0) > m.on_time_for_travel(50.0)


@pytest.mark.parametrize("distance", [0.0, -5.0])
def test_no_travel_needs_no_on_time(distance: float) -> None:
    assert DirectionModel().on_time_for_travel(distance) == 0.0


def test_coast_is_speed_times_stop_lag() -> None:
    assert DirectionModel(speed_mm_s=36.0, stop_lag_s=0.25).coast_mm == pytest.approx(9.0)


models = st.builds(
    DirectionModel,
    speed_mm_s=st.floats(min_value=5.0, max_value=80.0),
    startup_s=st.floats(min_value=0.005, max_value=1.5),
    stop_lag_s=st.floats(min_value=0.0, max_value=2.0),
)


@settings(max_examples=100, deadline=None)
@given(m=models, on_s=st.floats(min_value=1e-3, max_value=60.0))
def test_on_time_for_travel_inverts_travel_for_on_time(m: DirectionModel, on_s: float) -> None:
    distance = m.travel_for_on_time(on_s)
    assert m.on_time_for_travel(distance) == pytest.approx(on_s, rel=1e-6, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(m=models, distance=st.floats(min_value=0.01, max_value=700.0))
def test_travel_for_on_time_inverts_on_time_for_travel(m: DirectionModel, distance: float) -> None:
    on_s = m.on_time_for_travel(distance)
    assert on_s >= 0.0
    assert m.travel_for_on_time(on_s) == pytest.approx(distance, rel=1e-6, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(m=models, a=st.floats(min_value=0.0, max_value=30.0), b=st.floats(min_value=0.0, max_value=30.0))
def test_longer_on_time_means_more_travel(m: DirectionModel, a: float, b: float) -> None:
    assume(a < b)
    assert m.travel_for_on_time(a) <= m.travel_for_on_time(b)


def test_on_time_is_never_negative_without_a_soft_start() -> None:
    """Regression: with startup_s == 0 the shortest pulse still coasts speed * stop_lag_s, and
    on_time_for_travel returned a negative on-time (distance / v - stop_lag_s, -0.1 s here)."""
    m = DirectionModel(speed_mm_s=30.0, startup_s=0.0, stop_lag_s=0.2)
    assert m.on_time_for_travel(3.0) >= 0.0


# -- learning ----------------------------------------------------------------------

def test_learning_speed_moves_towards_observations_and_ignores_nonsense() -> None:
    m = DirectionModel(speed_mm_s=30.0)
    m.learn_speed(40.0)
    assert m.speed_mm_s == pytest.approx(40.0)      # first observation replaces the guess
    m.learn_speed(500.0)                             # not a desk speed
    m.learn_speed(0.2)
    assert m.speed_mm_s == pytest.approx(40.0) and m.speed_n == 1
    for _ in range(50):
        m.learn_speed(36.0)
    assert m.speed_mm_s == pytest.approx(36.0, abs=0.01)


def test_learning_keeps_tracking_slow_drift() -> None:
    m = DirectionModel()
    for _ in range(100):
        m.learn_stop_lag(0.2)
    m.learn_stop_lag(0.4)
    # a new observation still carries a real weight after many moves
    assert m.stop_lag_s > 0.2 + 0.1 * 0.2


def test_a_new_desk_knows_its_stop_lag_only_roughly() -> None:
    m = DirectionModel()
    assert m.stop_lag_sd() == pytest.approx(LAG_SD_PRIOR[0])


def test_the_first_stops_teach_the_lag_not_its_scatter() -> None:
    """The first stops miss by the distance from the default guess to this desk's lag: that is
    learning, and counted as scatter it would make a learned desk look unpredictable."""
    m = DirectionModel()
    for lag in (0.6, 0.2, 0.2):
        m.learn_stop_lag(lag)
    assert m.stop_lag_var_n == 0 and m.stop_lag_sd() == pytest.approx(LAG_SD_PRIOR[0])


@pytest.mark.parametrize("scatter_s", [0.01, 0.03, 0.12])
def test_a_desk_that_stops_alike_is_judged_on_its_own_scatter(scatter_s: float) -> None:
    """A few stops move the guess towards what they show; many stops outweigh it ten to one."""
    m = DirectionModel()
    for lag in (0.2, 0.2, 0.2):
        m.learn_stop_lag(lag)
    few = None
    for i in range(200):
        m.learn_stop_lag(0.2 + (scatter_s if i % 2 else -scatter_s))
        if i == 2:
            few = m.stop_lag_sd()
    assert few is not None
    # Three stops: between the guess and the desk's own scatter (which is what the lag missed by).
    assert min(LAG_SD_PRIOR[0], scatter_s) < few < max(LAG_SD_PRIOR[0], scatter_s) * 1.2
    sd0, w0 = LAG_SD_PRIOR
    assert m.stop_lag_sd() == pytest.approx(math.sqrt((w0 * sd0 ** 2 + 20 * scatter_s ** 2) / (w0 + 20)), rel=0.15)


def test_the_learned_scatter_survives_a_restart_and_bad_values_are_refused() -> None:
    model = learned_model()
    for lag in (0.21, 0.19, 0.22, 0.18):
        model.up.learn_stop_lag(lag)
    assert model.up.stop_lag_var_n > 0
    again = StopModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.up.stop_lag_sd() == model.up.stop_lag_sd()
    data = model.to_dict()
    data["up"]["stop_lag_var"] = -0.1
    with pytest.raises(ValueError, match="up.stop_lag_var"):
        StopModel.from_dict(data)


@pytest.mark.parametrize("observed, low, high", [(-1.0, 0.0, 0.05), (5.0, 1.0, 1.5)])
def test_learned_startup_is_clamped_to_something_physical(observed: float, low: float, high: float) -> None:
    m = DirectionModel()
    m.learn_startup(observed)           # the first observation replaces the guess, clamped
    assert low <= m.startup_s <= high


# -- persistence -----------------------------------------------------------------

def learned_model() -> StopModel:
    model = StopModel.initial(33.0, 37.0)
    for v, s, lag in [(35.2, 0.11, 0.21), (34.8, 0.1, 0.19), (35.0, 0.12, 0.2)]:
        model.up.learn_speed(v)
        model.up.learn_startup(s)
        model.up.learn_stop_lag(lag)
    model.down.learn_speed(38.3)
    model.down.learn_stop_lag(0.31)
    return model


def test_round_trip_through_json_keeps_everything() -> None:
    model = learned_model()
    again = StopModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again == model
    assert again is not model and again.up is not model.up
    assert again[Direction.UP].speed_n == 3 and again[Direction.DOWN].stop_lag_n == 1


def test_to_dict_is_versioned_and_plain() -> None:
    data = StopModel().to_dict()
    assert data["version"] == 1
    assert set(data) == {"version", "up", "down"}
    assert {"speed_mm_s", "startup_s", "stop_lag_s", "speed_n", "startup_n", "stop_lag_n"} <= set(data["up"])
    assert json.loads(json.dumps(data)) == data  # plain data only


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = learned_model().to_dict()
    data["up"]["added_in_a_later_version"] = 1
    assert StopModel.from_dict(data) == learned_model()


def test_initial_speeds_per_direction() -> None:
    model = StopModel.initial(31.0, 42.0)
    assert model[Direction.UP].speed_mm_s == 31.0 and model[Direction.DOWN].speed_mm_s == 42.0


def _without(key: str) -> dict:
    data = StopModel().to_dict()
    del data[key]
    return data


@pytest.mark.parametrize("data, message", [
    ({**StopModel().to_dict(), "version": 2}, "unknown stop model version 2; expected 1"),
    ({**StopModel().to_dict(), "version": "1"}, "unknown stop model version '1'; expected 1"),
    (_without("version"), "unknown stop model version None; expected 1"),
    (_without("up"), "'up'"),
    (_without("down"), "'down'"),
    ({"version": 1, "up": {"speed_mm_s": 30.0}, "down": {"speed_mm_s": 30.0, "stop_lag": 0.2, "x": 1}, "y": 2},
     None),   # accepted: partial directions fall back to defaults, unknown keys are ignored
], ids=["future-version", "string-version", "no-version", "no-up", "no-down", "partial"])
def test_bad_data_is_rejected_with_a_message(data: dict, message: str | None) -> None:
    if message is None:
        assert StopModel.from_dict(data).up.speed_mm_s == 30.0
        return
    with pytest.raises(ValueError) as info:
        StopModel.from_dict(data)
    assert message in str(info.value)


@pytest.mark.parametrize("data", [
    [], None, "model",
    {"version": 1, "up": None, "down": {}},
    {"version": 1, "up": [1, 2], "down": {}},
], ids=["list", "none", "str", "up-none", "up-list"])
def test_non_dict_data_is_rejected_with_value_error(data) -> None:
    """Regression: structurally wrong data raised AttributeError, which callers that catch
    ValueError for a corrupt model file do not expect."""
    with pytest.raises(ValueError, match="must be a mapping"):
        StopModel.from_dict(data)


@pytest.mark.parametrize("field, value", [
    ("speed_mm_s", "fast"),
    ("speed_mm_s", math.nan),
    ("speed_mm_s", 0.0),
    ("speed_mm_s", -30.0),
    ("stop_lag_s", -1.0),
    ("startup_s", math.inf),
    ("speed_n", -3),
])
def test_nonsense_values_are_rejected(field: str, value) -> None:
    """Regression: any value was accepted, and a corrupt file broke the controller later
    (speed 0 made move_to raise ZeroDivisionError instead of MotionRefused). The message
    names the field and the value."""
    data = StopModel().to_dict()
    data["up"][field] = value
    with pytest.raises(ValueError) as info:
        StopModel.from_dict(data)
    assert f"up.{field}" in str(info.value) and repr(value) in str(info.value)
