"""Users, presets, the active user and the owner, and what removing a user takes with it."""
from __future__ import annotations

import pytest

from deskpi.store import Store, StoreError, UnknownUserError

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC
HASH = "scrypt$16384$8$1$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA=="


# ------------------------------------------------------------------------------------------ users

def test_users_add_get_list_rename_update_remove(store: Store) -> None:
    ann = store.add_user("  Ann  ", stature_cm=168, shoe_mm=35, seated_mm=640, standing_mm=1054, units="in",
                         role="admin", pin_hash=HASH, now=T0)
    assert ann.name == "Ann" and ann.units == "in" and ann.is_admin and ann.created_at == T0
    assert HASH not in repr(ann)                                     # the hash stays out of logs
    assert store.get_user("ANN") == ann                              # case-insensitive
    assert store.get_user("nobody") is None
    store.add_user("Émile")
    with pytest.raises(StoreError, match="already taken by 'Émile'"):
        store.add_user("éMILE")                                      # beyond ASCII too
    with pytest.raises(StoreError, match="already taken by 'Ann'"):
        store.add_user("ann")
    assert [u.name for u in store.list_users()] == ["Ann", "Émile"]

    assert store.rename_user("ann", "ANNE").name == "ANNE"
    assert store.rename_user("anne", "Anne").name == "Anne"          # a change of case only
    with pytest.raises(StoreError, match="new_name = 'émile': already taken"):
        store.rename_user("Anne", "émile")
    with pytest.raises(StoreError, match="new_name = ''"):
        store.rename_user("Anne", "")
    with pytest.raises(UnknownUserError, match=r"user = 'Zed': no such user \(users: Anne, Émile\)"):
        store.rename_user("Zed", "Zoe")

    updated = store.update_user("Anne", stature_cm=169.04, pin_hash=None, role="user")
    assert updated.stature_cm == 169.0 and updated.pin_hash is None and not updated.is_admin
    assert updated.id == ann.id and updated.created_at == T0

    store.remove_user("anne")
    assert store.get_user("Anne") is None
    with pytest.raises(UnknownUserError):
        store.remove_user("Anne")


def test_presets_default_to_sit_and_stand(store: Store) -> None:
    store.add_user("Ann", seated_mm=640, standing_mm=1054)
    assert store.get_presets("Ann") == {1: 640.0, 2: 1054.0, 3: None, 4: None}
    assert store.set_preset("Ann", 3, 900.04) == 900.0
    store.set_preset("Ann", 1, 655)
    store.set_preset("Ann", 1, 660)                                 # saving again replaces
    assert store.get_presets("ann") == {1: 660.0, 2: 1054.0, 3: 900.0, 4: None}
    store.update_user("Ann", standing_mm=1070)
    assert store.get_preset("Ann", 2) == 1070.0                      # unsaved slot 2 follows the standing height
    store.clear_preset("Ann", 1)
    assert store.get_preset("Ann", 1) == 640.0
    with pytest.raises(UnknownUserError):
        store.set_preset("Bob", 1, 700)


def test_active_user_and_owner(store: Store) -> None:
    assert store.get_active_user() is None and store.get_owner() is None
    store.add_user("Ann")
    store.add_user("Bob")
    assert store.set_active_user("bob").name == "Bob"
    store.set_owner("Ann")
    assert store.get_active_user().name == "Bob" and store.get_owner().name == "Ann"
    store.rename_user("Bob", "Robert")                               # settings hold ids: a rename keeps them
    assert store.get_active_user().name == "Robert"
    with pytest.raises(UnknownUserError, match="active_user = 'Zed'"):
        store.set_active_user("Zed")
    assert store.get_active_user().name == "Robert"
    store.remove_user("Robert")
    assert store.get_active_user() is None and store.get_owner().name == "Ann"
    assert store.set_owner(None) is None and store.get_owner() is None
    store.set_setting("ui.theme", "dark")
    assert store.get_setting("ui.theme") == "dark"
    store.set_setting("ui.theme", None)
    assert store.get_setting("ui.theme", "light") == "light"
    with pytest.raises(StoreError, match="key = 'active_user_id'"):
        store.set_setting("active_user_id", "1")


