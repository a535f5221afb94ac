"""What the commands run over SSH import: only what each needs (structure, not timing: `deskpi bench cli` times).

Each command runs in a fresh interpreter as the `deskpi` script runs it, on a desk
found through its config file, and the modules it loaded are checked against what it
has no use for: the web app, the scheduler, the pins, the motion core, the simulator,
the benches, sqlite-utils (with click and pluggy), the fleet modules, OpenSSL.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Never loaded by a quick command (a prefix names a package and everything in it).
NEVER = ("flask", "werkzeug", "apscheduler", "gpiozero", "cheroot", "prometheus_client", "paho", "tomlkit",
         "sqlite_utils", "click", "pluggy", "dateutil",
         "deskpi.core.motion", "deskpi.core.panel", "deskpi.daemon.root", "deskpi.daemon.control_server",
         "deskpi.daemon.control_loop", "deskpi.daemon.habits", "deskpi.webapp", "deskpi.sim", "deskpi.bench",
         "deskpi.fleet", "deskpi.integrations", "deskpi.hw.drives", "deskpi.hw.pin_factory", "deskpi.hw.buttons")
#: Besides NEVER, what each command must not load.
ALSO_NOT = {
    # The config's module reaches sqlite3 and logging (util/storage.py); with --data-dir neither is loaded.
    # Nor the modules of the other commands (deskpi.cli.main's COMMAND_MODULES).
    ("status", "--json"): ("deskpi.store", "_hashlib", "deskpi.cli.people", "deskpi.cli.data", "deskpi.cli.tokens"),
    ("user", "list", "--json"): ("_hashlib", "deskpi.core.habits", "deskpi.cli.admin", "deskpi.cli.data",
                                 "deskpi.cli.tokens"),
    ("audit", "--json"): ("_hashlib", "deskpi.core.habits", "deskpi.cli.people", "deskpi.cli.data"),
    ("stats", "--json"): ("_hashlib", "deskpi.cli.admin", "deskpi.cli.people", "deskpi.cli.tokens"),
    ("--help",): ("deskpi.store", "deskpi.config", "sqlite3", "dataclasses", "_hashlib", "logging"),
}
#: Run main() as the console script does; write the exit code and the loaded modules to the file in argv[1].
PROBE = ("import json, sys\nfrom deskpi.cli.main import main\nout = sys.argv.pop(1)\n"
         "try:\n    rc = main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
         "open(out, 'w').write(json.dumps({'rc': rc, 'modules': sorted(sys.modules)}))\n")


@pytest.fixture(scope="module")
def desk(tmp_path_factory) -> Path:
    """A config naming a data directory with one person in its database (no daemon runs)."""
    from deskpi.store import Store, db_path

    where = tmp_path_factory.mktemp("desk")
    with Store.open(db_path(where / "data")) as store:
        store.add_user("Ada", role="admin")
    config = where / "deskpi.toml"
    config.write_text(f"[daemon]\ndata_dir = {json.dumps(str(where / 'data'))}\n", encoding="utf-8")
    return config


def loaded(tmp_path: Path, *args: str) -> tuple[int, set[str]]:
    out = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    p = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True, cwd=ROOT,
                       env=env, stdin=subprocess.DEVNULL, timeout=60, check=False)
    assert out.is_file(), p.stdout + p.stderr
    doc = json.loads(out.read_text())
    return doc["rc"], set(doc["modules"])


def unwanted(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == n or m.startswith(n + ".") for n in names)}


@pytest.mark.parametrize("command", list(ALSO_NOT), ids=" ".join)
def test_a_command_run_over_ssh_imports_only_what_it_needs(desk, tmp_path, command):
    rc, modules = loaded(tmp_path, "--config", str(desk), *command)
    assert rc == (3 if command[0] == "status" else 0), f"`deskpi {' '.join(command)}` exited {rc}"
    assert not unwanted(modules, NEVER + ALSO_NOT[command]), f"`deskpi {' '.join(command)}` loaded them"


def test_status_with_a_data_dir_reads_no_config(tmp_path):
    """`--data-dir D` names the desk: the config's schema (and dataclasses behind it) is not needed."""
    rc, modules = loaded(tmp_path, "--data-dir", str(tmp_path), "status", "--json")
    assert rc == 3
    assert not unwanted(modules, NEVER + ("deskpi.config", "deskpi.store", "sqlite3", "dataclasses", "tomllib",
                                          "logging", "_hashlib"))


def test_the_simulator_still_builds_its_parser_and_the_bench_its_desk_flags(tmp_path):
    """The commands left unbuilt for a quick one are built when used (here: their --help)."""
    for command in (("sim", "--help"), ("bench", "control", "--help")):
        p = subprocess.run([sys.executable, "-m", "deskpi", *command], capture_output=True, text=True, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60, check=False)
        assert p.returncode == 0, p.stderr
        assert "--port" in p.stdout if command[0] == "sim" else "--desk NAME" in p.stdout
