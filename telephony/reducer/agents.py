"""Agents in the live picture: finding them by interface, and announcing their state."""

from __future__ import annotations

from collections.abc import Iterable

from kernel.agents import interface_key
from telephony import domain as d
from telephony.reducer.call_state import CallState, Effects
from telephony.state import Agent, Call, interface_of


def agent_key(s: CallState, interface: str) -> str:
    """The agent an interface belongs to (a member's state interface is an alias)."""
    key = interface_key(interface)
    return s.aliases.get(key, key)


def learn_alias(s: CallState, alias: str, key: str) -> None:
    """`alias` is another name of the agent `key` (a member's state interface, the phone
    its Local channel dials). An agent seen under that name alone before (its device
    state, for a user configured by the phone) is that agent: it is dropped."""
    if alias == key or s.aliases.get(alias) == key:
        return
    s.aliases[alias] = key
    stale = s.agents.get(alias)
    if stale is not None and not (stale.memberships or stale.calls or stale.ringing):
        del s.agents[alias]


def other_names(s: CallState, interface: str | None) -> tuple[str, ...]:
    """The agent's names besides `interface` (the phone behind a queue member, the
    member in front of a phone), as Asterisk spells them."""
    if interface is None:
        return ()
    key = interface_key(interface).lower()
    return tuple(name for name in s.names_of(interface) if name.lower() != key)


def is_agent_interface(s: CallState, interface: str) -> bool:
    key = interface_key(interface)
    return key in s.agents or key in s.aliases or key in s.known_agents


def agent_of(s: CallState, key: str) -> Agent:
    """The agent with this key, added to the picture when it is not there yet."""
    agent = s.agents.get(key)
    if agent is None:
        agent = s.agents[key] = Agent(key=key)
    return agent


def agent_changed(agent: Agent, at: float, out: Effects) -> None:
    """Re-derive an agent's state; announce it when it changed."""
    new = agent.derive_state(at)
    if new != agent.state:
        previous = agent.state
        agent.state = new
        agent.state_since = at
        out.append(
            d.AgentStateChanged(
                agent.key, at, new.value, previous.value, agent.paused_reason, agent.pause_pending
            )
        )


def agents_of(s: CallState, call: Call) -> Iterable[Agent]:
    """The agents that may hold this call (ringing or on it), in `agents` order.

    Only the agents the call names can: its first agent, the one connected, the ones
    rung and the ones it talked to. With one of them (the usual case) that agent alone
    is looked at; otherwise all, so that the order of the effects stays the same.
    """
    keys = {ring.agent for ring in call.rings.values()}
    keys.update(agent_key(s, interface) for interface in call.agents)
    for key in (call.agent, call.connected_agent):
        if key is not None:
            keys.add(key)
    if len(keys) == 1:
        agent = s.agents.get(next(iter(keys)))
        return () if agent is None else (agent,)
    if not keys:
        return ()
    return list(s.agents.values())


def agent_on_leg(call: Call, key: str, leg: str) -> bool:
    """Is this leg the agent's side of the call?"""
    return (
        call.agent_leg == leg
        or interface_key(interface_of(leg + ";1")) == key
        or (interface_of(leg) == key)
    )
