"""The call-state reducer: ``(state, event) -> (state, effects)``, with no I/O and no clock.

Every AMI event comes in with the moment it was received (`at`, seconds since the
epoch); the reducer updates the live picture (:mod:`telephony.state`) and returns the
domain events (:mod:`telephony.domain`) it implies. It is driven the same way by a
recorded trace, the live socket and the simulated PBX.

How a call is read from AMI (all seen in the real traces):

* Channels are tied into one call by `Linkedid`; the channel whose Uniqueid *is* the
  Linkedid started the call. Both halves of a Local channel (`;1`/`;2`) are one *leg*.
* The call's direction comes from who started it: an external number (or an unknown
  one) calling in is inbound; an agent's interface or an internal extension that dials
  an external number is outbound; anything else is internal.
* Agents ring through a queue (`AgentCalled`) or a direct/routed `Dial` (`DialBegin` to
  an internal interface); the first `AgentConnect` or `DialEnd ANSWER` answers the call.
* `QueueCallerLeave` comes before `AgentConnect`: leaving a queue is not abandoning. An
  abandon is `QueueCallerAbandon` then `QueueCallerLeave`.
* The call ends when its last channel hangs up; its record is then emitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kernel.agents import AgentState, interface_key
from kernel.phones import digits_of, is_anonymous, normalize
from telephony import domain as d
from telephony import events as e
from telephony.records import CallRecord, CallStep, Direction, Disposition
from telephony.state import (
    Agent,
    Call,
    Channel,
    Membership,
    Queue,
    QueueCaller,
    Ring,
    interface_of,
    leg_of,
)

log = logging.getLogger(__name__)

Effects = list[d.DomainEvent]

_QUEUE_NO_ANSWER = frozenset(
    {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"}
)
_DIAL_FAILED = frozenset({"CHANUNAVAIL", "CONGESTION", "INVALIDARGS"})
_BUSY_DEVICE = frozenset({"INUSE", "BUSY", "ONHOLD", "RINGINUSE"})


@dataclass(frozen=True, slots=True)
class ReducerConfig:
    region: str = "RU"
    internal_max_digits: int = 5  # extensions have at most this many digits


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


@dataclass(slots=True)
class ReducerStats:
    events: int = 0
    unknown_channel: int = 0
    ignored: int = 0
    calls_finished: int = 0
    closed_by_resync: int = 0


@dataclass(slots=True)
class CallState:
    """The live picture of calls, queues and agents."""

    config: ReducerConfig = field(default_factory=ReducerConfig)
    calls: dict[str, Call] = field(default_factory=dict)  # by linkedid
    channels: dict[str, Channel] = field(default_factory=dict)  # by uniqueid
    queues: dict[str, Queue] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)  # by interface key
    aliases: dict[str, str] = field(default_factory=dict)  # state interface → agent key
    known_agents: set[str] = field(default_factory=set)  # interface keys from the CRM
    stats: ReducerStats = field(default_factory=ReducerStats)

    # --- queries -------------------------------------------------------------------
    def agent_for(self, interface: str) -> Agent | None:
        key = interface_key(interface)
        key = self.aliases.get(key, key)
        return self.agents.get(key)

    def agent_state(self, interface: str, now: float) -> AgentState:
        agent = self.agent_for(interface)
        return agent.derive_state(now) if agent else AgentState.LOGGED_OUT

    def call_of_agent(self, interface: str) -> Call | None:
        agent = self.agent_for(interface)
        if agent is None:
            return None
        for linkedid in (*agent.calls, *agent.ringing):
            call = self.calls.get(linkedid)
            if call is not None:
                return call
        return None


def reduce(state: CallState, event: e.AmiEvent | Resync, at: float) -> tuple[CallState, Effects]:
    """Apply one event. The state object is updated in place and returned."""
    return state, Reducer(state).apply(event, at)


class Reducer:
    """The transition functions. Stateless besides the :class:`CallState` it updates."""

    __slots__ = ("s",)

    def __init__(self, state: CallState) -> None:
        self.s = state

    def apply(self, event: e.AmiEvent | Resync, at: float) -> Effects:
        self.s.stats.events += 1
        handler = _HANDLERS.get(type(event))
        if handler is None:
            self.s.stats.ignored += 1
            return []
        out: Effects = []
        handler(self, event, at, out)
        return out

    # --- helpers ---------------------------------------------------------------------
    def _internal_number(self, number: str | None) -> bool:
        if number is None or is_anonymous(number):
            return False
        digits = digits_of(number)
        return 0 < len(digits) <= self.s.config.internal_max_digits and len(digits) == len(
            number.strip()
        )

    def _external_number(self, number: str | None) -> bool:
        if number is None or is_anonymous(number):
            return False
        return len(digits_of(number)) > self.s.config.internal_max_digits

    def _is_agent_interface(self, interface: str) -> bool:
        key = interface_key(interface)
        return key in self.s.agents or key in self.s.aliases or key in self.s.known_agents

    def _agent_key(self, interface: str) -> str:
        key = interface_key(interface)
        return self.s.aliases.get(key, key)

    def _agent(self, key: str) -> Agent:
        agent = self.s.agents.get(key)
        if agent is None:
            agent = self.s.agents[key] = Agent(key=key)
        return agent

    def _number(self, raw: str | None) -> str | None:
        return normalize(raw, self.s.config.region) if raw else None

    def _leg_channels(self, call: Call, leg: str) -> list[Channel]:
        return [c for c in call.channels.values() if c.leg == leg]

    def _leg_is_internal(self, call: Call, leg: str) -> bool:
        """An agent's device or an extension (a short caller number) is on this leg."""
        interface = interface_of(leg + ";1") if leg.startswith("Local/") else interface_of(leg)
        if self._is_agent_interface(interface):
            return True
        channels = self._leg_channels(call, leg)
        numbers = [c.caller_num for c in channels if c.caller_num]
        if leg == call.customer_leg and call.caller_num:
            numbers.append(call.caller_num)
        return bool(numbers) and all(self._internal_number(n) for n in numbers)

    def _direction(self, call: Call) -> Direction:
        if call.outbound_number and call.customer_leg == call.outbound_leg:
            return Direction.OUTBOUND
        if self._internal_number(call.caller_num):
            return Direction.INTERNAL
        return Direction.INBOUND

    def _agent_changed(self, agent: Agent, at: float, out: Effects) -> None:
        new = agent.derive_state(at)
        if new != agent.state:
            previous = agent.state
            agent.state = new
            agent.state_since = at
            out.append(
                d.AgentStateChanged(agent.key, at, new.value, previous.value, agent.paused_reason)
            )

    def _caller(self, call: Call) -> tuple[str | None, str | None]:
        """The customer's number and name: the dialed number on an outbound call."""
        if call.outbound_number and call.customer_leg == call.outbound_leg:
            return self._number(call.outbound_number), None
        return self._number(call.caller_num), call.caller_name

    # --- channels --------------------------------------------------------------------
    def _new_channel(self, snap: e.ChannelSnapshot, at: float, out: Effects) -> Channel:
        s = self.s
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
            if not call.partial:
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
        self._update_channel(call, channel, snap, at, out)
        return channel

    def _known(self, snap: e.ChannelSnapshot) -> tuple[Call, Channel] | None:
        channel = self.s.channels.get(snap.uniqueid)
        if channel is None:
            self.s.stats.unknown_channel += 1
            return None
        call = self.s.calls.get(channel.linkedid)
        if call is None:  # pragma: no cover - channels and calls are kept together
            self.s.stats.unknown_channel += 1
            return None
        return call, channel

    def _update_channel(
        self, call: Call, channel: Channel, snap: e.ChannelSnapshot, at: float, out: Effects
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
            self._learn_caller(call, snap.caller_num, snap.caller_name, at, out)

    def _learn_caller(
        self, call: Call, number: str | None, name: str | None, at: float, out: Effects
    ) -> None:
        changed = False
        if number and number != call.caller_num:
            call.caller_num = number
            changed = True
        if name and name != call.caller_name:
            call.caller_name = name
            changed = True
        if changed and not call.partial:
            num, cname = self._caller(call)
            out.append(d.CallerIdentified(call.linkedid, at, num, cname))

    def on_new_channel(self, ev: e.NewChannel, at: float, out: Effects) -> None:
        self._new_channel(ev.channel, at, out)

    def on_channel_update(self, ev: e.NewState | e.NewCallerId, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known:
            self._update_channel(*known, ev.channel, at, out)

    def on_rename(self, ev: e.Rename, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known:
            channel = known[1]
            channel.name = ev.new_name
            channel.interface = interface_of(ev.new_name)

    def on_local_bridge(self, ev: e.LocalBridge, at: float, out: Effects) -> None:
        for snap in (ev.one, ev.two):
            known = self._known(snap)
            if known:
                self._update_channel(*known, snap, at, out)

    def on_hangup(self, ev: e.Hangup, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call, channel = known
        self._update_channel(call, channel, ev.channel, at, out)
        del self.s.channels[channel.uniqueid]
        del call.channels[channel.uniqueid]
        if channel.leg == call.customer_leg:
            if call.customer_gone_at is None:
                call.customer_gone_at = at
            if call.answered_at is not None and call.talk_end is None:
                call.talk_end = at
        elif (
            channel.leg == call.agent_leg and call.answered_at is not None and call.talk_end is None
        ):
            call.talk_end = at  # the agent hung up first
        ring = call.rings.get(channel.uniqueid)
        if ring is not None:
            self._end_ring(call, ring, self._ring_end_reason(call), at, out)
        if not any(c.leg == channel.leg for c in call.channels.values()):
            self._leg_gone(call, channel.leg, at, out)
        if not call.channels:
            self._finish(call, at, out)

    def _agents_of(self, call: Call) -> Iterable[Agent]:
        """The agents that may hold this call (ringing or on it), in `agents` order.

        Only the agents the call names can: its first agent, the one connected, the ones
        rung and the ones it talked to. With one of them (the usual case) that agent alone
        is looked at; otherwise all, so that the order of the effects stays the same.
        """
        keys = {ring.agent for ring in call.rings.values()}
        keys.update(self._agent_key(interface) for interface in call.agents)
        for key in (call.agent, call.connected_agent):
            if key is not None:
                keys.add(key)
        if len(keys) == 1:
            agent = self.s.agents.get(next(iter(keys)))
            return () if agent is None else (agent,)
        if not keys:
            return ()
        return list(self.s.agents.values())

    def _leg_gone(self, call: Call, leg: str, at: float, out: Effects) -> None:
        """A leg hung up entirely: an agent on it is no longer on this call."""
        for agent in self._agents_of(call):
            if call.linkedid in agent.calls and _agent_leg_matches(call, agent.key, leg):
                agent.calls.discard(call.linkedid)
                self._agent_changed(agent, at, out)
        if call.connected_agent and leg == call.agent_leg:
            call.connected_agent = None

    # --- dialing ---------------------------------------------------------------------
    def on_dial_begin(self, ev: e.DialBegin, at: float, out: Effects) -> None:
        if ev.caller is None:
            return  # the dial an Originate makes to its first channel
        known = self._known(ev.caller)
        if known is None:
            return
        call, caller = known
        dest = self._new_channel(ev.dest, at, out)
        if dest.uniqueid in call.rings:
            return
        call.dialed_anyone = True
        dest_interface = _dialed_interface(ev.dial_string, dest.interface)
        target_number = _dial_number(ev.dial_string, ev.dest.exten, caller.exten)
        if self._is_agent_interface(dest_interface) or (
            not self._external_number(target_number) and self._internal_number(target_number)
        ):
            key = self._agent_key(dest_interface)
            agent = self.s.agents.get(key)
            ring = Ring(key, dest_interface, agent.name if agent else None, dest.uniqueid, None, at)
            call.step(at, "dial", f"{dest_interface}")
            self._start_ring(call, ring, at, out)
            return
        number = target_number if self._external_number(target_number) else None
        if number and self._leg_is_internal(call, caller.leg):
            # An agent or extension dials out: the dialed leg is the customer.
            call.outbound_number = number
            call.outbound_leg = dest.leg
            call.customer_leg = dest.leg
            call.caller_num = caller.caller_num
            call.caller_name = caller.caller_name
            call.agent_leg = caller.leg
            call.step(at, "dial", number)

    def on_dial_end(self, ev: e.DialEnd, at: float, out: Effects) -> None:
        if ev.caller is None:
            return
        known = self._known(ev.caller)
        if known is None:
            return
        call, caller = known
        status = ev.status.upper()
        ring = call.rings.get(ev.dest.uniqueid)
        if status == "ANSWER":
            if ring is not None:
                self._answered(
                    call, ring.agent, ring.interface, ring.agent_name, ring.queue, at, out
                )
                dest = self.s.channels.get(ev.dest.uniqueid)
                call.agent_leg = dest.leg if dest else call.agent_leg
            elif call.outbound_leg is not None and leg_of(ev.dest.name) == call.outbound_leg:
                interface = interface_of(caller.name)
                key = self._agent_key(interface)
                agent = self.s.agents.get(key)
                name = (agent.name if agent else None) or caller.caller_name
                self._answered(call, key, interface, name, None, at, out)
            call.last_dial_status = status
            return
        if status in ("RINGING", "PROCEEDING", "PROGRESS"):
            return
        if ring is not None:
            reason = "no_answer" if status == "NOANSWER" else self._ring_end_reason(call)
            self._end_ring(call, ring, reason, at, out)
        if call.answered_at is None or ring is None:
            call.last_dial_status = status
        if ring is not None and ring.queue is None and call.route_agent:
            call.step(at, "routed-not-answered", f"{ring.interface}: {status}")

    def _ring_end_reason(self, call: Call) -> str:
        if call.answered_at is not None:
            return "answered_elsewhere"
        if call.customer_gone_at is not None or not any(
            c.leg == call.customer_leg for c in call.channels.values()
        ):
            return "caller_hung_up"
        return "no_answer"

    def _start_ring(self, call: Call, ring: Ring, at: float, out: Effects) -> None:
        call.rings[ring.dest_uniqueid] = ring
        agent = self._agent(ring.agent)
        if ring.agent_name and not agent.name:
            agent.name = ring.agent_name
        agent.ringing.add(call.linkedid)
        num, name = self._caller(call)
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
                self._direction(call).value,
            )
        )
        self._agent_changed(agent, at, out)

    def _end_ring(self, call: Call, ring: Ring, reason: str, at: float, out: Effects) -> None:
        call.rings.pop(ring.dest_uniqueid, None)
        agent = self.s.agents.get(ring.agent)
        still_ringing = any(r.agent == ring.agent for r in call.rings.values())
        if agent is not None and not still_ringing:
            agent.ringing.discard(call.linkedid)
        if reason != "answered" and not still_ringing:
            out.append(d.AgentRingEnded(call.linkedid, at, ring.agent, reason))
        if agent is not None:
            self._agent_changed(agent, at, out)

    def _answered(
        self,
        call: Call,
        agent_key: str,
        interface: str,
        agent_name: str | None,
        queue: str | None,
        at: float,
        out: Effects,
    ) -> None:
        if call.connected_agent == agent_key:
            return
        for ring in list(call.rings.values()):
            if ring.agent == agent_key:
                self._end_ring(call, ring, "answered", at, out)
        for ring in list(call.rings.values()):
            self._end_ring(call, ring, "answered_elsewhere", at, out)
        agent = self._agent(agent_key)
        if agent_name and not agent.name:
            agent.name = agent_name
        previous = call.connected_agent or call.last_agent
        call.connected_agent = call.last_agent = agent_key
        if interface not in call.agents:
            call.agents.append(interface)
        if call.answered_at is None:
            call.answered_at = at
            call.agent = agent_key
            call.agent_interface = interface
            call.agent_name = agent_name or agent.name
            call.step(
                at, "answered", f"{call.agent_name or interface}" + (f" ({queue})" if queue else "")
            )
            num, name = self._caller(call)
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
            old = self.s.agents.get(source) if source is not None else None
            if old is not None:
                old.calls.discard(call.linkedid)
                self._agent_changed(old, at, out)
        agent.calls.add(call.linkedid)
        self._agent_changed(agent, at, out)

    # --- bridges and transfers -------------------------------------------------------
    def on_bridge_enter(self, ev: e.BridgeEnter, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known:
            known[1].bridge_id = ev.bridge_id
            self._update_channel(*known, ev.channel, at, out)

    def on_bridge_leave(self, ev: e.BridgeLeave, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known:
            known[1].bridge_id = None

    def on_blind_transfer(self, ev: e.BlindTransfer, at: float, out: Effects) -> None:
        snap = ev.transferee or ev.transferer
        if snap is None:
            return
        known = self._known(snap)
        if known:
            known[0].step(at, "blind-transfer", f"{ev.extension}@{ev.context} {ev.result}")

    def on_attended_transfer(self, ev: e.AttendedTransfer, at: float, out: Effects) -> None:
        snap = ev.transferer or ev.target
        if snap is None:
            return
        known = self._known(snap)
        if known:
            known[0].step(at, "attended-transfer", f"{ev.dest_type} {ev.result}")

    # --- queues ----------------------------------------------------------------------
    def _queue(self, name: str) -> Queue:
        queue = self.s.queues.get(name)
        if queue is None:
            queue = self.s.queues[name] = Queue(name=name)
        return queue

    def on_queue_join(self, ev: e.QueueCallerJoin, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call, channel = known
        call.customer_leg = channel.leg
        self._update_channel(call, channel, ev.channel, at, out)
        if call.route_agent and call.queue is None and call.dialed_anyone:
            call.step(at, "routed-fallback", f"{call.route_agent} → queue {ev.queue}")
        call.queue = ev.queue
        call.queued_at = at
        queue = self._queue(ev.queue)
        queue.entries[channel.uniqueid] = QueueCaller(
            call.linkedid, channel.uniqueid, call.caller_num, call.caller_name, at
        )
        call.step(at, "queued", ev.queue)
        num, name = self._caller(call)
        out.append(d.CallQueued(call.linkedid, at, ev.queue, len(queue.entries), num, name))
        out.append(d.QueueChanged(ev.queue, at))

    def on_queue_leave(self, ev: e.QueueCallerLeave, at: float, out: Effects) -> None:
        queue = self._queue(ev.queue)
        entry = queue.entries.pop(ev.channel.uniqueid, None)
        known = self._known(ev.channel)
        if known is None:
            if entry is not None:
                out.append(d.QueueChanged(ev.queue, at))
            return
        call = known[0]
        call.queue_left_at = at
        if call.answered_at is not None or (call.rings and _any_answered_dial(call)):
            reason = "answered"
        elif call.abandoned:
            reason = "abandoned"
        else:
            reason = "left"
        out.append(d.CallLeftQueue(call.linkedid, at, ev.queue, reason))
        out.append(d.QueueChanged(ev.queue, at))

    def on_queue_abandon(self, ev: e.QueueCallerAbandon, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call = known[0]
        call.abandoned = True
        call.queue_hold = ev.hold_time
        call.step(at, "abandoned", f"{ev.queue} after {ev.hold_time}s")

    def on_agent_called(self, ev: e.AgentCalled, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call = known[0]
        if ev.dest is not None:
            self._new_channel(ev.dest, at, out)
        dest_uniqueid = ev.dest.uniqueid if ev.dest else f"{ev.interface}#{call.linkedid}"
        if dest_uniqueid in call.rings:
            return
        key = self._agent_key(ev.interface)
        ring = Ring(key, ev.interface, ev.member_name or None, dest_uniqueid, ev.queue, at)
        call.step(at, "ringing", f"{ev.member_name or ev.interface} ({ev.queue})")
        self._start_ring(call, ring, at, out)

    def on_agent_connect(self, ev: e.AgentConnect, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call = known[0]
        call.queue_hold = ev.hold_time
        key = self._agent_key(ev.interface)
        if (
            call.connected_agent == key
            and call.agent_interface != ev.interface
            and call.agent == key
        ):
            call.agent_interface = ev.interface
            call.agents = [
                ev.interface if a == interface_key(ev.interface) else a for a in call.agents
            ]
        self._answered(call, key, ev.interface, ev.member_name or None, ev.queue, at, out)
        if call.agent == key:
            call.agent_interface = ev.interface
            call.agent_name = ev.member_name or call.agent_name
        if ev.dest is not None:
            call.agent_leg = leg_of(ev.dest.name)

    def on_agent_complete(self, ev: e.AgentComplete, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        call = known[0] if known else None
        if call is not None:
            call.queue_talk = ev.talk_time
            call.step(
                at,
                "completed",
                f"{ev.member_name or ev.interface}: talk {ev.talk_time}s, {ev.reason}",
            )
        agent = self.s.agents.get(self._agent_key(ev.interface))
        if agent is not None:
            membership = agent.memberships.get(ev.queue)
            if membership is not None and membership.wrapup_time > 0:
                agent.wrapup_until = at + membership.wrapup_time
            if call is not None:
                agent.calls.discard(call.linkedid)
            self._agent_changed(agent, at, out)

    def on_agent_no_answer(
        self, ev: e.AgentRingNoAnswer | e.AgentDump, at: float, out: Effects
    ) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call = known[0]
        key = self._agent_key(ev.interface)
        for ring in list(call.rings.values()):
            if ring.agent == key:
                self._end_ring(call, ring, "no_answer", at, out)
        call.step(at, "no-answer", ev.member_name or ev.interface)

    # --- members and devices ---------------------------------------------------------
    def on_member(self, ev: e.QueueMemberChanged, at: float, out: Effects) -> None:
        self._apply_member(ev.member, ev.kind, at, out)

    def _apply_member(self, m: e.QueueMemberInfo, kind: str, at: float, out: Effects) -> None:
        key = interface_key(m.interface)
        state_key = interface_key(m.state_interface)
        if state_key != key:
            self.s.aliases[state_key] = key
        agent = self._agent(key)
        if m.name and m.name != m.interface:
            agent.name = m.name
        queue = self._queue(m.queue)
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
            )
            queue.members.add(key)
            if old is None or old.paused != m.paused or old.paused_reason != m.paused_reason:
                out.append(d.QueueChanged(m.queue, at))
        if kind in ("added", "removed"):
            out.append(d.QueueChanged(m.queue, at))
        self._agent_changed(agent, at, out)
        if (
            kind == "pause"
            and agent.state == AgentState.PAUSED
            # a new pause reason keeps the state, but readers need the reason
            and not any(isinstance(x, d.AgentStateChanged) and x.agent == key for x in out)
        ):
            out.append(
                d.AgentStateChanged(
                    key, at, agent.state.value, agent.state.value, agent.paused_reason
                )
            )

    def on_device_state(self, ev: e.DeviceStateChange, at: float, out: Effects) -> None:
        if ev.device.startswith("Queue:"):
            return
        key = self._agent_key(ev.device)
        agent = self.s.agents.get(key)
        if agent is None:
            if key not in self.s.known_agents:
                return
            agent = self._agent(key)
        agent.device_state = ev.state
        self._agent_changed(agent, at, out)

    def on_queue_params(self, ev: e.QueueParams, at: float, out: Effects) -> None:
        queue = self._queue(ev.queue)
        queue.strategy = ev.strategy
        queue.service_level = ev.service_level

    def on_queue_entry(self, ev: e.QueueEntry, at: float, out: Effects) -> None:
        queue = self._queue(ev.queue)
        channel = self.s.channels.get(ev.uniqueid)
        linkedid = channel.linkedid if channel else ev.uniqueid
        if ev.uniqueid not in queue.entries:
            queue.entries[ev.uniqueid] = QueueCaller(
                linkedid, ev.uniqueid, ev.caller_num, ev.caller_name, at - ev.wait
            )
            call = self.s.calls.get(linkedid)
            if call is not None and call.queue is None:
                call.queue = ev.queue
                call.queued_at = at - ev.wait
                call.customer_leg = channel.leg if channel else call.customer_leg
            out.append(d.QueueChanged(ev.queue, at))

    # --- variables and recordings ----------------------------------------------------
    def on_varset(self, ev: e.VarSet, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call = known[0]
        value = ev.value.strip()
        var = ev.variable
        if var == "MIXMONITOR_FILENAME" and value:
            call.recording_file = value
        elif var == "ROUTE_AGENT":
            if call.routed_by is not None and call.routing_reason is not None:
                # Trubka's decision (ROUTE_BY and ROUTE_REASON come first): in the timeline.
                call.step(at, "routing-decision", f"{call.routed_by}: {call.routing_reason}")
            if value:
                call.route_agent = value
                call.step(at, "routed", value)
                out.append(
                    d.CallRouted(call.linkedid, at, value, call.routed_by, call.routing_reason)
                )
        elif var == "ROUTE_REASON" and value:
            call.routing_reason = value
        elif var == "ROUTE_BY" and value:
            call.routed_by = value
        elif var == "TRUBKA_CONTACT_ID" and value.isdigit():
            call.contact_id = int(value)
        elif var == "QUEUESTATUS" and value:
            call.queue_status = value

    def on_mixmonitor_start(self, ev: e.MixMonitorStart, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call = known[0]
        call.recording_active = True
        call.step(at, "recording-started", call.recording_file or "")
        if call.recording_file:
            out.append(d.RecordingStarted(call.linkedid, at, call.recording_file))

    def on_mixmonitor_stop(self, ev: e.MixMonitorStop, at: float, out: Effects) -> None:
        known = self._known(ev.channel)
        if known is None:
            return
        call = known[0]
        call.recording_active = False
        call.step(at, "recording-stopped", call.recording_file or "")
        if call.recording_file:
            out.append(d.RecordingStopped(call.linkedid, at, call.recording_file))

    def on_ignore(self, ev: Any, at: float, out: Effects) -> None:
        self.s.stats.ignored += 1

    # --- the end of a call -----------------------------------------------------------
    def _finish(self, call: Call, at: float, out: Effects, *, outage: bool = False) -> None:
        del self.s.calls[call.linkedid]
        # A waiting caller is an entry of the call's queue (leaving a queue removes it).
        queues: Iterable[Queue] = self.s.queues.values()
        if call.queue is not None and call.queue in self.s.queues:
            queues = (self.s.queues[call.queue],)
        for queue in queues:
            for uniqueid, entry in list(queue.entries.items()):
                if entry.linkedid == call.linkedid:
                    del queue.entries[uniqueid]
                    out.append(d.QueueChanged(queue.name, at))
        for agent in self._agents_of(call):
            if call.linkedid in agent.calls or call.linkedid in agent.ringing:
                agent.calls.discard(call.linkedid)
                agent.ringing.discard(call.linkedid)
                self._agent_changed(agent, at, out)
        for ring in list(call.rings.values()):
            out.append(d.AgentRingEnded(call.linkedid, at, ring.agent, self._ring_end_reason(call)))
        call.rings.clear()
        if call.partial:
            return
        record = self._record(call, at, outage)
        self.s.stats.calls_finished += 1
        if call.recording_file and call.recording_active:
            out.append(d.RecordingStopped(call.linkedid, at, call.recording_file))
        out.append(d.CallEnded(record))

    def _disposition(self, call: Call, direction: Direction) -> Disposition:
        if call.answered_at is not None:
            return Disposition.ANSWERED
        if not call.any_up and not call.dialed_anyone and call.queue is None:
            return Disposition.FAILED
        status = call.last_dial_status
        if direction is Direction.INBOUND:
            if call.abandoned:
                return Disposition.ABANDONED
            if call.queue is not None:
                if call.queue_status in _QUEUE_NO_ANSWER:
                    return Disposition.NO_ANSWER
                return Disposition.ABANDONED
            if status == "BUSY":
                return Disposition.BUSY
            if status == "NOANSWER":
                return Disposition.NO_ANSWER
            if status in _DIAL_FAILED:
                return Disposition.FAILED
            return Disposition.ABANDONED
        if status == "BUSY":
            return Disposition.BUSY
        if status in _DIAL_FAILED:
            return Disposition.FAILED
        return Disposition.NO_ANSWER

    def _record(self, call: Call, at: float, outage: bool) -> CallRecord:
        direction = self._direction(call)
        disposition = self._disposition(call, direction)
        region = self.s.config.region
        if direction is Direction.OUTBOUND:
            caller_number = normalize(call.caller_num, region)
            called_number = normalize(call.outbound_number, region)
        else:
            caller_number = normalize(call.caller_num, region)
            called_number = normalize(call.dialed_exten, region) if call.dialed_exten else None
        end_of_wait = call.answered_at if call.answered_at is not None else at
        talk_end = call.talk_end if call.talk_end is not None else at
        routed_by = call.routed_by
        if routed_by is None:
            if call.route_agent:
                routed_by = "agi"
            elif call.queue is not None:
                routed_by = "queue"
        steps = list(call.steps)
        if outage:
            steps.append(CallStep(at, "ended-during-outage", "closed when AMI came back"))
        steps.append(CallStep(at, "ended", disposition.value))
        return CallRecord(
            linkedid=call.linkedid,
            direction=direction,
            caller_number=caller_number,
            caller_name=call.caller_name,
            called_number=called_number,
            queue=call.queue,
            agent_interface=call.agent_interface,
            agent_name=call.agent_name,
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=at,
            wait_seconds=max(0.0, end_of_wait - call.started_at),
            talk_seconds=max(0.0, talk_end - call.answered_at)
            if call.answered_at is not None
            else 0.0,
            disposition=disposition,
            routed_by=routed_by,
            routing_reason=call.routing_reason,
            routed_agent=call.route_agent,
            recording_file=call.recording_file,
            queue_hold_seconds=call.queue_hold,
            queue_talk_seconds=call.queue_talk,
            agents=tuple(call.agents),
            contact_id=call.contact_id,
            ended_during_outage=outage,
            timeline=tuple(steps),
        )

    # --- resynchronisation -----------------------------------------------------------
    def on_resync(self, ev: Resync, at: float, out: Effects) -> None:
        s = self.s
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
                if call.answered_at is not None and call.talk_end is None:
                    call.talk_end = ended_at
        for call, ring in stopped_rings:
            # The agent's phone stopped ringing meanwhile: it must not look ringing now.
            if call.linkedid in s.calls:
                self._end_ring(call, ring, self._ring_end_reason(call), at, out)
        for call in [c for c in s.calls.values() if not c.channels]:
            s.stats.closed_by_resync += 1
            self._finish(call, max(ended_at, call.started_at), out, outage=True)
        # 2. Channels we did not know: calls that started while we were away.
        origin_first = sorted(
            ev.channels, key=lambda c: (c.channel.uniqueid != c.channel.linkedid,)
        )
        for item in origin_first:
            snap = item.channel
            if snap.uniqueid in s.channels:
                self._update_channel(
                    s.calls[s.channels[snap.uniqueid].linkedid],
                    s.channels[snap.uniqueid],
                    snap,
                    at,
                    out,
                )
                s.channels[snap.uniqueid].bridge_id = item.bridge_id or None
                continue
            started = at - item.duration_seconds
            call_existed = snap.linkedid in s.calls
            fresh = self._new_channel(snap, started, out)
            if fresh is None:
                continue
            fresh.bridge_id = item.bridge_id or None
            call = s.calls[snap.linkedid]
            if not call_existed:
                call.partial = False
                call.resynced = True
                call.started_at = started
                call.step(at, "resynced", f"{item.application} {item.application_data}".strip())
            call.started_at = min(call.started_at, started)
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
            self._apply_member(member, "listed", at, out)
        for params in ev.params:
            self.on_queue_params(params, at, out)
        # 4. Bridged calls: an agent leg in the same bridge as the customer answered it
        #    (a call that started meanwhile, or one that was answered meanwhile).
        for call in s.calls.values():
            if call.answered_at is not None:
                continue
            self._resync_answer(call, at, out)
        # 5. Waiting callers, device states.
        waiting = {entry.uniqueid for entry in ev.entries}
        for queue in s.queues.values():
            for uniqueid in [u for u in queue.entries if u not in waiting]:
                del queue.entries[uniqueid]
                out.append(d.QueueChanged(queue.name, at))
        for entry in ev.entries:
            self.on_queue_entry(entry, at, out)
        for device in ev.devices:
            self.on_device_state(device, at, out)
        for agent in s.agents.values():
            self._agent_changed(agent, at, out)

    def _resync_answer(self, call: Call, at: float, out: Effects) -> None:
        customer = [c for c in call.channels.values() if c.leg == call.customer_leg and c.bridge_id]
        for channel in customer:
            for other in call.channels.values():
                if other.leg == channel.leg or other.bridge_id != channel.bridge_id:
                    continue
                if self._is_agent_interface(other.interface):
                    key = self._agent_key(other.interface)
                    call.agent_leg = other.leg
                    self._answered(call, key, other.interface, None, call.queue, at, out)
                    return


def _agent_leg_matches(call: Call, agent_key: str, leg: str) -> bool:
    return (
        call.agent_leg == leg
        or interface_key(interface_of(leg + ";1")) == agent_key
        or (interface_of(leg) == agent_key)
    )


def _any_answered_dial(call: Call) -> bool:
    return call.last_dial_status == "ANSWER"


def _dialed_interface(dial_string: str, channel_interface: str) -> str:
    """The interface a Dial targeted (`Local/102@agents/n`), else the dialed channel's."""
    target = dial_string.split("&")[0].strip()
    if "/" in target and not target.startswith(tuple(str(i) for i in range(10))):
        tech, _, rest = target.partition("/")
        if tech and rest and tech[0].isalpha():
            return interface_key(target.split(",")[0])
    return channel_interface


def _dial_number(dial_string: str, dest_exten: str, caller_exten: str) -> str | None:
    """The number a Dial targeted: the longest digit run in the dial string, else an exten."""
    best = ""
    run = ""
    for char in dial_string + " ":
        if char.isdigit() or (char == "+" and not run):
            run += char
        else:
            if len(digits_of(run)) > len(digits_of(best)):
                best = run
            run = ""
    if best:
        return best
    for exten in (dest_exten, caller_exten):
        if exten and digits_of(exten) == exten.lstrip("+"):
            return exten
    return None


def iter_effects(state: CallState, events: Iterable[tuple[e.AmiEvent | Resync, float]]) -> Effects:
    reducer = Reducer(state)
    out: Effects = []
    for event, at in events:
        out.extend(reducer.apply(event, at))
    return out


_Handler = Callable[[Reducer, Any, float, Effects], None]
_HANDLERS: dict[type, _Handler] = {
    e.NewChannel: Reducer.on_new_channel,
    e.NewState: Reducer.on_channel_update,
    e.NewCallerId: Reducer.on_channel_update,
    e.Rename: Reducer.on_rename,
    e.LocalBridge: Reducer.on_local_bridge,
    e.Hangup: Reducer.on_hangup,
    e.DialBegin: Reducer.on_dial_begin,
    e.DialEnd: Reducer.on_dial_end,
    e.BridgeEnter: Reducer.on_bridge_enter,
    e.BridgeLeave: Reducer.on_bridge_leave,
    e.BlindTransfer: Reducer.on_blind_transfer,
    e.AttendedTransfer: Reducer.on_attended_transfer,
    e.QueueCallerJoin: Reducer.on_queue_join,
    e.QueueCallerLeave: Reducer.on_queue_leave,
    e.QueueCallerAbandon: Reducer.on_queue_abandon,
    e.AgentCalled: Reducer.on_agent_called,
    e.AgentConnect: Reducer.on_agent_connect,
    e.AgentComplete: Reducer.on_agent_complete,
    e.AgentRingNoAnswer: Reducer.on_agent_no_answer,
    e.AgentDump: Reducer.on_agent_no_answer,
    e.QueueMemberChanged: Reducer.on_member,
    e.QueueParams: Reducer.on_queue_params,
    e.QueueEntry: Reducer.on_queue_entry,
    e.DeviceStateChange: Reducer.on_device_state,
    e.VarSet: Reducer.on_varset,
    e.MixMonitorStart: Reducer.on_mixmonitor_start,
    e.MixMonitorStop: Reducer.on_mixmonitor_stop,
    Resync: Reducer.on_resync,
}
