"""Fixtures shared by the store's tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from deskpi.store import Store


@pytest.fixture
def store(tmp_path: Path):
    """A fresh store in a data directory that does not exist yet."""
    s = Store.open(tmp_path / "data" / "deskpi.db")
    yield s
    s.close()
