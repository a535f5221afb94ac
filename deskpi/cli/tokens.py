"""`deskpi token create | list | revoke`: API tokens for scripts (`Authorization: Bearer ...`).

The token is printed once, alone on stdout, so `TOKEN=$(deskpi token create Ana)` works;
only its hash is stored. Works with or without the daemon running.

A token of role "user" (the default) acts as its person. One of role "metrics" belongs to no
person: it reads the desk's Prometheus metrics (/metrics) and nothing else, and NAME says what
scrapes with it. `--token-stdin` keeps a metrics token made elsewhere, so a fleet's Prometheus
shows one token to every desk.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from deskpi import exit_codes
from deskpi.cli.common import RAW, CliError, add_command, desk_data_dir, guarded, open_store, print_json, require_user

ROLES = ("user", "metrics")
#: What --token-stdin reads at most (a token is about 50 characters).
TOKEN_MAX_BYTES = 512


@guarded
def _cmd_create(args: argparse.Namespace) -> int:
    if args.role == "metrics":
        return _create_metrics(args)
    if args.token_stdin:
        raise CliError("--token-stdin: only a metrics token may be handed in (add --role metrics); a person's "
                       "token is always made by the desk")
    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.name)
        token_id, token = store.create_token(user.name, args.label or "")
    if args.json:
        print_json({"id": token_id, "user": user.name, "role": "user", "label": args.label or "", "token": token})
    else:
        print(token)
    return 0


def _create_metrics(args: argparse.Namespace) -> int:
    given = _read_token() if args.token_stdin else None      # before the store is open: a pipe may wait
    with open_store(desk_data_dir(args), create=False) as store:
        token_id, token, created = store.create_metrics_token(args.name, args.label or "", token=given)
    if args.json:
        out = {"id": token_id, "user": None, "role": "metrics", "name": args.name, "label": args.label or "",
               "created": created}
        if given is None:
            out["token"] = token
        print_json(out)
    elif given is None:
        print(token)
    else:
        print(f"metrics token {token_id} for {args.name}: " + ("kept" if created else "already there, unchanged"))
    return 0


def _read_token() -> str:
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        raise CliError("--token-stdin: pipe the token in, e.g. deskpi token create prometheus --role metrics "
                       "--token-stdin < metrics.token")
    raw = stdin.buffer.read(TOKEN_MAX_BYTES + 1) if hasattr(stdin, "buffer") else stdin.read().encode()
    if len(raw) > TOKEN_MAX_BYTES:
        raise CliError(f"--token-stdin: more than {TOKEN_MAX_BYTES} bytes on standard input; expected one token")
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise CliError("--token-stdin: a token is plain ASCII (dpm_ and letters, digits, '-', '_')") from None


@guarded
def _cmd_list(args: argparse.Namespace) -> int:
    if args.role == "metrics":
        return _list_metrics(args)
    if args.name is None:
        raise CliError("NAME is missing: whose tokens? (`deskpi token list NAME`, or `deskpi token list "
                       "--role metrics` for the metrics tokens)", exit_codes.USAGE)
    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.name)
        tokens = store.list_tokens(user.name)
    if args.json:
        print_json({"user": user.name, "tokens": tokens})
        return 0
    if not tokens:
        print(f"{user.name} has no API tokens")
    for t in tokens:
        used = "never used" if t["last_used_at"] is None else "last used " + _when(t["last_used_at"])
        print(f"{t['id']:5d}  {t['label'] or '-':20s} created {_when(t['created_at'])}, {used}")
    return 0


def _list_metrics(args: argparse.Namespace) -> int:
    with open_store(desk_data_dir(args), create=False) as store:
        tokens = store.list_metrics_tokens(args.name)
    if args.json:
        print_json({"role": "metrics", "tokens": tokens})
        return 0
    if not tokens:
        print("no metrics tokens" + ("" if args.name is None else f" for {args.name}"))
    for t in tokens:
        used = "never used" if t["last_used_at"] is None else "last used " + _when(t["last_used_at"])
        print(f"{t['id']:5d}  {t['name']:20s} {t['label'] or '-':20s} created {_when(t['created_at'])}, {used}")
    return 0


@guarded
def _cmd_revoke(args: argparse.Namespace) -> int:
    with open_store(desk_data_dir(args), create=False) as store:
        if not store.revoke_token(args.id):
            raise CliError(f"token {args.id}: no such token (see `deskpi token list NAME`)")
    if args.json:
        print_json({"revoked": args.id})
    else:
        print(f"token {args.id} revoked")
    return 0


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def register(sub: Any) -> None:
    t = sub.add_parser("token", help="API tokens for scripts (create, list, revoke)", formatter_class=RAW,
                       description="API tokens let scripts use the desk's JSON API with "
                                   "`Authorization: Bearer TOKEN`; each acts as its user. A person may have at "
                                   "most 20 live tokens (revoke one to make another), and a change of their PIN "
                                   "(web page, `user set --pin-stdin`/`--clear-pin`, `apply`) revokes them all.\n\n"
                                   "A metrics token (--role metrics) belongs to no person and reads only the "
                                   "desk's Prometheus metrics; NAME then says what scrapes with it.\n\n"
                                   "Examples:\n  TOKEN=$(deskpi token create Ana --label laptop)\n"
                                   "  deskpi token list Ana --json\n  deskpi token revoke 3\n"
                                   "  deskpi token create prometheus --role metrics > metrics.token")
    ts = t.add_subparsers(dest="token_command", required=True, metavar="{create,list,revoke}")
    c = add_command(ts, "create", run=_cmd_create,
                    help="make a token and print it (once) on stdout; at most 20 per person",
                    description="Print a new API token for NAME once on stdout (only its hash is kept). A person "
                                "may have at most 20 live tokens: to make another, list them with `deskpi token "
                                "list NAME` and revoke one with `deskpi token revoke ID`. A change of NAME's PIN "
                                "revokes all their API tokens.\n\n"
                                "--role metrics: a token that reads the desk's Prometheus metrics (/metrics) and "
                                "nothing else, for NAME, what scrapes with it (no person: a PIN change leaves it "
                                "alone); at most 20 per desk. --token-stdin keeps a metrics token made elsewhere "
                                "(dpm_ and 32-100 letters, digits, '-' or '_'), so one token serves a whole "
                                "fleet; handing in one the desk already has changes nothing.\n\n"
                                "Examples:\n  TOKEN=$(deskpi token create Ana --label laptop)\n"
                                "  deskpi token create prometheus --role metrics\n"
                                "  deskpi token create prometheus --role metrics --token-stdin < fleet.token")
    c.add_argument("name", metavar="NAME", help="the user the token acts as (--role metrics: what scrapes with it)")
    c.add_argument("--label", metavar="TEXT", help="what the token is for (at most 64 characters)")
    c.add_argument("--role", choices=ROLES, default="user",
                   help="user (default): acts as the person NAME; metrics: reads /metrics only")
    c.add_argument("--token-stdin", action="store_true",
                   help="with --role metrics: keep the token given on standard input instead of making one")
    ls = add_command(ts, "list", run=_cmd_list, help="a user's tokens, or the metrics tokens (never the secrets)",
                     description="List NAME's API tokens, or with --role metrics the desk's metrics tokens "
                                 "(those made for NAME when it is given).\n\n"
                                 "Examples:\n  deskpi token list Ana\n  deskpi token list --role metrics")
    ls.add_argument("name", metavar="NAME", nargs="?", default=None)
    ls.add_argument("--role", choices=ROLES, default="user", help="user (default) or metrics")
    r = add_command(ts, "revoke", run=_cmd_revoke, help="delete a token by its id")
    r.add_argument("id", type=int, metavar="ID")
