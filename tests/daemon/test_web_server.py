"""The daemon's web server (deskpi.daemon.web_server, deskpi.daemon.web_gate) on real sockets.

A tiny WSGI app stands in for the desk's, so each property is seen alone: idle
and slow connections hold no worker, a slow sender is closed, a stalled reader
is dropped, TLS handshakes happen off the accepting thread, shutdown ends
requests under way. Waits are on events and sockets with generous deadlines,
never on how fast anything is.
"""
from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from helpers import self_signed_cert, wait_until

from deskpi.daemon.web_gate import HEAD_MAX_BYTES, READ_AHEAD_BYTES, request_complete
from deskpi.daemon.web_server import ServerOptions, WebServer, WebServerError, check_tls


def hello(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + environ["wsgi.url_scheme"].encode() + b" " + str(len(body)).encode()]


@pytest.fixture
def serve():
    servers: list[WebServer] = []

    def start(app=hello, **options) -> WebServer:
        server = WebServer(app, "127.0.0.1", 0, ServerOptions(**{"workers": 8, **options}))
        server.start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def get(server: WebServer, path: str = "/", *, body: bytes | None = None, tls: bool = False) -> tuple[int, bytes]:
    host, port = server.address
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=30, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("POST" if body is not None else "GET", path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def connect(server: WebServer) -> socket.socket:
    return socket.create_connection(server.address, timeout=30)


def closed_by_server(sock: socket.socket) -> bool:
    """Blocks until the server closes `sock` (True) or sends something (False); the socket's timeout guards."""
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True


def test_requests_are_answered_while_more_idle_and_slow_sockets_than_workers_are_open(serve):
    server = serve(workers=8, timeout_s=120)     # werkzeug, or cheroot alone, would give each one a thread
    threads_before = set(threading.enumerate())
    idle = [connect(server) for _ in range(40)]
    slow = [connect(server) for _ in range(12)]
    for s in slow:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")          # and never the blank line
    try:
        wait_until(lambda: server.gate.held == 52, 30, "the gate to hold every idle and slow socket")
        for _ in range(20):
            assert get(server) == (200, b"hello http 0")
        assert get(server, body=b"x" * 3000) == (200, b"hello http 3000")
        # threads left over from earlier tests may end meanwhile; only a new one is a defect
        assert set(threading.enumerate()) <= threads_before, "a connection started a thread"
    finally:
        for s in idle + slow:
            s.close()


def test_a_client_that_never_finishes_its_request_is_closed_after_the_timeout(serve):
    server = serve(timeout_s=2)
    with connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: local")
        assert closed_by_server(s)
    with connect(server) as idle:
        assert closed_by_server(idle)
    wait_until(lambda: server.gate.closed_early >= 2, 10, "the gate to count both closes")   # counted after the close
    assert get(server)[0] == 200


def test_the_oldest_waiting_connection_makes_room_when_too_many_wait(serve, monkeypatch):
    server = serve()
    monkeypatch.setattr(server.gate, "max_held", 3)
    first = connect(server)
    wait_until(lambda: server.gate.held == 1, 30, "the first connection to be held")
    later = [connect(server) for _ in range(3)]
    try:
        assert closed_by_server(first)
        assert get(server)[0] == 200
    finally:
        for s in [first, *later]:
            s.close()


def test_a_stalled_reader_of_a_stream_is_dropped_and_its_worker_freed(serve):
    ended = threading.Event()

    def endless(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/event-stream")])

        def chunks():
            try:
                while True:
                    yield b"data: " + b"x" * 65536 + b"\n\n"
            finally:
                ended.set()
        return chunks()

    server = serve(app=endless, timeout_s=2)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(server.address)
    try:
        s.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")     # and never read
        assert ended.wait(60), "the stream to a reader that stopped reading was never dropped"
        wait_until(lambda: server.busy == 0, 30, "the worker to be free again")
    finally:
        s.close()


def test_keep_alive_connections_wait_between_requests_without_a_thread(serve):
    server = serve(workers=8, timeout_s=60)
    conns = [http.client.HTTPConnection(*server.address, timeout=30) for _ in range(20)]
    try:
        for c in conns:
            c.request("GET", "/")
            assert c.getresponse().read() == b"hello http 0"
        wait_until(lambda: server.busy == 0, 30, "every worker to be free")
        for c in conns:                               # the same connections, again: each was kept open
            c.request("GET", "/")
            assert c.getresponse().read() == b"hello http 0"
    finally:
        for c in conns:
            c.close()


def test_stop_ends_a_request_under_way_and_closes_waiting_sockets(serve):
    entered, release = threading.Event(), threading.Event()

    def stuck(environ, start_response):
        entered.set()
        release.wait(60)
        start_response("200 OK", [])
        return [b""]

    server = serve(app=stuck)
    waiting = connect(server)
    def ask() -> None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            get(server)

    threading.Thread(target=ask, daemon=True).start()
    assert entered.wait(30)
    done = threading.Thread(target=server.stop, daemon=True)
    done.start()
    done.join(30)
    release.set()
    assert not done.is_alive(), "stop() did not return"
    assert closed_by_server(waiting)
    with pytest.raises(OSError):
        connect(server)


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head, body) of one answer that ends the connection, read until the server closes it."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def content_length(head: bytes) -> int:
    found = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    assert found is not None, head
    return int(found.group(1))


def test_a_head_longer_than_the_limit_is_431_and_never_read_whole(serve):
    """cheroot's header limit was 0 (none): a 60 MiB head went into the daemon's memory, unsigned in."""
    server = serve(timeout_s=60)
    with connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        with contextlib.suppress(OSError):                  # refused part-way: the rest may not go out
            for _ in range(64):                              # 4 MiB of headers, and never the blank line
                s.sendall(b"X-Pad: " + b"p" * 65000 + b"\r\n")
        head, body = read_answer(s)
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), head
    assert f"at most {HEAD_MAX_BYTES} bytes".encode() in body and content_length(head) == len(body)
    assert get(server) == (200, b"hello http 0")


