"""The web server the daemon serves its Flask app with: cheroot, a fixed pool of worker threads.

werkzeug's development server started a thread per connection without limit
and never timed out a slow client. Here:

- `workers` threads answer requests (``[web] workers``); nothing else ever
  starts a thread per connection;
- a connection reaches a worker only once its request has arrived
  (deskpi.daemon.web_gate): idle sockets, slow senders and TLS handshakes wait
  in one epoll set, and one that has not sent its request within `timeout_s`
  is closed;
- between requests a kept-alive connection waits in cheroot's selector, not in
  a thread; every blocking read or write of a worker times out after
  `timeout_s`, so a stalled reader of a live stream is dropped;
- with ``[web] tls_cert`` / ``tls_key`` it speaks HTTPS (stdlib ssl);
- `POST /api/v1/stop` skips the pool's queue: the gate hands it to two threads of its own
  (deskpi.daemon.web_stop_lane) while they have room;
- a live stream (`GET /api/v1/events`) holds a worker only while the app answers
  its request: the connection is then handed to one thread that writes every
  stream (deskpi.daemon.web_streams explains how it leaves cheroot), so the
  number of streams (`MAX_STREAMS`) does not depend on the worker count.
"""
from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from cheroot import errors as cheroot_errors
from cheroot import wsgi
from cheroot.makefile import MakeFile, StreamReader
from cheroot.server import HTTPConnection, HTTPRequest
from cheroot.ssl.builtin import BuiltinSSLAdapter
from werkzeug.exceptions import RequestEntityTooLarge

from deskpi.daemon.priority import favour
from deskpi.daemon.web_gate import (
    HEAD_MAX_BYTES,
    HEAD_TOO_LARGE,
    READ_AHEAD_BYTES,
    HeaderGate,
    Replay,
    request_complete,
)
from deskpi.daemon.web_stop_lane import StopLane, is_stop_request
from deskpi.daemon.web_streams import Source, StreamWriter
from deskpi.webapp.live import DETACH_KEY

log = logging.getLogger(__name__)

#: Live streams open at once: one thread writes them all, so this is file descriptors and a cursor each.
MAX_STREAMS = 64
#: Connections waiting in the gate before the oldest is closed; kept-alive ones parked between requests;
#: complete requests queued for a busy pool. Together they bound the file descriptors a client can hold.
MAX_HELD = 384
KEEP_ALIVE_LIMIT = 64
QUEUE_LIMIT = 256
GRACE_S = 0.5          # at shutdown, how long requests under way may finish before their sockets are cut
STOP_WAIT_S = 2.0      # then how long stop() waits for the workers to end


class WebServerError(Exception):
    """The web server cannot start as configured; the message says what to change."""


@dataclass(frozen=True)
class ServerOptions:
    workers: int = 16
    timeout_s: float = 10.0
    tls_cert: str = ""
    tls_key: str = ""
    #: The app's own body limit (`[web] max_body_bytes`, create_app's MAX_CONTENT_LENGTH): a chunked body is
    #: never read far past it (CHUNK_FRAMING).
    max_body_bytes: int = 4096

    @classmethod
    def from_settings(cls, web) -> ServerOptions:
        return cls(workers=web.workers, timeout_s=web.timeout_s, tls_cert=web.tls_cert, tls_key=web.tls_key,
                   max_body_bytes=web.max_body_bytes)


def check_tls(cert: str, key: str) -> ssl.SSLContext:
    """A server context for the certificate and key, or WebServerError naming the files and what is wrong."""
    where = f"[web] tls_cert = {cert!r}, tls_key = {key!r}"
    for what, path in (("tls_cert", cert), ("tls_key", key)):
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise WebServerError(f"{where}: cannot read {what} {path!r}: {exc.strerror}; the file must exist "
                                 f"and be readable by the user deskpi runs as") from None

    def no_passphrase():
        raise WebServerError(f"{where}: the key is protected by a passphrase; deskpi needs an unencrypted key "
                             f"(keep it readable only by root and the deskpi group)")

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key, password=no_passphrase)
    except ssl.SSLError as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        hint = ("the key does not belong to the certificate" if "MISMATCH" in str(reason) else
                "not a PEM certificate and a PEM private key")
        raise WebServerError(f"{where}: cannot be used ({reason}): {hint}") from None
    return ctx


class _LazyTLS(BuiltinSSLAdapter):
    """cheroot's stdlib TLS, with the handshake moved out of the accepting thread into the gate
    (cheroot does it there, blocking: one silent client would stop every new connection)."""

    def __init__(self, cert: str, key: str, context: ssl.SSLContext) -> None:
        super().__init__(cert, key)
        self.context = context

    def wrap(self, sock):
        # The environ is filled in once the gate has done the handshake (see WebServer._handshake_done).
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), {}


class _Reader(StreamReader):
    """The worker's reader: what the gate read ahead first. Data waiting there counts as data."""

    def __init__(self, replay: Replay, bufsize: int) -> None:
        super().__init__(replay, "rb", bufsize)
        self.replay = replay

    def has_data(self) -> bool:
        return super().has_data() or self.replay.pending() > 0


