"""The actors of `deskpi bench soak`: phones that come and go, and the desk itself (its buttons, its
reminders, its faults), each a thread running until the soak's deadline.

A phone signs in, keeps a live page open, reads, and now and then takes the desk's turn to hold ▲/▼
(renewing the lease every 150 ms, then releasing, or dropping off mid-hold without a word) or to
recall a preset and stop it. The desk's actor presses the simulated keypad, skips to the next
reminder and answers it, injects a fault mid-move and clears it, and stops moves through the API.
Every outcome is counted in the shared Tally (deskpi/bench/soak_http.py).
"""
from __future__ import annotations

import itertools
import random
import threading
import time

from deskpi.bench.soak_checks import (
    HOLD_LEASE_S,
    STOP_BOUND_S,
    Soak,
    check_stop,
    clear_fault,
    far_preset,
    moving,
    settle,
    travel_direction,
    wait_for,
)
from deskpi.bench.soak_http import Client, Stream

RENEW_S = 0.15
READS = ("/state", "/presets", "/reminder", "/claim", "/session", "/tokens", "/stats")
FAULT_KINDS = ("sensor_dead", "obstruction", "stall", "sensor_stuck")
REMINDER_OUTCOMES = ("confirm", "acknowledge", "snooze", "skip")


# -- phones ---------------------------------------------------------------------------------------
def phone(soak: Soak, name: str, pin: str, seed: int, first: str) -> None:
    """`first`: the phone's first turn at the desk ("hold", "drop" or "recall"), so the warm-up sees each."""
    rng = random.Random(seed)
    tally = soak.tally
    watch, bench = soak.client(), soak.client(bench=True)
    script = [first]
    try:
        while soak.running():
            c = Client(soak.port, tally)
            if not c.sign_in(name, pin):
                tally.add("phones.sign_in_failures")
                c.close()
                soak.pause(rng.uniform(1.0, 3.0))
                continue
            tally.add("phones.sign_ins")
            if script:                          # warm-up: every read once
                for path in READS:
                    c.request("GET", path)
            _visit(soak, c, watch, bench, rng, script)
            soak.pause(rng.uniform(0.5, 3.0))
    finally:
        watch.close()
        bench.close()


def _visit(soak: Soak, c: Client, watch: Client, bench: Client, rng: random.Random, script: list[str]) -> None:
    tally = soak.tally
    now = time.monotonic()
    visit_end = min(soak.deadline, now + rng.uniform(8.0, 30.0))
    stream = Stream(c)
    reader = threading.Thread(target=stream.run, args=(min(visit_end, now + rng.uniform(3.0, 15.0)), soak.stop),
                              name="soak-stream", daemon=True)
    reader.start()
    dropped = False
    while time.monotonic() < visit_end and soak.running():
        # A phone takes the desk only when it is free; the desk's own actor waits for it (its turn comes).
        if (script or rng.random() < 0.25) and soak.take_turn(2.0 if script else 0):
            try:
                dropped = _phone_motion(soak, c, stream, watch, bench, rng, script.pop() if script else None)
            finally:
                soak.turn.release()
            if dropped:
                break
        else:
            c.request("GET", rng.choice(READS))
        soak.pause(rng.uniform(0.2, 1.5))
    if dropped:
        pass                                    # already gone, mid-hold
    elif rng.random() < 0.7:
        c.request("DELETE", "/session")
        tally.add("phones.sign_outs")
        c.close()
    else:
        tally.add("phones.vanished_idle")       # walked out of Wi-Fi range: no sign-out, sockets cut
        c.drop()
        stream.drop()
    reader.join(timeout=soak.left(15.0) + 1.0)


def _phone_motion(soak: Soak, c: Client, stream: Stream, watch: Client, bench: Client,
                  rng: random.Random, what: str | None) -> bool:
    """One turn at the desk from a phone (`what`, or a random choice); True when the phone dropped off."""
    st = settle(soak, watch, bench)
    if st.get("state") != "idle":
        return False
    what = what or ("hold" if rng.random() < 0.6 else "recall")
    if what == "recall":
        _recall_and_stop(soak, c, watch, bench, rng, st)
        return False
    return _hold(soak, c, stream, watch, bench, rng, st, drop=what == "drop" or rng.random() < 0.3)


