"""No text a person sees names an API path or an HTTP method: `/api/`, `POST`, `GET` or `DELETE`.

What a person sees, and how each is found:
- the pages: the templates' text and the attributes read out or shown (aria-label, title, alt,
  placeholder, value), and the strings the templates' own code puts on the page;
- the scripts' messages: every string literal (and template literal text) in web/static/*.js that
  reads as text, i.e. has a space in it. Code strings never do: the API helper's method and path
  (`call("POST", "/stop")`), selectors, event names, CSS classes;
- the web app's error messages and the CLI's messages: every string in the Python code under deskpi/
  that reads as text, except what is for developers only: docstrings, log lines, SQL, the OpenAPI
  document (api.op() declarations and api_spec's document) and `deskpi bench`, whose reports are
  measurements for developers;
- and, as a person meets them, the answers to requests that go wrong and the CLI's refusals.
"""
from __future__ import annotations

import ast
import html.parser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import signed_in
from web_fakes import FakeService, app_for, with_store

ROOT = Path(__file__).resolve().parents[2]
DEVELOPER_WORDS = re.compile(r"/api/|\b(?:POST|GET|DELETE)\b")
#: Python strings that are for developers, by where they are.
LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
LOGGERS = {"log", "logger", "_log", "logging", "LOG"}
SQL_CALLS = {"execute", "executemany", "executescript"}
SQL = re.compile(r"^\s*(?:CREATE|DELETE|INSERT|UPDATE|SELECT|PRAGMA|DROP|ALTER|WITH|REPLACE)\b")
DOC_FUNCTIONS = {("deskpi/webapp/api_spec.py", "_openapi")}          # the OpenAPI document itself
DEVELOPER_PACKAGES = ("deskpi/bench/",)


def reads_as_text(s: str) -> bool:
    return bool(re.search(r"\w\s+\w", s))


# -- templates ----------------------------------------------------------------------------------------
SHOWN_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder", "value", "aria-description"}


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.found.append((self.getpos()[0], value))

    def handle_data(self, data):
        if data.strip():
            self.found.append((self.getpos()[0], data.strip()))


def template_texts(path: Path) -> list[tuple[int, str]]:
    source = path.read_text()
    code = re.findall(r"\{[{%](.*?)[}%]\}", source, re.S)
    found = [(0, s) for c in code for s in re.findall(r"'([^']*)'|\"([^\"]*)\"", c) for s in s if s]
    # Newlines are kept so that the line numbers still point at the template.
    plain = re.sub(r"\{#.*?#\}", lambda m: "\n" * m.group().count("\n"), source, flags=re.S)
    plain = re.sub(r"\{%.*?%\}", lambda m: "\n" * m.group().count("\n"), plain, flags=re.S)
    plain = re.sub(r"\{\{.*?\}\}", "…", plain, flags=re.S)
    parser = _Text()
    parser.feed(plain)
    return found + parser.found


# -- scripts ------------------------------------------------------------------------------------------
_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^")
_REGEX_AFTER_WORDS = {"return", "typeof", "case", "in", "of", "delete", "void", "throw", "new", "else", "do"}


def js_strings(src: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal, and of every template literal with `…` for each ${}."""
    out: list[tuple[int, str]] = []

    def line_of(i: int) -> int:
        return src.count("\n", 0, i) + 1

    def scan(i: int, inside_braces: bool) -> int:
        prev = ""             # the last token, to tell a regular expression from a division
        depth = 0
        while i < len(src):
            c = src[i]
            if c.isspace():
                i += 1
            elif src.startswith("//", i):
                j = src.find("\n", i)
                i = len(src) if j < 0 else j
            elif src.startswith("/*", i):
                i = src.index("*/", i + 2) + 2
            elif c in "'\"":
                j, buf = i + 1, []
                while src[j] != c:
                    if src[j] == "\\":
                        buf.append(src[j + 1])
                        j += 2
                        continue
                    buf.append(src[j])
                    j += 1
                out.append((line_of(i), "".join(buf)))
                i, prev = j + 1, "string"
            elif c == "`":
                j, buf = i + 1, []
                while src[j] != "`":
                    if src[j] == "\\":
                        buf.append(src[j + 1])
                        j += 2
                    elif src.startswith("${", j):
                        buf.append("…")
                        j = scan(j + 2, True)
                    else:
                        buf.append(src[j])
                        j += 1
                out.append((line_of(i), "".join(buf)))
                i, prev = j + 1, "string"
            elif c == "/" and (prev == "" or prev in _REGEX_AFTER or prev in _REGEX_AFTER_WORDS):
                j, in_class = i + 1, False
                while in_class or src[j] != "/":
                    if src[j] == "\\":
                        j += 1
                    elif src[j] == "[":
                        in_class = True
                    elif src[j] == "]":
                        in_class = False
                    j += 1
                i, prev = j + 1, "regex"
            elif c.isalnum() or c in "_$":
                j = i
                while j < len(src) and (src[j].isalnum() or src[j] in "_$"):
                    j += 1
                i, prev = j, src[i:j]
            else:
                if c == "{":
                    depth += 1
                elif c == "}":
                    if inside_braces and depth == 0:
                        return i + 1
                    depth -= 1
                i, prev = i + 1, c
        return i

    scan(0, False)
    return out


# -- Python -------------------------------------------------------------------------------------------
def _call_name(call: ast.Call) -> tuple[str, str]:
    f = call.func
    if isinstance(f, ast.Attribute):
        owner = f.value.id if isinstance(f.value, ast.Name) else ""
        return owner, f.attr
    return "", f.id if isinstance(f, ast.Name) else ""


def _render(node: ast.AST) -> str:
    """A string constant, or an f-string with what its values say: `request.method` may be any method
    and `API` is the API's path (either would reach the reader); anything else is a value given."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    parts = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            parts.append(str(v.value))
        else:
            expr = ast.unparse(v.value)
            parts.append("GET" if expr.endswith("request.method") else "/api/v1" if expr == "API" else "…")
    return "".join(parts)


def python_texts(path: Path) -> list[tuple[int, str]]:
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))                                       # a docstring
        developer = False
        if isinstance(node, ast.Call):
            owner, name = _call_name(node)
            developer = (name in LOG_METHODS and owner in LOGGERS) or name in SQL_CALLS or name == "op"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            developer = (rel, node.name) in DOC_FUNCTIONS
        if developer:
            skip.update(id(n) for n in ast.walk(node) if isinstance(n, (ast.Constant, ast.JoinedStr)))
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or id(node) in inner:
            continue
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr):
            text = _render(node)
            if not SQL.match(text):
                found.append((node.lineno, text))
    return found


