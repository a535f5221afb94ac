"""Sitting and standing statistics from the measured height, not from the schedule.

Pure: standard library only, every clock reading is a parameter (``now``, ``until``).
The inputs are what the adapters already store:

- the **height log**: rows ``(t, height_mm, source)`` (unix seconds) written only when
  the height changed by >= 5 mm or the posture class may have changed, plus a heartbeat
  row at most every 10 minutes while nothing changes, and nothing while the daemon is
  off. Moves made with the desk's own keypad show up here like any other move, because
  the log follows the sensor, not the commands. ``source`` is not used. A row whose
  height is None (or not a finite number) marks the height as unknown from there on.
- the **active-user timeline**: ``(t, user)`` changes, ``user`` None when nobody is
  signed in. Before its first entry nobody is.
- **reminders**: events ``(t, user, kind)`` with kind one of ``REMINDER_KINDS`` (other
  kinds are tallied under their own name), or the store's reminder records (``shown_at``,
  ``user``, ``outcome``), each a 'shown' plus its outcome on the day it was shown. A None
  user means "whoever was active then".

Classification (``classify``, ``Thresholds``)
    The sit/stand threshold lies halfway between the person's seated and standing
    heights. A band of +-10 % of the sit-stand gap (at least +-10 mm) around that midpoint
    is 'between': below it is 'sit', above it 'stand'. Without a profile the band is the
    gap between the EN 527-1 ranges: below 850 mm is 'sit', above 950 mm is 'stand'
    (the same as a profile of 650 / 1150 mm). A profile with only a seated height gets a
    standing height 300 mm higher (LINAK's default), and the other way round.

Posture changes (``PostureLatch``, ``postures``, ``posture_changes``)
    A change is counted only when the height goes from the sit zone all the way into the
    stand zone or back: the 'between' band is the hysteresis, so a desk parked near the
    midpoint, or sensor noise at a band edge, never counts as changing posture. The latch
    starts afresh whenever the active user changes and after any stretch of unknown height,
    so a change nobody saw (the desk moved while the daemon was off) is not counted.

Segments (``segments``)
    Each row's height holds until the next row. When the next row comes more than
    ``max_gap_s`` (default 900 s: the 10 min heartbeat plus slack) later, the daemon was off
    or the power was cut somewhere in between: the whole gap is unknown, never sitting or
    standing. The last row holds until ``until`` on the same condition.

Days and weeks (``daily``)
    Days are local calendar days in the given time zone (``zoneinfo``), from local midnight
    to the next, so a day can last 23 or 25 hours at a DST switch; the day in progress ends
    at ``now``. Every second of a day goes to exactly one bucket (the active user, or
    'unassigned' when nobody is) and one class (sitting, standing, between, unknown), so per
    day the four minute counts summed over all buckets equal ``day_min``. Weeks are ISO weeks
    over the requested days, with totals and averages per working day (a day on which that
    person had at least a minute of measured desk time). A week has two goals: that of the days
    asked for (``standing_goal_min``: for the week in progress, the goal so far) and that of the
    whole week, Monday to Sunday (``week_goal_min``), both sums of their days' goals.

Standing minutes (``daily``'s ``standing_min``): the one count of a person's standing time. Every
place that shows it (the home line and the reminders page through the habit service's status,
the statistics page, ``deskpi stats`` and the statistics API) takes it from ``daily`` through
``deskpi.people.accounts.stats_report``, never from a count of its own: the time the measured
height was above the person's standing threshold (their own seated/standing heights, else the
EN 527-1 gap, see Classification) while they were the one at the desk, on the local day, up to
``now``.

Everything returned is plain dicts, lists, str, int, float and None, ready for ``json.dumps``;
minutes are rounded to 0.1.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from operator import itemgetter
from typing import Any, NamedTuple

from .local_days import day_start, days_asked, iso_week, local_date, to_zone, tz_name
from .stat_goals import finite as _finite
from .stat_goals import goal_lookup, goal_value, whole_week_goal
from .timeline import SKIPPED, Swept, cut_pieces, longest_within, user_at, user_cover

# Defaults when the person has no profile: the EN 527-1 ranges (seated 650-850 mm,
# standing 950-1250 mm). Heights strictly between the two are 'between'.
DEFAULT_SIT_BELOW_MM = 850.0
DEFAULT_STAND_ABOVE_MM = 950.0
# With a profile: the 'between' band is the midpoint +- this fraction of the sit-stand gap.
BAND_FRACTION = 0.10
# ... but never narrower than +- this (sensor noise is ~2 mm sigma, a median lags ~10 mm).
MIN_HALF_BAND_MM = 10.0
# A profile's standing and seated heights must be at least this far apart.
MIN_GAP_MM = 50.0
# Unknown standing height: seated + 300 mm (LINAK's default); and the other way round.
UNKNOWN_STAND_OFFSET_MM = 300.0
# Heartbeat every 10 min at most, plus slack: a longer silence means the daemon was off.
DEFAULT_MAX_GAP_S = 900.0
# A working day (for weekly averages): at least this much measured desk time for the person.
WORKING_DAY_MIN_S = 60.0

SIT, STAND, BETWEEN, UNKNOWN = "sit", "stand", "between", "unknown"
REMINDER_KINDS = ("shown", "acknowledged", "snoozed", "skipped", "confirmed", "expired")

_PROFILE_SIT_KEYS = ("sit_mm", "seated_mm")
_PROFILE_STAND_KEYS = ("stand_mm", "standing_mm")


# --------------------------------------------------------------------------- classification


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Heights below ``sit_below_mm`` are 'sit', above ``stand_above_mm`` 'stand', else 'between'."""

    sit_below_mm: float = DEFAULT_SIT_BELOW_MM
    stand_above_mm: float = DEFAULT_STAND_ABOVE_MM
    source: str = "default"          # 'profile' or 'default'

    def __post_init__(self) -> None:
        if not (math.isfinite(self.sit_below_mm) and math.isfinite(self.stand_above_mm)
                and self.sit_below_mm <= self.stand_above_mm):
            raise ValueError(f"thresholds need sit_below_mm <= stand_above_mm, got "
                             f"{self.sit_below_mm} and {self.stand_above_mm}")

    @classmethod
    def for_profile(cls, sit_mm: float | None = None, stand_mm: float | None = None) -> Thresholds:
        """Thresholds for a person's seated and standing heights; the defaults when both are None."""
        if sit_mm is None and stand_mm is None:
            return cls()
        if sit_mm is None:
            sit_mm = float(stand_mm) - UNKNOWN_STAND_OFFSET_MM        # type: ignore[arg-type]
        if stand_mm is None:
            stand_mm = float(sit_mm) + UNKNOWN_STAND_OFFSET_MM
        sit, stand = float(sit_mm), float(stand_mm)
        if not (math.isfinite(sit) and math.isfinite(stand)):
            raise ValueError(f"seated and standing heights must be numbers, got {sit_mm!r} and {stand_mm!r}")
        if stand - sit < MIN_GAP_MM:
            raise ValueError(f"standing height {stand:g} mm must be at least {MIN_GAP_MM:g} mm above "
                             f"the seated height {sit:g} mm")
        mid = (sit + stand) / 2.0
        half = max(BAND_FRACTION * (stand - sit), MIN_HALF_BAND_MM)
        return cls(mid - half, mid + half, "profile")

    @property
    def midpoint_mm(self) -> float:
        return (self.sit_below_mm + self.stand_above_mm) / 2.0

    def classify(self, height_mm: float) -> str:
        h = _finite(height_mm)
        if h is None:
            raise ValueError(f"cannot classify height {height_mm!r}: not a number")
        if h < self.sit_below_mm:
            return SIT
        if h > self.stand_above_mm:
            return STAND
        return BETWEEN

    def as_dict(self) -> dict[str, Any]:
        return {"sit_below_mm": round(self.sit_below_mm, 1), "stand_above_mm": round(self.stand_above_mm, 1),
                "midpoint_mm": round(self.midpoint_mm, 1), "source": self.source}


