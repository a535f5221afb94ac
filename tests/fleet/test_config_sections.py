"""A config section reads like a frozen record: attributes, value equality, an explicit replace()."""
from __future__ import annotations

import pytest

from deskpi.config import defaults, from_mapping


def test_a_section_reads_its_keys_and_refuses_a_key_it_does_not_have():
    web = defaults().web
    assert web.port == from_mapping({}).web.port
    with pytest.raises(AttributeError, match=r"\[web\] has no setting 'prot'"):
        _ = web.prot


def test_a_section_cannot_be_changed_in_place():
    web = defaults().web
    with pytest.raises(AttributeError, match="read-only"):
        web.port = 1


def test_replace_gives_a_changed_copy_and_refuses_a_typo():
    web = defaults().web
    other = web.replace(port=web.port + 1)
    assert other.port == web.port + 1 and web.port != other.port
    assert other != web and web.replace() == web and hash(web.replace()) == hash(web)
    with pytest.raises(TypeError, match="'prot'"):
        web.replace(prot=1)


def test_sections_of_different_names_never_compare_equal():
    s = defaults()
    assert s.web != s.mqtt
    assert s.as_dict()["web"] == s.web.as_dict()
