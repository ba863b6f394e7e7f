"""A ring is urgent: the AMI reader's publish marks it, and the rules worker, which shares
the event loop with the screen pop, steps aside between its slices while it lasts."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator, Sequence

import pytest

from crm.database import Database
from kernel import urgency
from screenpop.rings import marking_rings
from telephony.domain import AgentRinging, CallStarted, DomainEvent
from tests.rules.kit_rules import Kit


@pytest.fixture(autouse=True)
def calm() -> Iterator[None]:
    urgency._until = 0.0
    yield
    urgency._until = 0.0


def _ring() -> AgentRinging:
    return AgentRinging(
        linkedid="1.1",
        at=time.time(),
        agent="Local/101@agents",
        interface="Local/101@agents/n",
        agent_name=None,
        queue="support",
        caller_number="+79160000001",
        caller_name=None,
        routing_reason=None,
        direction="inbound",
    )


def test_a_ring_published_marks_a_moment_of_urgency() -> None:
    published: list[Sequence[DomainEvent]] = []
    publish = marking_rings(published.append)
    started = CallStarted("1.1", time.time(), "+79160000001", None)
    publish([started])
    assert not urgency.pressing() and published == [[started]]
    publish([started, _ring()])
    assert urgency.pressing() and len(published) == 2


async def test_stepping_aside_waits_out_the_moment_and_no_more() -> None:
    begun = time.perf_counter()
    await urgency.step_aside()  # nothing pressing: at once
    assert time.perf_counter() - begun < urgency.MOST
    urgency.mark(0.05)
    await urgency.step_aside(most=1.0)
    assert not urgency.pressing()
    urgency.mark(10.0)
    begun = time.perf_counter()
    await urgency.step_aside(most=0.05)  # bounded: a steady stream of rings starves nothing
    assert urgency.pressing() and time.perf_counter() - begun < 5.0


async def test_the_rules_worker_steps_aside_while_a_ring_is_urgent(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.service.create(
        {
            "name": "every missed call",
            "event": "call.missed",
            "conditions": [],
            "actions": [{"type": "create_task", "title": "Call back", "assignee": ["owner"]}],
        },
        None,
    )
    for i in range(50):
        await kit.contact(f"+791600001{i:02d}", owner, [])
        await kit.missed(f"+791600001{i:02d}")
    worker = kit.worker()
    worker.config = dataclasses.replace(worker.config, slice=0.0)  # a slice per event
    urgency.mark(0.6)
    round_ = asyncio.create_task(worker.run_once())
    await asyncio.sleep(0.2)  # 50 events are some 30 ms of work: done by now if not aside
    assert not round_.done()
    assert await round_ == 50
    assert not urgency.pressing()
