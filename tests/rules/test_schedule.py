"""Schedule triggers: each day at HH:MM (the configured time zone) a rule's selector turns
idle deals or overdue tasks into one event each, run by that rule only, once per item
and day — across a restart, a second node and a lost day marker; a run missed while
Trubka was down happens when it starts again that day; weekdays only; bad schedules are
refused naming the field."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from crm.call_records import CallRow
from crm.database import Database
from crm.deals import DealService, PipelineService
from crm.errors import InvalidInput
from crm.models import Contact, Deal, DealEvent, Task, TaskKind, TaskStatus
from crm.rules.models import Rule, RuleEvent
from crm.rules.schedule import due_day, validate
from crm.rules.worker import RuleWorker
from crm.schemas import DealCreate, PipelineCreate, StageIn
from tests.crm.kit_builders import SYSTEM, call, store_calls
from tests.rules.kit_rules import Kit, drain

MOSCOW = ZoneInfo("Europe/Moscow")
# Wednesday 2026-12-09 09:30 in Moscow is 06:30 UTC
WEDNESDAY_0930 = datetime(2026, 12, 9, 6, 30, tzinfo=UTC)


def idle_rule(**schedule: Any) -> dict[str, Any]:
    return {
        "name": "idle deals",
        "event": "schedule.deal_idle",
        "schedule": {"at": "09:00", "days": 14, **schedule},
        "conditions": [{"field": "idle_days", "op": "ge", "value": 14}],
        "actions": [
            {
                "type": "create_task",
                "title": "Wake up {{ deal_title }} ({{ idle_days }} days)",
                "assignee": ["owner"],
                "due_hours": 2,
            }
        ],
    }


def worker_at(kit: Kit, stamp: datetime) -> RuleWorker:
    worker = kit.worker()
    worker.rt.timezone = MOSCOW
    worker.clock = lambda: stamp
    return worker


async def deals_idle(db: Database, kit: Kit) -> tuple[int, int, int]:
    """A deal idle for 20 days, one for 5 days, one won 30 days ago; their ids."""
    owner = await kit.user("owner")
    pipeline = await PipelineService(db).create(
        PipelineCreate(name="Sales", stages=[StageIn(name="New"), StageIn(name="Won", kind="won")]),
        SYSTEM,
    )
    service = DealService(db)
    ids = []
    for title, stage in (("Old", 0), ("Fresh", 0), ("Closed", 1)):
        deal = await service.create(
            DealCreate(
                title=title,
                pipeline_id=pipeline["id"],
                stage_id=pipeline["stages"][stage]["id"],
                owner_id=owner,
            ),
            SYSTEM,
        )
        ids.append(int(deal["id"]))
    old, fresh, closed = ids
    async with db.transaction() as session:
        for deal_id, days in ((old, 20), (fresh, 5), (closed, 30)):
            stamp = WEDNESDAY_0930 - timedelta(days=days)
            await session.execute(
                update(Deal).where(Deal.id == deal_id).values(updated_at=stamp, created_at=stamp)
            )
        await session.execute(update(DealEvent).values(at=WEDNESDAY_0930 - timedelta(days=30)))
    return old, fresh, closed


async def titles(kit: Kit) -> list[str]:
    return sorted(t.title for t in await kit.tasks())


async def test_idle_deals_get_one_task_each_once_per_day(db: Database) -> None:
    kit = Kit(db)
    await deals_idle(db, kit)
    rule = await kit.service.create(idle_rule(), None)
    assert rule["schedule"] == {"at": "09:00", "weekdays_only": False, "days": 14}

    early = worker_at(kit, WEDNESDAY_0930 - timedelta(hours=1))  # 08:30 in Moscow
    assert await early.run_schedules() == 0
    worker = worker_at(kit, WEDNESDAY_0930)
    assert await worker.run_schedules() == 1
    await drain(worker)
    assert await titles(kit) == ["Wake up Old (20.0 days)"]

    # the same day again, a restarted worker, a second node: nothing more
    assert await worker.run_schedules() == 0
    assert await worker_at(kit, WEDNESDAY_0930 + timedelta(hours=5)).run_schedules() == 0
    # the day marker lost (a node that read it before the other committed): the
    # events' ids (rule, deal, day) still keep it once
    async with db.transaction() as session:
        await session.execute(update(Rule).values(schedule_day=None))
    assert await worker_at(kit, WEDNESDAY_0930).run_schedules() == 0
    await drain(worker)
    assert len(await kit.tasks()) == 1
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(RuleEvent)) == 1
    runs = await kit.service.runs(rule["id"])
    assert [(r["event"], r["matched"]) for r in runs] == [("schedule.deal_idle", True)]


async def test_a_run_missed_while_down_happens_at_start_the_same_day_only(
    db: Database,
) -> None:
    kit = Kit(db)
    await deals_idle(db, kit)
    await kit.service.create(idle_rule(), None)
    # Trubka was down at 09:00 on Tuesday; Tuesday is not caught up on Wednesday
    # morning, and Wednesday's run happens when it starts at 15:00
    assert await worker_at(kit, WEDNESDAY_0930 - timedelta(hours=2)).run_schedules() == 0
    late = worker_at(kit, WEDNESDAY_0930 + timedelta(hours=5, minutes=30))
    assert await late.run_schedules() == 1
    await drain(late)
    assert len(await kit.tasks()) == 1
    async with db.session() as session:
        assert await session.scalar(select(Rule.schedule_day).where(Rule.builtin.is_(None))) == (
            "2026-12-09"
        )


async def test_weekdays_only_skips_the_weekend(db: Database) -> None:
    kit = Kit(db)
    await deals_idle(db, kit)
    await kit.service.create(idle_rule(weekdays_only=True), None)
    saturday = WEDNESDAY_0930 + timedelta(days=3)
    assert await worker_at(kit, saturday).run_schedules() == 0
    assert await worker_at(kit, saturday + timedelta(days=2)).run_schedules() == 1


async def test_overdue_tasks_each_run_only_their_own_rule(db: Database) -> None:
    kit = Kit(db)
    agent = await kit.user("agent")
    async with db.transaction() as session:
        for title, due in (
            ("late", WEDNESDAY_0930 - timedelta(hours=3)),
            ("later", WEDNESDAY_0930 + timedelta(hours=3)),
        ):
            session.add(
                Task(
                    kind=TaskKind.OTHER.value,
                    title=title,
                    description="",
                    status=TaskStatus.OPEN.value,
                    due_at=due,
                    assignee_id=agent,
                    created_at=WEDNESDAY_0930 - timedelta(days=1),
                    updated_at=WEDNESDAY_0930 - timedelta(days=1),
                )
            )
    for name, at in (("morning", "09:00"), ("evening", "18:00")):
        await kit.service.create(
            {
                "name": name,
                "event": "schedule.task_overdue",
                "schedule": {"at": at},
                "actions": [
                    {
                        "type": "notify",
                        "assignee": ["user"],
                        "user_id": agent,
                        "text": name + ": {{ task_title }} {{ overdue_hours }}",
                    }
                ],
            },
            None,
        )
    worker = worker_at(kit, WEDNESDAY_0930)
    assert await worker.run_schedules() == 1  # the morning rule only
    await drain(worker)
    assert [m["text"] for _, m in kit.notices] == ["morning: late 3.0"]
    evening = worker_at(kit, WEDNESDAY_0930 + timedelta(hours=9))
    assert await evening.run_schedules() == 2  # "late" and now "later" too
    await drain(evening)
    assert sorted(m["text"] for _, m in kit.notices) == [
        "evening: late 12.0",
        "evening: later 6.0",
        "morning: late 3.0",
    ]


def test_schedules_are_validated_naming_the_field() -> None:
    assert validate("schedule.task_overdue", {"at": " 07:05 "}) == {
        "at": "07:05",
        "weekdays_only": False,
    }
    for event, schedule, field in (
        ("schedule.deal_idle", {"at": "25:00"}, "schedule.at"),
        ("schedule.deal_idle", {"at": "9"}, "schedule.at"),
        ("schedule.deal_idle", None, "schedule.at"),
        ("schedule.deal_idle", {"at": "09:00", "days": 0}, "schedule.days"),
        ("schedule.deal_idle", {"at": "09:00", "weekdays_only": "yes"}, "schedule.weekdays_only"),
        ("schedule.task_overdue", {"at": "09:00", "every": 2}, "schedule.every"),
        ("call.missed", {"at": "09:00"}, "schedule"),
    ):
        with pytest.raises(InvalidInput) as caught:
            validate(event, schedule)
        assert caught.value.field == field, (event, schedule)
    monday = datetime(2026, 12, 7, 9, 0)
    assert due_day({"at": "09:00", "weekdays_only": True}, monday) == monday.date()
    assert due_day({"at": "09:01"}, monday) is None


async def test_two_nodes_at_once_queue_each_item_once(db: Database) -> None:
    kit = Kit(db)
    await deals_idle(db, kit)
    await kit.service.create(idle_rule(), None)
    one, two = worker_at(kit, WEDNESDAY_0930), worker_at(kit, WEDNESDAY_0930)
    counts = await asyncio.gather(one.run_schedules(), two.run_schedules())
    assert sorted(counts) == [0, 1]
    await asyncio.gather(drain(one), drain(two))
    assert len(await kit.tasks()) == 1


async def test_the_task_made_for_an_idle_deal_is_activity_the_next_day(db: Database) -> None:
    kit = Kit(db)
    await deals_idle(db, kit)
    await kit.service.create(idle_rule(), None)
    today = worker_at(kit, WEDNESDAY_0930)
    await today.run_schedules()
    await drain(today)
    [task] = await kit.tasks()
    assert task.deal_id is not None  # the deal's own task: it counts as activity
    tomorrow = worker_at(kit, WEDNESDAY_0930 + timedelta(days=1))
    assert await tomorrow.run_schedules() == 0
    async with db.session() as session:
        day = await session.scalar(select(Rule.schedule_day).where(Rule.builtin.is_(None)))
    assert day == "2026-12-10"  # the day ran, and found nothing


async def test_the_running_worker_runs_the_schedules(db: Database) -> None:
    kit = Kit(db)
    await deals_idle(db, kit)
    await kit.service.create(idle_rule(), None)
    worker = worker_at(kit, WEDNESDAY_0930)
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(500):  # at most 10 s
            if await kit.tasks():
                break
            await asyncio.sleep(0.02)
    finally:
        await worker.stop()
        await running
    assert [t.title for t in await kit.tasks()] == ["Wake up Old (20.0 days)"]


async def test_contacts_without_a_call_for_days(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    called_lately = await kit.contact("+79160000001", owner, [])
    called_long_ago = await kit.contact("+79160000002", owner, [])
    never_called = await kit.contact("+79160000003", owner, ["vip"])
    new_one = await kit.contact("+79160000004", owner, [])
    await store_calls(db, call("+79160000001"), call("+79160000002"))
    async with db.transaction() as session:
        for contact_id, days in ((called_lately, 40), (called_long_ago, 40), (never_called, 50)):
            made = WEDNESDAY_0930 - timedelta(days=days)
            await session.execute(
                update(Contact).where(Contact.id == contact_id).values(created_at=made)
            )
        await session.execute(update(Contact).where(Contact.id == new_one).values(
            created_at=WEDNESDAY_0930 - timedelta(days=2)))  # fmt: skip
        for contact_id, days in ((called_lately, 3), (called_long_ago, 31)):
            number = "+79160000001" if contact_id == called_lately else "+79160000002"
            await session.execute(
                update(CallRow)
                .where(CallRow.caller_number == number)
                .values(contact_id=contact_id, started_at=WEDNESDAY_0930 - timedelta(days=days))
            )
    rule = await kit.service.create(
        {
            "name": "no calls",
            "event": "schedule.contact_idle",
            "schedule": {"at": "09:00", "days": 30},
            "actions": [
                {
                    "type": "create_task",
                    "title": "Call {{ contact_name }} ({{ idle_days }} days{% if 'vip' in "
                    "contact_tags %}, VIP{% endif %})",
                    "assignee": ["owner"],
                }
            ],
        },
        None,
    )
    assert rule["schedule"] == {"at": "09:00", "weekdays_only": False, "days": 30}
    worker = worker_at(kit, WEDNESDAY_0930)
    assert await worker.run_schedules() == 2
    await drain(worker)
    assert await titles(kit) == [
        "Call Клиент 0002 (31.0 days)",
        "Call Клиент 0003 (50.0 days, VIP)",
    ]
    assert {t.assignee_id for t in await kit.tasks()} == {owner}
