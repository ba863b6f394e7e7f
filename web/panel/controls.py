"""Call controls of the agent panel: hang up, hold and unhold, blind and attended transfer.

Every request names a call in progress by its linkedid and is checked against the live
state before anything is sent to the PBX: only the agent talking on the call (one of
their phones is the call's connected agent) or a supervisor/admin may act on it.

How each control reaches Asterisk (AMI; see docs/panel.md, "Call controls"):

* **hang up** — `Hangup` of the customer's channels (the agent's leg ends with them);
* **hold** — `Redirect` of the customer's channel to `s@TRUBKA_HOLD_CONTEXT` (the sample
  dialplan plays `MusicOnHold()` there) with the agent's channel as `ExtraChannel` to
  `agent@TRUBKA_HOLD_CONTEXT` (silence): Asterisk 22 has no AMI action that puts a
  bridged channel on hold, and a phone's own hold button (a SIP re-INVITE) is out of
  Trubka's reach; **unhold** — `Bridge` of the two channels again;
* **blind transfer** — `BlindTransfer` of the agent's channel: the caller goes on to a
  colleague's (or the customer's manager's) extension in `TRUBKA_TRANSFER_CONTEXT`, or to a
  queue's name in `TRUBKA_TRANSFER_QUEUE_CONTEXT`; Asterisk reports a `BlindTransfer` event
  and the target rings (their panel pops with the card; the reducer writes the steps);
* **attended transfer** — `Atxfer` to the same destinations: the caller hears music while
  the agent talks to the target, and hanging up completes it (`AttendedTransfer`).

A colleague who is on a call, ringing or whose phone is unreachable is refused (409);
an unknown target is refused with the field named (422). Messages are in the user's
language.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from crm.users import UserInfo
from kernel.agents import agent_key, same_agent
from kernel.errors import DomainError
from kernel.phones import normalize
from telephony.actions import AmiActions
from telephony.codec import EncodeError
from telephony.errors import ActionFailed, ActionTimeout, AmiError, NotConnected
from telephony.reducer import CallState
from telephony.state import Call, Channel, local_half
from web.i18n import N_, translations

MANAGER_ROLES = ("supervisor", "admin")
BUSY_STATES = ("on_call", "ringing")
UNREACHABLE_STATES = ("unavailable",)


class ControlError(DomainError):
    code = "panel_error"

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(code, message, field)


class CallGone(ControlError):
    code = "not_found"  # 404


class NotYourCall(ControlError):
    code = "forbidden"  # 403


class TargetRefused(ControlError):
    code = "conflict"  # 409: busy, unreachable, not on hold


class BadTarget(ControlError):
    code = "invalid"  # 422


class ControlPbxDown(ControlError):
    code = "pbx_down"  # 503


class ControlPbxRefused(ControlError):
    code = "pbx_refused"  # 502 on the panel, 409 elsewhere


def _t(user: UserInfo, msgid: str, **params: object) -> str:
    text = translations(user.language).gettext(msgid)
    return text.format(**params) if params else text


def extension_of(interface: str) -> str | None:
    """The number a colleague's phone is dialled by: `PJSIP/101`, `Local/101@agents/n`,
    `SIP/101` → `101`; None when the interface has no plain number."""
    tail = interface.strip().split("/", 1)[-1].split("@", 1)[0]
    return tail if tail.isdigit() else None


def user_state(live: CallState, user: UserInfo, now: float) -> str:
    """The user's state as the live view shows it, the busiest of their phones."""
    order = ("on_call", "ringing", "wrap_up", "available", "paused", "unavailable")
    found: list[str] = []
    for interface in user.interfaces:
        agent = live.agent_for(interface)
        if agent is None:
            wanted = agent_key(interface)
            agent = next((a for k, a in live.agents.items() if k.lower() == wanted), None)
        if agent is not None:
            found.append(agent.derive_state(now).value)
    for state in order:
        if state in found:
            return state
    return "logged_out"


