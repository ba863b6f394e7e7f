"""One history per contact or company: calls, notes, tasks and deal changes, newest first.

Pagination is by cursor: each page ends with `next`, an opaque string naming the last
item's (time, kind, id); the next page holds items strictly older in that order, so
items added meanwhile never shift a page. Each source is read with an index on
(subject, time) and a LIMIT, then merged.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, defer

from crm.call_records import CallRow
from crm.database import Database
from crm.deals import deal_event_views
from crm.errors import InvalidInput, NotFound
from crm.models import Company, Contact, DealEvent, Note, Task
from crm.notes import note_views
from crm.tasks import task_views
from crm.users import UserDirectory
from routing.facts import AgentRef

KINDS = ("call", "note", "task", "deal")  # rank = index: the tie-break order within one instant
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Cursor:
    at: datetime
    rank: int
    id: int

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.rank}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, rank, ident = raw.split("|")
            cursor = cls(datetime.fromisoformat(at), int(rank), int(ident))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput("this timeline cursor is not valid", field="before") from exc
        if cursor.at.tzinfo is None or not 0 <= cursor.rank < len(KINDS):
            raise InvalidInput("this timeline cursor is not valid", field="before")
        return cursor


def _older(
    at: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[int],
    rank: int,
    cursor: Cursor | None,
) -> ColumnElement[bool] | None:
    if cursor is None:
        return None
    if rank < cursor.rank:
        return at <= cursor.at
    if rank > cursor.rank:
        return at < cursor.at
    return or_(at < cursor.at, and_(at == cursor.at, ident < cursor.id))


def agent_json(ref: AgentRef | None) -> dict[str, Any] | None:
    return {"id": ref.user_id, "name": ref.name} if ref is not None else None


def call_json(row: CallRow, agents: dict[str, AgentRef]) -> dict[str, Any]:
    from crm.users import interface_key

    data = row.to_json()
    data["company_id"] = row.company_id
    data["agent"] = (
        agent_json(agents.get(interface_key(row.agent_interface))) if row.agent_interface else None
    )
    data["recording"] = None  # filled by the recordings feature
    return data


class TimelineService:
    def __init__(self, db: Database, directory: UserDirectory) -> None:
        self.db = db
        self.directory = directory

    async def contact(
        self, contact_id: int, *, before: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        async with self.db.session() as session:
            if await session.get(Contact, contact_id) is None:
                raise NotFound(f"contact {contact_id} not found")
            return await self.page(session, "contact", contact_id, before=before, limit=limit)

    async def company(
        self, company_id: int, *, before: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        async with self.db.session() as session:
            if await session.get(Company, company_id) is None:
                raise NotFound(f"company {company_id} not found")
            return await self.page(session, "company", company_id, before=before, limit=limit)

    async def page(
        self,
        session: AsyncSession,
        subject: str,
        subject_id: int,
        *,
        before: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        cursor = Cursor.decode(before) if before else None
        # limit + 1 from each source: if any has more, the merged list is longer than a page
        of_contact = subject == "contact"

        def where(model: Any, at: Any, rank: int) -> list[Any]:
            owner = model.contact_id if of_contact else model.company_id
            clauses = [owner == subject_id]
            older = _older(at, model.id, rank, cursor)
            if older is not None:
                clauses.append(older)
            return clauses

        calls = list(
            (
                await session.scalars(
                    select(CallRow)
                    .options(defer(CallRow.timeline))
                    .where(*where(CallRow, CallRow.started_at, 0))
                    .order_by(CallRow.started_at.desc(), CallRow.id.desc())
                    .limit(limit + 1)
                )
            ).all()
        )
        notes = list(
            (
                await session.scalars(
                    select(Note)
                    .where(*where(Note, Note.created_at, 1))
                    .order_by(Note.created_at.desc(), Note.id.desc())
                    .limit(limit + 1)
                )
            ).all()
        )
        tasks = list(
            (
                await session.scalars(
                    select(Task)
                    .where(*where(Task, Task.created_at, 2))
                    .order_by(Task.created_at.desc(), Task.id.desc())
                    .limit(limit + 1)
                )
            ).all()
        )
        events = list(
            (
                await session.scalars(
                    select(DealEvent)
                    .where(*where(DealEvent, DealEvent.at, 3))
                    .order_by(DealEvent.at.desc(), DealEvent.id.desc())
                    .limit(limit + 1)
                )
            ).all()
        )
        merged: list[tuple[datetime, int, int, Any]] = (
            [(c.started_at, 0, c.id, c) for c in calls]
            + [(n.created_at, 1, n.id, n) for n in notes]
            + [(t.created_at, 2, t.id, t) for t in tasks]
            + [(e.at, 3, e.id, e) for e in events]
        )
        merged.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
        more = len(merged) > limit
        merged = merged[:limit]
        agents, _ = await self.directory.snapshot()
        note_json = {
            n["id"]: n for n in await note_views(session, [m[3] for m in merged if m[1] == 1])
        }
        task_json = {
            t["id"]: t for t in await task_views(session, [m[3] for m in merged if m[1] == 2])
        }
        event_json = {
            e["id"]: e for e in await deal_event_views(session, [m[3] for m in merged if m[1] == 3])
        }
        items = []
        for at, rank, ident, obj in merged:
            item: dict[str, Any] = {
                "kind": KINDS[rank],
                "id": ident,
                "at": at.isoformat(timespec="milliseconds"),
            }
            if rank == 0:
                item["call"] = call_json(obj, agents)
            elif rank == 1:
                item["note"] = note_json[ident]
            elif rank == 2:
                item["task"] = task_json[ident]
            else:
                item["deal_event"] = event_json[ident]
            items.append(item)
        last = merged[-1] if merged else None
        return {
            "items": items,
            "next": Cursor(last[0], last[1], last[2]).encode() if more and last else None,
        }
