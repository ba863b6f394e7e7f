"""A test event for one webhook ("send test event" on the admin page): a `webhook.test`
event queued for that webhook alone, delivered, retried and logged like any other, so
the admin sees in the delivery log whether the receiver answers and checks signatures.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from crm.database import Database
from crm.errors import NotFound
from crm.hooks.models import PENDING, Webhook, WebhookDelivery, WebhookEvent
from crm.hooks.outbox import WAKERS, event_body

TEST_EVENT = "webhook.test"


async def send_test_event(db: Database, hook_id: int, *, user_id: int | None = None) -> str:
    """Queue a `webhook.test` event for this webhook only; its event id."""
    stamp = datetime.now(UTC)
    uid = str(uuid.uuid4())
    async with db.transaction() as session:
        hook = await session.get(Webhook, hook_id)
        if hook is None:
            raise NotFound("no such webhook")
        data = {"webhook_id": hook.id, "url": hook.url, "sent_by_id": user_id, "test": True}
        body = event_body(uid, TEST_EVENT, stamp, data)
        event = WebhookEvent(uid=uid, event=TEST_EVENT, occurred_at=stamp, body=body)
        session.add(event)
        await session.flush()
        session.add(
            WebhookDelivery(
                webhook_id=hook.id,
                event_id=event.id,
                order_key="",
                status=PENDING,
                attempts=0,
                created_at=stamp,
                next_at=stamp,
            )
        )
    for wake in WAKERS:
        wake()
    return uid
