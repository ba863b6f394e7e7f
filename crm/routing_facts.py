"""Routing facts for a caller's number: who they are, who owns them, who spoke to them last.

`RoutingFactsSource.lookup(e164)` is what the FastAGI handler calls for every incoming
call, so it is built for speed:
- one indexed query finds the number's contact (or company) with its company and owners;
- one query reads the tags;
- one seek on a partial index (`calls` where `disposition = 'answered'`, by company or
  contact and time) finds the last answered calls; their `agent_interface`
  (`Local/101@agents/n`) is mapped to a user through `UserDirectory`, in memory;
- owners come from the same in-memory directory (inactive users are not offered).
All of it runs in one session (one connection checkout). An optional small cache keeps
recent answers for `cache_ttl` seconds (a caller who redials within seconds, bursts of
the same number); call `invalidate(number)` when something changes, `clear()` for all.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_records import CallRow
from crm.database import Database
from crm.models import Company, CompanyTag, Contact, ContactTag, Phone
from crm.users import UserDirectory, interface_key
from routing.facts import AgentRef, RoutingFacts

_CANDIDATE_CALLS = 5  # answered calls looked at to find one whose agent is still a user


class RoutingFactsSource:
    def __init__(
        self, db: Database, directory: UserDirectory, *, cache_ttl: float = 0.0, cache_size: int = 10_000
    ) -> None:
        self.db = db
        self.directory = directory
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[float, RoutingFacts | None]] = OrderedDict()

    def invalidate(self, number: str) -> None:
        self._cache.pop(number, None)

    def clear(self) -> None:
        self._cache.clear()

    async def lookup(self, e164: str) -> RoutingFacts | None:
        """The facts for this number, or None when no contact or company has it."""
        if not e164:
            return None
        if self.cache_ttl > 0:
            hit = self._cache.get(e164)
            if hit is not None and hit[0] > time.monotonic():
                self._cache.move_to_end(e164)
                return hit[1]
        facts = await self._lookup(e164)
        if self.cache_ttl > 0:
            self._cache[e164] = (time.monotonic() + self.cache_ttl, facts)
            self._cache.move_to_end(e164)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return facts

    async def _lookup(self, e164: str) -> RoutingFacts | None:
        async with self.db.session() as session:
            hit = await self._find(session, e164)
            if hit is None:
                return None
            contact_id, contact_name, contact_owner, company_id, company_name, company_owner = hit
            tags: set[str] = set()
            if contact_id is not None:
                tags.update((await session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == contact_id))).all())
            if company_id is not None:
                tags.update((await session.scalars(select(CompanyTag.tag).where(CompanyTag.company_id == company_id))).all())
            last_agent, last_at = await self._last_agent(session, contact_id, company_id)
        owner = await self.directory.by_id(contact_owner) or await self.directory.by_id(company_owner)
        return RoutingFacts(
            contact_id=contact_id,
            contact_name=contact_name,
            company_id=company_id,
            company_name=company_name,
            tags=frozenset(tags),
            owner=owner,
            last_agent=last_agent,
            last_talked_at=last_at,
        )

    async def _find(
        self, session: AsyncSession, e164: str
    ) -> tuple[int | None, str | None, int | None, int | None, str | None, int | None] | None:
        """(contact_id, name, owner, company_id, company name, company owner); contacts first."""
        row = (
            await session.execute(
                select(Phone.contact_id, Phone.company_id)
                .where(Phone.number == e164)
                .order_by(Phone.contact_id.is_(None), Phone.contact_id, Phone.company_id)
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        contact_id, company_id = row
        if contact_id is not None:
            found = (
                await session.execute(
                    select(Contact.name, Contact.owner_id, Company.id, Company.name, Company.owner_id)
                    .select_from(Contact)
                    .outerjoin(Company, Company.id == Contact.company_id)
                    .where(Contact.id == contact_id)
                )
            ).first()
            if found is None:
                return None
            return contact_id, found[0], found[1], found[2], found[3], found[4]
        company = (
            await session.execute(select(Company.name, Company.owner_id).where(Company.id == company_id))
        ).first()
        if company is None:
            return None
        return None, None, None, company_id, company[0], company[1]

    async def _last_agent(
        self, session: AsyncSession, contact_id: int | None, company_id: int | None
    ) -> tuple[AgentRef | None, datetime | None]:
        # Calls linked to a contact carry its company, so the company covers the contact.
        column, value = (CallRow.company_id, company_id) if company_id is not None else (CallRow.contact_id, contact_id)
        rows = (
            await session.execute(
                select(CallRow.agent_interface, CallRow.answered_at, CallRow.started_at)
                .where(column == value, CallRow.disposition == "answered")
                .order_by(CallRow.started_at.desc())
                .limit(_CANDIDATE_CALLS)
            )
        ).all()
        agents, _ = await self.directory.snapshot()
        for interface, answered_at, started_at in rows:
            if not interface:
                continue
            ref = agents.get(interface_key(interface))
            if ref is not None:
                return ref, answered_at or started_at
        return None, None
