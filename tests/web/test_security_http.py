"""HTTP hardening of issue 17: body limits (item 3), the current password for one's own
change (5), call visibility on /status (6), security headers and a CSP the pages keep
working under (10), CSRF bound to the session (11), one task rule for list and get (12),
the /metrics message and the start-up warning (14)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from crm.access import Actor
from crm.database import Database
from crm.models import Role
from crm.schemas import ContactCreate, TaskCreate, TaskUpdate
from telephony.records import CallRecord, Direction, Disposition
from telephony.state import Call
from tests.kit_server import LiveServer
from tests.web.conftest import PASSWORD, Api
from trubka.app import build_app
from trubka.settings import load_settings

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


@pytest.fixture
async def api(db: Database, database_url: str) -> AsyncIterator[Api]:
    """These tests need a real server: raw sockets, WebSockets, X-Forwarded-For."""
    app = build_app(load_settings(database_url=database_url))
    async with LiveServer(app) as server:
        yield Api(server, app.state.services)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


# --- item 3: request bodies ------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_before_sign_in(api: Api) -> None:
    async with api.client() as client:
        big = b'{"login": "x", "password": "' + b"a" * (1024 * 1024 + 10) + b'"}'
        response = await client.post(
            "/api/session", content=big, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["code"] == "too_large"

        assert await _status_of_chunked_post(api.url, 40 * 65536) == b"413"
        small = await client.post("/api/session", json={"login": "x", "password": "y" * 8})
        assert small.status_code == 401  # under the limit: read and answered as before


async def _status_of_chunked_post(url: str, size: int) -> bytes:
    """POST a body of `size` bytes without a length (chunked); the answer's status."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
        for _ in range(size // 65536):
            writer.write(chunk)
            try:
                await writer.drain()
            except ConnectionError:
                break  # answered and closed before the end: what a limit does
        async with asyncio.timeout(5):
            status = await reader.readline()
        return status.split()[1]
    finally:
        writer.close()


async def test_a_declared_length_over_the_limit_is_answered_without_reading(api: Api) -> None:
    host, port = api.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 50000000\r\n\r\n"
    )
    try:
        await writer.drain()
        async with asyncio.timeout(3):  # the body never comes: the answer may not wait for it
            status = await reader.readline()
        assert status.split()[1] == b"413"
    finally:
        writer.close()


# --- item 5: one's own password --------------------------------------------------------


async def test_changing_ones_own_password_needs_the_current_one(api: Api) -> None:
    async with api.signed_in("anna") as (client, anna):
        url = f"/api/users/{anna.id}"
        missing = await client.patch(url, json={"version": anna.version, "password": "new pass 1"})
        assert missing.status_code == 422
        assert missing.json()["field"] == "current_password"
        wrong = await client.patch(
            url,
            json={"version": anna.version, "password": "new pass 1", "current_password": "nope"},
        )
        assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
        ok = await client.patch(
            url,
            json={"version": anna.version, "password": "new pass 1", "current_password": PASSWORD},
        )
        assert ok.status_code == 200, ok.text
        assert await api.crm.users.authenticate("anna", "new pass 1") is not None
        renamed = await client.patch(url, json={"version": ok.json()["version"], "name": "Anya"})
        assert renamed.status_code == 200  # other own fields need no password


async def test_an_admin_resets_another_users_password_without_theirs(api: Api) -> None:
    boris = await api.user("boris")
    async with api.signed_in("root", "admin") as (admin, _):
        response = await admin.patch(
            f"/api/users/{boris.id}", json={"version": boris.version, "password": "reset pass"}
        )
        assert response.status_code == 200, response.text


# --- item 6: /status and /api/status follow the calls rule ----------------------------


def _live_call(linkedid: str, number: str, agent: str | None) -> Call:
    return Call(
        linkedid=linkedid,
        started_at=time.time() - 30,
        origin_uniqueid=linkedid,
        origin_leg="PJSIP/trunk-1",
        caller_num=number,
        queue="support",
        agent_interface=agent,
        agents=[agent] if agent else [],
        answered_at=time.time() - 10 if agent else None,
    )


def _record(linkedid: str, number: str, agent: str) -> CallRecord:
    start = time.time() - 600
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        caller_number=number,
        caller_name=None,
        called_number="100",
        queue="support",
        agent_interface=agent,
        agent_name=None,
        started_at=start,
        answered_at=start + 5,
        ended_at=start + 60,
        wait_seconds=5.0,
        talk_seconds=55.0,
        disposition=Disposition.ANSWERED,
        agents=(agent,),
    )


async def test_status_shows_an_agent_only_the_calls_they_may_open(api: Api) -> None:
    await api.crm.users.create(
        login="a101", name="A101", role="agent", password=PASSWORD,
        interfaces=["Local/101@agents/n"], language="en",
    )  # fmt: skip
    live = api.services.live.calls
    live["1.1"] = _live_call("1.1", "+74950000101", "Local/101@agents")
    live["1.2"] = _live_call("1.2", "+74950000202", "Local/102@agents")
    await api.services.calls.save(
        [
            _record("2.1", "+74950000303", "Local/101@agents/n"),
            _record("2.2", "+74950000404", "Local/102@agents/n"),
        ]
    )
    async with api.client() as agent:
        signed = await agent.post("/api/session", json={"login": "a101", "password": PASSWORD})
        assert signed.status_code == 200
        numbers = [
            c["caller_number"] for c in (await agent.get("/api/status")).json()["live_calls"]
        ]
        assert numbers == ["+74950000101"]
        page = (await agent.get("/status")).text
        assert "0000101" in page.replace(" ", "").replace("-", "")
        flat = page.replace(" ", "").replace("-", "")
        assert "0000202" not in flat and "0000404" not in flat
        assert "0000303" in flat
    async with api.signed_in("boss", "supervisor") as (boss, _):
        live_calls = (await boss.get("/api/status")).json()["live_calls"]
        assert len(live_calls) == 2
        flat = (await boss.get("/status")).text.replace(" ", "").replace("-", "")
        assert "0000404" in flat and "0000202" in flat


