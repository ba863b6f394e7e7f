"""The panel's requests to the phone system: click-to-call and pausing, over AMI.

Click-to-call rings the agent's own phone first (`Originate` of their first interface),
and once they pick up, the dialplan context `TRUBKA_CLICK_TO_CALL_CONTEXT` dials the
customer (as in trace 06). The call's linkedid is known before anything rings: it is
the `ChannelId` we give the Originate.

Pausing sends `QueuePause` for every queue membership of the agent's phones; the new
state is not assumed here: it comes back as AMI events (`QueueMemberPause`) and reaches
the panel as an `agent_state` message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from crm.users import UserInfo
from kernel.agents import interface_key
from kernel.errors import DomainError
from kernel.phones import digits_of, normalize
from telephony.actions import AmiActions
from telephony.codec import EncodeError
from telephony.errors import ActionFailed, ActionTimeout, AmiError, NotConnected, PbxRefused
from telephony.reducer import CallState
from web.panel.errors import (
    BadNumber,
    NoPhone,
    NotInQueue,
    PbxDisabled,
    PbxDown,
    PbxTimeout,
    PhoneFailed,
)

PAUSE_REASONS = ("lunch", "break", "training", "meeting", "paperwork")
MAX_REASON = 80

_PHONE_FAILURES = {
    0: ("phone_unavailable", "your phone {phone} could not be called: is it registered?"),
    1: ("phone_hung_up", "your phone {phone} hung up before the customer was called"),
    3: ("phone_not_answered", "your phone {phone} rang but nobody picked it up"),
    5: ("phone_busy", "your phone {phone} is busy"),
    8: ("congestion", "the phone system is congested; try again in a moment"),
}


@dataclass(frozen=True, slots=True)
class ClickToCall:
    linkedid: str
    number: str
    interface: str


def _pbx(services: Any) -> AmiActions:
    pbx: AmiActions | None = services.pbx
    if pbx is None:
        raise PbxDisabled("this Trubka node does not talk to the phone system (AMI is disabled)")
    return pbx


def _phone(user: UserInfo) -> str:
    if not user.interfaces:
        raise NoPhone(
            "you have no phone configured in Trubka: ask an admin to add your interface "
            "(for example PJSIP/101) to your user"
        )
    return user.interfaces[0]


def _translate(exc: AmiError) -> DomainError:
    if isinstance(exc, NotConnected):
        return PbxDown("the phone system is not connected right now; try again in a minute")
    if isinstance(exc, ActionTimeout):
        return PbxTimeout("the phone system did not answer in time")
    if isinstance(exc, ActionFailed):
        return PbxRefused(f"the phone system refused: {exc.message}")
    return PbxDown(f"the phone system is unreachable: {exc}")


def dial_digits(number: str, region: str) -> tuple[str, str]:
    """(the number as stored, the digits the dialplan gets); BadNumber for anything else."""
    cleaned = number.strip()
    if not cleaned or any(c not in "0123456789+()-. " for c in cleaned):
        raise BadNumber(f"{number!r} is not a phone number", field="number")
    digits = digits_of(cleaned)
    if not 2 <= len(digits) <= 20:
        raise BadNumber(f"{number!r} is not a phone number", field="number")
    e164 = normalize(cleaned, region) or cleaned
    return e164, digits_of(e164) if e164.startswith("+") else digits


def caller_id(user: UserInfo, interface: str) -> str:
    """`"Анна Смирнова" <101>`: what the agent's phone shows when it rings first."""
    name = "".join(c for c in user.name if c not in '"<>\\' and c.isprintable())[:60]
    tail = interface_key(interface).split("/", 1)[-1].split("@", 1)[0]
    return f'"{name}" <{tail}>' if tail.isdigit() else f'"{name}"'


async def click_to_call(
    services: Any, user: UserInfo, number: str, contact_id: int | None = None
) -> ClickToCall:
    interface = _phone(user)
    settings = services.settings
    e164, digits = dial_digits(number, settings.default_region)
    pbx = _pbx(services)
    linkedid = f"c2c-{uuid.uuid4().hex[:20]}"
    variables: dict[str, object] = {"TRUBKA_CLICK_TO_CALL": "1"}
    if contact_id is not None:
        variables["TRUBKA_CONTACT_ID"] = contact_id
    try:
        outcome = await pbx.originate(
            interface,
            context=settings.click_to_call_context,
            exten=digits,
            caller_id=caller_id(user, interface),
            variables=variables,
            timeout=settings.click_to_call_timeout,
            channel_id=linkedid,
            other_channel_id=f"{linkedid}-2",
        )
    except EncodeError as exc:
        raise BadNumber(f"{number!r} cannot be dialled", field="number") from exc
    except AmiError as exc:
        raise _translate(exc) from exc
    if not outcome.success:
        code, text = _PHONE_FAILURES.get(
            outcome.reason, ("phone_unavailable", "your phone {phone} could not be called")
        )
        raise PhoneFailed(code, text.format(phone=interface), reason=outcome.reason)
    return ClickToCall(linkedid=outcome.uniqueid or linkedid, number=e164, interface=interface)


def member_interfaces(live: CallState, user: UserInfo) -> list[str]:
    """The queue-member interfaces of the user's phones, as Asterisk spells them."""
    found: list[str] = []
    for configured in user.interfaces:
        agent = live.agent_for(configured)
        if agent is None:
            wanted = interface_key(configured).lower()
            agent = next((a for k, a in live.agents.items() if k.lower() == wanted), None)
        members = [m.interface for m in agent.memberships.values()] if agent else []
        found.extend(members or [configured])
    return list(dict.fromkeys(found))


async def set_paused(services: Any, user: UserInfo, paused: bool, reason: str | None) -> list[str]:
    """Ask Asterisk to pause (or unpause) the user's phones in every queue.

    Returns the interfaces Asterisk accepted; NotInQueue when none is a queue member."""
    _phone(user)
    pbx = _pbx(services)
    reason = (reason or "").strip()[:MAX_REASON] or None
    accepted: list[str] = []
    refusals: list[str] = []
    for interface in member_interfaces(services.live, user):
        try:
            await pbx.queue_pause(interface, paused, reason if paused else None)
        except ActionFailed as exc:
            refusals.append(exc.message)
            continue
        except EncodeError as exc:
            raise BadNumber("the pause reason cannot be sent", field="reason") from exc
        except AmiError as exc:
            raise _translate(exc) from exc
        accepted.append(interface)
    if not accepted:
        raise NotInQueue(
            "your phone is not in any queue, so there is nothing to pause"
            + (f" ({'; '.join(refusals)})" if refusals else "")
        )
    return accepted
