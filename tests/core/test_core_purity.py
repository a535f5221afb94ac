"""The pure core imports only the standard library: no adapters, no clocks, no threads."""
from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import pytest

import deskpi.core

CORE_DIR = pathlib.Path(deskpi.core.__file__).parent
CORE_MODULES = sorted("deskpi.core." + ".".join(p.relative_to(CORE_DIR).with_suffix("").parts)
                      for p in CORE_DIR.rglob("*.py") if p.stem != "__init__")
ADAPTERS = {"gpiozero", "flask", "sqlite_utils", "apscheduler", "lgpio", "RPi", "pigpio", "werkzeug", "sqlite3"}

PROBE = """
import json, sys
before = set(sys.modules)
import {modules}
new = {{m.split('.')[0] for m in set(sys.modules) - before}}
print(json.dumps(sorted(new)))
"""


def imported_top_level(modules: list[str]) -> set[str]:
    code = PROBE.format(modules=", ".join(modules))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=CORE_DIR.parent.parent)
    return set(json.loads(out.stdout))


def test_the_core_modules_are_all_found() -> None:
    # Guards the glob below: a renamed package would otherwise make the purity tests vacuous.
    for name in ("motion.controller", "motion.estimator", "motion.trajectory", "motion.stopmodel",
                 "motion.monitors", "faults", "motion.duty", "motion.interlock", "types", "habits.plans",
                 "habits.schedule_policy", "habits.habit_state", "habits.pacing", "panel.button_logic",
                 "panel.indicator_patterns", "ergonomics"):
        assert f"deskpi.core.{name}" in CORE_MODULES


def test_importing_the_whole_core_loads_no_adapter() -> None:
    loaded = imported_top_level(CORE_MODULES)
    assert "deskpi" in loaded, "the probe imported nothing: it proves nothing"
    assert loaded & ADAPTERS == set()


def test_importing_the_whole_core_loads_only_the_standard_library() -> None:
    loaded = imported_top_level(CORE_MODULES) - {"deskpi"}
    outside = {m for m in loaded if m not in sys.stdlib_module_names and not m.startswith("_")}
    assert outside == set()


@pytest.mark.parametrize("module", CORE_MODULES)
def test_each_core_module_alone_loads_no_adapter(module: str) -> None:
    assert imported_top_level([module]) & ADAPTERS == set()


FORBIDDEN_IMPORTS = {"time", "threading", "asyncio", "random", "gpiozero", "flask", "sqlite_utils", "apscheduler"}


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_source_reads_no_clock_and_starts_no_thread(module: str) -> None:
    """Time is a parameter: the core never imports time, threading, asyncio or random."""
    path = CORE_DIR.joinpath(*module.split(".")[2:]).with_suffix(".py")
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    assert names & FORBIDDEN_IMPORTS == set()
