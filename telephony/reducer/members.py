"""Queue members and their devices: who is an agent, in which queues, paused or not."""

from __future__ import annotations

from kernel.agents import AgentState, interface_key
from telephony import domain as d
from telephony import events as e
from telephony.reducer.agents import agent_changed, agent_key, agent_of, learn_alias
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.queues import queue_of
from telephony.state import Membership


def on_member(s: CallState, ev: e.QueueMemberChanged, at: float, out: Effects) -> None:
    apply_member(s, ev.member, ev.kind, at, out)


def apply_member(s: CallState, m: e.QueueMemberInfo, kind: str, at: float, out: Effects) -> None:
    """A member's event (`added`, `removed`, `pause`, …) or a `QueueStatus` item (`listed`)."""
    key = interface_key(m.interface)
    state_key = interface_key(m.state_interface)
    learn_alias(s, state_key, key)
    agent = agent_of(s, key)
    if m.name and m.name != m.interface:
        agent.name = m.name
    queue = queue_of(s, m.queue)
    if kind == "removed":
        agent.memberships.pop(m.queue, None)
        queue.members.discard(key)
    else:
        old = agent.memberships.get(m.queue)
        agent.memberships[m.queue] = Membership(
            queue=m.queue,
            interface=m.interface,
            state_interface=m.state_interface,
            name=m.name,
            status=m.status,
            paused=m.paused,
            paused_reason=m.paused_reason if m.paused else "",
            in_call=m.in_call,
            calls_taken=m.calls_taken,
            wrapup_time=m.wrapup_time,
            penalty=m.penalty,
            membership=m.membership,
        )
        queue.members.add(key)
        if old is None or old.paused != m.paused or old.paused_reason != m.paused_reason:
            out.append(d.QueueChanged(m.queue, at))
    if kind in ("added", "removed"):
        out.append(d.QueueChanged(m.queue, at))
    agent_changed(agent, at, out)
    if (
        kind == "pause"
        and agent.state
        in (AgentState.PAUSED, AgentState.WRAP_UP, AgentState.ON_CALL, AgentState.RINGING)
        # a new pause reason keeps the state, but readers need the reason; a pause asked
        # for during a call keeps `on_call`, but readers show it as pending
        and not any(isinstance(x, d.AgentStateChanged) and x.agent == key for x in out)
    ):
        out.append(
            d.AgentStateChanged(
                key,
                at,
                agent.state.value,
                agent.state.value,
                agent.paused_reason,
                agent.pause_pending,
            )
        )


def on_device_state(s: CallState, ev: e.DeviceStateChange, at: float, out: Effects) -> None:
    if ev.device.startswith("Queue:"):
        return
    key = agent_key(s, ev.device)
    agent = s.agents.get(key)
    if agent is None:
        if key not in s.known_agents:
            return
        agent = agent_of(s, key)
    agent.device_state = ev.state
    agent_changed(agent, at, out)
