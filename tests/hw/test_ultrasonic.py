"""HC-SR04 reader (deskpi.hw.ultrasonic) on simulated pins.

Most tests drive the echo line by hand: a listener on the trigger pin answers
each ping synchronously with SimPin.emit() and exact edge timestamps, so the
expected height is known to floating-point precision. The jitter test uses the
full SimulatedDesk, whose echo worker runs on its own thread, while another
thread burns CPU. Nothing here synchronises by sleeping.
"""
from __future__ import annotations

import itertools
import logging
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from gpiozero import DigitalOutputDevice, InputDevice

from deskpi.config import ConfigError, from_mapping
from deskpi.core.types import EchoStatus
from deskpi.hw.ultrasonic import (
    LOST_WIDTH_S,
    MIN_INTERVAL_S,
    RATED_RANGE_MM,
    Mounting,
    UltrasonicSensor,
    effective_interval_s,
    min_interval_s,
    speed_of_sound_m_s,
)
from deskpi.sim.mockdesk import SimFactory, SimulatedDesk
from deskpi.sim.sensor_model import LOST_PULSE_S, SensorSpec

REPO = Path(__file__).resolve().parents[2]
TRIG, ECHO = 23, 24
BURST_S = 0.0005   # echo rises this long after the trigger, like the real part




class HandSensor:
    """A fake HC-SR04 behind SimFactory pins, scripted per ping.

    `answer` is what the next trigger gets: ("pulse", width_s), ("none",) for
    no pulse at all, or ("high",) for an echo line that rises and never falls.
    """

    def __init__(self, factory: SimFactory) -> None:
        self.factory = factory
        self.answer: tuple = ("none",)
        self.triggers: list[float] = []
        self.fail_with: BaseException | None = None
        self.echo = factory.pin(ECHO)
        factory.listeners[factory.pin(TRIG).info.name] = self._on_trigger

    def _on_trigger(self, pin, value, ticks: float) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if value:          # the sensor fires on the trigger's falling edge
            return
        self.triggers.append(ticks)
        kind = self.answer[0]
        rise = ticks + BURST_S
        if kind == "pulse":
            self.echo.emit(True, rise)
            self.echo.emit(False, rise + self.answer[1])
        elif kind == "high":
            self.echo.emit(True, rise)


@pytest.fixture
def factory():
    f = SimFactory()
    yield f
    f.close()


@pytest.fixture
def make_sensor(factory):
    """Build UltrasonicSensor + HandSensor on fresh pins; everything is closed afterwards."""
    made: list[UltrasonicSensor] = []

    def make(**kw) -> tuple[UltrasonicSensor, HandSensor]:
        hand = HandSensor(factory)
        sensor = UltrasonicSensor(TRIG, ECHO, pin_factory=factory, **kw)
        made.append(sensor)
        return sensor, hand

    yield make
    for s in made:
        s.close()


#: The pulse width is the difference of two monotonic times of a machine up for days (~1e5 s), which
#: a double holds to ~1e-11 s: a few millionths of a millimetre of echo. A micrometre is still exact.
WIDTH_TOL_MM = 1e-3


def width_for(distance_mm: float, temperature_c: float = 20.0) -> float:
    return 2.0 * distance_mm / (speed_of_sound_m_s(temperature_c) * 1000.0)


# -- decoding one ping -----------------------------------------------------------


@pytest.mark.parametrize(
    "orientation, offset, distance, expected",
    [
        ("under_desk", 30.0, 710.0, 740.0),     # height = offset + distance
        ("floor", 12.5, 1000.0, 1012.5),
        ("ceiling", 2000.0, 1100.0, 900.0),      # height = offset - distance
    ],
)
def test_ping_height_follows_mounting(make_sensor, orientation, offset, distance, expected):
    sensor, hand = make_sensor(mounting=Mounting(orientation, offset))
    width = width_for(distance)
    hand.answer = ("pulse", width)
    before = time.monotonic()
    r = sensor.ping()
    after = time.monotonic()
    assert r.status is EchoStatus.OK
    assert r.height_mm == pytest.approx(expected, abs=WIDTH_TOL_MM)
    # The reading is stamped half way through the pulse after the trigger (when
    # the sound met the desk), not when Python noticed the edge.
    assert before + width / 2 <= r.t <= after + width / 2
    assert len(hand.triggers) == 1


def test_mounting_height_signs():
    assert Mounting("under_desk", 30).height(700) == 730
    assert Mounting("floor", 0).height(700) == 700
    assert Mounting("ceiling", 2000).height(700) == 1300


