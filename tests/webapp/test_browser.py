"""The phone pages in a real browser against a real `deskpi sim` process.

Headless Chromium (the system's /usr/bin/chromium, or DESKPI_CHROMIUM; never a
downloaded one) with a phone viewport, driven by Playwright. One simulated desk
for the whole module; the tests run in file order and build on each other
(sign in and claim, move, profile, reminder, statistics, a lost link, someone
without the claim). Every wait is a Playwright expectation or a bounded poll of
the desk's public state: no bare sleeps.

Under CI=true nothing here may skip: a missing browser or Playwright fails.
"""
from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.error
import urllib.request

import pytest
from browser_kit import (
    add_user,
    api,
    expect,
    height,
    hold_next,
    live_module,
    no_fault,
    phone,
    poll,
    preset_to_press,
    press,
    require_browser,
    running_sim,
    sign_in,
    state,
)
from helpers import fill_file_system, small_tmpfs

ADA_PIN, BOB_PIN = "4711", "2580"
LEASE_S = 0.4                         # the server stops a hold this long after the last renewal


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A running `deskpi sim` with Ada (admin) and Bob; yields its base URL."""
    require_browser()
    data = tmp_path_factory.mktemp("browser-desk")
    add_user(data, "Ada", ADA_PIN, "--stature-cm", "170", "--admin")
    add_user(data, "Bob", BOB_PIN, "--stature-cm", "185")
    with running_sim(data) as url:
        yield url


@pytest.fixture(scope="module")
def ada_page(browser, desk):
    ctx = phone(browser)
    page = ctx.new_page()
    yield page
    ctx.close()


@pytest.fixture
def ada(request, ada_page, desk):
    """Ada's phone, signed in and holding the claim (the first test does both through the page;
    a test run on its own with -k gets there here)."""
    if request.node.name != "test_sign_in_and_claim_with_the_desk_keypad":
        if not ada_page.get_by_test_id("sign-out").count():
            sign_in(ada_page, desk, "Ada", ADA_PIN)
        if ada_page.url.rstrip("/") != desk:
            ada_page.goto(desk + "/")
        if ada_page.get_by_test_id("claim-status").inner_text().strip() != "Claimed by you":
            ada_page.get_by_test_id("claim").click()
            ada_page.get_by_test_id(f"sim-key-preset-{preset_to_press(ada_page)}").click()
            expect(ada_page.get_by_test_id("claim-status")).to_have_text("Claimed by you")
    return ada_page



def test_sign_in_and_claim_with_the_desk_keypad(ada, desk):
    page = ada
    page.goto(desk + "/")
    expect(page.get_by_test_id("login-pin")).to_have_attribute("inputmode", "numeric")
    page.get_by_test_id("login-name").fill("Ada")
    page.get_by_test_id("login-pin").fill("0000")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("message")).to_contain_text("wrong name or PIN")
    sign_in(page, desk, "Ada", ADA_PIN)
    expect(page.get_by_test_id("height")).to_have_text(re.compile(r"^\d+\.\d$"))      # cm, one decimal
    status = page.get_by_test_id("claim-status")
    expect(status).to_have_text("Not claimed")
    expect(page.get_by_test_id("btn-up")).to_have_attribute("aria-disabled", "true")
    page.get_by_test_id("claim").click()
    slot = preset_to_press(page)
    expect(status).to_have_text(re.compile(rf"Press preset {slot} on the desk within \d+ s"))
    page.get_by_test_id(f"sim-key-preset-{slot}").click()      # the person at the desk confirms
    expect(status).to_have_text("Claimed by you")
    expect(page.get_by_test_id("btn-up")).not_to_have_attribute("aria-disabled", "true")
    expect(page.get_by_test_id("state")).not_to_have_text("moving")  # the confirming press moved nothing


def test_hold_up_rises_and_release_stops(ada, desk):
    page = ada
    no_fault(page)
    start = height(page)
    press(page, "btn-up")
    expect(page.get_by_test_id("state")).to_have_text("moving")
    page.wait_for_function("h => parseFloat(document.querySelector('[data-testid=height]').textContent) > h + 1",
                           arg=start)
    page.mouse.up()
    expect(page.get_by_test_id("state")).to_have_text("idle")
    after = height(page)
    assert after > start + 1
    # Stopped for good: the desk's own state agrees, and the height no longer climbs.
    poll("the desk at rest", lambda: state(desk)["state"] == "idle", 3)
    assert abs(state(desk)["height_mm"] / 10 - after) < 1.5
    # The keyboard does the same: Space held on the focused button.
    page.get_by_test_id("btn-down").focus()
    page.keyboard.down(" ")
    expect(page.get_by_test_id("state")).to_have_text("moving")
    page.keyboard.up(" ")
    expect(page.get_by_test_id("state")).to_have_text("idle")


def test_recall_a_preset(ada, desk):
    page = ada
    no_fault(page)
    sit_cm = float(page.get_by_test_id("preset-1-height").inner_text().split()[0])
    page.get_by_test_id("preset-1").click()
    expect(page.get_by_test_id("state")).to_have_text("moving")
    expect(page.get_by_test_id("state")).to_have_text("idle", timeout=20_000)
    assert abs(height(page) - sit_cm) <= 1.0


def test_profile_from_stature(ada, desk):
    page = ada
    page.goto(desk + "/profile")
    rec = page.request.get(desk + "/api/v1/ergonomics?stature_cm=180").json()
    page.get_by_test_id("profile-stature").fill("180")
    page.get_by_test_id("profile-save").click()                # saved at once: the desk recomputes
    expect(page.get_by_test_id("message")).to_contain_text("profile saved")
    expect(page.get_by_test_id("profile-sit")).to_have_value(f"{rec['sit_mm'] / 10:.1f}")
    expect(page.get_by_test_id("profile-stand")).to_have_value(f"{rec['stand_mm'] / 10:.1f}")
    me = page.request.get(desk + "/api/v1/users/Ada").json()
    assert (me["stature_cm"], me["seated_mm"], me["standing_mm"]) == (180, rec["sit_mm"], rec["stand_mm"])
    # Fine-tune one height; the explanation is on the page.
    expect(page.locator("[data-rec-notes] li").first).to_be_visible()
    page.get_by_test_id("profile-sit").fill("70.5")
    page.get_by_test_id("profile-save").click()
    expect(page.get_by_test_id("message")).to_contain_text("profile saved")
    me = page.request.get(desk + "/api/v1/users/Ada").json()
    assert (me["seated_mm"], me["standing_mm"]) == (705, rec["stand_mm"])


def test_confirm_a_reminder(ada, desk):
    page = ada
    page.goto(desk + "/reminders")
    resp = api(page, desk, "POST", "/sim/next-reminder")       # the live one, or the next one now
    assert resp.ok, resp.text()
    box = page.get_by_test_id("reminder")
    expect(box).to_be_visible()                        # pushed by the live feed
    if page.get_by_test_id("break-screen").is_visible():
        page.get_by_test_id("break-close").click()     # a break opens its own screen (test_browser_motion.py)
    before = state(desk)
    page.get_by_test_id("reminder-confirm").click()
    expect(box).to_be_hidden()
    expect(page.get_by_test_id("message")).to_contain_text("done")
    # Done records the reminder and moves nothing (issue 12): the desk stays where it was.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        now = state(desk)
        assert now["state"] != "moving" and abs(now["height_mm"] - before["height_mm"]) < 5, now
        time.sleep(0.05)                               # a bounded watch, not a wait for something


def test_statistics_show_charts(ada, desk):
    page = ada
    page.goto(desk + "/stats")
    chart = page.locator('[data-testid="stats-chart"] svg')
    expect(chart).to_be_visible()
    expect(chart.locator("rect").first).to_be_attached()
    expect(page.locator('[data-testid="stats-weeks"] svg')).to_be_visible()
    # Each axis' ticks read differently and in a unit that fits: a desk used for a few minutes
    # showed "0h, 0h, 0h" (the hours rounded) and posture changes "0, 1, 1".
    for svg in page.locator("svg.chart").all():
        ticks = svg.locator('text[text-anchor="end"]').all_text_contents()
        assert len(ticks) == 3 and len(set(ticks)) == 3 and ticks[0] == "0", ticks
        assert all(re.fullmatch(r"\d+(\.\d)?( min| h)?", t) for t in ticks), ticks


def test_losing_the_connection_mid_hold_stops_the_desk(ada, desk):
    page = ada
    page.goto(desk + "/")
    expect(page.get_by_test_id("claim-status")).to_have_text("Claimed by you")
    no_fault(page)
    press(page, "btn-up")
    expect(page.get_by_test_id("state")).to_have_text("moving")
    page.context.set_offline(True)
    cut = time.monotonic()
    try:
        poll("the desk to stop by itself", lambda: state(desk)["state"] != "moving", LEASE_S + 1.0)
        stopped_after = time.monotonic() - cut
        expect(page.get_by_test_id("connection-lost")).to_be_visible()
    finally:
        page.mouse.up()
        page.context.set_offline(False)
    assert stopped_after <= LEASE_S + 1.0
    expect(page.get_by_test_id("connection-lost")).to_be_hidden(timeout=15_000)
    assert state(desk)["state"] != "moving"          # coming back online did not restart the hold


def test_someone_without_the_claim_cannot_move_the_desk(browser, desk):
    ctx = phone(browser)
    page = ctx.new_page()
    try:
        sign_in(page, desk, "Bob", BOB_PIN)
        expect(page.get_by_test_id("claim-status")).to_have_text("In use by Ada")
        up = page.get_by_test_id("btn-up")
        expect(up).to_have_attribute("aria-disabled", "true")
        expect(up).to_be_disabled()                                     # as assistive technology sees it
        expect(page.get_by_test_id("preset-2")).to_be_disabled()
        before = state(desk)
        press(page, "btn-up")
        expect(page.get_by_test_id("message")).to_contain_text("tap Claim this desk")
        page.mouse.up()
        page.get_by_test_id("preset-2").click(force=True)          # dimmed, but the server decides
        expect(page.get_by_test_id("message")).to_contain_text("tap Claim this desk")
        after = state(desk)
        assert after["state"] != "moving" and abs(after["height_mm"] - before["height_mm"]) < 5, after
        expect(page.get_by_test_id("btn-stop")).to_be_enabled()          # stop always works
    finally:
        ctx.close()


def test_a_colleague_elsewhere_asks_and_the_holder_keeps_the_desk_and_refuses(ada, browser, desk):
    """Issue 11: Bob asks from his own phone while Ada holds the desk. Ada's own press on the desk,
    even of the very preset Bob was told, stays hers; she sees Bob's request and refuses it."""
    ada.goto(desk + "/")
    expect(ada.get_by_test_id("claim-status")).to_have_text("Claimed by you")
    no_fault(ada)
    expect(ada.get_by_test_id("claim-pending-list")).to_be_hidden()
    ctx = phone(browser)
    bob = ctx.new_page()
    try:
        sign_in(bob, desk, "Bob", BOB_PIN)
        expect(bob.get_by_test_id("claim-status")).to_have_text("In use by Ada")
        bob.get_by_test_id("claim").click()
        expect(bob.get_by_test_id("claim-status")).to_have_text("Waiting for Ada to release the desk")
        slot = preset_to_press(bob)
        # Ada's phone hears of it at once (live feed) and lists who asks.
        request = ada.get_by_test_id("claim-request")
        expect(request).to_have_count(1)
        expect(request).to_have_attribute("data-user", "Bob")
        expect(request).to_contain_text(re.compile(r"Bob\s+since \d"))
        # Ada presses that very preset at the desk: an ordinary press, the desk stays hers.
        ada.get_by_test_id(f"sim-key-preset-{slot}").click()
        ada.get_by_test_id("btn-stop").click()
        expect(ada.get_by_test_id("claim-status")).to_have_text("Claimed by you")
        expect(bob.get_by_test_id("claim-status")).to_have_text("Waiting for Ada to release the desk")
        # Ada refuses; Bob is told, and may not ask again for a while.
        ada.get_by_test_id("claim-refuse").click()
        expect(ada.get_by_test_id("claim-pending-list")).to_be_hidden()
        expect(bob.get_by_test_id("claim-status")).to_have_text("In use by Ada")
        expect(bob.locator("[data-claim-help]")).to_have_text("Ada refused your request for the desk.")
        expect(bob.get_by_test_id("claim-press-preset")).to_be_hidden()
        bob.get_by_test_id("claim").click()
        expect(bob.get_by_test_id("message")).to_contain_text("Ada refused your request")
        expect(ada.get_by_test_id("claim-status")).to_have_text("Claimed by you")
    finally:
        ctx.close()


