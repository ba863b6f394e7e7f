"""The rules worker's batch (`crm.rules.batch`): a round's events are run in one
transaction with their tasks, webhook rows, keys and runs written in a few statements; an
action that fails in the batch loses or doubles nothing of the other events; a worker
cancelled in the middle of a batch's writes leaves every event to the next one, which does
each action once."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from crm.database import Database
from crm.hooks.models import WebhookDelivery, WebhookEvent
from crm.rules import batch as batch_module
from crm.rules import engine
from crm.rules import worker as worker_module
from crm.rules.actions import Context
from crm.rules.batch import Batch
from crm.rules.models import DONE, PENDING, RuleActionKey, RuleEvent, RuleRun
from tests.rules.kit_rules import Kit, drain

NUMBERS = [f"+7916000000{i}" for i in range(1, 6)]


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _statuses(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(RuleEvent.status))).all())


async def _kit(db: Database, *, tag: bool = False) -> tuple[Kit, int, list[int]]:
    """Five VIP contacts of one owner, a rule on every missed call: a task to the owner
    and a webhook (and a tag, which needs a contact)."""
    kit = Kit(db)
    owner = await kit.user("owner")
    contacts = [await kit.contact(n, owner, ["vip"]) for n in NUMBERS]
    hook = await kit.webhook()
    actions: list[dict[str, Any]] = [
        {"type": "create_task", "title": "Call {{ caller_number }}", "assignee": ["owner"]},
        {"type": "webhook", "webhook_id": hook},
    ]
    if tag:
        actions.append({"type": "add_tag", "tag": "called"})
    rule = await kit.service.create(
        {"name": "every missed call", "event": "call.missed", "conditions": [], "actions": actions},
        None,
    )
    return kit, int(rule["id"]), contacts


async def test_a_round_is_written_in_a_few_statements(db: Database) -> None:
    kit, _rule, _contacts = await _kit(db)
    for number in NUMBERS:
        await kit.missed(number)
    worker = kit.worker()
    statements: Counter[str] = Counter()

    def seen(*args: Any) -> None:
        statements[" ".join(args[2].split())[:90]] += 1

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert await worker.run_once() == 5
    finally:
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert worker.processed == 5
    # claim 3, rules 1, contacts + tags 2, users 3 (cached then), webhook 1, events
    # done 1, tasks 1-2, webhook rows 4, keys 1, runs 1: each once, none per event
    assert max(statements.values()) == 1, statements
    assert sum(statements.values()) <= 19, statements
    assert len(await kit.tasks()) == 5
    assert [await _count(db, m) for m in (WebhookEvent, WebhookDelivery)] == [5, 5]
    assert await _count(db, RuleActionKey) == 10
    runs = await kit.service.runs(_rule)
    task_ids = sorted(r["actions"][0]["task_id"] for r in runs)
    assert task_ids == sorted(t.id for t in await kit.tasks())


async def test_an_action_that_cannot_be_done_is_logged_in_the_batch_the_others_done(
    db: Database,
) -> None:
    kit, rule, contacts = await _kit(db, tag=True)
    for number in NUMBERS[:2]:
        await kit.missed(number)
    await kit.missed("+79169999999")  # nobody's number: the tag has no contact
    for number in NUMBERS[2:4]:
        await kit.missed(number)
    worker = kit.worker()
    assert await worker.run_once() == 5
    assert await _statuses(db) == [DONE] * 5
    assert len(await kit.tasks()) == 5
    assert [await _count(db, m) for m in (WebhookEvent, WebhookDelivery)] == [5, 5]
    assert await _count(db, RuleActionKey) == 15  # the failed one has its key: not redone
    runs = await kit.service.runs(rule)
    errors = [r["errors"] for r in runs if r["errors"]]
    assert errors == [["action 2 (add_tag): the event has no contact"]]
    for contact in contacts[:4]:
        assert "called" in (await _tags(kit, contact))
    await drain(kit.worker(lease=0.0))
    assert len(await kit.tasks()) == 5
    assert await _count(db, WebhookDelivery) == 5


async def _tags(kit: Kit, contact: int) -> list[str]:
    from crm.contacts import ContactService

    return list((await ContactService(kit.db).get(contact))["tags"])


async def test_an_action_failing_unexpectedly_loses_and_doubles_nothing_of_the_others(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit, rule, contacts = await _kit(db)
    bad = contacts[2]
    real = engine.apply

    async def apply(ctx: Context, index: int, spec: dict[str, Any], planned: Any) -> None:
        if ctx.event.contact_id == bad and spec["type"] == "webhook":
            raise RuntimeError("the disk is on fire")
        await real(ctx, index, spec, planned)

    monkeypatch.setattr(engine, "apply", apply)
    for number in NUMBERS:
        await kit.missed(number)
    await drain(kit.worker())
    await drain(kit.worker(lease=0.0))  # and again, as after a restart
    assert await _statuses(db) == [DONE] * 5
    assert len(await kit.tasks()) == 5
    assert await _count(db, WebhookDelivery) == 4
    assert await _count(db, RuleActionKey) == 10
    runs = await kit.service.runs(rule)
    assert len(runs) == 5
    (failed,) = [r for r in runs if r["errors"]]
    assert failed["errors"] == ["action 1 (webhook): RuntimeError: the disk is on fire"]
    assert [a["status"] for a in failed["actions"]] == ["done", "error"]


async def test_a_worker_cancelled_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit, rule, _contacts = await _kit(db)
    for number in NUMBERS:
        await kit.missed(number)
    written = asyncio.Event()
    real = Batch._hooks

    async def hooks(self: Batch, session: Any) -> None:
        await real(self, session)  # the tasks and webhook rows are written, not committed
        written.set()
        await asyncio.Event().wait()  # the process is stopped here

    monkeypatch.setattr(Batch, "_hooks", hooks)
    dying = kit.worker(lease=0.0)
    running = asyncio.create_task(dying.run())
    async with asyncio.timeout(10):
        await written.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    monkeypatch.setattr(Batch, "_hooks", real)
    assert await _statuses(db) == [PENDING] * 5
    assert await kit.tasks() == []
    assert [await _count(db, m) for m in (WebhookEvent, RuleActionKey, RuleRun)] == [0, 0, 0]

    await drain(kit.worker())  # the restart: each event taken again, each action once
    await drain(kit.worker(lease=0.0))
    assert await _statuses(db) == [DONE] * 5
    assert sorted(t.title for t in await kit.tasks()) == [f"Call {n}" for n in NUMBERS]
    assert [await _count(db, m) for m in (WebhookEvent, WebhookDelivery)] == [5, 5]
    assert await _count(db, RuleActionKey) == 10
    runs = await kit.service.runs(rule)
    assert sorted(a["status"] for r in runs for a in r["actions"]) == ["done"] * 10


async def test_a_round_gives_the_loop_back_between_events(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit, _rule, _contacts = await _kit(db)
    for number in NUMBERS:
        await kit.missed(number)
    worker = kit.worker()
    worker.config = dataclasses.replace(worker.config, slice=0.0)  # after every event
    ticks = 0
    stop = False

    async def ticker() -> None:  # the screen pop, say
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0)

    seen: list[int] = []
    real = worker_module.run_together

    async def run_together(*args: Any, **kwargs: Any) -> Any:
        seen.append(ticks)
        return await real(*args, **kwargs)

    monkeypatch.setattr(worker_module, "run_together", run_together)
    beside = asyncio.create_task(ticker())
    try:
        assert await worker.run_once() == 5
    finally:
        stop = True
        await beside
    assert len(seen) == 5
    # the events are evaluated in memory (no statement between them): the loop ran the
    # ticker between each two only because the round gave it back
    assert all(later > earlier for earlier, later in itertools.pairwise(seen)), seen


async def test_a_round_written_a_few_rows_a_statement_keeps_every_row_and_task_id(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_module, "ROWS", 2)  # 5 events: 3 statements per table
    kit, rule, _contacts = await _kit(db)
    for number in NUMBERS:
        await kit.missed(number)
    assert await kit.worker().run_once() == 5
    tasks = {t.id: t.title for t in await kit.tasks()}
    runs = await kit.service.runs(rule)
    assert len(tasks) == len(runs) == 5
    for run in runs:  # each run names its own task
        (event,) = [e for e in await _events(db) if e[0] == run["event_id"]]
        assert tasks[run["actions"][0]["task_id"]] == f"Call {event[1]}"
    assert [await _count(db, m) for m in (WebhookEvent, WebhookDelivery)] == [5, 5]
    assert await _count(db, RuleActionKey) == 10


async def _events(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = (await session.scalars(select(RuleEvent))).all()
        return [(r.uid, r.data["caller_number"]) for r in rows]


async def test_the_worker_reads_the_rules_again_after_one_is_changed(db: Database) -> None:
    kit, rule, _contacts = await _kit(db)
    worker = kit.worker()
    worker.config = dataclasses.replace(worker.config, rules_ttl=3600.0)
    reads = 0
    real = worker._read_rules

    async def read(event: str) -> Any:
        nonlocal reads
        reads += 1
        return await real(event)

    worker._read_rules = read  # type: ignore[method-assign]
    await kit.missed(NUMBERS[0])
    await drain(worker)
    await kit.missed(NUMBERS[1])
    await drain(worker)
    assert (reads, len(await kit.tasks())) == (1, 2)  # cached: read once for two rounds
    nobody = [{"field": "queue", "op": "eq", "value": "nobody"}]
    await kit.service.update(rule, {"conditions": nobody}, None)
    await kit.missed(NUMBERS[2])
    await drain(worker)
    assert (reads, len(await kit.tasks())) == (2, 2)  # changed: read again, no match