def test_removing_a_user_removes_their_data_but_not_the_audit_trail(store: Store) -> None:
    store.add_user("Ann", seated_mm=700, standing_mm=1100)
    store.add_user("Bob")
    store.set_preset("Ann", 3, 800)
    store.set_plan("Ann", {"k": 1})
    store.record_reminder("Ann", "stand", T0)
    store.record_reminder("Bob", "sit", T0)
    store.append_audit("web", "recall", user="Ann", t=T0)
    store.remove_user("Ann")
    conn = store.db.conn
    assert conn.execute("SELECT COUNT(*) FROM presets").fetchone()[0] == 0
    assert conn.execute("SELECT COUNT(*) FROM plans").fetchone()[0] == 0
    assert [r.user for r in store.list_reminders()] == ["Bob"]
    assert [a.user for a in store.list_audit()] == ["Ann"]


def test_active_user_history_is_kept_for_statistics(tmp_path):
    from deskpi.store import Store
    with Store.open(tmp_path / "deskpi.db") as store:
        store.add_user("Ada")
        store.add_user("Bo")
        store.set_active_user("Ada", now=100.0)
        store.set_active_user("Bo", now=200.0)
        store.set_active_user(None, now=300.0)
        assert store.active_user_timeline(150.0, 1000.0) == [(100.0, "Ada"), (200.0, "Bo"), (300.0, None)]
        assert store.active_user_timeline(0.0, 50.0) == []
        store.remove_user("Ada")
        assert store.active_user_timeline(0.0, 150.0)[0] == (100.0, "Ada"), "history outlives the user"


def test_statistics_split_time_between_the_people_who_used_the_desk(tmp_path):
    from zoneinfo import ZoneInfo

    from deskpi.people.accounts import stats_report
    from deskpi.store import Store
    day = 1795420800.0            # 2026-11-23 00:00 UTC (a Monday)
    with Store.open(tmp_path / "deskpi.db") as store:
        store.add_user("Ada", seated_mm=700, standing_mm=1100)
        store.add_user("Bo", seated_mm=700, standing_mm=1100)
        store.set_active_user("Ada", now=day + 9 * 3600)
        store.set_active_user("Bo", now=day + 10 * 3600)
        samples = [(day + 9 * 3600 + m * 60, 700.0 if m < 60 else 1100.0, "sensor") for m in range(0, 120, 5)]
        store.log_heights(samples)
        report = stats_report(store, days=1, zone=ZoneInfo("UTC"), now=day + 11 * 3600)
    ada = report["users"]["Ada"]["days"][0]
    bo = report["users"]["Bo"]["days"][0]
    assert ada["sitting_min"] == pytest.approx(60, abs=1) and ada["standing_min"] == pytest.approx(0, abs=1)
    assert bo["standing_min"] == pytest.approx(55, abs=6) and bo["sitting_min"] == pytest.approx(0, abs=1)


def test_a_rename_carries_the_persons_history_but_not_an_earlier_holder_of_the_name(store: Store) -> None:
    store.append_audit("web", "move", user="Bob", t=T0 - 10)          # someone called Bob before this one
    store.set_active_user(None, now=T0 - 5)
    store.add_user("Bob", now=T0)
    store.set_active_user("Bob", now=T0 + 10)
    store.append_audit("button", "recall", user="Bob", t=T0 + 20)
    store.rename_user("bob", "Robert")
    assert [(e.t, e.user) for e in store.list_audit()] == [(T0 + 20, "Robert"), (T0 - 10, "Bob")]
    assert store.active_user_timeline(T0, T0 + 30) == [(T0 - 5, None), (T0 + 10, "Robert")]
