"""deskpi.core.panel.indicator_patterns (pure) and deskpi.hw.indicators (gpiozero LED + buzzer).

The renderer is checked against the pure function: with a fake clock and
render(now) called directly, the pins must carry exactly what level_at() says.
The one test of the background thread synchronises on an Event set by render.
"""
from __future__ import annotations

import itertools
import threading

import pytest
from gpiozero import LED
from gpiozero.pins.mock import MockFactory, MockPWMPin

from deskpi.config import defaults
from deskpi.core.panel import indicator_patterns as ip
from deskpi.core.panel.indicator_patterns import PATTERNS, Level, Pattern, Step, level_at
from deskpi.hw.indicators import Indicators

LED_PIN, BUZZER_PIN = 12, 18
REQUIRED = ("moving", "preset_saved", "reminder", "warning_countdown", "fault", "locked", "error", "idle")
TIMEOUT = 5.0


class FakeClock:
    def __init__(self, t: float = 50.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def settings(**kw):
    return defaults().indicators.replace(**kw)


@pytest.fixture
def pwm_factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


@pytest.fixture
def make():
    made: list[Indicators] = []

    def build(*args, **kw) -> Indicators:
        ind = Indicators(*args, **kw)
        made.append(ind)
        return ind

    yield build
    for ind in made:
        ind.close()


# -- the pure patterns ---------------------------------------------------------------------
def test_every_required_pattern_exists() -> None:
    for name in REQUIRED:
        assert name in PATTERNS
    assert {"moving", "fault", "locked", "idle", "warning_countdown"} <= set(ip.STATES)
    assert {"preset_saved", "error", "reminder"} <= set(ip.EVENTS)


@pytest.mark.parametrize("a,b", list(itertools.combinations(sorted(PATTERNS), 2)))
def test_patterns_are_distinct(a: str, b: str) -> None:
    span = 4.0
    assert ip.timeline(a, span) != ip.timeline(b, span)
    # and distinct even when only the LED or only the buzzer can be seen/heard, where it matters
    assert ip.timeline(a, span, once=True) != ip.timeline(b, span, once=True)


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_levels_are_in_range_and_one_shots_end(name: str) -> None:
    p = PATTERNS[name]
    for i in range(600):
        lv = level_at(p, 0.0, i * 0.01)
        assert 0.0 <= lv.led <= 1.0
        assert lv.tone_hz is None or lv.buzzer
    if p.loop:
        assert p.duration_s is None
        t = p.intro_s + 0.123
        assert level_at(p, 0.0, t) == level_at(p, 0.0, t + 3 * p.period_s)
        assert not level_at(p, 0.0, 100.0).done
    else:
        assert 0 < p.duration_s <= 3.0
        assert level_at(p, 0.0, p.duration_s + 0.01) == Level(0.0, False, None, True)
    assert level_at(p, 0.0, p.once_s + 0.01, once=True).done


def test_moving_breathes() -> None:
    assert level_at("moving", 10.0, 10.0).led == pytest.approx(0.2)
    assert level_at("moving", 10.0, 10.3).led == pytest.approx(0.6)
    assert level_at("moving", 10.0, 10.6).led == pytest.approx(1.0)
    assert level_at("moving", 10.0, 10.9).led == pytest.approx(0.6)
    assert level_at("moving", 10.0, 11.2).led == pytest.approx(0.2)
    assert not any(level_at("moving", 0, i * 0.05).buzzer for i in range(50))


def test_preset_saved_is_two_beeps() -> None:
    tl = ip.timeline("preset_saved", PATTERNS["preset_saved"].duration_s)
    buzz = [b for _, b, _ in tl]
    starts = sum(1 for x, y in itertools.pairwise([False] + buzz) if y and not x)
    assert starts == 2


def test_locked_beeps_once_on_entry_then_only_blinks() -> None:
    p = PATTERNS["locked"]
    assert level_at(p, 0, 0.1).buzzer and level_at(p, 0, 0.1).tone_hz == 330
    assert not any(level_at(p, 0, p.intro_s + i * 0.01).buzzer for i in range(1000))
    assert any(level_at(p, 0, p.intro_s + i * 0.01).led > 0 for i in range(200))


def test_a_pending_claim_chirps_once_then_blinks_evenly_on_a_fake_clock() -> None:
    p = PATTERNS["claim_pending"]
    assert "claim_pending" in ip.STATES
    clock = FakeClock(200.0)
    t0 = clock.t
    first = level_at(p, t0, clock.t)
    assert first.buzzer and first.tone_hz == 1300 and first.led == 1.0
    seen = []
    for i in range(400):                          # four seconds in 10 ms steps, between step edges
        clock.t = t0 + p.intro_s + i * 0.01 + 0.005
        lv = level_at(p, t0, clock.t)
        seen.append(lv.led)
        assert not lv.buzzer, "only the entry chirps: a waiting request must not nag the office"
    assert set(seen) == {0.0, 1.0}
    rises = sum(1 for a, b in itertools.pairwise(seen) if b > a)
    assert rises == 3 and seen[:50] == [1.0] * 50 and seen[50:100] == [0.0] * 50   # 1 Hz, half on


@pytest.mark.parametrize("fault,locked,moving,pending,expected", [
    (False, False, False, False, "idle"),
    (False, False, False, True, "claim_pending"),
    (False, False, True, True, "moving"),
    (False, True, True, True, "locked"),
    (True, True, True, True, "fault"),
    (True, False, False, False, "fault"),
])
def test_the_desk_state_puts_a_pending_claim_below_faults_locks_and_motion(fault, locked, moving, pending,
                                                                           expected) -> None:
    assert ip.desk_state(fault=fault, locked=locked, moving=moving, claim_pending=pending) == expected
    assert expected in ip.STATES


def test_times_before_the_start_count_as_the_start() -> None:
    assert level_at("error", 5.0, 4.0) == level_at("error", 5.0, 5.0)


def test_unknown_pattern() -> None:
    with pytest.raises(ValueError, match="unknown pattern 'party'; patterns are idle, moving"):
        level_at("party", 0, 0)


def test_steps_validate() -> None:
    with pytest.raises(ValueError):
        Step(0.0)
    with pytest.raises(ValueError):
        Step(0.1, led=1.5)
    with pytest.raises(ValueError):
        Pattern("empty", (), loop=True)


def test_static_patterns() -> None:
    assert PATTERNS["idle"].static
    assert not PATTERNS["moving"].static and not PATTERNS["locked"].static


# -- the device adapter ----------------------------------------------------------------------
def test_absent_pins_are_fine(make) -> None:
    ind = make(settings(led_pin=None, buzzer_pin=None), pin_factory=MockFactory(pin_class=MockPWMPin))
    assert ind.led is None and ind.buzzer is None and ind.problems == []
    ind.set_state("moving")
    ind.show("error")
    assert ind.state == "moving" and ind.showing == "error"
    assert ind.render(0.0) == level_at("error", ind._overlay[1], 0.0, once=True)
    ind.close()
    ind.close()


def test_only_a_buzzer(make, pwm_factory) -> None:
    ind = make(settings(led_pin=None), pin_factory=pwm_factory, clock=FakeClock(0.0), start=False)
    ind.show("error")
    ind.render(0.1)
    assert pwm_factory.pin(BUZZER_PIN).state


@pytest.mark.parametrize("state", ["moving", "fault", "warning_countdown", "locked", "idle"])
def test_led_and_buzzer_follow_the_pure_pattern(make, pwm_factory, state: str) -> None:
    clock = FakeClock(50.0)
    ind = make(settings(), pin_factory=pwm_factory, clock=clock, start=False)
    led, buzzer = pwm_factory.pin(LED_PIN), pwm_factory.pin(BUZZER_PIN)
    ind.set_state(state)
    for i in range(300):
        t = 50.0 + i * 0.013
        want = level_at(state, 50.0, t)
        got = ind.render(t)
        assert got == want
        assert led.state == pytest.approx(want.led)
        assert bool(buzzer.state) is want.buzzer


def test_a_one_shot_plays_over_the_state_then_the_state_resumes(make, pwm_factory) -> None:
    clock = FakeClock(0.0)
    ind = make(settings(), pin_factory=pwm_factory, clock=clock, start=False)
    ind.set_state("moving")
    clock.t = 1.0
    ind.show("preset_saved")
    assert ind.render(1.0) == level_at("preset_saved", 1.0, 1.0)
    assert pwm_factory.pin(BUZZER_PIN).state
    end = 1.0 + PATTERNS["preset_saved"].duration_s + 0.01
    assert ind.render(end) == level_at("moving", 0.0, end)
    assert ind.showing is None
    assert not pwm_factory.pin(BUZZER_PIN).state


def test_showing_a_looping_pattern_plays_it_once(make, pwm_factory) -> None:
    ind = make(settings(), pin_factory=pwm_factory, clock=FakeClock(0.0), start=False)
    ind.show("locked")
    assert ind.render(0.1).buzzer
    ind.render(PATTERNS["locked"].once_s + 0.01)
    assert ind.showing is None and ind.level == ip.OFF


def test_setting_the_same_state_does_not_restart_it(make, pwm_factory) -> None:
    clock = FakeClock(0.0)
    ind = make(settings(), pin_factory=pwm_factory, clock=clock, start=False)
    ind.set_state("moving")
    clock.t = 0.3
    ind.set_state("moving")
    assert ind.render(0.3).led == pytest.approx(0.6)       # still timed from 0.0
    ind.set_state("fault")
    ind.set_state(None)
    assert ind.render(0.4) == ip.OFF and pwm_factory.pin(LED_PIN).state == 0


def test_unknown_names_are_refused(make, pwm_factory) -> None:
    ind = make(settings(), pin_factory=pwm_factory, start=False)
    with pytest.raises(ValueError, match="unknown pattern"):
        ind.set_state("disco")
    with pytest.raises(ValueError, match="unknown pattern"):
        ind.show("disco")


def test_plain_led_when_the_pin_cannot_pwm(make) -> None:
    factory = MockFactory()                        # MockPin: no PWM
    ind = make(settings(), pin_factory=factory, clock=FakeClock(0.0), start=False)
    assert isinstance(ind.led, LED)
    ind.set_state("moving")
    ind.render(0.0)                                # 0.2: off on a plain LED
    assert factory.pin(LED_PIN).state is False
    ind.render(0.6)                                # 1.0: on
    assert factory.pin(LED_PIN).state is True
    factory.reset()


def test_active_low_led(make, pwm_factory) -> None:
    ind = make(settings(led_active_high=False, buzzer_active_high=False), pin_factory=pwm_factory,
               clock=FakeClock(0.0), start=False)
    ind.set_state("idle")
    ind.render(0.0)
    assert pwm_factory.pin(LED_PIN).state == pytest.approx(0.95)
    assert pwm_factory.pin(BUZZER_PIN).state == 1     # buzzer silent = high on an active-low driver


def test_a_pin_that_cannot_be_used_is_a_problem_not_a_crash(make, pwm_factory) -> None:
    squatter = LED(LED_PIN, pin_factory=pwm_factory)
    try:
        ind = make(settings(), pin_factory=pwm_factory, start=False)
        assert ind.led is None and ind.buzzer is not None
        assert "led_pin = 12" in ind.problems[0]
        ind.set_state("fault")
        ind.render(0.0)
    finally:
        squatter.close()


def test_the_thread_renders_the_state_and_close_turns_everything_off(make, pwm_factory) -> None:
    clock = FakeClock(10.0)
    ind = make(settings(), pin_factory=pwm_factory, clock=clock)
    rendered: list[float] = []
    cond = threading.Condition()
    original = ind.render

    def spy(now: float):
        lv = original(now)
        with cond:
            rendered.append(now)
            cond.notify_all()
        return lv

    ind.render = spy                               # the thread looks render up on each frame
    led, buzzer = pwm_factory.pin(LED_PIN), pwm_factory.pin(BUZZER_PIN)
    ind.set_state("fault")                         # starts with a beep and full LED
    with cond:
        assert cond.wait_for(lambda: 10.0 in rendered, TIMEOUT)
    assert led.state == 1.0 and buzzer.state
    clock.t = 10.0 + 0.125 + 0.01                  # the dark gap after the first beep
    with cond:
        assert cond.wait_for(lambda: clock.t in rendered, TIMEOUT)
    assert led.state == 0.0 and not buzzer.state
    clock.t = 10.0                                 # back to a beep, then close mid-beep
    with cond:
        rendered.clear()
        assert cond.wait_for(lambda: 10.0 in rendered, TIMEOUT)
    assert buzzer.state
    thread = ind._thread
    ind.close()
    assert thread is not None and not thread.is_alive()
    assert led.state == 0 and not buzzer.state
    assert ind.level == ip.OFF
    ind.set_state("moving")                        # ignored once closed
    ind.show("error")
    assert ind.state is None and ind.showing is None


def test_close_turns_off_what_was_on(make, pwm_factory) -> None:
    ind = make(settings(), pin_factory=pwm_factory, clock=FakeClock(0.0), start=False)
    ind.show("error")
    ind.render(0.1)
    led, buzzer = pwm_factory.pin(LED_PIN), pwm_factory.pin(BUZZER_PIN)
    assert led.state == 1.0 and buzzer.state
    order: list[str] = []
    for name, dev in (("led", ind.led), ("buzzer", ind.buzzer)):
        for method in ("off", "close"):
            real = getattr(dev, method)
            setattr(dev, method, lambda real=real, tag=f"{name}.{method}": (order.append(tag), real())[1])
    ind.close()
    # switched off while still driven, then released (a closed mock pin just floats)
    assert order == ["led.off", "led.close", "buzzer.off", "buzzer.close"]
    assert led.state == 0 and not buzzer.state