#: A chunked body's bytes on the wire per byte of body, at most: a chunk of one byte takes six ("1\r\nx\r\n").
CHUNK_FRAMING = 8


class _Request(HTTPRequest):
    """cheroot's request, with its refusals of a request over the server's limits as this desk words them."""

    def simple_response(self, status, msg="") -> None:
        if not (str(status).startswith("413") and "headers" in str(msg)):
            super().simple_response(status, msg)
            return
        # A pipelined or kept-alive head the gate did not see: the same limit and words as there.
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.conn.wfile.write(HEAD_TOO_LARGE)


class _ChunkedBody:
    """A chunked body as the app reads it, its bytes on the wire bounded (`_Server.chunked_limit`): unbounded,
    cheroot read one announced chunk whole into memory, however large. Past the bound cheroot raises
    MaxSizeExceeded (or an IOError for a chunk that would pass it), which the app does not know: a 500, and a
    500 stops the desk. Raised here as the 413 the app answers for any body too large. The app's own limit
    counts the body itself (werkzeug's max_content_length), as for a body with a Content-Length."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def read(self, size=None) -> bytes:
        try:
            return self._stream.read(size)
        except cheroot_errors.MaxSizeExceeded:
            raise RequestEntityTooLarge() from None
        except OSError as exc:
            if "Request Entity Too Large" in str(exc):
                raise RequestEntityTooLarge() from None
            raise

    def readline(self, size=None) -> bytes:
        # On read, not cheroot's readline: that one spins for ever on a chunk that begins with a line break.
        line = bytearray()
        while size is None or size < 0 or len(line) < size:
            byte = self.read(1)
            line += byte
            if not byte or byte == b"\n":
                break
        return bytes(line)

    def __iter__(self):
        return iter(self.readline, b"")

    def close(self) -> None:
        self._stream.close()


class _Connection(HTTPConnection):
    rbufsize = READ_AHEAD_BYTES
    RequestHandlerClass = _Request

    def __init__(self, server, sock, makefile=MakeFile) -> None:
        super().__init__(server, sock, makefile)
        self.replay = Replay(sock)
        self.rfile = _Reader(self.replay, self.rbufsize)
        self.handshake_done = not isinstance(sock, ssl.SSLSocket)
        self.detached: Source | None = None       # a live stream the streams' thread takes over
        self.chunked = False

    def detach(self, source: Source) -> None:
        """The app's `DETACH_KEY`: once the response head is out, the streams' thread writes `source`."""
        self.detached = source

    def close(self) -> None:
        self.server.forget(self)
        source, self.detached = self.detached, None
        if source is not None:
            source.close()                         # never handed over: its slot is free again
        super().close()


class _Gateway(wsgi.Gateway_10):
    """cheroot's WSGI gateway, offering the app `DETACH_KEY` and keeping a detached stream open."""

    def get_environ(self) -> dict:
        env = super().get_environ()
        env[DETACH_KEY] = self.req.conn.detach
        if self.req.chunked_read:
            env["wsgi.input"].maxlen = self.req.server.chunked_limit
            env["wsgi.input"] = _ChunkedBody(env["wsgi.input"])
        return env

    def respond(self) -> None:
        req, conn = self.req, self.req.conn
        try:
            super().respond()
            if conn.detached is not None and req.status.startswith(b"200"):
                req.ensure_headers_sent()
                conn.wfile.flush()
                # The streams' thread writes the rest and the chunked ending; cheroot gives the
                # connection back through put_conn, which hands it over.
                conn.chunked, req.chunked_write = req.chunked_write, False
                req.close_connection = False
                return
        except BaseException:
            self._release(conn)
            raise
        self._release(conn)             # the app marked a stream but answered otherwise (an error)

    @staticmethod
    def _release(conn) -> None:
        source, conn.detached = conn.detached, None
        if source is not None:
            source.close()


