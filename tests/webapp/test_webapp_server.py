"""The web app over real HTTP around a real DeskService on the simulated desk.

The daemon's own web server (deskpi.daemon.web_server: cheroot) on 127.0.0.1, port 0, serves create_app() around
the production service, arbiter, presets, control loop and drive on
SimFactory pins; requests go through urllib. Motion is judged on the
simulator's TRUE height and on the drive's outputs. Tests synchronise on loop
events (a listener setting threading.Events) and on polled predicates with
deadlines, never on bare sleeps.
"""
from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from http.client import HTTPConnection

import pytest
from helpers import grant_claim, wait_until

from deskpi.core.types import Direction
from deskpi.daemon.arbiter import MotionArbiter
from deskpi.daemon.service import DeskService
from deskpi.daemon.web_server import ServerOptions, WebServer
from deskpi.people.accounts import add_user
from deskpi.people.presets import PresetStore
from deskpi.sim.stack import SimStack, build_sim_stack
from deskpi.store import Store
from deskpi.webapp.app import create_app

SEED = 11
MOVE_TIMEOUT_S = 30.0




class LoopEvents:
    """Loop listener: one threading.Event per event kind, plus everything that arrived."""

    def __init__(self, stack: SimStack) -> None:
        self.kinds: list[str] = []
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.move_over = threading.Event()      # set by 'move_done' or 'fault', whichever comes first
        stack.loop.listeners.append(self)

    def event(self, kind: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(kind, threading.Event())

    def __call__(self, kind: str, payload: object) -> None:
        with self._lock:
            self.kinds.append(kind)
            self._events.setdefault(kind, threading.Event())
        self._events[kind].set()
        if kind in ("move_done", "fault"):
            self.move_over.set()

    def wait(self, kind: str, timeout: float = MOVE_TIMEOUT_S) -> None:
        assert self.event(kind).wait(timeout), f"no {kind!r} within {timeout} s; got {self.kinds}"


def fresh(stack: SimStack) -> bool:
    with stack.loop.lock:
        est = stack.controller.estimator
        return len(est.recent()) >= est.cfg.window and est.is_fresh(stack.loop.clock())


@pytest.fixture
def stack():
    s = build_sim_stack(seed=SEED)
    try:
        wait_until(lambda: fresh(s), 15, "fresh height readings")
        yield s
    finally:
        s.close()


@pytest.fixture
def service(stack):
    cfg = stack.controller.cfg
    arbiter = MotionArbiter(stack.loop)
    presets = PresetStore(None, (cfg.min_mm, cfg.max_mm))
    return DeskService(stack.loop, arbiter, presets)


#: Authorization header for http(): a real API token of a user holding the desk's claim.
_AUTH: dict[str, str] = {}


@pytest.fixture
def base_url(service, tmp_path):
    service.store = Store.open(tmp_path / "deskpi.db")
    add_user(service.store, "ada", limits=service.limits)
    _token_id, token = service.store.create_token("ada", "tests")
    _AUTH["Authorization"] = f"Bearer {token}"
    app = create_app(service)
    claims = app.extensions["deskpi.web"].claims
    grant_claim(claims, "ada")
    server = WebServer(app, "127.0.0.1", 0, ServerOptions(workers=8))
    server.start()
    try:
        yield server.url.rstrip("/")
    finally:
        app.extensions["deskpi.web"].live.close()
        server.stop()
        service.store.close()


@pytest.fixture
def events(stack):
    return LoopEvents(stack)


def http(method: str, url: str, body: object = None) -> tuple[int, dict, dict]:
    """(status, JSON body, headers); 4xx/5xx are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(_AUTH))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null"), dict(resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read() or b"null"), dict(err.headers)


def wait_rest(stack: SimStack) -> None:
    wait_until(lambda: stack.drive.direction is None and stack.desk.at_rest(), 15, "the desk to come to rest")


def test_state_reports_the_true_height(stack, base_url):
    status, body, headers = http("GET", f"{base_url}/api/v1/state")
    assert status == 200
    assert isinstance(body["height_mm"], (int, float)) and not isinstance(body["height_mm"], bool)
    assert abs(body["height_mm"] - stack.desk.true_height()) <= 10.0, body
    assert body["state"] == "idle" and body["target_mm"] is None and body["fault"] is None
    assert body["sim"] is False
    assert headers["X-Frame-Options"] == "DENY" and "script-src 'self'" in headers["Content-Security-Policy"]


def test_move_reaches_the_target_on_the_true_height(stack, base_url, events):
    target = round(stack.desk.true_height() + 80.0)
    status, body, _ = http("POST", f"{base_url}/api/v1/move", {"target_mm": target})
    assert status == 202 and body == {"target_mm": target}
    assert events.move_over.wait(MOVE_TIMEOUT_S), f"no move_done within {MOVE_TIMEOUT_S} s: {events.kinds}"
    assert "fault" not in events.kinds and "move_done" in events.kinds, stack.controller.fault
    wait_rest(stack)
    true = stack.desk.true_height()
    assert abs(true - target) <= 3.0, f"stopped at {true:.1f} mm for a target of {target} mm"
    status, state, _ = http("GET", f"{base_url}/api/v1/state")
    assert status == 200 and state["state"] == "idle" and state["fault"] is None
    assert abs(state["height_mm"] - target) <= 6.0, state
    assert stack.desk.violations == []


def test_stop_mid_move_turns_the_drive_off(stack, base_url, events):
    start = stack.desk.true_height()
    target = round(start + 150.0)
    status, _, _ = http("POST", f"{base_url}/api/v1/move", {"target_mm": target})
    assert status == 202
    wait_until(lambda: stack.drive.direction is Direction.UP, 5, "the motor to start going up")
    status, body, _ = http("POST", f"{base_url}/api/v1/stop", {"pad": "x" * 8000})
    # A body over the limit too: Stop never reads it (refused on its length by the server, it was a 413).
    assert status == 200, body
    assert stack.drive.direction is None          # off before the answer was sent
    wait_rest(stack)
    assert stack.drive.direction is None
    assert stack.desk.true_height() < target - 50, "the desk carried on after the stop"
    status, state, _ = http("GET", f"{base_url}/api/v1/state")
    assert state["state"] != "moving" and state["target_mm"] is None and state["fault"] is None, state


@pytest.mark.parametrize("offset", [+100.0, -500.0], ids=["above-max", "below-zero"])
def test_an_out_of_range_move_is_422_naming_the_limits_and_nothing_moves(stack, base_url, events, offset):
    cfg = stack.controller.cfg
    target = cfg.max_mm + offset if offset > 0 else offset
    before = stack.desk.true_height()
    status, body, _ = http("POST", f"{base_url}/api/v1/move", {"target_mm": target})
    assert status == 422
    assert f"{cfg.min_mm:.0f}-{cfg.max_mm:.0f} mm" in body["error"] and f"{target:g}" in body["error"], body
    # Let the loop run a while longer: it must not have been given anything to do.
    ticks = stack.loop.ticks
    wait_until(lambda: stack.loop.ticks >= ticks + 10, 5, "more control loop ticks")
    assert stack.drive.direction is None
    with stack.loop.lock:
        assert stack.controller.target_mm is None
        assert stack.controller.state.value == "idle"
    assert abs(stack.desk.true_height() - before) < 0.5
    assert not {"move_done", "fault", "hold_expired"} & set(events.kinds), events.kinds


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_is_413_and_nothing_moves(stack, base_url, chunked):
    body = json.dumps({"target_mm": round(stack.desk.true_height() + 80), "pad": "x" * 5000}).encode()
    host, port = base_url.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/api/v1/move", body=iter([body]) if chunked else body,
                     headers={"Content-Type": "application/json", **_AUTH}, encode_chunked=chunked)
        resp = conn.getresponse()
        status, answer = resp.status, json.loads(resp.read())
    finally:
        conn.close()
    assert status == 413 and "at most 4096 bytes" in answer["error"], answer
    assert stack.drive.direction is None
    with stack.loop.lock:
        assert stack.controller.target_mm is None


def _chunked_move(base_url: str, chunks: list[bytes]) -> tuple[bytes, bytes]:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /api/v1/move HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                  + "".join(f"{k}: {v}\r\n" for k, v in _AUTH.items()).encode()
                  + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(chunks))
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize("chunks", [
    [b"4000000\r\n" + b"x" * 1000],                                  # one 64 MiB chunk, announced
    [b"1\r\nx\r\n" * 5000],                                          # 1-byte chunks, past the limit
], ids=["one-huge-chunk", "tiny-chunks"])
def test_a_chunked_body_over_the_limit_is_413_without_reading_it_and_nothing_moves(stack, base_url, chunks):
    """cheroot had no body limit: one announced chunk was read whole into memory, however large."""
    head, body = _chunked_move(base_url, chunks)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert "at most 4096 bytes" in json.loads(body)["error"]
    assert stack.drive.direction is None
    with stack.loop.lock:
        assert stack.controller.target_mm is None


def test_a_chunked_body_under_the_limit_in_tiny_chunks_is_read_as_its_bytes_not_its_framing(stack, base_url):
    # 3000 bytes of body in one-byte chunks take 18000 on the wire: the limit is the body's.
    target = round(stack.desk.true_height() + 1)
    doc = json.dumps({"target_mm": target, "pad": "x" * 2950}).encode()
    head, body = _chunked_move(base_url, [b"1\r\n" + doc[k:k + 1] + b"\r\n" for k in range(len(doc))] + [b"0\r\n\r\n"])
    assert b" 413 " not in head.split(b"\r\n")[0], body
    assert b"too large" not in body


def test_a_hold_that_is_not_renewed_stops_by_itself(stack, base_url, events):
    status, _, _ = http("POST", f"{base_url}/api/v1/hold", {"direction": "up"})
    assert status == 202
    wait_until(lambda: stack.drive.direction is Direction.UP, 5, "the motor to start going up")
    # No renewals: the 0.5 s lease runs out and the loop cuts the motor itself.
    events.wait("hold_expired", 5)
    wait_until(lambda: stack.drive.direction is None, 2, "the motor to stop")


def test_release_stops_a_hold_at_once(stack, base_url):
    status, _, _ = http("POST", f"{base_url}/api/v1/hold", {"direction": "down"})
    assert status == 202
    wait_until(lambda: stack.drive.direction is Direction.DOWN, 5, "the motor to start going down")
    status, _, _ = http("POST", f"{base_url}/api/v1/release")
    assert status == 200
    assert stack.drive.direction is None


def test_presets_over_http(stack, base_url):
    status, body, _ = http("PUT", f"{base_url}/api/v1/presets/3", {})
    assert status == 200 and body["slot"] == 3
    assert abs(body["height_mm"] - stack.desk.true_height()) <= 10.0
    status, listing, _ = http("GET", f"{base_url}/api/v1/presets")
    assert {"slot": 3, "height_mm": body["height_mm"]} in listing["presets"]
    status, body, _ = http("POST", f"{base_url}/api/v1/presets/4/recall")
    assert status == 409 and "preset 4 is empty" in body["error"]
    status, body, _ = http("POST", f"{base_url}/api/v1/presets/9/recall")
    assert status == 404 and "presets are 1-4" in body["error"]
    assert stack.drive.direction is None


def test_the_page_and_its_assets_are_served(base_url):
    with urllib.request.urlopen(f"{base_url}/", timeout=10) as resp:
        html = resp.read().decode()
        assert resp.headers["Content-Type"].startswith("text/html")
    # Signed out: the sign-in form (the page behind it needs a session).
    assert 'data-testid="login-name"' in html and 'data-testid="login-pin"' in html
    assert 'data-testid="sim-key-up"' not in html           # a real DeskService without a keypad
    for asset in ("app.js", "app.css"):
        with urllib.request.urlopen(f"{base_url}/static/{asset}", timeout=10) as resp:
            assert resp.status == 200 and resp.read()
    status, body, _ = http("POST", f"{base_url}/api/v1/sim/keys/up", {"pressed": True})
    assert status == 404 and "real" in body["error"]
