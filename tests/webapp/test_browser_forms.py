"""Issue 12, items 4, 7, 8 and the plan names of item 2, in a real browser on a phone viewport.

Presets change only on purpose (an edit mode, what it replaces, Undo) and the one the desk is at
is marked; the plan form fits a phone (times in the phone's own clock, readable choices, fields
that do not apply hidden, holidays and a ramp of one's own to edit) and names plans by their
numbers; the profile has one Save, and feet and inches for inch users.

One `deskpi sim` for the module (browser_kit); every wait is a Playwright expectation or a bounded
poll. Under CI=true nothing here may skip.
"""
from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace

import pytest
from browser_kit import (
    add_user,
    api,
    claim,
    deskpi,
    expect,
    height,
    no_fault,
    phone,
    poll,
    press,
    require_browser,
    running_sim,
    sign_in,
    signed_in_phone,
    state,
)

from deskpi.core.habits.plan_names import plan_label
from deskpi.core.habits.plans import CORNELL, DEFAULT_PLAN

ADA_PIN, IVY_PIN = "4711", "1357"


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A running `deskpi sim` with Ada (admin, cm) and Ivy (inches); its URL and data directory."""
    require_browser()
    data = tmp_path_factory.mktemp("browser-forms")
    add_user(data, "Ada", ADA_PIN, "--stature-cm", "170", "--admin")
    add_user(data, "Ivy", IVY_PIN, "--stature-cm", "178", "--units", "in")
    with running_sim(data) as url:
        yield SimpleNamespace(url=url, data=data)


@pytest.fixture(scope="module")
def ada(browser, desk):
    """Ada's phone, signed in (en-US: a 12-hour clock)."""
    with signed_in_phone(browser, desk.url, "Ada", ADA_PIN, locale="en-US") as page:
        yield page


def words(text: str) -> str:
    """Text with its spaces as one plain space each (the phone's clock writes a narrow one before PM)."""
    return re.sub(r"\s+", " ", text).strip()


def presets(page, url) -> dict[int, float | None]:
    return {p["slot"]: p["height_mm"] for p in page.request.get(url + "/api/v1/presets").json()["presets"]}


def user(page, url, name="Ada") -> dict:
    return page.request.get(f"{url}/api/v1/users/{name}").json()


# -- item 4: presets ---------------------------------------------------------------------------------
def test_the_preset_the_desk_is_at_is_marked(ada, desk):
    page = ada
    page.goto(desk.url + "/")
    claim(page)
    no_fault(page)
    page.get_by_test_id("preset-1").click()
    expect(page.get_by_test_id("state")).to_have_text("moving")
    expect(page.get_by_test_id("state")).to_have_text("idle", timeout=30_000)
    one, two = page.get_by_test_id("preset-1"), page.get_by_test_id("preset-2")
    expect(one).to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("preset-1-here")).to_be_visible()
    expect(two).not_to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("preset-2-here")).to_be_hidden()
    style = "e => getComputedStyle(e).backgroundColor + ' ' + getComputedStyle(e).borderTopColor"
    assert one.evaluate(style) != two.evaluate(style), "the marked preset looks like the others"
    # Held up and away from it: no preset is marked any more.
    start = height(page)
    press(page, "btn-up")
    page.wait_for_function("h => parseFloat(document.querySelector('[data-testid=height]').textContent) > h + 3",
                           arg=start)
    page.mouse.up()
    expect(page.get_by_test_id("state")).to_have_text("idle")
    expect(one).not_to_have_attribute("aria-current", "true")
    expect(page.get_by_test_id("preset-1-here")).to_be_hidden()


