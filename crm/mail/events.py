"""`email.received` for the triggers: a letter the poller stores from a known contact is
queued for the rules (`crm.rules.record`) in the transaction that stores it, so the
event is there if and only if the letter is (docs/integrations.md, "Triggers").

One event per letter kept (a letter concerning two contacts is kept twice, one event
each); its id is derived from the letter's, so it is queued once. The data is the letter
as the API gives it (its text cut to `MAX_TEXT` characters) with `mailbox` (the
mailbox's address) and `has_attachments`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.mail.models import INBOUND, Letter
from crm.mail.store import letter_views
from crm.rules.record import listened, record

EVENT = "email.received"
NAMESPACE = uuid.UUID("0e3f8b52-7c1a-4d69-a2b4-6f9d1c3e5a70")
MAX_TEXT = 4000


def event_data(view: dict[str, Any], mailbox: str) -> dict[str, Any]:
    return {
        **view,
        "text": (view.get("text") or "")[:MAX_TEXT],
        "mailbox": mailbox,
        "has_attachments": bool(view.get("attachments")),
    }


async def record_received(session: AsyncSession, mailbox: str, letter_ids: list[int]) -> int:
    """Queue `email.received` for the inbound letters just stored (when a rule listens).
    How many were queued."""
    if not letter_ids or not await listened(session, [EVENT]):
        return 0
    rows = (
        await session.scalars(
            select(Letter)
            .where(Letter.id.in_(letter_ids), Letter.direction == INBOUND)
            .order_by(Letter.id)
        )
    ).all()
    queued = 0
    for row, view in zip(rows, await letter_views(session, rows), strict=True):
        queued += await record(
            session,
            EVENT,
            event_data(view, mailbox),
            contact_id=row.contact_id,
            uid=str(uuid.uuid5(NAMESPACE, f"letter:{row.id}")),
            checked=True,
        )
    return queued
