"""Channels, the calls they make up, and the end of a call when its last channel goes.

Channels are tied into one call by `Linkedid`; the channel whose Uniqueid *is* the
Linkedid started the call. Both halves of a Local channel (`;1`/`;2`) are one *leg*.
The call ends when its last channel hangs up; its record is then emitted.
"""

from __future__ import annotations

from collections.abc import Iterable

from telephony import domain as d
from telephony import events as e
from telephony.reducer.agents import agent_changed, agent_on_leg, agents_of, other_names
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.numbers import customer_of
from telephony.reducer.records import build_record
from telephony.reducer.rings import end_ring, ring_end_reason
from telephony.state import Call, CallPhase, Channel, Queue, interface_of, is_spy_id, leg_of


def new_channel(s: CallState, snap: e.ChannelSnapshot, at: float, out: Effects) -> Channel:
    """The channel, added (with its call when it is the first) unless already known."""
    existing = s.channels.get(snap.uniqueid)
    if existing is not None:
        return existing
    call = s.calls.get(snap.linkedid)
    leg = leg_of(snap.name)
    if call is None:
        call = Call(
            linkedid=snap.linkedid,
            started_at=at,
            origin_uniqueid=snap.linkedid,
            origin_leg=leg,
            partial=snap.uniqueid != snap.linkedid,
        )
        s.calls[snap.linkedid] = call
        call.customer_leg = leg
        call.dialed_exten = snap.exten or None
        call.spy = is_spy_id(snap.linkedid)
        if not call.partial and not call.spy:
            call.step(at, "started", snap.name)
            out.append(d.CallStarted(call.linkedid, at, None, None))
    elif call.partial and snap.uniqueid == snap.linkedid:
        # The first channel's Newchannel came after a sibling's (out of order): we did
        # see the call start after all.
        call.partial = False
        call.origin_leg = call.customer_leg = leg
        call.dialed_exten = snap.exten or call.dialed_exten
        call.step(at, "started", snap.name)
        out.append(d.CallStarted(call.linkedid, at, None, None))
    channel = Channel(
        name=snap.name,
        uniqueid=snap.uniqueid,
        linkedid=snap.linkedid,
        leg=leg,
        interface=interface_of(snap.name),
        state=snap.state,
        caller_num=snap.caller_num,
        caller_name=snap.caller_name,
        context=snap.context,
        exten=snap.exten,
        created_at=at,
    )
    s.channels[snap.uniqueid] = channel
    call.channels[snap.uniqueid] = channel
    update_channel(s, call, channel, snap, at, out)
    return channel


def known(s: CallState, snap: e.ChannelSnapshot) -> tuple[Call, Channel] | None:
    """The call and channel an event names; counted when the channel is unknown."""
    channel = s.channels.get(snap.uniqueid)
    if channel is None:
        s.stats.unknown_channel += 1
        return None
    call = s.calls.get(channel.linkedid)
    if call is None:  # pragma: no cover - channels and calls are kept together
        s.stats.unknown_channel += 1
        return None
    return call, channel


def update_channel(
    s: CallState, call: Call, channel: Channel, snap: e.ChannelSnapshot, at: float, out: Effects
) -> None:
    channel.state = snap.state
    if snap.state == e.ChannelState.UP and channel.up_at is None:
        channel.up_at = at
        call.any_up = True
    if snap.context:
        channel.context = snap.context
        channel.exten = snap.exten
    if snap.caller_num is not None:
        channel.caller_num = snap.caller_num
    if snap.caller_name is not None:
        channel.caller_name = snap.caller_name
    if channel.leg == call.customer_leg:
        _learn_caller(s, call, snap.caller_num, snap.caller_name, at, out)


def _learn_caller(
    s: CallState, call: Call, number: str | None, name: str | None, at: float, out: Effects
) -> None:
    changed = False
    if number and number != call.caller_num:
        call.caller_num = number
        changed = True
    if name and name != call.caller_name:
        call.caller_name = name
        changed = True
    if changed and not call.partial:
        num, cname = customer_of(s.config, call)
        out.append(d.CallerIdentified(call.linkedid, at, num, cname))


# --- channel events ------------------------------------------------------------------
def on_new_channel(s: CallState, ev: e.NewChannel, at: float, out: Effects) -> None:
    new_channel(s, ev.channel, at, out)


def on_channel_update(
    s: CallState, ev: e.NewState | e.NewCallerId, at: float, out: Effects
) -> None:
    found = known(s, ev.channel)
    if found:
        update_channel(s, *found, ev.channel, at, out)


