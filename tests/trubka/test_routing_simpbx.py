"""Routing on the wire: the simulated Asterisk asks the app over FastAGI, dials what it
is told, and reports everything over AMI to the app's own AMI client — no trace
splicing. A known caller goes to the manager who talked with him last; when that manager
and then the queue do not answer, the stored call says so and the manager gets the
callback task."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from crm.access import Actor
from crm.database import Database
from crm.linking import link_records
from crm.models import Role, Task
from crm.schemas import ContactCreate
from kernel.agents import AgentState
from kernel.bus import Subscription
from telephony.domain import CallEnded, DomainEvent
from telephony.simpbx import SimPbx
from tests.crm.kit_builders import call as history_call
from tests.kit_server import InProcess, free_port
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

A101, A102 = "Local/101@agents/n", "Local/102@agents/n"


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until `condition` holds: the live state has no event for "resynchronized"."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(0.02)


async def _stored(services: Services, ended: Subscription[DomainEvent], linkedid: str) -> None:
    """Wait for the call's end on the bus, then for the writer to store it (and for
    its `CallsStored` consumers: linking, callback tasks)."""
    async with asyncio.timeout(10):
        while True:
            event = await ended.get()
            if isinstance(event, CallEnded) and event.record.linkedid == linkedid:
                break
        await services.drain_calls()


async def test_the_simulated_pbx_routes_through_trubka(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    agi_port = free_port()
    rules = tmp_path / "routing.toml"
    rules.write_text("ring_seconds = 1\n", encoding="utf-8")  # the manager rings 1 s
    config = sim_config(agi_url=f"agi://127.0.0.1:{agi_port}/route")
    async with running(config) as pbx:
        settings = load_settings(
            database_url=database_url,
            agi_enabled=True,
            agi_port=agi_port,
            routing_rules=rules,
            routing_facts_timeout=3.0,
            ami_host="127.0.0.1",
            ami_port=pbx.port,
            ami_user=USER,
            ami_secret=SECRET,
            ami_enabled=True,
            recordings_spool=tmp_path / "spool",
            wrapup_limit=0,  # calls one after another: no after-call hold between them
        )
        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app):
            await _scenario(services, pbx)


async def _scenario(services: Services, pbx: SimPbx) -> None:
    users = {}
    for number, name in (("101", "Анна Смирнова"), ("102", "Борис Иванов")):
        users[number] = await services.crm.users.create(
            login=f"agent{number}",
            name=name,
            role=Role.AGENT,
            password="long password",
            interfaces=[f"Local/{number}@agents/n"],
        )
    contact = await services.crm.contacts.create(
        ContactCreate(name="Иван Петров", phones=["+79161234567"], owner_id=users["101"].id),
        Actor.system(),
    )
    history = [history_call("+79161234567", agent=A102, ago=3 * 86400 + 3600)]
    await services.calls.save(history)
    await link_records(services.db, history)
    live = services.live
    ended = services.bus.subscribe("test-call-ended", kinds=[CallEnded])
    # The AMI client resynchronized on connect: the queue members are known and free.
    await _until(
        lambda: (
            live.agent_state(A102, time.time()) is AgentState.AVAILABLE
            and live.agent_state(A101, time.time()) is AgentState.AVAILABLE
        )
    )

    # 1. Borisov (102) talked with him 3 days ago and is free: his phone rings, he answers.
    answered = pbx.place_call("79161234567", "Иван Петров", patience=5.0, talk_time=0.2)
    await pbx.wait_idle()
    await _stored(services, ended, answered.linkedid)
    row = await services.calls.get(answered.linkedid)
    assert row is not None
    assert (row.routed_by, row.routing_reason, row.disposition) == (
        "previous-manager",
        "Борис Иванов: talked 3 days ago",
        "answered",
    )
    assert (row.agent_interface or "").startswith("Local/102@agents")
    assert row.contact_id == contact["id"]
    kinds = [step["kind"] for step in row.timeline]
    assert kinds.index("routing-decision") < kinds.index("routed")
    assert "routed-fallback" not in kinds

    # 2. Nobody answers: not 102 (rung for ROUTE_TIMEOUT = 1 s), nor the queue after him.
    pbx.set_agents_answer(False)
    missed = pbx.place_call("79161234567", "Иван Петров", patience=2.5)
    await pbx.wait_idle()
    await _stored(services, ended, missed.linkedid)
    row = await services.calls.get(missed.linkedid)
    assert row is not None
    assert row.routed_by == "previous-manager"
    assert row.routing_reason == "Борис Иванов: talked just now"  # the call of step 1
    assert row.disposition in ("abandoned", "no-answer")
    kinds = [step["kind"] for step in row.timeline]
    for kind in ("routing-decision", "routed", "routed-not-answered", "routed-fallback"):
        assert kind in kinds, kinds
    async with services.db.session() as session:
        (task,) = (await session.scalars(select(Task))).all()
    assert (task.kind, task.assignee_id, task.contact_id, task.call_linkedid) == (
        "call_back",
        users["102"].id,  # the manager it was routed to, not the owner (101)
        contact["id"],
        missed.linkedid,
    )
