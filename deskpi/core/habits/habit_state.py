"""What the habit policy knows and says: its state, the live reminder, the events it emits.

The state is plain data the adapter persists (`to_dict`/`from_dict`) so a
restart carries on from the same facts; its bookkeeping (a block restarted,
a reminder finished with its outcome, a new day) is done here so the policy
(deskpi.core.habits.schedule_policy) only decides. Times are naive local
wall-clock datetimes; `shift` moves them all when the clock steps.
"""
from __future__ import annotations

import copy
import datetime as dt
import enum
from dataclasses import asdict, dataclass, field, fields

SIT = "sit"
STAND = "stand"
POSTURES = (SIT, STAND)


class EventKind(enum.StrEnum):
    PROMPT_STAND = "prompt_stand"       # "time to stand" (confirm: the desk goes up)
    PROMPT_SIT = "prompt_sit"           # "time to sit" (standing too long / after a lapse)
    PROMPT_MOVE = "prompt_move"         # a short walk; target sit if standing, else none
    PROMPT_STRETCH = "prompt_stretch"   # a stretch from the catalogue (stretch_id)
    WARN = "warn"                       # auto mode: countdown before moving; any button press cancels
    AUTO_MOVE = "auto_move"             # auto mode: move the desk now (all checks passed again)
    MOVE = "move"                       # the person confirmed a prompt: move the desk now
    EXPIRE = "expire"                   # a prompt lapsed without reaction: clear it from the screen
    CANCEL = "cancel"                   # a warned auto move did not happen (button, absence, fault, ...)
    STOP_NAGGING = "stop_nagging"       # no reaction for hours: silent until the next interaction
    WAIT = "wait"                       # nothing to do (see `reason`); `when` is None or a re-check time


PROMPT_KINDS = frozenset({EventKind.PROMPT_STAND, EventKind.PROMPT_SIT, EventKind.PROMPT_MOVE,
                          EventKind.PROMPT_STRETCH})
OUTCOMES = ("confirm", "acknowledge", "snooze", "skip")


class PolicyError(ValueError):
    """An input the policy refuses; the message names what was given and what is allowed."""


class SnoozeRefused(PolicyError):
    pass


class StaleReminder(PolicyError):
    pass


def check_now(now: object) -> dt.datetime:
    if not isinstance(now, dt.datetime):
        raise TypeError(f"now = {now!r}: must be a naive local datetime")
    if now.tzinfo is not None:
        raise TypeError(f"now = {now.isoformat()}: must be naive local wall-clock time, not timezone-aware")
    return now


@dataclass(frozen=True)
class Event:
    kind: EventKind
    at: dt.datetime | None = None
    reminder_id: str | None = None
    target: str | None = None           # the posture the desk would move to, if any
    stretch_id: str | None = None
    minutes: float | None = None        # how long to stand / move / stretch
    countdown_s: int | None = None
    reason: str = ""
    message: str = ""

    @property
    def is_prompt(self) -> bool:
        return self.kind in PROMPT_KINDS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kind"] = self.kind.value
        d["at"] = self.at.isoformat() if self.at else None
        return d


@dataclass
class Reminder:
    """The live reminder (at most one at a time)."""
    id: str
    kind: str
    issued_at: dt.datetime
    target: str | None = None
    stretch_id: str | None = None
    minutes: float | None = None
    reason: str = ""
    snoozed: bool = False
    due_again: dt.datetime | None = None      # snoozed until
    warned_at: dt.datetime | None = None      # auto mode: countdown running since
    first_issued_at: dt.datetime | None = None
    message: str = ""
    no_auto: bool = False                     # the person cancelled a warning: only ask from now on


_DT_FIELDS = ("posture_since", "timer_start", "stand_start", "accrued_to", "last_interaction",
              "unanswered_since", "away_since", "last_wall")


