"""`deskpi status | move | stop | clear-fault | audit | logs | calibrate | doctor`: looking after a desk over SSH.

The commands that touch the live desk talk to the running daemon through its
control socket, ``<data_dir>/control.sock`` (``--data-dir D``, else
``[daemon] data_dir`` from the config, else /var/lib/deskpi); `audit` reads the
database directly and works with the daemon stopped. Nothing asks a question
unless ``--interactive`` is given, so every command runs from a script, cron or
``ssh desk deskpi ...`` with no terminal.

Exit codes (deskpi/exit_codes.py): 0 ok, 1 failure, 2 usage, 3 daemon not
running, 4 desk in fault, 5 refused or busy, 6 permission denied, 7 timed out.
Errors go to stderr; with ``--json`` they are one JSON object on stdout,
``{"error": "...", "exit_code": N, "problems": [...]}`` (deskpi.cli.common), and
every successful ``--json`` command prints exactly one JSON object.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from deskpi import exit_codes
from deskpi.cli.common import (
    CliError,
    add_command,
    data_dir,
    desk_data_dir,
    guarded,
    load_settings,
    mm,
    open_store,
    print_json,
)
from deskpi.daemon.client import ControlClient

POLL_S = 0.1
#: The admin commands say "permission denied" with exit 6: the control socket and the data are for root
#: and the deskpi group.
_guarded = guarded(permission_exit=exit_codes.PERMISSION,
                   permission_hint="run as root or a member of the deskpi group")


def _client(args: argparse.Namespace, timeout_s: float = 10.0, settings: Any = None) -> ControlClient:
    # Lenient: a broken config must not keep `status` from a daemon that read it before it broke.
    return ControlClient(data_dir(args, settings, lenient=True), timeout_s=timeout_s).connect()


# --------------------------------------------------------------------------------------- status

def _duration(s: float) -> str:
    s = int(s)
    return f"{s // 86400}d {s % 86400 // 3600}h" if s >= 86400 else f"{s // 3600}h {s % 3600 // 60}m" \
        if s >= 3600 else f"{s // 60}m {s % 60}s"


@_guarded
def _cmd_status(args: argparse.Namespace) -> int:
    with _client(args) as c:
        st = c.request("status")
    st.pop("ok", None)
    if args.json:
        print_json(st)
        return exit_codes.OK
    lim = st["limits"]
    print(f"deskpi {st['version']} (pid {st['pid']}{', simulated desk' if st.get('sim') else ''}), "
          f"up {_duration(st['uptime_s'])}, data in {st['data_dir']}")
    print(f"  height   {mm(st['height_mm'])}   state {st['state']}"
          f"{'   target ' + mm(st['target_mm']) if st.get('target_mm') is not None else ''}")
    print(f"  limits   {lim['min_mm']:g}-{lim['max_mm']:g} mm{'   child lock ON' if st.get('locked') else ''}")
    print(f"  fault    {st['fault'] or 'none'}")
    print(f"  user     {st['active_user'] or '-'}")
    storage = st.get("storage") or {}
    if storage.get("full"):
        print(f"  storage  FULL since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(storage['since']))}: "
              f"{storage.get('message', '')}")
    up, down = st["learned"]["up"], st["learned"]["down"]
    def coast(m):
        spread = f" +- {m['stop_scatter_mm']:g}" if m.get("stop_scatter_mm") is not None else ""
        return f"{m['speed_mm_s']:g} mm/s, coast {m['coast_mm']:g}{spread} mm ({m['moves_learned_from']} moves)"
    print(f"  learned  up {coast(up)}; down {coast(down)}")
    current = st.get("current") or {}
    if current.get("enabled"):
        def amps(m):
            return "not learned" if m.get("current_a") is None else f"{m['current_a']:g} A"
        print(f"  current  up {amps(up)}, down {amps(down)}" if current.get("running") else
              f"  current  NOT READING: {current.get('problem')} (deskpi doctor)")
    mqtt = st.get("mqtt")
    if mqtt:
        link = "connected" if mqtt["connected"] else f"NOT CONNECTED: {mqtt.get('problem') or 'connecting'}"
        commands = "on" if mqtt["allow_commands"] else "off"
        print(f"  mqtt     {link}; topics {mqtt['base_topic']}/...; commands {commands}")
    return exit_codes.OK


# ----------------------------------------------------------------------------------------- move

class _Interrupted(Exception):
    pass


def _bar(height: float | None, start: float, target: float, width: int = 30) -> str:
    span = abs(target - start) or 1.0
    done = 0.0 if height is None else min(max(abs(height - start) / span, 0.0), 1.0)
    n = int(done * width)
    return f"[{'#' * n}{'-' * (width - n)}] {mm(height)} -> {target:.0f} mm"


@_guarded
def _cmd_move(args: argparse.Namespace) -> int:
    with _client(args) as c:
        before = c.request("status")
        lo, hi = before["limits"]["min_mm"], before["limits"]["max_mm"]
        if not lo <= args.mm <= hi:
            raise CliError(f"MM {args.mm:g}: outside the desk's limits {lo:g}-{hi:g} mm", exit_codes.USAGE)
        c.request("move", target_mm=args.mm)
        if args.no_wait:
            if args.json:
                print_json({"target_mm": args.mm, "waiting": False, "height_mm": before["height_mm"]})
            else:
                print(f"moving to {args.mm:g} mm (from {mm(before['height_mm'])}); follow it with `deskpi status`")
            return exit_codes.OK
        return _wait_for_move(args, c, before)


def _wait_for_move(args: argparse.Namespace, c: ControlClient, before: dict) -> int:
    """Follow the move; a signal (Ctrl-C, a dropped SSH session) stops the desk: nobody is watching it any more."""
    def interrupted(signum, frame):
        raise _Interrupted(signal.Signals(signum).name)

    old = {s: signal.signal(s, interrupted) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    start, target = before["height_mm"] or args.mm, float(args.mm)
    tty = sys.stdout.isatty() and not args.json
    deadline = time.monotonic() + (args.timeout if args.timeout else abs(target - start) / 15.0 + 30.0)
    last_line = 0.0
    try:
        while True:
            st = c.request("status")
            if st["state"] == "fault":
                return _move_end(args, st, target, f"the desk stopped with a fault: {st['fault']}; "
                                                    f"clear it with `deskpi clear-fault`", exit_codes.FAULT)
            if st["state"] not in ("moving", "settling"):
                break
            if st.get("target_mm") is not None and abs(st["target_mm"] - target) > 0.05:
                return _move_end(args, st, target, f"another request took over the desk (now going to "
                                                    f"{st['target_mm']:g} mm)", exit_codes.REFUSED)
            if time.monotonic() > deadline:
                c.request("stop")
                return _move_end(args, st, target, "the move did not finish in time; the desk was stopped",
                                 exit_codes.TIMEOUT)
            if tty:
                print("\r" + _bar(st["height_mm"], start, target), end="", flush=True)
            elif not args.json and time.monotonic() - last_line >= 1.0:
                last_line = time.monotonic()
                print(f"moving: {mm(st['height_mm'])} (target {target:g} mm)", flush=True)
            time.sleep(POLL_S)
    except _Interrupted as exc:
        # A fresh connection: the old one may be half way through a reply.
        with ControlClient(c.path.parent) as fresh:
            fresh.request("stop")
            st = fresh.request("status")
        return _move_end(args, st, target, f"interrupted ({exc}): the desk was stopped", exit_codes.FAILURE)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if tty:
            print()
    tol = max(st.get("tolerance_mm", 2.0), 2.0)
    if st["height_mm"] is None or abs(st["height_mm"] - target) > tol + 3.0:
        return _move_end(args, st, target, f"the move ended at {mm(st['height_mm'])}, not at {target:g} mm "
                                            f"(stopped by someone, or the desk was stopped)", exit_codes.FAILURE)
    return _move_end(args, st, target, None, exit_codes.OK)


def _move_end(args: argparse.Namespace, st: dict, target: float, problem: str | None, code: int) -> int:
    h = st.get("height_mm")
    if args.json:
        out = {"target_mm": target, "height_mm": h, "state": st.get("state"), "fault": st.get("fault"),
               "error_mm": None if h is None else round(h - target, 1)}
        if problem is not None:
            out.update(error=problem, exit_code=code)
        print_json(out)
    elif problem is not None:
        print(f"deskpi: {problem}", file=sys.stderr)
    else:
        print(f"at {mm(h)} (target {target:g} mm)")
    return code


# ------------------------------------------------------------------------------ stop, clear-fault

@_guarded
def _cmd_stop(args: argparse.Namespace) -> int:
    with _client(args) as c:
        c.request("stop")
        st = c.request("status")
    if args.json:
        print_json({"stopped": True, "height_mm": st["height_mm"], "state": st["state"]})
    else:
        print(f"stopped at {mm(st['height_mm'])}")
    return exit_codes.OK


@_guarded
def _cmd_clear_fault(args: argparse.Namespace) -> int:
    with _client(args) as c:
        r = c.request("clear-fault")
        st = c.request("status")
    if args.json:
        print_json({"cleared": r["cleared"], "state": st["state"], "height_mm": st["height_mm"]})
    else:
        print(f"cleared: {r['cleared']}" if r["cleared"] else "there was no fault to clear")
    return exit_codes.OK


# ---------------------------------------------------------------------------------------- audit

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """'90m', '2h', '7d', an ISO date or date-time (local time unless it has an offset), or unix seconds."""
    now = time.time() if now is None else now
    t = text.strip()
    m = _RELATIVE.match(t)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        v = float(t)
        if v > 0:
            return v
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(t)
    except ValueError:
        raise CliError(f"--since {text!r}: use a duration back from now (90m, 2h, 7d), a date or date-time "
                       f"(2026-11-27, 2026-11-27T09:00) or unix seconds", exit_codes.USAGE) from None
    return when.timestamp() if when.tzinfo else when.astimezone().timestamp()


@_guarded
def _cmd_audit(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 10000:
        raise CliError(f"--limit {args.limit}: must be 1-10000", exit_codes.USAGE)
    since = parse_since(args.since) if args.since else None
    with open_store(desk_data_dir(args, lenient=True),
                    first="start the daemon once with this data dir (it creates the database)") as store:
        entries = store.list_audit(since=since, user=args.user, limit=args.limit)
    rows = [{"id": e.id, "t": e.t, "time": dt.datetime.fromtimestamp(e.t).astimezone().isoformat(timespec="seconds"),
             "source": e.source, "user": e.user, "action": e.action, "detail": e.detail, "remote": e.remote}
            for e in entries]
    if args.json:
        print_json({"entries": rows})
        return exit_codes.OK
    if not rows:
        print("no audit entries" + (" for that filter" if since or args.user else ""))
    for r in rows:
        detail = ", ".join(f"{k}={v}" for k, v in (r["detail"] or {}).items())
        where = f"  from {r['remote']}" if r["remote"] else ""
        print(f"{r['time']}  {r['source']:<8} {r['user'] or '-':<12} {r['action']:<11} {detail}{where}")
    return exit_codes.OK


# ----------------------------------------------------------------------------------------- logs

@_guarded
def _cmd_logs(args: argparse.Namespace) -> int:
    import shutil
    import subprocess

    if not 1 <= args.lines <= 100000:
        raise CliError(f"--lines {args.lines}: must be 1-100000", exit_codes.USAGE)
    journalctl = shutil.which("journalctl")
    if journalctl is None:
        raise CliError("journalctl is not available here (no systemd journal): the daemon logs to its standard "
                       "error, so see wherever `deskpi run` or `deskpi sim` was started (or its log file)")
    cmd = [journalctl, "-u", "deskpi", "-n", str(args.lines), "--no-pager"]
    if args.follow:
        cmd.append("-f")
    if args.json:
        cmd += ["-o", "json"]          # one JSON object per journal entry
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return exit_codes.OK


# ------------------------------------------------------------------------------------ calibrate

@_guarded
def _cmd_calibrate(args: argparse.Namespace) -> int:
    from deskpi.config import DEFAULT_PATH
    from deskpi.fleet.calibrate import (
        Calibration,
        CalibrationError,
        check_two_points,
        config_changes_text,
        write_config,
    )

    if not 0 <= args.moves <= 5:
        raise CliError(f"--moves {args.moves}: must be 0-5 (moves per direction)", exit_codes.USAGE)
    if not 50 <= args.distance_mm <= 500:
        raise CliError(f"--distance-mm {args.distance_mm:g}: must be 50-500", exit_codes.USAGE)
    measured = args.measured_mm
    if measured is None and args.interactive:
        if not sys.stdin.isatty():
            raise CliError("--interactive needs a terminal; pass --measured-mm N instead", exit_codes.USAGE)
        try:
            measured = float(input("Tape-measure the desktop's height above the floor (mm, empty to skip): ") or "nan")
        except ValueError:
            raise CliError("that was not a number of millimetres", exit_codes.USAGE) from None
        measured = None if measured != measured else measured
    at = args.at or []
    if at:
        try:
            check_two_points(at, measured)
        except CalibrationError as exc:
            raise CliError(str(exc), exit_codes.USAGE) from None
    path = Path(getattr(args, "config", None) or DEFAULT_PATH)
    if not path.exists() and not args.dry_run and getattr(args, "config", None) is None:
        raise CliError(f"no config file at {path} to write the results to; pass --config PATH (it is created if "
                       f"missing) or --dry-run")
    if not args.dry_run and not path.parent.is_dir():
        # Before the desk moves: found only when saving, the results of minutes of moves would be lost.
        raise CliError(f"--config {str(path)!r}: its folder {str(path.parent)!r} does not exist; nothing was moved "
                       f"or written. Check the path, or create the folder first", exit_codes.USAGE)
    settings = load_settings(args, missing_ok=True)      # a --config file that is not there yet is written below
    say = (lambda s: None) if args.json else (lambda s: print(s, flush=True))
    with _client(args, timeout_s=30.0, settings=settings) as c:
        cal = Calibration(c.request, settings, say=say)
        try:
            result = cal.run(measured_mm=measured, moves_per_direction=args.moves, distance_mm=args.distance_mm,
                             limits=args.limits, check_direction=not args.skip_direction, at=at,
                             ask=_ask_tape)
        except KeyboardInterrupt:
            c.request("stop")
            raise CliError("interrupted: the desk was stopped; nothing was written") from None
    written = False
    if result.changes:
        write_config(path, result.changes, dry_run=args.dry_run)
        written = not args.dry_run
    if args.json:
        print_json({**result.to_dict(), "config": str(path), "written": written, "dry_run": args.dry_run})
        return exit_codes.OK
    print("calibration summary:")
    for line in config_changes_text(result.changes) or ["nothing to change"]:
        print(f"  {line}")
    for d, s in result.speeds.items():
        print(f"  {d}: speed {s['speed_mm_s']} mm/s, coast {s['coast_mm']} mm over {s['moves']} move(s)")
    for d in ("up", "down"):
        c = result.current.get(d)
        if c is not None:
            sd = "" if c["sd_a"] is None else f" +-{c['sd_a']:g} A"
            learned = "not learned yet" if c["running_a"] is None else f"{c['running_a']:g} A{sd}"
            peak = c.get("peak_share")
            near = "" if peak is None else f" (its checks came within {peak:.0%} of cutting one)"
            print(f"  {d}: running current {learned} over {c['moves']} healthy move(s){near}")
    for note in result.notes:
        print(f"  note: {note}")
    if written:
        print(f"written to {path} (restart the daemon to use it: sudo systemctl restart deskpi)")
    elif result.changes:
        print(f"--dry-run: {path} was not changed")
    return exit_codes.OK


def _ask_tape(reported_mm: float) -> float:
    """One tape measurement for a two-point calibration: asked on stderr (stdout may be --json), read as one
    line of standard input, so it can be typed or piped."""
    print(f"The desk is at rest ({reported_mm:.0f} mm by the sensor). Tape-measure the desktop's height above "
          f"the floor and type it in mm:", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise CliError("no tape measurement was typed (standard input ended); the desk was left where it is and "
                       "nothing was written", exit_codes.USAGE)
    try:
        return float(line.strip())
    except ValueError:
        raise CliError(f"{line.strip()[:40]!r} is not a number of millimetres (e.g. 1148); nothing was written",
                       exit_codes.USAGE) from None


# --------------------------------------------------------------------------------------- doctor

@_guarded
def _cmd_doctor(args: argparse.Namespace) -> int:
    from deskpi.fleet.doctor import run_checks

    report = run_checks(config=getattr(args, "config", None), data_dir=getattr(args, "data_dir", None),
                        move=args.move)
    failed = any(c["status"] == "fail" for c in report["checks"])
    if args.json:
        print_json(report)
    else:
        mark = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}
        for c in report["checks"]:
            print(f"[{mark[c['status']]}] {c['name']}: {c['detail']}")
            if c["status"] != "pass" and c.get("hint"):
                print(f"       fix: {c['hint']}")
        for s in report.get("skipped", []):
            print(f"[skip] {s['name']}: {s['detail']}")
    return exit_codes.FAILURE if failed else exit_codes.OK


# -------------------------------------------------------------------------------------- argparse

def _tape_mm(text: str) -> float:
    """--measured-mm: a tape-measured height in range, refused as a usage error before anything moves."""
    from deskpi.fleet.calibrate import TAPE_MM, is_tape_mm
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of millimetres; give the desktop's height "
                                         f"above the floor in mm, {TAPE_MM[0]:g}-{TAPE_MM[1]:g}, like 742") from None
    if not is_tape_mm(value):
        raise argparse.ArgumentTypeError(f"{text!r}: give the desktop's height above the floor in mm, "
                                         f"{TAPE_MM[0]:g}-{TAPE_MM[1]:g}, like 742 (mm, not cm)")
    return value


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse turns the ValueError into exit 2)."""
    import math
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0, like 60")
    return value