def test_a_kept_alive_head_over_the_limit_is_431_too(serve):
    """The second of two pipelined requests goes to a worker without the gate: cheroot's own limit."""
    server = serve()
    with connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * (HEAD_MAX_BYTES + 100) + b"\r\n\r\n")
        head, body = read_answer(s)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"hello http 0" in body
    second = body[body.index(b"HTTP/1.1 "):]
    assert second.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), second
    second_head, _, second_body = second.partition(b"\r\n\r\n")
    assert content_length(second_head) == len(second_body)


def test_slow_heads_longer_than_the_read_ahead_hold_no_worker(serve):
    """Handed to a worker at the read-ahead limit, a head trickled a byte every few seconds held it for
    good (cheroot times out each read, not the head): 20 of them starved every other request."""
    server = serve(workers=2, timeout_s=60)
    slow = [connect(server) for _ in range(4)]
    try:
        for s in slow:
            s.settimeout(10)
            head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: "
            s.sendall(head + b"p" * (READ_AHEAD_BYTES - len(head)))     # the next byte comes in a while
        for s in slow:
            head, _ = read_answer(s)
            assert head.startswith(b"HTTP/1.1 431"), head
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        try:
            conn.request("GET", "/")
            assert conn.getresponse().read() == b"hello http 0"
        finally:
            conn.close()
    finally:
        for s in slow:
            s.close()


