"""Which gpiozero pin factory drives the pins: the configured one, or none at all off a Raspberry Pi."""
from __future__ import annotations

import os
from pathlib import Path

MODEL_FILE = Path("/proc/device-tree/model")


def is_raspberry_pi() -> bool:
    try:
        return "raspberry pi" in MODEL_FILE.read_text(errors="replace").lower()
    except OSError:
        return False


def no_gpio_here(name: str) -> bool:
    """`auto` on a machine that is not a Raspberry Pi (and no GPIOZERO_PIN_FACTORY): there are no pins."""
    return name == "auto" and not os.environ.get("GPIOZERO_PIN_FACTORY") and not is_raspberry_pi()


def pin_factory_for(name: str, *, allow_mock_off_pi: bool = False):
    """The pin factory named by [daemon] pin_factory; None lets gpiozero choose (GPIOZERO_PIN_FACTORY or its default).

    With `auto` on a machine that is not a Raspberry Pi there are no GPIO pins
    at all; callers that only ever switch things off may ask for a mock factory.
    """
    if name == "auto":
        if allow_mock_off_pi and no_gpio_here(name):
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
