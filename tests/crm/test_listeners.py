"""`crm.listeners`: who listens to the call events is read once and read again after a
webhook or a rule changes (here, on another node, or `MAX_AGE` later)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import listeners
from crm.database import Database
from crm.events import CallsStored
from crm.hooks.calls import CallHooks
from crm.hooks.models import WebhookEvent
from crm.hooks.webhooks import WebhookService
from crm.rules.calls import CallRuleEvents
from crm.rules.models import RuleEvent
from crm.rules.service import RuleService
from crm.users import UserDirectory
from tests.crm.kit_builders import call, store_calls

SECRET = "a-secret-of-sixteen-or-more"


class Reads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, session: AsyncSession) -> int:
        self.count += 1
        return self.count


async def ask(db: Database, kept: listeners.Kept, read: Reads) -> int:
    async with db.session() as session:
        return await kept.get(session, read)


async def test_the_answer_is_kept_until_a_webhook_or_a_rule_changes(db: Database) -> None:
    kept, read = listeners.Kept(), Reads()
    assert await ask(db, kept, read) == 1
    assert await ask(db, kept, read) == 1  # kept: no second read
    hooks = WebhookService(db)
    made = await hooks.create("http://127.0.0.1:9/x", ["call.missed"], SECRET, None)
    assert await ask(db, kept, read) == 2
    assert await ask(db, kept, read) == 2
    await hooks.set_enabled(made["id"], False)
    assert await ask(db, kept, read) == 3
    await hooks.delete(made["id"])
    assert await ask(db, kept, read) == 4
    rules = RuleService(db, UserDirectory(db))
    rule = await rules.create(
        {"name": "ended", "event": "call.ended", "actions": [{"type": "add_tag", "tag": "x"}]},
        None,
    )
    assert await ask(db, kept, read) == 5
    await rules.set_enabled(rule["id"], False, None)
    assert await ask(db, kept, read) == 6
    await rules.delete(rule["id"])
    assert await ask(db, kept, read) == 7
    assert await ask(db, kept, read) == 7


async def test_a_change_on_another_node_or_age_drops_the_answer(db: Database) -> None:
    now = [100.0]
    kept, read = listeners.Kept(clock=lambda: now[0]), Reads()
    assert await ask(db, kept, read) == 1
    listeners.changed()  # an `lc` envelope from another node
    assert await ask(db, kept, read) == 2
    now[0] += listeners.MAX_AGE - 0.1
    assert await ask(db, kept, read) == 2
    now[0] += 0.2  # a notification lost: the answer is not used past MAX_AGE
    assert await ask(db, kept, read) == 3


async def test_a_local_change_is_told_to_the_other_nodes_once_per_commit(db: Database) -> None:
    told: list[int] = []
    listeners.CHANGED.append(lambda: told.append(1))
    try:
        await WebhookService(db).create("http://127.0.0.1:9/x", ["call.ended"], SECRET, None)
        assert told == [1]
    finally:
        listeners.CHANGED.pop()


async def test_calls_stored_after_a_webhook_and_a_rule_appear_reach_them(db: Database) -> None:
    directory = UserDirectory(db)
    hooks, rules = CallHooks(db, directory), CallRuleEvents(db, directory)
    first = call("+74951112233", answered=False)
    await store_calls(db, first)
    await hooks.on_calls_stored(CallsStored((first,)))  # nobody listens yet: kept so
    await rules.on_calls_stored(CallsStored((first,)))
    await WebhookService(db).create("http://127.0.0.1:9/x", ["call.missed"], SECRET, None)
    await RuleService(db, directory).create(
        {"name": "missed", "event": "call.missed", "actions": [{"type": "add_tag", "tag": "x"}]},
        None,
    )
    second = call("+74951112244", answered=False)
    await store_calls(db, second)
    await hooks.on_calls_stored(CallsStored((second,)))
    await rules.on_calls_stored(CallsStored((second,)))
    async with db.session() as session:
        hook_events = await session.scalar(select(func.count()).select_from(WebhookEvent))
        rule_events: Any = (await session.scalars(select(RuleEvent.event))).all()
    assert hook_events == 1  # the second call's call.missed, not the first's
    assert rule_events == ["call.missed"]


async def test_a_webhook_deleted_elsewhere_before_its_lc_arrives_loses_no_event(
    db: Database,
) -> None:
    """The kept list still names a webhook another node deleted (its `lc` not heard
    yet): the deliveries' foreign key refuses it, the list is read again, and the call's
    events reach the webhooks that exist."""
    from sqlalchemy import delete

    from crm.hooks.models import Webhook, WebhookDelivery

    directory = UserDirectory(db)
    hooks = CallHooks(db, directory)
    service = WebhookService(db)
    kept = await service.create("http://127.0.0.1:9/a", ["call.missed"], SECRET, None)
    gone = await service.create("http://127.0.0.1:9/b", ["call.missed"], SECRET, None)
    first = call("+74951112255", answered=False)
    await store_calls(db, first)
    await hooks.on_calls_stored(CallsStored((first,)))  # both webhooks kept
    async with db.transaction() as session:  # another node's delete: no mapper event here
        await session.execute(
            delete(WebhookDelivery).where(WebhookDelivery.webhook_id == gone["id"])
        )
        await session.execute(delete(Webhook).where(Webhook.id == gone["id"]))
    second = call("+74951112266", answered=False)
    await store_calls(db, second)
    await hooks.on_calls_stored(CallsStored((second,)))
    async with db.session() as session:
        targets = (
            await session.execute(
                select(WebhookEvent.uid, WebhookDelivery.webhook_id).join(
                    WebhookDelivery, WebhookDelivery.event_id == WebhookEvent.id
                )
            )
        ).all()
    assert sorted(hook for _uid, hook in targets) == [kept["id"], kept["id"]]
