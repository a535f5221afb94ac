"""The simulated desks the benches run on: named families and the flags that shape one.

A family is a desk the controller was not tuned for as much as the one it was: a slow,
heavily loaded desk with a noisy sensor, a fast desk that coasts a long way, and a
desk working close to the end of its travel. `--desk NAME` picks one; the individual
flags (`--speed-up`, `--noise-mm`, ...) then change any of its numbers.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, replace

from deskpi.sim.physics import DeskSpec
from deskpi.sim.sensor_model import SensorSpec


@dataclass(frozen=True)
class BenchParams:
    moves: int = 200
    seed: int = 1
    speed_up: float = 35.0
    speed_down: float = 38.0
    coast_mm: float = 7.5
    noise_mm: float = 2.0
    outliers: float = 0.01
    dropouts: float = 0.02
    load_variation: float = 0.15
    min_mm: float = 620.0
    max_mm: float = 1270.0

    def desk(self) -> DeskSpec:
        return DeskSpec(speed_up_mm_s=self.speed_up, speed_down_mm_s=self.speed_down,
                        coast_mm=self.coast_mm, load_variation=self.load_variation,
                        min_mm=self.min_mm, max_mm=self.max_mm)

    def sensor(self) -> SensorSpec:
        return SensorSpec(noise_mm=self.noise_mm, outliers=self.outliers, dropouts=self.dropouts)


@dataclass(frozen=True)
class DeskFamily:
    name: str
    about: str
    params: BenchParams
    near_end: bool = False      # faults happen in the last few centimetres before the end of travel


FAMILIES: dict[str, DeskFamily] = {f.name: f for f in (
    DeskFamily("default", "the desk the controller was tuned on: 35/38 mm/s, 7.5 mm coast, 2 mm sensor noise",
               BenchParams()),
    DeskFamily("slow-heavy", "a slow, heavily loaded desk: 22/25 mm/s, 1 mm coast, load +-25 %, "
               "2.5 mm noise, 3 % wild echoes", BenchParams(speed_up=22.0, speed_down=25.0, coast_mm=1.0,
                                                              load_variation=0.25, noise_mm=2.5, outliers=0.03)),
    DeskFamily("fast-coasting", "a fast desk that coasts a long way: 55/58 mm/s, 18 mm coast",
               BenchParams(speed_up=55.0, speed_down=58.0, coast_mm=18.0)),
    DeskFamily("end-of-travel", "the default desk working within a few centimetres of its end stops",
               BenchParams(), near_end=True),
)}

#: Flag -> BenchParams field, shared by `bench control` and `bench faults`.
FLAGS = {"--speed-up": "speed_up", "--speed-down": "speed_down", "--coast-mm": "coast_mm",
         "--noise-mm": "noise_mm", "--outliers": "outliers", "--dropouts": "dropouts",
         "--load-variation": "load_variation"}
_LIMITS = {"speed_up": (2.0, 200.0), "speed_down": (2.0, 200.0), "coast_mm": (0.0, 100.0),
           "noise_mm": (0.0, 30.0), "outliers": (0.0, 0.5), "dropouts": (0.0, 0.5), "load_variation": (0.0, 0.6)}
_METAVARS = {"speed_up": "MM_S", "speed_down": "MM_S", "coast_mm": "MM", "noise_mm": "SIGMA",
             "outliers": "P", "dropouts": "P", "load_variation": "F"}


def add_desk_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--desk", default="default", metavar="NAME",
                   help=f"desk family: {', '.join(FAMILIES)} (the flags below change its numbers)")
    for flag, name in FLAGS.items():
        lo, hi = _LIMITS[name]
        p.add_argument(flag, type=float, default=None, metavar=_METAVARS[name], help=f"{lo:g}..{hi:g}")


def family_from_args(args: argparse.Namespace, **extra) -> DeskFamily:
    """The family named by --desk with any flags applied; ValueError says what was wrong."""
    family = FAMILIES.get(args.desk)
    if family is None:
        raise ValueError(f"--desk {args.desk!r} is not a desk family; choose one of {', '.join(FAMILIES)}")
    changes = dict(extra)
    for flag, name in FLAGS.items():
        value = getattr(args, name)
        if value is None:
            continue
        lo, hi = _LIMITS[name]
        if not lo <= value <= hi:      # also refuses nan
            raise ValueError(f"{flag} {value:g} is outside {lo:g}..{hi:g}")
        changes[name] = value
    return replace(family, params=replace(family.params, **changes))
