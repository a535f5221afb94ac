"""Fixtures for the web app's tests: a fake desk with a store, the app around it, signed-in clients."""
from __future__ import annotations

import functools

import pytest
from browser_kit import chromium
from helpers import signed_in
from web_fakes import FakeService, app_for, with_store


@pytest.fixture
def service(tmp_path):
    """A FakeService with a fresh store (override this fixture for another kind of desk)."""
    s = with_store(FakeService(), tmp_path / "deskpi.db")
    yield s
    s.store.close()


@pytest.fixture
def app(service):
    a = app_for(service)
    yield a
    a.extensions["deskpi.web"].close()


@pytest.fixture
def sign_in(app):
    """sign_in(name="ada", pin="4711", admin=True, claim=True): a client on `app` signed in as `name`
    (added first if needed), sending the CSRF token on every change, holding the claim unless claim=False."""
    return functools.partial(signed_in, app)


@pytest.fixture
def client(sign_in):
    """Signed in as an admin holding the desk's claim."""
    return sign_in()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, one per browser test module (each module runs its own `deskpi sim`)."""
    with chromium() as b:
        yield b
