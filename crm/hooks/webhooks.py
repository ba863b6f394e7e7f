"""The admin's webhooks: create, list, enable or disable, delete, and the delivery log.

Error messages are plain English msgids (no values inside), so the web layer can show
them in the user's language (web/locale/ru/LC_MESSAGES/hooks.po).
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from crm.database import Database
from crm.errors import InvalidInput, NotFound
from crm.hooks.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from crm.hooks.outbox import EVENT_TYPES, wake_after_commit

MIN_SECRET = 16
MAX_SECRET = 256
MAX_URL = 2000


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def webhook_json(hook: Webhook, pending: int = 0) -> dict[str, Any]:
    """A webhook as the API shows it (never its secret)."""
    return {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.events or []),
        "enabled": hook.enabled,
        "created_at": iso(hook.created_at),
        "failing_since": iso(hook.failing_since),
        "disabled_at": iso(hook.disabled_at),
        "disabled_reason": hook.disabled_reason,
        "pending": pending,
    }


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("the URL must be an http:// or https:// address", field="url")
    return url


def check_events(events: builtins.list[str]) -> builtins.list[str]:
    if not events:
        raise InvalidInput("choose at least one event", field="events")
    for index, event in enumerate(events):
        if event not in EVENT_TYPES:
            raise InvalidInput("unknown event type", field=f"events.{index}")
    return list(dict.fromkeys(events))


def check_secret(secret: str) -> str:
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        raise InvalidInput("the secret must be 16 to 256 characters long", field="secret")
    return secret


class WebhookService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, url: str, events: builtins.list[str], secret: str, created_by_id: int | None
    ) -> dict[str, Any]:
        hook = Webhook(
            url=check_url(url),
            events=check_events(events),
            secret=check_secret(secret),
            enabled=True,
            created_at=datetime.now(UTC),
            created_by_id=created_by_id,
        )
        async with self.db.transaction() as session:
            session.add(hook)
            await session.flush()
            return webhook_json(hook)

    async def list(self) -> builtins.list[dict[str, Any]]:
        async with self.db.session() as session:
            hooks = (await session.scalars(select(Webhook).order_by(Webhook.id))).all()
            counts: dict[int, int] = {
                row[0]: int(row[1])
                for row in (
                    await session.execute(
                        select(WebhookDelivery.webhook_id, func.count())
                        .where(WebhookDelivery.status == "pending")
                        .group_by(WebhookDelivery.webhook_id)
                    )
                ).all()
            }
            return [webhook_json(h, int(counts.get(h.id, 0))) for h in hooks]

    async def get(self, hook_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            hook = await session.get(Webhook, hook_id)
            if hook is None:
                raise NotFound("no such webhook")
            return webhook_json(hook)

    async def set_enabled(self, hook_id: int, enabled: bool) -> dict[str, Any]:
        """Enable (clears the failure state; pending deliveries resume) or disable."""
        async with self.db.transaction() as session:
            hook = await session.get(Webhook, hook_id)
            if hook is None:
                raise NotFound("no such webhook")
            hook.enabled = enabled
            if enabled:
                wake_after_commit(session)  # its pending deliveries resume now
                hook.failing_since = None
                hook.disabled_at = None
                hook.disabled_reason = None
            elif hook.disabled_at is None:
                hook.disabled_at = datetime.now(UTC)
                hook.disabled_reason = "disabled by an admin"
            await session.flush()
            return webhook_json(hook)

    async def delete(self, hook_id: int) -> None:
        async with self.db.transaction() as session:
            hook = await session.get(Webhook, hook_id)
            if hook is None:
                raise NotFound("no such webhook")
            # deliveries and attempts go with it (ON DELETE CASCADE; SQLite: by hand)
            ids = select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == hook_id)
            await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
            await session.execute(
                delete(WebhookDelivery).where(WebhookDelivery.webhook_id == hook_id)
            )
            await session.delete(hook)

    async def deliveries(
        self, hook_id: int, *, limit: int = 100, status: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The newest deliveries of a webhook, each with its attempts (oldest first)."""
        async with self.db.session() as session:
            if await session.get(Webhook, hook_id) is None:
                raise NotFound("no such webhook")
            query = (
                select(WebhookDelivery, WebhookEvent.uid, WebhookEvent.event)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(WebhookDelivery.webhook_id == hook_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
            if status is not None:
                query = query.where(WebhookDelivery.status == status)
            rows = (await session.execute(query)).all()
            ids = [row[0].id for row in rows]
            attempts: dict[int, builtins.list[dict[str, Any]]] = {i: [] for i in ids}
            if ids:
                for a in (
                    await session.scalars(
                        select(WebhookAttempt)
                        .where(WebhookAttempt.delivery_id.in_(ids))
                        .order_by(WebhookAttempt.id)
                    )
                ).all():
                    attempts[a.delivery_id].append(
                        {
                            "at": iso(a.at),
                            "status_code": a.status_code,
                            "error": a.error,
                            "duration_ms": a.duration_ms,
                        }
                    )
            return [
                {
                    "id": d.id,
                    "event_id": uid,
                    "event": event,
                    "status": d.status,
                    "attempts": attempts[d.id],
                    "created_at": iso(d.created_at),
                    "next_at": iso(d.next_at) if d.status == "pending" else None,
                    "finished_at": iso(d.finished_at),
                }
                for d, uid, event in rows
            ]
