"""The motion controller: a pure state machine that decides when the motor runs.

Feed it readings and the time; it answers with the direction the motor should
be driven in (or None) and when it next needs to be woken. It never sleeps,
never reads a clock and never touches a pin, so the same code runs on a Pi, in
the simulator, and thousands of times faster on a virtual clock.

The motor is off unless a live request wants it on: a move with a target, or
a hold whose lease is still being renewed. Any fault cuts it first and then
says why; faults latch until `clear_fault`.
"""
from __future__ import annotations

import enum
import math

from ..faults import Fault, FaultKind, MotionRefused
from ..types import CurrentSample, Direction, EchoStatus, Reading
from . import approach, pressed, resume
from .approach import Approach, Settle
from .config import Command, MotionConfig, MoveReport
from .duty import DutyCycle
from .estimator import HeightEstimator, SensorHealth, Verdict
from .goal import Goal
from .interlock import Interlock
from .judge import Suspicion, hasty, undecided, verdict
from .settling import NoisePool, combine, robust_mean, still_moving
from .stopmodel import StopModel


class State(enum.Enum):
    IDLE = "idle"
    MOVING_UP = "moving_up"
    MOVING_DOWN = "moving_down"
    SETTLING = "settling"
    FAULT = "fault"


class MotionController:
    BACKOFF_APPROACHES = 3
    def __init__(self, config: MotionConfig | None = None, model: StopModel | None = None) -> None:
        self.cfg = config or MotionConfig()
        self.model = model or StopModel.initial(self.cfg.speed_up_mm_s, self.cfg.speed_down_mm_s)
        self.estimator = HeightEstimator(self.cfg.estimator)
        self.interlock = Interlock(self.cfg.dead_time_s)
        self.duty = DutyCycle(self.cfg.duty_max_on_s, self.cfg.duty_window_s)
        self.noise_mm = self.cfg.noise_mm
        self.fault: Fault | None = None
        self.events: list[tuple[str, object]] = []
        self._goal: Goal | None = None
        self._approach: Approach | None = None
        self._settle: Settle | None = None
        self._drive: Direction | None = None
        self._rest: tuple[float, float, float] | None = None
        self._scatter = NoisePool()
        self._noise_seen_t: float | None = None     # readings at rest up to here are in the noise pool
        self._now = 0.0
        self._ping_s = 0.06            # time between readings, learned: the sensor pings faster while moving
        self._last_reading_t: float | None = None

    # -- state --------------------------------------------------------------
    @property
    def state(self) -> State:
        if self.fault is not None:
            return State.FAULT
        if self._approach is not None:
            d = self._approach.direction
        elif self._goal is not None and self._settle is None:
            d = self._goal_direction(self._goal)
        else:
            return State.SETTLING if self._settle is not None else State.IDLE
        return State.MOVING_UP if d is Direction.UP else State.MOVING_DOWN

    @property
    def target_mm(self) -> float | None:
        if self._goal is None or self._goal.kind == "backoff":
            return None
        return self._goal.target if self._goal.kind == "goto" else None

    @property
    def busy(self) -> bool:
        """A request (or a fault's back-off) is still being carried out."""
        return self._goal is not None or self._approach is not None or self._settle is not None

    @property
    def drive(self) -> Direction | None:
        return self._drive

    def height_mm(self) -> float | None:
        if self._approach is not None:
            return self._approach.fit.position(self._now)
        return self.estimator.height()

    def drain_events(self) -> list[tuple[str, object]]:
        out, self.events = self.events, []
        return out

    # -- requests -----------------------------------------------------------
    def move_to(self, target_mm: float, now: float, *, source: str = "api") -> None:
        self._now = max(self._now, now)
        target = self._check_target(target_mm)
        here = self._check_can_move(now)
        if self._approach is None and abs(target - here) <= self.cfg.tolerance_mm:
            self._finish(Goal("goto", target, source, now, here, 0), here, now)
            return
        d = Direction.UP if target > here else Direction.DOWN
        need = abs(target - here) / self.model[d].speed_mm_s + self.model[d].startup_s
        if self.duty.remaining(now) < need:
            wait = self.duty.ready_at(now, need) - now
            raise MotionRefused(
                f"the motor is resting to protect it (at most {self.cfg.duty_max_on_s:.0f} s on in any "
                f"{self.cfg.duty_window_s / 60:.0f} min); this move needs {need:.0f} s, ready in {wait:.0f} s")
        corrections = self.cfg.max_corrections if self.cfg.corrections else 0
        self._set_goal(Goal("goto", target, source, now, here, corrections), now)

    def hold(self, direction: Direction, now: float, *, source: str = "button", lease_s: float | None = None) -> None:
        """Move while held: each call renews a short lease; silence stops the desk."""
        self._now = max(self._now, now)
        direction = Direction(direction)
        lease = self.cfg.hold_lease_s if lease_s is None else min(lease_s, self.cfg.hold_lease_s)
        g = self._goal
        if g is not None and g.kind == "hold" and self._goal_direction(g) is direction:
            g.lease_until = now + lease
            return
        here = self._check_can_move(now)
        if self.duty.remaining(now) <= 0.5:
            raise MotionRefused(
                f"the motor is resting to protect it (at most {self.cfg.duty_max_on_s:.0f} s on in any "
                f"{self.cfg.duty_window_s / 60:.0f} min)")
        limit = self.cfg.max_mm if direction is Direction.UP else self.cfg.min_mm
        if direction * (limit - here) <= self.cfg.tolerance_mm:
            raise MotionRefused(
                f"the desk is already at its {'upper' if direction is Direction.UP else 'lower'} limit "
                f"({limit:.0f} mm; limits are {self.cfg.min_mm:.0f}-{self.cfg.max_mm:.0f} mm)")
        self._set_goal(Goal("hold", limit, source, now, here, 0, lease_until=now + lease), now)

    def release(self, now: float) -> None:
        if self._goal is not None and self._goal.kind == "hold":
            self._cut(now, learnable=True)
            self._goal = None
            self._no_motion_after_settle()

    def stop(self, now: float, reason: str = "stop") -> None:
        """Stop beats everything, including a fault's own back-off."""
        self._now = max(self._now, now)
        if self._approach is not None:
            self._cut(now, learnable=self._goal is not None and self._goal.kind != "backoff")
        self._goal = None
        self._no_motion_after_settle()

    def _no_motion_after_settle(self) -> None:
        """A person said stop: a pause in progress must not resume, and a suspected
        obstruction may still be recorded once settled, but never backed off from."""
        s = self._settle
        if s is not None:
            s.resume = False
            s.stopped = True

    def clear_fault(self, now: float) -> None:
        if self.fault is None:
            return
        self._cut(now, learnable=False)
        self._goal = None
        self.events.append(("fault_cleared", self.fault))
        self.fault = None

    def fail(self, detail: str, now: float) -> None:
        """Something outside the controller broke: motor off and latch an internal fault."""
        self._raise_fault(FaultKind.INTERNAL, detail, now)

    # -- the loop -----------------------------------------------------------
    def tick(self, now: float, reading: Reading | CurrentSample | None = None) -> Command:
        self._now = max(self._now, now)
        try:
            if isinstance(reading, CurrentSample):
                self._on_current(reading)
            elif reading is not None:
                self._on_reading(reading)
            self._check_health(now)
            self._advance(now)
        except Exception as exc:  # noqa: BLE001 - any bug on a motion path must stop the motor
            self._raise_fault(FaultKind.INTERNAL, f"{type(exc).__name__}: {exc}", now)
        return Command(self._drive, self._wake_at(now))

    # -- internals ------------------------------------------------------------
    def _check_target(self, target_mm) -> float:
        try:
            target = float(target_mm)
        except (TypeError, ValueError):
            raise MotionRefused(
                f"target height must be a number of millimetres within the desk's limits "
                f"{self.cfg.min_mm:.0f}-{self.cfg.max_mm:.0f} mm, got {target_mm!r}") from None
        if not math.isfinite(target) or not self.cfg.min_mm <= target <= self.cfg.max_mm:
            raise MotionRefused(
                f"target {target_mm!r} mm is outside the desk's limits "
                f"{self.cfg.min_mm:.0f}-{self.cfg.max_mm:.0f} mm")
        return target

    def _check_can_move(self, now: float) -> float:
        """Refuse to move without a fresh height; otherwise return the height a move starts from."""
        if self.fault is not None:
            raise MotionRefused(f"the desk has a fault and will not move until it is cleared: {self.fault.message}")
        here = self.height_mm()   # None only when the estimator has no height, refused anyway
        if not self.estimator.is_fresh(now) or self.estimator.height() is None or here is None:
            raise MotionRefused("no fresh height reading from the sensor; the desk will not move blind")
        return here

    def _goal_direction(self, g: Goal) -> Direction:
        here = self._settle_height_guess(g)
        return Direction.UP if g.heading >= here else Direction.DOWN

    def _settle_height_guess(self, g: Goal) -> float:
        h = self.estimator.height()
        return g.start_mm if h is None else h

    def _set_goal(self, goal: Goal, now: float) -> None:
        if self._approach is not None:
            a = self._approach
            same_way = Direction.UP if goal.target > a.fit.position(now) else Direction.DOWN
            if same_way is a.direction and not a.retreat:
                # Retarget on the fly: no stop, no settle, same measurements.
                a.target = a.aim = goal.target
                a.pulse = None
                m = self.model[a.direction]
                a.cut_at = a.fit.cut_time(a.aim, m.stop_lag_s)
                # Further on takes longer than the first target's deadline allowed, and nearer never does.
                further_s = abs(goal.target - a.fit.position(now)) / m.speed_mm_s
                a.deadline = max(a.deadline, approach.deadline(now, further_s))
                if self._goal:
                    goal.carry_run(self._goal)
                self._goal = goal
                return
            self._cut(now, learnable=True)
        elif (old := self._goal) is not None and old.kind == goal.kind == "goto" and self._settle is not None \
                and self._settle.suspect is not None \
                and (old.target - (here := self._settle_height_guess(old))) * (goal.target - here) > 0:
            goal.carry_run(old)     # asked again while paused on a suspicion, the same way: the same move
        self._goal = goal

    def _on_reading(self, r: Reading) -> None:
        verdict = self.estimator.add(r)
        last, self._last_reading_t = self._last_reading_t, r.t
        if self._approach is not None and last is not None and 0.0 < r.t - last < 0.2:
            self._ping_s += 0.1 * (r.t - last - self._ping_s)
        if r.status is EchoStatus.SILENT and self._approach is not None:
            # A working HC-SR04 always answers a ping; when it does not, stop
            # first and decide later whether it was a glitch or a dead sensor.
            self._pause(r.t)
            return
        y = r.height_mm
        a = self._approach
        if a is not None and y is not None and r.t >= a.t_on:
            # Every echo, accepted or not: a sensor stuck on a wild value is rejected by the
            # estimator, and would otherwise be seen only once the estimator gave in to it.
            finding = a.stuck.add(y, a.fit.speed(r.t) * self._ping_s, self.noise_mm)
            if finding:
                self._suspect(a, r.t, *finding)
                return
        if verdict is not Verdict.ACCEPTED or y is None:   # an accepted reading always has a height
            return
        if self._approach is not None and r.t >= self._approach.t_on:
            self._track(self._approach, r.t, y)
        elif self._settle is not None and r.t >= self._settle.settle_from:
            self._settle.readings.append(y)

    def _on_current(self, c: CurrentSample) -> None:
        a = self._approach
        if a is None or a.current is None or c.t < a.t_on or not self.cfg.current_sensing:
            return
        moved = a.direction * (a.fit.position(c.t) - a.fit.x0)
        finding = a.current.add(c.t, c.amps, moved)
        if finding is None:
            return
        kind, detail = finding
        in_backoff = self._goal is not None and self._goal.kind == "backoff"
        if a.current.settled or in_backoff or a.current.beyond:
            # A rise from this move's own running current, or a current no healthy motor draws either way,
            # is direct evidence: latch now (pausing to ask the desk, which in 0.2 s has not had time to
            # show anything, drove a stalled motor on twice more).
            backoff = kind is FaultKind.OBSTRUCTION and not in_backoff
            self._raise_fault(kind, detail, c.t, backoff_from=a.direction if backoff else None)
        else:
            # More current than healthy moves drew, from the start: a stall, a motor running
            # the wrong way (it draws what the other direction does), or a desk loaded more
            # heavily than ever before. Motor off now; the settled desk says which.
            self._suspect(a, c.t, kind, detail, current_a=a.current.seen_a(), other_way=a.current.other_way)

    def _track(self, a: Approach, t: float, y: float) -> None:
        fit = a.fit
        pred = fit.position(t)
        gate = max(4.5 * self.noise_mm, 8.0) + 3 * fit.position_sd(t)
        plausible = abs(y - pred) <= gate
        finding = a.startup.add(t, y) or (None if a.collapse.settled_in else a.early.add(t, y))
        finding = finding or a.collapse.add(t, y, t_on=a.t_on, d=fit.d, plausible=plausible)
        if finding and finding[0] is FaultKind.OBSTRUCTION and a.current is not None and a.current.quiet(t):
            # A desk that met something draws more current at once; this one does not: the
            # echoes misled the collapse test, and the motor is not pushing on anything.
            finding = None
        slowing = None if finding or not plausible else a.bend.add(t, y, t_on=a.t_on, d=fit.d, expected=pred) \
            or (a.resume.add(t, y, expected=pred) if a.resume is not None else None)
        if slowing and not (self._goal is not None and self._goal.kind == "backoff"):
            self._suspect(a, t, *slowing, direct=True)
            return
        finding = finding or slowing
        if finding:
            kind, detail = finding
            if self._goal is not None and self._goal.kind == "backoff":
                if kind is FaultKind.STALL:
                    # A heavy desk slow to get going off the obstacle: motor off, and the back-off's
                    # next approach (it has a few) tries again.
                    self._pause(t)
                else:
                    self._raise_fault(kind, detail, t)     # already in a fault: just stop
            else:
                self._suspect(a, t, kind, detail)
            return
        if plausible:
            fit.add(t, y)
            a.cut_at = fit.cut_time(a.aim, self.model[a.direction].stop_lag_s)

    def _suspect(self, a: Approach, t: float, kind: FaultKind, detail: str, *, direct: bool = False,
                 current_a: float | None = None, other_way: bool = False) -> None:
        """Motor off at once; once the desk has settled, decide fault or false alarm (judge.py).

        So the monitors can be quick, and a rare statistical false alarm costs a pause,
        not a latched fault.
        """
        d = a.direction
        m = self.model[d]
        if kind is FaultKind.OBSTRUCTION:
            # The whole move's fit, not the collapse test's reference line: a false
            # alarm is precisely a moment when that short line has been misled.
            v = a.fit.speed(t)
            coast = v * m.stop_lag_s
            expected = a.fit.position(t) + d * coast
            # A coast measured on a few stops is known to 15 %; before that it is the default's
            # guess, and the free desk may stop anywhere from the cut to the whole guessed coast.
            learned = m.stop_lag_n >= 3
            spread = math.hypot(a.fit.position_sd(t), 0.15 * coast if learned else 0.0)
            coast_unknown = 0.0 if learned else coast
        else:
            expected = a.fit.x0 + d * m.travel_for_on_time(t - a.t_on)
            spread = 0.15 * abs(expected - a.fit.x0)
            coast_unknown = 0.0
        onset = a.collapse.onset or a.early.onset
        blocked = onset[1] if kind is FaultKind.OBSTRUCTION and onset else None
        g = self._goal
        at = a.fit.position(t) if blocked is None else blocked
        ran_free = g is not None and not a.retreat and resume.ran_free(
            a.fit, g.free_speed.get(d), g.dismissed_at, at, self._near_mm)
        if g is not None and kind is FaultKind.OBSTRUCTION and not a.retreat and a.fit.steady_samples() >= 8:
            g.free_speed.setdefault(d, (a.fit.fit.v, math.sqrt(a.fit.fit.var_v)))   # a speed the readings measured
        self._pause(t)
        self.events.append(("suspicion", {"kind": kind.value, "detail": detail, "t": t, "direct": direct}))
        s = self._settle
        assert s is not None   # a was the approach under way, so the pause's cut has just begun a settle
        s.suspect = Suspicion(kind, detail, d, a.fit.x0, expected, spread, blocked, direct, a.fit.start_sd,
                              current_a, coast_unknown, ran_free, other_way)
        if g is not None:
            s.suspect = g.together(s.suspect, self._near_mm)

    def _pause(self, now: float) -> None:
        """Motor off as a precaution; the goal stands and resumes once the readings do."""
        self._cut(now, learnable=False)
        if self._settle is not None:
            self._settle.resume = True

    def _check_health(self, now: float) -> None:
        last = self.estimator.last_accepted_t
        if self._approach is not None and last is not None and now - last > self.cfg.pause_after_s:
            # Do not drive on blind for long: a few lost echoes in a row are
            # normal on carpet, so pause rather than fault, unless it persists.
            self._pause(now)
        health = self.estimator.health(now)
        if health is SensorHealth.SILENT and self.fault is None:
            self._raise_fault(FaultKind.SENSOR_DEAD, "the height sensor stopped answering pings", now)
        elif health is SensorHealth.STALE and self._motor_wanted() and self.fault is None:
            age = now - (self.estimator.last_accepted_t or now)
            self._raise_fault(FaultKind.SENSOR_STALE, f"no usable height reading for {age:.2f} s while moving", now)

    def _motor_wanted(self) -> bool:
        return self._approach is not None or self._goal is not None

    def _advance(self, now: float) -> None:
        a = self._approach
        if a is not None:
            g = self._goal
            if g is not None and g.kind == "hold" and g.lease_until is not None and now >= g.lease_until:
                self._cut(now, learnable=True)
                self._goal = None
                self.events.append(("hold_expired", now))
            elif now >= a.cut_at:
                self._cut(now, learnable=True)
            elif now >= a.deadline:
                self._raise_fault(FaultKind.TRAVEL_TIMEOUT,
                                  f"still moving {now - a.t_on:.0f} s after starting a move that should take "
                                  f"{a.deadline - a.t_on:.0f} s at most", now)
            elif self.duty.used(now) >= self.cfg.duty_max_on_s:
                self._raise_fault(FaultKind.DUTY_CYCLE,
                                  f"motor on for {self.cfg.duty_max_on_s:.0f} s in the last "
                                  f"{self.cfg.duty_window_s / 60:.0f} min", now)
            else:
                pos = a.fit.position(now)
                # Only travel that takes the desk further out counts: a desk left
                # outside the limits must still be able to come back in.
                over = pos - self.cfg.max_mm if a.direction is Direction.UP else self.cfg.min_mm - pos
                if over > self.cfg.limit_overrun_mm:
                    self._raise_fault(FaultKind.OUT_OF_LIMITS, f"{over:.0f} mm past the soft limit", now)
            return
        g = self._goal
        if g is not None and g.kind == "hold" and g.lease_until is not None and now >= g.lease_until:
            # The lease ran out during a pause: nobody is holding the button any more.
            self._goal = None
            self.events.append(("hold_expired", now))
        if self._settle is not None:
            self._advance_settle(self._settle, now)
            return
        if self._goal is not None:
            self._start(self._goal, now)

    def _advance_settle(self, s: Settle, now: float) -> None:
        need = self.cfg.settle_samples
        if len(s.readings) < need:
            return
        if still_moving(s.readings, self.estimator.cfg.window, self.noise_mm) and now - s.t_cut < 5.0:
            del s.readings[: len(s.readings) // 2]   # the desk is still creeping: wait for it
            return
        measured, n_used = robust_mean(s.readings, self.noise_mm)
        # The fit's expectation is where a free desk would stop: no help when whether it ran
        # free is the question (a blend would put a blocked desk past what blocked it).
        final, se = combine(measured, self.noise_mm / math.sqrt(n_used), None if s.suspect else s.expected)
        sus = s.suspect
        if sus is not None and len(s.readings) < 3 * need and (
                undecided(sus, final, se, self.noise_mm) or hasty(sus, s.readings, final, se, self.noise_mm)):
            # Not yet beyond doubt: resuming on a guess drives into a real obstacle again,
            # and latching on one stops a healthy desk until someone clears it.
            return
        g = self._goal
        if g is not None and g.kind == "goto" and g.corrections_left > 0:
            err = abs(g.target - final)
            if abs(err - self.cfg.tolerance_mm) < 2 * se and len(s.readings) < 2 * need:
                return  # too close to call: listen a little longer
        self._settle = None
        self._rest = (now, final, se)
        if s.suspect is not None:
            if self._judge(s.suspect, s.readings, final, se, now, s.target, s.stopped):
                return
            if undecided(s.suspect, final, se, self.noise_mm) and self._retreat(g, s, final, now):
                assert g is not None      # _retreat steps a goto back
                g.dismissed -= 1          # not one more false alarm: the desk looks again
        elif g is not None:
            g.tried = None                # a run with nothing suspected: the starts before it are not in a row
        if self._pressed(s, g, measured, self.noise_mm / math.sqrt(n_used), now):
            return      # not learned from: a squeezed coast is not this desk's
        self.noise_mm = self._scatter.add(s.readings, self.noise_mm)
        if s.learnable:
            self.model.learn_stop(s.direction, s.fit, s.t_cut, measured, s.pulse, s.running_a, s.current_peak)
        if g is None:
            return
        if g.kind == "backoff" and g.approaches > 0:
            # A short pulse off a squeezed obstacle can fall well short (the desk barely got going):
            # go on until it has really let go, but never hunt for the millimetre.
            if abs(g.target - final) <= max(self.cfg.tolerance_mm, self.cfg.backoff_mm / 3) \
                    or g.approaches >= self.BACKOFF_APPROACHES:
                self._goal = None
            return
        if s.retreat:
            return          # stepped back from an undecided suspicion: _start comes back for the target
        if g.kind == "hold":
            return          # a hold asked for while settling: _start runs it (its lease is checked first)
        if (s.resume or g.kind == "backoff") and (g.kind != "goto" or abs(g.target - final) > self.cfg.tolerance_mm):
            return      # _start carries on from here
        if g.kind == "goto" and abs(g.target - final) > self.cfg.tolerance_mm and g.corrections_left > 0:
            g.corrections_left -= 1
            g.corrections_done += 1
            return  # _start on the next advance runs the correction
        self._finish(g, final, now)

    def _judge(self, sus: Suspicion, readings: list[float], final: float, se: float, now: float,
               target: float, stopped: bool = False) -> bool:
        """Latch the suspected fault if the settled desk confirms it; True if it did."""
        g = self._goal
        end = g is not None and g.kind == "goto" and pressed.on_end_stop(self.cfg, target, sus.direction, final)
        found = verdict(sus, readings, final, se, self.noise_mm, on_stop=end)
        if found is None and sus.current_a is not None:
            # The desk moved as it should while drawing more than ever before: it is heavier
            # now. Learn that, or every move would stop on it.
            self.model[sus.direction].learn_current(sus.current_a / 1.1)
        if found is None and g is not None:
            # Counted unless the desk has since gone on at its own speed well past the last one's rest:
            # on the slow desk a heavily loaded move met two false collapse alarms 21 mm apart, each leg at
            # full speed, then a slow start, and three counted latched a desk with nothing in its way.
            g.dismissed += 0 if sus.ran_free else 1
            g.dismissed_at, g.tried = final, None if sus.kind is FaultKind.OBSTRUCTION else sus
            if sus.kind is FaultKind.OBSTRUCTION and g.obstruction_at is not None \
                    and abs(final - g.obstruction_at) <= self._near_mm:
                # Slowed to a stop twice in the same place: echoes do not mislead twice at one
                # height, something is there; never drive into it a third time.
                found = (sus.kind, f"{sus.detail} (a second time at {final:.0f} mm)")
            elif g.dismissed > 2:      # a "false alarm" three times over is not one
                found = (sus.kind, f"{sus.detail} (seen {g.dismissed} times in one move)")
            if sus.kind is FaultKind.OBSTRUCTION:
                g.dismissed_obstruction = True
                g.obstruction_at = final
        if found is None:
            self.events.append(("suspicion_dismissed", {"kind": sus.kind.value, "t": now}))
            return False
        if found[0] in (FaultKind.STALL, FaultKind.OBSTRUCTION) and end and g is not None:
            self._finish(g, final, now)     # the re-zero that follows corrects the drift
            return True
        if found[0] is FaultKind.STALL and g is not None and g.dismissed_obstruction:
            # It slowed to a stop, went on, and now will not move at all: something is in the way.
            found = (FaultKind.OBSTRUCTION, f"the desk stopped against something: {found[1]}")
        backoff = found[0] is FaultKind.OBSTRUCTION and not stopped
        self._raise_fault(*found, now, backoff_from=sus.direction if backoff else None)
        return True

    def _retreat(self, g: Goal | None, s: Settle, final: float, now: float) -> bool:
        """Blocked or free, still undecided after the longest listen: step back before looking again.

        Resuming from where it stopped would press a soft obstacle (a hand, a chair arm) harder
        from the start; stepping back lets go of it, and far enough back the desk meets it again
        at full speed with its collapse test's line at full length (a shorter one is likelier to
        raise a false alarm there, latched as a second stop), and the judge latches a second stop
        at the same height. (Stepping back only the back-off's
        30 mm, the slow desk met a chair arm again before its collapse check had a line to go by,
        and pressed it to 640 N where the first stop had 400.) A free desk loses a few seconds,
        a few times in a thousand moves. Once per goto, never from a step back (that would be
        towards what the first stop may have met), never past a new target the other way, and
        only within the motor's duty cycle (a duty-cycle fault would stop a healthy desk).
        True if the goto steps back.
        """
        if g is None or g.kind != "goto" or s.stopped or self.cfg.backoff_mm <= 0 or s.retreat \
                or g.stepped_back:
            return False
        d = s.direction
        if d * (g.target - final) <= self.cfg.tolerance_mm:
            return False          # a new target the other way came while it settled
        m = self.model[d]
        met = s.suspect.blocked_mm if s.suspect is not None and s.suspect.blocked_mm is not None else final
        full_s = approach.collapse_check(self.cfg, m, self.noise_mm, self._ping_s).full_s
        back = max(self.cfg.backoff_mm, d * (final - met) + m.speed_mm_s * full_s)
        to = min(max(final - d * back, self.cfg.min_mm), self.cfg.max_mm)
        # Motor time: the rest of the move as it is, and the step back and the way back on top.
        rest_s = abs(g.target - final) / m.speed_mm_s + m.startup_s
        extra_s = abs(to - final) * (1.0 / self.model[d.opposite].speed_mm_s + 1.0 / m.speed_mm_s) \
            + self.model[d.opposite].startup_s + m.startup_s
        if abs(to - final) <= self.cfg.tolerance_mm \
                or self.duty.used(now) + rest_s + 1.2 * extra_s > self.cfg.duty_max_on_s:
            return False
        g.retreat_to, g.stepped_back = to, True
        return True

    def _pressed(self, s: Settle, g: Goal | None, measured: float, se: float, now: float) -> bool:
        """Latch an obstruction if this goto's stops, added up, fell short of a free desk's beyond doubt
        (deskpi.core.motion.pressed: a soft obstacle met in the last centimetres)."""
        if g is None or g.kind != "goto" or pressed.near_end_stop(self.cfg, s.target, s.direction):
            return False
        steady = s.fit.steady_samples()
        pulse = s.pulse[1] if s.pulse is not None and steady < 5 else None
        cut = (s.fit.x0, *s.expected) if pulse is None and s.expected is not None \
            and steady >= pressed.PRESSED_STEADY else None
        led = g.shortfall = pressed.track(g.shortfall, direction=s.direction, judged=s.learnable and s.suspect is None,
                                          pulse_mm=pulse, pulses_learned=self.model[s.direction].pulse_n, cut=cut,
                                          bend=s.bend)
        short = None if led is None else pressed.beyond_doubt(led, measured, se, self.noise_mm)
        if led is None or short is None:
            return False
        self._raise_fault(FaultKind.OBSTRUCTION,
                          f"the desk came to rest {short:.0f} mm short of where a free desk would have after "
                          f"{led.stops} stop{'s' if led.stops > 1 else ''} (pressing into something)",
                          now, backoff_from=None if s.stopped else s.direction)
        return True

    @property
    def _near_mm(self) -> float:
        """Two stops nearer than this are at one height: the readings cannot tell them apart."""
        return max(10.0, 4.0 * self.noise_mm)

    def _rest_height(self, now: float) -> tuple[float, float] | None:
        """Height and its sd: the last settle if it is recent and nothing moved since."""
        if self._rest is not None and now - self._rest[0] < 2.0 and self._drive is None:
            return self._rest[1], self._rest[2]
        here = self.estimator.height()
        if here is None:
            return None
        n = len(self.estimator.recent(self.cfg.estimator.window))
        return here, 1.25 * self.noise_mm / math.sqrt(max(n, 1))

    def _finish(self, g: Goal, final: float, now: float) -> None:
        report = MoveReport(g.kind, g.target if g.kind == "goto" else None, g.start_mm, final,
                            g.corrections_done, g.t_start, now)
        self.events.append(("move_done", report))
        self._goal = None

    def _start(self, g: Goal, now: float) -> None:
        rest = self._rest_height(now)
        if rest is None:
            return
        here, start_sd = rest
        if g.kind == "backoff" and g.approaches == 0:
            assert g.backoff_from is not None   # _raise_fault gives every back-off goal its direction
            g.target = min(max(here - g.backoff_from * self.cfg.backoff_mm, self.cfg.min_mm), self.cfg.max_mm)
            if abs(g.target - here) <= self.cfg.tolerance_mm:
                self._goal = None       # nowhere to back off to: never a pulse the other way, into what it met
                return
        retreat, target = g.retreat_to is not None, g.heading
        d = Direction.UP if target > here else Direction.DOWN
        if g.kind == "goto" and not retreat and abs(g.target - here) <= self.cfg.tolerance_mm:
            self._finish(g, here, now)
            return
        if self.interlock.earliest_on(d, now) > now:
            return
        g.approaches += 1
        g.retreat_to, g.stepping_back = None, retreat
        self._learn_noise_at_rest(now)
        still = self.estimator.still_height(self._rest[0] if self._rest else None, self.noise_mm)
        free = g.free_speed.get(d) if g.dismissed_obstruction and not retreat else None   # as fast as before?
        self._approach = approach.begin(self.cfg, self.model[d], d=d, here=here, start_sd=start_sd, target=target,
                                        now=now, noise_mm=self.noise_mm, ping_s=self._ping_s, still=still,
                                        retreat=retreat, free_speed=free,
                                        other=self.model[d.opposite])
        self._energise(d, now)

    def _learn_noise_at_rest(self, now: float) -> None:
        """Until the settles have told the sensor's noise, the readings of the desk standing still do.

        The monitors weigh evidence in units of the noise; a new controller assumed the configured
        2 mm on a desk whose sensor scattered 2.5, took its first moves' readings for collapses and
        latched about one new slow desk in a hundred as "seen 3 times in one move"."""
        if self._scatter.learned:
            return
        known = [t for t in (self._rest[0] if self._rest else None, self._noise_seen_t) if t is not None]
        ys = self.estimator.still_readings(max(known) if known else None, self.noise_mm)
        if ys:
            self.noise_mm = self._scatter.add(ys, self.noise_mm)
            self._noise_seen_t = now

    def _energise(self, d: Direction, now: float) -> None:
        got = self.interlock.request(d, now)
        self._drive = got
        if got is not None:
            self.duty.motor_on(now)

    def _cut(self, now: float, *, learnable: bool) -> None:
        """Motor off, then watch the desk come to rest."""
        self.interlock.request(None, now)
        if self._drive is not None:
            self.duty.motor_off(now)
        self._drive = None
        a = self._approach
        self._approach = None
        if a is None:
            return
        m = self.model[a.direction]
        expected = None
        if learnable and a.fit.steady_samples() >= 5 and m.stop_lag_n >= 3:
            v = a.fit.speed(now)
            sd = math.hypot(a.fit.position_sd(now), v * m.stop_lag_sd(), 0.05 * v * m.stop_lag_s)
            expected = (a.fit.position(now) + a.direction * v * m.stop_lag_s, sd)
        # A linear coast-down lasts twice the stop lag; until the lag is learned, allow a slow box.
        wait = 2.0 * m.stop_lag_s if m.stop_lag_n >= 2 else max(2.0 * m.stop_lag_s, 2.0)
        self._settle = Settle(t_cut=now, settle_from=now + max(wait, 0.2) + 0.05,
                               direction=a.direction, target=a.target, fit=a.fit, learnable=learnable,
                               expected=expected, pulse=a.pulse, bend=a.bend.evidence(a.direction),
                               running_a=a.current.healthy_running_a() if a.current is not None else None,
                               current_peak=a.current.climb.peak if a.current is not None else None,
                               retreat=a.retreat)

    def _raise_fault(self, kind: FaultKind, detail: str, now: float, *,
                     backoff_from: Direction | None = None) -> None:
        # Where the readings put the desk, not the fit's extrapolation past a failure.
        height = self.estimator.height()
        retreating = self._goal is not None and self._goal.stepping_back
        self._cut(now, learnable=False)
        self._goal = None
        if self.fault is None:
            self.fault = Fault(kind, detail, now, height)
            self.events.append(("fault", self.fault))
        # Something met while stepping back from an undecided stop: the way back leads to what that
        # stop may have met, so the desk stays where it is (the back-off would press it).
        if backoff_from is not None and self.cfg.backoff_mm > 0 and height is not None and not retreating:
            # The target is set once the desk has settled against the obstruction.
            self._goal = Goal("backoff", height, "obstruction", now, height, 0, backoff_from=backoff_from)

    def _wake_at(self, now: float) -> float | None:
        times: list[float] = []
        a = self._approach
        if a is not None:
            times += [a.cut_at, a.deadline]
            if self._goal is not None and self._goal.lease_until is not None:
                times.append(self._goal.lease_until)
        elif self._goal is not None and self._settle is None:
            d = self._goal_direction(self._goal)
            times.append(self.interlock.earliest_on(d, now))
        if self._motor_wanted() and self.estimator.last_accepted_t is not None:
            times.append(self.estimator.last_accepted_t + self.cfg.estimator.stale_after_s + 1e-3)
        return max(min(times), now) if times else None
