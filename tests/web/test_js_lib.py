"""The pages' shared JavaScript (web/static/js/lib/) in headless Chromium: the formats,
and the one reconnecting WebSocket (messages, reconnects, the sign-in page on 4401)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from tests.kit_browser import CHROMIUM, chromium
from tests.kit_server import LiveServer
from web.app import STATIC_DIR

pytestmark = pytest.mark.browser

HAVE_CHROMIUM = Path(CHROMIUM).exists()
PAGE = "<!doctype html><html lang='ru'><body><p id='where'>page</p></body></html>"


class SocketScript:
    """`/ws`: the first socket gets a message, garbage and a close; the second a message
    and, once the client pinged, the close of a signed-out session (4401)."""

    def __init__(self) -> None:
        self.connections = 0
        self.received: list[str] = []

    async def serve(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.connections += 1
        if self.connections == 1:
            await websocket.send_text('{"type": "hello", "n": 1}')
            await websocket.send_text("not json")
            await websocket.send_text("[1, 2]")
            await websocket.close(code=1011)
            return
        await websocket.send_text('{"type": "hello", "n": 2}')
        self.received.append(await websocket.receive_text())
        await websocket.close(code=4401)


def app(script: SocketScript) -> Starlette:
    async def page(_request: Any) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def login(_request: Any) -> HTMLResponse:
        return HTMLResponse("<!doctype html><p id='where'>login</p>")

    return Starlette(
        routes=[
            Route("/page", page),
            Route("/login", login),
            WebSocketRoute("/ws", script.serve),
            Mount("/static", StaticFiles(directory=STATIC_DIR)),
        ]
    )


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    async with chromium() as browser:
        yield browser


async def test_the_formats(browser: Any) -> None:
    async with LiveServer(app(SocketScript())) as server:
        page = await browser.new_page()
        await page.goto(f"{server.url}/page")
        got = await page.evaluate(
            """async () => {
              const f = await import("/static/js/lib/format.js");
              return {
                duration: [0, 59.6, 3600, -3, null, 3725].map(f.duration),
                playback: [1.9, NaN, 3725.9, -1].map(f.playbackTime),
                number: [f.numberFormat("ru", 1)(12.34), f.numberFormat("en")(null)],
                phone: [f.phoneFormat("RU")("+74951234567"), f.phoneFormat("DE")("+74951234567"),
                        f.phoneFormat("RU")(null)],
                money: [f.moneyFormat("en")(1500, "RUB"), f.moneyFormat("en")("")],
                time: [
                  f.dateTimeFormat("en", "Europe/Moscow", {timeStyle: "short", hourCycle: "h23"})(
                    "2026-11-26T09:00:00Z"),
                  f.dateTimeFormat("en", "No/Such_Zone", {timeStyle: "short"})("not a date"),
                  f.dateTimeFormat("en", undefined, {timeStyle: "short"})(null),
                ],
              };
            }"""
        )
    assert got == {
        "duration": ["0:00", "1:00", "1:00:00", "0:00", "0:00", "1:02:05"],
        "playback": ["0:01", "0:00", "1:02:05", "0:00"],
        "number": ["12,3", "—"],
        "phone": ["8 (495) 123-45-67", "+74951234567", ""],
        "money": ["RUB\u00a01,500.00", ""],
        "time": ["12:00", "", ""],
    }


async def test_the_socket_reconnects_and_signs_out(browser: Any) -> None:
    script = SocketScript()
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
                  // what the page saw goes back to the server before it signs out
                  if (message.n === 2) socket.send({ type: "seen", seen });
                },
                onStatus: (state) => seen.push(state),
                maxDelay: 1000,
              });
            }""",
        )
        await page.wait_for_url(f"{server.url}/login?next=%2Fpage", timeout=10_000)
        assert script.connections == 2
        (report,) = script.received
        assert json.loads(report) == {
            "type": "seen",
            "seen": [
                "connecting",
                "connected",
                {"type": "hello", "n": 1},  # neither garbage nor a non-object
                "disconnected",
                "connecting",
                "connected",
                {"type": "hello", "n": 2},
            ],
        }
