"""The daemon's configuration: one TOML file parsed into typed, frozen settings.

Every problem is reported with its section, key, the value given and what is
allowed, all at once rather than one per run. Unknown keys are errors: a typo
must not silently fall back to a default that moves a desk differently.
"""
from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskpi.core.air import parse_source
from deskpi.hw.pinmap import BUS_PINS, DEFAULT_PINS, FIXED_PULL_UP, PULLED_UP_AT_BOOT, VALID_GPIO
from deskpi.util.files import InputTooLarge, read_text_capped

DEFAULT_PATH = Path("/etc/deskpi/deskpi.toml")


class ConfigError(ValueError):
    """The config is invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems) if len(problems) == 1 else
                         f"{source}: {len(problems)} problems:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Opt:
    """One option: its type, default, and what is allowed."""
    kind: type | tuple
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: tuple | None = None
    optional: bool = False    # None (absent) allowed
    items: type = int         # for kind list: GPIO numbers (int) or text (str)
    hex: bool = False         # the range is said in hex (I2C addresses)


def _pin(default: int | None, optional: bool = False) -> Opt:
    return Opt(int, default, 0, 27, optional=optional)


SCHEMA: dict[str, dict[str, Opt]] = {
    "desk": {
        "min_mm": Opt(float, 640.0, 300, 1500),
        "max_mm": Opt(float, 1260.0, 400, 2000),
        "tolerance_mm": Opt(float, 2.0, 0.5, 20),
        "hold_lease_s": Opt(float, 0.4, 0.3, 2.0),   # clients renew every 0.15 s; a lost phone stops the desk < 0.5 s
        "backoff_mm": Opt(float, 30.0, 0, 100),
        "corrections": Opt(bool, True),
        "duty_max_on_s": Opt(float, 60.0, 5, 600),
        "duty_window_s": Opt(float, 600.0, 60, 3600),
        "speed_up_mm_s": Opt(float, 30.0, 5, 150),
        "speed_down_mm_s": Opt(float, 30.0, 5, 150),
    },
    "motor": {
        "driver": Opt(str, "relay", choices=("relay", "hbridge")),
        "up_pin": _pin(DEFAULT_PINS["motor"]["up_pin"]),
        "down_pin": _pin(DEFAULT_PINS["motor"]["down_pin"]),
        "enable_pin": _pin(None, optional=True),
        "active_high": Opt(bool, True),
        "dead_time_s": Opt(float, 0.1, 0.1, 2.0),
        "pwm_frequency": Opt(int, 1000, 50, 40000),
        "ramp_up_s": Opt(float, 0.3, 0.0, 3.0),
        "ramp_down_s": Opt(float, 0.15, 0.0, 0.5),   # a stop that takes longer is not a stop
    },
    "sensor": {
        "trigger_pin": _pin(DEFAULT_PINS["sensor"]["trigger_pin"]),
        "echo_pin": _pin(DEFAULT_PINS["sensor"]["echo_pin"]),
        "orientation": Opt(str, "under_desk", choices=("under_desk", "floor", "ceiling")),
        "offset_mm": Opt(float, 30.0, -3000, 3000),
        "temperature_c": Opt(float, 20.0, -30, 60),
        # The air's temperature for the speed of sound (deskpi/core/air.py): "none" (the calibration's), "fixed"
        # (temperature_c) or "w1:<id>" (a DS18B20 on the 1-wire bus, deskpi/hw/thermometer.py).
        "temperature_source": Opt(str, "none"),
        # Written by `deskpi calibrate`: the air temperature the offset (and scale) were measured at, and the
        # distance scale a two-point calibration found (what is left of the sensor's own timing error).
        "calibration_temperature_c": Opt(float, None, -30, 60, optional=True),
        "scale": Opt(float, 1.0, 0.9, 1.1),
        # Re-zero the offset when a move down to min_mm ends on the desk's bottom end stop (min_mm must be set
        # on that stop); a difference beyond rezero_max_mm is reported, never applied.
        "rezero_at_bottom": Opt(bool, False),
        "rezero_max_mm": Opt(float, 15.0, 2, 50),
        # While moving. Down to 20 ms: the reader raises it to three echo round trips at the farthest distance
        # the desk allows (~23.5 ms at desk heights, more under a tall ceiling) so no ghost of one ping is read
        # as the next; at most 0.1 s because the controller pauses after 0.2 s without a reading.
        "interval_s": Opt(float, 0.025, 0.02, 0.1),
        "idle_interval_s": Opt(float, 0.15, 0.06, 0.16),   # at rest; never shorter than interval_s
    },
    "buttons": {
        "up_pin": _pin(DEFAULT_PINS["buttons"]["up_pin"], optional=True),
        "down_pin": _pin(DEFAULT_PINS["buttons"]["down_pin"], optional=True),
        "preset_pins": Opt(list, list(DEFAULT_PINS["buttons"]["preset_pins"])),
        "pull_up": Opt(bool, True),
        "bounce_s": Opt(float, 0.02, 0.0, 0.2),
        "long_press_s": Opt(float, 2.0, 0.5, 10.0),
        "hold_to_run_only": Opt(bool, False),
        "child_lock": Opt(bool, True),
    },
    "indicators": {
        "led_pin": _pin(DEFAULT_PINS["indicators"]["led_pin"], optional=True),
        "buzzer_pin": _pin(DEFAULT_PINS["indicators"]["buzzer_pin"], optional=True),
        "led_active_high": Opt(bool, True),
        "buzzer_active_high": Opt(bool, True),
    },
    "daemon": {
        "data_dir": Opt(str, "/var/lib/deskpi"),
        "pin_factory": Opt(str, "auto", choices=("auto", "lgpio", "rpigpio", "pigpio", "native", "mock")),
        "watchdog": Opt(bool, True),
    },
    "habits": {
        "enabled": Opt(bool, True),
        "auto_moves_allowed": Opt(bool, False),
        "pir_pin": _pin(None, optional=True),
    },
    "web": {
        "host": Opt(str, "127.0.0.1"),
        "port": Opt(int, 8080, 1, 65535),
        "max_body_bytes": Opt(int, 4096, 256, 1048576),
        "require_claim": Opt(bool, True),
        "claim_idle_min": Opt(float, 30.0, 1, 1440),
        "self_register": Opt(bool, False),
        "session_days": Opt(int, 30, 1, 365),
        # The web server (deskpi/daemon/web_server.py): worker threads, and how long a socket may wait.
        "workers": Opt(int, 16, 8, 48),
        "timeout_s": Opt(float, 10.0, 2, 120),
        "tls_cert": Opt(str, ""),
        "tls_key": Opt(str, ""),
        "hsts": Opt(bool, False),
        "trusted_proxies": Opt(list, [], items=str),
        "allowed_hosts": Opt(list, [], items=str),
    },
    # Optional motor current sensing (deskpi/hw/current_sensor.py): an INA219/INA226 on the motor supply.
    "current": {
        "enabled": Opt(bool, False),
        "chip": Opt(str, "ina219", choices=("ina219", "ina226")),
        "bus": Opt(int, 1, 0, 20),
        "address": Opt(int, 0x40, 0x40, 0x4F, hex=True),
        "shunt_ohms": Opt(float, 0.01, 0.001, 1),
        "max_amps": Opt(float, 10.0, 0.5, 40),
        "interval_s": Opt(float, 0.005, 0.002, 0.05),
        "rise_a": Opt(float, 0.5, 0.05, 20),
        "surge_s": Opt(float, 0.15, 0.02, 1.0),
        "stall_a": Opt(float, None, 0.1, 40, optional=True),
    },
    # Prometheus metrics at /metrics (deskpi/daemon/metrics.py): off unless asked for; read with a metrics token.
    "metrics": {
        "enabled": Opt(bool, False),
        "allow_localhost": Opt(bool, False),
    },
    # Optional Home Assistant over MQTT (deskpi/integrations/mqtt/): needs the `mqtt` extra (paho-mqtt).
    "mqtt": {
        "enabled": Opt(bool, False),
        "host": Opt(str, "localhost"),
        "port": Opt(int, 1883, 1, 65535),
        "username": Opt(str, ""),
        "password_file": Opt(str, ""),      # the password lives in its own file, never in this one
        "tls": Opt(bool, False),
        "tls_ca_file": Opt(str, ""),
        "tls_cert": Opt(str, ""),
        "tls_key": Opt(str, ""),
        "client_id": Opt(str, ""),          # "": deskpi-<host name>
        "base_topic": Opt(str, ""),         # "": deskpi/<desk id>
        "discovery_prefix": Opt(str, "homeassistant"),
        "allow_commands": Opt(bool, False),
        "publish_personal": Opt(bool, False),
    },
}

#: The largest voltage each chip measures across its shunt (INA219 with its PGA at /8; INA226 fixed);
#: the same numbers as deskpi/hw/current_sensor.py's SHUNT_RANGE_V.
SHUNT_RANGE_V = {"ina219": 0.32, "ina226": 0.08192}

#: The most entries a list of text may have (trusted_proxies, allowed_hosts).
MAX_TEXT_ITEMS = 32


class Section:
    """One checked [section] of the config: its keys as read-only attributes, compared by value.

    One plain class rather than a dataclass made per section: making eleven dataclasses cost a
    third of this module's import, which every command that reads the config pays (`deskpi status`
    over SSH on a Pi Zero).
    """

    __slots__ = ("_name", "_values")

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"[{self._name}] has no setting {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"[{self._name}] {key}: settings are read-only; use .replace({key}=...)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Section) and (self._name, self._values) == (other._name, other._values)

    def __hash__(self) -> int:
        return hash((self._name, tuple(self._values.items())))

    def __repr__(self) -> str:
        return f"Section[{self._name}]({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def replace(self, **changes: Any) -> Section:
        """A copy with `changes` (known keys only: a typo must not pass silently)."""
        unknown = [k for k in changes if k not in self._values]
        if unknown:
            raise TypeError(f"[{self._name}] has no setting {', '.join(map(repr, unknown))}")
        return Section(self._name, {**self._values, **changes})

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


@dataclass(frozen=True)
class Settings:
    """Every section of the config, checked; `warnings` says what was odd but usable, `source` where it came from."""

    desk: Any
    motor: Any
    sensor: Any
    buttons: Any
    indicators: Any
    daemon: Any
    habits: Any
    web: Any
    current: Any
    metrics: Any
    mqtt: Any
    warnings: tuple[str, ...] = ()
    source: str = "defaults"

    def motor_pins(self) -> list[tuple[int, bool]]:
        """(pin, active_high) of every pin that can move the motor, for safe-off."""
        pins = [(self.motor.up_pin, self.motor.active_high), (self.motor.down_pin, self.motor.active_high)]
        if self.motor.driver == "hbridge" and self.motor.enable_pin is not None:
            pins.append((self.motor.enable_pin, True))
        return pins

    def as_dict(self) -> dict:
        return {name: getattr(self, name).as_dict() for name in SCHEMA}


def _check(section: str, key: str, value: Any, opt: Opt, problems: list[str]) -> Any:
    where = f"[{section}] {key}"
    if opt.optional and value is False:
        return None          # `led_pin = false`: not connected (TOML has no null)
    if opt.kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{where} = {value!r}: must be a number{_range(opt)}")
            return opt.default
        value = float(value)
    elif opt.kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            what = "a GPIO number (BCM)" if key.endswith("_pin") else "a whole number"
            problems.append(f"{where} = {value!r}: must be {what}{_range(opt)}")
            return opt.default
    elif opt.kind is bool:
        if not isinstance(value, bool):
            problems.append(f"{where} = {value!r}: must be true or false")
            return opt.default
    elif opt.kind is str:
        if not isinstance(value, str):
            problems.append(f"{where} = {value!r}: must be a string{_choices(opt)}")
            return opt.default
    elif opt.kind is list and opt.items is str:
        if not isinstance(value, list) or len(value) > MAX_TEXT_ITEMS or any(
                not isinstance(v, str) or not 0 < len(v) <= 253 for v in value):
            problems.append(f"{where} = {value!r}: must be a list of up to {MAX_TEXT_ITEMS} non-empty strings "
                            f"(at most 253 characters each)")
            return tuple(opt.default)
        return tuple(value)
    elif opt.kind is list:
        if not isinstance(value, list) or len(value) > 4 or any(
                isinstance(p, bool) or not isinstance(p, int) or p not in VALID_GPIO for p in value):
            problems.append(f"{where} = {value!r}: must be a list of up to 4 GPIO numbers (0-27)")
            return tuple(opt.default)
        return tuple(value)
    if opt.choices is not None and value not in opt.choices:
        problems.append(f"{where} = {value!r}: must be one of {', '.join(map(repr, opt.choices))}")
        return opt.default
    if opt.lo is not None and not opt.lo <= value <= opt.hi:
        problems.append(f"{where} = {value!r}: must be{_range(opt)}")
        return opt.default
    return value


def _range(opt: Opt) -> str:
    if opt.hex and opt.lo is not None and opt.hi is not None:
        return f" in {int(opt.lo):#04x}..{int(opt.hi):#04x}"
    return f" in {opt.lo:g}..{opt.hi:g}" if opt.lo is not None else ""


def _choices(opt: Opt) -> str:
    return f" ({', '.join(map(repr, opt.choices))})" if opt.choices else ""


def from_mapping(data: dict, source: str = "config") -> Settings:
    """Validate a parsed TOML mapping into Settings; raise ConfigError listing every problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError([f"top level must be a table of sections, got {type(data).__name__}"], source)
    for name in data:
        if name not in SCHEMA:
            problems.append(f"unknown section [{name}]; sections are {', '.join(SCHEMA)}")
    built = {}
    for name, opts in SCHEMA.items():
        raw = data.get(name, {})
        if not isinstance(raw, dict):
            problems.append(f"[{name}] must be a table, got {raw!r}")
            raw = {}
        for key in raw:
            if key not in opts:
                problems.append(f"[{name}] {key} = {raw[key]!r}: unknown key; allowed keys are {', '.join(opts)}")
        values = {key: _check(name, key, raw[key], opt, problems) if key in raw else
                  (tuple(opt.default) if isinstance(opt.default, list) else opt.default)
                  for key, opt in opts.items()}
        built[name] = Section(name, values)
    warnings = _cross_checks(built, problems)
    if problems:
        raise ConfigError(problems, source)
    return Settings(**built, warnings=tuple(warnings), source=source)


