"""One history per contact or company: calls, notes, tasks, deal changes and letters,
newest first.

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
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from crm.call_records import CallRow
from crm.companies import COMPANIES
from crm.contacts import CONTACTS
from crm.database import Database
from crm.deals import deal_event_views
from crm.errors import InvalidInput
from crm.mail.models import Letter
from crm.mail.store import letter_views
from crm.models import DealEvent, Note, Task
from crm.notes import note_views
from crm.tasks import task_views
from crm.users import UserDirectory
from kernel.agents import agent_key
from kernel.call_record import record_json
from routing.facts import AgentRef

KINDS = (
    "call",
    "note",
    "task",
    "deal",
    "letter",
)  # rank = index: the tie-break order within one instant
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
    at: ColumnElement[datetime] | InstrumentedAttribute[datetime],
    ident: ColumnElement[int] | InstrumentedAttribute[int],
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


CALL_COLUMNS = tuple(c for c in CallRow.__table__.c if c.name != "timeline")


def call_select() -> Any:
    """The call columns views need (not the step-by-step timeline), as plain rows: no
    ORM instances to build, which matters for pages of 50 calls."""
    return select(*CALL_COLUMNS)


def call_json(row: Any, agents: dict[str, AgentRef]) -> dict[str, Any]:
    """`CallRow.to_json()` (the call record of docs/architecture.md, "Call record") for an
    ORM row or a plain row of `call_select()`, plus `company_id`, the answering `agent` as
    a user and `recording` (null here: the recordings feature fills it)."""
    data = record_json(row, {"id": row.id})
    data["company_id"] = row.company_id
    data["agent"] = (
        agent_json(agents.get(agent_key(row.agent_interface))) if row.agent_interface else None
    )
    data["recording"] = None  # filled by the recordings feature
    return data


# Core selects (plain rows, read by attribute like ORM objects): no identity map or
# instance state to build for rows that only become JSON.
NOTE_COLUMNS = tuple(Note.__table__.c)
TASK_COLUMNS = tuple(Task.__table__.c)
EVENT_COLUMNS = tuple(DealEvent.__table__.c)
LETTER_COLUMNS = tuple(Letter.__table__.c)


@dataclass(slots=True)
class Sources:
    """Each source's newest rows (up to limit + 1) for one subject, before a cursor."""

    calls: list[Any]
    notes: list[Any]
    tasks: list[Any]
    events: list[Any]
    letters: list[Any]


async def fetch(
    session: AsyncSession, subject: str, subject_id: int, cursor: Cursor | None, limit: int
) -> Sources:
    """limit + 1 rows from each source: if any has more, the merged list is longer than
    a page. Calls and notes come newest first by (time, id), the order the card's "last
    calls" and "notes" use too (`crm.cards` takes its lists from here)."""
    of_contact = subject == "contact"
    conn = await session.connection()
    found = []
    for rank in range(len(KINDS)):
        statement = (
            _first_page(rank, of_contact)
            if cursor is None
            else _page_select(rank, of_contact, cursor)
        )
        result = await conn.execute(statement, {"subject_id": subject_id, "limit": limit + 1})
        found.append(list(result.all()))
    return Sources(*found)


_SOURCES: tuple[tuple[tuple[Any, ...], Any, str], ...] = (
    (CALL_COLUMNS, CallRow.__table__, "started_at"),
    (NOTE_COLUMNS, Note.__table__, "created_at"),
    (TASK_COLUMNS, Task.__table__, "created_at"),
    (EVENT_COLUMNS, DealEvent.__table__, "at"),
    (LETTER_COLUMNS, Letter.__table__, "at"),
)


def _page_select(rank: int, of_contact: bool, cursor: Cursor | None) -> Any:
    """A Core select of one source for a subject (bound: subject_id, limit)."""
    columns, table, at_name = _SOURCES[rank]
    at = table.c[at_name]
    owner = table.c.contact_id if of_contact else table.c.company_id
    clauses = [owner == bindparam("subject_id")]
    older = _older(at, table.c.id, rank, cursor)
    if older is not None:
        clauses.append(older)
    return (
        select(*columns)
        .where(*clauses)
        .order_by(at.desc(), table.c.id.desc())
        .limit(bindparam("limit"))
    )


@cache
def _first_page(rank: int, of_contact: bool) -> Any:
    """The first page's selects, built once (statement construction is a good part of a
    small read's cost)."""
    return _page_select(rank, of_contact, None)


class TimelineService:
    def __init__(self, db: Database, directory: UserDirectory) -> None:
        self.db = db
        self.directory = directory

    async def contact(
        self, contact_id: int, *, before: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        async with self.db.session() as session:
            await CONTACTS.get(session, contact_id)
            return await self.page(session, "contact", contact_id, before=before, limit=limit)

    async def company(
        self, company_id: int, *, before: str | None = None, limit: int = 50
    ) -> dict[str, Any]:
        async with self.db.session() as session:
            await COMPANIES.get(session, company_id)
            return await self.page(session, "company", company_id, before=before, limit=limit)

    async def page(
        self,
        session: AsyncSession,
        subject: str,
        subject_id: int,
        *,
        before: str | None = None,
        limit: int = 50,
        agents: dict[str, AgentRef] | None = None,
    ) -> dict[str, Any]:
        """One page; pass `agents` (the directory's interface map) to read nothing but
        `session` (see `crm.sync_read`)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        cursor = Cursor.decode(before) if before else None
        sources = await fetch(session, subject, subject_id, cursor, limit)
        return await self.render(session, sources, limit, agents)

    async def render(
        self,
        session: AsyncSession,
        sources: Sources,
        limit: int,
        agents: dict[str, AgentRef] | None = None,
    ) -> dict[str, Any]:
        """The page of `limit` items from what `fetch` read (with `limit` or more)."""
        calls, notes, tasks, events = sources.calls, sources.notes, sources.tasks, sources.events
        letters = sources.letters
        merged: list[tuple[datetime, int, int, Any]] = (
            [(c.started_at, 0, c.id, c) for c in calls]
            + [(n.created_at, 1, n.id, n) for n in notes]
            + [(t.created_at, 2, t.id, t) for t in tasks]
            + [(e.at, 3, e.id, e) for e in events]
            + [(m.at, 4, m.id, m) for m in letters]
        )
        merged.sort(key=lambda item: (item[0], item[1], item[2]), reverse=True)
        more = len(merged) > limit
        merged = merged[:limit]
        if agents is None:
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
        in_page = [m[3] for m in merged if m[1] == 4]
        letter_json = {m["id"]: m for m in await letter_views(session, in_page)} if in_page else {}
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
            elif rank == 3:
                item["deal_event"] = event_json[ident]
            else:
                item["letter"] = letter_json[ident]
            items.append(item)
        last = merged[-1] if merged else None
        return {
            "items": items,
            "next": Cursor(last[0], last[1], last[2]).encode() if more and last else None,
        }
