"""Two Trubka nodes on one PostgreSQL database for tests: node A is the panel stack
(it consumes the simulated PBX's AMI), node B a web-only node (AMI and FastAGI off).

    async with two_nodes(database_url) as (a, b):
        anna = await a.agent("anna", "101")
        await b.services.agent_directory.refresh()
        async with b.client("anna") as http, b.socket(http) as ws:
            a.pbx.place_call(...)
            pop = await next_message(ws, "screen_pop")
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.kit_server import LiveServer
from tests.web.kit_panel import Stack, panel_stack
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services


@asynccontextmanager
async def web_node(stack: Stack, **settings: Any) -> AsyncIterator[Stack]:
    """A second node on the stack's database that does not consume AMI."""
    app = build_app(
        load_settings(
            database_url=stack.services.settings.database_url,
            ami_enabled=False,
            agi_enabled=False,
            **settings,
        )
    )
    services: Services = app.state.services
    async with LiveServer(app) as server:
        assert services.cluster is not None
        assert services.cluster.bridge.listening.is_set()
        yield Stack(server, services, stack.pbx)


@asynccontextmanager
async def two_nodes(database_url: str, **settings: Any) -> AsyncIterator[tuple[Stack, Stack]]:
    async with panel_stack(database_url, **settings) as a, web_node(a, **settings) as b:
        assert a.services.cluster is not None and a.services.consumes_ami
        assert not b.services.consumes_ami
        yield a, b