_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,15}")       # a Linux interface name (IFNAMSIZ - 1)


def is_host(text: str) -> bool:
    """An IPv4 or IPv6 address, or a DNS host name (RFC 1123: labels of letters, digits and inner '-', the last
    one not all digits), as a server can bind to it and a URL can carry it."""
    address, percent, zone = text.partition("%")          # fe80::1%eth0: an interface name after the '%'
    try:
        ipaddress.ip_address(address)
        return not percent or (":" in address and _ZONE.fullmatch(zone) is not None)
    except ValueError:
        pass
    name = text.removesuffix(".")
    labels = name.split(".")
    return (0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)
            and not labels[-1].isdigit())


def _cross_checks(s: dict, problems: list[str]) -> list[str]:
    warnings: list[str] = []
    desk, motor, sensor, buttons, ind = s["desk"], s["motor"], s["sensor"], s["buttons"], s["indicators"]
    if desk.min_mm >= desk.max_mm:
        problems.append(f"[desk] min_mm = {desk.min_mm:g} must be below max_mm = {desk.max_mm:g}")
    if desk.duty_max_on_s >= desk.duty_window_s:
        problems.append(f"[desk] duty_max_on_s = {desk.duty_max_on_s:g} must be below "
                        f"duty_window_s = {desk.duty_window_s:g} (motor-on seconds within that window)")
    if sensor.idle_interval_s < sensor.interval_s:
        problems.append(f"[sensor] idle_interval_s = {sensor.idle_interval_s:g} must be at least interval_s = "
                        f"{sensor.interval_s:g} (pings at rest are never faster than while the desk moves)")
    try:
        parse_source(sensor.temperature_source)
    except ValueError as exc:
        problems.append(f"[sensor] temperature_source = {sensor.temperature_source!r}: {exc}")
    if motor.driver == "hbridge" and not motor.active_high:
        problems.append("[motor] active_high = false: H-bridge inputs are driven active-high (PWM duty = power); "
                        "leave active_high = true with driver = \"hbridge\"")
    if motor.driver == "relay" and motor.enable_pin is not None:
        warnings.append(f"[motor] enable_pin = {motor.enable_pin}: ignored with driver = \"relay\"")
    daemon, web = s["daemon"], s["web"]
    if not daemon.data_dir.startswith("/"):
        problems.append(f"[daemon] data_dir = {daemon.data_dir!r}: must be an absolute path "
                        "(a relative one would follow the service's working directory)")
    if not is_host(web.host):
        problems.append(f"[web] host = {web.host!r}: must be an address such as \"127.0.0.1\", \"0.0.0.0\" or "
                        f"\"::1\", or a host name (letters, digits, '-' and '.'; no spaces or quotes)")
    _web_checks(web, problems)
    uses: dict[int, list[str]] = {}

    def use(pin, what):
        if pin is not None:
            uses.setdefault(pin, []).append(what)

    use(motor.up_pin, "[motor] up_pin")
    use(motor.down_pin, "[motor] down_pin")
    if motor.driver == "hbridge":
        use(motor.enable_pin, "[motor] enable_pin")
    use(sensor.trigger_pin, "[sensor] trigger_pin")
    use(sensor.echo_pin, "[sensor] echo_pin")
    use(buttons.up_pin, "[buttons] up_pin")
    use(buttons.down_pin, "[buttons] down_pin")
    for i, p in enumerate(buttons.preset_pins, 1):
        use(p, f"[buttons] preset_pins[{i}]")
    use(ind.led_pin, "[indicators] led_pin")
    use(ind.buzzer_pin, "[indicators] buzzer_pin")
    use(s["habits"].pir_pin, "[habits] pir_pin")
    for pin, who in sorted(uses.items()):
        if len(who) > 1:
            problems.append(f"GPIO{pin} is used twice: {' and '.join(who)}; every pin may have one job")
        if pin in FIXED_PULL_UP:
            for w in who:
                if w.startswith("[motor]") or w.startswith("[sensor] echo"):
                    problems.append(f"{w} = {pin}: GPIO{pin} has a fixed pull-up ({FIXED_PULL_UP[pin]}); "
                                    "it cannot hold a motor output low at boot or read an echo cleanly")
                else:
                    warnings.append(f"{w} = {pin}: GPIO{pin} has a fixed pull-up ({FIXED_PULL_UP[pin]})")
        elif pin in BUS_PINS:
            warnings.append(f"{', '.join(who)} = {pin}: GPIO{pin} is {BUS_PINS[pin]}; "
                            "fine only if that interface is disabled")
    if sensor.temperature_source.startswith("w1:") and 4 in uses:
        warnings.append(f"{' and '.join(uses[4])} = 4: GPIO4 is the 1-wire bus's default pin (dtoverlay=w1-gpio), "
                        f"which temperature_source = {sensor.temperature_source!r} needs; move one of them "
                        f"(dtoverlay=w1-gpio,gpiopin=N puts the bus on another pin)")
    if not motor.active_high:
        for key in ("up_pin", "down_pin"):
            pin = getattr(motor, key)
            if pin in PULLED_UP_AT_BOOT:
                warnings.append(f"[motor] {key} = {pin}: an active-low relay on GPIO{pin}, which is pulled up "
                                "at boot, is safe only until the Pi resets it; prefer GPIO9-27")
            else:
                warnings.append(f"[motor] {key} = {pin}: an active-low relay board on GPIO{pin}, pulled down at "
                                "boot, switches ON while the Pi boots; use an active-high driver or GPIO0-8")
    _current_checks(s["current"], uses, problems)
    _mqtt_checks(s["mqtt"], problems)
    return warnings


