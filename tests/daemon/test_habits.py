"""The habit adapter: the pure policy fired on a fake clock, with a real store and a recording desk."""
from __future__ import annotations

import datetime as dt

import pytest
from helpers import running_sim_daemon, signed_in

from deskpi.core.habits.habit_state import PolicyError
from deskpi.core.types import Caller, Source
from deskpi.daemon.habits import HabitService
from deskpi.store import Store


class WallClock:
    def __init__(self, t: dt.datetime) -> None:
        self.t = t
        self.mono = 1000.0

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, minutes: float) -> None:
        self.t += dt.timedelta(minutes=minutes)
        self.mono += minutes * 60


class FakeScheduler:
    def __init__(self) -> None:
        self.jobs: list[dict] = []

    def start(self) -> None:
        pass

    def shutdown(self, wait: bool = False) -> None:
        pass

    def add_job(self, fn, trigger=None, **kw):
        self.jobs.append({"fn": fn, "trigger": trigger, **kw})
        if trigger is None:            # deferred work runs at once in tests
            fn(*kw.get("args", ()))


class Presets:
    def all(self):
        return {1: 700.0, 2: 1120.0, 3: None, 4: None}


class Desk:
    def __init__(self) -> None:
        self.moves: list[tuple[float, Source, str]] = []
        self.presets = Presets()

    def move_to(self, target, source, detail=""):
        self.moves.append((target, source, detail))


@pytest.fixture
def rig(tmp_path):
    store = Store.open(tmp_path / "deskpi.db")
    store.add_user("Ada", seated_mm=700, standing_mm=1120)
    store.set_active_user("Ada")
    clock = WallClock(dt.datetime(2026, 11, 23, 9, 0))         # a Monday
    synced = {"ok": True}
    sched = FakeScheduler()
    desk = Desk()

    def make():
        return HabitService(store, desk, scheduler=sched, wall=clock, mono=lambda: clock.mono,
                            clock_synced=lambda: synced["ok"], start_date=dt.date(2026, 10, 19))

    habits = make()
    habits.start()
    habits.on_height(700.0)
    yield habits, clock, desk, store, synced, make, sched
    habits.close()
    store.close()


def run_until_prompt(habits, clock, limit_min=120):
    for _ in range(limit_min):
        clock.advance(1)
        habits.tick()
        if habits.current is not None:
            return habits.current
    raise AssertionError("no prompt within the limit")


def test_a_stand_prompt_is_shown_recorded_and_a_confirm_moves_the_desk(rig):
    habits, clock, desk, store, *_ = rig
    prompt = run_until_prompt(habits, clock)
    assert prompt["kind"] == "stand" and prompt["target"] == "stand"
    assert [r.kind for r in store.list_reminders(user="Ada")] == ["stand"]
    habits.outcome("confirm", prompt["id"])
    assert desk.moves == [(1120.0, Source.REMOTE, "habit: stand")]
    assert habits.current is None
    assert store.list_reminders(user="Ada")[0].outcome == "confirmed"


def test_snooze_once_then_skip_is_recorded(rig):
    habits, clock, desk, store, *_ = rig
    prompt = run_until_prompt(habits, clock)
    habits.outcome("snooze", prompt["id"])
    assert habits.current is None
    again = run_until_prompt(habits, clock, limit_min=10)
    assert again["id"] == prompt["id"], "the snoozed reminder comes back, not a new one"
    with pytest.raises(PolicyError, match="one snooze"):
        habits.outcome("snooze", again["id"])
    habits.outcome("skip", again["id"])
    assert desk.moves == []
    assert store.list_reminders(user="Ada")[0].outcome == "skipped"


def test_nothing_is_prompted_before_the_clock_is_synchronised(rig):
    habits, clock, desk, store, synced, *_ = rig
    synced["ok"] = False
    for _ in range(90):
        clock.advance(1)
        habits.tick()
    assert habits.current is None and store.list_reminders() == []
    synced["ok"] = True
    assert run_until_prompt(habits, clock)["kind"] == "stand"


