"""The `deskpi` command line."""
from __future__ import annotations

import argparse
import json
import sys


def _bench_control(args: argparse.Namespace) -> int:
    from deskpi.bench.control import BenchParams, run, run_real

    moves = args.moves if args.moves is not None else (10 if args.clock == "real" else 1000)
    params = BenchParams(moves=moves, seed=args.seed, speed_up=args.speed_up, speed_down=args.speed_down,
                         coast_mm=args.coast_mm, noise_mm=args.noise_mm, outliers=args.outliers,
                         dropouts=args.dropouts, load_variation=args.load_variation)
    result = run_real(params) if args.clock == "real" else run(params)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _bench_faults(args: argparse.Namespace) -> int:
    from deskpi.bench.faults import run

    result = run(trials=args.trials, seed=args.seed)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from deskpi.demo import run

    return run()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deskpi", description="Raspberry Pi controller for motorised sit-stand desks.")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="drive a simulated desk from the terminal",
                       description="Example: deskpi demo   (on a terminal: type 1100 to stand, 720 to sit)")
    d.set_defaults(func=_demo)
    bench = sub.add_parser("bench", help="measure accuracy, fault handling and latency")
    bsub = bench.add_subparsers(dest="bench", required=True)
    c = bsub.add_parser("control", help="stopping accuracy and time vs a naive controller",
                        description="Example: deskpi bench control --json --moves 1000 --seed 3")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.add_argument("--moves", type=int, default=None, help="default 1000 (virtual) or 10 (real)")
    c.add_argument("--clock", choices=("virtual", "real"), default="virtual",
                   help="virtual: core + physics + sensor model, fast; real: the full gpiozero stack with threads")
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--speed-up", type=float, default=35.0, metavar="MM_S")
    c.add_argument("--speed-down", type=float, default=38.0, metavar="MM_S")
    c.add_argument("--coast-mm", type=float, default=7.5, metavar="MM")
    c.add_argument("--noise-mm", type=float, default=2.0, metavar="SIGMA")
    c.add_argument("--outliers", type=float, default=0.01, metavar="P")
    c.add_argument("--dropouts", type=float, default=0.02, metavar="P")
    c.add_argument("--load-variation", type=float, default=0.15, metavar="F")
    c.set_defaults(func=_bench_control)
    f = bsub.add_parser("faults", help="inject each fault mid-move; detection, reaction time, travel",
                        description="Example: deskpi bench faults --json --trials 20")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.add_argument("--trials", type=int, default=10, help="trials per fault (worst is reported)")
    f.add_argument("--seed", type=int, default=1)
    f.set_defaults(func=_bench_faults)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
