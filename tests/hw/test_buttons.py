"""deskpi.hw.buttons.ButtonPanel: gpiozero Buttons on mock pins -> queue -> worker -> DeskService.

A fake DeskService records every call and the thread it came from. The panel
runs on a fake clock: the test moves time and then calls panel.flush(), which
returns once the worker has handled everything queued so far, so nothing here
depends on how fast this machine is. Waits are on Conditions/Events with
timeouts that only guard against hangs.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
from gpiozero import Button
from gpiozero.pins.mock import MockFactory, MockPWMPin
from helpers import ManualClock

from deskpi.config import defaults
from deskpi.core.faults import MotionRefused
from deskpi.core.types import Direction, Source
from deskpi.daemon.arbiter import MotionArbiter
from deskpi.hw.buttons import ButtonPanel
from deskpi.sim.mockdesk import SimFactory

UP, DOWN = Direction.UP, Direction.DOWN
B = Source.BUTTON
PINS = {"up": 5, "down": 6, "preset-1": 13, "preset-2": 19, "preset-3": 26, "preset-4": 25}
TIMEOUT = 5.0


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple
    thread: int


def FakeClock(t: float = 100.0) -> ManualClock:
    return ManualClock(t)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.cond = threading.Condition()

    def record(self, name: str, *args) -> None:
        with self.cond:
            self.calls.append(Call(name, args, threading.get_ident()))
            self.cond.notify_all()

    def names(self) -> list[tuple]:
        with self.cond:
            return [(c.name, *c.args) for c in self.calls]

    def wait_for(self, predicate, what: str) -> None:
        with self.cond:
            ok = self.cond.wait_for(lambda: predicate([(c.name, *c.args) for c in self.calls]), TIMEOUT)
        assert ok, f"timed out waiting for {what}; calls: {self.names()}"


class FakeArbiter:
    def __init__(self, rec: Recorder, service: FakeService) -> None:
        self.rec, self.service = rec, service

    def set_locked(self, locked: bool) -> None:
        self.rec.record("set_locked", locked)
        self.service.locked = locked


class FakeService:
    """The DeskService surface the panel uses; `refuse`/`explode` make a call fail."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.arbiter = FakeArbiter(rec, self)
        self.moving = False
        self.locked = False
        self.indicators = None
        self.refuse: set[str] = set()
        self.explode: set[str] = set()

    def _call(self, name: str, *args) -> None:
        self.rec.record(name, *args)
        if name in self.refuse:
            raise MotionRefused(f"{name} refused (test)")
        if name in self.explode:
            raise RuntimeError(f"{name} exploded (test)")

    def snapshot(self) -> dict:
        self.rec.record("snapshot")
        return {"state": "moving" if self.moving else "idle", "locked": self.locked}

    def motion_status(self) -> tuple[bool, bool]:
        self.rec.record("snapshot")
        return self.moving, self.locked

    def hold(self, direction, source=Source.REMOTE, detail=""):
        self._call("hold", direction, source)

    def release(self, source=Source.REMOTE):
        self._call("release", source)

    def stop(self, source=Source.REMOTE):
        self._call("stop", source)

    def move_to(self, target_mm, source=Source.REMOTE, detail=""):
        self._call("move_to", target_mm, source)

    def recall_preset(self, slot, source=Source.REMOTE):
        self._call("recall_preset", slot, source)
        return 700.0

    def save_preset(self, slot, height_mm=None, source=None):
        self._call("save_preset", slot)
        if self.indicators is not None:              # as DeskService does
            self.indicators.show("preset_saved")
        return 800.0


class FakeIndicators:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.state = None

    def show(self, pattern: str) -> None:
        self.rec.record("show", pattern)

    def set_state(self, state) -> None:
        self.rec.record("set_state", state)
        self.state = state


def service_calls(rec: Recorder) -> list[tuple]:
    """What reached the desk (not the snapshot reads or the indicators)."""
    return [c for c in rec.names() if c[0] not in ("snapshot", "show", "set_state")]


