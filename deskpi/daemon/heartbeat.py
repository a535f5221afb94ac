"""What the daemon does after every control-loop tick: tell systemd it is ready and alive, record the
height, pace the sensor, and show the desk's state on the indicators. Runs on the control loop thread:
every step is short."""
from __future__ import annotations

import time

from deskpi.core.motion.config import Command
from deskpi.core.panel.indicator_patterns import desk_state
from deskpi.daemon.sdnotify import Notifier

STATUS_EVERY_S = 1.0
BUSY_LINGER_S = 3.0         # the sensor keeps its fast rate this long after the desk was busy


class Heartbeat:
    def __init__(self, parts, notifier: Notifier, *, watchdog: bool) -> None:
        self.parts = parts
        self.notifier = notifier
        self.watchdog = watchdog
        self.ready_at: float | None = None
        self.last_watchdog = 0.0
        self._last_status = 0.0
        self._busy_until = 0.0

    def tick(self, cmd: Command) -> None:
        now = time.monotonic()
        p = self.parts
        ctrl = p.controller
        fresh = ctrl.estimator.is_fresh(now)
        if self.ready_at is None and fresh:
            self.ready_at = now
            self.notifier.ready(self.status_text())
        # The watchdog is fed only by a loop that is running and can see the desk.
        wd = self.notifier.watchdog_s if self.watchdog else None
        if wd and fresh and now - self.last_watchdog >= wd / 3:
            self.last_watchdog = now
            self.notifier.watchdog()
        if now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self.notifier.status(self.status_text())
        if p.recorder is not None:
            p.recorder.height(ctrl.height_mm() if fresh else None)
        if p.metrics is not None:
            p.metrics.motor(now, ctrl.drive)
        if ctrl.busy or cmd.drive is not None:
            self._busy_until = now + BUSY_LINGER_S
        p.sensor.set_active(now < self._busy_until)
        if p.current is not None:
            p.current.set_active(now < self._busy_until)
        ind = p.indicators
        if ind is not None:
            st = ctrl.state.value
            claims = getattr(p.service, "claims", None)      # the web app's, when it runs
            ind.set_state(desk_state(fault=st == "fault", locked=bool(p.arbiter.locked),
                                     moving=st.startswith("moving"),
                                     claim_pending=claims is not None and claims.has_pending()))

    def status_text(self) -> str:
        """One line for systemd's STATUS= (shown by `systemctl status deskpi`)."""
        c = self.parts.controller
        h = c.height_mm()
        height = "no reading" if h is None else f"{h:.0f} mm"
        fault = f", fault: {c.fault.kind.value}" if c.fault else ""
        return f"{height}, {c.state.value}{fault}"
