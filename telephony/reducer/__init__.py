"""The call-state reducer: ``(state, event) -> (state, effects)``, with no I/O and no clock.

Every AMI event comes in with the moment it was received (`at`, seconds since the
epoch); the reducer updates the live picture (:mod:`telephony.state`) and returns the
domain events (:mod:`telephony.domain`) it implies. It is driven the same way by a
recorded trace, the live socket and the simulated PBX.

How a call is read from AMI (all seen in the real traces), and where:

* :mod:`.channels` — channels are tied into one call by `Linkedid`; the channel whose
  Uniqueid *is* the Linkedid started the call. Both halves of a Local channel
  (`;1`/`;2`) are one *leg*. The call ends when its last channel hangs up.
* :mod:`.numbers` — the call's direction comes from who started it: an external number
  (or an unknown one) calling in is inbound; an agent's interface or an internal
  extension that dials an external number is outbound; anything else is internal.
* :mod:`.queues`, :mod:`.dialing`, :mod:`.rings` — agents ring through a queue
  (`AgentCalled`) or a direct/routed `Dial` (`DialBegin` to an internal interface); the
  first `AgentConnect` or `DialEnd ANSWER` answers the call. `QueueCallerLeave` comes
  before `AgentConnect`: leaving a queue is not abandoning. An abandon is
  `QueueCallerAbandon` then `QueueCallerLeave`.
* :mod:`.members` — queue members and device states: who is an agent, paused or not.
* :mod:`.variables` — routing decisions, the CRM contact and recordings, from VarSet.
* :mod:`.resync` — the picture rebuilt from Asterisk's lists after a reconnect.
* :mod:`.records` — the call record built from a call as it ends (pure).

A call's :class:`~telephony.state.CallPhase` says where it is; :mod:`.dispatch` maps
each event type to its rule.
"""

from __future__ import annotations

from telephony.reducer.call_state import CallState, Effects, ReducerConfig, ReducerStats
from telephony.reducer.dispatch import Reducer, iter_effects, reduce
from telephony.reducer.resync import Resync
from telephony.state import CallPhase

__all__ = [
    "CallPhase",
    "CallState",
    "Effects",
    "Reducer",
    "ReducerConfig",
    "ReducerStats",
    "Resync",
    "iter_effects",
    "reduce",
]
