"""Typed AMI events: the edge where AMI header names become snake_case fields.

:func:`parse_event` turns a decoded :class:`~telephony.codec.Frame` into one of the
frozen dataclasses below, or ``None`` for the many events Trubka does not need
(CEL, Newexten, Cdr, VarSet of variables nobody watches …). Nothing past this module
sees ``Uniqueid`` or ``DestCallerIDNum``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from telephony.codec import Frame, FrameKind
from telephony.errors import MalformedEvent

_NO_CID = frozenset({"", "<unknown>"})

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

Headers = dict[str, str]


def _cid(value: str | None) -> str | None:
    if value is None or value in _NO_CID:
        return None
    return value


def _int(headers: Headers, key: str, default: int = 0) -> int:
    value = headers.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        try:
            return int(float(value))
        except ValueError:
            raise MalformedEvent(f"{key}: not a number: {value[:40]!r}") from None


def _required(headers: Headers, key: str) -> str:
    value = headers.get(key)
    if value is None:
        raise MalformedEvent(f"missing header {key!r}")
    return value


def _channel(h: Headers, prefix: str = "") -> ChannelSnapshot | None:
    name = h.get(prefix + "channel")
    if not name:
        return None
    uniqueid = h.get(prefix + "uniqueid")
    if not uniqueid:
        raise MalformedEvent(f"missing header {prefix}Uniqueid")
    return ChannelSnapshot(
        name=name,
        uniqueid=uniqueid,
        linkedid=h.get(prefix + "linkedid") or uniqueid,
        state=_int(h, prefix + "channelstate"),
        caller_num=_cid(h.get(prefix + "calleridnum")),
        caller_name=_cid(h.get(prefix + "calleridname")),
        connected_num=_cid(h.get(prefix + "connectedlinenum")),
        connected_name=_cid(h.get(prefix + "connectedlinename")),
        context=h.get(prefix + "context", ""),
        exten=h.get(prefix + "exten", ""),
    )


def _need_channel(h: Headers, prefix: str = "") -> ChannelSnapshot:
    channel = _channel(h, prefix)
    if channel is None:
        raise MalformedEvent(f"missing header {prefix}Channel")
    return channel


def _member(h: Headers) -> QueueMemberInfo:
    interface = h.get("interface") or h.get("location")
    if not interface:
        raise MalformedEvent("missing header Interface")
    return QueueMemberInfo(
        queue=_required(h, "queue"),
        interface=interface,
        state_interface=h.get("stateinterface") or interface,
        name=h.get("membername") or h.get("name") or interface,
        status=_int(h, "status"),
        paused=h.get("paused", "0") in ("1", "true", "yes"),
        paused_reason=h.get("pausedreason", ""),
        in_call=h.get("incall", "0") == "1",
        calls_taken=_int(h, "callstaken"),
        last_call=_int(h, "lastcall"),
        login_time=_int(h, "logintime"),
        wrapup_time=_int(h, "wrapuptime"),
        penalty=_int(h, "penalty"),
        membership=h.get("membership", ""),
    )


def _agent_fields(h: Headers) -> tuple[ChannelSnapshot, ChannelSnapshot | None, str, str, str]:
    return (
        _need_channel(h),
        _channel(h, "dest"),
        _required(h, "queue"),
        _required(h, "interface"),
        h.get("membername", ""),
    )


def _p_agent_called(h: Headers) -> AgentCalled:
    return AgentCalled(*_agent_fields(h))


def _p_agent_connect(h: Headers) -> AgentConnect:
    return AgentConnect(*_agent_fields(h), _int(h, "holdtime"), _int(h, "ringtime"))


def _p_agent_complete(h: Headers) -> AgentComplete:
    return AgentComplete(
        *_agent_fields(h), _int(h, "holdtime"), _int(h, "talktime"), h.get("reason", "")
    )


def _p_agent_rna(h: Headers) -> AgentRingNoAnswer:
    return AgentRingNoAnswer(*_agent_fields(h), _int(h, "ringtime"))


def _p_agent_dump(h: Headers) -> AgentDump:
    return AgentDump(*_agent_fields(h))


def _member_event(kind: str) -> Callable[[Headers], QueueMemberChanged]:
    def parse(h: Headers) -> QueueMemberChanged:
        return QueueMemberChanged(kind, _member(h))

    return parse


def _p_queue_params(h: Headers) -> QueueParams:
    try:
        perf = float(h.get("servicelevelperf") or 0.0)
    except ValueError:
        perf = 0.0
    return QueueParams(
        queue=_required(h, "queue"),
        strategy=h.get("strategy", ""),
        calls=_int(h, "calls"),
        hold_time=_int(h, "holdtime"),
        talk_time=_int(h, "talktime"),
        completed=_int(h, "completed"),
        abandoned=_int(h, "abandoned"),
        service_level=_int(h, "servicelevel"),
        service_level_perf=perf,
    )


def _p_queue_entry(h: Headers) -> QueueEntry:
    return QueueEntry(
        queue=_required(h, "queue"),
        position=_int(h, "position"),
        channel_name=_required(h, "channel"),
        uniqueid=h.get("uniqueid", ""),
        caller_num=_cid(h.get("calleridnum")),
        caller_name=_cid(h.get("calleridname")),
        wait=_int(h, "wait"),
    )


def _p_core_show_channel(h: Headers) -> CoreShowChannel:
    return CoreShowChannel(
        channel=_need_channel(h),
        application=h.get("application", ""),
        application_data=h.get("applicationdata", ""),
        duration_seconds=_parse_duration(h.get("duration", "")),
        bridge_id=h.get("bridgeid", ""),
    )


def _parse_duration(value: str) -> int:
    """`CoreShowChannel` Duration is `HH:MM:SS`."""
    parts = value.split(":")
    try:
        if len(parts) == 3:
            return int(parts[0]) * 3600 + int(parts[1]) * 60 + int(parts[2])
        return int(value) if value else 0
    except ValueError:
        return 0


def _p_varset(h: Headers) -> VarSet | None:
    variable = h.get("variable", "")
    if variable not in WATCHED_VARIABLES:
        return None
    return VarSet(_need_channel(h), variable, h.get("value", ""))


def _p_originate_response(h: Headers) -> OriginateResponse:
    uniqueid = h.get("uniqueid")
    return OriginateResponse(
        action_id=h.get("actionid"),
        response=h.get("response", ""),
        channel_name=h.get("channel", ""),
        uniqueid=None if uniqueid in (None, "", "<unknown>") else uniqueid,
        reason=_int(h, "reason"),
        caller_num=_cid(h.get("calleridnum")),
        caller_name=_cid(h.get("calleridname")),
    )


def _p_dial_begin(h: Headers) -> DialBegin:
    return DialBegin(_channel(h), _need_channel(h, "dest"), h.get("dialstring", ""))


def _p_dial_end(h: Headers) -> DialEnd:
    return DialEnd(_channel(h), _need_channel(h, "dest"), h.get("dialstatus", ""))


def _p_blind_transfer(h: Headers) -> BlindTransfer:
    return BlindTransfer(
        transferer=_channel(h, "transferer"),
        transferee=_channel(h, "transferee"),
        extension=h.get("extension", ""),
        context=h.get("context", ""),
        result=h.get("result", ""),
    )


def _p_attended_transfer(h: Headers) -> AttendedTransfer:
    return AttendedTransfer(
        transferer=_channel(h, "origtransferer"),
        target=_channel(h, "secondtransferer"),
        dest_type=h.get("desttype", ""),
        result=h.get("result", ""),
    )


def _p_chanspy_start(h: Headers) -> ChanSpyStart | None:
    spyer = h.get("spyeruniqueid")
    if not spyer:
        return None
    return ChanSpyStart(
        spyer_uniqueid=spyer,
        spyer_linkedid=h.get("spyerlinkedid") or spyer,
        spyee_linkedid=h.get("spyeelinkedid") or None,
        spyee_channel=h.get("spyeechannel") or None,
    )


def _p_chanspy_stop(h: Headers) -> ChanSpyStop | None:
    spyer = h.get("spyeruniqueid")
    if not spyer:
        return None
    return ChanSpyStop(spyer_uniqueid=spyer, spyer_linkedid=h.get("spyerlinkedid") or spyer)


_PARSERS: dict[str, Callable[[Headers], AmiEvent | None]] = {
    "Newchannel": lambda h: NewChannel(_need_channel(h)),
    "Newstate": lambda h: NewState(_need_channel(h)),
    "NewCallerid": lambda h: NewCallerId(_need_channel(h)),
    "Rename": lambda h: Rename(_need_channel(h), _required(h, "newname")),
    "Hangup": lambda h: Hangup(_need_channel(h), _int(h, "cause"), h.get("cause-txt", "")),
    "HangupRequest": lambda h: HangupRequest(_need_channel(h), _int(h, "cause"), soft=False),
    "SoftHangupRequest": lambda h: HangupRequest(_need_channel(h), _int(h, "cause"), soft=True),
    "LocalBridge": lambda h: LocalBridge(
        _need_channel(h, "localone"), _need_channel(h, "localtwo")
    ),
    "DialBegin": _p_dial_begin,
    "DialEnd": _p_dial_end,
    "BridgeEnter": lambda h: BridgeEnter(_required(h, "bridgeuniqueid"), _need_channel(h)),
    "BridgeLeave": lambda h: BridgeLeave(_required(h, "bridgeuniqueid"), _need_channel(h)),
    "BlindTransfer": _p_blind_transfer,
    "ChanSpyStart": _p_chanspy_start,
    "ChanSpyStop": _p_chanspy_stop,
    "AttendedTransfer": _p_attended_transfer,
    "QueueCallerJoin": lambda h: QueueCallerJoin(
        _need_channel(h), _required(h, "queue"), _int(h, "position"), _int(h, "count")
    ),
    "QueueCallerLeave": lambda h: QueueCallerLeave(
        _need_channel(h), _required(h, "queue"), _int(h, "position"), _int(h, "count")
    ),
    "QueueCallerAbandon": lambda h: QueueCallerAbandon(
        _need_channel(h),
        _required(h, "queue"),
        _int(h, "position"),
        _int(h, "originalposition"),
        _int(h, "holdtime"),
    ),
    "AgentCalled": _p_agent_called,
    "AgentConnect": _p_agent_connect,
    "AgentComplete": _p_agent_complete,
    "AgentRingNoAnswer": _p_agent_rna,
    "AgentDump": _p_agent_dump,
    "QueueMemberAdded": _member_event("added"),
    "QueueMemberRemoved": _member_event("removed"),
    "QueueMemberStatus": _member_event("status"),
    "QueueMemberPause": _member_event("pause"),
    "QueueMemberPaused": _member_event("pause"),
    "QueueMemberPenalty": _member_event("penalty"),
    "QueueMemberRinginuse": _member_event("ringinuse"),
    "QueueMember": _member_event("listed"),
    "QueueParams": _p_queue_params,
    "QueueEntry": _p_queue_entry,
    "CoreShowChannel": _p_core_show_channel,
    "DeviceStateChange": lambda h: DeviceStateChange(_required(h, "device"), h.get("state", "")),
    "VarSet": _p_varset,
    "MixMonitorStart": lambda h: MixMonitorStart(_need_channel(h)),
    "MixMonitorStop": lambda h: MixMonitorStop(_need_channel(h)),
    "OriginateResponse": _p_originate_response,
    "FullyBooted": lambda h: FullyBooted(h.get("status", "")),
    "Shutdown": lambda h: Shutdown(h.get("shutdown", ""), h.get("restart", "") == "True"),
}

INTERESTING = frozenset(_PARSERS)
_WATCHED_BYTES = frozenset(v.encode() for v in WATCHED_VARIABLES)
_VARIABLE = b"\r\nVariable: "


def parse_event(frame: Frame) -> AmiEvent | None:
    """A typed event for `frame`, or None when Trubka has no use for it.

    Raises :class:`MalformedEvent` for a known event that lacks what it must carry, and
    :class:`~telephony.codec.FrameError` for a frame whose lines do not parse.
    """
    if frame.kind is not FrameKind.EVENT:
        return None
    name = frame.name
    parser = _PARSERS.get(name)
    if parser is None:
        if name.endswith("Complete"):
            headers = frame.headers
            if headers.get("eventlist", "").lower() == "complete":
                return ListComplete(name, headers.get("actionid"), _int(headers, "listitems"))
        return None
    if name == "VarSet":
        # A cheap pre-check before decoding: most VarSet events are dialplan noise.
        raw = frame.raw
        start = raw.find(_VARIABLE)
        if start >= 0:
            start += len(_VARIABLE)
            end = raw.find(b"\r\n", start)
            variable = raw[start:end] if end >= 0 else raw[start:]
            if variable.strip() not in _WATCHED_BYTES:
                return None
    return parser(frame.headers)
