"""The composition root: builds the whole desk from the settings, runs it, shuts it down.

One process owns the GPIO. Everything that can move the desk goes through
the one arbiter built here; nothing else is handed the drive.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from deskpi.hw import motor_pins
from deskpi.core.types import Source
from deskpi.daemon.arbiter import MotionArbiter
from deskpi.config import Settings
from deskpi.daemon.control_loop import ControlLoop
from deskpi.core.motion.controller import Command, MotionConfig, MotionController
from deskpi.core.motion.stopmodel import StopModel
from deskpi.hw.drives import HBridgeDrive, RelayPairDrive
from deskpi.hw.ultrasonic import Mounting, UltrasonicSensor
from deskpi.people.presets import PresetStore, UserPresets
from deskpi.daemon.recorder import Recorder
from deskpi.store import Store, db_path
from deskpi.daemon.sdnotify import Notifier
from deskpi.daemon.service import DeskService

log = logging.getLogger(__name__)

STATUS_EVERY_S = 1.0
MODEL_FILE = "stop_model.json"


def motion_config(settings: Settings) -> MotionConfig:
    d = settings.desk
    return MotionConfig(min_mm=d.min_mm, max_mm=d.max_mm, tolerance_mm=d.tolerance_mm, hold_lease_s=d.hold_lease_s,
                        corrections=d.corrections, backoff_mm=d.backoff_mm, dead_time_s=settings.motor.dead_time_s,
                        duty_max_on_s=d.duty_max_on_s, duty_window_s=d.duty_window_s,
                        speed_up_mm_s=d.speed_up_mm_s, speed_down_mm_s=d.speed_down_mm_s)


def is_raspberry_pi() -> bool:
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text(errors="replace").lower()
    except OSError:
        return False


def pin_factory_for(settings: Settings, *, allow_mock_off_pi: bool = False):
    """The configured gpiozero pin factory; None lets gpiozero choose (GPIOZERO_PIN_FACTORY or its default).

    With `auto` on a machine that is not a Raspberry Pi there are no GPIO pins
    at all; callers that only ever switch things off may ask for a mock factory.
    """
    name = settings.daemon.pin_factory
    if name == "auto":
        if allow_mock_off_pi and not os.environ.get("GPIOZERO_PIN_FACTORY") and not is_raspberry_pi():
            from gpiozero.pins.mock import MockFactory
            return MockFactory()
        return None
    if name == "mock":
        from deskpi.sim.mockdesk import SimFactory
        return SimFactory()
    # Imported here, never at module level: these libraries only exist on a Pi.
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory
        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory
        return RPiGPIOFactory()
    if name == "pigpio":
        from gpiozero.pins.pigpio import PiGPIOFactory
        return PiGPIOFactory()
    from gpiozero.pins.native import NativeFactory
    return NativeFactory()


@dataclass
class Parts:
    factory: object
    drive: object
    sensor: UltrasonicSensor
    controller: MotionController
    loop: ControlLoop
    arbiter: MotionArbiter
    service: DeskService
    sim_desk: object | None = None
    buttons: object | None = None
    indicators: object | None = None
    store: Store | None = None
    recorder: Recorder | None = None
    habits: object | None = None


class Daemon:
    def __init__(self, settings: Settings, *, sim: bool = False, data_dir: Path | None = None,
                 web: tuple[str, int] | None = None, seed: int | None = None,
                 notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.sim = sim
        self.data_dir = Path(data_dir if data_dir is not None else settings.daemon.data_dir)
        self.web_address = web
        self.seed = seed if seed is not None else int(time.time()) % 10000
        self.notifier = notifier or Notifier()
        self.stopped = threading.Event()
        self.ready_at: float | None = None
        self.started_at = time.monotonic()
        self.parts: Parts | None = None
        self._server = None
        self._web_ctx = None
        self._server_thread: threading.Thread | None = None
        self._last_status = 0.0
        self._last_watchdog = 0.0
        self._moves_since_save = 0
        self._busy_until = 0.0
        self.control = None             # the control socket (deskpi/daemon/control_server.py)

    # -- building -----------------------------------------------------------
    def build(self) -> Parts:
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        from deskpi.daemon.control_server import ControlServer
        self.control = ControlServer(self, self.data_dir)   # refuses a second daemon before any pin is touched
        factory = None
        sim_desk = None
        if self.sim:
            from deskpi.sim.mockdesk import SimFactory, SimPins, SimulatedDesk
            from deskpi.sim.physics import DeskSpec
            from deskpi.sim.sensor_model import SensorSpec
            factory = SimFactory()
            sim_desk = SimulatedDesk(
                factory, pins=SimPins(up=s.motor.up_pin, down=s.motor.down_pin, trigger=s.sensor.trigger_pin,
                                      echo=s.sensor.echo_pin),
                desk=DeskSpec(min_mm=s.desk.min_mm - 20, max_mm=s.desk.max_mm + 10),
                sensor=SensorSpec(mount_offset_mm=s.sensor.offset_mm, temperature_c=s.sensor.temperature_c,
                                  ping_interval_s=s.sensor.interval_s),
                seed=self.seed, start_mm=min(max(740.0, s.desk.min_mm), s.desk.max_mm),
                active_high=s.motor.active_high)
        else:
            factory = pin_factory_for(s)
        drive = self._drive(factory)
        if not self.sim:
            motor_pins.remember(self.data_dir, s.motor_pins())
        controller = MotionController(motion_config(s), self._load_model())
        loop = ControlLoop(controller, drive, on_tick=self._on_tick)
        sensor = UltrasonicSensor(s.sensor.trigger_pin, s.sensor.echo_pin,
                                  mounting=Mounting(s.sensor.orientation, s.sensor.offset_mm),
                                  temperature_c=s.sensor.temperature_c, interval_s=s.sensor.interval_s,
                                  idle_interval_s=s.sensor.idle_interval_s, on_reading=loop.feed,
                                  pin_factory=factory)
        arbiter = MotionArbiter(loop)
        store = Store.open(db_path(self.data_dir))
        recorder = Recorder(store)
        desk_presets = PresetStore(self.data_dir / "presets.json", (s.desk.min_mm, s.desk.max_mm))
        service = DeskService(loop, arbiter, UserPresets(store, desk_presets))
        service.store = store

        def audit(source, action, detail):
            user = store.get_active_user()
            recorder.audit(source.audit_name if source is not None else "web", action,
                           user=None if user is None else user.name, detail={k: v for k, v in detail.items() if v is not None})
            habits = service.habits
            if habits is not None and source is not None and source is not Source.SCHEDULE:
                habits.defer(habits.on_interaction, source.audit_name)

        arbiter.on_request = audit
        parts = Parts(factory, drive, sensor, controller, loop, arbiter, service, sim_desk=sim_desk,
                      store=store, recorder=recorder)
        self._optional_parts(parts)
        self._habits(parts)
        loop.listeners.append(self._on_event)
        self.parts = parts
        return parts

    def _drive(self, factory):
        m = self.settings.motor
        if m.driver == "hbridge":
            return HBridgeDrive(m.up_pin, m.down_pin, enable_pin=m.enable_pin, frequency=m.pwm_frequency,
                                ramp_up_s=m.ramp_up_s, ramp_down_s=m.ramp_down_s, dead_time_s=m.dead_time_s,
                                pin_factory=factory)
        return RelayPairDrive(m.up_pin, m.down_pin, active_high=m.active_high, dead_time_s=m.dead_time_s,
                              pin_factory=factory)

    def _optional_parts(self, parts: Parts) -> None:
        """Indicators and buttons: a failure here is a warning, never a desk that cannot stop."""
        s = self.settings
        try:
            from deskpi.hw.indicators import Indicators
            parts.indicators = Indicators(s.indicators, pin_factory=parts.factory)
            parts.service.indicators = parts.indicators
        except Exception:  # noqa: BLE001
            log.exception("indicators unavailable; carrying on without them")
        try:
            from deskpi.hw.buttons import ButtonPanel
            parts.buttons = ButtonPanel(s.buttons, parts.service, pin_factory=parts.factory,
                                        indicators=parts.indicators, repeat_s=min(0.15, s.desk.hold_lease_s / 3))
            if self.sim:
                parts.service.sim_keypad = parts.buttons.press
        except Exception:  # noqa: BLE001
            log.exception("buttons unavailable; carrying on without them")

    def _habits(self, parts: Parts) -> None:
        """Reminders and sit-stand transitions: optional, like the indicators."""
        h = self.settings.habits
        if not h.enabled:
            return
        try:
            from deskpi.daemon.habits import HabitService, clock_is_synchronised
            habits = HabitService(parts.store, parts.service, indicators=parts.indicators,
                                  auto_allowed=h.auto_moves_allowed,
                                  clock_synced=(lambda: True) if self.sim else clock_is_synchronised)
        except Exception:  # noqa: BLE001
            log.exception("reminders unavailable; carrying on without them")
            return
        if h.pir_pin is not None:
            try:
                from gpiozero import MotionSensor
                pir = MotionSensor(h.pir_pin, pin_factory=parts.factory)
                # gpiozero runs these in its own thread: hand them over, never block it.
                pir.when_motion = lambda: habits.defer(habits.on_presence, True)
                pir.when_no_motion = lambda: habits.defer(habits.on_presence, False)
                habits.pir = pir
            except Exception:  # noqa: BLE001
                log.exception("PIR sensor on GPIO%s unavailable; presence comes from button and web use", h.pir_pin)
        parts.habits = habits
        parts.service.habits = habits
        parts.recorder.listeners.append(habits.on_height)

    def _load_model(self) -> StopModel | None:
        path = self.data_dir / MODEL_FILE
        try:
            return StopModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring learned stop model %s: %s", path, exc)
            return None

    def save_model(self) -> None:
        if self.parts is None:
            return
        with self.parts.loop.lock:
            data = self.parts.controller.model.to_dict()
        path = self.data_dir / MODEL_FILE
        fd, tmp = tempfile.mkstemp(dir=self.data_dir, prefix=".stop_model.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            log.exception("could not save the learned stop model")
            try:
                os.unlink(tmp)
            except OSError:
                pass

    # -- running --------------------------------------------------------------
    def start(self) -> None:
        parts = self.parts or self.build()
        self.control.start()
        parts.loop.start()
        parts.sensor.start()
        if parts.habits is not None:
            parts.habits.start()
        if self.web_address is not None:
            self._start_web(*self.web_address)

    def _start_web(self, host: str, port: int) -> None:
        from werkzeug.serving import make_server

        from deskpi.webapp.auth import session_secret
        from deskpi.webapp.context import WebDefaults
        from deskpi.webapp.app import create_app
        app = create_app(self.parts.service, max_body_bytes=self.settings.web.max_body_bytes,
                         defaults=WebDefaults.from_settings(self.settings), secret_key=session_secret(self.data_dir))
        self._web_ctx = app.extensions["deskpi.web"]
        # One log line per request (a phone polls several times a second) would flood the journal.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = make_server(host, port, app, threaded=True)
        self._server_thread = threading.Thread(target=self._server.serve_forever, name="web", daemon=True)
        self._server_thread.start()

    @property
    def url(self) -> str | None:
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def _on_tick(self, cmd: Command) -> None:
        """Runs on the control loop thread after every tick: keep it short."""
        now = time.monotonic()
        ctrl = self.parts.controller
        fresh = ctrl.estimator.is_fresh(now)
        if self.ready_at is None and fresh:
            self.ready_at = now
            self.notifier.ready(self._status_text())
        # The watchdog is fed only by a loop that is running and can see the desk.
        wd = self.notifier.watchdog_s if self.settings.daemon.watchdog else None
        if wd and fresh and now - self._last_watchdog >= wd / 3:
            self._last_watchdog = now
            self.notifier.watchdog()
        if now - self._last_status >= STATUS_EVERY_S:
            self._last_status = now
            self.notifier.status(self._status_text())
        if self.parts.recorder is not None:
            self.parts.recorder.height(ctrl.height_mm() if fresh else None)
        if ctrl.busy or cmd.drive is not None:
            self._busy_until = now + 3.0
        self.parts.sensor.set_active(now < self._busy_until)
        ind = self.parts.indicators
        if ind is not None:
            st = ctrl.state.value
            ind.set_state("fault" if st == "fault" else "locked" if self.parts.arbiter.locked else
                          "moving" if st.startswith("moving") else "idle")

    def _status_text(self) -> str:
        c = self.parts.controller
        h = c.height_mm()
        height = "no reading" if h is None else f"{h:.0f} mm"
        fault = f", fault: {c.fault.kind.value}" if c.fault else ""
        return f"{height}, {c.state.value}{fault}"

    def _on_event(self, kind: str, ev: object) -> None:
        if kind == "move_done":
            self._moves_since_save += 1
            if self._moves_since_save >= 5:
                self._moves_since_save = 0
                threading.Thread(target=self.save_model, name="save-model", daemon=True).start()
        elif kind in ("fault", "fault_cleared"):
            if kind == "fault":
                log.warning("fault: %s", getattr(ev, "message", ev))
            habits = self.parts.habits if self.parts is not None else None
            if habits is not None:
                habits.defer(habits.on_fault, kind == "fault")

    def install_signal_handlers(self) -> None:
        def handler(signum, frame):
            # No locks here: a handler that waits for a lock the interrupted code holds
            # deadlocks (a second Ctrl-C during shutdown did). Refuse new motion at once;
            # the main thread wakes immediately and turns the motor off as its first step.
            if self.parts is not None:
                self.parts.arbiter.closing = True
            self.stopped.set()
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self) -> int:
        self.install_signal_handlers()
        self.start()
        try:
            while not self.stopped.wait(0.5):
                pass
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        """Motor off first; then every part is closed even if one of them fails."""
        self.notifier.stopping()
        parts = self.parts
        steps = []
        if parts is not None:
            parts.arbiter.closing = True
            steps.append(lambda: getattr(parts.drive, "emergency_off", parts.drive.off)())
            steps.append(lambda: parts.loop.stop_motion("shutdown"))
        if self.control is not None:
            steps.append(self.control.close)
        if self._web_ctx is not None:
            steps.append(self._web_ctx.live.close)       # ends every live stream, so their threads finish
        if self._server is not None:
            steps.append(self._server.shutdown)
        if self._web_ctx is not None and self._web_ctx.reader is not None:
            steps.append(self._web_ctx.reader.close)
        if parts is not None:
            steps += [p.close for p in (parts.habits, parts.buttons, parts.indicators) if p is not None]
            steps += [parts.sensor.close, parts.loop.close, self.save_model, parts.drive.close]
            if parts.recorder is not None:
                steps.append(parts.recorder.close)
            if parts.store is not None:
                steps.append(parts.store.close)
            if parts.sim_desk is not None:
                steps.append(parts.sim_desk.close)
        steps.append(self.notifier.close)
        for step in steps:
            try:
                step()
            except Exception:  # noqa: BLE001 - every shutdown step runs
                log.exception("shutdown step failed")
