"""Host names, redirects, trusted proxies and HSTS (deskpi.webapp.transport) through the app.

Defect 11 of issue 11: the Host header was reflected in redirects
(``GET /api/v1//state`` with ``Host: evil.example`` answered
``Location: http://evil.example/api/v1/state``), and any Host was answered.
"""
from __future__ import annotations

import socket

import pytest
from flask import jsonify, request
from helpers import signed_in
from web_fakes import FakeService, app_for, with_store

from deskpi.webapp.transport import AllowedHosts, Transport, TrustedProxies, host_name, relative

EVIL = "evil.example"


@pytest.fixture
def make(tmp_path):
    apps = []

    def build(**transport):
        service = with_store(FakeService(), tmp_path / f"deskpi{len(apps)}.db")
        app = app_for(service, transport=Transport(**transport))

        @app.get("/peer")
        def peer():
            return jsonify(addr=request.remote_addr, scheme=request.scheme, host=request.host)

        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["deskpi.web"].close()
        app.extensions["deskpi"].store.close()


@pytest.mark.parametrize("path", ["/api/v1/state", "/", "/login", "/static/app.js", "/api/v1//state", "/nope"])
def test_another_host_name_is_refused_with_400_naming_it_before_anything_else(make, path):
    resp = make().test_client().get(path, headers={"Host": f"{EVIL}:8080"})
    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert repr(EVIL) in error and "allowed_hosts" in error and "deskpi config set" in error
    assert "Location" not in resp.headers


def test_no_redirect_carries_the_host_header_defect_11(make):
    client = make(allowed_hosts=("*",)).test_client()
    for path in ("/api/v1//state", "//login", "/static//app.js", "/static/app.js?v=0000000000"):
        resp = client.get(path, headers={"Host": EVIL})
        assert resp.status_code in (301, 302, 307, 308), (path, resp.status_code)
        location = resp.headers["Location"]
        assert EVIL not in location and location.startswith("/") and not location.startswith("//"), location
    # and with the desk's own name too: a path on this site, whatever the name
    resp = client.get("/api/v1//state", headers={"Host": "localhost:8080"})
    assert resp.headers["Location"] == "/api/v1/state"


@pytest.mark.parametrize("host", ["localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "LOCALHOST.",
                                  socket.gethostname(), f"{socket.gethostname()}.local:80"])
def test_the_desk_answers_to_its_own_names_by_default(make, host):
    assert make().test_client().get("/api/v1/state", headers={"Host": host}).status_code == 200


def test_allowed_hosts_adds_names_and_domains(make):
    client = make(allowed_hosts=("desk12.example.com", ".corp.example")).test_client()
    for host in ("desk12.example.com", "DESK12.example.com:443", "a.corp.example", "corp.example", "localhost"):
        assert client.get("/api/v1/state", headers={"Host": host}).status_code == 200, host
    for host in ("desk13.example.com", "corp.example.evil", "xcorp.example", EVIL):
        assert client.get("/api/v1/state", headers={"Host": host}).status_code == 400, host


def test_an_address_is_allowed_only_when_it_is_one_of_the_desks():
    allowed = AllowedHosts()
    assert allowed.allows("127.0.0.1") and allowed.allows("[::1]:80")
    assert allowed.allows("127.0.0.2")                  # the loopback network is this machine's
    assert not allowed.allows("192.0.2.77:8080")        # TEST-NET-1: nobody's address
    assert not allowed.allows("0.0.0.0") and not allowed.allows("[::]")


def test_host_names_are_taken_out_of_host_headers():
    assert host_name("Desk.Example.com.:8080") == "desk.example.com"
    assert host_name("[FE80::1]:443") == "fe80::1"
    assert host_name("::1") == "::1"


def test_locations_become_paths_on_this_site():
    assert relative("http://evil.example/api/v1/state?a=1") == "/api/v1/state?a=1"
    assert relative("//evil.example/x") == "/x"
    assert relative("/\\evil.example") == "/evil.example"
    assert relative("https://h") == "/"
    assert relative("/static/app.js?v=1") == "/static/app.js?v=1"


# -- trusted proxies -----------------------------------------------------------------------

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "desk.example.com"}


def test_forwarded_headers_from_a_trusted_proxy_name_the_real_client(make):
    client = make(trusted_proxies=("10.0.0.0/24",), allowed_hosts=("desk.example.com",)).test_client()
    seen = client.get("/peer", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.5"}).get_json()
    assert seen == {"addr": "203.0.113.7", "scheme": "https", "host": "desk.example.com"}


def test_forwarded_headers_from_anyone_else_are_ignored(make):
    client = make(trusted_proxies=("10.0.0.0/24",)).test_client()
    seen = client.get("/peer", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.1.5"}).get_json()
    assert seen == {"addr": "10.0.1.5", "scheme": "http", "host": "localhost"}
    untrusting = make().test_client()
    seen = untrusting.get("/peer", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.5"}).get_json()
    assert seen["addr"] == "10.0.0.5" and seen["scheme"] == "http"


def test_the_forwarded_host_is_checked_too(make):
    client = make(trusted_proxies=("10.0.0.5",)).test_client()
    resp = client.get("/peer", headers={**FORWARDED, "X-Forwarded-Host": EVIL},
                      environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert resp.status_code == 400 and repr(EVIL) in resp.get_json()["error"]


def test_behind_a_tls_proxy_the_session_cookie_is_secure(make):
    app = make(trusted_proxies=("10.0.0.5",))
    client = signed_in(app)
    resp = client.post("/api/v1/session", json={"name": "ada", "pin": "4711"},
                       headers={"X-Forwarded-Proto": "https"}, environ_base={"REMOTE_ADDR": "10.0.0.5"})
    assert resp.status_code == 200
    cookie = resp.headers["Set-Cookie"]
    assert "; Secure" in cookie, cookie
    plain = client.post("/api/v1/session", json={"name": "ada", "pin": "4711"},
                        headers={"X-Forwarded-Proto": "https"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert "; Secure" not in plain.headers["Set-Cookie"]


def test_a_proxy_given_as_ipv4_is_trusted_on_an_ipv6_socket_too():
    mw = TrustedProxies(lambda e, s: [], ["10.0.0.5"])
    assert mw.trusts("::ffff:10.0.0.5") and mw.trusts("10.0.0.5")
    assert not mw.trusts("10.0.0.6") and not mw.trusts(None) and not mw.trusts("garbage")


# -- HSTS --------------------------------------------------------------------------------

def test_hsts_is_sent_over_https_only_and_only_when_asked_for(make):
    on = make(hsts=True).test_client()
    assert "max-age=" in on.get("/api/v1/state", base_url="https://localhost").headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in on.get("/api/v1/state").headers
    off = make().test_client()
    assert "Strict-Transport-Security" not in off.get("/api/v1/state", base_url="https://localhost").headers