def test_temperature_compensation_scales_distance_by_speed_of_sound(make_sensor):
    width = 0.004   # ~0.69 m at 20 degC
    distances = {}
    for temp in (0.0, 30.0):
        sensor, hand = make_sensor(temperature_c=temp, mounting=Mounting("floor", 0.0))
        hand.answer = ("pulse", width)
        r = sensor.ping()
        assert r.status is EchoStatus.OK
        distances[temp] = r.height_mm
        sensor.close()
    assert distances[0.0] == pytest.approx(width * 331.3 * 1000 / 2, rel=1e-9)
    assert distances[30.0] / distances[0.0] == pytest.approx((331.3 + 0.606 * 30) / 331.3, rel=1e-9)


# (Exactly 30.000 ms is not used: rise + w - rise need not equal w in floating point.)
@pytest.mark.parametrize("width", [LOST_WIDTH_S + 1e-4, 0.031, LOST_PULSE_S, 0.060])
def test_timeout_pulse_is_lost(make_sensor, width):
    sensor, hand = make_sensor()
    hand.answer = ("pulse", width)
    r = sensor.ping()
    assert r.status is EchoStatus.LOST
    assert r.height_mm is None


def test_pulse_just_under_lost_width_is_a_distance(make_sensor):
    sensor, hand = make_sensor(mounting=Mounting("floor", 0.0))
    hand.answer = ("pulse", LOST_WIDTH_S * 0.99)
    r = sensor.ping()
    assert r.status is EchoStatus.OK
    assert r.height_mm == pytest.approx(LOST_WIDTH_S * 0.99 * speed_of_sound_m_s(20.0) * 500.0)


def test_no_pulse_is_silent(make_sensor):
    sensor, hand = make_sensor()
    hand.answer = ("none",)
    r = sensor.ping()
    assert r.status is EchoStatus.SILENT
    assert r.height_mm is None
    assert len(hand.triggers) == 1


def test_echo_that_never_falls_is_silent(make_sensor):
    sensor, hand = make_sensor()
    hand.answer = ("high",)
    assert sensor.ping().status is EchoStatus.SILENT


def test_good_ping_after_silent_ping_is_ok(make_sensor):
    """A ping's leftovers (a missing fall) must not spoil the next one."""
    sensor, hand = make_sensor(mounting=Mounting("floor", 0.0))
    hand.answer = ("none",)
    assert sensor.ping().status is EchoStatus.SILENT
    hand.answer = ("pulse", width_for(800.0))
    r = sensor.ping()
    assert r.status is EchoStatus.OK
    assert r.height_mm == pytest.approx(800.0, abs=WIDTH_TOL_MM)


def test_echo_latched_high_on_simulated_desk_is_silent(factory):
    desk = SimulatedDesk(factory, sensor=SensorSpec(noise_mm=0, outliers=0, dropouts=0), start_mm=800.0)
    sensor = UltrasonicSensor(TRIG, ECHO, mounting=Mounting("under_desk", 30.0), pin_factory=factory)
    try:
        first = sensor.ping()
        assert first.status is EchoStatus.OK
        assert first.height_mm == pytest.approx(800.0, abs=0.05)
        desk.inject("echo_stuck_high")
        statuses = [sensor.ping().status for _ in range(3)]
        assert statuses == [EchoStatus.SILENT] * 3
    finally:
        sensor.close()
        desk.close()


# -- the reader thread --------------------------------------------------------------


def test_start_delivers_readings_and_close_stops_the_thread(factory):
    hand = HandSensor(factory)
    hand.answer = ("pulse", width_for(700.0))
    got: list = []
    enough = threading.Event()

    def on_reading(r):
        got.append(r)
        if len(got) >= 3:
            enough.set()

    sensor = UltrasonicSensor(TRIG, ECHO, mounting=Mounting("floor", 0.0), pin_factory=factory,
                              on_reading=on_reading)
    try:
        sensor.start()
        thread = sensor._thread
        assert enough.wait(10.0), "no readings from the reader thread"
        assert all(r.status is EchoStatus.OK for r in got[:3])
        assert got[0].height_mm == pytest.approx(700.0, abs=WIDTH_TOL_MM)
        assert sensor.latest is not None
        # Readings come in time order.
        assert [r.t for r in got[:3]] == sorted(r.t for r in got[:3])
    finally:
        sensor.close()
    assert not thread.is_alive() and sensor._thread is None
    # The pins were released: they can be claimed again.
    DigitalOutputDevice(TRIG, pin_factory=factory).close()
    InputDevice(ECHO, pin_factory=factory).close()


