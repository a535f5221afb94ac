"""Every page as a person with a phone meets it, checked by machine: axe-core finds no serious or
critical accessibility violation, every control is at least 44 px each way (on every page, the
presets' edit mode and a break's screen too), nothing on the page
jumps while it loads (cumulative layout shift under 0.1), a browser's wrong address gets a page
(not JSON), and an error shows next to the control that caused it.

axe-core comes from npm (`make test` installs it into .venv/node; DESKPI_AXE names another copy).
One `deskpi sim` and one Chromium for the module; every wait is a Playwright expectation or a
bounded wait inside the page. Under CI=true nothing here may skip.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_kit import (
    ROOT,
    add_user,
    api,
    claim,
    expect,
    phone,
    poll,
    require_browser,
    running_sim,
    sign_in,
    signed_in_phone,
    state,
    unavailable,
)

ADA_PIN = "4711"
AXE = Path(os.environ.get("DESKPI_AXE") or ROOT / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js")
MIN_TARGET_PX = 44
MAX_CLS = 0.1

#: Each page, signed in as Ada (an admin), and what shows that its script has filled it in.
PAGES = {
    "home": ("/", "[data-testid=claim-status]"),
    "profile": ("/profile", "[data-rec]:not([hidden])"),
    "plan": ("/plan", "[data-plan-form]:not([aria-busy])"),
    "reminders": ("/reminders", "[data-status]"),
    "stats": ("/stats", '[data-testid="stats-weeks"] svg'),
    "admin": ("/admin", "[data-settings]:not([aria-busy])"),
    "not-found": ("/no-such-page", "[data-testid=error-title]"),
}
#: And the views that a tap opens over a page: the presets' edit mode (home) and a break's screen.
VIEWS = [*PAGES, "presets-edit", "break"]


@pytest.fixture(scope="module")
def axe_js() -> str:
    if not AXE.is_file():
        unavailable(f"no axe-core at {AXE}: `make test` installs it with npm (or set DESKPI_AXE)")
    return AXE.read_text()


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    require_browser()
    data = tmp_path_factory.mktemp("a11y-desk")
    add_user(data, "Ada", ADA_PIN, "--stature-cm", "170", "--admin")
    add_user(data, "Bob", "2580", "--stature-cm", "185")
    with running_sim(data) as url:
        yield url


@pytest.fixture(scope="module")
def ada(browser, desk):
    with signed_in_phone(browser, desk, "Ada", ADA_PIN) as page:
        yield page


@pytest.fixture(scope="module")
def slow_ada(browser, desk):
    """Ada on a phone with Lighthouse's mobile throttling (150 ms round trips, 1.6 Mbit/s, a CPU four
    times slower): the page draws before its data arrives, as it does on a real phone."""
    ctx = phone(browser)
    page = ctx.new_page()
    sign_in(page, desk, "Ada", ADA_PIN)
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})      # a first visit, as Lighthouse loads it
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 150,
                                                  "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8})
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 4})
    yield page
    ctx.close()


@pytest.fixture(scope="module")
def stranger(browser, desk):
    """A phone nobody has signed in on: every page is the sign-in page."""
    ctx = phone(browser)
    yield ctx.new_page()
    ctx.close()


# -- looking at a page ------------------------------------------------------------------------------
def settle(page, ready: str | None) -> None:
    """Until the page's script has filled it in and the browser has drawn it twice more."""
    if ready:
        expect(page.locator(ready).first).to_be_attached()
    expect(page.locator("[aria-busy=true]")).to_have_count(0)
    page.evaluate("document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => "
                  "requestAnimationFrame(r))))")


def open_page(page, url: str, view: str) -> None:
    path, ready = PAGES[view]
    page.goto(url + path)
    settle(page, ready)


# -- a break: it comes at the end of a standing block ---------------------------------------------------
def desk_key(page, desk: str, key: str, pressed: bool) -> None:
    resp = api(page, desk, "POST", f"/sim/keys/{key}", {"pressed": pressed})
    assert resp.ok, resp.text()


