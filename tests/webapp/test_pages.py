"""The phone pages as the server renders them (Flask's test client; the browser tests drive them live).

Every page extends base.html: the stop button on every page, navigation, the CSRF
token in a meta tag, nothing inline (the CSP forbids it) and nothing from another
origin; signed out, every page is the sign-in form; heights in the person's own
unit; user-controlled text escaped; the home page within its 100 KB budget.
"""
from __future__ import annotations

import gzip
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import module_graph, signed_in
from web_fakes import FakeService, with_store

from deskpi.people.accounts import add_user
from deskpi.people.passwords import hash_secret

WEB = Path(__file__).resolve().parents[2] / "web"
PAGES = {"/": "home", "/profile": "profile", "/plan": "plan", "/reminders": "reminders", "/stats": "stats",
         "/admin": "admin"}
HOME_BUDGET_GZIP = 100 * 1024


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.inline = []
        self._script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        for name, _ in attrs:
            if name.startswith("on") or name == "style":
                self.inline.append((tag, name))
        if tag == "style":
            self.inline.append((tag, "<style>"))
        self._script = tag == "script"

    def handle_endtag(self, tag):
        self._script = False

    def handle_data(self, data):
        if self._script and data.strip():
            self.inline.append(("script", data.strip()[:40]))

    def testids(self) -> list[str]:
        return [a["data-testid"] for _, a in self.tags if "data-testid" in a]

    def find(self, testid: str) -> dict:
        found = [a for _, a in self.tags if a.get("data-testid") == testid]
        assert len(found) == 1, (testid, len(found))
        return found[0]

    def all(self, tag: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag]


@pytest.fixture
def service(tmp_path):
    """A simulated desk, so the pages show its keypad too (the `app` fixture is built around it)."""
    s = with_store(FakeService(sim=True), tmp_path / "deskpi.db")
    yield s
    s.store.close()


def client_for(app, name: str = "Ada", *, admin: bool = True, units: str | None = None, claim: bool = True):
    client = signed_in(app, name=name, admin=admin, claim=claim)
    if units is not None:
        app.extensions["deskpi"].store.update_user(name, units=units)
    return client


def get(client, path: str) -> tuple[Page, str]:
    resp = client.get(path)
    assert resp.status_code == 200, (path, resp.status_code)
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    return Page(html), html


@pytest.mark.parametrize("path", PAGES)
def test_every_page_extends_the_base(app, path):
    client = client_for(app)
    page, html = get(client, path)
    assert page.find("btn-stop")["type"] == "button"                       # stop on every page
    for key in PAGES.values():
        link = page.find(f"nav-{key}")
        assert (link.get("aria-current") == "page") == (PAGES[path] == key)
    assert page.find("sign-out") and page.find("connection-lost").get("role") == "alert"
    assert page.find("message").get("aria-live") == "polite"
    meta = [a for a in page.all("meta") if a.get("name") == "csrf-token"]
    assert len(meta) == 1 and meta[0]["content"] == client.environ_base["HTTP_X_CSRF_TOKEN"]
    assert page.inline == [], "CSP: no inline script, style or handler"
    scripts = page.all("script")
    assert scripts and all(s["src"].startswith("/static/") and s.get("type") == "module" for s in scripts)
    for s in scripts:
        assert (WEB / "static" / s["src"].removeprefix("/static/").split("?")[0]).is_file(), s["src"]
    # Every module the page's scripts import is preloaded: fetched at once, not one import level at a time.
    preloads = {a["href"] for a in page.all("link") if a.get("rel") == "modulepreload"}
    for s in scripts:
        assert set(module_graph(client, s["src"])) - {x["src"] for x in scripts} <= preloads, s["src"]
    for link in page.all("link"):
        assert link["href"].startswith("/"), link
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "nothing from another origin"
    assert [a for a in page.all("link") if a.get("rel") == "manifest"][0]["href"] == "/manifest.webmanifest"


@pytest.mark.parametrize("path", [*PAGES, "/login"])
def test_signed_out_every_page_is_the_sign_in_form(app, path):
    add_user(app.extensions["deskpi"].store, "Ada", limits=(640.0, 1260.0), pin_hash=hash_secret("4711"))
    page, html = get(app.test_client(), path)
    name, pin = page.find("login-name"), page.find("login-pin")
    assert name["autocomplete"] == "username"
    assert pin["type"] == "password" and pin["inputmode"] == "numeric" and pin["autocomplete"] == "current-password"
    assert page.find("login-submit")["type"] == "submit"
    assert [a["data-next"] for _, a in page.tags if "data-next" in a] == [path]
    assert "/static/login.js" in [s["src"].split("?")[0] for s in page.all("script")]
    assert page.find("btn-stop") and "nav-home" not in page.testids()
    assert 'name="csrf-token"' not in html


def test_first_run_explains_how_facilities_add_someone(app):
    _, html = get(app.test_client(), "/")
    assert "sudo deskpi user add NAME" in html and "--pin-stdin" in html
    assert 'data-testid="login-name"' not in html and 'data-register-form' not in html


def test_self_registration_form_only_when_allowed(app):
    ctx = app.extensions["deskpi.web"]
    ctx.set_policy({"self_register": True})
    _, html = get(app.test_client(), "/")
    assert 'data-testid="register-name"' in html and 'autocomplete="new-password"' in html