def test_saving_a_preset_takes_edit_mode_shows_what_it_replaces_and_can_be_undone(ada, desk):
    page = ada
    expect(page.get_by_test_id("state")).to_have_text("idle")
    edit, save = page.get_by_test_id("presets-edit"), page.get_by_test_id("preset-save-2")
    expect(save).to_be_hidden()                         # one tap on a preset cannot overwrite it
    expect(edit).to_have_attribute("aria-pressed", "false")
    before = presets(page, desk.url)[2]
    now = state(desk.url)["height_mm"] / 10
    edit.click()
    expect(edit).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("presets-edit-hint")).to_be_visible()
    expect(save).to_be_visible()
    expect(save).to_contain_text("Save here")
    change = page.get_by_test_id("preset-save-2-change")
    expect(change).to_have_text(re.compile(rf"^{before / 10:.1f} → \d+\.\d cm$"))
    shown = float(change.inner_text().split("→")[1].split()[0])
    assert abs(shown - now) <= 1.0, "it offers the desk's height (give or take the sensor's noise)"
    assert presets(page, desk.url)[2] == before, "showing the edit mode saved nothing"

    save.click()
    bar = page.get_by_test_id("preset-undo-bar")
    expect(bar).to_be_visible()
    expect(page.get_by_test_id("preset-undo-text")).to_have_text(re.compile(
        rf"^Saved preset 2: {before / 10:.1f} → \d+\.\d cm$"))
    saved = poll("preset 2 saved", lambda: presets(page, desk.url)[2] != before and presets(page, desk.url)[2], 5)
    assert abs(saved - shown * 10) <= 10
    expect(save).to_be_hidden()                         # the edit mode ends with the save
    expect(edit).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("preset-2-height")).to_have_text(f"{saved / 10:.1f} cm")

    page.get_by_test_id("preset-undo").click()
    expect(bar).to_be_hidden()
    expect(page.get_by_test_id("message")).to_contain_text(f"preset 2 is back at {before / 10:.1f} cm")
    assert poll("preset 2 back", lambda: presets(page, desk.url)[2] == before, 5)
    expect(page.get_by_test_id("preset-2-height")).to_have_text(f"{before / 10:.1f} cm")


def test_undo_empties_a_preset_that_was_empty_and_the_offer_goes_by_itself(ada, desk):
    page = ada
    assert presets(page, desk.url)[4] is None and presets(page, desk.url)[3] is None
    page.get_by_test_id("presets-edit").click()
    expect(page.get_by_test_id("preset-save-4-change")).to_have_text(re.compile(r"^empty → \d+\.\d cm$"))
    page.get_by_test_id("preset-save-4").click()
    assert poll("preset 4 saved", lambda: presets(page, desk.url)[4] is not None, 5)
    page.get_by_test_id("preset-undo").click()
    expect(page.get_by_test_id("preset-undo-bar")).to_be_hidden()
    assert poll("preset 4 empty again", lambda: presets(page, desk.url)[4] is None, 5)
    expect(page.get_by_test_id("preset-4-height")).to_have_text("empty")
    # Not taken: the offer goes after a few seconds and the new height stays.
    page.get_by_test_id("presets-edit").click()
    page.get_by_test_id("preset-save-3").click()
    bar = page.get_by_test_id("preset-undo-bar")
    expect(bar).to_be_visible()
    expect(bar).to_be_hidden(timeout=15_000)
    assert presets(page, desk.url)[3] is not None


# -- item 7 and 2: the plan form and plan names -------------------------------------------------------
def plan_page(page, url):
    page.goto(url + "/plan")
    expect(page.locator("[data-plan-form]:not([aria-busy])")).to_be_attached()


def test_plans_are_named_by_their_numbers_everywhere(ada, desk):
    page = ada
    default = plan_label(DEFAULT_PLAN)
    assert default == "Sit 30 min, stand 15 min, move 2 min; standing rises from 1 h to 4 h a day over 12 weeks"
    got = page.request.get(desk.url + "/api/v1/users/Ada/plan").json()
    assert got["label"] == default and got["plan"]["kind"] == "default"
    plan_page(page, desk.url)
    expect(page.get_by_test_id("plan-label")).to_have_text(default)
    expect(page.get_by_test_id("plan-kind-default-label")).to_have_text(default)
    expect(page.get_by_test_id("plan-kind-cornell-label")).to_have_text(plan_label(CORNELL))

    page.get_by_test_id("plan-kind-custom").check()
    page.locator("#sit_min").fill("40")
    page.get_by_test_id("plan-save").click()
    mine = plan_label(replace(DEFAULT_PLAN, kind="custom", sit_min=40))
    assert mine.startswith("Sit 40 min, stand 15 min, move 2 min; ")
    expect(page.get_by_test_id("plan-label")).to_have_text(mine)
    assert page.request.get(desk.url + "/api/v1/users/Ada/plan").json()["label"] == mine
    assert mine in deskpi("plan", "show", "Ada", data_dir=desk.data)


