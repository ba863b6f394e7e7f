"""The routing rules over HTTP: read, save, history, roll back, preview a call.

- `GET /api/routing/rules`: the rules in force, as the JSON document (`rules`) and as TOML
  text (`toml`), with their `version`, when and by whom they were saved;
- `PUT /api/routing/rules` (admins): `{"rules": {...}}` or `{"toml": "..."}`, with the
  `version` read (optional: 409 when someone saved since). A bad document is 422
  `invalid_rules` with `field` the path of the bad field (`dids.+74951112233.when_busy`,
  `prefer[1]`), for text the `line`, and every problem in `problems`; nothing changes.
  The next call is routed by the saved rules;
- `GET /api/routing/rules/history`, `GET /api/routing/rules/history/{version}`;
- `POST /api/routing/rules/rollback` `{"version": N}` (admins): a new version with N's rules;
- `POST /api/routing/preview` `{"caller", "did", "at"?, "rules"? | "toml"?}`: the decision
  the router makes for that call now (or at `at`), the same as `GET /api/route`, with its
  reason also in the user's language; with a draft, what the draft would decide.

Supervisors read and preview; agents get 403.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from crm.users import UserInfo
from routing.reasons import render
from supervisor.audit import Actor
from supervisor.rules_admin import RulesAdmin
from telephony.agi import clean_text
from telephony.agi_server import REASON_LIMIT
from web.api.views import View
from web.auth import client_ip, require_json, require_role
from web.deps import get_services
from web.i18n import LANG_COOKIE, negotiate

router = APIRouter(prefix="/api/routing", tags=["routing"], dependencies=[Depends(require_json)])

Reader = Annotated[UserInfo, Depends(require_role("supervisor", "admin"))]
Admin = Annotated[UserInfo, Depends(require_role("admin"))]


def rules_admin(request: Request) -> RulesAdmin:
    admin: RulesAdmin = get_services(request).rules_admin
    return admin


RulesDep = Annotated[RulesAdmin, Depends(rules_admin)]


def actor(user: UserInfo, request: Request) -> Actor:
    return Actor(
        user_id=user.id,
        login=user.login,
        name=user.name,
        role=str(user.role),
        interfaces=tuple(user.interfaces),
        client_ip=client_ip(request),
    )


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RulesIn(_Body):
    rules: dict[str, Any] | None = Field(default=None, description="the rules document")
    toml: str | None = Field(default=None, description="or the rules as TOML text")
    version: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="the version read (409 if not newest)"
    )


MAX_VERSION = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL
Version = Annotated[int, Path(ge=1, le=MAX_VERSION)]


class RollbackIn(_Body):
    version: int = Field(ge=1, le=MAX_VERSION)


class PreviewIn(_Body):
    caller: str = Field(default="", max_length=256)
    did: str = Field(default="", max_length=64)
    at: datetime | None = Field(default=None, description="when the call comes (default: now)")
    rules: dict[str, Any] | None = Field(default=None, description="a draft document")
    toml: str | None = Field(default=None, description="or a draft as TOML text")


class RulesVersionOut(View):
    version: int
    saved_at: str | None
    saved_by: str | None
    saved_by_name: str | None
    note: str


class RulesOut(RulesVersionOut):
    rules: dict[str, Any]
    toml: str


class HistoryOut(View):
    versions: list[RulesVersionOut]


class PreviewOut(View):
    """The fields of `GET /api/route`, plus `reason_text` (the reason in the user's
    language), `at` and `rules_version` (null for a draft)."""

    routed_by: str
    reason: str
    reason_text: str
    agent: str | None
    queue: str
    caller: str | None
    did: str | None
    at: str
    rules_version: int | None


@router.get("/rules", response_model=RulesOut)
async def get_rules(user: Reader, admin: RulesDep) -> dict[str, Any]:
    """The routing rules in force."""
    return admin.current.to_json()


@router.put("/rules", response_model=RulesOut)
async def put_rules(
    body: RulesIn, request: Request, user: Admin, admin: RulesDep
) -> dict[str, Any]:
    """Save new routing rules (checked first; a bad document changes nothing)."""
    stored = await admin.save(
        actor(user, request), document=body.rules, text=body.toml, base_version=body.version
    )
    return stored.to_json()


@router.get("/rules/history", response_model=HistoryOut)
async def rules_history(
    user: Reader, admin: RulesDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> dict[str, Any]:
    """Every saved version, newest first (without the documents)."""
    return {"versions": [v.to_json(with_document=False) for v in await admin.history(limit)]}


@router.get("/rules/history/{version}", response_model=RulesOut)
async def rules_version(version: Version, user: Reader, admin: RulesDep) -> dict[str, Any]:
    """One saved version with its document."""
    return (await admin.version(version)).to_json()


@router.post("/rules/rollback", response_model=RulesOut)
async def rollback(
    body: RollbackIn, request: Request, user: Admin, admin: RulesDep
) -> dict[str, Any]:
    """Put an older version's rules back in force (as a new version)."""
    return (await admin.rollback(actor(user, request), body.version)).to_json()


@router.post("/preview", response_model=PreviewOut)
async def preview(
    body: PreviewIn, request: Request, user: Reader, admin: RulesDep
) -> dict[str, Any]:
    """What the router would decide for this call."""
    decision = await admin.preview(
        body.caller, body.did, at=body.at, document=body.rules, text=body.toml
    )
    router_ = admin.router
    lang = negotiate(
        user.language, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )
    data = decision.to_json()
    data["reason"] = clean_text(decision.reason, REASON_LIMIT)
    data["caller"] = router_.caller(body.caller, body.did).number
    data["did"] = body.did or None
    data["reason_text"] = render(decision.why, lang) if decision.why else decision.reason
    moment = body.at or datetime.fromtimestamp(router_.clock(), UTC)
    data["at"] = moment.isoformat()
    draft = body.rules is not None or body.toml is not None
    data["rules_version"] = None if draft else admin.current.version
    return data
