"""`deskpi doctor`: a self-test a person can run over SSH and act on.

Each check answers pass, warn or fail with what it saw and, when it is not a
pass, what to do about it. Checks never raise: a check that breaks is itself a
failure with the reason. What needs the live desk (sensor rate and noise, the
watchdog, a fault) asks the running daemon over its control socket; without
a daemon those checks fail or warn saying so. The desk moves only with --move.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskpi.daemon.client import ControlClient, ControlError
from deskpi.util.storage import StorageFull

MIN_FREE_MB = 50
WARN_FREE_MB = 200
MAX_NOISE_MM = 5.0
MIN_USABLE = 0.8
MOTOR_TEST_MM = 20.0
REST_CURRENT_A = 0.1        # with the motor off the shunt should carry (next to) nothing
CURRENT_SAMPLES = 10


@dataclass
class Check:
    name: str
    status: str          # pass | warn | fail
    detail: str
    hint: str | None = None

    def to_dict(self) -> dict:
        d = {"name": self.name, "status": self.status, "detail": self.detail}
        if self.hint:
            d["hint"] = self.hint
        return d


def _run(cmd: list[str], timeout: float = 5.0) -> tuple[int, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return p.returncode, (p.stdout or p.stderr).strip()


@contextlib.contextmanager
def files_kept_owned(data_dir: Path) -> Iterator[None]:
    """Run as root, files SQLite creates in the data dir (-wal, -shm, lock files) go to the dir's owner.

    Otherwise `sudo deskpi doctor` with the daemon stopped leaves root-owned
    files the deskpi service cannot open, and the desk does not start.
    """
    before = set(os.listdir(data_dir)) if os.geteuid() == 0 and data_dir.is_dir() else None
    try:
        yield
    finally:
        if before is not None:
            st = data_dir.stat()
            for name in set(os.listdir(data_dir)) - before:
                with contextlib.suppress(OSError):
                    os.chown(data_dir / name, st.st_uid, st.st_gid)


def _on_systemd() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


class Doctor:
    def __init__(self, config: str | None, data_dir: str | None, move: bool) -> None:
        self.config_arg = config
        self.data_dir_arg = data_dir
        self.move = move
        self.settings = None
        self.config_problem: str | None = None
        self.client: ControlClient | None = None
        self.daemon_error: ControlError | None = None
        self.status: dict | None = None
        self.skipped: list[dict] = []
        self.w1_root: Path | None = None      # None: /sys/bus/w1/devices (tests hand a fake tree)

    # -- plumbing --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        checks: list[Check] = []
        steps: list[Callable[[], Check | None]] = [
            self.check_config, self.check_desk, self.check_pins, self.check_pin_factory, self.check_daemon,
            self.check_fault, self.check_sensor, self.check_thermometer, self.check_current, self.check_motor,
            self.check_service, self.check_watchdog, self.check_clock, self.check_database, self.check_disk,
            self.check_storage]
        # Checks of an installed desk (its daemon, service, data, disk, clock): on a machine without one they
        # would only say what is not running here and how to start it.
        needs_desk = {self.check_daemon, self.check_fault, self.check_sensor, self.check_motor, self.check_service,
                      self.check_watchdog, self.check_clock, self.check_database, self.check_disk,
                      self.check_storage}
        try:
            for step in steps:
                name = step.__name__.removeprefix("check_").replace("_", " ")
                if step in needs_desk and self.no_desk_here():
                    if name not in ("fault", "storage"):     # the daemon's own findings: no daemon, nothing to say
                        self.skipped.append({"name": name, "detail": "no desk is installed on this machine"})
                    continue
                try:
                    c = step()
                except Exception as exc:  # noqa: BLE001 - a broken check is a finding, not a crash
                    c = Check(name, "fail", f"the check itself failed: {type(exc).__name__}: {exc}",
                              "report this as a deskpi bug, with the output of `deskpi doctor`")
                if c is not None:
                    checks.append(c)
        finally:
            if self.client is not None:
                self.client.close()
        return {"checks": [c.to_dict() for c in checks], "skipped": self.skipped}

    @property
    def data_dir(self) -> Path:
        if self.data_dir_arg:
            return Path(self.data_dir_arg)
        from deskpi.config import defaults

        return Path((self.settings or defaults()).daemon.data_dir)

    def no_desk_here(self) -> bool:
        """No --data-dir, and the data directory an installed desk has (the built-in one: the config names no
        other) does not exist: nothing was ever installed on this machine."""
        if self.data_dir_arg:
            return False
        from deskpi.config import defaults

        return not self.data_dir.exists() and self.data_dir == Path(defaults().daemon.data_dir)

    def _daemon(self) -> ControlClient | None:
        if self.client is None and self.daemon_error is None:
            try:
                self.client = ControlClient(self.data_dir, timeout_s=10.0).connect()
                self.status = self.client.request("status")
            except ControlError as exc:
                self.daemon_error = exc
                if self.client is not None:
                    self.client.close()
                self.client = None
        return self.client

    def _no_daemon(self, name: str, status: str = "fail") -> Check:
        return Check(name, status, f"cannot check: {self.daemon_error}",
                     "start the daemon (sudo systemctl start deskpi) and see `deskpi logs` for why it stopped")

    # -- checks ----------------------------------------------------------------------------------
    def check_config(self) -> Check:
        from deskpi.config import DEFAULT_PATH, ConfigError, defaults, load

        path = Path(self.config_arg) if self.config_arg else DEFAULT_PATH
        if not self.config_arg and not path.exists():
            self.settings = defaults()
            return Check("config", "warn", f"no config file at {path}: the built-in defaults apply",
                         "copy deskpi.example.toml to /etc/deskpi/deskpi.toml and set the pins and limits")
        try:
            self.settings = load(path)
        except ConfigError as exc:
            self.config_problem = str(exc)
            self.settings = None
            return Check("config", "fail", str(exc), "fix the keys named above; deskpi.example.toml explains "
                                                     "every option (`deskpi config validate` checks it)")
        if self.settings.warnings:
            return Check("config", "warn", f"{path}: valid, with warnings: " + "; ".join(self.settings.warnings),
                         "see each warning; they name the key and the risk")
        return Check("config", "pass", f"{path}: valid")

    def check_desk(self) -> Check | None:
        if not self.no_desk_here():
            return None
        return Check("desk", "fail", f"no desk is installed on this machine: there is no {self.data_dir} (where an "
                                     "installed desk keeps its data), so the daemon, its service, the database and "
                                     "the disk were not checked",
                     "point at a desk's data directory with --data-dir DIR (the one `deskpi sim --data-dir DIR` "
                     "uses, for a simulated desk), or run `deskpi doctor` on the desk's Raspberry Pi (over SSH)")

    def check_pins(self) -> Check:
        s = self.settings
        if s is None:
            return Check("pins", "fail", "cannot check the pin map: the config is invalid", "fix the config first")
        m, sn = s.motor, s.sensor
        summary = (f"motor up GPIO{m.up_pin}, down GPIO{m.down_pin}; sensor trigger GPIO{sn.trigger_pin}, "
                   f"echo GPIO{sn.echo_pin}; no pin has two jobs")
        busy = self._pins_used_elsewhere()
        if busy:
            return Check("pins", "warn", f"{summary}; but in use by another program: {', '.join(busy)}",
                         "stop whatever holds them (gpioinfo shows the consumer) or choose other pins")
        return Check("pins", "pass", summary)

    def _pins_used_elsewhere(self) -> list[str]:
        """Configured pins some other program holds (only checkable with gpioinfo and no daemon running)."""
        if shutil.which("gpioinfo") is None or self._daemon() is not None:
            return []
        code, text = _run(["gpioinfo"])
        if code != 0:
            return []
        wanted = {p for p, _ in self.settings.motor_pins()} | {self.settings.sensor.trigger_pin,
                                                                 self.settings.sensor.echo_pin}
        found = []
        for line in text.splitlines():
            # libgpiod 1: 'line  17: "GPIO17" "lg" output active-high [used]'; 2: '... consumer="lg"'
            head, _, rest = line.strip().partition(":")
            num = head.removeprefix("line").strip()
            if num.isdigit() and int(num) in wanted and ("[used]" in rest or "consumer=" in rest):
                found.append(f"GPIO{num}")
        return found

    def check_pin_factory(self) -> Check:
        from deskpi.hw.pin_factory import is_raspberry_pi, pin_factory_for

        s = self.settings
        if s is not None and s.daemon.pin_factory == "mock":
            return Check("pin factory", "warn", "pin_factory = \"mock\": a simulated desk, no real pins",
                         "set [daemon] pin_factory = \"auto\" on a real desk")
        if not is_raspberry_pi() and not os.environ.get("GPIOZERO_PIN_FACTORY"):
            return Check("pin factory", "warn", "this is not a Raspberry Pi: there are no GPIO pins here "
                                                "(fine for `deskpi sim`)", "run deskpi on the desk's Raspberry Pi")
        if s is None:
            return Check("pin factory", "fail", "cannot check: the config is invalid", "fix the config first")
        factory = pin_factory_for(s.daemon.pin_factory)
        if factory is None:
            from gpiozero import Device
            from gpiozero.devices import _default_pin_factory

            factory = Device.pin_factory or _default_pin_factory()
        name = type(factory).__name__
        with contextlib.suppress(Exception):  # only opened to see that it works
            factory.close()
        return Check("pin factory", "pass", f"{name} works on this machine")

    def check_daemon(self) -> Check:
        if self._daemon() is None:
            return self._no_daemon("daemon")
        st = self.status
        return Check("daemon", "pass", f"running: deskpi {st['version']}, pid {st['pid']}, up {st['uptime_s']:.0f} s"
                                       f"{', simulated desk' if st.get('sim') else ''}, {st['state']} at "
                                       f"{st['height_mm']} mm")

    def check_fault(self) -> Check | None:
        if self._daemon() is None:
            return None           # the daemon check already says it is not running
        fault = self.status.get("fault")
        if fault:
            return Check("fault", "fail", f"the desk is in a fault: {fault}",
                         "fix the cause named, then `deskpi clear-fault`")
        return Check("fault", "pass", "no fault latched")

    def check_sensor(self) -> Check:
        if self._daemon() is None:
            return self._no_daemon("sensor")
        r = self.client.request("sensor", seconds=1.5, wait_s=10.0)
        idle = r["expected_rate_hz"]["idle"]
        detail = (f"{r['rate_hz']:g} pings/s (at rest {idle:g} expected, {r['expected_rate_hz']['moving']:g} while "
                  f"moving), {0 if r['usable'] is None else round(100 * r['usable'])}% usable, noise "
                  f"{r['noise_mm']} mm now, {r['learned_noise_mm']} mm learned")
        if r["pings"] == 0 or not r["fresh"]:
            return Check("sensor", "fail", f"no usable readings: {detail}; counts {r['counts']}",
                         "check the HC-SR04's wiring, its 5 V supply and the echo divider (hardware/README.md)")
        problems = []
        if r["rate_hz"] < 0.6 * idle:
            problems.append("slow")
        if r["usable"] is not None and r["usable"] < MIN_USABLE:
            problems.append("many lost or wild echoes")
        if r["noise_mm"] is not None and r["noise_mm"] > MAX_NOISE_MM:
            problems.append("noisy")
        if problems:
            return Check("sensor", "warn", f"{', '.join(problems)}: {detail}",
                         "point the sensor at a hard, flat floor; nothing soft or angled under it; check the "
                         "wiring for loose contacts")
        return Check("sensor", "pass", detail)

    def check_thermometer(self) -> Check | None:
        """The air thermometer, when `[sensor] temperature_source` names one: read it as the daemon does."""
        s = self.settings
        if s is None:
            return None
        from deskpi.core.air import parse_source
        kind, device = parse_source(s.sensor.temperature_source)
        if kind == "none":
            return None
        if kind == "fixed" or device is None:
            return Check("thermometer", "pass", f"none: the air is taken to be {s.sensor.temperature_c:g} degC "
                                                f"(temperature_source = \"fixed\")")
        from deskpi.hw.thermometer import W1_ROOT, ThermometerError, W1Thermometer

        reader = W1Thermometer(device, self.w1_root or W1_ROOT)
        try:
            value = reader.read_c()
        except ThermometerError as exc:
            return Check("thermometer", "fail", f"{reader.where}: {exc}; the desk converts at the calibration "
                                                f"temperature meanwhile",
                         "wire the DS18B20 to GPIO4 with a 4.7 kOhm pull-up to 3.3 V, add dtoverlay=w1-gpio to "
                         "/boot/firmware/config.txt and reboot; `ls /sys/bus/w1/devices` lists its id "
                         "(hardware/README.md)")
        return Check("thermometer", "pass", f"{device}: {value:.1f} degC")

    def check_current(self) -> Check:
        """The motor current sensor: off is fine; on, the chip must answer and read ~0 A with the motor off."""
        s = self.settings
        if s is None:
            return Check("current sensor", "fail", "cannot check: the config is invalid", "fix the config first")
        c = s.current
        if not c.enabled:
            return Check("current sensor", "pass", "off ([current] enabled = false): stalls and obstructions are "
                                                   "seen by the ultrasonic sensor alone")
        where = f"{c.chip.upper()} at {c.address:#04x} on I2C bus {c.bus}"
        client = self._daemon()
        if client is not None:
            seen = client.request("current", samples=CURRENT_SAMPLES, wait_s=10.0)
            if not seen["running"]:
                problem = seen.get("problem") or "the daemon is not reading it"
                return Check("current sensor", "fail", f"{where}: {problem}", _current_hint(problem, c))
        elif s.daemon.pin_factory == "mock":
            return Check("current sensor", "warn", f"{where}: cannot check: {self.daemon_error}; the simulated "
                                                   "sensor lives in the daemon", "start `deskpi sim` first")
        else:
            seen = _read_current_directly(c)
        return _current_verdict(where, seen, c)

    def check_motor(self) -> Check | None:
        if not self.move:
            self.skipped.append({"name": "motor", "detail": "the motor's direction was not checked; add --move "
                                                            f"(the desk moves about {MOTOR_TEST_MM:g} mm and back)"})
            return None
        if self._daemon() is None:
            return self._no_daemon("motor")
        from deskpi.fleet.calibrate import direction_verdict

        st = self.client.request("status")
        here, lo, hi = st["height_mm"], st["limits"]["min_mm"], st["limits"]["max_mm"]
        if here is None:
            return Check("motor", "fail", "no height reading, so the desk was not moved", "check the sensor first")
        up = here + MOTOR_TEST_MM <= hi - 5
        target = here + MOTOR_TEST_MM if up else here - MOTOR_TEST_MM
        try:
            out = self.client.request("calibrate", step="move", target_mm=round(target, 1), timeout_s=30.0,
                                      wait_s=60.0)
        except ControlError as exc:
            return Check("motor", "fail", f"the test move was refused: {exc}", "see `deskpi status`")
        verdict = direction_verdict("up" if up else "down", here, out.get("final_mm"), out.get("fault_kind"))
        if verdict == "ok":
            self.client.request("calibrate", step="move", target_mm=round(min(max(here, lo), hi), 1),
                                timeout_s=30.0, wait_s=60.0)
            return Check("motor", "pass", f"moved {'up' if up else 'down'} as commanded "
                                          f"({here:.0f} -> {out['final_mm']:.0f} mm) and back")
        if verdict == "reversed":
            return Check("motor", "fail", "the desk moved the wrong way: the motor outputs are swapped",
                         "swap [motor] up_pin and down_pin (deskpi calibrate does it), restart the daemon")
        return Check("motor", "fail", f"the desk did not move: {out.get('fault') or 'the height did not change'}",
                     "check the motor supply, the control box and the relay wiring")

    def check_service(self) -> Check:
        if not _on_systemd():
            return Check("service", "warn", "this machine is not running systemd: nothing restarts the daemon if "
                                            "it stops", "install systemd/deskpi.service on the Raspberry Pi")
        _, enabled = _run(["systemctl", "is-enabled", "deskpi"])
        _, active = _run(["systemctl", "is-active", "deskpi"])
        detail = f"deskpi.service is {enabled or 'unknown'} and {active or 'unknown'}"
        if active != "active":
            return Check("service", "fail", detail, "sudo systemctl enable --now deskpi; then `deskpi logs`")
        if enabled != "enabled":
            return Check("service", "warn", detail, "sudo systemctl enable deskpi (so it starts at boot)")
        return Check("service", "pass", detail)

    def check_watchdog(self) -> Check:
        if self._daemon() is None:
            return self._no_daemon("watchdog", "fail" if _on_systemd() else "warn")
        w = self.client.request("watchdog")
        if not w["enabled"]:
            return Check("watchdog", "warn", "[daemon] watchdog = false: a hung daemon is not restarted",
                         "set [daemon] watchdog = true")
        if not w["systemd"] or not w["interval_s"]:
            return Check("watchdog", "warn", "the daemon was not started by systemd with WatchdogSec=, so no "
                                             "watchdog watches it" + (" (simulated desk)" if w["sim"] else ""),
                         "run it as systemd/deskpi.service")
        age = w["last_fed_s_ago"]
        if age is None or age > w["interval_s"]:
            return Check("watchdog", "fail", f"systemd watchdog {w['interval_s']:g} s, last fed "
                                             f"{'never' if age is None else f'{age:g} s ago'}",
                         "the sensor is not fresh, so systemd will restart the daemon; check the sensor")
        return Check("watchdog", "pass", f"systemd watchdog {w['interval_s']:g} s, fed {age:g} s ago")

    def check_clock(self) -> Check:
        from deskpi.daemon.habits import clock_is_synchronised

        if clock_is_synchronised():
            return Check("clock", "pass", "the system clock is synchronised")
        return Check("clock", "warn", "the system clock is not synchronised: reminders' working hours and "
                                      "statistics may be off, and automatic moves wait for it",
                     "enable time sync: sudo timedatectl set-ntp true (needs network access to an NTP server)")

    def check_database(self) -> Check:
        from deskpi.store import Store, db_path

        path = db_path(self.data_dir)
        if not path.exists():
            return Check("database", "warn", f"no database at {path} yet (the daemon creates it when it starts)",
                         "start the daemon, or check --data-dir / [daemon] data_dir")
        try:
            with files_kept_owned(path.parent), Store.open(path, timeout_s=2.0) as store:
                result, version = store.integrity_check(), store.schema_version
        except PermissionError:
            return Check("database", "fail", f"{path}: permission denied",
                         "run as root or a member of the deskpi group")
        except StorageFull as exc:            # SQLite cannot even open it: not a broken database, a full disk
            return Check("database", "fail", f"{path}: {exc}", "free some space; the database itself may be fine")
        except Exception as exc:  # noqa: BLE001 - StoreError, sqlite3 errors: all findings
            return Check("database", "fail", f"{path}: {exc}", "restore the latest backup: deskpi restore FILE")
        if result != "ok":
            return Check("database", "fail", f"{path}: integrity check found: {result[:500]}",
                         "stop the daemon and restore the latest backup: deskpi restore FILE")
        return Check("database", "pass", f"{path}: integrity ok, schema version {version}")

    def check_disk(self) -> Check:
        where = self.data_dir
        while not where.exists() and where != where.parent:
            where = where.parent
        u = shutil.disk_usage(where)
        free_mb = u.free / 1e6
        detail = f"{free_mb:.0f} MB free of {u.total / 1e6:.0f} MB on the file system of {self.data_dir}"
        hint = "free some space (old logs: sudo journalctl --vacuum-size=50M) or use a bigger SD card"
        if free_mb < MIN_FREE_MB:
            return Check("disk", "fail", detail, hint)
        if free_mb < WARN_FREE_MB or u.free < 0.05 * u.total:
            return Check("disk", "warn", detail, hint)
        return Check("disk", "pass", detail)

    def check_storage(self) -> Check | None:
        """Whether the running daemon's writes fail for want of space (the flag its state carries)."""
        if self._daemon() is None:
            return None           # the daemon check already says it is not running
        storage = self.status.get("storage") or {}
        if storage.get("full"):
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(storage["since"]))
            return Check("storage", "fail", f"the desk's storage is full since {since}: {storage.get('detail')}; "
                                            "sign-in, tokens, profile changes and the height log are not saved "
                                            "(the desk still moves)",
                         "free some space (old logs: sudo journalctl --vacuum-size=50M; old backups), then sign "
                         "in again: the flag clears with the next write that succeeds")
        return Check("storage", "pass", "the daemon's writes succeed")


