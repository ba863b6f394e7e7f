"""Shared fixtures: a real database per test (SQLite file, and PostgreSQL when configured).

PostgreSQL runs when `TRUBKA_TEST_PG_URL` names a server where the user may create
databases (`.ci/run` starts one); otherwise the PostgreSQL variants are skipped.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import shutil
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from crm.database import Base, Database, upgrade

# A copy of the real Asterisk 22.10.1 traces from ../shared/ami-traces (see its README).
TRACES = Path(__file__).resolve().parent / "traces"
PG_URL = os.environ.get("TRUBKA_TEST_PG_URL", "")
T = TypeVar("T")
# Apps built in tests listen for FastAGI on a free port, never on the real 4573.
os.environ.setdefault("TRUBKA_AGI_PORT", "0")


def trace_path(name: str) -> Path:
    path = TRACES / name
    if not path.exists():
        pytest.skip(f"real AMI trace {name} not found at {TRACES}")
    return path


@pytest.fixture(autouse=True)
def _close_the_idle_loop(request: pytest.FixtureRequest) -> None:
    """Before a plain (not async) test: close the loop pytest-asyncio leaves behind.

    After each async test, pytest-asyncio 0.24 puts a fresh loop on the policy and never
    closes it. A plain test that calls `asyncio.run()` (the CLI tests) replaces it; the
    dropped loop's "unclosed event loop" ResourceWarning — an error in this suite — then
    fires in whatever test runs when the collector gets to it."""
    if inspect.iscoroutinefunction(request.function) or "event_loop" in request.fixturenames:
        return
    policy = asyncio.get_event_loop_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = policy.get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running() and not loop.is_closed():
        loop.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(upgrade, f"sqlite+aiosqlite:///{path}").result()
    return path


def in_thread(work: Callable[[], T]) -> T:
    """Run `work` in a thread of its own: its short-lived loops stay away from pytest-asyncio's."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


@contextmanager
def fresh_pg_database(prefix: str = "trubka_t", *, migrate: bool = True) -> Iterator[str]:
    """A new PostgreSQL database on the TRUBKA_TEST_PG_URL server, dropped afterwards."""
    if not PG_URL:
        pytest.skip("TRUBKA_TEST_PG_URL is not set: PostgreSQL tests skipped")
    import asyncpg  # type: ignore[import-untyped]

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = PG_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
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


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "trubka.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if database.dialect == "postgresql":
        await _truncate_all(database)
    yield database
    await database.dispose()


async def _truncate_all(database: Database) -> None:
    from sqlalchemy import text

    async with database.engine.begin() as conn:
        rows = await conn.execute(
            text(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        )
        tables = [r[0] for r in rows]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))


__all__ = ["TRACES", "Base", "trace_path"]


class LiveServer:
    """A real uvicorn server for an ASGI app, on a free loopback port, in this event loop."""

    def __init__(self, app: object) -> None:
        import uvicorn

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LiveServer:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("server exited before starting")
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


async def sign_in(
    http: object, services: object, *, login: str = "tester", role: str = "supervisor"
) -> None:
    """Create a user (fast hashing) and sign `http` (an httpx.AsyncClient) in as them."""
    from crm.users import use_fast_hashing

    use_fast_hashing()
    crm = services.crm  # type: ignore[attr-defined]
    if await crm.users.get_by_login(login) is None:
        await crm.users.create(login=login, name=login.title(), role=role, password="test-password")
    response = await http.post(  # type: ignore[attr-defined]
        "/api/session", json={"login": login, "password": "test-password"}
    )
    assert response.status_code == 200, response.text
