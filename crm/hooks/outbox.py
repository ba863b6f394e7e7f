"""Writing webhook events into the outbox, in the transaction that made them.

`emit(session, "contact.created", view, contact_id=7)` stores the event (its id, type,
time and the exact JSON body every subscriber will get) and one pending delivery per
enabled webhook subscribed to the type, in the caller's session: the event is stored if
and only if the change it tells of is committed. With no subscriber nothing is written.
The delivery workers of this process (`crm.hooks.worker`, listed in `WAKERS`) are woken
once the transaction commits; others find the rows at their next poll.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm.hooks.models import PENDING, Webhook, WebhookDelivery, WebhookEvent
from crm.rules import record as rule_events

WAKERS: list[Callable[[], None]] = []  # the delivery workers of this process (their `wake`)


def _wake_workers(_session: Session) -> None:
    _session.info.pop(WAKE_KEY, None)
    for wake in WAKERS:
        wake()


WAKE_KEY = "webhook_wake"

EVENT_TYPES: tuple[str, ...] = (
    "call.missed",
    "call.answered",
    "call.ended",
    "contact.created",
    "contact.updated",
    "deal.created",
    "deal.stage_changed",
)


def order_key(contact_id: int | None) -> str:
    """Deliveries of one webhook with the same key go out in the order they were made."""
    return f"contact:{contact_id}" if contact_id is not None else ""


def event_body(uid: str, event: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    at = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"id": uid, "event": event, "occurred_at": at, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


async def subscriptions(session: AsyncSession) -> dict[str, list[int]]:
    """The enabled webhooks of every event type (one query)."""
    rows = (await session.execute(select(Webhook.id, Webhook.events).where(Webhook.enabled))).all()
    return {event: [r.id for r in rows if event in (r.events or ())] for event in EVENT_TYPES}


async def subscribers(session: AsyncSession, event: str) -> list[int]:
    return (await subscriptions(session))[event]


async def emit(
    session: AsyncSession,
    event: str,
    data: dict[str, Any],
    *,
    contact_id: int | None = None,
    hooks: list[int] | None = None,
    uid: str | None = None,
) -> str | None:
    """Queue `event` for its subscribers in this session; its id, or None (nobody listens).
    `hooks`: the subscribers when the caller already looked them up; `uid`: the event's
    id when the caller derives it (default: a random UUID)."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    if not event.startswith("call."):  # the triggers' queue (calls: crm.rules.calls)
        await rule_events.record(session, event, data, contact_id=contact_id)
    targets = await subscribers(session, event) if hooks is None else hooks
    if not targets:
        return None
    stamp = datetime.now(UTC)
    uid = uid or str(uuid.uuid4())
    row = WebhookEvent(
        uid=uid,
        event=event,
        occurred_at=stamp,
        body=event_body(uid, event, stamp, {k: v for k, v in data.items() if k != "editable"}),
    )
    session.add(row)
    await session.flush()
    key = order_key(contact_id)
    session.add_all(
        WebhookDelivery(
            webhook_id=hook_id,
            event_id=row.id,
            order_key=key,
            status=PENDING,
            attempts=0,
            created_at=stamp,
            next_at=stamp,
        )
        for hook_id in targets
    )
    await session.flush()
    wake_after_commit(session)
    return uid


def wake_after_commit(session: AsyncSession) -> None:
    """The delivery workers look at once when this session's transaction commits."""
    if not session.info.get(WAKE_KEY):
        session.info[WAKE_KEY] = True
        sa_event.listen(session.sync_session, "after_commit", _wake_workers, once=True)
