"""What every browser test needs: a real `deskpi sim` process, Debian's Chromium through Playwright
with a phone viewport, and the few moves a person makes on the page (sign in, press and hold, claim).

Headless Chromium is the system's /usr/bin/chromium (or DESKPI_CHROMIUM), never a downloaded one.
Under CI=true nothing may skip: a missing browser or Playwright fails the test.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import helpers
import pytest

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = os.environ.get("DESKPI_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:                                          # pragma: no cover - depends on the machine
    sync_playwright = expect = None


def unavailable(reason: str):
    if CI:
        pytest.fail(f"browser tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_browser() -> None:
    if sync_playwright is None:
        unavailable("Python Playwright is not installed")
    if not os.path.exists(CHROMIUM):
        unavailable(f"no Chromium at {CHROMIUM} (set DESKPI_CHROMIUM)")


def deskpi(*args: str, stdin: str | None = None, data_dir: Path) -> str:
    """Run the `deskpi` CLI on a data directory; its stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "deskpi.cli", "--data-dir", str(data_dir), *args], input=stdin,
                          text=True, check=True, capture_output=True, env=env, timeout=60)
    return done.stdout


def add_user(data_dir: Path, name: str, pin: str, *extra: str) -> None:
    deskpi("user", "add", name, *extra, "--pin-stdin", stdin=pin + "\n", data_dir=data_dir)


def running_sim(data_dir: Path, *, seed: int = 3, extra: tuple[str, ...] = ()):
    """A `deskpi sim` on 127.0.0.1 serving `data_dir`, its log in `data_dir`/sim.log; yields its base URL."""
    return helpers.running_sim(data_dir, data_dir / "sim.log", seed=seed, extra=extra)


@contextlib.contextmanager
def chromium() -> Iterator:
    require_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            yield b
        finally:
            b.close()


def phone(browser, **options):
    """A new browser context the size of a phone, with touch."""
    ctx = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, **options)
    ctx.set_default_timeout(10_000)
    return ctx


@contextlib.contextmanager
def signed_in_phone(browser, url: str, name: str, pin: str, **options) -> Iterator:
    """A page on a new phone (see `phone`, which takes the options) signed in as `name`."""
    ctx = phone(browser, **options)
    try:
        page = ctx.new_page()
        sign_in(page, url, name, pin)
        yield page
    finally:
        ctx.close()


def state(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/v1/state", timeout=2) as resp:
        return json.load(resp)


def poll(what: str, fn, timeout: float):
    """fn() until it returns something truthy (bounded; a wait, not a sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def height(page) -> float:
    return float(page.get_by_test_id("height").inner_text())


def scripts_ready(page) -> None:
    """Until every script of the page has run (app.js marks <body data-ready>): before that, the
    server's page is on screen but a press on ▲ does nothing (the loaded machine makes that window long)."""
    expect(page.locator("body[data-ready]")).to_be_attached()


def live_module(page) -> None:
    """The page's own live.js as window.deskpiLive: the same module instance its scripts use (by its
    versioned URL), for a test to hand it what the server would, or to ask what it holds."""
    page.evaluate("""async () => {
      const href = [...document.querySelectorAll('link[rel=modulepreload], script[type=module]')]
        .map((el) => el.href || el.src).find((u) => new URL(u).pathname.endsWith('/live.js'));
      window.deskpiLive = await import(href);
    }""")


def hold_next(page, pattern: str, ask: str, timeout: float = 5.0):
    """Hold the page's next request matching `pattern`, made by running `ask` in the page; returns the
    Playwright route, for the test to fulfil when it chooses (requests after it go through)."""
    held: list = []
    page.route(pattern, lambda route: held.append(route) if not held else route.fallback())
    page.evaluate(ask)
    deadline = time.monotonic() + timeout
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(10)            # lets Playwright deliver the request to the route
    if not held:
        raise AssertionError(f"the page made no request to {pattern} within {timeout} s")
    return held[0]


def sign_in(page, url: str, name: str, pin: str, path: str = "/") -> None:
    page.goto(url + path)
    scripts_ready(page)
    page.get_by_test_id("login-name").fill(name)
    page.get_by_test_id("login-pin").fill(pin)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("sign-out")).to_be_visible()
    scripts_ready(page)


def press(page, testid: str):
    """Put a finger (the mouse) down on a button and keep it there."""
    scripts_ready(page)
    button = page.get_by_test_id(testid)
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()


def no_fault(page) -> None:
    """Clear a latched fault first: under heavy CPU load the simulated sensor can miss an echo
    (sensor_dead), which latches like on a real desk. These tests are about the page."""
    if page.get_by_test_id("fault-box").is_visible():
        page.get_by_test_id("btn-clear-fault").click()
        expect(page.get_by_test_id("fault-box")).to_be_hidden()
    expect(page.get_by_test_id("state")).to_have_text("idle", timeout=30_000)


def api(page, url: str, method: str, path: str, body=None):
    """A request with the page's session cookie and CSRF token, as the page's own script sends it."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    return page.request.fetch(f"{url}/api/v1{path}", method=method, data=json.dumps(body or {}),
                              headers={"Content-Type": "application/json", "X-CSRF-Token": token})


def preset_to_press(page) -> int:
    """The preset the page says to press on the desk (drawn by the server for this request)."""
    slot = page.get_by_test_id("claim-press-preset")
    expect(slot).to_be_visible()
    expect(slot).to_have_text(re.compile(r"^[1-4]$"))
    return int(slot.inner_text())


def claim(page) -> None:
    """Claim the desk from a signed-in page, confirming on the simulator's keypad."""
    if page.get_by_test_id("claim-status").inner_text().strip() != "Claimed by you":
        page.get_by_test_id("claim").click()
        page.get_by_test_id(f"sim-key-preset-{preset_to_press(page)}").click()
        expect(page.get_by_test_id("claim-status")).to_have_text("Claimed by you")
