"""Sit-stand plans: what rhythm to keep, when, and how fast to ramp standing up.

A plan is data only (frozen dataclasses, standard library). The schedule
policy (`deskpi.core.habits.schedule_policy`) turns a plan into prompts.

Presets (docs/ERGONOMICS.md, "Sit-stand plans"):

- DEFAULT_PLAN: sit 30 min / stand 15 min with a 2 min movement break, standing
  blocks capped at 60 min, and a daily standing goal that ramps by week from
  60 min/day (week 1) to 120 (week 4) and 240 (week 12). The "slow" ramp takes
  longer to get there, for people whom standing hurts at first.
- CORNELL: the 20-8-2 pattern (20 sit, 8 stand, 2 move) as a fixed rhythm.

Working time is Mon-Fri 09:00-18:00 with a 12:00-13:00 lunch by default;
quiet periods and holidays get no prompts at all.

`Plan.from_dict` validates everything and reports every problem at once,
each naming the field, the value and what is allowed (PlanError, a
ValueError). Impossible plans are refused: zero-length intervals, a standing
goal longer than the working day, quiet periods overlapping each other or
outside the working hours.
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("default", "cornell", "custom")
MODES = ("confirm", "auto")
#: Daily standing goal (minutes) by week: points (week, minutes), linear in between, flat after the last.
RAMPS: dict[str, tuple[tuple[int, int], ...]] = {
    "standard": ((1, 60), (4, 120), (12, 240)),
    "slow": ((1, 30), (4, 60), (8, 120), (20, 240)),
}
NO_RAMP = "none"
#: A plan's own name: shown on pages, in the CLI and in JSON, so no control characters or line breaks (a
#: newline or an escape would break a line of `deskpi` output) and no lone surrogates (half a character,
#: which no UTF-8 answer can carry). The API declares the same rule (deskpi/webapp/api_people.py).
PLAN_NAME_MAX = 80
PLAN_NAME_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"
PLAN_NAME_RULE = f"text of up to {PLAN_NAME_MAX} characters, without control characters or line breaks"
# Surrogates too, which a JSON schema's pattern cannot name (the API refuses them in any body).
_UNPRINTABLE = re.compile(r"[\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]")


def printable_name(name: str) -> str:
    """A name as the rule above allows it: each control character, line break or half a character a space."""
    return _UNPRINTABLE.sub(" ", name)


# (lo, hi, unit) for every numeric field.
RANGES: dict[str, tuple[float, float, str]] = {
    "sit_min": (5, 180, "minutes"),
    "stand_min": (1, 120, "minutes"),
    "move_min": (0, 30, "minutes (0: no movement break)"),
    "stand_cap_min": (5, 180, "minutes"),
    "snooze_min": (1, 30, "minutes"),
    "warning_s": (3, 60, "seconds"),
    "idle_break_min": (2, 60, "minutes"),
    "nag_stop_h": (0.5, 12, "hours"),
}


class PlanError(ValueError):
    """The plan is invalid; `problems` lists (field, value, allowed) for every problem found."""

    def __init__(self, problems: list[tuple[str, object, str]]) -> None:
        self.problems = problems
        lines = [f"plan.{f} = {v!r} is not allowed (allowed: {a})" for f, v, a in problems]
        super().__init__(lines[0] if len(lines) == 1 else
                         f"{len(lines)} problems in the plan:\n  - " + "\n  - ".join(lines))

    @property
    def fields(self) -> list[str]:
        return [p[0] for p in self.problems]


def week_number(start: dt.date, day: dt.date) -> int:
    """The week of a plan that started on `start` that `day` falls in: 1 for its first seven days, never below 1."""
    return max((day - start).days // 7 + 1, 1)


def _hhmm(t: dt.time) -> str:
    return t.strftime("%H:%M")


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


@dataclass(frozen=True)
class Plan:
    kind: str = "default"
    sit_min: int = 30
    stand_min: int = 15
    move_min: int = 2
    stand_cap_min: int = 60
    mode: str = "confirm"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)                 # 0 = Monday
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(18, 0)
    quiet: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(12, 0), dt.time(13, 0)),)
    holidays: tuple[dt.date, ...] = ()
    ramp: str | tuple[tuple[int, int], ...] = "standard"    # a RAMPS name, "none", or (week, minutes) points
    snooze_min: int = 5
    warning_s: int = 10
    idle_break_min: int = 10
    nag_stop_h: float = 4.0
    name: str = ""                                          # its owner's name for it, if any (see plan_names)

    # ---- derived -------------------------------------------------------------------------------------------------
    @property
    def ramp_points(self) -> tuple[tuple[int, int], ...] | None:
        if self.ramp == NO_RAMP:
            return None
        if isinstance(self.ramp, str):
            return RAMPS[self.ramp]
        return self.ramp

    def working_minutes(self) -> int:
        """Minutes of working time in one working day (hours minus quiet periods)."""
        total = _minutes(self.end) - _minutes(self.start)
        return total - sum(_minutes(b) - _minutes(a) for a, b in self.quiet)

    def longest_planned_block_min(self) -> int:
        """The longest standing block a ramped plan asks for: 1.5 x stand_min, 10 min inside the cap.

        The cap itself is the hard limit for someone who stays standing; planned
        blocks stay well inside it. A day behind its goal gets more blocks
        (shorter sit blocks, down to 20 min) rather than ever-longer ones:
        frequent posture changes matter more than the minutes (prolonged
        standing is no better than sitting), so on a day full of meetings the
        goal may be missed rather than chased with long blocks.
        """
        return max(self.stand_min, min(self.stand_min * 3 // 2, self.stand_cap_min - 10))

    def shortest_sit_block_min(self) -> int:
        """Sit blocks shorten to catch up on a ramp's goal, never below 20 min (Cornell) or sit_min."""
        return min(20, self.sit_min)

    def max_daily_standing_min(self) -> int:
        """The most standing the rhythm allows in a working day: longest blocks, shortest sit blocks."""
        block = self.longest_planned_block_min()
        cycle = self.shortest_sit_block_min() + block + self.move_min
        return int(self.working_minutes() * block / cycle)

    def daily_goal_min(self, week: int) -> float | None:
        """Standing goal for a day in `week` (1 = the first week), or None without a ramp."""
        pts = self.ramp_points
        if pts is None:
            return None
        w = max(int(week), 1)
        if w <= pts[0][0]:
            return float(pts[0][1])
        for (w0, m0), (w1, m1) in itertools.pairwise(pts):
            if w <= w1:
                return m0 + (m1 - m0) * (w - w0) / (w1 - w0)
        return float(pts[-1][1])

    def rhythm_standing_min(self) -> float:
        """The standing a working day of this rhythm holds: stand_min of every sit + stand + move cycle."""
        return float(round(self.working_minutes() * self.stand_min / (self.sit_min + self.stand_min + self.move_min)))

    def standing_goal_min(self, day: dt.date, start: dt.date) -> float | None:
        """The standing goal (whole minutes) on `day` for a person on this plan since `start`.

        The one rule for a person's goal: the home and reminders pages (through the
        habit policy's status), the statistics page, `deskpi stats` and the API all
        show this number for the same day. `start` is the local day the person's
        account was created: the ramp counts from there, whatever plan they chose
        later.

        None on a day off or a holiday, and before `start` (no goal before the
        account existed). With a ramp: the ramp's goal for the plan's week
        (week 1 = the seven days from `start`); without one: what the rhythm
        holds over the working day (rhythm_standing_min).
        """
        if day < start or not self.is_working_day(day):
            return None
        return self.working_day_goal_min(week_number(start, day))

    def week_goal_min(self, days: Iterable[dt.date], start: dt.date) -> float | None:
        """The goal of a span of days (a week): the sum of their goals; None when none of them has one."""
        goals = [g for g in (self.standing_goal_min(d, start) for d in days) if g is not None]
        return float(sum(goals)) if goals else None

    def working_day_goal_min(self, week: int) -> float:
        """The standing goal of a working day in `week` of the plan: the ramp's, or what the rhythm holds.

        Whole minutes, so that a page, the CLI and the API never show 137.5 in one place and 138 in another."""
        ramped = self.daily_goal_min(week)
        return self.rhythm_standing_min() if ramped is None else float(round(ramped))

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def time_periods(self) -> list[tuple[dt.time, dt.time]]:
        """Working periods of any working day: the hours minus the quiet periods."""
        out = []
        cur = self.start
        for a, b in sorted(self.quiet):
            if a > cur:
                out.append((cur, min(a, self.end)))
            cur = max(cur, b)
        if cur < self.end:
            out.append((cur, self.end))
        return out

    def periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The day's working periods as naive local datetimes (none on days off and holidays)."""
        if not self.is_working_day(day):
            return []
        return [(dt.datetime.combine(day, a), dt.datetime.combine(day, b)) for a, b in self.time_periods()]

    def in_working_time(self, when: dt.datetime) -> bool:
        return any(a <= when < b for a, b in self.periods(when.date()))

    # ---- (de)serialisation ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "kind": self.kind, "name": self.name,
            "sit_min": self.sit_min, "stand_min": self.stand_min, "move_min": self.move_min,
            "stand_cap_min": self.stand_cap_min, "mode": self.mode,
            "days": [DAY_NAMES[d] for d in self.days],
            "start": _hhmm(self.start), "end": _hhmm(self.end),
            "quiet": [[_hhmm(a), _hhmm(b)] for a, b in self.quiet],
            "holidays": [d.isoformat() for d in self.holidays],
            "ramp": self.ramp if isinstance(self.ramp, str) else [list(p) for p in self.ramp],
            "snooze_min": self.snooze_min, "warning_s": self.warning_s,
            "idle_break_min": self.idle_break_min, "nag_stop_h": self.nag_stop_h,
        }

    @classmethod
    def from_dict(cls, data: object) -> Plan:
        """Build and validate a plan; missing keys come from the preset named by `kind`."""
        if not isinstance(data, dict):
            raise PlanError([("<plan>", data, "a mapping of plan fields")])
        problems: list[tuple[str, object, str]] = []
        allowed_keys = set(DEFAULT_PLAN.to_dict())
        for key in data:
            if key not in allowed_keys:
                problems.append((str(key), data[key], f"known fields only: {', '.join(sorted(allowed_keys))}"))
        kind = data.get("kind", "default")
        if kind not in KINDS:
            problems.append(("kind", kind, " | ".join(KINDS)))
            kind = "custom"
        base = CORNELL if kind == "cornell" else DEFAULT_PLAN
        values: dict = {"kind": kind}

        for key, (lo, hi, unit) in RANGES.items():
            raw = data.get(key)
            if raw is None:
                continue
            want_int = isinstance(getattr(base, key), int)
            ok_type = (isinstance(raw, int) if want_int else isinstance(raw, (int, float))) and not isinstance(
                raw, bool)
            if not ok_type:
                problems.append((key, raw, f"{'a whole number' if want_int else 'a number'} {lo:g}-{hi:g} {unit}"))
            elif not lo <= raw <= hi:
                problems.append((key, raw, f"{lo:g}-{hi:g} {unit}"))
            else:
                values[key] = raw

        if "mode" in data:
            if data["mode"] in MODES:
                values["mode"] = data["mode"]
            else:
                problems.append(("mode", data["mode"], " | ".join(MODES)))
        if "name" in data:
            if isinstance(data["name"], str) and len(data["name"]) <= PLAN_NAME_MAX \
                    and not _UNPRINTABLE.search(data["name"]):
                # The presets' old fixed names went stale once a number changed; a person's own name stays.
                values["name"] = "" if data["name"] in OLD_PRESET_NAMES else data["name"]
            else:
                problems.append(("name", data["name"], PLAN_NAME_RULE))
        if "days" in data:
            days = _parse_days(data["days"], problems)
            if days is not None:
                values["days"] = days
        for key in ("start", "end"):
            if key in data:
                t = _parse_time(key, data[key], problems)
                if t is not None:
                    values[key] = t
        if "quiet" in data:
            q = _parse_quiet(data["quiet"], problems)
            if q is not None:
                values["quiet"] = q
        if "holidays" in data:
            h = _parse_holidays(data["holidays"], problems)
            if h is not None:
                values["holidays"] = h
        if "ramp" in data:
            r = _parse_ramp(data["ramp"], problems)
            if r is not None:
                values["ramp"] = r

        if problems:
            raise PlanError(problems)
        plan = replace(base, **values)
        plan.validate()
        return plan

    # ---- validation ----------------------------------------------------------------------------------------------
    def validate(self) -> Plan:
        """Cross-field checks (each field alone was checked by from_dict); raises PlanError."""
        problems: list[tuple[str, object, str]] = []
        for key, (lo, hi, unit) in RANGES.items():
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
                problems.append((key, v, f"{lo:g}-{hi:g} {unit}"))
        if self.kind not in KINDS:
            problems.append(("kind", self.kind, " | ".join(KINDS)))
        if self.mode not in MODES:
            problems.append(("mode", self.mode, " | ".join(MODES)))
        if not self.days or any(d not in range(7) for d in self.days) or len(set(self.days)) != len(self.days):
            problems.append(("days", list(self.days), "at least one of mon..sun, each once"))
        if problems:
            raise PlanError(problems)

        if self.end <= self.start:
            problems.append(("end", _hhmm(self.end), f"a time after start {_hhmm(self.start)} "
                                                      "(working hours may not cross midnight)"))
        else:
            ordered = sorted(self.quiet)
            for a, b in self.quiet:
                span = f"{_hhmm(a)}-{_hhmm(b)}"
                if b <= a:
                    problems.append(("quiet", span, "periods whose end is after their start"))
                elif a < self.start or b > self.end:
                    problems.append(("quiet", span, f"periods inside the working hours "
                                                    f"{_hhmm(self.start)}-{_hhmm(self.end)}"))
            for (a1, b1), (a2, b2) in itertools.pairwise(ordered):
                if a2 < b1:
                    problems.append(("quiet", f"{_hhmm(a1)}-{_hhmm(b1)} and {_hhmm(a2)}-{_hhmm(b2)}",
                                     "periods that do not overlap each other"))
        if problems:
            raise PlanError(problems)

        work = self.working_minutes()
        longest = max((_minutes(b) - _minutes(a) for a, b in self.time_periods()), default=0)
        if work <= 0 or longest <= 0:
            problems.append(("quiet", [[_hhmm(a), _hhmm(b)] for a, b in self.quiet],
                             "quiet periods that leave some working time"))
            raise PlanError(problems)
        if self.stand_cap_min < self.stand_min:
            problems.append(("stand_cap_min", self.stand_cap_min,
                             f"{self.stand_min}-{RANGES['stand_cap_min'][1]:g} minutes (at least stand_min)"))
        if self.stand_min >= work:
            problems.append(("stand_min", self.stand_min, f"1-{work - 1} minutes (shorter than the "
                                                          f"{work} min working day)"))
        cycle = self.sit_min + self.stand_min + self.move_min
        if cycle > longest:
            problems.append(("sit_min", self.sit_min,
                             f"a cycle (sit {self.sit_min} + stand {self.stand_min} + move {self.move_min} = "
                             f"{cycle} min) that fits in the longest working period ({longest} min)"))
        pts = self.ramp_points
        if pts is not None:
            peak = max(m for _, m in pts)
            limit = self.max_daily_standing_min()
            if peak > limit:
                problems.append(("ramp", self.ramp if isinstance(self.ramp, str) else [list(p) for p in pts],
                                 f"a daily standing goal of at most {limit} min, what standing blocks of up to "
                                 f"{self.longest_planned_block_min()} min between sit blocks of "
                                 f"{self.shortest_sit_block_min()} min allow in the {work} min working day; "
                                 f"it reaches {peak} min"))
        if problems:
            raise PlanError(problems)
        return self


