"""Point reads for the hot paths (routing facts, phone lookup), without a thread hop.

Through aiosqlite every statement costs several hand-offs to its worker thread (each
~50 µs on a quiet machine, far more on a busy one), while the statements here are index
seeks of a few microseconds. So on SQLite this reader keeps its own read-only `sqlite3`
connection and runs them directly on the event loop thread: WAL lets it read while others
write, a statement blocks the loop for microseconds, and a short busy timeout bounds the
rare wait (a checkpoint); if the file is busy even so, the read falls back to the
engine's pool. On PostgreSQL the reads go straight to asyncpg through a small pool of
the database's (`Database.raw_pool`, prepared statements cached per connection, closed
with the engine; a read is one round trip, as the pool does not reset its connections):
through the engine, SQLAlchemy's per-statement work costs far more than the round trip.

Only short, indexed reads belong here, and they go through one gateway: each statement
is a :class:`ReadQuery` (its SQL per dialect and the typed row it reads, see
`crm/hot_queries.py`) and :meth:`FastReader.rows` runs it. SQL uses `:name` parameters on
both backends.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import text

from crm.database import Database, sqlite_path

log = logging.getLogger(__name__)

Row = TypeVar("Row")


@dataclass(frozen=True, slots=True)
class ReadQuery(Generic[Row]):
    """A hot-path statement: its SQL (one text, or one per dialect) and the mapper that
    turns each raw row (a tuple) into the typed row callers get."""

    sql: str | Mapping[str, str]
    row: Callable[[tuple[Any, ...]], Row]

    def sql_for(self, dialect: str) -> str:
        if isinstance(self.sql, str):
            return self.sql
        return self.sql[dialect]


_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` parameters as asyncpg's `$1 …`, and the names in their order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAM.sub(number, sql), tuple(names)


def as_utc(value: Any) -> datetime | None:
    """A timestamp read raw (SQLite's text, PostgreSQL's datetime) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    parsed = datetime.fromisoformat(str(value))  # SQLite: naive UTC; JSON: with an offset
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class FastReader:
    def __init__(self, db: Database, *, busy_timeout_ms: int = 50, pg_pool_size: int = 8) -> None:
        self.db = db
        self.busy_timeout_ms = busy_timeout_ms
        self.pg_pool_size = pg_pool_size
        self._path = sqlite_path(db.url)
        self._conn: sqlite3.Connection | None = None
        self._pg_sql: dict[str, tuple[str, tuple[str, ...]]] = {}

    def _connection(self) -> sqlite3.Connection | None:
        if self._path is None:
            return None
        if self._conn is None:
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            conn.execute("PRAGMA cache_size=-32768")
            self._conn = conn
        return self._conn

    async def rows(self, query: ReadQuery[Row], params: dict[str, Any]) -> list[Row]:
        """Run one of the gateway's statements; its rows come back typed."""
        mapper = query.row
        return [mapper(raw) for raw in await self.fetch(query.sql_for(self.db.dialect), params)]

    async def fetch(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Raw rows of a statement (the gateway's :meth:`rows` is the way in)."""
        conn = self._connection() if self._path is not None else None
        if conn is not None:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                log.debug("fast read busy, using the pool: %s", exc)
        elif self.db.dialect == "postgresql":
            return await self._fetch_pg(sql, params)
        async with self.db.engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(sql), params)]

    async def _fetch_pg(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        pool = await self.db.raw_pool(self.pg_pool_size)
        converted = self._pg_sql.get(sql)
        if converted is None:
            converted = self._pg_sql[sql] = positional(sql)
        query, names = converted
        rows = await pool.fetch(query, *[params[name] for name in names])
        return [tuple(row) for row in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
