"""Domain events the call-state reducer emits; the rest of Trubka subscribes to these.

They carry plain values only (numbers already in E.164 where they parse), never AMI
header names. `at` is seconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.records import CallRecord


@dataclass(frozen=True, slots=True)
class CallStarted:
    linkedid: str
    at: float
    caller_number: str | None
    caller_name: str | None


@dataclass(frozen=True, slots=True)
class CallerIdentified:
    """The caller's number or name became known or changed (e.g. set by the dialplan)."""

    linkedid: str
    at: float
    caller_number: str | None
    caller_name: str | None


@dataclass(frozen=True, slots=True)
class CallQueued:
    linkedid: str
    at: float
    queue: str
    position: int
    caller_number: str | None
    caller_name: str | None


@dataclass(frozen=True, slots=True)
class CallLeftQueue:
    linkedid: str
    at: float
    queue: str
    reason: str  # answered | abandoned | left


@dataclass(frozen=True, slots=True)
class AgentRinging:
    """One of an agent's interfaces started ringing for a call (queue, direct or routed)."""

    linkedid: str
    at: float
    agent: str  # the agent's interface key, e.g. "Local/101@agents" or "PJSIP/101"
    interface: str  # the interface as Asterisk named it ("Local/101@agents/n")
    agent_name: str | None
    queue: str | None
    caller_number: str | None
    caller_name: str | None
    routing_reason: str | None
    direction: str


@dataclass(frozen=True, slots=True)
class AgentRingEnded:
    """The ringing ended without this agent answering."""

    linkedid: str
    at: float
    agent: str
    reason: str  # answered_elsewhere | caller_hung_up | no_answer


@dataclass(frozen=True, slots=True)
class CallAnswered:
    linkedid: str
    at: float
    agent: str
    interface: str
    agent_name: str | None
    queue: str | None
    caller_number: str | None
    caller_name: str | None


@dataclass(frozen=True, slots=True)
class CallTransferred:
    linkedid: str
    at: float
    from_agent: str | None
    to_agent: str


@dataclass(frozen=True, slots=True)
class CallRouted:
    linkedid: str
    at: float
    route_agent: str | None
    routed_by: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class RecordingStarted:
    linkedid: str
    at: float
    file: str


@dataclass(frozen=True, slots=True)
class RecordingStopped:
    linkedid: str
    at: float
    file: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    record: CallRecord


@dataclass(frozen=True, slots=True)
class CallBackfilled:
    """A call Trubka did not see live, rebuilt from Asterisk's books (queue_log, CDR).

    Stored and given its recording like a `CallEnded`; the live views and the screen pop
    leave it alone (it ended long ago)."""

    record: CallRecord


@dataclass(frozen=True, slots=True)
class SpySessionStarted:
    """A supervisor's phone started listening to (whispering to, barging into) a call."""

    uniqueid: str  # the supervisor's phone channel
    phone: str | None  # its interface (`PJSIP/209`)
    spied_linkedid: str  # the call listened to
    at: float


@dataclass(frozen=True, slots=True)
class SpySessionEnded:
    """A supervisor's listen, whisper or barge ended: not a call, an audited action."""

    uniqueid: str  # the supervisor's phone channel (Trubka's `trubka-spy-…` ChannelId)
    phone: str | None  # its interface (`PJSIP/209`)
    spied_linkedid: str | None  # the call listened to; None when ChanSpy never started
    started_at: float  # the phone started ringing
    listening_from: float | None  # ChanSpy started (the supervisor answered)
    ended_at: float


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent: str
    at: float
    state: str
    previous: str
    paused_reason: str | None
    # paused (a pause of their own) while ringing or on a call: the pause follows the call
    pause_pending: bool = False


@dataclass(frozen=True, slots=True)
class QueueChanged:
    queue: str
    at: float


DomainEvent = (
    CallStarted
    | CallerIdentified
    | CallQueued
    | CallLeftQueue
    | AgentRinging
    | AgentRingEnded
    | CallAnswered
    | CallTransferred
    | CallRouted
    | RecordingStarted
    | RecordingStopped
    | CallEnded
    | CallBackfilled
    | SpySessionStarted
    | SpySessionEnded
    | AgentStateChanged
    | QueueChanged
)
