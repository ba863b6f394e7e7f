"""Test databases: a fresh PostgreSQL database, emptying one between tests, and running
code that calls `asyncio.run` away from pytest-asyncio's loop.

PostgreSQL runs when `TRUBKA_TEST_PG_URL` names a server where the user may create
databases (`.ci/run` starts one); otherwise the PostgreSQL variants are skipped.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from crm.database import upgrade

PG_URL = os.environ.get("TRUBKA_TEST_PG_URL", "")
T = TypeVar("T")


def in_thread(work: Callable[[], T]) -> T:
    """Run `work` in a thread of its own: its short-lived loops stay away from pytest-asyncio's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def plain_url(url: str) -> str:
    """An SQLAlchemy asyncpg URL as asyncpg itself takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


@contextmanager
def fresh_pg_database(prefix: str = "trubka_t", *, migrate: bool = True) -> Iterator[str]:
    """A new PostgreSQL database on the TRUBKA_TEST_PG_URL server, dropped afterwards."""
    if not PG_URL:
        pytest.skip("TRUBKA_TEST_PG_URL is not set: PostgreSQL tests skipped")
    import asyncpg  # type: ignore[import-untyped]

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(plain_url(PG_URL))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    in_thread(lambda: asyncio.run(run(f'CREATE DATABASE "{name}"')))
    base, _, _ = PG_URL.rpartition("/")
    url = f"{base}/{name}"
    try:
        if migrate:
            in_thread(lambda: upgrade(url))
        yield url
    finally:
        in_thread(lambda: asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


_TABLES = """
SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'
"""
_FOREIGN_KEYS = """
SELECT c.relname, p.relname FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
 WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace AND c.oid <> p.oid
"""
_USED_SEQUENCES = """
SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' AND last_value IS NOT NULL
"""


@dataclass
class _Schema:
    probe: str  # which tables hold rows, in one query
    children: dict[str, set[str]]  # table → the tables referencing it


_schemas: dict[str, _Schema] = {}


async def _schema(conn: Any, url: str) -> _Schema:
    if url not in _schemas:
        tables = [row[0] for row in await conn.fetch(_TABLES)]
        children: dict[str, set[str]] = {}
        for child, parent in await conn.fetch(_FOREIGN_KEYS):
            children.setdefault(parent, set()).add(child)
        probe = " UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables
        )
        _schemas[url] = _Schema(probe or "SELECT '' WHERE false", children)
    return _schemas[url]


async def empty_pg(conn: Any, url: str) -> None:
    """Empty every table and restart every sequence, as `TRUNCATE … RESTART IDENTITY`
    would, touching only what the previous test used: deleting the few rows of a few
    tables takes milliseconds where truncating every table takes half a second."""
    schema = await _schema(conn, url)
    tables = {row[0] for row in await conn.fetch(schema.probe)}
    sequences = [row[0] for row in await conn.fetch(_USED_SEQUENCES)]
    if tables:
        try:
            async with conn.transaction():
                for table in _children_first(tables, schema.children):
                    await conn.execute(f'DELETE FROM "{table}"')
        except Exception:  # a foreign-key cycle: let PostgreSQL work out the order
            quoted = ", ".join(f'"{t}"' for t in sorted(tables))
            await conn.execute(f"TRUNCATE {quoted} CASCADE")
    for sequence in sequences:
        await conn.execute("SELECT setval($1::regclass, 1, false)", f'"{sequence}"')


def _children_first(tables: set[str], children: dict[str, set[str]]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(table: str) -> None:
        if table in seen:
            return
        seen.add(table)
        for child in sorted(children.get(table, ())):
            if child in tables:
                visit(child)
        order.append(table)

    for table in sorted(tables):
        visit(table)
    return order


class _Janitor:
    """One thread with an event loop of its own and one open connection per database,
    which empties the databases between tests: a new connection (a new server process)
    and a new loop for each test cost more than the emptying itself."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="pg-janitor", daemon=True).start()
                self._loop = loop
                atexit.register(self.stop)
            return self._loop

    async def _empty(self, url: str) -> None:
        import asyncpg

        for attempt in (1, 2):
            conn = self._connections.get(url)
            if conn is None or conn.is_closed():
                conn = self._connections[url] = await asyncpg.connect(plain_url(url))
            try:
                await empty_pg(conn, url)
                return
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
                # The server ended this connection (a test terminated backends, the
                # server restarted): once more on a new one.
                self._connections.pop(url, None)
                if attempt == 2:
                    raise

    def empty(self, url: str) -> None:
        asyncio.run_coroutine_threadsafe(self._empty(url), self._running_loop()).result()

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def close_all() -> None:
            for conn in self._connections.values():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), 5.0)
            self._connections.clear()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close_all(), loop).result(10.0)
        loop.call_soon_threadsafe(loop.stop)


_janitor = _Janitor()


def empty_pg_database(url: str) -> None:
    """Empty the PostgreSQL database at `url` (blocking; on the janitor's thread, over
    the connection it keeps to that database)."""
    _janitor.empty(url)
