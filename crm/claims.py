"""Doing a thing once when several nodes share the database.

- :func:`insert_ignoring` — an INSERT that does nothing when the row's unique key exists
  already (`ON CONFLICT DO NOTHING`, on SQLite and PostgreSQL): two nodes storing the
  same thing at the same moment make one row and no error.
- :func:`serialize` — a transaction-scoped lock by name (PostgreSQL's
  `pg_advisory_xact_lock`, released at commit or rollback): transactions of every node
  that take the same name run one after the other. On SQLite (one node, one writer at a
  time) it does nothing.
"""

from __future__ import annotations

import zlib
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from crm.database import Base


def insert_ignoring(dialect: str, model: type[Base], index_elements: list[str]) -> Any:
    """`INSERT INTO model … ON CONFLICT (index_elements) DO NOTHING` (add `.values()`)."""
    insert = sqlite_insert if dialect == "sqlite" else pg_insert
    return insert(model).on_conflict_do_nothing(index_elements=index_elements)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock's name (the same on every node)."""
    return zlib.crc32(name.encode()) - 2**31


async def serialize(session: AsyncSession, name: str) -> None:
    """Hold the lock `name` until this transaction ends (PostgreSQL; a no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