class Rig:
    def __init__(self, **opts) -> None:
        factory_kind = opts.pop("factory", "sim")
        self.factory = SimFactory() if factory_kind == "sim" else MockFactory(pin_class=MockPWMPin)
        self.rec = Recorder()
        self.service = FakeService(self.rec)
        self.ind = FakeIndicators(self.rec)
        self.clock = opts.pop("clock", FakeClock())
        with_indicators = opts.pop("indicators", True)
        self.settings = defaults().buttons.replace(**opts)
        self.panel = ButtonPanel(self.settings, self.service, pin_factory=self.factory,
                                 indicators=self.ind if with_indicators else None, clock=self.clock)
        self.test_thread = threading.get_ident()

    def pin(self, key: str):
        return self.factory.pin(PINS[key])

    def down(self, key: str) -> None:
        """A finger on the real button: drive the pin to its pressed level, as hardware would."""
        pin = self.pin(key)
        pin.drive_low() if self.settings.pull_up else pin.drive_high()

    def up(self, key: str) -> None:
        pin = self.pin(key)
        pin.drive_high() if self.settings.pull_up else pin.drive_low()

    def at(self, dt: float) -> None:
        """Let the worker handle what happened so far, then advance the fake clock and catch up."""
        self.flush()
        self.clock.advance(dt)
        self.flush()

    def flush(self) -> None:
        assert self.panel.flush(TIMEOUT), "the button worker did not answer"

    def close(self) -> None:
        # Let go of any button first: gpiozero's close() waits out hold_time on a held Button.
        for key, btn in list(self.panel.buttons.items()):
            if btn.is_pressed:
                self.up(key)
        self.panel.close()
        self.factory.reset()


@pytest.fixture
def make_rig():
    rigs: list[Rig] = []

    def make(**opts) -> Rig:
        rig = Rig(**opts)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        worker = rig.panel._worker.ident
        rig.close()
        # Never inside a gpiozero callback: every call came from the panel's worker thread.
        for call in rig.rec.calls:
            assert call.thread != rig.test_thread, f"{call} ran on the thread that drove the pin"
            assert call.thread == worker, f"{call} did not run on the button worker"


# -- up / down ------------------------------------------------------------------------
def test_up_holds_renews_and_releases_off_the_callback_thread(make_rig) -> None:
    rig = make_rig()
    rig.down("up")
    rig.flush()
    assert service_calls(rig.rec) == [("hold", UP, B)]
    rig.at(0.15)
    rig.at(0.15)
    assert service_calls(rig.rec) == [("hold", UP, B)] * 3
    rig.up("up")
    rig.flush()
    assert service_calls(rig.rec) == [("hold", UP, B)] * 3 + [("release", B)]
    # the calls happened on the worker even though drive_low() ran the gpiozero callback here
    assert all(c.thread == rig.panel._worker.ident for c in rig.rec.calls)


def test_renewal_runs_on_its_own_with_the_real_clock(make_rig) -> None:
    rig = make_rig(clock=time.monotonic)
    rig.panel.press("down", True)
    rig.rec.wait_for(lambda calls: calls.count(("hold", DOWN, B)) >= 3, "three holds")
    rig.panel.press("down", False)
    rig.rec.wait_for(lambda calls: ("release", B) in calls, "the release")


def test_up_and_down_together_never_move(make_rig) -> None:
    rig = make_rig(child_lock=False)
    rig.down("up")
    rig.down("down")
    rig.at(0.3)
    rig.at(5.0)
    rig.up("up")
    rig.up("down")
    rig.flush()
    assert service_calls(rig.rec) == [("hold", UP, B), ("stop", B)]


