"""The missed-call callback task is the built-in rule: admins see it, switch it off and
change its due time; it cannot be deleted, nor its event changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm.callbacks import CallbackTasks
from crm.database import Database
from crm.errors import InvalidInput
from crm.rules.builtin import CALLBACK
from crm.users import UserDirectory
from tests.rules.kit_rules import Kit


async def _builtin(kit: Kit) -> dict:
    return next(r for r in await kit.service.list() if r["builtin"] == CALLBACK)


async def test_the_callback_rule_is_listed_switched_off_and_given_a_due_time(db: Database) -> None:
    kit = Kit(db, {"supervisor": "boss"})
    callbacks = CallbackTasks(
        db, UserDirectory(db), lambda: kit.routing, kit.service.runtime.timezone
    )
    owner = await kit.user("owner")
    await kit.contact("+79160000001", owner, [])
    await kit.contact("+79160000002", owner, [])
    rule = await _builtin(kit)
    assert (rule["event"], rule["enabled"], rule["actions"]) == (
        "call.missed",
        True,
        [{"type": "callback_task", "due_minutes": None}],
    )
    assert [r["builtin"] for r in await kit.service.list()].count(CALLBACK) == 1  # made once

    await kit.service.set_enabled(rule["id"], False, None)
    record = await kit.missed("+79160000001")
    assert await callbacks.handle([record]) == []
    assert await kit.tasks() == []

    rule = await kit.service.update(
        rule["id"],
        {"enabled": True, "actions": [{"type": "callback_task", "due_minutes": 120}]},
        None,
    )
    record = await kit.missed("+79160000002")
    (outcome,) = await callbacks.handle([record])
    (task,) = await kit.tasks()
    ended = datetime.fromtimestamp(record.ended_at, UTC)
    assert task.id == outcome.task_id
    assert task.due_at == ended + timedelta(minutes=120)

    with pytest.raises(InvalidInput) as refused:
        await kit.service.delete(rule["id"])
    assert refused.value.field == "id"
    with pytest.raises(InvalidInput) as refused:
        await kit.service.update(rule["id"], {"event": "deal.created"}, None)
    assert refused.value.field == "event"
    with pytest.raises(InvalidInput) as refused:
        await kit.service.update(rule["id"], {"actions": [{"type": "add_tag", "tag": "x"}]}, None)
    assert refused.value.field == "actions.0.type"
