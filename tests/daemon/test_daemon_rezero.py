"""Re-zeroing on the bottom end stop in the daemon: the glue with fakes, and the simulated desk end to end."""
from __future__ import annotations

import dataclasses
import logging

from helpers import running_sim_daemon, wait_until

from deskpi.config import from_mapping
from deskpi.core.motion.config import MoveReport
from deskpi.core.motion.rezero import BottomRezero
from deskpi.core.types import Reading, Source
from deskpi.daemon.client import ControlClient
from deskpi.daemon.sensor_upkeep import RezeroWatch, build_rezero
from deskpi.hw.ultrasonic import Mounting


class FakeSensor:
    mounting = Mounting("under_desk", 30.0)


def arrive(watch: RezeroWatch, resting: float, t0: float = 100.0) -> None:
    watch.on_event("move_done", MoveReport("goto", 640.0, 900.0, resting, 0, t0 - 8, t0))
    for i in range(20):
        watch.on_reading(Reading.ok(t0 + 0.5 + 0.15 * i, resting))


def test_off_by_default():
    assert build_rezero(from_mapping({}), FakeSensor(), None) is None


def test_the_watch_moves_the_offset_once_and_refuses_a_jump(caplog):
    sensor, busy = FakeSensor(), [False]
    watch = RezeroWatch(BottomRezero(640.0, max_jump_mm=15.0), sensor, lambda: busy[0])
    caplog.set_level(logging.INFO, "deskpi.daemon.sensor_upkeep")
    arrive(watch, 646.0)
    assert sensor.mounting.offset_mm == 24.0 and "re-zeroed" in watch.last
    arrive(watch, 700.0, t0=200.0)
    assert sensor.mounting.offset_mm == 24.0 and watch.last.startswith("not re-zeroed")
    assert [r.levelname for r in caplog.records] == ["INFO", "WARNING"]
    busy[0] = True                        # the desk moves again before it has settled: nothing is learnt
    watch.on_event("move_done", MoveReport("goto", 640.0, 900.0, 650.0, 0, 292.0, 300.0))
    for i in range(20):
        watch.on_reading(Reading.ok(301.0 + 0.15 * i, 650.0))
    assert sensor.mounting.offset_mm == 24.0


def test_the_simulated_desk_is_re_zeroed_on_its_bottom_end_stop(tmp_path):
    """The end stop is at the lower limit (640 mm) and the sensor reads 8 mm high: a move to 640 ends on the stop,
    and the offset comes down by those 8 mm."""
    s = from_mapping({"sensor": {"rezero_at_bottom": True}})
    data = tmp_path / "data"
    with running_sim_daemon(data, seed=3, settings=s) as d:
        desk = d.parts.sim_desk
        desk.physics.spec = dataclasses.replace(desk.physics.spec, min_mm=640.0)
        desk.sensor.spec = dataclasses.replace(desk.sensor.spec, mount_offset_mm=22.0)
        wait_until(lambda: d.parts.controller.height_mm() is not None, what="a height")
        d.parts.service.move_to(640.0, Source.REMOTE, "test")
        wait_until(lambda: d.parts.sensor.mounting.offset_mm != 30.0, 60, "the re-zero")
        assert abs(d.parts.sensor.mounting.offset_mm - 22.0) < 2.0
        assert d.parts.controller.fault is None
        with ControlClient(data).connect() as c:
            reply = c.request("sensor", seconds=0.3)
        assert reply["rezero"]["last"].startswith("re-zeroed on the bottom end stop")
        assert reply["offset_mm"] == d.parts.sensor.mounting.offset_mm and reply["scale"] == 1.0
        assert reply["air_c"] == 20.0 and reply["thermometer"] is None
