"""`deskpi safe-off`: drive every pin that can move the motor to its off level, whatever state the config is in.

systemd runs it before the daemon starts and after it stops. The pins are the
config's and the ones the daemon last used (hw/motor_pins): a broken or
edited config must not leave a pin the daemon drove energised.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deskpi.config import DEFAULT_PATH, ConfigError, defaults, load
from deskpi.hw import motor_pins
from deskpi.hw.drives import SafeOffError, safe_off
from deskpi.hw.pin_factory import no_gpio_here, pin_factory_for


@dataclass
class SafeOffResult:
    switched_off: list = field(default_factory=list)     # the pins now held at their off level
    problems: list[str] = field(default_factory=list)    # for stderr, in the order they happened
    ok: bool = True                                      # False: exit 1 (some pins failed, or the config is broken)


def switch_off_motor_pins(config_path: str | Path | None, data_dir: str | Path | None = None) -> SafeOffResult:
    """Switch off the configured motor pins and the remembered ones; never raises for a bad config or pin."""
    result = SafeOffResult()
    # A broken config must not stop safe-off from switching off the pins the daemon used.
    try:
        settings = load(config_path or DEFAULT_PATH)
        configured = settings.motor_pins()
    except ConfigError as exc:
        result.problems.append(str(exc))
        settings, configured = defaults(), []
    pins = motor_pins.merge(motor_pins.recall(Path(data_dir or settings.daemon.data_dir)), configured)
    if not pins:
        result.problems.append("no valid config and no record of the pins the daemon used: nothing switched off")
        result.ok = False
        return result
    name = settings.daemon.pin_factory
    if no_gpio_here(name):
        result.problems.append("not a Raspberry Pi: no GPIO here, so nothing can be driven; checking the pin map only")
    try:
        result.switched_off = safe_off(pins, pin_factory=pin_factory_for(name, allow_mock_off_pi=True))
    except SafeOffError as exc:
        result.problems.append(f"safe-off failed on some pins: {exc}")
        result.ok = False
        return result
    except Exception as exc:  # noqa: BLE001 - reported, and the exit code says it failed
        result.problems.append(f"safe-off failed: {exc}")
        result.ok = False
        return result
    result.ok = bool(configured)       # pins are off, but the config still needs fixing
    return result
