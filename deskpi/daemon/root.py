"""The composition root: builds the whole desk from the settings, runs it, shuts it down.

One process owns the GPIO. Everything that can move the desk goes through
the one arbiter built here; nothing else is handed the drive.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from deskpi.config import Settings
from deskpi.core.motion.config import MotionConfig
from deskpi.core.motion.controller import MotionController
from deskpi.core.types import Source
from deskpi.daemon import learned_model
from deskpi.daemon.arbiter import MotionArbiter
from deskpi.daemon.control_loop import ControlLoop
from deskpi.daemon.heartbeat import Heartbeat
from deskpi.daemon.recorder import Recorder
from deskpi.daemon.sdnotify import Notifier
from deskpi.daemon.service import DeskService
from deskpi.hw import motor_pins
from deskpi.hw.drives import HBridgeDrive, RelayPairDrive
from deskpi.hw.pin_factory import pin_factory_for
from deskpi.hw.ultrasonic import Mounting, UltrasonicSensor, effective_interval_s
from deskpi.people.presets import PresetStore, UserPresets
from deskpi.store import Store, db_path

log = logging.getLogger(__name__)

SAVE_MODEL_EVERY = 5            # moves between saves of the learned stop model


def motion_config(settings: Settings, *, current_sensing: bool | None = None) -> MotionConfig:
    """The controller's settings. `current_sensing`: whether current samples will come (default: [current]
    enabled); False when the sensor is configured but could not be opened."""
    d, c = settings.desk, settings.current
    return MotionConfig(min_mm=d.min_mm, max_mm=d.max_mm, tolerance_mm=d.tolerance_mm, hold_lease_s=d.hold_lease_s,
                        corrections=d.corrections, backoff_mm=d.backoff_mm, dead_time_s=settings.motor.dead_time_s,
                        duty_max_on_s=d.duty_max_on_s, duty_window_s=d.duty_window_s,
                        speed_up_mm_s=d.speed_up_mm_s, speed_down_mm_s=d.speed_down_mm_s,
                        current_sensing=c.enabled if current_sensing is None else current_sensing,
                        current_rise_a=c.rise_a, current_surge_s=c.surge_s, current_stall_a=c.stall_a,
                        bottom_on_end_stop=settings.sensor.rezero_at_bottom)


def sensor_mounting(settings: Settings) -> Mounting:
    return Mounting(settings.sensor.orientation, settings.sensor.offset_mm, settings.sensor.scale)


def sensor_max_distance_mm(settings: Settings) -> float:
    """The farthest the sensor's echo can come from within the desk's limits (it sets how fast it may ping)."""
    return sensor_mounting(settings).max_distance_mm(settings.desk.min_mm, settings.desk.max_mm)


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
    current: object | None = None       # the motor current reader (hw/current_sensor.py), when [current] is on
    metrics: object | None = None       # the desk's Prometheus counts (daemon/metrics.py), when [metrics] is on
    mqtt: object | None = None          # Home Assistant over MQTT (deskpi/integrations/mqtt), when [mqtt] is on
    thermometer: object | None = None   # the air thermometer (daemon/sensor_upkeep.py), with a w1 source
    rezero: object | None = None        # the re-zero on the bottom end stop, with rezero_at_bottom


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
        self.started_at = time.monotonic()
        self.parts: Parts | None = None
        self.heartbeat: Heartbeat | None = None
        self._server = None             # the web server (deskpi/daemon/web_server.py)
        self._web_ctx = None
        self._moves_since_save = 0
        self.control = None             # the control socket (deskpi/daemon/control_server.py)
        self._store: Store | None = None  # open from the start of build, so shutdown closes it even if build fails
        self.current_problem: str | None = None     # why the configured current sensor is not reading
        self.w1_root: Path | None = None    # where 1-wire devices are (None: sysfs); tests and the sim use a fake tree
        self.metrics_problem: str | None = None     # why [metrics] enabled = true serves no metrics

    @property
    def ready_at(self) -> float | None:
        """When the desk was first seen (monotonic time); None until then."""
        return None if self.heartbeat is None else self.heartbeat.ready_at

    # -- building -----------------------------------------------------------
    def build(self) -> Parts:
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        from deskpi.daemon.control_server import ControlServer
        self.control = ControlServer(self, self.data_dir)   # refuses a second daemon before any pin is touched
        # A damaged or emptied database is refused before any pin is touched too (shutdown closes it).
        store = self._store = Store.open(db_path(self.data_dir))
        store.check_usable()
        if self.sim:
            factory, sim_desk = self._simulated_desk()
        else:
            factory, sim_desk = pin_factory_for(s.daemon.pin_factory), None
        drive = self._drive(factory)
        if not self.sim:
            motor_pins.remember(self.data_dir, s.motor_pins())
        current = self._current_sensor(sim_desk)
        controller = MotionController(motion_config(s, current_sensing=current is not None),
                                      learned_model.load(self.data_dir))
        loop = ControlLoop(controller, drive)
        if current is not None:
            current.on_sample = loop.feed
        metrics = self._metrics()
        from deskpi.daemon.sensor_upkeep import build_rezero, build_thermometer, conversion_temperature_c
        thermometer = build_thermometer(s.sensor, self.w1_root)
        sensor = UltrasonicSensor(s.sensor.trigger_pin, s.sensor.echo_pin, mounting=sensor_mounting(s),
                                  temperature_c=conversion_temperature_c(s.sensor), interval_s=s.sensor.interval_s,
                                  idle_interval_s=s.sensor.idle_interval_s,
                                  max_distance_mm=sensor_max_distance_mm(s),
                                  air_c=None if thermometer is None else thermometer.air_c,
                                  on_reading=loop.feed if metrics is None else metrics.counting(loop.feed),
                                  pin_factory=factory)
        rezero = build_rezero(s, sensor, controller)
        if rezero is not None:
            feed = sensor.on_reading

            def feed_and_watch(reading, feed=feed, watch=rezero.on_reading):
                feed(reading)
                watch(reading)
            sensor.on_reading = feed_and_watch
            loop.listeners.append(rezero.on_event)
        arbiter = MotionArbiter(loop)
        recorder = Recorder(store)
        desk_presets = PresetStore(self.data_dir / "presets.json", (s.desk.min_mm, s.desk.max_mm))
        service = DeskService(loop, arbiter, UserPresets(store, desk_presets))
        service.store = store
        service.sim_desk = sim_desk
        service.metrics_problem = self.metrics_problem

        def audit(source, action, detail, by=None):
            if metrics is not None:
                metrics.on_request(source, action, detail, by)
            # Credited to who asked when the interface knows (a signed-in person, a token's owner), else to
            # whoever is at the desk (a button, the schedule, the CLI).
            if by is not None and by.user is not None:
                user = by.user
            else:
                active = store.get_active_user()
                user = None if active is None else active.name
            channel = by.channel if by is not None else source.audit_name if source is not None else "web"
            extra = {"via": by.via} if by is not None and by.via else {}
            recorder.audit(channel, action, user=user, remote=None if by is None else by.remote,
                           detail={k: v for k, v in {**detail, **extra}.items() if v is not None})
            habits = service.habits
            # An automation (the schedule, home automation) is no sign of a person at the desk.
            if habits is not None and source is not None and source not in (Source.SCHEDULE, Source.MQTT):
                habits.defer(habits.on_interaction, source.audit_name)

        arbiter.on_request = audit
        parts = Parts(factory, drive, sensor, controller, loop, arbiter, service, sim_desk=sim_desk,
                      store=store, recorder=recorder, current=current, metrics=metrics, thermometer=thermometer,
                      rezero=rezero)
        if metrics is not None:
            self._count(parts, metrics)
        self._optional_parts(parts)
        self._habits(parts)
        self.heartbeat = Heartbeat(parts, self.notifier, watchdog=bool(s.daemon.watchdog))
        loop.on_tick = self.heartbeat.tick
        loop.listeners.append(self._on_event)
        self._mqtt(parts)
        self.parts = parts
        return parts

    def _metrics(self):
        """The desk's Prometheus counts, or None: off in the config, or prometheus-client missing (said once
        here and on every scrape; the desk itself works the same without them)."""
        m = self.settings.metrics
        if not m.enabled:
            return None
        from deskpi.daemon.metrics import DeskMetrics
        try:
            import deskpi.daemon.metrics_export  # noqa: F401 - needs prometheus-client, which is checked now
        except ImportError as exc:
            self.metrics_problem = (f"[metrics] enabled = true, but the Python package prometheus-client is "
                                    f"missing ({exc}); reinstall deskpi (systemd/install.sh) or pip install "
                                    f"prometheus-client into its environment")
            log.error("%s; carrying on without metrics", self.metrics_problem)
            return None
        return DeskMetrics(allow_localhost=m.allow_localhost)

    @staticmethod
    def _count(parts: Parts, metrics) -> None:
        """Hand the counts their hooks: each bumps a number and returns, on the thread it is called on."""
        from deskpi.daemon.metrics import live_state
        parts.loop.on_lag, parts.loop.on_stop = metrics.loop_lag, metrics.stop_latency
        parts.loop.listeners.append(metrics.on_event)
        if parts.recorder is not None:
            parts.recorder.listeners.append(metrics.height)
        metrics.live = live_state(parts.loop, parts.arbiter)
        parts.service.metrics = metrics

    def _simulated_desk(self):
        """A simulated desk on simulated pins, shaped by the settings: (its pin factory, the desk)."""
        from deskpi.sim.mockdesk import SimFactory, SimPins, SimulatedDesk
        from deskpi.sim.physics import DeskSpec
        from deskpi.sim.sensor_model import SensorSpec

        s = self.settings
        factory = SimFactory()
        desk = SimulatedDesk(
            factory, pins=SimPins(up=s.motor.up_pin, down=s.motor.down_pin, trigger=s.sensor.trigger_pin,
                                  echo=s.sensor.echo_pin),
            desk=DeskSpec(min_mm=s.desk.min_mm - 20, max_mm=s.desk.max_mm + 10),
            sensor=SensorSpec(mount_offset_mm=s.sensor.offset_mm, temperature_c=s.sensor.temperature_c,
                              ping_interval_s=effective_interval_s(s.sensor.interval_s, sensor_max_distance_mm(s),
                                                                   s.sensor.temperature_c),
                              idle_interval_s=s.sensor.idle_interval_s),
            seed=self.seed, start_mm=min(max(740.0, s.desk.min_mm), s.desk.max_mm),
            active_high=s.motor.active_high)
        return factory, desk

    def _current_sensor(self, sim_desk):
        """The motor current reader, or None: off in the config, or unavailable. Unavailable is a warning,
        never a desk that does not start: the ultrasonic sensor alone then sees stalls and obstructions."""
        c = self.settings.current
        if not c.enabled:
            return None
        from deskpi.hw.current_sensor import CurrentSensor
        bus_factory = None
        if sim_desk is not None:
            def bus_factory(number):
                return sim_desk.i2c_bus(c.chip, c.address, c.shunt_ohms)
        reader = None
        try:
            reader = CurrentSensor(c.chip, bus=c.bus, address=c.address, shunt_ohms=c.shunt_ohms,
                                   max_amps=c.max_amps, interval_s=c.interval_s, bus_factory=bus_factory)
            reader.open()
        except Exception as exc:  # noqa: BLE001 - the desk works without it; say why and carry on
            if reader is not None:
                reader.close()
            self.current_problem = str(exc)
            log.warning("current sensor unavailable: %s; carrying on with the ultrasonic sensor alone "
                        "(`deskpi doctor` checks it)", exc)
            return None
        log.info("current sensor: %s, reading up to %.1f A", reader.where, reader.setup.range_a)
        return reader

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
        except Exception:
            log.exception("indicators unavailable; carrying on without them")
        try:
            from deskpi.hw.buttons import ButtonPanel
            parts.buttons = ButtonPanel(s.buttons, parts.service, pin_factory=parts.factory,
                                        indicators=parts.indicators, repeat_s=min(0.15, s.desk.hold_lease_s / 3))
            parts.service.preset_slots = parts.buttons.preset_slots      # a claim asks for one of these
            if self.sim:
                parts.service.sim_keypad = parts.buttons.press
        except Exception:
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
        except Exception:
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
            except Exception:
                log.exception("PIR sensor on GPIO%s unavailable; presence comes from button and web use", h.pir_pin)
        parts.habits = habits
        parts.service.habits = habits
        if parts.metrics is not None:
            habits.on_reminder = parts.metrics.reminder
        parts.recorder.listeners.append(habits.on_height)

    def _mqtt(self, parts: Parts) -> None:
        """Home Assistant over MQTT: optional, and a broker or a config problem never stops the desk."""
        if not self.settings.mqtt.enabled:
            return
        try:
            from deskpi.integrations.mqtt.bridge import MqttBridge
            bridge = MqttBridge(self.settings, parts, sim=self.sim)
        except ImportError as exc:
            log.error("MQTT is enabled but paho-mqtt is not installed (%s); install the `mqtt` extra: "
                      "pip install 'deskpi[mqtt]'. Carrying on without MQTT", exc)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. an unreadable password file: say it, run the desk
            log.error("MQTT unavailable: %s; carrying on without it", exc)
            return
        bridge.attach()
        parts.mqtt = bridge

    def save_model(self) -> None:
        if self.parts is None:
            return
        with self.parts.loop.lock:
            data = self.parts.controller.model.to_dict()
        learned_model.save(self.data_dir, data, None if self.parts.store is None else self.parts.store.storage)

    # -- running --------------------------------------------------------------
    def start(self) -> None:
        parts = self.parts or self.build()
        self.control.start()
        parts.loop.start()
        if parts.thermometer is not None:
            parts.thermometer.start()
        parts.sensor.start()
        if parts.current is not None:
            parts.current.start()
        if parts.habits is not None:
            parts.habits.start()
        if self.web_address is not None:
            self._start_web(*self.web_address)
        if parts.mqtt is not None:
            try:
                parts.mqtt.start(self.url)
            except Exception:
                log.exception("MQTT could not start; carrying on without it")
        from deskpi.daemon.priority import favour_motion_threads
        favour_motion_threads()         # every thread is running now, the motion path's by name

    def _start_web(self, host: str, port: int) -> None:
        from deskpi.daemon.web_server import MAX_STREAMS, ServerOptions, WebServer
        from deskpi.webapp.app import create_app
        from deskpi.webapp.auth import session_secret
        from deskpi.webapp.context import WebDefaults
        from deskpi.webapp.transport import Transport
        web = self.settings.web
        options = ServerOptions.from_settings(web)
        app = create_app(self.parts.service, max_body_bytes=web.max_body_bytes,
                         defaults=WebDefaults.from_settings(self.settings), secret_key=session_secret(self.data_dir),
                         transport=Transport.from_settings(web), max_streams=MAX_STREAMS)
        self._web_ctx = app.extensions["deskpi.web"]
        self._server = WebServer(app, host, port, options)
        self._server.start()

    @property
    def url(self) -> str | None:
        return None if self._server is None else self._server.url

    def _on_event(self, kind: str, ev: object) -> None:
        if kind == "move_done":
            self._moves_since_save += 1
            if self._moves_since_save >= SAVE_MODEL_EVERY:
                self._moves_since_save = 0
                threading.Thread(target=self.save_model, name="save-model", daemon=True).start()
        elif kind in ("suspicion", "suspicion_dismissed"):
            # A pause mid-move: rare, and what facilities need to see when a desk "stutters".
            info = ev if isinstance(ev, dict) else {}
            if kind == "suspicion":
                log.info("motor off on a suspected %s (%s); judging once the desk has settled",
                         info.get("kind"), info.get("detail"))
            else:
                log.info("the suspected %s was a false alarm: the move goes on", info.get("kind"))
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
        try:
            self.start()
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
            steps.append(self._server.stop)
        if self._web_ctx is not None and self._web_ctx.reader is not None:
            steps.append(self._web_ctx.reader.close)
        if parts is not None:
            steps += [p.close for p in (parts.mqtt, parts.habits, parts.buttons, parts.indicators, parts.current,
                                        parts.thermometer) if p is not None]
            steps += [parts.sensor.close, parts.loop.close, self.save_model, parts.drive.close]
            if parts.recorder is not None:
                steps.append(parts.recorder.close)
            if parts.store is not None:
                steps.append(parts.store.close)
            if parts.sim_desk is not None:
                steps.append(parts.sim_desk.close)
        elif self._store is not None:                    # build failed after opening it
            steps.append(self._store.close)
        steps.append(self.notifier.close)
        for step in steps:
            try:
                step()
            except Exception:
                log.exception("shutdown step failed")
