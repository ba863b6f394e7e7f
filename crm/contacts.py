"""Contacts: people with numbers, e-mails, a company, a responsible manager, tags and
custom fields. Numbers are normalized (see `crm.numbers`); every change of numbers or
company relinks the calls with those numbers (`crm.linking`), so a contact created today
shows the calls it made last month.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import numbers
from crm.access import Actor
from crm.database import Database
from crm.errors import InvalidInput
from crm.hooks.outbox import emit
from crm.linking import relink_numbers
from crm.models import Company, Contact, ContactTag, Phone, User
from crm.schemas import ContactCreate, ContactUpdate, PhoneIn, changes
from crm.users import user_names
from crm.versioned import Entity
from crm.words import search_text

CONTACTS = Entity(
    Contact,
    "contact",
    "this contact was changed by someone else; reload it and apply your change again",
)


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with milliseconds (what every CRM view returns)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value is not None else None


def clean_tags(tags: Sequence[str]) -> list[str]:
    """Tags trimmed, de-duplicated case-insensitively, in the order given."""
    seen: dict[str, str] = {}
    for tag in tags:
        value = " ".join(tag.split())[:64]
        if value:
            seen.setdefault(value.casefold(), value)
    return list(seen.values())


async def set_tags(
    session: AsyncSession, tag_model: Any, owner: Any, owner_id: int, tags: Sequence[str] | None
) -> list[str]:
    """Replace a contact's or company's tags with `tags` (cleaned), or, with None, keep
    them; either way return the tags it has now. `owner` is the tag table's owner column
    (`ContactTag.contact_id`, `CompanyTag.company_id`)."""
    if tags is None:
        return list((await session.scalars(select(tag_model.tag).where(owner == owner_id))).all())
    cleaned = clean_tags(tags)
    await session.execute(delete(tag_model).where(owner == owner_id))
    session.add_all(tag_model(**{owner.key: owner_id, "tag": t}) for t in cleaned)
    return cleaned


async def require_user(session: AsyncSession, user_id: int | None, field: str) -> None:
    if user_id is None:
        return
    if await session.scalar(select(User.id).where(User.id == user_id)) is None:
        raise InvalidInput(f"user {user_id} does not exist", field=field)


async def require_company(session: AsyncSession, company_id: int | None) -> Company | None:
    if company_id is None:
        return None
    company = await session.get(Company, company_id)
    if company is None:
        raise InvalidInput(f"company {company_id} does not exist", field="company_id")
    return company


def prepared_numbers(phones: Sequence[PhoneIn], region: str) -> list[numbers.NumberInput]:
    return numbers.prepare_all([(p.number, p.label) for p in phones], region)


async def held_numbers(session: AsyncSession, owner: Any) -> set[str]:
    """The numbers a contact or company holds now (`owner`: `Phone.contact_id == …`)."""
    return set((await session.scalars(select(Phone.number).where(owner))).all())


async def replace_phones(
    session: AsyncSession,
    prepared: list[numbers.NumberInput],
    *,
    contact_id: int | None = None,
    company_id: int | None = None,
) -> set[str]:
    """Replace a contact's or company's numbers; returns old ∪ new numbers (to relink)."""
    owner = (
        Phone.contact_id == contact_id if contact_id is not None else Phone.company_id == company_id
    )
    old = set((await session.scalars(select(Phone.number).where(owner))).all())
    await session.execute(delete(Phone).where(owner))
    for position, item in enumerate(prepared):
        session.add(Phone(contact_id=contact_id, company_id=company_id, **item.row(position)))
    return old | {p.number for p in prepared}


def contact_search_text(
    name: str, company_name: str | None, tags: Sequence[str], emails: Sequence[str]
) -> str:
    return search_text([name, company_name, *tags, *emails])


async def contact_views(
    session: AsyncSession, contacts: Sequence[Contact], actor: Actor | None = None
) -> list[dict[str, Any]]:
    """JSON views of contacts with their numbers, tags, company and owner (4 queries)."""
    if not contacts:
        return []
    ids = [c.id for c in contacts]
    phones: dict[int, list[dict[str, Any]]] = {}
    for row in await session.execute(
        select(Phone.contact_id, Phone.raw, Phone.number, Phone.valid, Phone.label)
        .where(Phone.contact_id.in_(ids))
        .order_by(Phone.position, Phone.id)
    ):
        phones.setdefault(cast(int, row[0]), []).append(
            numbers.to_json(row[1], row[2], row[3], row[4])
        )
    tags: dict[int, list[str]] = {}
    for contact_id, tag in await session.execute(
        select(ContactTag.contact_id, ContactTag.tag)
        .where(ContactTag.contact_id.in_(ids))
        .order_by(ContactTag.tag)
    ):
        tags.setdefault(contact_id, []).append(tag)
    company_ids = {c.company_id for c in contacts if c.company_id is not None}
    companies = (
        dict(
            (
                await session.execute(
                    select(Company.id, Company.name).where(Company.id.in_(company_ids))
                )
            ).all()
        )
        if company_ids
        else {}
    )
    owner_ids = {c.owner_id for c in contacts if c.owner_id is not None}
    owners = await user_names(session, owner_ids)
    views = []
    for c in contacts:
        view: dict[str, Any] = {
            "id": c.id,
            "name": c.name,
            "phones": phones.get(c.id, []),
            "emails": list(c.emails or []),
            "company_id": c.company_id,
            "company": {"id": c.company_id, "name": companies.get(c.company_id)}
            if c.company_id
            else None,
            "owner_id": c.owner_id,
            "owner": {"id": c.owner_id, "name": owners.get(c.owner_id)} if c.owner_id else None,
            "tags": tags.get(c.id, []),
            "custom": dict(c.custom or {}),
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
            "version": c.version,
        }
        if actor is not None:
            view["editable"] = actor.can_edit_owned(c.owner_id)
        views.append(view)
    return views


class ContactService:
    def __init__(self, db: Database, *, region: str = "RU") -> None:
        self.db = db
        self.region = region

    async def create(self, data: ContactCreate, actor: Actor) -> dict[str, Any]:
        prepared = prepared_numbers(data.phones, self.region)
        numbers.refuse_invalid(prepared)
        owner_id = data.owner_id if "owner_id" in data.model_fields_set else actor.user_id
        actor.require_assign(owner_id, None, "contact")
        tags = clean_tags(data.tags)
        async with self.db.transaction() as session:
            await require_user(session, owner_id, "owner_id")
            company = await require_company(session, data.company_id)
            stamp = now()
            contact = Contact(
                name=data.name,
                company_id=data.company_id,
                owner_id=owner_id,
                emails=list(dict.fromkeys(data.emails)),
                custom=dict(data.custom),
                search_text=contact_search_text(
                    data.name, company.name if company else None, tags, data.emails
                ),
                created_by_id=actor.user_id,
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(contact)
            await session.flush()
            session.add_all(ContactTag(contact_id=contact.id, tag=t) for t in tags)
            touched = await replace_phones(session, prepared, contact_id=contact.id)
            await session.flush()
            await relink_numbers(session, touched)
            view = (await contact_views(session, [contact], actor))[0]
            await emit(session, "contact.created", view, contact_id=contact.id)
            return view

    async def get(self, contact_id: int, actor: Actor | None = None) -> dict[str, Any]:
        async with self.db.session() as session:
            contact = await CONTACTS.get(session, contact_id)
            return (await contact_views(session, [contact], actor))[0]

    async def update(self, contact_id: int, data: ContactUpdate, actor: Actor) -> dict[str, Any]:
        fields = changes(data)
        prepared = prepared_numbers(data.phones, self.region) if data.phones is not None else None
        async with CONTACTS.updating(self.db, contact_id, data.version) as (session, contact):
            actor.require_edit_owned(contact.owner_id, "contact")
            # one flush at the end: the version moves by exactly one per update
            with session.no_autoflush:
                touched: set[str] = set()
                if "owner_id" in fields:
                    actor.require_assign(data.owner_id, contact.owner_id, "contact")
                    await require_user(session, data.owner_id, "owner_id")
                    contact.owner_id = data.owner_id
                if data.name is not None:
                    contact.name = data.name
                if data.emails is not None:
                    contact.emails = list(dict.fromkeys(data.emails))
                if data.custom is not None:
                    contact.custom = dict(data.custom)
                if "company_id" in fields and data.company_id != contact.company_id:
                    await require_company(session, data.company_id)
                    contact.company_id = data.company_id
                    touched |= set(
                        (
                            await session.scalars(
                                select(Phone.number).where(Phone.contact_id == contact_id)
                            )
                        ).all()
                    )
                tags = await set_tags(
                    session, ContactTag, ContactTag.contact_id, contact_id, data.tags
                )
                if prepared is not None:
                    numbers.refuse_invalid(
                        prepared, await held_numbers(session, Phone.contact_id == contact_id)
                    )
                    touched |= await replace_phones(session, prepared, contact_id=contact_id)
                company = (
                    await session.get(Company, contact.company_id) if contact.company_id else None
                )
                contact.search_text = contact_search_text(
                    contact.name, company.name if company else None, tags, contact.emails
                )
                contact.updated_at = now()
            await session.flush()
            await relink_numbers(session, touched)
            view = (await contact_views(session, [contact], actor))[0]
            await emit(session, "contact.updated", view, contact_id=contact.id)
            return view

    async def delete(self, contact_id: int, actor: Actor) -> None:
        actor.require_manager("delete contacts")
        async with self.db.transaction() as session:
            contact = await CONTACTS.get(session, contact_id)
            touched = set(
                (
                    await session.scalars(
                        select(Phone.number).where(Phone.contact_id == contact_id)
                    )
                ).all()
            )
            await session.delete(contact)
            await session.flush()
            await relink_numbers(session, touched)

    async def list(
        self,
        actor: Actor | None = None,
        *,
        owner_id: int | None = None,
        company_id: int | None = None,
        tag: str | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Newest first; `next` is the `before_id` of the following page (None at the end)."""
        query = select(Contact).order_by(Contact.id.desc()).limit(limit + 1)
        if owner_id is not None:
            query = query.where(Contact.owner_id == owner_id)
        if company_id is not None:
            query = query.where(Contact.company_id == company_id)
        if tag:
            query = query.where(
                Contact.id.in_(select(ContactTag.contact_id).where(ContactTag.tag == tag))
            )
        if before_id is not None:
            query = query.where(Contact.id < before_id)
        async with self.db.session() as session:
            rows = list((await session.scalars(query)).all())
            more = len(rows) > limit
            rows = rows[:limit]
            items = await contact_views(session, rows, actor)
        return {"items": items, "next": rows[-1].id if more and rows else None}
