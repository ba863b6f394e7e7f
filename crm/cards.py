"""The screen-pop card: everything an agent needs the moment the phone rings.

`CardService.for_number(e164)` / `for_contact(contact_id)` return a JSON-able dict:

```
{"number": "+74951234567" | null,
 "contact": {contact view} | null,      # as GET /api/contacts/{id}
 "company": {company view} | null,
 "owner": {"id", "name"} | null,        # the contact's, else the company's manager
 "last_calls": [{call record + "agent": {"id","name"}|null, "recording": null}],
 "open_tasks": [{task}], "deals": [{deal}], "notes": [{note}],
 "timeline": {"items": [...], "next": cursor|null}   # only when timeline > 0
}
```
`recording` is null here; the recordings feature fills it in. A number nobody has gives
`contact` and `company` null with `last_calls` still listing that number's calls.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_records import CallRow
from crm.companies import company_views
from crm.contacts import contact_views
from crm.database import Database
from crm.deals import deal_views
from crm.errors import InvalidInput, NotFound
from crm.models import Company, Contact, Deal, Note, Phone, Task, TaskStatus
from crm.notes import note_views
from crm.sync_read import SyncReader
from crm.tasks import task_views
from crm.timeline import (
    MAX_LIMIT,
    NOTE_COLUMNS,
    TASK_COLUMNS,
    TimelineService,
    call_json,
    call_select,
    fetch,
)
from crm.users import UserDirectory
from kernel.phones import format_national
from routing.facts import AgentRef

DEAL_COLUMNS = tuple(Deal.__table__.c)

# The card's fixed reads, built once, as Core selects (run on the connection: no ORM
# execution layer, plain rows for the views).
_tasks, _deals, _phones = Task.__table__.c, Deal.__table__.c, Phone.__table__.c
_OPEN_TASKS = {
    of_contact: select(*TASK_COLUMNS)
    .where(
        (_tasks.contact_id if of_contact else _tasks.company_id) == bindparam("subject_id"),
        _tasks.status == TaskStatus.OPEN.value,
    )
    .order_by(_tasks.due_at.is_(None), _tasks.due_at, _tasks.id)
    .limit(20)
    for of_contact in (True, False)
}
_DEALS = {
    of_contact: select(*DEAL_COLUMNS)
    .where((_deals.contact_id if of_contact else _deals.company_id) == bindparam("subject_id"))
    .order_by(_deals.updated_at.desc())
    .limit(20)
    for of_contact in (True, False)
}
# contacts and companies as plain rows (the views read them by attribute, as ORM objects)
_CONTACT = select(*Contact.__table__.c).where(Contact.__table__.c.id == bindparam("id"))
_COMPANY = select(*Company.__table__.c).where(Company.__table__.c.id == bindparam("id"))


async def _by_id(session: AsyncSession, statement: Any, ident: int) -> Any:
    conn = await session.connection()
    return (await conn.execute(statement, {"id": ident})).first()


_FIRST_NUMBER = (
    select(_phones.number)
    .where(_phones.contact_id == bindparam("contact_id"))
    .order_by(_phones.position, _phones.id)
    .limit(1)
)


class CardService:
    def __init__(
        self, db: Database, directory: UserDirectory, *, last_calls: int = 10, notes: int = 5
    ) -> None:
        self.db = db
        self.directory = directory
        self.last_calls = last_calls
        self.notes = notes
        self.timeline = TimelineService(db, directory)
        self.sync = SyncReader(db)

    async def for_number(self, e164: str, *, timeline: int = 0) -> dict[str, Any]:
        return await self._read(self._for_number, e164, timeline)

    async def for_contact(self, contact_id: int, *, timeline: int = 0) -> dict[str, Any]:
        return await self._read(self._for_contact, contact_id, timeline)

    async def _read(self, work: Any, key: Any, timeline: int) -> dict[str, Any]:
        """On SQLite, the whole card in one worker thread (`crm.sync_read`); elsewhere
        through the async session."""
        agents, _ = await self.directory.snapshot()
        if self.sync.available:
            result = await asyncio.to_thread(self.sync.run, work, key, timeline, agents)
            return cast(dict[str, Any], result)
        async with self.db.session() as session:
            return cast(dict[str, Any], await work(session, key, timeline, agents))

    async def _for_number(
        self, session: AsyncSession, e164: str, timeline: int, agents: dict[str, AgentRef]
    ) -> dict[str, Any]:
        row = (
            await session.execute(
                select(Phone.contact_id, Phone.company_id)
                .where(Phone.number == e164)
                .order_by(Phone.contact_id.is_(None), Phone.contact_id, Phone.company_id)
                .limit(1)
            )
        ).first()
        contact = (
            await _by_id(session, _CONTACT, row[0])
            if row is not None and row[0] is not None
            else None
        )
        company_id = (
            contact.company_id if contact is not None else (row[1] if row is not None else None)
        )
        return await self._card(session, e164, contact, company_id, timeline, agents)

    async def _for_contact(
        self, session: AsyncSession, contact_id: int, timeline: int, agents: dict[str, AgentRef]
    ) -> dict[str, Any]:
        contact = await _by_id(session, _CONTACT, contact_id)
        if contact is None:
            raise NotFound(f"contact {contact_id} not found")
        conn = await session.connection()
        number = (await conn.execute(_FIRST_NUMBER, {"contact_id": contact_id})).scalar()
        return await self._card(session, number, contact, contact.company_id, timeline, agents)

    async def _card(
        self,
        session: AsyncSession,
        number: str | None,
        contact: Any | None,
        company_id: int | None,
        timeline: int,
        agents: dict[str, AgentRef],
    ) -> dict[str, Any]:
        company = await _by_id(session, _COMPANY, company_id) if company_id is not None else None
        contact_view = (await contact_views(session, [contact]))[0] if contact is not None else None
        company_view = (await company_views(session, [company]))[0] if company is not None else None
        owner = None
        if contact_view is not None and contact_view["owner"]:
            owner = contact_view["owner"]
        elif company_view is not None and company_view["owner"]:
            owner = company_view["owner"]

        subject_kind, subject_id = (
            ("contact", contact.id)
            if contact is not None
            else ("company", company.id)
            if company is not None
            else (None, None)
        )
        # With a timeline, its reads give the card's last calls and notes too (same
        # subject, same order, limit + 1 rows): two statements fewer.
        sources = None
        if timeline > 0 and subject_kind is not None and subject_id is not None:
            if timeline > MAX_LIMIT:
                raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
            sources = await fetch(session, subject_kind, subject_id, None, timeline)
        if sources is not None and (
            len(sources.calls) <= timeline or timeline + 1 >= self.last_calls
        ):  # the first rows of the timeline's calls, or all the subject has
            calls = sources.calls[: self.last_calls]
        else:
            calls = await self._last_calls(session, number, contact, company)

        tasks: list[Any] = []
        deals: list[Any] = []
        notes: list[Any] = []
        if subject_kind is not None:
            conn = await session.connection()
            of_contact = contact is not None
            tasks = list(
                (await conn.execute(_OPEN_TASKS[of_contact], {"subject_id": subject_id})).all()
            )
            deals = list(
                (
                    await conn.execute(
                        _DEALS[of_contact],
                        {"subject_id": contact.id if contact is not None else company_id},
                    )
                ).all()
            )
            if sources is not None and (
                len(sources.notes) <= timeline or timeline + 1 >= self.notes
            ):
                notes = sources.notes[: self.notes]
            else:
                note_subject = (
                    Note.contact_id == contact.id
                    if contact is not None
                    else Note.company_id == company_id
                )
                notes = list(
                    (
                        await session.execute(
                            select(*NOTE_COLUMNS)
                            .where(note_subject)
                            .order_by(Note.created_at.desc(), Note.id.desc())
                            .limit(self.notes)
                        )
                    ).all()
                )
        card: dict[str, Any] = {
            "number": number,
            "contact": contact_view,
            "company": company_view,
            "owner": owner,
            "last_calls": [call_json(c, agents) for c in calls],
            "open_tasks": await task_views(session, tasks),
            "deals": await deal_views(session, deals),
            "notes": await note_views(session, notes),
        }
        if sources is not None:
            card["timeline"] = await self.timeline.render(session, sources, timeline, agents)
        return card

    async def _last_calls(
        self,
        session: AsyncSession,
        number: str | None,
        contact: Any | None,
        company: Any | None,
    ) -> list[Any]:
        calls_query = call_select()
        if contact is not None:
            calls_query = calls_query.where(CallRow.contact_id == contact.id)
        elif company is not None:
            calls_query = calls_query.where(CallRow.company_id == company.id)
        elif number:
            calls_query = calls_query.where(
                or_(
                    (CallRow.caller_number == number) & (CallRow.direction == "inbound"),
                    (CallRow.called_number == number) & (CallRow.direction == "outbound"),
                )
            )
        else:
            return []
        return list(
            (
                await session.execute(
                    calls_query.order_by(CallRow.started_at.desc(), CallRow.id.desc()).limit(
                        self.last_calls
                    )
                )
            ).all()
        )


def phone_display(card: dict[str, Any], region: str) -> dict[str, str]:
    """National spellings of the numbers a card shows (its number, the contact's, calls')."""
    numbers: set[str] = set()
    if card.get("number"):
        numbers.add(card["number"])
    for holder in (card.get("contact"), card.get("company")):
        for phone in (holder or {}).get("phones") or ():
            if phone.get("number"):
                numbers.add(phone["number"])
    for call in card.get("last_calls") or ():
        for field in ("caller_number", "called_number"):
            if call.get(field):
                numbers.add(call[field])
    return {n: format_national(n, region) for n in numbers if n.startswith("+")}
