"""A fake desk service for the web app's tests, and apps and clients around it.

The fake records every call and can be told to refuse motion, so a test can
check what the API does with a request without a desk: bad input never
reaches the service (above all: never moves the desk).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from helpers import signed_in

from deskpi.core.faults import MotionRefused
from deskpi.core.types import Source
from deskpi.people.presets import PresetError
from deskpi.store import Store
from deskpi.webapp.app import create_app

LIMITS = (640.0, 1260.0)
RANGE_TEXT = "640-1260"
#: Service methods that move the desk (or could): none may run for a bad request.
MOTION = ("move_to", "hold", "recall_preset")


class FakeService:
    """Stands in for DeskService: records calls, configurable snapshot, refuses on demand."""

    def __init__(self, *, sim: bool = False, fault: str | None = None, refuse: str | None = None,
                 height: float | None = 740.0) -> None:
        self.calls: list[tuple] = []
        self.refuse = refuse                  # message: every motion request raises MotionRefused(refuse)
        self.fault = fault
        self.height = height
        self.sim = sim
        self.sim_keypad = (lambda key, pressed: None) if sim else None
        self.sim_desk = object() if sim else None
        self.presets = {1: 720.0, 2: 1100.0, 3: None, 4: None}
        self.crash: Exception | None = None   # raised by move_to, as a bug would be
        self.limits = LIMITS
        self.by = None                        # the Caller of the last motion request

    def snapshot(self) -> dict:
        return {
            "height_mm": self.height, "state": "fault" if self.fault else "idle", "direction": None,
            "target_mm": None, "fault": self.fault, "motor": None, "locked": False, "owner": None,
            "limits": {"min_mm": LIMITS[0], "max_mm": LIMITS[1]},
            "presets": [{"slot": k, "height_mm": v} for k, v in sorted(self.presets.items())],
            "sim": self.sim, "loop_lag_p99_ms": 0.4,
        }

    def _motion(self, *call) -> None:
        self.calls.append(call)
        if self.crash is not None:
            raise self.crash
        if self.refuse is not None:
            raise MotionRefused(self.refuse)

    # `by`: who asked (deskpi.core.types.Caller); the last one is kept for the audit tests.
    def move_to(self, target_mm, source=Source.REMOTE, detail="", *, by=None):
        self.by = by
        self._motion("move_to", target_mm, source)

    def hold(self, direction, source=Source.REMOTE, detail="", *, by=None):
        self.by = by
        self._motion("hold", direction, source)

    def stop(self, source=Source.REMOTE, *, by=None):
        self.by = by
        self.calls.append(("stop", source))

    def release(self, source=Source.REMOTE):
        self.calls.append(("release", source))

    def clear_fault(self, *, by=None):
        self.by = by
        self.calls.append(("clear_fault",))
        self.fault = None

    def recall_preset(self, slot, source=Source.REMOTE, *, by=None):
        self.by = by
        self._motion("recall_preset", slot, source)
        if self.presets[slot] is None:
            raise MotionRefused(f"preset {slot} is empty; save a height there first (long press on the desk)")
        return self.presets[slot]

    def save_preset(self, slot, height_mm=None, *, by=None):
        self.by = by
        self.calls.append(("save_preset", slot, height_mm))
        if height_mm is None:
            if self.height is None:
                raise MotionRefused("no height reading yet; cannot save the current height")
            height_mm = self.height
        if not LIMITS[0] <= height_mm <= LIMITS[1]:
            raise PresetError(f"preset height {height_mm!r} mm is outside the desk's limits {RANGE_TEXT} mm")
        self.presets[slot] = round(height_mm, 1)
        return self.presets[slot]

    def press_sim_key(self, key, pressed):
        if self.sim_keypad is None:
            raise LookupError("there is no virtual keypad: this desk is real")
        self.calls.append(("press_sim_key", key, pressed))

    def inject_sim_fault(self, kind, direction=None, height_mm=None):
        self.calls.append(("inject_sim_fault", kind, direction, height_mm))
        return {"kind": kind}

    def clear_sim_faults(self):
        self.calls.append(("clear_sim_faults",))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


#: Where the databases of tests that do not give one go: one directory per test run, removed when the
#: run ends (a directory per database, left behind, added a few hundred to /tmp on every run).
_DATABASES = tempfile.TemporaryDirectory(prefix="deskpi-web-")


def with_store(service: FakeService, db: Path | None = None) -> FakeService:
    """`service` keeping its people in the database `db` (a new one in a temporary directory by default)."""
    service.store = Store.open(db or Path(tempfile.mkdtemp(dir=_DATABASES.name)) / "deskpi.db")
    return service


def app_for(service: FakeService, **kw):
    """create_app(service, **kw) in testing mode."""
    app = create_app(service, **kw)
    app.testing = True
    return app


def make_client(service: FakeService, *, claim: bool = True, **kw):
    """A new app around `service` (given a store if it has none) and a client on it, signed in as an
    admin holding the desk's claim: for tests about what the API does with a request; who may send one
    is tested in test_web_auth.py."""
    if getattr(service, "store", None) is None:
        with_store(service)
    return signed_in(app_for(service, **kw), claim=claim)
