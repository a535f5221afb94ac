"""`deskpi bench day`: one simulated working day on a virtual clock, with the real policy.

The unmodified HabitPolicy runs the default plan for week W (confirm mode, or
auto with `mode="auto"`). A simulated person works a Monday: arrives
08:45-09:15, lunch at about 12:00 for 40-60 min, leaves 17:15-17:45 (about
7.5 h at work), with a 30-60 min meeting on half the days and 1-3 short
breaks (3-12 min) away from the desk. A presence sensor (PIR) is simulated by
default (`pir=False`: no presence input at all).

When a prompt reaches the person at the desk they follow it with probability
P (confirm: the desk moves; a movement break means a 2 min walk), otherwise
they snooze it (40 %, once), skip it (30 %) or ignore it (30 %). Prompts
issued while they are away go unanswered. In auto mode they cancel a warning
countdown with probability 1 - P. They never stand on their own: all the
standing comes from prompts they followed. Leaving with the desk up they
lower it half the time (always at the end of the day); back at a raised desk
they lower it half the time.

Everything is measured on the simulated desk and person, not taken from the
policy: standing and sitting minutes are the time at the desk with the desk
above / below 900 mm; a posture change is a sit/stand change while the person
is at the desk (lowering the desk on the way out does not count); a standing
block is an uninterrupted stretch of standing at the desk. Safety counters:
automatic moves while the person is really away, and any policy-driven move
(confirmed or automatic) outside the plan's working time (quiet periods count
as outside). The virtual clock only moves forward (`clock_jumps_seen` must
stay 0).

Deterministic for a seed: a small built-in generator (splitmix64), since the
core never imports `random`.
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

from deskpi.core.habits.habit_state import STAND, EventKind
from deskpi.core.habits.plans import DEFAULT_PLAN, Plan
from deskpi.core.habits.schedule_policy import WALK_ID, HabitPolicy

SIT_MM = 720.0
STAND_MM = 1100.0
THRESHOLD_MM = 900.0
FIRST_MONDAY = dt.date(2024, 1, 1)          # week 1 of the plan starts on a Monday
SIM_START = dt.time(8, 30)
SIM_END = dt.time(18, 30)
MINUTE = dt.timedelta(minutes=1)
SECOND = dt.timedelta(seconds=1)


class Rng:
    """splitmix64: small, fast, deterministic across platforms."""

    def __init__(self, seed: int) -> None:
        self.s = int(seed) & 0xFFFFFFFFFFFFFFFF
        self.s = self._next()            # scramble, so that nearby seeds do not share a shifted stream

    def _next(self) -> int:
        self.s = (self.s + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self._next() >> 11) / float(1 << 53)

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def chance(self, p: float) -> bool:
        return self.random() < p


def _person_day(rng: Rng, day: dt.date) -> tuple[dt.datetime, dt.datetime, list[tuple[dt.datetime, dt.datetime, str]]]:
    """Arrival, departure and absences (start, end, why) for one simulated day, to the minute."""
    def at(h: float) -> dt.datetime:
        return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=round(h * 60))

    arrive = at(rng.uniform(8.75, 9.25))
    leave = at(rng.uniform(17.25, 17.75))
    lunch_start = at(rng.uniform(11.9, 12.25))
    absences = [(lunch_start, lunch_start + dt.timedelta(minutes=rng.randint(40, 60)), "lunch")]

    def free(a: dt.datetime, b: dt.datetime) -> bool:
        return a >= arrive + 15 * MINUTE and b <= leave - 15 * MINUTE and all(
            b + 10 * MINUTE <= s or a >= e + 10 * MINUTE for s, e, _ in absences)

    for _ in range(1 if rng.chance(0.5) else 0):
        for _try in range(20):
            length = dt.timedelta(minutes=(30, 45, 60)[rng.randint(0, 2)])
            start = at(rng.uniform(9.75, 16.5))
            if free(start, start + length):
                absences.append((start, start + length, "meeting"))
                break
    for _ in range(rng.randint(1, 3)):
        for _try in range(20):
            length = dt.timedelta(minutes=rng.randint(3, 12))
            start = at(rng.uniform(9.5, 17.0))
            if free(start, start + length):
                absences.append((start, start + length, "coffee"))
                break
    absences.sort()
    return arrive, leave, absences


def run_day(seed: int = 1, week: int = 4, compliance: float = 0.8, *, mode: str = "confirm", pir: bool = True,
            plan: Plan = DEFAULT_PLAN, trace: dict | None = None) -> dict:
    """Simulate one working day; return the `deskpi bench day --json` metrics.

    trace: a dict to fill with what a desk would have recorded (`deskpi bench scale` stores it):
    "day", "arrive", "leave", "moves" [(arrived at, height mm, who moved it: web | button |
    schedule)] and "reminders" (the policy's finished reminders, as the daemon stores them)."""
    if not 0.0 <= compliance <= 1.0:
        raise ValueError(f"compliance = {compliance!r} is not allowed (allowed: 0-1)")
    if mode not in ("confirm", "auto"):
        raise ValueError(f"mode = {mode!r} is not allowed (allowed: confirm | auto)")
    rng = Rng(seed)
    plan = replace(plan, mode=mode)
    policy = HabitPolicy(plan, week=week, auto_allowed=(mode == "auto"))
    day = FIRST_MONDAY + dt.timedelta(weeks=week - 1)
    arrive, leave, absences = _person_day(rng, day)
    walks: list[tuple[dt.datetime, dt.datetime]] = []

    def at_desk(t: dt.datetime) -> bool:
        if not arrive <= t < leave:
            return False
        return not any(a <= t < b for a, b, _ in absences) and not any(a <= t < b for a, b in walks)

    st = policy.new_state(clock_synced=True)
    height = SIT_MM
    desk_log: list[tuple[dt.datetime, float, bool]] = []     # (when, height, counts as a posture change)
    moved_by: list[str] = []                                  # who asked for each move in desk_log
    m = {"standing_min": 0, "sitting_min": 0, "posture_changes": 0, "reminders": 0, "max_standing_block_min": 0,
         "auto_moves_without_presence": 0, "moves_outside_working_hours": 0}
    extra = {"confirmed_moves": 0, "auto_moves": 0, "keypad_moves": 0, "warnings_cancelled": 0,
             "snoozed": 0, "skipped": 0, "ignored": 0, "followed": 0}
    reminder_ids: set[str] = set()
    snoozed_ids: set[str] = set()
    last = [dt.datetime.combine(day, SIM_START)]

    def clock(t: dt.datetime) -> dt.datetime:
        """The virtual clock only moves forward: every input reaches the policy in time order."""
        last[0] = max(last[0], t)
        return last[0]

    def move_desk(t: dt.datetime, target_mm: float, *, counts: bool = True, by: str = "web") -> dt.datetime:
        nonlocal height
        arrive_at = clock(t + 15 * SECOND)                # the desk takes ~11 s to get there
        height = target_mm
        desk_log.append((arrive_at, height, counts))
        moved_by.append(by)
        policy.on_height(arrive_at, st, height)
        return arrive_at

    def policy_move(t: dt.datetime, target: str | None, auto: bool) -> dt.datetime | None:
        if target is None:
            return None
        if not plan.in_working_time(t):
            m["moves_outside_working_hours"] += 1
        if auto:
            extra["auto_moves"] += 1
            if not at_desk(t):
                m["auto_moves_without_presence"] += 1
        else:
            extra["confirmed_moves"] += 1
        return move_desk(t, STAND_MM if target == STAND else SIT_MM, by="schedule" if auto else "web")

    def keypad(t: dt.datetime, target_mm: float, *, counts: bool = True) -> None:
        extra["keypad_moves"] += 1
        t = clock(t)
        policy.on_interaction(t, st, source="keypad")
        move_desk(t, target_mm, counts=counts, by="button")

    def react(t: dt.datetime, ev) -> None:
        if ev.kind in (EventKind.MOVE, EventKind.AUTO_MOVE):
            done = policy_move(t, ev.target, auto=ev.kind is EventKind.AUTO_MOVE)
            if ev.kind is EventKind.AUTO_MOVE and at_desk(t) and done is not None:
                _after_break(done, ev)
            return
        if (ev.kind is EventKind.WARN or ev.is_prompt) and ev.reminder_id not in reminder_ids:
            reminder_ids.add(ev.reminder_id)
            m["reminders"] += 1
        if ev.kind is EventKind.WARN:
            if at_desk(t) and not rng.chance(compliance):
                extra["warnings_cancelled"] += 1
                snoozed_ids.add(ev.reminder_id)               # a cancelled warning comes back once, as a prompt
                press = clock(t + 3 * SECOND)
                for e in policy.on_interaction(press, st, source="button"):
                    react(press, e)
            return
        if not ev.is_prompt:
            return
        if not at_desk(t):
            extra["ignored"] += 1
            return
        later = clock(t + 20 * SECOND)
        if rng.chance(compliance):
            extra["followed"] += 1
            for e in policy.on_outcome(later, st, "confirm" if ev.target else "acknowledge", ev.reminder_id):
                react(later, e)
            _after_break(last[0], ev)
            return
        r = rng.random()
        if r < 0.4 and ev.reminder_id not in snoozed_ids:
            snoozed_ids.add(ev.reminder_id)
            extra["snoozed"] += 1
            policy.on_outcome(later, st, "snooze", ev.reminder_id)
        elif r < 0.7:
            extra["skipped"] += 1
            policy.on_outcome(later, st, "skip", ev.reminder_id)
        else:
            extra["ignored"] += 1

    def _after_break(t: dt.datetime, ev) -> None:
        if ev.stretch_id == WALK_ID:       # waits for the desk to come down (if it moves), then walks
            start = t.replace(second=0, microsecond=0) + MINUTE
            walks.append((start, start + dt.timedelta(minutes=max(plan.move_min, 1))))

    t = dt.datetime.combine(day, SIM_START)
    end = dt.datetime.combine(day, SIM_END)
    was_here = False
    if pir:
        policy.on_presence(clock(t), st, False)              # nobody there yet
    while t < end:
        here = at_desk(t)
        if here != was_here:
            if not here and height >= THRESHOLD_MM and (t >= leave or rng.chance(0.5)):
                keypad(t, SIT_MM, counts=False)          # lowers the desk on the way out (always at night)
            if pir:
                policy.on_presence(clock(t), st, here)
            if here:
                if height >= THRESHOLD_MM and rng.chance(0.5):
                    keypad(t + 10 * SECOND, SIT_MM)        # back at a raised desk: sits, sometimes
                else:
                    policy.on_interaction(clock(t + 5 * SECOND), st, source="web")   # e.g. wakes the page
            was_here = here
        cur = clock(t)
        for _ in range(50):
            for ev in policy.poll(cur, st):
                react(cur, ev)
            cur = clock(cur)
            when, _ev = policy.next_event(cur, st)
            if when is None or when >= t + MINUTE:
                break
            cur = clock(max(when, cur + SECOND))
        t += MINUTE

    _measure(m, desk_log, at_desk, dt.datetime.combine(day, SIM_START), end,
             [arrive, leave] + [x for a, b, _ in absences for x in (a, b)] + [x for w in walks for x in w])
    if trace is not None:
        trace.update(day=day, arrive=arrive, leave=leave, reminders=list(st.records),
                     moves=[(t, h, by) for (t, h, _c), by in zip(desk_log, moved_by, strict=True)])
    goal = policy.goal_min(day)
    return {**m, "seed": seed, "week": week, "compliance": compliance, "mode": mode, "pir": pir,
            "goal_min": None if goal is None else round(goal),
            "present_min": m["standing_min"] + m["sitting_min"], **extra,
            "natural_breaks": st.natural_breaks_today, "clock_jumps_seen": st.clock_jumps}


def _measure(m: dict, desk_log, at_desk, start: dt.datetime, end: dt.datetime, presence_cuts) -> None:
    """Integrate the simulated day exactly: standing/sitting at the desk, posture changes, standing blocks."""
    cuts = sorted({start, end, *(t for t, _, _ in desk_log), *(c for c in presence_cuts if start < c < end)})
    heights = sorted(desk_log, key=lambda x: x[0])
    h, i = SIT_MM, 0
    standing = sitting = 0.0
    block = longest = 0.0
    for a, b in itertools.pairwise(cuts):
        while i < len(heights) and heights[i][0] <= a:
            h = heights[i][1]
            i += 1
        secs = (b - a).total_seconds()
        if not at_desk(a):
            block = 0.0
            continue
        if h >= THRESHOLD_MM:
            standing += secs
            block += secs
            longest = max(longest, block)
        else:
            sitting += secs
            block = 0.0
    prev = SIT_MM
    for t, hh, counts in heights:
        if counts and (hh >= THRESHOLD_MM) != (prev >= THRESHOLD_MM) and at_desk(t) and at_desk(t - SECOND):
            m["posture_changes"] += 1
        prev = hh
    m["standing_min"] = round(standing / 60.0)
    m["sitting_min"] = round(sitting / 60.0)
    m["max_standing_block_min"] = round(longest / 60.0, 1)
