"""A throwaway Mosquitto broker on 127.0.0.1, for `deskpi bench mqtt` and the MQTT tests.

Debian's own broker (the `mosquitto` package), run as this user on a free port with a password
file and an ACL like a real installation: the desk may write its own topics and the discovery
prefix; Home Assistant may read everything and write the command topics. It can be stopped and
started again on the same port (a broker restart), and paused with SIGSTOP (a stalled broker:
connections are accepted by the kernel, nothing is ever answered).
"""
from __future__ import annotations

import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
START_TIMEOUT_S = 10.0

#: name -> password of the broker's users; "deskpi" is the desk, "ha" plays Home Assistant.
USERS = {"deskpi": "desk-secret", "ha": "ha-secret"}

ACL = """\
user deskpi
topic readwrite deskpi/#
topic write homeassistant/#
topic read homeassistant/status

user ha
topic read deskpi/#
topic write deskpi/+/+/set
topic write deskpi/+/preset/+/set
topic read homeassistant/#
topic write homeassistant/status
"""


class BrokerMissing(RuntimeError):
    """Debian's mosquitto is not installed."""


def find_mosquitto() -> tuple[str, str]:
    """(mosquitto, mosquitto_passwd); BrokerMissing saying which package to install."""
    broker = MOSQUITTO if os.access(MOSQUITTO, os.X_OK) else shutil.which("mosquitto")
    passwd = MOSQUITTO_PASSWD if os.access(MOSQUITTO_PASSWD, os.X_OK) else shutil.which("mosquitto_passwd")
    if broker is None or passwd is None:
        raise BrokerMissing("mosquitto not found: install the Debian package 'mosquitto' "
                            "(apt-get install -y mosquitto; `make test` does it as root)")
    return broker, passwd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.broker, passwd = find_mosquitto()
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "mosquitto.log"
        pw = self.dir / "passwd"
        pw.unlink(missing_ok=True)
        for i, (user, password) in enumerate(USERS.items()):
            subprocess.run([passwd, "-b", *(["-c"] if i == 0 else []), str(pw), user, password],
                           check=True, capture_output=True, timeout=30)
        pw.chmod(0o600)
        acl = self.dir / "acl"
        acl.write_text(ACL)
        acl.chmod(0o600)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {pw}\n"
            f"acl_file {acl}\n"
            "persistence false\n"
            f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            "log_dest stderr\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n")

    def password_file(self, user: str) -> Path:
        """A file holding `user`'s password, as deskpi's [mqtt] password_file wants it."""
        path = self.dir / f"{user}.password"
        path.write_text(USERS[user] + "\n")
        path.chmod(0o600)
        return path

    # -- life -------------------------------------------------------------------------------------
    def start(self) -> Mosquitto:
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen([self.broker, "-c", str(self.conf)], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start ({self.proc.returncode}): "
                                   f"{self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mosquitto did not listen on port {self.port} within "
                                       f"{START_TIMEOUT_S:g} s") from None
                time.sleep(0.02)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)           # a paused broker cannot act on SIGTERM
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def pause(self) -> None:
        """Stall the broker: its socket stays open, nothing is read or answered."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_ids = itertools.count(1)


class Subscriber:
    """A client that records every message it gets, as Home Assistant would see them (user "ha").

    `wait_for` blocks on a condition (never a sleep) until a message on a topic satisfies a test;
    `mark()` remembers where the record is, so a wait can ask for messages newer than an action.
    """

    def __init__(self, port: int, *, user: str = "ha", topics: tuple[str, ...] = ("homeassistant/#", "deskpi/#"),
                 client_id: str = "", timeout: float = 10.0) -> None:
        import threading

        import paho.mqtt.client as mqtt

        self.messages: list[tuple[float, str, bytes, bool]] = []     # (monotonic time, topic, payload, retain)
        self._cond = threading.Condition()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"{user}-{os.getpid()}-{next(_ids)}")
        self.client.username_pw_set(user, USERS[user])

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            client.subscribe([(t, 1) for t in topics])

        def on_message(client, userdata, message) -> None:
            with self._cond:
                self.messages.append((time.monotonic(), message.topic, message.payload, bool(message.retain)))
                self._cond.notify_all()

        self.client.on_connect = on_connect
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not subscribed.wait(timeout):
            self.close()
            raise RuntimeError(f"could not subscribe on the broker at port {port} within {timeout:g} s")

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    def wait_for(self, topic: str, test=lambda payload: True, *, timeout: float = 10.0, after: int = 0
                 ) -> tuple[float, str, bytes, bool]:
        """The first message on `topic` (from index `after`) whose payload (text) passes `test`."""
        deadline = time.monotonic() + timeout
        seen = after
        with self._cond:
            while True:
                for i in range(seen, len(self.messages)):
                    m = self.messages[i]
                    if m[1] == topic and test(m[2].decode("utf-8", errors="replace")):
                        return m
                seen = len(self.messages)
                left = deadline - time.monotonic()
                if left <= 0:
                    last = [m[2][:80] for m in self.messages if m[1] == topic][-3:]
                    raise TimeoutError(f"no matching message on {topic} within {timeout:g} s (last: {last})")
                self._cond.wait(left)

    def on(self, topic: str, after: int = 0) -> list[str]:
        """Every payload seen on `topic` (from index `after`), oldest first."""
        with self._cond:
            return [m[2].decode("utf-8", errors="replace") for m in self.messages[after:] if m[1] == topic]

    def publish(self, topic: str, payload: str, timeout: float = 10.0) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
