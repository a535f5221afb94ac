"""deskpi/cli/lazy_commands.py: only the command that runs gets its parser built; the rest are listed."""
from __future__ import annotations

import argparse

import pytest

from deskpi.cli.lazy_commands import LazySubcommands, Unbuilt, built
from deskpi.cli.main import COMMAND_MODULES, OWN_COMMANDS, build_parser


def _commands(parser: argparse.ArgumentParser) -> LazySubcommands:
    return next(a for a in parser._actions if isinstance(a, LazySubcommands))


def _built_now(sub: LazySubcommands) -> set[str]:
    return {name for name in sub.choices if dict.__getitem__(sub.choices, name) is not None}


def test_parsing_a_command_builds_its_parser_and_no_other():
    parser = build_parser()
    sub = _commands(parser)
    assert _built_now(sub) == set() and {"status", "user", "bench", "sim"} <= set(sub.choices)
    args = parser.parse_args(["--data-dir", "/x", "user", "list", "--json"])
    assert (args.command, args.user_command, args.json) == ("user", "list", True)
    assert _built_now(sub) == {"user"}


def test_the_listing_is_what_help_and_a_wrong_command_show(capsys):
    parser = build_parser()
    help_text = parser.format_help()
    for name in ("status", "user", "audit", "bench", "doctor", "token", "migrate"):
        assert name in help_text
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["nonsense"])
    assert exc.value.code == 2
    assert "invalid choice: 'nonsense' (choose from 'sim', 'run'" in capsys.readouterr().err
    assert _built_now(_commands(parser)) == set()


def test_reading_the_choices_builds_real_parsers():
    sub = _commands(build_parser())
    parsers = dict(sub.choices.items())
    assert all(isinstance(p, argparse.ArgumentParser) for p in parsers.values())
    assert sub.choices.get("audit") is parsers["audit"] and sub.choices.get("nope") is None
    assert "--since" in parsers["audit"].format_help()


def test_an_unbuilt_parser_absorbs_every_call():
    stub = Unbuilt()
    group = stub.add_argument_group("x")
    assert group.add_argument("--y", type=int) is stub and stub.set_defaults(func=print) is stub
    assert not built(stub) and built(argparse.ArgumentParser())


def test_the_table_of_command_modules_is_what_each_module_adds():
    from importlib import import_module

    for module, names in COMMAND_MODULES.items():
        plain = argparse.ArgumentParser().add_subparsers()
        import_module(f"deskpi.cli.{module}").register(plain)
        assert tuple(plain.choices) == names, module
    everything = [*OWN_COMMANDS, *(n for ns in COMMAND_MODULES.values() for n in ns)]
    assert list(_commands(build_parser()).choices) == everything


def test_a_declared_command_is_built_without_listing_the_others():
    parser = build_parser()
    sub = _commands(parser)
    parser.parse_args(["status", "--json"])
    assert dict.keys(sub.choices) == {"status"}          # nothing else was listed or built
    assert "user" in parser.format_help()                # help lists them all, the built one stays built
    assert dict.__getitem__(sub.choices, "status") is not None and dict.__getitem__(sub.choices, "user") is None


def test_a_missing_command_still_says_what_is_allowed(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--data-dir", "/x"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: command" in err and "status" in err
