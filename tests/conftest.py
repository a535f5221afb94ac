"""Fixtures shared by the tests that talk to real processes and sockets."""
from __future__ import annotations

import socket
import threading

import pytest


@pytest.fixture
def notify_socket(tmp_path):
    """A real sd_notify socket: yields (path, messages received so far)."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.2)
    messages: list[str] = []
    stop = threading.Event()

    def pump():
        while not stop.is_set():
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass
            except OSError:
                return

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    yield path, messages
    stop.set()
    t.join(2)
    sock.close()
