"""Routing facts for a caller's number: who they are, who owns them, who spoke to them last.

`RoutingFactsSource.lookup(e164)` is what the FastAGI handler calls for every incoming
call, so it is built for speed (target p99 ≤ 2 ms at 1M contacts / 10M calls):
- one statement finds the number's contact (contact phones first, the oldest contact
  when several share it) or else company, with the company, both owners and both sets
  of tags (`ix_phones_number_cover`, primary keys);
- one reads the last answered calls of the company (which covers its contacts' calls)
  or of the contact, newest first, from the covering partial indexes on answered calls
  (route_0002: an index range scan, no table rows);
  `calls.agent_interface` (`Local/101@agents/n`) is mapped to a user through the
  in-memory `UserDirectory` (normalized interface keys), as are the owners — an
  inactive user is not offered;
- on PostgreSQL both are one statement (one round trip; the calls come as JSON);
- the statements (`crm/hot_queries.py`, typed rows) run through the gateway
  `crm.fastpath.FastReader` (no thread hop on SQLite,
  asyncpg without SQLAlchemy on PostgreSQL).
An optional cache keeps answers for `cache_ttl` seconds (bursts and redials of one
number); `invalidate(number)` drops one, `clear()` all. It is off by default: the
database path meets the target on its own (see bench/crm_scale.py).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from crm.database import Database
from crm.fastpath import FastReader
from crm.hot_queries import (
    LAST_CALLS_OF_COMPANY,
    LAST_CALLS_OF_CONTACT,
    NUMBER_FACTS,
    LastCall,
)
from crm.users import UserDirectory
from kernel.agents import agent_key
from routing.facts import AgentRef, RoutingFacts


class RoutingFactsSource:
    def __init__(
        self,
        db: Database,
        directory: UserDirectory,
        *,
        cache_ttl: float = 0.0,
        cache_size: int = 10_000,
        reader: FastReader | None = None,
    ) -> None:
        self.db = db
        self.directory = directory
        self.reader = reader or FastReader(db)
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
        found = await self.reader.rows(NUMBER_FACTS, {"number": e164})
        if not found:
            return None
        row = found[0]
        if row.contact_id is None and row.company_id is None:
            return None
        if row.last_calls is not None:  # PostgreSQL: read with the number
            last_agent, last_at = await self._pick_agent(row.last_calls)
        else:
            last_agent, last_at = await self._last_agent(row.contact_id, row.company_id)
        owner = await self.directory.by_id(row.contact_owner) or await self.directory.by_id(
            row.company_owner
        )
        return RoutingFacts(
            contact_id=row.contact_id,
            contact_name=row.contact_name,
            company_id=row.company_id,
            company_name=row.company_name,
            tags=row.tags,
            owner=owner,
            last_agent=last_agent,
            last_talked_at=last_at,
        )

    async def _last_agent(
        self, contact_id: int | None, company_id: int | None
    ) -> tuple[AgentRef | None, datetime | None]:
        # Calls linked to a contact carry its company, so the company covers the contact.
        if company_id is not None:
            rows = await self.reader.rows(LAST_CALLS_OF_COMPANY, {"id": company_id})
        else:
            rows = await self.reader.rows(LAST_CALLS_OF_CONTACT, {"id": contact_id})
        return await self._pick_agent(rows)

    async def _pick_agent(
        self, calls: Sequence[LastCall]
    ) -> tuple[AgentRef | None, datetime | None]:
        """The newest call whose agent is (still) an active user, and when they talked."""
        agents, _ = await self.directory.snapshot()
        for call in calls:
            if not call.agent_interface:
                continue
            ref = agents.get(agent_key(call.agent_interface))
            if ref is not None:
                return ref, call.talked_at
        return None, None