# -- presets ----------------------------------------------------------------------------
def test_short_touch_recalls_through_the_keypad(make_rig) -> None:
    rig = make_rig()
    rig.panel.press("preset-2", True)
    rig.at(0.3)
    assert service_calls(rig.rec) == []
    rig.panel.press("preset-2", False)
    rig.flush()
    assert service_calls(rig.rec) == [("recall_preset", 2, B)]


def test_long_press_saves_at_the_threshold_with_one_confirmation(make_rig) -> None:
    rig = make_rig(long_press_s=2.0)
    rig.panel.press("preset-1", True)
    rig.at(1.9)
    assert service_calls(rig.rec) == []
    rig.at(0.1)
    assert service_calls(rig.rec) == [("save_preset", 1)]         # before the release
    assert ("show", "preset_saved") in rig.rec.names()
    rig.panel.press("preset-1", False)
    rig.flush()
    assert service_calls(rig.rec) == [("save_preset", 1)]         # and no recall after it


def test_saved_beep_is_not_doubled_when_the_service_shows_it(make_rig) -> None:
    rig = make_rig()
    rig.service.indicators = rig.ind             # DeskService.save_preset shows it itself
    rig.panel.press("preset-3", True)
    rig.at(2.5)
    assert rig.rec.names().count(("show", "preset_saved")) == 1


def test_any_press_during_an_automatic_move_only_stops(make_rig) -> None:
    rig = make_rig()
    rig.service.moving = True
    rig.panel.press("preset-4", True)
    rig.at(3.0)                                  # would be a long press
    rig.panel.press("preset-4", False)
    rig.panel.press("up", True)
    rig.at(0.5)
    rig.panel.press("up", False)
    rig.flush()
    assert service_calls(rig.rec) == [("stop", B), ("stop", B)]


def test_hold_to_run_presets_stop_on_release(make_rig) -> None:
    rig = make_rig(hold_to_run_only=True)
    rig.panel.press("preset-1", True)
    rig.at(1.0)
    rig.panel.press("preset-1", False)
    rig.flush()
    assert service_calls(rig.rec) == [("recall_preset", 1, B), ("stop", B)]


# -- refusals and failures ---------------------------------------------------------------
def test_refused_recall_shows_error_and_the_panel_carries_on(make_rig) -> None:
    rig = make_rig()
    rig.service.refuse.add("recall_preset")
    rig.panel.press("preset-3", True)
    rig.panel.press("preset-3", False)
    rig.flush()
    assert ("show", "error") in rig.rec.names()
    rig.panel.press("up", True)
    rig.flush()
    assert service_calls(rig.rec)[-1] == ("hold", UP, B)
    assert rig.panel._worker.is_alive()


def test_refused_hold_beeps_once_not_every_renewal(make_rig) -> None:
    rig = make_rig()
    rig.service.refuse.add("hold")
    rig.panel.press("up", True)
    for _ in range(4):
        rig.at(0.15)
    rig.panel.press("up", False)
    rig.flush()
    assert service_calls(rig.rec) == [("hold", UP, B), ("release", B)]
    assert rig.rec.names().count(("show", "error")) == 1


def test_an_unexpected_error_stops_the_desk_and_never_kills_the_worker(make_rig) -> None:
    rig = make_rig()
    rig.service.explode.add("hold")
    rig.panel.press("down", True)
    rig.flush()
    assert service_calls(rig.rec)[:2] == [("hold", DOWN, B), ("stop", B)]
    assert ("show", "error") in rig.rec.names()
    rig.panel.press("down", False)
    rig.service.explode.clear()
    rig.panel.press("preset-1", True)
    rig.panel.press("preset-1", False)
    rig.flush()
    assert service_calls(rig.rec)[-1] == ("recall_preset", 1, B)


def test_a_failing_status_read_does_not_stop_the_buttons(make_rig) -> None:
    rig = make_rig()

    def broken():
        raise RuntimeError("no status (test)")

    rig.service.motion_status = broken
    rig.panel.press("up", True)
    rig.flush()
    assert service_calls(rig.rec) == [("hold", UP, B)]


