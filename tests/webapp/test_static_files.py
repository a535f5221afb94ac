"""Static URLs name their content, ES module imports included, so an upgrade never leaves old
JavaScript on a phone that keeps every script for a year."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from flask import Flask, url_for
from helpers import module_graph, signed_in
from web_fakes import FakeService

from deskpi.store import Store
from deskpi.webapp import static_files
from deskpi.webapp.app import create_app

WEB_STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
YEAR = "public, max-age=31536000, immutable"


def _write(path: Path, text: str) -> None:
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(old + 10**9, old + 10**9))          # a new mtime even on a coarse-grained file system


def _served(static: Path) -> tuple[Flask, object]:
    app = Flask(__name__, static_folder=str(static), static_url_path="/static")
    static_files.install(app)
    return app, app.test_client()


def _url(app: Flask, name: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=name)


def test_an_imported_modules_url_changes_when_its_content_changes(tmp_path):
    (tmp_path / "page.js").write_text('import { a } from "./mid.js";\nconsole.log(a);\n')
    (tmp_path / "mid.js").write_text('export { b as a } from "./leaf.js";\n')
    (tmp_path / "leaf.js").write_text("export const b = 1;\n")
    app, client = _served(tmp_path)
    page_before = _url(app, "page.js")
    body = client.get(page_before).get_data(as_text=True)
    mid_before = re.search(r'"(\./mid\.js\?v=\w+)"', body).group(1)
    leaf_before = re.search(r'"(\./leaf\.js\?v=\w+)"', client.get(f"/static/{mid_before[2:]}").get_data(as_text=True))

    _write(tmp_path / "leaf.js", "export const b = 22;\n")          # two levels below the page's script

    page_after = _url(app, "page.js")
    body = client.get(page_after).get_data(as_text=True)
    mid_after = re.search(r'"(\./mid\.js\?v=\w+)"', body).group(1)
    leaf_after = client.get(f"/static/{mid_after[2:]}").get_data(as_text=True)
    assert page_after != page_before and mid_after != mid_before
    assert leaf_before.group(1) not in leaf_after and re.search(r'"\./leaf\.js\?v=\w+"', leaf_after)
    leaf_url = "/static/" + re.search(r'"\./(leaf\.js\?v=\w+)"', leaf_after).group(1)
    leaf = client.get(leaf_url)
    assert leaf.get_data(as_text=True) == "export const b = 22;\n" and leaf.headers["ETag"].strip('"') in leaf_url


def test_a_change_elsewhere_leaves_a_modules_url_alone(tmp_path):
    (tmp_path / "a.js").write_text('import "./shared.js";\n')
    (tmp_path / "b.js").write_text("export const x = 1;\n")
    (tmp_path / "shared.js").write_text("export const y = 1;\n")
    app, _ = _served(tmp_path)
    before = _url(app, "a.js")
    _write(tmp_path / "b.js", "export const x = 2;\n")
    assert _url(app, "a.js") == before


def test_an_old_version_is_sent_to_the_current_one_never_kept_under_the_old_name(tmp_path):
    (tmp_path / "a.js").write_text("export const x = 1;\n")
    app, client = _served(tmp_path)
    old = _url(app, "a.js")
    _write(tmp_path / "a.js", "export const x = 2;\n")
    resp = client.get(old)
    assert resp.status_code == 302 and resp.headers["Location"] == _url(app, "a.js") != old
    assert "max-age" not in resp.headers["Cache-Control"]


def test_imports_that_go_round_in_a_cycle_are_refused_with_the_cycle(tmp_path):
    (tmp_path / "a.js").write_text('import "./b.js";\n')
    (tmp_path / "b.js").write_text('import { a } from "./a.js";\n')
    app, _ = _served(tmp_path)
    with pytest.raises(ValueError, match=r"a\.js -> b\.js -> a\.js"):
        _url(app, "a.js")


def test_only_import_statements_are_rewritten(tmp_path):
    (tmp_path / "dep.js").write_text("export const d = 1;\n")
    source = ('/* import { d } from "./dep.js" in a comment */\n'
              'const text = "./dep.js";\n'
              'import {\n  d,\n} from "./dep.js";\n'
              'import "./missing.js";\n')
    (tmp_path / "a.js").write_text(source)
    app, client = _served(tmp_path)
    body = client.get(_url(app, "a.js")).get_data(as_text=True)
    assert body.count("dep.js?v=") == 1 and '} from "./dep.js?v=' in body
    assert 'const text = "./dep.js";' in body and 'in a comment' in body
    assert 'import "./missing.js";' in body                 # left alone: the browser's 404 names it


def test_files_outside_the_static_folder_stay_out_of_reach(tmp_path):
    static = tmp_path / "static"
    static.mkdir()
    (tmp_path / "secret.js").write_text("export const s = 1;\n")
    (static / "a.js").write_text('import "../secret.js";\n')
    app, client = _served(static)
    assert "../secret.js?v=" not in client.get(_url(app, "a.js")).get_data(as_text=True)
    assert client.get("/static/../secret.js").status_code == 404
    assert client.get("/static/%2e%2e/secret.js").status_code == 404


@pytest.mark.parametrize("path", ["/static/app.js%00", "/static/%00", "/static/a%00.js?v=1"])
def test_a_nul_in_a_static_name_is_a_404_not_a_500(tmp_path, path):
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.js").write_text("export const a = 1;\n")
    _, client = _served(static)
    assert client.get(path).status_code == 404
    assert client.get("/static/app.js").status_code == 200


@pytest.fixture
def client(tmp_path):
    service = FakeService(sim=True)
    service.store = Store.open(tmp_path / "deskpi.db")
    yield signed_in(create_app(service), name="Ada")
    service.store.close()


@pytest.mark.parametrize("path", ["/", "/profile", "/plan", "/reminders", "/stats", "/admin"])
def test_every_module_a_page_loads_is_named_by_the_hash_of_what_it_serves(client, path):
    html = client.get(path).get_data(as_text=True)
    entries = re.findall(r'<script type="module" src="([^"]+)"', html)
    assert entries[0].startswith("/static/app.js?v=")
    for entry in entries:
        for url, body in module_graph(client, entry).items():
            version = re.fullmatch(r"/static/[\w/.-]+\.js\?v=(\w+)", url).group(1)
            assert version == hashlib.sha256(body.encode()).hexdigest()[:10], url
            resp = client.get(url)
            assert resp.headers["Cache-Control"] == YEAR and "javascript" in resp.mimetype
            for spec in re.findall(r"""(?:from|import)\s*["'](\.[^"']+)["']""", body):
                assert "?v=" in spec, (url, spec)                   # every import pinned to its content


def test_the_page_scripts_share_one_copy_of_the_helpers():
    sources = {p.name: p.read_text() for p in WEB_STATIC.glob("*.js")}
    for name, text in sources.items():
        if name != "dom.js":
            assert not re.search(r"const \$\$? = ", text), f"{name} defines its own $"
        assert "window.deskpi" not in text, name
    assert "function call(" in sources["api.js"] and sum("function call(" in t for t in sources.values()) == 1
    assert sum("function num(" in t for t in sources.values()) == 1
