"""Metrics tokens in the store (issue 13): they belong to no person, read only /metrics (a person's lookup
never finds one), a fleet's token can be handed in more than once without a second row, there is a cap,
and schema v7 keeps every person's token of an older database, with its id."""
from __future__ import annotations

import hashlib
import sqlite3

import pytest
from sqlite_utils import Database

from deskpi.store import METRICS_TOKENS_MAX, Store, StoreError, TokenLimitError
from deskpi.store.migrations import migrate

HASH = "scrypt$16384$8$1$" + "A" * 22 + "$" + "B" * 43
FLEET = "dpm_" + "0123456789abcdef" * 4


@pytest.fixture
def people(store):
    store.add_user("Ann", pin_hash=HASH)
    return store


def test_a_metrics_token_reads_as_role_metrics_and_never_as_a_person(people):
    token_id, token, created = people.create_metrics_token("prometheus", "fleet")
    assert created and token.startswith("dpm_") and len(token) > 40
    assert people.token_role(token) == "metrics"
    assert people.user_for_token(token) is None
    _, person = people.create_token("Ann", "laptop")
    assert people.token_role(person) == "user"
    assert people.token_role(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert people.token_role("dpm_short") is None and people.token_role(None) is None
    # no person's id points at it, so asking for it by a person's token id finds nothing either
    assert people.user_for_token(f"dpi_{token_id}_{token[4:]}") is None
    row = people.db.execute("SELECT user_id, role, name, label, hash FROM api_tokens WHERE id = ?",
                            [token_id]).fetchone()
    assert row == (None, "metrics", "prometheus", "fleet", hashlib.sha256(token.encode()).hexdigest())


def test_the_fleets_token_handed_in_twice_is_one_token(people):
    first = people.create_metrics_token("prometheus", token=FLEET)
    again = people.create_metrics_token("prometheus", token=FLEET)
    assert first == (first[0], FLEET, True) and again == (first[0], FLEET, False)
    assert [t["id"] for t in people.list_metrics_tokens()] == [first[0]]
    assert people.token_role(FLEET) == "metrics"


@pytest.mark.parametrize("bad", ["dpi_1_" + "a" * 40, "dpm_" + "a" * 31, "dpm_" + "a" * 30 + " b", "dpm_" + "é" * 40,
                                 12345])
def test_a_handed_in_token_of_the_wrong_shape_is_refused_without_repeating_it(people, bad):
    with pytest.raises(StoreError) as exc:
        people.create_metrics_token("prometheus", token=bad)
    assert "dpm_ followed by 32-100" in str(exc.value)
    assert str(bad) not in str(exc.value), "a secret is never repeated back"
    assert people.list_metrics_tokens() == []


def test_a_persons_pin_change_or_removal_leaves_metrics_tokens_alone(people):
    _, token, _ = people.create_metrics_token("prometheus")
    people.update_user("Ann", pin_hash=None)
    people.remove_user("Ann")
    assert people.token_role(token) == "metrics"


def test_metrics_tokens_are_listed_without_secrets_and_revoked_by_id(people):
    a = people.create_metrics_token("prometheus", "old server")[0]
    b = people.create_metrics_token("Grafana Agent")[0]
    listed = people.list_metrics_tokens()
    assert [(t["id"], t["name"], t["label"]) for t in listed] == [(a, "prometheus", "old server"),
                                                                  (b, "Grafana Agent", "")]
    assert all(set(t) == {"id", "name", "label", "created_at", "last_used_at"} for t in listed)
    assert [t["id"] for t in people.list_metrics_tokens("PROMETHEUS")] == [a]
    assert not people.revoke_token(a, user="Ann"), "a person may revoke only their own tokens"
    assert people.revoke_token(a)
    assert [t["id"] for t in people.list_metrics_tokens()] == [b]
    assert people.list_tokens("Ann") == []


def test_a_use_is_noted_at_most_once_a_minute(people):
    token_id, token, _ = people.create_metrics_token("prometheus")
    people.token_role(token, now=1000.0)
    people.token_role(token, now=1030.0)
    assert people.list_metrics_tokens()[0]["last_used_at"] == 1000.0
    people.token_role(token, now=1061.0)
    people.token_role(token, now=2000.0, touch=False)
    assert people.list_metrics_tokens()[0]["last_used_at"] == 1061.0


def test_a_desk_keeps_at_most_the_cap_of_metrics_tokens(people):
    for i in range(METRICS_TOKENS_MAX - 1):
        people.create_metrics_token(f"scraper {i}")
    fleet_id = people.create_metrics_token("prometheus", token=FLEET)[0]
    with pytest.raises(TokenLimitError) as exc:
        people.create_metrics_token("one more")
    assert f"{METRICS_TOKENS_MAX} metrics tokens" in str(exc.value) and "token revoke ID" in str(exc.value)
    assert people.create_metrics_token("prometheus", token=FLEET) == (fleet_id, FLEET, False), \
        "handing in the token it has is no new token, even at the cap"
    assert people.create_token("Ann")[1].startswith("dpi_"), "a person's tokens have a cap of their own"


def test_schema_v7_keeps_every_persons_token_with_its_id(tmp_path):
    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(path))
    migrate(db, target=6)
    db.execute("INSERT INTO users (name, name_key, role, created_at) VALUES ('Ann', 'ann', 'user', 0)")
    secret = "s" * 43
    db.execute("INSERT INTO api_tokens (id, user_id, label, hash, created_at, last_used_at) VALUES (7, 1, 'laptop', ?, "
               "5, 6)", [hashlib.sha256(secret.encode()).hexdigest()])
    db.conn.commit()
    db.conn.close()
    with Store.open(path) as s:
        assert s.user_for_token(f"dpi_7_{secret}", touch=False).name == "Ann"
        assert s.token_role(f"dpi_7_{secret}", touch=False) == "user"
        assert s.list_tokens("Ann") == [{"id": 7, "label": "laptop", "created_at": 5, "last_used_at": 6}]
        assert s.db.execute("SELECT role FROM api_tokens").fetchall() == [("user",)]
        s.remove_user("Ann")                    # a person's tokens still go with them
        assert s.db.execute("SELECT COUNT(*) FROM api_tokens").fetchone() == (0,)
