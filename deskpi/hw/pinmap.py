"""The default pin map (BCM numbers): the one source of truth.

The example config, hardware/README.md and the simulator all use these; a test
checks that they agree. Why these pins:

- Motor relays on GPIO17/27: pulled *down* at boot, so active-high relay
  drivers stay off while the Pi boots (GPIO0-8 are pulled up at boot).
- Echo on GPIO24 through a 5 V -> 3.3 V divider; trigger on GPIO23.
- Buttons on pins with no other common use; they switch to ground against
  the Pi's internal pull-ups.
- LED and buzzer on PWM-capable GPIO12/18, so patterns can fade and tones play.
- Nothing on I2C (2, 3), SPI0 (7-11) or UART (14, 15).
"""
from __future__ import annotations

from typing import Any

DEFAULT_PINS: dict[str, dict[str, Any]] = {    # a pin number, or a list of them (preset_pins)
    "motor": {"up_pin": 17, "down_pin": 27},
    "sensor": {"trigger_pin": 23, "echo_pin": 24},
    "buttons": {"up_pin": 5, "down_pin": 6, "preset_pins": [13, 19, 26, 25]},
    "indicators": {"led_pin": 12, "buzzer_pin": 18},
}

# Pins with a fixed role or a boot-time quirk worth a warning.
FIXED_PULL_UP = {2: "I2C SDA (fixed 1.8 kOhm pull-up)", 3: "I2C SCL (fixed 1.8 kOhm pull-up)"}
BUS_PINS = {
    0: "ID EEPROM (ID_SD)", 1: "ID EEPROM (ID_SC)", 2: "I2C SDA", 3: "I2C SCL",
    7: "SPI0 CE1", 8: "SPI0 CE0", 9: "SPI0 MISO", 10: "SPI0 MOSI", 11: "SPI0 SCLK",
    14: "UART TX", 15: "UART RX",
}
PULLED_UP_AT_BOOT = set(range(0, 9))
VALID_GPIO = set(range(0, 28))
