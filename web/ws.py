"""`GET /ws`: the live WebSocket of a signed-in user (agent panel, supervisor views).

The socket is authenticated by the session cookie (the authenticator is given by the
composition root); an agent receives only their own pops and state, a supervisor's or
admin's socket follows everything. Clients may send `{"type": "ping"}`; anything else
they send is ignored.
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
FOLLOW_ALL_ROLES = frozenset({"supervisor", "admin"})


@dataclass(frozen=True, slots=True)
class SocketUser:
    user_id: int
    role: str


SocketAuthenticator = Callable[[WebSocket], Awaitable[SocketUser | None]]


@router.websocket("/ws")
async def live_socket(websocket: WebSocket) -> None:
    services = websocket.app.state.services
    hub: Hub = services.hub
    notifier: Notifier = services.notifier
    authenticate: SocketAuthenticator = services.ws_authenticate
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
    )
    hub.register(client)
    notifier.welcome(client)
    live_feed = getattr(services, "live_feed", None)  # the supervisors' live view
    if live_feed is not None and client.follow_all:
        live_feed.welcome(client)
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


def _is_ping(text: str) -> bool:
    if len(text) > 1000:
        return False
    try:
        message = json.loads(text)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "ping"