def test_home_has_every_control_once_and_disables_motion_without_the_claim(app):
    page, _ = get(client_for(app, "Ada"), "/")
    ids = page.testids()
    for testid in ("height", "state", "fault", "btn-up", "btn-down", "btn-stop", "claim", "claim-status",
                   "reminder", "reminder-confirm", "reminder-snooze", "reminder-skip",
                   *(f"preset-{n}" for n in range(1, 5)), "sim-key-up", "sim-key-down",
                   *(f"sim-key-preset-{n}" for n in range(1, 5)), "sim-latch"):
        assert ids.count(testid) == 1, testid
    assert page.find("btn-up").get("aria-disabled") is None                 # signed_in() holds the claim
    bob = client_for(app, "Bob", admin=False, claim=False)
    page, html = get(bob, "/")
    for testid in ("btn-up", "btn-down", "preset-1"):
        assert page.find(testid).get("aria-disabled") == "true", testid
    assert page.find("btn-stop").get("aria-disabled") is None and "disabled" not in page.find("btn-stop")
    assert re.search(r'data-testid="claim-status"[^>]*>\s*In use by Ada', html)


def test_home_shows_the_preset_to_press_and_the_holder_sees_who_asks(app):
    ada = client_for(app, "Ada")                                             # holds the claim
    page, _ = get(ada, "/")
    assert page.find("claim-pending-list") is not None and "claim-refuse" not in page.testids()
    odd = 'Bo <i>"b" & co'
    bob = client_for(app, odd, admin=False, claim=False)
    slot = bob.post("/api/v1/claim").get_json()["press_preset"]
    page, html = get(bob, "/")
    assert re.search(rf'data-testid="claim-press-preset"[^>]*>{slot}<', html)
    assert re.search(r'data-testid="claim-status"[^>]*>\s*Waiting for Ada to release the desk', html)
    page, html = get(ada, "/")
    assert page.find("claim-refuse")["data-refuse"] == odd and page.find("claim-request")["data-user"] == odd
    assert "<i>" not in html and "&lt;i&gt;" in html
    assert re.search(r'data-testid="claim-press-preset"[^>]*>\s*<', html), "the holder is not told a preset"
    resp = ada.post("/api/v1/claim/refuse", json={"name": odd})
    assert resp.status_code == 200
    page, html = get(bob, "/")
    assert "refused your request" in html and re.search(r'data-testid="claim-status"[^>]*>\s*In use by Ada', html)


@pytest.mark.parametrize("units, height, preset", [("cm", "74.0", "72.0 cm"), ("in", "29.1", "28.3 in")])
def test_heights_in_the_persons_unit(app, units, height, preset):
    page, html = get(client_for(app, units=units), "/")
    assert re.search(rf'data-testid="height"[^>]*>{re.escape(height)}<', html)
    assert re.search(rf'data-testid="preset-1-height"[^>]*>{re.escape(preset)}<', html)
    assert re.search(rf'<body[^>]*data-units="{units}"', html)


def test_user_controlled_text_is_escaped(app):
    app.extensions["deskpi"].fault = 'stall: <script>alert("x")</script> & more'
    _, html = get(client_for(app), "/")
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html and "&amp; more" in html


def test_admin_page_is_for_admins_only(app):
    ada = client_for(app, "Ada", admin=True)
    page, _ = get(ada, "/admin")
    assert page.find("nav-admin") and page.find("admin-add-user")
    bob = client_for(app, "Bob", admin=False, claim=False)
    assert bob.get("/admin").status_code == 403
    page, _ = get(bob, "/")
    assert "nav-admin" not in page.testids()


def test_manifest_and_icons(app):
    resp = app.test_client().get("/manifest.webmanifest")
    assert resp.status_code == 200
    doc = resp.get_json(force=True)
    assert doc["display"] == "standalone" and doc["start_url"] == "/" and doc["theme_color"]
    sizes = {}
    for icon in doc["icons"]:
        path = WEB / "static" / icon["src"].removeprefix("/static/").split("?")[0]
        assert path.is_file(), icon
        if icon["type"] == "image/png":
            data = path.read_bytes()
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
            w, h = struct.unpack(">II", data[16:24])
            assert icon["sizes"] == f"{w}x{h}"
            sizes[icon.get("purpose", "any")] = sizes.get(icon.get("purpose", "any"), set()) | {w}
    assert {192, 512} <= sizes["any"] and 512 in sizes["maskable"]
    touch = (WEB / "static" / "apple-touch-icon.png").read_bytes()
    assert struct.unpack(">II", touch[16:24]) == (180, 180)


def test_home_page_fits_its_budget(app):
    """HTML + CSS + JS + icons of the home page: at most 100 KB gzip on a first load."""
    client = client_for(app)
    page, html = get(client, "/")
    total = len(gzip.compress(html.encode(), 6))
    urls = [s["src"] for s in page.all("script")] + [a["href"] for a in page.all("link") if a.get("rel") in (
        "stylesheet", "icon", "apple-touch-icon", "modulepreload")]
    urls += [a["src"] for a in page.all("img")]
    for url in set(urls):
        body = client.get(url).get_data()
        total += len(gzip.compress(body, 6))
    total += len(gzip.compress(client.get("/manifest.webmanifest").get_data(), 6))
    assert total <= HOME_BUDGET_GZIP, total
