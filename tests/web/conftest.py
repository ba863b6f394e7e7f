from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from crm.database import Database
from crm.services import CrmServices
from crm.users import UserInfo
from tests.kit_server import InProcess, LiveServer
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

PASSWORD = "correct horse"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database of this test's own (a copy of the session's template),
    for the browser tests that run only on SQLite."""
    path = tmp_path / "trubka.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@dataclass
class Api:
    server: InProcess | LiveServer  # in-process by default; a real socket where needed
    services: Services

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def crm(self) -> CrmServices:
        return self.services.crm

    async def user(
        self, login: str, role: str = "agent", *, interfaces: tuple[str, ...] = ()
    ) -> UserInfo:
        return await self.crm.users.create(
            login=login, name=login.title(), role=role, password=PASSWORD, interfaces=interfaces
        )

    def client(self) -> httpx.AsyncClient:
        return self.server.client()

    @asynccontextmanager
    async def signed_in(
        self, login: str, role: str = "agent"
    ) -> AsyncIterator[tuple[httpx.AsyncClient, UserInfo]]:
        """A new user and a client signed in as them."""
        user = await self.user(login, role)
        async with self.client() as client:
            response = await client.post(
                "/api/session", json={"login": login, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            yield client, user


@pytest.fixture
async def api(db: Database, database_url: str) -> AsyncIterator[Api]:
    app = build_app(load_settings(database_url=database_url))
    async with InProcess(app) as server:
        yield Api(server, app.state.services)
