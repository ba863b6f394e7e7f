"""Database plumbing: the async engine, the declarative base, sessions and migrations.

SQLite (aiosqlite, WAL) by default; PostgreSQL (asyncpg) with the same code. Migrations
are Alembic's, applied on start-up and by `trubka db upgrade`. They form one line: the
feature branches of the first releases end in the merge revision `0002_merge_heads`, and
every later migration follows the newest one, so `upgrade head` applies them all
(docs/architecture.md, "Migrations"). `head_revision` refuses a second head.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite keeps naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


_ENCODER = json.JSONEncoder()  # json.dumps' defaults: the same text as json.dumps


def json_text(value: Any) -> str:
    """The engine's JSON serializer: `json.dumps(value)`'s text, without its wrapper, and
    an empty list or object without the encoder (most rows of the rules' run log carry
    two: a rule whose conditions failed did no action and had no error)."""
    kind = type(value)
    if kind is list and not value:
        return "[]"
    if kind is dict and not value:
        return "{}"
    return _ENCODER.encode(value)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout on every connection.

    On PostgreSQL at most 30 connections, each kept once opened (`pool_size` 30, no
    overflow): an overflow connection is closed as soon as it is returned, and opening
    one costs the SCRAM exchange (about 2 ms of CPU on the event loop; a TLS handshake
    more where the server offers TLS) and a new backend process in PostgreSQL. With
    10 kept and 20 more on demand, the bursts of card reads and call writes at 50
    calls/s opened and closed several connections a second, stalling the loop that
    sends the screen pops. The most a node opens is the same (30)."""
    kwargs.setdefault("json_serializer", json_text)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30})
    else:
        kwargs.setdefault("pool_size", 30)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_pre_ping", True)
    if is_sqlite(url):
        kwargs.setdefault("pool_reset_on_return", None)  # `_sqlite_reset` decides
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if kwargs["pool_reset_on_return"] is None:
            event.listen(engine.sync_engine, "reset", _sqlite_reset)
    return engine


def _sqlite_reset(dbapi_connection: Any, _record: ConnectionPoolEntry, state: Any) -> None:
    """A connection back in the pool: roll back only what is still open.

    The pool's default rolls back on every return, but a session that committed (or only
    read: pysqlite opens no transaction for a SELECT) has nothing open, and on aiosqlite
    that no-op rollback is one more round trip to the driver's thread per transaction.
    SQLite itself says whether a transaction is open (`in_transaction`)."""
    if state.terminate_only or not state.asyncio_safe:
        return
    try:
        open_ = bool(dbapi_connection.driver_connection.in_transaction)
    except Exception:  # closed or not aiosqlite: roll back as the pool would
        open_ = True
    if open_:
        dbapi_connection.rollback()


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
    finally:
        cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """The engine and its session factory, created once by the composition root."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = session_factory(self.engine)
        self._raw_pool: Any = None  # asyncpg.Pool for hot-path reads (crm.fastpath)
        self._raw_lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    async def upgrade(self) -> None:
        await asyncio.to_thread(upgrade, self.url)

    async def raw_pool(self, max_size: int = 8) -> Any:
        """PostgreSQL only: a small asyncpg pool on the same database for short indexed
        reads on hot paths (`crm.fastpath`), opened on first use, closed by `dispose`.

        Its connections run single read statements and nothing else (no session
        settings, advisory locks, LISTEN or cursors), so a released connection is not
        reset: asyncpg's default reset is a second round trip after every statement."""
        if self._raw_pool is None:
            async with self._raw_lock:
                if self._raw_pool is None:
                    import asyncpg  # type: ignore[import-untyped]

                    url = self.engine.url.set(drivername="postgresql")
                    self._raw_pool = await asyncpg.create_pool(
                        url.render_as_string(hide_password=False),
                        min_size=1,
                        max_size=max_size,
                        command_timeout=10,
                        reset=_reads_leave_nothing_to_reset,
                    )
        return self._raw_pool

    async def dispose(self) -> None:
        pool, self._raw_pool = self._raw_pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5)
            except TimeoutError:
                pool.terminate()
        await self.engine.dispose()


async def _reads_leave_nothing_to_reset(connection: Any) -> None:
    """`Database.raw_pool`'s reset: nothing (asyncpg still rolls back an open transaction)."""


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class MigrationBranchError(RuntimeError):
    """The migrations fork: more than one revision has no successor."""


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`, by default the one head (blocking; call from a
    thread when a loop is running)."""
    from alembic import command

    head_revision()  # a forked history stops here, with a message that says how to fix it
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def known_revisions() -> set[str]:
    """Every migration this version of Trubka has."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {revision.revision for revision in script.walk_revisions()}


def head_revision() -> str:
    """The newest migration: the one revision nothing follows."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise MigrationBranchError(
            f"the migrations in {MIGRATIONS_DIR / 'versions'} have {len(heads)} heads "
            f"({', '.join(sorted(heads))}); they must form one line: set the new "
            "revision's down_revision to the newest one"
        )
    return str(heads[0])