def test_pin_error_reads_as_silent_and_keeps_the_thread_alive(factory):
    hand = HandSensor(factory)
    hand.fail_with = RuntimeError("pin exploded")
    got: list = []
    enough = threading.Event()

    def on_reading(r):
        got.append(r)
        if len(got) >= 2:
            enough.set()

    sensor = UltrasonicSensor(TRIG, ECHO, pin_factory=factory, on_reading=on_reading)
    try:
        sensor.start()
        assert enough.wait(10.0), "reader thread stopped reporting after a pin error"
        assert all(r.status is EchoStatus.SILENT for r in got)
        assert sensor._thread.is_alive()
    finally:
        sensor.close()


# -- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"interval_s": 0.019}, "0.019"),
        ({"interval_s": 0.01}, "0.01"),
        ({"interval_s": 1.5}, "1.5"),
        ({"max_distance_mm": -5.0}, "-5.0"),
        ({"max_distance_mm": float("nan")}, "nan"),
        ({"temperature_c": 75.0}, "75.0"),
        ({"temperature_c": -40.0}, "-40.0"),
    ],
)
def test_bad_settings_raise_value_error_naming_the_value(factory, kw, needle):
    with pytest.raises(ValueError, match=needle.replace(".", r"\.")):
        UltrasonicSensor(TRIG, ECHO, pin_factory=factory, **kw)
    # Nothing was left reserved by the failed constructor.
    UltrasonicSensor(TRIG, ECHO, pin_factory=factory).close()


@pytest.mark.parametrize(
    "kw, needle",
    [
        ({"orientation": "sideways"}, "'sideways'"),
        ({"offset_mm": float("nan")}, "nan"),
        ({"offset_mm": float("inf")}, "inf"),
    ],
)
def test_bad_mounting_raises_value_error_naming_the_value(kw, needle):
    with pytest.raises(ValueError, match=needle):
        Mounting(**kw)


# -- how fast it may ping ----------------------------------------------------------------


def test_min_interval_is_three_round_trips_at_the_farthest_distance_plus_a_margin():
    c_mm_s = speed_of_sound_m_s(20.0) * 1000.0
    assert min_interval_s(1230.0, 20.0) == pytest.approx(3 * 2 * 1230.0 / c_mm_s + 0.002)
    # The default desk (1260 mm at most, sensor 30 mm under the top) fits in 25 ms; 3 m does not.
    assert min_interval_s(1230.0) < 0.025 < min_interval_s(3000.0)
    # Sound is slower in cold air, so the echoes take longer.
    assert min_interval_s(1500.0, -10.0) > min_interval_s(1500.0, 30.0)
    # Never below the sensor's own 20 ms, however close the target.
    assert min_interval_s(0.0) == min_interval_s(100.0) == MIN_INTERVAL_S
    # Not told the distance: the sensor's whole rated range.
    assert effective_interval_s(0.025) == pytest.approx(min_interval_s(RATED_RANGE_MM))
    assert effective_interval_s(0.05, 1230.0) == 0.05


@pytest.mark.parametrize(
    "orientation, offset, expected",
    [
        ("under_desk", 30.0, 1230.0),     # highest desk: farthest from the floor
        ("floor", 100.0, 1160.0),
        ("ceiling", 2600.0, 1960.0),      # lowest desk: farthest from the ceiling
        ("ceiling", 500.0, 0.0),          # nonsense mounting: no negative distance
    ],
)
def test_mounting_max_distance_over_the_desk_range(orientation, offset, expected):
    assert Mounting(orientation, offset).max_distance_mm(640.0, 1260.0) == pytest.approx(expected)


def test_reader_pings_at_25_ms_while_moving(factory):
    """At desk heights (1.2 m, a ~7 ms round trip) the reader keeps 25 ms between pings: readings come at
    about that pace, and never faster."""
    hand = HandSensor(factory)
    hand.answer = ("pulse", width_for(1200.0))
    wanted = 25
    got: list = []
    enough = threading.Event()

    def on_reading(r):
        got.append(r)
        if len(got) >= wanted:
            enough.set()

    sensor = UltrasonicSensor(TRIG, ECHO, mounting=Mounting("floor", 0.0), interval_s=0.025, idle_interval_s=0.15,
                              max_distance_mm=1230.0, pin_factory=factory, on_reading=on_reading)
    try:
        assert sensor.interval_s == 0.025
        sensor.start()
        assert enough.wait(10.0), f"only {len(got)} readings"
    finally:
        sensor.close()
    assert all(r.status is EchoStatus.OK for r in got[:wanted])
    gaps = [b - a for a, b in itertools.pairwise(hand.triggers[:wanted])]
    # Never sooner than the interval (a little slack: the edge is stamped just after the reader's clock read);
    # the median is well under the old 60 ms cycle however busy the machine is.
    assert min(gaps) >= 0.025 - 0.005, gaps
    assert 0.025 * 0.95 <= statistics.median(gaps) < 0.05, gaps


