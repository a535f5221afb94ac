"""Issue 12 in a real browser: one standing goal everywhere (item 1), weeks as dates (item 2, statistics)
and the admin's people tools (item 9), against a real `deskpi sim` with Debian's Chromium on a phone.

The desk's people are made in its data directory before the simulator starts, with the account days
the goals depend on: Ada nine days ago (week 2 of the standard ramp), Nia today (her first day), Wes
whose plan has today off (a weekend), Hal whose plan has today as a holiday, and Cy on a plan without a
ramp (what its rhythm holds). For each, the goal of today on the home page, the reminders page and the
statistics page must be the one `deskpi stats --json` and the statistics API give, and the one the plan
says (Plan.standing_goal_min). Waits are Playwright expectations or bounded polls; no bare sleeps.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest
from browser_kit import (
    api,
    claim,
    deskpi,
    expect,
    hold_next,
    live_module,
    no_fault,
    phone,
    poll,
    require_browser,
    running_sim,
    sign_in,
    signed_in_phone,
    state,
)

from deskpi.core.habits.plans import Plan
from deskpi.people.accounts import set_plan
from deskpi.people.passwords import hash_secret
from deskpi.store import Store

PINS = {"Ada": "4711", "Nia": "2580", "Wes": "3690", "Hal": "1470", "Cy": "8520", "Bob": "9630", "Cleo": "7410",
        "Tia": "3141"}
EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TODAY = dt.date.today()
#: name -> (days since the account was created, plan): the plan's goal today is what every page shows.
PEOPLE = {
    "Ada": (9, {"days": EVERY_DAY}),                                           # week 2 of the ramp: 80 min
    "Nia": (0, {"days": EVERY_DAY}),                                           # the account's first day: 60
    "Wes": (30, {"days": [d for i, d in enumerate(EVERY_DAY) if i != TODAY.weekday()]}),   # today off
    "Hal": (30, {"days": EVERY_DAY, "holidays": [TODAY.isoformat()]}),         # a holiday
    "Cy": (30, {"kind": "cornell", "days": EVERY_DAY}),                        # no ramp: the rhythm's 128
}

TIA_PLAN = {"days": EVERY_DAY}                                                 # week 1 of the ramp: 60 min


def expected_goal(name: str) -> float | None:
    ago, doc = PEOPLE[name]
    return Plan.from_dict(doc).standing_goal_min(TODAY, TODAY - dt.timedelta(days=ago))


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A running `deskpi sim` over a data directory made beforehand; yields (its URL, the directory)."""
    require_browser()
    data = tmp_path_factory.mktemp("goals-desk")
    noon = dt.datetime.combine(TODAY, dt.time(12))
    with Store.open(data / "deskpi.db") as store:
        for name, (ago, doc) in PEOPLE.items():
            created = noon - dt.timedelta(days=ago)
            if ago == 0:
                created = min(created, dt.datetime.now())           # made today, never in the future
            store.add_user(name, role="admin" if name == "Ada" else "user", pin_hash=hash_secret(PINS[name]),
                           seated_mm=700, standing_mm=1100, now=created.timestamp())
            set_plan(store, name, doc)
        store.set_owner("Ada")
        store.set_active_user("Ada")
        store.add_user("Bob", pin_hash=hash_secret(PINS["Bob"]), now=time.time() - 30 * 86400)
        store.add_user("Cleo", now=time.time() - 3 * 86400)
        # Tia stands in the simulator: her own band (700/1100 mm) says what standing is, not a flat 900 mm.
        store.add_user("Tia", pin_hash=hash_secret(PINS["Tia"]), seated_mm=700, standing_mm=1100,
                       now=time.time() - 2 * 86400)
        set_plan(store, "Tia", TIA_PLAN)
        store.append_audit("web", "move", user="Bob", t=time.time() - 5 * 3600)     # Bob moved it 5 h ago
    with running_sim(data) as url:
        yield url, data


