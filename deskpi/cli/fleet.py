"""`deskpi config | apply | export | hash-pin | migrate`: configuring desks from a shell, one or hundreds.

Made for SSH and for Ansible: nothing asks a question, everything can be
repeated, `--json` prints one JSON object on stdout (errors too:
``{"error": "...", "exit_code": 1, "problems": [...]}``), and the exit code says what happened
(deskpi.exit_codes: 0 ok, 1 failure, 2 usage). `config validate` exits 1 when
the file has problems.

The config file is `--config PATH` (default /etc/deskpi/deskpi.toml); the
data directory is `--data-dir D`, else `[daemon] data_dir` from the config.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from deskpi import exit_codes
from deskpi.cli.common import (
    RAW,
    CliError,
    add_command,
    data_dir,
    guarded,
    load_settings,
    print_json,
    read_secret_hash,
    warn,
)

_guarded = guarded(permission_hint="run with sudo, or as the user the deskpi service runs as")


def _config_path(args: argparse.Namespace) -> Path:
    """The config file these commands read and edit (it need not exist yet: `config set` creates it)."""
    from deskpi.config import DEFAULT_PATH

    return Path(getattr(args, "config", None) or DEFAULT_PATH)


# -------------------------------------------------------------------------------------- config

@_guarded
def _cmd_config_show(args: argparse.Namespace) -> int:
    from deskpi.config import SCHEMA
    from deskpi.fleet.config_edit import effective, format_value, plain

    path = _config_path(args)
    settings = effective(path)
    if args.json:
        print_json({"file": str(path), "exists": path.is_file(),
                   "settings": {s: {k: plain(v) for k, v in d.items()} for s, d in settings.as_dict().items()},
                   "warnings": list(settings.warnings)})
        return exit_codes.OK
    print(f"# effective settings: {path}" + ("" if path.is_file() else " (absent: built-in defaults)"))
    for section in SCHEMA:
        print(f"\n[{section}]")
        for key in SCHEMA[section]:
            print(f"{key} = {format_value(getattr(getattr(settings, section), key))}")
    warn(settings.warnings)
    return exit_codes.OK


@_guarded
def _cmd_config_get(args: argparse.Namespace) -> int:
    import tomllib

    from deskpi.fleet.config_edit import effective, format_value, plain, read_text, split_key

    section, key = split_key(args.key)
    path = _config_path(args)
    value = getattr(getattr(effective(path), section), key)
    text = read_text(path)
    explicit = text is not None and key in tomllib.loads(text).get(section, {})
    if args.json:
        print_json({"key": args.key, "value": plain(value), "default": not explicit, "file": str(path)})
    else:
        print(format_value(value))
    return exit_codes.OK


@_guarded
def _cmd_config_set(args: argparse.Namespace) -> int:
    from deskpi.fleet.config_edit import RESTART_HINT, format_value, set_value

    if args.more:
        return _config_set_several(args)
    r = set_value(_config_path(args), args.key, args.value, timeout_s=args.lock_timeout)
    if args.json:
        print_json({"key": r.key, "from": r.old, "to": r.new, "changed": r.changed, "file": str(r.path),
                   "restart_needed": r.changed, "warnings": list(r.warnings)})
    elif r.changed:
        print(f"{r.key} = {format_value(r.new)} in {r.path} (was {format_value(r.old)}); {RESTART_HINT}")
    else:
        print(f"{r.key} is already {format_value(r.new)} in {r.path}: nothing changed")
    warn(r.warnings)
    return exit_codes.OK


def _config_set_several(args: argparse.Namespace) -> int:
    """`config set K1 V1 K2 V2 ...`: one validated write, for keys that only make sense together."""
    from deskpi.fleet.config_edit import RESTART_HINT, format_value, set_values

    if len(args.more) % 2:
        raise CliError(f"config set: {args.more[-1]!r} has no VALUE; give SECTION.KEY VALUE pairs",
                       exit_codes.USAGE)
    pairs = [(args.key, args.value), *zip(args.more[::2], args.more[1::2], strict=True)]
    results = set_values(_config_path(args), pairs, timeout_s=args.lock_timeout)
    changed = any(r.changed for r in results)
    if args.json:
        print_json({"changes": [{"key": r.key, "from": r.old, "to": r.new, "changed": r.changed} for r in results],
                    "changed": changed, "file": str(results[0].path), "restart_needed": changed,
                    "warnings": list(results[0].warnings)})
    else:
        for r in results:
            print(f"{r.key} = {format_value(r.new)} in {r.path} (was {format_value(r.old)})" if r.changed else
                  f"{r.key} is already {format_value(r.new)} in {r.path}")
        print(RESTART_HINT if changed else "nothing changed")
    warn(results[0].warnings)
    return exit_codes.OK


@_guarded
def _cmd_config_validate(args: argparse.Namespace) -> int:
    from deskpi.fleet.config_edit import EditError, read_text, validate_text

    path = Path(args.file) if args.file else _config_path(args)
    text = read_text(path)
    if text is None:
        raise EditError(["no such file; copy deskpi.example.toml there or pass the file to check"], str(path))
    problems, warnings = validate_text(text)
    if args.json:
        print_json({"file": str(path), "valid": not problems, "problems": [p.to_dict() for p in problems],
                   "warnings": warnings})
    else:
        for p in problems:
            print(f"{path}:{p.line or '-'}: {p.message}", file=sys.stderr)
        for w in warnings:
            print(f"{path}: warning: {w}", file=sys.stderr)
        if not problems:
            print(f"{path}: ok" + (f" ({len(warnings)} warning(s))" if warnings else ""))
    return exit_codes.FAILURE if problems else exit_codes.OK


# ------------------------------------------------------------------------------- apply, export

@_guarded
def _cmd_apply(args: argparse.Namespace) -> int:
    from deskpi.fleet.config_edit import RESTART_HINT
    from deskpi.fleet.desired_state import apply, changes_text, load

    config = _config_path(args)
    desired = load(args.file, config)
    where = data_dir(args, desired.merged)
    changes = apply(desired, config, where, dry_run=args.dry_run, prune=args.prune,
                    lock_timeout_s=args.lock_timeout)
    restart = any(c["kind"] == "setting" for c in changes)
    if args.json:
        print_json({"changed": bool(changes), "dry_run": args.dry_run, "changes": changes,
                   "restart_needed": restart and not args.dry_run, "file": str(args.file), "config": str(config),
                   "data_dir": str(where)})
        return exit_codes.OK
    for line in changes_text(changes):
        print(("would " if args.dry_run else "") + line)
    if not changes:
        print(f"{args.file}: the desk already matches; nothing {'would change' if args.dry_run else 'changed'}")
    else:
        print(f"{len(changes)} change(s) {'due' if args.dry_run else 'made'}")
        if restart and not args.dry_run:
            print(RESTART_HINT)
    return exit_codes.OK


@_guarded
def _cmd_export(args: argparse.Namespace) -> int:
    from deskpi.fleet.desired_state import export
    from deskpi.util.files import atomic_write

    config = _config_path(args)
    if args.output and args.output != "-" and not Path(args.output).parent.is_dir():
        # Never made here, as for `deskpi backup`: an export to a drive that is not mounted would land on the SD card.
        raise CliError(f"--output {args.output!r}: the folder {str(Path(args.output).parent)!r} does not exist (is "
                       f"the drive mounted?); nothing was written. Give a file in an existing folder")
    text = export(config, data_dir(args, load_settings(args, missing_ok=True)))
    if args.output and args.output != "-":
        atomic_write(Path(args.output), text, mode=0o600)       # it can hold PIN hashes
    else:
        sys.stdout.write(text)
    return exit_codes.OK


@_guarded
def _cmd_hash_pin(args: argparse.Namespace) -> int:
    print(read_secret_hash("hash-pin"))
    return exit_codes.OK


@_guarded
def _cmd_migrate(args: argparse.Namespace) -> int:
    import sqlite3

    from deskpi.store import Store, db_path, match_owner
    from deskpi.store.migrations import current_version

    # The config is read even with --data-dir: a broken config stops the installer's migrate and says why.
    where = data_dir(args, load_settings(args, missing_ok=True))
    path = db_path(where)
    if not path.is_file():
        info = {"data_dir": str(where), "database": False, "from": None, "to": None, "changed": False}
    else:
        conn = sqlite3.connect(str(path))
        try:
            before = current_version(conn)
        finally:
            conn.close()
        with Store.open(path) as store:                  # opening migrates, in one transaction per step
            after = store.schema_version
        match_owner(where)
        info = {"data_dir": str(where), "database": True, "from": before, "to": after,
                "changed": before != after}
    if args.json:
        print_json(info)
    elif not info["database"]:
        print(f"{where}: no database yet; nothing to migrate")
    else:
        print(f"{path}: schema version {info['from']} -> {info['to']}" if info["changed"] else
              f"{path}: schema version {info['to']} is current")
    return exit_codes.OK


# ------------------------------------------------------------------------------------ argparse

def register(sub: Any) -> None:
    """Add config, apply, export, hash-pin and migrate to the `deskpi` subparsers `sub`."""
    c = sub.add_parser("config", help="show, get, set and validate the config file", formatter_class=RAW,
                       description="The config file, from a shell. `set` validates the whole resulting file "
                                   "(schema and pin map) before writing it atomically, keeping its comments; "
                                   "the daemon reads it only at start, so restart deskpi after a change.\n\n"
                                   "Examples:\n"
                                   "  deskpi config show --json\n"
                                   "  deskpi config get desk.max_mm\n"
                                   "  sudo deskpi config set desk.max_mm 1250\n"
                                   "  deskpi config validate /tmp/new.toml --json")
    cs = c.add_subparsers(dest="config_command", required=True, metavar="{show,get,set,validate}")
    add_command(cs, "show", run=_cmd_config_show, help="the effective settings, defaults included",
                description="Example: deskpi config show --json")
    get = add_command(cs, "get", run=_cmd_config_get,
                      help="one effective setting", description="Example: deskpi config get motor.up_pin")
    get.add_argument("key", metavar="SECTION.KEY")
    st = add_command(cs, "set", run=_cmd_config_set, help="change one setting (validated, atomic, comments kept)",
                     description="VALUE is a TOML value (640, true, \"relay\", [13, 19]); a bare word works for "
                                 "text keys, and none clears an optional pin.\n\n"
                                 "Example: sudo deskpi config set indicators.buzzer_pin none\n"
                                 "Several at once: sudo deskpi config set web.tls_cert /etc/deskpi/tls/desk.pem "
                                 "web.tls_key /etc/deskpi/tls/desk.key")
    st.add_argument("key", metavar="SECTION.KEY")
    st.add_argument("value", metavar="VALUE")
    st.add_argument("more", nargs="*", metavar="SECTION.KEY VALUE",
                    help="more pairs, written together: keys that go in pairs (web.tls_cert with web.tls_key)")
    st.add_argument("--lock-timeout", type=float, default=10.0, metavar="S",
                    help="wait this long for another admin's change to finish (default 10)")
    va = add_command(cs, "validate", run=_cmd_config_validate, help="check a config file; exit 1 listing every problem",
                     description="Example: deskpi config validate /etc/deskpi/deskpi.toml --json")
    va.add_argument("file", metavar="FILE", nargs="?", help="default: the --config file")

    a = add_command(sub, "apply", run=_cmd_apply,
                    help="make this desk match a desired-state file (settings, users, plans, presets)",
                    description="Validate FILE completely (nothing changes on any error), then converge: "
                                "config keys listed, users listed (with plans and presets). A second apply "
                                "changes nothing. Users not in FILE are left alone unless --prune. A changed "
                                "or removed pin_hash signs that person out of the web page everywhere and "
                                "revokes all their API tokens. Format: "
                                "what `deskpi export` writes; see deskpi/fleet/desired_state.py.\n\n"
                                "Examples:\n"
                                "  sudo deskpi apply desk-042.toml --dry-run\n"
                                "  sudo deskpi --data-dir /var/lib/deskpi apply desk-042.toml --json\n"
                                "  ssh desk-042 sudo deskpi apply - --json < desk-042.toml")
    a.add_argument("file", metavar="FILE", help="the desired-state TOML file ('-': standard input)")
    a.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    a.add_argument("--prune", action="store_true", help="remove users that FILE does not list")
    a.add_argument("--lock-timeout", type=float, default=10.0, metavar="S",
                   help="wait this long for a concurrent apply/config set (default 10)")

    e = add_command(sub, "export", run=_cmd_export, help="write this desk's state as a desired-state file",
                    description="The effective settings and every user with plan and presets (PIN hashes, "
                                "never PINs), in the format `deskpi apply` takes.\n\n"
                                "Example: sudo deskpi export > desk-042.toml", json_help=None)
    e.add_argument("--output", "-o", metavar="F", help="write to F (mode 0600) instead of standard output")

    h = sub.add_parser("hash-pin", help="hash a PIN/password from standard input for a desired-state file",
                       description="Example: deskpi hash-pin < pin.txt   (prints scrypt$...)")
    h.set_defaults(func=_cmd_hash_pin)

    add_command(sub, "migrate", run=_cmd_migrate,
                help="upgrade the database schema (the installer runs this on upgrade)",
                description="Example: sudo deskpi migrate --json")
