"""The whole panel stack for tests: the simulated PBX, Trubka (real uvicorn) pointed at it,
agents with their phones, signed-in HTTP clients and WebSockets.

    async with panel_stack(database_url) as stack:
        anna = await stack.agent("anna", "101")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            call = stack.pbx.place_call("+74951110000", "Иван", queue="support")
            pop = await next_message(ws, "screen_pop")

Agents of the simulated PBX (`Local/1XX@agents/n`): 101 alone in `support`, 102 alone in
`help`, 103–105 in the ring-all queue `sales`. Rings last until a test answers
(`stack.pbx.answer("101")`) unless the agent is told to answer by itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import websockets
from playwright.async_api import Page

from crm.users import UserInfo
from telephony.simpbx import AgentConfig, QueueConfig, SimConfig, SimPbx
from tests.kit_browser import CHROMIUM as CHROMIUM  # the panel tests take it from here
from tests.kit_browser import chromium
from tests.kit_server import LiveServer, free_port
from tests.telephony.kit_sim import FAST, SECRET, USER
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

PASSWORD = "correct horse"
QUEUES = (
    QueueConfig("support", strategy="rrmemory", timeout=30.0, retry=0.05, wrapup=0.0),
    QueueConfig("help", strategy="rrmemory", timeout=30.0, retry=0.05, wrapup=0.0),
    QueueConfig("sales", strategy="ringall", timeout=30.0, retry=0.05, wrapup=0.0),
)
AGENTS = (
    AgentConfig("101", "Анна Смирнова", ("support",), answers=False),
    AgentConfig("102", "Борис Иванов", ("help",), answers=False),
    AgentConfig("103", "Виктория Орлова", ("sales",), answers=False),
    AgentConfig("104", "Григорий Павлов", ("sales",), answers=False),
    AgentConfig("105", "Дарья Кузнецова", ("sales",), answers=False),
)
TIMING = replace(FAST, patience=(120.0, 120.0), talk_time=(600.0, 600.0), agi_timeout=2.0)


@dataclass
class Stack:
    server: LiveServer
    services: Services
    pbx: SimPbx
    users: dict[str, UserInfo] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ws_url(self) -> str:
        return self.server.ws_url

    async def agent(
        self, login: str, extension: str | None, *, role: str = "agent", language: str = "en"
    ) -> UserInfo:
        """A user whose phone is the simulated PBX's agent `extension` (None: no phone)."""
        interfaces = (f"Local/{extension}@agents/n",) if extension else ()
        user = await self.services.crm.users.create(
            login=login,
            name=login.title(),
            role=role,
            password=PASSWORD,
            interfaces=interfaces,
            language=language,
        )
        await self.services.agent_directory.refresh()
        self.users[login] = user
        return user

    @asynccontextmanager
    async def client(self, login: str) -> AsyncIterator[httpx.AsyncClient]:
        async with self.server.client(timeout=15) as http:
            response = await http.post("/api/session", json={"login": login, "password": PASSWORD})
            assert response.status_code == 200, response.text
            yield http

    @asynccontextmanager
    async def socket(self, http: httpx.AsyncClient) -> AsyncIterator[Any]:
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        async with websockets.connect(self.ws_url, additional_headers={"Cookie": cookie}) as ws:
            yield ws


async def next_message(
    ws: Any, kind: str, *, timeout: float = 10.0, **match: Any
) -> dict[str, Any]:
    """The next message of this type (and these field values); others are skipped."""
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind and all(message.get(k) == v for k, v in match.items()):
                return dict(message)


async def drain_until_pong(ws: Any) -> list[dict[str, Any]]:
    """Everything the socket got before the answer to a ping sent now."""
    await ws.send(json.dumps({"type": "ping"}))
    seen = []
    async with asyncio.timeout(10.0):
        while (message := json.loads(await ws.recv()))["type"] != "pong":
            seen.append(message)
    return seen


@asynccontextmanager
async def panel_stack(
    database_url: str,
    *,
    agi: bool = False,
    config: SimConfig | None = None,
    **settings: Any,
) -> AsyncIterator[Stack]:
    """Trubka and the simulated PBX, connected; FastAGI routing through Trubka when `agi`."""
    agi_port = free_port()
    sim = config or SimConfig(
        username=USER,
        secret=SECRET,
        seed=5,
        timing=TIMING,
        queues=QUEUES,
        agents=AGENTS,
        default_queue="support",
        record=False,
    )
    if agi:
        sim = replace(sim, agi_url=f"agi://127.0.0.1:{agi_port}/route")
    pbx = SimPbx(sim)
    await pbx.start(generate=False)
    try:
        app = build_app(
            load_settings(
                database_url=database_url,
                ami_enabled=True,
                ami_host="127.0.0.1",
                ami_port=pbx.port,
                ami_user=USER,
                ami_secret=SECRET,
                agi_port=agi_port,
                agi_enabled=agi,
                **settings,
            )
        )
        services: Services = app.state.services
        async with LiveServer(app) as server:
            assert services.ami is not None
            await services.ami.wait_connected(10.0)
            yield Stack(server, services, pbx)
    finally:
        await pbx.stop()


@asynccontextmanager
async def signed_in_page(
    stack: Stack,
    login: str,
    *,
    password: str = PASSWORD,
    viewport: tuple[int, int] = (1366, 768),
    landing: str = "/",
) -> AsyncIterator[Page]:
    """Debian's Chromium, signed in through the login form, the panel live (an admin
    lands on `/admin` instead: pass `landing`)."""
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = await context.new_page()
        await page.goto(stack.url + "/")  # redirected to the login form
        await page.fill("#login", login)
        await page.fill("#password", password)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url(stack.url + landing)
        if landing == "/":
            await page.wait_for_selector("body[data-live=open]")
        yield page
