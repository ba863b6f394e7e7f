"""/api/queues: the queues Asterisk has and their members; admins change memberships.

- `GET /api/queues` (supervisor, admin): every queue Asterisk (or Trubka) knows, its
  strategy, service-level threshold and members with penalties, and whether Asterisk
  keeps dynamic members over a restart (`persistent_members`, null when not known).
- `GET /api/queues/{name}/members` (supervisor, admin);
- `POST /api/queues/{name}/members` `{"user_id", "penalty"?}` (admin): add the user's
  first interface as a dynamic member (`QueueAdd`);
- `PATCH /api/queues/{name}/members/{user_id}` `{"penalty"}` (admin): `QueuePenalty`;
- `DELETE /api/queues/{name}/members/{user_id}` (admin): `QueueRemove`.

Memberships are kept in Trubka's database and re-applied after Asterisk restarts. A
change is saved even when Asterisk cannot be told; the answer's `warning` says so.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from crm.queue_members import MAX_PENALTY
from crm.users import UserInfo
from web.api.admin_views import AppliedView, MembersView, QueuesView
from web.api.users import applied_json, audit_actor, queue_admin_of
from web.api.views import ERRORS
from web.auth import require_role
from web.params import PathId

router = APIRouter(responses=ERRORS, prefix="/queues", tags=["queues"])

Managers = Annotated[UserInfo, Depends(require_role("supervisor", "admin"))]
AdminUser = Annotated[UserInfo, Depends(require_role("admin"))]
QueueName = Annotated[str, Path(min_length=1, max_length=80)]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=1)
    penalty: int = Field(default=0, ge=0, le=MAX_PENALTY)


class PenaltyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    penalty: int = Field(ge=0, le=MAX_PENALTY)


@router.get("", response_model=QueuesView)
async def list_queues(request: Request, user: Managers) -> dict[str, Any]:
    admin = queue_admin_of(request)
    return {"items": await admin.queues(), "persistent_members": admin.persistent_members}


@router.get("/{name}/members", response_model=MembersView)
async def list_members(name: QueueName, request: Request, user: Managers) -> dict[str, Any]:
    return {"items": await queue_admin_of(request).members(name)}


@router.post("/{name}/members", status_code=201, response_model=AppliedView)
async def add_member(
    name: QueueName, body: MemberIn, request: Request, admin: AdminUser
) -> dict[str, Any]:
    applied = await queue_admin_of(request).add(
        audit_actor(admin, request), name, body.user_id, body.penalty
    )
    return applied_json(applied)


@router.patch("/{name}/members/{user_id}", response_model=AppliedView)
async def change_penalty(
    name: QueueName, user_id: PathId, body: PenaltyIn, request: Request, admin: AdminUser
) -> dict[str, Any]:
    applied = await queue_admin_of(request).set_penalty(
        audit_actor(admin, request), name, user_id, body.penalty
    )
    return applied_json(applied)


@router.delete("/{name}/members/{user_id}", response_model=AppliedView)
async def remove_member(
    name: QueueName, user_id: PathId, request: Request, admin: AdminUser
) -> dict[str, Any]:
    applied = await queue_admin_of(request).remove(audit_actor(admin, request), name, user_id)
    return applied_json(applied)
