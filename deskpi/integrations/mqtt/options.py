"""What the MQTT link needs from `[mqtt]`, with the defaults that depend on the machine filled in.

The desk id comes from the host name (one desk per Pi); the base topic, the client id and the
Home Assistant ids follow from it unless the config names them. The password is read from its
own file at start, so the config (which `deskpi export` copies around) never holds it.
"""
from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deskpi.util.files import InputTooLarge, read_text_capped

_UNSAFE = re.compile(r"[^a-z0-9_-]+")


class MqttSetupError(ValueError):
    """The MQTT link cannot be set up as configured (the desk itself runs on without it)."""


def desk_id(hostname: str | None = None) -> str:
    """The host name as a topic level and a Home Assistant id: lower case, [a-z0-9_-] only."""
    name = (hostname if hostname is not None else socket.gethostname()).split(".")[0].lower()
    return _UNSAFE.sub("_", name).strip("_") or "desk"


@dataclass(frozen=True)
class MqttOptions:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    client_id: str
    base_topic: str
    discovery_prefix: str
    allow_commands: bool
    publish_personal: bool
    desk_id: str

    @property
    def node_id(self) -> str:
        """The prefix of every Home Assistant unique id and discovery object id: one per base topic,
        so two desks on one broker (which must have two base topics) never share an entity."""
        return _UNSAFE.sub("_", self.base_topic.lower()).strip("_")

    def topic(self, *levels: str) -> str:
        return "/".join((self.base_topic, *levels))

    @property
    def availability_topic(self) -> str:
        return self.topic("availability")

    @property
    def event_topic(self) -> str:
        return self.topic("event")

    @classmethod
    def from_settings(cls, m: Any, hostname: str | None = None) -> MqttOptions:
        """From the validated `[mqtt]` section; MqttSetupError when the password file cannot be read."""
        did = desk_id(hostname)
        return cls(host=m.host, port=int(m.port), username=m.username or None,
                   password=read_password(m.password_file) if m.password_file else None,
                   tls=bool(m.tls), ca_file=m.tls_ca_file or None, cert_file=m.tls_cert or None,
                   key_file=m.tls_key or None, client_id=m.client_id or f"deskpi-{did}",
                   base_topic=m.base_topic or f"deskpi/{did}", discovery_prefix=m.discovery_prefix,
                   allow_commands=bool(m.allow_commands), publish_personal=bool(m.publish_personal), desk_id=did)


def read_password(path: str) -> str:
    """The first line of the password file (a trailing newline is not part of the password)."""
    try:
        text = read_text_capped(Path(path), what="an MQTT password file", limit=4096)
    except InputTooLarge as exc:
        raise MqttSetupError(f"[mqtt] password_file = {path!r}: {exc.reason}") from None
    except UnicodeDecodeError:
        raise MqttSetupError(f"[mqtt] password_file = {path!r}: not UTF-8 text") from None
    except OSError as exc:
        raise MqttSetupError(f"[mqtt] password_file = {path!r}: cannot read it ({exc.strerror}); it must be "
                             f"readable by the deskpi user, e.g. mode 0640 owner root group deskpi") from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise MqttSetupError(f"[mqtt] password_file = {path!r}: the file is empty; put the password on its "
                             f"first line")
    return password