@pytest.fixture(scope="module")
def ada(browser, desk):
    url, _data = desk
    with signed_in_phone(browser, url, "Ada", PINS["Ada"]) as page:
        yield page


def _goal_attr(value: float | None) -> str:
    """How a page writes a goal into data-goal-min: whole minutes, or empty for no goal today."""
    return "" if value is None else str(int(value))


# ------------------------------------------------------------------------------------------ item 1

@pytest.mark.parametrize("name", list(PEOPLE))
def test_the_same_goal_on_every_page_the_cli_and_the_api(browser, desk, ada, name) -> None:
    url, data = desk
    want = expected_goal(name)
    assert api(ada, url, "POST", f"/users/{name}/activate").ok        # they are the one at the desk now
    ctx = phone(browser)
    page = ctx.new_page()
    try:
        sign_in(page, url, name, PINS[name])
        home = page.get_by_test_id("home-goal")
        expect(home).to_have_attribute("data-goal-min", _goal_attr(want))
        tail = f" of {want:.0f} min goal$" if want is not None else ", no standing goal today$"
        expect(home).to_have_text(re.compile(r"^Standing today: \d+ min" + tail))
        page.goto(url + "/reminders")
        standing = page.get_by_test_id("reminders-standing")
        expect(standing).to_have_attribute("data-goal-min", _goal_attr(want))
        expect(standing).not_to_have_text("–")
        page.goto(url + "/stats")
        today = page.get_by_test_id("stats-goal-today")
        expect(today).not_to_have_text("Loading…")
        expect(today).to_have_attribute("data-goal-min", _goal_attr(want))
        from_api = page.request.get(f"{url}/api/v1/stats?days=1").json()
        from_cli = json.loads(deskpi("stats", "--user", name, "--days", "1", "--json", data_dir=data))
    finally:
        ctx.close()
    for report in (from_api, from_cli):
        day = report["users"][name]["days"][-1]
        assert day["date"] == TODAY.isoformat() and day["standing_goal_min"] == want, (name, report["users"])


#: Runs in the page (after live_module): hands live.js a reminder snapshot, as the feed would, and reads
#: the home line at once (a reply to the page's own requests may replace the snapshot a moment later).
TAKE_SNAPSHOT_JS = """(snap) => {
  deskpiLive.takeReminder(snap);
  const line = document.querySelector('[data-testid=home-goal]');
  return [line.dataset.goalMin, line.textContent];
}"""


def test_a_goal_still_about_the_previous_person_is_not_shown_as_the_newcomers(browser, desk, ada) -> None:
    """For up to a second after someone else comes to the desk, the server's reminders are still the
    previous person's: such a snapshot reaching Nia's phone after the state that names her must not put
    Ada's goal (80 min) on her home page. Her own (60 min) comes back with the next snapshot."""
    url, _data = desk
    assert api(ada, url, "POST", "/users/Nia/activate").ok
    with signed_in_phone(browser, url, "Nia", PINS["Nia"]) as page:
        expect(page.get_by_test_id("home-goal")).to_have_attribute("data-goal-min", "60")
        live_module(page)
        adas = {"user": "Ada", "reminder": None, "status": {"goal_min": 80, "standing_min": 0}}
        assert page.evaluate(TAKE_SNAPSHOT_JS, adas) == ["", ""]
        nobodys = {**adas, "user": None}
        assert page.evaluate(TAKE_SNAPSHOT_JS, nobodys) == ["", ""]
        nias = {**adas, "user": "nia", "status": {"goal_min": 60, "standing_min": 0}}   # names ignore case
        assert page.evaluate(TAKE_SNAPSHOT_JS, nias) == ["60", "Standing today: 0 min of 60 min goal"]


