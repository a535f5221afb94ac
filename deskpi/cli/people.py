"""`deskpi ergonomics | user | plan`: the people at the desk, their heights and their plans.

Every command here works without the daemon: it opens the SQLite store in the
data directory (``--data-dir D``, else ``[daemon] data_dir`` from the config)
directly; SQLite's WAL lets the daemon keep running meanwhile. Their data
(stats, backup, restore) is deskpi.cli.data.

Exit codes: 0 done, 1 failed (a bad value, an unknown user, a busy or damaged
database), 2 usage (argparse). Errors go to stderr naming what was wrong, the
value and what is allowed; with ``--json`` they are printed to stdout as
``{"error": "...", "exit_code": 1, "problems": []}`` (deskpi.cli.common).

PINs and passwords are never taken from the command line (it shows up in
``ps`` and shell history): ``--pin-stdin`` reads one from standard input, or
asks twice without echo on a terminal.

The config: ``--config PATH``, else /etc/deskpi/deskpi.toml when it exists,
else the built-in defaults (the desk limits for the ergonomic heights come
from it).
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from deskpi.cli.common import (
    RAW,
    CliError,
    add_command,
    desk_data_dir,
    guarded,
    load_settings,
    mm,
    open_store,
    print_json,
    read_secret_hash,
    require_user,
)
from deskpi.people.accounts import (
    add_user,
    desk_notes,
    heights_for,
    last_admin_refusal,
    plan_for,
    rename_person,
    reset_pin,
    set_plan,
    user_dict,
)


def _limits(settings: Any) -> tuple[float, float]:
    return float(settings.desk.min_mm), float(settings.desk.max_mm)


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


# -------------------------------------------------------------------------------- ergonomics

def _recommend(stature_cm: float, shoe_mm: float | None, sex: str | None, settings: Any):
    from deskpi.core.ergonomics import recommend

    return recommend(stature_cm, shoe_mm, sex=sex, limits=_limits(settings))


def _ergonomics_dict(rec: Any, settings: Any) -> dict[str, Any]:
    d = rec.to_dict()
    lo, hi = _limits(settings)
    d["limits"] = {"min_mm": lo, "max_mm": hi, "source": settings.source}
    return d


@guarded
def _cmd_ergonomics(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    rec = _recommend(args.stature_cm, args.shoe_mm, args.sex, settings)
    if args.json:
        print_json(_ergonomics_dict(rec, settings))
        return 0
    lo, hi = _limits(settings)
    print(f"Stature {rec.stature_cm:g} cm + {rec.shoe_mm:g} mm shoes, desk travel {lo:g}-{hi:g} mm "
          f"({settings.source}):")
    for label, use, raw in (("seated", rec.sit_mm, rec.sit_raw_mm), ("standing", rec.stand_mm, rec.stand_raw_mm)):
        extra = f" (formula {raw:.0f} mm, clamped to the desk)" if abs(use - raw) >= 0.5 and rec.clamped else ""
        print(f"  {label + ':':10s}{use} mm{extra}")
    for note in rec.notes:
        print(f"  - {note}")
    return 0


# ------------------------------------------------------------------------------------- users

def _described(store: Any, user: Any) -> dict[str, Any]:
    """The user as the commands print them, with whether they are the active user and the owner."""
    return user_dict(user, store.get_active_user(), store.get_owner())


def _flags(d: dict[str, Any]) -> str:
    return ",".join(f for f, on in (("active", d["active"]), ("owner", d["owner"]), ("admin", d["role"] == "admin"),
                                     ("pin", d["has_pin"])) if on) or "-"


def _emit_user(args: argparse.Namespace, verb: str, store: Any, user: Any, notes: list[str],
               extra: dict[str, Any] | None = None) -> None:
    d = _described(store, user)
    if args.json:
        print_json({**d, **(extra or {}), "notes": notes})
        return
    print(f"{verb} user {user.name!r}: role {d['role']}, seated {mm(d['seated_mm'])}, "
          f"standing {mm(d['standing_mm'])}, PIN {'set' if d['has_pin'] else 'not set'}"
          + (", owner" if d["owner"] else "") + (", active" if d["active"] else ""))
    for note in notes:
        print(f"  - {note}")


@guarded
def _cmd_user_add(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    if args.sex is not None and args.stature_cm is None:
        raise CliError(f"--sex = {args.sex!r}: only used with --stature-cm (it picks the shoe allowance)")
    pin_hash = read_secret_hash() if args.pin_stdin else None
    with open_store(desk_data_dir(args, settings), create=True) as store:
        user, notes = add_user(store, args.name, limits=_limits(settings), stature_cm=args.stature_cm,
                               shoe_mm=args.shoe_mm, sex=args.sex, seated_mm=args.seated_mm,
                               standing_mm=args.standing_mm, units=args.units, admin=args.admin, pin_hash=pin_hash)
        _emit_user(args, "added", store, user, notes)
    return 0


@guarded
def _cmd_user_list(args: argparse.Namespace) -> int:
    where = desk_data_dir(args)
    # No database there is an error, not an empty list: a mistyped --data-dir must not look like a desk
    # nobody uses (nor create one). A desk with a database and nobody in it lists nobody.
    with open_store(where, create=False) as store:
        active, owner = store.get_active_user(), store.get_owner()
        users = [user_dict(u, active, owner) for u in store.list_users()]
    if args.json:
        print_json(users)
        return 0
    if not users:
        print(f"no users in {where} (add one: deskpi user add NAME --stature-cm 175)")
        return 0
    width = max(4, *(len(u["name"]) for u in users))
    print(f"{'NAME':{width}s}  {'ROLE':5s}  {'STATURE':>7s}  {'SEATED':>7s}  {'STANDING':>8s}  UNITS  FLAGS")
    for u in users:
        stature = "-" if u["stature_cm"] is None else f"{u['stature_cm']:g} cm"
        print(f"{u['name']:{width}s}  {u['role']:5s}  {stature:>7s}  {mm(u['seated_mm']):>7s}  "
              f"{mm(u['standing_mm']):>8s}  {u['units']:5s}  {_flags(u)}")
    return 0


@guarded
def _cmd_user_show(args: argparse.Namespace) -> int:
    from deskpi.core.habits.plan_names import plan_label

    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.name)
        d = _described(store, user)
        presets = store.get_presets(user.name)
        plan = store.get_plan(user.name)
        named, _ = plan_for(store, user.name)
    d["presets"] = {str(k): v for k, v in presets.items()}
    d["plan"] = None if plan is None else {"kind": plan.kind, "updated_at": plan.updated_at,
                                           "label": plan_label(named)}
    if args.json:
        print_json(d)
        return 0
    print(f"{d['name']} ({d['role']}{', ' + _flags(d) if _flags(d) != '-' else ''})")
    print(f"  stature {_num(d['stature_cm'])} cm, shoe allowance {_num(d['shoe_mm'])} mm, units {d['units']}")
    print(f"  seated {mm(d['seated_mm'])}, standing {mm(d['standing_mm'])}")
    print("  presets " + ", ".join(f"{k}: {mm(v)}" for k, v in d["presets"].items()))
    print(f"  plan {'none set, so the default: ' if plan is None else ''}{plan_label(named)}")
    return 0


@guarded
def _cmd_user_remove(args: argparse.Namespace) -> int:
    with open_store(desk_data_dir(args), create=False) as store, store.transaction():
        user = require_user(store, args.name)
        refusal = last_admin_refusal(store, user)        # as the API refuses it (409)
        if refusal:
            raise CliError(f"cannot remove {user.name!r}: {refusal}")
        d = _described(store, user)
        store.remove_user(user.name)
    notes = []
    if d["owner"]:
        notes.append("They were the desk's owner: the desk has no owner now (`deskpi user add` or the web page "
                     "can assign one).")
    if d["active"]:
        notes.append("They were the active user: nobody is active now (`deskpi user use NAME`).")
    return _say(args, {"removed": user.name, "was_owner": d["owner"], "was_active": d["active"], "notes": notes},
                f"removed user {user.name!r} with their presets, plan and reminder history", notes)


def _say(args: argparse.Namespace, doc: dict, headline: str, notes: list[str]) -> int:
    """The JSON document with --json, else the headline and its notes as a list."""
    if args.json:
        print_json(doc)
        return 0
    print(headline)
    for note in notes:
        print(f"  - {note}")
    return 0


@guarded
def _cmd_user_use(args: argparse.Namespace) -> int:
    with open_store(desk_data_dir(args), create=False) as store:
        require_user(store, args.name)
        user = store.set_active_user(args.name)
        _emit_user(args, "active", store, user, [])
    return 0


@guarded
def _cmd_user_rename(args: argparse.Namespace) -> int:
    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.old)
        renamed = rename_person(store, user, args.new, field="NEW")     # the admin page's rename
        same = renamed.name == user.name
        notes = [f"{user.name!r} is already called that: nothing changed."] if same else [
            f"What {user.name} did (moves, statistics, when they last used the desk) is {renamed.name}'s now; "
            f"they sign in as {renamed.name!r} with the same PIN.",
            "If they hold the desk from their phone right now, they claim it again."]
        d = _described(store, renamed)
    return _say(args, {**d, "renamed_from": user.name, "notes": notes},
                f"{user.name!r} keeps their name" if same else f"renamed {user.name!r} to {renamed.name!r}", notes)


@guarded
def _cmd_user_reset_pin(args: argparse.Namespace) -> int:
    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.name)
        pin, notes = reset_pin(store, user)                               # the admin page's reset
    # The web page's lock-out of a name after wrong PINs lives in the running daemon, out of reach here.
    notes.append(f"If {user.name}'s name is locked out after wrong PINs, that ends by itself within "
                 f"15 minutes (a reset on the admin page ends it at once).")
    return _say(args, {"name": user.name, "pin": pin, "notes": notes}, f"new PIN for {user.name!r}: {pin}", notes)


@guarded
def _cmd_plan_show(args: argparse.Namespace) -> int:
    from deskpi.core.habits.plan_names import plan_label

    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.name)
        plan, source = plan_for(store, user.name)
    doc = {"user": user.name, "source": source, "plan": plan.to_dict(), "label": plan_label(plan)}
    if args.json:
        print_json(doc)
    else:
        p = doc["plan"]
        print(f"{user.name}: {doc['label']} ({source}); {p['mode']} mode, {', '.join(p['days'])} "
              f"{p['start']}-{p['end']}")
    return 0


@guarded
def _cmd_plan_set(args: argparse.Namespace) -> int:
    from deskpi.core.habits.plan_names import plan_label
    from deskpi.core.habits.plans import Plan

    if args.kind is not None:
        doc: object = {"kind": args.kind}
    else:
        from deskpi.util.files import InputTooLarge, read_text_capped

        try:
            doc = json.loads(read_text_capped(args.file, what="a plan file", dash_is_stdin=True))
        except OSError as exc:
            raise CliError(f"--file {args.file!r}: cannot read it ({exc.strerror})") from None
        except InputTooLarge as exc:
            raise CliError(f"--file {args.file!r}: {exc.reason}") from None
        except ValueError as exc:              # not UTF-8, not JSON
            raise CliError(f"--file {args.file!r}: not valid JSON ({exc})") from None
    with open_store(desk_data_dir(args), create=False) as store:
        user = require_user(store, args.name)
        try:
            full = set_plan(store, user.name, doc)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    label = plan_label(Plan.from_dict(full))
    if args.json:
        print_json({"user": user.name, "plan": full, "label": label})
    else:
        print(f"{user.name}: plan set to {label} ({full['kind']})")
    return 0


@guarded
def _cmd_user_set(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    changes = [args.stature_cm, args.shoe_mm, args.seated_mm, args.standing_mm, args.units, args.role,
               args.pin_stdin or None, args.clear_pin or None]
    if all(c is None for c in changes):
        args._parser.error("nothing to change: give at least one of --stature-cm, --shoe-mm, --seated-mm, "
                           "--standing-mm, --units, --admin/--no-admin, --pin-stdin, --clear-pin")
    if args.pin_stdin and args.clear_pin:
        args._parser.error("--pin-stdin and --clear-pin contradict each other: give one")
    if args.sex is not None and args.stature_cm is None:
        raise CliError(f"--sex = {args.sex!r}: only used with --stature-cm (it picks the shoe allowance)")
    pin_hash = read_secret_hash() if args.pin_stdin else None     # before the store is open: a prompt may wait
    notes: list[str] = []
    with open_store(desk_data_dir(args, settings), create=False) as store:
        user = require_user(store, args.name)
        fields: dict[str, Any] = {}
        if args.stature_cm is not None:
            fields["stature_cm"] = args.stature_cm
            if args.keep_heights:
                notes.append("Seated and standing heights kept (--keep-heights).")
            else:
                shoe = args.shoe_mm if args.shoe_mm is not None else user.shoe_mm
                fields["seated_mm"], fields["standing_mm"], more = heights_for(
                    args.stature_cm, limits=_limits(settings), shoe_mm=shoe, sex=args.sex,
                    seated_mm=args.seated_mm, standing_mm=args.standing_mm)
                notes += more
                notes.append("Seated and standing heights re-recommended from the new stature "
                             "(--keep-heights keeps the old ones).")
        if args.shoe_mm is not None:
            fields["shoe_mm"] = args.shoe_mm
        if args.seated_mm is not None:
            fields["seated_mm"] = args.seated_mm
        if args.standing_mm is not None:
            fields["standing_mm"] = args.standing_mm
        if args.units is not None:
            fields["units"] = args.units
        if args.role is not None:
            refusal = last_admin_refusal(store, user, demoting=True) if args.role == "user" else None
            if refusal:
                raise CliError(f"--no-admin: {refusal}")
            fields["role"] = args.role
        if args.pin_stdin:
            fields["pin_hash"] = pin_hash
        if args.clear_pin:
            fields["pin_hash"] = None
        if "pin_hash" in fields:
            tokens = len(store.list_tokens(user.name))
            notes.append(f"PIN {'changed' if args.pin_stdin else 'removed'}: {user.name} is signed out of the web "
                         f"page everywhere and {tokens} API token{'' if tokens == 1 else 's'} "
                         f"{'was' if tokens == 1 else 'were'} revoked (`deskpi token create {user.name}` makes a "
                         f"new one)")
        if "seated_mm" in fields or "standing_mm" in fields:
            notes += desk_notes(fields.get("seated_mm"), fields.get("standing_mm"), _limits(settings))
        user = store.update_user(user.name, **fields)
        _emit_user(args, "updated", store, user, notes)
    return 0


# ----------------------------------------------------------------------------------- argparse

def register(sub: Any) -> None:
    """Add ergonomics, user and plan to the `deskpi` subparsers `sub`."""
    e = add_command(
        sub, "ergonomics", run=_cmd_ergonomics, help="recommended seated and standing desk heights for a stature",
        description="Seated (0.37 x S) and standing (0.615 x S) work-surface heights, S = stature + shoe "
                    "allowance, clamped to the desk's travel from the config.\n\n"
                    "Example: deskpi ergonomics --stature-cm 175 --json")
    e.add_argument("--stature-cm", type=float, required=True, metavar="N", help="body height in cm (100-250)")
    e.add_argument("--shoe-mm", type=float, metavar="M",
                   help="shoe allowance in mm (0-100; default 35, or 25 with --sex male, 45 with --sex female)")
    e.add_argument("--sex", choices=("male", "female"), help="picks the shoe allowance (default: neutral 35 mm)")

    u = sub.add_parser(
        "user", help="add, list, show, change, remove and switch users (people at the desk)", formatter_class=RAW,
        description="People who use this desk, kept in the store in the data directory; works with or without "
                    "the daemon running.\n\n"
                    "Examples:\n"
                    "  deskpi user add Ana --stature-cm 168 --pin-stdin <<< 4711\n"
                    "  deskpi user list --json\n"
                    "  deskpi --data-dir /var/lib/deskpi user use Ana")
    us = u.add_subparsers(dest="user_command", required=True, metavar="{add,list,show,set,rename,reset-pin,remove,use}")

    a = add_command(
        us, "add", run=_cmd_user_add, help="add a user (the first one becomes owner and active user)",
        description="Add a user. With --stature-cm the seated and standing heights (and so presets 1 and 2) "
                    "are the ergonomic recommendation for the desk; --seated-mm/--standing-mm override them. "
                    "The PIN/password is read from standard input, never from the command line.\n\n"
                    "Example: echo 4711 | deskpi user add Ana --stature-cm 168 --admin --pin-stdin")
    a.add_argument("name", metavar="NAME", help="1-40 characters, case-insensitively unique")
    a.add_argument("--stature-cm", type=float, metavar="N", help="body height in cm (100-250)")
    a.add_argument("--shoe-mm", type=float, metavar="M", help="shoe allowance in mm (0-100; default 35)")
    a.add_argument("--sex", choices=("male", "female"), help="with --stature-cm: shoe allowance 25 / 45 mm")
    a.add_argument("--seated-mm", type=float, metavar="N", help="seated desk height (300-2000 mm)")
    a.add_argument("--standing-mm", type=float, metavar="N", help="standing desk height (300-2000 mm)")
    a.add_argument("--units", choices=("cm", "in"), default="cm", help="units shown to this user (default cm)")
    a.add_argument("--admin", action="store_true", help="may change settings and other users")
    a.add_argument("--pin-stdin", action="store_true",
                   help="read a PIN (4-12 digits) or password (8-128 characters) from standard input")

    add_command(us, "list", run=_cmd_user_list, help="list the users",
                description="List users with their heights and whether they are active, the owner, an "
                            "admin or have a PIN (never the PIN itself).\n\n"
                            "Example: deskpi user list --json", json_help="print one JSON list")

    sh = add_command(us, "show", run=_cmd_user_show, help="show one user with presets and plan",
                     description="Show one user's profile, presets 1-4 and plan.\n\nExample: deskpi user show Ana")
    sh.add_argument("name", metavar="NAME")

    st = add_command(
        us, "set", run=_cmd_user_set, help="change a user's stature, heights, units, role or PIN",
        description="Change a user. A new --stature-cm re-recommends the seated and standing heights unless "
                    "--keep-heights (explicit --seated-mm/--standing-mm always win). A new or removed PIN "
                    "(--pin-stdin, --clear-pin) signs the person out of the web page everywhere and revokes "
                    "all their API tokens.\n\n"
                    "Examples:\n"
                    "  deskpi user set Ana --standing-mm 1085\n"
                    "  deskpi user set Ana --pin-stdin < pin.txt")
    st.add_argument("name", metavar="NAME")
    st.add_argument("--stature-cm", type=float, metavar="N", help="body height in cm (100-250)")
    st.add_argument("--shoe-mm", type=float, metavar="M", help="shoe allowance in mm (0-100)")
    st.add_argument("--sex", choices=("male", "female"), help="with --stature-cm: shoe allowance 25 / 45 mm")
    st.add_argument("--keep-heights", action="store_true", help="with --stature-cm: keep seated/standing heights")
    st.add_argument("--seated-mm", type=float, metavar="N", help="seated desk height (300-2000 mm)")
    st.add_argument("--standing-mm", type=float, metavar="N", help="standing desk height (300-2000 mm)")
    st.add_argument("--units", choices=("cm", "in"), help="units shown to this user")
    role = st.add_mutually_exclusive_group()
    role.add_argument("--admin", dest="role", action="store_const", const="admin", help="make an admin")
    role.add_argument("--no-admin", dest="role", action="store_const", const="user", help="make a plain user")
    st.add_argument("--pin-stdin", action="store_true",
                    help="set a new PIN/password read from standard input (signs them out everywhere and "
                         "revokes their API tokens)")
    st.add_argument("--clear-pin", action="store_true",
                    help="remove the PIN/password (signs them out everywhere and revokes their API tokens)")
    st.set_defaults(role=None, _parser=st)

    rn = add_command(
        us, "rename", run=_cmd_user_rename, help="give a user a new name (what they did stays theirs)",
        description="Give a user a new name: the rules of adding one (1-40 characters, case-insensitively "
                    "unique, lookalike spellings count as the same name). Their moves, statistics and "
                    "reminder history follow the new name; their PIN stays. The same as Rename on the "
                    "admin page.\n\n"
                    "Example: deskpi user rename Cleo Clementine")
    rn.add_argument("old", metavar="OLD", help="the name they have now")
    rn.add_argument("new", metavar="NEW", help="the new name (1-40 characters)")

    rp = add_command(
        us, "reset-pin", run=_cmd_user_reset_pin, help="give a user a new PIN drawn by the desk, shown once",
        description="Give a user a new six-digit PIN drawn by the desk and print it once: tell it to them in "
                    "person. Like any PIN change it signs them out of the web page everywhere and revokes "
                    "their API tokens. The same as Reset PIN on the admin page. To choose a PIN yourself: "
                    "deskpi user set NAME --pin-stdin.\n\n"
                    "Example: deskpi user reset-pin Bob --json")
    rp.add_argument("name", metavar="NAME")

    rm = add_command(us, "remove", run=_cmd_user_remove, help="remove a user with their presets, plan and reminders",
                     description="Remove a user with their presets, plan and reminder history (the audit trail "
                                 "keeps the name).\n\nExample: deskpi user remove Ana")
    rm.add_argument("name", metavar="NAME")

    use = add_command(us, "use", run=_cmd_user_use, help="make a user the active one (who is at the desk)",
                      description="Make NAME the active user: their presets, plan and statistics apply.\n\n"
                                  "Example: deskpi user use Ana")
    use.add_argument("name", metavar="NAME")

    pl = sub.add_parser("plan", help="show or set a person's sit-stand plan",
                        description="Example: deskpi plan show Ana --json\n"
                                    "         deskpi plan set Ana --kind cornell", formatter_class=RAW)
    pls = pl.add_subparsers(dest="plan_command", required=True)
    show = add_command(pls, "show", run=_cmd_plan_show,
                       help="the plan in force for NAME (the default when none was set)",
                       description="Example: deskpi plan show Ana --json")
    show.add_argument("name", metavar="NAME")
    pset = add_command(pls, "set", run=_cmd_plan_set, help="choose a preset plan or load a custom one from a JSON file",
                       description="Example: deskpi plan set Ana --kind cornell\n"
                                   "         deskpi plan set Ana --file my-plan.json   "
                                   "(fields as printed by `plan show --json`)")
    pset.add_argument("name", metavar="NAME")
    src = pset.add_mutually_exclusive_group(required=True)
    src.add_argument("--kind", choices=("default", "cornell"), help="a preset plan")
    src.add_argument("--file", metavar="F", help="a JSON plan document ('-' for stdin)")