def _parse_days(raw: object, problems: list) -> tuple[int, ...] | None:
    allowed = "a non-empty list of mon, tue, wed, thu, fri, sat, sun (or 0-6, 0 = Monday), each once"
    if not isinstance(raw, (list, tuple)) or not raw:
        problems.append(("days", raw, allowed))
        return None
    out = []
    for d in raw:
        if isinstance(d, str) and d.strip().lower()[:3] in DAY_NAMES:
            out.append(DAY_NAMES.index(d.strip().lower()[:3]))
        elif isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 6:
            out.append(d)
        else:
            problems.append(("days", d, allowed))
            return None
    if len(set(out)) != len(out):
        problems.append(("days", raw, allowed))
        return None
    return tuple(sorted(out))


def _parse_time(key: str, raw: object, problems: list) -> dt.time | None:
    if isinstance(raw, dt.time):
        return raw.replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(raw, str):
        try:
            hh, mm = raw.strip().split(":")
            if len(mm) == 2 and hh.isdigit() and mm.isdigit():
                return dt.time(int(hh), int(mm))
        except ValueError:
            pass
    problems.append((key, raw, "a time of day as \"HH:MM\", 00:00-23:59"))
    return None


def _parse_quiet(raw: object, problems: list) -> tuple[tuple[dt.time, dt.time], ...] | None:
    allowed = "a list of [\"HH:MM\", \"HH:MM\"] periods"
    if not isinstance(raw, (list, tuple)):
        problems.append(("quiet", raw, allowed))
        return None
    out = []
    for item in raw:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            problems.append(("quiet", item, allowed))
            return None
        a = _parse_time("quiet", item[0], problems)
        b = _parse_time("quiet", item[1], problems)
        if a is None or b is None:
            return None
        out.append((a, b))
    return tuple(out)