def test_the_live_reminder_survives_a_restart_without_being_recorded_twice(rig):
    habits, clock, desk, store, synced, make, _ = rig
    prompt = run_until_prompt(habits, clock)
    habits.close()
    again = make()
    assert again.current is not None and again.current["id"] == prompt["id"]
    again.outcome("confirm", prompt["id"])
    assert len(store.list_reminders(user="Ada")) == 1
    assert store.list_reminders(user="Ada")[0].outcome == "confirmed"


def test_a_reminder_saved_for_someone_else_ends_when_the_desk_comes_back_up(rig):
    """Ada's live reminder was saved; while the daemon was down Nia signed in at the desk. After the restart
    it is not shown to Nia as hers: it ends as it does when someone else sits down, recorded once."""
    habits, clock, desk, store, synced, make, _ = rig
    store.add_user("Nia", seated_mm=680, standing_mm=1090)
    prompt = run_until_prompt(habits, clock)
    habits.close()
    store.set_active_user("Nia")
    again = make()
    assert again.current is None
    assert [r.outcome for r in store.list_reminders(user="Ada")] == ["expired"]
    with pytest.raises(PolicyError):
        again.outcome("confirm", prompt["id"])
    again.start()
    assert again.snapshot()["user"] == "Nia" and again.snapshot()["reminder"] is None and desk.moves == []
    again.close()


def test_a_state_saved_before_it_said_whose_it_was_keeps_its_reminder(rig):
    habits, clock, desk, store, synced, make, _ = rig
    prompt = run_until_prompt(habits, clock)
    habits.close()
    import json

    from deskpi.daemon.habits import STATE_KEY
    saved = json.loads(store.get_setting(STATE_KEY))
    assert saved.pop("person") == "Ada"
    store.set_setting(STATE_KEY, json.dumps(saved))
    again = make()
    assert again.current is not None and again.current["id"] == prompt["id"]
    again.close()


def test_the_scheduler_is_asked_to_wake_at_the_policy_time_at_the_latest_a_minute_on(rig):
    habits, clock, *_, sched = rig
    dated = [j for j in sched.jobs if j["trigger"] == "date"]
    assert dated and dated[-1]["id"] == "habits" and dated[-1]["replace_existing"]
    assert clock.t <= dated[-1]["run_date"] <= clock.t + dt.timedelta(seconds=60)


def test_a_fault_cancels_a_confirmed_move(rig):
    habits, clock, desk, store, *_ = rig
    prompt = run_until_prompt(habits, clock)
    habits.on_fault(True)
    habits.outcome("confirm", prompt["id"])
    assert desk.moves == []


class CallerDesk(Desk):
    """The desk as the web app drives it: a move names who asked."""

    def move_to(self, target, source, detail="", *, by=None):
        self.moves.append((target, source, detail))
        self.by = by


def run_until_kind(habits, clock, kinds, limit_min=120):
    for _ in range(limit_min):
        prompt = run_until_prompt(habits, clock, limit_min)
        if prompt["kind"] in kinds:
            return prompt
        habits.outcome("skip", prompt["id"])
    raise AssertionError(f"no {kinds} reminder")


def test_done_records_the_reminder_and_moves_nothing(rig):
    """Issue 12: the page's Done (move=False) never moves the desk, even for a stand prompt."""
    habits, clock, desk, store, *_ = rig
    prompt = run_until_prompt(habits, clock)
    assert prompt["kind"] == "stand" and habits.snapshot()["reminder"]["target_mm"] == 1120.0
    answer = habits.outcome("confirm", prompt["id"], move=False)
    assert desk.moves == [] and answer["reminder"] is None and answer["target_mm"] is None
    assert habits.current is None and habits.snapshot()["reminder"] is None
    assert store.list_reminders(user="Ada")[0].outcome == "confirmed"


