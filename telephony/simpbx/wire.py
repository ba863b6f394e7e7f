"""AMI bytes as Asterisk 22 writes them: frames, channel blocks and the common events.

Header names, their order and their values follow the recorded traces
(`tests/traces/EVENT-FIELDS.md`). Values are text, encoded as UTF-8 — except
:class:`LegacyText`, a caller name an old trunk sends as cp1251 bytes, which Asterisk
passes through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

Header = tuple[str, str]

STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}
DOWN, RING, RINGING, UP = 0, 4, 5, 6

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}


class LegacyText(str):
    """Text that goes on the wire as cp1251 bytes (a caller name from an old trunk)."""

    __slots__ = ()


def encode_value(value: str) -> bytes:
    if isinstance(value, LegacyText):
        return value.encode("cp1251", "replace")
    return value.encode("utf-8")


def frame(headers: Iterable[Header]) -> bytes:
    """One AMI message: `Name: value` lines and the empty line that ends it."""
    out = bytearray()
    for name, value in headers:
        out += name.encode("ascii")
        out += b": "
        out += encode_value(value)
        out += b"\r\n"
    out += b"\r\n"
    return bytes(out)


def response(action_id: str | None, status: str = "Success", *rest: Header) -> bytes:
    headers: list[Header] = [("Response", status)]
    if action_id is not None:
        headers.append(("ActionID", action_id))
    headers.extend(rest)
    return frame(headers)


def event_time(ts: float) -> str:
    """CEL/Cdr timestamps: the PBX's wall clock to the second."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def event_tv(ts: float) -> str:
    """Security events' `EventTV`: `2026-11-26T18:29:26.236+0000`."""
    stamp = datetime.fromtimestamp(ts, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


@dataclass(eq=False, slots=True)
class SimChannel:
    """A channel as the simulated PBX knows it; its `block` is what AMI events repeat."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    state: int = DOWN
    priority: int = 1
    cid_num: str = ""
    cid_name: str = ""
    conn_num: str = ""
    conn_name: str = ""
    app: str = ""
    app_data: str = ""
    bridge_id: str = ""
    created: float = field(default_factory=time.time)
    answered: float | None = None
    variables: dict[str, str] = field(default_factory=dict)
    hung_up: bool = False
    # The other half of a Local channel pair, if any.
    peer: SimChannel | None = None

    def block(self, prefix: str = "") -> list[Header]:
        return [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (prefix + "CallerIDNum", self.cid_num or "<unknown>"),
            (prefix + "CallerIDName", self.cid_name or "<unknown>"),
            (prefix + "ConnectedLineNum", self.conn_num or "<unknown>"),
            (prefix + "ConnectedLineName", self.conn_name or "<unknown>"),
            (prefix + "Language", "en"),
            (prefix + "AccountCode", ""),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]

    @property
    def device(self) -> str:
        """The device state name: `Local/101@agents-00000001;1` → `Local/101@agents`."""
        base = self.name.rsplit(";", 1)[0] if self.name.startswith("Local/") else self.name
        return base.rsplit("-", 1)[0]


# --- event builders -----------------------------------------------------------------
def channel_event(name: str, ch: SimChannel, *extra: Header, privilege: str = "call,all") -> bytes:
    return frame([("Event", name), ("Privilege", privilege), *ch.block(), *extra])


def newexten(ch: SimChannel, app: str, data: str) -> bytes:
    ch.app, ch.app_data = app, data
    return frame(
        [
            ("Event", "Newexten"),
            ("Privilege", "dialplan,all"),
            *ch.block(),
            ("Extension", ch.exten),
            ("Application", app),
            ("AppData", data),
        ]
    )


def varset(ch: SimChannel, variable: str, value: str) -> bytes:
    ch.variables[variable] = value
    return frame(
        [
            ("Event", "VarSet"),
            ("Privilege", "dialplan,all"),
            *ch.block(),
            ("Variable", variable),
            ("Value", value),
        ]
    )


def global_varset(variable: str, value: str) -> bytes:
    return frame(
        [
            ("Event", "VarSet"),
            ("Privilege", "dialplan,all"),
            ("Channel", "none"),
            ("Uniqueid", "none"),
            ("Variable", variable),
            ("Value", value),
        ]
    )


def new_caller_id(ch: SimChannel) -> bytes:
    return channel_event(
        "NewCallerid", ch, ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
    )


def cel(
    ch: SimChannel,
    event_name: str,
    now: float,
    *,
    app: str = "",
    data: str = "",
    peer: str = "",
    extra: str = "",
    ani: bool = False,
) -> bytes:
    started = event_name == "CHAN_START"
    return frame(
        [
            ("Event", "CEL"),
            ("Privilege", "call,all"),
            ("EventName", event_name),
            ("AccountCode", ""),
            ("CallerIDnum", "" if started else ch.cid_num),
            ("CallerIDname", "" if started else ch.cid_name),
            ("CallerIDani", ch.cid_num if ani and not started else ""),
            ("CallerIDrdnis", ""),
            ("CallerIDdnid", ""),
            ("Exten", ch.exten),
            ("Context", ch.context),
            ("Channel", ch.name),
            ("Application", app),
            ("AppData", data),
            ("EventTime", event_time(now)),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", ch.uniqueid),
            ("LinkedID", ch.linkedid),
            ("Userfield", ""),
            ("Peer", peer),
            ("PeerAccount", ""),
            ("Extra", extra),
        ]
    )


def local_bridge(one: SimChannel, two: SimChannel) -> bytes:
    return frame(
        [
            ("Event", "LocalBridge"),
            ("Privilege", "call,all"),
            *one.block("LocalOne"),
            *two.block("LocalTwo"),
            ("Context", one.context),
            ("Exten", one.exten),
            ("LocalOptimization", "Yes"),
        ]
    )


def dial_event(name: str, caller: SimChannel | None, dest: SimChannel, last: Header) -> bytes:
    """DialBegin/DialState/DialEnd. Originate's own dial has no caller, only `Dest*`."""
    headers: list[Header] = [("Event", name), ("Privilege", "call,all")]
    if name == "DialState" and caller is not None:
        headers += caller.block() + dest.block("Dest") + [last]
    elif caller is None:
        headers += [*dest.block("Dest"), last]
    else:
        headers += [*dest.block("Dest"), last, *caller.block()]
    return frame(headers)


def device_state(device: str, state: str) -> bytes:
    return frame(
        [
            ("Event", "DeviceStateChange"),
            ("Privilege", "call,all"),
            ("Device", device),
            ("State", state),
        ]
    )


def hangup(ch: SimChannel, cause: int) -> bytes:
    return channel_event(
        "Hangup", ch, ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))
    )