def test_too_short_interval_is_raised_to_the_computed_minimum_and_logged_once(factory, caplog):
    caplog.set_level(logging.WARNING, logger="deskpi.hw.ultrasonic")
    sensor = UltrasonicSensor(TRIG, ECHO, interval_s=0.025, idle_interval_s=0.03, max_distance_mm=2000.0,
                              temperature_c=10.0, pin_factory=factory)
    try:
        expected = min_interval_s(2000.0, 10.0)
        assert expected > 0.025
        assert sensor.interval_s == pytest.approx(expected)
        assert sensor.idle_interval_s == pytest.approx(expected)   # at rest never faster than moving
        records = [r for r in caplog.records if r.name == "deskpi.hw.ultrasonic"]
        assert len(records) == 1, records
        message = records[0].getMessage()
        assert "0.025" in message and "2000 mm" in message and f"{expected:.4f}" in message, message
    finally:
        sensor.close()


def test_an_interval_that_is_safe_is_kept_and_nothing_is_logged(factory, caplog):
    caplog.set_level(logging.WARNING, logger="deskpi.hw.ultrasonic")
    sensor = UltrasonicSensor(TRIG, ECHO, interval_s=0.025, max_distance_mm=1230.0, pin_factory=factory)
    sensor.close()
    assert sensor.interval_s == 0.025
    assert not [r for r in caplog.records if r.name == "deskpi.hw.ultrasonic"]


def test_waking_for_a_move_pings_at_once_but_not_sooner_than_the_interval(factory):
    """At rest the reader may sleep a long time; a move starting wakes it, without sleeping out the rest."""
    hand = HandSensor(factory)
    hand.answer = ("pulse", width_for(700.0))
    got: list = []
    first, second = threading.Event(), threading.Event()

    def on_reading(r):
        got.append(r)
        (second if first.is_set() else first).set()

    sensor = UltrasonicSensor(TRIG, ECHO, interval_s=0.025, idle_interval_s=60.0, max_distance_mm=1230.0,
                              pin_factory=factory, on_reading=on_reading)
    try:
        sensor.set_active(False)
        sensor.start()
        assert first.wait(10.0)
        sensor.set_active(True)
        assert second.wait(10.0), "a move starting did not wake the reader from its idle sleep"
    finally:
        sensor.close()
    assert hand.triggers[1] - hand.triggers[0] >= 0.025 - 0.005


# -- the config's bounds -------------------------------------------------------------


def test_config_refuses_a_ping_interval_below_20_ms_naming_the_value_and_the_range():
    with pytest.raises(ConfigError) as info:
        from_mapping({"sensor": {"interval_s": 0.01}})
    problem, = info.value.problems
    assert "[sensor] interval_s = 0.01" in problem and "0.02..0.1" in problem, problem


def test_config_accepts_20_ms_and_defaults_to_25_ms():
    assert from_mapping({}).sensor.interval_s == 0.025
    assert from_mapping({"sensor": {"interval_s": 0.02}}).sensor.interval_s == 0.02


def test_config_refuses_an_idle_interval_shorter_than_the_moving_one():
    with pytest.raises(ConfigError) as info:
        from_mapping({"sensor": {"interval_s": 0.09, "idle_interval_s": 0.07}})
    problem, = info.value.problems
    assert "[sensor] idle_interval_s = 0.07" in problem and "interval_s = 0.09" in problem, problem


# -- imports ------------------------------------------------------------------------


