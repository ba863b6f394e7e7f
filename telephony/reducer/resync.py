"""Resynchronisation: the live picture read back from Asterisk after a (re)connect."""

from __future__ import annotations

from dataclasses import dataclass

from kernel.agents import interface_key
from telephony import domain as d
from telephony import events as e
from telephony.reducer.agents import agent_changed, agent_key, is_agent_interface
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.channels import finish, new_channel, update_channel
from telephony.reducer.members import apply_member, on_device_state
from telephony.reducer.queues import on_queue_entry, on_queue_params
from telephony.reducer.rings import answered, end_ring, ring_end_reason
from telephony.state import Call, CallPhase, Queue, Ring


@dataclass(frozen=True, slots=True)
class Resync:
    """The live picture read back from Asterisk after a (re)connect.

    `since` is when the connection was lost: calls that ended meanwhile are closed at
    that moment and marked `ended_during_outage`.
    """

    channels: tuple[e.CoreShowChannel, ...]
    members: tuple[e.QueueMemberInfo, ...]
    entries: tuple[e.QueueEntry, ...] = ()
    params: tuple[e.QueueParams, ...] = ()
    devices: tuple[e.DeviceStateChange, ...] = ()
    since: float | None = None


def on_resync(s: CallState, ev: Resync, at: float, out: Effects) -> None:
    live = {c.channel.uniqueid: c for c in ev.channels}
    ended_at = ev.since if ev.since is not None else at
    # 1. Channels that vanished while we were away.
    stopped_rings: list[tuple[Call, Ring]] = []
    for uniqueid in [u for u in s.channels if u not in live]:
        channel = s.channels.pop(uniqueid)
        call = s.calls.get(channel.linkedid)
        if call is None:
            continue
        call.channels.pop(uniqueid, None)
        ring = call.rings.get(uniqueid)
        if ring is not None:
            stopped_rings.append((call, ring))
        if channel.leg == call.customer_leg and call.customer_gone_at is None:
            call.customer_gone_at = ended_at
            if call.phase is CallPhase.CONNECTED and call.talk_end is None:
                call.talk_end = ended_at
    for call, ring in stopped_rings:
        # The agent's phone stopped ringing meanwhile: it must not look ringing now.
        if call.linkedid in s.calls:
            end_ring(s, call, ring, ring_end_reason(call), at, out)
    for call in [c for c in s.calls.values() if not c.channels]:
        s.stats.closed_by_resync += 1
        finish(s, call, max(ended_at, call.started_at), out, outage=True)
    # 2. Channels we did not know: calls that started while we were away.
    origin_first = sorted(ev.channels, key=lambda c: (c.channel.uniqueid != c.channel.linkedid,))
    for item in origin_first:
        snap = item.channel
        seen = s.channels.get(snap.uniqueid)
        if seen is not None:
            update_channel(s, s.calls[seen.linkedid], seen, snap, at, out)
            seen.bridge_id = item.bridge_id or None
            continue
        started = at - item.duration_seconds
        call_existed = snap.linkedid in s.calls
        fresh = new_channel(s, snap, started, out)
        fresh.bridge_id = item.bridge_id or None
        call = s.calls[snap.linkedid]
        if not call_existed:
            call.partial = False
            call.resynced = True
            call.started_at = started
            call.step(at, "resynced", f"{item.application} {item.application_data}".strip())
        call.started_at = min(call.started_at, started)
        if call.queue is None and item.application.lower() == "queue":
            # The caller's channel runs Queue(name,…) while it waits and while it talks.
            call.queue = item.application_data.split(",")[0].strip() or None
    # 3. Queue members first: they tell which channels are agents' (after a restart of
    #    Trubka nothing else does).
    listed = {(m.queue, interface_key(m.interface)) for m in ev.members}
    for agent in list(s.agents.values()):
        for queue_name in list(agent.memberships):
            if (queue_name, agent.key) not in listed:
                agent.memberships.pop(queue_name)
                s.queues.get(queue_name, Queue(queue_name)).members.discard(agent.key)
                out.append(d.QueueChanged(queue_name, at))
    for member in ev.members:
        apply_member(s, member, "listed", at, out)
    for params in ev.params:
        on_queue_params(s, params, at, out)
    # 4. Bridged calls: an agent leg in the same bridge as the customer answered it
    #    (a call that started meanwhile, or one that was answered meanwhile).
    for call in s.calls.values():
        if call.phase is CallPhase.CONNECTED:
            continue
        _resync_answer(s, call, at, out)
    # 5. Waiting callers, device states.
    waiting = {entry.uniqueid for entry in ev.entries}
    for queue in s.queues.values():
        for uniqueid in [u for u in queue.entries if u not in waiting]:
            del queue.entries[uniqueid]
            out.append(d.QueueChanged(queue.name, at))
    for entry in ev.entries:
        on_queue_entry(s, entry, at, out)
    for device in ev.devices:
        on_device_state(s, device, at, out)
    for agent in s.agents.values():
        agent_changed(agent, at, out)


def _resync_answer(s: CallState, call: Call, at: float, out: Effects) -> None:
    customer = [c for c in call.channels.values() if c.leg == call.customer_leg and c.bridge_id]
    for channel in customer:
        for other in call.channels.values():
            if other.leg == channel.leg or other.bridge_id != channel.bridge_id:
                continue
            if is_agent_interface(s, other.interface):
                key = agent_key(s, other.interface)
                call.agent_leg = other.leg
                answered(s, call, key, other.interface, None, call.queue, at, out)
                call.answer_guessed = True
                return
