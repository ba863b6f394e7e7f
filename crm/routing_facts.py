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
- the statements run through `crm.fastpath.FastReader` (no thread hop on SQLite,
  asyncpg without SQLAlchemy on PostgreSQL).
An optional cache keeps answers for `cache_ttl` seconds (bursts and redials of one
number); `invalidate(number)` drops one, `clear()` all. It is off by default: the
database path meets the target on its own (see bench/crm_scale.py).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from crm.database import Database
from crm.fastpath import FastReader, as_utc
from crm.users import UserDirectory
from kernel.agents import agent_key
from routing.facts import AgentRef, RoutingFacts

_CANDIDATE_CALLS = 5  # answered calls looked at to find one whose agent is still a user

# The number's contact (contact phones first, the oldest contact when several share it)
# or else company, both owners and both sets of tags: one statement. The tags come as a
# JSON array (SQLite: json_group_array, '[]' when none; PostgreSQL: json_agg, NULL).
_FIND = """
SELECT p.contact_id, c.name, c.owner_id, co.id, co.name, co.owner_id,
  (SELECT {agg} FROM contact_tags WHERE contact_id = p.contact_id),
  (SELECT {agg} FROM company_tags WHERE company_id = co.id)
FROM phones p
LEFT JOIN contacts c ON c.id = p.contact_id
LEFT JOIN companies co ON co.id = COALESCE(c.company_id, p.company_id)
WHERE p.number = :number
ORDER BY p.contact_id IS NULL, p.contact_id, p.company_id
LIMIT 1
"""
FIND = {
    "sqlite": _FIND.format(agg="json_group_array(tag)"),
    "postgresql": _FIND.format(agg="json_agg(tag)::text"),
}
# PostgreSQL: one round trip for everything — the last answered calls come along as a
# JSON array (newest first) from the same covering indexes. (On SQLite, where a
# statement costs no round trip, two plain statements are as fast and simpler.)
_LAST_JSON = """
(SELECT json_agg(json_build_array(agent_interface, answered_at, started_at)
                 ORDER BY started_at DESC)::text
 FROM (SELECT agent_interface, answered_at, started_at FROM calls
       WHERE {column} = {value} AND disposition = 'answered'
       ORDER BY started_at DESC LIMIT {limit}) AS last)
"""
FIND_ALL_PG = FIND["postgresql"].replace(
    "\nFROM phones p",
    ",\n  CASE WHEN co.id IS NOT NULL THEN "
    + _LAST_JSON.format(column="company_id", value="co.id", limit=_CANDIDATE_CALLS)
    + " ELSE "
    + _LAST_JSON.format(column="contact_id", value="p.contact_id", limit=_CANDIDATE_CALLS)
    + " END\nFROM phones p",
)
# The index on (company_id | contact_id, started_at, agent_interface, answered_at,
# disposition) WHERE answered covers these (route_0002): no table rows are read.
LAST_BY_COMPANY = f"""
SELECT agent_interface, answered_at, started_at FROM calls
WHERE company_id = :id AND disposition = 'answered'
ORDER BY started_at DESC LIMIT {_CANDIDATE_CALLS}
"""
LAST_BY_CONTACT = f"""
SELECT agent_interface, answered_at, started_at FROM calls
WHERE contact_id = :id AND disposition = 'answered'
ORDER BY started_at DESC LIMIT {_CANDIDATE_CALLS}
"""


def _tags(value: str | None) -> list[str]:
    if not value or value == "[]":  # most customers have no tags
        return []
    tags = json.loads(value)
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


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
        self._one_statement = db.dialect == "postgresql"
        self._find = FIND_ALL_PG if self._one_statement else FIND["sqlite"]
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
        found = await self.reader.fetch(self._find, {"number": e164})
        if not found:
            return None
        row = found[0]
        (
            contact_id,
            contact_name,
            contact_owner,
            company_id,
            company_name,
            company_owner,
            contact_tags,
            company_tags,
        ) = row[:8]
        if contact_id is None and company_id is None:
            return None
        if self._one_statement:
            last = json.loads(row[8]) if row[8] else []
            last_agent, last_at = await self._pick_agent(last)
        else:
            last_agent, last_at = await self._last_agent(contact_id, company_id)
        owner = await self.directory.by_id(contact_owner) or await self.directory.by_id(
            company_owner
        )
        return RoutingFacts(
            contact_id=contact_id,
            contact_name=contact_name,
            company_id=company_id,
            company_name=company_name,
            tags=frozenset(_tags(contact_tags) + _tags(company_tags)),
            owner=owner,
            last_agent=last_agent,
            last_talked_at=last_at,
        )

    async def _last_agent(
        self, contact_id: int | None, company_id: int | None
    ) -> tuple[AgentRef | None, datetime | None]:
        # Calls linked to a contact carry its company, so the company covers the contact.
        if company_id is not None:
            rows = await self.reader.fetch(LAST_BY_COMPANY, {"id": company_id})
        else:
            rows = await self.reader.fetch(LAST_BY_CONTACT, {"id": contact_id})
        return await self._pick_agent(rows)

    async def _pick_agent(
        self, rows: Sequence[Sequence[Any]]
    ) -> tuple[AgentRef | None, datetime | None]:
        """The newest call whose agent is (still) an active user, and when they talked."""
        agents, _ = await self.directory.snapshot()
        for interface, answered_at, started_at in rows:
            if not interface:
                continue
            ref = agents.get(agent_key(interface))
            if ref is not None:
                return ref, as_utc(answered_at) or as_utc(started_at)
        return None, None
