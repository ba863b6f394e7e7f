"""Outgoing webhooks end to end: a real receiver, down at first, then up, across a restart
of Trubka on the same database; signatures, exactly once by event id, order per contact."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from crm.contacts import ContactService
from crm.database import Database
from crm.events import CallsStored
from crm.hooks.calls import CallHooks
from crm.hooks.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from crm.hooks.webhooks import WebhookService
from crm.hooks.worker import DeliveryWorker, WorkerConfig, backoff
from crm.schemas import ContactCreate
from kernel.call_record import Direction
from tests.crm.kit_builders import SYSTEM, call, store_calls
from tests.kit_receiver import Received, Receiver
from tests.kit_server import InProcess
from tests.web.conftest import PASSWORD, Api
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

SECRET = "s3cret-for-the-tests-only"
FAST = {  # backoff and polling made fast (docs/integrations.md, "Settings")
    "webhook_backoff_initial": 0.05,
    "webhook_backoff_max": 0.3,
    "webhook_poll_interval": 0.02,
    "webhook_timeout": 2.0,
}


async def until(condition: Callable[[], Any], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await _value(condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _value(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


@asynccontextmanager
async def trubka(database_url: str, **settings: Any) -> AsyncIterator[Api]:
    app = build_app(load_settings(database_url=database_url, **{**FAST, **settings}))
    async with InProcess(app) as server:
        yield Api(server, app.state.services)


@asynccontextmanager
async def admin_client(api: Api, login: str) -> AsyncIterator[httpx.AsyncClient]:
    async with api.client() as client:
        response = await client.post("/api/session", json={"login": login, "password": PASSWORD})
        assert response.status_code == 200, response.text
        yield client


async def test_a_receiver_down_then_up_gets_every_event_once_across_a_restart(
    database_url: str,
) -> None:
    receiver = Receiver()
    refused_once: set[str] = set()

    def answer(request: Received) -> int:
        # the first delivery of the first three events to arrive is refused (503): they
        # must come again, with the same id
        if len(refused_once) < 3 and request.event_id not in {
            r.event_id for r in receiver.received
        }:
            refused_once.add(request.event_id)
            return 503
        return 204

    receiver.answer = answer
    sent: list[tuple[str, int]] = []  # (event type, contact id) in the order made
    async with trubka(database_url) as api:
        await api.user("boss", "admin")
        async with admin_client(api, "boss") as client:
            hook = await client.post(
                "/api/webhooks",
                json={
                    "url": receiver.url,
                    "events": [
                        "contact.created",
                        "contact.updated",
                        "deal.created",
                        "deal.stage_changed",
                    ],
                    "secret": SECRET,
                },
            )
            assert hook.status_code == 201, hook.text
            hook_id = hook.json()["id"]
            assert "secret" not in hook.json()
            contacts = []
            for n in range(3):
                made = (await client.post("/api/contacts", json={"name": f"C{n}"})).json()
                contacts.append(made)
                sent.append(("contact.created", made["id"]))
            for made in contacts:
                updated = await client.patch(
                    f"/api/contacts/{made['id']}", json={"name": "X", "version": made["version"]}
                )
                assert updated.status_code == 200, updated.text
                sent.append(("contact.updated", made["id"]))
            deal = await client.post(
                "/api/deals", json={"title": "D", "contact_id": contacts[0]["id"]}
            )
            assert deal.status_code == 201, deal.text
            sent.append(("deal.created", contacts[0]["id"]))

            async def failed_attempts() -> bool:
                items = (await client.get(f"/api/webhooks/{hook_id}/deliveries")).json()["items"]
                # the first event of each contact is retried; the later ones wait their turn
                tried = [d for d in items if len(d["attempts"]) >= 2]
                return len(items) == len(sent) and len(tried) == len(contacts)

            await until(failed_attempts)
            items = (await client.get(f"/api/webhooks/{hook_id}/deliveries")).json()["items"]
            attempt = items[-1]["attempts"][0]
            assert all(d["attempts"] == [] for d in items[: -len(contacts)])
            assert attempt["status_code"] is None and "Connect" in attempt["error"]
            assert {d["status"] for d in items} == {"pending"}
    assert receiver.received == []

    # Trubka restarted on the same database; the receiver comes up after a while
    async with trubka(database_url) as api, admin_client(api, "boss") as client:
        pipeline = (await client.get("/api/pipelines")).json()["items"][0]
        deal_id = deal.json()["id"]
        moved = await client.patch(
            f"/api/deals/{deal_id}",
            json={"stage_id": pipeline["stages"][1]["id"], "version": deal.json()["version"]},
        )
        assert moved.status_code == 200, moved.text
        sent.append(("deal.stage_changed", contacts[0]["id"]))
        await receiver.start()
        try:
            await until(lambda: len({r.event_id for r in receiver.delivered()}) == len(sent))

            async def all_delivered() -> bool:
                items = (await client.get(f"/api/webhooks/{hook_id}/deliveries")).json()
                return {d["status"] for d in items["items"]} == {"delivered"}

            await until(all_delivered)
            await asyncio.sleep(0.2)  # nothing more comes
        finally:
            await receiver.stop()
        log = (await client.get(f"/api/webhooks/{hook_id}/deliveries")).json()["items"]
        for delivery in log:  # each attempt is in the log: refused, then 503, then 204
            codes = [a["status_code"] for a in delivery["attempts"]]
            assert codes[-1] == 204 and all(c in (None, 503) for c in codes[:-1])
            assert (503 in codes) == (delivery["event_id"] in refused_once)
            assert delivery["finished_at"] and delivery["next_at"] is None
        listed = (await client.get("/api/webhooks")).json()["items"][0]
        assert listed["pending"] == 0 and listed["failing_since"] is None

    delivered = receiver.delivered()
    ids = [r.event_id for r in delivered]
    assert len(ids) == len(set(ids)) == len(sent)  # each event exactly once
    assert refused_once  # and some came twice: a refused attempt, then the same id again
    for event_id in refused_once:
        assert [r.status for r in receiver.received if r.event_id == event_id][-1] == 204
    for request in receiver.received:
        assert request.signed_with(SECRET)
        body = request.json
        assert body["id"] == request.event_id
        assert set(body) == {"id", "event", "occurred_at", "data"}
        assert body["occurred_at"].endswith("Z")

    # the order per contact is the order the events were made in
    def contact_of(body: dict[str, Any]) -> int:
        data = body["data"]
        return int(data["id"] if body["event"].startswith("contact.") else data["contact_id"])

    for contact_id in {c for _, c in sent}:
        made = [kind for kind, c in sent if c == contact_id]
        got = [r.json["event"] for r in delivered if contact_of(r.json) == contact_id]
        assert got == made, (contact_id, got, made)
    created = next(r.json for r in delivered if r.json["event"] == "contact.created")
    assert set(created["data"]) >= {"id", "name", "phones", "version"}
    assert "editable" not in created["data"]


async def test_a_webhook_failing_for_the_disable_time_is_disabled_and_audited(
    database_url: str,
) -> None:
    receiver = Receiver()  # never started: every attempt is refused
    async with trubka(database_url, webhook_disable_after=1.0) as api:
        await api.user("root", "admin")
        async with admin_client(api, "root") as client:
            hook = (
                await client.post(
                    "/api/webhooks",
                    json={"url": receiver.url, "events": ["contact.created"], "secret": SECRET},
                )
            ).json()
            await client.post("/api/contacts", json={"name": "A"})

            async def disabled() -> bool:
                return not (await client.get(f"/api/webhooks/{hook['id']}")).json()["enabled"]

            await until(disabled)
            view = (await client.get(f"/api/webhooks/{hook['id']}")).json()
            assert view["disabled_reason"] == "failing for a day"
            entries = await api.services.supervisor.audit.list(action="webhook_disabled")
            assert entries["total"] == 1
            assert receiver.url in entries["entries"][0]["detail"]
            # enabling again clears the failure; the pending delivery is still there
            enabled = await client.patch(f"/api/webhooks/{hook['id']}", json={"enabled": True})
            assert enabled.json()["enabled"] and enabled.json()["failing_since"] is None
            deliveries = (await client.get(f"/api/webhooks/{hook['id']}/deliveries")).json()
            assert deliveries["items"][0]["status"] == "pending"


async def test_webhook_input_is_checked_and_only_admins_manage_them(api: Api) -> None:
    async with api.signed_in("sup", "supervisor") as (client, _):
        denied = await client.post(
            "/api/webhooks", json={"url": "http://x/", "events": ["call.missed"], "secret": SECRET}
        )
        assert denied.status_code == 403
    async with api.signed_in("adm", "admin") as (client, _):
        cases = [
            ({"url": "ftp://x/", "events": ["call.missed"], "secret": SECRET}, "url"),
            ({"url": "http://x/", "events": [], "secret": SECRET}, "events"),
            ({"url": "http://x/", "events": ["call.nope"], "secret": SECRET}, "events.0"),
            ({"url": "http://x/", "events": ["call.missed"], "secret": "short"}, "secret"),
        ]
        for body, field in cases:
            response = await client.post("/api/webhooks", json=body)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
        russian = await client.post(
            "/api/webhooks", json={"url": "ftp://x/", "events": ["call.missed"], "secret": SECRET}
        )
        assert "адрес" in russian.json()["message"]  # the admin's language (ru by default)
        made = await client.post(
            "/api/webhooks", json={"url": "http://x/", "events": ["call.missed"], "secret": SECRET}
        )
        hook_id = made.json()["id"]
        assert (await client.delete(f"/api/webhooks/{hook_id}")).status_code == 204
        gone = await client.get(f"/api/webhooks/{hook_id}")
        assert gone.status_code == 404


async def test_stored_calls_become_call_events_with_the_api_record(api: Api) -> None:
    services: Services = api.services
    await services.crm.webhooks.create(
        "http://127.0.0.1:9/none", ["call.missed", "call.answered", "call.ended"], SECRET, None
    )
    missed = call("+74951112233", answered=False)
    answered = call("+74951112244")
    outbound = call("+74951112255", direction=Direction.OUTBOUND, answered=False)
    await store_calls(services.db, missed, answered, outbound)
    hooks = CallHooks(services.db, services.crm.directory)
    batch = CallsStored((missed, answered, outbound))
    await hooks.on_calls_stored(batch)
    await hooks.on_calls_stored(batch)  # the same batch again queues nothing twice
    async with services.db.session() as session:
        events = (await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))).all()
    kinds = {(json.loads(e.body)["data"]["linkedid"], e.event) for e in events}
    assert kinds == {
        (missed.linkedid, "call.ended"),
        (missed.linkedid, "call.missed"),
        (answered.linkedid, "call.ended"),
        (answered.linkedid, "call.answered"),
        (outbound.linkedid, "call.ended"),
    }
    async with api.signed_in("callview", "admin") as (client, _):
        body = json.loads(next(e.body for e in events if e.event == "call.missed"))
        from_api = (await client.get(f"/api/calls/{body['data']['id']}")).json()
        assert body["data"] == {**from_api, "recording": None}


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    config = WorkerConfig(backoff_initial=1.0, backoff_max=8.0)
    for attempts, full in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0)):
        waits = [backoff(config, attempts) for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits)
        assert len(set(waits)) > 1  # jittered


async def test_two_workers_on_one_database_share_the_work_without_duplicates(
    database_url: str,
) -> None:
    """Two nodes' workers (each its own engine) claim from one outbox: every event once."""
    receiver = Receiver()
    await receiver.start()
    dbs = [Database(database_url), Database(database_url)]
    config = WorkerConfig(backoff_initial=0.05, backoff_max=0.2, poll_interval=0.01, batch=3)
    workers = [DeliveryWorker(db, config) for db in dbs]
    try:
        await WebhookService(dbs[0]).create(
            receiver.url, ["contact.created", "contact.updated"], SECRET, None
        )
        contacts = ContactService(dbs[0])
        for n in range(30):
            await contacts.create(ContactCreate(name=f"N{n}"), SYSTEM)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        await until(lambda: len(receiver.delivered()) >= 30)
        await asyncio.sleep(0.2)
        for worker in workers:
            await worker.stop()
        await asyncio.gather(*tasks)
    finally:
        await receiver.stop()
        for db in dbs:
            await db.dispose()
    ids = [r.event_id for r in receiver.delivered()]
    assert len(ids) == len(set(ids)) == 30


