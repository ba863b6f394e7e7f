"""Typed AMI events: the edge where AMI header names become snake_case fields.

:func:`parse_event` turns a decoded :class:`~telephony.codec.Frame` into one of the
frozen dataclasses of :mod:`telephony.event_types` (re-exported here), or ``None`` for
the many events Trubka does not need (CEL, Newexten, Cdr, VarSet of variables nobody
watches …). Nothing past this module
sees ``Uniqueid`` or ``DestCallerIDNum``.
"""

from __future__ import annotations

from collections.abc import Callable

from telephony.codec import Frame, FrameKind
from telephony.errors import MalformedEvent
from telephony.event_types import (
    WATCHED_VARIABLES,
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentDump,
    AgentRingNoAnswer,
    AmiEvent,
    AttendedTransfer,
    BlindTransfer,
    BridgeEnter,
    BridgeLeave,
    ChannelSnapshot,
    ChannelState,
    ChanSpyStart,
    ChanSpyStop,
    CoreShowChannel,
    DeviceStateChange,
    DialBegin,
    DialEnd,
    FullyBooted,
    Hangup,
    HangupRequest,
    ListComplete,
    LocalBridge,
    MemberStatus,
    MixMonitorStart,
    MixMonitorStop,
    NewCallerId,
    NewChannel,
    NewState,
    OriginateResponse,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    QueueMemberChanged,
    QueueMemberInfo,
    QueueParams,
    Rename,
    Shutdown,
    VarSet,
)

__all__ = [
    "INTERESTING",
    "WATCHED_VARIABLES",
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentDump",
    "AgentRingNoAnswer",
    "AmiEvent",
    "AttendedTransfer",
    "BlindTransfer",
    "BridgeEnter",
    "BridgeLeave",
    "ChanSpyStart",
    "ChanSpyStop",
    "ChannelSnapshot",
    "ChannelState",
    "CoreShowChannel",
    "DeviceStateChange",
    "DialBegin",
    "DialEnd",
    "FullyBooted",
    "Hangup",
    "HangupRequest",
    "Headers",
    "ListComplete",
    "LocalBridge",
    "MemberStatus",
    "MixMonitorStart",
    "MixMonitorStop",
    "NewCallerId",
    "NewChannel",
    "NewState",
    "OriginateResponse",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueEntry",
    "QueueMemberChanged",
    "QueueMemberInfo",
    "QueueParams",
    "Rename",
    "Shutdown",
    "VarSet",
    "parse_event",
]

Headers = dict[str, str]


_NO_CID = frozenset({"", "<unknown>"})


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
