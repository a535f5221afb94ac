"""Live streams written by the web server's one streaming thread (deskpi.daemon.web_streams).

A tiny WSGI app opens streams of a real LiveFeed the way the desk's `GET /api/v1/events`
does: it takes a slot (503 when none is left), hands its cursor to the server through
`DETACH_KEY` and returns. Each test watches one property on real sockets: the worker is
free at once, more streams than workers, news and pings arrive, the `session` end, a
client that leaves frees its slot, a reader that stops reading blocks no one and is
closed, TLS. Waits are on sockets and predicates with generous deadlines, never on time.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading

import pytest
from helpers import self_signed_cert, wait_until

from deskpi.daemon.web_server import ServerOptions, WebServer
from deskpi.webapp.live import DETACH_KEY, LiveFeed


class Box:
    def __init__(self, value) -> None:
        self.value = value

    def __call__(self):
        return self.value


class Desk:
    """A feed of one `state` source, and whether its readers are still signed in."""

    def __init__(self, *, max_streams: int = 64, keepalive_s: float = 5.0) -> None:
        self.state = Box({"height_mm": 700})
        self.reminder = Box(None)
        self.feed = LiveFeed({"state": (self.state, repr), "reminder": (self.reminder, repr)},
                             max_streams=max_streams, interval_s=0.05)
        self.signed_in = threading.Event()
        self.signed_in.set()
        self.keepalive_s = keepalive_s

    def set(self, value) -> None:
        self.state.value = value
        self.feed.sample()

    def remind(self, value) -> None:
        self.reminder.value = value
        self.feed.sample()

    def app(self, environ, start_response):
        if not self.feed.try_open():
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"too many pages open"]
        cursor = self.feed.cursor(lambda _name, value: value, self.signed_in.is_set,
                                  audience=lambda _name, _value: "", keepalive_s=self.keepalive_s)
        environ[DETACH_KEY](cursor)
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store")])
        return iter([cursor.preamble.encode()])


@pytest.fixture
def serve():
    made: list[tuple[WebServer, Desk]] = []

    def start(desk: Desk | None = None, **options) -> tuple[WebServer, Desk]:
        desk = desk or Desk()
        server = WebServer(desk.app, "127.0.0.1", 0, ServerOptions(**{"workers": 8, **options}))
        server.start()
        made.append((server, desk))
        return server, desk

    yield start
    for server, desk in made:
        desk.feed.close()
        server.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


class Reader:
    """One open stream, read event by event."""

    def __init__(self, server: WebServer, *, tls: bool = False) -> None:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.conn: http.client.HTTPConnection = http.client.HTTPSConnection(*server.address, timeout=30,
                                                                                 context=ctx)
        else:
            self.conn = http.client.HTTPConnection(*server.address, timeout=30)
        self.conn.request("GET", "/events")
        self.resp = self.conn.getresponse()

    def event(self) -> tuple[str, object] | None:
        """The next event (name, data), or None when the server ended the stream."""
        fields: dict[str, str] = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.rstrip(b"\r\n").decode()
            if line:
                key, _, value = line.partition(": ")
                fields[key] = value
            elif "event" in fields:
                return fields["event"], json.loads(fields["data"])
            else:
                fields = {}                   # the retry line

    def until(self, wanted: tuple[str, object]) -> None:
        while (got := self.event()) != wanted:
            assert got is not None, f"the stream ended before {wanted}"

    def close(self) -> None:
        self.conn.close()


def test_streams_outnumber_the_workers_and_every_one_gets_each_change(serve):
    server, desk = serve(workers=8)
    readers = [Reader(server) for _ in range(24)]      # three times the workers
    try:
        for r in readers:
            assert r.resp.status == 200 and r.resp.getheader("Content-Type") == "text/event-stream"
            r.until(("state", {"height_mm": 700}))
        wait_until(lambda: server.busy == 0, 30, "every worker to be free while 24 streams are open")
        assert server.streams.open == 24 and desk.feed.streams == 24
        desk.set({"height_mm": 731})
        for r in readers:
            r.until(("state", {"height_mm": 731}))
        desk.remind({"id": 7, "kind": "stand"})
        for r in readers:
            r.until(("reminder", {"id": 7, "kind": "stand"}))
        status = http.client.HTTPConnection(*server.address, timeout=30)
        status.request("GET", "/events")                  # the pool still answers
        assert status.getresponse().status == 200
        status.close()
    finally:
        for r in readers:
            r.close()


def test_a_full_feed_answers_503_and_a_client_that_leaves_frees_its_slot(serve):
    server, desk = serve(Desk(max_streams=2))
    first, second = Reader(server), Reader(server)
    try:
        first.until(("state", {"height_mm": 700}))
        second.until(("state", {"height_mm": 700}))
        third = http.client.HTTPConnection(*server.address, timeout=30)
        third.request("GET", "/events")
        assert third.getresponse().status == 503
        third.close()
        first.close()                                     # the phone went away
        wait_until(lambda: desk.feed.streams == 1, 30, "the slot of the closed stream to be free")
        again = Reader(server)
        assert again.resp.status == 200
        again.until(("state", {"height_mm": 700}))
        again.close()
    finally:
        first.close()
        second.close()


def test_a_quiet_stream_gets_pings_and_a_signed_out_one_its_session_end(serve):
    server, desk = serve(Desk(keepalive_s=0.2))
    r = Reader(server)
    try:
        r.until(("state", {"height_mm": 700}))
        r.until(("ping", {}))
        desk.signed_in.clear()
        r.until(("session", {"signed_in": False}))
        assert r.event() is None, "the stream did not end after its session event"
        wait_until(lambda: desk.feed.streams == 0, 30, "the ended stream's slot to be free")
    finally:
        r.close()


def test_closing_the_feed_ends_every_stream_cleanly(serve):
    server, desk = serve()
    readers = [Reader(server) for _ in range(3)]
    try:
        for r in readers:
            assert r.event() is not None
        desk.feed.close()
        for r in readers:
            assert r.event() is None                      # the chunked ending came: no error, no hang
    finally:
        for r in readers:
            r.close()


def test_a_reader_that_stops_reading_blocks_no_one_and_is_closed(serve):
    server, desk = serve(timeout_s=3)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(server.address)
    stalled.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")         # and never reads
    reader = Reader(server)
    try:
        wait_until(lambda: desk.feed.streams == 2, 30, "both streams to open")
        for n in range(40):                       # big values fill the stalled socket's buffers
            value = {"height_mm": 700 + n, "pad": "x" * 200_000}
            desk.set(value)
            reader.until(("state", value))
        wait_until(lambda: server.streams.closed_slow == 1, 60, "the stalled reader to be closed")
        wait_until(lambda: desk.feed.streams == 1, 30, "its slot to be free")
        desk.set({"height_mm": 650})
        reader.until(("state", {"height_mm": 650}))
    finally:
        stalled.close()
        reader.close()


def test_streams_over_https(serve, cert):
    server, desk = serve(tls_cert=cert[0], tls_key=cert[1])
    readers = [Reader(server, tls=True) for _ in range(10)]
    try:
        for r in readers:
            r.until(("state", {"height_mm": 700}))
        wait_until(lambda: server.busy == 0, 30, "every worker to be free")
        value = {"height_mm": 702, "pad": "y" * 100_000}           # more than one TLS record
        desk.set(value)
        for r in readers:
            r.until(("state", value))
        readers[0].close()
        wait_until(lambda: desk.feed.streams == 9, 30, "the closed TLS stream's slot to be free")
    finally:
        for r in readers:
            r.close()