async def test_finished_events_are_purged_after_the_keep_days(database_url: str) -> None:
    db = Database(database_url)
    try:
        await WebhookService(db).create("http://127.0.0.1:9/x", ["contact.created"], SECRET, None)
        contacts = ContactService(db)
        for n in range(3):
            await contacts.create(ContactCreate(name=f"P{n}"), SYSTEM)
        async with db.transaction() as session:
            ids = list(await session.scalars(select(WebhookEvent.id).order_by(WebhookEvent.id)))
            old = datetime.now(UTC) - timedelta(days=8)
            await session.execute(update(WebhookEvent).values(occurred_at=old))
            # the first is delivered, the second given up, the third still pending
            for event_id, status in zip(ids, ("delivered", "failed"), strict=False):
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.event_id == event_id)
                    .values(status=status)
                )
            delivery = await session.scalar(
                select(WebhookDelivery.id).where(WebhookDelivery.event_id == ids[0])
            )
            session.add(
                WebhookAttempt(delivery_id=delivery, at=old, status_code=200, duration_ms=1)
            )
        assert await DeliveryWorker(db, WorkerConfig(keep_days=7)).purge() == 2
        async with db.session() as session:
            left = list(await session.scalars(select(WebhookEvent.id)))
            attempts = await session.scalar(select(func.count()).select_from(WebhookAttempt))
        assert left == [ids[2]] and attempts == 0
    finally:
        await db.dispose()


