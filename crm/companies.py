"""Companies: a name, numbers (which identify calls from any of its people), an owner,
tags and custom fields. Renaming a company re-indexes its contacts for search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access import Actor
from crm.contacts import (
    clean_tags,
    contact_search_text,
    held_numbers,
    iso,
    now,
    prepared_numbers,
    replace_phones,
    require_user,
    set_tags,
)
from crm.database import Database
from crm.linking import relink_numbers
from crm.models import Company, CompanyTag, Contact, ContactTag, Phone
from crm.numbers import refuse_invalid, to_json
from crm.schemas import CompanyCreate, CompanyUpdate, changes
from crm.users import user_names
from crm.versioned import Entity
from crm.words import search_text

COMPANIES = Entity(
    Company,
    "company",
    "this company was changed by someone else; reload it and apply your change again",
)


def company_search_text(name: str, tags: Sequence[str]) -> str:
    return search_text([name, *tags])


async def company_views(
    session: AsyncSession, companies: Sequence[Company], actor: Actor | None = None
) -> list[dict[str, Any]]:
    if not companies:
        return []
    ids = [c.id for c in companies]
    phones: dict[int, list[dict[str, Any]]] = {}
    for row in await session.execute(
        select(Phone.company_id, Phone.raw, Phone.number, Phone.valid, Phone.label)
        .where(Phone.company_id.in_(ids))
        .order_by(Phone.position, Phone.id)
    ):
        phones.setdefault(cast(int, row[0]), []).append(to_json(row[1], row[2], row[3], row[4]))
    tags: dict[int, list[str]] = {}
    for company_id, tag in await session.execute(
        select(CompanyTag.company_id, CompanyTag.tag)
        .where(CompanyTag.company_id.in_(ids))
        .order_by(CompanyTag.tag)
    ):
        tags.setdefault(company_id, []).append(tag)
    counts = dict(
        (
            await session.execute(
                select(Contact.company_id, func.count(Contact.id))
                .where(Contact.company_id.in_(ids))
                .group_by(Contact.company_id)
            )
        ).all()
    )
    owner_ids = {c.owner_id for c in companies if c.owner_id is not None}
    owners = await user_names(session, owner_ids)
    views = []
    for c in companies:
        view: dict[str, Any] = {
            "id": c.id,
            "name": c.name,
            "phones": phones.get(c.id, []),
            "owner_id": c.owner_id,
            "owner": {"id": c.owner_id, "name": owners.get(c.owner_id)} if c.owner_id else None,
            "tags": tags.get(c.id, []),
            "custom": dict(c.custom or {}),
            "contacts_count": counts.get(c.id, 0),
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
            "version": c.version,
        }
        if actor is not None:
            view["editable"] = actor.can_edit_owned(c.owner_id)
        views.append(view)
    return views


async def reindex_contacts(
    session: AsyncSession, contact_ids: Sequence[int], company_name: str | None
) -> None:
    """Rebuild the search text of contacts whose company name changed (or went away)."""
    if not contact_ids:
        return
    contacts = list(
        (await session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))).all()
    )
    if not contacts:
        return
    tags: dict[int, list[str]] = {}
    for contact_id, tag in await session.execute(
        select(ContactTag.contact_id, ContactTag.tag).where(
            ContactTag.contact_id.in_([c.id for c in contacts])
        )
    ):
        tags.setdefault(contact_id, []).append(tag)
    for contact in contacts:
        text = contact_search_text(
            contact.name, company_name, tags.get(contact.id, []), contact.emails
        )
        if text != contact.search_text:
            # search text only: not a user-visible edit, so no version bump
            await session.execute(
                update(Contact)
                .where(Contact.id == contact.id)
                .values(search_text=text)
                .execution_options(synchronize_session=False)
            )


class CompanyService:
    def __init__(self, db: Database, *, region: str = "RU") -> None:
        self.db = db
        self.region = region

    async def create(self, data: CompanyCreate, actor: Actor) -> dict[str, Any]:
        prepared = prepared_numbers(data.phones, self.region)
        refuse_invalid(prepared)
        owner_id = data.owner_id if "owner_id" in data.model_fields_set else actor.user_id
        actor.require_assign(owner_id, None, "company")
        tags = clean_tags(data.tags)
        async with self.db.transaction() as session:
            await require_user(session, owner_id, "owner_id")
            stamp = now()
            company = Company(
                name=data.name,
                owner_id=owner_id,
                custom=dict(data.custom),
                search_text=company_search_text(data.name, tags),
                created_by_id=actor.user_id,
                created_at=stamp,
                updated_at=stamp,
            )
            session.add(company)
            await session.flush()
            session.add_all(CompanyTag(company_id=company.id, tag=t) for t in tags)
            touched = await replace_phones(session, prepared, company_id=company.id)
            await session.flush()
            await relink_numbers(session, touched)
            return (await company_views(session, [company], actor))[0]

    async def get(self, company_id: int, actor: Actor | None = None) -> dict[str, Any]:
        async with self.db.session() as session:
            company = await COMPANIES.get(session, company_id)
            return (await company_views(session, [company], actor))[0]

    async def update(self, company_id: int, data: CompanyUpdate, actor: Actor) -> dict[str, Any]:
        fields = changes(data)
        prepared = prepared_numbers(data.phones, self.region) if data.phones is not None else None
        async with COMPANIES.updating(self.db, company_id, data.version) as (session, company):
            actor.require_edit_owned(company.owner_id, "company")
            with session.no_autoflush:  # one flush: the version moves by one
                if "owner_id" in fields:
                    actor.require_assign(data.owner_id, company.owner_id, "company")
                    await require_user(session, data.owner_id, "owner_id")
                    company.owner_id = data.owner_id
                renamed = data.name is not None and data.name != company.name
                if data.name is not None:
                    company.name = data.name
                if data.custom is not None:
                    company.custom = dict(data.custom)
                tags = await set_tags(
                    session, CompanyTag, CompanyTag.company_id, company_id, data.tags
                )
                touched: set[str] = set()
                if prepared is not None:
                    refuse_invalid(
                        prepared, await held_numbers(session, Phone.company_id == company_id)
                    )
                    touched = await replace_phones(session, prepared, company_id=company_id)
                company.search_text = company_search_text(company.name, tags)
                company.updated_at = now()
            await session.flush()
            if renamed:
                ids = (
                    await session.scalars(
                        select(Contact.id).where(Contact.company_id == company_id)
                    )
                ).all()
                await reindex_contacts(session, list(ids), company.name)
            await relink_numbers(session, touched)
            return (await company_views(session, [company], actor))[0]

    async def delete(self, company_id: int, actor: Actor) -> None:
        actor.require_manager("delete companies")
        async with self.db.transaction() as session:
            company = await COMPANIES.get(session, company_id)
            touched = set(
                (
                    await session.scalars(
                        select(Phone.number).where(Phone.company_id == company_id)
                    )
                ).all()
            )
            contact_ids = list(
                (
                    await session.scalars(
                        select(Contact.id).where(Contact.company_id == company_id)
                    )
                ).all()
            )
            contact_numbers = (
                await session.scalars(select(Phone.number).where(Phone.contact_id.in_(contact_ids)))
            ).all()
            await session.delete(company)
            await session.flush()
            session.expire_all()
            await reindex_contacts(session, contact_ids, None)
            await relink_numbers(session, touched | set(contact_numbers))

    async def list(
        self, actor: Actor | None = None, *, before_id: int | None = None, limit: int = 50
    ) -> dict[str, Any]:
        query = select(Company).order_by(Company.id.desc()).limit(limit + 1)
        if before_id is not None:
            query = query.where(Company.id < before_id)
        async with self.db.session() as session:
            rows = list((await session.scalars(query)).all())
            more = len(rows) > limit
            rows = rows[:limit]
            items = await company_views(session, rows, actor)
        return {"items": items, "next": rows[-1].id if more and rows else None}