def test_the_labelled_move_goes_to_the_persons_height_and_names_them(rig):
    habits, clock, _, store, _, _, sched = rig
    desk = CallerDesk()
    habits.desk = desk
    prompt = run_until_prompt(habits, clock)
    who = Caller("web", user="Ada", remote="10.0.0.7", via="session")
    answer = habits.outcome("confirm", prompt["id"], move=True, by=who)
    assert desk.moves == [(1120.0, Source.REMOTE, "reminder: stand")] and desk.by == who
    assert answer["target_mm"] == 1120.0 and answer["reminder"] is None
    assert store.list_reminders(user="Ada")[0].outcome == "confirmed"


def test_a_move_only_goes_with_confirm_and_a_posture(rig):
    habits, clock, desk, *_ = rig
    prompt = run_until_prompt(habits, clock)
    with pytest.raises(PolicyError, match="goes with 'confirm'"):
        habits.outcome("snooze", prompt["id"], move=True)
    assert habits.current is not None and desk.moves == []          # refused: nothing answered
    habits.on_fault(True)                                           # a break without a posture change
    habits.outcome("skip", prompt["id"])
    brk = run_until_prompt(habits, clock)
    assert brk["target"] is None
    with pytest.raises(PolicyError, match="no height to move to"):
        habits.outcome("confirm", brk["id"], move=True)
    assert desk.moves == []


def test_remind_me_when_back_asks_to_sit_when_the_break_is_over(rig):
    habits, clock, desk, *_ = rig
    desk.moves.clear()
    habits.on_height(1120.0)                                        # standing
    brk = run_until_kind(habits, clock, ("move", "stretch"))
    assert brk["target"] == "sit" and brk["minutes"] == 2
    habits.outcome("confirm", brk["id"], move=False, when_back=True)
    assert desk.moves == [] and habits.current is None
    clock.advance(1)
    habits.tick()
    assert habits.current is None                                   # still on the walk
    again = run_until_prompt(habits, clock, limit_min=3)
    assert (again["kind"], again["target"]) == ("sit", "sit")
    assert desk.moves == []


def test_a_fault_saved_before_a_restart_is_dropped_when_the_desk_has_none(rig):
    habits, clock, desk, store, synced, make, _ = rig
    habits.on_fault(True)
    habits.close()
    desk.snapshot = lambda: {"fault": None}
    again = make()
    assert again.state.fault
    again.start()
    assert not again.state.fault
    assert run_until_prompt(again, clock)["target"] == "stand"


def test_reminder_api_on_the_simulated_daemon(tmp_path):
    from deskpi.webapp.app import create_app

    with running_sim_daemon(tmp_path, seed=3) as d:
        client = signed_in(create_app(d.parts.service), name="Facilities")
        r = client.get("/api/v1/reminder")
        assert r.status_code == 200 and r.json["status"]["mode"] == "confirm" and "reminder" in r.json
        if r.json["reminder"] is not None:
            # The simulator runs on the real clock: in working hours a reminder may already be due.
            assert client.post("/api/v1/reminder/skip", json={"id": r.json["reminder"]["id"]}).status_code == 200
        r = client.post("/api/v1/reminder/confirm", json={})
        assert r.status_code == 409 and "no reminder is live" in r.json["error"]
        r = client.post("/api/v1/reminder/dance", json={})
        assert r.status_code == 404 and "confirm, acknowledge, snooze, skip" in r.json["error"]
        r = client.post("/api/v1/reminder/skip", json={"id": 7})
        assert r.status_code == 400
        r = client.post("/api/v1/reminders/pause-today", json={"paused": "yes"})
        assert r.status_code == 400
        r = client.post("/api/v1/reminders/pause-today", json={"paused": True})
        assert r.status_code == 200 and client.get("/api/v1/reminder").json["status"]["paused_today"] is True