def _parse_holidays(raw: object, problems: list) -> tuple[dt.date, ...] | None:
    allowed = "a list of dates as \"YYYY-MM-DD\""
    if not isinstance(raw, (list, tuple)):
        problems.append(("holidays", raw, allowed))
        return None
    out = []
    for item in raw:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            out.append(item)
            continue
        try:
            out.append(dt.date.fromisoformat(item))
        except (TypeError, ValueError):
            problems.append(("holidays", item, allowed))
            return None
    return tuple(sorted(set(out)))


def _parse_ramp(raw: object, problems: list) -> str | tuple[tuple[int, int], ...] | None:
    allowed = (f"one of {', '.join(RAMPS)}, {NO_RAMP}, or [[week, minutes], ...] with weeks rising from 1 "
               "and minutes 0-720")
    if isinstance(raw, str):
        if raw in RAMPS or raw == NO_RAMP:
            return raw
        problems.append(("ramp", raw, allowed))
        return None
    if not isinstance(raw, (list, tuple)) or not raw:
        problems.append(("ramp", raw, allowed))
        return None
    pts = []
    for item in raw:
        if (not isinstance(item, (list, tuple)) or len(item) != 2
                or any(isinstance(x, bool) or not isinstance(x, int) for x in item)
                or not 1 <= item[0] <= 520 or not 0 <= item[1] <= 720):
            problems.append(("ramp", item, allowed))
            return None
        pts.append((item[0], item[1]))
    if any(b[0] <= a[0] for a, b in itertools.pairwise(pts)):
        problems.append(("ramp", raw, allowed))
        return None
    return tuple(pts)


#: Names the presets once had, stored in older plans. A plan is now named for its numbers
#: (deskpi.core.habits.plan_names); `name` is only a name its owner chose.
OLD_PRESET_NAMES = ("30 min sit / 15 min stand, 2 min move", "Cornell 20-8-2")
DEFAULT_PLAN = Plan(kind="default")
CORNELL = Plan(kind="cornell", sit_min=20, stand_min=8, move_min=2, ramp=NO_RAMP)
PRESETS = {"default": DEFAULT_PLAN, "cornell": CORNELL}
