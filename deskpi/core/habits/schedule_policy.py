"""When to prompt, warn or move: the sit-stand habit policy as a pure state machine.

The policy decides; the adapter (APScheduler, the web app, the buttons) only
fires what it decides and reports what happened. Nothing here reads a clock,
sleeps or starts a thread:

    policy = HabitPolicy(plan, start_date=date(2024, 1, 1))
    state = policy.new_state()
    when, event = policy.next_event(now, state)   # pure: when to wake up next, and for what
    events = policy.poll(now, state)               # at `when`: apply what is due, get what to deliver
    policy.on_height(now, state, 1103.0)           # inputs: heights, buttons, presence, outcomes...
    store.save(state.to_dict())                    # survives a daemon restart

Time. Every `now` is a *naive local wall-clock* ``datetime`` (what the Pi's
clock says in the office's time zone). Timezone-aware datetimes are refused
(TypeError), so the two can never be mixed. Working hours, lunch and holidays
are wall-clock ideas, so local time is the natural unit. Every method also
takes an optional ``mono`` (``time.monotonic()`` read at the same moment): with
it, a step of the wall clock (NTP fixing a Pi that booted without an RTC, a
DST change) is told apart from real elapsed time, and every stored time is
shifted by the step, so nothing fires early, late or twice.

Due times, not timers. Nothing is "scheduled" inside the state: the next
prompt is recomputed from the plan and the last observed facts (posture and
since when, the last natural break, skip or lapse, the live reminder). So:

- a jump forward fires at most one catch-up prompt (it is issued at `now`, and
  the next one is computed from it), never a burst of missed ones;
- a jump backward is detected (`now` earlier than the last call, or the wall
  clock disagreeing with `mono`) and the stored times are shifted with it, so
  the day's reminders are neither repeated nor lost (without `mono`, the time
  between the last state-changing call and the step counts as nothing: poll
  on every wake-up, and pass `mono` when you can);
- a restart restores the state and carries on from the same facts.

Safety. An automatic move (plan mode "auto", allowed by the admin for this
desk) needs all of: the clock known to be synchronised, no fault, working time
(not a quiet period, holiday or paused day), and the person present (PIR, or
an interaction in the last few minutes when there is no PIR). It is preceded
by a warning countdown (10 s default) that any button press cancels, and the
checks are made again when the countdown ends. A break that ends in another
posture ("move for 2 min, then sit") is the break first: its warning comes when
the break's minutes are over, never while the person is meant to be walking.
In the default "confirm" mode the desk moves only when the person confirms a prompt. Before the clock
is synchronised nothing is prompted at all: working hours mean nothing yet.

Habits (docs/ERGONOMICS.md, "Reminders"): posture changes every
sit block (30 min default); standing blocks sized so the day reaches the
week's standing goal (the plan's ramp), capped (60 min); a movement or stretch
break at the end of each standing block; one snooze per reminder (5 min);
skip; an absence or idle time of >= 10 min is a natural break that restarts
the timer; after ~4 h of prompts without any reaction it stops nagging until
the next interaction. Every reminder ends with a recorded outcome.

Here are the decisions; the state they work on, the events and the reminder
bookkeeping are in deskpi.core.habits.habit_state, and the length of the next
sit and standing blocks in deskpi.core.habits.pacing.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

from deskpi.core.habits.habit_state import (
    OUTCOMES,
    POSTURES,
    PROMPT_KINDS,
    SIT,
    STAND,
    Event,
    EventKind,
    HabitState,
    PolicyError,
    Reminder,
    SnoozeRefused,
    StaleReminder,
    check_now,
)
from deskpi.core.habits.pacing import block_lengths, presence_share
from deskpi.core.habits.plans import DEFAULT_PLAN, Plan, week_number

#: The stretch ids the policy suggests in rotation (mirrors deskpi.core.habits.stretches; a test keeps them in step).
DEFAULT_STRETCH_IDS = ("back_extension", "hip_flexor_stretch", "chin_tucks", "shoulder_rolls", "seated_twist",
                       "chest_opener", "calf_raises", "upper_back_stretch")
WALK_ID = "short_walk"

JUMP_TOLERANCE_S = 30.0             # wall vs monotonic disagreement that counts as a clock step
MAX_ACCRUAL_GAP = dt.timedelta(hours=2)   # without `mono`, a longer silent gap is not trusted as standing
HEIGHT_HYSTERESIS_MM = 20.0
CAP_LEAD = dt.timedelta(minutes=2)  # ... plus one snooze: when the cap's "time to sit" prompt comes
SEARCH_DAYS = 14


class HabitPolicy:
    """The habit policy for one person and plan; all state lives in a HabitState."""

    def __init__(self, plan: Plan = DEFAULT_PLAN, start_date: dt.date | None = None, *, week: int | None = None,
                 auto_allowed: bool = False, stand_threshold_mm: float = 900.0,
                 stretch_ids: tuple[str, ...] = DEFAULT_STRETCH_IDS, prompt_ttl_min: float = 5.0,
                 reprompt_min: float = 10.0, presence_window_min: float = 5.0,
                 finish_margin_min: float = 120.0) -> None:
        plan.validate()
        if week is not None and (isinstance(week, bool) or not isinstance(week, int) or not 1 <= week <= 520):
            raise PolicyError(f"week = {week!r} is not allowed (allowed: 1-520)")
        if not stretch_ids:
            raise PolicyError("stretch_ids = (): at least one stretch is needed")
        self.plan = plan
        self.start_date = start_date
        self.fixed_week = week
        self.auto_allowed = auto_allowed
        self.stand_threshold_mm = float(stand_threshold_mm)
        self.stretch_ids = tuple(stretch_ids)
        self.prompt_ttl = dt.timedelta(minutes=prompt_ttl_min)
        self.reprompt_min = float(reprompt_min)
        self.presence_window = dt.timedelta(minutes=presence_window_min)
        self.finish_margin = dt.timedelta(minutes=finish_margin_min)
        self.idle_break = dt.timedelta(minutes=plan.idle_break_min)
        self.warning = dt.timedelta(seconds=plan.warning_s)
        self.snooze = dt.timedelta(minutes=plan.snooze_min)
        self.nag_stop = dt.timedelta(hours=plan.nag_stop_h)

    # ---- plan-derived facts --------------------------------------------------------------------------------------
    @property
    def effective_mode(self) -> str:
        """"auto" only when the plan asks for it and the admin allowed it for this desk."""
        return "auto" if self.plan.mode == "auto" and self.auto_allowed else "confirm"

    def week_on(self, day: dt.date) -> int:
        if self.fixed_week is not None:
            return self.fixed_week
        if self.start_date is None:
            return 1
        return week_number(self.start_date, day)

    def goal_min(self, day: dt.date) -> float | None:
        """The day's standing goal as every page shows it (Plan.standing_goal_min): none on a day off or a
        holiday; with a fixed week (the simulated day), that week's goal on a working day."""
        if self.fixed_week is not None:
            return self.plan.working_day_goal_min(self.fixed_week) if self.plan.is_working_day(day) else None
        return self.plan.standing_goal_min(day, self.start_date or day)

    def ramp_goal_min(self, day: dt.date) -> float | None:
        """What the standing blocks are paced for: the ramp's goal, None without a ramp (the rhythm as it is)."""
        return self.plan.daily_goal_min(self.week_on(day))

    def new_state(self, *, clock_synced: bool = False) -> HabitState:
        return HabitState(clock_synced=clock_synced)

    def in_working_time(self, now: dt.datetime, state: HabitState) -> bool:
        return state.paused_day != now.date() and self.plan.in_working_time(now)

    def is_present(self, now: dt.datetime, state: HabitState) -> bool:
        """Present for an automatic move: PIR/idle says so, or (no such input) a recent interaction."""
        if state.present is not None:
            return state.present
        return state.last_interaction is not None and now - state.last_interaction <= self.presence_window

    def may_auto_move(self, now: dt.datetime, state: HabitState) -> tuple[bool, str]:
        if self.effective_mode != "auto":
            return False, ("auto mode is not enabled for this desk" if self.plan.mode == "auto"
                           else "the plan is in confirm mode")
        if not state.clock_synced:
            return False, "the clock is not synchronised yet"
        if state.fault:
            return False, "the desk has a fault"
        if not self.in_working_time(now, state):
            return False, "outside working time"
        if not self.is_present(now, state):
            return False, "nobody is known to be at the desk"
        return True, ""

    # ---- the two questions ---------------------------------------------------------------------------------------
    def next_event(self, now: dt.datetime, state: HabitState, *, mono: float | None = None
                   ) -> tuple[dt.datetime | None, Event]:
        """When the next thing is due and what it is; does not change `state`.

        `when` is never earlier than `now` (an overdue event is due now) and is
        None when nothing can happen before some input arrives (clock not
        synchronised, nobody at the desk, nagging stopped).
        """
        st = state.copy()
        self._advance(check_now(now), st, mono)
        return self._candidate(now, st)

    def poll(self, now: dt.datetime, state: HabitState, *, mono: float | None = None) -> list[Event]:
        """Apply whatever is due at `now` and return what to deliver (at most one new prompt)."""
        self._advance(check_now(now), state, mono)
        out: list[Event] = []
        for _ in range(6):
            when, ev = self._candidate(now, state)
            if when is None or when > now or ev.kind is EventKind.WAIT:
                break
            applied = self._apply(now, state, ev)
            out.extend(applied)
            if any(e.is_prompt or e.kind in (EventKind.WARN, EventKind.STOP_NAGGING) for e in applied):
                break
        return out

    # ---- inputs --------------------------------------------------------------------------------------------------
    def on_height(self, now: dt.datetime, state: HabitState, height_mm: float, *, mono: float | None = None
                  ) -> list[Event]:
        """A settled height reading; the posture follows it (with a little hysteresis)."""
        thr = self.stand_threshold_mm
        if state.posture == STAND:
            posture = SIT if height_mm < thr - HEIGHT_HYSTERESIS_MM else STAND
        elif state.posture == SIT:
            posture = STAND if height_mm > thr + HEIGHT_HYSTERESIS_MM else SIT
        else:
            posture = STAND if height_mm >= thr else SIT
        return self.on_posture(now, state, posture, mono=mono)

    def on_posture(self, now: dt.datetime, state: HabitState, posture: str, *, mono: float | None = None
                   ) -> list[Event]:
        if posture not in POSTURES:
            raise PolicyError(f"posture = {posture!r} is not allowed (allowed: 'sit' | 'stand')")
        self._advance(check_now(now), state, mono)
        if state.posture == posture:
            return []
        first = state.posture is None
        state.posture = posture
        state.posture_since = now
        if posture == STAND:
            state.stand_start = now
            state.cap_prompted = False
            block = self._stand_block(now, state)
            state.restart(now, block if block > 0 else float(self.plan.stand_min))
        else:
            state.stand_start = None
            state.restart(now, self._sit_block(now, state))
        if first:
            return []
        state.posture_changes_today += 1
        state.reacted(now)
        p = state.pending
        if p is not None and p.target == posture:
            state.finish(now, "followed")
        elif p is not None and p.warned_at is not None:
            state.finish(now, "cancelled")     # the person moved the desk themselves
            return [Event(EventKind.CANCEL, now, p.id, reason="the desk was moved by hand")]
        return []

    def on_interaction(self, now: dt.datetime, state: HabitState, *, source: str = "button",
                       mono: float | None = None) -> list[Event]:
        """A button press, keypad move or web action: the person is here and reacting."""
        self._advance(check_now(now), state, mono)
        events = self._back(now, state)
        state.reacted(now)
        p = state.pending
        if p is not None and p.warned_at is not None:
            # "not now": no automatic move for this reminder; it comes back once, as a question
            p.warned_at = None
            p.no_auto = True
            if p.snoozed:
                state.finish(now, "cancelled")
                state.restart(now, self._block_for(now, state))
            else:
                p.snoozed = True
                p.due_again = now + self.snooze
            events.append(Event(EventKind.CANCEL, now, p.id, target=p.target,
                                reason=f"cancelled by a {source} press during the warning"))
        return events

    def on_presence(self, now: dt.datetime, state: HabitState, present: bool, *, mono: float | None = None
                    ) -> list[Event]:
        """PIR (or similar): someone is / is no longer at the desk."""
        self._advance(check_now(now), state, mono)
        state.pir = True
        if present:
            return self._back(now, state)
        state.mark_away(now)
        return self._cancel_warning(now, state, "nobody is at the desk")

    def on_idle(self, now: dt.datetime, state: HabitState, idle_s: float, *, mono: float | None = None
                ) -> list[Event]:
        """An idle report (e.g. from the computer): no input for `idle_s` seconds up to `now`.

        Idle >= the plan's idle_break_min (10 min) means the person is away: a
        natural break, which restarts the timer when they are back. A short idle
        time means they are active (and back, if they were away).
        """
        self._advance(check_now(now), state, mono)
        if idle_s < 0 or not math.isfinite(idle_s):
            raise PolicyError(f"idle_s = {idle_s!r} is not allowed (allowed: >= 0 seconds)")
        if idle_s >= self.idle_break.total_seconds():
            state.mark_away(now - dt.timedelta(seconds=idle_s))
            return self._cancel_warning(now, state, "nobody is at the desk")
        return self._back(now, state) if state.present is False else []

    def on_outcome(self, now: dt.datetime, state: HabitState, outcome: str, reminder_id: str | None = None, *,
                   mono: float | None = None, when_back: bool = False) -> list[Event]:
        """The person answered the live reminder: confirm | acknowledge | snooze | skip.

        `when_back` (confirm or acknowledge of a break that ends in another posture, "move for 2 min,
        then sit"): the person goes on the break now and is asked again for the posture change, or in
        auto mode warned before the automatic move, when the break's minutes are over."""
        self._advance(check_now(now), state, mono)
        if outcome not in OUTCOMES:
            raise PolicyError(f"outcome = {outcome!r} is not allowed (allowed: {' | '.join(OUTCOMES)})")
        p = state.pending
        if p is None or (reminder_id is not None and reminder_id != p.id):
            live = "no reminder is live" if p is None else f"the live reminder is {p.id!r}"
            raise StaleReminder(f"reminder_id = {reminder_id!r} is not live ({live})")
        if when_back and (outcome not in ("confirm", "acknowledge") or p.target is None or not p.minutes
                          or p.kind not in (EventKind.PROMPT_MOVE.value, EventKind.PROMPT_STRETCH.value)):
            what = p.kind.removeprefix("prompt_") + (f", then {p.target}" if p.target else "")
            raise PolicyError(f"'remind me when I'm back' with {outcome!r} for the {what} reminder {p.id} is not "
                              f"allowed (allowed: confirm or acknowledge of a break that ends in sitting or standing)")
        events = self._back(now, state)
        state.reacted(now)
        if outcome == "snooze":
            if p.snoozed:
                raise SnoozeRefused(f"outcome = 'snooze' for reminder {p.id!r} is not allowed "
                                    f"(allowed: one snooze per reminder; it was already snoozed)")
            p.snoozed = True
            p.warned_at = None
            p.due_again = now + self.snooze
            return events + [Event(EventKind.EXPIRE, now, p.id, reason="snoozed",
                                   message=f"snoozed for {self.plan.snooze_min} min")]
        if outcome == "skip":
            state.finish(now, "skipped")
            state.restart(now, self._block_for(now, state))
            return events + [Event(EventKind.EXPIRE, now, p.id, reason="skipped")]
        # confirm / acknowledge
        state.finish(now, "confirmed" if outcome == "confirm" else "acknowledged")
        if p.target is None:
            # a movement/stretch break done while sitting: a new sit block starts now
            state.restart(now, self._block_for(now, state))
        elif when_back:
            # on the break now: the posture change is asked for (or warned of) when it is over
            state.restart(now, float(p.minutes or self.reprompt_min), reprompt=True)
            return events
        else:
            # wait for the posture to change; if it does not, prompt again later
            state.restart(now, self.reprompt_min, reprompt=True)
        if outcome == "confirm" and p.target is not None and p.target != state.posture:
            if state.fault:
                return events + [Event(EventKind.CANCEL, now, p.id, target=p.target, reason="fault",
                                       message="the desk has a fault: move by hand once it is cleared")]
            if not self.in_working_time(now, state):
                return events + [Event(EventKind.CANCEL, now, p.id, target=p.target, reason="outside working time")]
            return events + [Event(EventKind.MOVE, now, p.id, target=p.target, reason="confirmed")]
        return events

    def on_fault(self, now: dt.datetime, state: HabitState, active: bool, *, mono: float | None = None
                 ) -> list[Event]:
        self._advance(check_now(now), state, mono)
        state.fault = bool(active)
        return self._cancel_warning(now, state, "fault") if active else []

    def on_clock_synced(self, now: dt.datetime, state: HabitState, synced: bool = True, *,
                        mono: float | None = None) -> list[Event]:
        """The system clock is (or is no longer) known to be right (e.g. NTPSynchronized=yes)."""
        self._advance(check_now(now), state, mono)
        state.clock_synced = bool(synced)
        return []

    def pause_today(self, now: dt.datetime, state: HabitState, *, mono: float | None = None) -> list[Event]:
        """No prompts and no moves for the rest of today."""
        self._advance(check_now(now), state, mono)
        state.reacted(now)
        state.paused_day = now.date()
        p = state.pending
        if p is not None:
            state.finish(now, "paused")
            return [Event(EventKind.CANCEL if p.warned_at else EventKind.EXPIRE, now, p.id, reason="paused today")]
        return []

    def resume_today(self, now: dt.datetime, state: HabitState, *, mono: float | None = None) -> list[Event]:
        self._advance(check_now(now), state, mono)
        state.reacted(now)
        if state.paused_day == now.date():
            state.paused_day = None
            state.restart(now, self._block_for(now, state))
        return []

    def take_records(self, state: HabitState) -> list[dict]:
        """Finished reminders (and their outcomes) not yet stored: the adapter saves and drops them."""
        out, state.records = state.records, []
        return out

    def status(self, now: dt.datetime, state: HabitState) -> dict:
        """A JSON-ready summary for the web page and the CLI."""
        when, ev = self.next_event(now, state)
        goal = self.goal_min(now.date())
        st = state.copy()
        self._advance(now, st, None)
        return {
            "mode": self.effective_mode, "week": self.week_on(now.date()),
            "goal_min": None if goal is None else round(goal),
            "standing_min": round(st.standing_s / 60.0, 1), "posture": st.posture,
            "posture_changes": st.posture_changes_today, "reminders": st.reminders_today,
            "paused_today": st.paused_day == now.date(), "nagging_stopped": st.nag_stopped,
            "clock_synced": st.clock_synced, "fault": st.fault,
            "pending": None if st.pending is None else {"id": st.pending.id, "kind": st.pending.kind},
            "next": {"at": when.isoformat() if when else None, "kind": ev.kind.value, "reason": ev.reason},
        }

    # ---- internals: facts ----------------------------------------------------------------------------------------
    def _advance(self, now: dt.datetime, state: HabitState, mono: float | None) -> None:
        """Bring the state up to `now`: clock steps, a new day, standing time."""
        if state.last_wall is not None:
            step = None
            if mono is not None and state.last_mono is not None:
                jump = (now - state.last_wall).total_seconds() - (mono - state.last_mono)
                if abs(jump) > JUMP_TOLERANCE_S:
                    step = jump
            elif now < state.last_wall:
                step = (now - state.last_wall).total_seconds()     # stepped back: assume no time passed
            if step is not None:
                state.shift(dt.timedelta(seconds=step))
                state.clock_jumps += 1
        state.clamp_future(now)
        if state.day is None or now.date() > state.day:
            state.new_day(now)
        self._accrue(now, state, trusted=mono is not None and state.last_mono is not None)
        state.last_wall = now
        state.last_mono = mono

    def _accrue(self, now: dt.datetime, state: HabitState, *, trusted: bool) -> None:
        """Count today's working time since the last call: standing, and time known to be away."""
        start = state.accrued_to
        state.accrued_to = now
        if start is None or now <= start or state.paused_day == now.date():
            return
        if now - start > MAX_ACCRUAL_GAP and not trusted:
            return                     # a long silence without monotonic time may be a clock step
        start = max(start, dt.datetime.combine(now.date(), dt.time()))
        for a, b in self.plan.periods(now.date()):
            lo, hi = max(a, start), min(b, now)
            if hi > lo:
                secs = (hi - lo).total_seconds()
                state.work_s += secs
                if state.present is False:
                    state.away_s += secs
                elif state.posture == STAND:
                    state.standing_s += secs

    def _back(self, now: dt.datetime, state: HabitState) -> list[Event]:
        """The person is here (again). A long enough absence was a natural break."""
        was_away, since = state.present is False, state.away_since
        # with a presence sensor the person is now known to be here; without one, presence goes back to
        # "unknown" (an automatic move then needs a recent interaction)
        state.present = True if state.pir else None
        state.away_since = None
        if not was_away or since is None or now - since < self.idle_break:
            return []
        state.natural_breaks_today += 1
        return self._afresh(now, state, "natural_break", "natural break")

    def on_person_changed(self, now: dt.datetime, state: HabitState, *, mono: float | None = None) -> list[Event]:
        """Someone else is at the desk now (or nobody): the live reminder was the previous person's, and
        ends unanswered; this policy's person starts a block of their own plan from the posture the desk is in."""
        self._advance(check_now(now), state, mono)
        state.unanswered_since = None
        state.nag_stopped = False
        return self._afresh(now, state, "person_changed", "someone else is at the desk")

    def _afresh(self, now: dt.datetime, state: HabitState, outcome: str, reason: str) -> list[Event]:
        """A new block from now, as after a break: the live reminder (if any) ends with `outcome`."""
        events = []
        p = state.pending
        if p is not None:
            state.finish(now, outcome)
            events.append(Event(EventKind.CANCEL if p.warned_at else EventKind.EXPIRE, now, p.id, target=p.target,
                                reason=reason))
        if state.posture == STAND:
            state.stand_start = now
            state.cap_prompted = False
            block = self._stand_block(now, state)
            state.restart(now, block if block > 0 else float(self.plan.stand_min))
        else:
            state.restart(now, self._sit_block(now, state))
        return events

    def _cancel_warning(self, now: dt.datetime, state: HabitState, reason: str) -> list[Event]:
        """A running auto-move countdown ends without a move (the reminder is done; ask again later)."""
        p = state.pending
        if p is None or p.warned_at is None:
            return []
        state.finish(now, "cancelled")
        state.restart(now, self.reprompt_min, reprompt=True)
        return [Event(EventKind.CANCEL, now, p.id, target=p.target, reason=reason)]

    def _block_for(self, now: dt.datetime, state: HabitState) -> float:
        """A fresh block in the current posture (after a skip, a break, a new working period)."""
        if state.posture == STAND:
            return float(self.plan.stand_min)
        return self._sit_block(now, state)

    # ---- internals: what is due ----------------------------------------------------------------------------------
    def _pace(self, now: dt.datetime, state: HabitState) -> tuple[float, float]:
        """(sit, stand) block lengths in minutes for blocks starting now (deskpi.core.habits.pacing)."""
        return block_lengths(self.plan, self.ramp_goal_min(now.date()), state.standing_s / 60.0, now,
                             finish_margin=self.finish_margin,
                             presence=presence_share(state.work_s, state.away_s))

    def _stand_block(self, now: dt.datetime, state: HabitState) -> float:
        return self._pace(now, state)[1]

    def _sit_block(self, now: dt.datetime, state: HabitState) -> float:
        return self._pace(now, state)[0]

    def _periods_from(self, now: dt.datetime, state: HabitState):
        day = now.date()
        for i in range(SEARCH_DAYS):
            d = day + dt.timedelta(days=i)
            if state.paused_day == d:
                continue
            for a, b in self.plan.periods(d):
                if b > now:
                    yield a, b

    def _candidate(self, now: dt.datetime, state: HabitState) -> tuple[dt.datetime | None, Event]:
        p = state.pending
        if p is not None:
            if p.warned_at is not None:
                when = max(p.warned_at + self.warning, now)
                return when, Event(EventKind.AUTO_MOVE, when, p.id, target=p.target, stretch_id=p.stretch_id,
                                   minutes=p.minutes, reason=p.reason)
            if p.due_again is not None:
                when = max(p.due_again, now)
                return when, Event(EventKind(p.kind), when, p.id, target=p.target, stretch_id=p.stretch_id,
                                   minutes=p.minutes, reason="snoozed")
            after_break = self._auto_after_break(p)
            if after_break is not None and after_break < p.issued_at + self.prompt_ttl:
                when = max(after_break, now)
                return when, Event(EventKind.WARN, when, p.id, target=p.target, stretch_id=p.stretch_id,
                                   minutes=p.minutes, reason="after the break")
            when = max(p.issued_at + self.prompt_ttl, now)
            return when, Event(EventKind.EXPIRE, when, p.id, reason="no reaction")
        if not state.clock_synced:
            return None, Event(EventKind.WAIT, reason="the clock is not synchronised yet")
        if state.nag_stopped:
            return None, Event(EventKind.WAIT, reason="no reaction for hours: waiting for the next interaction")
        if state.present is False:
            return None, Event(EventKind.WAIT, reason="nobody is at the desk")
        posture = state.posture or SIT
        for a, b in self._periods_from(now, state):
            ts, timer_len = state.timer_start, state.timer_len_min
            day_start = dt.datetime.combine(a.date(), self.plan.start)
            fresh = ts is None or timer_len is None or ts < day_start
            if ts is None or timer_len is None or fresh:
                # the working day starts a fresh block (a quiet period does not: its time still counts,
                # and a prompt that fell due during it comes when it ends)
                anchor, length = a, self._block_for(a, state)
            else:
                anchor, length = ts, timer_len
            due = anchor + dt.timedelta(minutes=length)
            cap_due = None
            if posture == STAND and not state.cap_prompted:
                stand_start = max(state.stand_start or anchor, day_start)
                cap_due = self._cap_prompt_at(stand_start)
            reprompt = state.timer_is_reprompt and not fresh
            if cap_due is not None and cap_due < due:
                due, reprompt, reason = cap_due, True, "cap"
            else:
                reason = "reprompt" if reprompt else "block"
            when = max(due, now, a)
            if when < b:
                if state.unanswered_since is not None and when - state.unanswered_since >= self.nag_stop:
                    return when, Event(EventKind.STOP_NAGGING, when, reason="no reaction for hours",
                                       message="No more reminders until you next use the desk.")
                return when, self._prompt_for(when, state, posture, reprompt, reason)
        horizon = dt.datetime.combine(now.date() + dt.timedelta(days=SEARCH_DAYS), dt.time())
        return horizon, Event(EventKind.WAIT, horizon, reason="no working time in the next two weeks")

    def _prompt_for(self, when: dt.datetime, state: HabitState, posture: str, reprompt: bool, reason: str
                    ) -> Event:
        if posture == STAND:
            if reprompt or state.cap_prompted or self.plan.move_min == 0 or state.fault:
                kind = EventKind.PROMPT_SIT
                minutes = None
            else:
                kind = EventKind.PROMPT_STRETCH if state.break_seq % 2 else EventKind.PROMPT_MOVE
                minutes = float(self.plan.move_min)
            target = None if state.fault else SIT
            if reason == "cap":
                msg = (f"You have stood for {self.plan.stand_cap_min} min, the longest block in your plan: "
                       "time to sit.")
            elif minutes:
                msg = f"Standing block done: move for {minutes:.0f} min, then sit."
            else:
                msg = "Time to sit."
            return Event(kind, when, target=target, minutes=minutes,
                         stretch_id=self._stretch_for(kind, state), reason=reason, message=msg)
        block = 0.0 if state.fault else self._stand_block(when, state)
        if block > 0:
            return Event(EventKind.PROMPT_STAND, when, target=STAND, minutes=block, reason=reason,
                         message=f"Time to stand for about {block:.0f} min.")
        # goal reached for today (or a fault): a posture break without standing the desk up
        kind = EventKind.PROMPT_STRETCH if state.break_seq % 2 else EventKind.PROMPT_MOVE
        why = "the desk has a fault" if state.fault else "today's standing goal is reached"
        return Event(kind, when, minutes=float(max(self.plan.move_min, 2)), stretch_id=self._stretch_for(kind, state),
                     reason="fault" if state.fault else "goal_reached",
                     message=f"Time for a short movement break ({why}).")

    def _cap_prompt_at(self, stand_start: dt.datetime) -> dt.datetime:
        """When the cap's "time to sit" comes: early enough that even after one snooze the block ends in time."""
        return stand_start + dt.timedelta(minutes=self.plan.stand_cap_min) - self.snooze - CAP_LEAD

    def _stretch_for(self, kind: EventKind, state: HabitState) -> str | None:
        if kind is EventKind.PROMPT_MOVE:
            return WALK_ID
        if kind is EventKind.PROMPT_STRETCH:
            return self.stretch_ids[state.stretch_seq % len(self.stretch_ids)]
        return None

    # ---- internals: applying what is due -------------------------------------------------------------------------
    def _apply(self, now: dt.datetime, state: HabitState, ev: Event) -> list[Event]:
        p = state.pending
        if ev.kind is EventKind.EXPIRE:
            state.finish(now, "ignored")
            state.restart(now, self.reprompt_min, reprompt=True)
            return [Event(EventKind.EXPIRE, now, ev.reminder_id, reason="no reaction")]
        if ev.kind is EventKind.AUTO_MOVE:
            ok, why = self.may_auto_move(now, state)
            if ok and p is not None and p.target is not None:
                state.finish(now, "auto_moved")
                state.restart(now, self.reprompt_min, reprompt=True)
                return [Event(EventKind.AUTO_MOVE, now, ev.reminder_id, target=ev.target, stretch_id=ev.stretch_id,
                              minutes=ev.minutes, reason=ev.reason)]
            state.finish(now, "cancelled")
            state.restart(now, self.reprompt_min, reprompt=True)
            return [Event(EventKind.CANCEL, now, ev.reminder_id, target=ev.target, reason=why)]
        if ev.kind is EventKind.WARN and p is not None:
            # the break is over: the automatic move, warned first, if it may happen now
            if self.may_auto_move(now, state)[0]:
                return [self._warn(now, p)]
            p.no_auto = True          # not now: the reminder stays a question
            return []
        if ev.kind in PROMPT_KINDS and p is not None:
            # a snoozed reminder comes back, once, if it still makes sense
            if not self.in_working_time(now, state) or state.present is False:
                state.finish(now, "ignored")
                state.restart(now, self.reprompt_min, reprompt=True)
                return [Event(EventKind.EXPIRE, now, p.id, reason="snoozed past working time or absence")]
            p.due_again = None
            p.issued_at = now
            return [self._deliver(now, state, p)]
        if ev.kind is EventKind.STOP_NAGGING:
            state.nag_stopped = True
            state.records.append({"id": None, "kind": EventKind.STOP_NAGGING.value, "outcome": "stopped",
                                  "issued_at": now.isoformat(), "outcome_at": now.isoformat(),
                                  "reason": "no reaction since " + (state.unanswered_since.isoformat()
                                                                    if state.unanswered_since else "the start")})
            return [replace(ev, at=now)]
        if ev.kind in PROMPT_KINDS:
            state.seq += 1
            state.reminders_today += 1
            if ev.kind in (EventKind.PROMPT_MOVE, EventKind.PROMPT_STRETCH):
                state.break_seq += 1
            if ev.kind is EventKind.PROMPT_STRETCH:
                state.stretch_seq += 1
            if ev.reason == "cap" or (state.posture == STAND and state.stand_start is not None
                                      and now >= self._cap_prompt_at(state.stand_start)):
                state.cap_prompted = True
            if state.unanswered_since is None:
                state.unanswered_since = now
            rid = f"{(state.day or now.date()).strftime('%Y%m%d')}-{state.seq}"
            state.pending = Reminder(id=rid, kind=ev.kind.value, issued_at=now, first_issued_at=now,
                                     target=ev.target, stretch_id=ev.stretch_id, minutes=ev.minutes, reason=ev.reason,
                                     message=ev.message)
            return [self._deliver(now, state, state.pending)]
        return []

    def _deliver(self, now: dt.datetime, state: HabitState, p: Reminder) -> Event:
        kind = EventKind(p.kind)
        if (p.target is not None and not p.no_auto and not _is_break(p)
                and self.may_auto_move(now, state)[0]):
            return self._warn(now, p)
        return Event(kind, now, p.id, target=p.target, stretch_id=p.stretch_id, minutes=p.minutes, reason=p.reason,
                     message=p.message)

    def _warn(self, now: dt.datetime, p: Reminder) -> Event:
        p.warned_at = now
        return Event(EventKind.WARN, now, p.id, target=p.target, stretch_id=p.stretch_id, minutes=p.minutes,
                     countdown_s=self.plan.warning_s, reason=p.reason,
                     message=f"The desk will move to {p.target} in {self.plan.warning_s} s: "
                             "press any button to cancel.")

    def _auto_after_break(self, p: Reminder) -> dt.datetime | None:
        """When a break that ends in another posture warns of its automatic move: once its minutes are over."""
        if not _is_break(p) or p.target is None or p.no_auto or self.effective_mode != "auto":
            return None
        return p.issued_at + dt.timedelta(minutes=p.minutes or 0)


def _is_break(p: Reminder) -> bool:
    """A movement or stretch break (the person may be away from the desk for its minutes)."""
    return p.kind in (EventKind.PROMPT_MOVE.value, EventKind.PROMPT_STRETCH.value) and bool(p.minutes)
