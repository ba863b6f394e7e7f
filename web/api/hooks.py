"""`/api/webhooks` and `/api/tokens` (admins only; docs/integrations.md).

- `POST /api/webhooks {"url", "events": [...], "secret"}` → the webhook (never its
  secret); `GET /api/webhooks`; `GET /api/webhooks/{id}`; `PATCH /api/webhooks/{id}
  {"enabled"}`; `DELETE /api/webhooks/{id}`; `GET /api/webhooks/{id}/deliveries?status=&
  limit=` → the newest deliveries, each with its attempts (time, status or error).
- `POST /api/tokens {"name", "scopes": [...]}` → the token's view plus `token` (shown
  this once; only its hash is kept); `GET /api/tokens` (name, scopes, created, last
  used, revoked); `DELETE /api/tokens/{id}` revokes.

Error messages are in the admin's language (web/locale/ru/LC_MESSAGES/hooks.po).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm.errors import CrmError
from crm.users import UserInfo
from web.api.views import ERRORS
from web.auth import crm_of, require_json, require_role
from web.i18n import translations
from web.params import PathId

router = APIRouter(
    prefix="/api",
    tags=["integrations"],
    responses=ERRORS,
    dependencies=[Depends(require_json)],
)
Admin = Annotated[UserInfo, Depends(require_role("admin"))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookIn(Strict):
    url: str = Field(max_length=2000)
    events: list[str] = Field(max_length=20)
    secret: str = Field(max_length=256)


class WebhookPatch(Strict):
    enabled: bool


class WebhookView(BaseModel):
    id: int
    url: str
    events: list[str]
    enabled: bool
    created_at: str | None
    failing_since: str | None
    disabled_at: str | None
    disabled_reason: str | None
    pending: int


class WebhookList(BaseModel):
    items: list[WebhookView]


class AttemptView(BaseModel):
    at: str | None
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryView(BaseModel):
    id: int
    event_id: str
    event: str
    status: str
    attempts: list[AttemptView]
    created_at: str | None
    next_at: str | None
    finished_at: str | None


class DeliveryList(BaseModel):
    items: list[DeliveryView]


class TokenIn(Strict):
    name: str = Field(max_length=120)
    scopes: list[str] = Field(max_length=20)


class TokenView(BaseModel):
    id: int
    name: str
    scopes: list[str]
    created_at: str | None
    created_by_id: int
    last_used_at: str | None
    revoked_at: str | None


class NewToken(TokenView):
    token: str  # shown this once


class TokenList(BaseModel):
    items: list[TokenView]


@asynccontextmanager
async def in_language(user: UserInfo) -> AsyncIterator[None]:
    """The CRM's error messages (English msgids) in the admin's language."""
    try:
        yield
    except CrmError as exc:
        exc.message = translations(user.language).gettext(exc.message)
        exc.args = (exc.message,)
        raise


@router.post("/webhooks", status_code=201, response_model=WebhookView)
async def create_webhook(body: WebhookIn, request: Request, admin: Admin) -> dict[str, Any]:
    async with in_language(admin):
        return await crm_of(request).webhooks.create(body.url, body.events, body.secret, admin.id)


@router.get("/webhooks", response_model=WebhookList)
async def list_webhooks(request: Request, admin: Admin) -> dict[str, Any]:
    return {"items": await crm_of(request).webhooks.list()}


@router.get("/webhooks/{hook_id}", response_model=WebhookView)
async def get_webhook(hook_id: PathId, request: Request, admin: Admin) -> dict[str, Any]:
    async with in_language(admin):
        return await crm_of(request).webhooks.get(hook_id)


@router.patch("/webhooks/{hook_id}", response_model=WebhookView)
async def patch_webhook(
    hook_id: PathId, body: WebhookPatch, request: Request, admin: Admin
) -> dict[str, Any]:
    async with in_language(admin):
        return await crm_of(request).webhooks.set_enabled(hook_id, body.enabled)


@router.delete("/webhooks/{hook_id}", status_code=204)
async def delete_webhook(hook_id: PathId, request: Request, admin: Admin) -> Response:
    async with in_language(admin):
        await crm_of(request).webhooks.delete(hook_id)
    return Response(status_code=204)


@router.get("/webhooks/{hook_id}/deliveries", response_model=DeliveryList)
async def list_deliveries(
    hook_id: PathId,
    request: Request,
    admin: Admin,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    async with in_language(admin):
        items = await crm_of(request).webhooks.deliveries(hook_id, limit=limit, status=status)
    return {"items": items}


@router.post("/tokens", status_code=201, response_model=NewToken)
async def create_token(body: TokenIn, request: Request, admin: Admin) -> dict[str, Any]:
    async with in_language(admin):
        view, token = await crm_of(request).tokens.create(body.name, body.scopes, admin.id)
    return {**view, "token": token}


@router.get("/tokens", response_model=TokenList)
async def list_tokens(request: Request, admin: Admin) -> dict[str, Any]:
    return {"items": await crm_of(request).tokens.list()}


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: PathId, request: Request, admin: Admin) -> Response:
    async with in_language(admin):
        await crm_of(request).tokens.revoke(token_id)
    return Response(status_code=204)
