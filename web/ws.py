"""`GET /ws`: the live WebSocket of a signed-in user (agent panel, supervisor views).

The socket is authenticated by the session cookie (the authenticator is given by the
composition root); an agent receives only their own pops and state, a supervisor's or
admin's socket follows everything. Clients may send `{"type": "ping"}`; anything else
they send is ignored.

A browser's handshake must come from the site's own origin (the `Origin` header names
the host the request was sent to) or one of `TRUBKA_ALLOWED_ORIGINS`; anything else is
refused (cross-site WebSocket hijacking). A session holds at most
`TRUBKA_WS_MAX_PER_SESSION` sockets and a user `TRUBKA_WS_MAX_PER_USER`; past that the
oldest is closed with 4429. The hub closes a session's sockets when it ends (4401) and
a user's when their rights change (`screenpop.hub`'s close codes).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from screenpop.hub import Client, Hub
from screenpop.notifier import Notifier

log = logging.getLogger(__name__)

router = APIRouter()

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FOREIGN_ORIGIN = 4403
FOLLOW_ALL_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class SocketUser:
    user_id: int
    role: str
    session: str = ""  # the sign-in session (its token's hash), to close it on sign-out


SocketAuthenticator = Callable[[WebSocket], Awaitable[SocketUser | None]]


@router.websocket("/ws")
async def live_socket(websocket: WebSocket) -> None:
    services = websocket.app.state.services
    hub: Hub = services.hub
    notifier: Notifier = services.notifier
    authenticate: SocketAuthenticator = services.ws_authenticate
    settings = services.settings  # web.ports.WebSettings
    if not origin_allowed(websocket, settings.allowed_origins):
        log.warning("websocket refused: foreign origin %r", websocket.headers.get("origin"))
        await websocket.close(code=CLOSE_FOREIGN_ORIGIN, reason="foreign origin")
        return
    user = await authenticate(websocket)
    if user is None:
        await websocket.close(code=CLOSE_NOT_AUTHENTICATED, reason="not signed in")
        return
    await websocket.accept()
    client = Client(
        user_id=user.user_id,
        role=user.role,
        send_text=websocket.send_text,
        close=lambda code, reason: websocket.close(code=code, reason=reason),
        follow_all=user.role in FOLLOW_ALL_ROLES,
        session=user.session,
    )
    hub.admit(client, per_session=settings.ws_max_per_session, per_user=settings.ws_max_per_user)
    notifier.welcome(client)
    for pbx_notifier in getattr(services, "pbx_notifiers", ()):  # phones on other PBXes
        pbx_notifier.welcome(client)
    live_feed = getattr(services, "live_feed", None)  # the supervisors' live view
    cluster = getattr(services, "cluster", None)  # several nodes: whoever makes the view
    if cluster is not None and client.follow_all:
        cluster.welcome_supervisor(client)
    elif live_feed is not None and client.follow_all:
        live_feed.welcome(client)
        for pbx_feed in getattr(services, "pbx_live_feeds", ()):  # the other PBXes' views
            pbx_feed.welcome(client)
    writer = asyncio.create_task(hub.serve(client), name=f"ws-writer-{user.user_id}")
    try:
        while True:
            text = await websocket.receive_text()
            if _is_ping(text):
                hub.to_client(client, {"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        hub.unregister(client)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_allowed(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """No Origin (not a browser), the site's own origin, or one of `allowed`."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if origin in allowed:
        return True
    scheme, sep, netloc = origin.partition("://")
    host = websocket.headers.get("host", "").strip().lower()
    if not sep or scheme not in ("http", "https") or not host:
        return False
    own = _host_port(host, scheme)
    return own is not None and _host_port(netloc, scheme) == own


def _host_port(netloc: str, scheme: str) -> tuple[str, int] | None:
    """`example.com` → ("example.com", 443 for https); None when it is not host[:port]."""
    if "/" in netloc or "@" in netloc:
        return None
    host, sep, port = netloc.rpartition(":")
    if not sep or not port.isdigit():
        host, port = netloc, ""
    if not host:
        return None
    return host, int(port) if port else _DEFAULT_PORTS[scheme]


def _is_ping(text: str) -> bool:
    if len(text) > 1000:
        return False
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"
