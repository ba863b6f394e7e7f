"""`/api/panel/…`: what the agent panel asks of the server besides the CRM's own API.

- `GET  /api/panel/state` — the user's phones and their states, the call they are on.
- `POST /api/panel/pause` `{"paused": true, "reason": "lunch"}` — QueuePause of the user's
  phones (202: asked; the state comes back over `/ws` as `agent_state`).
- `POST /api/panel/call` `{"number": "+7 495 …", "contact_id": 7}` — click-to-call: the
  user's phone rings first, then the customer (200 once the user picked up).
- `GET  /api/panel/card?number=…|contact_id=…` — a caller's card, numbers localized.
- `POST /api/panel/wrapup` — the wrap-up of a call the user was on: disposition (an
  active wrap-up code, `/api/wrapup-codes`; else 422 naming `disposition`), note,
  optional follow-up task (201), saved once the call's record is stored.

Errors are JSON `{"code", "message", "field"}` (see `web.panel.errors`); writes must be JSON.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import StringConstraints

from crm.call_records import CallRow
from crm.cards import phone_display
from crm.errors import InvalidInput
from crm.schemas import Id, Strict
from crm.users import UserInfo
from crm.wrapups import WrapupIn, WrapupService
from kernel.agents import agent_key, same_agent
from kernel.phones import normalize
from telephony.pbx_routing import present
from telephony.records import iso
from web.auth import CurrentUser, actor_of, current_user, require_json
from web.deps import get_services
from web.panel import phone
from web.panel.errors import NotOnCall
from web.params import QueryId

log = logging.getLogger(__name__)
CALL_RECORD_WAIT = 5.0  # seconds a wrap-up waits for its call's record at most

router = APIRouter(
    prefix="/api/panel",
    tags=["panel"],
    dependencies=[Depends(require_json), Depends(current_user)],
)


class PauseIn(Strict):
    paused: bool
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = None


class CallIn(Strict):
    number: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    contact_id: Id | None = None


def _agent_in(live: Any, interface: str) -> Any:
    agent = live.agent_for(interface)
    if agent is None:
        wanted = agent_key(interface)
        agent = next((a for k, a in live.agents.items() if k.lower() == wanted), None)
    return agent


def agent_states(services: Any, user: UserInfo) -> list[dict[str, Any]]:
    now = time.time()
    states = []
    others = list((getattr(services, "pbx_states", None) or {}).values())[1:]
    for interface in user.interfaces:
        agent = _agent_in(services.live, interface)
        if not present(agent):  # several PBXes: the one the phone is on
            agent = next((a for live in others if present(a := _agent_in(live, interface))), agent)
        states.append(
            {
                "agent_interface": interface,
                "state": agent.derive_state(now).value if agent else "logged_out",
                "since": iso(agent.state_since) if agent and agent.state_since else None,
                "paused_reason": agent.paused_reason if agent else None,
                "pause_pending": agent.pause_pending if agent else False,
            }
        )
    return states


@router.get("/state")
async def panel_state(request: Request, user: CurrentUser) -> dict[str, Any]:
    services = get_services(request)
    ami = services.ami
    return {
        "user": user.to_json(),
        "agents": agent_states(services, user),
        "current_call": current_call(services, user.id),
        "after_call": services.after_call.hold_of(user.id),
        "pbx": {"enabled": ami is not None, "connected": bool(ami and ami.connected)},
    }


def current_call(services: Any, user_id: int) -> dict[str, Any] | None:
    """The call the user is on, on whichever PBX."""
    for notifier in (services.notifier, *getattr(services, "pbx_notifiers", ())):
        call: dict[str, Any] | None = notifier.current_call(user_id)
        if call is not None:
            return call
    return None


@router.post("/pause", status_code=202)
async def pause(body: PauseIn, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Ask Asterisk to pause or unpause the user's phones; `agent_state` follows on /ws."""
    accepted = await phone.set_paused(get_services(request), user, body.paused, body.reason)
    return {"paused": body.paused, "reason": body.reason, "interfaces": accepted}


@router.post("/call")
async def click_to_call(body: CallIn, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Ring the user's phone, then the number; answers once the user picked up."""
    placed = await phone.click_to_call(get_services(request), user, body.number, body.contact_id)
    return {"linkedid": placed.linkedid, "number": placed.number, "interface": placed.interface}


async def was_on_call(services: Any, user: UserInfo, linkedid: str) -> bool:
    """The user took part in the call: the live notifier remembers it, or the stored record
    names one of their phones."""
    if user.id in services.notifier.participants(linkedid):
        return True
    row: CallRow | None = await services.calls.get(linkedid)
    if row is None:
        return False
    interfaces = [i for i in (row.agent_interface, *(row.agents or ())) if i]
    return any(same_agent(mine, theirs) for mine in user.interfaces for theirs in interfaces)


async def call_record_stored(services: Any, linkedid: str) -> None:
    """Wait (a little) for the call writer to store and link the calls it was given.

    An agent wraps a call up seconds after it ended, while its record may still sit in the
    writer's batch; the contact's page, opened next, then showed the note without the call
    it belongs to. Once the wrap-up is saved the call is on the contact's timeline."""
    row: CallRow | None = await services.calls.get(linkedid)
    if row is not None and row.contact_id is not None:
        return
    if not await calls_caught_up(services):
        log.warning("wrap-up of %s saved before its call record (the writer is behind)", linkedid)


async def calls_caught_up(services: Any) -> bool:
    """Wait (`CALL_RECORD_WAIT` at most) until the calls that ended before now are stored,
    with the wrap-ups they owe; False when the writer is behind even so."""
    try:
        async with asyncio.timeout(CALL_RECORD_WAIT):
            await services.call_writer.caught_up()
    except TimeoutError:
        return False
    return True


@router.post("/wrapup", status_code=201)
async def wrapup(body: WrapupIn, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Save the wrap-up of a call the user was on (supervisors may wrap up any call),
    once the call's own record is stored."""
    services = get_services(request)
    services.admin_settings.wrapup_codes.check_offered(body.disposition)
    actor = actor_of(user)
    if not actor.is_manager and not await was_on_call(services, user, body.linkedid):
        raise NotOnCall("you were not on this call, so you cannot wrap it up")
    await call_record_stored(services, body.linkedid)
    saved = await WrapupService(services.db).save(body, actor)
    await services.after_call.done(user.id, body.linkedid)  # the hold for this call ends
    return saved


@router.get("/card")
async def card(
    request: Request,
    user: CurrentUser,
    number: Annotated[str | None, Query(max_length=64)] = None,
    contact_id: QueryId = None,
) -> dict[str, Any]:
    """The screen-pop card of a number or a contact, with `display` (localized numbers)."""
    services = get_services(request)
    crm = services.crm
    if contact_id is not None:
        result = await crm.cards.for_contact(contact_id)
    elif number and number.strip():
        result = await crm.cards.for_number(normalize(number, crm.region) or number.strip())
    else:
        raise InvalidInput("give a number or a contact_id", field="number")
    result["display"] = phone_display(result, crm.region)
    return result
