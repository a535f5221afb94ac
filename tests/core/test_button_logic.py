"""deskpi.core.panel.button_logic: the pure button state machine, table-driven on a fake clock.

Each case is a script of inputs (press, release, tick, refused) at given times,
each with the exact list of actions it must produce. No threads, no sleeps.
"""
from __future__ import annotations

import ast
import pathlib
import sys
from dataclasses import dataclass, field

import pytest

import deskpi.core.panel.button_logic as bl
from deskpi.core.panel.button_logic import (
    Beep,
    ButtonLogic,
    Hold,
    Recall,
    Release,
    Save,
    SetLock,
    Stop,
    preset_key,
    preset_slot,
)
from deskpi.core.types import Direction

HU, HD = Hold(Direction.UP), Hold(Direction.DOWN)
LONG = 2.0


@dataclass
class P:          # press
    t: float
    button: str
    expect: list
    moving: bool = False
    locked: bool | None = None


@dataclass
class R:          # release
    t: float
    button: str
    expect: list


@dataclass
class T:          # tick
    t: float
    expect: list


@dataclass
class X:          # the adapter reports `action` refused (no actions expected back)
    t: float
    action: object
    expect: list = field(default_factory=list)


def run(logic: ButtonLogic, script: list) -> None:
    for i, step in enumerate(script):
        if isinstance(step, P):
            got = logic.on_press(step.button, step.t, moving=step.moving, locked=step.locked)
        elif isinstance(step, R):
            got = logic.on_release(step.button, step.t)
        elif isinstance(step, T):
            got = logic.tick(step.t)
        else:
            got = logic.on_refused(step.action, step.t) or []
        assert got == step.expect, f"step {i} {step}: got {got}"


LOCKING = [Stop(), SetLock(True), Beep("locked")]
UNLOCKING = [SetLock(False), Beep("unlocked")]
LOCKED_PRESS = [Stop(), Beep("locked")]

