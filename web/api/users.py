"""/api/users: everyone reads the list; admins add and change users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from crm.schemas import UserCreate, UserUpdate, changes
from crm.users import UserInfo
from web.auth import CurrentActor, CurrentUser, client_ip, crm_of, require_role, set_session_cookie

router = APIRouter(prefix="/users", tags=["users"])


def _public(user: UserInfo, viewer: UserInfo) -> dict[str, Any]:
    data = user.to_json()
    if viewer.role.value == "agent" and viewer.id != user.id:
        data = {k: data[k] for k in ("id", "name", "role", "active")}
    return data


@router.get("")
async def list_users(request: Request, viewer: CurrentUser) -> dict[str, Any]:
    """All users (agents see names and roles only)."""
    users = await crm_of(request).users.list()
    return {"items": [_public(u, viewer) for u in users]}


@router.post("", status_code=201)
async def create_user(
    body: UserCreate, request: Request, admin: Annotated[UserInfo, Depends(require_role("admin"))]
) -> dict[str, Any]:
    user = await crm_of(request).users.create(
        login=body.login,
        name=body.name,
        role=body.role,
        password=body.password,
        interfaces=body.interfaces,
        queues=body.queues,
        language=body.language,
    )
    return user.to_json()


@router.get("/{user_id}")
async def get_user(user_id: int, request: Request, viewer: CurrentUser) -> dict[str, Any]:
    return _public(await crm_of(request).users.get(user_id), viewer)


@router.patch("/{user_id}")
async def update_user(
    user_id: int, body: UserUpdate, request: Request, actor: CurrentActor
) -> JSONResponse:
    """Admins change anything; a user may change their own name, language and password.

    A new password (or deactivation) signs the user out everywhere; when users change
    their own password, this browser gets a fresh session."""
    crm = crm_of(request)
    user = await crm.users.update(user_id, body.version, changes(body), actor=actor)
    response = JSONResponse(user.to_json())
    if body.password is not None and actor.user_id == user_id:
        token = await crm.sessions.create(
            user_id, ip=client_ip(request), user_agent=request.headers.get("user-agent")
        )
        set_session_cookie(response, token, crm)
    return response
