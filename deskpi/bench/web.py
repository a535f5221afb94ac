"""`deskpi bench web`: what the phone UI costs and how the API holds up under live-page load.

- page: bytes a phone transfers (gzip) for the home page and everything it
  loads, signed in and on the sign-in page;
- load: GET /api/v1/state latency at a paced rate while N Server-Sent Event
  clients stay connected and the desk moves back and forth; events each
  stream received; the control loop's late-wake p99 meanwhile;
- dead_man: a client holding ▲ goes silent; how long until the desk stops by itself;
- browser (when Chromium is there): DOMContentLoaded (deferred scripts run)
  and first live height on a throttled link, in Debian's Chromium via Playwright.

The server is a real `deskpi sim` subprocess, so the load generator here
does not share its interpreter (and its GIL) with the server being measured.
"""
from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

#: Lighthouse's "fast 3G" (150 ms RTT, 1.6 Mbit/s down, 750 kbit/s up) and Chrome DevTools' "Fast 3G" preset.
PROFILES = {"lighthouse-fast-3g": (150.0, 1.6e6 / 8, 750e3 / 8), "devtools-fast-3g": (562.5, 1.44e6 / 8, 675e3 / 8)}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def percentile(values: list[float], p: float) -> float | None:
    v = sorted(values)
    return round(v[min(len(v) - 1, max(0, round(p * (len(v) - 1))))], 2) if v else None


def summary(values: list[float]) -> dict:
    """How many, the median, p99 and worst: a latency's figures (None where there are none)."""
    return {"n": len(values), "p50": percentile(values, .5), "p99": percentile(values, .99),
            "max": percentile(values, 1)}


