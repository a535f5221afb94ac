"""`GET /api/v1/stats/desk`: everyone's statistics at once, for admins, over at most a quarter."""
from __future__ import annotations

API = "/api/v1"


def test_an_admin_sees_everyone_and_the_unassigned_time(sign_in):
    admin = sign_in(name="ada", admin=True)
    sign_in(name="bob", pin="5151", admin=False, claim=False)
    resp = admin.get(f"{API}/stats/desk?days=3")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body["users"]) == {"ada", "bob"} and "unassigned" in body and body["days"] == 3
    mine = admin.get(f"{API}/stats?days=3").get_json()
    assert set(mine["users"]) == {"ada"}
    assert mine["users"]["ada"] == body["users"]["ada"]         # the same numbers either way


def test_only_an_admin_may_ask_for_everyone(sign_in):
    sign_in(name="ada", admin=True)
    bob = sign_in(name="bob", pin="5151", admin=False, claim=False)
    resp = bob.get(f"{API}/stats/desk")
    assert resp.status_code == 403 and "only an admin" in resp.get_json()["error"]
    assert bob.get(f"{API}/stats").status_code == 200


def test_a_window_longer_than_a_quarter_is_refused(sign_in):
    admin = sign_in(name="ada", admin=True)
    resp = admin.get(f"{API}/stats/desk?days=93")
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert "days = 93" in error and "at most 92 days" in error and "deskpi stats --days 93" in error
    assert admin.get(f"{API}/stats/desk?days=92").status_code == 200
    resp = admin.get(f"{API}/stats/desk?days=lots")
    assert resp.status_code == 400 and "lots" in resp.get_json()["error"]


def test_a_window_under_a_day_names_this_reports_own_range(sign_in):
    """It used to say "within 1-400", the per-person range, though this report allows at most 92."""
    admin = sign_in(name="ada", admin=True)
    for days in (0, -3):
        resp = admin.get(f"{API}/stats/desk?days={days}")
        assert resp.status_code == 422
        error = resp.get_json()["error"]
        assert f"days = {days}" in error and "1-92 days" in error and "400" not in error
    assert admin.get(f"{API}/stats/desk?days=1").status_code == 200


def test_the_statistics_bytes_are_what_the_apps_own_json_would_send(sign_in):
    # deskpi.webapp.stats_json encodes shared records once instead of calling jsonify: the bytes must
    # stay those of this app's JSON settings (key order kept, compact, ASCII), names beyond ASCII too.
    from flask import current_app

    admin = sign_in(name="ada", admin=True)
    sign_in(name="Zoë", pin="5151", admin=False, claim=False)
    for path in (f"{API}/stats/desk?days=9", f"{API}/stats?days=9"):
        resp = admin.get(path)
        assert resp.status_code == 200
        with admin.application.app_context():
            assert resp.get_data() == current_app.json.response(resp.get_json()).get_data(), path
