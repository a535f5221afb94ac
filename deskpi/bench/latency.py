"""`deskpi bench latency`: how quickly the daemon reacts, and what it costs at rest.

- button: a simulated button press -> motor output on, release -> off, timed
  on the mock pins' own change timestamps;
- api_stop: POST /api/v1/stop -> motor output off while 50 requests/s hit the
  API from other threads;
- idle: CPU share and resident memory of a `deskpi sim` process doing
  nothing, and the time from exec to READY=1 over a real notify socket.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from deskpi.config import defaults


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, max(0, round(p * (len(v) - 1))))], 2) if v else float("nan")


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.002)
    return pred()


def _motor_pins(daemon):
    s = daemon.settings
    f = daemon.parts.factory
    return f.pin(s.motor.up_pin), f.pin(s.motor.down_pin)


def _daemon(tmp: Path, web: bool):
    from deskpi.daemon.root import Daemon
    d = Daemon(defaults(), sim=True, data_dir=tmp, web=("127.0.0.1", 0) if web else None, seed=5)
    d.start()
    if not _wait(lambda: d.ready_at is not None, 10):
        raise RuntimeError("simulated daemon never saw a fresh height reading")
    return d


def bench_button(presses: int = 20) -> dict:
    """Press and release the up button; time motor on/off against the button edge."""
    on_ms, off_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        d = _daemon(Path(tmp), web=False)
        try:
            if d.parts.buttons is None:
                return {"error": "no button panel"}
            up_pin, _ = _motor_pins(d)
            btn = d.parts.factory.pin(d.settings.buttons.up_pin)
            for _ in range(presses):
                d.parts.service.stop()
                _wait(lambda: d.parts.controller.state.value == "idle", 5)
                time.sleep(0.3)
                t0 = time.monotonic()
                btn.drive_low()
                if _wait(lambda: up_pin.state > 0, 2):
                    on_ms.append(1000 * (up_pin._last_change - t0))
                time.sleep(0.25)
                t1 = time.monotonic()
                btn.drive_high()
                if _wait(lambda: up_pin.state == 0, 2):
                    off_ms.append(1000 * (up_pin._last_change - t1))
                if d.parts.controller.fault:
                    d.parts.service.clear_fault()
        finally:
            d.shutdown()
    return {"presses": presses, "press_to_motor_on_ms": {"p50": pct(on_ms, .5), "p99": pct(on_ms, .99),
                                                          "max": pct(on_ms, 1)},
            "release_to_motor_off_ms": {"p50": pct(off_ms, .5), "p99": pct(off_ms, .99), "max": pct(off_ms, 1)},
            "missed": presses * 2 - len(on_ms) - len(off_ms)}


def bench_api_stop(stops: int = 30, load_rps: float = 50.0) -> dict:
    lat = []
    with tempfile.TemporaryDirectory() as tmp:
        d = _daemon(Path(tmp), web=True)
        base = d.url.rstrip("/")
        # The API wants a signed-in caller holding the desk's claim, as a phone at the desk would.
        d.parts.store.add_user("bench")
        _token_id, token = d.parts.store.create_token("bench", "bench latency")
        auth = {"Authorization": f"Bearer {token}"}
        claims = d.parts.service.claims
        claims.request("bench")
        claims.button_pressed(claims.slot_for("bench"))      # the preset the request drew
        stop_load = threading.Event()
        served = [0]

        def load() -> None:
            period = 1.0 / load_rps
            nxt = time.monotonic()
            while not stop_load.is_set():
                try:
                    with urllib.request.urlopen(urllib.request.Request(base + "/api/v1/state", headers=auth),
                                                timeout=2) as r:
                        r.read()
                    served[0] += 1
                except OSError:
                    pass
                nxt += period
                time.sleep(max(0.0, nxt - time.monotonic()))

        loaders = [threading.Thread(target=load, daemon=True) for _ in range(2)]
        for t in loaders:
            t.start()
        up_pin, down_pin = _motor_pins(d)
        t_load = time.monotonic()
        try:
            lo, hi = d.settings.desk.min_mm, d.settings.desk.max_mm
            for _ in range(stops):
                if d.parts.controller.fault:
                    d.parts.service.clear_fault()
                target = hi - 50 if d.parts.controller.height_mm() < (lo + hi) / 2 else lo + 50
                _post(base + "/api/v1/move", {"target_mm": target}, auth)
                if not _wait(lambda: up_pin.state > 0 or down_pin.state > 0, 3):
                    continue
                time.sleep(0.4)
                pin = up_pin if up_pin.state > 0 else down_pin
                t0 = time.monotonic()
                _post(base + "/api/v1/stop", {}, auth)
                if _wait(lambda pin=pin: pin.state == 0, 2):
                    lat.append(1000 * (pin._last_change - t0))
                _wait(lambda: d.parts.controller.state.value == "idle", 5)
        finally:
            stop_load.set()
            elapsed = time.monotonic() - t_load
            lags = [1000 * x for x in d.parts.loop.lag_s]
            reading_lags = [1000 * x for x in d.parts.loop.reading_lag_s]
            d.shutdown()
    return {"stops": len(lat), "load_rps_achieved": round(served[0] / elapsed, 1),
            "stop_to_motor_off_ms": {"p50": pct(lat, .5), "p99": pct(lat, .99), "max": pct(lat, 1)},
            "control_loop_late_wake_ms": {"n": len(lags), "p99": pct(lags, .99), "max": pct(lags, 1)},
            "reading_to_output_ms": {"p50": pct(reading_lags, .5), "p99": pct(reading_lags, .99),
                                     "max": pct(reading_lags, 1)}}


def _post(url: str, body: dict, headers: dict) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def bench_idle(seconds: float = 10.0) -> dict:
    """Spawn `deskpi sim` with a notify socket: time to READY=1, then CPU and RSS at rest."""
    with tempfile.TemporaryDirectory() as tmp:
        sock_path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(10)
        env = dict(os.environ, NOTIFY_SOCKET=sock_path)
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "deskpi.cli", "sim", "--port", "0", "--data-dir",
                                 os.path.join(tmp, "data")], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        ready_s = None
        try:
            while ready_s is None:
                msg = sock.recv(4096).decode()
                if "READY=1" in msg:
                    ready_s = time.monotonic() - t0
            time.sleep(2.0)                       # let start-up work finish
            c0, w0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(seconds)
            c1, w1 = cpu_seconds(proc.pid), time.monotonic()
            rss = _rss_mb(proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            sock.close()
    return {"ready_s": round(ready_s, 3), "idle_cpu_percent": round(100 * (c1 - c0) / (w1 - w0), 2),
            "rss_mb": round(rss, 1)}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(quick: bool = False) -> dict:
    return {"button": bench_button(8 if quick else 20), "api_stop": bench_api_stop(10 if quick else 30),
            "idle": bench_idle(3 if quick else 10)}