def _current_checks(cur: Any, uses: dict[int, list[str]], problems: list[str]) -> None:
    """The shunt's voltage fits the chip, the thresholds fit what it reads, and I2C-1's pins are free."""
    if not cur.enabled:
        return
    volts = cur.max_amps * cur.shunt_ohms
    limit = SHUNT_RANGE_V[cur.chip]
    if volts > limit:
        problems.append(f"[current] max_amps = {cur.max_amps:g} with shunt_ohms = {cur.shunt_ohms:g}: "
                        f"{volts * 1000:g} mV across the shunt, beyond the {cur.chip.upper()}'s {limit * 1000:g} mV; "
                        f"use shunt_ohms <= {limit / cur.max_amps:.4g} or max_amps <= {limit / cur.shunt_ohms:.4g}")
    if cur.rise_a >= cur.max_amps:
        problems.append(f"[current] rise_a = {cur.rise_a:g} must be below max_amps = {cur.max_amps:g} "
                        "(a rise the sensor cannot read is never seen)")
    if cur.stall_a is not None and cur.stall_a > cur.max_amps:
        problems.append(f"[current] stall_a = {cur.stall_a:g} must be at most max_amps = {cur.max_amps:g} "
                        "(the most current the sensor is set up to read); raise max_amps or lower stall_a")
    if cur.bus == 1:
        for pin, what in ((2, "SDA"), (3, "SCL")):
            for who in uses.get(pin, []):
                problems.append(f"{who} = {pin}: GPIO{pin} is I2C {what}, which [current] enabled = true needs "
                                f"for the current sensor on bus 1; choose another pin")


_CLIENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TOPIC_LEVEL = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _mqtt_checks(m: Any, problems: list[str]) -> None:
    """The broker's address, the credentials' files, and topics Home Assistant can subscribe to."""
    if not is_host(m.host):
        problems.append(f"[mqtt] host = {m.host!r}: must be the broker's address or host name, "
                        f"e.g. \"homeassistant.local\" or \"192.168.1.10\"")
    files = {"password_file": "mqtt-password", "tls_ca_file": "mqtt-ca.pem", "tls_cert": "mqtt-client.pem",
             "tls_key": "mqtt-client.key"}
    for key, example in files.items():
        path = getattr(m, key)
        if path and (not path.startswith("/") or any(ord(c) < 32 for c in path)):
            problems.append(f"[mqtt] {key} = {path!r}: must be an absolute path such as /etc/deskpi/{example}")
    if m.password_file and not m.username:
        problems.append(f"[mqtt] password_file = {m.password_file!r} without username: the broker takes a "
                        f"password only with a user name; set username too")
    if m.username and (len(m.username) > 64 or any(ord(c) < 32 for c in m.username)):
        problems.append(f"[mqtt] username = {m.username!r}: must be at most 64 printable characters")
    for key in ("tls_ca_file", "tls_cert", "tls_key"):
        if getattr(m, key) and not m.tls:
            problems.append(f"[mqtt] {key} = {getattr(m, key)!r} with tls = false: set tls = true to use it")
    if bool(m.tls_cert) != bool(m.tls_key):
        given, missing = ("tls_cert", "tls_key") if m.tls_cert else ("tls_key", "tls_cert")
        problems.append(f"[mqtt] {given} = {getattr(m, given)!r} without {missing}: a client certificate "
                        f"needs both (or neither)")
    if m.client_id and not _CLIENT_ID.fullmatch(m.client_id):
        problems.append(f"[mqtt] client_id = {m.client_id!r}: must be 1-64 letters, digits, '_', '.' or '-' "
                        f"(\"\" for deskpi-<host name>)")
    for key, empty_ok in (("base_topic", True), ("discovery_prefix", False)):
        topic = getattr(m, key)
        if (topic or not empty_ok) and not (len(topic) <= 128 and all(
                _TOPIC_LEVEL.fullmatch(level) for level in topic.split("/"))):
            problems.append(f"[mqtt] {key} = {topic!r}: must be topic levels of letters, digits, '_', '.' or '-' "
                            f"joined by '/' (no '+', '#', spaces or empty levels), at most 128 characters"
                            + (" (\"\" for deskpi/<desk id>)" if empty_ok else ""))