def register(sub: Any) -> None:
    """Add status, move, stop, clear-fault, audit, logs, calibrate and doctor to the `deskpi` subparsers."""
    add_command(sub, "status", run=_cmd_status,
                help="the live desk: height, state, fault, limits, user, learned speeds",
                description="Ask the running daemon how the desk is.\n\n"
                            "Example: deskpi --data-dir /var/lib/deskpi status --json")

    mv = add_command(sub, "move", run=_cmd_move, help="move the desk to a height (waits until it is there)",
                     description="Move to MM millimetres through the daemon (audited, same safety rules as the "
                                 "web page). Waits until the move ends unless --no-wait; Ctrl-C or a dropped "
                                 "SSH session while waiting stops the desk.\n\n"
                                 "Examples: deskpi move 1100\n          deskpi move 720 --no-wait --json")
    mv.add_argument("mm", type=float, metavar="MM", help="target height in mm, within the desk's limits")
    mv.add_argument("--no-wait", action="store_true", help="return as soon as the move has started")
    mv.add_argument("--timeout", type=_seconds, metavar="S", help="give up (and stop the desk) after S seconds")

    add_command(sub, "stop", run=_cmd_stop, help="stop the desk now", description="Example: deskpi stop")

    add_command(sub, "clear-fault", run=_cmd_clear_fault, help="clear a latched fault once its cause is fixed",
                description="Example: deskpi clear-fault --json")

    au = add_command(sub, "audit", run=_cmd_audit, help="who moved the desk, when and how (from the database)",
                     description="Newest first. Works with the daemon stopped.\n\n"
                                 "Example: deskpi audit --since 2h --user Ana --limit 20 --json")
    au.add_argument("--since", metavar="WHEN", help="90m, 2h, 7d, 2026-11-27, 2026-11-27T09:00 or unix seconds")
    au.add_argument("--user", metavar="NAME", help="only entries by this user")
    au.add_argument("--limit", type=int, default=50, metavar="N", help="at most N entries (1-10000; 50)")

    lg = add_command(sub, "logs", run=_cmd_logs, help="the daemon's log (journalctl -u deskpi)",
                     description="Example: deskpi logs --lines 200   |   deskpi logs --follow", json_help=None)
    lg.add_argument("--lines", type=int, default=100, metavar="N", help="last N lines (default 100)")
    lg.add_argument("--follow", action="store_true", help="keep printing new lines")
    lg.add_argument("--json", action="store_true", help="one JSON object per journal entry (journalctl -o json)")

    ca = add_command(
        sub, "calibrate", run=_cmd_calibrate,
        help="measure sensor offset, wiring direction, speeds (and limits); write them to the config",
        description="The desk moves: keep the area clear. Runs through the daemon. Results go to the config "
                    "file (--config, default /etc/deskpi/deskpi.toml) atomically, comments kept; restart the "
                    "daemon afterwards.\n\n"
                    "Examples:\n"
                    "  deskpi calibrate --measured-mm 742 --dry-run\n"
                    "  deskpi calibrate --at 700 --at 1150 --moves 0   (two-point: type each tape measurement)\n"
                    "  sudo deskpi --config /etc/deskpi/deskpi.toml calibrate --measured-mm 742 --limits --json")
    ca.add_argument("--measured-mm", type=_tape_mm, metavar="N",
                    help="the desktop's height above the floor, tape-measured now (sets the sensor offset)")
    ca.add_argument("--limits", action="store_true", help="also drive to each end in short steps to find end stops")
    ca.add_argument("--moves", type=int, default=2, metavar="N", help="speed moves per direction (0-5; 2)")
    ca.add_argument("--distance-mm", type=float, default=150.0, metavar="MM", help="length of a speed move (150)")
    ca.add_argument("--skip-direction", action="store_true", help="do not check the wiring direction")
    ca.add_argument("--dry-run", action="store_true", help="measure and report, write nothing")
    ca.add_argument("--interactive", action="store_true", help="ask for the tape measurement on the terminal")
    ca.add_argument("--at", type=float, action="append", metavar="MM",
                    help="two-point calibration (offset and scale): take the desk to MM and ask for the tape "
                         "measurement there; give it twice, or once with --measured-mm")

    dr = add_command(sub, "doctor", run=_cmd_doctor,
                     help="self-test: config, pins, sensor, service, watchdog, clock, database, disk",
                     description="Every check says pass, warn or fail with a fix. Exits 1 if any check fails. "
                                 "--move also moves the desk ~20 mm to check the motor's direction.\n\n"
                                 "Example: deskpi --data-dir /var/lib/deskpi doctor --json")
    dr.add_argument("--move", action="store_true", help="also check that the motor moves the desk the right way")
