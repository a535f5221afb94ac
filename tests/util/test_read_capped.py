"""read_capped: a file or standard input is read to a cap, never to its end (issue 11, defect 9)."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from deskpi.util.files import INPUT_MAX_BYTES, InputTooLarge, read_capped, read_text_capped


def test_up_to_the_cap_is_read_and_one_byte_more_is_refused_naming_the_size(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"a" * 100)
    assert read_capped(f, 100) == b"a" * 100
    with pytest.raises(InputTooLarge) as e:
        read_capped(f, 99, what="a plan file")
    assert str(e.value) == f"{f}: more than 99 bytes; a plan file may be at most that"
    assert isinstance(e.value, ValueError) and e.value.reason.startswith("more than 99 bytes")


def test_the_default_cap_is_one_mebibyte_and_says_so(tmp_path: Path) -> None:
    assert INPUT_MAX_BYTES == 1024 * 1024
    with pytest.raises(InputTooLarge, match=r"more than 1 MiB \(1048576 bytes\)"):
        read_capped("/dev/zero")                  # a bounded read: this returns at once


def test_standard_input_only_where_asked(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * 11)))
    with pytest.raises(InputTooLarge, match="^standard input: more than 10 bytes"):
        read_capped("-", 10, dash_is_stdin=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError):        # without dash_is_stdin, '-' is a file name like any other
        read_capped("-", 10)


def test_text_is_utf8_with_universal_newlines(tmp_path: Path) -> None:
    f = tmp_path / "t.toml"
    f.write_bytes("a = \"é\"\r\nb = 1\rc = 2\n".encode())
    assert read_text_capped(f) == "a = \"é\"\nb = 1\nc = 2\n"
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        read_text_capped(f)
