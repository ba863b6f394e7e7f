"""The typed AMI events Trubka reads: one frozen dataclass per event, fields in snake_case.

:mod:`telephony.events` builds them from decoded frames (:func:`~telephony.events.parse_event`);
everything past it works with these types and never with AMI header names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

# Channel variables whose VarSet events the reducer needs.
WATCHED_VARIABLES = frozenset(
    {
        "MIXMONITOR_FILENAME",
        "ROUTE_AGENT",
        "ROUTE_REASON",
        "ROUTE_BY",
        "TRUBKA_CONTACT_ID",
        "TRUBKA_CALL_ID",
        "CRM_CALL_ID",
        "QUEUESTATUS",
    }
)


class ChannelState(IntEnum):
    DOWN = 0
    RSRVD = 1
    OFFHOOK = 2
    DIALING = 3
    RING = 4
    RINGING = 5
    UP = 6
    BUSY = 7
    DIALING_OFFHOOK = 8
    PRERING = 9


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """The channel block AMI repeats in most events (optionally with a prefix: Dest…)."""

    name: str
    uniqueid: str
    linkedid: str
    state: int
    caller_num: str | None
    caller_name: str | None
    connected_num: str | None
    connected_name: str | None
    context: str
    exten: str


@dataclass(frozen=True, slots=True)
class NewChannel:
    channel: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class NewState:
    channel: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class NewCallerId:
    channel: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class Rename:
    channel: ChannelSnapshot
    new_name: str


@dataclass(frozen=True, slots=True)
class Hangup:
    channel: ChannelSnapshot
    cause: int
    cause_txt: str


@dataclass(frozen=True, slots=True)
class HangupRequest:
    """The channel is about to hang up; its `Hangup` follows. `HangupRequest`: its far end
    hung up (a caller on a trunk: before Asterisk cancels the dials it made, `DialEnd
    CANCEL`); `SoftHangupRequest` (`soft`): something in Asterisk asked (the dialplan, an
    action, a bridge ending). `cause` is 0 when Asterisk gives none."""

    channel: ChannelSnapshot
    cause: int
    soft: bool


@dataclass(frozen=True, slots=True)
class LocalBridge:
    one: ChannelSnapshot
    two: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class DialBegin:
    caller: ChannelSnapshot | None  # None for the dial an Originate makes itself
    dest: ChannelSnapshot
    dial_string: str


@dataclass(frozen=True, slots=True)
class DialEnd:
    caller: ChannelSnapshot | None
    dest: ChannelSnapshot
    status: str


@dataclass(frozen=True, slots=True)
class BridgeEnter:
    bridge_id: str
    channel: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class BridgeLeave:
    bridge_id: str
    channel: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class BlindTransfer:
    transferer: ChannelSnapshot | None
    transferee: ChannelSnapshot | None
    extension: str
    context: str
    result: str


@dataclass(frozen=True, slots=True)
class ChanSpyStart:
    """A channel (the spyer: a supervisor's phone) started listening to another."""

    spyer_uniqueid: str
    spyer_linkedid: str
    spyee_linkedid: str | None
    spyee_channel: str | None


@dataclass(frozen=True, slots=True)
class ChanSpyStop:
    spyer_uniqueid: str
    spyer_linkedid: str


@dataclass(frozen=True, slots=True)
class AttendedTransfer:
    transferer: ChannelSnapshot | None  # OrigTransferer…
    target: ChannelSnapshot | None  # SecondTransferer…
    dest_type: str
    result: str


@dataclass(frozen=True, slots=True)
class QueueCallerJoin:
    channel: ChannelSnapshot
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerLeave:
    channel: ChannelSnapshot
    queue: str
    position: int
    count: int


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon:
    channel: ChannelSnapshot
    queue: str
    position: int
    original_position: int
    hold_time: int


@dataclass(frozen=True, slots=True)
class AgentCalled:
    channel: ChannelSnapshot
    dest: ChannelSnapshot | None
    queue: str
    interface: str
    member_name: str


@dataclass(frozen=True, slots=True)
class AgentConnect:
    channel: ChannelSnapshot
    dest: ChannelSnapshot | None
    queue: str
    interface: str
    member_name: str
    hold_time: int  # seconds
    ring_time: int  # seconds


@dataclass(frozen=True, slots=True)
class AgentComplete:
    channel: ChannelSnapshot
    dest: ChannelSnapshot | None
    queue: str
    interface: str
    member_name: str
    hold_time: int  # seconds
    talk_time: int  # seconds
    reason: str  # caller | agent | transfer


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer:
    channel: ChannelSnapshot
    dest: ChannelSnapshot | None
    queue: str
    interface: str
    member_name: str
    ring_time_ms: int  # milliseconds, unlike AgentConnect


@dataclass(frozen=True, slots=True)
class AgentDump:
    channel: ChannelSnapshot
    dest: ChannelSnapshot | None
    queue: str
    interface: str
    member_name: str


class MemberStatus(IntEnum):
    """`Status` of a queue member: the device state as app_queue sees it."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


@dataclass(frozen=True, slots=True)
class QueueMemberInfo:
    """A queue member, from `QueueMember*` events and `QueueStatus` list items."""

    queue: str
    interface: str
    state_interface: str
    name: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int
    last_call: int
    login_time: int
    wrapup_time: int
    penalty: int
    membership: str


@dataclass(frozen=True, slots=True)
class QueueMemberChanged:
    """QueueMemberAdded/Removed/Status/Pause/Penalty/RingInUse, or a `QueueMember` list item."""

    kind: str  # added | removed | status | pause | penalty | ringinuse | listed
    member: QueueMemberInfo


@dataclass(frozen=True, slots=True)
class QueueParams:
    queue: str
    strategy: str
    calls: int
    hold_time: int
    talk_time: int
    completed: int
    abandoned: int
    service_level: int
    service_level_perf: float


@dataclass(frozen=True, slots=True)
class QueueEntry:
    queue: str
    position: int
    channel_name: str
    uniqueid: str
    caller_num: str | None
    caller_name: str | None
    wait: int


@dataclass(frozen=True, slots=True)
class CoreShowChannel:
    channel: ChannelSnapshot
    application: str
    application_data: str
    duration_seconds: int
    bridge_id: str


@dataclass(frozen=True, slots=True)
class DeviceStateChange:
    device: str
    state: str


@dataclass(frozen=True, slots=True)
class VarSet:
    channel: ChannelSnapshot
    variable: str
    value: str


@dataclass(frozen=True, slots=True)
class MixMonitorStart:
    channel: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class MixMonitorStop:
    channel: ChannelSnapshot


@dataclass(frozen=True, slots=True)
class OriginateResponse:
    action_id: str | None
    response: str
    channel_name: str
    uniqueid: str | None
    reason: int
    caller_num: str | None
    caller_name: str | None


@dataclass(frozen=True, slots=True)
class FullyBooted:
    status: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    shutdown: str
    restart: bool


@dataclass(frozen=True, slots=True)
class ListComplete:
    """`…Complete` at the end of an action's event list."""

    name: str
    action_id: str | None
    items: int


AmiEvent = (
    NewChannel
    | NewState
    | NewCallerId
    | Rename
    | Hangup
    | HangupRequest
    | LocalBridge
    | DialBegin
    | DialEnd
    | BridgeEnter
    | BridgeLeave
    | BlindTransfer
    | AttendedTransfer
    | ChanSpyStart
    | ChanSpyStop
    | QueueCallerJoin
    | QueueCallerLeave
    | QueueCallerAbandon
    | AgentCalled
    | AgentConnect
    | AgentComplete
    | AgentRingNoAnswer
    | AgentDump
    | QueueMemberChanged
    | QueueParams
    | QueueEntry
    | CoreShowChannel
    | DeviceStateChange
    | VarSet
    | MixMonitorStart
    | MixMonitorStop
    | OriginateResponse
    | FullyBooted
    | Shutdown
    | ListComplete
)