def test_a_reply_older_than_what_the_live_feed_brought_does_not_replace_it(browser, desk, ada) -> None:
    """The page asks for the reminder; before the answer comes, the live feed brings a newer snapshot
    (the server moved on to the person now at the desk). The answer, computed before that, must not put
    the older goal back and leave the page on it: nothing new would come to correct it."""
    url, _data = desk
    assert api(ada, url, "POST", "/users/Nia/activate").ok
    with signed_in_phone(browser, url, "Nia", PINS["Nia"]) as page:
        line = page.get_by_test_id("home-goal")
        expect(line).to_have_attribute("data-goal-min", "60")
        live_module(page)
        reply = hold_next(page, "**/api/v1/reminder", "() => { window.deskpiReply = deskpiLive.refreshReminder(); }")
        fresh = {"user": "Nia", "reminder": None, "status": {"goal_min": 60, "standing_min": 7}}
        assert page.evaluate(TAKE_SNAPSHOT_JS, fresh) == ["60", "Standing today: 7 min of 60 min goal"]
        older = {"user": "Nia", "reminder": None, "status": {"goal_min": 1, "standing_min": 0}}
        reply.fulfill(status=200, content_type="application/json", body=json.dumps(older))
        page.evaluate("() => window.deskpiReply")             # the answer has been read and judged
        expect(line).to_have_text("Standing today: 7 min of 60 min goal")
        expect(line).to_have_attribute("data-goal-min", "60")


def _whole(minutes: float) -> int:
    """Whole minutes as the pages and `deskpi stats` show them: halves up."""
    return int(minutes + 0.5)


def _minutes_attr(page, testid: str) -> float | None:
    value = page.get_by_test_id(testid).get_attribute("data-standing-min")
    return float(value) if value else None


def test_the_same_standing_minutes_and_goal_everywhere_after_standing_a_while(browser, desk) -> None:
    """Tia claims the desk, stands at her standing height for half a minute or more, and sits again:
    her standing minutes and goal of today read the same on the home, reminders and statistics pages,
    in `deskpi stats` (JSON and text) and from the statistics and reminder APIs."""
    url, data = desk
    goal = Plan.from_dict(TIA_PLAN).standing_goal_min(TODAY, TODAY - dt.timedelta(days=2))
    ctx = phone(browser)
    page = ctx.new_page()

    def today() -> dict:
        return page.request.get(f"{url}/api/v1/stats?days=1").json()["users"]["Tia"]["days"][-1]

    def at_rest(lo: float, hi: float):
        return lambda: (s := state(url))["state"] == "idle" and lo <= s["height_mm"] <= hi

    try:
        sign_in(page, url, "Tia", PINS["Tia"])
        claim(page)                                                  # she is the one at the desk now
        no_fault(page)
        assert api(page, url, "POST", "/move", {"target_mm": 1100}).status == 202
        poll("the desk up at Tia's standing height", at_rest(1080, 1120), timeout=90)
        poll("half a minute of standing counted", lambda: today()["standing_min"] >= 0.5, timeout=120)
        assert api(page, url, "POST", "/move", {"target_mm": 700}).status == 202
        poll("the desk down at Tia's seated height", at_rest(680, 720), timeout=90)
        stood = poll("the standing minutes settled", lambda: (a := today()["standing_min"]) == today()["standing_min"]
                     and a, timeout=10)
        assert today()["standing_goal_min"] == goal

        status = poll("the reminder status caught up",
                      lambda: (st := page.request.get(f"{url}/api/v1/reminder").json()["status"])["standing_min"]
                      == stood and st, timeout=10)
        assert status["goal_min"] == goal and status["date"] == TODAY.isoformat()
        assert status["posture_changes"] == today()["posture_changes"] >= 2                 # up and down again

        page.goto(url + "/")
        poll("the home line's minutes", lambda: _minutes_attr(page, "home-goal") == stood, timeout=10)
        expect(page.get_by_test_id("home-goal")).to_have_text(
            f"Standing today: {_whole(stood)} min of {goal:.0f} min goal")
        expect(page.get_by_test_id("home-goal")).to_have_attribute("data-goal-min", _goal_attr(goal))

        page.goto(url + "/reminders")
        poll("the reminders page's minutes", lambda: _minutes_attr(page, "reminders-standing") == stood, timeout=10)
        expect(page.get_by_test_id("reminders-standing")).to_have_text(f"{_whole(stood)} min of {goal:.0f} min goal")

        page.goto(url + "/stats")
        expect(page.get_by_test_id("stats-goal-today")).not_to_have_text("Loading…")
        assert _minutes_attr(page, "stats-goal-today") == stood
        expect(page.get_by_test_id("stats-goal-today")).to_have_text(
            f"Today: {_whole(stood)} min of {goal:.0f} min standing")
        expect(page.locator('[data-k="today"]')).to_have_text(str(_whole(stood)))
        week = page.get_by_test_id("stats-goal-week")
        week_goal = Plan.from_dict(TIA_PLAN).week_goal_min(
            [TODAY - dt.timedelta(days=TODAY.weekday() - k) for k in range(7)], TODAY - dt.timedelta(days=2))
        expect(week).to_have_attribute("data-goal-min", _goal_attr(week_goal))
        expect(week).to_contain_text(f"of the week's {week_goal:.0f} min goal")

        from_cli = json.loads(deskpi("stats", "--user", "Tia", "--days", "1", "--json", data_dir=data))
        text = deskpi("stats", "--user", "Tia", "--days", "1", data_dir=data)
    finally:
        api(page, url, "DELETE", "/claim")
        ctx.close()
    day = from_cli["users"]["Tia"]["days"][-1]
    assert (day["date"], day["standing_min"], day["standing_goal_min"]) == (TODAY.isoformat(), stood, goal)
    row = next(line.split() for line in text.splitlines() if line.strip().startswith(TODAY.isoformat()))
    assert int(row[2]) == _whole(stood) and int(row[-1]) == int(goal), text     # the stand and goal columns


