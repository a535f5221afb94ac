"""The daemon's control socket, spoken to over a real Unix socket by a real `deskpi sim` daemon.

The daemon runs in-process (tests/helpers.py running_sim_daemon) on the
simulated desk; requests go over the socket file in tmp_path. Whether the desk
moved is judged on the simulator's true height and on the drive, never on
what the daemon says about itself.
"""
from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time

import pytest
from helpers import calm, desk_at_rest, running_sim_daemon, wait_until

from deskpi import exit_codes
from deskpi.config import defaults
from deskpi.daemon.client import SOCKET_NAME, ControlClient, ControlError, connectable
from deskpi.daemon.control_server import MAX_LINE_BYTES, DaemonAlreadyRunning
from deskpi.daemon.root import Daemon
from deskpi.util.files import FileLock


class Raw:
    """A bare line-protocol connection, for requests the real client would never send."""

    def __init__(self, path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        addr, fd = connectable(path)
        try:
            self.sock.connect(addr)
        finally:
            if fd is not None:
                os.close(fd)
        self.f = self.sock.makefile("rb")

    def send(self, raw: bytes) -> dict | None:
        self.sock.sendall(raw if raw.endswith(b"\n") else raw + b"\n")
        line = self.f.readline()
        return json.loads(line) if line else None

    def close(self) -> None:
        self.f.close()
        self.sock.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with running_sim_daemon(tmp_path_factory.mktemp("ctl") / "data", seed=5) as d:
        yield d


@pytest.fixture
def client(daemon):
    with ControlClient(daemon.data_dir) as c:
        yield c




def test_status_has_the_live_desk(client, daemon):
    st = client.request("status")
    assert st["ok"] is True and st["state"] == "idle" and st["fault"] is None
    assert abs(st["height_mm"] - daemon.parts.sim_desk.true_height()) < 10
    assert st["limits"] == {"min_mm": 640.0, "max_mm": 1260.0}
    assert st["version"] and st["uptime_s"] >= 0 and st["sim"] is True and "active_user" in st
    assert set(st["learned"]) == {"up", "down"} and st["learned"]["up"]["speed_mm_s"] > 0
    # How far one stop lands from the learned coast: a new desk starts from a cautious guess (45 ms of lag).
    for m in st["learned"].values():
        assert 0.0 < m["stop_scatter_mm"] < 0.06 * m["speed_mm_s"] + 0.1, m
        # No current sensor here: no running current learned, and nothing said of its checks.
        assert (m["current_moves"], m["current_a"], m["current_peak"]) == (0, None, None), m


def test_socket_is_group_only_and_the_data_dir_is_locked(daemon):
    path = daemon.data_dir / SOCKET_NAME
    mode = os.stat(path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    assert (daemon.data_dir / "daemon.lock").read_text().strip() == str(os.getpid())


GARBAGE = [
    b"", b"   ", b"hello", b"\xff\xfe\x00garbage", b"{", b"[]", b"42", b"null", b'"status"', b"{}",
    b'{"cmd": 1}', b'{"cmd": "reboot"}', b'{"cmd": "status", "extra": 1}',
    b'{"cmd": "move"}', b'{"cmd": "move", "target_mm": "1100"}', b'{"cmd": "move", "target_mm": true}',
    b'{"cmd": "move", "target_mm": null}', b'{"cmd": "move", "target_mm": NaN}',
    b'{"cmd": "move", "target_mm": Infinity}', b'{"cmd": "move", "target_mm": 1e309}',
    b'{"cmd": "move", "target_mm": -5}', b'{"cmd": "move", "target_mm": 5000}',
    b'{"cmd": "move", "target_mm": [1000]}', b'{"cmd": "move", "target_mm": 1000, "speed": 99}',
    b'{"cmd": "calibrate"}', b'{"cmd": "calibrate", "step": "explode"}',
    b'{"cmd": "calibrate", "step": "move", "target_mm": 9999}',
    b'{"cmd": "calibrate", "step": "move", "target_mm": 900, "timeout_s": 0}',
    b'{"cmd": "sensor", "seconds": -1}', b'{"cmd": "sensor", "seconds": 1e9}',
    b'{"cmd": "MOVE", "target_mm": 1000}', b'{"cmd": "move", "target_mm": 1000',
]


def test_garbage_never_moves_the_desk_nor_crashes_the_daemon(daemon):
    calm(daemon)
    before = daemon.parts.sim_desk.true_height()
    moves_before = len(daemon.parts.store.list_audit(action="move", limit=1000))
    raw = Raw(daemon.data_dir / SOCKET_NAME)
    try:
        for line in GARBAGE:
            if not line.strip():
                continue              # blank lines are skipped, not answered
            reply = raw.send(line)
            assert reply is not None and reply["ok"] is False, line
            assert reply["code"] == exit_codes.USAGE, (line, reply)
            assert reply["error"], line
        # Random bytes: every line still gets an error reply, and the connection stays usable.
        import random
        rng = random.Random(7)
        for _ in range(200):
            blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))).replace(b"\n", b" ")
            reply = raw.send(blob)
            assert reply["ok"] is False and reply["code"] in (exit_codes.USAGE,)
        assert raw.send(b'{"cmd": "status", "id": 9}')["id"] == 9
    finally:
        raw.close()
    assert daemon.parts.controller.drive is None
    assert abs(daemon.parts.sim_desk.true_height() - before) < 1.0
    assert daemon.parts.controller.state.value == "idle"
    assert len(daemon.parts.store.list_audit(action="move", limit=1000)) == moves_before


