"""A `Consumer` runs its handlers in order for each event; a failing one does not stop it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kernel.bus import EventBus
from kernel.consumer import Consumer


async def test_handlers_run_in_order_and_a_failure_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus: EventBus[int] = EventBus()
    seen: list[tuple[str, int]] = []

    async def first(event: int) -> None:
        await asyncio.sleep(0.01 * (3 - event))  # a slow first handler still runs first
        seen.append(("first", event))
        if event == 2:
            raise RuntimeError("broken")

    async def second(event: int) -> None:
        seen.append(("second", event))

    consumer = Consumer(bus.subscribe("numbers"), first, second)
    task = asyncio.create_task(consumer.run())
    try:
        bus.publish([1, 2, 3])
        with caplog.at_level(logging.ERROR, logger="kernel.consumer"):
            async with asyncio.timeout(5):
                await consumer.drain()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert seen == [(name, n) for n in (1, 2, 3) for name in ("first", "second")]
    assert consumer.handled == 3
    assert ["numbers: handler" in r.getMessage() for r in caplog.records] == [True]


async def test_drain_returns_at_once_when_nothing_is_queued() -> None:
    bus: EventBus[int] = EventBus()
    consumer = Consumer(bus.subscribe("numbers"))
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.sleep(0)
        async with asyncio.timeout(1):
            await consumer.drain()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert consumer.handled == 0