def test_someone_not_at_the_desk_sees_no_goal_of_the_persons_who_is(browser, desk, ada) -> None:
    url, _data = desk
    assert api(ada, url, "POST", "/users/Nia/activate").ok
    with signed_in_phone(browser, url, "Cy", PINS["Cy"]) as page:
        expect(page.get_by_test_id("home-goal")).to_have_text("")
        expect(page.get_by_test_id("home-goal")).to_have_attribute("data-goal-min", "")


# ------------------------------------------------------------------------------------------ item 2

def test_weeks_on_the_statistics_page_read_as_dates(ada, desk) -> None:
    url, _data = desk
    ada.goto(url + "/stats")
    week = ada.get_by_test_id("stats-goal-week")
    expect(week).to_have_text(re.compile(r"^This week \("))
    text = week.inner_text()
    assert not re.search(r"\d{4}-W\d{2}", text), text
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    for day in {monday, TODAY}:                                   # the week so far: Monday to today
        assert re.search(rf"\b{day.day}\b", text), text
    expect(ada.locator('[data-testid="stats-weeks"] svg')).to_be_visible()
    titles = ada.locator('[data-testid="stats-weeks"] svg g > title').all_text_contents()
    assert titles and not any(re.search(r"\d{4}-W\d{2}", t) for t in titles), titles


# ------------------------------------------------------------------------------------------ item 9

def test_the_admin_sees_when_each_person_last_used_the_desk(ada, desk) -> None:
    url, _data = desk
    ada.goto(url + "/")
    ada.get_by_test_id("btn-stop").click()                        # a stop is using the desk too (audited)
    ada.goto(url + "/admin")
    expect(ada.get_by_test_id("admin-last-used-Bob")).to_have_text(re.compile(r"^Last used the desk 5 h ago"))
    expect(ada.get_by_test_id("admin-last-used-Cleo")).to_have_text("Has not used the desk yet")

    def ada_used_it():
        people = ada.request.get(f"{url}/api/v1/users").json()
        return next(u for u in people if u["name"] == "Ada")["last_used_at"]

    poll("Ada's stop in the audit trail", ada_used_it, timeout=15)      # written by the recorder's thread
    ada.reload()
    expect(ada.get_by_test_id("admin-last-used-Ada")).to_have_text(re.compile(r"^Last used the desk just now"))
    for testid in ("admin-toggle-Bob", "admin-remove-Bob"):         # what was there stays
        expect(ada.get_by_test_id(testid)).to_be_visible()


