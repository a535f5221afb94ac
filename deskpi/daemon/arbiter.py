"""The motion arbiter: the one door every request for motion goes through.

Priorities: stop beats everything; a physical button beats a remote request
(web, CLI); a remote request beats home automation (MQTT), which beats a
scheduled one. A request
from a lower priority than the motion in progress is refused with a message
saying who is moving the desk; one from a higher priority takes over. While
the child lock is on, only stop is accepted.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from deskpi.core.faults import MotionRefused
from deskpi.core.types import Caller, Direction, Source
from deskpi.daemon.control_loop import ControlLoop

#: What `moved_by.kind` says: the web page turns it into words ("from your phone", "the desk's buttons").
MOVER_KINDS = ("buttons", "reminder", "phone", "app", "cli", "remote")


def mover(source: Source, detail: str, by: Caller | None) -> dict:
    """Who or what asked for the motion in progress: {"kind": one of MOVER_KINDS, "user": name or None}.
    A reminder's own move (confirmed or automatic) has no caller; a person's request names them."""
    if source is Source.BUTTON:
        return {"kind": "buttons", "user": None}
    if source is Source.SCHEDULE or (by is None and detail.startswith("habit")):
        return {"kind": "reminder", "user": None}
    if by is None:
        return {"kind": "remote", "user": None}
    if by.channel == "cli":
        return {"kind": "cli", "user": by.user}
    return {"kind": "app" if by.via == "token" else "phone", "user": by.user}


class MotionArbiter:
    def __init__(self, loop: ControlLoop) -> None:
        self.loop = loop
        self._lock = threading.Lock()
        self._owner: Source | None = None
        self._owner_detail = ""
        self._owner_by: Caller | None = None
        self.locked = False
        self.closing = False        # set (without a lock: from a signal handler) when shutting down
        # Sources whose hold was cut by a stop, and when they last tried to renew it: a
        # renewal arriving after a stop is the same finger still down, not a new request.
        self._holding: dict[Source, float] = {}
        self._stopped_holds: dict[Source, float] = {}
        # Called as on_request(source, action, detail, by) for every accepted request: the audit trail of
        # who moved the desk (`by`: the Caller, when the interface knows who asked). Must not block.
        self.on_request: Callable[[Source | None, str, dict, Caller | None], None] | None = None
        loop.listeners.append(self._on_event)

    def record(self, source: Source | None, action: str, *, by: Caller | None = None, **detail) -> None:
        if self.on_request is not None:
            with contextlib.suppress(Exception):  # bookkeeping never blocks motion
                self.on_request(source, action, detail, by)

    # -- who is moving the desk ---------------------------------------------
    @property
    def owner(self) -> Source | None:
        with self._lock:
            return self._owner if self._moving() else None

    @property
    def moved_by(self) -> dict | None:
        """Who or what is moving the desk, for the page to say so ("from your phone", "the desk's buttons")."""
        with self._lock:
            if self._owner is None or not self._moving():
                return None
            return mover(self._owner, self._owner_detail, self._owner_by)

    def _moving(self) -> bool:
        # Busy, not just "moving": a pause or a correction is still someone's move.
        return self.loop.ctrl.busy and self.loop.ctrl.fault is None

    def _on_event(self, kind: str, ev: object) -> None:
        if kind in ("move_done", "fault", "hold_expired"):
            with self._lock:
                self._owner = None

    def _claim(self, source: Source, detail: str, by: Caller | None = None) -> None:
        """Take the desk for `source` or raise MotionRefused. Caller holds no lock."""
        with self._lock:
            if self.closing:
                raise MotionRefused("the desk controller is shutting down; only stop works")
            if self.locked:
                raise MotionRefused("the desk is child-locked; only stop works until it is unlocked "
                                    "(hold up and down together for 3 s on the desk)")
            owner = self._owner if self._moving() else None
            if owner is not None and owner > source:
                raise MotionRefused(f"the desk is being moved by {owner.label}; "
                                    f"{source.label} cannot take over (stop always works)")
            self._owner = source
            self._owner_detail = detail
            self._owner_by = by

    # -- requests ------------------------------------------------------------
    def stop(self, source: Source | str = "stop", *, by: Caller | None = None) -> None:
        """Always accepted, from anyone, locked or not."""
        self.loop.stop_motion(f"stop from {source.label if isinstance(source, Source) else source}")
        now = self.loop.clock()
        with self._lock:
            self._owner = None
            for src, seen in self._holding.items():
                if now - seen < self._renew_window():
                    self._stopped_holds[src] = now
            self._holding.clear()
        if isinstance(source, Source):
            self.record(source, "stop", by=by)

    def _on_behalf(self, source: Source, detail: str, request, by: Caller | None = None) -> None:
        """Claim the desk for `source`, then ask the loop; a refused request gives the claim back."""
        self._claim(source, detail, by)
        try:
            request(detail or source.name.lower())
        except MotionRefused:
            with self._lock:
                self._owner = None
            raise

    def move_to(self, target_mm: float, source: Source, detail: str = "", *, by: Caller | None = None) -> None:
        self._on_behalf(source, detail, lambda why: self.loop.move_to(target_mm, source=why), by)
        self.record(source, "move", by=by, target_mm=round(float(target_mm), 1), why=detail or None)

    def hold(self, direction: Direction, source: Source, detail: str = "", *, by: Caller | None = None) -> None:
        """Move while held: call again within the lease to keep moving."""
        now = self.loop.clock()
        with self._lock:
            stopped = self._stopped_holds.get(source)
            if stopped is not None and now - stopped < self._renew_window():
                self._stopped_holds[source] = now
                raise MotionRefused("the desk was stopped while this button was held; "
                                    "let go and press again to move")
            self._stopped_holds.pop(source, None)
            renewal = self._owner == source and self._moving()
        self._on_behalf(source, detail, lambda why: self.loop.hold(direction, source=why), by)
        with self._lock:
            self._holding[source] = now
        if not renewal:
            self.record(source, "hold", by=by, direction=str(direction))

    def _renew_window(self) -> float:
        return 1.5 * self.loop.ctrl.cfg.hold_lease_s

    def release(self, source: Source) -> None:
        with self._lock:
            owner = self._owner
            self._stopped_holds.pop(source, None)
            self._holding.pop(source, None)
        if owner is None or owner <= source:
            self.loop.release()

    def clear_fault(self, source: Source = Source.REMOTE, *, by: Caller | None = None) -> None:
        self.loop.clear_fault()
        self.record(source, "clear_fault", by=by)

    def set_locked(self, locked: bool) -> None:
        if locked:
            self.stop("child lock")
        with self._lock:
            self.locked = locked
