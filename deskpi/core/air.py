"""The air the sensor's sound travels through: its speed, an echo turned into a distance, and which
temperature to believe when a thermometer fails.

Sound travels at about 331.3 + 0.606 T m/s (T in degC), ~0.17 %/degC near room temperature: a desk
converted at 20 degC in a 30 degC room reads ~17 mm short at a metre. The HC-SR04 and its simulator
both turn a pulse width into a distance here, at whatever temperature the caller believes.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: The range a room's air is believed in (and what an HC-SR04 is rated for, roughly). A thermometer
#: outside it is broken, not reporting weather.
PLAUSIBLE_C = (-20.0, 60.0)
#: A DS18B20 answers exactly 85 degC after a power-on reset before it has converted anything.
POWER_ON_RESET_C = 85.0


#: A 1-wire thermometer's id: family (10, 22, 28 for the DS18B20, 3b, 42), then 12 hex digits.
W1_ID = re.compile(r"(10|22|28|3b|42)-[0-9a-f]{12}")
#: What `[sensor] temperature_source` allows, for messages.
SOURCES = ('"none"', '"fixed"', '"w1:28-xxxxxxxxxxxx"')


def parse_source(text: str) -> tuple[str, str | None]:
    """`[sensor] temperature_source` as ("none" | "fixed" | "w1", device id or None); ValueError says what
    is allowed."""
    if text in ("none", "fixed"):
        return text, None
    if text.startswith("w1:") and W1_ID.fullmatch(text[3:]):
        return "w1", text[3:]
    raise ValueError(f"must be one of {', '.join(SOURCES)} (a DS18B20's id as listed in /sys/bus/w1/devices, "
                     f"e.g. \"w1:28-0316a279d3ff\")")


def base_temperature_c(source: str, temperature_c: float, calibration_c: float | None) -> float:
    """The temperature echoes are converted at when no thermometer reading is at hand.

    "fixed": the room is held at `temperature_c`. Otherwise (no thermometer, or one that has failed)
    the air is taken to be as it was when the offset and scale were measured, so the calibration stays
    exact at that temperature; before any calibration recorded one, `temperature_c`.
    """
    if source == "fixed" or calibration_c is None:
        return temperature_c
    return calibration_c


def speed_of_sound_m_s(temperature_c: float) -> float:
    return 331.3 + 0.606 * temperature_c


def echo_distance_mm(width_s: float, air_c: float) -> float:
    """One-way distance for an echo pulse of `width_s` at `air_c`: the pulse lasts the round trip."""
    return width_s * speed_of_sound_m_s(air_c) * 500.0


def plausible(temperature_c: float) -> bool:
    return (math.isfinite(temperature_c) and PLAUSIBLE_C[0] <= temperature_c <= PLAUSIBLE_C[1]
            and temperature_c != POWER_ON_RESET_C)


@dataclass
class AirTemperature:
    """The temperature to convert echoes at: the thermometer's last good reading while it is recent,
    else `fallback_c` (the calibration temperature). Pure: the caller passes the time.

    A failed or implausible read keeps the last good value for `hold_s` (a room's air changes slowly,
    and a 1-wire bus has its bad moments); after that the fallback is used until a good read returns.
    `note` says what changed, once per change, for the caller to log.
    """

    fallback_c: float
    hold_s: float = 600.0
    last_good_c: float | None = None
    last_good_at: float = -math.inf
    failures: int = 0
    problem: str | None = None
    note: str | None = None
    _falling_back: bool = True

    def good(self, now: float, temperature_c: float) -> None:
        if not plausible(temperature_c):
            self.bad(now, f"implausible reading {temperature_c:g} degC (believed only within "
                          f"{PLAUSIBLE_C[0]:g}..{PLAUSIBLE_C[1]:g}, and never the sensor's power-on 85)")
            return
        if self._falling_back or self.problem is not None:
            self.note = f"thermometer reading {temperature_c:.1f} degC; compensating for the air temperature"
        self.last_good_c, self.last_good_at = temperature_c, now
        self.problem = None
        self._falling_back = False

    def bad(self, now: float, why: str) -> None:
        self.failures += 1
        if self.problem is None:
            held = "" if self.last_good_c is None else f"; keeping {self.last_good_c:.1f} degC for now"
            self.note = f"thermometer: {why}{held}"
        self.problem = why
        self.current(now)

    def current(self, now: float) -> float:
        if self.last_good_c is not None and now - self.last_good_at <= self.hold_s:
            return self.last_good_c
        if not self._falling_back:
            self._falling_back = True
            self.note = (f"thermometer: no good reading for {self.hold_s:g} s ({self.problem or 'none'}); using "
                         f"the calibration temperature {self.fallback_c:g} degC")
        return self.fallback_c

    def take_note(self) -> str | None:
        note, self.note = self.note, None
        return note