def test_people_api_on_the_simulated_daemon(tmp_path):
    from deskpi.webapp.app import create_app

    with running_sim_daemon(tmp_path, seed=4) as d:
        d.parts.store.add_user("Ada", stature_cm=175, seated_mm=660, standing_mm=1098)
        d.parts.store.add_user("Bo<b>")
        client = signed_in(create_app(d.parts.service), name="Facilities")
        names = [u["name"] for u in client.get("/api/v1/users").json]
        assert names == ["Ada", "Bo<b>", "Facilities"] and "pin_hash" not in str(client.get("/api/v1/users").json)
        assert client.post("/api/v1/users/Ada/activate").status_code == 200
        ada = client.get("/api/v1/users/Ada").json
        assert ada["active"] is True and ada["presets"][1]["height_mm"] == 1098
        assert client.get("/api/v1/users/Nobody").status_code == 404
        e = client.get("/api/v1/ergonomics?stature_cm=175&shoe_mm=25").json
        assert (e["sit_mm"], e["stand_mm"]) == (657, 1092)
        r = client.get("/api/v1/ergonomics?stature_cm=20")
        assert r.status_code == 422 and "100" in r.json["error"]
        assert client.get("/api/v1/ergonomics").status_code == 400
        st = client.get("/api/v1/stats?days=3&user=Ada")
        assert st.status_code == 200 and "Ada" in st.json["users"]
        assert client.get("/api/v1/stats?days=0").status_code == 422
        assert client.get("/api/v1/stats?days=x").status_code == 400
        assert client.get("/api/v1/stats?user=Nobody").status_code == 404


def test_plans_per_user_through_the_api_and_the_habits_follow_the_active_user(tmp_path):
    store = Store.open(tmp_path / "deskpi.db")
    try:
        store.add_user("Ada", seated_mm=700, standing_mm=1120)
        store.add_user("Bo", seated_mm=680, standing_mm=1080)
        store.set_active_user("Ada")
        from deskpi.people.accounts import set_plan
        set_plan(store, "Bo", {"kind": "cornell"})
        clock = WallClock(dt.datetime(2026, 11, 23, 9, 0))
        habits = HabitService(store, Desk(), scheduler=FakeScheduler(), wall=clock, mono=lambda: clock.mono,
                              clock_synced=lambda: True)
        assert habits.policy.plan.kind == "default"
        store.set_active_user("Bo")
        habits.tick()
        assert habits.policy.plan.kind == "cornell" and habits.policy.plan.sit_min == 20
        with pytest.raises(ValueError, match="sit_min"):
            set_plan(store, "Bo", {"kind": "custom", "sit_min": 0})
        assert store.get_plan("Bo").kind == "cornell", "an invalid plan writes nothing"
    finally:
        store.close()


def test_plan_api(tmp_path):
    from deskpi.webapp.app import create_app

    with running_sim_daemon(tmp_path, seed=5) as d:
        d.parts.store.add_user("Ada")
        client = signed_in(create_app(d.parts.service), name="Facilities")
        r = client.get("/api/v1/users/Ada/plan")
        assert r.status_code == 200 and r.json["source"] == "default" and r.json["plan"]["sit_min"] == 30
        r = client.put("/api/v1/users/Ada/plan", json={"kind": "custom", "sit_min": 45, "stand_min": 15})
        assert r.status_code == 200 and r.json["plan"]["sit_min"] == 45
        r = client.put("/api/v1/users/Ada/plan", json={"kind": "custom", "stand_min": 600})
        assert r.status_code == 422 and "stand_min" in r.json["error"]
        assert client.get("/api/v1/users/Ada/plan").json["plan"]["sit_min"] == 45
        assert client.put("/api/v1/users/Nobody/plan", json={"kind": "cornell"}).status_code == 404