def test_the_admin_resets_a_pin_shown_once_and_the_person_is_signed_out(browser, desk, ada) -> None:
    url, _data = desk
    bob_ctx = phone(browser)
    bob = bob_ctx.new_page()
    try:
        sign_in(bob, url, "Bob", PINS["Bob"])
        ada.goto(url + "/admin")
        reset = ada.get_by_test_id("admin-reset-pin-Bob")
        reset.click()
        expect(reset).to_have_text(re.compile("Tap again"))          # a second, deliberate tap
        reset.click()
        shown = ada.get_by_test_id("admin-new-pin-Bob")
        expect(shown).to_have_text(re.compile(r"^\d{6}$"))
        pin = shown.inner_text()
        expect(ada.get_by_test_id("message")).to_have_text("Bob has a new PIN")
        bob.reload()
        expect(bob.get_by_test_id("login-name")).to_be_visible()      # signed out on his phone
        sign_in(bob, url, "Bob", pin)
        ada.get_by_test_id("admin-new-pin-done-Bob").click()
        expect(ada.get_by_test_id("admin-new-pin-Bob")).to_have_count(0)
        ada.reload()
        expect(ada.get_by_test_id("admin-last-used-Bob")).to_be_visible()
        assert pin not in ada.content()                               # shown once
    finally:
        bob_ctx.close()


def test_the_admin_renames_a_person_by_the_name_rules(ada, desk) -> None:
    url, data = desk
    ada.goto(url + "/admin")
    ada.get_by_test_id("admin-rename-Cleo").click()
    name_input = ada.get_by_test_id("admin-rename-input-Cleo")
    expect(name_input).to_be_focused()
    name_input.fill("ＢＯＢ")                                        # full-width: reads as Bob
    ada.get_by_test_id("admin-rename-save-Cleo").click()
    message = ada.get_by_test_id("message")
    expect(message).to_have_text(re.compile(r"already taken by 'Bob'.*case-insensitive"))
    assert not re.search(r"/api/|\bPOST\b|new_name", message.inner_text())
    expect(name_input).to_be_visible()                              # the form stays for another try
    name_input.fill("Clementine")
    ada.get_by_test_id("admin-rename-save-Cleo").click()
    expect(message).to_have_text("Cleo is now called Clementine")
    expect(ada.get_by_test_id("admin-rename-Clementine")).to_be_visible()
    expect(ada.get_by_test_id("admin-users")).not_to_contain_text("Cleo")
    listed = json.loads(deskpi("user", "list", "--json", data_dir=data))
    assert "Clementine" in [u["name"] for u in listed]


def test_what_the_admin_page_adds_is_big_enough_to_tap(ada, desk) -> None:
    url, _data = desk
    ada.goto(url + "/admin")

    def big_enough(*testids: str) -> None:
        for testid in testids:
            target = ada.get_by_test_id(testid)
            expect(target).to_be_visible()
            box = target.bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44, (testid, box)

    big_enough("admin-rename-Bob", "admin-reset-pin-Bob", "admin-rename-Ada")
    ada.get_by_test_id("admin-rename-Bob").click()
    big_enough("admin-rename-input-Bob", "admin-rename-save-Bob", "admin-rename-cancel-Bob")
    ada.get_by_test_id("admin-rename-cancel-Bob").click()
    expect(ada.get_by_test_id("admin-rename-form-Bob")).to_have_count(0)