@pytest.mark.parametrize("request_line, fragments", [
    (b'{"cmd": "move", "target_mm": 5}', ("target_mm = 5", "a number of mm within 640-1260")),
    (b'{"cmd": "move", "target_mm": "1100"}', ("target_mm = '1100'", "a number of mm within 640-1260")),
    (b'{"cmd": "move"}', ("target_mm is required", "a number of mm within 640-1260")),
    (b'{"cmd": "move", "target_mm": 1000, "speed": 99}', ("'speed'", "cmd, id, target_mm")),
    (b'{"cmd": "status", "extra": 1}', ("'extra'", "'status'", "cmd, id")),
    (b'{"cmd": "calibrate", "step": "explode"}', ("step = 'explode'", "'measure', 'move'")),
    (b'{"cmd": "sensor", "seconds": -1}', ("seconds = -1", "0.2-10")),
    (b'{"cmd": "calibrate", "step": "move", "target_mm": 900, "timeout_s": 0}', ("timeout_s = 0", "1-120")),
])
def test_a_refused_request_names_the_value_and_what_is_allowed(daemon, request_line, fragments):
    raw = Raw(daemon.data_dir / SOCKET_NAME)
    try:
        reply = raw.send(request_line)
    finally:
        raw.close()
    assert reply["ok"] is False and reply["code"] == exit_codes.USAGE
    for fragment in fragments:
        assert fragment in reply["error"], (fragment, reply["error"])


def test_an_overlong_line_is_refused_and_the_connection_closed(daemon):
    raw = Raw(daemon.data_dir / SOCKET_NAME)
    try:
        reply = raw.send(b'{"cmd": "status", "pad": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}')
        assert reply["ok"] is False and str(MAX_LINE_BYTES) in reply["error"]
        assert raw.f.readline() == b""
    finally:
        raw.close()
    with ControlClient(daemon.data_dir) as c:
        assert c.request("ping")["ok"]


def test_a_slow_request_does_not_hold_up_others_or_the_control_loop(daemon):
    """Handlers run on their connection's thread: a 1.5 s sensor sample blocks nobody else."""
    ticks = daemon.parts.loop.ticks
    result = {}
    t = threading.Thread(target=lambda: result.update(ControlClient(daemon.data_dir).request("sensor", seconds=1.5)))
    t.start()
    try:
        wait_until(lambda: len(daemon.control._conns) >= 1, 5, "the slow request to arrive")
        t0 = time.monotonic()
        with ControlClient(daemon.data_dir) as c:
            c.request("status")
        assert time.monotonic() - t0 < 1.0
    finally:
        t.join(10)
    assert result["ok"] and result["pings"] > 0 and result["rate_hz"] > 0
    assert daemon.parts.loop.ticks > ticks


