"""The AMI client's plain types: its configuration, the link's states, what a list action
returns and the status that pages and metrics show (re-exported by
:mod:`telephony.ami_client`)."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from telephony.codec import Frame


class LinkState(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    LOGGING_IN = "logging_in"
    RESYNCING = "resyncing"
    CONNECTED = "connected"
    WAITING = "waiting"  # backing off before the next attempt


@dataclass(frozen=True, slots=True)
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "trubka"
    secret: str = ""
    ping_interval: float = 10.0
    action_timeout: float = 10.0
    connect_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_factor: float = 2.0
    jitter: float = 0.5  # each delay is drawn from [delay·(1−jitter), delay]
    md5_login: bool = False  # `Challenge` + MD5 key instead of sending the secret
    resync_timeout: float = 30.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ListResult:
    """A list action's answer: the `Response` frame and the items before `…Complete`."""

    response: Frame
    items: tuple[Frame, ...]


@dataclass(slots=True)
class AmiStatus:
    """What pages and metrics show about the AMI link."""

    state: LinkState = LinkState.STOPPED
    since: float = field(default_factory=time.time)
    host: str = ""
    connects: int = 0  # successful logins
    reconnects: int = 0  # logins after the first
    attempts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    banner: str | None = None
    asterisk_version: str | None = None
    connected_at: float | None = None
    next_attempt_at: float | None = None
    last_backoff: float | None = None
    backoffs: deque[float] = field(default_factory=lambda: deque(maxlen=16))  # recent delays
    last_ping_rtt: float | None = None
    ping_failures: int = 0
    events_published: int = 0
    last_event_at: float | None = None  # when the last events were published
    frames_held: int = 0
    internal_errors: int = 0
    calls_closed_by_resync: int = 0
