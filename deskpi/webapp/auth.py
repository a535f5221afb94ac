"""Who is asking: sign-in with name + PIN, lock-out after repeated failures, the session secret.

The web layer (deskpi.webapp.sessions) keeps a server-side session id in Flask's
signed session cookie; this module decides whether a name and PIN are right and
whether the caller may try again yet. Nothing here knows about HTTP.
"""
from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

from deskpi.people.passwords import hash_secret, verify_secret
from deskpi.util import checks
from deskpi.util.files import atomic_write

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
    """Failures per key: the `limit`-th locks the key for `base_s`, each further one for twice as
    long, up to `max_s`. A success clears the key (when the caller says so); failures older than
    `forget_s` are forgotten. Bounded memory."""

    def __init__(self, *, limit: int = 5, base_s: float = 30.0, max_s: float = 900.0, forget_s: float = 3600.0,
                 max_keys: int = 10000, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.base_s, self.max_s, self.forget_s, self.max_keys = limit, base_s, max_s, forget_s, max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, tuple[deque, float]] = OrderedDict()   # key -> (failure times, locked until)

    def retry_after(self, key: str) -> float:
        with self._lock:
            entry = self._keys.get(key)
            return 0.0 if entry is None else max(0.0, entry[1] - self.clock())

    def _recent(self, times: deque, now: float) -> deque:
        while times and now - times[0] > self.forget_s:     # each failure is forgotten on its own
            times.popleft()
        return times

    def failures(self, key: str) -> int:
        with self._lock:
            entry = self._keys.get(key)
            return 0 if entry is None else len(self._recent(entry[0], self.clock()))

    def failed(self, key: str) -> None:
        with self._lock:
            now = self.clock()
            times, _until = self._keys.pop(key, (deque(maxlen=self.limit + 32), 0.0))
            self._recent(times, now).append(now)
            over = len(times) - self.limit          # 0 on the limit-th failure: locked from then on
            until = now + min(self.max_s, self.base_s * 2 ** over) if over >= 0 else 0.0
            self._keys[key] = (times, until)
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)


class SignIn:
    """Checks a name and PIN against the store, with lock-out per name and per address."""

    def __init__(self, store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.per_name = RateLimiter(limit=5, clock=clock)
        # One device guessing many names. Never cleared by a success: signing in as yourself now
        # and then must not buy more guesses at other people's PINs.
        self.per_address = RateLimiter(limit=20, clock=clock)

    def check(self, name: object, pin: object, address: str | None) -> object | None:
        """The user, or None for a wrong name or PIN. Raises LockedOut while a lock-out lasts."""
        # The store's own key of a name (NFKC, case-folded, spacing and invisible characters ignored):
        # "Bob ", "BOB" and a full-width "Ｂob" are one name, locked or not.
        name_key = f"name:{checks.name_key(name)}" if isinstance(name, str) else f"name:{name!r}"
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
    atomic_write(path, data, mode=0o600)
    return data
