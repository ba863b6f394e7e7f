"""`CallsStored` → the call webhooks: `call.ended` for every stored call, `call.answered`
for an answered one, `call.missed` for an inbound call nobody answered. `data` is the
call record as `GET /api/calls/{id}` returns it (with its timeline). Runs after contact
linking (same consumer), so `contact_id` is known and orders the deliveries.

Each call's event id is derived from the call (uuid5 of the type and the call's id): a
batch seen twice queues nothing twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm.call_records import CallRow
from crm.database import Database
from crm.events import CallsStored
from crm.hooks.models import WebhookEvent
from crm.hooks.outbox import emit, subscriptions
from crm.listeners import Kept
from crm.timeline import call_json
from crm.users import UserDirectory
from kernel.call_record import Direction, Disposition

CALL_EVENTS = ("call.ended", "call.answered", "call.missed")
NAMESPACE = uuid.UUID("6f1d2c8e-2b0b-4a53-9a54-7d1b7f0c9a11")


def call_events(row: Any) -> list[str]:
    kinds = ["call.ended"]
    if row.disposition == Disposition.ANSWERED:
        kinds.append("call.answered")
    elif row.direction == Direction.INBOUND:
        kinds.append("call.missed")
    return kinds


class CallHooks:
    def __init__(self, db: Database, directory: UserDirectory) -> None:
        self.db = db
        self.directory = directory
        self.hooks = Kept()  # the enabled webhooks per event type (`crm.listeners`)

    async def on_calls_stored(self, event: CallsStored) -> None:
        linkedids = [r.linkedid for r in event.records]
        if not linkedids:
            return
        try:
            await self._queue(linkedids)
        except IntegrityError:
            # A webhook deleted on another node since its list was kept (its `lc` not
            # heard yet): its deliveries break their foreign key. Read the list again.
            self.hooks.forget()
            await self._queue(linkedids)

    async def _queue(self, linkedids: list[str]) -> None:
        async with self.db.transaction() as session:
            hooks = await self.hooks.get(session, subscriptions)
            if not any(hooks[kind] for kind in CALL_EVENTS):
                return
            rows = (
                await session.scalars(
                    select(CallRow).where(CallRow.linkedid.in_(linkedids)).order_by(CallRow.id)
                )
            ).all()
            wanted = [
                (row, kind, str(uuid.uuid5(NAMESPACE, f"{kind}:{row.id}")))
                for row in rows
                for kind in call_events(row)
                if hooks[kind]
            ]
            queued = set(
                (
                    await session.scalars(
                        select(WebhookEvent.uid).where(
                            WebhookEvent.uid.in_([uid for _, _, uid in wanted])
                        )
                    )
                ).all()
            )
            agents, _ = await self.directory.snapshot()
            views: dict[int, dict[str, Any]] = {}
            for row, kind, uid in wanted:
                if uid in queued:
                    continue
                data = views.get(row.id)
                if data is None:
                    data = views[row.id] = call_json(row, agents)
                    data["timeline"] = list(row.timeline or [])
                await emit(
                    session, kind, data, contact_id=row.contact_id, hooks=hooks[kind], uid=uid
                )
