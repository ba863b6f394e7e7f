"""API tokens: made by an admin and shown once, stored hashed, scopes allowed and denied,
revoked tokens refused, last use recorded (throttled)."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from crm.access import Actor
from crm.hooks.models import ApiToken
from crm.hooks.tokens import TOUCH_EVERY
from crm.models import Role
from tests.web.conftest import Api


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_token_is_shown_once_stored_hashed_and_listed_without_it(api: Api) -> None:
    async with api.signed_in("admin1", "admin") as (client, admin):
        made = await client.post(
            "/api/tokens", json={"name": "website", "scopes": ["contacts:read", "contacts:write"]}
        )
        assert made.status_code == 201, made.text
        token = made.json()["token"]
        assert token.startswith("trk_") and len(token) > 40
        assert made.json()["created_by_id"] == admin.id
        listed = (await client.get("/api/tokens")).json()["items"]
        assert [t["name"] for t in listed] == ["website"]
        assert "token" not in listed[0] and listed[0]["last_used_at"] is None
        assert listed[0]["scopes"] == ["contacts:read", "contacts:write"]
    async with api.services.db.session() as session:
        rows = (await session.scalars(select(ApiToken))).all()
    assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(value) for r in rows for value in vars(r).values())


async def test_scopes_allow_and_deny_and_a_revoked_token_is_refused(api: Api) -> None:
    async with api.signed_in("admin2", "admin") as (admin, _):
        reader = (
            await admin.post("/api/tokens", json={"name": "r", "scopes": ["contacts:read"]})
        ).json()
        writer = (
            await admin.post(
                "/api/tokens", json={"name": "w", "scopes": ["contacts:write", "webhooks"]}
            )
        ).json()
        bad = await admin.post("/api/tokens", json={"name": "x", "scopes": ["everything"]})
        assert bad.status_code == 422 and bad.json()["field"] == "scopes.0"
        assert "область" in bad.json()["message"]
    async with api.client() as other:  # no cookie: only the token
        created = await other.post(
            "/api/contacts", json={"name": "From the site"}, headers=bearer(writer["token"])
        )
        assert created.status_code == 201, created.text
        contact_id = created.json()["id"]
        read = await other.get(f"/api/contacts/{contact_id}", headers=bearer(reader["token"]))
        assert read.status_code == 200 and read.json()["name"] == "From the site"
        denied = await other.post(
            "/api/contacts", json={"name": "no"}, headers=bearer(reader["token"])
        )
        assert denied.status_code == 403
        assert "contacts:write" in denied.json()["message"]
        assert "области доступа" in denied.json()["message"]  # the creator's language
        for path in ("/api/calls", "/api/deals", "/api/tasks"):
            refused = await other.get(path, headers=bearer(reader["token"]))
            assert refused.status_code == 403, path
        hooks = await other.get("/api/webhooks", headers=bearer(writer["token"]))
        assert hooks.status_code == 200, hooks.text
        # tokens never manage tokens, nor reach what no scope names
        for path in ("/api/tokens", "/api/users", "/api/reports/agents"):
            no = await other.get(path, headers=bearer(writer["token"]))
            assert no.status_code == 403, (path, no.text)
        unknown = await other.get("/api/contacts", headers=bearer("trk_nope"))
        assert unknown.status_code == 401
        async with api.signed_in("admin3", "admin") as (admin, _):
            revoked = await admin.delete(f"/api/tokens/{reader['id']}")
            assert revoked.status_code == 204
            listed = {t["id"]: t for t in (await admin.get("/api/tokens")).json()["items"]}
            assert listed[reader["id"]]["revoked_at"] is not None
            again = await admin.delete(f"/api/tokens/{reader['id']}")
            assert again.status_code == 404
        gone = await other.get(f"/api/contacts/{contact_id}", headers=bearer(reader["token"]))
        assert gone.status_code == 401
        assert gone.json()["code"] == "not_authenticated"


async def test_only_admins_make_tokens_and_the_last_use_is_recorded(api: Api) -> None:
    async with api.signed_in("sup2", "supervisor") as (client, _):
        refused = await client.post("/api/tokens", json={"name": "n", "scopes": ["tasks"]})
        assert refused.status_code == 403
    async with api.signed_in("admin4", "admin") as (admin, _):
        made = (await admin.post("/api/tokens", json={"name": "t", "scopes": ["tasks"]})).json()
        async with api.client() as other:
            first = await other.get("/api/tasks", headers=bearer(made["token"]))
            assert first.status_code == 200, first.text
            listed = (await admin.get("/api/tokens")).json()["items"]
            used = listed[0]["last_used_at"]
            assert used is not None
            # within TOUCH_EVERY a second use does not write again (throttled)
            await other.get("/api/tasks", headers=bearer(made["token"]))
            assert (await admin.get("/api/tokens")).json()["items"][0]["last_used_at"] == used
            assert TOUCH_EVERY.total_seconds() >= 10


async def test_a_token_stops_with_its_deactivated_creator(api: Api) -> None:
    async with api.signed_in("admin5", "admin") as (admin, me):
        made = (await admin.post("/api/tokens", json={"name": "d", "scopes": ["deals"]})).json()
    async with api.client() as other:
        assert (await other.get("/api/deals", headers=bearer(made["token"]))).status_code == 200
        boss = await api.user("boss5", "admin")
        await api.crm.users.update(
            me.id, me.version, {"active": False}, actor=Actor(user_id=boss.id, role=Role.ADMIN)
        )
        stopped = await other.get("/api/deals", headers=bearer(made["token"]))
        assert stopped.status_code == 401
