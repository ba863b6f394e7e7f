"""Which rule applies to which event: the :class:`Reducer` and its table of handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from telephony import events as e
from telephony.reducer import channels, dialing, members, queues, variables
from telephony.reducer.call_state import CallState, Effects
from telephony.reducer.resync import Resync, on_resync

# A rule: updates the state for one event and appends the domain events it implies.
_Handler = Callable[[CallState, Any, float, Effects], None]

_HANDLERS: dict[type, _Handler] = {
    e.NewChannel: channels.on_new_channel,
    e.NewState: channels.on_channel_update,
    e.NewCallerId: channels.on_channel_update,
    e.Rename: channels.on_rename,
    e.LocalBridge: channels.on_local_bridge,
    e.Hangup: channels.on_hangup,
    e.HangupRequest: channels.on_hangup_request,
    e.DialBegin: dialing.on_dial_begin,
    e.DialEnd: dialing.on_dial_end,
    e.BridgeEnter: channels.on_bridge_enter,
    e.BridgeLeave: channels.on_bridge_leave,
    e.BlindTransfer: channels.on_blind_transfer,
    e.AttendedTransfer: channels.on_attended_transfer,
    e.ChanSpyStart: channels.on_chanspy_start,
    e.QueueCallerJoin: queues.on_queue_join,
    e.QueueCallerLeave: queues.on_queue_leave,
    e.QueueCallerAbandon: queues.on_queue_abandon,
    e.AgentCalled: queues.on_agent_called,
    e.AgentConnect: queues.on_agent_connect,
    e.AgentComplete: queues.on_agent_complete,
    e.AgentRingNoAnswer: queues.on_agent_no_answer,
    e.AgentDump: queues.on_agent_no_answer,
    e.QueueMemberChanged: members.on_member,
    e.QueueParams: queues.on_queue_params,
    e.QueueEntry: queues.on_queue_entry,
    e.DeviceStateChange: members.on_device_state,
    e.VarSet: variables.on_varset,
    e.MixMonitorStart: variables.on_mixmonitor_start,
    e.MixMonitorStop: variables.on_mixmonitor_stop,
    Resync: on_resync,
}


class Reducer:
    """Applies events to a :class:`CallState`; holds nothing else."""

    __slots__ = ("s",)

    def __init__(self, state: CallState) -> None:
        self.s = state

    def apply(self, event: e.AmiEvent | Resync, at: float) -> Effects:
        """Apply one event; return the domain events it implies (an unknown kind: none)."""
        self.s.stats.events += 1
        handler = _HANDLERS.get(type(event))
        if handler is None:
            self.s.stats.ignored += 1
            return []
        out: Effects = []
        handler(self.s, event, at, out)
        return out


def reduce(state: CallState, event: e.AmiEvent | Resync, at: float) -> tuple[CallState, Effects]:
    """Apply one event. The state object is updated in place and returned."""
    return state, Reducer(state).apply(event, at)


def iter_effects(state: CallState, events: Iterable[tuple[e.AmiEvent | Resync, float]]) -> Effects:
    reducer = Reducer(state)
    out: Effects = []
    for event, at in events:
        out.extend(reducer.apply(event, at))
    return out
