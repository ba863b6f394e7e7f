"""`{"type": "reconnect"}` (a node shutting down) in headless Chromium: the page's socket
(web/static/js/lib/socket.js) closes by itself and connects again, without passing the
message on, and the page keeps receiving on the new socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.kit_server import LiveServer
from tests.web.test_js_lib import SocketScript, app, browser

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the fixture, shared with test_js_lib


class DrainingScript(SocketScript):
    """The first socket is told to reconnect and left open; the second says hello."""

    def __init__(self) -> None:
        super().__init__()
        self.client_closed_first = asyncio.Event()

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.connections += 1
        if self.connections == 1:
            await websocket.send_text('{"type": "reconnect", "reason": "node_shutdown"}')
            try:
                while True:
                    await websocket.receive_text()
            except WebSocketDisconnect:
                self.client_closed_first.set()  # the page closed it, not the server
            return
        await websocket.send_text('{"type": "hello", "n": 2}')
        self.received.append(await websocket.receive_text())
        await websocket.close(code=1000)


async def test_a_reconnect_message_makes_the_page_connect_again(browser: Any) -> None:
    script = DrainingScript()
    async with LiveServer(app(script)) as server:
        page = await browser.new_page()
        await page.goto(f"{server.url}/page")
        await page.evaluate(
            """async () => {
              const { connectSocket } = await import("/static/js/lib/socket.js");
              const seen = [];
              const socket = connectSocket({
                onMessage: (message) => {
                  seen.push(message);
                  if (message.n === 2) socket.send({ type: "seen", seen });
                },
                onStatus: (state) => seen.push(state),
              });
            }""",
        )
        async with asyncio.timeout(10):
            while not script.received:  # noqa: ASYNC110 - the browser reports over the socket
                await asyncio.sleep(0.05)
        assert script.client_closed_first.is_set()
        assert script.connections == 2
        assert json.loads(script.received[0])["seen"] == [
            "connecting",
            "connected",
            "disconnected",  # no "reconnect" message handed to the page
            "connecting",
            "connected",
            {"type": "hello", "n": 2},
        ]