def on_rename(s: CallState, ev: e.Rename, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found:
        channel = found[1]
        channel.name = ev.new_name
        channel.interface = interface_of(ev.new_name)


def on_local_bridge(s: CallState, ev: e.LocalBridge, at: float, out: Effects) -> None:
    for snap in (ev.one, ev.two):
        found = known(s, snap)
        if found:
            update_channel(s, *found, snap, at, out)


def on_hangup_request(s: CallState, ev: e.HangupRequest, at: float, out: Effects) -> None:
    """The caller is leaving before an answer: Asterisk cancels the dials it made (`DialEnd
    CANCEL`) before the caller's `Hangup`, so the rings end because the caller hung up."""
    found = known(s, ev.channel)
    if found is None:
        return
    call, channel = found
    if (
        channel.leg == call.customer_leg
        and call.phase is not CallPhase.CONNECTED
        and call.customer_gone_at is None
    ):
        call.customer_gone_at = at


def on_hangup(s: CallState, ev: e.Hangup, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found is None:
        return
    call, channel = found
    update_channel(s, call, channel, ev.channel, at, out)
    del s.channels[channel.uniqueid]
    del call.channels[channel.uniqueid]
    talking = call.phase is CallPhase.CONNECTED and call.talk_end is None
    if channel.leg == call.customer_leg:
        if call.customer_gone_at is None:
            call.customer_gone_at = at
        if talking:
            call.talk_end = at
    elif channel.leg == call.agent_leg and talking:
        call.talk_end = at  # the agent hung up first
    ring = call.rings.get(channel.uniqueid)
    if ring is not None:
        end_ring(s, call, ring, ring_end_reason(call), at, out)
    if not any(c.leg == channel.leg for c in call.channels.values()):
        _leg_gone(s, call, channel.leg, at, out)
    if not call.channels:
        finish(s, call, at, out)


def _leg_gone(s: CallState, call: Call, leg: str, at: float, out: Effects) -> None:
    """A leg hung up entirely: an agent on it is no longer on this call."""
    for agent in agents_of(s, call):
        if call.linkedid in agent.calls and agent_on_leg(call, agent.key, leg):
            agent.calls.discard(call.linkedid)
            agent_changed(agent, at, out)
    if call.connected_agent and leg == call.agent_leg:
        call.connected_agent = None


# --- bridges and transfers -----------------------------------------------------------
def on_bridge_enter(s: CallState, ev: e.BridgeEnter, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found:
        found[1].bridge_id = ev.bridge_id
        update_channel(s, *found, ev.channel, at, out)


def on_bridge_leave(s: CallState, ev: e.BridgeLeave, at: float, out: Effects) -> None:
    found = known(s, ev.channel)
    if found:
        found[1].bridge_id = None


def on_blind_transfer(s: CallState, ev: e.BlindTransfer, at: float, out: Effects) -> None:
    snap = ev.transferee or ev.transferer
    if snap is None:
        return
    found = known(s, snap)
    if found:
        found[0].step(at, "blind-transfer", f"{ev.extension}@{ev.context} {ev.result}")


def on_attended_transfer(s: CallState, ev: e.AttendedTransfer, at: float, out: Effects) -> None:
    snap = ev.transferer or ev.target
    if snap is None:
        return
    found = known(s, snap)
    if found:
        found[0].step(at, "attended-transfer", f"{ev.dest_type} {ev.result}")


# --- a supervisor spying ------------------------------------------------------------
def on_chanspy_start(s: CallState, ev: e.ChanSpyStart, at: float, out: Effects) -> None:
    """The spyer's call is a spy session, whoever started it (Trubka, FOP2, `*1` codes)."""
    call = s.calls.get(ev.spyer_linkedid)
    if call is None:
        return
    call.spy = True
    first = call.spy_started_at is None or call.spied_linkedid != ev.spyee_linkedid
    call.spied_linkedid = ev.spyee_linkedid
    if call.spy_started_at is None:
        call.spy_started_at = at
    call.step(at, "spy", ev.spyee_channel or "")
    if first and ev.spyee_linkedid:
        phone = interface_of(call.origin_leg) if call.origin_leg else None
        out.append(d.SpySessionStarted(call.origin_uniqueid, phone, ev.spyee_linkedid, at))


# --- the end of a call -----------------------------------------------------------------
def finish(s: CallState, call: Call, at: float, out: Effects, *, outage: bool = False) -> None:
    """The call is over: it leaves the picture and, unless partial, leaves its record."""
    del s.calls[call.linkedid]
    # A waiting caller is an entry of the call's queue (leaving a queue removes it).
    queues: Iterable[Queue] = s.queues.values()
    if call.queue is not None and call.queue in s.queues:
        queues = (s.queues[call.queue],)
    for queue in queues:
        for uniqueid, entry in list(queue.entries.items()):
            if entry.linkedid == call.linkedid:
                del queue.entries[uniqueid]
                out.append(d.QueueChanged(queue.name, at))
    for agent in agents_of(s, call):
        if call.linkedid in agent.calls or call.linkedid in agent.ringing:
            agent.calls.discard(call.linkedid)
            agent.ringing.discard(call.linkedid)
            agent_changed(agent, at, out)
    for ring in list(call.rings.values()):
        out.append(d.AgentRingEnded(call.linkedid, at, ring.agent, ring_end_reason(call)))
    call.rings.clear()
    if call.spy:
        call.phase = CallPhase.ENDED
        out.append(
            d.SpySessionEnded(
                uniqueid=call.origin_uniqueid,
                phone=interface_of(call.origin_leg) if call.origin_leg else None,
                spied_linkedid=call.spied_linkedid,
                started_at=call.started_at,
                listening_from=call.spy_started_at,
                ended_at=at,
            )
        )
        return
    record = None
    if not call.partial:
        aliases = other_names(s, call.agent_interface)
        record = build_record(call, at, s.config, outage=outage, agent_aliases=aliases)
    call.phase = CallPhase.ENDED
    if record is None:
        return
    s.stats.calls_finished += 1
    if call.recording_file and call.recording_active:
        out.append(d.RecordingStopped(call.linkedid, at, call.recording_file))
    out.append(d.CallEnded(record))
