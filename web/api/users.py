"""/api/users: everyone reads the list; admins add and change users."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from crm.errors import NotFound
from crm.schemas import UserCreate, UserSummary, UserUpdate, UserView, changes
from crm.users import UserInfo
from screenpop.hub import CLOSE_ACCESS_CHANGED, CLOSE_SIGNED_OUT
from web.api.views import ERRORS, UserPage
from web.auth import CurrentActor, CurrentUser, client_ip, crm_of, require_role, set_session_cookie
from web.deps import get_services
from web.params import PathId

router = APIRouter(responses=ERRORS, prefix="/users", tags=["users"])


def _public(user: UserInfo, viewer: UserInfo) -> dict[str, Any]:
    data = user.to_json()
    if viewer.role.value == "agent" and viewer.id != user.id:
        data = {k: data[k] for k in ("id", "name", "role", "active")}
    return data


@router.get("", response_model=UserPage)
async def list_users(request: Request, viewer: CurrentUser) -> dict[str, Any]:
    """All users (agents see names and roles only)."""
    users = await crm_of(request).users.list()
    return {"items": [_public(u, viewer) for u in users]}


@router.post("", status_code=201, response_model=UserView)
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


@router.get("/{user_id}", response_model=UserView | UserSummary)
async def get_user(user_id: PathId, request: Request, viewer: CurrentUser) -> dict[str, Any]:
    return _public(await crm_of(request).users.get(user_id), viewer)


@router.patch("/{user_id}", response_model=UserView)
async def update_user(
    user_id: PathId, body: UserUpdate, request: Request, actor: CurrentActor
) -> JSONResponse:
    """Admins change anything; a user may change their own name, language and password
    (their own password with `current_password`).

    A new password (or deactivation) signs the user out everywhere and closes their
    sockets at once; a new role closes them too, to reconnect with the new rights. When
    users change their own password, this browser gets a fresh session."""
    crm = crm_of(request)
    fields = changes(body)
    current_password = fields.pop("current_password", None)
    role_before = None
    if body.role is not None:
        with suppress(NotFound):
            role_before = (await crm.users.get(user_id)).role
    user = await crm.users.update(
        user_id, body.version, fields, actor=actor, current_password=current_password
    )
    hub = get_services(request).hub
    if body.active is False or body.password is not None:
        hub.close_user(user_id, CLOSE_SIGNED_OUT, "signed out: account changed")
    elif role_before is not None and user.role != role_before:
        hub.close_user(user_id, CLOSE_ACCESS_CHANGED, "the role changed")
    response = JSONResponse(user.to_json())
    if body.password is not None and actor.user_id == user_id:
        token = await crm.sessions.create(
            user_id, ip=client_ip(request), user_agent=request.headers.get("user-agent")
        )
        set_session_cookie(response, token, crm)
    return response
