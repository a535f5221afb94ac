"""What `deskpi bench stress` reads from another process: the simulated keypad and the pins' change times
through the control socket (`sim-key`, `sim-edges`), and the motion threads' own priority."""
from __future__ import annotations

import os
import threading
import time

import pytest
from helpers import running_sim_daemon, wait_until

from deskpi import exit_codes
from deskpi.config import defaults
from deskpi.daemon.client import ControlClient, ControlError
from deskpi.daemon.priority import favour_motion_threads


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with running_sim_daemon(tmp_path_factory.mktemp("edges") / "data", seed=4) as d:
        yield d


def test_a_key_press_shows_as_a_button_edge_then_a_motor_edge_on_the_shared_clock(daemon):
    s = defaults()
    button, motor = f"GPIO{s.buttons.up_pin}", f"GPIO{s.motor.up_pin}"
    with ControlClient(daemon.data_dir) as c:
        since = max([e[0] for e in c.request("sim-edges")["edges"]], default=0)
        before = time.monotonic()
        c.request("sim-key", key="up", pressed=True)
        try:
            def seen():
                return [e for e in c.request("sim-edges", since=since)["edges"] if e[2] in (button, motor)]
            wait_until(lambda: any(e[2] == motor for e in seen()), what="the up motor pin to turn on")
        finally:
            c.request("sim-key", key="up", pressed=False)
        edges = seen()
        press = next(e for e in edges if e[2] == button)
        on = next(e for e in edges if e[2] == motor)
        assert press[3] == 0.0 and on[3] > 0             # pulled-up button goes low; the motor pin goes on
        assert before <= press[1] <= on[1] <= time.monotonic()
        assert press[0] < on[0]
        trigger = f"GPIO{s.sensor.trigger_pin}"
        assert not any(e[2] == trigger for e in c.request("sim-edges")["edges"])   # 40 a second: not kept


def test_lags_are_taken_once(daemon):
    with ControlClient(daemon.data_dir) as c:
        first = c.request("sim-edges", take_lags=True)
        assert isinstance(first["loop_lag_ms"], list)
        assert isinstance(first["true_height_mm"], float) and isinstance(first["at_rest"], bool)
        assert "loop_lag_ms" not in c.request("sim-edges")


@pytest.mark.parametrize(("fields", "words"), [
    ({"key": "sideways", "pressed": True}, ["sideways"]),
    ({"key": "up", "pressed": "yes"}, ["pressed = 'yes'", "true or false"]),
])
def test_a_bad_key_request_is_refused_with_what_is_allowed(daemon, fields, words):
    with ControlClient(daemon.data_dir) as c, pytest.raises(ControlError) as err:
        c.request("sim-key", **fields)
    assert err.value.code == exit_codes.USAGE and all(w in str(err.value) for w in words), str(err.value)


def test_only_the_named_threads_are_favoured():
    release = threading.Event()
    named = threading.Thread(target=release.wait, name="buttons", daemon=True)
    other = threading.Thread(target=release.wait, name="web-gate", daemon=True)
    named.start()
    other.start()
    try:
        base = os.getpriority(os.PRIO_PROCESS, os.getpid())
        got = favour_motion_threads(("buttons",), boost=0)      # no change of priority: allowed to anyone
        assert got == {"buttons": base}
        assert os.getpriority(os.PRIO_PROCESS, other.native_id) == base
    finally:
        release.set()
        named.join()
        other.join()