def test_a_lost_sign_in_goes_back_to_the_sign_in_page(browser, desk):
    ctx = phone(browser)
    page = ctx.new_page()
    try:
        sign_in(page, desk, "Bob", BOB_PIN, "/stats")
        # The page's last request first: a response still on its way would set the cookie again.
        expect(page.locator('[data-testid="stats-weeks"] svg')).to_be_visible()
        ctx.clear_cookies()                       # the session is gone (expired, PIN changed, removed)
        ctx.set_offline(True)                     # the live stream drops and comes back without it
        page.get_by_test_id("btn-stop").click()   # a request that fails tells the page the link is down
        expect(page.get_by_test_id("connection-lost")).to_be_visible()
        ctx.set_offline(False)
        expect(page.get_by_test_id("login-name")).to_be_visible(timeout=15_000)
        assert page.url.endswith("/stats")        # and after signing in, back where they were
    finally:
        ctx.close()


#: Runs in the page (after live_module): counts the states live.js takes (window.deskpiStates).
COUNT_STATES_JS = """() => {
  window.deskpiStates = 0;
  deskpiLive.on("state", () => { window.deskpiStates += 1; });
}"""


def test_a_state_answer_older_than_the_live_feeds_does_not_replace_it(browser, desk):
    """Live updates are lost and the page polls the state; the link comes back, and the live feed
    sends the state while a poll is still on its way. The poll's answer, asked before, must not
    replace the feed's: at rest the feed would not send the state again, and the page would go on
    showing the older one (a desk still "moving") until something changed."""
    ctx = phone(browser)
    page = ctx.new_page()
    try:
        sign_in(page, desk, "Bob", BOB_PIN)
        live_module(page)
        page.evaluate(COUNT_STATES_JS)
        page.route("**/api/v1/events", lambda route: route.abort())
        page.evaluate("() => { deskpiLive.disconnect(); deskpiLive.connect(); }")     # the stream fails: polls
        expect(page.get_by_test_id("connection-lost")).to_contain_text("Live updates lost")
        poll_held = hold_next(page, "**/api/v1/state", "() => { deskpiLive.refresh(); }")    # a poll now
        page.evaluate("() => { window.deskpiAnswer = deskpiLive.refresh(); }")    # the poll on its way
        taken = page.evaluate("() => deskpiStates")
        page.unroute("**/api/v1/events")                      # the link is back: the feed sends the state
        page.wait_for_function("n => deskpiStates > n", arg=taken, timeout=15_000)
        now = state(desk)
        assert now["state"] != "moving", now
        older = {**now, "state": "moving", "height_mm": now["height_mm"] + 40}
        poll_held.fulfill(status=200, content_type="application/json", body=json.dumps(older))
        page.evaluate("() => window.deskpiAnswer")            # the answer has been read and judged
        assert page.evaluate("() => deskpiLive.state().state") == now["state"]
        expect(page.get_by_test_id("state")).to_have_text(now["state"])
    finally:
        ctx.close()