_HOST_NAME = re.compile(r"^\.?(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$")


def _web_checks(web: Any, problems: list[str]) -> None:
    """TLS files come in pairs; proxies are addresses or networks; allowed hosts are host names or addresses."""
    if bool(web.tls_cert) != bool(web.tls_key):
        given, missing = ("tls_cert", "tls_key") if web.tls_cert else ("tls_key", "tls_cert")
        problems.append(f"[web] {given} = {getattr(web, given)!r} without {missing}: set both (HTTPS) or neither; "
                        f"`deskpi config set web.tls_cert PATH web.tls_key PATH` sets both at once")
    for key in ("tls_cert", "tls_key"):
        path = getattr(web, key)
        if path and (not path.startswith("/") or any(ord(c) < 32 for c in path)):
            problems.append(f"[web] {key} = {path!r}: must be an absolute path such as /etc/deskpi/tls/desk.pem")
    for entry in web.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            problems.append(f"[web] trusted_proxies: {entry!r} is not an IP address or network; "
                            f"give the reverse proxy's address, e.g. \"10.0.0.5\" or \"10.0.0.0/24\"")
    for entry in web.allowed_hosts:
        if entry == "*" or _HOST_NAME.match(entry):
            continue
        try:
            ipaddress.ip_address(entry.strip("[]"))
        except ValueError:
            problems.append(f"[web] allowed_hosts: {entry!r} is not a host name (desk.example.com, or "
                            f"\".example.com\" for every name under it), an IP address, or \"*\" for any")


def load(path: str | Path = DEFAULT_PATH) -> Settings:
    """Read and validate a config file. Missing file: ConfigError naming it."""
    path = Path(path)
    try:
        text = read_text_capped(path, what="a config file")
    except InputTooLarge as exc:
        raise ConfigError([exc.reason], str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text (byte {exc.start}): save it as UTF-8"], str(path)) from None
    except FileNotFoundError:
        raise ConfigError(["no such file; copy deskpi.example.toml there or pass --config PATH"], str(path)) from None
    except OSError as exc:
        raise ConfigError([f"cannot read it: {exc.strerror}"], str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(path)) from None
    return from_mapping(data, str(path))


def defaults() -> Settings:
    return from_mapping({}, "defaults")
