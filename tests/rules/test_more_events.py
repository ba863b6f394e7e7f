"""Deal and task events: a big new deal moves on and gets the manager; an overdue task
tells its assignee in the panel, once per due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm.database import Database
from crm.deals import DealService, PipelineService
from crm.models import Deal, DealEvent, Task, TaskKind, TaskStatus
from crm.schemas import DealCreate, PipelineCreate, StageIn
from tests.crm.kit_builders import SYSTEM
from tests.rules.kit_rules import Kit, drain


async def test_a_big_deal_moves_to_the_next_stage_and_gets_an_owner(db: Database) -> None:
    kit = Kit(db)
    manager = await kit.user("manager")
    contact = await kit.contact("+79160000001", None, [])
    pipeline = await PipelineService(db).create(
        PipelineCreate(name="Sales", stages=[StageIn(name="New"), StageIn(name="Qualified")]),
        SYSTEM,
    )
    qualified = pipeline["stages"][1]["id"]
    await kit.service.create(
        {
            "name": "big deals",
            "event": "deal.created",
            "conditions": [{"field": "deal_amount", "op": "ge", "value": 100000}],
            "actions": [
                {"type": "move_stage", "stage_id": qualified},
                {"type": "assign_owner", "assignee": ["user"], "user_id": manager},
                {"type": "add_tag", "tag": "big"},
            ],
        },
        None,
    )
    deals = DealService(db)
    big = await deals.create(
        DealCreate(title="Big", pipeline_id=pipeline["id"], amount=250000, contact_id=contact),
        SYSTEM,
    )
    small = await deals.create(
        DealCreate(title="Small", pipeline_id=pipeline["id"], amount=100, contact_id=contact),
        SYSTEM,
    )
    await drain(kit.worker())
    async with db.session() as session:
        rows = {d.id: d for d in (await session.scalars(select(Deal))).all()}
        moves = (await session.scalars(select(DealEvent).where(DealEvent.kind == "stage"))).all()
    assert rows[big["id"]].stage_id == qualified
    assert rows[small["id"]].stage_id == pipeline["stages"][0]["id"]
    assert [m.deal_id for m in moves] == [big["id"]]
    card = await kit.service.runs((await kit.service.list())[1]["id"])
    assert sorted(r["matched"] for r in card) == [False, True]
    from crm.contacts import ContactService

    view = await ContactService(db).get(contact)
    assert (view["owner_id"], view["tags"]) == (manager, ["big"])


async def test_an_overdue_task_notifies_its_assignee_once_per_due_time(db: Database) -> None:
    kit = Kit(db)
    agent = await kit.user("agent")
    await kit.service.create(
        {
            "name": "overdue",
            "event": "task.overdue",
            "conditions": [],
            "actions": [
                {
                    "type": "notify",
                    "assignee": ["user"],
                    "user_id": agent,
                    "text": "{{ task_title }}",
                }
            ],
        },
        None,
    )
    stamp = datetime.now(UTC)
    async with db.transaction() as session:
        for title, due in (
            ("late", stamp - timedelta(hours=1)),
            ("later", stamp + timedelta(hours=1)),
        ):
            session.add(
                Task(
                    kind=TaskKind.OTHER.value,
                    title=title,
                    description="",
                    status=TaskStatus.OPEN.value,
                    due_at=due,
                    assignee_id=agent,
                    created_at=stamp,
                    updated_at=stamp,
                )
            )
    worker = kit.worker()
    assert await worker.queue_overdue() == 1
    assert await worker.queue_overdue() == 0  # once per task and due time
    await drain(worker)
    assert [(users, m["text"]) for users, m in kit.notices] == [([agent], "late")]
