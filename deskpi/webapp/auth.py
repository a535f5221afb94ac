"""Who is asking: sign-in with name + PIN, lock-out after repeated failures, the session secret.

The web layer (deskpi.webapp.sessions) keeps a server-side session id in Flask's
signed session cookie; this module decides whether a name and PIN are right and
whether the caller may try again yet. Nothing here knows about HTTP.

Against a burst of sign-ins (memory) every try is counted before its PIN is hashed and
at most two hashes run at once (`KdfGate`); against a stranger locking a person out, the
phones that person signed in on before keep their own budget (device cookies, as OWASP
recommends against lock-out denial of service).
"""
from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from deskpi.people.passwords import hash_secret, verify_secret
from deskpi.util import checks
from deskpi.util.files import atomic_write

SECRET_FILE = "web_secret"
T = TypeVar("T")

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


def _verify(pin: object, encoded: str | None) -> bool:
    """Whether `pin` matches `encoded`; without a hash (no such user, or no PIN) it hashes anyway
    against a dummy, so the answer takes as long as for a real person and is False."""
    return verify_secret(pin, encoded or _dummy_hash()) and encoded is not None


class LockedOut(Exception):
    """A sign-in (or a PIN check) refused before any PIN was checked; try again after retry_after_s."""

    def __init__(self, retry_after_s: float, what: str, message: str | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message or f"too many wrong PINs for {what}: try again in {math.ceil(retry_after_s)} s")