def test_fields_that_do_not_apply_are_hidden(ada, desk):
    page = ada
    plan_page(page, desk.url)
    custom = page.get_by_test_id("plan-custom")
    page.get_by_test_id("plan-kind-cornell").check()
    expect(custom).to_be_hidden()                       # a preset's numbers are in its name
    page.get_by_test_id("plan-kind-custom").check()
    expect(custom).to_be_visible()
    expect(page.get_by_test_id("plan-ramp-rows")).to_be_hidden()
    page.get_by_test_id("plan-ramp-custom").check()
    expect(page.get_by_test_id("plan-ramp-rows")).to_be_visible()
    warning = page.get_by_test_id("plan-warning-field")
    expect(warning).to_be_hidden()                      # automatic moves are off on this desk
    expect(page.get_by_test_id("plan-mode-auto")).to_be_hidden()

    assert api(page, desk.url, "PATCH", "/admin/settings", {"auto_moves_allowed": True}).ok
    try:
        plan_page(page, desk.url)
        expect(warning).to_be_hidden()
        page.get_by_test_id("plan-mode-auto").check()
        expect(warning).to_be_visible()
        page.get_by_test_id("plan-mode-confirm").check()
        expect(warning).to_be_hidden()
    finally:
        assert api(page, desk.url, "PATCH", "/admin/settings", {"auto_moves_allowed": False}).ok


@pytest.mark.parametrize("locale, hours", [
    ("en-US", "Reminders 9:00 AM – 6:00 PM, not 12:00 PM – 1:00 PM."),
    ("de-DE", "Reminders 09:00 – 18:00, not 12:00 – 13:00."),
])
def test_times_fit_and_read_in_the_phones_own_clock(browser, desk, locale, hours):
    ctx = phone(browser, locale=locale)
    page = ctx.new_page()
    try:
        sign_in(page, desk.url, "Ivy", IVY_PIN, "/plan")
        expect(page.locator("[data-plan-form]:not([aria-busy])")).to_be_attached()
        expect(page.get_by_test_id("plan-hours-summary")).to_have_text(hours)
        expect(page.locator("[data-quiet-row]")).to_have_count(1)
        for box in page.locator('input[type="time"]').all():
            width = box.bounding_box()["width"]
            assert width >= 140, f"a time field {width:.0f} px wide cannot show 12:00 PM"
        # Labels of two lines do not push their input out of line with its neighbour's.
        page.get_by_test_id("plan-kind-custom").check()
        for a, b in (("#sit_min", "#stand_min"), ("#move_min", "#stand_cap_min")):
            assert page.locator(a).bounding_box()["y"] == page.locator(b).bounding_box()["y"], (a, b)
    finally:
        ctx.close()


def test_the_ramp_choice_is_readable_on_a_phone(ada, desk):
    page = ada
    plan_page(page, desk.url)
    page.get_by_test_id("plan-kind-custom").check()
    choices = page.get_by_test_id("plan-ramp").locator("label")
    expect(choices).to_have_count(4)
    for label in choices.all():
        box = label.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, "a ramp choice runs off the screen"
        assert label.evaluate("e => e.scrollWidth <= e.clientWidth"), "a ramp choice is cut off"
    expect(choices.first).to_contain_text("Standing rises from 1 h to 4 h a day over 12 weeks")


def test_holidays_and_an_own_ramp_are_edited_on_the_phone(ada, desk):
    page = ada
    plan_page(page, desk.url)
    for day in ("2026-12-24", "2026-12-31", "2026-12-24"):       # twice the same day: once in the list
        page.get_by_test_id("plan-holiday-date").fill(day)
        page.get_by_test_id("plan-holiday-add").click()
    items = page.get_by_test_id("plan-holiday")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text("Dec 24, 2026")
    items.first.get_by_test_id("plan-holiday-remove").click()
    expect(items).to_have_count(1)

    page.get_by_test_id("plan-kind-custom").check()
    page.get_by_test_id("plan-ramp-custom").check()
    rows = page.get_by_test_id("plan-ramp-row")
    expect(rows).to_have_count(3)                       # starts from the standard ramp
    expect(rows.nth(2).get_by_test_id("plan-ramp-min")).to_have_value("240")
    rows.nth(1).get_by_test_id("plan-ramp-min").fill("90")
    rows.nth(2).get_by_test_id("plan-ramp-remove").click()
    expect(rows).to_have_count(2)
    page.get_by_test_id("plan-ramp-add").click()
    expect(rows).to_have_count(3)
    rows.nth(2).get_by_test_id("plan-ramp-week").fill("10")
    rows.nth(2).get_by_test_id("plan-ramp-min").fill("150")
    page.get_by_test_id("plan-save").click()
    expect(page.get_by_test_id("message")).to_contain_text("plan saved")

    got = page.request.get(desk.url + "/api/v1/users/Ada/plan").json()
    assert got["plan"]["holidays"] == ["2026-12-31"]
    assert got["plan"]["ramp"] == [[1, 60], [4, 90], [10, 150]]
    assert got["label"].endswith("standing rises from 1 h to 2 h 30 min a day over 10 weeks")
    plan_page(page, desk.url)                           # and it comes back as it was saved
    expect(page.get_by_test_id("plan-ramp-custom")).to_be_checked()
    expect(page.get_by_test_id("plan-ramp-row")).to_have_count(3)
    expect(page.get_by_test_id("plan-holiday")).to_have_count(1)


