"""The simulated room's air: a seasonal and a daily drift, and a fake 1-wire thermometer tree.

The simulated sensor's echoes follow the true speed of sound at this temperature while deskpi converts
them at the temperature it believes, which is how an uncompensated desk drifts by ~0.17 %/degC.
Nothing drifts unless asked: the simulator's air otherwise stays at `SensorSpec.temperature_c`.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DAY_S = 86400.0
#: The coldest and warmest days of the year (mid-January, mid-July) and hours of a day (before dawn,
#: mid-afternoon).
COLDEST_DAY, COLDEST_HOUR = 15.0, 5.0


@dataclass(frozen=True)
class AirDrift:
    winter_c: float = 15.0     # mid-January's daily mean
    summer_c: float = 30.0     # mid-July's
    daily_c: float = 3.0       # peak to peak within a day

    def at(self, day_of_year: float, hour: float) -> float:
        season = -math.cos(2 * math.pi * (day_of_year - COLDEST_DAY) / 365.0)           # -1 January, +1 July
        day = -math.cos(2 * math.pi * (hour - COLDEST_HOUR) / 24.0)
        mean = (self.winter_c + self.summer_c) / 2
        return mean + season * (self.summer_c - self.winter_c) / 2 + day * self.daily_c / 2

    def clock(self, day_of_year: float = 196.0, hour: float = 12.0, speedup: float = 1.0) -> Callable[[float], float]:
        """The temperature at a rig's time t (seconds from its start), starting on that day and hour; `speedup`
        runs the year faster than the rig's clock."""
        start = day_of_year * DAY_S + hour * 3600.0

        def air(t: float) -> float:
            s = start + t * speedup
            return self.at(s / DAY_S % 365.0, s % DAY_S / 3600.0)
        return air


def write_w1(root: Path, device_id: str, temperature_c: float | None = None, *, w1_slave: str | None = None,
             temperature_file: bool = True) -> Path:
    """A DS18B20 as the kernel's w1-therm driver shows it under `root` (a temp dir standing for
    /sys/bus/w1/devices): `temperature` in milli-degC and `w1_slave`'s two lines, CRC and `t=`."""
    d = Path(root) / device_id
    d.mkdir(parents=True, exist_ok=True)
    milli = None if temperature_c is None else round(temperature_c * 1000)
    if temperature_file and milli is not None:
        (d / "temperature").write_text(f"{milli}\n")
    elif (d / "temperature").exists():
        (d / "temperature").unlink()
    if w1_slave is None and milli is not None:
        w1_slave = f"50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t={milli}\n"
    if w1_slave is not None:
        (d / "w1_slave").write_text(w1_slave)
    return d
