"""The `deskpi` subcommands, each parser built only when it is used.

Building every command's parser costs about as much as starting a bare Python
(argparse looks up its message catalogue on disk for every parser it makes,
and there are some fifty), and a command run over SSH needs one of them. So the
function that adds the commands runs at most twice: once cheaply, recording
each command's name and help for `deskpi --help` and the list of choices (every
other call is absorbed), and once when a command is chosen, building that one
for real. The listing itself waits until something reads it (help, a usage
error, the choices): a command whose name was declared up front (`add_all`'s
`names`) is built without it, so the add function can skip importing the
modules of every other command (`building`). Anything that reads `choices`
(the tests walking every command) gets real parsers, built as it asks.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Iterator
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


def building(sub: Any) -> str | None:
    """The command `sub` is building now, or None while it lists them all (or is a plain argparse one)."""
    return getattr(sub, "_building", None)


class _Parsers(dict):
    """Command name -> parser, building a parser the first time it is looked up."""

    def __init__(self, build: Callable[[str], argparse.ArgumentParser], list_all: Callable[[], None],
                 known: Callable[[str], bool]) -> None:
        super().__init__()
        self._build = build
        self._list_all = list_all
        self._known = known

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and self._known(name):
            return True
        self._list_all()
        return super().__contains__(name)

    def __getitem__(self, name: str) -> argparse.ArgumentParser:
        if not super().__contains__(name):
            if not self._known(name):
                self._list_all()
            if not super().__contains__(name) and self._known(name):
                return self._build(name)
        parser = super().__getitem__(name)
        return self._build(name) if parser is None else parser

    def __iter__(self) -> Iterator[str]:
        self._list_all()
        return super().__iter__()

    def __len__(self) -> int:
        self._list_all()
        return super().__len__()

    def keys(self):                                             # type: ignore[override]
        self._list_all()
        return super().keys()

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def values(self) -> Iterator[argparse.ArgumentParser]:      # type: ignore[override]
        return (self[name] for name in list(self))

    def items(self) -> Iterator[tuple[str, argparse.ArgumentParser]]:     # type: ignore[override]
        return ((name, self[name]) for name in list(self))


class LazySubcommands(argparse._SubParsersAction):
    """`add_subparsers(action=LazySubcommands)`, then `.add_all(fn)`: fn(sub) adds every command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._listed = True             # argparse's own __init__ sets the list below; nothing to list yet
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _Parsers(self._build, self._list_all, self._is_declared)
        self._add_all: Callable[[Any], None] | None = None
        self._building: str | None = None
        self._declared: frozenset[str] = frozenset()

    # argparse reads the listed commands from here for help and usage: list them first.
    @property                                                   # type: ignore[override]
    def _choices_actions(self) -> list:
        self._list_all()
        return self.__dict__["_listed_choices"]

    @_choices_actions.setter
    def _choices_actions(self, value: list) -> None:
        self.__dict__["_listed_choices"] = value

    def add_all(self, add: Callable[[Any], None], names: Iterable[str] = ()) -> None:
        """fn adds every command; `names`, if given, are all of them, so one named on the command
        line is built without listing the others first."""
        self._add_all = add
        self._declared = frozenset(names)
        self._listed = False
        if not self._declared:
            self._list_all()

    def _is_declared(self, name: str) -> bool:
        return name in self._declared

    def _list_all(self) -> None:
        if self._listed or self._add_all is None:
            return
        self._listed = True
        self._listing: set[str] = set()
        self._add_all(self)
        missing = self._declared - set(dict.keys(self._name_parser_map))
        assert not missing, f"declared but not added: {sorted(missing)}"

    def add_parser(self, name: str, **kwargs: Any) -> Any:     # type: ignore[override]
        if kwargs.get("aliases"):
            raise ValueError(f"command {name!r}: aliases are not supported by the lazily built commands")
        if self._building is None:                              # listing: the name and its help only
            if name in self._listing:
                raise argparse.ArgumentError(self, f"conflicting subparser: {name}")
            self._listing.add(name)
            if "help" in kwargs:
                self.__dict__["_listed_choices"].append(self._ChoicesPseudoAction(name, (), kwargs["help"]))
            dict.setdefault(self._name_parser_map, name, None)      # a command built already stays built
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
        parser = dict.get(self._name_parser_map, name)
        assert parser is not None, f"command {name!r} was listed or declared but not built"
        return parser