def test_move_goes_through_the_arbiter_and_is_audited_as_cli(client, daemon):
    calm(daemon)
    here = daemon.parts.sim_desk.true_height()
    target = here + 60 if here < 1100 else here - 60
    assert client.request("move", target_mm=target)["target_mm"] == target
    wait_until(lambda: daemon.parts.controller.state.value == "idle" and desk_at_rest(daemon), 30, "the move to end")
    assert abs(daemon.parts.sim_desk.true_height() - target) < 8
    entry = daemon.parts.store.list_audit(action="move", limit=1)[0]
    assert entry.detail["why"] == "cli" and entry.detail["target_mm"] == round(target, 1)


def test_a_fault_refuses_motion_with_code_4_until_cleared(client, daemon):
    calm(daemon)
    daemon.parts.loop.request(lambda c, now: c.fail("injected by the test", now))
    try:
        with pytest.raises(ControlError) as err:
            client.request("move", target_mm=900)
        assert err.value.code == exit_codes.FAULT and "fault" in str(err.value)
        assert daemon.parts.controller.drive is None
        cleared = client.request("clear-fault")
        assert "injected by the test" in cleared["cleared"]
    finally:
        daemon.parts.loop.clear_fault()
    assert client.request("status")["fault"] is None
    assert client.request("clear-fault")["cleared"] is None
    assert daemon.parts.store.list_audit(action="clear_fault", limit=1)[0].detail == {"why": "cli"}


def test_stop_stops_a_move(client, daemon):
    calm(daemon)
    here = daemon.parts.sim_desk.true_height()
    client.request("move", target_mm=1200 if here < 950 else 700)
    wait_until(lambda: daemon.parts.controller.drive is not None, 10, "the motor on")
    client.request("stop")
    assert daemon.parts.controller.drive is None
    calm(daemon)
    assert abs(daemon.parts.sim_desk.true_height() - here) < 300
    assert daemon.parts.store.list_audit(action="stop", limit=1)[0].detail == {"why": "cli"}


def test_a_second_daemon_on_the_same_data_dir_is_refused_and_the_first_keeps_its_socket(daemon):
    second = Daemon(defaults(), sim=True, data_dir=daemon.data_dir, seed=2)
    with pytest.raises(DaemonAlreadyRunning) as err:
        second.start()
    second.shutdown()
    assert "already running" in str(err.value) and str(daemon.data_dir) in str(err.value)
    assert str(os.getpid()) in str(err.value)
    with ControlClient(daemon.data_dir) as c:
        assert c.request("ping")["pid"] == os.getpid()


def test_a_stale_socket_from_a_crashed_daemon_is_replaced_and_shutdown_cleans_up(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    addr, fd = connectable(data / SOCKET_NAME)
    stale.bind(addr)          # a socket file nobody listens on, as a SIGKILLed daemon leaves it
    stale.close()
    if fd is not None:
        os.close(fd)
    (data / "daemon.lock").write_text("99999\n")
    with pytest.raises(ControlError) as err:
        ControlClient(data).connect()
    assert err.value.code == exit_codes.DAEMON_NOT_RUNNING and "left over" in str(err.value)
    with running_sim_daemon(data, seed=3), ControlClient(data) as c:
        assert c.request("status")["state"] in ("idle", "settling")
    assert not (data / SOCKET_NAME).exists()
    released = FileLock(data / "daemon.lock")
    assert released.acquire(), "shutdown releases the data dir"
    released.release()
    with pytest.raises(ControlError) as err:
        ControlClient(data).connect()
    assert err.value.code == exit_codes.DAEMON_NOT_RUNNING and "not running" in str(err.value)
