"""Small builders for CRM tests."""

from __future__ import annotations

import itertools
import time

from crm.access import Actor
from crm.call_records import CallStore
from crm.database import Database
from crm.models import Role
from telephony.records import CallRecord, Direction, Disposition

_ids = itertools.count(1)


def call(
    number: str,
    *,
    direction: Direction = Direction.INBOUND,
    agent: str | None = "Local/101@agents/n",
    answered: bool = True,
    ago: float = 3600.0,
) -> CallRecord:
    start = time.time() - ago
    inbound = direction == Direction.INBOUND
    return CallRecord(
        linkedid=f"{int(start)}.{next(_ids)}",
        direction=direction,
        caller_number=number if inbound else "101",
        caller_name="Caller",
        called_number="100" if inbound else number,
        queue="support" if inbound else None,
        agent_interface=agent if answered else None,
        agent_name=None,
        started_at=start,
        answered_at=start + 5 if answered else None,
        ended_at=start + 65,
        wait_seconds=5.0,
        talk_seconds=60.0 if answered else 0.0,
        disposition=Disposition.ANSWERED if answered else Disposition.ABANDONED,
    )


async def store_calls(db: Database, *records: CallRecord) -> None:
    await CallStore(db).save(list(records))


SYSTEM = Actor.system()


def actor(user_id: int, role: Role = Role.AGENT) -> Actor:
    return Actor(user_id=user_id, role=role)
