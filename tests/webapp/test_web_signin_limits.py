"""Issue 11: sign-in when someone attacks it, checked from outside where it can be.

- Memory: at most two PIN checks (scrypt, 16 MiB each) run at once; the others wait briefly and
  are refused with 429 before any hashing; every try is counted (per name, per address) before
  its PIN is hashed, so a burst cannot get more tries in than the lock-out allows. An unknown
  name is hashed all the same (no probing of names by time).
- `current_pin` on a PIN change counts towards the same lock-out as signing in.
- Device cookies (OWASP, against lock-out denial of service): a phone that signed in as a person
  keeps trying that person's PIN while strangers have the name (or the shared address) locked,
  on its own budget of five wrong PINs, after which the cookie is forgotten.
- A PIN change ends the person's API tokens too, and a person has at most 20 tokens.

Threads here synchronise on Events with timeouts; the gate's own wait is made short instead.
"""
from __future__ import annotations

import hashlib
import threading

import pytest
from helpers import wait_until
from web_fakes import FakeService, with_store

from deskpi.people.passwords import hash_secret
from deskpi.store import TOKENS_PER_USER
from deskpi.webapp import auth
from deskpi.webapp.auth import Busy, KdfGate, LockedOut, SignIn

API = "/api/v1"
PIN = "4711"
NEW_PIN = "13571357"
DEVICE = "deskpi_device"


@pytest.fixture(scope="module")
def pin_hash() -> str:
    return hash_secret(PIN)


@pytest.fixture
def service(tmp_path, pin_hash):
    s = with_store(FakeService(), tmp_path / "deskpi.db")
    s.store.add_user("Ada", role="admin", pin_hash=pin_hash)
    s.store.add_user("Bob", pin_hash=pin_hash)
    yield s
    s.store.close()


@pytest.fixture
def store(service):
    return service.store


def client(app, addr: str = "10.0.0.1"):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = addr
    return c


def sign_in(c, name: str, pin: str = PIN):
    resp = c.post(f"{API}/session", json={"name": name, "pin": pin})
    if resp.status_code == 200:
        c.environ_base["HTTP_X_CSRF_TOKEN"] = resp.get_json()["csrf_token"]
    return resp


def device_of(c) -> str | None:
    cookie = c.get_cookie(DEVICE, path=f"{API}/")
    return None if cookie is None else cookie.value


def lock_the_name(app, name: str, addr: str = "10.66.0.1") -> None:
    """A stranger's wrong PINs until the name is locked (the fifth one locks it)."""
    attacker = client(app, addr)
    statuses = [sign_in(attacker, name, "0000").status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429], statuses


