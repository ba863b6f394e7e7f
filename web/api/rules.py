"""`/api/rules`: the triggers (admins only; docs/integrations.md, "Triggers").

- `GET /api/rules` (the built-in missed-call rule first), `POST /api/rules {"name",
  "event", "conditions": [...], "actions": [...], "enabled", "schedule"}` (`schedule`
  `{"at": "HH:MM", "weekdays_only", "days"}` for the `schedule.*` events), `GET|PATCH|DELETE
  /api/rules/{id}` (`PATCH` any of those fields, with `version` to refuse a stale edit);
- `POST /api/rules/{id}/test {"event": {…the record…}}` or `{"call_id": N}`: what the
  rule would do (conditions with the values seen, actions planned), nothing written;
- `GET /api/rules/{id}/runs?limit=`: the run log, newest first.

A refused rule is 422 with `field` the path of the bad part (`actions.0.title`) and a
message naming it in the admin's language (web/rule_texts.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm.errors import CrmError
from crm.users import UserInfo
from web.api.views import ERRORS
from web.auth import crm_of, require_json, require_role
from web.i18n import translations
from web.params import MAX_ID, PathId
from web.rule_audit import audited
from web.rule_texts import problem

router = APIRouter(
    prefix="/api/rules",
    tags=["triggers"],
    responses=ERRORS,
    dependencies=[Depends(require_json)],
)
Admin = Annotated[UserInfo, Depends(require_role("admin"))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RuleIn(Strict):
    name: str = Field(max_length=200)
    event: str = Field(max_length=40)
    conditions: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    actions: list[dict[str, Any]] = Field(max_length=20)
    enabled: bool = True
    schedule: dict[str, Any] | None = None  # {"at": "HH:MM", "weekdays_only", "days"}


class RulePatch(Strict):
    name: str | None = Field(default=None, max_length=200)
    event: str | None = Field(default=None, max_length=40)
    conditions: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    actions: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    enabled: bool | None = None
    schedule: dict[str, Any] | None = None
    version: int | None = None


class RuleView(BaseModel):
    id: int
    name: str
    event: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    enabled: bool
    schedule: dict[str, Any] | None = None
    schedule_day: str | None = None  # the local day a schedule last ran
    builtin: str | None
    position: int
    version: int
    created_at: str | None
    updated_at: str | None


class RuleList(BaseModel):
    items: list[RuleView]


class RuleTestIn(Strict):
    event: dict[str, Any] | None = None  # the record, as the API returns it
    call_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class RuleTestView(BaseModel):
    rule_id: int
    event: str
    matched: bool
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    errors: list[str]


class RunView(BaseModel):
    id: int
    rule_id: int
    event_id: str
    event: str
    at: str | None
    matched: bool
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    errors: list[str]


class RunList(BaseModel):
    items: list[RunView]


@asynccontextmanager
async def in_language(user: UserInfo) -> AsyncIterator[None]:
    """A refusal in the admin's language, naming the field."""
    try:
        yield
    except CrmError as exc:
        exc.message = problem(exc, translations(user.language).gettext)
        exc.args = (exc.message,)
        raise


@router.get("", response_model=RuleList)
async def list_rules(request: Request, admin: Admin) -> dict[str, Any]:
    return {"items": await crm_of(request).rules.list()}


@router.post("", status_code=201, response_model=RuleView)
async def create_rule(body: RuleIn, request: Request, admin: Admin) -> dict[str, Any]:
    async with in_language(admin):
        rule = await crm_of(request).rules.create(body.model_dump(), admin.id)
    await audited(request, admin, rule["id"], None, rule)
    return rule


@router.get("/{rule_id}", response_model=RuleView)
async def get_rule(rule_id: PathId, request: Request, admin: Admin) -> dict[str, Any]:
    async with in_language(admin):
        return await crm_of(request).rules.get(rule_id)


@router.patch("/{rule_id}", response_model=RuleView)
async def patch_rule(
    rule_id: PathId, body: RulePatch, request: Request, admin: Admin
) -> dict[str, Any]:
    async with in_language(admin):
        before = await crm_of(request).rules.get(rule_id)
        rule = await crm_of(request).rules.update(
            rule_id, body.model_dump(exclude_unset=True), admin.id
        )
    await audited(request, admin, rule_id, before, rule)
    return rule


@router.delete("/{rule_id}", status_code=204)
async def delete_rule(rule_id: PathId, request: Request, admin: Admin) -> Response:
    async with in_language(admin):
        before = await crm_of(request).rules.get(rule_id)
        await crm_of(request).rules.delete(rule_id)
    await audited(request, admin, rule_id, before, None)
    return Response(status_code=204)


@router.post("/{rule_id}/test", response_model=RuleTestView)
async def test_rule(
    rule_id: PathId, body: RuleTestIn, request: Request, admin: Admin
) -> dict[str, Any]:
    async with in_language(admin):
        return await crm_of(request).rules.test(rule_id, event=body.event, call_id=body.call_id)


@router.get("/{rule_id}/runs", response_model=RunList)
async def list_runs(
    rule_id: PathId,
    request: Request,
    admin: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    async with in_language(admin):
        return {"items": await crm_of(request).rules.runs(rule_id, limit=limit)}
