"""`deskpi demo`: the motion stack on a simulated desk, from the terminal.

On a terminal it takes commands (a height in mm, `up`/`down` to hold for a
second, `stop`, `fault`, `clear`, `quit`); without one it runs a short tour:
sit, stand, an obstruction on the way down and the back-off, then sit again.
"""
from __future__ import annotations

import sys
import threading
import time

from deskpi.core.faults import MotionRefused
from deskpi.core.types import Direction
from deskpi.sim.stack import build_sim_stack

TOUR = (("move", 720.0), ("move", 1100.0), ("obstruct", 900.0), ("move", 720.0), ("clear", None),
        ("move", 720.0))


def _status(stack) -> str:
    c = stack.controller
    h = c.height_mm()
    fault = f"  FAULT: {c.fault.message}" if c.fault else ""
    target = f" -> {c.target_mm:.0f}" if c.target_mm is not None else ""
    return f"{h:7.1f} mm  (true {stack.desk.true_height():7.1f})  {c.state.value:<11}{target}{fault}"


def _wait(stack, done: threading.Event, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done.wait(0.25) and time.monotonic() < deadline:
        print("  " + _status(stack), flush=True)


def run(interactive: bool | None = None) -> int:
    interactive = sys.stdin.isatty() if interactive is None else interactive
    stack = build_sim_stack(seed=int(time.time()) % 1000, start_mm=740.0)
    done = threading.Event()
    stack.loop.listeners.append(lambda kind, ev: done.set() if kind in ("move_done", "fault") else None)
    try:
        time.sleep(1.0)
        print(f"Simulated desk ready: {_status(stack)}")
        if interactive:
            _interactive(stack, done)
        else:
            _tour(stack, done)
    except KeyboardInterrupt:
        pass
    finally:
        stack.close()
        print("Motor off. Bye.")
    return 0


def _tour(stack, done: threading.Event) -> None:
    for action, value in TOUR:
        done.clear()
        if action == "move":
            print(f"move to {value:.0f} mm")
            try:
                stack.loop.move_to(value, source="demo")
            except MotionRefused as exc:
                print(f"  refused: {exc}")
                continue
            _wait(stack, done)
        elif action == "obstruct":
            print(f"a chair arm appears under the desk at {value:.0f} mm")
            stack.desk.inject("obstruction", height_mm=value, direction=-1)
        elif action == "clear":
            time.sleep(2.0)
            print(f"  {_status(stack)}")
            print("chair moved away; fault cleared by the person at the desk")
            stack.desk.clear_injections()
            stack.loop.clear_fault()
    print(f"final: {_status(stack)}")


def _interactive(stack, done: threading.Event) -> None:
    print("Commands: a height in mm, up, down, stop, fault, clear, status, quit")
    for line in sys.stdin:
        cmd = line.strip().lower()
        try:
            if cmd in ("q", "quit", "exit"):
                return
            if cmd in ("up", "down"):
                d = Direction.UP if cmd == "up" else Direction.DOWN
                end = time.monotonic() + 1.0
                while time.monotonic() < end:
                    stack.loop.hold(d, source="demo")
                    time.sleep(0.1)
                stack.loop.release()
            elif cmd == "stop":
                stack.loop.stop_motion("demo")
            elif cmd == "fault":
                stack.desk.inject("obstruction", height_mm=stack.desk.true_height() - 40, direction=-1)
                print("an obstruction now sits 40 mm below the desk")
            elif cmd == "clear":
                stack.desk.clear_injections()
                stack.loop.clear_fault()
            elif cmd and cmd != "status":
                done.clear()
                stack.loop.move_to(float(cmd), source="demo")
                _wait(stack, done)
        except MotionRefused as exc:
            print(f"refused: {exc}")
        except ValueError:
            print(f"not a command or a height in mm: {cmd!r}")
        print(_status(stack))