def test_no_indicators_is_fine(make_rig) -> None:
    rig = make_rig(indicators=False)
    rig.service.refuse.add("recall_preset")
    rig.panel.press("preset-1", True)
    rig.panel.press("preset-1", False)
    rig.flush()
    assert service_calls(rig.rec) == [("recall_preset", 1, B)]


# -- child lock ---------------------------------------------------------------------------
def test_child_lock_combination_locks_and_unlocks(make_rig) -> None:
    rig = make_rig()
    rig.panel.press("up", True)
    rig.panel.press("down", True)
    rig.at(2.9)
    assert ("set_locked", True) not in rig.rec.names()
    rig.at(0.2)
    assert ("set_locked", True) in rig.rec.names()
    assert ("set_state", "locked") in rig.rec.names() and ("show", "locked") in rig.rec.names()
    rig.panel.press("up", False)
    rig.panel.press("down", False)
    rig.flush()
    before = len(service_calls(rig.rec))
    # locked: a preset only stops, shows 'locked', and recalls nothing
    rig.panel.press("preset-1", True)
    rig.panel.press("preset-1", False)
    rig.flush()
    assert service_calls(rig.rec)[before:] == [("stop", B)]
    assert rig.rec.names()[-1] == ("show", "locked")
    # the same combination unlocks
    rig.panel.press("down", True)
    rig.panel.press("up", True)
    rig.at(3.1)
    assert ("set_locked", False) in rig.rec.names()
    assert ("show", "unlocked") in rig.rec.names()
    assert rig.ind.state == "idle"
    rig.panel.press("down", False)
    rig.panel.press("up", False)
    rig.panel.press("up", True)
    rig.flush()
    assert service_calls(rig.rec)[-1] == ("hold", UP, B)


def test_a_lock_set_elsewhere_is_respected(make_rig) -> None:
    rig = make_rig()
    rig.service.locked = True                     # e.g. from the web page
    rig.panel.press("up", True)
    rig.at(0.5)
    rig.panel.press("up", False)
    rig.flush()
    assert service_calls(rig.rec) == [("stop", B)]


# -- keypad and pins ------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["left", "preset-5", "", "UP"])
def test_press_rejects_unknown_keys(make_rig, key: str) -> None:
    rig = make_rig()
    with pytest.raises(ValueError, match="unknown button"):
        rig.panel.press(key, True)


def test_absent_buttons_are_not_built_and_cannot_be_pressed(make_rig) -> None:
    rig = make_rig(down_pin=None, preset_pins=(13, 19))
    assert sorted(rig.panel.buttons) == ["preset-1", "preset-2", "up"]
    for key in ("down", "preset-3", "preset-4"):
        with pytest.raises(ValueError, match="not connected"):
            rig.panel.press(key, True)
    rig.panel.press("preset-2", True)
    rig.panel.press("preset-2", False)
    rig.flush()
    assert service_calls(rig.rec) == [("recall_preset", 2, B)]


@pytest.mark.parametrize("pull_up", [True, False])
def test_keypad_drives_the_mock_pin_at_the_right_level(make_rig, pull_up: bool) -> None:
    rig = make_rig(pull_up=pull_up, factory="mock")
    pin = rig.pin("up")
    rig.panel.press("up", True)
    assert pin.state == (not pull_up)
    assert rig.panel.buttons["up"].is_pressed
    rig.flush()
    assert service_calls(rig.rec) == [("hold", UP, B)]
    rig.panel.press("up", False)
    assert pin.state == pull_up
    rig.flush()
    assert service_calls(rig.rec) == [("hold", UP, B), ("release", B)]


