"""Shared fixtures: a real database per test (SQLite file, and PostgreSQL when configured).

PostgreSQL runs when `TRUBKA_TEST_PG_URL` names a server where the user may create
databases (`.ci/run` starts one); otherwise the PostgreSQL variants are skipped.

Helpers live in `kit_*.py` modules next to the tests that use them (`tests/kit_server.py`:
running the app; `tests/kit_db.py`: databases; `tests/kit_traces.py`: the real traces).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import inspect
import os
import shutil
import ssl
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from crm.database import Database, upgrade
from crm.users import use_fast_hashing
from tests.kit_db import empty_pg_database, fresh_pg_database, in_thread

# Apps built in tests talk to no PBX unless a test asks: no AMI client dialling
# 127.0.0.1:5038 (whatever listens there would change the results), no FastAGI server;
# a test that wants them passes ami_enabled=True / agi_enabled=True (and a port).
os.environ.setdefault("TRUBKA_AMI_ENABLED", "false")
os.environ.setdefault("TRUBKA_AGI_ENABLED", "false")
# When a test turns FastAGI on, it listens on a free port, never on the real 4573.
os.environ.setdefault("TRUBKA_AGI_PORT", "0")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (the default, `pyproject.toml`): one test process per core, at least
    two and at most four. Nearly half of a test's wall time is spent waiting (on
    subprocesses, sockets, timers), so a process per core is more than a core's worth
    of work; past four, the PostgreSQL server and the Chromiums the tests start are the
    limit."""
    return max(2, min(4, os.cpu_count() or 2))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests over the real Asterisk kit share one Asterisk per test process
    (`tests/asterisk/conftest.py`): they run in one process (`--dist loadgroup`), so
    the kit is started once, and two PBXes never compete for the two cores."""
    kit = Path(__file__).parent / "asterisk"
    for item in items:
        if kit in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("asterisk"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Once the tests are collected, what is alive (modules, the collected tests, their
    parameters: some 200,000 objects) lives until the end; `gc.freeze()` takes it out of
    the collector's sight, as `trubka serve` does at start-up, and a larger first
    generation makes fewer collections. Python's cyclic collector had been a fifth of
    the CPU time of the HTTP tests, walking the same long-lived objects again and again.
    Garbage is still collected, only less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


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


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing() -> None:
    """Cheap argon2 parameters for the whole session (the real ones cost ~50 ms a hash)."""
    use_fast_hashing()


@pytest.fixture(autouse=True, scope="session")
def _ffmpeg_checked_once() -> Iterator[None]:
    """Every app start checks ffmpeg (`ffmpeg -version`, `-encoders`: a quarter of a second);
    the answer is the same all session for the same ffmpeg, so it is asked once. A test
    that changes PATH or puts a fake ffmpeg on it gets a check of its own."""
    import recordings.audio
    import recordings.service
    import recordings.worker

    real = recordings.audio.find_tools

    @functools.cache
    def cached(fmt: str, path: str | None, ffmpeg: str | None, stamp: int | None) -> object:
        return real(fmt)

    def find_tools(fmt: str = "mp3") -> object:
        ffmpeg = shutil.which("ffmpeg")
        stamp = os.stat(ffmpeg).st_mtime_ns if ffmpeg else None
        return cached(fmt, os.environ.get("PATH"), ffmpeg, stamp)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recordings.service, "find_tools", find_tools)
        patch.setattr(recordings.worker, "find_tools", find_tools)
        yield


@pytest.fixture(autouse=True, scope="session")
def _no_alembic_at_head() -> Iterator[None]:
    """Every app start runs `Database.upgrade()`; on a database already at the head (the
    copies of the template, the emptied PostgreSQL database) Alembic does nothing, after
    reading every migration script and opening a connection of its own: 20–40 ms an app
    start, hundreds of starts a session. Here one query on the database's own engine sees
    that the head is there and skips that no-op; any other database (empty, older,
    restored from a backup, another migrations directory) is upgraded as before."""
    from sqlalchemy import text

    import crm.database

    real_dir, head = crm.database.MIGRATIONS_DIR, crm.database.head_revision()
    real_upgrade = crm.database.Database.upgrade

    async def upgrade(self: Database) -> None:
        if real_dir == crm.database.MIGRATIONS_DIR:
            try:
                async with self.engine.connect() as conn:
                    query = text("SELECT version_num FROM alembic_version")
                    versions = list((await conn.execute(query)).scalars())
            except Exception:  # no alembic_version table: a new database
                versions = []
            if versions == [head]:
                return
        await real_upgrade(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crm.database.Database, "upgrade", upgrade)
        yield


@pytest.fixture(autouse=True, scope="session")
def _route_dependencies_analysed_once() -> Iterator[None]:
    """FastAPI builds a router's routes for an app lazily, on the app's first request
    into it: for every route it reads the endpoint's signature and builds a pydantic
    validator for each parameter (`_build_dependant_with_parameterless_dependencies`).
    A server does that once; the tests build a new app (over a new database) hundreds
    of times a session, and that analysis was a fifth of the CPU time of the HTTP tests.
    The result depends only on the path, the endpoint and its dependencies, never on the
    app, so it is kept per (path, endpoint, dependencies) for the session, and so is each
    route's response field (the serializer of its response model). The handler
    that solves the dependencies at each request, with the app's own overrides, is still
    made per app. A FastAPI without this function is left as it is."""
    import fastapi.routing

    real = getattr(fastapi.routing, "_build_dependant_with_parameterless_dependencies", None)
    real_field = getattr(fastapi.routing, "create_model_field", None)
    if real is None or real_field is None:
        yield
        return
    built: dict[tuple[object, ...], object] = {}
    fields: dict[tuple[object, ...], object] = {}

    def build(*, path: str, call: object, dependencies: object) -> object:
        try:
            key = (path, call, tuple(dependencies))  # type: ignore[call-overload]
            hash(key)
        except TypeError:  # an unhashable dependency: analysed each time, as FastAPI does
            return real(path=path, call=call, dependencies=dependencies)
        if key not in built:
            built[key] = real(path=path, call=call, dependencies=dependencies)
        return built[key]

    def create_model_field(name: str, type_: object, *args: object, **options: object) -> object:
        """A route's response field (its serializer): the same for every app."""
        try:
            key = (name, type_, args, tuple(sorted(options.items())))
            hash(key)
        except TypeError:
            return real_field(name, type_, *args, **options)
        if key not in fields:
            fields[key] = real_field(name, type_, *args, **options)
        return fields[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fastapi.routing, "_build_dependant_with_parameterless_dependencies", build)
        patch.setattr(fastapi.routing, "create_model_field", create_model_field)
        yield


@pytest.fixture(autouse=True, scope="session")
def _default_tls_context_loaded_once() -> Iterator[None]:
    """Every httpx client without a transport of its own (the tests' clients of a real
    server, the webhook sender of each app started) builds the default TLS context,
    reading certifi's whole CA bundle: 30 ms a client, hundreds a session. The default
    context is the same each time for the same CA settings, so it is built once per
    settings; a client asking for anything else (`verify=False`, a context, a
    certificate) gets what it asks for, as before."""
    import httpx._transports.default as transports

    real = transports.create_ssl_context
    made: dict[tuple[str | None, str | None], ssl.SSLContext] = {}

    def create_ssl_context(
        verify: object = True, cert: object = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is not True or cert is not None or not trust_env:
            return real(verify=verify, cert=cert, trust_env=trust_env)  # type: ignore[arg-type]
        key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        if key not in made:
            made[key] = real()
        return made[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transports, "create_ssl_context", create_ssl_context)
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    in_thread(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database: a copy of the template SQLite file, or the session's
    PostgreSQL database emptied of what the previous test left."""
    if request.param == "sqlite":
        path = tmp_path / "trubka.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url = str(request.getfixturevalue("pg_database"))
    empty_pg_database(url)
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()