def _hold(soak: Soak, c: Client, stream: Stream, watch: Client, bench: Client, rng: random.Random,
          st: dict, *, drop: bool) -> bool:
    tally = soak.tally
    direction = travel_direction(st, rng)
    tally.add("phones.holds")
    end = time.monotonic() + rng.uniform(0.6, 2.0)
    renewals = 0
    while time.monotonic() < end:
        t = time.monotonic()
        status, body = c.request("POST", "/hold", {"direction": direction})
        if status != 202:
            tally.example("holds_refused", {"status": status, "body": body})
            break
        renewals += 1
        time.sleep(max(0.0, RENEW_S - (time.monotonic() - t)))
    now = watch.state()
    was_moving = bool(renewals) and moving(now)
    if was_moving:
        tally.add("phones.holds_moved")
    elif renewals:                              # e.g. a renewal came later than the lease: stopped already
        tally.example("holds_not_moving", {"renewals": renewals, "state": now.get("state"),
                                           "height_mm": now.get("height_mm")})
    t0 = time.monotonic()
    if drop:
        c.drop()                                # lost the link mid-hold: no release, no sign-out
        stream.drop()
        tally.add("phones.dropped_mid_hold")
        if was_moving:                          # only a moving desk has a stop to show
            check_stop(soak, watch, bench, "phone_dropoff", t0, bound=HOLD_LEASE_S + STOP_BOUND_S)
        return True
    c.request("POST", "/release")
    if was_moving:
        check_stop(soak, watch, bench, "phone_release", t0)
    settle(soak, watch, bench)
    return False


def _recall_and_stop(soak: Soak, c: Client, watch: Client, bench: Client, rng: random.Random, st: dict) -> None:
    target = far_preset(st)
    if target is None:
        return
    status, body = c.request("POST", f"/presets/{target[0]}/recall")
    soak.tally.add("phones.recalls")
    if status != 202:
        soak.tally.example("recalls_refused", {"status": status, "body": body})
        return
    _moved_then_stop(soak, c, watch, bench, rng, "phone_recalls")


def _moved_then_stop(soak: Soak, c: Client, watch: Client, bench: Client, rng: random.Random, what: str) -> None:
    """A move was asked for: it must start; then it is stopped with POST /stop mid-way (or, now and
    then, left to arrive)."""
    started, _, _ = wait_for(soak, watch, moving, 3.0)
    if not started:
        soak.tally.add(f"{what}_not_started")
        soak.tally.example(f"{what}_not_started", watch.state().get("state"))
        return
    if rng.random() < 0.8:
        soak.pause(rng.uniform(0.3, 1.5))
        if moving(watch.state()):
            t0 = time.monotonic()
            c.request("POST", "/stop")
            check_stop(soak, watch, bench, "api_stop", t0)
    settle(soak, watch, bench)


# -- the desk: its keypad, its reminders, its faults ------------------------------------------------
def desk(soak: Soak, seed: int) -> None:
    rng = random.Random(seed)
    watch, bench = soak.client(), soak.client(bench=True)
    faults = itertools.cycle(FAULT_KINDS)
    outcomes = itertools.cycle(REMINDER_OUTCOMES)
    script = ["move", "fault", "reminder", "arrow", "preset"]      # warm-up: each once (popped from the end)
    try:
        while soak.running():
            soak.pause(rng.uniform(0.3, 2.0))
            if not soak.take_turn(2.0):
                continue
            try:
                st = settle(soak, watch, bench)
                if st.get("state") != "idle":
                    continue
                what = script.pop() if script else rng.choices(
                    ("preset", "arrow", "reminder", "fault", "move"), weights=(35, 25, 15, 15, 10))[0]
                if what == "preset":
                    _preset_press(soak, watch, bench, rng, st)
                elif what == "arrow":
                    _arrow_press(soak, watch, bench, rng, st)
                elif what == "reminder":
                    _reminder(soak, watch, bench, rng, next(outcomes))
                elif what == "fault":
                    _fault(soak, watch, bench, next(faults), st)
                else:
                    target = far_preset(st)
                    if target is not None and bench.request("POST", "/move", {"target_mm": target[1]})[0] == 202:
                        _moved_then_stop(soak, bench, watch, bench, rng, "api_moves")
                settle(soak, watch, bench)
            finally:
                soak.turn.release()
    finally:
        watch.close()
        bench.close()


def _key(bench: Client, key: str, pressed: bool) -> bool:
    return bench.request("POST", f"/sim/keys/{key}", {"pressed": pressed})[0] == 200


def _tap(bench: Client, key: str) -> tuple[bool, float]:
    t0 = time.monotonic()
    ok = _key(bench, key, True)
    ok = _key(bench, key, False) and ok
    return ok, time.monotonic() - t0


