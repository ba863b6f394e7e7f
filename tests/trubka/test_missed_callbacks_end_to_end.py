"""Missed calls get a clear owner, end to end: two abandoned calls of one customer (the
real traces 02 and 02b, each asking the app over FastAGI) make ONE callback task for the
contact's owner, which the supervisor's missed-calls report shows, open and then done."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from crm.callbacks import CallbackTasks
from crm.models import Task
from kernel.agents import AgentState
from telephony.domain import CallEnded
from telephony.records import CallRecord
from tests.trubka.conftest import A101, A102, PASSWORD, World, agent_is
from tests.trubka.kit_trace_pbx import frames, retarget


def _clear_of_midnight(tz: ZoneInfo, now: float) -> float:
    """A start for the traces that keeps every call within one local day."""
    local = datetime.fromtimestamp(now, UTC).astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if local - midnight < timedelta(minutes=30):
        return (midnight - timedelta(hours=1)).timestamp()
    return now - 600


async def _signed_in(w: World, login: str) -> httpx.AsyncClient:
    client = w.client()
    response = await client.post("/api/session", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


async def test_two_missed_calls_one_callback_task_shown_in_the_missed_report(
    world: World,
) -> None:
    w = world
    tz = ZoneInfo(w.services.settings.timezone)
    w.pbx.clock = _clear_of_midnight(tz, time.time())
    ended = w.services.bus.subscribe("test-ended", kinds=[CallEnded])
    # The owner (101) is on a call (trace 01), so the calls go to the queue.
    w.pbx.play("01-queue-answered", agent_is(A101, AgentState.ON_CALL))
    contact_id = await w.contact(
        "Марина Звонарёва",
        "+79160000002",
        also=["+79160000022"],  # trace 02b calls from her second number
        owner="ivanova",
        talked=[(A101, 3)],
    )
    first = await w.pbx.call_with_agi("02-queue-abandoned-ringing", w.port)
    assert first.session.variables["ROUTE_BY"] == "queue"
    assert first.session.variables["ROUTE_REASON"] == "Иванова is on a call → queue"
    assert first.session.variables["ROUTE_AGENT"] == ""
    second = await w.pbx.call_with_agi("02b-queue-abandoned-empty-queue", w.port)
    async with asyncio.timeout(10):
        await w.services.drain_calls()
    records: list[CallRecord] = []
    while not ended.queue.empty():
        event = ended.queue.get_nowait()
        assert isinstance(event, CallEnded)
        records.append(event.record)
    mine = {r.linkedid: r for r in records if r.linkedid in (first.linkedid, second.linkedid)}
    assert {r.disposition.value for r in mine.values()} == {"abandoned"}

    row = await w.services.calls.get(first.linkedid)
    assert row is not None
    assert (row.routed_by, row.routing_reason, row.contact_id) == (
        "queue",
        "Иванова is on a call → queue",
        contact_id,
    )
    assert {"kind": "routing-decision", "detail": "queue: Иванова is on a call → queue"} in [
        {"kind": step["kind"], "detail": step["detail"]} for step in row.timeline
    ]

    async with w.services.db.session() as session:
        tasks = list((await session.scalars(select(Task))).all())
    assert len(tasks) == 1
    task = tasks[0]
    assert task.kind == "call_back"
    assert task.title == "Перезвонить: Марина Звонарёва"
    assert task.assignee_id == w.users["ivanova"].id
    assert task.contact_id == contact_id
    assert task.call_linkedid == first.linkedid
    assert task.status == "open"
    ended_at = mine[first.linkedid].ended_at
    assert task.due_at is not None
    assert abs(task.due_at.timestamp() - (ended_at + 30 * 60)) < 1
    assert "Маршрут: Иванова is on a call → queue." in task.description
    assert "Назначено: ответственный менеджер." in task.description

    # Another node (or this one after a restart) sees the same calls: no second task.
    other = CallbackTasks(
        w.services.db, w.services.crm.directory, lambda: w.services.router.rules, tz
    )
    again = await other.handle(list(mine.values()))
    assert [(o.task_id, o.created) for o in again] == [(task.id, False)] * len(mine)

    day = datetime.fromtimestamp(ended_at, UTC).astimezone(tz).date().isoformat()
    supervisor = await _signed_in(w, "starshaya")
    agent = await _signed_in(w, "ivanova")
    try:

        async def missed() -> dict[str, Any]:
            response = await supervisor.get("/api/reports/missed", params={"start": day})
            assert response.status_code == 200, response.text
            return {c["linkedid"]: c for c in response.json()["calls"]}

        calls = await missed()
        for linkedid in mine:
            shown = calls[linkedid]["callback_task"]
            assert shown is not None, linkedid
            assert (shown["task_id"], shown["status"], shown["done_by"]) == (task.id, "open", None)
        # The owner sees the task in their list and marks it done.
        items = (await agent.get("/api/tasks")).json()["items"]
        assert [(t["id"], t["kind"], t["contact_id"]) for t in items] == [
            (task.id, "call_back", contact_id)
        ]
        done = await agent.patch(
            f"/api/tasks/{task.id}", json={"version": task.version, "status": "done"}
        )
        assert done.status_code == 200, done.text
        calls = await missed()
        for linkedid in mine:
            shown = calls[linkedid]["callback_task"]
            assert (shown["status"], shown["done_by"]) == ("done", "ivanova")
            assert shown["done_at"] is not None
    finally:
        await supervisor.aclose()
        await agent.aclose()


async def test_routed_manager_and_then_the_queue_do_not_answer(world: World) -> None:
    """Trace 03 routes the call to 102 — but here 102's phone rings out (`DialEnd`
    NOANSWER), the call goes on to the queue (trace 02's queue events, on 03's channel)
    and the caller gives up. The record tells the whole story; the callback task goes to
    the manager the call was routed to, not to the owner."""
    w = world
    w.pbx.clock = _clear_of_midnight(ZoneInfo(w.services.settings.timezone), time.time())
    w.pbx.play("02-queue-abandoned-ringing")  # 101-103 logged in and free
    contact_id = await w.contact(
        "Иван Петров", "+79161234567", owner="ivanova", talked=[(A102, 2), (A101, 9)]
    )
    trace = "03-fastagi-route-to-102"
    routed = await w.pbx.call_with_agi(
        trace,
        w.port,
        # fed up to the moment 102's phone rings; it never answers here
        stop_before=(b"Event: DialState\r\n", b"Event: Newstate\r\n"),
    )
    assert routed.session.variables["ROUTE_AGENT"] == A102
    (customer,) = frames(trace, "DialEnd", b"\r\nChannel: Local/79161234567@from-trunk-")
    queue_source = frames("02-queue-abandoned-ringing", "QueueCallerJoin")[0]
    agent_hangups = [
        frame
        for frame in frames(trace, "Hangup", b"Channel: Local/102@agents-")
        if b"Linkedid: 1795717820.14" in frame
    ]
    customer_hangups = frames(trace, "Hangup", b"Channel: Local/79161234567@from-trunk-")
    w.pbx.feed(
        routed,
        [
            customer.replace(b"DialStatus: ANSWER", b"DialStatus: NOANSWER"),
            *agent_hangups,
            *(
                retarget(frame, queue_source, customer)
                for event in ("QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave")
                for frame in frames("02-queue-abandoned-ringing", event)
            ),
            *reversed(customer_hangups),  # the ;2 half (in the queue) first, then ;1
        ],
    )
    async with asyncio.timeout(10):
        await w.services.drain_calls()
    row = await w.services.calls.get(routed.linkedid)
    assert row is not None
    assert (row.routed_by, row.routing_reason, row.disposition, row.queue) == (
        "previous-manager",
        "Петров: talked 2 days ago",
        "abandoned",
        "support",
    )
    assert row.agent_interface is None and row.contact_id == contact_id
    kinds = [step["kind"] for step in row.timeline]
    for kind in ("routing-decision", "routed", "routed-not-answered", "routed-fallback"):
        assert kind in kinds, kinds
    assert kinds.index("routed-not-answered") < kinds.index("routed-fallback")
    assert kinds.index("routed-fallback") < kinds.index("queued")
    fallback = next(step for step in row.timeline if step["kind"] == "routed-fallback")
    assert fallback["detail"] == f"{A102} → queue support"

    async with w.services.db.session() as session:
        (task,) = (await session.scalars(select(Task))).all()
    assert task.assignee_id == w.users["petrov"].id  # routed to him, not the owner
    assert "Назначено: менеджер, к которому был направлен звонок." in task.description


async def test_the_customer_calls_back_and_is_served_the_task_closes_itself(
    world: World,
) -> None:
    """Trace 02 (abandoned, from the customer's first number) makes the callback task;
    trace 01 (the same customer from their other number, answered by 101) closes it with
    a note naming that call; the missed-calls report and /reports show "closed by call"."""
    w = world
    tz = ZoneInfo(w.services.settings.timezone)
    w.pbx.clock = _clear_of_midnight(tz, time.time())
    contact_id = await w.contact(
        "Марина Звонарёва", "+79160000002", also=["+79160000001"], owner="ivanova"
    )
    w.pbx.play("02-queue-abandoned-ringing")
    async with asyncio.timeout(10):
        await w.services.drain_calls()
    async with w.services.db.session() as session:
        (task,) = (await session.scalars(select(Task))).all()
    assert (task.status, task.contact_id) == ("open", contact_id)
    missed_linkedid = task.call_linkedid
    assert missed_linkedid is not None

    w.pbx.play("01-queue-answered")  # she calls again and 101 answers
    async with asyncio.timeout(10):
        await w.services.drain_calls()
    served = await w.services.calls.get("1795717766.0")
    assert served is not None and served.disposition == "answered"
    async with w.services.db.session() as session:
        (task,) = (await session.scalars(select(Task))).all()
    assert task.status == "done"
    assert task.completed_by_id == w.users["ivanova"].id
    assert "Закрыта автоматически: клиент перезвонил" in task.description
    assert f"звонок 1795717766.0 (/calls/{served.id})" in task.description

    ended = await w.services.calls.get(missed_linkedid)
    assert ended is not None
    day = datetime.fromtimestamp(ended.ended_at.timestamp(), UTC).astimezone(tz).date()
    supervisor = await _signed_in(w, "starshaya")
    try:
        response = await supervisor.get("/api/reports/missed", params={"start": str(day)})
        calls = {c["linkedid"]: c for c in response.json()["calls"]}
        shown = calls[missed_linkedid]["callback_task"]
        assert (shown["status"], shown["done_by"]) == ("done", "ivanova")
        assert (shown["closed_by_call"], shown["closed_by_call_id"]) == (
            "1795717766.0",
            served.id,
        )
        page = await supervisor.get(
            "/reports", params={"start": str(day)}, headers={"Accept-Language": "ru"}
        )
        assert page.status_code == 200
        assert "закрыта звонком" in page.text
        assert f'href="/calls/{served.id}"' in page.text
    finally:
        await supervisor.aclose()
