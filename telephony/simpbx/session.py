"""One AMI session of the simulated PBX and the actions it receives."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from telephony.simpbx.originate import legacy_if_not_utf8

log = logging.getLogger(__name__)

MAX_SESSION_BACKLOG = 16 * 1024 * 1024  # bytes a client may leave unread before it is dropped


@dataclass(eq=False)
class Action:
    """One action as received: header names lower-cased, repeated headers kept."""

    pairs: list[tuple[str, str]]

    def get(self, name: str, default: str = "") -> str:
        key = name.lower()
        for header, value in self.pairs:
            if header == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for header, value in self.pairs if header == key]

    @property
    def name(self) -> str:
        return self.get("action")

    @property
    def action_id(self) -> str | None:
        for header, value in self.pairs:
            if header == "actionid":
                return value
        return None


@dataclass(eq=False)
class Session:
    writer: asyncio.StreamWriter
    session_id: str
    remote: str
    local: str
    logged_in: bool = False
    username: str = ""
    events: bool = True
    challenge: str | None = None
    closed: bool = False
    started: float = field(default_factory=time.time)

    def write(self, data: bytes) -> None:
        if self.closed:
            return
        transport = self.writer.transport
        if transport.is_closing():
            self.closed = True
            return
        if transport.get_write_buffer_size() > MAX_SESSION_BACKLOG:
            log.warning("simulated PBX: %s stopped reading; dropping the session", self.remote)
            self.abort()
            return
        self.writer.write(data)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    def abort(self) -> None:
        self.closed = True
        self.writer.transport.abort()


def parse_action(raw: bytes) -> Action:
    pairs: list[tuple[str, str]] = []
    for line in raw.split(b"\n"):
        key, sep, value = line.partition(b":")
        if not sep:
            continue
        pairs.append(
            (key.strip().decode("ascii", "replace").lower(), legacy_if_not_utf8(value.strip()))
        )
    return Action(pairs)


def split_app_args(text: str) -> list[str]:
    """Split like Asterisk's AST_STANDARD_APP_ARGS: on commas outside quotes; quotes and
    backslash escapes are removed (`A=x\\,y` is one argument `A=x,y`)."""
    args: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            args.append("".join(current))
            current = []
        else:
            current.append(char)
    args.append("".join(current))
    return args
