from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from crm.database import Database
from crm.services import CrmServices
from crm.users import UserInfo, use_fast_hashing
from tests.conftest import LiveServer
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def _fast_argon2() -> None:
    use_fast_hashing()


@dataclass
class Api:
    url: str
    services: Services

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
        return httpx.AsyncClient(base_url=self.url, timeout=10)

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
    async with LiveServer(app) as server:
        yield Api(server.url, app.state.services)
