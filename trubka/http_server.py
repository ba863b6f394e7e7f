"""The HTTP server's limits (uvicorn over h11), where `trubka serve` and `trubka demo`
start it; docs/security.md explains each and what the reverse proxy in front must do.

- A request head (request line and headers) must arrive within
  `TRUBKA_HTTP_HEADER_TIMEOUT` seconds of the connection opening or of the previous
  answer, else the connection is closed (slow-header and silent connections); uvicorn
  has no such timeout of its own, so `HeaderTimeoutH11` adds it to its h11 protocol.
- A head larger than `TRUBKA_HTTP_MAX_HEADER_BYTES` is refused with 400 (h11's
  `max_incomplete_event_size`; the httptools parser has no such limit, hence h11).
- At most `TRUBKA_HTTP_MAX_CONNECTIONS` connections and sockets at once (503 beyond);
  idle keep-alive connections close after `TRUBKA_HTTP_KEEP_ALIVE` seconds.
- `X-Forwarded-For`/`-Proto` are believed only from `TRUBKA_FORWARDED_ALLOW_IPS`.
- On shutdown (`DrainingServer`) the node drains first: `/readyz` answers 503 and every
  WebSocket is told `{"type": "reconnect"}` and closed with 1012, before uvicorn stops
  accepting and closes the remaining connections.
- Tokens in query strings (`?token=…` on /metrics and /api/route) are written to the
  access log as `token=***`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from trubka.settings import Settings

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"(?i)([?&](?:token|access_token)=)[^&\s]*")


class HeaderTimeoutH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head."""

    header_timeout = 10.0
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_head_deadline()  # the next request's head has the same time

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        if not self.transport.is_closing():
            self._head_deadline = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed, or upgraded to a WebSocket: no longer ours
        if self.conn.their_state is h11.IDLE:  # no complete request head in time
            log.debug("closing a connection whose request head took over %ss", self.header_timeout)
            self.transport.close()


class DrainingServer(uvicorn.Server):
    """uvicorn that drains the node (`trubka.node.Node.drain`) before shutting down."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        services = getattr(getattr(self.config.app, "state", None), "services", None)
        node = getattr(services, "node", None)
        if node is not None:
            try:
                told = await node.drain()
                log.info("shutdown: %d WebSocket client(s) told to reconnect elsewhere", told)
            except Exception:
                log.exception("shutdown: draining the WebSockets failed")
        await super().shutdown(sockets)


def protocol_with_timeout(seconds: float) -> type[HeaderTimeoutH11]:
    return type("HeaderTimeoutH11", (HeaderTimeoutH11,), {"header_timeout": seconds})


class RedactTokens(logging.Filter):
    """Replace the value of `token=` in logged request paths with `***`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub(r"\1***", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = _TOKEN.sub(r"\1***", record.msg)
        return True


def uvicorn_config(app: Any, settings: Settings, **extra: Any) -> uvicorn.Config:
    """uvicorn's configuration for Trubka: the limits above, WebSockets without
    compression (compressing every message for every socket cost more CPU on the event
    loop than the LAN saves, and a zlib context per socket, ~100 KiB)."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        http=protocol_with_timeout(settings.http_header_timeout),
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        limit_concurrency=settings.http_max_connections,
        timeout_keep_alive=settings.http_keep_alive,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        lifespan="on",
        log_level=settings.log_level.lower(),
        **extra,
    )
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
    return config
