"""Small helpers shared by the tests that run real threads."""
from __future__ import annotations

import contextlib
import posixpath
import re
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition",
               poll_s: float = 0.002) -> None:
    """Poll until predicate() is true. The timeout only guards against hangs: no test
    relies on it for timing, so a slow machine makes a test slower, never wrong."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll_s)


class ManualClock:
    """A monotonic clock that only moves when the test moves it (thread-safe)."""

    def __init__(self, t: float = 1000.0) -> None:
        import threading
        self.t = t
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def advance(self, dt: float) -> None:
        with self._lock:
            self.t += dt


def running_sim_daemon(data_dir, *, seed: int = 1, settings=None, w1_root=None):
    """A started `deskpi sim` daemon (no web server) that has seen the sensor; shut down on exit."""
    from contextlib import contextmanager

    from deskpi.config import defaults
    from deskpi.daemon.root import Daemon

    @contextmanager
    def run():
        d = Daemon(settings or defaults(), sim=True, data_dir=data_dir, seed=seed)
        d.w1_root = w1_root          # a fake 1-wire tree (deskpi/sim/air.py, write_w1) for a w1 thermometer
        d.start()
        try:
            wait_until(lambda: d.ready_at is not None, what="the simulated daemon to be ready")
            yield d
        finally:
            d.shutdown()

    return run()


def signed_in(app, *, name: str = "ada", pin: str = "4711", admin: bool = True, claim: bool = True):
    """A test client signed in as `name` (added first if needed), sending the CSRF token on every
    change, and holding the desk's claim unless claim=False (as if they pressed a desk button)."""
    from deskpi.people.accounts import add_user
    from deskpi.people.passwords import hash_secret

    service = app.extensions["deskpi"]
    store = service.store
    if store.get_user(name) is None:
        add_user(store, name, limits=tuple(service.limits), admin=admin, pin_hash=hash_secret(pin))
    client = app.test_client()
    resp = client.post("/api/v1/session", json={"name": name, "pin": pin})
    assert resp.status_code == 200, resp.get_json()
    client.environ_base["HTTP_X_CSRF_TOKEN"] = resp.get_json()["csrf_token"]
    if claim:
        grant_claim(app.extensions["deskpi.web"].claims, name)
    return client


def grant_claim(claims, name: str) -> None:
    """Give `name` the desk's claim as the desk would: whoever holds it releases it, `name` asks and
    the preset their request drew is pressed."""
    holder = claims.holder()
    if holder is not None:
        claims.release(holder)
    claims.request(name)
    assert claims.button_pressed(claims.slot_for(name)) == name


def desk_at_rest(d) -> bool:
    """A running sim daemon's desk: no move under way and the simulated desk itself still."""
    return not d.parts.controller.busy and d.parts.sim_desk.at_rest()


def calm(d) -> None:
    """Wait for a sim daemon's desk to be at rest with fresh readings, clearing a latched fault first:
    a test that moves the desk step by step starts each step from a known, quiet desk."""
    import time

    wait_until(lambda: not d.parts.controller.busy, 30, "the desk to finish")
    if d.parts.controller.fault is not None:
        d.parts.loop.clear_fault()
    wait_until(lambda: desk_at_rest(d) and d.parts.controller.estimator.is_fresh(time.monotonic()), 30,
               "the desk at rest with fresh readings")


@contextlib.contextmanager
def running_sim(data_dir, log_path, *, seed: int = 1, env: dict | None = None, extra: tuple[str, ...] = ()):
    """A real `deskpi sim` on `data_dir` for a `with` block: yields its base URL; its log goes to
    `log_path` (a file, never a pipe nobody reads); it is stopped (killed if it must be) at the end.
    `extra`: more `deskpi sim` arguments (--metrics, --config PATH)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ if env is None else env, PYTHONPATH=str(root))
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "deskpi.cli", "sim", "--host", "127.0.0.1", "--port", "0",
                                 "--data-dir", str(data_dir), "--seed", str(seed), *extra],
                                env=env, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True)
    try:
        yield sim_url(proc, log=log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stdout.close()


def sim_url(proc, *, timeout: float = 30.0, log=None) -> str:
    """The URL a `deskpi sim` subprocess (stdout piped, text mode) prints when it is serving."""
    import re
    import selectors
    import time

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        line = proc.stdout.readline()
        if not line:
            break
        found = re.search(r"open (http://\S+?)/?\s", line)
        if found:
            return found.group(1)
    tail = f"; its log ends with: {log.read_text()[-2000:]}" if log is not None else ""
    raise AssertionError(f"deskpi sim printed no URL{tail}")


_MODULE_IMPORT = re.compile(r"""^\s*(?:import\s*|(?:import|export)\b[^'";]*?\bfrom\s*)["'](\.{1,2}/[^'"]+)["']""", re.M)


def module_graph(client, url: str) -> dict[str, str]:
    """A page script and every module it imports, directly or not, as the browser fetches them:
    {URL: source}. Fails on an import that does not answer 200."""
    found: dict[str, str] = {}
    todo = [url]
    while todo:
        url = todo.pop()
        if url in found:
            continue
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
        found[url] = source = resp.get_data(as_text=True)
        base = posixpath.dirname(url.split("?")[0])
        todo += [posixpath.normpath(posixpath.join(base, spec)) for spec in _MODULE_IMPORT.findall(source)]
    return found


def self_signed_cert(directory, *, names: tuple[str, ...] = ("localhost", "127.0.0.1")) -> tuple[str, str]:
    """A throwaway self-signed certificate and its key (PEM files in `directory`, made by the openssl
    command, as the installer makes them): (cert path, key path)."""
    import ipaddress
    import subprocess
    from pathlib import Path

    from deploy_helpers import require_tool

    openssl = require_tool("openssl", "openssl")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"

    def san(name: str) -> str:
        try:
            ipaddress.ip_address(name)
            return f"IP:{name}"
        except ValueError:
            return f"DNS:{name}"

    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={names[0]}",
                    "-addext", "subjectAltName=" + ",".join(san(n) for n in names)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def small_tmpfs(path, size: str = "4m"):
    """Mount a tmpfs of `size` at `path` for a `with` block: a real file system that fills up.

    Mounting needs root (as tests/fleet/test_doctor.py's root-only test, it is skipped for anyone
    else; the same defects are also tested without root through SQLite's max_page_count). Run as
    root, a mount that fails is a skip, and under CI=true a failure."""
    import contextlib
    import os
    import subprocess

    import pytest

    @contextlib.contextmanager
    def mounted():
        if os.geteuid() != 0:
            pytest.skip("only root can mount a small file system to fill up")
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            reason = f"cannot mount a tmpfs at {path}: {done.stderr.strip() or done.returncode}"
            if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
        try:
            yield path
        finally:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)

    return mounted()


def fill_file_system(directory, name: str = "filler") -> None:
    """Write into `directory` until its file system says ENOSPC (delete `name` to free the space)."""
    import errno

    with open(directory / name, "wb", buffering=0) as f:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
