"""The wrap-ups owed are written by the call writer in its batch's transaction: one
transaction for the calls that ended together and their wrap-ups, not one more per
answered call; the calls are stored whatever happens to the wrap-ups."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest
from sqlalchemy import event, func, select

from crm.after_call import WrapupLimits
from crm.after_call_work import AfterCallWork
from crm.call_records import CallRow, CallStore
from crm.call_writer import CallWriter
from crm.database import Database
from crm.users import UserService
from kernel.agents import agent_key
from kernel.bus import EventBus
from routing.facts import AgentRef
from telephony.domain import CallBackfilled, CallEnded, DomainEvent
from telephony.reducer import CallState
from tests.crm.kit_builders import call


class Directory:
    def __init__(self, refs: dict[str, AgentRef]) -> None:
        self.refs = refs

    async def by_interface(self, interface: str | None) -> AgentRef | None:
        return self.refs.get(agent_key(interface or ""))


async def _write(db: Database, refs: dict[str, AgentRef], events: list[DomainEvent]) -> int:
    """Publish the events to a call writer wired as `trubka.wiring` does; the COMMITs."""
    bus: EventBus[DomainEvent] = EventBus()
    writer = CallWriter(
        CallStore(db), bus.subscribe("call-writer", kinds=[CallEnded, CallBackfilled]), linger=0.05
    )
    work = AfterCallWork(db, Directory(refs), CallState(), lambda: None, WrapupLimits(default=0))
    writer.wrapups = work
    work.stores_owed = False
    commits: list[int] = []

    def committed(_conn: Any) -> None:
        commits.append(1)

    event.listen(db.engine.sync_engine, "commit", committed)
    task = asyncio.create_task(writer.run())
    try:
        bus.publish(events)
        await asyncio.sleep(0)
        async with asyncio.timeout(10):
            await writer.drain()
    finally:
        task.cancel()
        event.remove(db.engine.sync_engine, "commit", committed)
    return len(commits)


async def _owed(db: Database, user_id: int) -> set[str]:
    work = AfterCallWork(db, Directory({}), CallState(), lambda: None, WrapupLimits(default=0))
    rows, _total = await work.pending(user_id)
    return {r["linkedid"] for r in rows}


async def _stored(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(CallRow)) or 0)


async def test_the_wrap_ups_owed_are_stored_in_the_calls_transaction(db: Database) -> None:
    ivan = await UserService(db).create(
        login="ivan", name="Иван", role="agent", password="long password"
    )
    refs = {"local/101@agents": AgentRef(ivan.id, "Иван", ("Local/101@agents/n",))}
    first, second = call("+79160000021"), call("+79160000022")
    missed = call("+79160000023", answered=False)
    rebuilt = call("+79160000024")  # from Asterisk's books: nobody wraps it up
    commits = await _write(
        db,
        refs,
        [CallEnded(first), CallEnded(missed), CallEnded(second), CallBackfilled(rebuilt)],
    )
    assert commits == 1
    assert await _stored(db) == 4
    assert await _owed(db, ivan.id) == {first.linkedid, second.linkedid}

    # the same calls again (a replay): not new, so not owed again once wrapped up
    work = AfterCallWork(db, Directory(refs), CallState(), lambda: None, WrapupLimits(default=0))
    await work.done(ivan.id, first.linkedid)
    await _write(db, refs, [CallEnded(first)])
    assert await _owed(db, ivan.id) == {second.linkedid}


async def test_a_wrap_up_that_cannot_be_stored_loses_no_call(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A user deleted since the directory was read: the batch's write fails on the foreign
    key; the calls are stored alone at once, then each wrap-up alone."""
    ivan = await UserService(db).create(
        login="ivan", name="Иван", role="agent", password="long password"
    )
    refs = {
        "local/101@agents": AgentRef(ivan.id, "Иван", ("Local/101@agents/n",)),
        "local/199@agents": AgentRef(ivan.id + 1000, "Gone", ("Local/199@agents/n",)),
    }
    first, second = call("+79160000031"), call("+79160000032")
    gone = dataclasses.replace(call("+79160000033"), agent_interface="Local/199@agents/n")
    with caplog.at_level(logging.WARNING, logger="crm.call_writer"):
        await _write(db, refs, [CallEnded(first), CallEnded(gone), CallEnded(second)])
    assert await _stored(db) == 3
    assert await _owed(db, ivan.id) == {first.linkedid, second.linkedid}
    assert "the calls go alone" in caplog.text


async def test_caught_up_ends_while_calls_keep_ending(db: Database) -> None:
    """`caught_up` waits for the calls given before it, not for the writer to be idle
    (`drain`, which a busy call center may never let happen)."""
    bus: EventBus[DomainEvent] = EventBus()
    writer = CallWriter(CallStore(db), bus.subscribe("call-writer", kinds=[CallEnded]), linger=0.05)
    task = asyncio.create_task(writer.run())
    stop = asyncio.Event()

    async def calls_keep_ending() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            bus.publish([CallEnded(call(f"+7916100{n:04d}"))])
            await asyncio.sleep(0.01)

    feeder = asyncio.create_task(calls_keep_ending())
    try:
        await asyncio.sleep(0.1)
        first = call("+79169999999")
        bus.publish([CallEnded(first)])
        async with asyncio.timeout(5):
            await writer.caught_up()
        async with db.session() as session:
            stored = await session.scalar(
                select(func.count()).select_from(CallRow).where(CallRow.linkedid == first.linkedid)
            )
        assert stored == 1
    finally:
        stop.set()
        await feeder
        task.cancel()
