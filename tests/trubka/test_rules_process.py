"""The rules worker in its own process (`trubka.rules_process`, TRUBKA_RULES_PROCESS): a
real child (`python -m trubka.rules_child`) on the test's database, woken by this
process's commits, its notices and webhook wake-ups relayed back here; killed, it is
started again and runs what was queued meanwhile; a rule changed here reaches it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select

from crm.database import Database
from crm.hooks import outbox
from crm.rules.models import DONE, RuleEvent
from crm.rules.record import WAKERS
from tests.rules.kit_rules import Kit
from tests.rules.test_notices import notify_rule
from trubka.rules_process import (
    HEALTHY_AFTER,
    RESTART_MIN,
    ChildConfig,
    RulesProcess,
    restart_pause,
)


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """A `timeout` below the child's longest idle wait (10 s) proves a wake-up: a child
    that was not woken by the commit would still be asleep."""
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - rows in another process's writes
            await asyncio.sleep(0.02)


@asynccontextmanager
async def _child(
    kit: Kit, db: Database, priority: str = "normal"
) -> AsyncIterator[tuple[RulesProcess, dict[str, Any]]]:
    seen: dict[str, Any] = {"notices": [], "hooks": 0}

    def notify(users: list[int], message: dict[str, Any]) -> None:
        seen["notices"].append((users, message))

    def hooks() -> None:
        seen["hooks"] += 1

    process = RulesProcess(
        ChildConfig(
            database_url=db.url,
            timezone="UTC",
            secret=b"k" * 32,
            secret_configured=True,
            priority=priority,
        ),
        lambda: kit.routing,
        notify,
    )
    WAKERS.append(process.wake)
    outbox.WAKERS.append(hooks)
    running = asyncio.create_task(process.run())
    try:
        async with asyncio.timeout(30):
            await process.ready.wait()
        yield process, seen
    finally:
        WAKERS.remove(process.wake)
        outbox.WAKERS.remove(hooks)
        await process.stop()
        async with asyncio.timeout(5):
            await running


async def test_the_child_runs_the_rules_and_relays_notices_and_webhook_wakes(
    db: Database,
) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    await kit.contact("+79160000002", owner, ["regular"])
    hook = await kit.webhook()
    await kit.vip_rule(hook)
    rule = await kit.service.create(notify_rule(), None)
    async with _child(kit, db) as (process, seen):
        await asyncio.sleep(1.0)  # the child's first round is over: it sleeps until woken
        await kit.missed("+79160000001")
        await kit.missed("+79160000002")  # not a VIP: nothing

        async def done() -> bool:
            return bool(seen["notices"]) and bool(await kit.tasks())

        await _until(done, timeout=5.0)
        tasks = await kit.tasks()
        assert [(t.title, t.assignee_id) for t in tasks] == [("Call back VIP Клиент 0001", owner)]
        ((users, message),) = seen["notices"]
        assert users == [owner]
        assert (message["type"], message["rule_id"], message["text"]) == (
            "rule_notice",
            rule["id"],
            "Missed VIP Клиент 0001",
        )
        assert isinstance(message["id"], int)  # the stored notice's
        assert seen["hooks"] >= 1  # the delivery workers here look at once
        runs = await kit.service.runs(rule["id"])
        assert [r["matched"] for r in runs] == [False, True]
        child = process.process
        assert child is not None
        assert os.sched_getscheduler(child.pid) == os.SCHED_OTHER  # as asked
    assert child.returncode == 0  # the closed input stopped it cleanly
    assert process.started == 1


async def test_a_killed_child_is_started_again_and_runs_what_was_queued(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    await kit.contact("+79160000003", owner, ["vip"])
    await kit.vip_rule(await kit.webhook())
    async with _child(kit, db) as (process, _seen):
        first = process.process
        assert first is not None
        first.send_signal(signal.SIGKILL)
        await first.wait()
        await kit.missed("+79160000001")  # queued while no child runs

        async def again() -> bool:
            return process.started == 2 and process.ready.is_set()

        await _until(again)
        await kit.missed("+79160000003")

        async def both() -> bool:
            return len(await kit.tasks()) == 2

        await _until(both)
        assert sorted(t.title for t in await kit.tasks()) == [
            "Call back VIP Клиент 0001",
            "Call back VIP Клиент 0003",
        ]
        assert first.returncode == -signal.SIGKILL
        # a SIGTERM meant for the child (systemd stopping the unit) ends it cleanly
        second = process.process
        assert second is not None and second is not first
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0


async def test_a_rule_disabled_here_is_not_run_by_the_child(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    await kit.contact("+79160000002", owner, ["vip"])
    rule = await kit.vip_rule(await kit.webhook())
    other = notify_rule()  # stays enabled: the call events are still queued
    other["conditions"] = [{"field": "queue", "op": "eq", "value": "nobody"}]
    watcher = await kit.service.create(other, None)
    async with _child(kit, db) as (_process, _seen):
        await kit.missed("+79160000001")

        async def one() -> bool:
            return len(await kit.tasks()) == 1

        await _until(one)  # the child has just read the rules (kept 2 s unless told)
        await kit.service.set_enabled(rule["id"], False, None)
        await kit.missed("+79160000002")

        async def ran() -> bool:  # the second event was run by the other rule only
            async with db.session() as session:
                done = await session.scalar(select(func.count()).where(RuleEvent.status == DONE))
            return done == 2

        await _until(ran)
        assert len(await kit.tasks()) == 1
        assert len(await kit.service.runs(rule["id"])) == 1
        assert len(await kit.service.runs(watcher["id"])) == 2


async def test_by_default_the_child_takes_only_the_cpu_others_leave(db: Database) -> None:
    """`TRUBKA_RULES_PROCESS_PRIORITY=idle` (the default): Linux's SCHED_IDLE. (The other
    tests ask for `normal`: on a busy CI machine an idle-priority child may wait long.)"""
    async with _child(Kit(db), db, priority="idle") as (process, _seen):
        assert process.process is not None
        assert os.sched_getscheduler(process.process.pid) == os.SCHED_IDLE
    assert ChildConfig("sqlite://", "UTC", b"k", True).priority == "idle"


def test_a_child_that_ran_long_is_started_again_soon() -> None:
    assert restart_pause(8.0, ran_for=2.0) == 8.0  # it keeps dying: the pause stays long
    assert restart_pause(8.0, ran_for=HEALTHY_AFTER + 1) == RESTART_MIN
