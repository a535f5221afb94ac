"""The connection to the broker: paho-mqtt's network thread plus one publisher thread of our own.

Nothing the desk does waits for the broker. The desk puts messages in the Outbox and goes on;
the publisher thread hands them to paho only while connected and only when paho has written
the previous batch (a stalled broker leaves them in the Outbox, where newer ones replace them).
paho reconnects with a doubling back-off (1 s up to 30 s); on every connect the desk says
`online`, subscribes to its command topics and sends every retained message again, so a
broker restarted without persistence learns the whole picture. The broker itself says
`offline` (the last will) when the connection dies without a goodbye: SIGKILL, power, network.
"""
from __future__ import annotations

import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Callable

from deskpi.integrations.mqtt.options import MqttOptions
from deskpi.integrations.mqtt.outbox import Outbox

log = logging.getLogger(__name__)

KEEPALIVE_S = 30                # the broker declares the desk offline ~45 s after the network is lost
CONNECT_TIMEOUT_S = 3.0
BACKOFF_S = (1, 30)
BACKLOG_WAIT_S = 0.05           # while paho still writes the last batch (a slow or stalled broker)
CLOSE_TIMEOUT_S = 2.0


class MqttLink:
    def __init__(self, opts: MqttOptions, outbox: Outbox, *, on_message: Callable[[str, bytes, bool], None],
                 subscriptions: Callable[[], list[str]], periodic: Callable[[], None] | None = None,
                 period_s: float = 5.0) -> None:
        # The `mqtt` extra, imported only when [mqtt] is enabled.
        import paho.mqtt.client as mqtt

        self.opts = opts
        self.outbox = outbox
        self.on_message = on_message
        self.subscriptions = subscriptions
        self.periodic = periodic
        self.period_s = period_s
        self.connected = threading.Event()
        self.connects = 0
        self.problem: str | None = None          # why the desk is not connected, for the log and `status`
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=opts.client_id,
                             protocol=mqtt.MQTTv311, clean_session=True)
        if opts.username:
            client.username_pw_set(opts.username, opts.password)
        if opts.tls:
            client.tls_set(ca_certs=opts.ca_file, certfile=opts.cert_file, keyfile=opts.key_file,
                           cert_reqs=ssl.CERT_REQUIRED)
        client.will_set(opts.availability_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(*BACKOFF_S)
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    # -- life -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self.opts.host, self.opts.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="mqtt-publish", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Say `offline` if the broker is there, disconnect, and stop both threads, in bounded time."""
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=CLOSE_TIMEOUT_S)
        if self.connected.is_set():
            info = self.client.publish(self.opts.availability_topic, "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):    # gone meanwhile: the broker sends the will
                info.wait_for_publish(timeout=CLOSE_TIMEOUT_S)
        self.client.disconnect()
        # loop_stop joins paho's thread, which may sit in a connect attempt: never let that hold up shutdown.
        stopper = threading.Thread(target=self.client.loop_stop, name="mqtt-close", daemon=True)
        stopper.start()
        stopper.join(timeout=CLOSE_TIMEOUT_S)

    # -- the publisher thread ---------------------------------------------------------------------
    def _run(self) -> None:
        next_periodic = time.monotonic()
        while not self._closed.is_set():
            now = time.monotonic()
            if self.periodic is not None and now >= next_periodic:
                next_periodic = now + self.period_s
                try:
                    self.periodic()
                except Exception:
                    log.exception("MQTT: refreshing the desk's details failed")
            wait = max(0.0, next_periodic - time.monotonic()) if self.periodic is not None else 1.0
            if not self.connected.is_set():
                self.connected.wait(min(wait, 1.0))
                continue
            if not self.outbox.wait(min(wait, 1.0)):
                continue
            if self.client.want_write():
                self._closed.wait(BACKLOG_WAIT_S)
                continue
            for m in self.outbox.take():
                self.client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)

    # -- paho's callbacks (on its network thread) ------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._say(f"the broker at {self.opts.host}:{self.opts.port} refused the connection: {reason_code}")
            return
        client.publish(self.opts.availability_topic, "online", qos=1, retain=True)
        for topic in self.subscriptions():
            client.subscribe(topic, qos=1)
        client.subscribe(f"{self.opts.discovery_prefix}/status", qos=1)
        self.outbox.requeue_retained()
        self.connects += 1
        self.problem = None
        self.connected.set()
        log.info("MQTT: connected to %s:%s as %s (base topic %s)", self.opts.host, self.opts.port,
                 self.opts.client_id, self.opts.base_topic)

    def _on_connect_fail(self, client, userdata) -> None:
        self._say(f"cannot reach the broker at {self.opts.host}:{self.opts.port}; retrying with a back-off")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was and not self._closed.is_set():
            self._say(f"lost the broker at {self.opts.host}:{self.opts.port} ({reason_code}); reconnecting")

    def _on_message(self, client, userdata, message) -> None:
        try:
            if message.topic == f"{self.opts.discovery_prefix}/status":
                if message.payload == b"online":        # Home Assistant restarted: tell it everything again
                    self.outbox.requeue_retained()
                return
            # A retained command is the broker replaying an old one: the handler must know.
            self.on_message(message.topic, message.payload, bool(message.retain))
        except Exception:
            log.exception("MQTT: a message on %s could not be handled", message.topic)

    def _say(self, problem: str) -> None:
        """Log a connection problem once, not at every retry."""
        if problem != self.problem:
            self.problem = problem
            log.warning("MQTT: %s", problem)