def _one_answer(sock: socket.socket) -> bytes:
    """One whole answer of `hello` on a kept-alive connection (chunked: it ends with the last chunk)."""
    data = b""
    while not data.endswith(b"\r\n0\r\n\r\n"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    return data


def test_half_a_pipelined_head_waits_at_the_gate_not_in_a_worker(serve):
    """A whole request with the start of the next behind it went to a worker as soon as the first was answered,
    and a client trickling the rest a byte at a time held that worker (cheroot's timeout is per read)."""
    server = serve(workers=2, timeout_s=60)
    pipelined = [connect(server) for _ in range(2)]
    try:
        for s in pipelined:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\nX-A: ")
            assert b"\r\nhello http 0\r\n" in _one_answer(s)
        conn = http.client.HTTPConnection(*server.address, timeout=5)
        try:
            conn.request("GET", "/")                  # both workers would be waiting on the trickles
            assert conn.getresponse().read() == b"hello http 0"
        finally:
            conn.close()
        for s in pipelined:
            s.sendall(b"b\r\n\r\n")                 # the rest of the head: answered as any other
            assert b"\r\nhello http 0\r\n" in _one_answer(s)
    finally:
        for s in pipelined:
            s.close()


def test_a_head_trickled_within_the_limit_is_closed_at_one_overall_deadline(serve):
    server = serve(timeout_s=2)
    with connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 30 and not closed:
            try:
                s.sendall(b"X: y\r\n")                     # a header line every 0.2 s, never the blank line
            except OSError:
                closed = True
                break
            time.sleep(0.2)
            s.setblocking(False)
            try:
                closed = s.recv(4096) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed = True
            finally:
                s.setblocking(True)
    assert closed and time.monotonic() - start < 15


def test_a_body_with_a_length_over_the_limit_is_the_apps_to_refuse(serve):
    # Refused by the server before the app, a Stop with a body (a confused client, a proxy that adds one)
    # was a 413 and the desk went on: the app refuses a body too large when a view reads it, Stop never does.
    server = serve(app=hello, max_body_bytes=1000)
    assert get(server, body=b"x" * 5000) == (200, b"hello http 5000")


def test_a_port_in_use_is_an_os_error_with_its_reason(serve):
    server = serve()
    other = WebServer(hello, "127.0.0.1", server.address[1], ServerOptions(workers=8))
    with pytest.raises(OSError) as err:
        other.start()
    assert err.value.strerror and "in use" in err.value.strerror


@pytest.mark.parametrize(("data", "complete"), [
    (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", False),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", True),
    (b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n" + b"x" * 16384, True),
])
def test_what_counts_as_a_request_that_has_arrived(data, complete):
    assert request_complete(data) is complete


# -- HTTPS ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def test_https_is_served_and_says_so_to_the_app(serve, cert):
    server = serve(tls_cert=cert[0], tls_key=cert[1])
    assert server.url.startswith("https://127.0.0.1:")
    assert get(server, tls=True) == (200, b"hello https 0")
    assert get(server, body=b"y" * 100, tls=True) == (200, b"hello https 100")


def test_https_connections_are_kept_alive_between_requests(serve, cert):
    server = serve(tls_cert=cert[0], tls_key=cert[1])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(*server.address, timeout=30, context=ctx)
    try:
        for n in range(5):
            conn.request("POST", "/", body=b"z" * n * 1000)
            assert conn.getresponse().read() == f"hello https {n * 1000}".encode()
        first = conn.sock
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"hello https 0" and conn.sock is first     # the same connection
    finally:
        conn.close()


def test_a_silent_client_on_the_https_port_blocks_no_one(serve, cert):
    # cheroot does the handshake in its accepting thread: one silent client stopped every new connection.
    server = serve(tls_cert=cert[0], tls_key=cert[1], timeout_s=120)
    silent = [connect(server) for _ in range(20)]
    try:
        wait_until(lambda: server.gate.held == 20, 30, "the gate to hold the silent clients")
        assert get(server, tls=True)[0] == 200
    finally:
        for s in silent:
            s.close()


def test_plain_http_on_the_https_port_is_told_to_use_https(serve, cert):
    server = serve(tls_cert=cert[0], tls_key=cert[1])
    with connect(server) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        head, body = read_answer(s)
    assert head.startswith(b"HTTP/1.1 400") and b"https://" in body
    assert content_length(head) == len(body)            # it said 68 for a body of 70 bytes


def test_tls_files_that_cannot_be_used_are_named_with_the_reason(tmp_path, cert):
    other = self_signed_cert(tmp_path / "other")
    with pytest.raises(WebServerError, match="does not belong to the certificate"):
        check_tls(cert[0], other[1])
    with pytest.raises(WebServerError, match="cannot read tls_key .*No such file"):
        check_tls(cert[0], str(tmp_path / "missing.pem"))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(WebServerError, match="not a PEM certificate"):
        check_tls(str(garbage), cert[1])
    encrypted = tmp_path / "encrypted.pem"
    import subprocess
    subprocess.run(["openssl", "pkey", "-in", cert[1], "-out", str(encrypted), "-aes256", "-passout", "pass:secret"],
                   check=True, capture_output=True, timeout=60)
    with pytest.raises(WebServerError, match="passphrase"):
        check_tls(cert[0], str(encrypted))
    assert Path(cert[0]).is_file()