def test_importing_hw_modules_pulls_in_no_pi_library():
    code = textwrap.dedent("""
        import sys
        import deskpi.hw.ultrasonic, deskpi.hw.drives
        bad = sorted(m for m in sys.modules if m.split('.')[0] in ('lgpio', 'RPi', 'pigpio'))
        print('LOADED:' + ','.join(bad))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "LOADED:", proc.stdout


# -- timing jitter never becomes height error -----------------------------------------


def test_thread_jitter_does_not_become_height_error(factory):
    """A stationary, noise-free simulated desk reads its true height to 0.05 mm
    while another thread competes for the interpreter. Python-stamped edges
    would be off by ~0.17 mm per microsecond of wake-up lateness."""
    # Pinged back to back (no interval), so the simulated sensor would hear the last ping's ghosts.
    spec = SensorSpec(noise_mm=0, outliers=0, dropouts=0, ghost_2nd=0, ghost_3rd=0)
    desk = SimulatedDesk(factory, sensor=spec, start_mm=900.0, seed=4)
    sensor = UltrasonicSensor(TRIG, ECHO, mounting=Mounting("under_desk", spec.mount_offset_mm),
                              temperature_c=spec.temperature_c, pin_factory=factory)
    stop = threading.Event()
    spins = [0]

    def burn():
        while not stop.is_set():
            sum(i * i for i in range(2000))
            spins[0] += 1

    burner = threading.Thread(target=burn, name="cpu-burner", daemon=True)
    burner.start()
    try:
        readings = [sensor.ping() for _ in range(15)]
        truth = desk.true_height()
    finally:
        stop.set()
        burner.join(5.0)
        sensor.close()
        desk.close()
    assert spins[0] > 0, "the burner never ran"
    ok = [r for r in readings if r.status is EchoStatus.OK]
    assert len(ok) >= 10, [r.status for r in readings]
    errors = [abs(r.height_mm - truth) for r in ok]
    assert max(errors) <= 0.05, errors


def test_an_echo_delivered_late_still_counts_by_its_own_timestamp(make_sensor):
    """A busy machine may hand over a good echo's edges 40 ms late: the stamps say it was on time."""
    sensor, hand = make_sensor(mounting=Mounting("floor", 0.0))
    echo = hand.echo

    def late(pin, value, ticks):
        if value:
            return
        rise = ticks + BURST_S
        threading.Timer(0.04, lambda: (echo.emit(True, rise), echo.emit(False, rise + width_for(800.0)))).start()

    hand.factory.listeners[hand.factory.pin(TRIG).info.name] = late
    r = sensor.ping()
    assert r.status is EchoStatus.OK and r.height_mm == pytest.approx(800.0, abs=WIDTH_TOL_MM)


def test_an_echo_that_rose_too_late_by_its_timestamp_is_silent(make_sensor):
    sensor, hand = make_sensor()
    echo = hand.echo

    def stale(pin, value, ticks):
        if not value:
            echo.emit(True, ticks + 0.05)          # 50 ms after the trigger: not this ping's echo
            echo.emit(False, ticks + 0.05 + width_for(800.0))

    hand.factory.listeners[hand.factory.pin(TRIG).info.name] = stale
    assert sensor.ping().status is EchoStatus.SILENT


def test_a_thermometer_sets_the_conversion_at_every_echo_and_the_scale_applies(make_sensor):
    air = [30.0]
    sensor, hand = make_sensor(temperature_c=20.0, mounting=Mounting("under_desk", 30.0, 1.01),
                               air_c=lambda: air[0])
    hand.answer = ("pulse", width_for(700.0, 30.0))
    assert sensor.ping().height_mm == pytest.approx(30.0 + 1.01 * 700.0, abs=WIDTH_TOL_MM)
    air[0] = 20.0
    assert sensor.ping().height_mm == pytest.approx(30.0 + 1.01 * 700.0 * speed_of_sound_m_s(20.0)
                                                    / speed_of_sound_m_s(30.0), abs=WIDTH_TOL_MM)


def test_a_scale_out_of_range_is_refused():
    with pytest.raises(ValueError, match="scale must be 0.8..1.2, got 1.5"):
        Mounting("under_desk", 30.0, 1.5)


def test_the_simulated_desk_echoes_follow_its_air_and_the_reader_converts_at_its_own(factory):
    """The real reader on a simulated desk whose room is at 30 degC: converted at 20 it reads short by the ratio
    of the speeds of sound; converted at what a thermometer says, it reads true."""
    desk = SimulatedDesk(factory, sensor=SensorSpec(noise_mm=0, outliers=0, dropouts=0), start_mm=800.0,
                         air=lambda t: 30.0)
    air = [20.0]
    sensor = UltrasonicSensor(TRIG, ECHO, mounting=Mounting("under_desk", 30.0), pin_factory=factory,
                              air_c=lambda: air[0])
    try:
        short = sensor.ping().height_mm
        air[0] = 30.0
        true = sensor.ping().height_mm
    finally:
        sensor.close()
        desk.close()
    assert short == pytest.approx(30.0 + 770.0 * speed_of_sound_m_s(20.0) / speed_of_sound_m_s(30.0), abs=0.05)
    assert true == pytest.approx(800.0, abs=0.05)
