"""Sign-in over HTTP: the JSON endpoints, the login form with CSRF, throttling, roles."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import WebSocket

from tests.web.conftest import PASSWORD, Api


async def test_sign_in_who_am_i_and_sign_out(api: Api) -> None:
    await api.user("ivan", interfaces=("Local/101@agents/n",))
    async with api.client() as client:
        assert (await client.get("/api/session")).json()["code"] == "not_authenticated"
        response = await client.post("/api/session", json={"login": "IVAN", "password": PASSWORD})
        assert response.status_code == 200
        assert response.json()["user"]["login"] == "ivan"
        cookie = response.headers["set-cookie"]
        assert "trubka_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie
        me = (await client.get("/api/session")).json()["user"]
        assert me["interfaces"] == ["Local/101@agents/n"]
        assert (await client.delete("/api/session")).status_code == 204
        response = await client.get("/api/contacts")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


async def test_api_write_must_be_json(api: Api) -> None:
    async with api.signed_in("petr") as (client, _):
        response = await client.post(
            "/api/contacts",
            content=b"name=x",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 415
        assert response.json()["code"] == "unsupported_media_type"
    async with api.client() as anonymous:
        response = await anonymous.post(
            "/api/session", data={"login": "petr", "password": PASSWORD}
        )
        assert response.status_code == 415


async def test_login_form_needs_csrf_and_sets_the_session_cookie(api: Api) -> None:
    await api.user("anna")
    async with api.client() as client:
        page = await client.get("/login?next=/contacts")
        assert page.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        # without the token: refused, no session
        refused = await client.post("/login", data={"login": "anna", "password": PASSWORD})
        assert refused.status_code == 403
        assert "trubka_session" not in refused.headers.get("set-cookie", "")
        # a token from another browser (no matching cookie): refused
        async with api.client() as other:
            forged = await other.post(
                "/login", data={"login": "anna", "password": PASSWORD, "csrf_token": token.group(1)}
            )
            assert forged.status_code == 403
        bad = await client.post(
            "/login", data={"login": "anna", "password": "nope", "csrf_token": token.group(1)}
        )
        assert bad.status_code == 401 and "Неверный логин или пароль" in bad.text
        ok = await client.post(
            "/login",
            data={
                "login": "anna",
                "password": PASSWORD,
                "csrf_token": token.group(1),
                "next": "/contacts",
            },
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/contacts"
        assert (await client.get("/api/session")).json()["user"]["login"] == "anna"


async def test_login_form_refuses_open_redirects_and_escapes(api: Api) -> None:
    await api.user("boris")
    async with api.client() as client:
        page = await client.get('/login?next=//evil.example/"><script>')
        assert "<script>" not in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        ok = await client.post(
            "/login",
            data={
                "login": "boris",
                "password": PASSWORD,
                "csrf_token": token.group(1),
                "next": "//evil.example",
            },
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/"


async def test_logout_form_needs_session_bound_token(api: Api) -> None:
    async with api.signed_in("vera") as (client, _):
        assert (await client.post("/logout", data={"csrf_token": "guess"})).status_code == 403
        assert (await client.get("/api/session")).status_code == 200


async def test_roles_forbid_with_json_code(api: Api) -> None:
    async with api.signed_in("agent1") as (client, _):
        response = await client.post(
            "/api/users",
            json={"login": "x", "name": "X", "role": "agent", "password": "long enough"},
        )
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    async with api.signed_in("root", "admin") as (admin, _):
        response = await admin.post(
            "/api/users",
            json={
                "login": "newbie",
                "name": "Новичок",
                "role": "agent",
                "password": "long enough",
                "interfaces": ["PJSIP/105"],
            },
        )
        assert response.status_code == 201, response.text
        assert response.json()["interfaces"] == ["PJSIP/105"]
        short = await admin.post(
            "/api/users", json={"login": "y", "name": "Y", "role": "agent", "password": "short"}
        )
        assert short.status_code == 422 and short.json()["field"] == "password"
        taken = await admin.post(
            "/api/users",
            json={"login": "newbie", "name": "Y", "role": "agent", "password": "long enough"},
        )
        assert taken.status_code == 409 and taken.json()["code"] == "already_exists"


async def test_deactivated_user_loses_sessions(api: Api) -> None:
    async with api.signed_in("gone") as (client, user):
        from crm.access import Actor

        await api.crm.users.update(user.id, user.version, {"active": False}, actor=Actor.system())
        assert (await client.get("/api/session")).status_code == 401
        again = await client.post("/api/session", json={"login": "gone", "password": PASSWORD})
        assert again.status_code == 401


async def test_secure_cookie_when_configured(db: object, database_url: str) -> None:
    from tests.kit_server import InProcess
    from trubka.app import build_app
    from trubka.settings import load_settings

    app = build_app(load_settings(database_url=database_url, cookie_secure=True))
    async with InProcess(app) as server:
        await app.state.services.crm.users.create(
            login="s", name="S", role="agent", password=PASSWORD
        )
        async with server.client() as client:
            response = await client.post("/api/session", json={"login": "s", "password": PASSWORD})
            assert "Secure" in response.headers["set-cookie"]


async def test_websocket_helper_reads_the_session_cookie(db: object, database_url: str) -> None:
    import json

    import websockets

    from tests.kit_server import LiveServer
    from trubka.app import build_app
    from trubka.settings import load_settings
    from web.auth import current_user_from_websocket

    app = build_app(load_settings(database_url=database_url))

    @app.websocket("/test-ws")
    async def whoami(websocket: WebSocket) -> None:
        user = await current_user_from_websocket(websocket)
        if user is None:
            await websocket.close(code=4401)
            return
        await websocket.accept()
        await websocket.send_text(json.dumps({"login": user.login}))
        await websocket.close()

    async with LiveServer(app) as server:
        await app.state.services.crm.users.create(
            login="wsuser", name="WS", role="agent", password=PASSWORD
        )
        async with httpx.AsyncClient(base_url=server.url) as client:
            response = await client.post(
                "/api/session", json={"login": "wsuser", "password": PASSWORD}
            )
            cookie = response.cookies["trubka_session"]
        url = server.url.replace("http", "ws") + "/test-ws"
        async with websockets.connect(
            url, additional_headers={"Cookie": f"trubka_session={cookie}"}
        ) as ws:
            assert json.loads(await ws.recv()) == {"login": "wsuser"}
        with pytest.raises(websockets.exceptions.WebSocketException):
            async with websockets.connect(url) as ws:
                await ws.recv()
