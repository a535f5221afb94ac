"""The `deskpi` subcommands, each parser built only when it is used.

Building every command's parser costs about as much as starting a bare Python
(argparse looks up its message catalogue on disk for every parser it makes,
and there are some fifty), and a command run over SSH needs one of them. So the
function that adds the commands runs twice: once cheaply, recording each
command's name and help for `deskpi --help` and the list of choices (every
other call is absorbed), and again when a command is chosen, building that one
for real. Anything that reads `choices` (the tests walking every command) gets
real parsers, built as it asks.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any


class Unbuilt:
    """The parser of a command that is not being built: every call that would shape it does nothing."""

    def __getattr__(self, name: str) -> Callable[..., Unbuilt]:
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> Unbuilt:
        return self


def built(parser: Any) -> bool:
    """Whether `parser` is real (a command may skip costly imports that only shape an unbuilt one)."""
    return not isinstance(parser, Unbuilt)


class _Parsers(dict):
    """Command name -> parser, building a parser the first time it is looked up."""

    def __init__(self, build: Callable[[str], argparse.ArgumentParser]) -> None:
        super().__init__()
        self._build = build

    def __getitem__(self, name: str) -> argparse.ArgumentParser:
        parser = super().__getitem__(name)
        return self._build(name) if parser is None else parser

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def values(self) -> Iterator[argparse.ArgumentParser]:      # type: ignore[override]
        return (self[name] for name in self)

    def items(self) -> Iterator[tuple[str, argparse.ArgumentParser]]:     # type: ignore[override]
        return ((name, self[name]) for name in self)


class LazySubcommands(argparse._SubParsersAction):
    """`add_subparsers(action=LazySubcommands)`, then `.add_all(fn)`: fn(sub) adds every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _Parsers(self._build)
        self._add_all: Callable[[Any], None] | None = None
        self._building: str | None = None

    def add_all(self, add: Callable[[Any], None]) -> None:
        self._add_all = add
        add(self)

    def add_parser(self, name: str, **kwargs: Any) -> Any:     # type: ignore[override]
        if kwargs.get("aliases"):
            raise ValueError(f"command {name!r}: aliases are not supported by the lazily built commands")
        if self._building is None:                              # listing: the name and its help only
            if name in self._name_parser_map:
                raise argparse.ArgumentError(self, f"conflicting subparser: {name}")
            if "help" in kwargs:
                self._choices_actions.append(self._ChoicesPseudoAction(name, (), kwargs["help"]))
            dict.__setitem__(self._name_parser_map, name, None)
            return Unbuilt()
        if name != self._building:
            return Unbuilt()
        kwargs.pop("help", None)
        if kwargs.get("prog") is None:
            kwargs["prog"] = f"{self._prog_prefix} {name}"
        parser = self._parser_class(**kwargs)
        dict.__setitem__(self._name_parser_map, name, parser)
        return parser

    def _build(self, name: str) -> argparse.ArgumentParser:
        assert self._add_all is not None, "add_all() adds the commands"
        self._building = name
        try:
            self._add_all(self)
        finally:
            self._building = None
        parser = dict.__getitem__(self._name_parser_map, name)
        assert parser is not None, f"command {name!r} was listed but not built the second time"
        return parser
