"""`/admin/webhooks` and `/admin/tokens`: admins add, pause, test and remove webhooks and see
each delivery's attempts; create tokens (shown once) and revoke them; agents are refused;
hostile values are escaped; a webhook the worker disabled is shown as an alert."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import update

from crm.hooks.models import Webhook
from tests.kit_receiver import Receiver
from tests.kit_server import InProcess
from tests.web.conftest import PASSWORD, Api
from tests.web.kit_admin import until
from trubka.app import build_app
from trubka.settings import load_settings

FAST = {"webhook_backoff_initial": 0.05, "webhook_backoff_max": 0.3, "webhook_poll_interval": 0.02}
HOSTILE = '<script>alert("x")</script>'


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


@asynccontextmanager
async def trubka(database_url: str) -> AsyncIterator[Api]:
    app = build_app(load_settings(database_url=database_url, **FAST))
    async with InProcess(app) as server:
        yield Api(server, app.state.services)


@asynccontextmanager
async def as_role(api: Api, role: str, language: str = "en") -> AsyncIterator[httpx.AsyncClient]:
    login = f"{role}-{language}"
    if await api.crm.users.get_by_login(login) is None:
        await api.crm.users.create(
            login=login, name=f"{role} {language}", role=role, password=PASSWORD,
            language=language,
        )  # fmt: skip
    async with api.client() as client:
        signed = await client.post("/api/session", json={"login": login, "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        yield client


async def post_form(
    client: httpx.AsyncClient, page: str, path: str, data: dict[str, Any]
) -> httpx.Response:
    html = (await client.get(page)).text
    return await client.post(path, data={**data, "csrf_token": csrf(html)}, follow_redirects=True)


async def test_webhooks_page_adds_tests_pauses_and_removes(database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with trubka(database_url) as api, as_role(api, "admin") as admin:
            empty = await admin.get("/admin/webhooks")
            assert empty.status_code == 200 and "No webhooks yet." in empty.text
            assert 'href="/admin/webhooks" aria-current="page"' in empty.text
            refused = await post_form(
                admin,
                "/admin/webhooks",
                "/admin/webhooks",
                {"url": "ftp://nope", "events": ["call.missed"], "secret": "s" * 16},
            )
            assert refused.status_code == 422
            assert "url:" in refused.text and "http://" in refused.text
            expired = await admin.post(
                "/admin/webhooks",
                data={"url": receiver.url, "events": ["call.missed"], "secret": "s" * 16,
                      "csrf_token": "stale"},
            )  # fmt: skip
            assert expired.status_code == 403
            url = receiver.url + "?q=" + HOSTILE
            made = await post_form(
                admin,
                "/admin/webhooks",
                "/admin/webhooks",
                {"url": url, "events": ["call.missed", "deal.created"], "secret": "s" * 20},
            )
            assert made.status_code == 200 and "Saved." in made.text, made.text[:300]
            assert HOSTILE not in made.text and "&lt;script&gt;" in made.text
            [hook] = await api.crm.webhooks.list()
            assert hook["events"] == ["call.missed", "deal.created"]
            # a test event reaches the receiver, and its attempt is in the log
            tested = await post_form(
                admin, "/admin/webhooks", f"/admin/webhooks/{hook['id']}/test", {}
            )
            assert tested.status_code == 200 and "test event is queued" in tested.text
            await until(lambda: receiver.delivered(), timeout=10)
            got = receiver.delivered()[0]
            assert got.json["event"] == "webhook.test" and got.signed_with("s" * 20)
            log = await admin.get(f"/admin/webhooks/{hook['id']}")

            async def logged() -> bool:
                nonlocal log
                log = await admin.get(f"/admin/webhooks/{hook['id']}")
                return 'data-status="delivered"' in log.text

            for _ in range(200):
                if await logged():
                    break
            assert "HTTP 200" in log.text and got.event_id in log.text
            assert HOSTILE not in log.text
            paused = await post_form(
                admin, "/admin/webhooks", f"/admin/webhooks/{hook['id']}/disable", {}
            )
            assert "The webhook is disabled" in paused.text
            assert (await api.crm.webhooks.get(hook["id"]))["enabled"] is False
            resumed = await post_form(
                admin, "/admin/webhooks", f"/admin/webhooks/{hook['id']}/enable", {}
            )
            assert "The webhook is enabled" in resumed.text
            removed = await post_form(
                admin, "/admin/webhooks", f"/admin/webhooks/{hook['id']}/delete", {}
            )
            assert removed.status_code == 200 and "No webhooks yet." in removed.text
            assert (await admin.get(f"/admin/webhooks/{hook['id']}")).status_code == 404
    finally:
        await receiver.stop()


async def test_a_webhook_disabled_by_the_worker_is_an_alert_in_russian(api: Api) -> None:
    hook = await api.crm.webhooks.create("https://example.com/in", ["call.missed"], "s" * 16, None)
    async with api.services.db.transaction() as session:
        await session.execute(
            update(Webhook)
            .where(Webhook.id == hook["id"])
            .values(
                enabled=False,
                failing_since=datetime(2026, 1, 1, tzinfo=UTC),
                disabled_at=datetime(2026, 1, 2, tzinfo=UTC),
                disabled_reason="failing for a day",
            )
        )
    async with as_role(api, "admin", "ru") as admin:
        page = await admin.get("/admin/webhooks")
        assert page.status_code == 200
        alert = re.search(r'<p class="notice warning" role="alert"[^>]*>(.*?)</p>', page.text)
        assert alert is not None, page.text[:1000]
        assert "https://example.com/in" in alert.group(1)
        assert "все доставки не удавались сутки" in alert.group(1)
        assert "Вебхуки" in page.text and "API-токены" in page.text
        dashboard = await admin.get("/admin")
        assert 'id="warning"' in dashboard.text
        assert "Вебхуков, отключённых после суток неудачных доставок: 1" in dashboard.text


async def test_tokens_page_shows_a_new_token_once_and_revokes(api: Api) -> None:
    async with as_role(api, "admin") as admin:
        refused = await post_form(
            admin, "/admin/tokens", "/admin/tokens", {"name": "site", "scopes": []}
        )
        assert refused.status_code == 422 and "scopes:" in refused.text
        made = await post_form(
            admin, "/admin/tokens", "/admin/tokens", {"name": HOSTILE, "scopes": ["leads", "deals"]}
        )
        assert made.status_code == 200
        assert made.headers["cache-control"] == "no-store"
        token = re.search(r'<code id="token-value"[^>]*>(trk_[^<]+)</code>', made.text)
        assert token is not None, made.text[:800]
        assert HOSTILE not in made.text and "&lt;script&gt;" in made.text
        listed = await admin.get("/admin/tokens")
        assert token.group(1) not in listed.text  # shown once
        assert "never" in listed.text
        async with api.client() as site:
            used = await site.post(
                "/api/inbound/leads",
                json={"phone": "+79161234567"},
                headers={"Authorization": f"Bearer {token.group(1)}"},
            )
            assert used.status_code == 201, used.text
        listed = await admin.get("/admin/tokens")
        row = re.search(r'<tr data-token="\d+">(.*?)</tr>', listed.text, re.S)
        assert row is not None and "never" not in row.group(1)  # last use shown
        [view] = await api.crm.tokens.list()
        revoked = await post_form(admin, "/admin/tokens", f"/admin/tokens/{view['id']}/revoke", {})
        assert revoked.status_code == 200 and "The token is revoked" in revoked.text
        assert (await api.crm.tokens.list())[0]["revoked_at"] is not None


async def test_agents_and_supervisors_are_refused(api: Api) -> None:
    hook = await api.crm.webhooks.create("https://example.com/in", ["call.missed"], "s" * 16, None)
    paths: list[tuple[str, str]] = [
        ("GET", "/admin/webhooks"),
        ("GET", f"/admin/webhooks/{hook['id']}"),
        ("GET", "/admin/tokens"),
        ("POST", "/admin/webhooks"),
        ("POST", f"/admin/webhooks/{hook['id']}/delete"),
        ("POST", f"/admin/webhooks/{hook['id']}/test"),
        ("POST", "/admin/tokens"),
    ]
    check: Callable[[httpx.Response], bool] = lambda r: r.status_code == 403  # noqa: E731
    for role in ("agent", "supervisor"):
        async with as_role(api, role) as client:
            for method, path in paths:
                answer = await client.request(method, path, data={"csrf_token": "x"})
                assert check(answer), (role, method, path, answer.status_code)
    assert len(await api.crm.webhooks.list()) == 1
