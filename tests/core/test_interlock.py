"""The direction interlock: table-driven cases plus a property over random request streams."""
from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskpi.core.motion.interlock import MIN_DEAD_TIME_S, Interlock
from deskpi.core.types import Direction

UP, DOWN = Direction.UP, Direction.DOWN

# Each case: dead time, then (request, now, expected result) in order.
CASES = {
    "off is always allowed": (0.1, [(None, 0.0, None), (None, 0.0, None)]),
    "first request is granted": (0.1, [(UP, 0.0, UP)]),
    "same direction again is granted": (0.1, [(UP, 0.0, UP), (UP, 0.01, UP)]),
    "same direction right after off": (0.1, [(UP, 0.0, UP), (None, 1.0, None), (UP, 1.0, UP)]),
    "reversal goes through off": (0.1, [(UP, 0.0, UP), (DOWN, 1.0, None), (DOWN, 1.05, None), (DOWN, 1.1, DOWN)]),
    "reversal after explicit off": (0.1, [(DOWN, 0.0, DOWN), (None, 2.0, None), (UP, 2.09, None), (UP, 2.1, UP)]),
    "longer dead time": (0.5, [(UP, 0.0, UP), (None, 1.0, None), (DOWN, 1.4, None), (DOWN, 1.5, DOWN)]),
    "dead time counts from the latest off": (
        0.1,
        [(UP, 0.0, UP), (None, 1.0, None), (UP, 1.05, UP), (None, 1.08, None), (DOWN, 1.15, None), (DOWN, 1.19, DOWN)],
    ),
    "refused reversal does not restart the dead time": (
        0.1,
        [(UP, 0.0, UP), (None, 1.0, None), (DOWN, 1.05, None), (DOWN, 1.07, None), (DOWN, 1.1, DOWN)],
    ),
    "same direction allowed while the other waits": (
        0.1,
        [(UP, 0.0, UP), (None, 1.0, None), (DOWN, 1.01, None), (UP, 1.02, UP), (DOWN, 1.03, None)],
    ),
    "long idle allows either": (0.1, [(UP, 0.0, UP), (None, 0.5, None), (DOWN, 10.0, DOWN)]),
    "time going backwards is refused": (0.1, [(UP, 5.0, UP), (None, 5.0, None), (DOWN, 4.0, None)]),
}


@pytest.mark.parametrize("dead, steps", CASES.values(), ids=CASES.keys())
def test_request_table(dead: float, steps: list) -> None:
    lock = Interlock(dead)
    for i, (direction, now, expected) in enumerate(steps):
        assert lock.request(direction, now) is expected, f"step {i}: request({direction}, {now})"
        assert lock.energised is expected


EARLIEST = {
    "idle": ([], UP, 3.0, 3.0),
    "same direction energised": ([(UP, 0.0)], UP, 3.0, 3.0),
    "opposite energised": ([(UP, 0.0)], DOWN, 3.0, 3.1),
    "after off, opposite waits": ([(UP, 0.0), (None, 1.0)], DOWN, 1.02, 1.1),
    "after off, same direction now": ([(UP, 0.0), (None, 1.0)], UP, 1.02, 1.02),
    "after off, dead time over": ([(UP, 0.0), (None, 1.0)], DOWN, 5.0, 5.0),
    "off is always now": ([(UP, 0.0)], None, 2.0, 2.0),
}


@pytest.mark.parametrize("history, direction, now, expected", EARLIEST.values(), ids=EARLIEST.keys())
def test_earliest_on(history: list, direction: Direction | None, now: float, expected: float) -> None:
    lock = Interlock(0.1)
    for d, t in history:
        lock.request(d, t)
    assert lock.earliest_on(direction, now) == pytest.approx(expected)


def test_earliest_on_is_exactly_when_request_succeeds() -> None:
    lock = Interlock(0.1)
    lock.request(UP, 0.3)
    lock.request(None, 0.7)
    t = lock.earliest_on(DOWN, 0.71)
    assert lock.request(DOWN, math.nextafter(t, -math.inf)) is None
    assert lock.request(DOWN, t) is DOWN


@pytest.mark.parametrize("bad", [0.0, 0.05, 0.0999, -1.0, math.nan, math.inf])
def test_dead_time_below_hardware_minimum_is_refused(bad: float) -> None:
    with pytest.raises(ValueError) as info:
        Interlock(bad)
    assert repr(bad) in str(info.value) and str(MIN_DEAD_TIME_S) in str(info.value)


def test_default_dead_time_is_the_minimum() -> None:
    assert Interlock().dead_time_s == MIN_DEAD_TIME_S == 0.1


requests = st.sampled_from([UP, DOWN, None])
# Steps that land right on, just before and just after the dead time, plus anything.
steps = st.one_of(
    st.sampled_from([0.0, 0.05, 0.0999999, 0.1, 0.1000001, 0.2]),
    st.floats(min_value=0.0, max_value=0.5, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(
    dead=st.floats(min_value=0.1, max_value=1.0),
    start=st.floats(min_value=0.0, max_value=1e6),
    stream=st.lists(st.tuples(requests, steps), max_size=80),
)
def test_never_reverses_without_dead_time_off(dead: float, start: float, stream: list) -> None:
    lock = Interlock(dead)
    now = start
    previous: Direction | None = None
    last_off: dict[Direction, float] = {}  # direction -> time it was last turned off
    for wanted, step in stream:
        now += step
        can_now = lock.earliest_on(wanted, now) <= now
        got = lock.request(wanted, now)

        assert got in (None, wanted), "never energises something not asked for"
        if wanted is None:
            assert got is None
        if previous is not None and got is not None:
            assert got is previous, "a reversal never skips the off state"
        if got is not None and got is not previous:
            turned_off = last_off.get(got.opposite)
            assert turned_off is None or now >= turned_off + dead, "reversal without full dead time"
        if previous is not None and got is not previous:
            last_off[previous] = now
        if previous is None:
            assert (got is wanted) == can_now, "earliest_on agrees with request"
        assert lock.energised is got
        previous = got


def test_core_interlock_imports_no_adapters() -> None:
    code = (
        "import sys, deskpi.core.motion.interlock\n"
        "bad = {'gpiozero', 'flask', 'sqlite_utils', 'apscheduler', 'lgpio', 'RPi'}\n"
        "print(sorted(bad & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
