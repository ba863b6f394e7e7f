"""Supervisor actions and their audit log.

- `POST /api/supervisor/spy` `{"agent", "mode": "listen|whisper|barge", "phone"?}`:
  rings your own phone into ChanSpy on the agent's call;
- `POST /api/supervisor/pause` `{"agent", "paused": true|false, "reason"?, "queue"?}`:
  QueuePause, in every queue or one;
- `POST /api/supervisor/queue-remove` `{"agent", "queue"}`: QueueRemove, logs the agent
  out of a queue;
- `POST /api/supervisor/hangup` `{"linkedid"}` or `{"channel"}`: Hangup of the call's
  channels (or of that one);
- every action may name its PBX, `"pbx"` (several PBXes, TRUBKA_PBXES; the supervisor
  page sends the one it shows): the action goes to the PBX where the agent's phone (the
  call) is, so a `pbx` where it is not now is refused, 404 `agent_not_found` /
  `call_not_found` with field `pbx` (an unknown name: 422 `invalid_parameter`);
- `GET /api/audit` (`limit`, `offset`, `action`, `agent`, `login`, `kind`, `target`,
  `since`, `until`, `format=csv`): the audit log of supervisor actions and admin
  changes, newest first (admins).

Actions need the supervisor or admin role and JSON bodies. Refusals are JSON errors
`{"code", "message", "field"}`: 404 `agent_not_found`, `call_not_found`,
`channel_not_found`, `channel_gone`, `not_a_member`; 409 `agent_not_on_call`,
`phone_not_answered`, `static_member`, `pbx_refused`; 422 `invalid`, `no_phone`,
`not_your_phone`; 503 `pbx_unavailable`. Nothing changes on the PBX when one is returned.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from crm.users import UserInfo
from supervisor.actions import SupervisorActions
from supervisor.audit import Actor, audit_time, entries_csv
from supervisor.errors import PbxUnavailable
from web.api.admin_views import AuditPageView
from web.api.reports import SupervisorDep
from web.auth import client_ip, require_json, require_role
from web.deps import get_services
from web.params import PageNumber
from web.pbxes import check_action_pbx

router = APIRouter(prefix="/api", tags=["supervisor"], dependencies=[Depends(require_json)])

SupervisorUser = Annotated[UserInfo, Depends(require_role("supervisor", "admin"))]
AdminUser = Annotated[UserInfo, Depends(require_role("admin"))]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=255)

    pbx: str | None = Field(default=None, min_length=1, max_length=64)  # TRUBKA_PBXES


class SpyIn(_Body):
    agent: str = Field(min_length=1)
    mode: str = Field(min_length=1)
    phone: str | None = None


class PauseIn(_Body):
    agent: str = Field(min_length=1)
    paused: bool = True
    reason: str | None = None
    queue: str | None = None


class QueueRemoveIn(_Body):
    agent: str = Field(min_length=1)
    queue: str = Field(min_length=1)


class HangupIn(_Body):
    linkedid: str | None = None
    channel: str | None = None


def actor_of(user: UserInfo, request: Request) -> Actor:
    return Actor(
        user_id=user.id,
        login=user.login,
        name=user.name,
        role=str(user.role),
        interfaces=tuple(user.interfaces),
        client_ip=client_ip(request),
    )


def _actions(supervisor: Any) -> SupervisorActions:
    if supervisor.actions is None:
        raise PbxUnavailable("supervisor actions are not available on this node")
    actions: SupervisorActions = supervisor.actions
    return actions


@router.post("/supervisor/spy")
async def spy(
    body: SpyIn, request: Request, user: SupervisorUser, supervisor: SupervisorDep
) -> dict[str, Any]:
    """Ring your own phone; when you answer you listen to, whisper to or barge into the
    agent's call."""
    check_action_pbx(get_services(request), body.pbx, agent=body.agent)
    return await _actions(supervisor).spy(
        actor_of(user, request), body.agent, body.mode, body.phone
    )


@router.post("/supervisor/pause")
async def pause(
    body: PauseIn, request: Request, user: SupervisorUser, supervisor: SupervisorDep
) -> dict[str, Any]:
    """Pause (with a reason) or unpause an agent, in every queue or in one."""
    check_action_pbx(get_services(request), body.pbx, agent=body.agent)
    return await _actions(supervisor).pause(
        actor_of(user, request), body.agent, body.paused, body.reason, body.queue
    )


@router.post("/supervisor/queue-remove")
async def queue_remove(
    body: QueueRemoveIn, request: Request, user: SupervisorUser, supervisor: SupervisorDep
) -> dict[str, Any]:
    """Log an agent out of a queue."""
    check_action_pbx(get_services(request), body.pbx, agent=body.agent)
    return await _actions(supervisor).remove_from_queue(
        actor_of(user, request), body.agent, body.queue
    )


@router.post("/supervisor/hangup")
async def hangup(
    body: HangupIn, request: Request, user: SupervisorUser, supervisor: SupervisorDep
) -> dict[str, Any]:
    """Hang up a stuck call (all its channels), or one channel of it."""
    services = get_services(request)
    check_action_pbx(services, body.pbx, linkedid=body.linkedid, channel=body.channel)
    return await _actions(supervisor).hangup(actor_of(user, request), body.linkedid, body.channel)


@router.get("/audit", response_model=AuditPageView)
async def audit_log(
    user: AdminUser,
    supervisor: SupervisorDep,
    limit: PageNumber = 100,
    offset: PageNumber = 0,
    action: Annotated[str | None, Query()] = None,
    agent: Annotated[str | None, Query()] = None,
    login: Annotated[str | None, Query()] = None,
    kind: Annotated[str | None, Query(description="admin or supervisor")] = None,
    target: Annotated[str | None, Query(description="user:12, queue:support/user:12")] = None,
    since: Annotated[str | None, Query(description="a date or ISO-8601 time")] = None,
    until: Annotated[str | None, Query(description="a date or ISO-8601 time, exclusive")] = None,
    format: Annotated[str | None, Query(description="json or csv")] = None,
) -> Any:
    """The supervisor actions and admin changes, newest first (admins only); `format=csv`
    gives them as CSV (at most the `limit` newest)."""
    result: dict[str, Any] = await supervisor.audit.list(
        limit=limit,
        offset=offset,
        action=action or None,
        agent=agent or None,
        login=login,
        kind=kind or None,
        target=target or None,
        since=audit_time("since", since),
        until=audit_time("until", until),
    )
    if (format or "json").strip().lower() == "csv":
        return Response(
            entries_csv(result["entries"]),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return result
