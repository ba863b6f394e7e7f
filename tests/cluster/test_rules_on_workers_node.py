"""The rules on a node of their own (docs/deploy.md, "A heavy rule load"): node A pops
(`--roles ami,agi,web`, it consumes the simulated PBX's AMI), node B runs only the
`workers` role on the same PostgreSQL database. A missed call from a VIP contact, stored
by node A, is run by node B's rules worker: the owner's task is made, and the rule's
panel notice reaches the owner's browser connected to node A (through the cluster
bridge) — node A's own worker never runs, and node B's is woken through the cluster."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crm.access import Actor
from crm.models import Task
from crm.notices import Notice
from crm.rules.record import WAKERS
from crm.schemas import ContactCreate
from tests.kit_server import LiveServer
from tests.web.kit_panel import Stack, next_message, panel_stack
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

POP_ROLES = frozenset({"ami", "agi", "web"})


@asynccontextmanager
async def workers_node(stack: Stack) -> AsyncIterator[tuple[LiveServer, Services]]:
    """`trubka serve --roles workers` on the stack's database (health answers only)."""
    app = build_app(
        load_settings(
            database_url=stack.services.settings.database_url,
            roles=frozenset({"workers"}),
            ami_enabled=False,
            agi_enabled=False,
        )
    )
    services: Services = app.state.services
    async with LiveServer(app) as server:
        assert services.cluster is not None and services.cluster.bridge.listening.is_set()
        yield server, services


async def _until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (found := await condition()):  # noqa: ASYNC110 - rows, no event to await
            await asyncio.sleep(0.05)
        return found


async def test_a_rule_run_on_the_workers_node_notifies_the_agent_on_the_pop_node(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        panel_stack(database_url, roles=POP_ROLES) as a,
        workers_node(a) as (server_b, b),
    ):
        assert not a.services.node.has("workers") and b.node.roles == {"workers"}
        # as in two processes: node B's worker is woken only through the cluster (`rq`
        # from node A's commit of the call's events), never by its next poll
        assert b.rule_worker is not None
        WAKERS.remove(b.rule_worker.wake)
        b.rule_worker.config = replace(b.rule_worker.config, poll_interval=600.0)
        async with httpx.AsyncClient(base_url=server_b.url) as probe:
            ready = (await probe.get("/readyz")).json()
            assert ready["roles"] == ["workers"] and ready["status"] == "ready"
            assert (await probe.get("/api/calls")).status_code == 404  # no web role
        anna = await a.agent("anna", "101")
        contact = await a.services.crm.contacts.create(
            ContactCreate(
                name="Иван Петров", phones=["+79161234567"], owner_id=anna.id, tags=["VIP"]
            ),
            Actor.system(),
        )
        rule = await a.services.crm.rules.create(
            {
                "name": "VIP missed call",
                "event": "call.missed",
                "conditions": [{"field": "contact_tags", "op": "has", "value": "vip"}],
                "actions": [
                    {
                        "type": "create_task",
                        "title": "VIP: перезвонить {{ contact_name }}",
                        "assignee": ["owner"],
                        "due_hours": 1,
                    },
                    {"type": "notify", "assignee": ["owner"], "text": "VIP {{ caller_number }}"},
                ],
            },
            None,
        )
        async with a.client("anna") as http, a.socket(http) as ws:
            a.pbx.set_agents_answer(False)
            missed = a.pbx.place_call("79161234567", "Иван Петров", patience=1.0)
            notice = await next_message(ws, "rule_notice", timeout=20.0)
            assert notice["rule_id"] == rule["id"] and notice["text"] == "VIP +79161234567"
            assert notice["contact_id"] == contact["id"] and notice["event"] == "call.missed"

            async def task() -> Task | None:
                async with a.services.db.session() as session:
                    return await session.scalar(select(Task).where(Task.title.like("VIP:%")))

            made = await _until(task)
            assert (made.assignee_id, made.contact_id, made.call_linkedid) == (
                anna.id,
                contact["id"],
                missed.linkedid,
            )
            assert made.title == "VIP: перезвонить Иван Петров"
            async with a.services.db.session() as session:
                (stored,) = (await session.scalars(select(Notice))).all()
            assert (stored.id, stored.user_id) == (notice["id"], anna.id)
            # the panel's list of notices, read from the pop node, has it unread
            page = (await http.get("/api/notices", params={"unread": "true"})).json()
            assert [n["text"] for n in page["items"]] == ["VIP +79161234567"]
        # node B ran it; node A has no rules worker running
        assert b.rule_worker is not None and b.rule_worker.processed >= 1
        assert a.services.rule_worker is not None and a.services.rule_worker.processed == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
