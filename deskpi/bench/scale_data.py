"""The data of `deskpi bench scale`: a hot desk's history, made by the day simulator and stored as the daemon would.

Every working day one of the desk's people (drawn with a fixed seed) works a whole day at it:
`run_day` (deskpi/core/habits/day_sim.py) runs the real habit policy with a simulated person and
hands back when the desk moved, who moved it and every reminder with its outcome. That day is
shifted onto its calendar date and written through the store's own API, the way the daemon's
parts write it:

- heights as the recorder offers them (deskpi/daemon/recorder.py: a change of 1 mm or more, else
  one sample every 30 s), during a move one every 0.25 s, to `log_heights`, so the store's own
  policy keeps the rows (changes of 5 mm, at most one a second, a heartbeat every 10 minutes);
- the person claiming the desk (`set_active_user`), every move in the audit trail, every reminder
  (`record_reminder`, then `update_reminder` with its outcome), as the habit service does.

A day's writes are one transaction (`Store.transaction`): the same rows as one commit per row,
without a year of fsyncs (about 200 000 of them). Weekends have heartbeats only.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from deskpi.core.habits.day_sim import SIT_MM, Rng, run_day

REST_SAMPLE_S = 30.0             # the recorder offers an unchanged height every 30 s
MOVE_SAMPLE_S = 0.25
MOVE_S = 15.0                    # the simulated desk takes 15 s to get anywhere
KIND = {"prompt_stand": "stand", "prompt_sit": "sit", "prompt_move": "move", "prompt_stretch": "stretch"}
OUTCOME = {"confirmed": "confirmed", "followed": "confirmed", "acknowledged": "acknowledged",
           "skipped": "skipped", "snoozed": "snoozed"}        # as deskpi/daemon/habits.py stores them


@dataclass
class Day:
    date: dt.date
    person: str | None = None
    claimed_at: float | None = None
    samples: list[tuple[float, float | None, str]] = field(default_factory=list)
    moves: list[tuple[float, float, str]] = field(default_factory=list)           # (t, target mm, source)
    reminders: list[tuple[str, float, str | None, str | None, float | None]] = field(default_factory=list)


@dataclass(frozen=True)
class _Shift:
    """From the simulated Monday's clock (naive) to the calendar day's (in its zone), as unix seconds."""

    sim_midnight: dt.datetime
    midnight: dt.datetime

    def at(self, x: dt.datetime) -> float:
        return (self.midnight + (x - self.sim_midnight)).timestamp()


def _rest(t0: float, t1: float, h: float, out: list) -> None:
    t = t0
    while t < t1:
        out.append((t, h, "sensor"))
        t += REST_SAMPLE_S


def simulate_days(first: dt.date, last: dt.date, people: list[str], zone, *, seed: int = 1,
                  since: dt.date | None = None, until: float | None = None) -> Iterator[Day]:
    """One Day per calendar day from `first` to `last` (local days in `zone`); samples end before `until`.

    `since`: the day the people were added (their plan's week 1), for the standing goal's ramp."""
    rng = Rng(seed)
    since = since or first
    d = first
    while d <= last:
        start = dt.datetime.combine(d, dt.time(), tzinfo=zone).timestamp()
        end = dt.datetime.combine(d + dt.timedelta(days=1), dt.time(), tzinfo=zone).timestamp()
        if until is not None:
            end = min(end, until)
        day = Day(d)
        if d.weekday() < 5 and people:
            person = people[rng.randint(0, len(people) - 1)]
            week = min(52, (d - since).days // 7 + 1)
            trace: dict = {}
            run_day(rng.randint(1, 2**31), week, 0.8, trace=trace)
            shift = _Shift(dt.datetime.combine(trace["day"], dt.time()), dt.datetime.combine(d, dt.time(), tzinfo=zone))
            at = shift.at

            day.person, day.claimed_at = person, at(trace["arrive"]) - 60.0
            t, h = start, SIT_MM
            for arrived, target, by in trace["moves"]:
                t1 = at(arrived)
                t0 = max(t, t1 - MOVE_S)          # a move asked for while the last one was ending
                _rest(t, t0, h, day.samples)
                steps = max(1, int((t1 - t0) / MOVE_SAMPLE_S))
                day.samples += [(t0 + (t1 - t0) * i / steps, h + (target - h) * i / steps, "sensor")
                                for i in range(steps)]
                day.moves.append((t0, target, by))
                t, h = t1, target
            _rest(t, end, h, day.samples)
            for r in trace["reminders"]:
                if r.get("id") is None or r["kind"] not in KIND:
                    continue
                shown = at(dt.datetime.fromisoformat(r["issued_at"]))
                outcome = OUTCOME.get(r.get("outcome") or "", "expired")
                when = at(dt.datetime.fromisoformat(r["outcome_at"])) if r.get("outcome_at") else shown
                day.reminders.append((KIND[r["kind"]], shown, r.get("stretch_id"), outcome, max(when, shown)))
        else:
            _rest(start, end, SIT_MM, day.samples)
        day.samples = [s for s in day.samples if until is None or s[0] < until]
        yield day
        d += dt.timedelta(days=1)


def write_day(store, day: Day) -> None:
    """One day through the store's own API, in one transaction."""
    with store.transaction():
        if day.person is not None and day.claimed_at is not None:
            store.set_active_user(day.person, now=day.claimed_at)
        store.log_heights(day.samples)
        for t, target, by in day.moves:
            store.append_audit(by, "move", user=None if by == "schedule" else day.person,
                               detail={"target_mm": target}, remote="10.0.0.7" if by == "web" else None, t=t)
        for kind, shown, stretch, outcome, when in day.reminders:
            rid = store.record_reminder(day.person, kind, shown, stretch_id=stretch)
            if outcome is not None:
                store.update_reminder(rid, outcome, when)