# ============================================================================================
# Memory: a bounded number of PIN checks, counted before they run
# ============================================================================================
class SlowVerify:
    """Stands in for verify_secret: blocks until released, counting how many run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = self.most = self.calls = 0
        self.release = threading.Event()
        self.reached: dict[int, threading.Event] = {}

    def wait_for(self, n: int) -> None:
        with self.lock:
            event = self.reached.setdefault(n, threading.Event())
            if self.inside >= n:
                event.set()
        assert event.wait(10), f"{n} PIN checks never ran at once (most: {self.most})"

    def __call__(self, pin, encoded) -> bool:
        with self.lock:
            self.inside += 1
            self.calls += 1
            self.most = max(self.most, self.inside)
            for n, event in self.reached.items():
                if self.inside >= n:
                    event.set()
        try:
            self.release.wait(10)
        finally:
            with self.lock:
                self.inside -= 1
        return False


def _attempts(signin: SignIn, tries: list[tuple[str, str]]) -> tuple[list[threading.Thread], list[object]]:
    results: list[object] = []

    def attempt(name: str, addr: str) -> None:
        try:
            results.append(signin.check(name, "0000", addr))
        except Busy:
            results.append("busy")
        except LockedOut:
            results.append("locked")

    threads = [threading.Thread(target=attempt, args=t, daemon=True) for t in tries]
    for t in threads:
        t.start()
    return threads, results


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(10)
        assert not t.is_alive(), "a sign-in never answered"


def test_at_most_two_pin_checks_run_at_once_and_the_rest_get_429_before_hashing(store, monkeypatch):
    slow = SlowVerify()
    monkeypatch.setattr(auth, "verify_secret", slow)
    auth._dummy_hash()                                    # made once per process, with the real scrypt
    signin = SignIn(store, kdf_wait_s=0.05)
    try:
        first, first_results = _attempts(signin, [(f"nobody{i}", f"10.1.0.{i}") for i in range(2)])
        slow.wait_for(2)
        rest, rest_results = _attempts(signin, [(f"nobody{i}", f"10.1.1.{i}") for i in range(8)])
        _join(rest)                                       # each waited 0.05 s for a slot, then gave up
        assert rest_results == ["busy"] * 8 and slow.calls == 2
        slow.release.set()
        _join(first)
        assert first_results == [None, None] and slow.most == 2
    finally:
        slow.release.set()
        signin.gate.close()


def test_beyond_a_few_waiting_a_pin_check_is_refused_at_once():
    """Sign-ins never hold many of the web server's workers: past max_waiting, no wait at all."""
    gate = KdfGate(slots=1, wait_s=30, max_waiting=1)
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        entered.set()
        release.wait(10)

    holder = threading.Thread(target=gate.run, args=(hold,), daemon=True)
    waiter = threading.Thread(target=gate.run, args=(lambda: None,), daemon=True)
    try:
        holder.start()
        assert entered.wait(10)
        waiter.start()
        wait_until(lambda: gate.waiting == 1, what="the second caller to wait for the slot")
        with pytest.raises(Busy):
            gate.run(lambda: None)
        assert waiter.is_alive() and gate.waiting == 1, "refused at once, while the waiter still waits (30 s)"
    finally:
        release.set()
        holder.join(10)
        waiter.join(10)
        gate.close()


def test_a_busy_desk_answers_429_with_retry_after(app, store, monkeypatch):
    slow = SlowVerify()
    monkeypatch.setattr(auth, "verify_secret", slow)
    ctx = app.extensions["deskpi.web"]
    ctx.signin.gate.close()
    ctx.signin = signin = SignIn(store, kdf_wait_s=0.05)
    held, _ = _attempts(signin, [("Ada", "10.2.0.1"), ("Bob", "10.2.0.2")])
    try:
        slow.wait_for(2)
        resp = client(app, "10.2.0.3").post(f"{API}/session", json={"name": "Ada", "pin": PIN})
        assert resp.status_code == 429 and resp.headers["Retry-After"] == "1", resp.get_json()
        assert "busy" in resp.get_json()["error"] and resp.get_json()["retry_after_s"] == 1
        # A new PIN is hashed through the same gate.
        admin = client(app, "10.2.0.4")
        admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {store.create_token('Ada')[1]}"
        resp = admin.patch(f"{API}/users/Bob", json={"pin": NEW_PIN})
        assert resp.status_code == 429 and "busy" in resp.get_json()["error"]
        assert store.get_user("Bob").pin_hash == store.get_user("Ada").pin_hash, "the PIN is unchanged"
    finally:
        slow.release.set()
        _join(held)


def test_tries_for_one_name_are_counted_before_the_pin_is_hashed(store, monkeypatch):
    slow = SlowVerify()
    monkeypatch.setattr(auth, "verify_secret", slow)
    signin = SignIn(store, kdf_slots=20, kdf_wait_s=5)
    try:
        inside, inside_results = _attempts(signin, [("Bob", f"10.3.0.{i}") for i in range(5)])
        slow.wait_for(5)
        refused, refused_results = _attempts(signin, [("bob ", f"10.3.1.{i}") for i in range(7)])
        _join(refused)
        assert refused_results == ["locked"] * 7 and slow.calls == 5, "five tries under way fill the name's count"
        slow.release.set()
        _join(inside)
        assert inside_results == [None] * 5
        with pytest.raises(LockedOut) as exc:
            signin.check("Bob", PIN, "10.3.2.1")
        assert exc.value.retry_after_s == pytest.approx(30, abs=1)
    finally:
        slow.release.set()
        signin.gate.close()


