"""An agent's phone ringing for a call, and the answer that ends the ringing.

A ring starts on `AgentCalled` (a queue) or a `DialBegin` to an agent's interface (a
direct or routed dial) and ends when the agent answers, someone else does, the caller
hangs up or nobody answers. Answering moves the call to ``CONNECTED``; a later answer
by another agent is a transfer.
"""

from __future__ import annotations

from enum import StrEnum

from telephony import domain as d
from telephony.reducer.agents import agent_changed, agent_of
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.numbers import customer_of, direction_of
from telephony.state import Call, CallPhase, Ring


class RingEnd(StrEnum):
    """Why an agent's phone stopped ringing (`AgentRingEnded.reason`)."""

    ANSWERED = "answered"  # by this agent: no `AgentRingEnded`, a `CallAnswered` instead
    ANSWERED_ELSEWHERE = "answered_elsewhere"
    CALLER_HUNG_UP = "caller_hung_up"
    NO_ANSWER = "no_answer"


def ring_end_reason(call: Call) -> RingEnd:
    """Why a ring that stops without an answer of its own stopped."""
    if call.phase is CallPhase.CONNECTED:
        return RingEnd.ANSWERED_ELSEWHERE
    if call.customer_gone_at is not None or not any(
        c.leg == call.customer_leg for c in call.channels.values()
    ):
        return RingEnd.CALLER_HUNG_UP
    return RingEnd.NO_ANSWER


def start_ring(s: CallState, call: Call, ring: Ring, at: float, out: Effects) -> None:
    call.rings[ring.dest_uniqueid] = ring
    if call.phase is CallPhase.DIALPLAN or call.phase is CallPhase.DIALING:
        call.phase = CallPhase.RINGING
    agent = agent_of(s, ring.agent)
    if ring.agent_name and not agent.name:
        agent.name = ring.agent_name
    agent.ringing.add(call.linkedid)
    num, name = customer_of(s.config, call)
    out.append(
        d.AgentRinging(
            call.linkedid,
            at,
            ring.agent,
            ring.interface,
            ring.agent_name or agent.name,
            ring.queue,
            num,
            name,
            call.routing_reason,
            direction_of(s.config, call).value,
        )
    )
    agent_changed(agent, at, out)


def end_ring(
    s: CallState, call: Call, ring: Ring, reason: RingEnd, at: float, out: Effects
) -> None:
    call.rings.pop(ring.dest_uniqueid, None)
    if call.phase is CallPhase.RINGING and not call.rings:
        call.phase = CallPhase.DIALPLAN  # nobody answered: back to the dialplan
    agent = s.agents.get(ring.agent)
    still_ringing = any(r.agent == ring.agent for r in call.rings.values())
    if agent is not None and not still_ringing:
        agent.ringing.discard(call.linkedid)
    if reason is not RingEnd.ANSWERED and not still_ringing:
        out.append(d.AgentRingEnded(call.linkedid, at, ring.agent, reason))
    if agent is not None:
        agent_changed(agent, at, out)


def answered(
    s: CallState,
    call: Call,
    agent_key: str,
    interface: str,
    agent_name: str | None,
    queue: str | None,
    at: float,
    out: Effects,
) -> None:
    """An agent is now talking with the caller: the first answer, or a transfer to them."""
    if call.connected_agent == agent_key:
        return
    first_answer = call.phase is not CallPhase.CONNECTED
    call.phase = CallPhase.CONNECTED
    for ring in list(call.rings.values()):
        if ring.agent == agent_key:
            end_ring(s, call, ring, RingEnd.ANSWERED, at, out)
    for ring in list(call.rings.values()):
        end_ring(s, call, ring, RingEnd.ANSWERED_ELSEWHERE, at, out)
    agent = agent_of(s, agent_key)
    if agent_name and not agent.name:
        agent.name = agent_name
    previous = call.connected_agent or call.last_agent
    call.connected_agent = call.last_agent = agent_key
    if interface not in call.agents:
        call.agents.append(interface)
    if first_answer:
        call.answered_at = at
        call.agent = agent_key
        call.agent_interface = interface
        call.agent_name = agent_name or agent.name
        call.step(
            at, "answered", f"{call.agent_name or interface}" + (f" ({queue})" if queue else "")
        )
        num, name = customer_of(s.config, call)
        out.append(
            d.CallAnswered(
                call.linkedid, at, agent_key, interface, call.agent_name, queue, num, name
            )
        )
    elif previous != agent_key and (previous is not None or call.agent != agent_key):
        # A transfer. After a blind transfer the first agent's leg is already gone
        # (`previous` is None): the conversation goes on with this agent.
        source = previous if previous is not None else call.agent
        call.transfers += 1
        call.talk_end = None
        call.step(at, "transferred", f"{source} → {interface}")
        out.append(d.CallTransferred(call.linkedid, at, source, agent_key))
        old = s.agents.get(source) if source is not None else None
        if old is not None:
            old.calls.discard(call.linkedid)
            agent_changed(old, at, out)
    agent.calls.add(call.linkedid)
    agent_changed(agent, at, out)
