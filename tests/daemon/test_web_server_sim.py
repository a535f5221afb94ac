"""The web server inside a real `deskpi sim` process: the live-stream cap, HTTPS from the config,
and a quick, clean SIGTERM with sockets open. Waits are on sockets and processes, never on time."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import self_signed_cert, wait_until

from deskpi.daemon.web_server import MAX_STREAMS
from deskpi.people.accounts import add_user
from deskpi.people.passwords import hash_secret
from deskpi.store import Store, db_path

ROOT = Path(__file__).resolve().parents[2]
PIN = "4711"


@contextmanager
def sim(tmp_path: Path, config: str):
    """(process, scheme, port, API token) of a `deskpi sim` with `config` and one admin "ada"."""
    data = tmp_path / "data"
    data.mkdir()
    with Store.open(db_path(data)) as st:
        add_user(st, "ada", limits=(640.0, 1260.0), admin=True, pin_hash=hash_secret(PIN))
        _id, token = st.create_token("ada", "tests")
    cfg = tmp_path / "deskpi.toml"
    cfg.write_text(config)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(tmp_path / "sim.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "deskpi.cli", "--config", str(cfg), "sim", "--host",
                                 "127.0.0.1", "--port", "0", "--data-dir", str(data), "--seed", "3"],
                                env=env, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True)
        try:
            line = proc.stdout.readline()
            found = re.search(r"open (https?)://127\.0\.0\.1:(\d+)/", line)
            assert found, f"deskpi sim printed {line!r}; log: {(tmp_path / 'sim.log').read_text()[-2000:]}"
            yield proc, found.group(1), int(found.group(2)), token
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def connection(scheme: str, port: int) -> http.client.HTTPConnection:
    if scheme == "https":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=ctx)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def call(scheme: str, port: int, method: str, path: str, *, token: str | None = None, body=None):
    conn = connection(scheme, port)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.headers, (json.loads(data) if data else None)


def open_stream(port: int, token: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    return conn, conn.getresponse()


def test_more_live_streams_than_workers_and_stop_still_answers(tmp_path):
    # 8 workers, 64 streams (deskpi.daemon.web_server.MAX_STREAMS): one thread writes them all.
    with sim(tmp_path, "[web]\nworkers = 8\n") as (_proc, scheme, port, token):
        streams = []
        try:
            for _ in range(MAX_STREAMS):
                conn, resp = open_stream(port, token)
                assert resp.status == 200 and resp.readline().startswith(b"retry:")
                streams.append((conn, resp))
            for _conn, resp in streams:                # each one hears the desk's state
                while not resp.readline().startswith(b"event: state"):
                    pass
            conn, resp = open_stream(port, token)
            assert resp.status == 503
            assert "too many pages open" in json.loads(resp.read())["error"]
            conn.close()
            status, headers, _body = call(scheme, port, "HEAD", "/api/v1/events", token=token)
            assert status == 200 and headers["Content-Type"].startswith("text/event-stream"), "HEAD takes no slot"
            for _ in range(10):                    # every worker is still there for everything else
                assert call(scheme, port, "POST", "/api/v1/stop", token=token)[0] == 200
        finally:
            for c, _resp in streams:
                c.close()

        def a_stream_opens() -> bool:
            c, r = open_stream(port, token)
            c.close()
            return r.status == 200
        wait_until(a_stream_opens, 30, "a stream to open once the others were closed", poll_s=0.1)


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def test_https_from_the_config_makes_cookies_secure_and_sends_hsts(tmp_path, cert):
    config = f'[web]\ntls_cert = "{cert[0]}"\ntls_key = "{cert[1]}"\nhsts = true\n'
    with sim(tmp_path, config) as (_proc, scheme, port, token):
        assert scheme == "https"
        status, headers, body = call(scheme, port, "POST", "/api/v1/session", body={"name": "ada", "pin": PIN})
        assert status == 200, body
        cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith("deskpi_session="))
        assert "; Secure" in cookie and "HttpOnly" in cookie, cookie
        assert all("; Secure" in c for c in headers.get_all("Set-Cookie"))    # the device cookie too
        assert "max-age=" in headers["Strict-Transport-Security"]
        assert call(scheme, port, "POST", "/api/v1/stop", token=token)[0] == 200
        with socket.create_connection(("127.0.0.1", port), timeout=30) as plain:
            plain.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert b"https://" in plain.recv(4096)


def test_tls_files_that_do_not_match_stop_the_sim_with_one_line(tmp_path, cert):
    other = self_signed_cert(tmp_path / "other")
    config = f'[web]\ntls_cert = "{cert[0]}"\ntls_key = "{other[1]}"\n'
    (tmp_path / "deskpi.toml").write_text(config)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cp = subprocess.run([sys.executable, "-m", "deskpi.cli", "--config", str(tmp_path / "deskpi.toml"), "sim",
                         "--port", "0", "--data-dir", str(tmp_path / "data")], env=env, capture_output=True,
                        text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert cp.returncode == 1
    assert "does not belong to the certificate" in cp.stderr and "Traceback" not in cp.stderr, cp.stderr


def test_sigterm_with_idle_sockets_and_a_stream_open_ends_the_sim_cleanly(tmp_path):
    with sim(tmp_path, "") as (proc, _scheme, port, token):
        idle = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(30)]
        conn, resp = open_stream(port, token)
        assert resp.status == 200
        try:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            assert resp.read() is not None            # the stream ended rather than hanging
        finally:
            conn.close()
            for s in idle:
                s.close()


def test_a_port_in_use_is_one_line_without_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        cp = subprocess.run([sys.executable, "-m", "deskpi.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(tmp_path / "data")], env=env, capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    assert cp.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}: Address already in use" in cp.stderr, cp.stderr
    assert "Traceback" not in cp.stderr
