"""What the web app, the buttons and the CLI may ask of the desk.

A thin facade over the arbiter, the controller's state and the presets, so
none of them reaches into the motion stack's internals.
"""
from __future__ import annotations

from collections.abc import Callable

from deskpi.core.faults import MotionRefused
from deskpi.core.types import Caller, Direction, Source
from deskpi.daemon.arbiter import MotionArbiter
from deskpi.daemon.control_loop import ControlLoop
from deskpi.people.presets import PresetStore

#: Public state names: the controller's moving_up/moving_down are both "moving".
_STATE = {"idle": "idle", "moving_up": "moving", "moving_down": "moving", "settling": "settling", "fault": "fault"}


class DeskService:
    def __init__(self, loop: ControlLoop, arbiter: MotionArbiter, presets: PresetStore, *,
                 sim_keypad: Callable[[str, bool], None] | None = None) -> None:
        self.loop = loop
        self.arbiter = arbiter
        self.presets = presets
        self.sim_keypad = sim_keypad
        self.indicators = None          # set by the daemon when present
        self.habits = None              # the reminder service, when present
        self.store = None               # users, presets, statistics, when present
        self.sim_desk = None            # the simulated desk behind the pins (`deskpi sim` only): fault injection
        self.metrics = None             # the desk's Prometheus counts ([metrics] enabled), for GET /metrics
        self.metrics_problem: str | None = None     # why metrics that are turned on cannot be served

    @property
    def limits(self) -> tuple[float, float]:
        cfg = self.loop.ctrl.cfg
        return cfg.min_mm, cfg.max_mm

    def motion_status(self) -> tuple[bool, bool]:
        """(is the desk moving, is it child-locked): all a button press needs to know. Nothing else is read,
        so a press never waits for the store (presets, the active user) or for sorting the lag records."""
        with self.loop.lock:
            moving = _STATE[self.loop.ctrl.state.value] == "moving"
        return moving, bool(self.arbiter.locked)

    def snapshot(self) -> dict:
        with self.loop.lock:
            c = self.loop.ctrl
            state = c.state.value
            height = c.height_mm()
            fault = c.fault.message if c.fault else None
            target = c.target_mm
            drive = c.drive
            # The learned speed towards the target: the page shows the time left of a move.
            speed = (None if target is None or height is None
                     else c.model[Direction.UP if target > height else Direction.DOWN].speed_mm_s)
        lags = sorted(self.loop.lag_s)
        reading_lags = sorted(self.loop.reading_lag_s)
        return {
            "height_mm": None if height is None else round(height, 1),
            "state": _STATE[state],
            "direction": None if not state.startswith("moving") else state.split("_")[1],
            "target_mm": None if target is None else round(target, 1),
            "fault": fault,
            "motor": None if drive is None else str(drive),
            "locked": self.arbiter.locked,
            "owner": None if self.arbiter.owner is None else self.arbiter.owner.name.lower(),
            "moved_by": self.arbiter.moved_by,
            "speed_mm_s": None if speed is None else round(speed, 1),
            "limits": {"min_mm": self.limits[0], "max_mm": self.limits[1]},
            "presets": [{"slot": k, "height_mm": v} for k, v in sorted(self.presets.all().items())],
            "sim": self.sim_keypad is not None,
            "loop_lag_p99_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 2) if lags else None,
            # sensor reading queued -> acted on by the control loop, over the last 2000 readings
            "reading_lag_p99_ms": (round(1000 * reading_lags[int(0.99 * (len(reading_lags) - 1))], 2)
                                   if reading_lags else None),
        }

    # -- motion -----------------------------------------------------------------
    # `by`: who asked, when the interface knows (the web's signed-in person and address, the CLI); the audit
    # trail records them instead of whoever is the active user.
    def move_to(self, target_mm: float, source: Source = Source.REMOTE, detail: str = "", *,
                by: Caller | None = None) -> None:
        self.arbiter.move_to(target_mm, source, detail, by=by)

    def stop(self, source: Source | str = Source.REMOTE, *, by: Caller | None = None) -> None:
        self.arbiter.stop(source, by=by)

    def hold(self, direction: Direction, source: Source = Source.REMOTE, detail: str = "", *,
             by: Caller | None = None) -> None:
        self.arbiter.hold(direction, source, detail, by=by)

    def release(self, source: Source = Source.REMOTE) -> None:
        self.arbiter.release(source)

    def clear_fault(self, source: Source = Source.REMOTE, *, by: Caller | None = None) -> None:
        self.arbiter.clear_fault(source, by=by)

    # -- presets ----------------------------------------------------------------
    def recall_preset(self, slot: int, source: Source = Source.REMOTE, *, by: Caller | None = None) -> float:
        height = self.presets.get(slot)
        if height is None:
            raise MotionRefused(f"preset {slot} is empty; save a height there first (long press on the desk)")
        self.arbiter.move_to(height, source, f"preset {slot}", by=by)
        self.arbiter.record(source, "recall", by=by, slot=slot, height_mm=height)
        return height

    def save_preset(self, slot: int, height_mm: float | None = None, source: Source = Source.REMOTE, *,
                    by: Caller | None = None) -> float:
        if height_mm is None:
            with self.loop.lock:
                height_mm = self.loop.ctrl.height_mm()
            if height_mm is None:
                raise MotionRefused("no height reading yet; cannot save the current height")
        saved = self.presets.save(slot, height_mm)
        self.arbiter.record(source, "save", by=by, slot=slot, height_mm=saved)
        if self.indicators is not None:
            self.indicators.show("preset_saved")
        return saved

    # -- simulator --------------------------------------------------------------
    def press_sim_key(self, key: str, pressed: bool) -> None:
        if self.sim_keypad is None:
            raise LookupError("there is no virtual keypad: this desk is real")
        self.sim_keypad(key, pressed)

    def inject_sim_fault(self, kind: str, direction: Direction = Direction.DOWN,
                         height_mm: float | None = None) -> dict:
        """Give the simulated desk a physical problem (the controller has to find it on its own).
        An obstruction blocks travel in `direction` beyond `height_mm` (default: 30 mm from where the
        desk is). LookupError on a real desk, ValueError for an unknown kind."""
        desk = self.sim_desk
        if desk is None:
            raise LookupError("there is no simulated desk to give a fault to: this desk is real")
        if kind != "obstruction":
            desk.inject(kind)
            return {"kind": kind}
        if height_mm is None:
            height_mm = desk.true_height() + 30.0 * int(direction)
        desk.inject(kind, height_mm=float(height_mm), direction=int(direction))
        return {"kind": kind, "direction": direction.name.lower(), "height_mm": round(float(height_mm), 1)}

    def clear_sim_faults(self) -> None:
        """Take every injected problem away from the simulated desk (a latched fault stays until cleared)."""
        if self.sim_desk is None:
            raise LookupError("there is no simulated desk to clear: this desk is real")
        self.sim_desk.clear_injections()
