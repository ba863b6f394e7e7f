"""Schedule catch-up: a schedule rule whose time passed while Trubka was down runs once
when the worker starts again that day — not for the days that are over, and not again
after another restart the same day (the day marker and the events' ids)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from crm.database import Database
from crm.rules.models import Rule, RuleEvent
from crm.rules.schedule import event_uid
from tests.rules.kit_rules import Kit, drain
from tests.rules.test_schedule import WEDNESDAY_0930, deals_idle, idle_rule, worker_at


async def test_a_day_missed_while_down_runs_once_at_start_and_only_today(db: Database) -> None:
    kit = Kit(db)
    old, _fresh, _closed = await deals_idle(db, kit)
    rule = await kit.service.create(idle_rule(), None)
    # it last ran on Monday; Trubka was down on Tuesday and Wednesday morning
    async with db.transaction() as session:
        await session.execute(
            update(Rule).where(Rule.id == rule["id"]).values(schedule_day="2026-12-07")
        )

    back = WEDNESDAY_0930 + timedelta(hours=5)  # 14:30 in Moscow, past 09:00
    worker = worker_at(kit, back)
    running = asyncio.create_task(worker.run())  # the schedules are looked at on start
    try:
        for _ in range(500):  # at most 10 s
            if await kit.tasks():
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
        await running
    assert [t.title for t in await kit.tasks()] == ["Wake up Old (20.2 days)"]

    # restarted again the same day, and a second node: no second run
    assert await worker_at(kit, back + timedelta(hours=1)).run_schedules() == 0
    assert await worker_at(kit, back).run_schedules() == 0
    await drain(kit.worker())
    assert len(await kit.tasks()) == 1
    async with db.session() as session:
        uids = list((await session.scalars(select(RuleEvent.uid))).all())
        day = await session.scalar(select(Rule.schedule_day).where(Rule.id == rule["id"]))
    # Wednesday's event only: Tuesday, a day that is over, is not caught up
    assert uids == [event_uid(rule["id"], old, WEDNESDAY_0930.date())]
    assert day == "2026-12-09"