def test_a_pir_sensor_reports_presence_to_the_habits(tmp_path):
    from helpers import wait_until

    from deskpi.config import from_mapping
    from deskpi.daemon.root import Daemon

    settings = from_mapping({"habits": {"pir_pin": 4, "auto_moves_allowed": True}})
    d = Daemon(settings, sim=True, data_dir=tmp_path, seed=6)
    d.start()
    try:
        habits = d.parts.habits
        assert habits.policy.auto_allowed is True
        pin = d.parts.factory.pin(4)
        wait_until(lambda: habits.state.pir, what="the PIR's state at start")
        pin.drive_high()
        wait_until(lambda: habits.state.present is True, what="presence from the PIR")
        pin.drive_low()
        wait_until(lambda: habits.state.present is False, what="absence from the PIR")
    finally:
        d.shutdown()


def test_the_pir_pin_takes_part_in_the_pin_checks():
    from deskpi.config import ConfigError, from_mapping
    with pytest.raises(ConfigError, match="GPIO17 is used twice"):
        from_mapping({"habits": {"pir_pin": 17}})


def test_changing_posture_with_the_desk_buttons_answers_the_prompt(rig):
    habits, clock, desk, store, *_ = rig
    assert run_until_prompt(habits, clock)["target"] == "stand"
    clock.advance(1)
    habits.on_height(1120.0)                     # the person pressed the stand preset on the desk
    assert habits.current is None
    assert store.list_reminders(user="Ada")[0].outcome == "confirmed"
    assert desk.moves == [], "the desk was moved by the person, not by the reminder"


def test_people_can_be_added_and_profiles_edited_through_the_api(tmp_path):
    from deskpi.people.passwords import verify_secret
    from deskpi.webapp.app import create_app

    with running_sim_daemon(tmp_path, seed=8) as d:
        client = signed_in(create_app(d.parts.service), name="Facilities")
        r = client.post("/api/v1/users", json={"name": "Ada", "stature_cm": 175, "pin": "4711"})
        assert r.status_code == 201, r.json
        assert (r.json["seated_mm"], r.json["standing_mm"]) == (660, 1098)
        assert not r.json["owner"] and r.json["has_pin"] and "4711" not in str(r.json)   # Facilities came first
        assert verify_secret("4711", d.parts.store.get_user("Ada").pin_hash)
        for body, status, fragment in (({"name": "ada"}, 422, "name"), ({"name": 5}, 400, "name"),
                                       ({"name": "Cy", "stature_cm": "tall"}, 400, "stature_cm"),
                                       ({"name": "Cy", "stature_cm": 20}, 422, "100"),
                                       ({"name": "Cy", "pin": "12"}, 422, "pin"),
                                       ({"name": "Cy", "colour": "red"}, 400, "colour")):
            r = client.post("/api/v1/users", json=body)
            assert r.status_code == status and fragment in r.json["error"], (body, r.json)
        assert [u["name"] for u in client.get("/api/v1/users").json] == ["Ada", "Facilities"], "refusals wrote nothing"
        r = client.patch("/api/v1/users/Ada", json={"stature_cm": 182})
        assert r.status_code == 200 and r.json["standing_mm"] > 1098
        r = client.patch("/api/v1/users/Ada", json={"seated_mm": 5000})
        assert r.status_code == 422 and "seated_mm" in r.json["error"]
        assert client.patch("/api/v1/users/Ada", json={}).status_code == 400


def test_reminders_carry_on_unrecorded_on_a_full_disk_without_a_traceback(rig, caplog):
    """SQLite made full for real (max_page_count at the file's size, the reminder table and the settings
    filled): the prompt still shows, a confirm still moves the desk, nothing is logged with a traceback."""
    import logging

    from deskpi.util.storage import StorageFull

    habits, clock, desk, store, *_ = rig
    store.db.execute("PRAGMA max_page_count = 1")
    for write in (lambda n: store.record_reminder("Ada", "stand", 1_700_000_000.0 + n),
                  lambda n: store.set_setting(f"fill.{n}", "x" * 4000),
                  lambda n: store.set_setting(f"f.{n}", "x")):
        with pytest.raises(StorageFull):
            for n in range(100_000):
                write(n)
    before = len(store.list_reminders(limit=100_000))
    with caplog.at_level(logging.INFO):
        prompt = run_until_prompt(habits, clock)
        habits.outcome("confirm", prompt["id"])
    assert desk.moves == [(1120.0, Source.REMOTE, "habit: stand")]
    assert store.storage.full and len(store.list_reminders(limit=100_000)) == before
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]


