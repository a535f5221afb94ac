"""What an HC-SR04 under a desk reports: noise, wild echoes, lost echoes, ghosts of the last ping, failures."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from deskpi.core.air import speed_of_sound_m_s as speed_of_sound_m_s  # one formula for the sim and the reader


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
    # Probability that the previous ping's 2nd / 3rd order echo (sound that bounced floor -> desktop ->
    # floor, back at 2x / 3x the round trip) is heard when it lands in this ping's listening window;
    # each bounce loses energy, hence the smaller chance for the 3rd. Pinging slowly enough avoids them.
    ghost_2nd: float = 0.3
    ghost_3rd: float = 0.05




# Pulse the sensor gives when no echo returns (datasheets: ~38 ms).
LOST_PULSE_S = 0.038
# The sensor cannot hear closer than this (its receiver is blanked while the burst rings).
MIN_RANGE_MM = 20.0


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
        self._previous_distance: float | None = None     # true distance at the last burst sent
        self.air_c: float | None = None      # the room's air now, when it drifts (deskpi/sim/air.py)

    @property
    def true_air_c(self) -> float:
        return self.spec.temperature_c if self.air_c is None else self.air_c

    def distance_for_height(self, height_mm: float) -> float:
        return height_mm - self.spec.mount_offset_mm

    def ping(self, true_height_mm: float, since_last_s: float = math.inf) -> tuple[str, float | None]:
        """One ping `since_last_s` after the previous trigger (default: long ago, so no ghost of it is left)."""
        if self.dead:
            self._previous_distance = None               # a dead sensor sends no burst to echo later
            return "silent", None
        previous, self._previous_distance = self._previous_distance, self.distance_for_height(true_height_mm)
        if self.stuck and self._last is not None:
            return "ok", self._last
        ghost = self._ghost(previous, self._previous_distance, since_last_s)
        if ghost is not None:
            self._last = ghost
            return "ok", ghost
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

    def ghost_arrivals(self, previous_mm: float, distance_mm: float, since_last_s: float) -> list[tuple[int, float]]:
        """(order, apparent distance) of each of the previous ping's 2nd and 3rd order echoes that lands in this
        ping's listening window: after the receiver opens and before this ping's own echo returns."""
        found = []
        for order in (2, 3):
            arrival_s = order * self.pulse_width_s(previous_mm) - since_last_s   # after this ping's burst
            apparent = arrival_s * speed_of_sound_m_s(self.true_air_c) * 500.0
            if MIN_RANGE_MM <= apparent < distance_mm:
                found.append((order, apparent))
        return found

    def _ghost(self, previous_mm: float | None, distance_mm: float, since_last_s: float) -> float | None:
        # No random draw unless a ghost can land (and may be heard), so a slow enough ping rate, or ghosts
        # switched off, leaves every seeded run as it was.
        if previous_mm is None or not math.isfinite(since_last_s):
            return None
        for order, apparent in self.ghost_arrivals(previous_mm, distance_mm, since_last_s):
            chance = self.spec.ghost_2nd if order == 2 else self.spec.ghost_3rd
            if chance > 0 and self.rng.random() < chance:      # the earlier (2nd order) ghost is heard first
                return max(apparent + self.rng.gauss(0.0, self.spec.noise_mm), MIN_RANGE_MM)
        return None

    def pulse_width_s(self, distance_mm: float) -> float:
        """Echo pulse width for a distance in the air as it is now."""
        return 2.0 * distance_mm / 1000.0 / speed_of_sound_m_s(self.true_air_c)
