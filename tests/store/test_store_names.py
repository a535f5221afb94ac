"""Names that read alike are one name: NFKC, case folding, spacing; invisible and format characters refused.

Issue 11, defect 6: zero-width, bidi-override and full-width names were accepted, so the admin page
could list several people who read as the same name; '.', '..' and names with '/' could not be
managed from the web. The store decides (deskpi.store.fields.valid_name and the people mixin), for
the CLI, the API and `apply` alike. Names stored before stay readable by their own spelling.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from deskpi.store import Store, StoreError, db_path, name_key, valid_name

# What an attacker types to look like "Ada" (or to hide a name's end): each refused outright.
INVISIBLE = {
    "zero-width space": "Ada\u200b",
    "zero-width joiner": "A\u200dda",
    "zero-width non-joiner": "A\u200cda",
    "word joiner": "Ada\u2060",
    "byte order mark": "\ufeffAda",
    "soft hyphen": "Ad\u00ada",
    "right-to-left override": "Ada\u202e",
    "left-to-right embedding": "\u202aAda",
    "right-to-left isolate": "\u2067Ada\u2069",
    "first strong isolate": "\u2068Ada",
    "arabic letter mark": "Ada\u061c",
    "mongolian vowel separator": "Ada\u180e",
    "hangul filler": "\u3164",
    "halfwidth hangul filler": "Ada\uffa0",
    "variation selector": "Ada\ufe0f",
    "combining grapheme joiner": "Ad\u034fa",
    "tag character": "Ada\U000e0041",
    "private use": "Ada\ue000",
    "braille blank": "\u2800",
}
# Spellings NFKC, case folding or spacing make into "Ada" (each refused once "Ada" exists).
LOOKALIKES = ["ada", "ADA", "Ａｄａ", "ＡＤＡ", " Ada ", "Ada\u00a0", "ａda"]


@pytest.mark.parametrize("name", INVISIBLE.values(), ids=INVISIBLE.keys())
def test_format_and_invisible_characters_are_refused_naming_the_character(store: Store, name: str) -> None:
    with pytest.raises(StoreError) as e:
        store.add_user(name)
    message = str(e.value)
    assert "invisible" in message and "U+" in message, message
    assert not any(c in message for c in name if not c.isascii()), "the message shows the character escaped"
    assert store.list_users() == []
    store.add_user("Zed")
    with pytest.raises(StoreError, match="U\\+"):
        store.rename_user("Zed", name)
    assert [u.name for u in store.list_users()] == ["Zed"]


@pytest.mark.parametrize("name", [".", "..", " .. ", "a/b", "/", "Ana/..", "a\\b", "\\"])
def test_dot_names_and_slashes_are_refused(store: Store, name: str) -> None:
    with pytest.raises(StoreError, match="'/' or"):
        store.add_user(name)
    assert store.list_users() == []


def test_full_width_and_other_compatibility_forms_are_folded_when_stored(store: Store) -> None:
    assert store.add_user("Ｊｏｓé\u3000 Ｌｕｉｓ").name == "José Luis"       # full-width, ideographic space
    assert store.add_user("ﬁona").name == "fiona"                              # a ligature
    assert store.add_user("Ann  Lee").name == "Ann Lee"                         # runs of spaces read as one
    assert store.get_user("JOSÉ LUIS").name == "José Luis"
    assert store.get_user("Ｆｉｏｎａ").name == "fiona"


@pytest.mark.parametrize("spelling", LOOKALIKES)
def test_a_name_that_reads_as_an_existing_one_is_refused_naming_it(store: Store, spelling: str) -> None:
    store.add_user("Ada")
    with pytest.raises(StoreError) as e:
        store.add_user(spelling)
    assert "already taken by 'Ada'" in str(e.value)
    store.add_user("Bob")
    with pytest.raises(StoreError, match="already taken by 'Ada'"):
        store.rename_user("Bob", spelling)
    assert sorted(u.name for u in store.list_users()) == ["Ada", "Bob"]


def test_renaming_to_another_spelling_of_ones_own_name_is_allowed(store: Store) -> None:
    store.add_user("ada")
    assert store.rename_user("ADA", "Ａda").name == "Ada"
    assert [u.name for u in store.list_users()] == ["Ada"]


def test_valid_name_and_name_key_are_the_one_rule() -> None:
    assert valid_name("  Ｂob\n") == "Bob"
    assert name_key("Ｂ o\u200bb") != name_key("Bob")                   # spacing inside counts once, not zero times
    assert name_key("BOB") == name_key("ｂｏｂ") == name_key("Bob\u200b") == name_key(" bob ")
    assert name_key("Straße") == name_key("STRASSE")                   # full case folding
    with pytest.raises(StoreError, match="name = 42"):
        valid_name(42)
    with pytest.raises(StoreError, match=r"1-40 characters .*\(it has 41 characters\)"):
        valid_name("x" * 41)
    with pytest.raises(StoreError, match="it has 0"):
        valid_name("\u3000 ")


# ---------------------------------------------------------------------- names stored before this rule

def _legacy(path: Path, *names: str) -> None:
    """Rows as an earlier deskpi stored them: the name as given, keyed by NFC + casefold only."""
    import unicodedata

    Store.open(path).close()
    conn = sqlite3.connect(path)
    with conn:
        for n in names:
            conn.execute("INSERT INTO users (name, name_key, units, role, created_at) VALUES (?, ?, 'cm', 'user', 0)",
                         [n, unicodedata.normalize("NFC", n).casefold()])
    conn.close()


def test_names_stored_before_stay_readable_and_still_block_their_lookalikes(tmp_path: Path) -> None:
    path = db_path(tmp_path)
    _legacy(path, "Ｅve", "Max\u200b", "Cat", "ＣＡＴ")          # the last two collide today: startup still works
    with Store.open(path) as store:
        assert sorted(u.name for u in store.list_users()) == sorted(["Ｅve", "Max\u200b", "Cat", "ＣＡＴ"])
        assert store.get_user("Ｅve").name == "Ｅve"
        assert store.get_user("Max\u200b").name == "Max\u200b"
        assert store.get_user("Cat").name == "Cat" and store.get_user("ＣＡＴ").name == "ＣＡＴ"
        for new, holder in (("Eve", "Ｅve"), ("max", "Max\u200b"), ("cat", "Cat")):
            with pytest.raises(StoreError, match=re.escape(f"already taken by {holder!r}")):
                store.add_user(new)
        store.set_preset("Max\u200b", 3, 1000)                             # still managed by its own spelling
        assert store.rename_user("ＣＡＴ", "Kit").name == "Kit"           # ...and can be renamed out of a clash
        assert store.rename_user("Max\u200b", "Max").name == "Max"
        assert store.get_presets("max")[3] == 1000
        store.remove_user("Ｅve")
        assert sorted(u.name for u in store.list_users()) == ["Cat", "Kit", "Max"]
