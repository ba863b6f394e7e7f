"""Missed calls → callback tasks: who gets them, when they are due, one per customer per day."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crm.access import Actor
from crm.callbacks import CallbackCall, CallbackTasks
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.events import CallsStored
from crm.linking import link_records
from crm.models import Role, Task
from crm.schemas import CompanyCreate, ContactCreate, TaskUpdate
from crm.tasks import TaskService
from crm.users import UserDirectory, UserService
from routing.rules import RoutingRules, parse_rules
from telephony.records import CallRecord, Direction, Disposition
from tests.crm.kit_builders import SYSTEM, call, store_calls

MSK = ZoneInfo("Europe/Moscow")


class Setup:
    def __init__(self, db: Database, rules: dict[str, Any] | None = None) -> None:
        self.db = db
        self.users = UserService(db)
        self.rules: RoutingRules = parse_rules(rules or {"supervisor": "boss"})
        self.callbacks = self.node()

    def node(self) -> CallbackTasks:
        """A CallbackTasks as another node (or this one after a restart) would build it."""
        return CallbackTasks(self.db, UserDirectory(self.db), lambda: self.rules, MSK)

    async def user(self, login: str, interface: str | None = None, role: str = "agent") -> int:
        info = await self.users.create(
            login=login,
            name=login.title(),
            role=role,
            password="long password",
            interfaces=[interface] if interface else [],
        )
        return info.id

    async def missed(self, number: str, **changes: Any) -> CallRecord:
        record = dataclasses.replace(call(number, answered=False, ago=600), **changes)
        await store_calls(self.db, record)
        await link_records(self.db, [record])
        return record

    async def tasks(self) -> list[Task]:
        async with self.db.session() as session:
            return list((await session.scalars(select(Task).order_by(Task.id))).all())


async def _contact(db: Database, number: str, owner: int | None = None, **extra: Any) -> int:
    created = await ContactService(db).create(
        ContactCreate(name="Клиент " + number[-4:], phones=[number], owner_id=owner, **extra),
        SYSTEM,
    )
    return int(created["id"])


async def test_the_manager_the_call_was_routed_to_then_the_owner_then_the_supervisor(
    db: Database,
) -> None:
    s = Setup(db)
    routed = await s.user("routed", "Local/102@agents/n")
    owner = await s.user("owner", "PJSIP/101")
    boss = await s.user("boss", role="supervisor")
    await _contact(db, "+79160000001", owner)
    await _contact(db, "+79160000002", owner)
    await _contact(db, "+79160000003")
    await _contact(db, "+79160000004")
    records = [
        await s.missed(
            "+79160000001",
            routed_agent="Local/102@agents/n",
            routed_by="previous-manager",
            routing_reason="Routed: talked 3 days ago",
        ),
        await s.missed("+79160000002"),
        await s.missed("+79160000003"),
    ]
    outcomes = await s.callbacks.handle(records)
    assert [(o.created, o.assigned_by) for o in outcomes] == [
        (True, "routed"),
        (True, "owner"),
        (True, "supervisor"),
    ]
    tasks = await s.tasks()
    assert [t.assignee_id for t in tasks] == [routed, owner, boss]
    assert "Маршрут: Routed: talked 3 days ago." in tasks[0].description
    # No supervisor in the rules, or one who is not a user: unassigned, never lost.
    s.rules = parse_rules({"supervisor": "nobody"})
    (unassigned,) = await s.callbacks.handle([await s.missed("+79160000004")])
    assert unassigned.created and unassigned.assigned_by is None
    assert (await s.tasks())[-1].assignee_id is None


async def test_inactive_users_are_skipped_and_a_company_owner_counts(db: Database) -> None:
    s = Setup(db)
    gone = await s.user("gone", "Local/105@agents/n")
    company_owner = await s.user("company_owner", "PJSIP/103")
    await s.users.update(gone, 1, {"active": False}, actor=Actor.system())
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО Ромашка", phones=["+74950000009"], owner_id=company_owner),
        SYSTEM,
    )
    await _contact(db, "+79160000005", gone, company_id=company["id"])
    by_contact, by_company = await s.callbacks.handle(
        [
            await s.missed("+79160000005", routed_agent="Local/105@agents/n"),
            await s.missed("+74950000009"),  # the switchboard: the company itself
        ]
    )
    assert by_contact.assigned_by == "owner" and by_company.assigned_by == "owner"
    contact_task, company_task = await s.tasks()
    assert contact_task.assignee_id == company_owner
    assert contact_task.company_id == company["id"] and contact_task.contact_id is not None
    assert (company_task.contact_id, company_task.company_id) == (None, company["id"])
    assert company_task.title == "Перезвонить: ООО Ромашка"


async def test_one_task_per_customer_per_day_across_nodes_and_restarts(db: Database) -> None:
    s = Setup(db)
    owner = await s.user("owner", "PJSIP/101")
    contact_id = await _contact(db, "+79160000010", owner)
    morning = await s.missed("+79160000010")
    again = await s.missed("+79160000010")
    # Two nodes store the same customer's calls at the same moment.
    first, second = await asyncio.gather(s.node().handle([morning]), s.node().handle([again]))
    assert sorted(o.created for o in first + second) == [False, True]
    (task,) = await s.tasks()
    # A restart replays the calls: nothing new.
    replayed = await s.node().handle([morning, again])
    assert [(o.task_id, o.created) for o in replayed] == [(task.id, False), (task.id, False)]
    async with db.session() as session:
        mapped = await session.scalar(select(func.count()).select_from(CallbackCall))
    assert mapped == 2
    shown = await s.callbacks.for_calls([morning.linkedid, again.linkedid, "no-such-call"])
    assert set(shown) == {morning.linkedid, again.linkedid}
    assert {info.task_id for info in shown.values()} == {task.id}
    # The next day is a new day: a new task.
    tomorrow = await s.missed(
        "+79160000010",
        linkedid="tomorrow.1",
        started_at=morning.started_at + 86400,
        ended_at=morning.ended_at + 86400,
    )
    (next_day,) = await s.callbacks.handle([tomorrow])
    assert next_day.created and next_day.task_id != task.id
    # The task deleted: the customer's next missed call that day gets a new one.
    await TaskService(db).delete(task.id, Actor(user_id=owner, role=Role.SUPERVISOR))
    (renewed,) = await s.callbacks.handle([await s.missed("+79160000010")])
    assert renewed.created and renewed.task_id not in (task.id, next_day.task_id)
    assert contact_id


async def test_who_closed_the_task_is_reported(db: Database) -> None:
    s = Setup(db)
    owner = await s.user("owner", "PJSIP/101")
    await _contact(db, "+79160000011", owner)
    record = await s.missed("+79160000011")
    (outcome,) = await s.callbacks.handle([record])
    assert outcome.task_id is not None
    await TaskService(db).update(
        outcome.task_id, TaskUpdate(version=1, status="done"), Actor(user_id=owner, role=Role.AGENT)
    )
    info = (await s.callbacks.for_calls([record.linkedid]))[record.linkedid]
    assert (info.status, info.done_by, info.assignee_id) == ("done", "owner", owner)
    assert info.done_at is not None


async def test_calls_that_get_no_task(db: Database) -> None:
    s = Setup(db, {"queues": {"sales": {"callback_tasks": False}}})
    owner = await s.user("owner", "PJSIP/101")
    await _contact(db, "+79160000020", owner)
    records = [
        await s.missed("+79169999999"),  # not a customer
        dataclasses.replace(call("+79160000020", ago=60), linkedid="answered.1"),
        await s.missed("+79160000020", direction=Direction.OUTBOUND, linkedid="out.1"),
        await s.missed("+79160000020", ended_during_outage=True, linkedid="outage.1"),
        await s.missed("+79160000020", queue="sales", linkedid="sales.1"),
    ]
    assert await s.callbacks.handle(records) == []
    assert await s.tasks() == []
    # Every unanswered kind counts: no answer, busy, failed.
    for n, disposition in enumerate((Disposition.NO_ANSWER, Disposition.BUSY, Disposition.FAILED)):
        number = f"+7916000003{n}"
        await _contact(db, number, owner)
        (outcome,) = await s.callbacks.handle(
            [await s.missed(number, disposition=disposition, linkedid=f"d.{n}")]
        )
        assert outcome.created


async def test_after_hours_the_task_is_due_after_the_line_opens(db: Database) -> None:
    s = Setup(
        db,
        {
            "callback_due_minutes": 15,
            "hours": {"timezone": "Europe/Moscow", "mon": "09:00-18:00", "tue": "09:00-18:00"},
        },
    )
    owner = await s.user("owner", "PJSIP/101")
    await _contact(db, "+79160000040", owner)
    # Monday 2026-11-23, 20:00 in Moscow: closed until Tuesday 09:00.
    started = datetime(2026, 11, 23, 20, 0, tzinfo=MSK).timestamp()
    record = await s.missed(
        "+79160000040", linkedid="late.1", started_at=started, ended_at=started + 40
    )
    await s.callbacks.handle([record])
    (task,) = await s.tasks()
    assert task.due_at == datetime(2026, 11, 24, 9, 15, tzinfo=MSK).astimezone(UTC)
    # During the hours: due 15 minutes after the call ended.
    await _contact(db, "+79160000041", owner)
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=MSK).timestamp()
    record = await s.missed("+79160000041", linkedid="noon.1", started_at=noon, ended_at=noon + 40)
    await s.callbacks.handle([record])
    assert (await s.tasks())[-1].due_at == datetime.fromtimestamp(noon + 40, UTC) + timedelta(
        minutes=15
    )


async def test_an_answered_call_with_the_customer_closes_the_task_with_a_note(
    db: Database,
) -> None:
    """missed → task open → the customer calls back and is served → task done, by that call."""
    s = Setup(db)
    owner = await s.user("owner", "Local/101@agents/n")
    await _contact(db, "+79160000050", owner)
    await _contact(db, "+79160000051", owner)
    missed = await s.missed("+79160000050")
    other = await s.missed("+79160000051")
    (outcome, _other_outcome) = await s.callbacks.handle([missed, other])
    assert outcome.task_id is not None
    info = (await s.callbacks.for_calls([missed.linkedid]))[missed.linkedid]
    assert info.status == "open" and info.closed_by_call is None
    # An answered call that came before the missed one closes nothing.
    earlier = dataclasses.replace(call("+79160000050", ago=7200), linkedid="earlier.1")
    await store_calls(db, earlier)
    await link_records(db, [earlier])
    assert await s.callbacks.close_served([earlier]) == []
    # The customer calls back and an agent answers: the task is closed by that call.
    back = dataclasses.replace(call("+79160000050", ago=60), linkedid="back.1")
    await store_calls(db, back)
    await link_records(db, [back])
    (closure,) = await s.callbacks.close_served([back])
    assert (closure.task_id, closure.linkedid) == (outcome.task_id, "back.1")
    task = next(t for t in await s.tasks() if t.id == outcome.task_id)
    assert task.status == "done" and task.completed_by_id == owner
    assert task.completed_at is not None
    assert "Закрыта автоматически: клиент перезвонил" in task.description
    assert f"звонок back.1 (/calls/{closure.call_id})" in task.description
    info = (await s.callbacks.for_calls([missed.linkedid]))[missed.linkedid]
    assert (info.status, info.done_by) == ("done", "owner")
    assert (info.closed_by_call, info.closed_by_call_id) == ("back.1", closure.call_id)
    # The other customer's task stays open; a replay changes nothing.
    assert (await s.callbacks.for_calls([other.linkedid]))[other.linkedid].status == "open"
    assert await s.callbacks.close_served([back]) == []


async def test_an_outbound_call_that_reaches_the_customer_closes_the_task(db: Database) -> None:
    s = Setup(db)
    await s.user("owner", "Local/101@agents/n")
    await _contact(db, "+79160000060")
    missed = await s.missed("+79160000060")
    (outcome,) = await s.callbacks.handle([missed])
    unanswered = dataclasses.replace(
        call("+79160000060", direction=Direction.OUTBOUND, answered=False, ago=120),
        linkedid="out.no",
        disposition=Disposition.NO_ANSWER,
    )
    reached = dataclasses.replace(
        call("+79160000060", direction=Direction.OUTBOUND, ago=60), linkedid="out.yes"
    )
    await store_calls(db, unanswered, reached)
    await link_records(db, [unanswered, reached])
    # the call writer's path: one CallsStored event with both calls
    await s.callbacks.on_calls_saved(CallsStored(records=(unanswered, reached)))
    (task,) = [t for t in await s.tasks() if t.id == outcome.task_id]
    assert task.status == "done"
    assert "клиенту дозвонились" in task.description and "out.yes" in task.description


async def test_after_linking_the_calls_of_no_known_customer_cost_no_query(db: Database) -> None:
    """The `crm-after-store` order: linking leaves each call's customer on the event;
    the callback tasks then skip the calls of nobody known without reading them back,
    and still make and close the tasks of known customers."""
    from sqlalchemy import event as sa_event

    s = Setup(db)
    await s.user("owner", "Local/101@agents/n")
    await _contact(db, "+79160000070")
    known = dataclasses.replace(call("+79160000070", answered=False, ago=600), linkedid="k.1")
    strangers = [
        call("+79160000071", answered=False, ago=500),
        call("+79160000072", ago=400),  # answered: nothing of theirs to close
    ]
    await store_calls(db, known, *strangers)
    first = CallsStored(records=(known, *strangers))
    await link_records(db, first.records, first.customers)
    assert first.customers[("k.1", known.pbx)][0] is not None
    await s.callbacks.on_calls_saved(first)
    (task,) = await s.tasks()
    assert task.call_linkedid == "k.1"
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    more = [call("+79160000073", answered=False, ago=300), call("+79160000074", ago=200)]
    await store_calls(db, *more)
    second = CallsStored(records=tuple(more))
    await link_records(db, second.records, second.customers)
    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await s.callbacks.on_calls_saved(second)
    finally:
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert statements == []  # nobody known: no transaction
    back = dataclasses.replace(call("+79160000070", ago=100), linkedid="k.2")
    await store_calls(db, back)
    third = CallsStored(records=(back,))
    await link_records(db, third.records, third.customers)
    await s.callbacks.on_calls_saved(third)
    (task,) = await s.tasks()
    assert task.status == "done"  # the known customer's answered call closed it