def _read_current_directly(c: Any) -> dict[str, Any]:
    """With no daemon running: open the bus, set the chip up and read it, as the daemon would."""
    from deskpi.hw.current_sensor import CurrentSensor

    reader = CurrentSensor(c.chip, bus=c.bus, address=c.address, shunt_ohms=c.shunt_ohms, max_amps=c.max_amps,
                           interval_s=c.interval_s)
    seen: dict[str, Any] = {"running": True, "at_rest": True}
    try:
        reader.open()
        seen["identity"] = reader.identify()
        amps = []
        for _ in range(CURRENT_SAMPLES):
            amps.append(reader.read().amps)
            time.sleep(c.interval_s)
        seen["amps"] = amps
    except OSError as exc:
        seen["error"] = str(exc)
    finally:
        reader.close()
    return seen


def _current_hint(problem: str, c: Any) -> str:
    if "smbus2" in problem:
        return "install the I2C library: pip install 'deskpi[current]' (in the daemon's venv), then restart deskpi"
    if "cannot open I2C bus" in problem:
        return (f"enable I2C: sudo raspi-config nonint do_i2c 0 (or raspi-config > Interface Options > I2C) and "
                f"reboot; [current] bus = {c.bus} must name /dev/i2c-{c.bus}")
    if "not an INA226" in problem:
        return "set [current] chip to the chip on the board (\"ina219\" or \"ina226\")"
    return (f"check the wiring: SDA to GPIO2 (pin 3), SCL to GPIO3 (pin 5), VCC to 3.3 V (pin 1), GND; and that "
            f"[current] address = {c.address:#04x} matches the board's A0/A1 jumpers: `i2cdetect -y {c.bus}` lists "
            f"the addresses that answer (hardware/README.md)")


