"""The daemon's control socket as its clients see it: where it is and how to talk to it.

`deskpi status`, `move`, `calibrate` and `doctor` import this module and nothing
of the motion stack, so a status query starts in a fraction of the daemon's
import time. The server side is deskpi.daemon.control_server; the protocol
(one JSON request per line, one JSON reply per line) is described there.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, BinaryIO

from deskpi import exit_codes

SOCKET_NAME = "control.sock"


def socket_path(data_dir: str | os.PathLike[str]) -> Path:
    return Path(data_dir) / SOCKET_NAME


def connectable(path: Path) -> tuple[str, int | None]:
    """An address for `path` that fits AF_UNIX's 108-byte limit, and a directory fd to close afterwards.

    Deep data dirs (and pytest's tmp_path) can be longer than that; the
    /proc/self/fd/N/ form names the same file through an open directory.
    """
    raw = os.fsencode(path)
    if len(raw) < 100:
        return str(path), None
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{path.name}", fd


def encode(message: dict) -> bytes:
    try:
        return (json.dumps(message, allow_nan=False) + "\n").encode()
    except (TypeError, ValueError) as exc:      # a NaN or an odd type must never kill the connection
        # logging only here: the CLI imports this module, and `deskpi status` needs no more than socket and json.
        import logging

        logging.getLogger(__name__).error("unencodable control message %r: %s", message, exc)
        return b'{"ok": false, "error": "internal error: the reply could not be encoded", "code": 1}\n'


class ControlError(Exception):
    """A failed request; `code` is the exit code the CLI should end with."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ControlClient:
    """One connection to the daemon; `request()` sends a line and returns the reply (raising ControlError)."""

    def __init__(self, data_dir: str | os.PathLike[str], *, timeout_s: float = 10.0) -> None:
        self.path = socket_path(data_dir)
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._file: BinaryIO | None = None

    def connect(self) -> ControlClient:
        where = f"{self.path}"
        if not self.path.parent.exists():
            raise ControlError(f"data dir {self.path.parent} does not exist, so no daemon uses it; check --data-dir "
                               f"(or [daemon] data_dir in the config)", exit_codes.DAEMON_NOT_RUNNING)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(self.timeout_s)
        dir_fd = None
        try:
            addr, dir_fd = connectable(self.path)
            sock.connect(addr)
        except PermissionError:
            sock.close()
            raise ControlError(f"permission denied on {where}: run as root or as a member of the deskpi group "
                               f"(sudo usermod -aG deskpi $USER, then log in again)", exit_codes.PERMISSION) from None
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            stale = " (the socket file there is left over from a daemon that stopped)" \
                if isinstance(exc, ConnectionRefusedError) else ""
            raise ControlError(f"the deskpi daemon is not running: nothing answers on {where}{stale}; start it "
                               f"(sudo systemctl start deskpi), see why it stopped (deskpi logs), or check "
                               f"--data-dir", exit_codes.DAEMON_NOT_RUNNING) from None
        except OSError as exc:
            sock.close()
            raise ControlError(f"cannot connect to {where}: {exc.strerror or exc}", exit_codes.FAILURE) from None
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        self._sock = sock
        self._file = sock.makefile("rb")
        return self

    def request(self, cmd: str, *, wait_s: float | None = None, **fields: Any) -> dict:
        """Send one request; wait at most `wait_s` (default: the client's timeout) for its reply."""
        if self._sock is None or self._file is None:
            self.connect()
        sock, file = self._sock, self._file
        assert sock is not None and file is not None       # connect() either sets both or raises
        sock.settimeout(wait_s or self.timeout_s)
        try:
            sock.sendall(encode({"cmd": cmd, **fields}))
            line = file.readline(4 * 1024 * 1024)
        except TimeoutError:
            raise ControlError(f"the daemon did not answer {cmd!r} within {wait_s or self.timeout_s:g} s",
                               exit_codes.TIMEOUT) from None
        except OSError as exc:
            raise ControlError(f"lost the connection to the daemon during {cmd!r}: {exc.strerror or exc}",
                               exit_codes.FAILURE) from None
        if not line:
            raise ControlError(f"the daemon closed the connection during {cmd!r} (is it shutting down?)",
                               exit_codes.FAILURE)
        try:
            reply = json.loads(line)
        except ValueError:
            raise ControlError(f"the daemon's reply to {cmd!r} is not JSON: {line[:120]!r}",
                               exit_codes.FAILURE) from None
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            err = reply.get("error", "no reason given") if isinstance(reply, dict) else repr(reply)
            code = reply.get("code") if isinstance(reply, dict) else None
            raise ControlError(str(err), code if isinstance(code, int) and code in exit_codes.MEANING
                               else exit_codes.FAILURE)
        return reply

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