class _Server(wsgi.Server):
    ConnectionClass = _Connection
    keep_alive_conn_limit = KEEP_ALIVE_LIMIT
    expiration_interval = 0.25
    gate: HeaderGate
    stop_lane: StopLane
    streams: StreamWriter
    chunked_limit = 0           # bytes on the wire a chunked body may take, its framing counted (0: no bound)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.active: set = set()                # connections a worker is answering
        self._active_lock = threading.Lock()

    def process_conn(self, conn) -> None:
        if not conn.rfile.has_data():
            self.gate.admit(conn)
            return
        # A pipelined request is already there, or part of one: only a whole head goes to a worker. Half a
        # head trickled a byte at a time held a worker for as long as the client liked (its timeout is per
        # read): what was read goes back ahead of the socket, and the gate waits for the rest.
        ahead = b""
        while conn.rfile.has_data() and len(ahead) < READ_AHEAD_BYTES:
            data = conn.rfile.read1(READ_AHEAD_BYTES - len(ahead))     # buffered or decrypted: never waits
            if not data:
                break
            ahead += data
        conn.replay.ahead = ahead + conn.replay.ahead
        if len(ahead) >= READ_AHEAD_BYTES or request_complete(ahead):
            self.to_worker(conn)
        else:
            self.gate.admit(conn)

    def to_worker(self, conn) -> None:
        with self._active_lock:
            self.active.add(conn)
        super().process_conn(conn)

    def from_gate(self, conn) -> None:
        """A request the gate holds whole: Stop to its own lane while it has room, anything else to the pool."""
        ahead = conn.replay.ahead
        if is_stop_request(ahead) and request_complete(ahead):
            with self._active_lock:
                self.active.add(conn)
            if self.stop_lane.offer(conn):
                return
            self.forget(conn)
        self.to_worker(conn)

    def put_conn(self, conn) -> None:
        self.forget(conn)
        source, conn.detached = conn.detached, None
        if source is not None:
            self.streams.adopt(conn, source, conn.chunked)
            return
        super().put_conn(conn)

    def forget(self, conn) -> None:
        with self._active_lock:
            self.active.discard(conn)

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        log.log(max(level, logging.DEBUG), "%s", msg, exc_info=traceback)

    def cut_active(self) -> None:
        """Shut the sockets of requests still under way, so their workers stop waiting on them."""
        with self._active_lock:
            conns = list(self.active)
        for conn in conns:
            with contextlib.suppress(OSError, ValueError):
                conn.socket.shutdown(socket.SHUT_RDWR)


class WebServer:
    """The app on host:port: start() binds and serves (raising OSError or WebServerError), stop() ends it."""

    def __init__(self, app, host: str, port: int, options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions()
        o = self.options
        self._server = _Server((host, port), app, numthreads=o.workers, max=o.workers, timeout=o.timeout_s,
                               shutdown_timeout=1, request_queue_size=128, accepted_queue_size=QUEUE_LIMIT,
                               accepted_queue_timeout=0, server_name="deskpi")
        self._server.gateway = _Gateway
        # Unlimited by default: a 60 MiB head (or one chunk of a chunked body) was read whole into memory,
        # past the unit's MemoryMax=, before anyone signed in. A body with a Content-Length is left to the app,
        # which refuses one too large only when a view reads it: Stop never does, and is never refused.
        self._server.max_request_header_size = HEAD_MAX_BYTES
        self._server.chunked_limit = CHUNK_FRAMING * o.max_body_bytes
        self.tls = bool(o.tls_cert or o.tls_key)
        if self.tls:
            self._server.ssl_adapter = _LazyTLS(o.tls_cert, o.tls_key, check_tls(o.tls_cert, o.tls_key))
        self._server.stop_lane = self.stop_lane = StopLane(self._server)
        self._server.streams = self.streams = StreamWriter(timeout_s=o.timeout_s)
        self._server.gate = self.gate = HeaderGate(self._server.from_gate, timeout_s=o.timeout_s, max_held=MAX_HELD,
                                                   on_handshake=self._handshake_done)
        self._thread: threading.Thread | None = None

    def _handshake_done(self, conn) -> None:
        conn.ssl_env.update(self._server.ssl_adapter.get_environ(conn.socket))

    def start(self) -> None:
        try:
            self._prepare()                     # binds now, so a port in use is an error here
        except OSError as exc:
            # cheroot folds the reason into its message: give it back as errno and strerror.
            found = re.findall(r"\[Errno (-?\d+)\] ([^)]+)", str(exc))
            if exc.strerror is None and found:
                raise OSError(int(found[-1][0]), found[-1][1].strip()) from None
            raise
        self.stop_lane.start()
        self.streams.start()
        self.gate.start()
        self._thread = threading.Thread(target=self._server.serve, name="web", daemon=True)
        self._thread.start()
        # A kept-alive Stop wakes this thread's selector first, then the gate: both as the motion threads.
        favour(self._thread)

    def _prepare(self) -> None:
        """cheroot's prepare() (bind, listen, start the workers) from a daemon thread, so the workers are
        daemon threads too: one stuck in a view can delay shutdown by STOP_WAIT_S, never stop the exit."""
        failed: list[BaseException] = []

        def prepare() -> None:
            try:
                self._server.prepare()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller just below
                failed.append(exc)

        t = threading.Thread(target=prepare, name="web-start", daemon=True)
        t.start()
        t.join()
        if failed:
            raise failed[0]

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{shown}:{port}/"

    @property
    def busy(self) -> int:
        """Connections a worker is answering now."""
        return len(self._server.active)

    def stop(self) -> None:
        """Stop accepting, close waiting connections, give requests under way GRACE_S, then cut them."""
        if self._thread is None:
            return
        self.gate.close()
        self.streams.close()
        deadline = time.monotonic() + GRACE_S
        while self._server.active and time.monotonic() < deadline:
            time.sleep(0.02)
        self._server.cut_active()
        stopping = threading.Thread(target=self._server.stop, name="web-stop", daemon=True)
        stopping.start()
        stopping.join(STOP_WAIT_S)
        self.stop_lane.stop(0.5)
        if stopping.is_alive():
            log.warning("web server: a request was still running %.0f s after shutdown began; leaving it", STOP_WAIT_S)
        self._thread.join(timeout=1)
        self._thread = None