def bridge_headers(bridge_id: str, count: int) -> list[Header]:
    return [
        ("BridgeUniqueid", bridge_id),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(count)),
        ("BridgeVideoSourceMode", "none"),
    ]


def bridge_event(name: str, bridge_id: str, count: int, ch: SimChannel | None = None) -> bytes:
    headers: list[Header] = [
        ("Event", name),
        ("Privilege", "call,all"),
        *bridge_headers(bridge_id, count),
    ]
    if ch is not None:
        headers += ch.block()
    return frame(headers)


def cdr(
    ch: SimChannel,
    *,
    destination: str,
    dest_context: str,
    dest_channel: str,
    last_app: str,
    last_data: str,
    answered: float | None,
    now: float,
) -> bytes:
    duration = max(0, int(now - ch.created))
    billable = max(0, int(now - answered)) if answered is not None else 0
    caller_id = f'"{ch.cid_name}" <{ch.cid_num}>' if ch.cid_name else f"<{ch.cid_num}>"
    return frame(
        [
            ("Event", "Cdr"),
            ("Privilege", "cdr,all"),
            ("AccountCode", ""),
            ("Source", ch.cid_num),
            ("Destination", destination),
            ("DestinationContext", dest_context),
            (
                "CallerID",
                LegacyText(caller_id) if isinstance(ch.cid_name, LegacyText) else caller_id,
            ),
            ("Channel", ch.name),
            ("DestinationChannel", dest_channel),
            ("LastApplication", last_app),
            ("LastData", last_data),
            ("StartTime", event_time(ch.created)),
            ("AnswerTime", event_time(answered) if answered is not None else ""),
            ("EndTime", event_time(now)),
            ("Duration", str(duration)),
            ("BillableSeconds", str(billable)),
            ("Disposition", "ANSWERED" if answered is not None else "NO ANSWER"),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", ch.uniqueid),
            ("UserField", ""),
        ]
    )


def list_complete(name: str, action_id: str | None, count: int, *extra: Header) -> bytes:
    headers: list[Header] = [("Event", name)]
    if action_id is not None:
        headers.append(("ActionID", action_id))
    headers += [("EventList", "Complete"), ("ListItems", str(count)), *extra]
    return frame(headers)


def with_action_id(headers: Sequence[Header], action_id: str | None) -> bytes:
    """A list item: its headers then `ActionID` last, as Asterisk writes QueueMember & co."""
    items = list(headers)
    if action_id is not None:
        items.append(("ActionID", action_id))
    return frame(items)
