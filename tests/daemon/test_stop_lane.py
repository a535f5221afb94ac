"""Stop through the web has a lane of its own (deskpi.daemon.web_stop_lane) on real sockets.

A tiny WSGI app records which thread answered each request; every request but the ones a test lets
through waits on an event, so "every worker busy" is a state the test holds, not a race. Waits are
bounded by generous deadlines, never timing thresholds.
"""
from __future__ import annotations

import http.client
import threading

import pytest
from helpers import wait_until

from deskpi.daemon.web_server import ServerOptions, WebServer
from deskpi.daemon.web_stop_lane import QUEUE_SIZE, THREADS, is_stop_request


class Recorder:
    """The app: notes (method, path, thread) on entry; requests `passes(method, path)` refuses wait for release."""

    def __init__(self, passes=lambda method, path: False) -> None:
        self.passes = passes
        self.seen: list[tuple[str, str, str]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        with self._lock:
            self.seen.append((method, path, threading.current_thread().name))
        if not self.passes(method, path):
            self.release.wait(60)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def lane_paths(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(m, p) for m, p, name in self.seen if name.startswith("web-stop")]


@pytest.fixture
def serve():
    servers: list[tuple[WebServer, Recorder]] = []

    def start(app: Recorder, workers: int = 2) -> WebServer:
        server = WebServer(app, "127.0.0.1", 0, ServerOptions(workers=workers, timeout_s=60))
        server.start()
        servers.append((server, app))
        return server

    yield start
    for s, app in servers:
        app.release.set()
        s.stop()


def ask(server: WebServer, method: str, path: str, results: list | None = None) -> int:
    conn = http.client.HTTPConnection(*server.address, timeout=60)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        resp = conn.getresponse()
        resp.read()
        if results is not None:
            results.append(resp.status)
        return resp.status
    finally:
        conn.close()


def in_background(server: WebServer, method: str, path: str, results: list) -> threading.Thread:
    t = threading.Thread(target=ask, args=(server, method, path, results), daemon=True)
    t.start()
    return t


def lane_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("web-stop"))


@pytest.mark.parametrize(("head", "lane"), [
    (b"POST /api/v1/stop HTTP/1.1\r\nHost: x\r\n\r\n", True),
    (b"POST /api/v1/stop?desk=1 HTTP/1.1\r\n\r\n", True),
    (b"POST /api/v1/stop HTTP/1.0\n\n", True),
    (b"GET /api/v1/stop HTTP/1.1\r\n\r\n", False),
    (b"POST /api/v1/stops HTTP/1.1\r\n\r\n", False),
    (b"POST /api/v1/stop/all HTTP/1.1\r\n\r\n", False),
    (b"POST /api/v1/hold HTTP/1.1\r\n\r\n", False),
    (b"post /api/v1/stop HTTP/1.1\r\n\r\n", False),
    (b"POST  /api/v1/stop HTTP/1.1\r\n\r\n", False),
])
def test_only_stops_request_line_takes_the_lane(head, lane):
    assert is_stop_request(head) is lane


def test_stop_is_answered_while_every_worker_is_busy_and_others_still_queue(serve):
    app = Recorder(passes=lambda method, path: method == "POST" and path == "/api/v1/stop")
    server = serve(app, workers=2)
    results: list[int] = []
    busy = [in_background(server, "GET", f"/events/{i}", results) for i in range(2)]
    wait_until(lambda: len(app.seen) == 2, 30, "both workers to be held")
    queued = in_background(server, "GET", "/api/v1/state", results)
    wait_until(lambda: server.gate.held == 0 and server.busy == 3, 30, "the third request to queue for a worker")

    assert ask(server, "POST", "/api/v1/stop?from=phone") == 200     # would hang until release without the lane
    assert app.lane_paths() == [("POST", "/api/v1/stop")]
    assert queued.is_alive() and len(app.seen) == 3, "the queued request must still wait for a worker"

    app.release.set()
    for t in [*busy, queued]:
        t.join(60)
    assert results == [200, 200, 200]
    assert app.lane_paths() == [("POST", "/api/v1/stop")]            # the queued one went to the pool


def test_other_requests_never_take_the_lane(serve):
    app = Recorder(passes=lambda method, path: True)
    server = serve(app, workers=2)
    for method, path in [("GET", "/api/v1/stop"), ("POST", "/api/v1/stops"), ("POST", "/api/v1/stop/all"),
                         ("POST", "/api/v1/hold"), ("GET", "/")]:
        assert ask(server, method, path) == 200
    assert app.lane_paths() == []
    assert ask(server, "POST", "/api/v1/stop") == 200
    assert app.lane_paths() == [("POST", "/api/v1/stop")]


def test_a_flood_of_stops_fills_the_lane_then_goes_the_normal_way_without_new_threads(serve):
    app = Recorder()                                                    # every request waits for release
    server = serve(app, workers=4)
    # A set, not a count: a thread left over from an earlier test may end meanwhile.
    threads_before = set(threading.enumerate())
    assert lane_threads() == THREADS
    results: list[int] = []
    flood = [in_background(server, "POST", "/api/v1/stop", results) for _ in range(20)]
    wait_until(lambda: len(app.seen) == THREADS + 4, 30, "the lane and every worker to hold a stop")
    wait_until(lambda: server.gate.held == 0 and server.busy == 20, 30, "the rest to queue")
    assert len(app.lane_paths()) == THREADS            # the lane's threads only; its queue holds QUEUE_SIZE more
    assert lane_threads() == THREADS
    assert set(threading.enumerate()) - threads_before <= set(flood)     # the clients' threads, nothing more
    app.release.set()
    for t in flood:
        t.join(60)
    assert results == [200] * 20
    assert len(app.lane_paths()) == THREADS + QUEUE_SIZE         # what its queue held; the other 14 went to the pool
    assert lane_threads() == THREADS
