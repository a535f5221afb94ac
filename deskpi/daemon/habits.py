"""The sit-stand habit adapter: APScheduler fires the pure policy; this delivers what it decides.

The policy (deskpi/core/habits/schedule_policy.py) decides when to prompt, what to
suggest and when a move may happen. This module only: wakes at the time the
policy asks for (one APScheduler date job, replaced whenever the answer may
have changed), feeds it what happened (heights, interactions, faults, the
clock being synchronised), shows prompts (LED/buzzer pattern, the web page),
carries out confirmed moves through the arbiter, and records every reminder
and its outcome in the store. State is saved after every change so a restart
carries on from the same facts; on a full disk the reminders carry on unrecorded.

In the default confirm mode the desk only moves when the person confirms a
prompt; automatic moves exist only in "auto" mode, only if the admin allowed
them for this desk, and the policy re-checks presence, working time, faults
and the clock before each one.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable

from deskpi.core.faults import MotionRefused
from deskpi.core.habits import stretches
from deskpi.core.habits.habit_state import EventKind, HabitState, PolicyError
from deskpi.core.habits.plans import DEFAULT_PLAN, Plan
from deskpi.core.habits.schedule_policy import HabitPolicy
from deskpi.core.types import Caller, Source
from deskpi.util.storage import StorageFull

log = logging.getLogger(__name__)

STATE_KEY = "habits.state"
_UNSAID = object()          # a state saved before it said whose it was
FOLLOW_S = 1.0            # how stale the person and plan behind a snapshot may be
MEASURE_S = 2.0           # how stale today's measured standing in a snapshot may be (the feed asks 10 times a second)
RECHECK_S = 60.0           # wake at least this often: clock sync, day change, a restored state
_KIND = {"prompt_stand": "stand", "prompt_sit": "sit", "prompt_move": "move", "prompt_stretch": "stretch"}
# "followed": the person changed posture with the desk's own buttons or a preset while the prompt
# was up; that is the button-press confirmation of confirm mode.
_OUTCOME = {"confirmed": "confirmed", "followed": "confirmed", "acknowledged": "acknowledged",
            "skipped": "skipped", "snoozed": "snoozed"}


def clock_is_synchronised() -> bool:
    """True once systemd-timesyncd (or chrony/ntpd through the kernel) says the clock is right."""
    if os.path.exists("/run/systemd/timesync/synchronized"):
        return True
    try:
        import ctypes
        import ctypes.util

        class Timex(ctypes.Structure):
            _fields_ = [("modes", ctypes.c_uint)] + [(f"f{i}", ctypes.c_long) for i in range(40)]

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = Timex()
        state = libc.adjtimex(ctypes.byref(tx))
        return state not in (-1, 5)      # 5 = TIME_ERROR: the kernel knows it is not synchronised
    except (OSError, AttributeError):
        return False


class HabitService:
    def __init__(self, store, desk, *, scheduler=None, indicators=None, plan: Plan | None = None,
                 auto_allowed: bool = False, clock_synced: Callable[[], bool] = clock_is_synchronised,
                 wall: Callable[[], dt.datetime] = dt.datetime.now, mono: Callable[[], float] = time.monotonic,
                 start_date: dt.date | None = None) -> None:
        self.store = store
        self.desk = desk
        self.indicators = indicators
        self.clock_synced = clock_synced
        self.wall = wall
        self.mono = mono
        self._lock = threading.RLock()
        self.auto_allowed = auto_allowed
        self._fixed_plan = plan
        self._start_date = start_date
        self._plan_key: tuple | None = None
        self._followed_at = float("-inf")
        self._skipped = dt.timedelta(0)     # how far skip_to_next moved this service's clock ahead (simulator)
        self._measured: tuple[str | None, float, dict] | None = None     # (person, at, their day) last counted
        self.policy = self._policy_for_active_user()
        self.state, self._store_ids, saved_for = self._load()
        self.current: dict | None = self._restored_prompt()
        if scheduler is None:
            from apscheduler.schedulers.background import BackgroundScheduler
            scheduler = BackgroundScheduler(daemon=True)
        self.scheduler = scheduler
        self._started = False
        self.pir = None
        # Metrics (deskpi/daemon/metrics.py), when on: "shown", then each outcome as it is recorded; no person.
        self.on_reminder: Callable[[str], None] | None = None
        if saved_for is not _UNSAID and saved_for != self._plan_key[0]:
            self._hand_over()       # saved for someone else than who is at the desk now (changed while it was down)

    def _policy_for_active_user(self) -> HabitPolicy:
        """The active person's own plan, its standing ramp counted from when they joined."""
        from deskpi.people.accounts import goal_since, plan_for

        user = self.store.get_active_user()
        key = self._key_of(user)
        if self._fixed_plan is not None or user is None:
            plan = self._fixed_plan or DEFAULT_PLAN
        else:
            plan, _ = plan_for(self.store, user.name)
        start = self._start_date or (goal_since(user) if user is not None and user.created_at
                                     else self.wall().date())
        policy = HabitPolicy(plan, start_date=start, auto_allowed=self.auto_allowed,
                             stand_threshold_mm=_stand_threshold(user))
        # Only now: a busy store that failed half-way must leave the key as it was, so the next look
        # tries again (it named the newcomer while keeping the last person's plan, for good).
        self._plan_key = key
        return policy

    def _key_of(self, user) -> tuple:
        """What the policy depends on: the person, their plan and their sit/stand heights."""
        if user is None:
            return (None, None, None, None)
        stored = self.store.get_plan(user.name)
        return (user.name, None if stored is None else stored.updated_at, user.seated_mm, user.standing_mm)

    def _follow_active_user(self) -> None:
        if self._key_of(self.store.get_active_user()) == self._plan_key:
            return
        self._rebuild_policy()

    def _rebuild_policy(self) -> bool:
        """The active person's policy afresh; True if that is someone else than before."""
        before = self._plan_key[0] if self._plan_key else None
        self.policy = self._policy_for_active_user()
        if self._plan_key[0] == before:
            return False
        self._reschedule(self._hand_over())
        return True

    def _hand_over(self) -> dt.datetime:
        """Someone else is at the desk: the live reminder was the one who left's (theirs to answer, stored under
        their name), and the newcomer's first block comes from their own plan, not from the last one's clock."""
        now = self.wall()
        self._deliver(self.policy.on_person_changed(now, self.state, mono=self.mono()), now)
        return now

    def _follow_now(self) -> None:
        """Follow the person at the desk now (under the lock), a busy or closing store keeping the last."""
        self._followed_at = time.monotonic()
        try:
            self._follow_active_user()
        except Exception:
            log.debug("could not follow the active user", exc_info=True)

    # -- persistence ----------------------------------------------------------
    def _load(self) -> tuple[HabitState, dict[str, int], object]:
        """The saved state, its reminders' store ids, and whose it was (_UNSAID: saved before that was kept)."""
        raw = self.store.get_setting(STATE_KEY)
        if raw:
            try:
                data = json.loads(raw)
                return (HabitState.from_dict(data["state"]), {k: int(v) for k, v in data["store_ids"].items()},
                        data.get("person", _UNSAID))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("ignoring saved habit state: %s", exc)
        return self.policy.new_state(), {}, _UNSAID

    def _restored_prompt(self) -> dict | None:
        """After a restart the live reminder is still live: show it again, without recording it twice."""
        p = self.state.pending
        if p is None or p.kind not in _KIND:
            return None
        return self._prompt_dict(p.id, p.kind, p.target, p.message, p.minutes, p.issued_at, p.stretch_id)

    def _save(self) -> None:
        _kept(self.store.set_setting, STATE_KEY,
              json.dumps({"state": self.state.to_dict(), "store_ids": self._store_ids,
                          "person": self._plan_key[0] if self._plan_key else None}))

    # -- scheduling -----------------------------------------------------------
    def start(self) -> None:
        if not self._started:
            self.scheduler.start()
            self._started = True
        if self.pir is not None:
            # gpiozero fires no event for the state it finds at start: report it once.
            self.defer(lambda: self.on_presence(bool(self.pir.motion_detected)))
        snapshot = getattr(self.desk, "snapshot", None)
        if snapshot is not None and self.state.fault != bool(snapshot().get("fault")):
            # A fault saved with the state before a restart is gone unless the desk still has it
            # (no "cleared" event comes for it): a stale one hides the reminders' heights.
            self.on_fault(bool(snapshot().get("fault")))
        self.tick()

    def close(self) -> None:
        if self.pir is not None:
            self.pir.close()
        if self._started:
            self.scheduler.shutdown(wait=False)
            self._started = False
        with self._lock:
            self._save()

    def _reschedule(self, now: dt.datetime) -> None:
        when, _ = self.policy.next_event(now, self.state, mono=self.mono())
        latest = now + dt.timedelta(seconds=RECHECK_S)
        run_at = latest if when is None else min(max(when, now), latest)
        if self._started:
            self.scheduler.add_job(self.tick, "date", run_date=run_at, id="habits", replace_existing=True,
                                   misfire_grace_time=None, coalesce=True)
        self.next_wake = run_at

    def tick(self) -> None:
        """Wake-up: tell the policy the time (and whether the clock can be trusted), deliver what is due."""
        with self._lock:
            now, mono = self.wall(), self.mono()
            try:
                self._follow_active_user()
                if self.state.clock_synced != bool(self.clock_synced()):
                    self.policy.on_clock_synced(now, self.state, bool(self.clock_synced()), mono=mono)
                self._deliver(self.policy.poll(now, self.state, mono=mono), now)
            except Exception:
                log.exception("habit policy failed")
            self._reschedule(now)

    def defer(self, fn, *args) -> None:
        """Run fn(*args) on the scheduler's thread: callers on the control loop must not wait for the store."""
        if self._started:
            self.scheduler.add_job(fn, args=args)
        else:
            fn(*args)

    # -- inputs ------------------------------------------------------------------
    def on_height(self, height_mm: float | None) -> None:
        if height_mm is None:
            return
        self._input(lambda now, mono: self.policy.on_height(now, self.state, height_mm, mono=mono))

    def on_interaction(self, source: str = "button") -> None:
        self._input(lambda now, mono: self.policy.on_interaction(now, self.state, source=source, mono=mono))

    def on_presence(self, present: bool) -> None:
        self._input(lambda now, mono: self.policy.on_presence(now, self.state, present, mono=mono))

    def on_fault(self, active: bool) -> None:
        self._input(lambda now, mono: self.policy.on_fault(now, self.state, active, mono=mono))

    def outcome(self, outcome: str, reminder_id: str | None = None, *, move: bool | None = None,
                when_back: bool = False, by: Caller | None = None) -> dict:
        """The person answered the live reminder (confirm | acknowledge | snooze | skip).

        `move`: None, a confirmed prompt moves the desk to its posture as the plan says (not used by the
        API, where an answer without `move` never moves the desk); False, the answer is recorded and
        nothing moves (the page's Done); True, confirm and move
        the desk to the reminder's posture now (the page's "Lower to 66 cm now"): MotionRefused says why
        the desk did not move (the answer stays recorded). `when_back`: on a break now, ask again (or,
        in auto mode, warn before moving) when the break is over. PolicyError for an answer not allowed."""
        with self._lock:
            self._follow_now()              # the answer is the person's at the desk now, under their plan
            now, mono = self.wall(), self.mono()
            pending = self.state.pending
            live = pending.id if pending is not None else None
            if move and outcome != "confirm":
                raise PolicyError(f"moving the desk goes with 'confirm', not {outcome!r}")
            if move and move_is_pointless(pending, reminder_id):
                raise PolicyError(f"the reminder {live} asks for no posture change: there is no height to move to")
            events = self.policy.on_outcome(now, self.state, outcome, reminder_id, mono=mono, when_back=when_back)
            target = None if pending is None else pending.target
            if move is not None:                 # the page moves the desk only by its labelled button
                events = [e for e in events if e.kind is not EventKind.MOVE]
            if outcome == "snooze" and live in self._store_ids:
                _kept(self.store.update_reminder, self._store_ids[live], "snoozed", now.timestamp())
                self._count("snoozed")
            self._deliver(events, now)
            if self.current is not None and self.state.pending is None:
                self.current = None              # answered: nothing left to show
            self._reschedule(now)
            height = self._posture_height(target) if move else None
            if move and height is None:
                raise MotionRefused(f"there is no {target} height to move to: save preset "
                                    f"{1 if target == 'sit' else 2} ({target}) first")
        if height is not None:
            self.desk.move_to(height, Source.REMOTE, f"reminder: {target}", by=by)
        return {"outcome": outcome, "reminder": self.current, "target_mm": height}

    def set_auto_allowed(self, allowed: bool) -> None:
        """The desk policy changed (admin page): automatic moves on or off from now on."""
        with self._lock:
            if allowed != self.auto_allowed:
                self.auto_allowed = allowed
                # Rebuilt through the same door as following someone: a person who sat down since the last
                # look must not inherit the one who left's reminder along with the new policy.
                if not self._rebuild_policy():
                    self._reschedule(self.wall())

    def skip_to_next(self) -> dict:
        """Simulator only: move this service's clock ahead to the next reminder and deliver it.
        LookupError when none can come (the reason says why)."""
        with self._lock:
            now, mono = self.wall(), self.mono()
            if self.current is not None:
                return self.snapshot()
            when, ev = self.policy.next_event(now, self.state, mono=mono)
            if when is None:
                raise LookupError(f"no reminder can come now: {ev.reason}")
            ahead = when - now + dt.timedelta(seconds=1)
            self._skipped += ahead
            base_wall, base_mono = self.wall, self.mono
            # Both clocks jump together: a wall clock that moved alone would be taken for a clock step.
            self.wall = lambda: base_wall() + ahead
            self.mono = lambda: base_mono() + ahead.total_seconds()
        self.tick()
        return self.snapshot()

    def pause_today(self, paused: bool = True) -> None:
        with self._lock:
            self._follow_now()
            now, mono = self.wall(), self.mono()
            fn = self.policy.pause_today if paused else self.policy.resume_today
            self._deliver(fn(now, self.state, mono=mono), now)
            self._reschedule(now)

    def _input(self, fn) -> None:
        with self._lock:
            now, mono = self.wall(), self.mono()
            try:
                events = fn(now, mono)
            except PolicyError:
                log.exception("habit input refused")
                return
            pending = self.state.pending
            stale = self.current is not None and (pending is None or pending.id != self.current["id"])
            if events or stale or self.state.records:
                if stale:
                    self.current = None      # answered by changing posture, not by a tap
                self._deliver(events, now)
                self._reschedule(now)

    # -- outputs ------------------------------------------------------------------
    def _deliver(self, events, now: dt.datetime) -> None:
        for ev in events:
            if ev.is_prompt:
                self.current = self._prompt(ev, now)
                self._show("reminder")
            elif ev.kind is EventKind.WARN:
                self._set_state("warning_countdown")
            elif ev.kind in (EventKind.MOVE, EventKind.AUTO_MOVE):
                self._move(ev)
                self.current = None
            elif (ev.kind in (EventKind.EXPIRE, EventKind.CANCEL, EventKind.STOP_NAGGING) and self.current is not None
                  and (ev.reminder_id is None or ev.reminder_id == self.current["id"])):
                self.current = None
        self._store_records()
        self._save()

    def _prompt(self, ev, now: dt.datetime) -> dict:
        if ev.reminder_id not in self._store_ids:       # a snoozed reminder coming back is the same one
            user = self.store.get_active_user()
            store_id = _kept(self.store.record_reminder, None if user is None else user.name,
                             _KIND[ev.kind.value], now.timestamp(), stretch_id=ev.stretch_id)
            if store_id is not None:
                self._store_ids[ev.reminder_id] = store_id
            self._count("shown")
        return self._prompt_dict(ev.reminder_id, ev.kind.value, ev.target, ev.message, ev.minutes, now,
                                 ev.stretch_id)

    def _prompt_dict(self, rid, kind, target, message, minutes, issued_at, stretch_id) -> dict:
        guidance = None
        if stretch_id:
            try:
                guidance = stretches.get(stretch_id).to_dict()
            except (KeyError, LookupError, ValueError):
                guidance = None
        return {"id": rid, "kind": _KIND[kind], "target": target, "message": message, "minutes": minutes,
                "issued_at": issued_at.isoformat(timespec="seconds"), "stretch": guidance,
                "mode": self.policy.effective_mode}

    def _store_records(self) -> None:
        for rec in self.policy.take_records(self.state):
            store_id = self._store_ids.pop(rec.get("id"), None)
            outcome = _OUTCOME.get(rec.get("outcome"), "expired")
            self._count(outcome)
            if store_id is None:
                continue
            at = rec.get("outcome_at")
            t = dt.datetime.fromisoformat(at).timestamp() if at else time.time()
            try:
                _kept(self.store.update_reminder, store_id, outcome, t)
            except Exception:
                log.exception("could not record the outcome of reminder %s", rec.get("id"))

    def _move(self, ev) -> None:
        height = self._posture_height(ev.target)
        if height is None:
            return
        # A confirmed prompt is the person's own request; an automatic move is the schedule's.
        source = Source.SCHEDULE if ev.kind is EventKind.AUTO_MOVE else Source.REMOTE
        try:
            self.desk.move_to(height, source, f"habit: {ev.target}")
        except MotionRefused as exc:
            log.info("habit move not made: %s", exc)

    def _posture_height(self, posture: str | None) -> float | None:
        if posture not in ("sit", "stand"):
            return None
        presets = self.desk.presets.all()
        return presets.get(1 if posture == "sit" else 2)

    def _count(self, outcome: str) -> None:
        if self.on_reminder is not None:
            self.on_reminder(outcome)

    def _show(self, pattern: str) -> None:
        if self.indicators is not None:
            self.indicators.show(pattern)

    def _set_state(self, state: str) -> None:
        if self.indicators is not None:
            self.indicators.set_state(state)

    def snapshot(self) -> dict:
        with self._lock:
            # The goal shown is that of the plan of whoever is at the desk now, not as of the last tick; the
            # live feed asks ten times a second, the store is asked at most once a second.
            if time.monotonic() - self._followed_at >= FOLLOW_S:
                self._follow_now()
            wall = self.wall()
            status = self.policy.status(wall, self.state)
            current, person = self.current, self._plan_key[0] if self._plan_key else None
            if current is not None:
                # The height its posture is at for the person now (their preset): the page's "Raise to 110 cm now".
                current = {**current, "target_mm": self._posture_height(current.get("target"))}
        status.update(self._measured_today(person, (wall - self._skipped).timestamp()))
        # Whose reminder and status these are: for up to FOLLOW_S after someone new comes to the desk they
        # are still the previous person's, and a page must not show them as the newcomer's.
        return {"reminder": current, "status": status, "user": person}

    def _measured_today(self, person: str | None, now: float) -> dict:
        """Today's standing minutes, goal, posture changes and reminders shown of the person at the desk
        as the statistics count them (people.accounts.standing_today): the home line and the reminders
        page show these, so they agree with the statistics page, `deskpi stats` and the API. The
        policy's own counts (working time only, the desk's posture whoever stands at it) only pace the
        reminders. Nobody at the desk: no goal. Asked of the store at most every MEASURE_S; outside the
        lock (a few queries)."""
        from deskpi.people.accounts import standing_today

        last = self._measured
        if last is not None and last[0] == person and abs(now - last[1]) < MEASURE_S:
            return last[2]
        if person is None:
            value: dict = {"goal_min": None}
        else:
            try:
                day = standing_today(self.store, person, now=now)
            except Exception:          # a busy store, a person just removed: the last count will do
                log.debug("snapshot: could not count today's standing", exc_info=True)
                return last[2] if last is not None and last[0] == person else {}
            goal = day["standing_goal_min"]
            value = {"standing_min": day["standing_min"], "goal_min": None if goal is None else round(goal),
                     "posture_changes": day["posture_changes"], "reminders": day["reminders"].get("shown", 0),
                     "date": day["date"]}
        self._measured = (person, now, value)
        return value


def move_is_pointless(pending, reminder_id: str | None) -> bool:
    """The live reminder (the one answered) has no posture to move the desk to."""
    return (pending is not None and (reminder_id is None or reminder_id == pending.id)
            and pending.target is None)


def _stand_threshold(user) -> float:
    """Where the reminders tell standing from sitting: the middle of the person's own sit/stand band,
    as the statistics classify (900 mm, the middle of the EN 527-1 gap, without a profile)."""
    from deskpi.core.habits.posture_stats import Thresholds

    try:
        th = Thresholds() if user is None else Thresholds.for_profile(user.seated_mm, user.standing_mm)
    except (TypeError, ValueError):
        th = Thresholds()
    return th.midpoint_mm


def _kept(write: Callable, *args, **kwargs):
    """A store write a full disk may refuse (StorageFull): the reminders carry on without the record,
    and the store's storage monitor raises the flag and logs it once a minute. None when refused."""
    try:
        return write(*args, **kwargs)
    except StorageFull:
        return None
