"""The CRM lookups of the live view: agents' logins by interface, contacts by number.

Both are served from memory, so building an update never waits on the database:

* **Logins** come from the CRM's :class:`crm.users.UserDirectory` (interface key →
  user, reloaded by the CRM every few seconds) joined with the users' logins, which
  are re-read only when that directory reloaded — a handful of users, one small query.
* **Contacts** are looked up in batches (one query for every number not yet known),
  cached for `ttl` seconds, unknown numbers included, in a bounded LRU map. The live
  feed fetches the numbers of a batch of events before it builds the update, and
  numbers first seen while building (after a restart the calls come from the resync,
  not from events) are fetched right after, and the update follows.

Interfaces are compared as the CRM does (`kernel.agents.agent_key`: lower-cased, without
the Local channel's `/n`), while the live state keeps Asterisk's spelling.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from crm.database import Database
from crm.models import Company, Contact, Phone, User
from crm.users import UserDirectory
from kernel.agents import agent_key
from supervisor.live import Directory

log = logging.getLogger(__name__)

ContactJson = dict[str, Any]
LOGIN_REFRESH = 10.0  # seconds between checks of the user directory
BATCH = 500  # numbers per query


class CrmLiveDirectory:
    """Logins and contacts for the live view, cached in memory (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        users: UserDirectory,
        *,
        ttl: float = 60.0,
        size: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.users = users
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._contacts: OrderedDict[str, tuple[float, ContactJson | None]] = OrderedDict()
        self._missing: set[str] = set()
        self._people: dict[str, tuple[int, str, str]] = {}  # key -> (user id, login, name)
        self._seen_by_key: object = None
        self._checked_at = float("-inf")
        self.queries = 0

    # --- sync lookups (used while building) -------------------------------------------
    def person_for(self, interface: str) -> tuple[int, str, str] | None:
        """(user id, login, name) of the user who owns an agent interface."""
        return self._people.get(agent_key(interface))

    def login_for(self, interface: str) -> str | None:
        person = self._people.get(agent_key(interface))
        return person[1] if person else None

    def contact_for(self, number: str) -> ContactJson | None:
        hit = self._contacts.get(number)
        if hit is None or hit[0] < self.clock():
            self._missing.add(number)
            return hit[1] if hit is not None else None  # a stale answer until refreshed
        return hit[1]

    def directory(self) -> Directory:
        return Directory(
            login_for=self.login_for, contact_for=self.contact_for, person_for=self.person_for
        )

    @property
    def missing(self) -> set[str]:
        """Numbers asked for while building that are not known (or known too long)."""
        return set(self._missing)

    # --- async refresh (off the build) --------------------------------------------------
    async def resolve(self, interfaces: Iterable[str], numbers: Iterable[str]) -> Directory:
        """The `LiveDirectory` port: make sure these are known, then the sync lookups."""
        await self.refresh_people()
        await self.fetch(numbers)
        return self.directory()

    async def refresh_people(self, *, force: bool = False) -> bool:
        """Re-read logins when the CRM's directory reloaded; True when anything changed."""
        now = self.clock()
        if not force and now - self._checked_at < LOGIN_REFRESH:
            return False
        self._checked_at = now
        try:
            by_key, _ = await self.users.snapshot()
            if by_key is self._seen_by_key and not force:
                return False
            async with self.db.session() as session:
                rows = (await session.execute(select(User.id, User.login))).all()
        except SQLAlchemyError as exc:
            log.warning("live view: reading the users failed: %s", exc)
            return False
        logins = dict(rows)
        people = {
            key: (ref.user_id, logins.get(ref.user_id, ""), ref.name) for key, ref in by_key.items()
        }
        self._seen_by_key = by_key
        changed = people != self._people
        self._people = people
        return changed

    async def fetch(self, numbers: Iterable[str]) -> set[str]:
        """Look up the numbers not known (or stale) now; returns those whose contact changed."""
        now = self.clock()
        wanted = sorted(
            {n for n in numbers if n and ((h := self._contacts.get(n)) is None or h[0] < now)}
        )
        if not wanted:
            return set()
        found: dict[str, ContactJson] = {}
        try:
            for i in range(0, len(wanted), BATCH):
                found.update(await self._query(wanted[i : i + BATCH]))
        except SQLAlchemyError as exc:
            log.warning("live view: looking up %d numbers failed: %s", len(wanted), exc)
            return set()
        changed = set()
        expires = self.clock() + self.ttl
        for number in wanted:
            contact = found.get(number)
            old = self._contacts.pop(number, None)
            if old is None or old[1] != contact:
                changed.add(number)
            self._contacts[number] = (expires, contact)
            self._missing.discard(number)
        while len(self._contacts) > self.size:
            self._contacts.popitem(last=False)
        return changed

    async def fetch_missing(self) -> set[str]:
        """Fetch what the last builds asked for and did not find; returns changed numbers."""
        missing, self._missing = self._missing, set()
        return await self.fetch(missing)

    async def _query(self, numbers: list[str]) -> dict[str, ContactJson]:
        self.queries += 1
        query = (
            select(Phone.number, Contact.id, Contact.name, Company.id, Company.name)
            .select_from(Phone)
            .outerjoin(Contact, Contact.id == Phone.contact_id)
            .outerjoin(Company, Company.id == _company_of(Phone.company_id, Contact.company_id))
            .where(Phone.number.in_(numbers))
            # a contact's phone before a company's; the oldest contact when several share it
            .order_by(Phone.number, Phone.contact_id.is_(None), Phone.contact_id, Phone.company_id)
        )
        async with self.db.session() as session:
            rows = (await session.execute(query)).all()
        out: dict[str, ContactJson] = {}
        for number, contact_id, contact_name, company_id, company_name in rows:
            if number in out:
                continue
            out[number] = {
                "id": contact_id,
                "name": contact_name,
                "company_id": company_id,
                "company": company_name,
            }
        return out


def _company_of(phone_company: Any, contact_company: Any) -> Any:
    from sqlalchemy import func

    return func.coalesce(contact_company, phone_company)
