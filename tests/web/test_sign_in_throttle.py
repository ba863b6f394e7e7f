"""The sign-in throttle over HTTP (behind a trusted proxy): a stranger's failures never
lock a user out; repeated failures from one address wait longer and longer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from crm.database import Database
from tests.kit_server import LiveServer
from tests.web.conftest import PASSWORD, Api
from trubka.app import build_app
from trubka.settings import load_settings


@pytest.fixture
async def api(db: Database, database_url: str) -> AsyncIterator[Api]:
    """A real server: X-Forwarded-For is believed from the loopback proxy (uvicorn's)."""
    app = build_app(load_settings(database_url=database_url))
    async with LiveServer(app) as server:
        yield Api(server, app.state.services)


async def _sign_in(
    client: httpx.AsyncClient, password: str, ip: str, **headers: str
) -> httpx.Response:
    return await client.post(
        "/api/session",
        json={"login": "olga", "password": password},
        headers={"X-Forwarded-For": ip, **headers},
    )


async def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lockout cannot be triggered from another address: failures from A get growing
    waits (429 with Retry-After, a message in the user's language), B signs in."""
    await api.user("olga")
    # behind a trusted proxy (loopback by default): X-Forwarded-For names the client
    async with api.client() as attacker, api.client() as agent:
        for _ in range(3):
            response = await _sign_in(attacker, "wrong password", "198.51.100.7")
            assert response.status_code == 401
            assert response.json()["code"] == "bad_credentials"
        response = await _sign_in(attacker, PASSWORD, "198.51.100.7", **{"Accept-Language": "ru"})
        assert response.status_code == 429
        body = response.json()
        assert body["code"] == "rate_limited"
        assert body["message"].startswith("Слишком много неудачных попыток")
        first_wait = int(response.headers["retry-after"])
        assert first_wait > 0
        english = await _sign_in(attacker, "x", "198.51.100.7", **{"Accept-Language": "en"})
        assert english.status_code == 429 and "too many" in english.json()["message"]
        # the right password from another address goes through
        signed_in = await _sign_in(agent, PASSWORD, "203.0.113.20")
        assert signed_in.status_code == 200, signed_in.text
        # the wait grows with each failure from A
        throttle = api.crm.throttle
        clock = [throttle.clock()]
        monkeypatch.setattr(throttle, "clock", lambda: clock[0])
        clock[0] += first_wait
        assert (await _sign_in(attacker, "still wrong", "198.51.100.7")).status_code == 401
        again = await _sign_in(attacker, "still wrong", "198.51.100.7")
        assert again.status_code == 429
        assert int(again.headers["retry-after"]) > first_wait


async def test_the_login_form_says_how_long_to_wait(api: Api) -> None:
    await api.user("olga")
    async with api.client() as client:
        page = await client.get("/login", headers={"Accept-Language": "ru"})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        form = {"login": "olga", "password": "nope", "csrf_token": token.group(1)}
        for _ in range(3):
            assert (await client.post("/login", data=form)).status_code == 401
        held = await client.post("/login", data={**form, "password": PASSWORD})
        assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
        assert "Слишком много неудачных попыток. Повторите через" in held.text
