"""`deskpi token create | list | revoke`: API tokens for scripts (`Authorization: Bearer ...`).

The token is printed once, alone on stdout, so `TOKEN=$(deskpi token create Ana)` works;
only its hash is stored. Works with or without the daemon running.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from deskpi.cli.common import RAW, CliError, add_command, desk_data_dir, guarded, open_store, print_json, require_user


@guarded
def _cmd_create(args: argparse.Namespace) -> int:
    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.name)
        token_id, token = store.create_token(user.name, args.label or "")
    if args.json:
        print_json({"id": token_id, "user": user.name, "label": args.label or "", "token": token})
    else:
        print(token)
    return 0


@guarded
def _cmd_list(args: argparse.Namespace) -> int:
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
                                   "Examples:\n  TOKEN=$(deskpi token create Ana --label laptop)\n"
                                   "  deskpi token list Ana --json\n  deskpi token revoke 3")
    ts = t.add_subparsers(dest="token_command", required=True, metavar="{create,list,revoke}")
    c = add_command(ts, "create", run=_cmd_create,
                    help="make a token and print it (once) on stdout; at most 20 per person",
                    description="Print a new API token for NAME once on stdout (only its hash is kept). A person "
                                "may have at most 20 live tokens: to make another, list them with `deskpi token "
                                "list NAME` and revoke one with `deskpi token revoke ID`. A change of NAME's PIN "
                                "revokes all their API tokens.\n\n"
                                "Example: TOKEN=$(deskpi token create Ana --label laptop)")
    c.add_argument("name", metavar="NAME", help="the user the token acts as")
    c.add_argument("--label", metavar="TEXT", help="what the token is for (at most 64 characters)")
    ls = add_command(ts, "list", run=_cmd_list, help="a user's tokens (never the secrets)")
    ls.add_argument("name", metavar="NAME")
    r = add_command(ts, "revoke", run=_cmd_revoke, help="delete a token by its id")
    r.add_argument("id", type=int, metavar="ID")
