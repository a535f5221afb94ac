"""The resume check: after a stop judged a false alarm, is the desk as quick as it was in the same move?

Pure: synthetic readings on a fake clock, no controller and no threads.
"""
from __future__ import annotations

import math
import random

import pytest

from deskpi.core.faults import FaultKind
from deskpi.core.motion import approach
from deskpi.core.motion.approach import MIN_LOADED
from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.resume import SLOWER, ResumeCheck, ran_free
from deskpi.core.motion.stopmodel import DirectionModel
from deskpi.core.motion.trajectory import TrajectoryFit
from deskpi.core.types import Direction

SPEED = 22.0        # the slow, heavily loaded desk
NOISE = 2.5
PING = 0.025


def resume_run(*, seed: int, speed: float, decay_s: float = math.inf, wild: dict[int, float] | None = None,
               seconds: float = 4.0, v0: tuple[float, float] = (SPEED, 0.3)):
    """A desk carrying on downwards from a standstill at `speed` (its speed falling with time constant
    decay_s, as against a squeezed obstacle); the time of the first finding, and the finding."""
    rng = random.Random(seed)
    fit = TrajectoryFit(direction=Direction.DOWN, t_on=0.0, start_mm=1000.0, start_sd_mm=0.5, speed_prior=SPEED,
                        speed_sd=4.0, ramp_s=0.4, noise_mm=NOISE)
    check = ResumeCheck(fit=fit, free_speed=v0, noise_mm=NOISE, anchor_sd_mm=1.2)
    for k in range(1, int(seconds / PING)):
        t = k * PING
        g = fit.g(t)
        # Travel at a speed that decays from `speed`: integral of speed * exp(-s / decay_s) over the run.
        travel = speed * (g if math.isinf(decay_s) else decay_s * (1.0 - math.exp(-g / decay_s)))
        y = 1000.0 - travel + rng.gauss(0.0, NOISE) + (wild or {}).get(k, 0.0)
        found = check.add(t, y, expected=1000.0 - travel)
        if found:
            return t, found
        fit.add(t, y)
    return None


def test_a_desk_carrying_on_as_it_went_is_never_called_pressed() -> None:
    for seed in range(300):
        assert resume_run(seed=seed, speed=SPEED) is None, seed


@pytest.mark.parametrize("load", [0.97, 0.92])
def test_a_desk_a_little_slower_than_before_is_not_pressed(load: float) -> None:
    """Within SLOWER of the move's own speed: a few per cent is the doubt about that speed, not a hand."""
    assert load > SLOWER
    assert all(resume_run(seed=seed, speed=SPEED * load) is None for seed in range(100))


def test_one_wild_echo_is_no_slow_desk() -> None:
    for seed in range(100):
        assert resume_run(seed=seed, speed=SPEED, wild={30: 40.0, 31: 35.0}) is None, seed


@pytest.mark.parametrize("share, decay_s, within_s", [(0.75, 3.0, 1.6), (0.85, 1.5, 1.6), (0.6, 2.0, 1.1)])
def test_a_desk_pressed_into_something_soft_is_called_within_a_second_or_so(share, decay_s, within_s) -> None:
    """Carrying on from a squeezed chair arm: slower from the start, and slower still as it presses."""
    times = []
    for seed in range(30):
        hit = resume_run(seed=seed, speed=SPEED * share, decay_s=decay_s)
        assert hit is not None, seed
        t, (kind, detail) = hit
        assert kind is FaultKind.OBSTRUCTION and "mm/s it ran at before it stopped" in detail
        times.append(t)
    assert sorted(times)[int(0.9 * len(times))] < within_s


def test_a_speed_known_only_roughly_asks_for_more() -> None:
    """The move's own speed, measured over a short run before the stop, is less sure: the same slow desk
    takes longer to call, and is called all the same."""
    sure = [resume_run(seed=s, speed=SPEED * 0.75, decay_s=3.0) for s in range(20)]
    rough = [resume_run(seed=s, speed=SPEED * 0.75, decay_s=3.0, v0=(SPEED, 2.0)) for s in range(20)]
    assert all(sure) and all(rough)
    assert sum(r[0] for r in rough if r) > sum(s[0] for s in sure if s)


def carried_on(speed: float, seconds: float, *, seed: int = 1) -> TrajectoryFit:
    """The fit of a leg that carried on downwards from 1000 mm at `speed` for `seconds`."""
    rng = random.Random(seed)
    fit = TrajectoryFit(direction=Direction.DOWN, t_on=0.0, start_mm=1000.0, start_sd_mm=0.5, speed_prior=SPEED,
                        speed_sd=4.0, ramp_s=0.4, noise_mm=NOISE)
    for k in range(1, int(seconds / PING)):
        t = k * PING
        fit.add(t, 1000.0 - speed * fit.g(t) + rng.gauss(0.0, NOISE))
    return fit


@pytest.mark.parametrize("seed", range(5))
def test_a_leg_at_the_moves_own_speed_well_past_the_last_false_alarm_ran_free(seed):
    # 17 mm/s: a heavily loaded slow desk, as fast as it went before its first stop in this move.
    fit = carried_on(17.0, 1.4, seed=seed)
    at = fit.position(1.4)
    assert ran_free(fit, (17.0, 0.5), 1000.0, at, 10.0)
    assert not ran_free(fit, (17.0, 0.5), at + 5.0, at, 10.0), "not past where the last stop left it"
    assert not ran_free(fit, None, 1000.0, at, 10.0), "no speed of this move's to go by"
    assert not ran_free(fit, (17.0, 0.5), None, at, 10.0), "no false alarm before"


@pytest.mark.parametrize("seed", range(5))
def test_a_leg_pressing_into_something_did_not_run_free(seed):
    # Carrying on at 60 % of the move's speed: a squeezed chair arm holds the desk back.
    fit = carried_on(0.6 * 17.0, 2.5, seed=seed)
    assert fit.d * (fit.position(2.5) - 1000.0) > 10.0
    assert not ran_free(fit, (17.0, 0.5), 1000.0, fit.position(2.5), 10.0)
    assert SLOWER * 17.0 > 0.6 * 17.0


@pytest.mark.parametrize(("measured", "held_to"), [(17.0, 17.0), (4.0, MIN_LOADED * SPEED), (30.0, 30.0)])
def test_carrying_on_the_start_up_check_goes_by_the_moves_own_speed_within_what_a_load_allows(measured, held_to):
    # A heavily loaded move (17 of 22 mm/s) is held to its own pace; a speed measured on a short leg
    # already slowing against something (4 mm/s) would let a desk held fast push on unnoticed.
    m = DirectionModel(speed_mm_s=SPEED, startup_s=0.3, speed_n=5, startup_n=5)
    a = approach.begin(MotionConfig(min_mm=620.0, max_mm=1270.0), m, d=Direction.UP, here=700.0, start_sd=0.5,
                       target=1000.0, now=0.0, noise_mm=NOISE, ping_s=PING, still=None, free_speed=(measured, 0.5))
    assert a.startup.v == pytest.approx(held_to)
    fresh = approach.begin(MotionConfig(min_mm=620.0, max_mm=1270.0), m, d=Direction.UP, here=700.0, start_sd=0.5,
                           target=1000.0, now=0.0, noise_mm=NOISE, ping_s=PING, still=None)
    assert fresh.startup.v == SPEED, "a move's first leg goes by the learned speed"
