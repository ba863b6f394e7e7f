"""`/api/calls/{linkedid}/…`: the call controls of the agent panel's card.

- `GET  /api/calls/{linkedid}/transfer-targets` — colleagues with their state (`available`,
  `on_call`, `paused` …), the customer's manager, the queues (waiting callers, free agents);
- `POST /api/calls/{linkedid}/hangup`, `/hold`, `/unhold` — no body needed (`{}`);
- `POST /api/calls/{linkedid}/transfer` `{"target": {"kind": "agent", "user_id": 7} |
  {"kind": "manager"} | {"kind": "queue", "queue": "support"}, "mode": "blind|attended"}`.

Only the agent on the call or a supervisor/admin may act (403 `not_your_call`); a call that
is over is 404 `call_not_found`; a busy or unreachable colleague 409 (`target_busy`,
`target_unavailable`); an unknown target 422 naming `target.…`; the PBX down 503, its
refusal 409 `pbx_refused`. Messages are in the user's language (`web.panel.controls`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from crm.schemas import Strict
from web.api.views import ERRORS
from web.auth import CurrentUser, current_user, require_json
from web.deps import get_services
from web.panel.controls import CallControls, Held

router = APIRouter(
    prefix="/api/calls",
    tags=["call controls"],
    responses=ERRORS,
    dependencies=[Depends(require_json), Depends(current_user)],
)

Linkedid = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


class TargetIn(Strict):
    kind: Literal["agent", "manager", "queue"]
    user_id: Annotated[int, Field(ge=1)] | None = None
    queue: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = None


class TransferIn(Strict):
    target: TargetIn
    mode: Literal["blind", "attended"] = "blind"


class ControlView(BaseModel):
    model_config = ConfigDict(extra="allow")


class ControlDone(ControlView):
    """What was asked of the PBX; the call's new state comes back over `/ws`."""

    linkedid: str
    action: Literal["hangup", "hold", "unhold", "transfer"]
    message: str


class TargetView(ControlView):
    kind: Literal["agent", "manager", "queue"]
    name: str
    extension: str | None
    queue: str | None
    user_id: int | None


class TransferDone(ControlDone):
    mode: Literal["blind", "attended"]
    target: TargetView


class AgentTarget(ControlView):
    user_id: int
    name: str
    extension: str
    state: str  # available, on_call, ringing, wrap_up, paused, unavailable, logged_out


class QueueTarget(ControlView):
    name: str
    waiting: int
    available: int


class TransferTargets(ControlView):
    linkedid: str
    agents: list[AgentTarget]
    manager: AgentTarget | None
    queues: list[QueueTarget]


def controls(request: Request) -> CallControls:
    state = request.app.state
    held: dict[str, Held] | None = getattr(state, "held_calls", None)
    if held is None:
        held = state.held_calls = {}
    routed = getattr(get_services(request), "call_controls", None)  # several nodes or PBXes
    if routed is not None:
        made: CallControls = routed.controls(held)
        return made
    return CallControls(get_services(request), held)


Controls = Annotated[CallControls, Depends(controls)]


@router.get("/{linkedid}/transfer-targets", response_model=TransferTargets)
async def transfer_targets(linkedid: Linkedid, user: CurrentUser, ctl: Controls) -> Any:
    """Whom the call can be transferred to, with each colleague's live state."""
    return await ctl.targets(user, linkedid)


@router.post("/{linkedid}/hangup", response_model=ControlDone)
async def hangup(linkedid: Linkedid, user: CurrentUser, ctl: Controls) -> Any:
    """Hang up the call (`Hangup` of the customer's channel)."""
    return await ctl.hangup(user, linkedid)


@router.post("/{linkedid}/hold", response_model=ControlDone)
async def hold(linkedid: Linkedid, user: CurrentUser, ctl: Controls) -> Any:
    """Put the caller on hold with music (`Redirect` to `TRUBKA_HOLD_CONTEXT`)."""
    return await ctl.hold(user, linkedid)


@router.post("/{linkedid}/unhold", response_model=ControlDone)
async def unhold(linkedid: Linkedid, user: CurrentUser, ctl: Controls) -> Any:
    """Take the caller off hold (`Bridge` with the agent again)."""
    return await ctl.unhold(user, linkedid)


@router.post("/{linkedid}/transfer", response_model=TransferDone)
async def transfer(linkedid: Linkedid, body: TransferIn, user: CurrentUser, ctl: Controls) -> Any:
    """Transfer the caller to a colleague, the customer's manager or a queue."""
    return await ctl.transfer(user, linkedid, body.target.model_dump(), body.mode)
