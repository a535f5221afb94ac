"""What every `deskpi` command shares: its errors, its options, its settings, the store, a secret from stdin.

One error family: a command raises `CliError` (or lets a known error through:
a store, config, control-socket, database or file error) and `guarded` turns
it into one plain line on stderr, or with ``--json`` one object on stdout:
``{"error": "...", "exit_code": N, "problems": [...]}`` (``problems`` lists what
was wrong item by item where the error knows it; empty otherwise). The exit
code is the command's meaning from deskpi/exit_codes.py.

Kept light on purpose: `deskpi status` imports this, so anything heavy (the
store, the config schema, the fleet modules) is imported where it is used.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from deskpi import exit_codes
from deskpi.daemon.client import ControlError

RAW = argparse.RawDescriptionHelpFormatter
SECRET_MAX_BYTES = 4096                  # what --pin-stdin reads at most
#: Who may touch the data, said when a file is not ours to read or write (the people and token commands).
SERVICE_USER_HINT = "run as the user the deskpi service runs as, e.g. with sudo -u, or pass --data-dir D"

Command = Callable[[argparse.Namespace], int]


class CliError(Exception):
    """A failure to report: the message names what was wrong, the value given and what is allowed."""

    def __init__(self, message: str, exit_code: int = exit_codes.FAILURE,
                 problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.problems = problems or []


# ------------------------------------------------------------------------------------ output

def print_json(obj: Any) -> None:
    """One JSON document on one line of stdout (what every --json command prints)."""
    print(json.dumps(obj, allow_nan=False), flush=True)


def fail(args: argparse.Namespace, message: str, exit_code: int = exit_codes.FAILURE,
         problems: list[dict[str, Any]] | None = None) -> int:
    """Report an error (stderr, or the error object on stdout with --json) and return its exit code."""
    if getattr(args, "json", False):
        print_json({"error": message, "exit_code": exit_code, "problems": problems or []})
    else:
        print(f"deskpi: {message}", file=sys.stderr)
    return exit_code


def warn(warnings: Any) -> None:
    """Say each warning on stderr (stdout stays one JSON document with --json)."""
    for w in warnings:
        print(f"deskpi: warning: {w}", file=sys.stderr)


def report(args: argparse.Namespace, exc: CliError) -> int:
    """`fail` for a CliError caught outside `guarded`."""
    return fail(args, str(exc), exc.exit_code, exc.problems)


def mm(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} mm"


# ----------------------------------------------------------------------------------- the wrapper

def guarded(fn: Command | None = None, *, permission_exit: int = exit_codes.FAILURE,
            permission_hint: str = SERVICE_USER_HINT) -> Any:
    """Run a command; turn the expected failures into a message and an exit code instead of a traceback.

    `permission_exit`/`permission_hint`: what a PermissionError means for this group of commands (the
    admin commands exit 6, "permission denied"; the others exit 1).
    """
    if fn is None:
        return functools.partial(guarded, permission_exit=permission_exit, permission_hint=permission_hint)

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except BrokenPipeError:                  # `deskpi audit | head`: the reader left, nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return exit_codes.FAILURE
        except Exception as exc:  # noqa: BLE001 - one clear line over SSH beats a traceback; still exit 1
            return fail(args, *_describe(exc, permission_exit, permission_hint))
    return run


def _describe(exc: Exception, permission_exit: int, permission_hint: str) -> tuple[str, int, list[dict[str, Any]]]:
    """(message, exit code, problems) for an error a command let through."""
    if isinstance(exc, CliError):
        return str(exc), exc.exit_code, exc.problems
    if isinstance(exc, ControlError):
        return str(exc), exc.code, []
    import sqlite3  # only now: `deskpi status` never needs the database

    if isinstance(exc, ValueError):              # StoreError, ConfigError, EditError, ApplyError, PlanError, ...
        return str(exc), exit_codes.FAILURE, _problems(exc)
    if isinstance(exc, sqlite3.Error):
        return f"database error: {exc}", exit_codes.FAILURE, []
    if isinstance(exc, OSError):
        msg = f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc)
        if isinstance(exc, PermissionError):
            return f"{msg} ({permission_hint})", permission_exit, []
        return msg, exit_codes.FAILURE, []
    return (f"internal error (a deskpi bug, please report it): {type(exc).__name__}: {exc}",
            exit_codes.FAILURE, [])


def _problems(exc: ValueError) -> list[dict[str, Any]]:
    """Every reason a config, a config edit or a desired state was refused (they list them all)."""
    from deskpi.config import ConfigError
    from deskpi.fleet.config_edit import EditError
    from deskpi.fleet.desired_state import ApplyError

    if isinstance(exc, ApplyError):
        return exc.problems
    if isinstance(exc, (EditError, ConfigError)):
        return [{"message": p} for p in exc.problems]
    return []


# ------------------------------------------------------------------------------- shared options

def add_command(sub: Any, name: str, *, run: Command, json_help: str | None = "print one JSON object (errors too)",
                **parser_kw: Any) -> argparse.ArgumentParser:
    """A subcommand of `sub` that runs `run(args)`, with the options every command takes: --json (unless
    json_help is None), and --data-dir/--config, which are also accepted after the subcommand."""
    p = sub.add_parser(name, formatter_class=RAW, **parser_kw)
    shared = p.add_argument_group("options of every command")    # listed after the command's own options
    if json_help is not None:
        shared.add_argument("--json", action="store_true", help=json_help)
    shared.add_argument("--data-dir", metavar="D", default=argparse.SUPPRESS,
                        help="the data directory (default: [daemon] data_dir from the config)")
    shared.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default /etc/deskpi/deskpi.toml if it exists, else built-in defaults)")
    p.set_defaults(func=run)
    return p


# ------------------------------------------------------------------------------------- settings

def load_settings(args: argparse.Namespace, *, etc: str = "if-present", missing_ok: bool = False,
                  lenient: bool = False) -> Any:
    """The settings a command runs with: --config PATH, else /etc/deskpi/deskpi.toml, else the built-in defaults.

    etc: how /etc/deskpi/deskpi.toml is used without --config: "if-present", "required" (`deskpi run`: the
    real desk needs its wiring) or "never" (`deskpi sim`: a simulated desk needs no config).
    missing_ok: a --config file that does not exist yet stands for the built-in defaults (`export`,
    `migrate`: like `config set`, which creates it).
    A broken file is a CliError (exit 1); with `lenient` it is a warning and the built-in defaults, so
    `status` still reaches a daemon that runs with the config it read before someone broke the file.
    The config's own warnings go to stderr.
    """
    from deskpi.config import DEFAULT_PATH, ConfigError, defaults, load

    given = getattr(args, "config", None)
    if given:
        path: Path | None = None if missing_ok and not Path(given).exists() else Path(given)
    elif etc == "required" or (etc == "if-present" and DEFAULT_PATH.is_file()):
        path = DEFAULT_PATH
    else:
        path = None
    try:
        settings = load(path) if path is not None else defaults()
    except ConfigError as exc:
        if not lenient:
            raise CliError(str(exc), problems=[{"message": p} for p in exc.problems]) from None
        warn([f"{exc} (using the built-in defaults)"])
        return defaults()
    warn(settings.warnings)
    return settings


def data_dir(args: argparse.Namespace, settings: Any = None, *, lenient: bool = False) -> Path:
    """--data-dir D, else [daemon] data_dir from `settings` (loaded from the config when not given)."""
    if getattr(args, "data_dir", None):
        return Path(args.data_dir)
    if settings is None:
        settings = load_settings(args, lenient=lenient)
    return Path(settings.daemon.data_dir)


def desk_data_dir(args: argparse.Namespace, settings: Any = None, *, lenient: bool = False) -> Path:
    """`data_dir`, for the commands that work on a desk's data (people, plans, tokens, statistics, audit).

    Without --data-dir, on a machine where no desk was ever installed (the built-in data directory does not
    exist and the config names no other), that is a usage error saying so and how to point at one, rather
    than a database that is missing or a list of nobody."""
    where = data_dir(args, settings, lenient=lenient)
    if getattr(args, "data_dir", None) or where.exists():
        return where
    from deskpi.config import defaults

    if where != Path(defaults().daemon.data_dir):
        return where                       # the config's own data_dir: open_store says it is missing
    raise CliError(f"no desk is installed on this machine: there is no {where} (where an installed desk keeps "
                   f"its people and statistics). Point at a desk's data directory with --data-dir DIR (the "
                   f"one `deskpi sim --data-dir DIR` uses, for a simulated desk), or run this on the desk's "
                   f"Raspberry Pi (over SSH)", exit_codes.USAGE)


# ---------------------------------------------------------------------------------------- store

@contextmanager
def open_store(directory: Path, *, create: bool = False,
               first: str = "add a user first with `deskpi user add NAME`") -> Iterator[Any]:
    """The store in the data directory, closed after the `with`; without `create` a missing database is an
    error (saying what to do `first`), not a new file."""
    from deskpi.store import Store, db_path, match_owner

    path = db_path(directory)
    if not create and not path.is_file():
        what = (f"no deskpi database ({path.name}) there yet" if directory.is_dir()
                else "no deskpi database there (the directory does not exist)")
        raise CliError(f"data dir {str(directory)!r}: {what}; check --data-dir (or [daemon] data_dir in the "
                       f"config), or {first}")
    with Store.open(path) as store:
        match_owner(directory)       # run as root over SSH: the service must still own its database files
        yield store


def require_user(store: Any, name: str, what: str = "user") -> Any:
    """The user called `name` (case-insensitively), or an UnknownUserError listing who there is."""
    from deskpi.store import UnknownUserError

    user = store.get_user(name)
    if user is None:
        known = [u.name for u in store.list_users()]
        listing = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else "none yet"
        raise UnknownUserError(f"{what} = {name!r}: no such user (users: {listing})")
    return user


# ---------------------------------------------------------------------------------------- secrets

def read_secret_hash(flag: str = "--pin-stdin") -> str:
    """Read a PIN/password from stdin (or ask twice on a terminal), validate it and return its hash.

    `flag` names what asked for it in the messages (--pin-stdin, or hash-pin).
    """
    from deskpi.people.passwords import hash_secret, strip_stdin_newline, validate_secret

    stdin = sys.stdin
    if stdin is None:
        raise CliError(f"{flag}: there is no standard input to read the PIN/password from")
    if stdin.isatty():
        import getpass

        secret = getpass.getpass("PIN or password: ")
        if getpass.getpass("Again: ") != secret:
            raise CliError(f"{flag}: the two entries differ; nothing was changed")
    else:
        raw = stdin.buffer.read(SECRET_MAX_BYTES + 1) if hasattr(stdin, "buffer") else stdin.read().encode()
        if len(raw) > SECRET_MAX_BYTES:
            raise CliError(f"{flag}: more than {SECRET_MAX_BYTES} bytes on standard input; expected one "
                           f"PIN or password")
        try:
            secret = strip_stdin_newline(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise CliError(f"{flag}: standard input is not UTF-8 text") from None
    try:
        validate_secret(secret)
    except ValueError as exc:
        raise CliError(f"{flag}: {exc}") from None
    return hash_secret(secret)