def clear_the_fault(page, desk: str) -> None:
    """Clear a latched fault as the person at the desk does: clearing takes the desk's claim, which
    is given back afterwards (the module's last test needs a desk nobody holds)."""
    resp = api(page, desk, "POST", "/clear-fault")
    if resp.status == 409:
        here = page.url
        page.goto(desk + "/")
        claim(page)
        try:
            resp = api(page, desk, "POST", "/clear-fault")
        finally:
            page.get_by_test_id("claim-release").click()
            expect(page.get_by_test_id("claim")).to_be_visible()
        page.goto(here)
    assert resp.ok, resp.text()


def stand_up_afresh(page, desk: str) -> None:
    """Sit down (if standing) and stand up again with the desk's own buttons, held like a person holds
    them (no claim needed): a fresh standing block, which ends in a break."""
    for key, far_enough in (("down", lambda h: h < 800), ("up", lambda h: h > 1000)):
        if far_enough(state(desk)["height_mm"]):
            continue
        if state(desk)["fault"]:           # the loaded simulator can miss an echo and latch a fault
            clear_the_fault(page, desk)
        desk_key(page, desk, key, True)
        try:
            poll(f"the desk's {key} key to get there",
                 lambda done=far_enough: done(state(desk)["height_mm"]) or state(desk)["fault"], 40)
        finally:
            desk_key(page, desk, key, False)
        poll("the desk at rest", lambda: state(desk)["state"] in ("idle", "fault"), 10)


def a_break(page, desk: str, kind: str | None = None) -> dict:
    """A break (of `kind`: move or stretch) waiting, the reminder clock skipped ahead to it."""
    assert api(page, desk, "POST", "/reminders/pause-today", {"paused": False}).ok
    live = None
    for _ in range(3):
        live = api(page, desk, "GET", "/reminder").json()["reminder"]
        if live is None:
            resp = api(page, desk, "POST", "/sim/next-reminder")
            assert resp.ok, resp.text()
            live = resp.json()["reminder"]
        if live["kind"] in ("move", "stretch") and kind in (None, live["kind"]):
            return live
        assert api(page, desk, "POST", "/reminder/skip", {"id": live["id"]}).ok
        stand_up_afresh(page, desk)
    raise AssertionError(f"no {kind or 'break'} came; the last reminder was {live}")


def reminder_shown(page, live: dict) -> None:
    """Until the page's script has drawn the reminder `live` (and opened its break screen, if it does)."""
    expect(page.locator(f'[data-testid=reminder][data-id="{live["id"]}"]').first).to_be_attached()


def open_break(page, desk: str) -> None:
    """The reminders page with a break's screen open, as a person sees it when a break comes."""
    live = a_break(page, desk)
    open_page(page, desk, "reminders")
    reminder_shown(page, live)
    if not page.get_by_test_id("break-screen").is_visible():      # seen before on this phone: it waits on the card
        page.get_by_test_id("reminder-open-break").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    settle(page, '[data-testid="break-countdown"]')


def show(page, desk: str, view: str) -> str:
    """Open `view` (a page or a view over one); what to call it in a failure."""
    if view == "presets-edit":
        open_page(page, desk, "home")
        page.get_by_test_id("presets-edit").click()
        expect(page.get_by_test_id("presets-edit")).to_have_attribute("aria-pressed", "true")
        expect(page.get_by_test_id("preset-save-1")).to_be_visible()
        return "the home page's presets in edit mode"
    if view == "break":
        open_break(page, desk)
        return "a break's screen"
    open_page(page, desk, view)
    return PAGES[view][0]


