"""Asterisk's durable books, written by the simulated PBX: `queue_log` and `Master.csv`.

Asterisk 22 appends a line to `queue_log` whenever app_queue logs an event, and a row to
cdr_csv's `Master.csv` when a call's CDR is finalised. :class:`SimBooks` derives both from
the AMI events the engine sends out (it sees every burst the engine writes), so what the
books say is what the AMI said:

| AMI event | queue_log line |
|---|---|
| `QueueCallerJoin` | `ENTERQUEUE` (url, caller id, position) |
| `AgentRingNoAnswer` | `RINGNOANSWER` (ring time in ms) |
| `AgentConnect` | `CONNECT` (hold time, the member channel's unique id, ring time) |
| `AgentComplete` | `COMPLETECALLER` / `COMPLETEAGENT` (hold, talk, original position) |
| `AgentComplete` after `BlindTransfer` | `BLINDTRANSFER` (exten, context, hold, talk, pos.) |
| `QueueCallerAbandon` | `ABANDON` (position, original position, wait) |
| `QUEUESTATUS=TIMEOUT` | `EXITWITHTIMEOUT` (position, original position, wait) |

`Master.csv` gets one row per inbound call when the caller's leg ends (a channel that
starts in a `from-trunk…` context: the `;2` half of the customer's Local pair), with the
21 columns of the sample `cdr.conf` (`loguniqueid`, `loguserfield`, `newcdrcolumns`):
the caller's channel as `channel`, the agent's channel it was bridged with as
`dstchannel` and `ANSWERED`, or `NO ANSWER` when no agent took it. The `;1` half stands
for the customer's phone and the agents' halves for their phones: a real PBX writes no
rows of its own for them here. Unlike a default Asterisk (`usegmtime = no`), the
simulated PBX writes CDR times in UTC; the reader must be told the zone is UTC. Outbound
(Originate) calls leave no row.

Each line is appended and flushed on its own, as Asterisk does: a reader that tails the
files sees every finished line at once. A caller name that came as cp1251 bytes is
written as UTF-8 text.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

UNKNOWN = "<unknown>"


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", "replace")


def parse_frames(data: bytes) -> list[dict[str, str]]:
    """The AMI messages of one burst, each as its headers (the first of a name wins)."""
    messages: list[dict[str, str]] = []
    for chunk in data.split(b"\r\n\r\n"):
        headers: dict[str, str] = {}
        for line in chunk.split(b"\r\n"):
            name, sep, value = line.partition(b": ")
            if sep:
                headers.setdefault(_decode(name), _decode(value))
        if headers:
            messages.append(headers)
    return messages


@dataclass(slots=True)
class _Stay:
    queue: str
    position: str
    entered: int
    last_position: str = ""


@dataclass(slots=True)
class SimBooks:
    """Appends `queue_log` lines and `Master.csv` rows for the events it is fed."""

    queue_log_path: Path | None = None
    cdr_csv_path: Path | None = None
    _legs: dict[str, _Leg] = field(default_factory=dict)  # caller legs by uniqueid
    _stays: dict[str, _Stay] = field(default_factory=dict)  # caller uniqueid -> stay
    _transfers: dict[str, tuple[str, str]] = field(default_factory=dict)
    _sequence: int = 0

    @property
    def enabled(self) -> bool:
        return self.queue_log_path is not None or self.cdr_csv_path is not None

    def feed(self, data: bytes, now: float) -> None:
        """One burst of AMI bytes as the engine writes it, at time `now`."""
        for headers in parse_frames(data):
            self._event(headers, now)

    # --- queue_log -----------------------------------------------------------------
    def _queue_log(self, when: int, callid: str, queue: str, agent: str, *fields: str) -> None:
        if self.queue_log_path is not None:
            _append(self.queue_log_path, "|".join((str(when), callid, queue, agent, *fields)))

    def _event(self, h: dict[str, str], now: float) -> None:
        when = int(now)
        event = h.get("Event", "")
        uid = h.get("Uniqueid", "")
        queue = h.get("Queue", "")
        member = h.get("MemberName") or h.get("Interface") or "NONE"
        leg = self._legs.get(uid)
        if leg is not None:
            leg.update(event, h, now)
        if event == "Newchannel":
            if _inbound(h.get("Context", "")) and not h.get("Channel", "").endswith(";1"):
                self._legs[uid] = _Leg.opened(h, now)
        elif event == "QueueCallerJoin":
            position = h.get("Position", "1")
            self._stays[uid] = _Stay(queue, position, when)
            caller = h.get("CallerIDNum", "")
            self._queue_log(when, uid, queue, "NONE", "ENTERQUEUE", "", caller, position)
        elif event == "QueueCallerLeave" and uid in self._stays:
            self._stays[uid].last_position = h.get("Position", "1")
        elif event == "AgentRingNoAnswer":
            self._queue_log(when, uid, queue, member, "RINGNOANSWER", h.get("RingTime", "0"))
        elif event == "AgentConnect":
            hold, ring = h.get("HoldTime", "0"), h.get("RingTime", "0")
            member_uid = h.get("DestUniqueid", "")
            self._queue_log(when, uid, queue, member, "CONNECT", hold, member_uid, ring)
        elif event == "BlindTransfer":
            target = (h.get("Extension", ""), h.get("Context", ""))
            self._transfers[h.get("TransfereeUniqueid", "")] = target
        elif event == "AgentComplete":
            self._complete(h, uid, queue, member, when)
        elif event == "QueueCallerAbandon":
            stay = self._stays.pop(uid, None)
            original = stay.position if stay else h.get("OriginalPosition", "1")
            position = h.get("Position", "1")
            wait = h.get("HoldTime", "0")
            self._queue_log(when, uid, queue, "NONE", "ABANDON", position, original, wait)
        elif event == "VarSet" and h.get("Variable") == "QUEUESTATUS":
            stay = self._stays.pop(uid, None)
            if stay is not None and h.get("Value") == "TIMEOUT":
                wait = str(max(0, when - stay.entered))
                position = stay.last_position or stay.position
                fields = (position, stay.position, wait)
                self._queue_log(when, uid, stay.queue, "NONE", "EXITWITHTIMEOUT", *fields)
        if event == "Hangup":
            if leg is not None:
                self._cdr_row(self._legs.pop(uid), uid, now)
            self._stays.pop(uid, None)
            self._transfers.pop(uid, None)

    def _complete(self, h: dict[str, str], uid: str, queue: str, member: str, when: int) -> None:
        stay = self._stays.pop(uid, None)
        original = stay.position if stay else "1"
        hold, talk = h.get("HoldTime", "0"), h.get("TalkTime", "0")
        reason = h.get("Reason", "")
        if reason == "transfer":
            extension, context = self._transfers.pop(uid, ("", ""))
            fields = (extension, context, hold, talk, original)
            self._queue_log(when, uid, queue, member, "BLINDTRANSFER", *fields)
            return
        event = "COMPLETEAGENT" if reason == "agent" else "COMPLETECALLER"
        self._queue_log(when, uid, queue, member, event, hold, talk, original)

    # --- Master.csv ----------------------------------------------------------------
    def _cdr_row(self, leg: _Leg, uid: str, end: float) -> None:
        if self.cdr_csv_path is None:
            return
        answered = leg.bridged is not None
        clid = f'"{leg.cid_name}" <{leg.cid_num}>' if leg.cid_name else f"<{leg.cid_num}>"
        row: list[str | int] = [
            "",  # accountcode
            leg.cid_num,
            leg.exten,
            leg.context,
            clid,
            leg.channel,
            leg.dstchannel,
            leg.app,
            leg.app_data,
            _time(leg.start),
            _time(leg.answer) if leg.answer is not None else "",
            _time(end),
            int(end) - int(leg.start),
            int(end) - int(leg.answer) if answered and leg.answer is not None else 0,
            "ANSWERED" if answered else "NO ANSWER",
            "DOCUMENTATION",
            uid,
            "",  # userfield
            "",  # peeraccount
            leg.linkedid,
            self._sequence,
        ]
        self._sequence += 1
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerow(row)
        _append(self.cdr_csv_path, out.getvalue().rstrip("\n"))


@dataclass(slots=True)
class _Leg:
    """The caller's channel, as its CDR will tell it."""

    channel: str
    linkedid: str
    context: str
    exten: str
    start: float
    cid_num: str = ""
    cid_name: str = ""
    app: str = ""
    app_data: str = ""
    answer: float | None = None  # the dialplan answered (Newstate Up)
    bridged: float | None = None  # an agent answered (DialEnd ANSWER)
    dstchannel: str = ""

    @classmethod
    def opened(cls, h: dict[str, str], now: float) -> _Leg:
        uid = h.get("Uniqueid", "")
        channel, context, exten = h.get("Channel", ""), h.get("Context", ""), h.get("Exten", "")
        return cls(channel, h.get("Linkedid") or uid, context, exten, now)

    def update(self, event: str, h: dict[str, str], now: float) -> None:
        number, name = h.get("CallerIDNum", ""), h.get("CallerIDName", "")
        if number and number != UNKNOWN:
            self.cid_num = number
        if name and name != UNKNOWN:
            self.cid_name = name
        if event == "Newexten" and _inbound(h.get("Context", "")):
            if h.get("Application") in ("Queue", "Dial") or not self.app:
                self.app, self.app_data = h.get("Application", ""), h.get("AppData", "")
        elif event == "Newstate" and h.get("ChannelState") == "6" and self.answer is None:
            self.answer = now
        elif event == "DialEnd" and h.get("DialStatus") == "ANSWER" and self.bridged is None:
            self.bridged = now
            self.dstchannel = h.get("DestChannel", "")


def _inbound(context: str) -> bool:
    """The inbound dialplan (`from-trunk`, `from-trunk-…`), where a caller's leg starts."""
    return context.startswith("from-trunk")


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def _append(path: Path, line: str) -> None:
    """Open, append one line, flush and close: a rotated file is simply started anew."""
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()
