"""Who is asking: sign-in with name + PIN, lock-out after repeated failures, the session secret.

The web layer (deskpi.webapp) keeps the signed-in name in Flask's signed
session cookie; this module decides whether a name and PIN are right and
whether the caller may try again yet. Nothing here knows about HTTP.
"""
from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from deskpi.passwords import hash_secret, verify_secret

SECRET_FILE = "web_secret"

#: A hash of a random secret: verifying against it costs the same as a real user's PIN, so the
#: response time does not tell an attacker whether a name exists.
_DUMMY_HASH: str | None = None
_dummy_lock = threading.Lock()


def _dummy_hash() -> str:
    global _DUMMY_HASH
    with _dummy_lock:
        if _DUMMY_HASH is None:
            _DUMMY_HASH = hash_secret(secrets.token_hex(8))
        return _DUMMY_HASH


class LockedOut(Exception):
    def __init__(self, retry_after_s: float, what: str) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(f"too many wrong PINs for {what}: try again in {math.ceil(retry_after_s)} s")


class RateLimiter:
    """Consecutive failures per key; after `free` of them each further one locks the key for
    `base_s`, doubling up to `max_s`. A success clears the key. Bounded memory."""

    def __init__(self, *, free: int = 5, base_s: float = 30.0, max_s: float = 900.0, max_keys: int = 10000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.base_s, self.max_s, self.max_keys = free, base_s, max_s, max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, tuple[int, float]] = OrderedDict()   # key -> (failures, locked until)

    def retry_after(self, key: str) -> float:
        with self._lock:
            entry = self._keys.get(key)
            return 0.0 if entry is None else max(0.0, entry[1] - self.clock())

    def failed(self, key: str) -> None:
        with self._lock:
            failures, _ = self._keys.pop(key, (0, 0.0))
            failures += 1
            over = failures - self.free
            until = self.clock() + min(self.max_s, self.base_s * 2 ** (over - 1)) if over > 0 else 0.0
            self._keys[key] = (failures, until)
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


class SignIn:
    """Checks a name and PIN against the store, with lock-out per name and per address."""

    def __init__(self, store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.per_name = RateLimiter(free=5, clock=clock)
        self.per_address = RateLimiter(free=20, clock=clock)    # one phone guessing many names

    def check(self, name: object, pin: object, address: str | None) -> object | None:
        """The user, or None for a wrong name or PIN. Raises LockedOut while a lock-out lasts."""
        name_key = f"name:{name.casefold() if isinstance(name, str) else name!r}"
        addr_key = f"addr:{address or '?'}"
        for key, what in ((name_key, f"the name {name!r}"), (addr_key, "this device")):
            wait = (self.per_name if key is name_key else self.per_address).retry_after(key)
            if wait > 0:
                raise LockedOut(wait, what)
        user = self.store.get_user(name) if isinstance(name, str) and 0 < len(name) <= 64 else None
        encoded = user.pin_hash if user is not None and user.pin_hash else _dummy_hash()
        ok = verify_secret(pin, encoded) and user is not None and bool(user.pin_hash)
        if ok:
            self.per_name.succeeded(name_key)
            self.per_address.succeeded(addr_key)
            return user
        self.per_name.failed(name_key)
        self.per_address.failed(addr_key)
        return None


def session_secret(data_dir: Path | None) -> bytes:
    """The key that signs session cookies: kept in the data directory (mode 0600) so sign-ins
    survive a restart; random per process when there is nowhere to keep it."""
    if data_dir is None:
        return secrets.token_bytes(32)
    path = Path(data_dir) / SECRET_FILE
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    data = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return data
