"""Notes on contacts and companies: anyone adds, the author (or a supervisor) edits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.contacts import iso, now
from crm.database import Database
from crm.errors import Forbidden, InvalidInput
from crm.models import Company, Contact, Note
from crm.schemas import NoteCreate, NoteUpdate
from crm.users import user_names
from crm.versioned import Entity

NOTES = Entity(Note, "note", "this note was changed by someone else")


async def note_views(session: AsyncSession, notes: list[Note]) -> list[dict[str, Any]]:
    author_ids = {n.author_id for n in notes if n.author_id is not None}
    authors = await user_names(session, author_ids)
    return [
        {
            "id": n.id,
            "body": n.body,
            "contact_id": n.contact_id,
            "company_id": n.company_id,
            "author": {"id": n.author_id, "name": authors.get(n.author_id)}
            if n.author_id
            else None,
            "created_at": iso(n.created_at),
            "updated_at": iso(n.updated_at),
            "version": n.version,
        }
        for n in notes
    ]


class NoteService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, data: NoteCreate, actor: Actor) -> dict[str, Any]:
        async with self.db.transaction() as session:
            if data.contact_id is not None and await session.get(Contact, data.contact_id) is None:
                raise InvalidInput(f"contact {data.contact_id} does not exist", field="contact_id")
            if data.company_id is not None and await session.get(Company, data.company_id) is None:
                raise InvalidInput(f"company {data.company_id} does not exist", field="company_id")
            stamp = now()
            note = Note(
                body=data.body,
                contact_id=data.contact_id,
                company_id=data.company_id,
                author_id=actor.user_id,
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(note)
            await session.flush()
            return (await note_views(session, [note]))[0]

    async def get(self, note_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            note = await NOTES.get(session, note_id)
            return (await note_views(session, [note]))[0]

    async def list(
        self, *, contact_id: int | None = None, company_id: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        query = select(Note).order_by(Note.created_at.desc(), Note.id.desc()).limit(limit)
        if contact_id is not None:
            query = query.where(Note.contact_id == contact_id)
        if company_id is not None:
            query = query.where(Note.company_id == company_id)
        async with self.db.session() as session:
            return await note_views(session, list((await session.scalars(query)).all()))

    def _require_author(self, note: Note, actor: Actor) -> None:
        if not actor.is_manager and note.author_id != actor.user_id:
            raise Forbidden("only the author or a supervisor can change this note")

    async def update(self, note_id: int, data: NoteUpdate, actor: Actor) -> dict[str, Any]:
        async with NOTES.updating(self.db, note_id, data.version) as (session, note):
            self._require_author(note, actor)
            note.body = data.body
            note.updated_at = now()
            await session.flush()
            return (await note_views(session, [note]))[0]

    async def delete(self, note_id: int, actor: Actor) -> None:
        async with self.db.transaction() as session:
            note = await NOTES.get(session, note_id)
            self._require_author(note, actor)
            await session.delete(note)
