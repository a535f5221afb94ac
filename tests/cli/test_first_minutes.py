"""A newcomer's first minutes: `make demo` says where to go and how to get a reminder, setuptools
builds deskpi without warnings, the simulator's log is not a line per scheduler tick, and the
README's one line for a reminder now works against a running simulator.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import sim_url

ROOT = Path(__file__).resolve().parents[2]
CURL = re.compile(r'^curl -X POST -H "Authorization: Bearer \$\((?P<cli>\.venv/bin/deskpi --data-dir demo-data) '
                  r'token create demo\)" (?P<url>http://127\.0\.0\.1:8080/)(?P<path>api/v1/\S+)$', re.M)


def _deskpi(*args: str, stdin: str | None = None) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "deskpi.cli", *args], input=stdin, text=True, check=True,
                          capture_output=True, env=env, timeout=60).stdout


@contextlib.contextmanager
def running_sim(data: Path, *extra: str) -> Iterator[str]:
    """A `deskpi sim` on a free port serving `data`, its log in data/sim.log; yields its URL."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(data / "sim.log", "w") as err:           # a file nobody has to read while it runs
        proc = subprocess.Popen([sys.executable, "-m", "deskpi.cli", "sim", "--port", "0", "--data-dir", str(data),
                                 "--seed", "1", *extra], env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        yield sim_url(proc, log=data / "sim.log")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()


def _remind_now(url: str, token: str) -> dict:
    req = urllib.request.Request(f"{url}/api/v1/sim/next-reminder", method="POST", data=b"",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_the_simulator_log_has_no_line_per_scheduler_tick(tmp_path, verbose):
    _deskpi("--data-dir", str(tmp_path), "user", "add", "demo", "--admin", "--pin-stdin", stdin="1234\n")
    token = _deskpi("--data-dir", str(tmp_path), "token", "create", "demo").strip()
    with running_sim(tmp_path, *(["--verbose"] if verbose else [])) as url:
        # A reminder now: the scheduler's job is run and put back, which APScheduler says at INFO.
        assert _remind_now(url, token)["reminder"] is not None
        _remind_now(url, token)
    scheduler_lines = [line for line in (tmp_path / "sim.log").read_text().splitlines() if "apscheduler" in line]
    if verbose:
        assert any("Added job" in line for line in scheduler_lines), scheduler_lines
    else:
        assert scheduler_lines == []


def demo_banner() -> str:
    """What `make demo` prints before the simulator starts: its echo lines, run (make -n runs nothing
    else, and -o keeps the install stamp from being remade)."""
    done = subprocess.run(["make", "-n", "-s", "-o", ".venv/.installed", "demo"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "pip install" not in done.stdout and "deskpi sim --data-dir demo-data" in done.stdout
    echoes = [line for line in done.stdout.splitlines() if line.startswith("echo ")]
    return subprocess.run(["bash", "-c", "\n".join(echoes)], capture_output=True, text=True, check=True).stdout


def test_make_demo_prints_a_short_banner_and_installs_quietly():
    banner = demo_banner()
    for what in ("http://127.0.0.1:8080/", "demo, PIN 1234", "Remind me now", "sim/next-reminder", "Ctrl-C"):
        assert what in banner, f"the banner does not say {what!r}:\n{banner}"
    assert len(banner.strip().splitlines()) <= 8
    # -qq: pip says nothing but errors (the build backend's notes on editable installs are not for a newcomer).
    assert re.search(r"pip install -qq .*-e '\.\[dev\]'", (ROOT / "Makefile").read_text())


def test_the_readme_line_for_a_reminder_now_works(tmp_path):
    """The README's curl line (the one the demo's banner shows), run against a simulator on another port
    and data directory."""
    line = CURL.search((ROOT / "README.md").read_text())
    assert line, "README.md has no one-line curl for a reminder now"
    assert line.group() in demo_banner(), "the demo's banner and the README give different lines"
    _deskpi("--data-dir", str(tmp_path), "user", "add", "demo", "--admin", "--pin-stdin", stdin="1234\n")
    with running_sim(tmp_path) as url:
        cli = f"{sys.executable} -m deskpi.cli --data-dir {tmp_path}"
        command = line.group().replace(line["cli"], cli).replace(line["url"], url + "/")
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["reminder"] is not None


def test_pyproject_gives_setuptools_nothing_to_warn_about():
    """What setuptools (77 and later) warns about: a `project.license` table, and a directory of
    package data that is importable as a package but not listed as one."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert not isinstance(project["project"].get("license"), dict)
    tool = project["tool"]["setuptools"]
    packages = set(tool["packages"])
    for package, patterns in tool["package-data"].items():
        assert package in packages, f"{package} has package data but is not a package"
        assert not any("/" in p for p in patterns), f"{package}: {patterns} reach into a directory of their own"
    for package, folder in tool["package-dir"].items():
        for sub in (ROOT / folder).iterdir():
            if sub.is_dir() and sub.name.isidentifier() and sub.name != "__pycache__" and any(sub.iterdir()):
                shipped = f"{package}.{sub.name}" in packages
                assert shipped or sub.name == "tools", f"{folder}/{sub.name} is importable but not a package"


def test_the_wheel_builds_without_warnings_and_ships_the_pages(tmp_path):
    """Built offline with this environment's setuptools, as the installer tests build it."""
    build = tmp_path / "src"
    build.mkdir()
    for part in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / part, build / part)
    for part in ("deskpi", "web"):
        shutil.copytree(ROOT / part, build / part, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                           "--no-index", "-w", str(tmp_path / "dist"), str(build)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # Older setuptools (before 69) call all of [tool.setuptools] "beta": that is theirs, not this file's.
    warnings = [line.strip() for line in (done.stdout + done.stderr).splitlines()
                if re.search(r"Warning:|deprecated|is absent from", line) and "still *beta*" not in line]
    assert warnings == []
    inside = {n.split("/", 1)[-1] for n in zipfile.ZipFile(next((tmp_path / "dist").glob("deskpi-*.whl"))).namelist()}
    assert {"web_assets/templates/base.html", "web_assets/static/app.js"} <= inside     # under deskpi/