def test_tries_from_one_address_are_counted_before_the_pin_is_hashed(store, monkeypatch):
    slow = SlowVerify()
    monkeypatch.setattr(auth, "verify_secret", slow)
    signin = SignIn(store, kdf_slots=30, kdf_wait_s=5)
    try:
        inside, _ = _attempts(signin, [(f"guess{i}", "10.4.0.1") for i in range(20)])
        slow.wait_for(20)
        refused, refused_results = _attempts(signin, [(f"more{i}", "10.4.0.1") for i in range(5)])
        _join(refused)
        assert refused_results == ["locked"] * 5 and slow.calls == 20
        slow.release.set()
        _join(inside)
        with pytest.raises(LockedOut, match="this device"):
            signin.check("Bob", PIN, "10.4.0.1")
    finally:
        slow.release.set()
        signin.gate.close()


def test_an_unknown_name_is_hashed_like_a_known_one(store, monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(auth, "verify_secret", lambda pin, encoded: seen.append(encoded) or False)
    signin = SignIn(store)
    try:
        for name in ("Bob", "Nobody", ""):
            assert signin.check(name, "0000", "10.5.0.1") is None
        assert len(seen) == 3 and all(e.startswith("scrypt$16384$8$1$") for e in seen), seen
    finally:
        signin.gate.close()


# ============================================================================================
# current_pin counts towards the same lock-out
# ============================================================================================
def test_25_fast_wrong_current_pins_end_in_429(app, store):
    bob = client(app, "10.6.0.1")
    assert sign_in(bob, "Bob").status_code == 200
    statuses = []
    for _ in range(25):
        resp = bob.patch(f"{API}/users/Bob", json={"pin": NEW_PIN, "current_pin": "0000"})
        statuses.append(resp.status_code)
    assert statuses == [403] * 5 + [429] * 20, statuses
    assert resp.headers["Retry-After"] == "30" and "try again in" in resp.get_json()["error"]
    assert store.get_user("Bob").pin_hash == store.get_user("Ada").pin_hash, "the PIN is unchanged"
    # The same lock-out as signing in: the name is locked for everyone, the right PIN included.
    assert sign_in(client(app, "10.6.0.2"), "Bob").status_code == 429
    resp = bob.patch(f"{API}/users/Bob", json={"pin": NEW_PIN, "current_pin": PIN})
    assert resp.status_code == 429


def test_wrong_current_pins_through_a_token_count_too(app, store):
    _id, token = store.create_token("Bob", "script")
    script = client(app, "10.6.1.1")
    script.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    statuses = [script.patch(f"{API}/users/Bob", json={"pin": NEW_PIN, "current_pin": f"000{i}"}).status_code
                for i in range(7)]
    assert statuses == [403] * 5 + [429] * 2, statuses


def test_a_missing_current_pin_is_refused_without_counting(app):
    bob = client(app, "10.6.2.1")
    assert sign_in(bob, "Bob").status_code == 200
    for _ in range(8):
        assert bob.patch(f"{API}/users/Bob", json={"pin": NEW_PIN}).status_code == 403
    assert bob.patch(f"{API}/users/Bob", json={"pin": NEW_PIN, "current_pin": PIN}).status_code == 200


# ============================================================================================
# Device cookies: the owner's phone against a lock-out by someone else
# ============================================================================================
def _cookie_flags(resp, name: str) -> list[str]:
    found = [v for k, v in resp.headers.items() if k.lower() == "set-cookie" and v.startswith(f"{name}=")]
    assert len(found) == 1, resp.headers
    return [f.strip().lower() for f in found[0].split(";")]


def test_signing_in_gives_the_phone_a_long_lived_httponly_device_cookie_stored_hashed(app, store):
    phone = client(app)
    resp = sign_in(phone, "Bob")
    assert resp.status_code == 200
    flags = _cookie_flags(resp, DEVICE)
    assert {"httponly", "samesite=lax", f"path={API}/"} <= set(flags) and "secure" not in flags, flags
    max_age = next(int(f.split("=")[1]) for f in flags if f.startswith("max-age="))
    assert max_age >= 180 * 86400
    cookie = device_of(phone)
    stored = [r[0] for r in store.db.execute("SELECT hash FROM web_devices").fetchall()]
    assert stored == [hashlib.sha256(cookie.encode()).hexdigest()], "only a hash of the cookie is kept"
    # Signing in again on the same phone keeps its cookie (no new one).
    assert DEVICE not in sign_in(phone, "Bob").headers.get("Set-Cookie", "")
    resp = client(app).post(f"{API}/session", json={"name": "Bob", "pin": PIN}, base_url="https://localhost")
    assert resp.status_code == 200 and "secure" in _cookie_flags(resp, DEVICE)


def test_the_owners_phone_still_signs_in_while_an_attacker_has_the_name_locked(app):
    phone = client(app, "10.7.0.1")
    assert sign_in(phone, "Bob").status_code == 200
    assert phone.delete(f"{API}/session").status_code == 200         # signed out; the phone is remembered
    lock_the_name(app, "Bob")
    assert sign_in(client(app, "10.7.0.2"), "Bob").status_code == 429, "a phone without the cookie is locked out"
    assert sign_in(phone, "Bob").status_code == 200, "the owner's phone, with the right PIN"
    assert phone.get(f"{API}/session").get_json()["user"]["name"] == "Bob"
    attacker = client(app, "10.66.0.1")
    assert sign_in(attacker, "Bob", "0000").status_code == 429
    assert sign_in(attacker, "Bob").status_code == 429, "the attacker is still locked out, right PIN or not"


def test_the_owners_phone_gets_in_behind_a_proxy_whose_address_is_locked(app):
    phone = client(app, "10.8.0.1")
    assert sign_in(phone, "Bob").status_code == 200
    shared = "10.8.0.99"                                    # everyone behind one proxy
    stranger = client(app, shared)
    for i in range(20):
        assert sign_in(stranger, f"guess{i}", "0000").status_code == 401
    assert sign_in(stranger, "Bob").status_code == 429
    phone.environ_base["REMOTE_ADDR"] = shared
    assert sign_in(phone, "Bob").status_code == 200


def test_a_device_cookie_buys_no_extra_current_pin_tries(app, store):
    phone = client(app, "10.9.0.1")
    assert sign_in(phone, "Bob").status_code == 200 and device_of(phone)
    statuses = [phone.patch(f"{API}/users/Bob", json={"pin": NEW_PIN, "current_pin": "0000"}).status_code
                for _ in range(7)]
    assert statuses == [403] * 5 + [429] * 2, statuses


def test_a_stolen_device_cookie_gets_five_guesses_and_is_then_forgotten(app, store):
    phone = client(app, "10.10.0.1")
    assert sign_in(phone, "Bob").status_code == 200
    lock_the_name(app, "Bob")
    thief = client(app, "10.10.0.2")
    thief.set_cookie(DEVICE, device_of(phone), path=f"{API}/")
    statuses = [sign_in(thief, "Bob", f"000{i}").status_code for i in range(5)]
    assert statuses == [401] * 5
    assert store.db.execute("SELECT COUNT(*) FROM web_devices").fetchone()[0] == 0, "the cookie is forgotten"
    assert sign_in(thief, "Bob").status_code == 429, "then the name's lock-out applies, right PIN or not"
    assert sign_in(phone, "Bob").status_code == 429, "for the phone it was taken from too"


def test_a_right_pin_on_the_phone_renews_its_budget(app):
    phone = client(app, "10.11.0.1")
    assert sign_in(phone, "Bob").status_code == 200
    lock_the_name(app, "Bob")
    for _round in range(2):
        assert [sign_in(phone, "Bob", "0000").status_code for _ in range(4)] == [401] * 4
        assert sign_in(phone, "Bob").status_code == 200


def test_a_device_cookie_counts_only_for_its_own_person(app):
    phone = client(app, "10.12.0.1")
    assert sign_in(phone, "Ada").status_code == 200
    lock_the_name(app, "Bob")
    assert sign_in(phone, "Bob").status_code == 429
    junk = client(app, "10.12.0.2")
    junk.set_cookie(DEVICE, "dpd_" + "x" * 43, path=f"{API}/")
    assert sign_in(junk, "Bob").status_code == 429


# ============================================================================================
# API tokens: ended by a PIN change, at most 20 per person
# ============================================================================================
def _token_works(app, token: str) -> bool:
    return client(app).get(f"{API}/session", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize("who", ["admin", "self-by-session", "self-by-token"])
def test_a_pin_change_on_the_web_ends_the_persons_api_tokens(app, store, who):
    tokens = [store.create_token("Bob", f"script{i}")[1] for i in range(2)]
    other = store.create_token("Ada", "ada's")[1]
    assert all(_token_works(app, t) for t in tokens)
    if who == "admin":
        c = client(app)
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {other}"
        resp = c.patch(f"{API}/users/Bob", json={"pin": NEW_PIN})
    elif who == "self-by-session":
        c = client(app)
        assert sign_in(c, "Bob").status_code == 200
        resp = c.patch(f"{API}/users/Bob", json={"pin": NEW_PIN, "current_pin": PIN})
        assert c.get(f"{API}/session").get_json()["user"]["name"] == "Bob", "this phone stays signed in"
    else:
        c = client(app)
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens[0]}"
        resp = c.patch(f"{API}/users/Bob", json={"pin": NEW_PIN, "current_pin": PIN})
    assert resp.status_code == 200, resp.get_json()
    assert any("2 API tokens" in n and "revoked" in n for n in resp.get_json()["notes"]), resp.get_json()
    assert not any(_token_works(app, t) for t in tokens)
    assert store.list_tokens("Bob") == []
    assert _token_works(app, other), "other people's tokens are kept"


def test_the_21st_token_is_refused_with_409_naming_the_cap_and_how_to_revoke(app, store):
    c = client(app)
    assert sign_in(c, "Bob").status_code == 200
    for i in range(TOKENS_PER_USER):
        assert c.post(f"{API}/tokens", json={"label": f"t{i}"}).status_code == 201
    resp = c.post(f"{API}/tokens", json={"label": "one too many"})
    assert resp.status_code == 409, resp.get_json()
    error = resp.get_json()["error"]
    assert "20" in error and "deskpi token list Bob" in error and "deskpi token revoke" in error, error
    assert len(store.list_tokens("Bob")) == TOKENS_PER_USER
    first = c.get(f"{API}/tokens").get_json()["tokens"][0]["id"]
    assert c.delete(f"{API}/tokens/{first}").status_code == 200
    assert c.post(f"{API}/tokens", json={}).status_code == 201


def test_the_openapi_document_declares_the_new_refusals(app):
    paths = client(app).get("/openapi.json").get_json()["paths"]
    assert "409" in paths[f"{API}/tokens"]["post"]["responses"]
    assert "429" in paths[f"{API}/users/{{name}}"]["patch"]["responses"]
    for path, method in (("/session", "post"), ("/register", "post"), ("/users", "post")):
        assert "429" in paths[f"{API}{path}"][method]["responses"], (path, method)


def test_the_profile_page_says_a_pin_change_ends_tokens(app):
    c = client(app)
    assert sign_in(c, "Bob").status_code == 200
    page = c.get("/profile").get_data(as_text=True)
    assert 'data-testid="profile-pin-note"' in page and "API tokens" in page and "every other phone" in page