CASES = [
    # -- up / down: move only while held ---------------------------------------------------
    ("up holds and renews every repeat_s until released", {}, [
        P(0.0, "up", [HU]), T(0.10, []), T(0.15, [HU]), T(0.2, []), T(0.30, [HU]),
        R(0.35, "up", [Release()]), T(1.0, []), T(5.0, [])]),
    ("down holds and renews", {}, [
        P(1.0, "down", [HD]), T(1.15, [HD]), R(1.2, "down", [Release()])]),
    ("a late tick renews once, not in a burst", {}, [
        P(0.0, "up", [HU]), T(1.0, [HU]), T(1.1, []), T(1.15, [HU])]),
    ("a long press on up is still just a hold", {}, [
        P(0.0, "up", [HU]), T(LONG + 0.01, [HU]), R(LONG + 0.1, "up", [Release()])]),
    ("a refused hold stops renewing; its release still releases", {}, [
        P(0.0, "up", [HU]), X(0.0, HU), T(0.15, []), T(0.5, []), R(0.6, "up", [Release()])]),
    # -- presets: short touch recalls, long press saves ---------------------------------
    ("short touch recalls on release", {}, [
        P(0.0, "preset-2", []), T(1.0, []), R(1.2, "preset-2", [Recall(2)])]),
    ("long press saves at the threshold with a beep, release does nothing", {}, [
        P(0.0, "preset-1", []), T(LONG - 0.01, []), T(LONG, [Save(1), Beep("preset_saved")]),
        T(LONG + 1, []), R(LONG + 2, "preset-1", [])]),
    ("a threshold first noticed at release still saves, and does not recall", {}, [
        P(0.0, "preset-3", []), R(LONG + 0.5, "preset-3", [Save(3), Beep("preset_saved")])]),
    ("release just before the threshold recalls", {}, [
        P(0.0, "preset-4", []), R(LONG - 0.001, "preset-4", [Recall(4)])]),
    # -- any press during an automatic move: Stop and nothing else ------------------------
    ("preset during a move stops, then neither recalls nor saves", {}, [
        P(0.0, "preset-1", [Stop()], moving=True), T(LONG + 1, []), R(LONG + 2, "preset-1", [])]),
    ("short preset touch during a move only stops", {}, [
        P(0.0, "preset-2", [Stop()], moving=True), R(0.1, "preset-2", [])]),
    ("up during a move stops and does not hold", {}, [
        P(0.0, "up", [Stop()], moving=True), T(0.15, []), T(1.0, []), R(1.1, "up", [])]),
    ("the next press after the stop works normally", {}, [
        P(0.0, "down", [Stop()], moving=True), R(0.1, "down", []), P(0.5, "down", [HD]),
        R(0.6, "down", [Release()])]),
    # -- two buttons: never move -------------------------------------------------------
    ("a preset while holding up stops and voids both", {}, [
        P(0.0, "up", [HU]), P(0.1, "preset-1", [Stop()]), T(0.15, []), T(LONG + 1, []),
        R(LONG + 2, "preset-1", []), R(LONG + 3, "up", [])]),
    ("two presets together never recall", {}, [
        P(0.0, "preset-1", []), P(0.05, "preset-2", [Stop()]), R(0.1, "preset-1", []),
        R(0.2, "preset-2", [])]),
    ("up and down together stop and never hold", {"child_lock_enabled": False}, [
        P(0.0, "up", [HU]), P(0.05, "down", [Stop()]), T(0.15, []), T(0.3, []),
        R(0.5, "down", []), T(0.65, []), R(0.6, "up", [])]),
    # -- child lock: UP + DOWN held 3 s ----------------------------------------------------
    ("up+down for 3 s locks", {}, [
        P(0.0, "up", [HU]), P(0.1, "down", [Stop()]), T(3.09, []), T(3.1, LOCKING), T(10.0, []),
        R(10.1, "up", []), R(10.2, "down", [])]),
    ("down first then up also locks", {}, [
        P(0.0, "down", [HD]), P(0.2, "up", [Stop()]), T(3.2, LOCKING)]),
    ("letting go before 3 s does not lock", {}, [
        P(0.0, "up", [HU]), P(0.1, "down", [Stop()]), R(3.0, "up", []), T(3.1, []), T(9.0, []),
        R(9.1, "down", []), P(10.0, "up", [HU])]),
    ("the combination with child_lock disabled never locks", {"child_lock_enabled": False}, [
        P(0.0, "up", [HU]), P(0.1, "down", [Stop()]), T(3.1, []), T(10.0, []),
        R(10.1, "up", []), R(10.1, "down", []), P(11.0, "up", [HU])]),
    ("a third button spoils the combination", {}, [
        P(0.0, "up", [HU]), P(0.1, "down", [Stop()]), P(0.2, "preset-1", [Stop()]), T(3.5, []),
        R(3.6, "preset-1", []), T(9.0, [])]),
    ("while locked every button only stops and shows 'locked'", {}, [
        P(0.0, "up", [HU]), P(0.0, "down", [Stop()]), T(3.0, LOCKING), R(3.1, "up", []), R(3.1, "down", []),
        P(4.0, "up", LOCKED_PRESS), T(4.15, []), R(4.2, "up", []),
        P(5.0, "preset-1", LOCKED_PRESS), R(5.1, "preset-1", []),
        P(6.0, "preset-2", LOCKED_PRESS), T(6.0 + LONG + 1, []), R(9.5, "preset-2", []),
        P(10.0, "down", LOCKED_PRESS, moving=True)]),
    ("the combination again unlocks", {}, [
        P(0.0, "up", LOCKED_PRESS, locked=True), P(0.5, "down", LOCKED_PRESS), T(3.4, []),
        T(3.5, UNLOCKING), T(8.0, []), R(8.1, "up", []), R(8.1, "down", []),
        P(9.0, "up", [HU])]),
    ("unlocking works even with child_lock disabled", {"child_lock_enabled": False}, [
        P(0.0, "up", LOCKED_PRESS, locked=True), P(0.1, "down", LOCKED_PRESS), T(3.1, UNLOCKING)]),
    ("a lock set elsewhere is adopted at the next press", {}, [
        P(0.0, "preset-1", LOCKED_PRESS, locked=True), R(0.1, "preset-1", []),
        P(1.0, "preset-1", [], locked=False), R(1.1, "preset-1", [Recall(1)])]),
    # -- hold-to-run-only presets -------------------------------------------------------
    ("hold-to-run: recall on press, stop on release", {"hold_to_run_only": True}, [
        P(0.0, "preset-2", [Recall(2)]), T(1.0, []), R(1.5, "preset-2", [Stop()])]),
    ("hold-to-run: a long press that moved the desk does not save", {"hold_to_run_only": True}, [
        P(0.0, "preset-1", [Recall(1)]), T(LONG + 0.5, []), R(LONG + 5, "preset-1", [Stop()])]),
    ("hold-to-run: a refused recall (empty preset) may save by long press", {"hold_to_run_only": True}, [
        P(0.0, "preset-3", [Recall(3)]), X(0.01, Recall(3)), T(LONG - 0.1, []),
        T(LONG, [Save(3), Beep("preset_saved")]), R(LONG + 1, "preset-3", [Stop()])]),
    ("hold-to-run: a press during a move only stops", {"hold_to_run_only": True}, [
        P(0.0, "preset-1", [Stop()], moving=True), R(0.5, "preset-1", [])]),
    ("hold-to-run: up/down unchanged", {"hold_to_run_only": True}, [
        P(0.0, "up", [HU]), T(0.15, [HU]), R(0.2, "up", [Release()])]),
    # -- robustness -----------------------------------------------------------------------
    ("a repeated press edge (bounce) is ignored", {}, [
        P(0.0, "up", [HU]), P(0.01, "up", []), R(0.1, "up", [Release()]), R(0.11, "up", [])]),
    ("a release without a press is ignored", {}, [R(0.0, "preset-1", []), R(0.0, "down", [])]),
    ("an event stamped before the last tick counts as now", {}, [
        P(0.0, "preset-1", []), T(1.0, []), R(0.5, "preset-1", [Recall(1)])]),
]


