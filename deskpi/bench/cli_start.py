"""`deskpi bench cli`: how quickly the commands facilities run over SSH start, against a bare interpreter.

Each common command runs as a fresh process, interleaved round by round with a
bare `python -c pass` of the same interpreter, so both see the same machine
load; the figure that counts is the ratio of the medians (a Pi Zero is about
eight times slower than a desktop at both, so the ratio carries over where the
milliseconds do not). `python -X importtime` then says what each command
imports: the total of its top-level imports and the heaviest of them.

The commands run as facilities type them, finding the data directory through
the config file (so its reading is counted): a throwaway config naming a
throwaway data directory that holds one person (no daemon: `status` must
answer "not running" quickly too); or, given `--config PATH` and/or
`--data-dir D` (`deskpi --config /etc/deskpi/deskpi.toml bench cli` on a real
desk), with those.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from deskpi.bench.latency import pct

LIMIT_RATIO = 5.5
#: The commands measured, each with the exit codes that mean it did its job (status: 3 is "no daemon").
COMMANDS: dict[str, tuple[list[str], tuple[int, ...]]] = {
    "status --json": (["status", "--json"], (0, 3)),
    "user list --json": (["user", "list", "--json"], (0,)),
    "stats --json": (["stats", "--json"], (0,)),
    "audit --json": (["audit", "--json"], (0,)),
    "--help": (["--help"], (0,)),
}
#: Modules a quick command has no use for; the JSON says which of them each command still loads.
HEAVY = ("flask", "werkzeug", "apscheduler", "gpiozero", "sqlite_utils", "click", "pluggy", "tomlkit",
         "cheroot", "deskpi.core.motion", "deskpi.daemon.control_server", "deskpi.sim", "deskpi.bench.desks")
#: What the `deskpi` console script runs (the same interpreter as the bare reference).
ENTRY = "import sys; from deskpi.cli.main import main; sys.exit(main())"
_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|( *)(\S+)\s*$")


def _env(pycache: Path) -> dict[str, str]:
    """The environment both processes run in: this deskpi first on the path, and compiled modules kept
    (in `pycache`, not beside the sources) as an installed deskpi has them, even where the shell says
    PYTHONDONTWRITEBYTECODE: otherwise every run would compile deskpi's sources again (a third of
    `stats --json`'s time here), which no installed desk does."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _argv(options: list[str], args: list[str]) -> list[str]:
    return [sys.executable, "-c", ENTRY, *options, *args]


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    rc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, check=False).returncode
    return (time.perf_counter() - t0) * 1000.0, rc


def importtime(argv: list[str], env: dict[str, str]) -> dict:
    """`-X importtime` of one run: total and heaviest top-level imports (µs, cumulative), modules loaded."""
    proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    top: list[tuple[str, int]] = []
    modules: set[str] = set()
    for line in proc.stderr.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        modules.add(m.group(4))
        if len(m.group(3)) == 1:         # one space: imported by the program itself, not by another import
            top.append((m.group(4), int(m.group(2))))
    return {"total_us": sum(us for _, us in top), "modules": modules, "top": top}


def _setup(where: Path) -> list[str]:
    """A config naming a data directory whose database holds one person; the options that use it."""
    from deskpi.store import Store, db_path

    data = where / "data"
    with Store.open(db_path(data)) as store:
        store.add_user("Ada", role="admin")
    config = where / "deskpi.toml"
    config.write_text(f"[daemon]\ndata_dir = {json.dumps(str(data))}\n", encoding="utf-8")
    return ["--config", str(config)]


def run(*, quick: bool = False, runs: int | None = None, data_dir: str | None = None,
        config: str | None = None) -> dict:
    runs = runs or (5 if quick else 30)
    with tempfile.TemporaryDirectory(prefix="deskpi-bench-cli-") as tmp:
        env = _env(Path(tmp) / "pycache")
        given = [*(["--config", config] if config else []), *(["--data-dir", data_dir] if data_dir else [])]
        options = given or _setup(Path(tmp))
        bare = [sys.executable, "-c", "pass"]
        argvs = {name: _argv(options, args) for name, (args, _) in COMMANDS.items()}
        for argv in [bare, *argvs.values()]:          # warm the page cache and .pyc files, unmeasured
            _time(argv, env)
        samples: dict[str, list[float]] = {name: [] for name in ["bare", *argvs]}
        codes: dict[str, set[int]] = {name: set() for name in argvs}
        for _ in range(runs):
            ms, _rc = _time(bare, env)
            samples["bare"].append(ms)
            for name, argv in argvs.items():
                ms, rc = _time(argv, env)
                samples[name].append(ms)
                codes[name].add(rc)
                ms, _rc = _time(bare, env)       # a reference beside every command, not once per round
                samples["bare"].append(ms)
        bare_imports = importtime(bare, env)
        bare_median = statistics.median(samples["bare"])
        commands, problems = {}, []
        for name, argv in argvs.items():
            expected = COMMANDS[name][1]
            unexpected = sorted(codes[name] - set(expected))
            if unexpected:
                problems.append(f"`deskpi {name}` exited {unexpected} (expected {list(expected)}): it did not do "
                                f"its job, so its time means nothing; check {' '.join(options)}")
            imp = importtime(argv, env)
            # Rounded first, so the ratio is the one a reader computes from the printed medians.
            median = round(statistics.median(samples[name]), 2)
            ratio = round(median / round(bare_median, 2), 2)
            commands[name] = {
                "median_ms": round(median, 2), "p90_ms": pct(samples[name], 0.9),
                "ratio": ratio, "met": ratio <= LIMIT_RATIO and not unexpected,
                "exit_codes": sorted(codes[name]), "expected_exit_codes": list(expected),
                "importtime_total_us": imp["total_us"],
                "importtime_own_us": imp["total_us"] - bare_imports["total_us"],
                "modules": len(imp["modules"]),
                # The heaviest imports of deskpi's own making (what the bare interpreter loads too is left out).
                "top_imports": [{"module": mod, "cumulative_us": us} for mod, us in
                                sorted(((m, us) for m, us in imp["top"] if m not in bare_imports["modules"]),
                                       key=lambda t: -t[1])[:5]],
                "heavy_modules": sorted(h for h in HEAVY if h in imp["modules"]),
            }
    return {
        "python": sys.executable, "runs": runs, "quick": quick, "limit_ratio": LIMIT_RATIO,
        "options": given or "a fresh config and data directory with one person (no daemon)",
        "bytecode": "compiled once before timing, as installed (both the bare python and the commands)",
        "bare_python": {"median_ms": round(bare_median, 2), "p90_ms": pct(samples["bare"], 0.9),
                        "samples": len(samples["bare"]), "importtime_total_us": bare_imports["total_us"]},
        "commands": commands,
        "met": not problems and all(c["met"] for c in commands.values()),
        "problems": problems,
    }
