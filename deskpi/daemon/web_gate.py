"""The web server's gate: a connection gets a worker thread only once its request has arrived.

cheroot hands a new connection to a worker at once, and the worker then waits
for the request line with a blocking read: 40 idle sockets kept Stop waiting
for 14 s in our measurement, and a slowloris client (a header byte every few
seconds) would hold a worker for as long as it likes. Here one thread holds
every new or kept-alive connection in an epoll set until its request head (and
a small body announced by Content-Length) is there, doing the TLS handshake
without blocking on the way; only then does a worker read it, from what the
gate already read. A connection that has not sent its request within the
timeout is closed, and when more than `max_held` wait, the oldest goes first,
so idle and slow sockets cost a file descriptor each, never a thread.
"""
from __future__ import annotations

import contextlib
import logging
import re
import select
import socket
import ssl
import time
from collections.abc import Callable

from deskpi.daemon.epoll_thread import EpollThread
from deskpi.daemon.priority import favour

log = logging.getLogger(__name__)

#: The most the gate reads ahead for one request: a head plus a small body. A request whose head alone
#: is longer is refused (431); a longer body goes to a worker with what has come so far.
READ_AHEAD_BYTES = 16384
#: The longest request head (request line, headers, blank line) the server takes, here and in cheroot
#: (deskpi.daemon.web_server): a phone's head with its cookies is under 2 KiB.
HEAD_MAX_BYTES = READ_AHEAD_BYTES
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d{1,9})[ \t]*\r?\n", re.I)
_NO_WAIT_FOR_BODY = re.compile(rb"\n(?:expect|transfer-encoding):", re.I)