@pytest.mark.parametrize("opts,script", [pytest.param(o, s, id=name) for name, o, s in CASES])
def test_script(opts: dict, script: list) -> None:
    run(ButtonLogic(LONG, **opts), script)


def test_moving_flag_is_ignored_while_locked_but_lock_wins() -> None:
    logic = ButtonLogic(LONG)
    logic.locked = True
    assert logic.on_press("preset-1", 0.0, moving=True) == LOCKED_PRESS


def test_next_wake_follows_what_is_pending() -> None:
    logic = ButtonLogic(LONG, repeat_s=0.15)
    assert logic.next_wake(0.0) is None
    logic.on_press("preset-1", 1.0)
    assert logic.next_wake(1.0) == pytest.approx(1.0 + LONG)
    logic.on_release("preset-1", 1.5)
    assert logic.next_wake(1.5) is None
    logic.on_press("up", 2.0)
    assert logic.next_wake(2.0) == pytest.approx(2.15)
    logic.on_press("down", 2.1)              # combination: holds void, lock timer runs
    assert logic.next_wake(2.1) == pytest.approx(5.1)
    logic.on_release("down", 2.2)
    assert logic.next_wake(2.2) is None


def test_next_wake_in_hold_to_run_mode_has_no_long_press_timer() -> None:
    logic = ButtonLogic(LONG, hold_to_run_only=True)
    logic.on_press("preset-1", 0.0)
    assert logic.next_wake(0.0) is None
    logic.on_refused(Recall(1), 0.0)
    assert logic.next_wake(0.0) == pytest.approx(LONG)


def test_cancel_stops_only_what_the_buttons_started() -> None:
    logic = ButtonLogic(LONG)
    assert logic.cancel(0.0) == []
    logic.on_press("up", 0.0)
    assert logic.cancel(0.1) == [Stop()]
    assert logic.pressed == ()
    assert logic.tick(1.0) == []
    logic.on_press("preset-1", 2.0)          # pending, nothing moving
    assert logic.cancel(2.1) == []
    h2r = ButtonLogic(LONG, hold_to_run_only=True)
    h2r.on_press("preset-2", 0.0)
    assert h2r.cancel(0.1) == [Stop()]


def test_pressed_lists_buttons_in_order() -> None:
    logic = ButtonLogic(LONG)
    logic.on_press("down", 0.0)
    logic.on_press("preset-4", 0.1)
    assert logic.pressed == ("down", "preset-4")


@pytest.mark.parametrize("bad", ["left", "preset-5", "preset-0", "UP", ""])
def test_unknown_buttons_are_refused_with_the_list(bad: str) -> None:
    logic = ButtonLogic(LONG)
    with pytest.raises(ValueError, match="buttons are up, down, preset-1"):
        logic.on_press(bad, 0.0)
    with pytest.raises(ValueError, match="unknown button"):
        logic.on_release(bad, 0.0)


@pytest.mark.parametrize("kw", [{"long_press_s": 0}, {"long_press_s": 1, "repeat_s": 0},
                                {"long_press_s": 1, "lock_hold_s": -1}])
def test_bad_parameters(kw: dict) -> None:
    with pytest.raises(ValueError):
        ButtonLogic(**kw)


def test_key_helpers() -> None:
    assert [preset_key(s) for s in (1, 2, 3, 4)] == ["preset-1", "preset-2", "preset-3", "preset-4"]
    assert preset_slot("preset-3") == 3 and preset_slot("up") is None
    with pytest.raises(ValueError):
        preset_key(5)


def test_stop_reason_does_not_affect_equality() -> None:
    assert Stop("a") == Stop("b") == Stop()


PURE = [pathlib.Path(bl.__file__), pathlib.Path(bl.__file__).with_name("indicator_patterns.py")]


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.name)
def test_pure_modules_import_only_the_standard_library_and_the_core(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(("." * node.level) + (node.module or ""))
    for name in names:
        top = name.split(".")[0]
        assert name.startswith("deskpi.core") or top in sys.stdlib_module_names, name
        assert top not in ("threading", "time", "asyncio"), f"{path.name} imports {name}"
