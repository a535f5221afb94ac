"""Access in the store (issue 11): a PIN change revokes API tokens, a cap on tokens per person,
and device cookies (hashed, bound to their person, a budget of wrong PINs, then forgotten)."""
from __future__ import annotations

import hashlib

import pytest

from deskpi.store import TOKENS_PER_USER, StoreError, TokenLimitError

HASH = "scrypt$16384$8$1$" + "A" * 22 + "$" + "B" * 43
OTHER_HASH = "scrypt$16384$8$1$" + "C" * 22 + "$" + "D" * 43


@pytest.fixture
def people(store):
    store.add_user("Ann", pin_hash=HASH)
    store.add_user("Bo", pin_hash=HASH)
    return store


@pytest.mark.parametrize("new_hash", [OTHER_HASH, None], ids=["changed", "cleared"])
def test_a_new_or_cleared_pin_revokes_that_persons_tokens_and_sessions(people, new_hash):
    ann = [people.create_token("Ann", f"t{i}")[1] for i in range(3)]
    bo = people.create_token("Bo", "kept")[1]
    sid = people.create_session("Ann")
    people.update_user("Ann", pin_hash=new_hash)
    assert [people.user_for_token(t) for t in ann] == [None] * 3 and people.list_tokens("Ann") == []
    assert people.user_for_session(sid, max_age_s=3600) is None
    assert people.user_for_token(bo).name == "Bo", "other people's tokens are kept"


def test_other_changes_keep_the_tokens(people):
    _id, token = people.create_token("Ann")
    people.update_user("Ann", stature_cm=170, role="admin")
    assert people.user_for_token(token).name == "Ann"


def test_a_person_may_have_at_most_the_cap_of_live_tokens(people):
    assert TOKENS_PER_USER == 20
    ids = [people.create_token("Ann", f"t{i}")[0] for i in range(TOKENS_PER_USER)]
    with pytest.raises(TokenLimitError) as exc:
        people.create_token("ann", "one more")
    assert isinstance(exc.value, StoreError) and exc.value.cap == TOKENS_PER_USER
    msg = str(exc.value)
    assert "Ann already has 20 API tokens" in msg and "deskpi token list Ann" in msg and "token revoke ID" in msg
    assert len(people.list_tokens("Ann")) == TOKENS_PER_USER, "nothing was added"
    people.create_token("Bo")                                         # the cap is per person
    assert people.revoke_token(ids[0])
    people.create_token("Ann", "now there is room")


def test_device_cookies_are_stored_hashed_and_count_only_for_their_person(people):
    ann, bo = people.get_user("Ann"), people.get_user("Bo")
    cookie = people.create_device("Ann")
    assert cookie.startswith("dpd_")
    rows = people.db.execute("SELECT hash, failures FROM web_devices").fetchall()
    assert rows == [(hashlib.sha256(cookie.encode()).hexdigest(), 0)]
    assert people.device_failures(cookie, ann.id, max_age_s=3600) == 0
    assert people.device_failures(cookie, bo.id, max_age_s=3600) is None
    for junk in (None, 42, "", "dpd_short", cookie + "x", "dpi_1_" + "a" * 43):
        assert people.device_failures(junk, ann.id, max_age_s=3600) is None
        assert people.device_try(junk, ann.id, limit=5) is False
    assert people.device_try(cookie, bo.id, limit=5) is False


def test_a_device_try_is_counted_before_the_check_and_forgotten_at_the_limit(people):
    ann = people.get_user("Ann")
    cookie = people.create_device("Ann")
    assert people.device_try(cookie, ann.id, limit=3)
    people.device_done(cookie, ok=None, limit=3)                      # never checked (busy): not counted
    assert people.device_failures(cookie, ann.id, max_age_s=3600) == 0
    for _ in range(2):
        assert people.device_try(cookie, ann.id, limit=3)
        people.device_done(cookie, ok=False, limit=3)
    assert people.device_try(cookie, ann.id, limit=3)
    people.device_done(cookie, ok=True, limit=3)                      # a right PIN renews the budget
    assert people.device_failures(cookie, ann.id, max_age_s=3600) == 0
    for _ in range(2):
        assert people.device_try(cookie, ann.id, limit=3)
        people.device_done(cookie, ok=False, limit=3)
    assert people.device_try(cookie, ann.id, limit=3)                 # the third try is under way ...
    assert not people.device_try(cookie, ann.id, limit=3), "... so a fourth at once is refused"
    people.device_done(cookie, ok=False, limit=3)
    assert people.device_failures(cookie, ann.id, max_age_s=3600) is None, "forgotten after the third"


def test_old_devices_expire_and_each_person_keeps_their_ten_latest(people):
    ann = people.get_user("Ann")
    old = people.create_device("Ann", now=1000.0)
    assert people.device_failures(old, ann.id, max_age_s=3600, now=1000.0 + 3599) == 0
    assert people.device_failures(old, ann.id, max_age_s=3600, now=1000.0 + 3601) is None
    cookies = [people.create_device("Ann", now=2000.0 + i) for i in range(12)]
    kept = [c for c in cookies if people.device_failures(c, ann.id, max_age_s=1e9, now=3000.0) is not None]
    assert kept == cookies[2:]
    people.remove_user("Ann")
    assert people.db.execute("SELECT COUNT(*) FROM web_devices").fetchone()[0] == 0, "removed with their person"
