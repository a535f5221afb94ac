"""HTTP for `deskpi bench soak`: a tally of every answer, and a client that is a phone or the bench.

Standard library only (http.client), one keep-alive connection per client, a timeout on every
request, and only ever 127.0.0.1. A phone signs in with name and PIN and sends its CSRF token
with every change; the bench's own client uses an API token.
"""
from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections import Counter

HOST = "127.0.0.1"
TIMEOUT_S = 10.0
API = "/api/v1"


def cut(conn: http.client.HTTPConnection | None) -> None:
    """Shut a connection's socket both ways at once, mid-request or mid-stream, and close it."""
    if conn is None:
        return
    if conn.sock is not None:
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()


class Tally:
    """Counts shared by every thread: answers by status, transport errors by kind, and named counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.maxima: dict[str, float] = {}
        self.examples: dict[str, list] = {}

    def answer(self, status: int, method: str, path: str) -> None:
        with self._lock:
            self.status[status] += 1
        if status >= 500:
            self.example("5xx", f"{status} {method} {path}")

    def error(self, kind: str, method: str, path: str) -> None:
        with self._lock:
            self.errors[kind] += 1
        self.example("transport_errors", f"{kind} {method} {path}")

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def most(self, key: str, value: float) -> None:
        with self._lock:
            self.maxima[key] = max(self.maxima.get(key, value), value)

    def example(self, key: str, what: object, keep: int = 5) -> None:
        """Keep the first few examples of something that went wrong, for the report."""
        with self._lock:
            kept = self.examples.setdefault(key, [])
            if len(kept) < keep:
                kept.append(what)

    def requests(self) -> dict:
        with self._lock:
            total = sum(self.status.values())
            by_status = {str(k): v for k, v in sorted(self.status.items())}
            return {"total": total, "answered_2xx": sum(v for k, v in self.status.items() if 200 <= k < 300),
                    "5xx": sum(v for k, v in self.status.items() if k >= 500),
                    "other_non_2xx": {k: v for k, v in by_status.items() if not 200 <= int(k) < 300
                                      and int(k) < 500},
                    "by_status": by_status, "transport_errors": dict(sorted(self.errors.items()))}


class Client:
    """One phone (cookies and CSRF token after `sign_in`) or the bench (`token`), on one connection."""

    def __init__(self, port: int, tally: Tally, *, token: str | None = None, timeout_s: float = TIMEOUT_S) -> None:
        self.port = port
        self.tally = tally
        self.token = token
        self.timeout_s = timeout_s
        self.cookies: dict[str, str] = {}
        self.csrf: str | None = None
        self._conn: http.client.HTTPConnection | None = None

    def headers(self, body: bytes | None) -> dict:
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.csrf:
            h["X-CSRF-Token"] = self.csrf
        if body is not None:
            h["Content-Type"] = "application/json"
        return h

    def _keep_cookies(self, resp: http.client.HTTPResponse) -> None:
        for header in resp.msg.get_all("Set-Cookie") or ():
            pair, _, attrs = header.partition(";")
            name, _, value = pair.strip().partition("=")
            gone = "max-age=0" in attrs.lower().replace(" ", "") or "expires=thu, 01 jan 1970" in attrs.lower()
            if gone or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def request(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        """(status, parsed JSON or None); status 0 when the request never got an answer."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in (1, 2):       # a kept-alive connection the server closed meanwhile: once more, fresh
            if self._conn is None:
                self._conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout_s)
            try:
                self._conn.request(method, API + path, body=data, headers=self.headers(data))
                resp = self._conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if attempt == 1 and method in ("GET", "HEAD"):
                    continue
                self.tally.error(type(exc).__name__, method, path)
                return 0, None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                self.tally.error("timeout" if isinstance(exc, TimeoutError) else type(exc).__name__, method, path)
                return 0, None
            self._keep_cookies(resp)
            if resp.will_close:
                self.close()
            self.tally.answer(resp.status, method, path.split("?")[0])
            try:
                return resp.status, json.loads(raw) if raw else None
            except ValueError:
                return resp.status, None
        return 0, None

    def sign_in(self, name: str, pin: str) -> bool:
        self.csrf = None
        status, body = self.request("POST", "/session", {"name": name, "pin": pin})
        if status == 200 and isinstance(body, dict):
            self.csrf = body.get("csrf_token")
            return True
        return False

    def state(self) -> dict:
        status, body = self.request("GET", "/state")
        return body if status == 200 and isinstance(body, dict) else {}

    def drop(self) -> None:
        """Vanish: the socket is shut mid-whatever, nothing is said (a phone that lost its Wi-Fi)."""
        conn, self._conn = self._conn, None
        cut(conn)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Stream:
    """A live page: GET /events read line by line until `until` (monotonic), then closed.
    The server sends a ping at least every 5 s, so a read never waits long past the deadline."""

    def __init__(self, phone: Client) -> None:
        self.phone = phone
        self.events = 0
        self.ended_by_server = False
        self._conn: http.client.HTTPConnection | None = None

    def run(self, until: float, stop: threading.Event) -> None:
        conn = http.client.HTTPConnection(HOST, self.phone.port, timeout=8.0)
        self._conn = conn
        tally = self.phone.tally
        try:
            headers = {**self.phone.headers(None), "Accept": "text/event-stream"}
            conn.request("GET", API + "/events", headers=headers)
            resp = conn.getresponse()
            tally.answer(resp.status, "GET", "/events")
            if resp.status != 200:
                resp.read()
                return
            tally.add("streams_opened")
            while time.monotonic() < until and not stop.is_set():
                line = resp.readline()
                if not line:
                    self.ended_by_server = True
                    break
                if line.startswith(b"event:"):
                    self.events += 1
        except TimeoutError:
            tally.error("stream_timeout", "GET", "/events")
        except (OSError, http.client.HTTPException, ValueError, AttributeError):
            # ValueError/AttributeError: the phone dropped the socket under the reader (a lost link)
            pass
        finally:
            tally.add("stream_events", self.events)
            conn.close()

    def drop(self) -> None:
        cut(self._conn)
