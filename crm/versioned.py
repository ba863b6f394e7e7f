"""Versioned records (contacts, companies, deals, pipelines, tasks, notes, users): the one
way to load one by id and to change it under optimistic locking.

A client reads a record with its `version` and sends that version back with its change.
`Entity.for_update` refuses a change made from an older version with `Conflict` (409,
carrying the current version); `Entity.saving` turns SQLAlchemy's StaleDataError — a
concurrent writer committed between our read and our flush — into the same `Conflict`.
A missing id is `NotFound` (404), worded "<noun> <id> not found".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from crm.database import Database
from crm.errors import Conflict, NotFound
from crm.models import Versioned

M = TypeVar("M", bound=Versioned)


@dataclass(frozen=True, slots=True)
class Entity(Generic[M]):
    """A versioned model, the noun its errors use and its "changed by someone else"
    message (each entity keeps the wording its clients already show)."""

    model: type[M]
    noun: str
    changed_elsewhere: str

    async def get(self, session: AsyncSession, ident: int) -> M:
        """The record with this id, or `NotFound`."""
        row = await session.get(self.model, ident)
        if row is None:
            raise NotFound(f"{self.noun} {ident} not found")
        return row

    async def for_update(self, session: AsyncSession, ident: int, version: int) -> M:
        """The record, provided it is still at the `version` the client read."""
        row = await self.get(session, ident)
        if row.version != version:
            raise Conflict(self.changed_elsewhere, current_version=row.version)
        return row

    @contextmanager
    def saving(self) -> Iterator[None]:
        """Wrap the transaction that writes the record: a concurrent update found at
        flush or commit becomes `Conflict`."""
        try:
            yield
        except StaleDataError as exc:
            raise Conflict(self.changed_elsewhere) from exc

    @asynccontextmanager
    async def updating(
        self, db: Database, ident: int, version: int
    ) -> AsyncIterator[tuple[AsyncSession, M]]:
        """A transaction holding the record at `version` (see `for_update`), committed
        on leaving the block; a stale version, then or at commit, is `Conflict`."""
        with self.saving():
            async with db.transaction() as session:
                yield session, await self.for_update(session, ident, version)