def axe_problems(page, axe_js: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line per element."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_js)          # through the DevTools protocol: the page's CSP does not apply
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .flatMap((v) => v.nodes.map((n) => `${v.impact} ${v.id} (${v.help}): ${n.target.join(" ")}`))""")
    return list(found)


#: The controls a finger aims at. A checkbox or radio inside its <label> is aimed at through the label.
TARGETS_JS = """(min) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], '
                 + '[tabindex]:not([tabindex="-1"])';
  const describe = (el) => {
    const id = el.dataset.testid ? `[data-testid=${el.dataset.testid}]` : (el.id ? `#${el.id}` : '');
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 30);
    return `<${el.tagName.toLowerCase()}${id}> "${text}"`;
  };
  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility({visibilityProperty: true}) || el.closest('.visually-hidden')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || box.right <= 0) continue;       // the skip link waits off-screen
    let target = box;
    const label = el.closest('label');
    if (label && (el.type === 'checkbox' || el.type === 'radio')) target = label.getBoundingClientRect();
    if (target.width < min - 0.5 || target.height < min - 0.5) {
      small.push(`${describe(el)}: ${target.width.toFixed(0)} x ${target.height.toFixed(0)} px`);
    }
  }
  return small;
}"""

#: Every layout shift since the page started loading (buffered), without those right after an input.
CLS_JS = """() => new Promise((resolve) => {
  let total = 0;
  const shifts = [];
  const name = (n) => !n ? '?' : n.nodeType !== 1 ? n.nodeName
    : `${n.tagName.toLowerCase()}${n.dataset.testid ? `[data-testid=${n.dataset.testid}]` : ''}`
      + `${n.className && typeof n.className === 'string' ? '.' + n.className.split(' ').join('.') : ''}`;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.hadRecentInput) continue;
      total += e.value;
      shifts.push(`${e.value.toFixed(3)} at ${Math.round(e.startTime)} ms: `
                  + e.sources.map((s) => name(s.node)).join(', '));
    }
  }).observe({type: 'layout-shift', buffered: true});
  requestAnimationFrame(() => requestAnimationFrame(() => resolve({total, shifts})));
})"""


# -- the checks -------------------------------------------------------------------------------------
def test_the_sign_in_page_has_no_serious_accessibility_problem(stranger, desk, axe_js):
    stranger.goto(desk + "/")
    expect(stranger.get_by_test_id("login-submit")).to_be_enabled()
    assert axe_problems(stranger, axe_js) == []


@pytest.mark.parametrize("view", VIEWS)
def test_axe_finds_no_serious_or_critical_violation(ada, desk, axe_js, view):
    where = show(ada, desk, view)
    assert axe_problems(ada, axe_js) == [], f"axe-core on {where}"


def test_a_live_reminder_and_a_waiting_claim_are_accessible_too(ada, desk, axe_js):
    """The views that come and go: the reminder (home and reminders page, the break view if any)
    and the claim waiting for a press on the desk."""
    ada.goto(desk + "/")
    assert api(ada, desk, "POST", "/sim/next-reminder").ok
    for view in ("home", "reminders"):
        open_page(ada, desk, view)
        expect(ada.get_by_test_id("reminder").first).to_be_visible()
        assert axe_problems(ada, axe_js) == [], f"axe-core on {view} with a reminder"
    open_page(ada, desk, "home")
    if ada.get_by_test_id("claim").is_visible():
        ada.get_by_test_id("claim").click()
        expect(ada.get_by_test_id("claim-press-preset")).to_be_visible()
        try:
            assert axe_problems(ada, axe_js) == [], "axe-core on home while a claim waits"
        finally:
            ada.get_by_test_id("claim-release").click()


@pytest.mark.parametrize("view", VIEWS)
def test_every_control_is_at_least_44_px_each_way(ada, desk, view):
    where = show(ada, desk, view)
    assert ada.evaluate(TARGETS_JS, MIN_TARGET_PX) == [], f"controls smaller than 44 px on {where}"


def test_the_sign_in_page_controls_are_at_least_44_px(stranger, desk):
    stranger.goto(desk + "/")
    expect(stranger.get_by_test_id("login-submit")).to_be_enabled()
    assert stranger.evaluate(TARGETS_JS, MIN_TARGET_PX) == []


@pytest.mark.parametrize("view", list(PAGES))
def test_nothing_jumps_while_a_page_loads(slow_ada, desk, view):
    """Cumulative layout shift (Chromium's layout-shift entries, summed) stays under 0.1 on a slow
    phone: charts, forms and lists get their room before their data arrives. No reminder is waiting
    (that case is the next test)."""
    assert api(slow_ada, desk, "POST", "/reminders/pause-today", {"paused": True}).ok
    open_page(slow_ada, desk, view)
    shift = slow_ada.evaluate(CLS_JS)
    assert shift["total"] < MAX_CLS, f"layout shift {shift['total']:.3f} on {PAGES[view][0]}: {shift['shifts']}"


@pytest.mark.parametrize("view", ["home", "reminders"])
def test_a_waiting_stretch_does_not_push_the_page_around(slow_ada, desk, view):
    """The reminder's card has its room from the first paint (the server knows it is waiting), also
    for a stretch, whose steps the script fills in."""
    live = a_break(slow_ada, desk, "stretch")
    open_page(slow_ada, desk, view)
    reminder_shown(slow_ada, live)
    expect(slow_ada.get_by_test_id("reminder").first).to_be_visible()
    shift = slow_ada.evaluate(CLS_JS)
    # Its screen opened on the page this phone showed when it came (once per break): skip it there or
    # on the card, as a person would.
    screen = slow_ada.get_by_role("dialog")
    if screen.is_visible():
        slow_ada.get_by_test_id("break-skip").click()
        expect(screen).to_be_hidden()
    else:
        slow_ada.get_by_test_id("reminder-skip").first.click()
    expect(slow_ada.get_by_test_id("reminder").first).to_be_hidden()
    assert shift["total"] < MAX_CLS, f"layout shift {shift['total']:.3f} with a reminder: {shift['shifts']}"


def test_a_browser_gets_a_page_for_a_wrong_address_and_the_api_keeps_json(ada, desk):
    resp = ada.goto(desk + "/no-such-page")
    assert resp.status == 404 and resp.headers["content-type"].startswith("text/html")
    expect(ada.get_by_test_id("error-title")).to_have_text("Page not found")
    expect(ada.get_by_test_id("error-message")).to_contain_text("/no-such-page")
    expect(ada.get_by_test_id("nav-home")).to_be_visible()          # the way back, and Stop, as on every page
    expect(ada.get_by_test_id("btn-stop")).to_be_visible()
    ada.get_by_test_id("error-home").click()
    expect(ada.get_by_test_id("height")).to_be_visible()
    api_resp = ada.request.get(desk + "/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api_resp.status == 404 and api_resp.headers["content-type"].startswith("application/json")
    assert "no such address" in api_resp.json()["error"]


def _beside(page, testid: str) -> None:
    """The error message is visible right below or right above the control `testid`."""
    toast = page.get_by_test_id("message")
    expect(toast).to_have_attribute("data-near", testid)
    control = page.get_by_test_id(testid).bounding_box()
    box = toast.bounding_box()
    gap = min(abs(box["y"] - (control["y"] + control["height"])), abs(control["y"] - (box["y"] + box["height"])))
    assert gap <= 16, f"the message is {gap:.0f} px from the control that caused it: {box} vs {control}"
    viewport = page.viewport_size
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], f"the message is off screen: {box}"


def test_an_error_shows_next_to_the_control_that_caused_it(ada, desk):
    open_page(ada, desk, "home")
    expect(ada.get_by_test_id("claim")).to_be_visible()          # not claimed: saving a preset is refused
    ada.get_by_test_id("presets-edit").click()                   # Save is there only in the presets' edit mode
    expect(ada.get_by_test_id("presets-edit")).to_have_attribute("aria-pressed", "true")
    save = ada.get_by_test_id("preset-save-3")
    save.scroll_into_view_if_needed()
    save.click()
    toast = ada.get_by_test_id("message")
    expect(toast).to_contain_text("claim the desk first")
    expect(toast).to_contain_text("Claim this desk")
    expect(toast).not_to_contain_text("/api/")
    _beside(ada, "preset-save-3")

    open_page(ada, desk, "admin")
    add = ada.get_by_test_id("admin-add-user")
    add.scroll_into_view_if_needed()
    add.click()                                                 # no name, no PIN
    expect(ada.get_by_test_id("message")).to_contain_text("a name and a PIN are needed")
    _beside(ada, "admin-add-user")