def _current_verdict(where: str, seen: dict[str, Any], c: Any) -> Check:
    """What the readings of a sensor that is meant to be running say."""
    if seen.get("error"):
        return Check("current sensor", "fail", f"{where}: {seen['error']}", _current_hint(seen["error"], c))
    amps = seen.get("amps") or []
    if not amps:
        return Check("current sensor", "fail", f"{where}: no readings", _current_hint("", c))
    mean = sum(amps) / len(amps)
    detail = f"{where} answers; {mean:+.3f} A with the motor off (mean of {len(amps)})"
    stats = seen.get("stats") or {}
    if not seen.get("at_rest", True):
        return Check("current sensor", "warn", f"{where} answers, but the desk was moving, so the reading at rest "
                                               "was not checked", "run `deskpi doctor` again with the desk at rest")
    if mean < -REST_CURRENT_A:
        return Check("current sensor", "warn", f"{detail}: a negative current means the shunt is wired backwards",
                     "swap the wires on IN+ and IN-: the supply's + goes to IN+, IN- goes on to the motor driver")
    if mean > REST_CURRENT_A:
        return Check("current sensor", "warn", f"{detail}: something draws current through the shunt with the "
                                               "motor off, or shunt_ohms is not the board's resistor",
                     f"put only the motor supply through the shunt; check [current] shunt_ohms = {c.shunt_ohms:g} "
                     "against the resistor's marking (R010 = 0.01 ohm, R100 = 0.1 ohm)")
    if stats.get("errors"):
        return Check("current sensor", "warn", f"{detail}; but {stats['errors']} bus errors since the daemon "
                                               f"started (last: {stats.get('last_error')})",
                     "loose or long I2C wires: keep SDA/SCL short (under 30 cm), away from the motor leads")
    return Check("current sensor", "pass", detail)


def run_checks(*, config: str | None = None, data_dir: str | None = None, move: bool = False) -> dict[str, Any]:
    return Doctor(config, data_dir, move).run()
