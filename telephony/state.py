"""The live picture the reducer keeps: channels grouped into calls, queues, agents.

Plain mutable dataclasses owned by :class:`telephony.reducer.CallState`; readers (the
supervisor view, routing) take snapshots through the query methods there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from kernel.agents import AFTER_CALL_REASON, AgentState
from telephony.events import MemberStatus
from telephony.records import CallStep

_LOCAL_HALF = re.compile(r"^(Local/.+)-[0-9a-fA-F]{8};([12])$")
_CHANNEL_SUFFIX = re.compile(r"^(.+)-[0-9a-fA-F]{8,}$")


SPY_ID_PREFIX = "trubka-spy-"  # the unique id Trubka gives a supervisor's spying phone


def is_spy_id(uniqueid: str | None) -> bool:
    """Whether a channel's unique id (or a call's linked id) is a spy session Trubka made
    (`AmiActions.spy` originates the supervisor's phone with this `ChannelId`)."""
    return uniqueid is not None and uniqueid.startswith(SPY_ID_PREFIX)


def leg_of(channel_name: str) -> str:
    """The leg a channel belongs to: both halves of a Local channel are one leg."""
    match = _LOCAL_HALF.match(channel_name)
    return channel_name[:-2] if match else channel_name


def local_half(channel_name: str) -> int | None:
    match = _LOCAL_HALF.match(channel_name)
    return int(match.group(2)) if match else None


def interface_of(channel_name: str) -> str:
    """The device a channel runs on: `Local/101@agents-00000001;1` → `Local/101@agents`."""
    match = _LOCAL_HALF.match(channel_name)
    if match:
        return match.group(1)
    match = _CHANNEL_SUFFIX.match(channel_name)
    if match:
        return match.group(1)
    return channel_name


@dataclass(slots=True)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    leg: str
    interface: str
    state: int
    caller_num: str | None
    caller_name: str | None
    context: str
    exten: str
    created_at: float
    up_at: float | None = None
    bridge_id: str | None = None


@dataclass(slots=True)
class Ring:
    agent: str  # interface key
    interface: str  # as Asterisk named it
    agent_name: str | None
    dest_uniqueid: str
    queue: str | None
    since: float


class CallPhase(StrEnum):
    """Where a live call is. The reducer moves it; the event that does is named.

    ``DIALPLAN`` → ``QUEUED`` / ``RINGING`` / ``DIALING`` → ``CONNECTED`` → ``ENDED``, with
    ``ABANDONED`` for a caller who gives up in a queue. ``CONNECTED`` is only left for
    ``ENDED``; ``ABANDONED`` for ``ENDED``, or ``CONNECTED`` should an answer still come.
    """

    DIALPLAN = "dialplan"  # IVR, routing, announcements: not queued, nobody rings (Newchannel)
    DIALING = "dialing"  # an agent or extension dials an external number (DialBegin)
    QUEUED = "queued"  # waiting in a queue; its agents may ring (QueueCallerJoin, QueueEntry)
    RINGING = "ringing"  # an agent rings, the call in no queue (DialBegin, QueueCallerLeave)
    CONNECTED = "connected"  # answered, through transfers (AgentConnect, DialEnd ANSWER)
    ABANDONED = "abandoned"  # the caller gave up waiting in a queue (QueueCallerAbandon)
    ENDED = "ended"  # the last channel hung up; the call record was built (Hangup, Resync)


# Not reachable at all: a queue member in one of these is unavailable, not just busy.
_UNREACHABLE = frozenset({MemberStatus.INVALID, MemberStatus.UNAVAILABLE})


@dataclass(slots=True)
class Call:
    linkedid: str
    started_at: float
    origin_uniqueid: str
    origin_leg: str
    channels: dict[str, Channel] = field(default_factory=dict)
    phase: CallPhase = CallPhase.DIALPLAN
    partial: bool = False  # its first channel was never seen (started before we listened)
    resynced: bool = False
    # Answered before a resync saw it (a fail-over, a restart): `answered_at` is the resync's
    # moment until Asterisk's AgentComplete tells the talk time (reducer/queues.py).
    answer_guessed: bool = False
    customer_leg: str | None = None
    caller_num: str | None = None
    caller_name: str | None = None
    dialed_exten: str | None = None
    queue: str | None = None
    queued_at: float | None = None
    queue_status: str | None = None
    queue_hold: int | None = None
    queue_talk: int | None = None
    rings: dict[str, Ring] = field(default_factory=dict)  # by the ringing leg's uniqueid
    agent: str | None = None  # interface key of the first agent who answered
    agent_interface: str | None = None
    agent_name: str | None = None
    agent_leg: str | None = None
    agents: list[str] = field(default_factory=list)
    connected_agent: str | None = None  # the agent the caller talks to now
    last_agent: str | None = None  # the agent the caller talked to last (transfers)
    answered_at: float | None = None
    talk_end: float | None = None
    outbound_number: str | None = None
    outbound_leg: str | None = None
    dialer_num: str | None = None  # an outbound call's own side: the agent's number, name
    dialer_name: str | None = None
    last_dial_status: str | None = None
    dialed_anyone: bool = False
    any_up: bool = False
    recording_file: str | None = None
    recording_active: bool = False
    route_agent: str | None = None
    routed_by: str | None = None
    routing_reason: str | None = None
    contact_id: int | None = None
    transfers: int = 0
    customer_gone_at: float | None = None
    spy: bool = False  # a supervisor's listen/whisper/barge: never a call record
    spied_linkedid: str | None = None  # the call listened to, once ChanSpy started
    spy_started_at: float | None = None
    steps: list[CallStep] = field(default_factory=list)

    def step(self, at: float, kind: str, detail: str = "") -> None:
        if len(self.steps) < 200:
            self.steps.append(CallStep(at, kind, detail))


@dataclass(slots=True)
class Membership:
    queue: str
    interface: str
    state_interface: str
    name: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int
    wrapup_time: int
    penalty: int
    membership: str = ""  # Asterisk's `Membership`: static, dynamic or realtime


@dataclass(slots=True)
class Agent:
    key: str
    name: str | None = None
    memberships: dict[str, Membership] = field(default_factory=dict)
    device_state: str = "UNKNOWN"
    ringing: set[str] = field(default_factory=set)  # linkedids
    calls: set[str] = field(default_factory=set)  # linkedids connected now
    wrapup_until: float | None = None
    state: AgentState = AgentState.LOGGED_OUT
    state_since: float = 0.0

    @property
    def paused_reason(self) -> str | None:
        reasons = [m.paused_reason for m in self.memberships.values() if m.paused]
        return next((r for r in reasons if r), None) if reasons else None

    @property
    def after_call_work(self) -> bool:
        """Held out of every queue by Trubka's after-call pause (`AFTER_CALL_REASON`)."""
        return bool(self.memberships) and all(
            m.paused and m.paused_reason == AFTER_CALL_REASON for m in self.memberships.values()
        )

    @property
    def pause_pending(self) -> bool:
        """Paused (a pause of their own) while ringing or on a call: the pause starts when
        the call ends."""
        return (
            bool(self.calls or self.ringing)
            and bool(self.memberships)
            and all(m.paused for m in self.memberships.values())
            and not self.after_call_work
        )

    def derive_state(self, now: float) -> AgentState:
        if self.ringing and not self.calls:
            return AgentState.RINGING
        if self.calls:
            return AgentState.ON_CALL
        if not self.memberships:
            if self.device_state in ("INUSE", "BUSY", "ONHOLD"):
                return AgentState.ON_CALL
            return AgentState.LOGGED_OUT
        if all(m.paused for m in self.memberships.values()):
            if self.after_call_work:
                return AgentState.WRAP_UP
            return AgentState.PAUSED
        if self.device_state in ("UNAVAILABLE", "INVALID") or all(
            m.status in _UNREACHABLE for m in self.memberships.values()
        ):
            return AgentState.UNAVAILABLE
        if self.wrapup_until is not None and now < self.wrapup_until:
            return AgentState.WRAP_UP
        return AgentState.AVAILABLE


@dataclass(slots=True)
class QueueCaller:
    linkedid: str
    uniqueid: str
    caller_num: str | None
    caller_name: str | None
    joined_at: float


@dataclass(slots=True)
class Queue:
    name: str
    strategy: str = ""
    service_level: int = 0  # seconds, from queues.conf `servicelevel`
    entries: dict[str, QueueCaller] = field(default_factory=dict)  # by uniqueid, join order
    members: set[str] = field(default_factory=set)  # agent keys