class Busy(LockedOut):
    """Every PIN-check slot stayed taken for the whole wait."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(retry_after_s, "", f"the desk is busy checking other sign-ins: try again in "
                                            f"{math.ceil(retry_after_s)} s")


#: How long a try whose count is already full of tries under way is told to wait: those end within a second.
IN_FLIGHT_WAIT_S = 1.0


class KdfGate:
    """At most `slots` PIN hashes computed at once, on `slots` threads of its own. scrypt takes 16 MiB
    each time (deskpi.people.passwords), so sixty sign-ins at once would otherwise take ~1 GB on a
    Pi with 512 MB; and glibc keeps the freed 16 MiB in the arena of the thread that hashed, so
    hashing on every request thread would keep growing even two at a time. A caller waits up to
    `wait_s` for a slot, then is refused (Busy) before any hashing; beyond `max_waiting` callers
    waiting, at once, so sign-ins never hold more than slots + max_waiting of the web server's
    workers (Stop needs one)."""

    def __init__(self, *, slots: int = 2, wait_s: float = 0.5, max_waiting: int = 4,
                 retry_after_s: float = 1.0) -> None:
        self.slots, self.wait_s, self.max_waiting, self.retry_after_s = slots, wait_s, max_waiting, retry_after_s
        self._sem = threading.BoundedSemaphore(slots)
        self._waiting = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="pin-check")

    @property
    def waiting(self) -> int:
        """How many callers wait for a slot now."""
        with self._lock:
            return self._waiting

    def run(self, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) on one of the gate's threads, once a slot is free (Busy after wait_s)."""
        if not self._sem.acquire(blocking=False):
            with self._lock:
                queue_full = self._waiting >= self.max_waiting
                if not queue_full:
                    self._waiting += 1
            if queue_full:
                raise Busy(self.retry_after_s)
            try:
                got = self._sem.acquire(timeout=self.wait_s)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not got:
                raise Busy(self.retry_after_s)
        try:
            return self._pool.submit(fn, *args).result()
        finally:
            self._sem.release()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class RateLimiter:
    """Failures per key: the `limit`-th locks the key for `base_s`, each further one for twice as
    long, up to `max_s`. A success clears the key (when the caller says so); failures older than
    `forget_s` are forgotten. Bounded memory.

    A try is counted before its PIN is checked (`reserve`, then `finish`): tries under way count
    against what is left of the limit, so sixty at once cannot all get in before the first fails."""

    def __init__(self, *, limit: int = 5, base_s: float = 30.0, max_s: float = 900.0, forget_s: float = 3600.0,
                 max_keys: int = 10000, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.base_s, self.max_s, self.forget_s, self.max_keys = limit, base_s, max_s, forget_s, max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, tuple[deque, float]] = OrderedDict()   # key -> (failure times, locked until)
        self._pending: dict[str, int] = {}                                  # key -> tries under way

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

    def reserve(self, key: str) -> float:
        """Count a try under way: 0.0 if it may go ahead (then call `finish`), else how long to wait."""
        with self._lock:
            now = self.clock()
            entry = self._keys.get(key)
            recent = 0
            if entry is not None:
                if entry[1] > now:
                    return entry[1] - now
                recent = len(self._recent(entry[0], now))
            pending = self._pending.get(key, 0)
            # What is left before the lock; once past it (a lock that has run out), one try at a time.
            if pending >= max(1, self.limit - recent):
                return IN_FLIGHT_WAIT_S
            self._pending[key] = pending + 1
            return 0.0

    def finish(self, key: str, outcome: str) -> None:
        """End a reserved try: "failed", "succeeded" (clears the key) or "none" (no verdict, or not counted)."""
        with self._lock:
            left = self._pending.pop(key, 0) - 1
            if left > 0:
                self._pending[key] = left
            if outcome == "failed":
                self._failed(key)
            elif outcome == "succeeded":
                self._keys.pop(key, None)

    def failed(self, key: str) -> None:
        with self._lock:
            self._failed(key)

    def _failed(self, key: str) -> None:
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
    """Checks a name and PIN against the store, with lock-out per name and per address, and a way
    round the name's lock-out for the phones that person signed in on before (device cookies).

    Every try is counted before its PIN is hashed, and at most `kdf_slots` hashes run at once
    (`gate`, also for new PINs), so no burst of sign-ins can exhaust the Pi's memory."""

    #: Wrong PINs a remembered phone may send (between two right ones) before it is forgotten.
    DEVICE_TRIES = 5
    #: A phone not used for this long is no longer remembered.
    DEVICE_MAX_AGE_S = 365 * 86400.0

    def __init__(self, store, *, clock: Callable[[], float] = time.monotonic, kdf_slots: int = 2,
                 kdf_wait_s: float = 0.5) -> None:
        self.store = store
        self.per_name = RateLimiter(limit=5, clock=clock)
        # One device guessing many names. Never cleared by a success: signing in as yourself now
        # and then must not buy more guesses at other people's PINs.
        self.per_address = RateLimiter(limit=20, clock=clock)
        self.gate = KdfGate(slots=kdf_slots, wait_s=kdf_wait_s)

    def check(self, name: object, pin: object, address: str | None, device: str | None = None) -> object | None:
        """The user, or None for a wrong name or PIN. Raises LockedOut while a lock-out lasts (or the
        name's or address's count is full of tries under way), Busy when no PIN-check slot came free.

        `device`: the phone's device cookie. One that belongs to this name is counted on its own
        (DEVICE_TRIES wrong PINs, then forgotten) instead of against the name and the address, so a
        stranger who locks the name out does not lock its owner out."""
        # The store's own key of a name (NFKC, case-folded, spacing and invisible characters ignored):
        # "Bob ", "BOB" and a full-width "Ｂob" are one name, locked or not.
        name_key = f"name:{checks.name_key(name)}" if isinstance(name, str) else f"name:{name!r}"
        user = self.store.get_user(name) if isinstance(name, str) and 0 < len(name) <= 64 else None
        if device is not None and user is not None and user.pin_hash:
            verdict = self._check_device(device, user, pin)
            if verdict is not None:
                return user if verdict else None
        limits = ((self.per_name, name_key, f"the name {name!r}"), (self.per_address, f"addr:{address or '?'}",
                                                                   "this device"))
        for limiter, key, what in limits:          # a lock-out first, whatever else is under way
            wait = limiter.retry_after(key)
            if wait > 0:
                raise LockedOut(wait, what)
        reserved: list[tuple[RateLimiter, str]] = []
        outcome = "none"
        try:
            for limiter, key, what in limits:
                wait = limiter.reserve(key)
                if wait > 0:
                    raise LockedOut(wait, what, f"too many sign-ins under way for {what}: try again in "
                                                f"{math.ceil(wait)} s")
                reserved.append((limiter, key))
            ok = self.gate.run(_verify, pin, user.pin_hash if user is not None else None)
            outcome = "succeeded" if ok else "failed"
        finally:
            for limiter, key in reserved:
                # A success clears the name, never the address (see per_address).
                limiter.finish(key, "none" if outcome == "succeeded" and limiter is self.per_address else outcome)
        return user if outcome == "succeeded" else None

    def forgive(self, name: str) -> None:
        """Lift the lock-out of a name (an admin just gave that person a new PIN in person); the
        addresses' counts stay."""
        self.per_name.succeeded(f"name:{checks.name_key(name)}")

    def _check_device(self, device: str, user, pin: object) -> bool | None:
        """True/False for a PIN checked on this phone's own budget; None when the cookie does not
        count for this user (then the name's and the address's lock-outs apply)."""
        failures = self.store.device_failures(device, user.id, max_age_s=self.DEVICE_MAX_AGE_S)
        if failures is None or failures >= self.DEVICE_TRIES:
            return None
        if not self.store.device_try(device, user.id, limit=self.DEVICE_TRIES):   # counted before the check
            return None
        ok: bool | None = None
        try:
            ok = self.gate.run(_verify, pin, user.pin_hash)
        finally:
            self.store.device_done(device, ok=ok, limit=self.DEVICE_TRIES)
        return ok

    def remember_device(self, user, device: str | None) -> str | None:
        """After a good sign-in: a new device cookie for this phone, or None if it already has one of `user`."""
        if device is not None and self.store.device_failures(device, user.id,
                                                             max_age_s=self.DEVICE_MAX_AGE_S) is not None:
            return None
        return self.store.create_device(user.name)


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
