"""Two-point calibration: the maths, the procedure against a fake daemon, and `deskpi calibrate --at MM --at MM`
end to end on a simulated desk whose air is warmer than the daemon assumes and whose offset is wrong."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import running_sim_daemon, wait_until

from deskpi.config import defaults, load
from deskpi.core.air import speed_of_sound_m_s
from deskpi.fleet.calibrate import Calibration, CalibrationError, two_point

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deskpi.example.toml"


def test_two_points_give_the_line_through_both():
    offset, scale = two_point(30.0, 1.0, [(700.0, 710.0), (1100.0, 1116.0)])
    assert scale == pytest.approx(1.015)
    for reported, tape in ((700.0, 710.0), (1100.0, 1116.0)):
        assert offset + scale * (reported - 30.0) == pytest.approx(tape, abs=0.1)


def test_a_second_calibration_builds_on_the_first_scale():
    offset, scale = two_point(40.0, 1.02, [(700.0, 700.0), (1100.0, 1104.0)])
    assert scale == pytest.approx(1.02 * 1.01)
    assert offset + (scale / 1.02) * (1100.0 - 40.0) == pytest.approx(1104.0, abs=0.1)


@pytest.mark.parametrize(("points", "words"), [
    ([(700.0, 700.0), (760.0, 761.0)], "60 mm apart as the sensor reads them; they must be at least 100 mm"),
    ([(700.0, 70.0), (1100.0, 110.0)], "tape measurement 70.0: must be the desktop's height above the floor in mm"),
    ([(700.0, 700.0), (1100.0, 1250.0)], "scale 1.375, allowed 0.9-1.1"),
])
def test_bad_points_say_what_is_wrong(points, words):
    with pytest.raises(CalibrationError, match=words.replace(".", r"\.").replace("(", r"\(")):
        two_point(30.0, 1.0, points)


class LinearDesk:
    """A fake daemon whose sensor reports a + b * true height; the tape says the true height."""

    def __init__(self, a=12.0, b=0.985, height=740.0, air_c=26.0) -> None:
        self.a, self.b, self.height, self.air_c = a, b, height, air_c
        self.asked: list = []

    def reported(self) -> float:
        return self.a + self.b * self.height

    def __call__(self, cmd, wait_s=None, **fields):
        self.asked.append((cmd, fields))
        if cmd == "status":
            return {"ok": True, "height_mm": self.reported(), "limits": {"min_mm": 640.0, "max_mm": 1260.0}}
        if fields.get("step") == "measure":
            return {"ok": True, "readings": [self.reported() + d for d in (-0.3, 0.1, 0.0, 0.2)], "offset_mm": 30.0,
                    "orientation": "under_desk", "scale": 1.0, "air_c": self.air_c}
        if fields.get("step") == "move":
            self.height = (fields["target_mm"] - self.a) / self.b
            return {"ok": True, "final_mm": fields["target_mm"], "fault": None, "fault_kind": None, "readings": [],
                    "drive": []}
        raise AssertionError(cmd)


def test_two_point_on_a_fake_daemon_writes_offset_scale_and_temperature_and_goes_home():
    desk = LinearDesk()
    asked = []

    def tape(reported):
        asked.append(reported)
        return round(desk.height, 1)
    r = Calibration(desk, defaults()).run(measured_mm=None, moves_per_direction=0, distance_mm=150, limits=False,
                                          check_direction=False, at=[700.0, 1150.0], ask=tape)
    assert asked == [pytest.approx(700.0, abs=0.2), pytest.approx(1150.0, abs=0.2)]
    offset, scale = r.changes[("sensor", "offset_mm")], r.changes[("sensor", "scale")]
    assert scale == pytest.approx(1 / 0.985, abs=1e-3)
    for true in (650.0, 900.0, 1250.0):                     # the new line holds beyond the two points too
        assert offset + scale * (desk.a + desk.b * true - 30.0) == pytest.approx(true, abs=0.3)
    assert r.changes[("sensor", "calibration_temperature_c")] == 26.0
    assert desk.reported() == pytest.approx(desk.a + desk.b * 740.0, abs=0.5)        # back where it started
    assert [p["measured_mm"] for p in r.points] == [pytest.approx(700 / 0.985 - 12 / 0.985, abs=0.1),
                                                    pytest.approx(1150 / 0.985 - 12 / 0.985, abs=0.1)]


def test_one_at_with_measured_mm_uses_where_the_desk_is_as_the_first_point():
    desk = LinearDesk()
    r = Calibration(desk, defaults()).run(measured_mm=round(desk.height, 1), moves_per_direction=0, distance_mm=150,
                                          limits=False, check_direction=False, at=[1150.0],
                                          ask=lambda _r: round(desk.height, 1))
    assert r.changes[("sensor", "scale")] == pytest.approx(1 / 0.985, abs=1e-3)


def test_an_at_outside_the_limits_is_refused_before_anything_moves():
    desk = LinearDesk()
    with pytest.raises(CalibrationError, match="--at 1500: must be within the desk's limits 640-1260 mm"):
        Calibration(desk, defaults()).run(measured_mm=None, moves_per_direction=0, distance_mm=150, limits=False,
                                          check_direction=False, at=[700.0, 1500.0], ask=lambda r: r)
    assert not [a for a in desk.asked if a[1].get("step") == "move"]


def test_the_cli_refuses_one_at_alone(cli, tmp_path):
    err = cli.error("--data-dir", str(tmp_path), "calibrate", "--at", "900", "--dry-run", "--json", exit_code=2)
    assert "two-point calibration takes two heights" in err["error"] and "--at MM twice" in err["error"]


def test_calibrate_two_point_through_the_cli_on_the_simulated_desk(tmp_path):
    data = tmp_path / "data"
    config = tmp_path / "deskpi.toml"
    config.write_text(EXAMPLE.read_text())
    with running_sim_daemon(data, seed=5) as d:
        desk = d.parts.sim_desk
        # The room is at 28 degC and the daemon converts at 20: distances read ~1.4 % short; the sensor also sits
        # 45 mm below the desktop where the config says 30.
        desk.sensor.spec = dataclasses.replace(desk.sensor.spec, mount_offset_mm=45.0)
        desk.sensor.air_c = 28.0
        wait_until(lambda: not d.parts.controller.busy, 30, "the desk at rest")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen([sys.executable, "-m", "deskpi", "--data-dir", str(data), "--config", str(config),
                                 "calibrate", "--at", "700", "--at", "1000", "--moves", "0", "--skip-direction",
                                 "--json"], cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(2):
                line = proc.stderr.readline()
                assert "Tape-measure the desktop" in line, line + proc.stderr.read()
                proc.stdin.write(f"{desk.true_height():.1f}\n")
                proc.stdin.flush()
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, out + err
        doc = json.loads(out)
        assert doc["written"] is True and len(doc["points"]) == 2
    s = load(config)
    expected = speed_of_sound_m_s(28.0) / speed_of_sound_m_s(20.0)
    assert s.sensor.scale == pytest.approx(expected, abs=0.008)
    assert s.sensor.calibration_temperature_c == 20.0
    # The new line: at 850 mm true, the sensor's distance converted at 20 degC gives 850 back.
    distance = (850.0 - 45.0) / expected
    assert s.sensor.offset_mm + s.sensor.scale * distance == pytest.approx(850.0, abs=2.0)
