"""Reading stored calls for the API and the call page, filtered by who is asking.

`CallQuery.list` pages through calls newest first with an opaque cursor on
(started_at, id): calls stored meanwhile never shift a page. Every filter is optional;
agents only ever get the calls :mod:`crm.call_access` lets them see.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_

from crm.call_access import may_see, visible_clause
from crm.call_records import CallRow
from crm.database import Database
from crm.errors import Forbidden, InvalidInput, NotFound
from crm.timeline import call_json, call_select
from crm.users import UserDirectory, UserInfo
from kernel.call_record import Disposition

MAX_LIMIT = 200
DISPOSITIONS = tuple(d.value for d in Disposition)


@dataclass(frozen=True, slots=True)
class CallFilter:
    since: datetime | None = None
    until: datetime | None = None
    queue: str | None = None
    disposition: str | None = None
    contact_id: int | None = None
    agent_id: int | None = None
    number: str | None = None  # E.164 (or as stored), caller or called


def encode_cursor(at: datetime, ident: int) -> str:
    raw = f"{at.isoformat()}|{ident}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, ident = raw.split("|")
        moment, number = datetime.fromisoformat(at), int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("this cursor is not valid", field="before") from exc
    if moment.tzinfo is None:
        raise InvalidInput("this cursor is not valid", field="before")
    return moment, number


class CallQuery:
    def __init__(self, db: Database, directory: UserDirectory) -> None:
        self.db = db
        self.directory = directory

    async def list(
        self,
        user: UserInfo,
        filters: CallFilter,
        *,
        before: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """``{"items": [call records], "next": cursor | null}``, newest first."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if filters.disposition is not None and filters.disposition not in DISPOSITIONS:
            raise InvalidInput(
                f"disposition must be one of {', '.join(DISPOSITIONS)}", field="disposition"
            )
        agents, _ = await self.directory.snapshot()
        query = call_select()
        visible = visible_clause(user)
        if visible is not None:
            query = query.where(visible)
        if filters.since is not None:
            query = query.where(CallRow.started_at >= filters.since)
        if filters.until is not None:
            query = query.where(CallRow.started_at < filters.until)
        if filters.queue is not None:
            query = query.where(CallRow.queue == filters.queue)
        if filters.disposition is not None:
            query = query.where(CallRow.disposition == filters.disposition)
        if filters.contact_id is not None:
            query = query.where(CallRow.contact_id == filters.contact_id)
        if filters.number is not None:
            query = query.where(
                or_(
                    CallRow.caller_number == filters.number, CallRow.called_number == filters.number
                )
            )
        if filters.agent_id is not None:
            # The calls an agent answered; a user without interfaces answered none.
            keys = [key for key, ref in agents.items() if ref.user_id == filters.agent_id]
            names = keys + [f"{k}/n" for k in keys]
            query = query.where(func.lower(CallRow.agent_interface).in_(names))
        if before:
            at, ident = decode_cursor(before)
            query = query.where(
                or_(CallRow.started_at < at, and_(CallRow.started_at == at, CallRow.id < ident))
            )
        query = query.order_by(CallRow.started_at.desc(), CallRow.id.desc()).limit(limit + 1)
        async with self.db.session() as session:
            rows = list((await session.execute(query)).all())
        more = len(rows) > limit
        rows = rows[:limit]
        items = [call_json(row, agents) for row in rows]
        last = rows[-1] if rows else None
        return {
            "items": items,
            "next": encode_cursor(last.started_at, last.id) if more and last else None,
        }

    async def row(self, call_id: int) -> CallRow:
        async with self.db.session() as session:
            row = await session.get(CallRow, call_id)
        if row is None:
            raise NotFound(f"call {call_id} not found")
        return row

    async def visible_row(self, user: UserInfo, call_id: int) -> CallRow:
        """The call, or NotFound / Forbidden (the same rule as the list)."""
        row = await self.row(call_id)
        if not may_see(user, row):
            raise Forbidden("this call is not one of yours and is not linked to a contact")
        return row

    async def get(self, user: UserInfo, call_id: int) -> dict[str, Any]:
        """The call record with its step-by-step timeline."""
        row = await self.visible_row(user, call_id)
        agents, _ = await self.directory.snapshot()
        data = call_json(row, agents)
        data["timeline"] = list(row.timeline or [])
        return data
