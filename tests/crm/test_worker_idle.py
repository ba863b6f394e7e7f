"""An idle webhook or rules worker waits until its next piece of work is due (a retry, a
lease running out), at least `poll_interval` and at most `idle_max` — not a poll a second
(each cost a transaction of CPU on the pop's event loop, all day long)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from crm.database import Database
from crm.hooks.models import WebhookDelivery
from crm.hooks.outbox import emit
from crm.hooks.webhooks import WebhookService
from crm.hooks.worker import DeliveryWorker
from crm.hooks.worker import WorkerConfig as HooksConfig
from crm.rules.models import RuleEvent
from crm.rules.record import record
from crm.rules.worker import RuleWorker
from crm.rules.worker import WorkerConfig as RulesConfig
from tests.rules.kit_rules import Kit

SECRET = "a-secret-of-sixteen-or-more"


def near(value: float, expected: float) -> bool:
    return expected - 0.5 <= value <= expected + 0.1


async def test_the_webhook_worker_sleeps_until_the_next_delivery_is_due(db: Database) -> None:
    worker = DeliveryWorker(db, HooksConfig(poll_interval=0.5, idle_max=30.0))
    assert await worker.idle_wait() == 30.0  # nothing pending: the longest wait
    hook = await WebhookService(db).create(
        "http://127.0.0.1:9/x", ["contact.created"], SECRET, None
    )
    async with db.transaction() as session:
        await emit(session, "contact.created", {"id": 1}, contact_id=1)
    assert await worker.idle_wait() == 0.5  # due now: the shortest wait
    soon = datetime.now(UTC) + timedelta(seconds=7)
    async with db.transaction() as session:  # a retry after a failed attempt
        await session.execute(update(WebhookDelivery).values(next_at=soon))
    assert near(await worker.idle_wait(), 7.0)
    async with db.transaction() as session:  # due, but claimed by a worker for 4 s more
        await session.execute(
            update(WebhookDelivery).values(
                next_at=datetime.now(UTC), locked_until=datetime.now(UTC) + timedelta(seconds=4)
            )
        )
    assert near(await worker.idle_wait(), 4.0)
    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery).values(
                next_at=datetime.now(UTC) + timedelta(hours=1), locked_until=None
            )
        )
    assert await worker.idle_wait() == 30.0  # capped
    await WebhookService(db).set_enabled(hook["id"], False)
    async with db.transaction() as session:
        await session.execute(update(WebhookDelivery).values(next_at=datetime.now(UTC)))
    assert await worker.idle_wait() == 30.0  # a disabled webhook's deliveries wait for it


async def test_enabling_a_webhook_again_wakes_the_workers(db: Database) -> None:
    hooks = WebhookService(db)
    hook = await hooks.create("http://127.0.0.1:9/x", ["contact.created"], SECRET, None)
    await hooks.set_enabled(hook["id"], False)
    worker = DeliveryWorker(db)
    from crm.hooks.outbox import WAKERS

    WAKERS.append(worker.wake)
    try:
        assert not worker._wake.is_set()
        await hooks.set_enabled(hook["id"], True)
        assert worker._wake.is_set()  # its pending deliveries resume at once
    finally:
        WAKERS.remove(worker.wake)


async def test_the_rules_worker_sleeps_until_a_lease_runs_out_or_a_periodic_job(
    db: Database,
) -> None:
    kit = Kit(db)
    worker: RuleWorker = kit.worker()
    worker.config = RulesConfig(poll_interval=0.5, idle_max=30.0)
    assert await worker.idle_wait() == 30.0  # nothing pending
    import time

    assert near(await worker.idle_wait(time.monotonic() + 12.0), 12.0)  # a schedule's turn
    async with db.transaction() as session:
        await record(session, "contact.created", {"id": 1}, contact_id=1, checked=True)
    assert await worker.idle_wait() == 0.5  # a free pending event: at once
    async with db.transaction() as session:  # a failed action retried in 6 s
        await session.execute(
            update(RuleEvent).values(locked_until=datetime.now(UTC) + timedelta(seconds=6))
        )
    assert near(await worker.idle_wait(), 6.0)
    assert near(await worker.idle_wait(time.monotonic() + 2.0), 2.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_idle_worker_still_answers_a_wake_at_once(db: Database) -> None:
    import asyncio

    worker = DeliveryWorker(db, HooksConfig(poll_interval=0.01, idle_max=60.0))
    task = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.2)  # idle: waiting up to a minute
        hook = await WebhookService(db).create(
            "http://127.0.0.1:9/x", ["contact.created"], SECRET, None
        )
        assert hook["id"]
        async with db.transaction() as session:
            await emit(session, "contact.created", {"id": 1}, contact_id=1)
        async with asyncio.timeout(5):
            while True:  # the commit woke it: the delivery is tried (and fails: port 9)
                async with db.session() as session:
                    row = await session.get(WebhookDelivery, 1)
                    if row is not None and row.attempts > 0:
                        break
                await asyncio.sleep(0.02)
    finally:
        await worker.stop()
        task.cancel()