def refusal(status: str, text: str, *, content_type: str = "text/plain; charset=utf-8") -> bytes:
    """A whole HTTP answer that ends the connection, for a request the app never sees."""
    body = text.encode("utf-8")
    return (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body


_PLAIN_HTTP_ON_TLS = refusal("400 Bad Request", "This desk speaks HTTPS on this port: open https:// instead of http://\n")
HEAD_TOO_LARGE = refusal("431 Request Header Fields Too Large",
                         f"The request's head (its request line and headers) is over {HEAD_MAX_BYTES} bytes; at "
                         f"most {HEAD_MAX_BYTES} bytes are allowed: send fewer or shorter headers or cookies.\n")


class Replay:
    """The socket as a worker's reader sees it: first what the gate read ahead, then the socket itself."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ahead = b""

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        if self.ahead:
            n = min(len(buffer), nbytes or len(buffer), len(self.ahead))
            buffer[:n] = self.ahead[:n]
            self.ahead = self.ahead[n:]
            return n
        # nbytes 0 means "the whole buffer" to a socket, but would read nothing from an SSLSocket.
        return self.sock.recv_into(buffer, nbytes or len(buffer), *((flags,) if flags else ()))

    def pending(self) -> int:
        """Bytes a reader gets without waiting for the network: read ahead, or already decrypted."""
        return len(self.ahead) + (self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else 0)

    def __getattr__(self, name: str):
        return getattr(self.sock, name)


def request_complete(data: bytes) -> bool:
    """Whether `data` holds a whole request head, and the body too when it is small and announced."""
    end = _HEAD_END.search(data)
    if end is None:
        return False
    head = data[:end.start()] + b"\n"
    if _NO_WAIT_FOR_BODY.search(head):
        return True                    # 100-continue or chunked: the worker reads the body as it comes
    length = _LENGTH.search(head)
    if length is None:
        return True
    return len(data) - end.end() >= min(int(length.group(1)), READ_AHEAD_BYTES)


class _Held:
    __slots__ = ("conn", "deadline", "events", "handshake", "refused", "replay")

    def __init__(self, conn, replay: Replay, deadline: float, handshake: bool) -> None:
        self.conn = conn
        self.replay = replay
        self.deadline = deadline
        self.handshake = handshake
        self.events = select.EPOLLIN
        self.refused = False             # answered 431: what the client still sends is read and dropped


class HeaderGate(EpollThread):
    """Holds connections until their request is there; `hand_over(conn)` gives it to a worker."""

    def __init__(self, hand_over: Callable[[object], None], *, timeout_s: float, max_held: int = 512,
                 on_handshake: Callable[[object], None] | None = None) -> None:
        super().__init__("web-gate")
        self.hand_over = hand_over
        self.timeout_s = timeout_s
        self.max_held = max_held
        self.on_handshake = on_handshake
        self.closed_early = 0            # connections closed for their timeout or to make room

    def start(self) -> None:
        super().start()
        # A Stop's request is read here before the lane answers it: at the process's nice the CPU hog of
        # `deskpi bench stress` kept this thread from waking for several ms. Refused without LimitNICE=
        # or CAP_SYS_NICE, as for the motion threads (deskpi.daemon.priority).
        favour(self._thread)

    @property
    def held(self) -> int:
        return len(self._entries)

    def admit(self, conn) -> None:
        """Take a connection whose reader holds nothing yet (from any thread)."""
        self._give(conn)

    # -- the gate's thread ----------------------------------------------------------------
    # Every entry has the same timeout, so the set's order (oldest first) is the order they expire in.
    def _ready(self, fd: int, events: int) -> None:
        self._advance(self._entries[fd])

    def _discard(self, item) -> None:
        _close(item)

    def _end(self, entry: _Held) -> None:
        _close(entry.conn)

    def _take(self, conn) -> None:
        sock = conn.socket
        try:
            sock.setblocking(False)
            fd = sock.fileno()
            self._epoll.register(fd, select.EPOLLIN)
        except (OSError, ValueError):
            _close(conn)
            return
        handshake = isinstance(sock, ssl.SSLSocket) and not getattr(conn, "handshake_done", True)
        self._entries[fd] = _Held(conn, conn.replay, time.monotonic() + self.timeout_s, handshake)
        while len(self._entries) > self.max_held:
            self._drop(next(iter(self._entries)))     # the oldest waiter makes room
            self.closed_early += 1

    def _advance(self, held: _Held) -> None:
        sock = held.conn.socket
        fd = sock.fileno()
        if held.handshake:
            try:
                sock.do_handshake()
            except ssl.SSLWantReadError:
                self._want(fd, held, select.EPOLLIN)
                return
            except ssl.SSLWantWriteError:
                self._want(fd, held, select.EPOLLOUT)
                return
            except (ssl.SSLError, OSError) as exc:
                if "HTTP_REQUEST" in str(exc) or "http request" in str(exc).lower():
                    with contextlib.suppress(OSError):
                        socket.socket.send(sock, _PLAIN_HTTP_ON_TLS)     # past TLS: the client speaks plain HTTP
                log.debug("TLS handshake failed: %s", exc)
                self._drop(fd)
                return
            held.handshake = False
            held.conn.handshake_done = True
            if self.on_handshake is not None:
                self.on_handshake(held.conn)
        if held.refused:
            self._drain(fd, held)
            return
        replay = held.replay
        while not (len(replay.ahead) >= READ_AHEAD_BYTES or request_complete(replay.ahead)):
            try:
                data = sock.recv(READ_AHEAD_BYTES - len(replay.ahead))
            except (BlockingIOError, ssl.SSLWantReadError):
                self._want(fd, held, select.EPOLLIN)
                return                                   # wait for more
            except ssl.SSLWantWriteError:
                self._want(fd, held, select.EPOLLOUT)
                return
            except OSError:                              # ssl.SSLError included
                self._drop(fd)
                return
            if not data:
                self._drop(fd)                           # the client went away
                return
            replay.ahead += data
        if _HEAD_END.search(replay.ahead) is None:
            self._refuse(fd, held)
            return
        self._release(fd, held)

    def _refuse(self, fd: int, held: _Held) -> None:
        """A head longer than the read-ahead: handed over, a client sending a byte every few seconds held a
        worker for as long as it liked (cheroot's timeout is per read). 431, then close."""
        sock = held.conn.socket
        held.replay.ahead = b""
        try:
            sock.send(HEAD_TOO_LARGE)          # a few hundred bytes into an empty send buffer
            sock.shutdown(socket.SHUT_WR)
        except OSError:                        # ssl.SSLWantWriteError included: nobody reads the answer
            self._drop(fd)
            return
        # Closed at once with the rest of the head unread, the kernel would send a reset that can wipe
        # the 431 from the client's buffer: read and drop until it hangs up, or the gate's deadline.
        held.refused = True
        self._drain(fd, held)

    def _drain(self, fd: int, held: _Held) -> None:
        sock = held.conn.socket
        for _ in range(4):                         # a fast sender must not keep this thread from the others
            try:
                if not sock.recv(65536):
                    break                          # the client hung up
            except (BlockingIOError, ssl.SSLWantReadError):
                self._want(fd, held, select.EPOLLIN)
                return
            except OSError:
                break
        else:
            self._want(fd, held, select.EPOLLIN)
            return
        self._drop(fd)

    def _release(self, fd: int, held: _Held) -> None:
        del self._entries[fd]
        try:
            self._epoll.unregister(fd)
            held.conn.socket.settimeout(held.conn.server.timeout)
        except (OSError, ValueError):
            _close(held.conn)
            return
        self.hand_over(held.conn)

    def _tick(self, now: float) -> None:
        while self._entries:
            fd, held = next(iter(self._entries.items()))
            if held.deadline > now:
                break
            self._drop(fd)
            self.closed_early += 1


def _close(conn) -> None:
    try:
        conn.close()
    except Exception:           # a connection that cannot even close is gone anyway
        log.debug("closing a connection failed", exc_info=True)