# -- item 8: the profile ------------------------------------------------------------------------------
def test_the_profile_has_one_save_and_the_desk_height_only_fills_a_field(ada, desk):
    page = ada
    page.goto(desk.url + "/profile")
    form = page.locator("[data-profile-form]")
    expect(page.locator("[data-rec]:not([hidden])")).to_be_attached()
    saves = form.get_by_role("button", name=re.compile(r"save", re.I))
    expect(saves).to_have_count(1)                      # the one Save: nothing else in the form saves
    expect(saves).to_have_attribute("data-testid", "profile-save")
    expect(page.get_by_test_id("profile-recommend")).to_be_hidden()
    before = user(page, desk.url)

    rec = page.request.get(desk.url + "/api/v1/ergonomics?stature_cm=175").json()
    page.get_by_test_id("profile-stature").fill("175")
    expect(page.get_by_test_id("profile-stand")).to_have_value(f"{rec['stand_mm'] / 10:.1f}")
    expect(page.get_by_test_id("profile-sit")).to_have_value(f"{rec['sit_mm'] / 10:.1f}")
    sit = page.get_by_test_id("profile-sit")
    page.get_by_test_id("profile-sit-current").click()
    expect(sit).not_to_have_value(f"{rec['sit_mm'] / 10:.1f}")
    desk_mm = round(float(sit.input_value()) * 10)
    assert abs(desk_mm - state(desk.url)["height_mm"]) <= 10, "the field has the desk's height (give or take noise)"
    expect(page.get_by_test_id("profile-use-rec")).to_be_visible()       # a way back to the recommendation
    page.get_by_test_id("profile-preset-4").fill("95.5")
    expect(page.get_by_test_id("profile-unsaved")).to_have_text("Changes not saved yet")
    assert user(page, desk.url) == before, "filling in saved something"

    page.get_by_test_id("profile-save").click()
    expect(page.get_by_test_id("message")).to_contain_text("profile saved")
    expect(page.get_by_test_id("profile-unsaved")).to_have_text("")
    after = user(page, desk.url)
    assert after["stature_cm"] == 175 and after["standing_mm"] == rec["stand_mm"]
    assert after["seated_mm"] == desk_mm
    assert {p["slot"]: p["height_mm"] for p in after["presets"]}[4] == 955


def test_inch_users_give_their_height_in_feet_and_inches(browser, desk):
    ctx = phone(browser)
    page = ctx.new_page()
    try:
        sign_in(page, desk.url, "Ivy", IVY_PIN, "/profile")
        ft, inch = page.get_by_test_id("profile-stature-ft"), page.get_by_test_id("profile-stature-in")
        expect(ft).to_have_value("5")                   # 178 cm
        expect(inch).to_have_value("10")
        expect(page.locator("label[for=stature]")).to_have_count(0)
        rec = page.request.get(desk.url + f"/api/v1/ergonomics?stature_cm={73 * 2.54:.1f}").json()
        ft.fill("6")
        inch.fill("1")
        expect(page.get_by_test_id("profile-sit")).to_have_value(f"{rec['sit_mm'] / 25.4:.1f}")
        page.get_by_test_id("profile-save").click()
        expect(page.get_by_test_id("message")).to_contain_text("profile saved")
        assert user(page, desk.url, "Ivy")["stature_cm"] == pytest.approx(185.4, abs=0.05)
        page.reload()
        expect(ft).to_have_value("6")
        expect(inch).to_have_value("1")
    finally:
        ctx.close()
