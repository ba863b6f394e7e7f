"""SQLite connections go back to the pool with a rollback only when a transaction is open."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text

from crm.database import Database


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: Path) -> Any:
    path = tmp_path / "trubka.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


async def test_a_finished_transaction_is_not_rolled_back_again(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollbacks = 0
    rollback = aiosqlite.Connection.rollback

    async def counted(self: aiosqlite.Connection) -> None:
        nonlocal rollbacks
        rollbacks += 1
        await rollback(self)

    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
    monkeypatch.setattr(aiosqlite.Connection, "rollback", counted)
    async with sqlite_db.transaction() as session:  # committed
        await session.execute(text("INSERT INTO scratch VALUES (1)"))
    async with sqlite_db.transaction() as session:
        await session.execute(text("INSERT INTO scratch VALUES (2)"))
    assert rollbacks == 0  # was 2: one per return to the pool

    async with sqlite_db.session() as session:  # written, never committed
        await session.execute(text("INSERT INTO scratch VALUES (3)"))
    assert rollbacks == 1
    async with sqlite_db.engine.connect() as conn:
        await conn.execute(text("INSERT INTO scratch VALUES (4)"))  # Core, never committed
    async with sqlite_db.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM scratch")) == 2