class SimServer:
    """`deskpi sim` on 127.0.0.1 with one user and an API token; the claim is relaxed by config
    so the benchmark can move the desk without pressing buttons."""

    def __init__(self, *, workers: int | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="deskpi-bench-web-"))
        cfg = self.dir / "deskpi.toml"
        pool = "" if workers is None else f"workers = {workers}\n"
        cfg.write_text(f"[web]\nrequire_claim = false\n{pool}[desk]\nduty_max_on_s = 500\nduty_window_s = 600\n")
        base = [sys.executable, "-m", "deskpi.cli", "--data-dir", str(self.dir / "data")]
        subprocess.run(base + ["user", "add", "bench", "--admin", "--pin-stdin"], input="4711\n", text=True,
                       check=True, capture_output=True)
        self.token = subprocess.run(base + ["token", "create", "bench"], text=True, check=True,
                                    capture_output=True).stdout.strip()
        self.proc = subprocess.Popen(base + ["--config", str(cfg), "sim", "--port", "0", "--seed", "3"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.close()
            raise RuntimeError(f"deskpi sim did not start: {line!r}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while self.state().get("height_mm") is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the simulated desk never reported a height")
            time.sleep(0.05)

    def request(self, method: str, path: str, body: object = None, *, conn=None, headers=None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            hdrs = {"Authorization": f"Bearer {self.token}", **(headers or {})}
            data = None
            if body is not None:
                data = json.dumps(body)
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp
        finally:
            if own:
                conn.close()

    def state(self) -> dict:
        status, data, _ = self.request("GET", "/api/v1/state")
        return json.loads(data) if status == 200 else {}

    def session_cookie(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/api/v1/session", body=json.dumps({"name": "bench", "pin": "4711"}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        cookie = resp.getheader("Set-Cookie", "").split(";")[0]
        conn.close()
        return cookie

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def page_weight(server: SimServer, cookie: str | None) -> dict:
    """Bytes on the wire (gzip) for a page and every script, style sheet, icon and manifest it links."""
    headers = {"Accept-Encoding": "gzip"}
    if cookie:
        headers["Cookie"] = cookie
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/", headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        html = gzip.decompress(raw).decode() if resp.getheader("Content-Encoding") == "gzip" else raw.decode()
        files = {"/": len(raw)}
        for url in re.findall(r'(?:src|href)="(/[^"#]+)"', html):
            ref = url.split("?")[0]
            if ref in files or not re.search(r"\.(js|css|svg|png|webmanifest)$", ref):
                continue
            conn.request("GET", url.replace("&amp;", "&"), headers=headers)
            r = conn.getresponse()
            files[ref] = len(r.read())
    finally:
        conn.close()
    return {"total_bytes": sum(files.values()), "files": files}


def api_under_load(server: SimServer, *, sse_clients: int, rps: float, seconds: float) -> dict:
    stop = threading.Event()
    events = [0] * sse_clients
    connected = threading.Barrier(sse_clients + 1, timeout=30)

    def sse(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {server.token}",
                                                           "Accept": "text/event-stream"})
            resp = conn.getresponse()
            connected.wait()
            while not stop.is_set():
                line = resp.fp.readline()
                if not line:
                    break
                if line.startswith(b"event:"):
                    events[i] += 1
        except (OSError, threading.BrokenBarrierError):
            pass
        finally:
            conn.close()

    threads = [threading.Thread(target=sse, args=(i,), daemon=True) for i in range(sse_clients)]
    for t in threads:
        t.start()
    connected.wait()
    lat: list[float] = []
    errors = 0
    workers = 4
    lock = threading.Lock()

    def load(k: int) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        period = workers / rps
        next_t = time.monotonic() + k * period / workers
        end = time.monotonic() + seconds
        while next_t < end:
            time.sleep(max(0.0, next_t - time.monotonic()))
            t0 = time.perf_counter()
            try:
                status, _data, _ = server.request("GET", "/api/v1/state", conn=conn)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            dt = (time.perf_counter() - t0) * 1000
            with lock:
                if status == 200:
                    lat.append(dt)
                else:
                    errors += 1
            next_t += period
        conn.close()

    def mover() -> None:
        lo, hi = 760, 1000
        target = hi
        while not stop.is_set():
            server.request("POST", "/api/v1/move", {"target_mm": target})
            deadline = time.monotonic() + 20
            while not stop.is_set() and time.monotonic() < deadline:
                if server.state().get("state") == "idle":
                    break
                stop.wait(0.2)
            target = lo if target == hi else hi

    loaders = [threading.Thread(target=load, args=(k,), daemon=True) for k in range(workers)]
    move_thread = threading.Thread(target=mover, daemon=True)
    t_start = time.monotonic()
    move_thread.start()
    for t in loaders:
        t.start()
    for t in loaders:
        t.join()
    elapsed = time.monotonic() - t_start
    final = server.state()
    stop.set()
    move_thread.join(timeout=25)
    return {"sse_clients": sse_clients, "target_rps": rps, "achieved_rps": round(len(lat) / elapsed, 1),
            "requests": len(lat), "errors": errors,
            "state_latency_ms": {"p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99),
                                 "max": percentile(lat, 1.0)},
            "sse_events_per_client": {"min": min(events), "max": max(events)},
            "sse_clients_with_events": sum(1 for e in events if e),
            "control_loop_late_wake_p99_ms": final.get("loop_lag_p99_ms"),
            "control_loop_reading_to_output_p99_ms": final.get("reading_lag_p99_ms")}


def dead_man(server: SimServer, *, trials: int = 5) -> dict:
    """Hold-to-run from a client that goes silent mid-hold: time from its last renewal until the
    desk reports it is no longer moving (polled every 10 ms, so within ~10 ms)."""
    stopped_ms: list[float] = []
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(trials):
            direction = "up" if server.state().get("height_mm", 0) < 950 else "down"
            last = time.monotonic()
            end = last + 1.0
            while time.monotonic() < end:
                server.request("POST", "/api/v1/hold", {"direction": direction}, conn=conn)
                last = time.monotonic()
                time.sleep(0.15)
            if server.state().get("state") != "moving":
                continue
            while server.state().get("state") == "moving" and time.monotonic() - last < 3:
                time.sleep(0.01)
            stopped_ms.append((time.monotonic() - last) * 1000)
            deadline = time.monotonic() + 10
            while server.state().get("state") != "idle" and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        conn.close()
    return {"trials": len(stopped_ms), "last_renewal_to_stopped_ms": {"p50": percentile(stopped_ms, 0.5),
                                                                        "max": percentile(stopped_ms, 1.0)}}


def browser_timing(server: SimServer, cookie: str, profile: str) -> dict:
    rtt, down, up = PROFILES[profile]
    from playwright.sync_api import sync_playwright

    name, _, value = cookie.partition("=")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            ctx.add_cookies([{"name": name, "value": value, "url": server.url}])
            page = ctx.new_page()
            cdp = ctx.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": rtt,
                                                          "downloadThroughput": down, "uploadThroughput": up})
            page.goto(server.url + "/", wait_until="domcontentloaded")
            timing = page.evaluate("""() => { const n = performance.getEntriesByType('navigation')[0];
                return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, bytes: n.transferSize}; }""")
            t0 = time.monotonic()
            page.wait_for_function("() => { const e = document.querySelector('[data-testid=height]');"
                                   " return e && /[0-9]/.test(e.textContent); }", timeout=15000)
            return {"profile": profile, "rtt_ms": rtt, "down_kbit_s": round(down * 8 / 1000),
                    "dom_content_loaded_ms": round(timing["dcl"]), "height_shown_after_dcl_ms":
                        round((time.monotonic() - t0) * 1000)}
        finally:
            browser.close()


def run(*, quick: bool = False, sse_clients: int = 20, rps: float = 50.0) -> dict:
    server = SimServer()
    try:
        cookie = server.session_cookie()
        result = {"page": {"signed_in": page_weight(server, cookie), "sign_in": page_weight(server, None)},
                  "load": api_under_load(server, sse_clients=sse_clients, rps=rps, seconds=4.0 if quick else 20.0),
                  "dead_man": dead_man(server, trials=2 if quick else 5)}
        if os.path.exists(CHROMIUM):
            try:
                result["browser"] = [browser_timing(server, cookie, prof) for prof in PROFILES]
            except Exception as exc:  # noqa: BLE001 - the other numbers still stand
                result["browser"] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            result["browser"] = {"error": f"{CHROMIUM} not found (apt-get install chromium)"}
        return result
    finally:
        server.close()
