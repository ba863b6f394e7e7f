"""The built-in rules: rules Trubka ships, shown and changed with the others, never
deleted. One for now: `missed_call_callback`, the missed-call callback task of
`crm.callbacks` (one task per customer per day, to the routed manager, else the owner,
else the line's supervisor). `crm.callbacks` runs it (in the `CallsStored` consumer,
as before) and reads here whether it is enabled and its due time: `due_minutes` null
keeps each line's `callback_due_minutes` from the routing rules.

Its row is made on first use (`ensure`); with no row the rule is on with the lines'
due times — a fresh database behaves as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.rules.models import Rule

CALLBACK = "missed_call_callback"
CALLBACK_NAME = "Missed call: a callback task"
CALLBACK_EVENT = "call.missed"
# what it checks, shown read-only beside it (the conditions are the code's)
CALLBACK_SAYS = (
    "An inbound call nobody answered, from a known contact or company, on a line whose "
    "routing rules have callback_tasks on: one callback task per customer per day, to the "
    "manager the call was routed to, else the owner, else the line's supervisor."
)


CALLBACK_CONDITIONS: list[dict[str, Any]] = [
    {"field": "direction", "op": "eq", "value": "inbound"},
    {"field": "contact_id", "op": "not_empty", "value": None},
]


@dataclass(frozen=True, slots=True)
class CallbackSetting:
    enabled: bool = True
    due_minutes: int | None = None  # None: the line's callback_due_minutes


def _setting(row: Rule | None) -> CallbackSetting:
    if row is None:
        return CallbackSetting()
    minutes = None
    for action in row.actions or ():
        if action.get("type") == "callback_task":
            minutes = action.get("due_minutes")
    return CallbackSetting(bool(row.enabled), minutes)


async def callback_setting(session: AsyncSession) -> CallbackSetting:
    row = await session.scalar(select(Rule).where(Rule.builtin == CALLBACK))
    return _setting(row)


def callback_values() -> dict[str, Any]:
    stamp = datetime.now(UTC)
    return {
        "name": CALLBACK_NAME,
        "event": CALLBACK_EVENT,
        "conditions": CALLBACK_CONDITIONS,
        "actions": [{"type": "callback_task", "due_minutes": None}],
        "enabled": True,
        "builtin": CALLBACK,
        "position": 0,
        "version": 1,
        "created_at": stamp,
        "updated_at": stamp,
    }


async def ensure(session: AsyncSession) -> None:
    """The built-in rules' rows, made once (two nodes at once make one)."""
    dialect = session.get_bind().dialect.name
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    await session.execute(
        insert(Rule).values(**callback_values()).on_conflict_do_nothing(index_elements=["builtin"])
    )
