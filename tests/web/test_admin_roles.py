"""Who may open the admin pages and call the admin API: every `/admin` page and admin
endpoint tried as agent, supervisor, admin and anonymous.

Table-driven: pages come from `web.pages.admin.layout.ADMIN_PAGES` (a page added there
is tried here too), the API endpoints from `ADMIN_API` below. Anonymous: a page redirects
to the sign-in form, the API answers 401; a role without access gets the HTML 403 page
(pages) or 403 `forbidden` (API)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from web.pages.admin.layout import ADMIN_PAGES

from .conftest import PASSWORD, Api

ROLES = ("agent", "supervisor", "admin")

# (method, path, JSON body, roles allowed). `{user_id}` is a user that exists.
ADMIN_API: list[tuple[str, str, dict[str, object] | None, tuple[str, ...]]] = [
    ("GET", "/api/queues", None, ("supervisor", "admin")),
    ("GET", "/api/queues/support/members", None, ("supervisor", "admin")),
    ("POST", "/api/queues/support/members", {"user_id": 0, "penalty": 1}, ("admin",)),
    ("PATCH", "/api/queues/support/members/{user_id}", {"penalty": 2}, ("admin",)),
    ("DELETE", "/api/queues/support/members/{user_id}", None, ("admin",)),
    ("POST", "/api/users", {"login": "x"}, ("admin",)),
    ("POST", "/api/users/{user_id}/password", {}, ("admin",)),
    ("GET", "/api/users/interface-check?interface=PJSIP/101", None, ("admin",)),
    ("GET", "/api/audit", None, ("admin",)),
    ("GET", "/api/audit?format=csv", None, ("admin",)),
    ("GET", "/api/wrapup-codes", None, ROLES),
    ("POST", "/api/wrapup-codes", {"code": "x"}, ("admin",)),
    ("PUT", "/api/wrapup-codes/sale", {"success": "x"}, ("admin",)),
    ("DELETE", "/api/wrapup-codes/nope", None, ("admin",)),
]


@asynccontextmanager
async def _client_as(api: Api, role: str | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as a new user of this role (anonymous for None)."""
    async with api.client() as client:
        if role is not None:
            if await api.crm.users.get_by_login(f"role-{role}") is None:
                await api.user(f"role-{role}", role)
            response = await client.post(
                "/api/session", json={"login": f"role-{role}", "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
        yield client


@pytest.mark.parametrize("role", [None, *ROLES])
async def test_every_admin_page_as_every_role(api: Api, role: str | None) -> None:
    target = await api.user("someone", "agent", interfaces=("PJSIP/150",))
    async with _client_as(api, role) as client:
        for template, allowed in ADMIN_PAGES.items():
            path = template.replace("{user_id}", str(target.id))
            response = await client.get(path, follow_redirects=False)
            where = f"{path} as {role}"
            if role is None:
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/login?next="), where
            elif role in allowed:
                assert response.status_code == 200, (where, response.text[:300])
                assert "text/html" in response.headers["content-type"], where
            else:
                assert response.status_code == 403, where
                assert "text/html" in response.headers["content-type"], where
                assert "<html" in response.text, where


@pytest.mark.parametrize("role", [None, *ROLES])
async def test_every_admin_endpoint_as_every_role(api: Api, role: str | None) -> None:
    target = await api.user("someone", "agent", interfaces=("PJSIP/150",))
    async with _client_as(api, role) as client:
        for method, template, body, allowed in ADMIN_API:
            path = template.replace("{user_id}", str(target.id))
            response = await client.request(method, path, json=body)
            where = f"{method} {path} as {role}"
            if role is None:
                assert response.status_code == 401, where
            elif role in allowed:
                # allowed through the role check: 2xx, or refused for its body/state only
                assert response.status_code not in (401, 403), (where, response.text)
            else:
                assert response.status_code == 403, (where, response.text)
                assert response.json()["code"] == "forbidden", where


async def test_admin_forms_refuse_other_roles_too(api: Api) -> None:
    """The admin pages' POST forms check the role as their pages do."""
    target = await api.user("someone", "agent", interfaces=("PJSIP/150",))
    posts = [
        "/admin/users/new",
        f"/admin/users/{target.id}",
        f"/admin/users/{target.id}/active",
        f"/admin/users/{target.id}/password",
        "/admin/queues/support/members",
        f"/admin/queues/support/members/{target.id}/penalty",
        f"/admin/queues/support/members/{target.id}/remove",
    ]
    for role in ("agent", "supervisor"):
        async with _client_as(api, role) as client:
            for path in posts:
                response = await client.post(path, data={"active": "0"}, follow_redirects=False)
                assert response.status_code == 403, (path, role)
    async with api.client() as anonymous:
        for path in posts:
            response = await anonymous.post(path, data={}, follow_redirects=False)
            assert response.status_code == 303, path
    assert (await api.crm.users.get(target.id)).active


async def test_an_admin_signing_in_lands_on_the_dashboard(api: Api) -> None:
    await api.user("boss", "admin")
    async with api.client() as client:
        page = await client.get("/login")
        csrf = page.cookies.get("trubka_csrf") or client.cookies.get("trubka_csrf")
        response = await client.post(
            "/login",
            data={"login": "boss", "password": PASSWORD, "csrf_token": csrf or "", "next": "/"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/admin"
        landing = await client.get("/", follow_redirects=False)
        assert landing.headers["location"] == "/admin"
        dashboard = await client.get("/admin")
        assert dashboard.status_code == 200
        assert 'id="stat-users"' in dashboard.text
        assert "/admin/users" in dashboard.text


async def test_the_live_views_agent_rows_offer_add_to_queue_to_admins(api: Api) -> None:
    for role, shown in (("admin", True), ("supervisor", False)):
        async with _client_as(api, role) as client:
            page = await client.get("/supervisor")
            assert page.status_code == 200
            assert ('data-act="add-queue"' in page.text) is shown, role
            assert 'data-act="logout"' in page.text


async def test_the_audit_page_filters_and_its_until_day_is_included(api: Api) -> None:
    from datetime import UTC, datetime

    today = datetime.now(UTC).date().isoformat()
    async with _client_as(api, "admin") as client:
        created = await client.post(
            "/api/users",
            json={"login": "neo", "name": "Neo <b>", "role": "agent", "password": PASSWORD},
        )
        assert created.status_code == 201, created.text
        page = await client.get(
            "/admin/audit", params={"kind": "admin", "since": today, "until": today}
        )
        assert page.status_code == 200
        assert 'data-action="user_create"' in page.text
        assert "Neo &lt;b&gt;" in page.text and "Neo <b>" not in page.text
        assert "format=csv" in page.text
        other = await client.get("/admin/audit", params={"kind": "supervisor"})
        assert 'data-action="user_create"' not in other.text
        bad = await client.get("/admin/audit", params={"since": "yesterday"})
        assert bad.status_code == 200 and 'id="error"' in bad.text


async def test_a_user_page_that_does_not_exist_is_the_not_found_page(api: Api) -> None:
    async with _client_as(api, "admin") as client:
        page = await client.get("/admin/users/999999")
        assert page.status_code == 404
        assert "text/html" in page.headers["content-type"]
        assert 'class="admin-nav"' in page.text


async def test_the_member_forms_check_the_token_and_the_values_then_change(api: Api) -> None:
    """Adding, re-penalising and removing a member from the queues page: a form without
    its token is refused (403), one without a user or a whole-number penalty names the
    problem (422), a good one changes the membership and goes back to the page (303)."""
    target = await api.user("member", "agent", interfaces=("PJSIP/151",))
    async with _client_as(api, "admin") as client:
        page = await client.get("/admin/queues")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match is not None
        token = match.group(1)
        add = "/admin/queues/support/members"
        expired = await client.post(add, data={"user_id": str(target.id), "penalty": "2"})
        assert expired.status_code == 403 and "Форма устарела" in expired.text
        bad = await client.post(add, data={"csrf_token": token, "penalty": "x"})
        assert bad.status_code == 422 and "Выберите пользователя и штраф" in bad.text
        added = await client.post(
            add,
            data={"csrf_token": token, "user_id": str(target.id), "penalty": "2"},
            follow_redirects=False,
        )
        assert added.status_code == 303, added.text
        assert added.headers["location"].startswith("/admin/queues?done=added")
        assert added.headers["location"].endswith(f"#user-{target.id}")
        penalty = f"/admin/queues/support/members/{target.id}/penalty"
        bad = await client.post(penalty, data={"csrf_token": token, "penalty": "two"})
        assert bad.status_code == 422
        changed = await client.post(
            penalty, data={"csrf_token": token, "penalty": "5"}, follow_redirects=False
        )
        assert changed.status_code == 303
        assert changed.headers["location"].startswith("/admin/queues?done=penalty")
        members = (await client.get("/api/queues/support/members")).json()
        assert [(m["user_id"], m["penalty"]) for m in members["items"]] == [(target.id, 5)]
        removed = await client.post(
            f"/admin/queues/support/members/{target.id}/remove",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert removed.status_code == 303
        assert removed.headers["location"].startswith("/admin/queues?done=removed")
        members = (await client.get("/api/queues/support/members")).json()
        assert members["items"] == []
