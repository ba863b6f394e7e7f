"""Running read-only CRM code in one worker thread over a plain `sqlite3` connection.

Through aiosqlite each statement of a read costs several hand-offs between the event
loop and the driver's thread; a contact card is ~15 statements, so the hand-offs, not
SQLite, dominate its time. On SQLite the card is therefore built in one worker thread
over a synchronous SQLAlchemy session: one hand-off for the whole card, and the event
loop stays free meanwhile.

The read code itself is written once, as coroutines over an `AsyncSession`;
`SyncSessionAdapter` offers the same read methods over a synchronous `Session` as
coroutines that never suspend, and `run_to_end` drives such a coroutine to its result.
Code run this way must await nothing but the adapter (no real I/O, no sleeps): if it
does suspend, `run_to_end` raises instead of blocking.
"""

from __future__ import annotations

import threading
from collections.abc import Coroutine
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from crm.database import Database, sqlite_path

T = TypeVar("T")


class ReadSuspended(RuntimeError):
    """A coroutine run by `run_to_end` tried to wait for real I/O."""


class SyncSessionAdapter:
    """The read methods of `AsyncSession` over a synchronous `Session`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.session.execute(statement, params, **kw)

    async def scalars(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.session.scalars(statement, params, **kw)

    async def scalar(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.session.scalar(statement, params, **kw)

    async def get(self, entity: Any, ident: Any, **kw: Any) -> Any:
        return self.session.get(entity, ident, **kw)

    async def connection(self, **kw: Any) -> SyncConnectionAdapter:
        return SyncConnectionAdapter(self.session.connection(**kw))


class SyncConnectionAdapter:
    """`AsyncConnection.execute` over a synchronous `Connection` (Core statements skip
    the session's ORM execution layer: about half of a small read's cost)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    async def execute(self, statement: Any, params: Any = None, **kw: Any) -> Any:
        return self.connection.execute(statement, params, **kw)


def run_to_end(coro: Coroutine[Any, Any, T]) -> T:
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coro.close()
    raise ReadSuspended("a synchronous read awaited real I/O")


def _pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute("PRAGMA cache_size=-32768")
    finally:
        cursor.close()


class SyncReader:
    """A synchronous read-only engine on the same SQLite file (None for PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._path = sqlite_path(db.url)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._sessions: sessionmaker[Session] | None = None

    @property
    def available(self) -> bool:
        return self._path is not None

    def _factory(self) -> sessionmaker[Session]:
        with self._lock:
            if self._sessions is None:
                engine = create_engine(
                    f"sqlite:///{self._path}", connect_args={"check_same_thread": False}
                )
                event.listen(engine, "connect", _pragmas)
                self._engine = engine
                self._sessions = sessionmaker(engine, expire_on_commit=False)
            return self._sessions

    def run(self, work: Any, *args: Any, **kwargs: Any) -> Any:
        """Call `work(session, *args, **kwargs)` (a coroutine function) to its end, in this
        thread, with an adapter over a fresh synchronous session."""
        with self._factory()() as session:
            adapter = cast(AsyncSession, SyncSessionAdapter(session))
            return run_to_end(work(adapter, *args, **kwargs))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None
