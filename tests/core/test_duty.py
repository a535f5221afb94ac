"""Motor duty-cycle accounting (default 60 s on in any 600 s), on a fake clock."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpi.core.motion.duty import DutyCycle


def duty_with(spans, max_on_s: float = 60.0, window_s: float = 600.0) -> DutyCycle:
    d = DutyCycle(max_on_s, window_s)
    for on, off in spans:
        d.motor_on(on)
        if off is not None:
            d.motor_off(off)
    return d


def test_defaults_are_sixty_seconds_in_ten_minutes() -> None:
    d = DutyCycle()
    assert (d.max_on_s, d.window_s) == (60.0, 600.0)
    assert d.remaining(0.0) == 60.0


@pytest.mark.parametrize("spans, now, used", [
    ([], 100.0, 0.0),
    ([(0.0, 60.0)], 60.0, 60.0),
    ([(0.0, 60.0)], 600.0, 60.0),            # the whole span is still inside the window
    ([(0.0, 60.0)], 630.0, 30.0),            # half of it has slid out
    ([(0.0, 60.0)], 660.0, 0.0),             # all of it has
    ([(0.0, 60.0)], 5000.0, 0.0),
    ([(0.0, 10.0), (20.0, 30.0), (40.0, 50.0)], 50.0, 30.0),
    ([(0.0, 10.0), (20.0, 30.0), (40.0, 50.0)], 615.0, 20.0),
    ([(0.0, 10.0), (20.0, 30.0), (40.0, 50.0)], 645.0, 5.0),
    ([(100.0, None)], 130.0, 30.0),          # a span still running counts up to now
    ([(0.0, 20.0), (700.0, None)], 710.0, 10.0),
    ([(0.0, 700.0)], 700.0, 600.0),          # never more than the window itself
])
def test_used_time_in_the_sliding_window(spans, now: float, used: float) -> None:
    assert duty_with(spans).used(now) == pytest.approx(used)


@pytest.mark.parametrize("spans, now, remaining", [
    ([(0.0, 60.0)], 60.0, 0.0),
    ([(0.0, 45.0)], 60.0, 15.0),
    ([(0.0, 90.0)], 90.0, 0.0),               # overused: never negative
    ([(0.0, 60.0)], 640.0, 40.0),
])
def test_remaining(spans, now: float, remaining: float) -> None:
    assert duty_with(spans).remaining(now) == pytest.approx(remaining)


def test_motor_on_twice_keeps_the_first_start_and_off_twice_is_harmless() -> None:
    d = DutyCycle()
    d.motor_on(0.0)
    d.motor_on(5.0)
    d.motor_off(10.0)
    d.motor_off(20.0)
    assert d.used(20.0) == pytest.approx(10.0)


@pytest.mark.parametrize("spans, now, need, ready", [
    ([], 0.0, 30.0, 0.0),
    ([(0.0, 60.0)], 60.0, 10.0, 610.0),       # 10 s of the first span must age out
    ([(0.0, 60.0)], 60.0, 60.0, 660.0),
    ([(0.0, 60.0)], 60.0, 600.0, 660.0),      # asking for more than the budget: all of it
    ([(0.0, 30.0)], 30.0, 30.0, 30.0),        # enough left already
    ([(0.0, 30.0)], 30.0, 40.0, 610.0),
    ([(0.0, 20.0), (100.0, 140.0)], 140.0, 30.0, 710.0),  # first span entirely, then 10 s of the second
    ([(0.0, 20.0), (100.0, 140.0)], 140.0, 15.0, 615.0),
    ([(0.0, 60.0)], 630.0, 40.0, 640.0),      # part of the span has already slid out
])
def test_ready_at(spans, now: float, need: float, ready: float) -> None:
    d = duty_with(spans)
    got = d.ready_at(now, need)
    assert got == pytest.approx(ready)
    assert d.remaining(got) >= min(need, d.max_on_s) - 1e-9


def test_ready_at_while_the_motor_is_still_on_assumes_it_stops_now() -> None:
    d = duty_with([(0.0, None)])
    assert d.ready_at(60.0, 20.0) == pytest.approx(620.0)


@pytest.mark.parametrize("max_on, window, message", [
    (0.0, 600.0, "duty cycle needs 0 < max_on_s <= window_s, got 0.0 s in 600.0 s"),
    (-1.0, 600.0, "got -1.0 s in 600.0 s"),
    (61.0, 60.0, "got 61.0 s in 60.0 s"),
    (math.nan, 600.0, "got nan s in 600.0 s"),
])
def test_bad_config_is_refused_with_a_message(max_on: float, window: float, message: str) -> None:
    with pytest.raises(ValueError) as info:
        DutyCycle(max_on, window)
    assert message in str(info.value)


# Random closed spans (motor off at the end), then: ready_at gives enough motor
# time, and not a moment later than needed.
spans_strategy = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=300.0), st.floats(min_value=0.01, max_value=40.0)),
    max_size=12,
)


def build(gaps) -> tuple[DutyCycle, float]:
    """A duty cycle that saw the given (gap, on-length) spans; returns it and the last off time."""
    d = DutyCycle(60.0, 600.0)
    t = 0.0
    for gap, length in gaps:
        t += gap
        d.motor_on(t)
        t += length
        d.motor_off(t)
    return d, t


@settings(max_examples=100, deadline=None)
@given(gaps=spans_strategy, wait=st.floats(min_value=0.0, max_value=900.0),
       need=st.floats(min_value=0.1, max_value=80.0))
def test_ready_at_is_sufficient_and_earliest(gaps, wait: float, need: float) -> None:
    d, t_last = build(gaps)
    now = t_last + wait
    assert 0.0 <= d.used(now) <= d.window_s + 1e-9
    ready = d.ready_at(now, need)
    want = min(need, d.max_on_s)
    assert ready >= now
    # used() forgets expired spans, so ask fresh copies about other times.
    assert build(gaps)[0].remaining(ready) >= want - 1e-6, "enough motor time at ready_at"
    # need >= max_on_s (every span must expire) is covered by the example test below.
    if ready > now + 1e-6 and need < d.max_on_s:
        earlier = max(now, ready - 0.01)
        assert build(gaps)[0].remaining(earlier) < want, "ready_at is the earliest such time"


def test_ready_at_for_the_whole_budget_is_when_the_last_span_expires() -> None:
    d, t_last = build([(0.0, 16.056882316631015), (16.0, 16.0)])
    assert d.ready_at(t_last + 1.0, 60.0) == pytest.approx(t_last + 600.0)