async def test_a_missed_call_on_the_bus_reaches_the_receiver(database_url: str) -> None:
    """The wiring: CallsStored → linking → call webhooks → the worker → a real socket."""
    receiver = Receiver()
    await receiver.start()
    try:
        async with trubka(database_url) as api:
            services: Services = api.services
            await services.crm.webhooks.create(receiver.url, ["call.missed"], SECRET, None)
            missed = call("+74957654321", answered=False)
            await store_calls(services.db, missed)
            services.bus.publish([CallsStored((missed,))])
            await until(lambda: len(receiver.delivered()) == 1)
    finally:
        await receiver.stop()
    got = receiver.delivered()[0]
    assert got.signed_with(SECRET)
    assert got.json["event"] == "call.missed"
    assert got.json["data"]["linkedid"] == missed.linkedid
    assert got.json["data"]["direction"] == "inbound"
    assert got.json["data"]["answered_at"] is None


async def test_a_committed_event_wakes_the_worker_without_waiting_for_the_poll(
    database_url: str,
) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with trubka(database_url, webhook_poll_interval=60.0) as api:
            await api.crm.webhooks.create(receiver.url, ["contact.created"], SECRET, None)
            await asyncio.sleep(0.1)  # the worker is waiting now (its poll: a minute)
            started = time.monotonic()
            await api.crm.contacts.create(ContactCreate(name="Quick"), SYSTEM)
            await until(lambda: len(receiver.delivered()) == 1, timeout=10)
            assert time.monotonic() - started < 10
    finally:
        await receiver.stop()
