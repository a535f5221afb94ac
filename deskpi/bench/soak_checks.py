"""What `deskpi bench soak` shares between its actors: the clock it runs to, the one turn at the
desk's motion, and the checks that turn a request into a counted outcome (did the desk start, did
it stop within the bound, was a fault there that nobody injected).

Motion is taken in turns (one actor at a time moves the desk and checks what it did) so that each
check means something: a preset press while the desk is idle must start a move, a stop must end
one. Everything else (signing in, live streams, reads) runs from every phone at once.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

from deskpi.bench.soak_http import Client, Tally

#: A stop (API, button, release) must show in /state within this long; a dropped phone gets its lease on top.
STOP_BOUND_S = 2.0
HOLD_LEASE_S = 0.4
#: Loops end by the deadline; a check started just before it may run this much longer, never more.
GRACE_S = 10.0
POLL_S = 0.05


class Soak:
    def __init__(self, port: int, token: str, tally: Tally, deadline: float) -> None:
        self.port = port
        self.token = token
        self.tally = tally
        self.deadline = deadline
        self.stop = threading.Event()       # the deadline passed: finish the check under way, start nothing
        self.abort = threading.Event()      # Ctrl-C: drop everything now
        self.turn = threading.Lock()

    def running(self) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline

    def left(self, timeout: float) -> float:
        """`timeout`, cut so that nothing outlives the deadline by more than the grace."""
        return max(0.0, min(timeout, self.deadline + GRACE_S - time.monotonic()))

    def take_turn(self, timeout: float) -> bool:
        """The desk's motion to oneself, waiting up to `timeout` (0: only if free right now)."""
        if not self.running():
            return False
        if timeout <= 0:
            return self.turn.acquire(blocking=False)
        return self.turn.acquire(timeout=max(0.01, min(timeout, self.deadline - time.monotonic())))

    def pause(self, seconds: float) -> None:
        self.stop.wait(max(0.0, min(seconds, self.deadline - time.monotonic())))

    def client(self, *, bench: bool = False) -> Client:
        """A new connection: the bench's own (API token, an admin) or a bare one for public reads."""
        return Client(self.port, self.tally, token=self.token if bench else None)


def wait_for(soak: Soak, watch: Client, pred: Callable[[dict], bool], timeout: float) -> tuple[bool, float, dict]:
    """Poll /state until pred(state): (seen, seconds waited, the last state)."""
    t0 = time.monotonic()
    end = t0 + soak.left(timeout)
    st: dict = {}
    while True:
        st = watch.state()
        if st and pred(st):
            return True, time.monotonic() - t0, st
        if time.monotonic() >= end or soak.abort.is_set():
            return False, time.monotonic() - t0, st
        time.sleep(POLL_S)


def moving(st: dict) -> bool:
    return st.get("state") == "moving"


def stopped(st: dict) -> bool:
    return st.get("state") != "moving" and st.get("motor") is None


def check_stop(soak: Soak, watch: Client, bench: Client, kind: str, t0: float, bound: float = STOP_BOUND_S) -> bool:
    """A stop of `kind` was asked for at `t0` (monotonic): count it, and count it done if the desk's
    state left moving with the motor off within `bound`. A late or missing stop is made safe at once."""
    tally = soak.tally
    tally.add(f"stop.{kind}.requested")
    ok, _, st = wait_for(soak, watch, stopped, max(0.0, t0 + bound - time.monotonic()))
    took_ms = (time.monotonic() - t0) * 1000
    if ok:
        tally.add(f"stop.{kind}.done")
        tally.most(f"stop.{kind}.max_ms", round(took_ms, 1))
        return True
    tally.example("stops_not_done", {"kind": kind, "after_ms": round(took_ms), "state": _brief(st)})
    bench.request("POST", "/stop")
    late, _, _ = wait_for(soak, watch, stopped, 10.0)
    tally.add(f"stop.{kind}.late" if late else f"stop.{kind}.never")
    return False


def settle(soak: Soak, watch: Client, bench: Client, timeout: float = 30.0) -> dict:
    """Leave the desk idle for the next turn: let a move finish (or stop it), clear a fault that the
    soak did not inject (counted: it is a finding)."""
    ok, _, st = wait_for(soak, watch, lambda s: s.get("state") in ("idle", "fault"), timeout)
    if not ok and moving(st):
        soak.tally.example("moves_not_finished", _brief(st))
        bench.request("POST", "/stop")
        ok, _, st = wait_for(soak, watch, lambda s: s.get("state") in ("idle", "fault"), 5.0)
    if st.get("state") == "fault":
        soak.tally.add("faults.unexpected")
        soak.tally.example("unexpected_faults", st.get("fault"))
        clear_fault(soak, watch, bench)
        _, _, st = wait_for(soak, watch, lambda s: s.get("state") == "idle", 10.0)
    return st


def clear_fault(soak: Soak, watch: Client, bench: Client) -> bool:
    end = time.monotonic() + soak.left(10.0)
    while True:
        status, body = bench.request("POST", "/clear-fault")
        if status == 200 and isinstance(body, dict) and body.get("fault") is None:
            return True
        if time.monotonic() >= end:
            soak.tally.example("faults_not_cleared", body)
            return False
        time.sleep(0.2)


def far_preset(st: dict, min_mm: float = 80.0) -> tuple[int, float] | None:
    """The saved preset farthest from the desk's height, if at least `min_mm` away."""
    h = st.get("height_mm")
    presets = [(p["slot"], p["height_mm"]) for p in st.get("presets", []) if p.get("height_mm") is not None]
    if h is None or not presets:
        return None
    slot, height = max(presets, key=lambda p: abs(p[1] - h))
    return (slot, height) if abs(height - h) >= min_mm else None


def travel_direction(st: dict, rng) -> str:
    """Up from the lower part of the range, down from the upper, either in the middle."""
    lim = st.get("limits") or {"min_mm": 640.0, "max_mm": 1260.0}
    lo, hi = lim["min_mm"], lim["max_mm"]
    h = st.get("height_mm") or (lo + hi) / 2
    third = (hi - lo) / 3
    if h < lo + third:
        return "up"
    if h > hi - third:
        return "down"
    return rng.choice(("up", "down"))


def _brief(st: dict) -> dict:
    return {k: st.get(k) for k in ("state", "height_mm", "target_mm", "motor", "fault")}
