"""What an HC-SR04 under a desk reports: noise, wild echoes, lost echoes, failures."""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class SensorSpec:
    noise_mm: float = 2.0
    outliers: float = 0.01        # probability a ping returns a wild distance
    dropouts: float = 0.02        # probability a ping's echo is lost (timeout pulse)
    mount_offset_mm: float = 30.0  # desktop surface is this far above the sensor's face
    temperature_c: float = 20.0   # the air the sound travels through
    # While the desk moves: at desk heights three round trips of the sound (a ghost of the
    # last ping dies away by then) take ~23 ms, so 25 ms between pings is safe; at rest a
    # few pings a second keep the height fresh.
    ping_interval_s: float = 0.025
    idle_interval_s: float = 0.15


def speed_of_sound_m_s(temperature_c: float) -> float:
    return 331.3 + 0.606 * temperature_c


# Pulse the sensor gives when no echo returns (datasheets: ~38 ms).
LOST_PULSE_S = 0.038


class SensorModel:
    """Turns the true desk height into what one ping reports.

    `ping` returns ("ok", distance_mm), ("lost", None) or ("silent", None),
    where silent means the sensor produced no pulse at all (dead), and a stuck
    sensor repeats its last answer exactly.
    """

    def __init__(self, spec: SensorSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.dead = False
        self.stuck = False
        self._last: float | None = None

    def distance_for_height(self, height_mm: float) -> float:
        return height_mm - self.spec.mount_offset_mm

    def ping(self, true_height_mm: float) -> tuple[str, float | None]:
        if self.dead:
            return "silent", None
        if self.stuck and self._last is not None:
            return "ok", self._last
        r = self.rng.random()
        if r < self.spec.dropouts:
            return "lost", None
        if r < self.spec.dropouts + self.spec.outliers:
            # Multipath (a chair, a knee) or a ghost from an earlier ping.
            if self.rng.random() < 0.5:
                d = self.rng.uniform(30.0, 3000.0)
            else:
                d = 2 * self.distance_for_height(true_height_mm) + self.rng.gauss(0, 5)
        else:
            d = self.distance_for_height(true_height_mm) + self.rng.gauss(0.0, self.spec.noise_mm)
        d = max(d, 20.0)
        self._last = d
        return "ok", d

    def pulse_width_s(self, distance_mm: float) -> float:
        """Echo pulse width for a distance at the configured air temperature."""
        return 2.0 * distance_mm / 1000.0 / speed_of_sound_m_s(self.spec.temperature_c)
