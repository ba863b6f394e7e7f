"""Triggers end to end below the web: a missed call from a VIP contact → a task to the
owner due in 1 working hour and a webhook queued; a restart in the middle neither loses
nor doubles an action; chains are cut; a dry run writes nothing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm.access import Actor
from crm.contacts import ContactService
from crm.database import Database
from crm.errors import InvalidInput
from crm.hooks.models import WebhookDelivery, WebhookEvent
from crm.rules.models import CUT, DONE, RuleActionKey, RuleEvent, RuleRun
from crm.schemas import ContactUpdate
from tests.rules.kit_rules import Kit, drain


class Crash(BaseException):
    """A process dying between two actions (not an error the worker handles)."""


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_missed_call_from_a_vip_makes_a_task_for_the_owner_and_a_webhook(
    db: Database,
) -> None:
    kit = Kit(db)
    owner = await kit.user("owner", "PJSIP/101")
    vip = await kit.contact("+79160000001", owner, ["VIP"])
    await kit.contact("+79160000002", owner, ["regular"])
    hook = await kit.webhook()
    rule = await kit.vip_rule(hook)
    record = await kit.missed("+79160000001")
    await kit.missed("+79160000002")
    await drain(kit.worker())

    (task,) = await kit.tasks()
    assert (task.assignee_id, task.contact_id, task.call_linkedid) == (owner, vip, record.linkedid)
    assert task.title == "Call back VIP Клиент 0001"
    assert task.description == "Missed from +79160000001 (support)"
    ended = datetime.fromtimestamp(record.ended_at, UTC)
    assert task.due_at is not None
    assert abs((task.due_at - ended) - timedelta(hours=1)) < timedelta(seconds=2)
    async with db.session() as session:
        (event,) = (await session.scalars(select(WebhookEvent))).all()
        (delivery,) = (await session.scalars(select(WebhookDelivery))).all()
    assert (event.event, delivery.webhook_id, delivery.status) == ("call.missed", hook, "pending")
    assert f'"rule":{{"id":{rule["id"]}' in event.body
    runs = await kit.service.runs(rule["id"])
    assert sorted(r["matched"] for r in runs) == [False, True]
    matched = next(r for r in runs if r["matched"])
    assert [a["status"] for a in matched["actions"]] == ["done", "done"]
    assert matched["actions"][0]["task_id"] == task.id
    assert matched["conditions"][0]["actual"] == ["VIP"]


async def test_a_restart_between_two_actions_neither_loses_nor_doubles_one(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    hook = await kit.webhook()
    rule = await kit.vip_rule(hook)
    await kit.missed("+79160000001")

    def crash(index: int) -> None:
        if index == 0:
            raise Crash

    # 1. The first run does the event's actions in one transaction: dying after the first
    #    action leaves nothing half done, and the event pending (its lease runs out at once).
    dying = kit.worker(lease=0.0)
    dying.fail_after = crash
    with pytest.raises(Crash):
        await dying.run_once()
    assert await kit.tasks() == []
    assert await _count(db, WebhookDelivery) == 0
    # 2. Taken again, the event goes action by action, each committed with its key:
    #    dying after the first leaves the task made and the webhook not yet queued.
    dying = kit.worker(lease=0.0)
    dying.fail_after = crash
    with pytest.raises(Crash):
        await dying.run_once()
    assert len(await kit.tasks()) == 1
    assert await _count(db, WebhookDelivery) == 0
    async with db.session() as session:
        (pending,) = (await session.scalars(select(RuleEvent))).all()
    assert pending.status == "pending"

    await drain(kit.worker())  # 3. "after the restart": only what was not done
    await drain(kit.worker())  # and once more: nothing is left to do
    assert len(await kit.tasks()) == 1
    assert await _count(db, WebhookDelivery) == 1
    assert await _count(db, RuleActionKey) == 2
    async with db.session() as session:
        (event,) = (await session.scalars(select(RuleEvent))).all()
        (run,) = (await session.scalars(select(RuleRun))).all()
    assert event.status == DONE
    assert [a["status"] for a in run.actions] == ["done before", "done"]
    assert run.rule_id == rule["id"]


async def test_a_template_error_is_refused_at_save_time_naming_the_field(db: Database) -> None:
    kit = Kit(db)
    broken = {
        "name": "broken",
        "event": "call.missed",
        "conditions": [],
        "actions": [
            {"type": "create_task", "title": "Call {{ contact_name", "assignee": ["owner"]}
        ],
    }
    with pytest.raises(InvalidInput) as refused:
        await kit.service.create(broken, None)
    assert refused.value.field == "actions.0.title"
    assert "unexpected end of template" in refused.value.details["detail"]
    broken["actions"][0]["title"] = "Call {{ contact_nam }}"
    with pytest.raises(InvalidInput) as refused:
        await kit.service.create(broken, None)
    assert refused.value.field == "actions.0.title"
    assert "contact_nam" in refused.value.details["detail"]
    broken["actions"][0]["title"] = "{{ ''.__class__.__mro__ }}"  # the sandbox says no
    with pytest.raises(InvalidInput):
        await kit.service.create(broken, None)
    bad_condition = {**broken, "actions": [{"type": "add_tag", "tag": "x"}]}
    bad_condition["conditions"] = [{"field": "talk_seconds", "op": "has", "value": 3}]
    with pytest.raises(InvalidInput) as refused:
        await kit.service.create(bad_condition, None)
    assert refused.value.field == "conditions.0.op"
    assert await kit.service.list() == [r for r in await kit.service.list() if r["builtin"]]


async def test_a_chain_of_rules_is_cut_at_a_fixed_depth_with_a_warning(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    contact = await kit.contact("+79160000001", owner, ["vip"])
    await kit.service.create(
        {
            "name": "ping-pong",
            "event": "contact.updated",
            "conditions": [],
            "actions": [{"type": "remove_tag", "tag": "vip"}, {"type": "add_tag", "tag": "vip"}],
        },
        None,
    )
    current = await ContactService(db).get(contact)
    await ContactService(db).update(
        contact, ContactUpdate(name="Renamed", version=current["version"]), Actor.system()
    )
    with caplog.at_level(logging.WARNING, logger="crm.rules.worker"):
        await drain(kit.worker())
    async with db.session() as session:
        rows = (await session.execute(select(RuleEvent.depth, RuleEvent.status))).all()
    assert {status for _depth, status in rows} == {DONE, CUT}
    assert max(depth for depth, _status in rows) == 4
    assert all(status == CUT for depth, status in rows if depth == 4)
    assert "the chain is cut" in caplog.text
    assert (await ContactService(db).get(contact))["tags"] == ["vip"]


async def test_a_dry_run_against_a_past_call_writes_nothing(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    rule = await kit.vip_rule(await kit.webhook())
    record = await kit.missed("+79160000001")
    async with db.session() as session:
        from crm.call_records import CallRow

        call_id = await session.scalar(
            select(CallRow.id).where(CallRow.linkedid == record.linkedid)
        )
        before = [await _count(db, m) for m in (RuleEvent, RuleActionKey, RuleRun, WebhookEvent)]
    answer = await kit.service.test(rule["id"], call_id=call_id)
    assert answer["matched"] is True
    assert [a["type"] for a in answer["actions"]] == ["create_task", "webhook"]
    assert answer["actions"][0]["assignee_id"] == owner
    assert answer["actions"][0]["title"] == "Call back VIP Клиент 0001"
    after = [await _count(db, m) for m in (RuleEvent, RuleActionKey, RuleRun, WebhookEvent)]
    assert after == before
    assert await kit.tasks() == []
    other = await kit.service.test(rule["id"], event={"contact_id": None, "caller_number": "1"})
    assert other["matched"] is False
    assert other["actions"] == []


async def test_a_failing_action_is_logged_and_the_others_are_done(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    rule = await kit.vip_rule(webhook_id=99999)  # no such webhook
    await kit.missed("+79160000001")
    await drain(kit.worker())
    assert len(await kit.tasks()) == 1
    (run,) = await kit.service.runs(rule["id"])
    assert [a["status"] for a in run["actions"]] == ["done", "error"]
    assert run["errors"] == ["action 1 (webhook): no such webhook"]
    async with db.session() as session:
        (event,) = (await session.scalars(select(RuleEvent))).all()
    assert event.status == DONE
    await drain(kit.worker())
    assert len(await kit.tasks()) == 1


async def test_finished_events_and_old_runs_are_purged(db: Database) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, ["vip"])
    await kit.vip_rule(await kit.webhook())
    await kit.missed("+79160000001")
    worker = kit.worker()
    await drain(worker)
    assert await worker.purge() == 0  # a fresh one stays
    async with db.transaction() as session:
        long_ago = datetime.now(UTC) - timedelta(days=40)
        (event,) = (await session.scalars(select(RuleEvent))).all()
        event.finished_at = long_ago
        (run,) = (await session.scalars(select(RuleRun))).all()
        run.at = long_ago
    assert await worker.purge() == 1
    assert [await _count(db, m) for m in (RuleEvent, RuleActionKey, RuleRun)] == [0, 0, 0]
    assert len(await kit.tasks()) == 1


async def test_a_failing_action_in_a_round_of_events_undoes_nothing_of_the_others(
    db: Database,
) -> None:
    kit = Kit(db)
    owner = await kit.user("owner")
    for number in ("+79160000001", "+79160000002", "+79160000003"):
        await kit.contact(number, owner, ["vip"])
    rule = await kit.vip_rule(webhook_id=99999)  # every run's second action fails
    for number in ("+79160000001", "+79160000002", "+79160000003"):
        await kit.missed(number)
    await drain(kit.worker())
    assert sorted(t.title for t in await kit.tasks()) == [
        "Call back VIP Клиент 0001",
        "Call back VIP Клиент 0002",
        "Call back VIP Клиент 0003",
    ]
    runs = await kit.service.runs(rule["id"])
    assert [[a["status"] for a in r["actions"]] for r in runs] == [["done", "error"]] * 3
    assert all(isinstance(r["actions"][0]["task_id"], int) for r in runs)
    assert await _count(db, RuleActionKey) == 6
