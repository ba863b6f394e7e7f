"""Outages over real TCP: the simulated Asterisk killed and restarted mid-call, AMI cut off
while calls go on. Afterwards the live picture is right and every call is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

from crm.call_records import CallStore
from crm.call_writer import CallWriter
from crm.database import Database
from kernel.bus import EventBus
from telephony.actions import AmiActions
from telephony.ami_client import AmiClient
from telephony.domain import CallEnded, DomainEvent
from telephony.pipeline import EventPipeline
from telephony.simpbx import SimPbx
from tests.telephony.kit_sim import running
from tests.telephony.test_ami_client import config_for, eventually


@contextlib.asynccontextmanager
async def wired(pbx: SimPbx, db: Database) -> AsyncIterator[tuple[AmiClient, CallWriter]]:
    """The AMI client publishing to the bus, the call writer storing what ends."""
    bus: EventBus[DomainEvent] = EventBus()
    writer = CallWriter(CallStore(db), bus.subscribe("call-writer", kinds=[CallEnded]))
    task = asyncio.create_task(writer.run())
    client = AmiClient(config_for(pbx), EventPipeline(), bus.publish, rng=random.Random(5))
    await client.start()
    try:
        await client.wait_connected(5)
        yield client, writer
    finally:
        await client.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_asterisk_killed_and_restarted_mid_call(db: Database) -> None:
    async with running() as pbx, wired(pbx, db) as (client, writer):
        state = client.pipeline.state
        actions = AmiActions(client)
        await actions.queue_pause("Local/102@agents/n", True, reason="lunch")
        await actions.queue_add("sales", "Local/106@agents/n", member_name="Агент 106")
        talking = pbx.place_call("79160000001", "Иван Петров", answered_by="101", talk_time=60)
        waiting = pbx.place_call("79160000002", "Ольга", queue="empty", patience=60)
        await eventually(
            lambda: (
                talking.linkedid in state.calls
                and state.calls[talking.linkedid].answered_at is not None
                and waiting.linkedid in state.calls
                and state.calls[waiting.linkedid].queue == "empty"
            )
        )
        assert state.agents["Local/102@agents"].memberships["support"].paused
        assert "sales" in state.agents["Local/106@agents"].memberships
        await pbx.kill()
        await eventually(lambda: not client.connected)
        await pbx.restart()
        await eventually(lambda: client.status.connects == 2)

        assert state.calls == {}  # both calls died with Asterisk
        assert state.channels == {}
        assert not state.agents["Local/102@agents"].memberships["support"].paused  # rebuilt
        assert "sales" not in state.agents["Local/106@agents"].memberships
        assert not state.queues["empty"].entries
        assert client.status.calls_closed_by_resync == 2

        after = pbx.place_call("79160000003", "Мария", answered_by="103", talk_time=0.1)
        assert after.task is not None
        await after.task
        await client.send_action("Ping")  # answered after every event the PBX wrote before
        async with asyncio.timeout(5):
            await writer.drain()
        rows = {row.linkedid: row for row in await CallStore(db).list()}
        assert set(rows) == {talking.linkedid, waiting.linkedid, after.linkedid}
        assert (
            rows[talking.linkedid].ended_during_outage
            and rows[talking.linkedid].disposition == "answered"
        )
        assert rows[talking.linkedid].agent_interface == "Local/101@agents/n"
        assert (
            rows[waiting.linkedid].ended_during_outage
            and rows[waiting.linkedid].disposition == "abandoned"
        )
        assert not rows[after.linkedid].ended_during_outage
        assert rows[after.linkedid].disposition == "answered"
        assert any(
            step["kind"] == "ended-during-outage" for step in rows[talking.linkedid].timeline
        )


async def test_ami_outage_while_calls_go_on(db: Database) -> None:
    """Calls that end while AMI is unreachable are closed; those that go on are not duplicated."""
    async with running() as pbx, wired(pbx, db) as (client, writer):
        state = client.pipeline.state
        long_call = pbx.place_call("79161000001", "Долгий", answered_by="101", talk_time=60)
        short_call = pbx.place_call("79161000002", "Короткий", answered_by="102", talk_time=0.1)
        await eventually(
            lambda: long_call.linkedid in state.calls and short_call.linkedid in state.calls
        )
        await pbx.disconnect_ami()
        assert short_call.task is not None
        await short_call.task  # it ends while nobody listens
        await pbx.reconnect_ami()
        await eventually(lambda: client.status.connects == 2)
        assert set(state.calls) == {long_call.linkedid}  # still live, one call, not two
        assert state.calls[long_call.linkedid].answered_at is not None
        assert state.agents["Local/101@agents"].calls == {long_call.linkedid}
        await AmiActions(client).hangup(_customer_channel(pbx, long_call.linkedid))
        assert long_call.task is not None
        await long_call.task
        await client.send_action("Ping")
        async with asyncio.timeout(5):
            await writer.drain()
        rows = {row.linkedid: row for row in await CallStore(db).list()}
        assert set(rows) == {long_call.linkedid, short_call.linkedid}
        assert rows[short_call.linkedid].ended_during_outage
        assert not rows[long_call.linkedid].ended_during_outage
        assert rows[long_call.linkedid].disposition == "answered"


def _customer_channel(pbx: SimPbx, linkedid: str) -> str:
    call = pbx.engine.calls[linkedid]
    assert call.two is not None
    return call.two.name