# --- item 10: security headers and the CSP ---------------------------------------------


async def test_pages_and_the_api_carry_the_security_headers(api: Api) -> None:
    async with api.client() as client:
        page = await client.get("/login")
        csp = page.headers["content-security-policy"]
        for directive in (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ):
            assert directive in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
        api_response = await client.get("/api/session")
        assert api_response.headers["x-content-type-options"] == "nosniff"
        assert api_response.headers["cache-control"] == "no-store"
        static = await client.get("/static/trubka.css")
        assert static.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in static.headers.get("cache-control", "")
        docs = await client.get("/api/docs")
        assert docs.status_code == 200  # Swagger UI keeps working under its own policy
        assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_no_template_needs_unsafe_inline() -> None:
    """Inline handlers, inline styles and executable inline scripts would be blocked."""
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", text), f"inline event handler in {path.name}"
        assert not re.search(r"\sstyle\s*=", text), f"inline style in {path.name}"
        assert "<style" not in text, f"inline stylesheet in {path.name}"
        assert "javascript:" not in text, path.name
        for tag in re.findall(r"<script[^>]*>", text):
            assert "src=" in tag or 'type="application/json"' in tag, f"{tag} in {path.name}"


# --- item 11: CSRF after sign-in --------------------------------------------------------


async def test_a_planted_pre_sign_in_token_is_refused_once_signed_in(api: Api) -> None:
    async with api.signed_in("vera") as (client, _):
        client.cookies.set("trubka_csrf", "planted-by-a-sibling-subdomain")
        forged = await client.post(
            "/language", data={"lang": "en", "csrf_token": "planted-by-a-sibling-subdomain"}
        )
        assert forged.status_code == 403
        forged = await client.post("/logout", data={"csrf_token": "planted-by-a-sibling-subdomain"})
        assert forged.status_code == 403
        assert (await client.get("/api/session")).status_code == 200  # still signed in
        page = await client.get("/status")
        ok = await client.post("/language", data={"lang": "en", "csrf_token": csrf_of(page.text)})
        assert ok.status_code == 303


async def test_the_pre_sign_in_token_still_works_before_sign_in(api: Api) -> None:
    async with api.client() as client:
        page = await client.get("/login")
        ok = await client.post("/language", data={"lang": "en", "csrf_token": csrf_of(page.text)})
        assert ok.status_code == 303


# --- item 12: tasks ---------------------------------------------------------------------


async def test_another_agents_private_task_is_hidden_from_list_and_get(api: Api) -> None:
    mine = await api.user("a1")
    theirs = await api.user("a2")
    tasks = api.crm.tasks
    owner = Actor(theirs.id, Role.AGENT)
    private = await tasks.create(TaskCreate(title="private"), owner)
    private = await tasks.update(
        private["id"], TaskUpdate(version=private["version"], status="done"), owner
    )
    contact = await api.crm.contacts.create(ContactCreate(name="Client"), Actor.system())
    shared = await tasks.create(
        TaskCreate(title="about the client", contact_id=contact["id"]), owner
    )
    async with api.client() as client:
        signed = await client.post("/api/session", json={"login": "a1", "password": PASSWORD})
        assert signed.status_code == 200
        assert mine.id != theirs.id
        hidden = await client.get(f"/api/tasks/{private['id']}")
        assert hidden.status_code == 404
        listed = await client.get("/api/tasks", params={"status": "done"})
        assert private["id"] not in [t["id"] for t in listed.json()["items"]]
        assert (await client.get(f"/api/tasks/{shared['id']}")).status_code == 200
        by_contact = await client.get("/api/tasks", params={"contact_id": contact["id"]})
        assert [t["id"] for t in by_contact.json()["items"]] == [shared["id"]]
    async with api.signed_in("boss", "supervisor") as (boss, _):
        assert (await boss.get(f"/api/tasks/{private['id']}")).status_code == 200


# --- item 14: /metrics and TRUBKA_SECRET_KEY ---------------------------------------------


async def test_the_metrics_refusal_names_the_metrics_variable(api: Api) -> None:
    async with api.client() as client:
        response = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert response.status_code == 403
        assert "TRUBKA_METRICS_TOKEN" in response.text
        assert "TRUBKA_ROUTE_TOKEN" not in response.text


@pytest.mark.parametrize(("secret", "warnings"), [("", 1), ("a-real-secret-key", 0)])
async def test_one_start_up_warning_without_a_secret_key(
    database_url: str, caplog: pytest.LogCaptureFixture, secret: str, warnings: int
) -> None:
    caplog.set_level(logging.WARNING)
    app = build_app(load_settings(database_url=database_url, secret_key=secret, ami_enabled=False))
    async with LiveServer(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        await client.get("/login")
        await client.get("/login")
    found = [r for r in caplog.records if "TRUBKA_SECRET_KEY" in r.getMessage()]
    assert len(found) == warnings
    if found:
        assert "restart" in found[0].getMessage()
