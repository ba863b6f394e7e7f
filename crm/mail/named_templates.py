"""Named letter templates ("Callback follow-up", "Price list", "Missed you"): a library the
admins keep, used by the card's letter form and by the rules' `send_email` action.

A template is a subject and a body in the letters' sandbox (`crm.mail.templates`) over
`contact`, `user` and `mailbox`; it is refused when saved if it does not compile or does
not render with a sample contact (the field named). Changes are versioned (optimistic
locking, `crm.versioned.Entity`): a change from an older version is a `Conflict`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from crm.access import Actor
from crm.database import Base, Database
from crm.errors import InvalidInput
from crm.mail.templates import render
from crm.models import Audited
from crm.versioned import Entity

TEMPLATE_NOT_FOUND = "no such letter template"
NAME_TAKEN = "a letter template with this name exists"
CHANGED = "this letter template was changed by someone else; reload it"
LANGUAGES = ("", "en", "ru")
# what a template is checked against when saved, and what a preview shows
SAMPLE: dict[str, Any] = {
    "contact": {"name": "Ivan Petrov", "emails": ["ivan@example.com"], "company": "Romashka"},
    "user": {"name": "Anna Smirnova"},
    "mailbox": {"name": "Sales", "address": "sales@example.com"},
}


class MailTemplate(Audited, Base):
    """A named letter template (migration 0023_mail_templates)."""

    __tablename__ = "mail_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    subject: Mapped[str] = mapped_column(String(998), default="")
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="")  # "" any language
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


TEMPLATES = Entity(MailTemplate, "letter template", CHANGED)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Subject = Annotated[str, StringConstraints(max_length=998)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=100_000)]
Language = Annotated[str, StringConstraints(pattern=r"^(|en|ru)$")]


class MailTemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    subject: Subject = ""
    body: Body
    language: Language = ""


class MailTemplateUpdate(MailTemplateCreate):
    version: Annotated[int, Field(ge=1, le=2**53)]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def template_json(row: MailTemplate) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "subject": row.subject,
        "body": row.body,
        "language": row.language,
        "version": row.version,
        "created_by_id": row.created_by_id,
        "updated_by_id": row.updated_by_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def check_template(subject: str, body: str) -> None:
    """Refuse (`InvalidInput` naming `subject` or `body`) what does not compile or
    render in the sandbox with the sample contact."""
    render(subject, SAMPLE, "subject")
    render(body, SAMPLE, "body")


def render_template(row: MailTemplate, context: dict[str, Any]) -> dict[str, str]:
    """The template's subject and body for `context` (`InvalidInput` when it cannot)."""
    return {
        "subject": render(row.subject, context, "subject"),
        "body": render(row.body, context, "body"),
    }


class MailTemplateService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            rows = (await session.scalars(select(MailTemplate).order_by(MailTemplate.name))).all()
            return [template_json(r) for r in rows]

    async def get(self, template_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            return template_json(await TEMPLATES.get(session, template_id))

    async def create(self, data: MailTemplateCreate, actor: Actor) -> dict[str, Any]:
        check_template(data.subject, data.body)
        stamp = datetime.now(UTC)
        try:
            async with self.db.transaction() as session:
                row = MailTemplate(
                    name=data.name,
                    subject=data.subject,
                    body=data.body,
                    language=data.language,
                    created_by_id=actor.user_id,
                    updated_by_id=actor.user_id,
                    created_at=stamp,
                    updated_at=stamp,
                )
                session.add(row)
                await session.flush()
                view = template_json(row)
        except IntegrityError as exc:
            raise InvalidInput(NAME_TAKEN, field="name") from exc
        return view

    async def update(
        self, template_id: int, data: MailTemplateUpdate, actor: Actor
    ) -> dict[str, Any]:
        check_template(data.subject, data.body)
        try:
            async with TEMPLATES.updating(self.db, template_id, data.version) as (session, row):
                row.name = data.name
                row.subject = data.subject
                row.body = data.body
                row.language = data.language
                row.updated_by_id = actor.user_id
                row.updated_at = datetime.now(UTC)
                await session.flush()
                view = template_json(row)
        except IntegrityError as exc:
            raise InvalidInput(NAME_TAKEN, field="name") from exc
        return view

    async def delete(self, template_id: int, actor: Actor) -> None:
        async with self.db.transaction() as session:
            row = await TEMPLATES.get(session, template_id)
            await session.delete(row)
