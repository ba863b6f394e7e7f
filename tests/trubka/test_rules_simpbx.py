"""The done-when case of the triggers, on the wire: the simulated Asterisk offers a call
from a contact tagged VIP, nobody answers; the stored call becomes a `call.missed` event,
the rule "missed call from a VIP → a task to the owner due in 1 working hour + a
webhook" runs in the worker (not in the call's path), and a panel notice reaches the
owner's sockets. The built-in callback rule still makes its own task, as before."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crm.access import Actor
from crm.hooks.models import WebhookDelivery, WebhookEvent
from crm.models import Role, Task
from crm.notices import Notice
from crm.schemas import ContactCreate
from kernel.bus import Subscription
from telephony.domain import CallEnded, DomainEvent
from tests.kit_server import InProcess, free_port
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services


async def _until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - rows in the database, no event
            await asyncio.sleep(0.02)


async def _stored(services: Services, ended: Subscription[DomainEvent], linkedid: str) -> None:
    async with asyncio.timeout(10):
        while True:
            event = await ended.get()
            if isinstance(event, CallEnded) and event.record.linkedid == linkedid:
                break
        await services.drain_calls()


@pytest.mark.parametrize("own_process", [False, True], ids=["in-process", "rules-process"])
async def test_a_missed_call_from_a_vip_makes_the_owners_task_and_a_webhook(
    database_url: str, tmp_path: Path, own_process: bool
) -> None:
    """Also with the rules in their own process (TRUBKA_RULES_PROCESS): the notice then
    comes back from the child to this node's sockets."""
    agi_port = free_port()
    rules = tmp_path / "routing.toml"
    rules.write_text("ring_seconds = 1\n", encoding="utf-8")
    async with running(sim_config(agi_url=f"agi://127.0.0.1:{agi_port}/route")) as pbx:
        settings = load_settings(
            database_url=database_url,
            agi_enabled=True,
            agi_port=agi_port,
            routing_rules=rules,
            routing_facts_timeout=3.0,
            ami_host="127.0.0.1",
            ami_port=pbx.port,
            ami_user=USER,
            ami_secret=SECRET,
            ami_enabled=True,
            recordings_spool=tmp_path / "spool",
            wrapup_limit=0,
            rules_process=own_process,
            rules_process_priority="normal",  # idle: may wait long on a busy CI machine
        )
        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app):
            owner = await services.crm.users.create(
                login="agent101",
                name="Анна Смирнова",
                role=Role.AGENT,
                password="long password",
                interfaces=["Local/101@agents/n"],
            )
            contact = await services.crm.contacts.create(
                ContactCreate(
                    name="Иван Петров", phones=["+79161234567"], owner_id=owner.id, tags=["VIP"]
                ),
                Actor.system(),
            )
            hook = await services.crm.webhooks.create(
                "http://127.0.0.1:9/hook", ["deal.created"], "s" * 20, None
            )
            rule = await services.crm.rules.create(
                {
                    "name": "VIP missed call",
                    "event": "call.missed",
                    "conditions": [{"field": "contact_tags", "op": "has", "value": "vip"}],
                    "actions": [
                        {
                            "type": "create_task",
                            "title": "VIP: перезвонить {{ contact_name }}",
                            "assignee": ["owner"],
                            "due_hours": 1,
                            "working_hours": True,
                        },
                        {"type": "webhook", "webhook_id": hook["id"]},
                        {
                            "type": "notify",
                            "assignee": ["owner"],
                            "text": "VIP {{ caller_number }}",
                        },
                    ],
                },
                None,
            )
            sent: list[tuple[list[int], dict[str, Any]]] = []

            def notify(users: list[int], message: dict[str, Any]) -> None:
                sent.append((list(users), message))

            if own_process:
                assert services.rules_process is not None
                services.rules_process.notify = notify
                async with asyncio.timeout(30):
                    await services.rules_process.ready.wait()
            else:
                services.crm.rules.runtime.notify = notify
            ended = services.bus.subscribe("test-call-ended", kinds=[CallEnded])
            pbx.set_agents_answer(False)
            missed = pbx.place_call("79161234567", "Иван Петров", patience=1.5)
            await pbx.wait_idle()
            await _stored(services, ended, missed.linkedid)

            async def vip_task() -> Task | None:
                async with services.db.session() as session:
                    return await session.scalar(select(Task).where(Task.title.like("VIP:%")))

            async def ran() -> bool:  # the run is logged once all its actions are done
                return bool(await services.crm.rules.runs(rule["id"]))

            await _until(ran)
            task = await vip_task()
            assert task is not None
            assert (task.assignee_id, task.contact_id, task.call_linkedid) == (
                owner.id,
                contact["id"],
                missed.linkedid,
            )
            assert task.title == "VIP: перезвонить Иван Петров"
            row = await services.calls.get(missed.linkedid)
            assert row is not None and row.disposition in ("abandoned", "no-answer")
            ended_at = row.ended_at.astimezone(UTC)
            assert task.due_at is not None
            assert abs(task.due_at - ended_at - timedelta(hours=1)) < timedelta(seconds=2)
            async with services.db.session() as session:
                events = (await session.scalars(select(WebhookEvent))).all()
                deliveries = (await session.scalars(select(WebhookDelivery))).all()
                tasks = (await session.scalars(select(Task).order_by(Task.id))).all()
                (notice,) = (await session.scalars(select(Notice))).all()  # stored
            assert (notice.user_id, notice.text) == (owner.id, "VIP +79161234567")
            assert [e.event for e in events] == ["call.missed"]
            assert [d.webhook_id for d in deliveries] == [hook["id"]]
            assert f'"rule":{{"id":{rule["id"]}' in events[0].body
            assert sent == [
                (
                    [owner.id],
                    {
                        "type": "rule_notice",
                        "id": notice.id,
                        "rule_id": rule["id"],
                        "rule": "VIP missed call",
                        "text": "VIP +79161234567",
                        "contact_id": contact["id"],
                        "event": "call.missed",
                    },
                )
            ]
            # the built-in rule made the usual callback task too (one per customer per day)
            assert sorted(t.kind for t in tasks) == ["call_back", "call_back"]
            runs = await services.crm.rules.runs(rule["id"])
            assert [a["status"] for a in runs[0]["actions"]] == ["done", "done", "done"]
            assert datetime.now(UTC) - ended_at < timedelta(seconds=30)
