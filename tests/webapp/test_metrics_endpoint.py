"""GET /metrics (issue 13's contract) around a fake desk: off is 404; on, a metrics token reads it (200, the
text format), none or an unknown one is 401, a person's token 403, and a metrics token does nothing else
(the API answers it 403 and the desk hears nothing); [metrics] allow_localhost lets this machine's own
loopback in without a token, but never a request a proxy forwarded. Every response is counted by code."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from web_fakes import FakeService, app_for, with_store

from deskpi.daemon.metrics import DeskMetrics

#: Words no text a person sees may hold (the house rules).
INTERNAL = ("/api/", "POST", "GET", "DELETE")


@pytest.fixture
def service(tmp_path):
    s = with_store(FakeService(), tmp_path / "deskpi.db")
    s.metrics = DeskMetrics()
    s.store.add_user("Zelda Quist")
    yield s
    s.store.close()


@pytest.fixture
def app(service):
    a = app_for(service)
    yield a
    a.extensions["deskpi.web"].close()


def _get(app, token: str | None = None, **environ):
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return app.test_client().get("/metrics", headers=headers, environ_base=environ)


def _said(resp) -> str:
    message = resp.get_json()["error"]
    assert not any(word in message for word in INTERNAL), message
    return message


def test_a_metrics_token_reads_the_text_format(app, service):
    _, token, _ = service.store.create_metrics_token("prometheus")
    resp = _get(app, token)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert resp.headers["Cache-Control"] == "no-store"
    names = {f.name for f in text_string_to_metric_families(resp.get_data(as_text=True))}
    assert {"deskpi_up", "deskpi_moves", "deskpi_stop_latency_seconds"} <= names


def test_without_a_token_or_with_an_unknown_one_it_is_401(app, service):
    service.store.create_metrics_token("prometheus")
    for resp in (_get(app), _get(app, "dpm_" + "x" * 43), _get(app, "not-a-token")):
        assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="deskpi"'
        assert "metrics token" in _said(resp) or "not valid" in _said(resp)
    basic = app.test_client().get("/metrics", headers={"Authorization": "Basic YWRhOjQ3MTE="})
    assert basic.status_code == 401 and "Bearer TOKEN" in _said(basic)
    assert "deskpi token create prometheus --role metrics" in _said(_get(app))


def test_a_persons_token_is_403(app, service):
    _, token = service.store.create_token("Zelda Quist", "script")
    resp = _get(app, token)
    assert resp.status_code == 403 and "role metrics" in _said(resp)


def test_a_metrics_token_does_nothing_else(app, service):
    _, token, _ = service.store.create_metrics_token("prometheus")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    moved = client.post("/api/v1/move", json={"target_mm": 900}, headers=headers)
    assert moved.status_code == 403 and "metrics token" in moved.get_json()["error"]
    assert client.get("/api/v1/state", headers=headers).status_code == 403
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    assert service.calls == [], "the desk heard nothing"


def test_when_metrics_are_off_it_is_404_whoever_asks(app, service):
    _, token, _ = service.store.create_metrics_token("prometheus")
    service.metrics = None
    resp = _get(app, token)
    assert resp.status_code == 404 and "metrics.enabled" in _said(resp)
    assert _get(app).status_code == 404


def test_metrics_turned_on_but_unavailable_say_why(app, service):
    service.metrics = None
    service.metrics_problem = "[metrics] enabled = true, but the Python package prometheus-client is missing"
    resp = _get(app)
    assert resp.status_code == 503 and "prometheus-client is missing" in _said(resp)


def test_allow_localhost_lets_this_machine_in_without_a_token_but_not_a_forwarded_request(app, service):
    assert _get(app).status_code == 401, "off by default"
    service.metrics.allow_localhost = True
    assert _get(app).status_code == 200                                  # the test client is 127.0.0.1
    assert _get(app, REMOTE_ADDR="::1").status_code == 200
    assert _get(app, REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200
    assert _get(app, REMOTE_ADDR="::ffff:10.0.0.5").status_code == 401
    assert _get(app, REMOTE_ADDR="10.0.0.5").status_code == 401
    forwarded = app.test_client().get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 401
    assert app.test_client().get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 401


def test_every_response_is_counted_by_its_code(app, service):
    _, token, _ = service.store.create_metrics_token("prometheus")
    client = app.test_client()
    client.get("/api/v1/state")
    client.get("/api/v1/nowhere")
    _get(app)
    text = _get(app, token).get_data(as_text=True)
    codes = {s.labels["code"]: s.value for f in text_string_to_metric_families(text)
             if f.name == "deskpi_web_requests" for s in f.samples}
    assert codes["200"] >= 1 and codes["404"] >= 1 and codes["401"] >= 1
    assert "Zelda" not in text
