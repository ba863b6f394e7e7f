"""Queues: a caller waiting, the queue ringing its agents, an agent answering from it.

`QueueCallerLeave` comes before `AgentConnect`: leaving a queue is not abandoning. An
abandon is `QueueCallerAbandon` then `QueueCallerLeave`.
"""

from __future__ import annotations

from enum import StrEnum

from kernel.agents import interface_key
from telephony import domain as d
from telephony import events as e
from telephony.reducer.agents import agent_changed, agent_key
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.channels import known, new_channel, update_channel
from telephony.reducer.codes import DialStatus
from telephony.reducer.numbers import customer_of
from telephony.reducer.rings import RingEnd, answered, end_ring, start_ring
from telephony.state import Call, CallPhase, Queue, QueueCaller, Ring, leg_of


class QueueExit(StrEnum):
    """Why a caller left a queue (`CallLeftQueue.reason`)."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    LEFT = "left"  # the queue gave up (timeout, empty, …): the dialplan goes on


# A caller can wait in a queue from these phases (not once answered or given up).
_CAN_QUEUE = frozenset({CallPhase.DIALPLAN, CallPhase.DIALING, CallPhase.RINGING, CallPhase.QUEUED})


def queue_of(s: CallState, name: str) -> Queue:
    """The queue with this name, added to the picture when it is not there yet."""
    queue = s.queues.get(name)
    if queue is None:
        queue = s.queues[name] = Queue(name=name)
    return queue


def on_queue_join(s: CallState, ev: e.QueueCallerJoin, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call, channel = found
    call.customer_leg = channel.leg
    update_channel(s, call, channel, ev.channel, at, out)
    if call.route_agent and call.queue is None and call.dialed_anyone:
        call.step(at, "routed-fallback", f"{call.route_agent} → queue {ev.queue}")
    call.queue = ev.queue
    call.queued_at = at
    if call.phase in _CAN_QUEUE:
        call.phase = CallPhase.QUEUED
    queue = queue_of(s, ev.queue)
    queue.entries[channel.uniqueid] = QueueCaller(
        call.linkedid, channel.uniqueid, call.caller_num, call.caller_name, at
    )
    call.step(at, "queued", ev.queue)
    num, name = customer_of(s.config, call)
    out.append(d.CallQueued(call.linkedid, at, ev.queue, len(queue.entries), num, name))
    out.append(d.QueueChanged(ev.queue, at))


def on_queue_leave(s: CallState, ev: e.QueueCallerLeave, at: float, out: Effects) -> None:
    queue = queue_of(s, ev.queue)
    entry = queue.entries.pop(ev.channel.uniqueid, None)
    found = known(s, ev.channel)
    if found is None:
        if entry is not None:
            out.append(d.QueueChanged(ev.queue, at))
        return
    call = found[0]
    reason: QueueExit
    if call.phase is CallPhase.CONNECTED or (
        call.rings and call.last_dial_status == DialStatus.ANSWER
    ):
        reason = QueueExit.ANSWERED
    elif call.phase is CallPhase.ABANDONED:
        reason = QueueExit.ABANDONED
    else:
        reason = QueueExit.LEFT
    if call.phase is CallPhase.QUEUED:
        # An agent still ringing is about to answer (`AgentConnect` follows).
        call.phase = CallPhase.RINGING if call.rings else CallPhase.DIALPLAN
    out.append(d.CallLeftQueue(call.linkedid, at, ev.queue, reason))
    out.append(d.QueueChanged(ev.queue, at))


def on_queue_abandon(s: CallState, ev: e.QueueCallerAbandon, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call = found[0]
    if call.phase is not CallPhase.CONNECTED:
        call.phase = CallPhase.ABANDONED
    call.queue_hold = ev.hold_time
    call.step(at, "abandoned", f"{ev.queue} after {ev.hold_time}s")


def on_agent_called(s: CallState, ev: e.AgentCalled, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call = found[0]
    if ev.dest is not None:
        new_channel(s, ev.dest, at, out)
    dest_uniqueid = ev.dest.uniqueid if ev.dest else f"{ev.interface}#{call.linkedid}"
    if dest_uniqueid in call.rings:
        return
    key = agent_key(s, ev.interface)
    ring = Ring(key, ev.interface, ev.member_name or None, dest_uniqueid, ev.queue, at)
    call.step(at, "ringing", f"{ev.member_name or ev.interface} ({ev.queue})")
    start_ring(s, call, ring, at, out)


def on_agent_connect(s: CallState, ev: e.AgentConnect, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call = found[0]
    call.queue_hold = ev.hold_time
    key = agent_key(s, ev.interface)
    if call.connected_agent == key and call.agent_interface != ev.interface and call.agent == key:
        call.agent_interface = ev.interface
        call.agents = [ev.interface if a == interface_key(ev.interface) else a for a in call.agents]
    answered(s, call, key, ev.interface, ev.member_name or None, ev.queue, at, out)
    if call.agent == key:
        call.agent_interface = ev.interface
        call.agent_name = ev.member_name or call.agent_name
    if ev.dest is not None:
        call.agent_leg = leg_of(ev.dest.name)


def on_agent_complete(s: CallState, ev: e.AgentComplete, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    call = found[0] if found else None
    if call is not None:
        call.queue_talk = ev.talk_time
        if call.answer_guessed:
            _answer_as_booked(call, ev, at)
        call.step(
            at,
            "completed",
            f"{ev.member_name or ev.interface}: talk {ev.talk_time}s, {ev.reason}",
        )
    agent = s.agents.get(agent_key(s, ev.interface))
    if agent is not None:
        membership = agent.memberships.get(ev.queue)
        if membership is not None and membership.wrapup_time > 0:
            agent.wrapup_until = at + membership.wrapup_time
        if call is not None:
            agent.calls.discard(call.linkedid)
        agent_changed(agent, at, out)


def _answer_as_booked(call: Call, ev: e.AgentComplete, at: float) -> None:
    """A call a resync found already talking (the standby taking over AMI, a restart)
    was answered at an unknown moment before: AgentComplete tells its queue, hold and
    talk time, so the record gets the answer time Asterisk's books have, not the resync's."""
    call.answer_guessed = False
    call.answered_at = max(call.started_at, at - ev.talk_time)
    if call.queue is None:
        call.queue = ev.queue
    if call.queue_hold is None:
        call.queue_hold = ev.hold_time


def on_agent_no_answer(
    s: CallState, ev: e.AgentRingNoAnswer | e.AgentDump, at: float, out: Effects
) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call = found[0]
    key = agent_key(s, ev.interface)
    for ring in list(call.rings.values()):
        if ring.agent == key:
            end_ring(s, call, ring, RingEnd.NO_ANSWER, at, out)
    call.step(at, "no-answer", ev.member_name or ev.interface)


def on_queue_params(s: CallState, ev: e.QueueParams, at: float, out: Effects) -> None:
    queue = queue_of(s, ev.queue)
    queue.strategy = ev.strategy
    queue.service_level = ev.service_level


def on_queue_entry(s: CallState, ev: e.QueueEntry, at: float, out: Effects) -> None:
    """A caller waiting in a queue, as `QueueStatus` lists it (after a reconnect)."""
    queue = queue_of(s, ev.queue)
    channel = s.channels.get(ev.uniqueid)
    linkedid = channel.linkedid if channel else ev.uniqueid
    if ev.uniqueid not in queue.entries:
        queue.entries[ev.uniqueid] = QueueCaller(
            linkedid, ev.uniqueid, ev.caller_num, ev.caller_name, at - ev.wait
        )
        call = s.calls.get(linkedid)
        if call is not None and call.queue is None:
            call.queue = ev.queue
            call.queued_at = at - ev.wait
            call.customer_leg = channel.leg if channel else call.customer_leg
            if call.phase in _CAN_QUEUE:
                call.phase = CallPhase.QUEUED
        out.append(d.QueueChanged(ev.queue, at))