def classify(height_mm: float, sit_mm: float | None = None, stand_mm: float | None = None) -> str:
    """'sit', 'stand' or 'between' for one height, for a person with these seated/standing heights.

    >>> classify(720, 700, 1100), classify(905, 700, 1100), classify(1080, 700, 1100)
    ('sit', 'between', 'stand')
    >>> classify(840), classify(900), classify(960)      # no profile: < 850 sit, > 950 stand
    ('sit', 'between', 'stand')
    """
    return Thresholds.for_profile(sit_mm, stand_mm).classify(height_mm)


class PostureLatch:
    """Hysteresis for a sequence of heights: the last definite posture, and its changes.

    ``update(h)`` returns True when h completes a sit<->stand change. 'between' heights keep
    the previous posture, so only a full crossing of the band counts.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self.posture: str | None = None        # None until the first definite posture
        self.changes = 0

    def reset(self) -> None:
        """Forget the posture (a new person, or a stretch nobody measured); keep the count."""
        self.posture = None

    def update(self, height_mm: float) -> bool:
        return self.see(self.thresholds.classify(height_mm))

    def see(self, cls: str) -> bool:
        """Feed an already classified height ('unknown' resets the latch)."""
        if cls == UNKNOWN:
            self.reset()
            return False
        if cls == BETWEEN:
            return False
        changed = self.posture is not None and cls != self.posture
        self.posture = cls
        self.changes += changed
        return changed


def postures(heights: Iterable[float], sit_mm: float | None = None,
             stand_mm: float | None = None) -> list[str]:
    """The latched posture after each height: 'sit' or 'stand', 'between' before the first of either."""
    latch = PostureLatch(Thresholds.for_profile(sit_mm, stand_mm))
    out = []
    for h in heights:
        latch.update(h)
        out.append(latch.posture or BETWEEN)
    return out


def posture_changes(heights: Iterable[float], sit_mm: float | None = None,
                    stand_mm: float | None = None) -> int:
    """Number of sit<->stand changes in a sequence of heights, with hysteresis."""
    latch = PostureLatch(Thresholds.for_profile(sit_mm, stand_mm))
    for h in heights:
        latch.update(h)
    return latch.changes



class Segment(NamedTuple):
    """The desk stood at ``height_mm`` from t0 to t1 (unix s); None: unknown (daemon off, no data)."""

    t0: float
    t1: float
    height_mm: float | None


def _field(row: Any, name: str, index: int) -> Any:
    if isinstance(row, Mapping):
        return row.get(name)
    if hasattr(row, name):
        return getattr(row, name)
    try:
        return row[index]
    except (IndexError, KeyError, TypeError):
        return None


def _positional(kind: type) -> bool:
    """Whether `_field(row, "t", 0)` and `_field(row, "height_mm", 1)` are row[0] and row[1] for rows of this type."""
    if kind is tuple:
        return True
    names = getattr(kind, "_fields", None)
    return issubclass(kind, tuple) and isinstance(names, tuple) and names[:2] == ("t", "height_mm")


def log_points(rows: Iterable[Any]) -> tuple[list[tuple[float, float | None]], int]:
    """(t, height or None) sorted by time (stable: of rows with equal t the last wins), and bad rows."""
    pts, bad = [], 0
    kinds: dict[type, bool] = {}
    isfinite = math.isfinite
    for row in rows:
        kind = type(row)
        fast = kinds.get(kind)
        if fast is None:
            fast = kinds[kind] = _positional(kind)
        if fast:          # the store's rows: a float time and a float or no height, taken as they are
            t, h = row[0], row[1]
            if type(t) is float and isfinite(t) and (h is None or (type(h) is float and isfinite(h))):
                pts.append((t, h))
                continue
        t = _finite(_field(row, "t", 0))
        if t is None:
            bad += 1
            continue
        pts.append((t, _finite(_field(row, "height_mm", 1))))
    pts.sort(key=itemgetter(0))
    return pts, bad


def segments(rows: Iterable[Any], until: float, max_gap_s: float = DEFAULT_MAX_GAP_S) -> list[Segment]:
    """Turn the change-only height log into contiguous segments from the first row to ``until``.

    Rows are ``(t, height_mm, source)`` tuples, mappings or objects with those fields, in
    any order. A segment runs from one row to the next; a gap longer than ``max_gap_s``
    (no heartbeat came) is one unknown segment, and so is a last row older than
    ``max_gap_s`` at ``until``. Rows at or after ``until`` only bound the segment before.
    """
    if not max_gap_s > 0:
        raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
    pts, _ = log_points(rows)
    return _segments(pts, float(until), float(max_gap_s))


def _segments(pts: list[tuple[float, float | None]], until: float, max_gap_s: float) -> list[Segment]:
    return [Segment(*s) for s in _spans(pts, until, max_gap_s)]


def _spans(pts: list[tuple[float, float | None]], until: float, max_gap_s: float) -> list[tuple]:
    """`_segments` as plain (t0, t1, height) tuples, quicker to make for a year of rows."""
    out: list[tuple] = []
    n = len(pts)
    for i, (t, h) in enumerate(pts):
        if t >= until:
            break
        t_next = pts[i + 1][0] if i + 1 < n else until
        if t_next <= t:
            continue                              # same timestamp: the later row wins
        if t_next - t > max_gap_s:
            h = None
        end = min(t_next, until)
        if out and out[-1][2] is None and h is None:
            out[-1] = (out[-1][0], end, None)       # one unknown stretch, not many
        else:
            out.append((t, end, h))
    return out


# --------------------------------------------------------------------------- daily / weekly


@dataclass(slots=True)
class Tally:
    secs: dict[str, float] = field(default_factory=lambda: {SIT: 0.0, STAND: 0.0, BETWEEN: 0.0, UNKNOWN: 0.0})
    changes: int = 0
    longest_stand_s: float = 0.0
    reminders: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REMINDER_KINDS, 0))

    def add(self, other: Tally) -> None:
        for k, v in other.secs.items():
            self.secs[k] += v
        self.changes += other.changes
        for k, v in other.reminders.items():
            self.reminders[k] = self.reminders.get(k, 0) + v

    @property
    def measured_s(self) -> float:
        return self.secs[SIT] + self.secs[STAND] + self.secs[BETWEEN]


def _minutes(seconds: float) -> float:
    return round(seconds / 60.0, 1) + 0.0


def profile_heights(profile: Any) -> tuple[float | None, float | None]:
    if profile is None:
        return None, None
    if isinstance(profile, Mapping):
        sit = next((profile[k] for k in _PROFILE_SIT_KEYS if profile.get(k) is not None), None)
        stand = next((profile[k] for k in _PROFILE_STAND_KEYS if profile.get(k) is not None), None)
        return sit, stand
    if isinstance(profile, (tuple, list)) and len(profile) == 2:
        return profile[0], profile[1]
    sit = next((getattr(profile, k) for k in _PROFILE_SIT_KEYS if getattr(profile, k, None) is not None), None)
    stand = next((getattr(profile, k) for k in _PROFILE_STAND_KEYS if getattr(profile, k, None) is not None), None)
    return sit, stand


def reminder_events(reminders: Iterable[Any]) -> Iterable[tuple[float, Any, str]]:
    """(t, user or None, event) from events or from reminder records.

    An event is ``(t, user, kind)`` or a mapping with t, user and kind (or event). A reminder
    record (the store's: ``shown_at``, ``user``, ``outcome``) is a 'shown' plus its outcome
    (if any), both on the day it was shown. Entries without a valid time are skipped.
    """
    for ev in reminders:
        shown_at = ev.get("shown_at") if isinstance(ev, Mapping) else getattr(ev, "shown_at", None)
        if shown_at is not None:
            t = _finite(shown_at)
            if t is None:
                continue
            user = _field(ev, "user", 1)
            yield t, user, "shown"
            outcome = ev.get("outcome") if isinstance(ev, Mapping) else getattr(ev, "outcome", None)
            if outcome is not None:
                yield t, user, str(outcome)
            continue
        t = _finite(_field(ev, "t", 0))
        if t is None:
            continue
        kind = ev.get("kind", ev.get("event")) if isinstance(ev, Mapping) else _field(ev, "kind", 2)
        yield t, _field(ev, "user", 1), str(kind)


def user_timeline(active_users: Iterable[Any]) -> tuple[list[float], list[Any]]:
    changes = []
    for entry in active_users:
        t = _finite(_field(entry, "t", 0))
        if t is None:
            raise ValueError(f"active-user entry without a valid time: {entry!r}")
        changes.append((t, _field(entry, "user", 1)))
    changes.sort(key=lambda c: c[0])
    return [c[0] for c in changes], [c[1] for c in changes]


def _tally_of(tallies: dict[tuple[Any, date], Tally], user: Any, d: date) -> Tally:
    tl = tallies.get((user, d))
    if tl is None:
        tl = tallies[(user, d)] = Tally()
    return tl


def sweep(pts: list[tuple[float, float | None]], u_times: list[float], u_names: list[Any],
          thresholds_for: Callable[[Any], Thresholds], day_cover: list[tuple], sweep_start: float, win_end: float,
          max_gap_s: float, keep: set | None, wanted_set: set, latch: tuple[Any, str | None],
          tallies: dict[tuple[Any, date], Tally], blocks: dict[Any, list[tuple[float, float]]],
          until: float | None = None) -> Swept:
    """Walk [sweep_start, win_end) once: time per class, posture changes and standing blocks into `tallies` and
    `blocks` for the days of `wanted_set`, the latch starting from `latch`. The height log's last row holds to
    `until` (default win_end) if no row comes sooner, as `_spans` treats it."""
    segs = [s for s in _spans(pts, win_end if until is None else until, max_gap_s) if s[1] > sweep_start]
    height_cover: list[tuple] = []
    t = sweep_start
    for s0, s1, sh in segs:
        if s0 > t:
            height_cover.append((t, s0, None))
        height_cover.append((max(s0, t), s1, sh))
        t = s1
    if t < win_end:
        height_cover.append((t, win_end, None))
    pieces = cut_pieces(height_cover, user_cover(u_times, u_names, sweep_start, win_end), day_cover, keep)
    latch_user, lt = latch[0], PostureLatch()
    lt.posture = latch[1]
    first: str | None
    first, reset = None, False
    for t0, t1, h, user, d in pieces:
        if user is SKIPPED:
            latch_user, reset = SKIPPED, True
            continue
        cls = UNKNOWN if h is None else thresholds_for(user).classify(h)
        if user != latch_user:
            latch_user, reset = user, True
            lt.reset()
        if cls == UNKNOWN:
            reset = True
        elif cls != BETWEEN and first is None and not reset:
            first = cls
        changed = lt.see(cls)
        if d not in wanted_set:
            continue              # before the first day, or a day not asked for: latch only
        tl = _tally_of(tallies, user, d)
        tl.secs[cls] += t1 - t0
        tl.changes += changed
        if cls == STAND:                           # standing blocks: contiguous standing pieces
            ub = blocks.setdefault(user, [])
            if ub and ub[-1][1] == t0:
                ub[-1] = (ub[-1][0], t1)
            else:
                ub.append((t0, t1))
    return Swept((latch_user, lt.posture), first, reset)


def daily(rows: Iterable[Any], active_users: Iterable[Any], profiles: Mapping[Any, Any] | None,
          tz: tzinfo | str, days: int | Iterable[date | str], now: float,
          reminders: Iterable[Any] = (), goals: Any = None, *,
          max_gap_s: float = DEFAULT_MAX_GAP_S, users: Iterable[Any] | None = None,
          closed: Any = None, goal_groups: Mapping[Any, Any] | None = None) -> dict[str, Any]:
    """Per user per local calendar day (and ISO week): minutes sitting/standing, changes, reminders, goal.

    rows: the height log, ``(t, height_mm, source)`` (see ``segments``). Pass rows from a
        little before the first day (at least ``max_gap_s``, better a day) so the height and
        posture at the first midnight are known; earlier rows are used for nothing else.
    active_users: ``(t, user or None)`` changes.
    profiles: user -> profile (a mapping or object with ``sit_mm``/``stand_mm`` or
        ``seated_mm``/``standing_mm``, or a ``(sit_mm, stand_mm)`` pair, or None). A missing
        or invalid profile falls back to the default thresholds (an invalid one with a warning).
    tz: a tzinfo or an IANA name ('Europe/Berlin').
    days: N for the last N local days up to and including today, or the dates themselves
        (``date`` or 'YYYY-MM-DD').
    now: unix seconds; the current day ends here and later data is ignored.
    reminders: ``(t, user or None, kind)`` events (or mappings with t, user, kind/event), or
        reminder records with ``shown_at``, ``user``, ``outcome`` (the store's): a 'shown'
        plus the outcome, both counted on the day the reminder was shown.
    goals: standing goal in minutes per user and day: ``f(user, date)``, or a mapping
        user -> minutes, user -> {date or 'YYYY-MM-DD': minutes}, or user -> f(date).
        None or 0 means no goal that day (progress None).
    users: report exactly these users; default: everyone with a profile or any time or
        reminder on the days asked for. Time with nobody active is reported as 'unassigned'.
    closed: the first days already summed (``deskpi.core.habits.day_totals.ClosedDays``): then ``rows`` and
        ``reminders`` need only cover its ``cut`` on (rows from a day before), the same result.
    goal_groups: user -> a key; people with the same key have the same goal on every day (the same plan from
        the same first day), so the days and weeks of those of them never at the desk in the days asked for are
        made once for all of them (the same result).

    Returns ``{"tz", "now", "first_day", "last_day", "users": {name: {"thresholds",
    "days": [...], "weeks": [...]}}, "unassigned": {...}, "warnings": [...]}``; see the module
    docstring and ``_day_record``/``_week_record`` for the fields.
    """
    if not max_gap_s > 0:
        raise ValueError(f"max_gap_s must be positive, got {max_gap_s}")
    now_t = _finite(now)
    if now_t is None:
        raise ValueError(f"now must be unix seconds, got {now!r}")
    zone = to_zone(tz)
    users = None if users is None else list(users)
    wanted = days_asked(days, now_t, zone)
    wanted_set = set(wanted)
    warnings: list[str] = []

    # Day windows for every date from the first to the last asked for (the ones in between
    # are swept too, so that posture changes stay consistent, but not reported).
    all_days = [wanted[0] + timedelta(days=k) for k in range((wanted[-1] - wanted[0]).days + 1)]
    bounds = {d: (day_start(d, zone), day_start(d + timedelta(days=1), zone)) for d in all_days}
    win_start = bounds[all_days[0]][0]
    win_end = max(win_start, min(bounds[all_days[-1]][1], now_t))

    pts, bad_rows = log_points(rows)
    if bad_rows:
        warnings.append(f"ignored {bad_rows} height-log row(s) without a valid time")
    u_times, u_names = user_timeline(active_users)
    sweep_start = min(win_start, pts[0][0]) if pts and pts[0][0] < win_end else win_start

    # Thresholds per user (the unassigned bucket, key None, uses the defaults).
    profiles = profiles or {}
    thresholds: dict[Any, Thresholds] = {}

    def thresholds_for(user: Any) -> Thresholds:
        if user not in thresholds:
            th = Thresholds()
            if user is not None:
                try:
                    th = Thresholds.for_profile(*profile_heights(profiles.get(user)))
                except (ValueError, TypeError) as exc:
                    warnings.append(f"profile of {user!r}: {exc}; using the default thresholds "
                                    f"(sit below {DEFAULT_SIT_BELOW_MM:g} mm, stand above "
                                    f"{DEFAULT_STAND_ABOVE_MM:g} mm)")
            thresholds[user] = th
        return thresholds[user]

    tallies: dict[tuple[Any, date], Tally] = {}
    blocks: dict[Any, list[tuple[float, float]]] = {}      # user -> standing blocks, in order
    keep = None if users is None else set(users)
    latch: tuple[Any, str | None] = (object(), None)      # nobody yet: the first piece resets the latch
    first = win_start
    if closed is not None and closed.days:
        # The lead-in only sets the latch at the first midnight; the closed days come summed; the rest is raw.
        lead, _ = log_points(closed.lead_rows)
        lead_start = min(win_start, lead[0][0]) if lead and lead[0][0] < win_start else win_start
        latch = sweep(lead, u_times, u_names, thresholds_for, [(lead_start, win_start, None)], lead_start,
                      win_start, float(max_gap_s), keep, set(), latch, tallies, blocks,
                      until=win_start + max_gap_s).latch
        latch = closed.compose(latch, tallies, blocks, thresholds_for)
        first = sweep_start = closed.cut
    if win_end > sweep_start:
        day_cover: list[tuple] = [(sweep_start, win_start, None)] if sweep_start < win_start else []
        day_cover += [(max(d0, first), min(d1, win_end), d) for d, (d0, d1) in bounds.items()
                      if d0 < win_end and d1 > first]
        # The log's last row holds until the next one or `now`: a past day asked for alone is not cut at its
        # midnight, which would make a last row within max_gap_s of it count as known here and unknown in a
        # longer report (the same day must read the same on every page).
        sweep(pts, u_times, u_names, thresholds_for, day_cover, sweep_start, win_end, float(max_gap_s), keep,
              wanted_set, latch, tallies, blocks, until=now_t)
        del pts               # a year of rows need not stay in memory while the days are counted

    # Reminders: on the local day they were shown, to the user named or the one active then.
    for t, user, kind in reminder_events(reminders):
        if t < first or t >= win_end:
            continue
        d = local_date(t, zone)
        if d not in wanted_set:
            continue
        if user is None:
            user = user_at(u_times, u_names, t)
        tl = _tally_of(tallies, user, d)
        tl.reminders[kind] = tl.reminders.get(kind, 0) + 1

    goal_of = goal_lookup(goals)
    if users is None:
        names = set(profiles) | {u for (u, d), tl in tallies.items() if u is not None and d in wanted_set}
        report_users = sorted(names, key=lambda u: str(u))
    else:
        report_users = list(dict.fromkeys(users))

    empty = Tally()                                       # read only, never added to
    names_of = {d: (d.isoformat(), iso_week(d)) for d in wanted}      # the same for every person
    # On a shared desk most people were not at it on most days: such a day's (and week's) record is the same for
    # everyone with the same goal, so it is made once and the same dict is in each of their buckets (read only:
    # the statistics are only read, and deskpi/webapp/stats_json.py encodes a shared record once).
    blank_days: dict[tuple[date, float | None], dict[str, Any]] = {}
    blank_weeks: dict[tuple, dict[str, Any]] = {}

    present = {u for (u, d) in tallies if d in wanted_set} | {u for u, own in blocks.items() if own}
    absent: dict[Any, tuple[list, list]] = {}         # goal group -> the days and weeks of its people not present

    def bucket(user: Any) -> dict[str, Any]:
        group = None if goal_groups is None or user in present else goal_groups.get(user)
        if group is not None and group in absent:
            day_recs, week_recs = absent[group]
            return {"thresholds": thresholds_for(user).as_dict(), "days": list(day_recs), "weeks": list(week_recs)}
        out = _bucket(user)
        if group is not None:
            absent[group] = (list(out["days"]), list(out["weeks"]))
        return out

    def _bucket(user: Any) -> dict[str, Any]:
        known: dict[date, float | None] = {}

        def goal_on(d: date) -> float | None:         # asked for each day, and again for its whole week
            if d not in known:
                known[d] = None if user is None else goal_value(goal_of(user, d), user, d)
            return known[d]

        day_recs: list[dict[str, Any]] = []
        by_week: dict[str, list[tuple[date, Tally, float | None]]] = {}
        own = blocks.get(user, [])
        for d in wanted:
            d0, d1 = bounds[d]
            tl = tallies.get((user, d)) or empty          # most people have most days empty on a shared desk
            longest = longest_within(own, d0, d1) if own else 0.0
            goal = goal_on(d)
            if tl is empty and not longest:              # a day without them: the same record for everyone
                rec = blank_days.get((d, goal))
                if rec is None:
                    rec = blank_days[(d, goal)] = _day_record(d, max(0.0, min(d1, now_t) - d0), empty, 0.0, goal,
                                                              *names_of[d])
                day_recs.append(rec)
            else:
                day_recs.append(_day_record(d, max(0.0, min(d1, now_t) - d0), tl, longest, goal, *names_of[d]))
            by_week.setdefault(names_of[d][1], []).append((d, tl, goal))
        week_recs = []
        for week, items in by_week.items():
            lo, hi = bounds[items[0][0]][0], bounds[items[-1][0]][1]
            longest = longest_within(own, lo, hi) if own else 0.0
            goals = tuple(g for _, _, g in items)
            whole = whole_week_goal(items[0][0], goal_on)
            if not longest and all(tl is empty for _, tl, _ in items):
                key = (week, goals, whole)
                if key not in blank_weeks:
                    blank_weeks[key] = _week_of(week, items, longest, whole)
                week_recs.append(blank_weeks[key])
            else:
                week_recs.append(_week_of(week, items, longest, whole))
        return {"thresholds": thresholds_for(user).as_dict(), "days": day_recs, "weeks": week_recs}

    out_users = {str(u): bucket(u) for u in report_users if u is not None}
    unassigned = bucket(None)
    return {"tz": tz_name(zone), "now": now_t, "first_day": wanted[0].isoformat(),
            "last_day": wanted[-1].isoformat(), "users": out_users, "unassigned": unassigned,
            "warnings": warnings}


def _week_of(week: str, items: list[tuple[date, Tally, float | None]], longest_s: float,
             whole_goal: float | None) -> dict[str, Any]:
    """One person's week from their days' (date, tally, goal)."""
    total = Tally()
    for _, tl, _ in items:
        total.add(tl)
    goals_known = [g for _, _, g in items if g]
    goal = sum(goals_known) if goals_known else None
    working = sum(1 for _, tl, _ in items if tl.measured_s >= WORKING_DAY_MIN_S)
    return _week_record(week, items, total, longest_s, goal, working, whole_goal)


def _progress(standing_s: float, goal_min: float | None) -> float | None:
    return None if not goal_min else round(standing_s / 60.0 / goal_min, 3)


def _totals(tl: Tally, longest_s: float, goal: float | None) -> dict[str, Any]:
    """The minutes, changes, reminders and goal a day and a week both report."""
    return {
        "sitting_min": _minutes(tl.secs[SIT]),
        "standing_min": _minutes(tl.secs[STAND]),
        "between_min": _minutes(tl.secs[BETWEEN]),
        "unknown_min": _minutes(tl.secs[UNKNOWN]),
        "posture_changes": tl.changes,
        "longest_standing_block_min": _minutes(longest_s),
        "reminders": dict(tl.reminders),
        "standing_goal_min": goal,
        "goal_progress": _progress(tl.secs[STAND], goal),
    }


def _day_record(d: date, day_s: float, tl: Tally, longest_s: float, goal: float | None, iso: str | None = None,
                week: str | None = None) -> dict[str, Any]:
    """One person's day. ``day_min`` is the length of the local day so far (23/24/25 h, up to now)."""
    return {"date": iso or d.isoformat(), "week": week or iso_week(d), "day_min": _minutes(day_s),
            **_totals(tl, longest_s, goal)}


def _week_record(week: str, items: list, total: Tally, longest_s: float, goal: float | None,
                 working: int, whole_goal: float | None = None) -> dict[str, Any]:
    """One person's ISO week over the days asked for: totals, and averages per working day.

    Two goals: ``standing_goal_min`` is the goal of the days asked for (for the week in progress: the
    goal so far, Monday to today), ``week_goal_min`` that of the whole week, Monday to Sunday."""
    def avg(x: float) -> float | None:
        return round(x / working, 1) + 0.0 if working else None
    monday = items[0][0] - timedelta(days=items[0][0].weekday())
    return {
        "week": week,
        "first_day": items[0][0].isoformat(),
        "last_day": items[-1][0].isoformat(),
        "monday": monday.isoformat(),
        "sunday": (monday + timedelta(days=6)).isoformat(),
        "days": len(items),
        "working_days": working,
        **_totals(total, longest_s, goal),
        "week_goal_min": whole_goal,
        "week_goal_progress": _progress(total.secs[STAND], whole_goal),
        "per_working_day": {
            "sitting_min": avg(total.secs[SIT] / 60.0),
            "standing_min": avg(total.secs[STAND] / 60.0),
            "between_min": avg(total.secs[BETWEEN] / 60.0),
            "posture_changes": avg(total.changes),
        },
    }
