"""Builders for the triggers' tests: users, a VIP contact, a webhook, a rule, a missed
call put through the `CallsStored` consumer, and a worker to run the queue."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm.contacts import ContactService
from crm.database import Database
from crm.events import CallsStored
from crm.hooks.webhooks import WebhookService
from crm.linking import link_records
from crm.models import Task
from crm.rules.calls import CallRuleEvents
from crm.rules.engine import Runtime
from crm.rules.service import RuleService
from crm.rules.worker import RuleWorker, WorkerConfig
from crm.schemas import ContactCreate
from crm.users import UserDirectory, UserService
from routing.rules import RoutingRules, parse_rules
from telephony.records import CallRecord
from tests.crm.kit_builders import SYSTEM, call, store_calls

VIP_RULE: dict[str, Any] = {
    "name": "VIP missed call",
    "event": "call.missed",
    "conditions": [{"field": "contact_tags", "op": "has", "value": "vip"}],
    "actions": [
        {
            "type": "create_task",
            "title": "Call back VIP {{ contact_name }}",
            "description": "Missed from {{ caller_number }} ({{ queue }})",
            "assignee": ["owner"],
            "due_hours": 1,
            "working_hours": True,
        },
        {"type": "webhook", "webhook_id": 0},
    ],
}


class Kit:
    def __init__(self, db: Database, rules: dict[str, Any] | None = None) -> None:
        self.db = db
        self.routing: RoutingRules = parse_rules(rules or {})
        self.directory = UserDirectory(db)
        self.service = RuleService(db, self.directory)
        self.service.runtime.routing = lambda: self.routing
        self.notices: list[tuple[list[int], dict[str, Any]]] = []

        def notify(users: list[int], message: dict[str, Any]) -> None:
            self.notices.append((list(users), message))

        self.service.runtime.notify = notify

    def worker(self, lease: float = 120.0) -> RuleWorker:
        """A worker as a fresh process (after a restart) would build it."""
        runtime = Runtime(
            self.db,
            UserDirectory(self.db),
            lambda: self.routing,
            ZoneInfo("UTC"),
            self.service.runtime.notify,
        )
        return RuleWorker(
            runtime,
            WorkerConfig(poll_interval=0.02, overdue_every=3600, lease=timedelta(seconds=lease)),
        )

    async def user(self, login: str, interface: str | None = None) -> int:
        info = await UserService(self.db).create(
            login=login,
            name=login.title(),
            role="agent",
            password="long password",
            interfaces=[interface] if interface else [],
        )
        return info.id

    async def contact(self, number: str, owner: int | None, tags: list[str]) -> int:
        created = await ContactService(self.db).create(
            ContactCreate(name="Клиент " + number[-4:], phones=[number], owner_id=owner, tags=tags),
            SYSTEM,
        )
        return int(created["id"])

    async def webhook(self, url: str = "http://127.0.0.1:9/hook") -> int:
        hook = await WebhookService(self.db).create(url, ["deal.created"], "s" * 20, None)
        return int(hook["id"])

    async def vip_rule(self, webhook_id: int) -> dict[str, Any]:
        rule = {**VIP_RULE, "actions": [dict(a) for a in VIP_RULE["actions"]]}
        rule["actions"][1]["webhook_id"] = webhook_id
        return await self.service.create(rule, None)

    async def missed(self, number: str, **changes: Any) -> CallRecord:
        record = dataclasses.replace(call(number, answered=False, ago=600), **changes)
        await store_calls(self.db, record)
        await link_records(self.db, [record])
        await CallRuleEvents(self.db, self.directory).on_calls_stored(CallsStored((record,)))
        return record

    async def tasks(self) -> list[Task]:
        async with self.db.session() as session:
            return list((await session.scalars(select(Task).order_by(Task.id))).all())


async def drain(worker: RuleWorker) -> None:
    """Run rounds until the queue has nothing the worker may take."""
    while await worker.run_once():
        pass
