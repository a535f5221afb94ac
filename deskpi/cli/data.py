"""`deskpi stats | backup | restore`: what the desk recorded, and the database it lives in.

Like the people commands, these open the SQLite store in the data directory
(``--data-dir D``, else ``[daemon] data_dir`` from the config) directly, with
or without the daemon running; ``restore`` is refused while anything has the
database open. Exit codes: 0 done, 1 failed, 2 usage; errors as in
deskpi.cli.common.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

from deskpi.cli.common import CliError, add_command, data_dir, desk_data_dir, guarded, open_store, print_json

# ------------------------------------------------------------------------------------- stats

@guarded
def _cmd_stats(args: argparse.Namespace) -> int:
    from deskpi.people.accounts import local_zone, stats_report

    where = desk_data_dir(args)
    try:
        zone = local_zone(args.tz)
        with open_store(where, create=False) as store:
            result = stats_report(store, user=args.user, days=args.days, zone=zone, now=args.now)
    except (ValueError, LookupError) as exc:
        raise CliError(str(exc).replace("days = ", "--days = ").replace("tz = ", "--tz = ")
                       .replace("now = ", "--now = ").replace("user = ", "--user = ")) from None
    result["data_dir"] = str(where)
    if args.json:
        print_json(result)
        return 0
    _print_stats(result)
    return 0


def _print_stats(r: dict[str, Any]) -> None:
    print(f"Statistics {r['first_day']} .. {r['last_day']} ({r['tz']}), data in {r['data_dir']}")

    def table(name: str, bucket: dict[str, Any]) -> None:
        print(f"\n{name}")
        print(f"  {'day':13s} {'sit':>6s} {'stand':>6s} {'betw.':>6s} {'unkn.':>6s} {'changes':>7s} "
              f"{'reminders':>9s} {'reached':>7s} {'goal':>6s}")
        for d in bucket["days"]:
            print(f"  {d['date']:13s} {_minutes(d)} {d['posture_changes']:7d} {d['reminders'].get('shown', 0):9d} "
                  f"{_goal_columns(d)}")
        for w in bucket["weeks"]:
            print(f"  {_week_label(w):13s} {_minutes(w)} {w['posture_changes']:7d} "
                  f"{w['reminders'].get('shown', 0):9d} {_goal_columns(w)}  ({w['working_days']} working day(s)"
                  f"{_whole_week(w)})")

    for name, bucket in r["users"].items():
        g = r["goals"][name]
        today = bucket["days"][-1]["standing_goal_min"] if bucket["days"] else None
        if g["week"] is None:
            goal = "no goal yet"
        else:
            goal = (f"goal today {today:g} min standing" if today is not None else "no goal today") + \
                   f", week {g['week']} of the plan"
        table(f"{name} (minutes; {goal}, {g['source']} plan)", bucket)
    if any(d["day_min"] and (d["sitting_min"] or d["standing_min"] or d["between_min"])
           for d in r["unassigned"]["days"]):
        table("unassigned (minutes)", r["unassigned"])
    print("(A week's goal column is the goal of its days shown: for this week, so far. The goal of the "
          "whole week, Monday to Sunday, follows in brackets.)")
    for line in r["notes"] + r["warnings"]:
        print(f"- {line}")


def whole(minutes: float | None) -> int:
    """Whole minutes as the pages round them (JavaScript's Math.round: halves up), so 12.5 reads 13 here too."""
    return math.floor((minutes or 0.0) + 0.5)


def _minutes(rec: dict[str, Any]) -> str:
    return " ".join(f"{whole(rec[k]):6d}" for k in ("sitting_min", "standing_min", "between_min", "unknown_min"))


def _goal_columns(rec: dict[str, Any]) -> str:
    """The share of the standing goal reached and the goal itself, in minutes ('-' without a goal)."""
    if rec["standing_goal_min"] is None:
        return f"{'-':>7s} {'-':>6s}"
    return f"{whole(100 * rec['goal_progress']):6d}% {whole(rec['standing_goal_min']):6d}"


def _whole_week(w: dict[str, Any]) -> str:
    if w.get("week_goal_min") is None:
        return ""
    return (f"; goal of the whole week {whole(w['week_goal_min'])} min, "
            f"{whole(100 * w['week_goal_progress'])}% reached")


def _week_label(w: dict[str, Any]) -> str:
    """A week as the dates it covers ('30 Nov–6 Dec'), not its ISO name."""
    from datetime import date

    first, last = date.fromisoformat(w["first_day"]), date.fromisoformat(w["last_day"])
    def day(d: date) -> str:
        return f"{d.day} {d.strftime('%b')}"
    return day(first) if first == last else f"{day(first)}–{day(last)}"


# ---------------------------------------------------------------------------- backup, restore

@guarded
def _cmd_backup(args: argparse.Namespace) -> int:
    dest = Path(args.dest)
    if dest.is_dir():
        dest = dest / time.strftime("deskpi-%Y%m%dT%H%M%SZ.db", time.gmtime())
    elif args.dest.endswith("/"):
        raise CliError(f"DEST = {args.dest!r}: that folder does not exist (is the drive mounted?); nothing was "
                       f"written. Give an existing folder or a file in one")
    # Never made here: a backup to /media/usb/... with the stick not mounted would land on the SD card.
    if not dest.parent.is_dir():
        raise CliError(f"DEST = {args.dest!r}: the folder {str(dest.parent)!r} does not exist (is the drive "
                       f"mounted?); nothing was written. Give a file in an existing folder, or create it first")
    if dest.exists() and not args.force:
        raise CliError(f"DEST = {str(dest)!r}: the file exists; choose another name or a directory, or pass "
                       f"--force to overwrite it")
    where = desk_data_dir(args)
    with open_store(where, create=False) as store:
        path = store.backup(dest)
        version = store.schema_version
        n_users = len(store.list_users())
    info = {"backup": str(path), "bytes": path.stat().st_size, "schema_version": version, "users": n_users,
            "data_dir": str(where)}
    if args.json:
        print_json(info)
    else:
        print(f"backed up {where} to {path} ({info['bytes']} bytes, {n_users} user(s), "
              f"schema version {version})")
    return 0


@guarded
def _cmd_restore(args: argparse.Namespace) -> int:
    from deskpi.store import Store

    where = data_dir(args)
    result = Store.restore(args.src, where)       # refused (StoreBusyError) while anything has it open
    with Store.open(result.path) as store:
        n_users = len(store.list_users())
    info = {"restored": str(result.path), "from": str(args.src),
            "previous": None if result.previous is None else str(result.previous),
            "schema_version": result.version, "users": n_users}
    if args.json:
        print_json(info)
    else:
        kept = f"; the database it replaced is kept as {result.previous}" if result.previous else ""
        print(f"restored {args.src} into {result.path} ({n_users} user(s), schema version {result.version}){kept}")
    return 0


# ----------------------------------------------------------------------------------- argparse

def register(sub: Any) -> None:
    """Add stats, backup and restore to the `deskpi` subparsers `sub`."""
    s = add_command(
        sub, "stats", run=_cmd_stats,
        help="sitting/standing minutes, posture changes, reminders and goal per day and week",
        description="Statistics from the measured height log, per user per local day and ISO week. Limitation: "
                    "the active-user history is not recorded yet, so the whole window is counted for the "
                    "current active user. Standing goal: from the user's plan (its ramp, by week since the user "
                    "was added), on the plan's working days.\n\n"
                    "Example: deskpi stats --user Ana --days 14 --json")
    s.add_argument("--user", metavar="NAME", help="only this user (default: every user)")
    s.add_argument("--days", type=int, default=7, metavar="N", help="the last N local days incl. today (1-400; 7)")
    s.add_argument("--tz", metavar="ZONE", help="IANA time zone for the days (default: the system's)")
    s.add_argument("--now", type=float, metavar="T", help="end of the report as unix seconds (default: now)")

    b = add_command(sub, "backup", run=_cmd_backup, help="copy the database to a file (safe while the daemon runs)",
                    description="A consistent copy of the live database (SQLite online backup), written "
                                "atomically. DEST may be a directory (a dated file is made in it).\n\n"
                                "Example: deskpi backup /media/usb/deskpi-$(hostname).db --json")
    b.add_argument("dest", metavar="DEST", help="backup file, or a directory to put a dated one in")
    b.add_argument("--force", action="store_true", help="overwrite DEST if it exists")

    r = add_command(sub, "restore", run=_cmd_restore, help="replace the database by a backup (stop the daemon first)",
                    description="Check SRC (integrity, a deskpi schema no newer than this version), upgrade "
                                "it, keep the current database as deskpi.db.<time>.bak and put SRC in its "
                                "place. Refused while the daemon has the database open.\n\n"
                                "Example: sudo systemctl stop deskpi && deskpi restore /media/usb/deskpi.db "
                                "&& sudo systemctl start deskpi")
    r.add_argument("src", metavar="SRC", help="a backup made by `deskpi backup`")
