"""The audit trail: appending and filtering."""
from __future__ import annotations

import pytest

from deskpi.store import Store, StoreError

T0 = 1_700_000_000.0            # a Tuesday in November 2023, 22:13 UTC


# ------------------------------------------------------------------------------------------ audit

def test_audit_append_and_filters(store: Store) -> None:
    store.append_audit("button", "move", detail={"direction": "up"}, t=T0)
    store.append_audit("web", "recall", user="Ann", detail={"slot": 2}, remote="192.168.1.20", t=T0 + 10)
    store.append_audit("schedule", "recall", user="ann", t=T0 + 20)
    store.append_audit("api-token", "stop", user="Émile", remote="10.0.0.7", t=T0 + 30)
    store.append_audit("cli", "clear_fault", user="admin", t=T0 + 40)
    everything = store.list_audit()
    assert [a.t for a in everything] == [T0 + 40, T0 + 30, T0 + 20, T0 + 10, T0]        # newest first
    assert everything[-1].detail == {"direction": "up"} and everything[-1].user is None
    assert everything[-1].remote is None
    assert [a.t for a in store.list_audit(since=T0 + 10)] == [T0 + 40, T0 + 30, T0 + 20, T0 + 10]
    assert [a.t for a in store.list_audit(since=T0, until=T0 + 20)] == [T0 + 10, T0]
    assert [a.source for a in store.list_audit(source="web")] == ["web"]
    assert [a.t for a in store.list_audit(user="ANN")] == [T0 + 20, T0 + 10]
    assert [a.user for a in store.list_audit(user="émile")] == ["Émile"]
    assert [a.t for a in store.list_audit(action="recall", user="Ann", limit=1)] == [T0 + 20]
    assert store.list_audit(source="web", user="admin") == []
    for kwargs, message in [({"source": "phone", "action": "move"}, "source = 'phone': must be one of 'button'"),
                            ({"source": "web", "action": "dance"}, "action = 'dance'"),
                            ({"source": "web", "action": "move", "detail": "up"}, "detail = 'up'"),
                            ({"source": "web", "action": "move", "remote": "1.2.3.4\n"}, "remote = '1.2.3.4\\\\n'"),
                            ({"source": "web", "action": "move", "user": ""}, "user = ''")]:
        with pytest.raises(StoreError, match=message):
            store.append_audit(**kwargs)
    with pytest.raises(StoreError, match="limit = 0"):
        store.list_audit(limit=0)
    with pytest.raises(StoreError, match="source = 'phone'"):
        store.list_audit(source="phone")
    assert len(store.list_audit()) == 5
