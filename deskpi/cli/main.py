"""The `deskpi` command line."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import NoReturn


def _finite(value):
    """The result with every NaN or infinity as null: `--json` is read by jq and browsers, which refuse NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _print_result(result, args: argparse.Namespace) -> None:
    """A bench's result: one line of strict JSON with --json (as every command prints it), indented for a
    person without it."""
    from deskpi.cli.common import print_json

    if args.json:
        print_json(_finite(result))
    else:
        print(json.dumps(_finite(result), indent=2, allow_nan=False))


def _bench_control(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from deskpi.bench.control import run, run_real
    from deskpi.bench.desks import family_from_args

    moves = args.moves if args.moves is not None else (10 if args.clock == "real" else 1000)
    if args.quick and args.moves is None:
        moves = 3 if args.clock == "real" else 30
    try:
        family = family_from_args(args)
    except ValueError as exc:
        print(f"deskpi: {exc}", file=sys.stderr)
        return 2
    params = replace(family.params, moves=moves, seed=args.seed)
    result = run_real(params) if args.clock == "real" else run(params, near_end=family.near_end)
    result["desk"] = family.name
    if args.temperature_drift is not None:      # accuracy as the room's air drifts (deskpi/bench/temperature.py)
        from deskpi.bench.temperature import run as run_temperature
        result["temperature"] = run_temperature(params, args.temperature_drift)
    _print_result(result, args)
    return 0


def _drift_c(text: str) -> float:
    """--temperature-drift: 0-40 degC (argparse turns the error into exit 2 with the usage)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 40:
        raise argparse.ArgumentTypeError(f"{text!r}: give a swing of 0-40 degC, like 15 (winter to summer indoors)")
    return value


def _bench_latency(args: argparse.Namespace) -> int:
    from deskpi.bench.latency import run

    _print_result(run(quick=args.quick), args)
    return 0


def _bench_mqtt(args: argparse.Namespace) -> int:
    from deskpi.bench.broker import BrokerMissing
    from deskpi.bench.mqtt import run

    try:
        result = run(quick=args.quick)
    except BrokerMissing as exc:
        print(f"deskpi: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"deskpi: bench mqtt needs paho-mqtt ({exc}); install the `mqtt` extra: pip install 'deskpi[mqtt]'",
              file=sys.stderr)
        return 1
    _print_result(result, args)
    return 0


def _bench_web(args: argparse.Namespace) -> int:
    from deskpi.bench.web import run

    _print_result(run(quick=args.quick, sse_clients=args.clients, rps=args.rps), args)
    return 0


def _bench_signin(args: argparse.Namespace) -> int:
    from deskpi.bench.signin import run

    if args.requests < 1:
        print(f"deskpi: --requests {args.requests} must be 1 or more", file=sys.stderr)
        return 2
    _print_result(run(requests=args.requests), args)
    return 0


def _bench_sockets(args: argparse.Namespace) -> int:
    from deskpi.bench.sockets import run

    if args.quick:
        args.idle, args.slowloris, args.stops = min(args.idle, 50), min(args.slowloris, 5), min(args.stops, 20)
    for name in ("idle", "slowloris", "stops"):
        if getattr(args, name) < (1 if name == "stops" else 0):
            print(f"deskpi: --{name} {getattr(args, name)} must be {'1' if name == 'stops' else '0'} or more",
                  file=sys.stderr)
            return 2
    result = run(idle=args.idle, slowloris=args.slowloris, stops=args.stops)
    _print_result(result, args)
    return 0


def _bench_day(args: argparse.Namespace) -> int:
    from deskpi.core.habits.day_sim import run_day

    if not 0.0 <= args.compliance <= 1.0:
        print(f"deskpi: --compliance {args.compliance} must be a probability in 0..1", file=sys.stderr)
        return 2
    if args.week < 1:
        print(f"deskpi: --week {args.week} must be 1 or more (the first week of the plan is 1)", file=sys.stderr)
        return 2
    _print_result(run_day(args.seed, args.week, args.compliance), args)
    return 0


def _bench_faults(args: argparse.Namespace) -> int:
    from deskpi.bench.desks import family_from_args
    from deskpi.bench.faults import run

    if not 1 <= args.trials <= 1000:
        print(f"deskpi: --trials {args.trials} must be 1-1000", file=sys.stderr)
        return 2
    try:
        family = family_from_args(args)
    except ValueError as exc:
        print(f"deskpi: {exc}", file=sys.stderr)
        return 2
    if args.trace is not None:
        return _trace_fault(args, family)
    result = run(trials=args.trials, seed=args.seed, family=family, current=args.current)
    _print_result(result, args)
    return 0


def _trace_fault(args: argparse.Namespace, family) -> int:
    """One trial replayed line by line (its seed from a result's worst_trial_seed)."""
    from dataclasses import asdict

    from deskpi.bench.faults import FAULTS, run_trial

    name, _, seed = args.trace.partition(":")
    if name not in FAULTS or not seed.isdigit():
        print(f"deskpi: --trace {args.trace!r} must be FAULT:SEED, FAULT one of {', '.join(FAULTS)} "
              f"and SEED a trial's seed (worst_trial_seed in a result)", file=sys.stderr)
        return 2
    if args.current == "both":
        print("deskpi: --trace replays one trial: say --current on or --current off", file=sys.stderr)
        return 2
    lines: list[str] = []
    trial = run_trial(name, int(seed), family, current=args.current == "on", trace=lines)
    if args.json:
        _print_result({"desk": family.name, "fault": name, "seed": int(seed), "sensing": args.current,
                       "trial": asdict(trial), "trace": lines}, args)
    else:
        print("\n".join(lines))
    return 0


def _bench_soak(args: argparse.Namespace) -> int:
    from deskpi.bench.soak import run

    if not 0 < args.minutes <= 24 * 60:
        print(f"deskpi: --minutes {args.minutes:g} must be more than 0 and at most 1440 (a day)", file=sys.stderr)
        return 2
    if not 1 <= args.phones <= 32:
        print(f"deskpi: --phones {args.phones} must be 1-32 (the live streams' cap stays free for others)",
              file=sys.stderr)
        return 2
    try:
        return _print_bench(args, "soak", lambda: run(args.minutes, phones=args.phones, seed=args.seed))
    except KeyboardInterrupt:
        print("deskpi: soak interrupted; the simulator was stopped and its data removed", file=sys.stderr)
        return 130


def _print_bench(args: argparse.Namespace, name: str, bench) -> int:
    """A bench's JSON on stdout; a simulator that could not be set up or started is exit 1 with why."""
    try:
        result = bench()
    except RuntimeError as exc:
        print(f"deskpi: {name} could not start: {exc}", file=sys.stderr)
        return 1
    _print_result(result, args)
    return 0


def _bench_cli(args: argparse.Namespace) -> int:
    from deskpi.bench.cli_start import run

    if args.runs is not None and not 1 <= args.runs <= 1000:
        print(f"deskpi: --runs {args.runs} must be 1-1000", file=sys.stderr)
        return 2
    result = run(quick=args.quick, runs=args.runs, data_dir=args.data_dir, config=args.config)
    _print_result(result, args)
    return 0


def _bench_stress(args: argparse.Namespace) -> int:
    from deskpi.bench.stress import StressConfigError, run

    try:
        return _print_bench(args, "stress", lambda: run(
            quick=args.quick, cpu=args.cpu, phones=args.phones, rps=args.rps, presses=args.presses,
            moves=args.moves, reference_presses=args.reference_presses))
    except StressConfigError as exc:
        print(f"deskpi: {exc}", file=sys.stderr)
        return 2


def _bench_scale(args: argparse.Namespace) -> int:
    from deskpi.bench.scale import run

    people = args.people if args.people is not None else 3 if args.quick else 50
    if not 1 <= people <= 200:
        print(f"deskpi: --people {people} must be 1-200 (the people sharing the desk)", file=sys.stderr)
        return 2
    if not 2 <= args.days <= 400:
        print(f"deskpi: --days {args.days} must be 2-400 (the long history; the height log keeps 400 days)",
              file=sys.stderr)
        return 2
    return _print_bench(args, "bench scale", lambda: run(
        people=people, days=min(args.days, 8) if args.quick else args.days, quick=args.quick, seed=args.seed))


def _demo(args: argparse.Namespace) -> int:
    from deskpi.sim.demo import run

    return run()


def _daemon_settings(args: argparse.Namespace, *, etc: str, log_format: str):
    """Logging for the daemon's threads, and its settings; a broken config ends the command (exit 1)."""
    import logging

    from deskpi.cli.common import CliError, load_settings, report
    from deskpi.daemon import log_queue

    log_queue.install(log_format)
    if not getattr(args, "verbose", False):
        # APScheduler says at INFO every time the reminder job is rescheduled or runs (once a minute
        # or more): noise that buries what the desk itself says. --verbose brings it back.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    try:
        return load_settings(args, etc=etc)
    except CliError as exc:
        raise SystemExit(report(args, exc)) from None


def _sim(args: argparse.Namespace) -> int:
    from deskpi.daemon.root import Daemon
    from deskpi.daemon.web_server import WebServerError
    from deskpi.store import StoreError

    # A simulated desk needs no config: /etc/deskpi/deskpi.toml is for the real one.
    settings = _daemon_settings(args, etc="never", log_format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.metrics:
        from dataclasses import replace
        settings = replace(settings, metrics=settings.metrics.replace(enabled=True))
    settings = _sim_mqtt(settings, args)
    if settings is None:
        return 2
    data_dir = Path(args.data_dir or "deskpi-sim-data")
    daemon = Daemon(settings, sim=True, data_dir=data_dir, web=(args.host, args.port), seed=args.seed)
    daemon.install_signal_handlers()
    try:
        daemon.start()
    except StoreError as exc:           # an empty or damaged database: one line naming it and the way back
        daemon.shutdown()
        print(f"deskpi: cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        daemon.shutdown()
        # A failed name lookup (getaddrinfo) has no strerror: its text is the only reason there is.
        print(f"deskpi: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except WebServerError as exc:
        daemon.shutdown()
        print(f"deskpi: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"deskpi simulator running: open {daemon.url}  (Ctrl-C to stop; data in {data_dir})", flush=True)
    try:
        while not daemon.stopped.wait(0.5):
            pass
    finally:
        daemon.shutdown()
    return 0


def _sim_mqtt(settings, args: argparse.Namespace):
    """`--mqtt-host/--mqtt-port/--mqtt-allow-commands` turn [mqtt] on over the config; None: a bad host."""
    if args.mqtt_host is None and args.mqtt_port is None and not args.mqtt_allow_commands:
        return settings
    from dataclasses import replace

    from deskpi.config import is_host
    m = settings.mqtt
    host = m.host if args.mqtt_host is None else args.mqtt_host
    if not is_host(host):
        print(f"deskpi: --mqtt-host {host!r}: must be the broker's address or host name, e.g. 127.0.0.1",
              file=sys.stderr)
        return None
    return replace(settings, mqtt=m.replace(enabled=True, host=host, port=args.mqtt_port or m.port,
                                          allow_commands=m.allow_commands or args.mqtt_allow_commands))


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a port number 1-65535")
    return port


def _listen_port(text: str) -> int:
    """`sim --port`: 0 is meaningful here (the system picks a free port), unlike a broker's port."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a port number 0-65535 (0 picks a free one)")
    return port


def _run(args: argparse.Namespace) -> int:
    from deskpi.daemon.root import Daemon

    # The real desk needs its wiring: the config file must be there (journald adds the time).
    settings = _daemon_settings(args, etc="required", log_format="%(levelname)s %(name)s: %(message)s")
    web = (settings.web.host, settings.web.port)
    daemon = Daemon(settings, data_dir=Path(args.data_dir) if args.data_dir else None, web=web)
    try:
        daemon.build()
    except Exception as exc:  # noqa: BLE001 - a daemon that cannot build must say why and leave the motor alone
        daemon.shutdown()
        from deskpi.hw.pin_factory import is_raspberry_pi
        from deskpi.store import StoreError
        hint = ("" if is_raspberry_pi() or isinstance(exc, StoreError)     # a database problem is no pin problem
                else " (this is not a Raspberry Pi: try `deskpi sim`)")
        print(f"deskpi: cannot start: {exc}{hint}", file=sys.stderr)
        return 1
    from deskpi.daemon.web_server import WebServerError
    try:
        return daemon.run()
    except (OSError, WebServerError) as exc:        # the web server could not start (it has been shut down)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"deskpi: cannot serve on {web[0]}:{web[1]}: {reason}", file=sys.stderr)
        return 1


def _safe_off(args: argparse.Namespace) -> int:
    from deskpi.hw.safe_off import switch_off_motor_pins

    result = switch_off_motor_pins(args.config, args.data_dir)
    for problem in result.problems:
        print(f"deskpi: {problem}", file=sys.stderr)
    if result.switched_off:
        print("motor pins off: " + ", ".join(f"GPIO{p}" for p in result.switched_off))
    return 0 if result.ok else 1


class _JsonUsageParser(argparse.ArgumentParser):
    """A usage error as the JSON error object every --json command prints (exit 2): a script that asked
    for JSON reads stdout and must not get nothing. Subparsers are made of the same class."""

    def error(self, message: str) -> NoReturn:
        if self.prog.startswith("deskpi bench"):
            super().error(message)      # the benchmarks' errors are all on stderr, their JSON is the report
        from deskpi import exit_codes
        from deskpi.cli.common import print_json

        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        print_json({"error": f"{self.prog}: {message} (usage: {usage}; see {self.prog} --help)",
                    "exit_code": exit_codes.USAGE, "problems": []})
        self.exit(exit_codes.USAGE)


def build_parser(*, json_errors: bool = False) -> argparse.ArgumentParser:
    """`json_errors`: --json was given, so a usage error is the JSON error object on stdout."""
    cls = _JsonUsageParser if json_errors else argparse.ArgumentParser
    p = cls(prog="deskpi", description="Raspberry Pi controller for motorised sit-stand desks.")
    from deskpi import __version__
    p.add_argument("--version", action="version", version=f"deskpi {__version__}")
    p.add_argument("--config", metavar="PATH", help="config file (default /etc/deskpi/deskpi.toml)")
    p.add_argument("--data-dir", metavar="D", help="where deskpi keeps its data (default from the config)")
    from deskpi.cli.lazy_commands import LazySubcommands

    sub = p.add_subparsers(dest="command", required=True, action=LazySubcommands)
    sub.add_all(_add_commands, names=(*OWN_COMMANDS, *(n for names in COMMAND_MODULES.values() for n in names)))
    return p


#: The commands this module adds itself.
OWN_COMMANDS = ("sim", "run", "safe-off", "demo", "bench")
#: The commands each module of deskpi.cli adds, so that a command run over SSH imports its own module and
#: not the other four (tests/cli/test_cli_lazy_commands.py checks this against what the modules add).
COMMAND_MODULES = {
    "people": ("ergonomics", "user", "plan"),
    "data": ("stats", "backup", "restore"),
    "admin": ("status", "move", "stop", "clear-fault", "audit", "logs", "calibrate", "doctor"),
    "tokens": ("token",),
    "fleet": ("config", "apply", "export", "hash-pin", "migrate"),
}


def _add_commands(sub) -> None:
    """Every command (run once to list them and once more to build the one that is used: lazy_commands.py)."""
    sm = sub.add_parser("sim", help="run the daemon on a simulated desk with its live page",
                        description="Example: deskpi sim --port 8080 --data-dir ./demo-data")
    sm.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    sm.add_argument("--port", type=_listen_port, default=8080, help="port (default 8080; 0 picks a free one)")
    sm.add_argument("--data-dir", metavar="D", default=argparse.SUPPRESS)
    sm.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS)
    sm.add_argument("--seed", type=int, default=None, help="simulator random seed")
    sm.add_argument("--metrics", action="store_true",
                    help="serve Prometheus metrics at /metrics, read with a token of "
                         "`deskpi token create NAME --role metrics`")
    sm.add_argument("--verbose", action="store_true", help="also log every run of the reminder scheduler")
    sm.add_argument("--mqtt-host", metavar="H", help="publish to the MQTT broker at H (Home Assistant discovery)")
    sm.add_argument("--mqtt-port", metavar="P", type=_port, help="the broker's port (default 1883)")
    sm.add_argument("--mqtt-allow-commands", action="store_true",
                    help="let MQTT commands move the desk (Stop always works)")
    sm.set_defaults(func=_sim)
    r = sub.add_parser("run", help="run the daemon on the real desk (what systemd starts)",
                       description="Example: deskpi run --config /etc/deskpi/deskpi.toml")
    r.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS)
    r.add_argument("--verbose", action="store_true", help="also log every run of the reminder scheduler")
    r.set_defaults(func=_run)
    so = sub.add_parser("safe-off", help="drive the motor pins to their off level and exit",
                        description="Example: deskpi safe-off --config /etc/deskpi/deskpi.toml")
    so.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS)
    so.set_defaults(func=_safe_off)
    d = sub.add_parser("demo", help="drive a simulated desk from the terminal",
                       description="Example: deskpi demo   (on a terminal: type 1100 to stand, 720 to sit)")
    d.set_defaults(func=_demo)
    from deskpi.cli.lazy_commands import built

    def add_desk_arguments(p) -> None:      # the desk families import the simulator: only for a built parser
        if built(p):
            from deskpi.bench import desks
            desks.add_desk_arguments(p)

    bench = sub.add_parser("bench", help="measure accuracy, fault handling and latency")
    bsub = bench.add_subparsers(dest="bench", required=True)
    c = bsub.add_parser("control", help="stopping accuracy and time vs a naive controller and the physical limit",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Example: deskpi bench control --json --moves 1000 --seed 3\n\n"
                        "On the virtual clock the same targets are also run by `baseline` (a naive controller)\n"
                        "and `oracle` (one that reads the desk's true height and speed and cuts the power so\n"
                        "the expected coast ends on the target: the physical limit). time_vs_oracle is the\n"
                        "median, over moves paired by target, of deskpi's time from command to rest over the\n"
                        "oracle's (plus the oracle's time for any extra distance deskpi started from); pairs\n"
                        "where either move faulted or went nowhere are skipped. 1.0 is the limit;\n"
                        "time_vs_oracle_p90 and time_vs_oracle_total show the tail the median hides.")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--moves", type=int, default=None, help="default 1000 (virtual) or 10 (real)")
    c.add_argument("--quick", action="store_true", help="a few moves (30 virtual, 3 real) unless --moves says")
    c.add_argument("--clock", choices=("virtual", "real"), default="virtual",
                   help="virtual: core + physics + sensor model, fast; real: the full gpiozero stack with threads")
    c.add_argument("--seed", type=int, default=1)
    add_desk_arguments(c)
    c.add_argument("--temperature-drift", type=_drift_c, default=None, metavar="C",
                   help="also run with the air drifting over 15..15+C degC, with and without a thermometer (0-40)")
    c.set_defaults(func=_bench_control)
    f = bsub.add_parser("faults", help="inject each fault mid-move; detection, reaction time, travel",
                        description="Example: deskpi bench faults --json --trials 20")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.add_argument("--trials", type=int, default=10, help="trials per fault (worst is reported)")
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--current", choices=("off", "on", "both"), default="both",
                   help="motor current sensing: without it (off), with it (on), or each in turn (both, the default)")
    f.add_argument("--trace", metavar="FAULT:SEED", default=None,
                   help="replay one trial and print what happened in it (e.g. stall:1004; with --current on|off)")
    add_desk_arguments(f)
    f.set_defaults(func=_bench_faults)
    lt = bsub.add_parser("latency", help="button and API stop latency through the simulated pins; idle cost",
                         description="Example: deskpi bench latency --json")
    lt.add_argument("--json", action="store_true", help="print one JSON object")
    lt.add_argument("--quick", action="store_true", help="fewer samples (for tests)")
    lt.set_defaults(func=_bench_latency)
    mq = bsub.add_parser("mqtt", help="height to MQTT message, button presses with the broker up, down or "
                                      "stalled, idle CPU; against Debian's Mosquitto",
                         description="Example: deskpi bench mqtt --json   (needs the mosquitto package)")
    mq.add_argument("--json", action="store_true", help="print one JSON object")
    mq.add_argument("--quick", action="store_true", help="a few samples of each (for tests)")
    mq.set_defaults(func=_bench_mqtt)
    wb = bsub.add_parser("web", help="phone page weight, API latency under live-page load, browser timing",
                         description="Example: deskpi bench web --json --clients 20 --rps 50")
    wb.add_argument("--json", action="store_true", help="print one JSON object")
    wb.add_argument("--quick", action="store_true", help="a 4 s load instead of 20 s (for tests)")
    wb.add_argument("--clients", type=int, default=20, help="live-update (SSE) clients kept connected")
    wb.add_argument("--rps", type=float, default=50.0, help="requests per second for the desk's state")
    wb.set_defaults(func=_bench_web)
    si = bsub.add_parser("signin", help="memory of a simulated desk under a burst of bogus sign-ins",
                         description="Starts `deskpi sim`, reads its idle memory, fires concurrent sign-ins with "
                                     "made-up names and PINs, and reports idle and peak RSS, the delta "
                                     "(target: at most +100 MB), 401s vs 429s and latency.\n\n"
                                     "Example: deskpi bench signin --json --requests 60",
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    si.add_argument("--json", action="store_true", help="print one JSON object")
    si.add_argument("--requests", type=int, default=60, help="sign-ins fired at once (default 60)")
    si.set_defaults(func=_bench_signin)
    sk = bsub.add_parser("sockets", help="threads and Stop latency of a sim under idle and slowloris sockets",
                         description="Example: deskpi bench sockets --json --idle 300 --slowloris 20")
    sk.add_argument("--json", action="store_true", help="print one JSON object")
    sk.add_argument("--idle", type=int, default=300, help="TCP connections that never send anything")
    sk.add_argument("--slowloris", type=int, default=20, help="connections sending a header byte every 3 s")
    sk.add_argument("--stops", type=int, default=200, help="Stop requests timed per phase and connection kind")
    sk.add_argument("--quick", action="store_true", help="at most 50 idle, 5 slow, 20 stops (for tests)")
    sk.set_defaults(func=_bench_sockets)
    dy = bsub.add_parser("day", help="one simulated working day with the default plan",
                         description="Example: deskpi bench day --json --week 4 --compliance 0.8 --seed 1")
    dy.add_argument("--json", action="store_true", help="print one JSON object")
    dy.add_argument("--seed", type=int, default=1)
    dy.add_argument("--week", type=int, default=4, help="week of the plan (standing goal ramps up by week)")
    dy.add_argument("--compliance", type=float, default=0.8, help="probability the person follows a prompt")
    dy.set_defaults(func=_bench_day)
    sk = bsub.add_parser("soak", help="the whole daemon for N minutes under phones, button presses, reminders "
                                      "and faults: threads, fds, RSS, stops, missed presses, 5xx, database",
                         description="Example: deskpi bench soak --minutes 30 --json   (0.5 for a quick look)")
    sk.add_argument("--json", action="store_true", help="print one JSON object")
    sk.add_argument("--minutes", type=float, default=30.0, help="how long to run after a short warm-up "
                                                                "(fractions allowed; default 30)")
    sk.add_argument("--phones", type=int, default=6, help="simulated phones, one thread each (default 6)")
    sk.add_argument("--seed", type=int, default=1, help="random choices of the actors and the simulator")
    sk.set_defaults(func=_bench_soak)
    cl = bsub.add_parser("cli", help="cold start of the commands run over SSH against a bare python, and "
                                     "what each imports", description="Example: deskpi bench cli --json --quick")
    cl.add_argument("--json", action="store_true", help="print one JSON object")
    cl.add_argument("--quick", action="store_true", help="5 runs of each instead of 30 (for tests)")
    cl.add_argument("--runs", type=int, default=None, help="runs of each command (and of the bare python)")
    cl.set_defaults(func=_bench_cli)
    st = bsub.add_parser("stress", help="button and Stop latency of a sim on one CPU beside a hog, an fsync storm "
                                        "and live phones, against the same with no load",
                         description="Example: deskpi bench stress --json   (--quick for a short look)")
    st.add_argument("--json", action="store_true", help="print one JSON object")
    st.add_argument("--quick", action="store_true", help="a dozen presses and stops per phase (for tests)")
    st.add_argument("--cpu", type=int, default=None, help="the CPU the daemon and the hog share (default: the last)")
    st.add_argument("--phones", type=int, default=50, help="live phones (SSE streams), 0-200 (default 50)")
    st.add_argument("--rps", type=float, default=50.0, help="requests a second besides the streams (default 50)")
    st.add_argument("--presses", type=int, default=None, help="presses and Stops per phase (default 200)")
    st.add_argument("--reference-presses", type=int, default=None, help="the same with no load (default: --presses)")
    st.add_argument("--moves", type=int, default=None, help="whole moves per phase for accuracy (default 10)")
    st.set_defaults(func=_bench_stress)
    sc = bsub.add_parser("scale", help="a hot desk's month and year of data: statistics, live state, memory, "
                                       "backup and upgrade times, and how each grows",
                         description="Example: deskpi bench scale --json   (--quick: a few days, 3 people)")
    sc.add_argument("--json", action="store_true", help="print one JSON object")
    sc.add_argument("--quick", action="store_true", help="at most 8 days, few requests (for tests)")
    sc.add_argument("--people", type=int, default=None, help="people sharing the desk (default 50; 3 with --quick)")
    sc.add_argument("--days", type=int, default=365, help="the long history in days (default 365); the short "
                                                          "one is a twelfth of it, at least a week where --days allows")
    sc.add_argument("--seed", type=int, default=1)
    sc.set_defaults(func=_bench_scale)
    # Each command module imports only what its parser needs, and the work when a command runs; while one
    # command is being built, only its own module is imported, so `deskpi status` stays quick.
    from importlib import import_module

    from deskpi.cli.lazy_commands import building

    wanted = building(sub)
    for module, names in COMMAND_MODULES.items():
        if wanted is None or wanted in names:
            import_module(f"deskpi.cli.{module}").register(sub)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(json_errors="--json" in argv).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
