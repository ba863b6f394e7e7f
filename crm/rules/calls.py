"""`CallsStored` → the call events into the rules' queue: `call.ended` for every stored
call, `call.answered` for an answered one, `call.missed` for an inbound call nobody
answered (`crm.hooks.calls.call_events`). Runs after contact linking (same consumer), so
`contact_id` is known. The data is the call as `GET /api/calls/{id}` returns it, plus
`routed_agent` (whom the routing sent it to first). Each event's id is derived from the
call: a batch seen twice queues nothing twice. Only the types an enabled rule listens to
are queued, in one statement and transaction per batch — on the `crm-after-store`
consumer, after the call writer committed: the AMI reader and the pop never wait for it.
"""

from __future__ import annotations

import uuid
from functools import partial

from sqlalchemy import select

from crm.call_records import CallRow
from crm.database import Database
from crm.events import CallsStored
from crm.hooks.calls import CALL_EVENTS, call_events
from crm.listeners import Kept
from crm.rules.record import Queued, listened, record_many
from crm.timeline import call_json
from crm.users import UserDirectory

NAMESPACE = uuid.UUID("9a3f7c1e-5d2b-4e8a-b6c4-2f1e0d9c8b7a")


def call_event_uid(kind: str, call_id: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{call_id}"))


class CallRuleEvents:
    def __init__(self, db: Database, directory: UserDirectory) -> None:
        self.db = db
        self.directory = directory
        self.listened = Kept()  # the call events an enabled rule listens to (`crm.listeners`)

    async def on_calls_stored(self, event: CallsStored) -> None:
        records = {r.linkedid: r for r in event.records}
        if not records:
            return
        async with self.db.transaction() as session:
            wanted = await self.listened.get(session, partial(listened, events=CALL_EVENTS))
            if not wanted:
                return
            rows = (
                await session.scalars(
                    select(CallRow).where(CallRow.linkedid.in_(list(records))).order_by(CallRow.id)
                )
            ).all()
            agents, _ = await self.directory.snapshot()
            queued: list[Queued] = []
            for row in rows:
                kinds = [k for k in call_events(row) if k in wanted]
                if not kinds:
                    continue
                data = call_json(row, agents)
                data["routed_agent"] = records[row.linkedid].routed_agent
                queued += [
                    Queued(kind, data, row.contact_id, call_event_uid(kind, row.id), row.ended_at)
                    for kind in kinds
                ]
            await record_many(session, queued)  # one statement for the batch
