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

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from telephony.simpbx import AgentConfig, SimPbx
from tests.kit_server import LiveServer
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
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


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the live state has no event to await
            await asyncio.sleep(0.02)


@dataclass
class TwoPbxNodes:
    """Two simulated PBXes (a: agent 101 Анна, b: agent 201 Вера, both in `support`);
    node A consumes both, node B is web-only."""

    pbx_a: SimPbx
    pbx_b: SimPbx
    server_a: LiveServer
    server_b: LiveServer
    services_a: Services
    services_b: Services


ANNA = "Local/101@agents/n"
VERA = "Local/201@agents/n"


@asynccontextmanager
async def two_pbxes_two_nodes(database_url: str) -> AsyncIterator[TwoPbxNodes]:
    """Both nodes serving, node A connected, and both PBXes' agents in its live state."""
    agents_a = (AgentConfig("101", "Анна", ("support",)),)
    agents_b = (AgentConfig("201", "Вера", ("support",)),)
    async with (
        running(sim_config(agents=agents_a)) as pbx_a,
        running(sim_config(agents=agents_b, seed=8)) as pbx_b,
    ):
        pbxes = json.dumps(
            [
                {"name": name, "ami_port": p.port, "ami_user": USER, "ami_secret": SECRET}
                for name, p in (("a", pbx_a), ("b", pbx_b))
            ]
        )
        node_a, node_b = (
            build_app(
                load_settings(
                    database_url=database_url, pbxes=pbxes, ami_enabled=ami, agi_enabled=False
                )
            )
            for ami in (True, False)
        )
        services_a: Services = node_a.state.services
        services_b: Services = node_b.state.services
        async with LiveServer(node_a) as server_a, LiveServer(node_b) as server_b:
            assert services_a.ami is not None
            await services_a.ami.wait_connected(10.0)
            states = services_a.pbx_states
            await until(
                lambda: (
                    states["b"].agent_for(VERA) is not None
                    and states["a"].agent_for(ANNA) is not None
                )
            )
            yield TwoPbxNodes(pbx_a, pbx_b, server_a, server_b, services_a, services_b)
