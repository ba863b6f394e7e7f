"""Call wrap-ups: what the agent says about a call once it ended.

A wrap-up is the agent's disposition (resolved, follow-up needed, sale …), a note and
an optional follow-up task, saved in one transaction:

- the note goes into the contact's (or company's) history, like any note;
- the task is assigned to the agent, linked to the call (`tasks.call_linkedid`);
- the `call_wrapups` row ties the call, the agent, the disposition, the note and the task
  together (one wrap-up per agent and call). It keeps the note's text too, so a wrap-up
  of an unknown number is not lost: once a contact with that number exists, its
  timeline's call shows it.

Who may wrap up which call is the web layer's business (the agent must have been on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, StringConstraints
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm.access import Actor
from crm.contacts import iso, now
from crm.database import Base, Database, UTCDateTime
from crm.errors import AlreadyExists, InvalidInput
from crm.models import Company, Contact, Note, Task, TaskKind, TaskStatus
from crm.notes import note_views
from crm.schemas import Id, Name, Strict
from crm.tasks import task_views
from crm.users import user_names


class WrapupDisposition(StrEnum):
    """The built-in dispositions: the wrap-up codes until an admin edits them
    (`/admin/wrapup-codes`, `supervisor.wrapup_codes`); a wrap-up stores the code."""

    RESOLVED = "resolved"
    FOLLOW_UP = "follow_up"
    SALE = "sale"
    INFORMATION = "information"
    COMPLAINT = "complaint"
    WRONG_NUMBER = "wrong_number"
    OTHER = "other"


class CallWrapup(Base):
    __tablename__ = "call_wrapups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    disposition: Mapped[str] = mapped_column(String(24))
    body: Mapped[str] = mapped_column(Text, default="")
    note_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("linkedid", "user_id", name="uq_call_wrapups_linkedid_user"),
        Index("ix_call_wrapups_linkedid", "linkedid"),
        Index("ix_call_wrapups_contact_id", "contact_id"),
    )


Linkedid = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# A wrap-up code (`call_wrapups.disposition`); which codes are offered is checked by the
# caller against the admin's list.
DispositionCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=24, pattern=r"^[a-z0-9_.-]+$"
    ),
]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)]


class FollowUpIn(Strict):
    title: Name
    due_at: AwareDatetime | None = None
    kind: TaskKind = TaskKind.CALL_BACK


class WrapupIn(Strict):
    linkedid: Linkedid
    disposition: DispositionCode
    note: NoteText = ""
    contact_id: Id | None = None
    company_id: Id | None = None
    follow_up: FollowUpIn | None = None


def wrapup_view(w: CallWrapup, users: dict[int, str]) -> dict[str, Any]:
    return {
        "id": w.id,
        "linkedid": w.linkedid,
        "disposition": w.disposition,
        "note": w.body,
        "note_id": w.note_id,
        "task_id": w.task_id,
        "contact_id": w.contact_id,
        "company_id": w.company_id,
        "user": {"id": w.user_id, "name": users.get(w.user_id)} if w.user_id else None,
        "created_at": iso(w.created_at),
    }


class WrapupService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, data: WrapupIn, actor: Actor) -> dict[str, Any]:
        """Store the wrap-up, its note and its follow-up task together (all or nothing)."""
        if data.follow_up is not None and data.contact_id is None and data.company_id is None:
            raise InvalidInput(
                "a follow-up task needs a contact: create the contact first", field="follow_up"
            )
        try:
            async with self.db.transaction() as session:
                company_id = await self._subject(session, data)
                exists = await session.scalar(
                    select(CallWrapup.id).where(
                        CallWrapup.linkedid == data.linkedid, CallWrapup.user_id == actor.user_id
                    )
                )
                if exists is not None:
                    raise AlreadyExists("this call is already wrapped up", field="linkedid")
                stamp = now()
                note = None
                if data.note and (data.contact_id is not None or company_id is not None):
                    note = Note(
                        contact_id=data.contact_id,
                        company_id=None if data.contact_id is not None else company_id,
                        author_id=actor.user_id,
                        body=data.note,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                    session.add(note)
                task = None
                if data.follow_up is not None:
                    task = Task(
                        kind=data.follow_up.kind.value,
                        title=data.follow_up.title,
                        description=data.note,
                        status=TaskStatus.OPEN.value,
                        due_at=data.follow_up.due_at,
                        assignee_id=actor.user_id,
                        created_by_id=actor.user_id,
                        contact_id=data.contact_id,
                        company_id=None if data.contact_id is not None else company_id,
                        call_linkedid=data.linkedid,
                        created_at=stamp,
                        updated_at=stamp,
                    )
                    session.add(task)
                await session.flush()
                wrapup = CallWrapup(
                    linkedid=data.linkedid,
                    user_id=actor.user_id,
                    contact_id=data.contact_id,
                    company_id=company_id,
                    disposition=data.disposition,
                    body=data.note,
                    note_id=note.id if note else None,
                    task_id=task.id if task else None,
                    created_at=stamp,
                )
                session.add(wrapup)
                await session.flush()
                users = await user_names(session, [actor.user_id])
                view = wrapup_view(wrapup, users)
                view["note_view"] = (await note_views(session, [note]))[0] if note else None
                view["task_view"] = (await task_views(session, [task]))[0] if task else None
                return view
        except IntegrityError as exc:  # the same wrap-up saved twice at once
            raise AlreadyExists("this call is already wrapped up", field="linkedid") from exc

    async def _subject(self, session: AsyncSession, data: WrapupIn) -> int | None:
        """Check the contact or company named exists; the company the wrap-up belongs to."""
        if data.contact_id is not None:
            contact = await session.get(Contact, data.contact_id)
            if contact is None:
                raise InvalidInput(f"contact {data.contact_id} does not exist", field="contact_id")
            return contact.company_id
        if data.company_id is not None:
            if await session.get(Company, data.company_id) is None:
                raise InvalidInput(f"company {data.company_id} does not exist", field="company_id")
            return data.company_id
        return None

    async def for_calls(self, linkedids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The wrap-ups of these calls, oldest first, by linkedid (for timelines and cards)."""
        wanted = list(dict.fromkeys(linkedids))
        if not wanted:
            return {}
        async with self.db.session() as session:
            rows = list(
                (
                    await session.scalars(
                        select(CallWrapup)
                        .where(CallWrapup.linkedid.in_(wanted))
                        .order_by(CallWrapup.created_at, CallWrapup.id)
                    )
                ).all()
            )
            users = await user_names(session, {w.user_id for w in rows})
        result: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            result.setdefault(row.linkedid, []).append(wrapup_view(row, users))
        return result

    async def mine(self, user_id: int, linkedids: Iterable[str]) -> set[str]:
        """Which of these calls this user already wrapped up."""
        wanted = list(dict.fromkeys(linkedids))
        if not wanted:
            return set()
        async with self.db.session() as session:
            rows = await session.scalars(
                select(CallWrapup.linkedid).where(
                    CallWrapup.linkedid.in_(wanted), CallWrapup.user_id == user_id
                )
            )
            return set(rows.all())