@dataclass(frozen=True, slots=True)
class Held:
    """A call on hold: who put it there and the two channels to bridge again."""

    user_id: int
    customer: str
    agent: str


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    context: str
    exten: str
    name: str
    user_id: int | None = None
    queue: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "extension": self.exten if self.kind != "queue" else None,
            "queue": self.queue,
            "user_id": self.user_id,
        }


class CallControls:
    """The call controls over the live state and the PBX's typed actions."""

    def __init__(self, services: Any, held: dict[str, Held]) -> None:
        self.services = services
        self.held = held  # calls on hold by linkedid (the app keeps it: one node, one PBX)

    @property
    def live(self) -> CallState:
        live: CallState = self.services.live
        return live

    # --- checks --------------------------------------------------------------------------
    def own_call(self, user: UserInfo, linkedid: str) -> tuple[Call, Channel | None]:
        """The call, and the channel of the agent on it; 404 gone, 403 not yours."""
        call = self.live.calls.get(linkedid)
        if call is None or call.spy or not call.channels:
            raise CallGone("call_not_found", _t(user, N_("This call is not in progress any more.")))
        agent = call.connected_agent
        held = self.held.get(linkedid)
        mine = (agent is not None and any(same_agent(i, agent) for i in user.interfaces)) or (
            held is not None and held.user_id == user.id
        )
        if not mine and user.role.value not in MANAGER_ROLES:
            raise NotYourCall(
                "not_your_call",
                _t(user, N_("Only the agent on this call or a supervisor can do this.")),
            )
        return call, self.agent_channel(call)

    @staticmethod
    def agent_channel(call: Call) -> Channel | None:
        """The talking agent's channel that is bridged with the caller (a Local channel's
        `;1` half)."""
        if call.connected_agent is None:
            return None
        found = [
            c
            for c in call.channels.values()
            if c.interface == call.connected_agent
            or (call.agent_leg is not None and c.leg == call.agent_leg)
        ]
        found.sort(key=lambda c: (c.bridge_id is None, local_half(c.name) == 2, c.created_at))
        return found[0] if found else None

    @staticmethod
    def customer_channels(call: Call) -> list[Channel]:
        return [c for c in call.channels.values() if c.leg == call.customer_leg]

    def pbx(self, user: UserInfo) -> AmiActions:
        pbx: AmiActions | None = self.services.pbx
        if pbx is None:
            raise ControlPbxDown(
                "pbx_disabled", _t(user, N_("This server does not talk to the phone system."))
            )
        return pbx

    async def _send(self, user: UserInfo, work: Any) -> str:
        try:
            result: str = await work
        except EncodeError as exc:
            raise BadTarget(
                "invalid", _t(user, N_("This cannot be sent to the phone system."))
            ) from exc
        except ActionFailed as exc:
            raise ControlPbxRefused(
                "pbx_refused",
                _t(
                    user, N_("The phone system refused the request: {message}"), message=exc.message
                ),
            ) from exc
        except (NotConnected, ActionTimeout, AmiError) as exc:
            raise ControlPbxDown(
                "pbx_down",
                _t(user, N_("The phone system is not connected right now. Try again in a minute.")),
            ) from exc
        return result

    # --- hang up ---------------------------------------------------------------------------
    async def hangup(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        call, agent = self.own_call(user, linkedid)
        pbx = self.pbx(user)
        channels = self.customer_channels(call) or ([agent] if agent else [])
        if not channels:
            channels = list(call.channels.values())
        done: list[str] = []
        for channel in channels:
            try:
                await self._send(user, pbx.hangup(channel.name))
            except ControlPbxRefused:
                continue  # already gone (the other half of a Local channel)
            done.append(channel.name)
        if not done:
            raise CallGone("call_not_found", _t(user, N_("This call is not in progress any more.")))
        self.held.pop(linkedid, None)
        return {
            "linkedid": linkedid,
            "action": "hangup",
            "channels": done,
            "message": _t(user, N_("The call was hung up.")),
        }

    # --- hold --------------------------------------------------------------------------------
    async def hold(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        call, agent = self.own_call(user, linkedid)
        if linkedid in self.held:
            raise TargetRefused("already_on_hold", _t(user, N_("The call is already on hold.")))
        customers = self.customer_channels(call)
        if agent is None or not customers or call.answered_at is None:
            raise TargetRefused(
                "not_talking", _t(user, N_("Only a call that is being talked on can be held."))
            )
        # The caller's channel in the agent's bridge (a Local pair's `;2` runs the dialplan).
        bridged = [c for c in customers if c.bridge_id and c.bridge_id == agent.bridge_id]
        customer = (bridged or [c for c in customers if c.bridge_id] or customers)[0]
        context = self.services.settings.hold_context
        pbx = self.pbx(user)
        await self._send(
            user,
            pbx.redirect(
                customer.name, context, "s", extra_channel=agent.name, extra_exten="agent"
            ),
        )
        self.held[linkedid] = Held(user.id, customer.name, agent.name)
        return {
            "linkedid": linkedid,
            "action": "hold",
            "on_hold": True,
            "message": _t(user, N_("The caller is on hold and hears music.")),
        }

    async def unhold(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        call, agent = self.own_call(user, linkedid)
        held = self.held.get(linkedid) or self._held_in_live_state(user, call, agent)
        if held is None:
            raise TargetRefused("not_on_hold", _t(user, N_("The call is not on hold.")))
        pbx = self.pbx(user)
        await self._send(user, pbx.bridge(held.customer, held.agent))
        self.held.pop(linkedid, None)
        return {
            "linkedid": linkedid,
            "action": "unhold",
            "on_hold": False,
            "message": _t(user, N_("You are talking to the caller again.")),
        }

    def _held_in_live_state(self, user: UserInfo, call: Call, agent: Channel | None) -> Held | None:
        """A call put on hold before this node started: answered, and neither the caller's
        channel nor the agent's in a bridge (as `hold` leaves them)."""
        customers = self.customer_channels(call)
        if call.answered_at is None or agent is None or agent.bridge_id or not customers:
            return None
        if any(c.bridge_id for c in customers):
            return None
        customer = max(customers, key=lambda c: (local_half(c.name) == 2, c.created_at))
        return Held(user.id, customer.name, agent.name)

    # --- transfer ---------------------------------------------------------------------------
    async def targets(self, user: UserInfo, linkedid: str) -> dict[str, Any]:
        """Whom the call can go to: colleagues with their state, the customer's manager,
        the queues with their waiting callers and free agents."""
        call, _agent = self.own_call(user, linkedid)
        now = time.time()
        on_call = call.connected_agent
        agents = []
        for other in await self.services.crm.users.list(include_inactive=False):
            if not other.interfaces or (
                on_call is not None and any(same_agent(i, on_call) for i in other.interfaces)
            ):
                continue
            exten = extension_of(other.interfaces[0])
            if exten is None:
                continue
            agents.append(
                {
                    "user_id": other.id,
                    "name": other.name,
                    "extension": exten,
                    "state": user_state(self.live, other, now),
                }
            )
        agents.sort(key=lambda a: (a["state"] != "available", str(a["name"])))
        manager = await self._manager_of(call)
        manager_item = None
        if manager is not None:
            manager_item = next((a for a in agents if a["user_id"] == manager["id"]), None)
        queues = []
        for name in sorted(self.live.queues):
            queue = self.live.queues[name]
            free = 0
            for key in queue.members:
                agent = self.live.agents.get(key)
                if agent is not None and agent.derive_state(now).value == "available":
                    free += 1
            queues.append({"name": name, "waiting": len(queue.entries), "available": free})
        return {"linkedid": linkedid, "agents": agents, "manager": manager_item, "queues": queues}

    async def _manager_of(self, call: Call) -> dict[str, Any] | None:
        crm = self.services.crm
        if call.contact_id is not None:
            card = await crm.cards.for_contact(call.contact_id)
        else:
            raw = call.outbound_number if call.outbound_leg == call.customer_leg else None
            number = normalize(raw or call.caller_num or "", crm.region)
            if not number:
                return None
            card = await crm.cards.for_number(number)
        owner: dict[str, Any] | None = card.get("owner")
        return owner

    async def _resolve(self, user: UserInfo, call: Call, target: dict[str, Any]) -> Target:
        settings = self.services.settings
        kind = target.get("kind")
        if kind == "queue":
            name = str(target.get("queue") or "").strip()
            if name not in self.live.queues:
                raise BadTarget(
                    "unknown_queue",
                    _t(user, N_("There is no queue {queue}."), queue=name or "—"),
                    "target.queue",
                )
            return Target("queue", settings.transfer_queue_context, name, name, queue=name)
        if kind == "manager":
            manager = await self._manager_of(call)
            if manager is None:
                raise BadTarget(
                    "no_manager",
                    _t(user, N_("This customer has no responsible manager.")),
                    "target.kind",
                )
            user_id = int(manager["id"])
        else:
            user_id = int(target.get("user_id") or 0)
        try:
            other = await self.services.crm.users.get(user_id)
        except DomainError:
            other = None
        if other is None or not other.active or not other.interfaces:
            raise BadTarget(
                "unknown_target",
                _t(user, N_("There is no colleague with a phone to transfer to.")),
                "target.user_id",
            )
        exten = extension_of(other.interfaces[0])
        if exten is None:
            raise BadTarget(
                "unknown_target",
                _t(user, N_("{name}'s phone has no number to dial."), name=other.name),
                "target.user_id",
            )
        if call.connected_agent and any(
            same_agent(i, call.connected_agent) for i in other.interfaces
        ):
            raise BadTarget(
                "same_agent",
                _t(user, N_("{name} is already on this call."), name=other.name),
                "target.user_id",
            )
        state = user_state(self.live, other, time.time())
        if state in BUSY_STATES:
            raise TargetRefused(
                "target_busy", _t(user, N_("{name} is on another call."), name=other.name)
            )
        if state in UNREACHABLE_STATES:
            raise TargetRefused(
                "target_unavailable",
                _t(user, N_("{name}'s phone is not reachable."), name=other.name),
            )
        return Target(
            "manager" if kind == "manager" else "agent",
            settings.transfer_context,
            exten,
            other.name,
            user_id=other.id,
        )

    async def transfer(
        self, user: UserInfo, linkedid: str, target: dict[str, Any], mode: str
    ) -> dict[str, Any]:
        call, agent = self.own_call(user, linkedid)
        if agent is None or call.answered_at is None:
            raise TargetRefused(
                "not_talking",
                _t(user, N_("Only a call that is being talked on can be transferred.")),
            )
        if linkedid in self.held:
            raise TargetRefused(
                "on_hold", _t(user, N_("Take the caller off hold before transferring."))
            )
        resolved = await self._resolve(user, call, target)
        pbx = self.pbx(user)
        if mode == "attended":
            await self._send(
                user, pbx.attended_transfer(agent.name, resolved.context, resolved.exten)
            )
            message = _t(
                user, N_("Calling {name}: hang up to hand the caller over."), name=resolved.name
            )
        else:
            await self._send(user, pbx.blind_transfer(agent.name, resolved.context, resolved.exten))
            message = _t(user, N_("The caller was transferred to {name}."), name=resolved.name)
        return {
            "linkedid": linkedid,
            "action": "transfer",
            "mode": mode,
            "target": resolved.to_json(),
            "message": message,
        }
