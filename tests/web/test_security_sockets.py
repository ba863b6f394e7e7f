"""`/ws` security over real sockets: a socket ends with its session or with the user's
rights (issue 17, item 1), only the site's own origin or an allowed one may open it
(item 2), and a session or a user holds a bounded number of sockets (item 13)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from crm.database import Database
from tests.kit_server import LiveServer
from tests.web.conftest import PASSWORD, Api
from trubka.app import build_app
from trubka.settings import load_settings

SIGNED_OUT = 4401  # the session ended: pages go to the sign-in form
ACCESS_CHANGED = 4403  # the user's rights changed: connect again
TOO_MANY = 4429  # more sockets than a session or a user may hold


@pytest.fixture
async def api(db: Database, database_url: str) -> AsyncIterator[Api]:
    """These tests need a real server: raw sockets, WebSockets, X-Forwarded-For."""
    app = build_app(load_settings(database_url=database_url))
    async with LiveServer(app) as server:
        yield Api(server, app.state.services)


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws"


def cookie_of(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


@asynccontextmanager
async def socket(
    base: str, client: httpx.AsyncClient, *, origin: str | None = None
) -> AsyncIterator[Any]:
    async with websockets.connect(
        ws_url(base),
        additional_headers={"Cookie": cookie_of(client)},
        origin=origin,  # type: ignore[arg-type]
    ) as ws:
        await pong(ws)
        yield ws


async def pong(ws: Any) -> None:
    """Ping and wait for the answer (the socket is registered and serving)."""
    await ws.send(json.dumps({"type": "ping"}))
    async with asyncio.timeout(5):
        while json.loads(await ws.recv())["type"] != "pong":
            pass


async def closed_with(ws: Any, *, within: float = 3.0) -> int:
    """The close code the server ends this socket with, waiting at most `within` s."""
    async with asyncio.timeout(within):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "closed without a close frame"
            return exc.rcvd.code


@asynccontextmanager
async def signed_in(
    api: Api, login: str, password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    async with api.client() as client:
        response = await client.post("/api/session", json={"login": login, "password": password})
        assert response.status_code == 200, response.text
        yield client


# --- item 1: a socket does not outlive its session or the user's rights ---------------


async def test_sign_out_closes_that_sessions_sockets_at_once(api: Api) -> None:
    await api.user("anna")
    async with (
        signed_in(api, "anna") as first,
        signed_in(api, "anna") as second,
        socket(api.url, first) as ws1,
        socket(api.url, second) as ws2,
    ):
        assert (await first.delete("/api/session")).status_code == 204
        assert await closed_with(ws1) == SIGNED_OUT
        await pong(ws2)  # the other session (another browser) goes on


async def test_the_sign_out_form_closes_the_sockets_too(api: Api) -> None:
    await api.user("boris")
    async with signed_in(api, "boris") as client, socket(api.url, client) as ws:
        page = await client.get("/status")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = await client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        assert await closed_with(ws) == SIGNED_OUT


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"active": False}, SIGNED_OUT),
        ({"password": "a new password"}, SIGNED_OUT),
        ({"role": "supervisor"}, ACCESS_CHANGED),
    ],
)
async def test_an_admins_change_closes_every_socket_of_the_user(
    api: Api, change: dict[str, Any], code: int
) -> None:
    agent = await api.user("olga")
    await api.user("root", "admin")
    async with (
        signed_in(api, "olga") as one,
        signed_in(api, "olga") as two,
        signed_in(api, "root") as admin,
        socket(api.url, one) as ws1,
        socket(api.url, two) as ws2,
        socket(api.url, admin) as admin_ws,
    ):
        response = await admin.patch(
            f"/api/users/{agent.id}", json={"version": agent.version, **change}
        )
        assert response.status_code == 200, response.text
        assert await closed_with(ws1) == code
        assert await closed_with(ws2) == code
        await pong(admin_ws)


async def test_changing_ones_own_password_closes_the_old_sockets(api: Api) -> None:
    user = await api.user("petr")
    async with signed_in(api, "petr") as client, socket(api.url, client) as ws:
        response = await client.patch(
            f"/api/users/{user.id}",
            json={
                "version": user.version,
                "password": "brand new one",
                "current_password": PASSWORD,
            },
        )
        assert response.status_code == 200, response.text
        assert await closed_with(ws) == SIGNED_OUT
        async with socket(api.url, client):  # the fresh session cookie opens a new one
            pass


# --- item 2: Origin --------------------------------------------------------------------


@pytest.fixture
async def strict_api(db: Database, database_url: str) -> AsyncIterator[Api]:
    settings = load_settings(
        database_url=database_url,
        allowed_origins="https://crm.example.com",
        ws_max_per_session=3,
        ws_max_per_user=4,
    )
    app = build_app(settings)
    async with LiveServer(app) as server:
        yield Api(server, app.state.services)


async def test_a_foreign_origin_is_refused_and_the_own_one_accepted(strict_api: Api) -> None:
    api = strict_api
    await api.user("ivan")
    async with signed_in(api, "ivan") as client:
        for evil in ("https://evil.example", "http://127.0.0.1.evil.example", "null"):
            with pytest.raises(InvalidStatus) as refused:
                async with socket(api.url, client, origin=evil):
                    pass
            assert refused.value.response.status_code == 403
        async with socket(api.url, client, origin=api.url):  # the page's own origin
            pass
        async with socket(api.url, client, origin="https://CRM.example.com"):  # allowed
            pass
        async with socket(api.url, client):  # no Origin: not a browser
            pass


# --- item 13: sockets per session and per user ------------------------------------------


async def test_sockets_per_session_and_per_user_are_capped_oldest_first(strict_api: Api) -> None:
    api = strict_api  # at most 3 sockets per session, 4 per user
    await api.user("vera")
    async with (
        signed_in(api, "vera") as one,
        signed_in(api, "vera") as two,
        socket(api.url, one) as a1,
        socket(api.url, one) as a2,
        socket(api.url, one) as a3,
        socket(api.url, one) as a4,
    ):
        assert await closed_with(a1) == TOO_MANY  # the session's oldest
        await pong(a2)
        await pong(a4)
        async with socket(api.url, two) as b1, socket(api.url, two) as b2:
            # the user now holds a2 a3 a4 b1 b2: the oldest (a2) goes
            assert await closed_with(a2) == TOO_MANY
            for ws in (a3, a4, b1, b2):
                await pong(ws)


def test_the_default_caps() -> None:
    settings = load_settings()
    assert settings.ws_max_per_session == 10
    assert settings.ws_max_per_user == 20