def test_someone_else_at_the_desk_ends_the_last_persons_reminder_and_starts_their_own_plan(rig):
    habits, clock, desk, store, *_ = rig
    store.add_user("Nia", seated_mm=680, standing_mm=1090)
    from deskpi.people.accounts import set_plan
    set_plan(store, "Nia", {"kind": "cornell"})          # sit 20 min, stand 8, move 2
    prompt = run_until_prompt(habits, clock)             # Ada's stand prompt, after her plan's sitting block
    store.set_active_user("Nia")
    snap = habits.snapshot()
    assert snap["user"] == "Nia" and snap["reminder"] is None, "Ada's reminder is not shown as Nia's"
    assert store.list_reminders(user="Ada")[0].outcome == "expired"
    assert store.list_reminders(user="Nia") == []
    with pytest.raises(PolicyError):
        habits.outcome("confirm", prompt["id"])             # nobody can answer Ada's reminder now
    assert desk.moves == []
    # Nia's first prompt comes after her own plan's sitting block, counted from when she came.
    came = clock.t
    nia = run_until_prompt(habits, clock)
    assert nia["kind"] == "stand"
    assert dt.timedelta(minutes=19) <= clock.t - came <= dt.timedelta(minutes=21)
    assert [r.kind for r in store.list_reminders(user="Nia")] == ["stand"]


def test_automatic_moves_switched_after_someone_new_sat_down_still_ends_the_last_persons_reminder(rig):
    """The admin's switch rebuilds the policy; it once did so without asking whose it was, so
    Nia, not yet followed, inherited Ada's live stand prompt with the new policy."""
    habits, clock, desk, store, *_ = rig
    store.add_user("Nia", seated_mm=680, standing_mm=1090)
    prompt = run_until_prompt(habits, clock)
    store.set_active_user("Nia")
    flipped = not habits.auto_allowed
    habits.set_auto_allowed(flipped)       # before any tick or page has followed Nia
    assert habits.current is None and habits.auto_allowed is flipped
    assert store.list_reminders(user="Ada")[0].outcome == "expired"
    with pytest.raises(PolicyError):
        habits.outcome("confirm", prompt["id"])
    assert habits.snapshot()["user"] == "Nia" and desk.moves == []


def test_the_same_person_editing_their_plan_keeps_their_live_reminder(rig):
    habits, clock, desk, store, *_ = rig
    prompt = run_until_prompt(habits, clock)
    from deskpi.people.accounts import set_plan
    set_plan(store, "Ada", {"kind": "cornell"})
    habits.tick()
    assert habits.current is not None and habits.current["id"] == prompt["id"]
    assert store.list_reminders(user="Ada")[0].outcome is None


def test_a_busy_store_while_following_someone_new_is_tried_again(rig, monkeypatch):
    habits, clock, desk, store, *_ = rig
    store.add_user("Nia", seated_mm=680, standing_mm=1090)
    from deskpi.people import accounts
    accounts.set_plan(store, "Nia", {"kind": "cornell"})
    real = accounts.plan_for
    busy = {"left": 1}

    def plan_for(*a, **kw):
        if busy["left"]:
            busy["left"] -= 1
            raise OSError("database is locked")
        return real(*a, **kw)

    monkeypatch.setattr(accounts, "plan_for", plan_for)
    store.set_active_user("Nia")
    habits.tick()                      # following Nia fails half-way: Ada's plan must not pass for hers
    assert busy["left"] == 0
    assert habits.snapshot()["user"] == "Nia" and habits.policy.plan.kind == "cornell"
