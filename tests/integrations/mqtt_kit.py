"""What the MQTT tests share: Debian's Mosquitto (a failure under CI=true when it is missing, else a
skip), a `deskpi sim` publishing to it, and the CLI on that sim's data dir."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskpi.bench.broker import BrokerMissing, Mosquitto, find_mosquitto

ROOT = Path(__file__).resolve().parents[2]
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_mqtt() -> None:
    """Mosquitto and paho-mqtt, or a skip (a failure under CI=true: `make test` installs both)."""
    problems = []
    try:
        find_mosquitto()
    except BrokerMissing as exc:
        problems.append(str(exc))
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        problems.append("paho-mqtt is not installed (it is in the dev extra: pip install -e '.[dev]')")
    if problems:
        if CI:
            pytest.fail("; ".join(problems), pytrace=False)
        pytest.skip("; ".join(problems))


def deskpi(data_dir: Path, *args: str) -> dict:
    """`deskpi --data-dir D ARGS --json` as a person types it; its JSON output."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "deskpi.cli", "--data-dir", str(data_dir), *args, "--json"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, f"deskpi {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def sim_config(path: Path, broker: Mosquitto, *, base_topic: str, **mqtt: object) -> Path:
    """A config for `deskpi sim --config`: the desk's MQTT user and its password file, the base topic."""
    keys = {"username": "deskpi", "password_file": str(broker.password_file("deskpi")), "base_topic": base_topic,
            "client_id": base_topic.replace("/", "-"), **mqtt}
    lines = ["[mqtt]"] + [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def mqtt_sim(data_dir: Path, config: Path, broker: Mosquitto, *extra: str) -> Iterator[subprocess.Popen]:
    """`deskpi sim --mqtt-host 127.0.0.1 --mqtt-port P`; stopped (SIGTERM, then SIGKILL) afterwards."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(data_dir / "sim.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "deskpi.cli", "sim", "--port", "0", "--data-dir", str(data_dir),
                                 "--config", str(config), "--seed", "4", "--mqtt-host", "127.0.0.1",
                                 "--mqtt-port", str(broker.port), *extra],
                                env=env, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