@dataclass
class HabitState:
    """Everything the policy knows; persist `to_dict()` to survive a restart."""
    day: dt.date | None = None
    posture: str | None = None              # observed: sit | stand | None (not seen yet)
    posture_since: dt.datetime | None = None
    timer_start: dt.datetime | None = None  # start of the running block (posture change, break, skip, lapse)
    timer_len_min: float | None = None      # its length
    timer_is_reprompt: bool = False         # the running block follows a lapsed/skipped prompt
    stand_start: dt.datetime | None = None  # start of the current continuous standing block
    cap_prompted: bool = False
    standing_s: float = 0.0                 # standing today (present, in working time)
    work_s: float = 0.0                     # working time elapsed today
    away_s: float = 0.0                     # ... of which the person was known to be away
    accrued_to: dt.datetime | None = None
    last_interaction: dt.datetime | None = None
    unanswered_since: dt.datetime | None = None
    nag_stopped: bool = False
    present: bool | None = None             # True/False from a PIR or idle reports; None: no such input
    pir: bool = False                       # a presence sensor has reported at least once
    away_since: dt.datetime | None = None
    fault: bool = False
    clock_synced: bool = False
    paused_day: dt.date | None = None
    pending: Reminder | None = None
    seq: int = 0                            # reminders issued today (ids)
    reminders_today: int = 0
    posture_changes_today: int = 0
    natural_breaks_today: int = 0
    stretch_seq: int = 0
    break_seq: int = 0
    clock_jumps: int = 0
    records: list[dict] = field(default_factory=list)   # finished reminders not yet taken by the adapter
    last_wall: dt.datetime | None = None
    last_mono: float | None = None          # not persisted: monotonic time means nothing after a reboot

    def copy(self) -> HabitState:
        return copy.deepcopy(self)

    # ---- bookkeeping ---------------------------------------------------------------------------------------------
    def restart(self, now: dt.datetime, length_min: float, *, reprompt: bool = False) -> None:
        """A new block starts now (posture change, break, skip, lapse); `reprompt`: it follows an unanswered prompt."""
        self.timer_start = now
        self.timer_len_min = float(length_min)
        self.timer_is_reprompt = reprompt

    def finish(self, now: dt.datetime, outcome: str) -> None:
        """The live reminder ends with `outcome`: recorded for the adapter to store, and dropped."""
        p = self.pending
        if p is None:
            return
        self.records.append({
            "id": p.id, "kind": p.kind, "target": p.target, "stretch_id": p.stretch_id, "reason": p.reason,
            "issued_at": (p.first_issued_at or p.issued_at).isoformat(), "snoozed": p.snoozed,
            "auto": p.warned_at is not None, "outcome": outcome, "outcome_at": now.isoformat(),
        })
        self.pending = None

    def reacted(self, now: dt.datetime) -> None:
        """The person did something: they are not ignoring the reminders."""
        self.last_interaction = now
        self.unanswered_since = None
        self.nag_stopped = False

    def mark_away(self, since: dt.datetime) -> None:
        if self.present is not False:
            self.away_since = since
        else:
            self.away_since = min(self.away_since or since, since)
        self.present = False

    def new_day(self, now: dt.datetime) -> None:
        """The first call on a new day: yesterday's live reminder lapses and the day's counts start at zero."""
        p = self.pending
        if p is not None and self.day is not None:
            self.finish(now, "ignored" if p.warned_at is None else "cancelled")
        self.day = now.date()
        self.standing_s = 0.0
        self.work_s = 0.0
        self.away_s = 0.0
        self.seq = 0
        self.reminders_today = 0
        self.posture_changes_today = 0
        self.natural_breaks_today = 0
        if self.paused_day is not None and self.paused_day < now.date():
            self.paused_day = None

    # ---- clock steps ---------------------------------------------------------------------------------------------
    def shift(self, delta: dt.timedelta) -> None:
        """The wall clock stepped by `delta`: move every stored time with it."""
        for name in _DT_FIELDS:
            v = getattr(self, name)
            if v is not None:
                setattr(self, name, v + delta)
        p = self.pending
        if p is not None:
            p.issued_at += delta
            for name in ("due_again", "warned_at", "first_issued_at"):
                v = getattr(p, name)
                if v is not None:
                    setattr(p, name, v + delta)

    def clamp_future(self, now: dt.datetime) -> None:
        """No fact can be later than now (a clock that stepped back without `mono`)."""
        for name in _DT_FIELDS:
            v = getattr(self, name)
            if v is not None and v > now:
                setattr(self, name, now)
        p = self.pending
        if p is not None:
            if p.issued_at > now:
                p.issued_at = now
            if p.warned_at is not None and p.warned_at > now:
                p.warned_at = now

    # ---- persistence ---------------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out: dict = {}
        for f in fields(self):
            if f.name == "last_mono":
                continue
            v = getattr(self, f.name)
            if f.name == "pending":
                v = None if v is None else {k: _enc(x) for k, x in asdict(v).items()}
            elif f.name == "records":
                v = [dict(r) for r in v]
            else:
                v = _enc(v)
            out[f.name] = v
        out["version"] = 1
        return out

    @classmethod
    def from_dict(cls, data: dict) -> HabitState:
        if not isinstance(data, dict) or data.get("version") != 1:
            raise PolicyError(f"state = {str(data)[:60]!r}: not a saved habit state (allowed: version 1)")
        st = cls()
        for f in fields(cls):
            if f.name not in data or f.name == "last_mono":
                continue
            v = data[f.name]
            if f.name == "pending":
                v = None if v is None else Reminder(**{k: _dec(k, x) for k, x in v.items()})
            elif f.name == "records":
                v = [dict(r) for r in v]
            else:
                v = _dec(f.name, v)
            setattr(st, f.name, v)
        return st


def _enc(v):
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    return v


_DATE_FIELDS = {"day", "paused_day"}
_DATETIME_FIELDS = set(_DT_FIELDS) | {"issued_at", "due_again", "warned_at", "first_issued_at"}


def _dec(name: str, v):
    if v is None:
        return None
    if name in _DATE_FIELDS:
        return dt.date.fromisoformat(v)
    if name in _DATETIME_FIELDS:
        return dt.datetime.fromisoformat(v)
    return v