# -- the scans ----------------------------------------------------------------------------------------
def developer_words(texts: list[tuple[int, str]], where: str) -> list[str]:
    return [f"{where}:{line}: {text[:140]!r}" for line, text in texts
            if reads_as_text(text) and DEVELOPER_WORDS.search(text)]


TEMPLATES = sorted((ROOT / "web" / "templates").glob("*.html"))
SCRIPTS = sorted((ROOT / "web" / "static").glob("*.js"))
PYTHON = sorted(p for p in (ROOT / "deskpi").rglob("*.py")
                if not p.relative_to(ROOT).as_posix().startswith(DEVELOPER_PACKAGES))


def test_the_scanners_find_what_people_read():
    """A scanner that finds nothing would pass everything: each one finds texts it must find."""
    assert "Claim this desk" in {t for _, t in template_texts(ROOT / "web" / "templates" / "index.html")}
    assert "Skip to content" in {t for _, t in template_texts(ROOT / "web" / "templates" / "base.html")}
    api_js = {t for _, t in js_strings((ROOT / "web" / "static" / "api.js").read_text())}
    assert "could not reach the desk; check the connection" in api_js
    assert "the desk answered with HTTP …" in api_js
    presets_js = {t for _, t in js_strings((ROOT / "web" / "static" / "presets.js").read_text())}
    assert "going to preset … (…)" in presets_js and "POST" in presets_js  # a message, and a code string
    security = {t for _, t in python_texts(ROOT / "deskpi" / "webapp" / "security.py")}
    assert any(t.startswith("claim the desk first (…)") for t in security)
    errors = {t for _, t in python_texts(ROOT / "deskpi" / "webapp" / "errors.py")}
    assert not any("internal error in %s" in t for t in errors), "log lines are for developers"
    assert developer_words([(1, "tap POST /api/v1/claim")], "x") and not developer_words([(1, "POST")], "x")


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_page_names_an_api_path_or_http_method(path):
    assert developer_words(template_texts(path), path.name) == []


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_no_script_message_names_an_api_path_or_http_method(path):
    assert developer_words(js_strings(path.read_text()), path.name) == []


@pytest.mark.parametrize("path", PYTHON, ids=lambda p: p.relative_to(ROOT / "deskpi").as_posix())
def test_no_error_or_cli_message_names_an_api_path_or_http_method(path):
    assert developer_words(python_texts(path), path.relative_to(ROOT).as_posix()) == []


# -- as a person meets them ------------------------------------------------------------------------------
@pytest.fixture
def app(tmp_path):
    service = with_store(FakeService(), tmp_path / "deskpi.db")
    a = app_for(service)
    yield a
    a.extensions["deskpi.web"].close()
    service.store.close()


def _said(resp, given: str = "") -> str:
    """The error a response says, without the value the client gave (a path it asked for may be anything)."""
    error = resp.get_json()["error"]
    assert error, resp.data
    return error.replace(given, "…") if given else error


def test_the_answers_to_requests_that_go_wrong_name_no_api_path_or_method(app):
    anyone = app.test_client()
    signed_in(app, name="ada")                       # the first person: the admin
    bob = signed_in(app, name="bob", pin="2580", admin=False, claim=False)
    stale = app.test_client()
    stale.post("/api/v1/session", json={"name": "bob", "pin": "2580"})
    said = {
        "not signed in": _said(anyone.post("/api/v1/move", json={"target_mm": 900})),
        "a stale page": _said(stale.post("/api/v1/move", json={"target_mm": 900})),
        "no claim": _said(bob.post("/api/v1/move", json={"target_mm": 900})),
        "no such address": _said(anyone.get("/api/v1/nope"), "/api/v1/nope"),
        "a method it does not take": _said(anyone.post("/api/v1/state"), "/api/v1/state"),
        "no such token": _said(bob.delete("/api/v1/tokens/x1")),
        "no stature": _said(bob.get("/api/v1/ergonomics")),
    }
    assert "Claim this desk" in said["no claim"] and "reload the page" in said["a stale page"]
    assert {why: text for why, text in said.items() if DEVELOPER_WORDS.search(text)} == {}


def _cli(*args: str, data_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "deskpi.cli", "--data-dir", str(data_dir), *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60)


def test_the_cli_refusals_name_no_api_path_or_method(tmp_path):
    assert _cli("user", "add", "ada", "--pin-stdin", data_dir=tmp_path, stdin="4711\n").returncode == 0
    for args in (("user", "show", "nobody"), ("token", "revoke", "999"), ("token", "create", "nobody"),
                 ("user", "set", "ada")):
        done = _cli(*args, data_dir=tmp_path)
        assert done.returncode != 0 and "deskpi" in done.stderr, (args, done.stderr)
        assert not DEVELOPER_WORDS.search(done.stderr), done.stderr
