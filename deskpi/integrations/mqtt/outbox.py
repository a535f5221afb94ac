"""The hand-over between the desk and the MQTT publisher: bounded, newest wins, never blocks.

`put` is called from the control loop: it takes a lock held only for a dict update and
returns. A message waiting for a topic is replaced by a newer one for the same topic (a
height nobody has seen yet is worth nothing once a newer one exists), and the oldest
topic is dropped when too many wait, so a broker that is down or stalled costs a few
kilobytes, never a queue that grows or a caller that waits.

Retained messages are also remembered (the newest per topic), so after a reconnect
the publisher can send the broker the whole current picture again.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

MAX_WAITING = 256


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: str
    retain: bool = False
    qos: int = 0


class Outbox:
    def __init__(self, max_waiting: int = MAX_WAITING) -> None:
        self.max_waiting = max_waiting
        self._lock = threading.Lock()
        self._waiting: dict[str, Message] = {}
        self._retained: dict[str, Message] = {}
        self._ready = threading.Event()
        self.dropped = 0            # messages replaced or dropped before they were sent

    def put(self, topic: str, payload: str, *, retain: bool = False, qos: int = 0) -> None:
        msg = Message(topic, payload, retain, qos)
        with self._lock:
            if self._waiting.pop(topic, None) is not None:
                self.dropped += 1
            elif len(self._waiting) >= self.max_waiting:
                del self._waiting[next(iter(self._waiting))]
                self.dropped += 1
            self._waiting[topic] = msg
            if retain:
                self._retained[topic] = msg
        self._ready.set()

    def requeue_retained(self) -> None:
        """Queue every retained message again (after a reconnect) unless a newer one already waits."""
        with self._lock:
            for topic, msg in self._retained.items():
                self._waiting.setdefault(topic, msg)
        self._ready.set()

    def wait(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def take(self) -> list[Message]:
        """Everything waiting, oldest first."""
        with self._lock:
            out = list(self._waiting.values())
            self._waiting.clear()
            self._ready.clear()
        return out

    def retained(self, topic: str) -> Message | None:
        with self._lock:
            return self._retained.get(topic)

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)