def test_too_many_wrong_pins_show_a_lock_out_countdown(browser, desk):
    ctx = phone(browser)
    page = ctx.new_page()
    try:
        page.goto(desk + "/")
        lockout = page.get_by_test_id("login-lockout")
        for _ in range(8):                       # the desk locks a name after a handful of wrong PINs
            page.get_by_test_id("login-name").fill("Zed")
            page.get_by_test_id("login-pin").fill("9999")
            with page.expect_response(lambda r: r.url.endswith("/api/v1/session")) as answer:
                page.get_by_test_id("login-submit").click()
            if answer.value.status == 429:
                break
            assert answer.value.status == 401
        expect(lockout).to_contain_text(re.compile(r"Try again in \d+ s"))
        expect(page.get_by_test_id("login-submit")).to_be_disabled()
    finally:
        ctx.close()


#: What each page's own module does first, seen from outside: it ran, and its imports loaded.
PAGE_READY = {
    "/": None,
    "/profile": "[data-rec]:not([hidden])",                  # Ada's stature, explained
    "/plan": "[data-plan-form]:not([aria-busy])",
    "/reminders": None,
    "/stats": '[data-testid="stats-weeks"] svg',
    "/admin": "[data-settings]:not([aria-busy])",
}


def test_every_page_loads_its_modules_without_a_console_error(browser, desk):
    ctx = phone(browser)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console",
            lambda m: errors.append(f"{page.url}: console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    try:
        page.goto(desk + "/")
        expect(page.get_by_test_id("login-submit")).to_be_enabled()          # login.js ran
        sign_in(page, desk, "Ada", ADA_PIN)
        for path, ready in PAGE_READY.items():
            # app.js and live.js ran: the live feed opens and the reminder is fetched, on every page.
            with page.expect_request(lambda r: r.url.endswith("/api/v1/events")), \
                    page.expect_response(lambda r: r.url.endswith("/api/v1/reminder")):
                page.goto(desk + path)
            if ready:
                expect(page.locator(ready).first).to_be_attached()
        assert errors == []
    finally:
        ctx.close()


def test_changing_your_pin_on_the_profile_page_says_it_ends_your_api_tokens(ada, browser, desk):
    assert api(ada, desk, "POST", "/users", {"name": "Cleo", "pin": "3690"}).status == 201
    ctx = phone(browser)
    page = ctx.new_page()
    try:
        sign_in(page, desk, "Cleo", "3690")
        token = api(page, desk, "POST", "/tokens", {"label": "script"}).json()["token"]
        bearer = {"Authorization": f"Bearer {token}"}
        assert page.request.get(desk + "/api/v1/tokens", headers=bearer).status == 200
        page.goto(desk + "/profile")
        expect(page.get_by_test_id("profile-pin-note")).to_contain_text("API tokens")
        page.get_by_test_id("profile-pin-current").fill("3690")
        page.get_by_test_id("profile-pin-new").fill("25802580")
        page.get_by_test_id("profile-pin-save").click()
        expect(page.get_by_test_id("message")).to_contain_text("1 API token of theirs was revoked")
        assert page.request.get(desk + "/api/v1/tokens", headers=bearer).status == 401
        expect(page.get_by_test_id("profile-pin-new")).to_have_value("")
        page.reload()
        expect(page.get_by_test_id("sign-out")).to_be_visible()           # this phone stays signed in
    finally:
        ctx.close()


def test_a_full_disk_shows_the_storage_banner_until_there_is_room_again(browser, tmp_path):
    """A desk of its own whose data directory is a small tmpfs, filled while Ada's page is open: the
    banner appears from the live feed when a write fails, and goes when one works again."""
    with small_tmpfs(tmp_path / "data", "8m") as data:
        add_user(data, "Ada", ADA_PIN, "--admin")
        ctx = phone(browser)
        try:
            with running_sim(data, seed=5) as url:
                page = ctx.new_page()
                sign_in(page, url, "Ada", ADA_PIN)
                banner = page.get_by_test_id("storage-full")
                expect(banner).to_be_hidden()
                with sqlite3.connect(data / "deskpi.db") as conn:        # every commit from now on grows the WAL
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                fill_file_system(data)
                body = json.dumps({"name": "Ada", "pin": ADA_PIN}).encode()
                req = urllib.request.Request(f"{url}/api/v1/session", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(req, timeout=10)
                assert refused.value.code == 503
                expect(banner).to_be_visible()
                expect(banner).to_contain_text("storage is full")
                expect(page.get_by_test_id("btn-stop")).to_be_enabled()          # the desk still stops

                (data / "filler").unlink()
                with urllib.request.urlopen(req, timeout=10) as resp:
                    assert resp.status == 200
                expect(banner).to_be_hidden()
        finally:
            ctx.close()
