"""What a supervisor may do to agents and calls, checked first and written to the audit log.

* **listen / whisper / barge** — `Originate` of the supervisor's own phone (one of the
  interfaces of their CRM user) into `ChanSpy` on the agent's channel in the call
  (`services.pbx.spy`); answered when the supervisor picks up.
* **pause / unpause** an agent, in every queue or one, with a reason (`QueuePause`).
* **log out of a queue** (`QueueRemove`; Asterisk refuses static members of queues.conf).
* **hang up a stuck call** (`Hangup` of each of its channels).

Every request is checked against the live state before anything is sent: an agent,
call or channel that no longer exists (or an agent not on a call, for spying) is
refused with a clear error and nothing changes on the PBX. Every request — done,
refused here, or refused by the PBX — is written to the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kernel.agents import agent_key
from supervisor.audit import Actor, AuditAction, AuditEntry, AuditLog, Outcome
from supervisor.errors import (
    ActionError,
    ActionInvalid,
    NotAllowed,
    PbxUnavailable,
    TargetNotFound,
    TargetNotReady,
)
from telephony.actions import AmiActions, SpyMode
from telephony.codec import EncodeError
from telephony.errors import ActionFailed, ActionTimeout, NotConnected, PbxRefused
from telephony.reducer import CallState
from telephony.state import Agent, Call, Channel, local_half

log = logging.getLogger(__name__)

ROLES = frozenset({"supervisor", "admin"})
MAX_REASON = 80  # what agent state time keeps per reason
SPY_ACTIONS = {
    SpyMode.LISTEN: AuditAction.LISTEN,
    SpyMode.WHISPER: AuditAction.WHISPER,
    SpyMode.BARGE: AuditAction.BARGE,
}


def _clean_text(value: str | None, field: str, limit: int) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if len(text) > limit:
        raise ActionInvalid(f"{field} is longer than {limit} characters", field=field)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ActionInvalid(f"{field} must not contain control characters", field=field)
    return text


def _caller_id_text(text: str) -> str:
    """A name fit for a CallerID header (no quotes or angle brackets)."""
    return "".join(c for c in text if c not in '"<>\\' and ord(c) >= 32)[:60].strip()


class SupervisorActions:
    def __init__(
        self,
        state: CallState,
        pbx: Callable[[], AmiActions | None],
        audit: AuditLog,
        *,
        spy_ring_seconds: float = 20.0,
    ) -> None:
        self.state = state
        self.pbx = pbx
        self.audit = audit
        self.spy_ring_seconds = spy_ring_seconds

    # --- helpers -----------------------------------------------------------------------
    def _actions(self) -> AmiActions:
        pbx = self.pbx()
        if pbx is None:
            raise PbxUnavailable("this Trubka node has no AMI link (TRUBKA_AMI_ENABLED is off)")
        return pbx

    @staticmethod
    def _allowed(actor: Actor) -> None:
        if actor.role not in ROLES:
            raise NotAllowed("supervisor actions need the supervisor or admin role")

    def _agent(self, interface: str | None) -> Agent:
        if not interface or not interface.strip():
            raise ActionInvalid("name the agent by interface, e.g. PJSIP/101", field="agent")
        agent = self.state.agent_for(interface.strip())
        if agent is None:
            raise TargetNotFound(
                f"agent {interface.strip()} is not known to the PBX now (logged out of every "
                "queue, or the interface is wrong)",
                code="agent_not_found",
                field="agent",
            )
        return agent

    async def _run(self, entry: AuditEntry, work: Callable[[], Any]) -> Any:
        """Run the PBX part, translating its errors, and write the audit row either way."""
        try:
            result = await work()
        except (ActionError, PbxRefused) as exc:
            entry.outcome = Outcome.FAILED
            entry.detail = exc.message
            await self.audit.record(entry)
            raise
        except ActionFailed as exc:
            entry.outcome = Outcome.FAILED
            entry.detail = exc.message
            await self.audit.record(entry)
            raise PbxRefused(f"the PBX refused {exc.action}: {exc.message}") from exc
        except (NotConnected, ActionTimeout) as exc:
            entry.outcome = Outcome.FAILED
            entry.detail = str(exc) or type(exc).__name__
            await self.audit.record(entry)
            raise PbxUnavailable(f"the PBX is not reachable now: {entry.detail}") from exc
        except EncodeError as exc:
            entry.outcome = Outcome.REFUSED
            entry.detail = str(exc)
            await self.audit.record(entry)
            raise ActionInvalid(str(exc)) from exc
        entry.outcome = Outcome.DONE
        entry.id = await self.audit.record(entry)
        return result

    async def _refuse(self, entry: AuditEntry, exc: ActionError) -> None:
        entry.outcome = Outcome.REFUSED
        entry.detail = exc.message
        await self.audit.record(entry)

    # --- listen, whisper, barge ------------------------------------------------------
    async def spy(
        self, actor: Actor, agent: str | None, mode: str | None, phone: str | None = None
    ) -> dict[str, Any]:
        try:
            spy_mode = SpyMode((mode or "").strip().lower())
        except ValueError:
            spy_mode = None
        entry = AuditEntry(
            SPY_ACTIONS.get(spy_mode, AuditAction.LISTEN) if spy_mode else AuditAction.LISTEN,
            actor,
            agent=agent,
        )
        try:
            self._allowed(actor)
            if spy_mode is None:
                raise ActionInvalid("mode must be listen, whisper or barge", field="mode")
            own = self._own_phone(actor, phone)
            target = self._agent(agent)
            entry.agent, entry.agent_name = target.key, target.name
            if agent_key(own) == agent_key(target.key):
                raise ActionInvalid("that is your own phone", field="agent")
            call, channel = self._spied_channel(target)
            entry.linkedid, entry.channel, entry.queue = call.linkedid, channel, call.queue
            pbx = self._actions()
        except ActionError as exc:
            await self._refuse(entry, exc)
            raise
        label = {"listen": "Listen", "whisper": "Whisper", "barge": "Barge"}[spy_mode.value]
        who = _caller_id_text(target.name or target.key)
        caller_id = f'"{label}: {who}" <{_caller_id_text(call.caller_num or "")}>'

        async def work() -> Any:
            outcome = await pbx.spy(
                own, channel, spy_mode, caller_id=caller_id, timeout=self.spy_ring_seconds
            )
            if not outcome.success:
                raise PbxRefused(
                    f"your phone {own}: {outcome.reason_text}", code="phone_not_answered"
                )
            return outcome

        outcome = await self._run(entry, work)
        if outcome.uniqueid:
            await self.audit.spy_sessions.opened(
                outcome.uniqueid, audit_id=entry.id, phone=own, spied_linkedid=call.linkedid
            )
        return {
            "audit_id": entry.id,
            "action": entry.action.value,
            "agent": target.key,
            "linkedid": call.linkedid,
            "channel": channel,
            "phone": own,
            "message": f"{own} answered: {spy_mode.value} {target.name or target.key}",
            "uniqueid": outcome.uniqueid,
        }

    def _own_phone(self, actor: Actor, phone: str | None) -> str:
        if not actor.interfaces:
            raise ActionInvalid(
                "you have no phone in your user profile: an admin can add one "
                "(e.g. PJSIP/200) to listen, whisper or barge",
                code="no_phone",
                field="phone",
            )
        if phone is None or not phone.strip():
            return actor.interfaces[0]
        for own in actor.interfaces:
            if agent_key(own) == agent_key(phone):
                return own
        raise ActionInvalid(
            f"{phone.strip()} is not one of your phones ({', '.join(actor.interfaces)})",
            code="not_your_phone",
            field="phone",
        )

    def _spied_channel(self, agent: Agent) -> tuple[Call, str]:
        """The agent's call and their channel in it (the queue side of a Local channel)."""
        for linkedid in sorted(agent.calls):
            call = self.state.calls.get(linkedid)
            if call is None:
                continue
            channels = _agent_channels(call, agent.key)
            if channels:
                return call, channels[0].name
            return call, agent.key  # the channel is not known: spy on the device's
        raise TargetNotReady(
            f"{agent.name or agent.key} is not on a call now", code="agent_not_on_call"
        )

    # --- pause, unpause ----------------------------------------------------------------
    async def pause(
        self,
        actor: Actor,
        agent: str | None,
        paused: bool,
        reason: str | None = None,
        queue: str | None = None,
    ) -> dict[str, Any]:
        entry = AuditEntry(
            AuditAction.PAUSE if paused else AuditAction.UNPAUSE,
            actor,
            agent=agent,
            queue=queue,
            reason=reason,
        )
        try:
            self._allowed(actor)
            text = _clean_text(reason, "reason", MAX_REASON) if paused else None
            entry.reason = text
            queue = _clean_text(queue, "queue", 80)
            target = self._agent(agent)
            entry.agent, entry.agent_name, entry.queue = target.key, target.name, queue
            if queue:
                membership = target.memberships.get(queue)
                if membership is None:
                    raise TargetNotFound(
                        f"{target.name or target.key} is not in queue {queue}",
                        code="not_a_member",
                        field="queue",
                    )
            elif target.memberships:
                membership = next(iter(target.memberships.values()))
            else:
                raise TargetNotFound(
                    f"{target.name or target.key} is in no queue", code="not_a_member"
                )
            pbx = self._actions()
        except ActionError as exc:
            await self._refuse(entry, exc)
            raise

        async def work() -> str:
            return await pbx.queue_pause(membership.interface, paused, reason=text, queue=queue)

        message = await self._run(entry, work)
        return {
            "audit_id": entry.id,
            "action": entry.action.value,
            "agent": target.key,
            "queue": queue,
            "reason": text,
            "message": message,
        }

    # --- log out of a queue ------------------------------------------------------------
    async def remove_from_queue(
        self, actor: Actor, agent: str | None, queue: str | None
    ) -> dict[str, Any]:
        entry = AuditEntry(AuditAction.QUEUE_REMOVE, actor, agent=agent, queue=queue)
        try:
            self._allowed(actor)
            name = _clean_text(queue, "queue", 80)
            if name is None:
                raise ActionInvalid("name the queue", field="queue")
            target = self._agent(agent)
            entry.agent, entry.agent_name, entry.queue = target.key, target.name, name
            membership = target.memberships.get(name)
            if membership is None:
                raise TargetNotFound(
                    f"{target.name or target.key} is not in queue {name}",
                    code="not_a_member",
                    field="queue",
                )
            pbx = self._actions()
        except ActionError as exc:
            await self._refuse(entry, exc)
            raise

        async def work() -> str:
            try:
                return await pbx.queue_remove(name, membership.interface)
            except ActionFailed as exc:
                if "not dynamic" in exc.message:
                    raise PbxRefused(
                        f"{membership.interface} is a static member of {name} (queues.conf): "
                        "Asterisk cannot log it out; pause it instead, or make it dynamic",
                        code="static_member",
                    ) from exc
                raise

        message = await self._run(entry, work)
        return {
            "audit_id": entry.id,
            "action": entry.action.value,
            "agent": target.key,
            "queue": name,
            "message": message,
        }

    # --- hang up a stuck call ----------------------------------------------------------
    async def hangup(
        self, actor: Actor, linkedid: str | None, channel: str | None = None
    ) -> dict[str, Any]:
        entry = AuditEntry(AuditAction.HANGUP, actor, linkedid=linkedid, channel=channel)
        try:
            self._allowed(actor)
            call, channels = self._call_channels(linkedid, channel)
            entry.linkedid, entry.queue = call.linkedid, call.queue
            entry.agent = call.connected_agent or call.agent
            entry.channel = ", ".join(c.name for c in channels)[:255]
            pbx = self._actions()
        except ActionError as exc:
            await self._refuse(entry, exc)
            raise

        async def work() -> list[str]:
            done: list[str] = []
            gone: list[str] = []
            for item in channels:
                try:
                    await pbx.hangup(item.name)
                except ActionFailed as exc:
                    if "no such channel" not in exc.message.lower():
                        raise
                    gone.append(item.name)  # already gone (e.g. the other half of a Local)
                    continue
                done.append(item.name)
            if not done:
                raise TargetNotFound(
                    f"the PBX has none of the channels of call {call.linkedid} any more",
                    code="channel_gone",
                )
            return done

        done = await self._run(entry, work)
        return {
            "audit_id": entry.id,
            "action": entry.action.value,
            "linkedid": call.linkedid,
            "channels": done,
            "message": f"hung up {', '.join(done)}",
        }

    def _call_channels(
        self, linkedid: str | None, channel: str | None
    ) -> tuple[Call, list[Channel]]:
        if channel and channel.strip():
            wanted = channel.strip()
            for item in self.state.channels.values():
                if item.name == wanted:
                    call = self.state.calls.get(item.linkedid)
                    if call is not None:
                        return call, [item]
            raise TargetNotFound(
                f"no channel {wanted} is up now", code="channel_not_found", field="channel"
            )
        if not linkedid or not linkedid.strip():
            raise ActionInvalid("name the call (linkedid) or a channel", field="linkedid")
        call = self.state.calls.get(linkedid.strip())
        if call is None or not call.channels:
            raise TargetNotFound(
                f"no call {linkedid.strip()} is in progress",
                code="call_not_found",
                field="linkedid",
            )
        customer = [c for c in call.channels.values() if c.leg == call.customer_leg]
        others = [c for c in call.channels.values() if c.leg != call.customer_leg]
        return call, customer + others


def _agent_channels(call: Call, agent_key: str) -> list[Channel]:
    """The agent's channels in a call, the one to spy on first: bridged, and for a Local
    channel the half on the caller's side (`;1`), whose audio goes to the agent."""
    found = []
    for channel in call.channels.values():
        mine = channel.interface == agent_key or (
            call.agent_leg is not None
            and channel.leg == call.agent_leg
            and call.connected_agent == agent_key
        )
        if mine:
            found.append(channel)
    found.sort(key=lambda c: (c.bridge_id is None, local_half(c.name) == 2, c.created_at))
    return found