def _preset_press(soak: Soak, watch: Client, bench: Client, rng: random.Random, st: dict) -> None:
    """A short touch of a preset key while the desk is idle must start a move to that preset."""
    tally = soak.tally
    target = far_preset(st)
    if target is None:
        return
    ok, took = _tap(bench, f"preset-{target[0]}")
    if not ok or took > 1.0:        # not a short touch as the desk saw it (the long press saves at 2 s)
        tally.add("presses.inconclusive")
        return
    tally.add("presses.total")
    started, _, last = wait_for(soak, watch, moving, 2.0)
    if not started:
        tally.add("presses.missed")
        tally.example("missed_presses", {"key": f"preset-{target[0]}", "state": last.get("state"),
                                         "height_mm": last.get("height_mm")})
        return
    if rng.random() < 0.8 and moving(watch.state()):     # any key during an automatic move stops it
        t0 = time.monotonic()
        _tap(bench, f"preset-{rng.choice((1, 2, 3, 4))}")
        check_stop(soak, watch, bench, "button_stop", t0)


def _arrow_press(soak: Soak, watch: Client, bench: Client, rng: random.Random, st: dict) -> None:
    """▲/▼ held on the desk moves it while held; letting go stops it."""
    tally = soak.tally
    key = travel_direction(st, rng)
    if not _key(bench, key, True):
        _key(bench, key, False)
        tally.add("presses.inconclusive")
        return
    tally.add("presses.total")
    started, waited, last = wait_for(soak, watch, moving, 1.5)
    if not started:
        tally.add("presses.missed")
        tally.example("missed_presses", {"key": key, "state": last.get("state"), "height_mm": last.get("height_mm")})
    soak.pause(max(0.0, rng.uniform(0.4, 1.5) - waited))
    t0 = time.monotonic()
    _key(bench, key, False)
    if started:
        check_stop(soak, watch, bench, "button_release", t0)


def _reminder(soak: Soak, watch: Client, bench: Client, rng: random.Random, outcome: str) -> None:
    tally = soak.tally
    tally.add("reminders.asked")
    status, body = bench.request("POST", "/sim/next-reminder")
    reminder = body.get("reminder") if status == 200 and isinstance(body, dict) else None
    if reminder is None:
        tally.add("reminders.none_due")
        return
    tally.add("reminders.shown")
    # A confirm moves the desk only when asked to in so many words (the page's "Lower to 66 cm now").
    moves = outcome == "confirm" and reminder.get("target") in ("sit", "stand")
    answer = {"id": reminder.get("id"), **({"move": True} if moves else {})}
    status, body = bench.request("POST", f"/reminder/{outcome}", answer)
    if status != 200:
        tally.example("reminders_not_answered", {"status": status, "body": body})
        return
    tally.add("reminders.answered")
    tally.add(f"reminders.{outcome}")
    if moves:                       # to the sit or stand preset, when it is saved
        started, _, _ = wait_for(soak, watch, moving, 1.5)
        if started and rng.random() < 0.5:
            t0 = time.monotonic()
            bench.request("POST", "/stop")
            check_stop(soak, watch, bench, "api_stop", t0)


def _fault(soak: Soak, watch: Client, bench: Client, kind: str, st: dict) -> None:
    """Inject `kind` mid-move: the controller must latch a fault; then take it away and clear it."""
    tally = soak.tally
    lim = st["limits"]
    going_up = st["height_mm"] < (lim["min_mm"] + lim["max_mm"]) / 2
    target = lim["max_mm"] - 40 if going_up else lim["min_mm"] + 40
    if bench.request("POST", "/move", {"target_mm": target})[0] != 202:
        return
    started, _, now = wait_for(soak, watch, moving, 3.0)
    if not started:
        tally.example("fault_moves_not_started", now.get("state"))
        return
    body: dict = {"kind": kind}
    if kind == "obstruction":
        ahead = now["height_mm"] + (40 if going_up else -40)
        body.update(direction="up" if going_up else "down",
                    height_mm=round(min(max(ahead, lim["min_mm"]), lim["max_mm"]), 1))
    status, answer = bench.request("POST", "/sim/fault", body)
    if status != 200:
        tally.example("faults_not_injected", {"status": status, "body": answer})
        bench.request("POST", "/stop")
        return
    tally.add("faults.injected")
    tally.add(f"faults.{kind}")
    detected, _, _ = wait_for(soak, watch, lambda s: s.get("state") == "fault", 15.0)
    bench.request("DELETE", "/sim/fault")
    if detected:
        tally.add("faults.detected")
    else:
        tally.example("faults_undetected", kind)
        bench.request("POST", "/stop")
    wait_for(soak, watch, lambda s: s.get("motor") is None, 10.0)    # an obstruction backs off first
    if clear_fault(soak, watch, bench):         # the desk is healthy again: no fault left
        tally.add("faults.cleared")