def test_close_stops_a_move_it_started_and_frees_the_pins(make_rig) -> None:
    rig = make_rig(hold_to_run_only=True)
    rig.panel.press("preset-2", True)
    rig.flush()
    worker = rig.panel._worker
    rig.panel.close()
    assert not worker.is_alive()
    assert service_calls(rig.rec) == [("recall_preset", 2, B), ("stop", B)]
    rig.panel.close()                            # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        rig.panel.press("up", True)
    # the pins are free again
    Button(PINS["preset-2"], pin_factory=rig.factory).close()


# -- the real service on the simulated desk --------------------------------------------------
def wait_until(predicate, what: str, step=None) -> None:
    """Poll a condition of the simulated desk; the deadline only guards against hangs."""
    deadline = time.monotonic() + 10.0
    pause = threading.Event()
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if step is not None:
            step()
        pause.wait(0.02)


def test_buttons_move_the_simulated_desk_through_the_real_service() -> None:
    from deskpi.daemon.service import DeskService
    from deskpi.people.presets import PresetStore
    from deskpi.sim.stack import build_sim_stack

    stack = build_sim_stack(seed=3, start_mm=800.0)
    arbiter = MotionArbiter(stack.loop)
    service = DeskService(stack.loop, arbiter, PresetStore(None, (650.0, 1250.0)))
    clock = FakeClock()
    panel = ButtonPanel(defaults().buttons, service, pin_factory=stack.factory, clock=clock)

    def renew() -> None:              # time passes for the panel: it renews its hold
        clock.advance(0.15)
        panel.flush()

    try:
        wait_until(lambda: service.snapshot()["height_mm"] is not None, "a first height reading")
        start = stack.desk.true_height()
        panel.press("up", True)
        wait_until(lambda: stack.desk.true_height() > start + 3, "the desk to move up while held", renew)
        panel.press("up", False)
        panel.flush()
        wait_until(stack.desk.at_rest, "the desk to stop after the release")
        # the child lock, through the real arbiter
        panel.press("up", True)
        panel.press("down", True)
        panel.flush()
        clock.advance(3.1)
        panel.flush()
        assert service.snapshot()["locked"] is True
        panel.press("up", False)
        panel.press("down", False)
        with pytest.raises(MotionRefused, match="child-locked"):
            service.move_to(900.0)
        assert stack.desk.violations == []
    finally:
        panel.close()
        stack.close()


# -- the desk's claim (issue 11, defect 2) ---------------------------------------------------------
def test_only_the_preset_a_claim_request_drew_grants_it_and_a_holders_press_never_does(make_rig):
    from deskpi.webapp.claims import ClaimBook

    rig = make_rig()
    assert rig.panel.preset_slots == (1, 2, 3, 4)
    granted = []
    claims = rig.service.claims = ClaimBook(idle_s=600, clock=rig.clock, choose=lambda free: free[-1],
                                            on_grant=granted.append)
    claims.request("Ada")                                 # drew preset 4
    rig.down("preset-1")                                  # a wrong preset: an ordinary recall
    rig.up("preset-1")
    rig.flush()
    assert service_calls(rig.rec) == [("recall_preset", 1, B)] and granted == []
    rig.down("preset-4")                                   # the right one: consumed, release too
    rig.flush()
    rig.up("preset-4")
    rig.flush()
    assert granted == ["Ada"] and service_calls(rig.rec) == [("recall_preset", 1, B)]
    assert ("show", "preset_saved") in rig.rec.names()

    claims.request("Bob")                                  # from far away: drew preset 4
    assert claims.slot_for("Bob") == 4
    for key in ("preset-4", "preset-3"):                   # Ada's presses, Bob's preset first
        rig.down(key)
        rig.up(key)
        rig.flush()
    assert granted == ["Ada"] and claims.holds("Ada"), "the holder's press gave the desk away"
    assert service_calls(rig.rec) == [("recall_preset", 1, B), ("recall_preset", 4, B), ("recall_preset", 3, B)]


def test_a_panel_names_only_its_wired_presets(make_rig):
    rig = make_rig(preset_pins=[13, 19])
    assert rig.panel.preset_slots == (1, 2)
