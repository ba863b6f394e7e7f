"""The `notify` action stores its notice in the transaction of the rule's actions
(`crm.notices`): a worker cancelled right after the commit (before the push) leaves the
notice stored and unread; a repeated run of the same event stores and pushes no second
one; a round of events writes its notices together, each push carrying its notice's id."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy import event as sa_event

from crm.database import Database
from crm.notices import Notice, NoticeService
from crm.rules.models import PENDING, RuleActionKey, RuleEvent, RuleRun
from tests.rules.kit_rules import Kit, drain


def notify_rule(*, more: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": "VIP notice",
        "event": "call.missed",
        "conditions": [{"field": "contact_tags", "op": "has", "value": "vip"}],
        "actions": [
            {
                "type": "notify",
                "assignee": ["owner"],
                "text": "Missed VIP {{ contact_name }}",
            },
            *(more or []),
        ],
    }


async def _notices(db: Database) -> list[Notice]:
    async with db.session() as session:
        return list((await session.scalars(select(Notice).order_by(Notice.id))).all())


async def test_a_worker_cancelled_after_the_commit_leaves_the_notice_stored(
    db: Database,
) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    rule = await kit.service.create(notify_rule(), None)
    await kit.missed("+79160000001")

    def cancelled(users: list[int], message: dict[str, Any]) -> None:
        raise asyncio.CancelledError  # the task stops between the commit and the push

    dying = kit.worker()
    dying.rt.notify = cancelled
    with pytest.raises(asyncio.CancelledError):
        await dying.run_once()
    assert kit.notices == []  # never pushed

    (notice,) = await _notices(db)
    assert (notice.user_id, notice.text, notice.rule_id) == (
        owner,
        "Missed VIP Клиент 0001",
        rule["id"],
    )
    assert notice.read_at is None and notice.event == "call.missed"
    page = await NoticeService(db).list(owner, unread=True)  # what the panel shows on connect
    assert page["unread"] == 1
    assert [n["text"] for n in page["items"]] == ["Missed VIP Клиент 0001"]
    assert (await NoticeService(db).list(owner + 1000, unread=True))["unread"] == 0

    await drain(kit.worker())  # the restarted worker: the event was done
    assert len(await _notices(db)) == 1
    (run,) = await kit.service.runs(rule["id"])
    assert run["actions"][0]["notice_id"] == notice.id


async def test_a_repeated_run_of_the_same_event_stores_no_second_notice(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    hook = await kit.webhook()
    await kit.service.create(notify_rule(more=[{"type": "webhook", "webhook_id": hook}]), None)
    await kit.missed("+79160000001")

    class Crash(BaseException):
        pass

    def crash(index: int) -> None:
        if index == 0:
            raise Crash

    # the round dies inside its transaction: nothing stored, nothing pushed
    dying = kit.worker(lease=0.0)
    dying.fail_after = crash
    with pytest.raises(Crash):
        await dying.run_once()
    assert (await _notices(db), kit.notices) == ([], [])
    # taken again, action by action: the notice committed with its key, then the crash
    dying = kit.worker(lease=0.0)
    dying.fail_after = crash
    with pytest.raises(Crash):
        await dying.run_once()
    (notice,) = await _notices(db)
    assert [m["id"] for _users, m in kit.notices] == [notice.id]

    await drain(kit.worker())  # after the restart: the notice is done before
    assert len(await _notices(db)) == 1
    assert len(kit.notices) == 1

    # even run once more with its keys gone (the event taken as new): no second notice
    async with db.transaction() as session:
        await session.execute(delete(RuleActionKey))
        await session.execute(delete(RuleRun))
        await session.execute(
            update(RuleEvent).values(status=PENDING, locked_until=None, attempts=1)
        )
    await drain(kit.worker())
    assert [n.id for n in await _notices(db)] == [notice.id]
    assert len(kit.notices) == 1
    async with db.session() as session:
        (run,) = (await session.scalars(select(RuleRun))).all()
    assert run.actions[0]["notice_id"] == notice.id


async def test_a_round_writes_its_notices_together_and_pushes_their_ids(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    other = await kit.user("other")
    await kit.contact("+79160000001", owner, ["vip"])
    await kit.contact("+79160000002", other, ["vip"])
    await kit.contact("+79160000003", owner, ["regular"])
    await kit.service.create(notify_rule(), None)
    for number in ("+79160000001", "+79160000002", "+79160000003"):
        await kit.missed(number)
    worker = kit.worker()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        await drain(worker)
    finally:
        sa_event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    # the round's notices: one INSERT (and on SQLite one look at the largest id), not
    # a statement per event
    assert len([x for x in statements if x.startswith("insert into notices")]) == 1
    assert len([x for x in statements if "from notices" in x]) <= 1

    stored = await _notices(db)
    assert sorted((n.user_id, n.text) for n in stored) == [
        (owner, "Missed VIP Клиент 0001"),
        (other, "Missed VIP Клиент 0002"),
    ]
    pushed = sorted((users[0], m["id"], m["text"], m["type"]) for users, m in kit.notices)
    assert pushed == sorted((n.user_id, n.id, n.text, "rule_notice") for n in stored)
    async with db.session() as session:
        runs = (await session.scalars(select(RuleRun).where(RuleRun.matched.is_(True)))).all()
        assert await session.scalar(select(func.count()).select_from(RuleEvent)) == 3
    assert sorted(r.actions[0]["notice_id"] for r in runs) == sorted(n.id for n in stored)


async def test_notices_read_long_ago_are_purged_unread_ones_stay(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    await kit.contact("+79160000002", owner, ["vip"])
    await kit.service.create(notify_rule(), None)
    await kit.missed("+79160000001")
    await kit.missed("+79160000002")
    worker = kit.worker()
    await drain(worker)
    old, fresh = await _notices(db)
    await NoticeService(db).read(owner, old.id)
    await worker.purge()
    assert len(await _notices(db)) == 2  # read just now: kept
    async with db.transaction() as session:
        await session.execute(
            update(Notice)
            .where(Notice.id == old.id)
            .values(read_at=datetime.now(UTC) - timedelta(days=40))
        )
    await worker.purge()
    assert [n.id for n in await _notices(db)] == [fresh.id]  # unread: stays
