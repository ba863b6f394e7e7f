"""/api/users: everyone reads the list; admins add and change users.

- `GET /api/users`, `GET /api/users/{id}`: admins and supervisors also get
  `last_sign_in_at`; agents see other users' names and roles only.
- `POST /api/users` (admin): a new user; `PATCH /api/users/{id}`: a change (admins
  anything, a user their own name, language and password). Both answer the user with
  `pbx`: what the change meant for the user's queues in Asterisk.
- `POST /api/users/{id}/password` (admin) `{"password"?}`: a new password, generated
  when none is given, returned this once; the user's sessions and sockets end.
- `GET /api/users/interface-check?interface=PJSIP/101` (admin): whether Asterisk knows
  the interface (`known`: true, false, or null when Asterisk could not be asked).

Every change is in the audit log (`GET /api/audit?kind=admin`) with before → after.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from crm.errors import NotFound
from crm.schemas import UserCreate, UserRow, UserSummary, UserUpdate, UserView, changes
from crm.users import UserInfo
from screenpop.hub import CLOSE_ACCESS_CHANGED, CLOSE_SIGNED_OUT
from supervisor.audit import Actor
from supervisor.people import People
from supervisor.queue_admin import Applied, QueueAdmin
from telephony.records import iso
from web.api.admin_views import AdminUserView, InterfaceCheckView, PasswordResetView
from web.api.views import ERRORS, UserPage
from web.auth import CurrentUser, client_ip, crm_of, require_role, set_session_cookie
from web.deps import get_services
from web.params import PathId

router = APIRouter(responses=ERRORS, prefix="/users", tags=["users"])

AdminUser = Annotated[UserInfo, Depends(require_role("admin"))]


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


def audit_actor(user: UserInfo, request: Request) -> Actor:
    return Actor(
        user_id=user.id,
        login=user.login,
        name=user.name,
        role=str(user.role),
        interfaces=tuple(user.interfaces),
        client_ip=client_ip(request),
    )


def people_of(request: Request) -> People:
    people = getattr(get_services(request).supervisor, "people", None)
    assert isinstance(people, People), "the supervisor service has no People"
    return people


def queue_admin_of(request: Request) -> QueueAdmin:
    admin = getattr(get_services(request).supervisor, "queue_admin", None)
    assert isinstance(admin, QueueAdmin), "the supervisor service has no QueueAdmin"
    return admin


def applied_json(applied: Applied) -> dict[str, Any]:
    return {"applied": applied.applied, "warning": applied.warning, "sent": list(applied.sent)}


def _public(user: UserInfo, viewer: UserInfo) -> dict[str, Any]:
    data = user.to_json()
    if viewer.role.value == "agent" and viewer.id != user.id:
        return {k: data[k] for k in ("id", "name", "role", "active")}
    if viewer.role.value != "agent":
        data["last_sign_in_at"] = (
            iso(user.last_sign_in_at.timestamp()) if user.last_sign_in_at else None
        )
    return data


def close_sockets_after_change(
    request: Request, before: UserInfo | None, user: UserInfo, password_changed: bool
) -> None:
    """A disabled user or a new password ends their sessions' sockets at once; a new
    role closes them too, to reconnect with the new rights."""
    hub = get_services(request).hub
    if not user.active or password_changed:
        hub.close_user(user.id, CLOSE_SIGNED_OUT, "signed out: account changed")
    elif before is not None and user.role != before.role:
        hub.close_user(user.id, CLOSE_ACCESS_CHANGED, "the role changed")


@router.get("", response_model=UserPage)
async def list_users(request: Request, viewer: CurrentUser) -> dict[str, Any]:
    """All users (agents see names and roles only)."""
    users = await crm_of(request).users.list()
    return {"items": [_public(u, viewer) for u in users]}


@router.post("", status_code=201, response_model=AdminUserView)
async def create_user(body: UserCreate, request: Request, admin: AdminUser) -> dict[str, Any]:
    user, applied = await people_of(request).create(
        audit_actor(admin, request),
        login=body.login,
        name=body.name,
        role=body.role,
        password=body.password,
        interfaces=body.interfaces,
        queues=body.queues,
        language=body.language,
    )
    return {**user.to_json(), "pbx": applied_json(applied)}


@router.get("/interface-check", response_model=InterfaceCheckView)
async def check_interface(
    request: Request,
    admin: AdminUser,
    interface: Annotated[str, Query(min_length=3, max_length=128)],
) -> dict[str, Any]:
    """Whether Asterisk knows this dialable interface (a warning, never a refusal)."""
    return await queue_admin_of(request).check_interface(interface)


@router.get("/{user_id}", response_model=UserRow | UserView | UserSummary)
async def get_user(user_id: PathId, request: Request, viewer: CurrentUser) -> dict[str, Any]:
    return _public(await crm_of(request).users.get(user_id), viewer)


@router.patch("/{user_id}", response_model=AdminUserView)
async def update_user(
    user_id: PathId, body: UserUpdate, request: Request, viewer: CurrentUser
) -> JSONResponse:
    """Admins change anything; a user may change their own name, language and password
    (their own password with `current_password`).

    A new password (or deactivation) signs the user out everywhere and closes their
    sockets at once; a new role closes them too, to reconnect with the new rights. When
    users change their own password, this browser gets a fresh session."""
    crm = crm_of(request)
    fields = changes(body)
    current_password = fields.pop("current_password", None)
    fields.pop("version", None)
    before = None
    with suppress(NotFound):
        before = await crm.users.get(user_id)
    user, applied = await people_of(request).update(
        audit_actor(viewer, request),
        user_id,
        body.version,
        fields,
        current_password=current_password,
    )
    close_sockets_after_change(request, before, user, body.password is not None)
    response = JSONResponse({**user.to_json(), "pbx": applied_json(applied)})
    if body.password is not None and viewer.id == user_id:
        token = await crm.sessions.create(
            user_id, ip=client_ip(request), user_agent=request.headers.get("user-agent")
        )
        set_session_cookie(response, token, crm)
    return response


@router.post("/{user_id}/password", response_model=PasswordResetView)
async def reset_password(
    user_id: PathId, body: PasswordIn, request: Request, admin: AdminUser
) -> JSONResponse:
    """A new password for the user (generated when none is given), shown this once."""
    user, password = await people_of(request).reset_password(
        audit_actor(admin, request), user_id, body.password
    )
    close_sockets_after_change(request, None, user, True)
    response = JSONResponse(
        {"user": user.to_json(), "password": password}, headers={"Cache-Control": "no-store"}
    )
    if admin.id == user_id:
        crm = crm_of(request)
        token = await crm.sessions.create(
            user_id, ip=client_ip(request), user_agent=request.headers.get("user-agent")
        )
        set_session_cookie(response, token, crm)
    return response
