"""Putting events into the rules' durable queue (`rule_events`), in the caller's
transaction: the event is there if and only if the change it tells of is committed.

`crm.hooks.outbox.emit` calls :func:`record` for every contact and deal event (and the
events a rule's own actions cause); call events come from `crm.rules.calls`. Nothing is
written when no enabled rule listens to the type. An event caused by a rule's action
carries the depth of its chain (`session.info[DEPTH_KEY]`, set by the worker).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm.rules.fields import EVENT_TYPES, now
from crm.rules.models import PENDING, Rule, RuleEvent, table_of

DEPTH_KEY = "rule_depth"
WAKE_KEY = "rule_wake"
WAKERS: list[Callable[[], None]] = []  # the rule workers of this process (their `wake`)
# told when a rule changed here (`trubka.rules_process`: the rules' own process reads them)
CHANGE_WATCHERS: list[Callable[[], None]] = []
_changes = 0  # rules created, changed or deleted in this process (`rules_changed`)


def rules_changed() -> None:
    """A rule was created, changed or deleted (committed): the workers read them again."""
    global _changes
    _changes += 1
    for watcher in CHANGE_WATCHERS:
        watcher()


def rule_changes() -> int:
    return _changes


def _wake(_session: Session) -> None:
    _session.info.pop(WAKE_KEY, None)
    for wake in WAKERS:
        wake()


async def listened(session: AsyncSession, events: tuple[str, ...] | list[str]) -> set[str]:
    """Which of these event types an enabled (non-built-in) rule listens to."""
    rows = await session.scalars(
        select(Rule.event)
        .where(Rule.enabled.is_(True), Rule.builtin.is_(None), Rule.event.in_(list(events)))
        .distinct()
    )
    return set(rows.all())


async def record(
    session: AsyncSession,
    event: str,
    data: dict[str, Any],
    *,
    contact_id: int | None = None,
    uid: str | None = None,
    occurred_at: datetime | None = None,
    checked: bool = False,
) -> bool:
    """Queue `event` for the rules (if any listens; `checked`: the caller knows one
    does). True when it was queued now (False: nobody listens, or queued before)."""
    if event not in EVENT_TYPES:
        return False
    if not checked and event not in await listened(session, [event]):
        return False
    bind = session.get_bind()
    insert = sqlite_insert if bind.dialect.name == "sqlite" else pg_insert
    result = await session.execute(
        insert(RuleEvent)
        .values(
            uid=uid or str(uuid.uuid4()),
            event=event,
            occurred_at=occurred_at or now(),
            data={k: v for k, v in data.items() if k != "editable"},
            contact_id=contact_id,
            depth=int(session.info.get(DEPTH_KEY, 0)),
            status=PENDING,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["uid"])
    )
    queued = (getattr(result, "rowcount", 0) or 0) > 0
    if queued:
        _wake_after_commit(session)
    return queued


def _wake_after_commit(session: AsyncSession) -> None:
    if not session.info.get(WAKE_KEY):
        session.info[WAKE_KEY] = True
        sa_event.listen(session.sync_session, "after_commit", _wake, once=True)


@dataclass(frozen=True, slots=True)
class Queued:
    """One event for `record_many`."""

    event: str
    data: dict[str, Any]
    contact_id: int | None
    uid: str
    occurred_at: datetime


async def record_many(session: AsyncSession, events: list[Queued]) -> None:
    """Queue events a rule listens to (the caller checked) in one statement; an id
    queued before is skipped."""
    rows = [
        {
            "uid": e.uid,
            "event": e.event,
            "occurred_at": e.occurred_at,
            "data": {k: v for k, v in e.data.items() if k != "editable"},
            "contact_id": e.contact_id,
            "depth": int(session.info.get(DEPTH_KEY, 0)),
            "status": PENDING,
            "attempts": 0,
        }
        for e in events
        if e.event in EVENT_TYPES
    ]
    if not rows:
        return
    bind = session.get_bind()
    insert = sqlite_insert if bind.dialect.name == "sqlite" else pg_insert
    table = table_of(RuleEvent)
    await session.execute(insert(table).on_conflict_do_nothing(index_elements=["uid"]), rows)
    _wake_after_commit(session)
